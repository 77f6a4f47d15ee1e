"""Identity graph repository: one write transaction per ingested batch.

Locks the batch's identifiers (and then their profiles), builds a Snapshot, lets the planner
decide, and writes the plan with a handful of UNWIND statements. Transient errors (deadlocks
between concurrent batches) are retried by the driver's managed transaction.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j
import neo4j.exceptions

from graph import identity_cypher as q

TRAIT_PREFIX = "trait."


@dataclass(frozen=True)
class IdentifierRow:
    """An identifier an event carries (value None for PII types: it is sealed when linked)."""

    key: str
    type: str
    value: str | None
    ts: datetime


@dataclass(frozen=True)
class StoredProfile:
    """A profile as read under lock."""

    id: str
    first_seen: datetime | None
    limited: dict[str, set[str]]
    traits: dict[str, Any]
    meta: dict[str, list[Any]]


@dataclass(frozen=True)
class BatchWrite:
    """What the planner asks the repository to write (plain rows)."""

    new_profiles: list[dict[str, Any]]
    links: list[dict[str, Any]]
    merges: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    profile_updates: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]


@dataclass(frozen=True)
class BatchOutcome:
    """What happened: new interaction keys, merges and conflicts written."""

    created_keys: frozenset[str]
    merges: int
    conflicts: int
    new_profiles: int


def to_property(value: Any) -> Any:
    """A Neo4j-storable form of a trait value (objects and mixed lists become JSON text)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, list) and value and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


MAX_ATTEMPTS = 12


def run_write(driver: neo4j.Driver, database: str, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
    """A write transaction retried on transient errors (deadlocks) with a short jittered backoff.

    The driver's own retry waits about a second before the first retry; concurrent ingest
    batches that touch the same identifiers deadlock now and then, and a second is far too
    long for them.
    """
    delay = 0.005
    for attempt in range(MAX_ATTEMPTS):
        with driver.session(database=database) as session:
            if attempt == MAX_ATTEMPTS - 1:
                return session.execute_write(work)
            try:
                return _once(session, work)
            except neo4j.exceptions.TransientError as exc:
                if not exc.is_retryable():
                    raise
        time.sleep(random.uniform(0, delay))
        delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


def _once(session: neo4j.Session, work: Callable[[neo4j.ManagedTransaction], Any]) -> Any:
    tx = session.begin_transaction()
    try:
        result = work(tx)  # type: ignore[arg-type]
        tx.commit()
        return result
    except BaseException:
        # Closing a failed transaction re-raises the failure as ResultFailedError, which would
        # hide the retryable TransientError; roll back quietly and re-raise the original.
        try:
            tx.rollback()
        except Exception:  # noqa: BLE001,S110
            pass
        raise


class IdentityRepository:
    """All reads and writes of the identity write path."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def existing_keys(self, keys: list[str]) -> set[str]:
        """Which of these identifier keys exist (used to type alias previousIds)."""
        if not keys:
            return set()
        records, _, _ = self.driver.execute_query(
            q.FIND_EXISTING_KEYS, keys=keys, database_=self.database,
            routing_=neo4j.RoutingControl.READ,
        )
        return set(records[0]["keys"])

    def write_batch(
        self,
        *,
        workspace: str,
        source: str,
        identifiers: list[IdentifierRow],
        limited_types: list[str],
        plan: Callable[[dict[str, str | None], dict[str, StoredProfile]], BatchWrite],
    ) -> BatchOutcome:
        """Lock, snapshot, plan and write one batch atomically."""
        rows = sorted(
            ({"key": i.key, "type": i.type, "value": i.value, "ts": i.ts.isoformat()} for i in identifiers),
            key=lambda r: r["key"],
        )

        def work(tx: neo4j.ManagedTransaction) -> BatchOutcome:
            now = datetime.now(UTC)
            owner: dict[str, str | None] = {}
            rec = tx.run(q.LOCK_IDENTIFIERS, rows=rows, workspace=workspace, source=source, now=now).single()
            for key, profile in rec["owners"] if rec else []:
                owner[key] = profile
            profile_ids = sorted({p for p in owner.values() if p})
            profiles: dict[str, StoredProfile] = {}
            if profile_ids:
                found = tx.run(q.LOCK_PROFILES, ids=profile_ids, limited=limited_types, now=now).single()
                for rec in found["profiles"] if found else []:
                    limited: dict[str, set[str]] = {}
                    for kind, key in rec["limited"]:
                        if kind is not None:
                            limited.setdefault(kind, set()).add(key)
                    profiles[rec["id"]] = StoredProfile(
                        id=rec["id"],
                        first_seen=None,
                        limited=limited,
                        traits=dict(rec["traits"]),
                        meta=json.loads(rec["meta"]) if rec["meta"] else {},
                    )
            write = plan(owner, profiles)
            params = {"workspace": workspace, "source": source, "now": now}
            if write.profile_updates:
                tx.run(q.UPSERT_PROFILES, rows=write.profile_updates, **params).consume()
            if write.links:
                tx.run(q.LINK_IDENTIFIERS, rows=write.links, **params).consume()
            if write.merges:
                tx.run(q.MERGE_PROFILES, rows=write.merges, **params).consume()
            created: set[str] = set()
            if write.interactions:
                batch_id = str(uuid.uuid4())
                rec = tx.run(q.CREATE_INTERACTIONS, rows=write.interactions, batch=batch_id, **params).single()
                created.update(rec["created"] if rec else [])
            if write.conflicts:
                tx.run(q.RECORD_CONFLICTS, rows=write.conflicts, **params).consume()
            return BatchOutcome(
                created_keys=frozenset(created), merges=len(write.merges),
                conflicts=len(write.conflicts), new_profiles=len(write.new_profiles),
            )

        return run_write(self.driver, self.database, work)


def read_locked_profile(tx: neo4j.ManagedTransaction, *, workspace: str, profile_id: str,
                        now: datetime) -> StoredProfile | None:
    """Write-lock one active profile and read its traits (None if missing or in another workspace)."""
    rec = tx.run(q.LOCK_PROFILE, id=profile_id, workspace=workspace, now=now).single()
    if rec is None:
        return None
    return StoredProfile(
        id=profile_id, first_seen=None, limited={}, traits=dict(rec["traits"]),
        meta=json.loads(rec["meta"]) if rec["meta"] else {})


class TraitRepository:
    """Direct trait updates of one profile (admin/support edits), same storage rules as ingestion."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def update(self, *, workspace: str, profile_id: str,
               apply: Callable[[StoredProfile], dict[str, Any] | None]) -> bool:
        """Lock, let `apply` compute the update row, write it. False when the profile is not found."""

        def work(tx: neo4j.ManagedTransaction) -> bool:
            now = datetime.now(UTC)
            stored = read_locked_profile(tx, workspace=workspace, profile_id=profile_id, now=now)
            if stored is None:
                return False
            row = apply(stored)
            if row is not None:
                tx.run(q.UPSERT_PROFILES, rows=[row], workspace=workspace, now=now).consume()
            return True

        return run_write(self.driver, self.database, work)
