"""A simple in-process periodic scheduler, started with the API when an interval is set.

Each job runs on one daemon thread per process. A Neo4j lease of 0.9 x the interval makes sure
one API worker runs a job per interval (runs longer than that may overlap). A failing run is
logged and retried at the next interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.jobs import LeaseRepository

log = logging.getLogger("veil.scheduler")


@dataclass(frozen=True)
class Job:
    """A named function run every `interval` seconds."""

    name: str
    interval: float
    run: Callable[[], object]


class Scheduler:
    """Runs jobs periodically until stopped."""

    def __init__(self, jobs: list[Job], *, leases: LeaseRepository | None = None) -> None:
        self.jobs = [j for j in jobs if j.interval > 0]
        self.leases = leases
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.runs: dict[str, int] = {j.name: 0 for j in self.jobs}

    def start(self) -> None:
        """Start one thread per job (the first run happens after one interval)."""
        for job in self.jobs:
            t = threading.Thread(target=self._loop, args=(job,), name=f"veil-job-{job.name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the jobs to stop and wait for a run in progress."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def run_once(self, job: Job) -> bool:
        """Run a job now if this process gets its lease; True when it ran."""
        now = datetime.now(UTC)
        ttl = timedelta(seconds=job.interval * 0.9)
        if self.leases is not None and not self.leases.acquire(job=job.name, holder=self.holder, now=now, ttl=ttl):
            return False
        started = time.perf_counter()
        try:
            job.run()
            self.runs[job.name] = self.runs.get(job.name, 0) + 1
            log.info("job %s done in %.1f s", job.name, time.perf_counter() - started)
        except Exception:
            log.exception("job %s failed", job.name)
        return True

    def _loop(self, job: Job) -> None:
        while not self._stop.wait(job.interval):
            self.run_once(job)


def model_jobs(*, analytics: Any, segments: Any, refresh_interval: float, sweep_interval: float,
               workspaces: Callable[[], list[str]]) -> list[Job]:
    """The periodic jobs: refresh models then re-evaluate every saved segment; sweep realtime segments."""

    def refresh() -> None:
        for ws in workspaces():
            analytics.refresh(workspace=ws)
            segments.evaluate_all(workspace=ws)

    def sweep() -> None:
        for ws in workspaces():
            segments.evaluate_all(workspace=ws, realtime_only=True)

    return [Job("analytics-refresh", refresh_interval, refresh), Job("segments-sweep", sweep_interval, sweep)]
