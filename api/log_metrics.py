"""Prometheus metrics and the /readyz block of the durable log (depth, age, drain rate, dead letters)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from collect.log.wiring import DurableLog, KafkaDurableLog


class _Rate:
    """Drained events per second between two looks at the log's counter (at least 1 s apart)."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None
        self.value = 0.0
        self._lock = threading.Lock()

    def update(self, drained_total: int) -> float:
        now = time.monotonic()
        with self._lock:
            if self._last is None:
                self._last = (now, drained_total)
            elif now - self._last[0] >= 1.0:
                self.value = max(0.0, (drained_total - self._last[1]) / (now - self._last[0]))
                self._last = (now, drained_total)
            return self.value


class _LogCollector(Collector):
    def __init__(self) -> None:
        self.durable: DurableLog | KafkaDurableLog | None = None
        self.rate = _Rate()

    def collect(self) -> Iterator[Any]:
        d = self.durable
        if d is None:
            return
        s = d.log.stats()
        for name, doc, value in (
            ("veil_log_pending_events", "Events acknowledged and waiting for the graph", s.pending_events),
            ("veil_log_pending_bytes", "Bytes of events waiting for the graph", s.pending_bytes),
            ("veil_log_oldest_age_seconds", "Age of the oldest event waiting for the graph", s.oldest_age_seconds),
            ("veil_log_dead_letters", "Events in the dead-letter store", s.dead_letters),
            ("veil_log_drain_rate", "Events drained into the graph per second (recent)", self.rate.update(
                s.drained_total)),
        ):
            yield GaugeMetricFamily(name, doc, value=value)
        yield CounterMetricFamily("veil_log_appended", "Events appended to the log", value=s.appended_total)
        yield CounterMetricFamily("veil_log_drained", "Events drained from the log into the graph",
                                  value=s.drained_total)


_collector = _LogCollector()
REGISTRY.register(_collector)


def attach(durable: DurableLog | KafkaDurableLog | None) -> None:
    """Report this log in /metrics (the process's current app)."""
    _collector.durable = durable


def ready_block(durable: DurableLog | KafkaDurableLog) -> dict[str, Any]:
    """The log's part of /readyz."""
    s = durable.log.stats()
    w = durable.writer.stats
    return {"backend": durable.log.name, "pending_events": s.pending_events, "pending_bytes": s.pending_bytes,
            "oldest_age_seconds": round(s.oldest_age_seconds, 3),
            "drain_rate_per_s": round(_collector.rate.update(s.drained_total), 1),
            "dead_letters": s.dead_letters, "high_water_events": durable.settings.high_water_events,
            "writer_store_available": w.store_available}
