"""Consent records: append-only nodes linked to the profile they were captured for."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import neo4j

from consent.model import ConsentRecord
from graph.driver import from_iso

APPEND = """
UNWIND $rows AS r
MERGE (c:Consent {id: r.id})
ON CREATE SET c += r.props, c.workspace = $workspace
WITH c, r
MATCH (p:Profile {id: r.subject, workspace: $workspace})
MERGE (p)-[:GAVE]->(c)
"""
# Times as ISO text: hydrating driver temporals costs more than the rest of a record.
CONSENT_MAP = "c {.*, captured_at: toString(c.captured_at), expires_at: toString(c.expires_at)}"
# The person's records include those of profiles merged into it (their consent still counts).
FOR_SUBJECT = """
MATCH (p:Profile {id: $id, workspace: $workspace})
OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(p)
WITH p, collect(l) AS merged
WITH [p] + merged AS ps
UNWIND ps AS x
MATCH (x)-[:GAVE]->(c:Consent)
RETURN DISTINCT """ + CONSENT_MAP + """ AS c
"""

FOR_SUBJECTS = """
UNWIND $ids AS id
MATCH (p:Profile {id: id, workspace: $workspace})
OPTIONAL MATCH (l:Profile)-[:MERGED_INTO*1..]->(p)
WITH id, p, collect(l) AS merged
UNWIND [p] + merged AS x
OPTIONAL MATCH (x)-[:GAVE]->(c:Consent)
WITH id, collect(DISTINCT """ + CONSENT_MAP + """) AS cs
RETURN collect([id, cs]) AS rows
"""


def _props(rec: ConsentRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "subject": rec.subject, "purpose": rec.purpose.value, "channel": rec.channel.value,
        "status": rec.status.value, "lawful_basis": rec.lawful_basis.value, "source": rec.source,
        "captured_at": rec.captured_at, "jurisdiction": rec.jurisdiction.value, "expires_at": rec.expires_at,
        "notice_version": rec.notice_version, "notice_hash": rec.notice_hash,
        "evidence": json.dumps(rec.evidence, sort_keys=True) if rec.evidence else None,
    }



def to_record(c: dict[str, Any], *, person: str | None = None) -> ConsentRecord:
    """A stored node back into a ConsentRecord; `person` names the profile whose history it is
    read as (records captured on profiles merged into it belong to the same person)."""
    return ConsentRecord(
        id=c["id"], subject=person or c["subject"], purpose=c["purpose"], channel=c["channel"], status=c["status"],
        lawful_basis=c["lawful_basis"], source=c["source"], captured_at=from_iso(c["captured_at"]),
        jurisdiction=c["jurisdiction"], expires_at=from_iso(c.get("expires_at")),
        notice_version=c.get("notice_version"), notice_hash=c.get("notice_hash"),
        evidence=json.loads(c["evidence"]) if c.get("evidence") else None)


def in_order(records: Iterable[ConsentRecord]) -> list[ConsentRecord]:
    """Records oldest first (ties by id), as the gate and the history expect."""
    return sorted(records, key=lambda r: (r.captured_at, r.id))


class ConsentRepository:
    """Append and read consent history (never update, never delete)."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def append(self, *, workspace: str, records: list[ConsentRecord]) -> None:
        """Store records (idempotent on record id)."""
        if not records:
            return
        rows = [{"id": r.id, "subject": r.subject, "props": {k: v for k, v in _props(r).items() if v is not None}}
                for r in records]
        self.driver.execute_query(APPEND, rows=rows, workspace=workspace, database_=self.database)

    def for_subject(self, *, workspace: str, profile_id: str) -> list[ConsentRecord]:
        """All records of a person, oldest first."""
        records, _, _ = self.driver.execute_query(
            FOR_SUBJECT, id=profile_id, workspace=workspace, database_=self.database,
            routing_=neo4j.RoutingControl.READ)
        return in_order(to_record(r["c"], person=profile_id) for r in records)

    def for_subjects(self, *, workspace: str, profile_ids: list[str]) -> dict[str, list[ConsentRecord]]:
        """Records of several people in one query (a page of profiles)."""
        if not profile_ids:
            return {}
        records, _, _ = self.driver.execute_query(
            FOR_SUBJECTS, ids=profile_ids, workspace=workspace, database_=self.database,
            routing_=neo4j.RoutingControl.READ)
        out: dict[str, list[ConsentRecord]] = {pid: [] for pid in profile_ids}
        for pid, cs in records[0]["rows"]:
            out[pid] = in_order(to_record(c, person=pid) for c in cs)
        return out

