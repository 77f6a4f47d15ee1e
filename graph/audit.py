"""Audit store: hash-chained (:AuditRecord) nodes behind one (:AuditHead {id: 'global'}),
and the signed (:AuditCheckpoint) nodes over it (see audit/checkpoint.py).

Every append runs in one write transaction that first takes the head's write lock (SET on
the head node), then reads the last seq/hash, so concurrent appends from any number of
threads or processes serialise into one gap-free chain. The lock is held only for two short
statements; hashing happens in Python inside the transaction.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j

from audit.chain import GENESIS_HASH, Problem, StoredAudit, VerificationResult, link, verify
from audit.checkpoint import Checkpoint
from audit.events import AuditAction, AuditEvent, Decision
from graph.identity import run_write

__all__ = ["AuditHeadState", "AuditRepository", "StoredAudit"]

HEAD_ID = "global"

# Constraints and indexes: migration 2 in graph/migrations.py (the head's unique constraint is
# what makes the concurrent MERGE of the head safe).
_APPEND_ATTEMPTS = 5
LOCK_HEAD = """
MERGE (h:AuditHead {id: $head})
ON CREATE SET h.seq = 0, h.hash = $genesis
SET h._lock = true
RETURN h.seq AS seq, h.hash AS hash
"""
CREATE_RECORDS = """
UNWIND $rows AS r
CREATE (:AuditRecord {
  seq: r.seq, prev_hash: r.prev_hash, hash: r.hash, id: r.id, at: datetime(r.at), workspace: r.workspace,
  actor: r.actor, actor_kind: r.actor_kind, role: r.role, action: r.action, resource: r.resource,
  decision: r.decision, subject: r.subject, fields_returned: r.fields_returned,
  fields_masked: r.fields_masked, purpose: r.purpose, lawful_basis: r.lawful_basis,
  consent_record_id: r.consent_record_id, reason: r.reason, request_id: r.request_id,
  extra: r.extra
})
WITH count(*) AS created
MATCH (h:AuditHead {id: $head})
SET h.seq = $seq, h.hash = $hash, h.updated_at = datetime()
REMOVE h._lock
RETURN created
"""
READ_HEAD = "MATCH (h:AuditHead {id: $head}) RETURN h.seq AS seq, h.hash AS hash"
RECORD_HASH = "MATCH (a:AuditRecord {seq: $seq}) RETURN a.hash AS hash"
# `WITH a ORDER BY <index properties> LIMIT` before the projection lets the planner read in
# index order instead of sorting every matching record. `at` comes back as ISO text (hydrating
# driver DateTimes costs more than the rest of a record's verification) with its type, so an
# `at` rewritten as a look-alike string, which time-range queries would no longer find, fails
# verification.
_RECORD = "a {.*, at: toString(a.at), at_is_datetime: a.at IS :: ZONED DATETIME} AS a"
RECORDS_PAGE = """
MATCH (a:AuditRecord) WHERE a.seq > $after AND a.seq <= $until
WITH a ORDER BY a.seq LIMIT $page
RETURN """ + _RECORD
WORKSPACE_RECORDS_PAGE = """
MATCH (a:AuditRecord) WHERE a.workspace = $workspace AND a.seq > $after AND a.seq <= $until
WITH a ORDER BY a.workspace, a.seq LIMIT $page
RETURN """ + _RECORD
WORKSPACE_SEQ_RANGE = """
MATCH (a:AuditRecord) WHERE a.workspace = $workspace
RETURN min(a.seq) AS first, max(a.seq) AS last
"""
_QUERY_FILTERS = """
  AND a.at >= $since AND a.at < $until
  AND ($subject IS NULL OR a.subject = $subject)
  AND ($actor IS NULL OR a.actor = $actor)
  AND ($action IS NULL OR a.action = $action)
  AND ($purpose IS NULL OR a.purpose = $purpose)
  AND ($decision IS NULL OR a.decision = $decision)
