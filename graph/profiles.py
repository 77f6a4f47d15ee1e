"""Profile reads (single customer view, merge ledger, export) and merge undo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import neo4j

from graph.driver import to_native as _native
from graph.identity import TRAIT_PREFIX

SCORE_PREFIX = "score."

PROFILE_BY_ID = """
MATCH (p:Profile {id: $id, workspace: $workspace})
OPTIONAL MATCH (p)<-[:IDENTIFIES]-(i:Identifier)
WITH p, collect([i.type, i.value]) AS idents
RETURN p {.*} AS p, idents, COUNT { (p)-[:PERFORMED]->() } AS interactions
"""
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
RETURN p {.*} AS p, idents, COUNT { (p)-[:PERFORMED]->() } AS interactions
ORDER BY p.id
"""
INTERACTIONS_PAGE = """
MATCH (p:Profile {id: $id, workspace: $workspace})-[:PERFORMED]->(e:Interaction)
WHERE ($type IS NULL OR e.type = $type OR e.event = $type)
  AND ($since IS NULL OR e.ts >= $since) AND ($until IS NULL OR e.ts < $until)
  AND ($after IS NULL OR e.key > $after)
RETURN e {.key, .message_id, .type, .event, .ts, .channel, .order_id, .revenue, .currency, .store_id,
          .utm_source, .utm_medium, .utm_campaign} AS e
ORDER BY e.key
LIMIT $limit
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
RETURN g.loser AS loser, g.moved_identifiers + reduce(a = [], n IN nested | a + n) AS keys, g.undone_at AS undone
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
        traits={k[len(TRAIT_PREFIX):]: v for k, v in p.items() if k.startswith(TRAIT_PREFIX)},
        trait_sources=json.loads(p["trait_meta"]) if p.get("trait_meta") else {},
        identifiers=tuple(sorted((t, v) for t, v in idents if t is not None)),
        interactions=int(interactions),
        first_seen=_native(p.get("first_seen")), last_seen=_native(p.get("last_seen")),
        merged_into=p.get("merged_into"),
        scores={k[len(SCORE_PREFIX):]: _native(v) for k, v in p.items() if k.startswith(SCORE_PREFIX)},
    )


class ProfileRepository:
    """Reads of the single customer view; every query is scoped by workspace."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def _read(self, query: str, **params: Any) -> list[neo4j.Record]:
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.READ)
        return records

    def get_profile(self, *, workspace: str, profile_id: str) -> ProfileRecord | None:
        """A profile by id, or None (also for another workspace's profile)."""
        rows = self._read(PROFILE_BY_ID, id=profile_id, workspace=workspace)
        if not rows:
            return None
        return _profile(rows[0]["p"], rows[0]["idents"], rows[0]["interactions"])

    def find_by_identifier(self, *, workspace: str, kind: str, value: str) -> ProfileRecord | None:
        """The profile an identifier (already normalised) belongs to, or None."""
        rows = self._read(PROFILE_BY_IDENTIFIER, key=f"{workspace}|{kind}|{value}", workspace=workspace)
        return self.get_profile(workspace=workspace, profile_id=rows[0]["id"]) if rows else None

    def interactions(self, *, workspace: str, profile_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A profile's interactions, oldest first."""
        rows = self._read(PROFILE_INTERACTIONS, id=profile_id, workspace=workspace, limit=limit)
        return [{k: _native(v) for k, v in r["e"].items()} for r in rows]

    def merge_history(self, *, workspace: str, profile_id: str) -> list[MergeRecord]:
        """Every merge this profile or the profiles merged into it took part in."""
        ids = [profile_id, *self._read(MERGED_INTO, workspace=workspace, id=profile_id)[0]["ids"]]
        rows = self._read(MERGE_HISTORY, workspace=workspace, ids=ids)
        return [MergeRecord(
            id=m["id"], loser=m["loser"], winner=m["winner"], rule=m["rule"], message_id=m["message_id"],
            at=_native(m["at"]), undone_at=_native(m.get("undone_at")),
            moved_interactions=int(m.get("moved_interactions") or 0),
            moved_identifiers=tuple(m.get("moved_identifiers") or ()),
        ) for m in (r["m"] for r in rows)]

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

    def page(self, *, workspace: str, after: str, limit: int) -> list[ProfileRecord]:
        """Active profiles after a cursor (profile id), in id order."""
        rows = self._read(EXPORT_PAGE, workspace=workspace, after=after, limit=limit)
        return [_profile(r["p"], r["idents"], r["interactions"]) for r in rows]

    def interactions_page(self, *, workspace: str, profile_id: str, event_type: str | None,
                          since: datetime | None, until: datetime | None, after: str | None,
                          limit: int) -> list[dict[str, Any]]:
        """A page of a profile's interactions, filtered by type/event name and time, keyset-paginated."""
        rows = self._read(INTERACTIONS_PAGE, id=profile_id, workspace=workspace, type=event_type, since=since,
                          until=until, after=after, limit=limit)
        return [{k: _native(v) for k, v in r["e"].items()} for r in rows]

    def counts(self, *, workspace: str) -> dict[str, int]:
        """Active and merged profile counts."""
        r = self._read(COUNTS, workspace=workspace)[0]
        return {"active": int(r["active"]), "merged": int(r["merged"])}

    def undo_merge(self, *, workspace: str, merge_id: str, actor: str) -> int | None:
        """Split a merged profile back out; returns interactions moved back, None if not undoable."""

        def work(tx: neo4j.ManagedTransaction) -> int | None:
            row = tx.run(UNDO_KEYS, workspace=workspace, merge_id=merge_id).single()
            if row is None or row["undone"] is not None:
                return None
            loser, keys, now = row["loser"], list(row["keys"] or []), datetime.now(UTC)
            from_ids = tx.run(UNDO_MOVE_IDENTIFIERS, loser=loser, keys=keys, now=now,
                              merge_id=merge_id).single()["from_ids"]
            moved = tx.run(UNDO_MOVE_INTERACTIONS, loser=loser, keys=keys, from_ids=from_ids).single()["moved"]
            tx.run(UNDO_FINISH, merge_id=merge_id, loser=loser, now=now, actor=actor).consume()
            return int(moved)

        with self.driver.session(database=self.database) as session:
            return session.execute_write(work)
