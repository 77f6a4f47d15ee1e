"""Segments in the graph: the Cypher vocabulary the segment compiler assembles, member queries,
saved definitions and membership history.

Predicate pieces are `%`-templates (Cypher uses braces, not `%`). Only `segments.compiler`
fills them, and only with keys that passed `quote_key`, operators from the maps below,
generated parameter names (`v0`, `v1`...) and other filled pieces; every value is a parameter.

Membership history: `(:Profile)-[:IN_SEGMENT {entered_at, left_at}]->(:Segment)`. Evaluating
closes the open memberships of people who no longer match and opens one for each new member;
closed relationships are kept, so "who left this week" is a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import neo4j

from core.errors import VeilError
from graph.driver import to_native as _native

# --- Predicate vocabulary (filled by segments.compiler only) -----------------------------------

COMPARE_OPS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
COUNT_OPS = {"at_least": ">=", "at_most": "<=", "exactly": "="}
AND, OR = " AND ", " OR "
GROUP = "(%(inner)s)"
NEGATE = "NOT (%(inner)s)"
FALSE = "false"
TRUE = "true"

# Leaves are two-valued (never null), so NOT means "everyone else".
TRAIT_COMPARE = "coalesce(p.%(key)s %(op)s $%(v)s, false)"
TRAIT_IN = "coalesce(p.%(key)s IN $%(v)s, false)"
TRAIT_EXISTS = "p.%(key)s IS NOT NULL"
TRAIT_CONTAINS = (
    "CASE WHEN p.%(key)s IS :: LIST<ANY> THEN coalesce($%(v)s IN p.%(key)s, false)"
    " WHEN p.%(key)s IS :: STRING THEN p.%(key)s CONTAINS $%(v)s ELSE false END"
)
TRAIT_OPS = {"exists": TRAIT_EXISTS, "in": TRAIT_IN, "contains": TRAIT_CONTAINS, "compare": TRAIT_COMPARE}
HAS_IDENTIFIER = "EXISTS { MATCH (p)<-[:IDENTIFIES]-(:Identifier {type: $%(v)s}) }"

# Inside an interaction subquery (variable `e`).
EVENT_NAME = "e.event = $%(v)s"
EVENT_TYPE = "e.type = $%(v)s"
EVENT_NAME_IN = "e.event IN $%(v)s"
EVENT_SINCE = "e.ts >= $%(v)s"
# "Not followed by": the interaction is old enough to judge, and nothing of event $event followed
# within the span (a Duration parameter).
NOT_FOLLOWED = (
    "e.ts <= $%(due)s AND NOT EXISTS { MATCH (p)-[:PERFORMED]->(f:Interaction)"
    " WHERE f.event = $%(event)s AND f.ts >= e.ts AND f.ts <= e.ts + $%(span)s }"
)
FIELD_COMPARE = "coalesce(e.%(key)s %(op)s $%(v)s, false)"
FIELD_IN = "coalesce(e.%(key)s IN $%(v)s, false)"
FIELD_EXISTS = "e.%(key)s IS NOT NULL"
FIELD_CONTAINS = "coalesce(e.%(key)s CONTAINS $%(v)s, false)"
FIELD_OPS = {"exists": FIELD_EXISTS, "in": FIELD_IN, "contains": FIELD_CONTAINS, "compare": FIELD_COMPARE}

EVENT_EXISTS = "EXISTS { MATCH (p)-[:PERFORMED]->(e:Interaction) WHERE %(where)s }"
EVENT_COUNT = "COUNT { MATCH (p)-[:PERFORMED]->(e:Interaction) WHERE %(where)s } %(op)s $%(v)s"
EVENT_REVENUE = (
    "reduce(total = 0.0, x IN COLLECT { MATCH (p)-[:PERFORMED]->(e:Interaction)"
    " WHERE %(where)s AND e.revenue IS NOT NULL RETURN e.revenue } | total + x) %(op)s $%(v)s"
)
# An order counts once however many matching lines it has (variable `pr` for the product).
PRODUCT_CATEGORY_IN = "pr.category IN $%(v)s"
PRODUCT_ID_IN = "pr.product_id IN $%(v)s"
PURCHASE_WHERE = "%(where)s AND EXISTS { MATCH (e)-[:CONTAINS]->(pr:Product) WHERE %(product)s }"

# A grant on the channel (or `any`) with no later refusal on it; a refusal on the specific
# channel also outranks an `any` grant. Records of profiles merged into p count too. The
# records are read once and bound to `cs` (a one-element list): nesting two EXISTS over the
# variable-length path costs the planner seconds.
CONSENT_GRANTED = (
    "coalesce(any(cs IN [COLLECT { MATCH (p)<-[:MERGED_INTO*0..]-(:Profile)-[:GAVE]->(c:Consent)"
    " WHERE c.purpose = $%(purpose)s AND c.channel IN $%(channels)s RETURN c }]"
    " WHERE any(g IN cs WHERE g.status = 'granted' AND g.lawful_basis = 'consent'"
    " AND g.captured_at <= $%(now)s AND (g.expires_at IS NULL OR g.expires_at > $%(now)s)"
    " AND none(r IN cs WHERE r.status IN ['denied', 'withdrawn'] AND (r.captured_at >= g.captured_at"
    " OR (g.channel = 'any' AND r.channel = $%(channel)s AND r.channel <> 'any'))))), false)"
)

# Backtick, backslash (Cypher reads \\u0060 as a backtick) and control characters.
_UNQUOTABLE = re.compile(r"[`\\\x00-\x1f\x7f]")
_PARAM_NAME = re.compile(r"^v\d+$")


class UnsafeName(VeilError, ValueError):
    """A property key that is not on the allow-list or cannot be quoted safely."""

    code = "invalid_name"
    status = 400


def quote_key(key: str, *, allowed: AbstractSet[str]) -> str:
    """Backtick-quote a property key; only keys on `allowed` and free of metacharacters pass."""
    if key not in allowed:
        raise UnsafeName("not on the allow-list")
    if not key or _UNQUOTABLE.search(key):
        raise UnsafeName("contains characters that cannot be quoted safely")
    return f"`{key}`"


def fill(template: str, **pieces: str) -> str:
    """A predicate template filled with already validated pieces."""
    return template % pieces


class CompiledPredicate(Protocol):
    """What the segment compiler produces: a predicate over `p` and its parameters."""

    @property
    def predicate(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


# --- Member queries ----------------------------------------------------------------------------

PROFILE_SCOPE = "MATCH (p:Profile {workspace: $ws, status: 'active'})\nWHERE (%(predicate)s)\n"
COUNT_MEMBERS = PROFILE_SCOPE + "RETURN count(p) AS n"
SAMPLE_MEMBERS = PROFILE_SCOPE + "WITH p LIMIT $limit\nRETURN collect(p.id) AS ids"
MEMBERS_PAGE = (
    "MATCH (p:Profile {workspace: $ws, status: 'active'})\nWHERE p.id > $after AND (%(predicate)s)\n"
    "WITH p.id AS id ORDER BY id LIMIT $limit\nRETURN collect(id) AS ids"
)
# Each part is an index seek (Product has no workspace index: its key starts with the workspace).
KNOWN_NAMES = """
RETURN
  COLLECT { MATCH (p:Profile {workspace: $ws, status: 'active'}) UNWIND keys(p) AS k
            WITH DISTINCT k WHERE k STARTS WITH 'trait.' RETURN substring(k, 6) } AS traits,
  COLLECT { MATCH (e:Interaction {workspace: $ws}) WHERE e.event IS NOT NULL RETURN DISTINCT e.event } AS events,
  COLLECT { MATCH (pr:Product) WHERE pr.key STARTS WITH $ws + '|' AND pr.workspace = $ws
              AND pr.category IS NOT NULL RETURN DISTINCT pr.category } AS categories,
  COLLECT { MATCH (i:Identifier {workspace: $ws}) WHERE i.type IS NOT NULL RETURN DISTINCT i.type }
    AS identifier_types
