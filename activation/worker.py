"""The journey worker: one engine loop (entry, waits, conditions, planning) and one lane per channel,
each in its own thread, so a slow provider only slows its own channel. State lives in Neo4j (runs
and the ledger), so waits and queued sends survive restarts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from activation.dispatch import Dispatcher, LaneReport
from activation.engine import JourneyEngine, TickReport

log = logging.getLogger("veil.activation.worker")


def utcnow() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass
class RoundReport:
    """One full round: engine work and each lane's outcomes."""

    engine: TickReport = field(default_factory=TickReport)
    recovered: int = 0
    lanes: dict[str, LaneReport] = field(default_factory=dict)

    def outcomes(self) -> dict[str, int]:
        """Outcome counts over all lanes."""
        total: dict[str, int] = {}
        for lane in self.lanes.values():
            for k, v in lane.outcomes.items():
                total[k] = total.get(k, 0) + v
        return total


class JourneyWorker:
    """Runs journeys of one workspace."""

    def __init__(self, *, engine: JourneyEngine, dispatcher: Dispatcher, workspace: str,
                 clock: Callable[[], datetime] = utcnow, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.workspace = workspace
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def engine_round(self, now: datetime, report: RoundReport) -> None:
        """Recover abandoned sends, enter people, advance every due run."""
        report.recovered += self.dispatcher.recover(workspace=self.workspace, now=now)
        self.engine.enrol(workspace=self.workspace, now=now, report=report.engine)
        while self.engine.advance(workspace=self.workspace, now=now, report=report.engine) >= self.engine.batch_size:
            pass

    def lane_round(self, channel: str, now: datetime, report: RoundReport) -> None:
        """Drain one channel's due sends."""
        total = report.lanes.setdefault(channel, LaneReport(channel))
        while True:
            lane = self.dispatcher.run_lane(workspace=self.workspace, channel=channel, now=now)
            total.claimed += lane.claimed
            for k, v in lane.outcomes.items():
                total.outcomes[k] = total.outcomes.get(k, 0) + v
            if lane.claimed < self.dispatcher.settings.batch_size:
                return

    def tick(self, now: datetime | None = None) -> RoundReport:
        """One full round at `now` (default the clock): engine, then all lanes in parallel."""
        now = now or self.clock()
        report = RoundReport()
        self.engine_round(now, report)
        errors: list[BaseException] = []

        def lane(channel: str) -> None:
            try:
                self.lane_round(channel, now, report)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                errors.append(exc)

        threads = [threading.Thread(target=lane, args=(c,), name=f"lane-{c}") for c in self.dispatcher.channels()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return report

    # Long-running mode: the engine and every lane loop on their own.
    def _loop(self, name: str, body: Callable[[datetime], None]) -> None:
        while not self._stop.is_set():
            try:
                body(self.clock())
            except Exception:
                log.exception("activation %s round failed", name)
            self._stop.wait(self.poll_seconds)

    def start(self) -> None:
        """Start the engine loop and one loop per channel lane."""
        self._stop.clear()
        loops: list[tuple[str, Callable[[datetime], None]]] = [
            ("engine", lambda now: self.engine_round(now, RoundReport()))]
        for channel in self.dispatcher.channels():
            loops.append((channel, lambda now, c=channel: self.lane_round(c, now, RoundReport())))  # type: ignore[misc]
        for name, body in loops:
            t = threading.Thread(target=self._loop, args=(name, body), name=f"activation-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loops (a provider call in flight finishes first)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
