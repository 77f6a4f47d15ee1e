"""Segment evaluation and membership history over GraphQL: "who left this week", sizes over time;
marketers get counts, roles that read profiles get masked samples; everything audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.test_graphql import audit_rows, codes, gql, key

GOLD = {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"}
SAVE = 'mutation($d: JSON!) { saveSegment(name: "gold", definition: $d, realtime: true) { id } }'
EVAL = 'mutation($id: String!) { evaluateSegment(id: $id) { entered left size } }'
MEMBERSHIP = """query($id: String!, $since: DateTime!) { segmentMembership(id: $id, since: $since) {
  enteredCount leftCount entered { id traits { name value } } left { id } } }"""


def identify(container, workspace, uid, tier, days=0.0):
    at = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    return container.ingest.ingest([{"type": "identify", "userId": uid, "messageId": f"{uid}-{tier}-{days}",
                                     "timestamp": at, "traits": {"member_tier": tier}}],
                                   workspace=workspace, source="test").profiles[0]


def test_who_left_this_week_counts_for_marketers_samples_for_analysts(client, container, workspace):
    ann = identify(container, workspace, "ann", "gold", 3)
    bob = identify(container, workspace, "bob", "silver", 3)
    marketer, analyst = key(container, workspace, "marketer"), key(container, workspace, "analyst")
    seg = gql(client, SAVE, token=marketer, purpose="marketing", variables={"d": GOLD}).json()
    seg_id = seg["data"]["saveSegment"]["id"]
    r = gql(client, EVAL, token=marketer, purpose="marketing", variables={"id": seg_id}).json()
    assert r["data"]["evaluateSegment"] == {"entered": 1, "left": 0, "size": 1}
    # Ann is downgraded, Bob upgraded; the realtime segment follows the ingest.
    identify(container, workspace, "ann", "silver", 0)
    identify(container, workspace, "bob", "gold", 0)
    assert container.realtime.flush(20)
    week = (datetime.now(UTC) - timedelta(days=7)).isoformat()
    m = gql(client, MEMBERSHIP, token=marketer, purpose="marketing", variables={"id": seg_id, "since": week}).json()
    assert m["data"]["segmentMembership"] == {"enteredCount": 2, "leftCount": 1, "entered": [], "left": []}
    a = gql(client, MEMBERSHIP, token=analyst, purpose="analytics", variables={"id": seg_id, "since": week}).json()
    got = a["data"]["segmentMembership"]
    assert [p["id"] for p in got["left"]] == [ann]
    assert {p["id"] for p in got["entered"]} == {ann, bob}
    assert {t["name"] for p in got["entered"] for t in p["traits"]} == {"member_tier"}
    # The sample reads are audited per person; the aggregate once.
    assert any(x["a"].get("subject") == ann and x["a"]["action"] == "read" for x in audit_rows(container, workspace))
    reasons = [x["a"]["reason"] for x in audit_rows(container, workspace) if x["a"]["resource"] == "segments"]
    assert reasons.count("membership") == 2 and "evaluated" in reasons
    sizes = gql(client, 'query($id: String!, $t: [DateTime!]!) { segmentSizes(id: $id, times: $t) { size } }',
                token=marketer, purpose="marketing", variables={"id": seg_id, "t": [
                    (datetime.now(UTC) - timedelta(days=30)).isoformat(), datetime.now(UTC).isoformat()]}).json()
    assert [p["size"] for p in sizes["data"]["segmentSizes"]] == [0, 1]
    listed = gql(client, "{ segments { id realtime } }", token=marketer, purpose="marketing").json()
    assert listed["data"]["segments"] == [{"id": seg_id, "realtime": True}]


def test_support_agents_cannot_evaluate_and_unknown_segment_is_not_found(client, container, workspace):
    support, marketer = key(container, workspace, "support_agent"), key(container, workspace, "marketer")
    assert codes(gql(client, EVAL, token=support, variables={"id": "seg_x"})) == ["FORBIDDEN"]
    assert codes(gql(client, EVAL, token=marketer, purpose="marketing", variables={"id": "seg_x"})) == ["NOT_FOUND"]
