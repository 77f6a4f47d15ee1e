"""Recipient reads for sends: each planned profile followed to the person's current profile, with
its identifiers and the consent history of every profile merged into it, in one query."""

from __future__ import annotations

import json
from typing import Any

from consent.model import ConsentRecord
from graph.consents import CONSENT_MAP, in_order, to_record
from graph.driver import Repository, from_iso, to_native
from graph.identity import TRAIT_PREFIX
from graph.profiles import SCORE_PREFIX, ProfileRecord

RECIPIENTS = """
UNWIND $ids AS pid
MATCH (p0:Profile {id: pid, workspace: $workspace})
OPTIONAL MATCH (p0)-[:MERGED_INTO*1..]->(w:Profile) WHERE NOT (w)-[:MERGED_INTO]->()
WITH pid, coalesce(w, p0) AS p
CALL (p) {
  OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
  RETURN collect([i.type, i.value]) AS idents
}
CALL (p) {
  OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(p)
  WITH p, collect(l) AS merged
  UNWIND [p] + merged AS x
  OPTIONAL MATCH (x)-[:GAVE]->(c:Consent)
  RETURN collect(DISTINCT """ + CONSENT_MAP + """) AS consents
}
RETURN collect([pid, p {.id, .workspace, .status, .trait_meta, .merged_into, .restricted,
                        first_seen: toString(p.first_seen), last_seen: toString(p.last_seen),
                        traits: [k IN keys(p) WHERE k STARTS WITH 'trait.' | [k, p[k]]],
                        scores: [k IN keys(p) WHERE k STARTS WITH 'score.' | [k, p[k]]]},
                idents, consents]) AS rows
"""


def _profile(p: dict[str, Any], idents: list[list[str]]) -> ProfileRecord:
    return ProfileRecord(
        id=p["id"], workspace=p["workspace"], status=p.get("status") or "active",
        traits={k[len(TRAIT_PREFIX):]: v for k, v in p["traits"]},
        trait_sources=json.loads(p["trait_meta"]) if p.get("trait_meta") else {},
        identifiers=tuple(sorted((t, v) for t, v in idents if t is not None)),
        interactions=0, first_seen=from_iso(p.get("first_seen")), last_seen=from_iso(p.get("last_seen")),
        merged_into=p.get("merged_into"), restricted=bool(p.get("restricted")),
        scores={k[len(SCORE_PREFIX):]: to_native(v) for k, v in p.get("scores", ())})


class RecipientRepository(Repository):
    """Sealed profile records (opened by privacy.reader) and consents of the people to send to."""

    def read(self, *, workspace: str,
             profile_ids: list[str]) -> dict[str, tuple[ProfileRecord, list[ConsentRecord]]]:
        """Planned profile id -> (the person's current profile, their consent history)."""
        if not profile_ids:
            return {}
        found = self._read(RECIPIENTS, workspace=workspace, ids=profile_ids)
        return {pid: (_profile(p, idents), in_order(to_record(c) for c in consents))
                for pid, p, idents, consents in found[0]["rows"]}


BIRTHDAYS_PAGE = """
MATCH (p:Profile {workspace: $workspace, status: 'active'}) WHERE p.id > $after
WITH p, [k IN $keys WHERE p[k] IS NOT NULL | p[k]] AS values
WHERE size(values) > 0
WITH p, values ORDER BY p.id LIMIT $limit
RETURN collect([p.id, values[0], p.`act.birth_month`]) AS rows
"""


class BirthdayRepository(Repository):
    """Pages of (profile id, sealed birthday, stored birth month) for the birth-month index."""

    def page(self, *, workspace: str, trait_names: list[str], after: str, limit: int) -> list[list[Any]]:
        """Up to `limit` profiles after `after` (by id) that have a birthday trait."""
        found = self._read(BIRTHDAYS_PAGE, workspace=workspace, keys=[TRAIT_PREFIX + n for n in trait_names],
                           after=after, limit=limit)
        return list(found[0]["rows"])


SEGMENT_MEMBERS = """
MATCH (p:Profile {workspace: $workspace, status: 'active'})-[m:IN_SEGMENT]->(:Segment {id: $segment,
                                                                                     workspace: $workspace})
WHERE m.left_at IS NULL
RETURN collect(p.id) AS ids
"""


class SegmentMembers(Repository):
    """Current members of a saved segment (profile ids)."""

    def ids(self, *, workspace: str, segment_id: str) -> list[str]:
        """Profile ids now in the segment."""
        return list(self._read(SEGMENT_MEMBERS, workspace=workspace, segment=segment_id)[0]["ids"])
