"""Canonical serialisation and the hash chain over audit events.

One chain for the whole installation (not one per workspace): every record gets the next
`seq` (1, 2, 3, ... with no gaps) and

    hash = sha256_hex(prev_hash + canonical_json(event))      (UTF-8; prev_hash of seq 1 = 64 zeros)

canonical_json is the event as a JSON object with sorted keys, no whitespace, UTF-8 (not
\\u-escaped), times as UTC ISO-8601 with microseconds and a 'Z', enums as their values, and
keys whose value is null or empty ([] / {}) left out, so that adding an optional field later
does not change the hashes of older records. Only strings, integers, booleans, lists and
objects occur (no floats), so this matches RFC 8785 (JCS) for these events and can be
re-implemented outside Python.

A global chain keeps appends to one lock and one head. A workspace export covers the range
from the workspace's first to its last record; records of other workspaces inside that range
appear as `RedactedRecord`s (seq and hashes only), so the range still verifies end to end
without disclosing other tenants' events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from audit.events import AuditEvent

GENESIS_HASH = "0" * 64
_EVENT_FIELDS = tuple(AuditEvent.__dataclass_fields__)


@dataclass(frozen=True)
class StoredAudit:
    """An event as chained: its position, the previous record's hash and its own hash."""

    seq: int
    prev_hash: str
    hash: str
    event: AuditEvent


@dataclass(frozen=True)
class RedactedRecord:
    """A chain link whose event is withheld (another workspace's record inside an export)."""

    seq: int
    prev_hash: str
    hash: str


ChainRecord = StoredAudit | RedactedRecord


class Problem(str, Enum):
    """Why a chain does not verify."""

    HASH_MISMATCH = "hash_mismatch"  # content edited, or its hash forged
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous record's hash
    GAP = "gap"  # a seq is missing (record deleted)
    OUT_OF_ORDER = "out_of_order"  # a seq repeats or comes late (records reordered)
    HEAD_MISMATCH = "head_mismatch"  # the last record is not the head (tail deleted or rewritten)


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of a verification; `broken_seq` is the first seq found broken."""

    ok: bool
    checked: int
    redacted: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    broken_seq: int | None = None
    problem: Problem | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for logs, CLI and API)."""
        out = dict(self.__dict__)
        out["problem"] = self.problem.value if self.problem else None
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        at = value.astimezone(UTC) if value.tzinfo else value
        return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + ("Z" if value.tzinfo else "")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def event_to_dict(event: AuditEvent) -> dict[str, Any]:
    """The canonical dict of an event (null and empty values left out)."""
    out: dict[str, Any] = {}
    for name in _EVENT_FIELDS:
        value = _plain(getattr(event, name))
        if value is None or value == [] or value == {}:
            continue
        out[name] = value
    return out


def event_from_dict(data: dict[str, Any]) -> AuditEvent:
    """Rebuild an event from its canonical dict (not re-validated if it no longer validates)."""
    values = {k: v for k, v in data.items() if k in _EVENT_FIELDS}
    at = values.get("at")
    if isinstance(at, str):
        try:
            values["at"] = datetime.fromisoformat(at)
        except ValueError:
            pass
    for name in ("fields_returned", "fields_masked"):
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    return AuditEvent.restore(**values)


