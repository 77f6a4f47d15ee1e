"""The durable log's Kafka backend against a real local broker (deploy/kafka.sh, KRaft) and the
real Neo4j: acks after acks=all, consumer-group writers that commit offsets only after the graph
commit, dead letters to the DLQ topic. Runs when VEIL_KAFKA_BOOTSTRAP is set (`.ci/run` starts
the broker and sets it; `make test-kafka` too)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from api.settings import AppSettings
from collect.intake import LogIntake
from collect.log.settings import LogSettings
from collect.settings import CollectSettings
from tests.collect.test_log_writer import _ev, _Faulty, _interactions
from tests.conftest import basic

BOOTSTRAP = os.environ.get("VEIL_KAFKA_BOOTSTRAP")
pytestmark = pytest.mark.skipif(not BOOTSTRAP, reason="needs a Kafka broker: set VEIL_KAFKA_BOOTSTRAP "
                                                      "(deploy/kafka.sh start; make test-kafka)")


@pytest.fixture()
def kafka_settings() -> LogSettings:
    """Topics and group of this test only."""
    name = f"veil.t-{uuid.uuid4().hex[:10]}"
    return LogSettings(backend="kafka", kafka_bootstrap=BOOTSTRAP or "", kafka_topic=name,
                       kafka_dlq_topic=name + ".dlq", kafka_group=name + "-writers", kafka_partitions=2,
                       drain_batch_events=400)


def test_http_acks_from_kafka_and_writers_drain_into_the_graph(container, workspace, write_key, kafka_settings):
    c = build_container(app=AppSettings(env="test"), neo=container.neo4j, collect=CollectSettings(),
                        log=kafka_settings)
    c.sources = container.sources
    try:
        with TestClient(create_app(c)) as tc:
            batch = [{"type": "track", "userId": "k-1", "event": "Viewed", "messageId": f"km{i}"} for i in range(30)]
            r = tc.post("/v1/batch", json={"batch": batch}, headers=basic(write_key))
            assert r.status_code == 200 and r.json()["stored"] == 30, r.text
            assert c.durable.barrier(120)
            assert _interactions(container, workspace) == sorted(f"km{i}" for i in range(30))
            ready = tc.get("/readyz").json()["log"]
            assert ready["backend"] == "kafka" and ready["pending_events"] == 0
    finally:
        c.close()


def test_offsets_are_committed_only_after_the_graph_commit(container, workspace, kafka_settings):
    from collect.log.kafka import KafkaLog, KafkaWriter

    klog = KafkaLog(kafka_settings)
    try:
        intake = LogIntake(service=container.ingest, log=klog)
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        for i in range(3):
            intake.ingest([_ev("kc-1", "kca-1", f"kc{i}", t0 + timedelta(seconds=i))], workspace=workspace,
                          source="test")
        writer = KafkaWriter(log=klog, service=container.ingest, settings=kafka_settings)
        # A writer that dies after the graph commit, before committing its offsets ...
        consumer = writer._consumer()
        n = 0
        for _ in range(100):
            n += writer.consume_once(consumer, commit=False)
            if n >= 3:
                break
        consumer.close()
        assert n == 3 and _interactions(container, workspace) == ["kc0", "kc1", "kc2"]
        assert klog.stats().pending_events == 3  # nothing committed: the group still owes them
        # ... its successor in the group consumes them again: nothing is duplicated, lag reaches 0.
        assert writer.drain(timeout=120) == 3
        assert _interactions(container, workspace) == ["kc0", "kc1", "kc2"]
        assert klog.stats().pending_events == 0 and klog.wait_drained(timeout=5)
    finally:
        klog.close()


def test_poison_goes_to_the_dead_letter_topic(container, workspace, kafka_settings):
    from collect.log.kafka import KafkaLog, KafkaWriter

    klog = KafkaLog(kafka_settings)
    try:
        faulty = _Faulty(container.ingest, poison="kp-1")
        LogIntake(service=faulty, log=klog).ingest(
            [_ev("kp", "kpa", f"kp-{i}", datetime(2026, 11, 1, tzinfo=UTC)) for i in range(3)],
            workspace=workspace, source="test")
        KafkaWriter(log=klog, service=faulty, settings=kafka_settings).drain(timeout=120)
        assert _interactions(container, workspace) == ["kp-0", "kp-2"]
        [dl] = klog.dead_letters()
        assert (dl.message_id, dl.code, dl.replayable) == ("kp-1", "write_failed", True)
        assert "cannot write kp-1" in dl.reason
        faulty.poison = "none"
        assert klog.replay() == 1
        KafkaWriter(log=klog, service=faulty, settings=kafka_settings).drain(timeout=120)
        assert _interactions(container, workspace) == ["kp-0", "kp-1", "kp-2"]
    finally:
        klog.close()
