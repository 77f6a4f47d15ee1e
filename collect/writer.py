"""Writers: drain the durable log into Neo4j in large batches.

One drainer per log file (a file lock; other processes only append). Each cycle reads the
oldest entries (up to `drain_batch_events` events), groups them by workspace and source, and
writes each group in one resolution transaction (`IngestService.write`: locks, plan, UNWIND).
Only after the graph commit are the entries deleted from the log, in one SQLite transaction
that also records dead letters and the profiles touched (the feed realtime segments consume).
A crash between the two re-drains the entries; Interactions are keyed by messageId and trait
updates keep the newest event time, so the second write changes nothing.

- Neo4j down or busy: nothing is deleted; the writer backs off and retries, the log grows and
  the API keeps acknowledging until the high-water mark.
- A group that fails otherwise is split, entry by entry and then event by event, until the
  events that fail alone are found; those go to the dead-letter store with the reason.
- Policy refusals found here (the ingest policy's `reject`) are dead letters without a body:
  the refused value is not kept. Events of erased people are dropped (counted, not kept).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from collect.events import NormalizedEvent
from collect.log.base import LogEntry, Poison, StoreUnavailable
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from collect.service import SUPPRESSED, IngestResult, IngestService, fill_result
from consent.signals import ConsentSignal
from graph.errors import is_unavailable

log = logging.getLogger("veil.collect.writer")
_PRUNE_EVERY_S = 300.0


def _mid(raw: Any) -> str | None:
    value = raw.get("messageId") if isinstance(raw, dict) else None
    return str(value) if value is not None else None


@dataclasses.dataclass
class WriterStats:
    """What this process's writer has done (the log's own counters cover every process)."""

    drained: int = 0
    dead: int = 0
    suppressed: int = 0
    cycles: int = 0
    store_available: bool = True
    last_error: str | None = None


class GraphSink:
    """Writes log entries to the graph: one transaction per workspace and source, poison isolated.

    Subclasses drain their log on a daemon thread (`_run`, which returns when `_stop` is set)."""

    thread_name = "veil-writer"

    def __init__(self, *, service: IngestService) -> None:
        self.service = service
        self.stats = WriterStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the drain loop on a daemon thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current cycle and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError

    def write_entries(self, entries: list[LogEntry], *, done: list[LogEntry], touched: dict[str, set[str]],
                      dead: list[Poison]) -> None:
        """Write entries grouped by workspace and source (one transaction per group); fills the outputs
        as groups commit, so a caller can settle what was written when StoreUnavailable interrupts."""
        groups: dict[tuple[str, str], list[LogEntry]] = defaultdict(list)
        for e in entries:
            groups[(e.workspace, e.source)].append(e)
        for group in groups.values():
            t, d = self._write_isolating(group)
            done.extend(group)
            for ws, ids in t.items():
                touched.setdefault(ws, set()).update(ids)
            dead.extend(d)

    def _write_isolating(self, entries: list[LogEntry]) -> tuple[dict[str, set[str]], list[Poison]]:
        """Write the group; when it fails for a reason other than availability, find the poison."""
        try:
            return self._write(entries)
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(str(exc)) from exc
            if len(entries) == 1 and len(entries[0].events) == 1:
                e = entries[0]
                log.warning("poison event %s in entry %d: %s", _mid(e.events[0]), e.seq, exc)
                return {}, [Poison(e, e.events[0], _mid(e.events[0]), "write_failed",
                                   f"{type(exc).__name__}: {exc}")]
            parts = ([[e] for e in entries] if len(entries) > 1
                     else [[dataclasses.replace(entries[0], events=[ev])] for ev in entries[0].events])
            touched: dict[str, set[str]] = defaultdict(set)
            dead: list[Poison] = []
            for part in parts:
                t, d = self._write_isolating(part)
                for ws, ids in t.items():
                    touched[ws] |= ids
                dead.extend(d)
            return touched, dead

    def _write(self, entries: list[LogEntry]) -> tuple[dict[str, set[str]], list[Poison]]:
        """Validate again (same inputs, same result), scan, drop suppressed, write in one transaction."""
        svc = self.service
        workspace, source = entries[0].workspace, entries[0].source
        raws: list[tuple[LogEntry, Any]] = []
        accepted: list[tuple[int, NormalizedEvent]] = []
        signals: dict[int, tuple[ConsentSignal, ...]] = {}
        dead: list[Poison] = []
        seen: set[str] = set()
        for e in entries:
            acc, res, sig = svc.validate(
                e.events, received_at=datetime.fromisoformat(e.received_at),
                sent_at=datetime.fromisoformat(e.sent_at) if e.sent_at else None,
                forced_type=e.forced_type, sec_gpc=e.sec_gpc)
            base = len(raws)
            for r in res.rejected:  # only if validation changed since the append (rules, code)
                dead.append(Poison(e, e.events[r.index], _mid(e.events[r.index]), r.code, r.message))
            for i, ev in acc:
                if ev.message_id in seen:
                    continue
                seen.add(ev.message_id)
                accepted.append((base + i, ev))
                if i in sig:
                    signals[base + i] = sig[i]
            raws.extend((e, raw) for raw in e.events)
        result = IngestResult(received=len(raws))
        if accepted and svc.suppressed is not None:
            accepted = svc.drop_suppressed(accepted, result, workspace=workspace)
        if accepted and svc.scanner is not None:
            accepted = svc.scan(accepted, result, workspace=workspace)
        for r in result.rejected:
            e, raw = raws[r.index]
            if r.code == SUPPRESSED:
                self.stats.suppressed += 1
                continue
            where = f" ({r.field})" if r.field else ""
            dead.append(Poison(e, None, _mid(raw), r.code, r.message + where))
        if not accepted:
            return {}, dead
        landing, created, _outcome = svc.write([ev for _, ev in accepted], workspace=workspace, source=source)
        fill_result(accepted, result, landing, created, workspace=workspace)
        if signals and svc.consents is not None:
            svc.record_consents(accepted, signals, result, workspace=workspace)
        return {workspace: set(result.profiles.values())}, dead


class LogWriter(GraphSink):
    """Drains the log into the graph on a background thread; `drain_once` for the CLI and tests."""

    thread_name = "veil-log-writer"

    def __init__(self, *, log: SqliteLog, service: IngestService, settings: LogSettings, feed: bool = False) -> None:
        super().__init__(service=service)
        self.log = log
        self.settings = settings
        self.feed = feed
        self._last_prune = 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current cycle, stop and hand the drainer lock back."""
        super().stop(timeout)
        self.log.release_writer()

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            if not self.log.acquire_writer():
                self._stop.wait(1.0)  # another process drains; take over if it goes away
                continue
            try:
                n = self.drain_once()
            except StoreUnavailable as exc:
                self._note_unavailable(exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.max_backoff_seconds)
                continue
            except Exception as exc:
                log.exception("log writer cycle failed")
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.max_backoff_seconds)
                continue
            backoff = 0.1
            if time.monotonic() - self._last_prune > _PRUNE_EVERY_S:
                self._last_prune = time.monotonic()
                self.log.prune_seen()
            if n == 0:
                self._stop.wait(self.settings.idle_poll_seconds)

    def _note_unavailable(self, exc: StoreUnavailable) -> None:
        if self.stats.store_available:
            log.warning("graph store unavailable; events stay in the log: %s", exc.__cause__ or exc)
        self.stats.store_available = False
        self.stats.last_error = f"store unavailable: {type(exc.__cause__ or exc).__name__}"

    # -- one cycle -------------------------------------------------------------------------------
    def drain_once(self) -> int:
        """Write the oldest entries to the graph and settle them; the number of events settled."""
        entries = self.log.read(self.settings.drain_batch_events)
        if not entries:
            return 0
        done: list[LogEntry] = []
        touched: dict[str, set[str]] = defaultdict(set)
        dead: list[Poison] = []
        try:
            self.write_entries(entries, done=done, touched=touched, dead=dead)
        finally:
            # Whatever reached the graph is settled even when a later group found the store down.
            self.log.settle(done, touched=touched, dead=dead, feed=self.feed)
        n = sum(len(e.events) for e in done)
        self.stats.drained += n
        self.stats.dead += len(dead)
        self.stats.cycles += 1
        self.stats.store_available = True
        if dead:
            log.warning("moved %d events to the dead-letter store", len(dead))
        return n

    def drain(self, *, timeout: float | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Drain until the log is empty (the CLI's `veil log drain`); raises StoreUnavailable."""
        if not self.log.acquire_writer():
            raise RuntimeError("another process is draining this log (the API?)")
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        total = 0
        while time.monotonic() < deadline:
            n = self.drain_once()
            if n == 0:
                break
            total += n
            if progress is not None:
                progress(n)
        return total
