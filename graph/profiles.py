"""Profile reads (single customer view, merge ledger, export) and merge undo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import neo4j

from consent.model import ConsentRecord
from graph.consents import CONSENT_MAP, in_order, to_record
from graph.driver import Repository, from_iso
from graph.driver import to_native as _native
from graph.identity import TRAIT_PREFIX

SCORE_PREFIX = "score."
# Times come back as ISO text (see graph.driver.from_iso); traits and scores as [key, value] pairs.
# A restriction of processing belongs to the person: it holds when any profile merged into this
# one carries it (so a merge cannot lift it, and an unmerge gives it back to the profile it was on).
_PROFILE_MAP = """p {.id, .workspace, .status, .trait_meta, .merged_into,
         restricted: coalesce(p.restricted, false)
                     OR EXISTS { MATCH (:Profile {restricted: true})-[:MERGED_INTO*1..]->(p) },
         first_seen: toString(p.first_seen), last_seen: toString(p.last_seen),
         traits: [k IN keys(p) WHERE k STARTS WITH 'trait.' | [k, p[k]]],
         scores: [k IN keys(p) WHERE k STARTS WITH 'score.' | [k, p[k]]]}"""
PROFILE_BY_ID = """
MATCH (p:Profile {id: $id, workspace: $workspace})
OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
WITH p, collect([i.type, i.value]) AS idents
RETURN """ + _PROFILE_MAP + """ AS p, idents, COUNT { (p)-[:PERFORMED]->() } AS interactions
"""
# The read path's one round trip: profile, identifiers and the person's consent history
# (records captured on profiles merged into it count too), for the consent gate.
PROFILE_WITH_CONSENTS = """
MATCH (p:Profile {id: $id, workspace: $workspace})
CALL (p) {
  OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
  RETURN collect([i.type, i.value]) AS idents
}
CALL (p) {
  OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(p)
  WITH p, collect(l) AS merged
  UNWIND [p] + merged AS x
  MATCH (x)-[:GAVE]->(c:Consent)
  RETURN collect(DISTINCT """ + CONSENT_MAP + """) AS consents
}
RETURN """ + _PROFILE_MAP + """ AS p, idents, consents, COUNT { (p)-[:PERFORMED]->() } AS interactions
"""
# The common GraphQL read (a profile with its first interactions) in one round trip: the
# profile, identifiers, consent history and the first $limit interactions, newest first.
PROFILE_WITH_CONSENTS_AND_INTERACTIONS = PROFILE_WITH_CONSENTS.replace(
    "RETURN " + _PROFILE_MAP, """CALL (p) {
  OPTIONAL MATCH (p)-[:PERFORMED]->(e:Interaction)
  WHERE e IS NOT NULL AND ($type IS NULL OR e.type = $type OR e.event = $type)
    AND ($since IS NULL OR e.ts >= $since) AND ($until IS NULL OR e.ts < $until)
  WITH e ORDER BY e.ts DESC, e.key DESC LIMIT $limit
  RETURN collect(e {.key, .message_id, .type, .event, ts: toString(e.ts), .channel, .order_id, .revenue,
                    .currency, .store_id, .utm_source, .utm_medium, .utm_campaign}) AS rows
}
RETURN """ + _PROFILE_MAP).replace("consents, COUNT", "consents, rows, COUNT")
PROFILE_BY_IDENTIFIER = """
MATCH (:Identifier {key: $key})-[:IDENTIFIES]->(p:Profile {workspace: $workspace})
RETURN p.id AS id
"""
PROFILE_INTERACTIONS = """
MATCH (p:Profile {id: $id, workspace: $workspace})-[:PERFORMED]->(e:Interaction)
RETURN e {.message_id, .type, .event, .ts, .channel, .order_id, .revenue, .store_id, .ident} AS e
ORDER BY e.ts
LIMIT $limit
"""
MERGE_HISTORY = """
MATCH (m:Merge {workspace: $workspace}) WHERE m.winner IN $ids OR m.loser IN $ids
RETURN m {.id, .loser, .winner, .rule, .message_id, .source, .event_ts, .at, .undone_at,
          .moved_interactions, .moved_identifiers} AS m
