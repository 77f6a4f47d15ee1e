"""Data-subject request cases, the restriction flag, and the reads behind an access export.

`(:DsrCase {id, workspace, kind, subject, state, received_at, due_at, updated_at, requested_by,
history (JSON), changes (JSON, rectification only, cleared when done), result (JSON)})`.
A state change is a compare-and-set on the current state, so two concurrent advances of one
case cannot both win.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graph.driver import Repository, to_native

CREATE_CASE = """
CREATE (d:DsrCase {id: $id, workspace: $workspace, kind: $kind, subject: $subject, state: $state,
                   received_at: $received_at, due_at: $due_at, updated_at: $received_at,
                   requested_by: $actor, history: $history, changes: $changes})
RETURN d {.*} AS d
"""
GET_CASE = "MATCH (d:DsrCase {id: $id, workspace: $workspace}) RETURN d {.*} AS d"
TRANSITION = """
MATCH (d:DsrCase {id: $id, workspace: $workspace}) WHERE d.state = $current
SET d.state = $to, d.updated_at = $now, d.history = $history,
    d.result = coalesce($result, d.result), d.changes = CASE WHEN $clear_changes THEN null ELSE d.changes END
RETURN d {.*} AS d
"""
LIST_CASES = """
MATCH (d:DsrCase {workspace: $workspace})
WHERE ($state IS NULL OR d.state = $state) AND ($kind IS NULL OR d.kind = $kind)
  AND ($subject IS NULL OR d.subject = $subject)
  AND (NOT $overdue OR (d.due_at < $now AND NOT d.state IN ['done', 'failed']))
RETURN d {.*} AS d
ORDER BY d.received_at DESC, d.id
LIMIT $limit
"""
SET_RESTRICTED = """
MATCH (p:Profile {id: $id, workspace: $workspace})
SET p.restricted = $restricted, p.restricted_at = $now, p.restricted_by_case = $case_id
RETURN p.id AS id
"""
# The person: the profile and every profile merged into it.
PERSON_IDS = """
MATCH (p:Profile {id: $id, workspace: $workspace})
OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(p)
RETURN p.id AS id, collect(DISTINCT l.id) AS merged
"""
PERSON_INTERACTIONS = """
MATCH (p:Profile {id: $id, workspace: $workspace})-[:PERFORMED]->(e:Interaction)
OPTIONAL MATCH (e)-[c:CONTAINS]->(pr:Product)
WITH e, collect(CASE WHEN pr IS NULL THEN null ELSE {product_id: pr.product_id, name: pr.name,
                  category: pr.category, price: c.price, quantity: c.quantity} END) AS items
RETURN e {.*} AS e, items
ORDER BY e.ts, e.key
"""
PERSON_SEGMENTS = """
MATCH (p:Profile {workspace: $workspace})-[m:IN_SEGMENT]->(s:Segment {workspace: $workspace})
WHERE p.id IN $ids
RETURN s.id AS segment_id, s.name AS name, m.entered_at AS entered_at, m.left_at AS left_at
ORDER BY entered_at, segment_id
"""


@dataclass(frozen=True)
class DsrStep:
    """One entry of a case's history."""

    state: str
    at: str
    actor: str


@dataclass(frozen=True)
class DsrCaseRecord:
    """A stored case."""

    id: str
    workspace: str
    kind: str
    subject: str
    state: str
    received_at: datetime
    due_at: datetime
    updated_at: datetime
    requested_by: str
    history: tuple[DsrStep, ...]
    changes: dict[str, Any] | None
    result: dict[str, Any] | None


def _case(d: dict[str, Any]) -> DsrCaseRecord:
    return DsrCaseRecord(
        id=d["id"], workspace=d["workspace"], kind=d["kind"], subject=d["subject"], state=d["state"],
        received_at=to_native(d["received_at"]), due_at=to_native(d["due_at"]),
        updated_at=to_native(d["updated_at"]), requested_by=d["requested_by"],
        history=tuple(DsrStep(**s) for s in json.loads(d.get("history") or "[]")),
        changes=json.loads(d["changes"]) if d.get("changes") else None,
        result=json.loads(d["result"]) if d.get("result") else None)


