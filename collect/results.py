"""The outcome of an ingest call, per event (shared by the ingest service and the coalescer)."""

from __future__ import annotations

from dataclasses import dataclass, field

from collect.events import NormalizedEvent
from collect.isolate import UNSTORABLE, unstorable_message

__all__ = ["IngestResult", "Rejection", "fill_result"]


@dataclass(frozen=True)
class Rejection:
    """Why one event of a batch was refused."""

    index: int
    code: str
    message: str
    field: str | None


@dataclass
class IngestResult:
    """Outcome of one ingest call."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    merges: int = 0
    conflicts: int = 0
    new_profiles: int = 0
    profiles: dict[int, str] = field(default_factory=dict)  # event index -> profile id
    consents: int = 0



def fill_result(accepted: list[tuple[int, NormalizedEvent]], result: IngestResult, landing: list[str | None],
                created: set[str] | frozenset[str], *, workspace: str, failed: dict[int, str] | None = None) -> None:
    """Per-event outcome: the landing profile, stored or duplicate; `failed` (position -> reason)
    are events the store refused (collect.isolate), rejected by their index."""
    for pos, ((i, ev), pid) in enumerate(zip(accepted, landing, strict=True)):
        if pid is None:
            reason = (failed or {}).get(pos, "write failed")
            result.rejected.append(Rejection(i, UNSTORABLE, unstorable_message(reason), None))
            continue
        result.profiles[i] = pid
        if f"{workspace}|{ev.message_id}" in created:
            result.stored += 1
        else:
            result.duplicates += 1