ORDER BY m.at
"""
# Merge ledgers of several profiles at once (the GraphQL DataLoader).
MERGE_HISTORIES = """
UNWIND $ids AS pid
OPTIONAL MATCH (l:Profile {workspace: $workspace})-[:MERGED_INTO*1..]->(:Profile {id: pid, workspace: $workspace})
WITH pid, [pid] + collect(l.id) AS ids
CALL (ids) {
  MATCH (m:Merge {workspace: $workspace}) WHERE m.winner IN ids OR m.loser IN ids
  WITH m ORDER BY m.at
  RETURN collect(m {.id, .loser, .winner, .rule, .message_id, .source, .event_ts, .at, .undone_at,
                    .moved_interactions, .moved_identifiers}) AS ms
}
RETURN collect([pid, ms]) AS rows
"""
MERGED_INTO = """
MATCH (l:Profile {workspace: $workspace})-[:MERGED_INTO*1..]->(p:Profile {id: $id})
RETURN collect(l.id) AS ids
"""
CONFLICTS = """
MATCH (c:IdentityConflict {workspace: $workspace})
WHERE any(x IN c.profiles WHERE x IN $ids)
RETURN c {.message_id, .rule, .identifier, .reason, .at, .profiles} AS c ORDER BY c.at
"""
EXPORT_PAGE = """
MATCH (p:Profile {workspace: $workspace, status: 'active'}) WHERE p.id > $after
WITH p ORDER BY p.id LIMIT $limit
OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
WITH p, collect([i.type, i.value]) AS idents
RETURN """ + _PROFILE_MAP + """ AS p, idents, COUNT { (p)-[:PERFORMED]->() } AS interactions
ORDER BY p.id
"""
# Newest first, keyset-paginated on (ts, key); one collected row, times as text.
# A filtered page of profiles (GraphQL `profiles`): filters are parameters, NULL = not set.
PROFILES_PAGE = """
MATCH (p:Profile {workspace: $workspace, status: 'active'}) WHERE p.id > $after
  AND ($seen_since IS NULL OR p.last_seen >= $seen_since)
  AND ($seen_until IS NULL OR p.last_seen < $seen_until)
  AND ($identifier_type IS NULL OR EXISTS { (p)<-[:IDENTIFIES]-(:Identifier {type: $identifier_type}) })
  AND ($segment IS NULL OR EXISTS {
        MATCH (p)-[m:IN_SEGMENT]->(:Segment {id: $segment, workspace: $workspace}) WHERE m.left_at IS NULL })
WITH p ORDER BY p.id LIMIT $limit
OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
WITH p, collect([i.type, i.value]) AS idents
RETURN """ + _PROFILE_MAP + """ AS p, idents, COUNT { (p)-[:PERFORMED]->() } AS interactions
ORDER BY p.id
"""
INTERACTIONS_PAGE = """
MATCH (p:Profile {id: $id, workspace: $workspace})-[:PERFORMED]->(e:Interaction)
WHERE ($type IS NULL OR e.type = $type OR e.event = $type)
  AND ($since IS NULL OR e.ts >= $since) AND ($until IS NULL OR e.ts < $until)
  AND ($after_ts IS NULL OR e.ts < $after_ts OR (e.ts = $after_ts AND e.key < $after_key))
WITH e ORDER BY e.ts DESC, e.key DESC LIMIT $limit
RETURN collect(e {.key, .message_id, .type, .event, ts: toString(e.ts), .channel, .order_id, .revenue,
                  .currency, .store_id, .utm_source, .utm_medium, .utm_campaign}) AS rows
"""
# The same for a page of profiles at once (the GraphQL DataLoader): first $limit of each.
INTERACTIONS_FOR_PROFILES = """
UNWIND $ids AS pid
MATCH (p:Profile {id: pid, workspace: $workspace})
CALL (p) {
  MATCH (p)-[:PERFORMED]->(e:Interaction)
  WHERE ($type IS NULL OR e.type = $type OR e.event = $type)
    AND ($since IS NULL OR e.ts >= $since) AND ($until IS NULL OR e.ts < $until)
  WITH e ORDER BY e.ts DESC, e.key DESC LIMIT $limit
  RETURN collect(e {.key, .message_id, .type, .event, ts: toString(e.ts), .channel, .order_id, .revenue,
                    .currency, .store_id, .utm_source, .utm_medium, .utm_campaign}) AS rows
}
RETURN collect([pid, rows]) AS pages
"""
COUNTS = """
MATCH (p:Profile {workspace: $workspace})
RETURN count(CASE WHEN p.status = 'active' THEN 1 END) AS active,
       count(CASE WHEN p.status = 'merged' THEN 1 END) AS merged
