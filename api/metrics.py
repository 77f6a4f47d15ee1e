"""Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from collect.service import IngestResult

EVENTS = Counter("veil_events_total", "Events received by the collection API", ["result"])
MERGES = Counter("veil_profile_merges_total", "Profile merges caused by identity resolution")
CONFLICTS = Counter("veil_identity_conflicts_total", "Links or merges refused by a per-profile limit")
THROTTLED = Counter("veil_ingest_throttled_total", "Requests answered 429 because of overload")
INGEST_SECONDS = Histogram(
    "veil_ingest_seconds", "Time to validate, resolve and store one request",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_REQUESTS = Counter("veil_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram("veil_http_request_seconds", "HTTP request latency", ["route"])


def record_ingest(result: IngestResult) -> None:
    """Count an ingest result."""
    EVENTS.labels("stored").inc(result.stored)
    EVENTS.labels("duplicate").inc(result.duplicates)
    EVENTS.labels("rejected").inc(len(result.rejected))
    MERGES.inc(result.merges)
    CONFLICTS.inc(result.conflicts)
