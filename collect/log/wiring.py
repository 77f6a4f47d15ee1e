"""The durable log's parts in one object: log, API intake, writer and committed feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collect.intake import LogIntake
from collect.log.feed import CommittedFeed
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from collect.service import IngestService
from collect.writer import LogWriter

if TYPE_CHECKING:
    from collect.log.kafka import KafkaLog, KafkaWriter


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


@dataclass
class KafkaDurableLog:
    """The Kafka backend's parts: producer-side log, API intake, one consumer-group writer."""

    settings: LogSettings
    log: KafkaLog
    intake: LogIntake
    writer: KafkaWriter
    feed: None = None

    def start(self) -> None:
        """Join the writers' consumer group."""
        self.writer.start()

    def stop(self) -> None:
        """Leave the group, flush the producer."""
        self.writer.stop()
        self.log.close()

    def barrier(self, timeout: float | None = None, *, feed: bool = True) -> bool:
        """Wait until the group's committed offsets reach everything produced so far."""
        return self.log.wait_drained(timeout=timeout)


def build_durable_log(settings: LogSettings, *, service: IngestService,
                      on_committed: Callable[[str, list[str]], None] | None) -> DurableLog | KafkaDurableLog | None:
    """The embedded log (`sqlite`), Kafka (`kafka`), or None for `direct` (ack after the graph commit)."""
    if settings.backend == "direct":
        return None
    if settings.backend == "kafka":
        from collect.log.kafka import KafkaLog, KafkaWriter  # the only importer of the Kafka client

        klog = KafkaLog(settings)
        return KafkaDurableLog(settings=settings, log=klog, intake=LogIntake(service=service, log=klog),
                               writer=KafkaWriter(log=klog, service=service, settings=settings,
                                                  on_committed=on_committed))
    log = SqliteLog(settings)
    writer = LogWriter(log=log, service=service, settings=settings, feed=on_committed is not None)
    feed = CommittedFeed(log, on_committed) if on_committed is not None else None
    return DurableLog(settings=settings, log=log, intake=LogIntake(service=service, log=log), writer=writer,
                      feed=feed)
