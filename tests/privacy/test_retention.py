"""Retention policy validation and the purge: only expired interactions of the right type go."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from api.cli import app
from audit.events import Actor
from graph.retention import RetentionRepository
from privacy.retention import (
    RetentionPolicy,
    RetentionPolicyError,
    RetentionService,
    load_retention_policy,
    parse_retention_policy,
    rules,
)
from tests.conftest import cypher

NOW = datetime.now(UTC)


def test_shipped_policy_and_rules():
    policy = load_retention_policy()
    assert policy.types["page"] == 395 and policy.types["track"] == 730 and policy.default_days is None
    got = {(r.type, r.event): r.days for r in rules(policy)}
    assert got[("page", None)] == 395 and got[(None, "Order Completed")] == 2555
    assert ("identify", None) not in got  # default: kept
    track = next(r for r in rules(policy) if r.type == "track")
    assert "Order Completed" in track.exempt


@pytest.mark.parametrize("data", [
    {"types": {"click": 30}}, {"types": {"page": 0}}, {"types": {"page": "395"}}, {"events": []},
    {"default_days": -1}, [],
])
def test_bad_policies_are_refused(data):
    with pytest.raises(RetentionPolicyError):
        parse_retention_policy(data)


def ev(kind, mid, days_ago, **extra):
    base = {"type": kind, "userId": "ret-1", "messageId": mid,
            "timestamp": (NOW - timedelta(days=days_ago)).isoformat()}
    return {**base, **extra}


@pytest.fixture()
def history(container, workspace):
    events = [
        ev("page", "page-old", 400), ev("page", "page-new", 100),
        ev("track", "track-old", 800, event="Viewed"), ev("track", "track-mid", 400, event="Viewed"),
        ev("track", "order-old", 800, event="Order Completed",
           properties={"order_id": "o1", "products": [{"product_id": "p1", "price": 1, "quantity": 1}]}),
        ev("identify", "identify-old", 800),
        *(ev("page", f"page-bulk-{i}", 500) for i in range(5)),
    ]
    r = container.ingest.ingest(events, workspace=workspace, source="test")
    assert not r.rejected
    other = f"{workspace}-other"
    container.ingest.ingest([ev("page", "page-old", 400)], workspace=other, source="test")
    return other


def remaining(container, workspace):
    return {r["m"] for r in cypher(container, "MATCH (e:Interaction {workspace: $w}) RETURN e.message_id AS m",
                                   w=workspace)}


def test_purge_removes_only_expired_interactions_of_the_right_type(container, workspace, history):
    service = RetentionService(repo=RetentionRepository(container.driver, database=container.neo4j.database),
                               audit=container.audit, policy=load_retention_policy(), batch_size=2)
    before = remaining(container, workspace)
    dry = service.purge(workspace=workspace, actor=Actor.system("system:test"), dry_run=True)
    assert dry.total == 7 and remaining(container, workspace) == before
    seen: list[int] = []
    report = service.purge(workspace=workspace, actor=Actor.system("system:test"), progress=seen.append)
    assert report.total == 7 and sum(seen) == 7 and max(seen) <= 2  # batched
    assert remaining(container, workspace) == {"page-new", "track-mid", "order-old", "identify-old"}
    assert remaining(container, history) == {"page-old"}  # another workspace is untouched
    pid = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="ret-1")
    assert pid is not None and pid.interactions == 4
    assert cypher(container, "MATCH (p:Product {key: $k}) RETURN count(p) AS n", k=f"{workspace}|p1")[0]["n"] == 1
    rows = [r["a"] for r in cypher(container, "MATCH (a:AuditRecord {workspace: $w, resource: "
                                              "'interactions.retention'}) RETURN a {.*} AS a ORDER BY a.seq",
                                   w=workspace)]
    assert [a["reason"] for a in rows] == ["dry_run", "purge_started", "purged"]
    final = json.loads(rows[-1]["extra"])
    assert final["total"] == 7 and final["page_count"] == 6 and final["track_count"] == 1
    assert final["page_days"] == 395


def test_nothing_is_deleted_when_every_type_is_kept(container, workspace, history):
    service = RetentionService(repo=RetentionRepository(container.driver, database=container.neo4j.database),
                               audit=container.audit, policy=RetentionPolicy(types={}))
    assert service.purge(workspace=workspace, actor=Actor.system("system:test")).total == 0
    assert len(remaining(container, workspace)) == 11


def test_cli_purge_dry_run_then_purge(container, workspace, history):
    runner = CliRunner()
    r = runner.invoke(app, ["retention", "purge", "--dry-run", "-w", workspace])
    assert r.exit_code == 0, r.output
    assert "would delete 7 interactions" in r.output and len(remaining(container, workspace)) == 11
    r = runner.invoke(app, ["retention", "purge", "-w", workspace])
    assert r.exit_code == 0, r.output
    assert "deleted 7 interactions" in r.output and len(remaining(container, workspace)) == 4
