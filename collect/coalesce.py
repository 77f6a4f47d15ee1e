"""Coalescing of concurrent ingest requests into one graph transaction.

Under load, many small requests (SDK batches of 20-100 events) arrive at once. Writing each
in its own transaction costs a commit (fsync) and a handful of round trips per request, and
concurrent transactions about the same people deadlock and retry. With coalescing, the
requests waiting at one moment (same workspace and source, up to `max_events`) are written in
a single transaction by one writer thread (core/group_commit.py); each request still gets
its own per-event result and is answered only after its events are committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collect.isolate import write_isolating
from collect.results import IngestResult, fill_result
from core.group_commit import GroupCommit

if TYPE_CHECKING:
    from collect.events import NormalizedEvent
    from graph.identity import BatchOutcome

WriteFn = Callable[..., "tuple[list[str], frozenset[str], BatchOutcome]"]


@dataclass
class _Job:
    accepted: list[tuple[int, NormalizedEvent]]
    result: IngestResult
    workspace: str
    source: str


class Coalescer:
    """Callers block until their events are committed."""

    def __init__(self, write: WriteFn, *, max_events: int = 1000) -> None:
        self.write = write
        self._group: GroupCommit[_Job, None] = GroupCommit(
            self._flush, name="veil-ingest-writer", max_size=max_events,
            key=lambda job: (job.workspace, job.source), size=lambda job: len(job.accepted))

    def store(self, accepted: list[tuple[int, NormalizedEvent]], result: IngestResult, *, workspace: str,
              source: str) -> None:
        """Queue the events and wait until they are written (re-raises the writer's error)."""
        self._group.submit(_Job(accepted, result, workspace, source))

    def _flush(self, group: list[_Job]) -> list[None]:

        first = group[0]
        events: list[NormalizedEvent] = []
        seen: set[str] = set()
        slices = []
        for job in group:
            mine = []
            for i, ev in job.accepted:
                if ev.message_id in seen:  # the same event retried in two waiting requests
                    job.result.duplicates += 1
                    continue
                seen.add(ev.message_id)
                mine.append((i, ev))
                events.append(ev)
            slices.append(mine)
        # A data error of one event fails neither its batch nor the other requests of the group.
        w = write_isolating(self.write, events, workspace=first.workspace, source=first.source)
        pos = 0
        for job, mine in zip(group, slices, strict=True):
            failed = {p - pos: reason for p, reason in w.failed.items() if pos <= p < pos + len(mine)}
            fill_result(mine, job.result, w.landing[pos:pos + len(mine)], w.created, workspace=first.workspace,
                        failed=failed)
            pos += len(mine)
        first.result.merges += w.merges
        first.result.conflicts += w.conflicts
        first.result.new_profiles += w.new_profiles
        return [None] * len(group)
