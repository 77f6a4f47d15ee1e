"""The periodic scheduler: refreshes models and re-evaluates saved segments; one run per lease."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from analytics.scheduler import Job, Scheduler, model_jobs
from graph.jobs import LeaseRepository
from tests.conftest import cypher


def test_scheduled_refresh_scores_profiles_and_evaluates_segments(container, workspace):
    at = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    pid = container.ingest.ingest([{"type": "track", "userId": "s1", "event": "Order Completed", "timestamp": at,
                                    "messageId": uuid.uuid4().hex, "properties": {"revenue": 10}}],
                                  workspace=workspace, source="test").profiles[0]
    seg = container.segments.save(workspace=workspace, name="buyers", definition={
        "type": "event", "event": "Order Completed"})
    leases = LeaseRepository(container.driver, database=container.neo4j.database)
    jobs = model_jobs(analytics=container.analytics, segments=container.segments, refresh_interval=0.3,
                      sweep_interval=0, workspaces=lambda: [workspace])
    sched = Scheduler([Job(f"{j.name}-{workspace}", j.interval, j.run) for j in jobs], leases=leases)
    assert [j.interval for j in sched.jobs] == [0.3]  # the disabled sweep is not scheduled
    sched.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not sched.runs.get(sched.jobs[0].name):
            time.sleep(0.1)
    finally:
        sched.stop()
    assert sched.runs[sched.jobs[0].name] >= 1
    row = cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.`score.lifecycle_stage` AS s, "
                 "EXISTS { (p)-[m:IN_SEGMENT]->(:Segment {id: $seg}) WHERE m.left_at IS NULL } AS member",
                 id=pid, seg=seg.id)[0]
    assert row["s"] == "New" and row["member"] is True


def test_a_lease_lets_one_worker_run_a_job_per_interval(container):
    leases = LeaseRepository(container.driver, database=container.neo4j.database)
    calls: list[str] = []
    name = f"lease-{uuid.uuid4().hex[:8]}"
    a = Scheduler([Job(name, 60, lambda: calls.append("a"))], leases=leases)
    b = Scheduler([Job(name, 60, lambda: calls.append("b"))], leases=leases)
    assert a.run_once(a.jobs[0]) is True
    assert b.run_once(b.jobs[0]) is False  # a holds the lease for 0.9 x 60 s
    assert calls == ["a"]
    now = datetime.now(UTC) + timedelta(seconds=55)
    assert leases.acquire(job=name, holder=b.holder, now=now, ttl=timedelta(seconds=54)) is True


def test_migrations_apply_a_lower_version_missing_below_a_higher_one(container):
    from graph.migrations import apply_migrations

    db = container.neo4j.database
    container.driver.execute_query("MATCH (m:SchemaMigration {version: 3}) DELETE m", database_=db)
    assert apply_migrations(container.driver, database=db) == [3]  # a gap (5, 6 elsewhere) is tolerated
    assert apply_migrations(container.driver, database=db) == []