"""
UNDO_MOVE_IDENTIFIERS = """
MATCH (l:Profile {id: $loser})
UNWIND $keys AS k
MATCH (x:Identifier {key: k})-[r:IDENTIFIES]->(cur:Profile) WHERE cur.id <> $loser
CREATE (x)-[:IDENTIFIES {since: $now, unmerge_of: $merge_id}]->(l)
DELETE r
RETURN collect(DISTINCT cur.id) AS from_ids
"""
UNDO_MOVE_INTERACTIONS = """
MATCH (l:Profile {id: $loser})
MATCH (cur:Profile)-[r:PERFORMED]->(e:Interaction) WHERE cur.id IN $from_ids AND e.ident IN $keys
CREATE (l)-[:PERFORMED]->(e)
DELETE r
RETURN count(e) AS moved
"""
UNDO_FINISH = """
MATCH (g:Merge {id: $merge_id}), (l:Profile {id: $loser})
OPTIONAL MATCH (l)-[mi:MERGED_INTO {merge_id: $merge_id}]->()
DELETE mi
SET l.status = 'active', l.merged_into = null, l.merged_at = null,
    g.undone_at = $now, g.undone_by = $actor
"""
UNDO_KEYS = """
MATCH (g:Merge {id: $merge_id, workspace: $workspace})
OPTIONAL MATCH (inner:Merge {workspace: $workspace, winner: g.loser}) WHERE inner.at <= g.at AND inner.undone_at IS NULL
WITH g, collect(inner.moved_identifiers) AS nested
RETURN g.loser AS loser, g.moved_identifiers + reduce(a = [], n IN nested | a + n) AS keys, g.undone_at AS undone,
       g.erased_at AS erased
