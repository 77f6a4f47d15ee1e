"""Coalescing of concurrent ingest requests into one graph transaction.

Under load, many small requests (SDK batches of 20-100 events) arrive at once. Writing each
in its own transaction costs a commit (fsync) and a handful of round trips per request, and
concurrent transactions about the same people deadlock and retry. One writer thread per
process instead drains whatever requests are waiting (up to `max_events`) and writes them
in a single transaction; each request still gets its own per-event result, and waits until
its events are committed before it is answered.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collect.events import NormalizedEvent
    from collect.service import IngestResult
    from graph.identity import BatchOutcome

WriteFn = Callable[..., "tuple[list[str], frozenset[str], BatchOutcome]"]


@dataclass
class _Job:
    accepted: list[tuple[int, NormalizedEvent]]
    result: IngestResult
    workspace: str
    source: str
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Coalescer:
    """One writer thread; callers block until their events are committed."""

    def __init__(self, write: WriteFn, *, max_events: int = 1000) -> None:
        self.write = write
        self.max_events = max_events
        self.queue: queue.Queue[_Job] = queue.Queue()
        self._held: list[_Job] = []
        self._thread = threading.Thread(target=self._run, name="veil-ingest-writer", daemon=True)
        self._thread.start()

    def store(self, accepted: list[tuple[int, NormalizedEvent]], result: IngestResult, *, workspace: str,
              source: str) -> None:
        """Queue the events and wait until they are written (re-raises the writer's error)."""
        job = _Job(accepted, result, workspace, source)
        self.queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error

    def _next_group(self) -> list[_Job]:
        first = self._held.pop(0) if self._held else self.queue.get()
        group, size = [first], len(first.accepted)
        while size < self.max_events:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                break
            if (job.workspace, job.source) == (first.workspace, first.source):
                group.append(job)
                size += len(job.accepted)
            else:
                self._held.append(job)
        return group

    def _run(self) -> None:
        from collect.service import fill_result

        while True:
            group = self._next_group()
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
            try:
                landing, created, outcome = self.write(events, workspace=first.workspace, source=first.source)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting request
                for job in group:
                    job.error = exc
                    job.done.set()
                continue
            pos = 0
            for job, mine in zip(group, slices, strict=True):
                fill_result(mine, job.result, landing[pos:pos + len(mine)], created, workspace=first.workspace)
                pos += len(mine)
            group[0].result.merges += outcome.merges
            group[0].result.conflicts += outcome.conflicts
            group[0].result.new_profiles += outcome.new_profiles
            for job in group:
                job.done.set()
