"""Recording, verifying, checkpointing and exporting the audit trail.

`record` is on the path of every audited request and fails closed: if the event can not be
stored the caller gets `AuditUnavailable` and must not return the data (HTTP 503). When a
record's seq is a multiple of `checkpoint_every`, `record` then signs a checkpoint of the hash
it has just written, after the append's transaction (a failure there is logged, not raised:
the event is stored). `verify` checks the chain and every signed checkpoint from `after_seq` on.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.chain import (
    ChainRecord,
    RedactedRecord,
    StoredAudit,
    VerificationResult,
    event_to_dict,
    record_to_json,
)
from audit.checkpoint import (
    Checkpoint,
    CheckpointCheck,
    append_copy,
    check_checkpoints,
    load_or_create_key,
    read_copy,
    sign_checkpoint,
    trusted_keys,
    verify_checkpoint,
)
from audit.events import AuditAction, AuditEvent, Decision
from audit.settings import AuditSettings
from core.errors import VeilError


class AuditUnavailable(VeilError, RuntimeError):
    """The audit store could not record an event; the audited action must not proceed."""

    status = 503
    code = "audit_unavailable"

    def __init__(self, message: str = "the audit trail is unavailable; nothing was returned, retry") -> None:
        super().__init__(message)
        self.message = message


class CheckpointRefused(VeilError, RuntimeError):
    """The chain does not verify up to the head, so no checkpoint was signed."""

    status = 409

    code = "checkpoint_refused"

    def __init__(self, result: VerificationResult) -> None:
        super().__init__(f"chain broken at seq {result.broken_seq}: {result.detail}")
        self.result = result


class AuditHead(Protocol):
    """The head as the repository returns it."""

    seq: int
    hash: str


class AuditStore(Protocol):
    """What the service needs from the repository (graph.audit.AuditRepository)."""

    def append(self, event: AuditEvent) -> StoredAudit: ...

    def append_many(self, events: Sequence[AuditEvent]) -> list[StoredAudit]: ...

    def head(self) -> AuditHead | None: ...

    def save_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint: ...

    def checkpoints(self, *, since_seq: int = 0) -> list[Checkpoint]: ...

    def record_hashes(self, seqs: Sequence[int]) -> dict[int, str]: ...

    def store_id(self) -> str: ...

    def verify_chain(self, *, after_seq: int = 0) -> VerificationResult: ...

    def seq_range(self, workspace: str) -> tuple[int, int] | None: ...

    def query(
        self, workspace: str, *, subject: str | None = None, actor: str | None = None,
        action: AuditAction | str | None = None, purpose: str | None = None,
        decision: Decision | str | None = None, since: datetime | None = None,
        until: datetime | None = None, limit: int = 100,
    ) -> list[StoredAudit]: ...

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


_EVENT_COLUMNS = tuple(f.name for f in dataclasses.fields(AuditEvent))
CSV_COLUMNS = ("seq", "prev_hash", "hash", *_EVENT_COLUMNS)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        text = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    else:
        text = str(value)
    # A spreadsheet would run a cell starting like a formula; quote it (OWASP CSV injection).
    return "'" + text if text.startswith(_FORMULA_START) else text


def record_to_csv_row(record: ChainRecord) -> list[str]:
    """One CSV row in `CSV_COLUMNS` order: lists joined with ';', extra as JSON, redacted = links only."""
    data = event_to_dict(record.event) if isinstance(record, StoredAudit) else {}
    return [str(record.seq), record.prev_hash, record.hash, *(_csv_cell(data.get(c)) for c in _EVENT_COLUMNS)]


def _jsonl_writer(out: TextIO) -> Callable[[ChainRecord], object]:
    return lambda rec: out.write(record_to_json(rec) + "\n")


def _csv_writer(out: TextIO) -> Callable[[ChainRecord], object]:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    return lambda rec: writer.writerow(record_to_csv_row(rec))


_WRITERS: dict[str, Callable[[TextIO], Callable[[ChainRecord], object]]] = {
    "jsonl": _jsonl_writer, "csv": _csv_writer,
}
EXPORT_FORMATS = tuple(_WRITERS)


def _with_checkpoints(chain: VerificationResult, check: CheckpointCheck) -> VerificationResult:
    """The chain's result, or the checkpoints' finding if that comes at a lower seq."""
    found = check.finding
    if found is None:
        if not chain.ok:
            return chain
        latest = f", latest at seq {check.latest_seq}" if check.latest_seq is not None else ""
        return dataclasses.replace(chain, detail=f"{check.verified} signed checkpoints verified{latest}")
    if not chain.ok and chain.broken_seq is not None and chain.broken_seq <= found.seq:
        return chain
    # CheckpointProblem adds its codes to chain.Problem's; VerificationResult is typed for those.
    return dataclasses.replace(chain, ok=False, broken_seq=found.seq, problem=found.problem,  # type: ignore[arg-type]
                               detail=found.detail)


class AuditService:
    """The audit trail's entry point for every transport and job."""

    def __init__(self, repo: AuditStore, *, logger: Any | None = None,
                 settings: AuditSettings | None = None) -> None:
        self.repo = repo
        self.log = logger if logger is not None else structlog.get_logger("veil.audit")
        self.settings = settings if settings is not None else AuditSettings()
        self._key: Ed25519PrivateKey | None = None

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
        self._maybe_checkpoint([stored])
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
        self._maybe_checkpoint(stored)
        return stored

    def _maybe_checkpoint(self, stored: list[StoredAudit]) -> None:
        """Sign the just-written hash at a multiple of `checkpoint_every`; never raises.

        The hash was computed by this append, so there is nothing to read or verify first.
        """
        every = self.settings.checkpoint_every
        due = [s for s in stored if every > 0 and s.seq % every == 0]
        if not due:
            return
        try:
            key = self._signing_key()
            if key is not None:
                self._save(sign_checkpoint(key, due[-1].seq, due[-1].hash, datetime.now(UTC)))
        except Exception as exc:  # noqa: BLE001 - the event is stored; a missed checkpoint must not fail it
            self.log.error("audit_checkpoint_failed", seq=due[-1].seq, error=type(exc).__name__,
                           message=str(exc))

    def _signing_key(self) -> Ed25519PrivateKey | None:
        if self._key is None:
            self._key = load_or_create_key(self.settings)
        return self._key

    def _save(self, checkpoint: Checkpoint) -> Checkpoint:
        stored = self.repo.save_checkpoint(checkpoint)
        created = stored.signature == checkpoint.signature
        copy = self.settings.checkpoint_copy_file
        if created and copy is not None:
            try:
                append_copy(copy, checkpoint, store=self.repo.store_id())
            except OSError as exc:  # the node is stored; the copy is the second line of defence
                self.log.error("audit_checkpoint_copy_failed", seq=checkpoint.seq, path=str(copy),
                               error=type(exc).__name__)
        self.log.info("audit_checkpoint", seq=stored.seq, hash=stored.hash, key_id=stored.key_id,
                      created=created)
        return stored

    def checkpoint(self, *, after_seq: int = 0) -> Checkpoint | None:
        """Sign a checkpoint at the head once the chain verifies up to it; None if disabled or empty.

        Verification starts at the latest validly signed checkpoint (or `after_seq`, trusted, if
        later), and every validly signed checkpoint must still match, so a rewrite or a truncation
        is never signed over. Checkpoints of untrusted keys are left to `verify` to report.
        Idempotent: if the head has not moved, the existing checkpoint is returned.
        Raises CheckpointRefused if the chain does not verify.
        """
        key = self._signing_key()
        if key is None:
            return None
        keys = trusted_keys(self.settings)
        valid = [c for c in self.repo.checkpoints() if c.key_id in keys and verify_checkpoint(keys[c.key_id], c)]
        head = self.repo.head()
        check = check_checkpoints(valid, keys=keys, head_seq=head.seq if head else 0,
                                  hashes=self.repo.record_hashes(sorted({c.seq for c in valid})))
        anchor = max(valid, key=lambda c: c.seq, default=None)
        start = max(after_seq, anchor.seq if anchor else 0)
        result = _with_checkpoints(self.repo.verify_chain(after_seq=start), check)
        if not result.ok:
            self.log.error("audit_checkpoint_refused", **result.as_dict())
            raise CheckpointRefused(result)
        if result.checked:
            seq, digest = result.last_seq, result.last_hash
        elif anchor is not None and anchor.seq == start:
            return anchor  # the head has not moved since the latest checkpoint
        else:
            seq, digest = start, self.repo.record_hashes([start]).get(start)
        if not seq or digest is None:
            return None  # empty chain: nothing to sign
        return self._save(sign_checkpoint(key, seq, digest, datetime.now(UTC)))

    def verify(self, *, after_seq: int = 0) -> VerificationResult:
        """Verify the chain and the signed checkpoints up to the head, from genesis or a trusted seq.

        Reports the first bad seq: the chain's own finding, or a checkpoint whose signature
        fails (`bad_signature`), whose seq is past the head (`truncated`) or whose signed hash
        is not the stored one (`checkpoint_mismatch`: rewritten at or before that seq).
        Checkpoints come from Neo4j and the outside copy (`checkpoint_copy_file`).
        """
        chain = self.repo.verify_chain(after_seq=after_seq)
        keys = trusted_keys(self.settings)
        checkpoints = self.repo.checkpoints(since_seq=after_seq)
        copy = self.settings.checkpoint_copy_file
        if copy is not None:
            checkpoints += [c for c in read_copy(copy, store=self.repo.store_id()) if c.seq >= after_seq]
        # The head is read after the checkpoints: a checkpoint exists only once the head
        # reached its seq, so one written meanwhile can not look like a truncation.
        head = self.repo.head()
        check = check_checkpoints(
            checkpoints, keys=keys, head_seq=head.seq if head else 0, after_seq=after_seq,
            hashes=self.repo.record_hashes(sorted({c.seq for c in checkpoints})),
        )
        result = _with_checkpoints(chain, check)
        level = self.log.info if result.ok else self.log.error
        level("audit_verified", checkpoints=check.verified, **result.as_dict())
        return result

    def export(self, workspace: str | None, path: str | Path, fmt: str = "jsonl") -> ExportResult:
        """Write an export: JSONL re-verifies (`audit.chain.read_jsonl` + `verify(after=None)`).

        CSV has the same records for spreadsheets (`CSV_COLUMNS`; lists joined with ';', extra
        as JSON, a leading ' on cells that would start a formula) and is not for re-verification.
        With a workspace, covers its first to last record; other workspaces' records in that
        range are written as redacted links (seq and hashes only). With None, the whole chain.
        """
        if fmt not in _WRITERS:
            raise ValueError(f"unsupported export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
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
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                write = _WRITERS[fmt](out)
                for rec in records:
                    write(rec)
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
        self.log.info("audit_exported", workspace=workspace, format=fmt, records=count, redacted=redacted,
                      first_seq=result.first_seq, last_seq=result.last_seq, last_hash=result.last_hash)
        return result

    def _redacted(self, workspace: str, span: tuple[int, int]) -> Iterator[ChainRecord]:
        for rec in self.repo.iter_records(since_seq=span[0] - 1, until_seq=span[1]):
            if rec.event.workspace == workspace:
                yield rec
            else:
                yield RedactedRecord(seq=rec.seq, prev_hash=rec.prev_hash, hash=rec.hash)
