"""Consumers of what the writers committed to the graph (realtime segments, later journeys).

The writers record the profiles each drained batch touched in the log's `committed` table, in
the same SQLite transaction that deletes the drained entries. A feed reads those rows in order,
merges them per workspace, calls its handler and forgets the rows only after the handler
returned: nothing is dropped when the consumer is slow or the process dies (a row is handled
at least once; segment evaluation is idempotent).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from collect.log.sqlite import SqliteLog

log = logging.getLogger("veil.collect.feed")

Handler = Callable[[str, list[str]], None]


class CommittedFeed:
    """One background consumer of the committed-profiles feed, active in the draining process."""

    def __init__(self, log_: SqliteLog, handler: Handler, *, poll_seconds: float = 0.05,
                 batch_rows: int = 500) -> None:
        self.log = log_
        self.handler = handler
        self.poll_seconds = poll_seconds
        self.batch_rows = batch_rows
        self.handled = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Handle the oldest rows; the number of profiles handled (0 when idle or failing)."""
        rows = self.log.committed(self.batch_rows)
        if not rows:
            return 0
        per_ws: dict[str, set[str]] = defaultdict(set)
        ids_of: dict[str, list[int]] = defaultdict(list)
        for row_id, ws, profiles in rows:
            per_ws[ws].update(profiles)
            ids_of[ws].append(row_id)
        done: list[int] = []
        n = 0
        for ws, profiles in per_ws.items():
            try:
                self.handler(ws, sorted(profiles))
            except Exception:
                self.failures += 1
                log.exception("committed-feed handler failed for %s; will retry", ws)
                continue
            done.extend(ids_of[ws])
            n += len(profiles)
        self.log.ack_committed(done)
        self.handled += n
        return n

    def start(self, *, active: Callable[[], bool]) -> None:
        """Consume on a daemon thread while `active()` (this process holds the log's drainer lock)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(active,), name="veil-log-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, active: Callable[[], bool]) -> None:
        while not self._stop.is_set():
            n = 0
            if active():
                try:
                    n = self.run_once()
                except Exception:
                    log.exception("committed feed pass failed")
            if n == 0:
                self._stop.wait(self.poll_seconds if self.failures == 0 else 1.0)