def _history(steps: tuple[DsrStep, ...]) -> str:
    return json.dumps([s.__dict__ for s in steps])


class DsrRepository(Repository):
    """Cases and the person-scoped reads of a DSR; every query is scoped by workspace."""

    def create(self, *, id: str, workspace: str, kind: str, subject: str, state: str, received_at: datetime,
               due_at: datetime, actor: str, changes: dict[str, Any] | None) -> DsrCaseRecord:
        """A new case in its first state."""
        history = (DsrStep(state, received_at.isoformat(), actor),)
        rows = self._write(CREATE_CASE, id=id, workspace=workspace, kind=kind, subject=subject, state=state,
                           received_at=received_at, due_at=due_at, actor=actor, history=_history(history),
                           changes=json.dumps(changes, ensure_ascii=False) if changes is not None else None)
        return _case(rows[0]["d"])

    def get(self, *, workspace: str, case_id: str) -> DsrCaseRecord | None:
        """A case of the workspace, or None."""
        rows = self._read(GET_CASE, id=case_id, workspace=workspace)
        return _case(rows[0]["d"]) if rows else None

    def transition(self, *, case: DsrCaseRecord, to: str, actor: str, now: datetime,
                   result: dict[str, Any] | None = None, clear_changes: bool = False) -> DsrCaseRecord | None:
        """Move a case from its current state to `to`; None when the state moved meanwhile."""
        history = (*case.history, DsrStep(to, now.isoformat(), actor))
        rows = self._write(TRANSITION, id=case.id, workspace=case.workspace, to=getattr(to, "value", to),
                           now=now, history=_history(history), clear_changes=clear_changes,
                           result=json.dumps(result, ensure_ascii=False, default=str) if result is not None else None,
                           current=case.state)
        return _case(rows[0]["d"]) if rows else None

    def find(self, *, workspace: str, state: str | None, kind: str | None, subject: str | None, overdue: bool,
             now: datetime, limit: int) -> list[DsrCaseRecord]:
        """Cases, newest first, filtered."""
        rows = self._read(LIST_CASES, workspace=workspace, state=state, kind=kind, subject=subject,
                          overdue=overdue, now=now, limit=limit)
        return [_case(r["d"]) for r in rows]

    def set_restricted(self, *, workspace: str, profile_id: str, restricted: bool, case_id: str,
                       now: datetime) -> bool:
        """Flag (or unflag) a profile as restricted; False when there is no such profile."""
        return bool(self._write(SET_RESTRICTED, id=profile_id, workspace=workspace, restricted=restricted,
                                now=now, case_id=case_id))

    def person_ids(self, *, workspace: str, profile_id: str) -> list[str]:
        """The profile id and the ids of every profile merged into it."""
        rows = self._read(PERSON_IDS, id=profile_id, workspace=workspace)
        return [rows[0]["id"], *rows[0]["merged"]] if rows else []

    def interactions(self, *, workspace: str, profile_id: str) -> list[dict[str, Any]]:
        """Every interaction of the profile with its line items, oldest first."""
        rows = self._read(PERSON_INTERACTIONS, id=profile_id, workspace=workspace)
        return [{**{k: to_native(v) for k, v in r["e"].items()}, "items": [i for i in r["items"] if i]}
                for r in rows]

    def segments(self, *, workspace: str, ids: list[str]) -> list[dict[str, Any]]:
        """Segment memberships (open and closed) of the person's profiles."""
        rows = self._read(PERSON_SEGMENTS, workspace=workspace, ids=ids)
        return [{k: to_native(r[k]) for k in ("segment_id", "name", "entered_at", "left_at")} for r in rows]
