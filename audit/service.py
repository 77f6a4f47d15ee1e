"""Recording, verifying and exporting the audit trail.

`record` is on the path of every audited request and fails closed: if the event can not be
stored the caller gets `AuditUnavailable` and must not return the data (HTTP 503).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from audit.chain import (
    ChainRecord,
    RedactedRecord,
    StoredAudit,
    VerificationResult,
    record_to_json,
)
from audit.events import AuditEvent


class AuditUnavailable(RuntimeError):
    """The audit store could not record an event; the audited action must not proceed."""

    status = 503
    code = "audit_unavailable"

    def __init__(self, message: str = "the audit trail is unavailable; nothing was returned, retry") -> None:
        super().__init__(message)
        self.message = message


class AuditStore(Protocol):
    """What the service needs from the repository (graph.audit.AuditRepository)."""

    def append(self, event: AuditEvent) -> StoredAudit: ...

    def verify_chain(self, *, after_seq: int = 0) -> VerificationResult: ...

    def seq_range(self, workspace: str) -> tuple[int, int] | None: ...

    def iter_records(
        self, workspace: str | None = None, *, since_seq: int = 0, until_seq: int | None = None,
        page: int = 1000,
    ) -> Iterator[StoredAudit]: ...


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: record counts and the range's first/last seq and last hash."""

    path: Path
    records: int
    redacted: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None


def _log_fields(stored: StoredAudit) -> dict[str, Any]:
    e = stored.event
    return {
        "audit_id": e.id, "seq": stored.seq, "hash": stored.hash, "prev_hash": stored.prev_hash,
        "workspace": e.workspace, "actor": e.actor, "actor_kind": e.actor_kind.value, "role": e.role,
        "action": e.action.value, "resource": e.resource, "decision": e.decision.value,
        "subject": e.subject, "fields_returned": list(e.fields_returned),
        "fields_masked": list(e.fields_masked), "purpose": e.purpose, "lawful_basis": e.lawful_basis,
        "consent_record_id": e.consent_record_id, "reason": e.reason, "request_id": e.request_id,
        "extra": dict(e.extra),
    }


class AuditService:
    """The audit trail's entry point for every transport and job."""

    def __init__(self, repo: AuditStore, *, logger: Any | None = None) -> None:
        self.repo = repo
        self.log = logger if logger is not None else structlog.get_logger("veil.audit")

    def record(self, event: AuditEvent) -> StoredAudit:
        """Store the event in the chain and log it; raises AuditUnavailable if it was not stored."""
        try:
            stored = self.repo.append(event)
        except Exception as exc:
            # Any failure means the event is not durably recorded: fail closed.
            self.log.error("audit_store_failed", audit_id=event.id, workspace=event.workspace,
                           action=event.action.value, request_id=event.request_id,
                           error=type(exc).__name__)
            raise AuditUnavailable() from exc
        self.log.info("audit", **_log_fields(stored))
        return stored

    def record_many(self, events: list[AuditEvent]) -> list[StoredAudit]:
        """Store several events in one transaction (a page of reads); all or none, fail closed."""
        if not events:
            return []
        try:
            stored = self.repo.append_many(events)
        except Exception as exc:
            self.log.error("audit_store_failed", audit_id=events[0].id, workspace=events[0].workspace,
                           action=events[0].action.value, request_id=events[0].request_id,
                           error=type(exc).__name__, count=len(events))
            raise AuditUnavailable() from exc
        for s in stored:
            self.log.info("audit", **_log_fields(s))
        return stored

    def verify(self, *, after_seq: int = 0) -> VerificationResult:
        """Verify the chain up to the head: from genesis, or after a trusted checkpoint seq."""
        result = self.repo.verify_chain(after_seq=after_seq)
        level = self.log.info if result.ok else self.log.error
        level("audit_verified", **result.as_dict())
        return result

    def export(self, workspace: str | None, path: str | Path, fmt: str = "jsonl") -> ExportResult:
        """Write a re-verifiable JSONL export (`audit.chain.read_jsonl` + `verify(after=None)`).

        With a workspace, covers its first to last record; other workspaces' records in that
        range are written as redacted links. With None, the whole chain.
        """
        if fmt != "jsonl":
            raise ValueError(f"unsupported export format {fmt!r}; only 'jsonl'")
        target = Path(path)
        if workspace is None:
            records: Iterable[ChainRecord] = self.repo.iter_records()
        else:
            span = self.repo.seq_range(workspace)
            records = () if span is None else self._redacted(workspace, span)
        count = redacted = 0
        first: ChainRecord | None = None
        last: ChainRecord | None = None
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for rec in records:
                    out.write(record_to_json(rec) + "\n")
                    first = first or rec
                    last = rec
                    count += 1
                    redacted += isinstance(rec, RedactedRecord)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        result = ExportResult(
            path=target, records=count, redacted=redacted, first_seq=first.seq if first else None,
            last_seq=last.seq if last else None, last_hash=last.hash if last else None,
        )
        self.log.info("audit_exported", workspace=workspace, records=count, redacted=redacted,
                      first_seq=result.first_seq, last_seq=result.last_seq, last_hash=result.last_hash)
        return result

    def _redacted(self, workspace: str, span: tuple[int, int]) -> Iterator[ChainRecord]:
        for rec in self.repo.iter_records(since_seq=span[0] - 1, until_seq=span[1]):
            if rec.event.workspace == workspace:
                yield rec
            else:
                yield RedactedRecord(seq=rec.seq, prev_hash=rec.prev_hash, hash=rec.hash)
