"""The durable log's parts in one object: log, API intake, writer and committed feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from collect.intake import LogIntake
from collect.log.feed import CommittedFeed
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from collect.service import IngestService
from collect.writer import LogWriter


@dataclass
class DurableLog:
    """Built once per process; `start` runs the writer (and feed) where the API serves."""

    settings: LogSettings
    log: SqliteLog
    intake: LogIntake
    writer: LogWriter
    feed: CommittedFeed | None

    def start(self) -> None:
        """Start draining (only the process holding the file lock actually drains)."""
        self.writer.start()
        if self.feed is not None:
            self.feed.start(active=lambda: self.log.acquire_writer())

    def stop(self) -> None:
        """Stop the feed and the writer, close the log."""
        if self.feed is not None:
            self.feed.stop()
        self.writer.stop()
        self.log.close()

    def barrier(self, timeout: float | None = None, *, feed: bool = True) -> bool:
        """Wait until everything appended so far is in the graph (and, with feed, consumed)."""
        return self.log.wait_drained(timeout=timeout, feed=feed and self.feed is not None)


def build_durable_log(settings: LogSettings, *, service: IngestService,
                      on_committed: Callable[[str, list[str]], None] | None) -> DurableLog | None:
    """The embedded log for `backend=sqlite`; None for `direct` (ack after the graph commit)."""
    if settings.backend == "direct":
        return None
    log = SqliteLog(settings)
    writer = LogWriter(log=log, service=service, settings=settings, feed=on_committed is not None)
    feed = CommittedFeed(log, on_committed) if on_committed is not None else None
    return DurableLog(settings=settings, log=log, intake=LogIntake(service=service, log=log), writer=writer,
                      feed=feed)
