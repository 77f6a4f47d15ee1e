"""Incremental segment evaluation as events arrive, off the request's critical path.

The ingest service calls `notify(workspace, profile_ids)` after a batch commits; a background
thread drains what has queued up, merges it per workspace and re-evaluates the workspace's
realtime segments for those profiles only. Time alone can also change membership ("no order
within 30 minutes"): the periodic sweep (`segments-sweep` job) covers that.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from segments.service import SegmentService

log = logging.getLogger("veil.segments.realtime")


class RealtimeEvaluator:
    """Queue of touched profiles per workspace and one worker thread."""

    def __init__(self, segments: SegmentService, *, max_queue: int = 10_000) -> None:
        self.segments = segments
        self._queue: queue.Queue[tuple[str, tuple[str, ...]]] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self.dropped = 0

    def notify(self, workspace: str, profile_ids: Iterable[str]) -> None:
        """Queue profiles touched by a committed batch (never blocks; drops when the queue is full)."""
        ids = tuple(profile_ids)
        if not ids:
            return
        self._ensure_thread()
        try:
            self._idle.clear()
            self._queue.put_nowait((workspace, ids))
        except queue.Full:
            self.dropped += 1  # the periodic sweep still catches these people
            log.warning("realtime segment queue full; %d profiles left to the sweep", len(ids))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far has been evaluated (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.wait(0.05) and self._queue.empty():
                return True
        return False

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="veil-segments-realtime", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            pending: dict[str, set[str]] = defaultdict(set)
            pending[first[0]].update(first[1])
            while True:  # everything that queued up meanwhile goes in the same pass
                try:
                    ws, ids = self._queue.get_nowait()
                except queue.Empty:
                    break
                pending[ws].update(ids)
            for ws, ids in pending.items():
                try:
                    # One indexed read of the workspace's segments; only realtime ones are evaluated.
                    self.segments.evaluate_all(workspace=ws, realtime_only=True, profile_ids=ids)
                except Exception:  # logged; the periodic sweep re-evaluates
                    log.exception("realtime segment evaluation failed for %s", ws)
            if self._queue.empty():
                self._idle.set()
