"""One bad event must not fail the others written in the same transaction.

Validation (collect.events) should refuse every malformed event before the write. If one still
reaches the graph and the transaction fails because of its data, the transaction rolls back
whole (nothing half-written) and the events are written again in halves, down to the single
events that fail; those are reported as rejected by index and the rest, including other
clients' requests coalesced into the same transaction, are stored. Errors of the store itself
(busy, unreachable) are re-raised untouched: the caller answers 503 and the client retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graph.driver import is_data_error

if TYPE_CHECKING:
    from collect.events import NormalizedEvent
    from graph.identity import BatchOutcome

log = logging.getLogger("veil.collect")
UNSTORABLE = "unstorable_event"

WriteFn = Callable[..., "tuple[list[str], frozenset[str], BatchOutcome]"]


@dataclass
class IsolatedWrite:
    """Landing profile per event (None when it failed), created keys, counts, failures by position."""

    landing: list[str | None]
    created: set[str] = field(default_factory=set)
    merges: int = 0
    conflicts: int = 0
    new_profiles: int = 0
    failed: dict[int, str] = field(default_factory=dict)


def write_isolating(write: WriteFn, events: list[NormalizedEvent], *, workspace: str,
                    source: str) -> IsolatedWrite:
    """Write events in one transaction; on a data error, bisect so only the culprits fail."""
    out = IsolatedWrite(landing=[None] * len(events))

    def attempt(lo: int, hi: int) -> None:
        try:
            landing, created, outcome = write(events[lo:hi], workspace=workspace, source=source)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if hi - lo == 1:
                log.warning("unstorable event %s: %s: %s", events[lo].message_id, type(exc).__name__,
                            str(exc)[:300])
                out.failed[lo] = type(exc).__name__
                return
            mid = (lo + hi) // 2
            attempt(lo, mid)
            attempt(mid, hi)
            return
        out.landing[lo:hi] = landing
        out.created |= created
        out.merges += outcome.merges
        out.conflicts += outcome.conflicts
        out.new_profiles += outcome.new_profiles

    if events:
        attempt(0, len(events))
    return out


def unstorable_message(reason: str) -> str:
    """The rejection message of an event the graph refused."""
    return f"the event passed validation but the store refused its data ({reason}); it was not stored"
