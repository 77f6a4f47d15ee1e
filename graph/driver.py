"""Driver lifecycle: one neo4j.Driver per process, created from Neo4jSettings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import neo4j

from graph.settings import Neo4jSettings


def create_driver(settings: Neo4jSettings) -> neo4j.Driver:
    """Open a driver for the configured server (does not connect yet)."""
    return neo4j.GraphDatabase.driver(
        settings.uri,
        auth=(settings.user, settings.auth_password()),
        max_connection_pool_size=settings.max_pool_size,
        user_agent="veil/0.1",
        notifications_min_severity="OFF",
    )


def from_iso(value: Any) -> datetime | None:
    """A time the query returned as ISO text (``toString(x.ts)``) as an aware datetime.

    Read paths return times as text: the driver's hydration of temporal values costs more
    CPU than the rest of a row, and ``datetime.fromisoformat`` is a C call.
    """
    if value is None:
        return None
    if isinstance(value, str):
        # A named zone prints as "...+08:00[Asia/Taipei]"; the offset before it fixes the instant.
        return datetime.fromisoformat(value.split("[", 1)[0])
    return to_native(value)  # type: ignore[no-any-return]


def to_native(value: Any) -> Any:
    """A driver temporal value as its Python equivalent (other values unchanged)."""
    return value.to_native() if hasattr(value, "to_native") else value


def ping(driver: neo4j.Driver, *, database: str) -> bool:
    """True when the server answers a trivial read."""
    # An auto-commit query: no managed retry, so a down server answers in one connect attempt
    # instead of after the driver's 30 s retry window (readiness must not hang in an outage).
    try:
        with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
            record = session.run("RETURN 1 AS ok").single()
    except Exception:  # noqa: BLE001 - any failure means not reachable
        return False
    return bool(record and record["ok"] == 1)


class Repository:
    """Base of the repositories: the driver, the database name and one read/write helper each."""

    def __init__(self, driver: neo4j.Driver, *, database: str) -> None:
        self.driver = driver
        self.database = database

    def _read(self, query: str, **params: Any) -> list[neo4j.Record]:
        """Run a read query (read routing, the configured database)."""
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.READ)
        return records

    def _write(self, query: str, **params: Any) -> list[neo4j.Record]:
        """Run a write query in its own transaction."""
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.WRITE)
        return records


# Errors that mean "the store is unreachable or busy, retry later" (503 + Retry-After for transports,
# which must not import the driver themselves).
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    neo4j.exceptions.TransientError, neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired)


def is_data_error(exc: BaseException) -> bool:
    """True when a write failed because of the data it carried (a value Neo4j refuses, a type the
    plan could not handle), not because the store is busy, unreachable or misconfigured."""
    if isinstance(exc, neo4j.exceptions.ClientError):
        return not isinstance(exc, (neo4j.exceptions.AuthError, neo4j.exceptions.Forbidden))
    return isinstance(exc, (TypeError, ValueError, OverflowError, KeyError))