"""

# --- Saved segments and membership -------------------------------------------------------------

CREATE_SEGMENT = """
CREATE (s:Segment {id: $id, workspace: $ws, name: $name, definition: $definition,
                   created_at: $now, updated_at: $now, realtime: $realtime})
RETURN s {.*} AS s
"""
UPDATE_SEGMENT = """
MATCH (s:Segment {id: $id, workspace: $ws})
SET s.name = $name, s.definition = $definition, s.updated_at = $now, s.realtime = $realtime
RETURN s {.*} AS s
"""
GET_SEGMENT = "MATCH (s:Segment {id: $id, workspace: $ws}) RETURN s {.*} AS s"
LIST_SEGMENTS = "MATCH (s:Segment {workspace: $ws}) RETURN s {.*} AS s ORDER BY s.name, s.id"
# One statement: lock the segment (concurrent evaluations queue), close memberships of people
# who no longer match, then open one for every member without an open one.
EVALUATE = """
MATCH (s:Segment {id: $id, workspace: $ws})
SET s.evaluating_at = $now
WITH s
CALL (s) {
  MATCH (p:Profile)-[m:IN_SEGMENT]->(s)
  WHERE m.left_at IS NULL AND NOT (p.workspace = $ws AND p.status = 'active' AND (%(predicate)s))
  SET m.left_at = $now
  RETURN count(m) AS left
}
CALL (s) {
  MATCH (p:Profile {workspace: $ws, status: 'active'})
  WHERE (%(predicate)s) AND NOT EXISTS { MATCH (p)-[o:IN_SEGMENT]->(s) WHERE o.left_at IS NULL }
  CREATE (p)-[:IN_SEGMENT {entered_at: $now}]->(s)
  RETURN count(p) AS entered
}
SET s.last_evaluated_at = $now
RETURN left, entered, COUNT { MATCH ()-[o:IN_SEGMENT]->(s) WHERE o.left_at IS NULL } AS size
"""
# The same diff for a few profiles only (incremental evaluation after an ingest batch).
EVALUATE_PROFILES = """
MATCH (s:Segment {id: $id, workspace: $ws})
SET s.evaluating_at = $now
WITH s
CALL (s) {
  UNWIND $ids AS pid
  MATCH (p:Profile {id: pid})-[m:IN_SEGMENT]->(s)
  WHERE m.left_at IS NULL AND NOT (p.workspace = $ws AND p.status = 'active' AND (%(predicate)s))
  SET m.left_at = $now
  RETURN count(m) AS left
}
CALL (s) {
  UNWIND $ids AS pid
  MATCH (p:Profile {id: pid, workspace: $ws, status: 'active'})
  WHERE (%(predicate)s) AND NOT EXISTS { MATCH (p)-[o:IN_SEGMENT]->(s) WHERE o.left_at IS NULL }
  CREATE (p)-[:IN_SEGMENT {entered_at: $now}]->(s)
  RETURN count(p) AS entered
}
RETURN left, entered, COUNT { MATCH ()-[o:IN_SEGMENT]->(s) WHERE o.left_at IS NULL } AS size
"""
ENTERED_BETWEEN = """
MATCH (:Segment {id: $id, workspace: $ws})<-[m:IN_SEGMENT]-(p:Profile)
WHERE m.entered_at >= $since AND m.entered_at < $until
WITH p.id AS id, m.entered_at AS at ORDER BY at, id
RETURN collect([id, at]) AS rows
"""
LEFT_BETWEEN = """
MATCH (:Segment {id: $id, workspace: $ws})<-[m:IN_SEGMENT]-(p:Profile)
WHERE m.left_at >= $since AND m.left_at < $until
WITH p.id AS id, m.left_at AS at ORDER BY at, id
RETURN collect([id, at]) AS rows
"""
SIZE_HISTORY = """
MATCH (s:Segment {id: $id, workspace: $ws})
WITH COLLECT { MATCH (s)<-[m:IN_SEGMENT]-() RETURN [m.entered_at, m.left_at] } AS spans
RETURN [t IN $times | size([x IN spans WHERE x[0] <= t AND (x[1] IS NULL OR x[1] > t)])] AS sizes
"""


@dataclass(frozen=True)
class KnownNames:
    """Names present in a workspace: the allow-lists a definition is checked against."""

    traits: frozenset[str]
    events: frozenset[str]
    categories: frozenset[str]
    identifier_types: frozenset[str]


@dataclass(frozen=True)
class SegmentRecord:
    """A saved segment; `definition` is its JSON text."""

    id: str
    workspace: str
    name: str
    definition: str
    created_at: datetime
    updated_at: datetime
    last_evaluated_at: datetime | None
    realtime: bool = False  # re-evaluated for touched profiles as events arrive


@dataclass(frozen=True)
class Evaluation:
    """Outcome of one evaluation: memberships opened and closed, and the size after it."""

    segment_id: str
    at: datetime
    entered: int
    left: int
    size: int


@dataclass(frozen=True)
class MembershipChange:
    """A profile that entered or left a segment, and when."""

    profile_id: str
    at: datetime


@dataclass(frozen=True)
class SizePoint:
    """The number of members at a moment."""

    at: datetime
    size: int



def _segment(s: dict[str, Any]) -> SegmentRecord:
    return SegmentRecord(
        id=s["id"], workspace=s["workspace"], name=s["name"], definition=s["definition"],
        created_at=_native(s["created_at"]), updated_at=_native(s["updated_at"]),
        last_evaluated_at=_native(s.get("last_evaluated_at")), realtime=bool(s.get("realtime", False)))


def _scoped(template: str, compiled: CompiledPredicate) -> tuple[str, dict[str, Any]]:
    params = dict(compiled.params)
    bad = [k for k in params if not _PARAM_NAME.match(k)]
    if bad:  # generated names only, so they can never shadow $ws, $now, $id...
        raise ValueError(f"compiled parameters must be named v0, v1...: {bad}")
    return fill(template, predicate=compiled.predicate), params


class SegmentRepository:
    """Segment counts, members, saved definitions and membership history; all scoped by workspace."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def _read(self, query: str, params: dict[str, Any]) -> list[neo4j.Record]:
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.READ)
        return records

    def _write(self, query: str, params: dict[str, Any]) -> list[neo4j.Record]:
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.WRITE)
        return records

    def count(self, *, workspace: str, compiled: CompiledPredicate) -> int:
        """How many active profiles match."""
        query, params = _scoped(COUNT_MEMBERS, compiled)
        return int(self._read(query, {**params, "ws": workspace})[0]["n"])

    def sample(self, *, workspace: str, compiled: CompiledPredicate, limit: int) -> list[str]:
        """Up to `limit` matching profile ids (the first found, not ordered)."""
        query, params = _scoped(SAMPLE_MEMBERS, compiled)
        return list(self._read(query, {**params, "ws": workspace, "limit": limit})[0]["ids"])

    def members(self, *, workspace: str, compiled: CompiledPredicate,
                page_size: int = 5000) -> Iterator[str]:
        """Every matching profile id, in id order, read in pages."""
        query, params = _scoped(MEMBERS_PAGE, compiled)
        after = ""
        while True:
            ids = self._read(query, {**params, "ws": workspace, "after": after, "limit": page_size})[0]["ids"]
            yield from ids
            if len(ids) < page_size:
                return
            after = ids[-1]

    def known_names(self, *, workspace: str) -> KnownNames:
        """Trait keys, event names, product categories and identifier types present in a workspace."""
        r = self._read(KNOWN_NAMES, {"ws": workspace})[0]
        return KnownNames(traits=frozenset(r["traits"]), events=frozenset(r["events"]),
                          categories=frozenset(r["categories"]),
                          identifier_types=frozenset(r["identifier_types"]))

    def create(self, *, workspace: str, segment_id: str, name: str, definition: str,
               now: datetime, realtime: bool = False) -> SegmentRecord:
        """Store a new segment definition."""
        rows = self._write(CREATE_SEGMENT, {"ws": workspace, "id": segment_id, "name": name,
                                            "definition": definition, "now": now, "realtime": realtime})
        return _segment(rows[0]["s"])

    def update(self, *, workspace: str, segment_id: str, name: str, definition: str,
               now: datetime, realtime: bool = False) -> SegmentRecord | None:
        """Replace a segment's name, definition and realtime flag; None if it is not in the workspace."""
        rows = self._write(UPDATE_SEGMENT, {"ws": workspace, "id": segment_id, "name": name,
                                            "definition": definition, "now": now, "realtime": realtime})
        return _segment(rows[0]["s"]) if rows else None

    def get(self, *, workspace: str, segment_id: str) -> SegmentRecord | None:
        """A saved segment, or None (also for another workspace's)."""
        rows = self._read(GET_SEGMENT, {"ws": workspace, "id": segment_id})
        return _segment(rows[0]["s"]) if rows else None

    def list(self, *, workspace: str) -> list[SegmentRecord]:
        """The workspace's saved segments, by name."""
        return [_segment(r["s"]) for r in self._read(LIST_SEGMENTS, {"ws": workspace})]

    def evaluate(self, *, workspace: str, segment_id: str, compiled: CompiledPredicate,
                 now: datetime, profile_ids: list[str] | None = None) -> Evaluation | None:
        """Diff current members against open memberships in one transaction (all profiles, or only
        `profile_ids`); None if no segment."""
        query, params = _scoped(EVALUATE if profile_ids is None else EVALUATE_PROFILES, compiled)
        rows = self._write(query, {**params, "ws": workspace, "id": segment_id, "now": now,
                                   "ids": profile_ids or []})
        if not rows:
            return None
        r = rows[0]
        return Evaluation(segment_id=segment_id, at=now, entered=int(r["entered"]), left=int(r["left"]),
                          size=int(r["size"]))

    def _changes(self, query: str, workspace: str, segment_id: str, since: datetime,
                 until: datetime) -> list[MembershipChange]:
        rows = self._read(query, {"ws": workspace, "id": segment_id, "since": since, "until": until})
        return [MembershipChange(profile_id=pid, at=_native(at)) for pid, at in rows[0]["rows"]]

    def entered_between(self, *, workspace: str, segment_id: str, since: datetime,
                        until: datetime) -> list[MembershipChange]:
        """Memberships opened in [since, until), oldest first."""
        return self._changes(ENTERED_BETWEEN, workspace, segment_id, since, until)

    def left_between(self, *, workspace: str, segment_id: str, since: datetime,
                     until: datetime) -> list[MembershipChange]:
        """Memberships closed in [since, until), oldest first."""
        return self._changes(LEFT_BETWEEN, workspace, segment_id, since, until)

    def size_history(self, *, workspace: str, segment_id: str,
                     times: list[datetime]) -> list[SizePoint]:
        """Open memberships at each given time (from entered_at / left_at)."""
        rows = self._read(SIZE_HISTORY, {"ws": workspace, "id": segment_id, "times": times})
        sizes = rows[0]["sizes"] if rows else [0] * len(times)
        return [SizePoint(at=t, size=int(n)) for t, n in zip(times, sizes, strict=True)]