"""
# One constant per leading filter, each seeking its composite index in time order.
QUERY_BY_SUBJECT = (
    "MATCH (a:AuditRecord) WHERE a.workspace = $workspace AND a.subject = $subject" + _QUERY_FILTERS
    + "WITH a ORDER BY a.workspace DESC, a.subject DESC, a.at DESC LIMIT $limit RETURN " + _RECORD
)
QUERY_BY_ACTOR = (
    "MATCH (a:AuditRecord) WHERE a.workspace = $workspace AND a.actor = $actor" + _QUERY_FILTERS
    + "WITH a ORDER BY a.workspace DESC, a.actor DESC, a.at DESC LIMIT $limit RETURN " + _RECORD
)
QUERY_BY_WORKSPACE = (
    "MATCH (a:AuditRecord) WHERE a.workspace = $workspace" + _QUERY_FILTERS
    + "WITH a ORDER BY a.workspace DESC, a.at DESC LIMIT $limit RETURN " + _RECORD
)

# Checkpoints: one node per seq. A concurrent MERGE is only race-free with this constraint
# (to be applied by a migration); without it a duplicate is harmless, verification checks each.
CHECKPOINT_SCHEMA = (
    "CREATE CONSTRAINT audit_checkpoint_seq IF NOT EXISTS FOR (c:AuditCheckpoint) REQUIRE c.seq IS UNIQUE",
)
_CHECKPOINT = "c {.seq, .hash, .key_id, .signature, at: toString(c.at)} AS c"
SAVE_CHECKPOINT = """
MERGE (c:AuditCheckpoint {seq: $seq})
ON CREATE SET c.hash = $hash, c.at = $at, c.key_id = $key_id, c.signature = $signature
RETURN """ + _CHECKPOINT
CHECKPOINTS = "MATCH (c:AuditCheckpoint) WHERE c.seq >= $since WITH c ORDER BY c.seq RETURN " + _CHECKPOINT
RECORD_HASHES = "UNWIND $seqs AS s MATCH (a:AuditRecord {seq: s}) RETURN a.seq AS seq, a.hash AS hash"
STORE_ID = "CALL db.info() YIELD id RETURN id"

NO_LIMIT = 2**62
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class AuditHeadState:
    """The chain's head: last seq and its hash (seq 0 and the genesis hash when empty)."""

    seq: int
    hash: str


def _row(record: StoredAudit) -> dict[str, Any]:
    e = record.event
    return {
        "seq": record.seq, "prev_hash": record.prev_hash, "hash": record.hash,
        # ISO text, parsed by Cypher's datetime(): the driver's packing of temporal values
        # cost more than the rest of the row.
        "id": e.id, "at": e.at.isoformat(), "workspace": e.workspace, "actor": e.actor,
        "actor_kind": e.actor_kind.value, "role": e.role, "action": e.action.value,
        "resource": e.resource, "decision": e.decision.value, "subject": e.subject,
        "fields_returned": list(e.fields_returned), "fields_masked": list(e.fields_masked),
        "purpose": e.purpose, "lawful_basis": e.lawful_basis,
        "consent_record_id": e.consent_record_id, "reason": e.reason, "request_id": e.request_id,
        "extra": json.dumps(dict(e.extra), sort_keys=True, separators=(",", ":")) if e.extra else None,
    }


def _instant(value: Any, is_datetime: bool) -> Any:
    """The stored `at` as a datetime; anything else is kept in a form that can not hash alike."""
    if is_datetime and isinstance(value, str):
        try:  # a named zone prints as "...Z[UTC]"; the offset before it fixes the instant
            return datetime.fromisoformat(value.split("[", 1)[0])
        except ValueError:
            pass
    return {"not_a_datetime": value}


