"""Records and errors of the durable event log (backend-neutral)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import VeilError


class LogFull(VeilError):
    """The log is past its high-water mark: nothing was appended; retry after the delay."""

    code = "log_full"
    status = 503


class LogUnavailable(VeilError):
    """The log could not be written: nothing was appended; retry after the delay."""

    code = "log_unavailable"
    status = 503


class StoreUnavailable(Exception):
    """The graph store is down or busy: the writer keeps the entries and retries later."""


@dataclass(frozen=True)
class Appended:
    """Outcome of one append: how many events were new, how many were retries already seen."""

    seq: int | None
    stored: int
    duplicates: int
    duplicate_indexes: tuple[int, ...] = ()


@dataclass(frozen=True)
class LogEntry:
    """One appended request: accepted raw events plus what is needed to normalise them again."""

    seq: int
    workspace: str
    source: str
    received_at: str
    sent_at: str | None
    forced_type: str | None
    sec_gpc: str | None
    events: list[dict[str, Any]]
    nbytes: int
    appended_at: float


@dataclass(frozen=True)
class DeadLetter:
    """An event the writers could not store, with the reason (no body when a policy refused it)."""

    id: int
    seq: int
    workspace: str
    source: str
    message_id: str | None
    code: str
    reason: str
    at: float
    replayable: bool


@dataclass(frozen=True)
class Poison:
    """A dead letter to be recorded: the event (or None to keep no body) and why."""

    entry: LogEntry
    event: dict[str, Any] | None
    message_id: str | None
    code: str
    reason: str


@dataclass(frozen=True)
class LogStats:
    """Depth and progress of the log."""

    pending_events: int
    pending_bytes: int
    oldest_age_seconds: float
    appended_total: int
    drained_total: int
    dead_letters: int
    head_seq: int