def canonical_json(event: AuditEvent) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the exact bytes that are hashed."""
    return json.dumps(event_to_dict(event), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """sha256(prev_hash + canonical_json(event)) as lower-case hex."""
    return hashlib.sha256((prev_hash + canonical_json(event)).encode("utf-8")).hexdigest()


def link(events: Iterable[AuditEvent], *, after: tuple[int, str]) -> list[StoredAudit]:
    """Chain events after the record (seq, hash) `after` (use (0, GENESIS_HASH) for a new chain)."""
    seq, prev = after
    out = []
    for event in events:
        seq += 1
        digest = chain_hash(prev, event)
        out.append(StoredAudit(seq=seq, prev_hash=prev, hash=digest, event=event))
        prev = digest
    return out


def verify(
    records: Iterable[ChainRecord],
    *,
    after: tuple[int, str] | None = (0, GENESIS_HASH),
    head: tuple[int, str] | None = None,
) -> VerificationResult:
    """Check records in the order given; stop at the first broken seq.

    `after` is the (seq, hash) just before the first record: the default checks a whole chain
    from genesis; None checks a contiguous range anchored on its first record's prev_hash.
    `head` is the expected (seq, hash) of the last record, which catches a deleted tail.
    """
    checked = redacted = 0
    first: ChainRecord | None = None
    last: ChainRecord | None = None
    expected_seq = after[0] + 1 if after else None
    expected_hash = after[1] if after else None

    def result(broken: int | None = None, problem: Problem | None = None, detail: str = "") -> VerificationResult:
        return VerificationResult(
            ok=problem is None, checked=checked, redacted=redacted,
            first_seq=first.seq if first else None, last_seq=last.seq if last else None,
            last_hash=last.hash if last else None, broken_seq=broken, problem=problem, detail=detail,
        )

    it = iter(records)
    current = next(it, None)
    while current is not None:
        upcoming = next(it, None)
        first = first or current
        if expected_seq is not None and current.seq != expected_seq:
            if current.seq < expected_seq:
                return result(current.seq, Problem.OUT_OF_ORDER,
                              f"seq {current.seq} appears after seq {expected_seq - 1}")
            if upcoming is not None and upcoming.seq == expected_seq:
                return result(expected_seq, Problem.OUT_OF_ORDER,
                              f"seq {expected_seq} appears after seq {current.seq}")
            return result(expected_seq, Problem.GAP,
                          f"seq {expected_seq}..{current.seq - 1} missing (deleted records)")
        if isinstance(current, StoredAudit):
            if chain_hash(current.prev_hash, current.event) != current.hash:
                return result(current.seq, Problem.HASH_MISMATCH,
                              f"seq {current.seq}: content does not match its hash (edited or forged)")
        else:
            redacted += 1
        if expected_hash is not None and current.prev_hash != expected_hash:
            return result(current.seq, Problem.BROKEN_LINK,
                          f"seq {current.seq}: prev_hash is not the hash of seq {current.seq - 1} "
                          "(that record was rewritten, or records were removed or reordered)")
        checked += 1
        last = current
        expected_seq, expected_hash = current.seq + 1, current.hash
        current = upcoming

    if head is not None:
        head_seq, head_hash = head
        end_seq = last.seq if last else (after[0] if after else 0)
        end_hash = last.hash if last else (after[1] if after else None)
        if end_seq < head_seq:
            return result(end_seq + 1, Problem.HEAD_MISMATCH,
                          f"head is at seq {head_seq} but records end at seq {end_seq} (tail deleted)")
        if end_seq > head_seq:
            return result(head_seq + 1, Problem.HEAD_MISMATCH,
                          f"records continue past the head (seq {head_seq})")
        if end_hash != head_hash:
            return result(head_seq, Problem.HEAD_MISMATCH,
                          f"seq {head_seq}: hash differs from the head's (tail rewritten)")
    return result()


def record_to_json(record: ChainRecord) -> str:
    """One export line: seq, prev_hash, hash and the event's canonical dict (null if redacted)."""
    event = event_to_dict(record.event) if isinstance(record, StoredAudit) else None
    line = {"seq": record.seq, "prev_hash": record.prev_hash, "hash": record.hash, "event": event}
    return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def read_jsonl(lines: Iterable[str]) -> Iterator[ChainRecord]:
    """Parse export lines back into chain records (blank lines are skipped)."""
    for raw in lines:
        if not raw.strip():
            continue
        data = json.loads(raw)
        links = {"seq": int(data["seq"]), "prev_hash": data["prev_hash"], "hash": data["hash"]}
        if data.get("event") is None:
            yield RedactedRecord(**links)
        else:
            yield StoredAudit(event=event_from_dict(data["event"]), **links)