def _stored(props: dict[str, Any]) -> StoredAudit:
    """Rebuild a record exactly as stored (tampered values included, for the verifier)."""
    extra: Any = props.get("extra")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            pass
    values = {
        "id": props.get("id"), "at": _instant(props.get("at"), bool(props.get("at_is_datetime"))), "workspace": props.get("workspace"),
        "actor": props.get("actor"), "actor_kind": props.get("actor_kind"), "role": props.get("role"),
        "action": props.get("action"), "resource": props.get("resource"),
        "decision": props.get("decision"), "subject": props.get("subject"),
        "fields_returned": tuple(props.get("fields_returned") or ()),
        "fields_masked": tuple(props.get("fields_masked") or ()),
        "purpose": props.get("purpose"), "lawful_basis": props.get("lawful_basis"),
        "consent_record_id": props.get("consent_record_id"), "reason": props.get("reason"),
        "request_id": props.get("request_id"), "extra": extra if extra is not None else {},
    }
    return StoredAudit(seq=props["seq"], prev_hash=props.get("prev_hash"), hash=props.get("hash"),
                       event=AuditEvent.restore(**values))


def _checkpoint(props: dict[str, Any]) -> Checkpoint:
    """A checkpoint as stored; an edited `at` that no longer parses keeps a value that can not verify."""
    try:
        at = datetime.fromisoformat(str(props.get("at")).split("[", 1)[0]).astimezone(UTC)
    except ValueError:
        at = EARLIEST
    return Checkpoint(seq=props["seq"], hash=str(props.get("hash")), at=at,
                      key_id=str(props.get("key_id")), signature=str(props.get("signature")))


