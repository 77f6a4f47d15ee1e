"""Shared fixtures. Integration tests run against the real Neo4j started by `make test`."""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.container import Container, build_container
from api.settings import AppSettings
from collect.log.settings import LogSettings
from collect.settings import CollectSettings
from graph.driver import ping
from graph.migrations import apply_migrations
from graph.settings import Neo4jSettings


@pytest.fixture(scope="session")
def neo4j_settings() -> Neo4jSettings:
    """Settings of the test server (VEIL_NEO4J_URI, default the `make test` instance)."""
    import os

    os.environ.setdefault("VEIL_NEO4J_URI", "bolt://127.0.0.1:7688")
    return Neo4jSettings()


@pytest.fixture(scope="session")
def container(neo4j_settings: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """Wiring against the real Neo4j, schema migrated. Fails (never skips) when Neo4j is down.

    The collection API acknowledges from the durable log (the default); the log lives in a
    temporary directory so parallel runs in other checkouts do not share it.
    """
    log = LogSettings(path=tmp_path_factory.mktemp("log") / "events.db")
    # The shared test clients (TestClient, the live server, the browser tests) are many callers behind
    # one address: the per-IP limit on unauthenticated GraphQL is raised for them. The limiter has
    # its own tests (tests/api/test_graphql_hostile.py) with the shipped values and stricter ones.
    app = AppSettings(env="test", graphql_anonymous_rate_per_second=1000.0, graphql_anonymous_rate_burst=10_000)
    c = build_container(app=app, neo=neo4j_settings, collect=CollectSettings(), log=log)
    if not ping(c.driver, database=neo4j_settings.database):
        c.close()
        pytest.fail(f"Neo4j is not reachable at {neo4j_settings.uri}; run the tests with `make test`")
    apply_migrations(c.driver, database=neo4j_settings.database)
    # The CLI acts as an operator principal: the OS user running the tests is an admin operator.
    from api.cli.common import operator_name

    c.auth.grant_operator(name=operator_name(), role="admin", workspace="*", actor="system:tests")
    yield c
    c.close()


@pytest.fixture()
def workspace() -> str:
    """A fresh workspace per test: isolation without wiping the database."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def write_key(container: Container, workspace: str) -> str:
    """A write key of a new source in the test's workspace."""
    return container.sources.create(workspace=workspace, name="test-web").write_key


def basic(key: str) -> dict[str, str]:
    """Authorization header as the Segment SDKs send it."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def drained(container: Container, timeout: float = 60.0) -> None:
    """Drain barrier: wait until every acknowledged event is in the graph (and realtime-evaluated)."""
    if container.durable is not None:
        assert container.durable.barrier(timeout), "the durable log did not drain in time"


class DrainingClient(TestClient):
    """A TestClient that, after each collection request, waits for the log to drain into the graph,
    so tests can read the graph right after the ack."""

    container: Container

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if method.upper() == "POST" and str(url).startswith("/v1/"):
            drained(self.container)
        return response


@pytest.fixture(scope="session")
def client(container: Container) -> Iterator[TestClient]:
    """In-process HTTP client for the API (waits for the drain after collection requests)."""
    from api.app import create_app

    with DrainingClient(create_app(container)) as c:
        c.container = container
        yield c


@pytest.fixture(scope="session")
def live_server(container: Container) -> Iterator[str]:
    """The API served by a real uvicorn on a free loopback port (for real HTTP clients)."""
    import uvicorn

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def cypher(container: Container, query: str, **params):
    """Run a read query on the test database (for assertions from outside the API)."""
    records, _, _ = container.driver.execute_query(query, params, database_=container.neo4j.database)
    return records
