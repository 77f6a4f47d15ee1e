"""Model scores on GraphQL profiles: gated by role and purpose, withheld otherwise, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.api.test_graphql import audit_rows, codes, gql, key

Q = """query($id: ID!) { profile(id: $id) { id withheld
  scores { orders revenue rfmRecency rfmFrequency rfmMonetary rfmSegment lifecycleStage lastOrderAt stars } } }"""


@pytest.fixture()
def buyer(container, workspace):
    now = datetime.now(UTC)
    events = [{"type": "track", "userId": "sc-1", "event": "Order Completed", "messageId": uuid.uuid4().hex,
               "timestamp": (now - timedelta(days=d)).isoformat(),
               "properties": {"order_id": f"o{d}", "revenue": 250}} for d in (40, 3)]
    events.append({"type": "identify", "userId": "sc-1", "messageId": uuid.uuid4().hex,
                   "traits": {"email": "sc@example.com", "member_tier": "gold"}})
    pid = container.ingest.ingest(events, workspace=workspace, source="test").profiles[0]
    return pid


def test_cli_refresh_then_scores_for_analysts_under_analytics_purpose(container, client, workspace, buyer,
                                                                      neo4j_settings):
    r = CliRunner().invoke(app, ["analytics", "refresh", "--workspace", workspace])
    assert r.exit_code == 0, r.output
    assert "predictions skipped" in r.output and "Active" in r.output
    analyst = key(container, workspace, "analyst")
    resp = gql(client, Q, token=analyst, purpose="analytics", variables={"id": buyer}).json()
    assert "errors" not in resp, resp
    scores = resp["data"]["profile"]["scores"]
    assert scores["orders"] == 2 and scores["revenue"] == 500.0
    assert scores["lifecycleStage"] == "Active" and scores["rfmSegment"] is not None
    assert (scores["rfmRecency"], scores["rfmFrequency"], scores["rfmMonetary"]) == (3, 3, 3)  # one customer
    assert scores["stars"] is None  # one customer: too few to fit BG/NBD
    assert "scores" not in resp["data"]["profile"]["withheld"]
    read = [a["a"] for a in audit_rows(container, workspace, buyer) if a["a"]["action"] == "read"][-1]
    assert "scores.lifecycle_stage" in read["fields_returned"] and read["purpose"] == "analytics"
    assert read["decision"] == "allow"
    # The refresh itself was audited (system actor, no values).
    assert any(a["a"]["resource"] == "analytics.scores" for a in audit_rows(container, workspace))


def test_scores_withheld_for_other_purposes_and_roles(container, client, workspace, buyer):
    container.analytics.refresh(workspace=workspace)
    analyst, support = key(container, workspace, "analyst"), key(container, workspace, "support_agent")
    app_key, marketer = key(container, workspace, "app"), key(container, workspace, "marketer")
    for token, purpose in ((analyst, "support"), (support, "analytics"), (support, "support")):
        resp = gql(client, Q, token=token, purpose=purpose, variables={"id": buyer}).json()
        assert "errors" not in resp, resp
        assert resp["data"]["profile"]["scores"] is None
        assert "scores" in resp["data"]["profile"]["withheld"]
        read = [a["a"] for a in audit_rows(container, workspace, buyer) if a["a"]["action"] == "read"][-1]
        assert not any(f.startswith("scores.") for f in read["fields_returned"])
    ok = gql(client, Q, token=app_key, purpose="analytics", variables={"id": buyer}).json()
    assert ok["data"]["profile"]["scores"]["orders"] == 2
    # Marketers never read individual profiles, scores included; the denial is audited.
    assert codes(gql(client, Q, token=marketer, purpose="marketing", variables={"id": buyer})) == ["FORBIDDEN"]
    denied = [a["a"] for a in audit_rows(container, workspace) if a["a"]["decision"] == "deny"]
    assert denied and denied[-1]["role"] == "marketer"