class AuditRepository:
    """Appends to and reads the audit chain and its checkpoints."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database
        self._store_id: str | None = None

    def append(self, event: AuditEvent) -> StoredAudit:
        """Chain and store one event."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[StoredAudit]:
        """Chain and store events in order, atomically, in one transaction."""
        if not events:
            return []

        def work(tx: neo4j.ManagedTransaction) -> list[StoredAudit]:
            head = tx.run(LOCK_HEAD, head=HEAD_ID, genesis=GENESIS_HASH).single(strict=True)
            chained = link(events, after=(head["seq"], head["hash"]))
            tx.run(CREATE_RECORDS, rows=[_row(r) for r in chained], head=HEAD_ID,
                   seq=chained[-1].seq, hash=chained[-1].hash).consume()
            return chained

        # Several processes append to one chain: the head is write-locked, but a writer that read
        # the head just before another committed can still collide on the next seq (a unique
        # constraint refuses it, nothing is written); it re-reads the head and tries again.
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                return run_write(self.driver, self.database, work)
            except neo4j.exceptions.ConstraintError:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise AssertionError("unreachable")

    def head(self) -> AuditHeadState | None:
        """The current head, or None before the first append."""
        records, _, _ = self.driver.execute_query(
            READ_HEAD, head=HEAD_ID, database_=self.database, routing_=neo4j.RoutingControl.READ,
        )
        if not records:
            return None
        return AuditHeadState(seq=records[0]["seq"], hash=records[0]["hash"])

    def verify_chain(self, *, after_seq: int = 0, page: int = 1000) -> VerificationResult:
        """Stream the chain up to the head and verify it: from genesis, or after a checkpoint.

        With `after_seq`, that record's stored hash is trusted (a checkpoint from an earlier
        verification or an external copy) and only later records are checked. The head is read
        first; records appended meanwhile lie past it and are not checked. A missing head with
        records present is reported (records continue past seq 0).
        """
        head = self.head() or AuditHeadState(seq=0, hash=GENESIS_HASH)
        after: tuple[int, str] = (0, GENESIS_HASH)
        if after_seq > 0:
            records, _, _ = self.driver.execute_query(
                RECORD_HASH, seq=after_seq, database_=self.database, routing_=neo4j.RoutingControl.READ,
            )
            if not records:
                return VerificationResult(ok=False, checked=0, broken_seq=after_seq, problem=Problem.GAP,
                                          detail=f"checkpoint seq {after_seq} is missing")
            after = (after_seq, records[0]["hash"])
        until = head.seq if head.seq > 0 else None
        return verify(self.iter_records(since_seq=after_seq, until_seq=until, page=page),
                      after=after, head=(head.seq, head.hash))

    def iter_records(
        self,
        workspace: str | None = None,
        *,
        since_seq: int = 0,
        until_seq: int | None = None,
        page: int = 1000,
    ) -> Iterator[StoredAudit]:
        """Records with since_seq < seq <= until_seq in seq order, fetched page by page."""
        after = since_seq
        until = NO_LIMIT if until_seq is None else until_seq
        query = RECORDS_PAGE if workspace is None else WORKSPACE_RECORDS_PAGE
        while True:
            records, _, _ = self.driver.execute_query(
                query, workspace=workspace, after=after, until=until, page=page,
                database_=self.database, routing_=neo4j.RoutingControl.READ,
            )
            for r in records:
                yield _stored(r["a"])
            if len(records) < page:
                return
            after = records[-1]["a"]["seq"]

    def seq_range(self, workspace: str) -> tuple[int, int] | None:
        """The first and last seq of a workspace's records, or None if it has none."""
        records, _, _ = self.driver.execute_query(
            WORKSPACE_SEQ_RANGE, workspace=workspace, database_=self.database,
            routing_=neo4j.RoutingControl.READ,
        )
        first, last = records[0]["first"], records[0]["last"]
        return None if first is None else (first, last)

    def query(
        self,
        workspace: str,
        *,
        subject: str | None = None,
        actor: str | None = None,
        action: AuditAction | str | None = None,
        purpose: str | None = None,
        decision: Decision | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredAudit]:
        """A workspace's records matching every given filter, newest `at` first; `until` is exclusive."""
        for name, at in (("since", since), ("until", until)):
            if at is not None and at.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if subject is not None:
            cypher = QUERY_BY_SUBJECT
        elif actor is not None:
            cypher = QUERY_BY_ACTOR
        else:
            cypher = QUERY_BY_WORKSPACE
        records, _, _ = self.driver.execute_query(
            cypher, workspace=workspace, subject=subject, actor=actor,
            action=AuditAction(action).value if action is not None else None, purpose=purpose,
            decision=Decision(decision).value if decision is not None else None,
            since=since or EARLIEST, until=until or LATEST, limit=limit,
            database_=self.database, routing_=neo4j.RoutingControl.READ,
        )
        return [_stored(r["a"]) for r in records]

    def save_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        """Store a checkpoint; if one exists at its seq already, that one is kept and returned."""
        records, _, _ = self.driver.execute_query(
            SAVE_CHECKPOINT, seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at,
            key_id=checkpoint.key_id, signature=checkpoint.signature, database_=self.database,
        )
        return _checkpoint(records[0]["c"])

    def checkpoints(self, *, since_seq: int = 0) -> list[Checkpoint]:
        """Stored checkpoints with seq >= since_seq, in seq order (one per 1000 records or so)."""
        records, _, _ = self.driver.execute_query(
            CHECKPOINTS, since=since_seq, database_=self.database, routing_=neo4j.RoutingControl.READ,
        )
        return [_checkpoint(r["c"]) for r in records]

    def record_hashes(self, seqs: Sequence[int]) -> dict[int, str]:
        """The stored hash of each record among `seqs` that exists."""
        if not seqs:
            return {}
        records, _, _ = self.driver.execute_query(
            RECORD_HASHES, seqs=list(seqs), database_=self.database, routing_=neo4j.RoutingControl.READ,
        )
        return {r["seq"]: r["hash"] for r in records}

    def store_id(self) -> str:
        """The Neo4j database's store id: names this chain in the outside copy of checkpoints."""
        if self._store_id is None:
            records, _, _ = self.driver.execute_query(
                STORE_ID, database_=self.database, routing_=neo4j.RoutingControl.READ,
            )
            self._store_id = str(records[0]["id"])
        return self._store_id