"""


@dataclass(frozen=True)
class ProfileRecord:
    """A profile with its traits, identifiers and interaction count."""

    id: str
    workspace: str
    status: str
    traits: dict[str, Any]
    trait_sources: dict[str, list[Any]]
    identifiers: tuple[tuple[str, str], ...]
    interactions: int
    first_seen: datetime | None
    last_seen: datetime | None
    merged_into: str | None
    scores: dict[str, Any] = field(default_factory=dict)  # model outputs (`score.*`, non-PII)
    restricted: bool = False  # processing restricted by a data-subject request


@dataclass(frozen=True)
class ProfileFilter:
    """Filters of a profile listing (all optional, combined with AND)."""

    seen_since: datetime | None = None
    seen_until: datetime | None = None
    identifier_type: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class MergeRecord:
    """One entry of the merge ledger."""

    id: str
    loser: str
    winner: str
    rule: str
    message_id: str
    at: datetime
    undone_at: datetime | None
    moved_interactions: int
    moved_identifiers: tuple[str, ...]



def _profile(p: dict[str, Any], idents: list[list[str]], interactions: int) -> ProfileRecord:
    return ProfileRecord(
        id=p["id"], workspace=p["workspace"], status=p.get("status", "active"),
        traits={k[len(TRAIT_PREFIX):]: v for k, v in p["traits"]},
        trait_sources=json.loads(p["trait_meta"]) if p.get("trait_meta") else {},
        identifiers=tuple(sorted((t, v) for t, v in idents if t is not None)),
        interactions=int(interactions),
        first_seen=from_iso(p.get("first_seen")), last_seen=from_iso(p.get("last_seen")),
        merged_into=p.get("merged_into"), restricted=bool(p.get("restricted")),
        scores={k[len(SCORE_PREFIX):]: _native(v) for k, v in p.get("scores", ())},
    )


def _merge(m: dict[str, Any]) -> MergeRecord:
    return MergeRecord(
        id=m["id"], loser=m["loser"], winner=m["winner"], rule=m["rule"], message_id=m["message_id"],
        at=_native(m["at"]), undone_at=_native(m.get("undone_at")),
        moved_interactions=int(m.get("moved_interactions") or 0),
        moved_identifiers=tuple(m.get("moved_identifiers") or ()),
    )


def _interaction(e: dict[str, Any]) -> dict[str, Any]:
    e["ts"] = from_iso(e.get("ts"))
    return e


def interaction_cursor(row: dict[str, Any]) -> str:
    """The keyset cursor of an interaction row: its time and key."""
    ts = row.get("ts")
    return f"{ts.isoformat() if ts is not None else ''}|{row['key']}"


def parse_interaction_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    """(ts, key) of a cursor from `interaction_cursor`; ValueError when it is not one."""
    if not cursor:
        return None, None
    ts, sep, key = cursor.partition("|")
    if not sep or not ts or not key:
        raise ValueError("not an interaction cursor")
    return datetime.fromisoformat(ts), key


class ProfileRepository(Repository):
    """Reads of the single customer view; every query is scoped by workspace."""

    def get_profile(self, *, workspace: str, profile_id: str) -> ProfileRecord | None:
        """A profile by id, or None (also for another workspace's profile)."""
        rows = self._read(PROFILE_BY_ID, id=profile_id, workspace=workspace)
        if not rows:
            return None
        return _profile(rows[0]["p"], rows[0]["idents"], rows[0]["interactions"])

    def get_with_consents(self, *, workspace: str,
                          profile_id: str) -> tuple[ProfileRecord, list[ConsentRecord]] | None:
        """A profile and its person's consent history in one round trip, or None."""
        rows = self._read(PROFILE_WITH_CONSENTS, id=profile_id, workspace=workspace)
        if not rows:
            return None
        r = rows[0]
        return _profile(r["p"], r["idents"], r["interactions"]), in_order(to_record(c, person=profile_id) for c in r["consents"])

    def get_with_consents_and_interactions(
        self, *, workspace: str, profile_id: str, event_type: str | None, since: datetime | None,
        until: datetime | None, limit: int,
    ) -> tuple[ProfileRecord, list[ConsentRecord], list[dict[str, Any]]] | None:
        """A profile, its person's consent history and its first interactions in one round trip."""
        rows = self._read(PROFILE_WITH_CONSENTS_AND_INTERACTIONS, id=profile_id, workspace=workspace,
                          type=event_type, since=since, until=until, limit=limit)
        if not rows:
            return None
        r = rows[0]
        return (_profile(r["p"], r["idents"], r["interactions"]), in_order(to_record(c, person=profile_id) for c in r["consents"]),
                [_interaction(e) for e in r["rows"]])

    def find_by_identifier_key(self, *, workspace: str, key: str) -> ProfileRecord | None:
        """The profile an identifier node key (a blind index for PII types) belongs to, or None."""
        rows = self._read(PROFILE_BY_IDENTIFIER, key=key, workspace=workspace)
        return self.get_profile(workspace=workspace, profile_id=rows[0]["id"]) if rows else None

    def interactions(self, *, workspace: str, profile_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A profile's interactions, oldest first."""
        rows = self._read(PROFILE_INTERACTIONS, id=profile_id, workspace=workspace, limit=limit)
        return [{k: _native(v) for k, v in r["e"].items()} for r in rows]

    def merge_history(self, *, workspace: str, profile_id: str) -> list[MergeRecord]:
        """Every merge this profile or the profiles merged into it took part in."""
        ids = [profile_id, *self._read(MERGED_INTO, workspace=workspace, id=profile_id)[0]["ids"]]
        rows = self._read(MERGE_HISTORY, workspace=workspace, ids=ids)
        return [_merge(r["m"]) for r in rows]

    def merge_histories(self, *, workspace: str, profile_ids: list[str]) -> dict[str, list[MergeRecord]]:
        """Merge ledgers of several profiles in one query."""
        if not profile_ids:
            return {}
        rows = self._read(MERGE_HISTORIES, workspace=workspace, ids=profile_ids)
        out: dict[str, list[MergeRecord]] = {pid: [] for pid in profile_ids}
        for pid, ms in rows[0]["rows"]:
            out[pid] = [_merge(m) for m in ms]
        return out

    def conflicts(self, *, workspace: str, profile_id: str) -> list[dict[str, Any]]:
        """Identity conflicts that involved this profile."""
        rows = self._read(CONFLICTS, workspace=workspace, ids=[profile_id])
        return [{k: _native(v) for k, v in r["c"].items()} for r in rows]

    def iter_profiles(self, *, workspace: str, page_size: int = 1000) -> Iterator[ProfileRecord]:
        """All active profiles of a workspace, in id order, paged."""
        after = ""
        while True:
            rows = self._read(EXPORT_PAGE, workspace=workspace, after=after, limit=page_size)
            if not rows:
                return
            for r in rows:
                yield _profile(r["p"], r["idents"], r["interactions"])
            after = rows[-1]["p"]["id"]

    def page(self, *, workspace: str, after: str, limit: int, filters: ProfileFilter | None = None) -> list[ProfileRecord]:
        """Active profiles after a cursor (profile id), in id order, optionally filtered."""
        f = filters or ProfileFilter()
        rows = self._read(PROFILES_PAGE, workspace=workspace, after=after, limit=limit, seen_since=f.seen_since,
                          seen_until=f.seen_until, identifier_type=f.identifier_type, segment=f.segment)
        return [_profile(r["p"], r["idents"], r["interactions"]) for r in rows]

    def interactions_page(self, *, workspace: str, profile_id: str, event_type: str | None,
                          since: datetime | None, until: datetime | None, after: str | None,
                          limit: int) -> list[dict[str, Any]]:
        """A page of a profile's interactions, newest first, filtered by type/event name and time.

        `after` is the cursor of the last row of the previous page (`interaction_cursor`).
        """
        after_ts, after_key = parse_interaction_cursor(after)
        rows = self._read(INTERACTIONS_PAGE, id=profile_id, workspace=workspace, type=event_type, since=since,
                          until=until, after_ts=after_ts, after_key=after_key, limit=limit)
        return [_interaction(e) for e in rows[0]["rows"]] if rows else []

    def interactions_for_profiles(self, *, workspace: str, profile_ids: list[str], event_type: str | None,
                                  since: datetime | None, until: datetime | None,
                                  limit: int) -> dict[str, list[dict[str, Any]]]:
        """The first page of interactions of several profiles in one query (a DataLoader batch)."""
        if not profile_ids:
            return {}
        rows = self._read(INTERACTIONS_FOR_PROFILES, ids=profile_ids, workspace=workspace, type=event_type,
                          since=since, until=until, limit=limit)
        out: dict[str, list[dict[str, Any]]] = {pid: [] for pid in profile_ids}
        for pid, page in rows[0]["pages"]:
            out[pid] = [_interaction(e) for e in page]
        return out

    def counts(self, *, workspace: str) -> dict[str, int]:
        """Active and merged profile counts."""
        r = self._read(COUNTS, workspace=workspace)[0]
        return {"active": int(r["active"]), "merged": int(r["merged"])}

    def undo_merge(self, *, workspace: str, merge_id: str, actor: str) -> int | None:
        """Split a merged profile back out; returns interactions moved back, None if not undoable
        (unknown, undone already, or part of an erased person)."""

        def work(tx: neo4j.ManagedTransaction) -> int | None:
            row = tx.run(UNDO_KEYS, workspace=workspace, merge_id=merge_id).single()
            if row is None or row["undone"] is not None or row["erased"] is not None:
                return None  # unknown, already undone, or its people were erased
            loser, keys, now = row["loser"], list(row["keys"] or []), datetime.now(UTC)
            from_ids = tx.run(UNDO_MOVE_IDENTIFIERS, loser=loser, keys=keys, now=now,
                              merge_id=merge_id).single()["from_ids"]
            moved = tx.run(UNDO_MOVE_INTERACTIONS, loser=loser, keys=keys, from_ids=from_ids).single()["moved"]
            tx.run(UNDO_FINISH, merge_id=merge_id, loser=loser, now=now, actor=actor).consume()
            return int(moved)

        with self.driver.session(database=self.database) as session:
            return session.execute_write(work)
