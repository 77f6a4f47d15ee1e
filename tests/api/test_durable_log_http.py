"""The collection API acknowledges from the durable log: over HTTP, with the real Neo4j, a real
`veil serve` killed with SIGKILL mid-load, the high-water mark and a graph outage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import neo4j
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from api.settings import AppSettings
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from collect.settings import CollectSettings
from graph.settings import Neo4jSettings
from tests.conftest import basic, cypher, drained
from tests.segments.test_realtime import ABANDONED, open_members

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("VEIL_TEST_CRASH_PORT", "8012"))


def test_readyz_and_metrics_show_the_log(client):
    body = client.get("/readyz").json()
    assert {"pending_events", "oldest_age_seconds", "drain_rate_per_s", "dead_letters"} <= set(body["log"])
    m = client.get("/metrics").text
    for name in ("veil_log_pending_events", "veil_log_oldest_age_seconds", "veil_log_drain_rate",
                 "veil_log_dead_letters", "veil_log_drained_total"):
        assert name in m


def test_realtime_segments_consume_what_was_committed(container, client, workspace, write_key):
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
    added = {"event": "Product Added", "timestamp": t, "properties": {"product_id": "milk-1"}}
    assert client.post("/v1/track", headers=basic(write_key), json={"userId": "rt-0", **added}).status_code == 200
    seg = container.segments.save(workspace=workspace, name="carts", definition=ABANDONED, realtime=True)
    r = client.post("/v1/track", headers=basic(write_key), json={"userId": "rt-1", **added})
    assert r.status_code == 200
    # DrainingClient waited for the drain and the committed feed: membership is already there.
    p = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="rt-1")
    assert p.id in open_members(container, seg.id)


def test_graph_outage_acks_continue_until_the_high_water_mark(container, workspace, write_key, tmp_path):
    down = build_container(app=AppSettings(env="test"), collect=CollectSettings(),
                           neo=Neo4jSettings(uri="bolt://127.0.0.1:9", password=container.neo4j.password),
                           log=LogSettings(path=tmp_path / "events.db", high_water_events=3, retry_after_seconds=4))
    down.sources = container.sources  # the write key was seen before the outage (cached)
    container.sources.authenticate(write_key)
    try:
        with TestClient(create_app(down)) as c:
            ready = c.get("/readyz")  # Neo4j down, the log accepting: stay in rotation, answered at once
            assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
            assert ready.json()["neo4j"] == "unreachable"
            for i in range(3):
                r = c.post("/v1/track", headers=basic(write_key),
                           json={"userId": "out-1", "event": "Viewed", "messageId": f"out-{i}"})
                assert r.status_code == 200, r.text
            r = c.post("/v1/track", headers=basic(write_key),
                       json={"userId": "out-1", "event": "Viewed", "messageId": "out-3"})
            assert r.status_code == 503 and r.headers["retry-after"] == "4"
            assert r.json()["error"]["code"] == "log_full"
            assert c.get("/readyz").status_code == 503  # full: out of rotation
            down.durable.writer.stop(timeout=0.5)  # it is stuck retrying the dead server
    finally:
        down.close()
    log = SqliteLog(LogSettings(path=tmp_path / "events.db"))
    assert log.stats().pending_events == 3
    assert cypher(container, "MATCH (e:Interaction {workspace: $w}) RETURN count(e) AS n", w=workspace)[0]["n"] == 0
    log.close()
    # Neo4j is back: a writer on the same log drains everything that was acknowledged.
    back = build_container(app=AppSettings(env="test"), collect=CollectSettings(), neo=container.neo4j,
                           log=LogSettings(path=tmp_path / "events.db"))
    try:
        assert back.durable.writer.drain() == 3
    finally:
        back.close()
    rows = cypher(container, "MATCH (e:Interaction {workspace: $w}) RETURN e.message_id AS m ORDER BY m", w=workspace)
    assert [r["m"] for r in rows] == ["out-0", "out-1", "out-2"]


def _serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(PORT), "--workers", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("veil serve did not start")


def test_sigkill_mid_load_loses_no_acknowledged_event(container, workspace, write_key, tmp_path):
    log_path = tmp_path / "events.db"
    env = {**os.environ, "VEIL_ENV": "test", "VEIL_NEO4J_URI": container.neo4j.uri, "VEIL_LOG_PATH": str(log_path),
           "VEIL_LOG_LEVEL": "WARNING"}
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(t: int) -> None:
        with httpx.Client(timeout=10) as http:
            n = 0
            while not stop.is_set():
                ids = [f"crash-{t}-{n}-{j}" for j in range(50)]
                n += 1
                batch = [{"type": "track", "userId": f"cu-{t}-{j % 7}", "event": "Viewed", "messageId": m}
                         for j, m in enumerate(ids)]
                try:
                    r = http.post(f"http://127.0.0.1:{PORT}/v1/batch", json={"batch": batch}, auth=(write_key, ""))
                except httpx.HTTPError:
                    continue  # the server is gone: not acknowledged
                if r.status_code == 200:
                    with lock:
                        acked.extend(ids)

    server = _serve(env)
    threads = [threading.Thread(target=load, args=(t,)) for t in range(4)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 1000 and time.monotonic() < deadline:  # well into the load
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)  # mid-load, while requests are in flight
        server.wait(timeout=10)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(timeout=15)
        assert len(acked) >= 200, "the load did not get going before the kill"
        server = _serve(env)  # restart: the new process drains what the killed one acknowledged
        log = SqliteLog(LogSettings(path=log_path))
        assert log.wait_drained(timeout=120), log.stats()
        log.close()
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    stored = {r["m"] for r in cypher(container, "MATCH (e:Interaction {workspace: $w}) RETURN e.message_id AS m",
                                     w=workspace)}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events were lost"
    dupes = cypher(container, "MATCH (e:Interaction {workspace: $w}) WITH e.message_id AS m, count(*) AS n "
                              "WHERE n > 1 RETURN count(m) AS d", w=workspace)
    assert dupes[0]["d"] == 0
    print(f"SIGKILL mid-load: {len(acked)} acknowledged, {len(stored)} stored, 0 lost")


def test_neo4j_driver_is_not_used_for_acks(container, workspace, write_key):
    """An ack does not wait for the graph: the event is in the log, not yet in Neo4j, when answered."""
    app = create_app(container)
    container.durable.writer.stop()  # pause the drainer of the session container
    try:
        with TestClient(app) as c:
            container.durable.writer.stop()
            r = c.post("/v1/identify", headers=basic(write_key), json={"userId": "ack-1", "messageId": uuid.uuid4().hex})
            assert r.status_code == 200 and r.json()["stored"] == 1
            assert container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="ack-1") is None
            assert container.durable.log.stats().pending_events >= 1
    finally:
        container.durable.start()
    drained(container)
    assert container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="ack-1") is not None
    assert isinstance(neo4j.__version__, str)
