"""The collection API through HTTP: Segment compatibility, validation, limits, idempotency."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import basic, cypher, drained


def _profile_of(container, workspace: str, key: str):
    # PII identifiers are stored under their blind index, never the plain value.
    kind, _, value = key.partition("|")
    rows = cypher(container, "MATCH (:Identifier {key: $key})-[:IDENTIFIES]->(p:Profile) RETURN p.id AS id",
                  key=container.vault.identifier_key(workspace, kind, value))
    assert len(rows) <= 1, "an identifier must belong to at most one profile"
    return rows[0]["id"] if rows else None


def _interactions(container, profile_id: str) -> list[str]:
    rows = cypher(container, "MATCH (:Profile {id: $id})-[:PERFORMED]->(e) RETURN e.message_id AS m ORDER BY e.ts, e.message_id",
                  id=profile_id)
    return [r["m"] for r in rows]


def test_segment_python_sdk_events_land_in_graph(container, live_server, workspace, write_key):
    from segment import analytics

    client = analytics.Client(write_key, host=live_server, sync_mode=True, max_retries=1)
    client.identify("sdk-user-1", {"email": "SDK.User@Example.com", "name": "林小華"}, anonymous_id="sdk-anon-1")
    client.track("sdk-user-1", "Order Completed",
                 {"order_id": "o-sdk-1", "revenue": 320, "currency": "TWD",
                  "products": [{"product_id": "milk-1", "category": "dairy", "price": 160, "quantity": 2}]})
    client.page(anonymous_id="sdk-anon-1", name="Home", properties={"url": "https://shop.example/"})
    client.flush()
    drained(container)  # the API acks from the durable log; profiles appear after the drain
    pid = _profile_of(container, workspace, "user_id|sdk-user-1")
    assert pid is not None
    assert _profile_of(container, workspace, "email|sdk.user@example.com") == pid
    assert _profile_of(container, workspace, "anonymous_id|sdk-anon-1") == pid
    assert len(_interactions(container, pid)) == 3
    cats = cypher(container, "MATCH (:Profile {id:$id})-[:PERFORMED]->(:Interaction)-[c:CONTAINS]->(pr:Product) "
                  "RETURN pr.category AS cat, c.quantity AS q", id=pid)
    assert [(r["cat"], r["q"]) for r in cats] == [("dairy", 2.0)]


def test_web_to_app_to_store_journey_is_one_profile(container, client, workspace, write_key):
    h = basic(write_key)
    web = [
        {"type": "page", "anonymousId": "cookie-1", "messageId": "j1", "timestamp": "2026-10-01T10:00:00Z",
         "name": "Dairy", "context": {"page": {"url": "https://shop.example/dairy"}}},
        {"type": "track", "anonymousId": "cookie-1", "event": "Product Viewed", "messageId": "j2",
         "timestamp": "2026-10-01T10:01:00Z", "properties": {"product_id": "milk-1"}},
    ]
    app = [
        {"type": "screen", "anonymousId": "app-anon-1", "messageId": "j3", "timestamp": "2026-10-02T09:00:00Z",
         "name": "Home", "context": {"device": {"id": "device-ios-1", "type": "ios"}}},
        {"type": "identify", "userId": "M0001", "anonymousId": "app-anon-1", "messageId": "j4",
         "timestamp": "2026-10-02T09:05:00Z", "context": {"device": {"id": "device-ios-1", "type": "ios"}},
         "traits": {"email": "amy@example.com", "phone": "0912-345-678", "name": "陳美美"}},
        # The web cookie logs in later: anonymous browsing is stitched retroactively.
        {"type": "identify", "userId": "M0001", "anonymousId": "cookie-1", "messageId": "j5",
         "timestamp": "2026-10-03T20:00:00Z"},
    ]
    store = [
        {"type": "track", "anonymousId": "pos-receipt-77", "event": "Order Completed", "messageId": "j6",
         "timestamp": "2026-10-05T12:00:00Z", "context": {"traits": {"phone": "+886 912 345 678"}},
         "properties": {"order_id": "R77", "revenue": 450, "store_id": "TPE-XINYI-01",
                        "products": [{"sku": "beef-1", "category": "meat", "price": 450, "quantity": 1}]}},
    ]
    for batch in (web, app, store):
        r = client.post("/v1/batch", json={"batch": batch}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == len(batch)
    pid = _profile_of(container, workspace, "user_id|M0001")
    for key in ("anonymous_id|cookie-1", "anonymous_id|app-anon-1", "device_id|device-ios-1",
                "phone|+886912345678", "email|amy@example.com", "anonymous_id|pos-receipt-77"):
        assert _profile_of(container, workspace, key) == pid, key
    assert _interactions(container, pid) == ["j1", "j2", "j3", "j4", "j5", "j6"]
    active = cypher(container, "MATCH (p:Profile {workspace:$w, status:'active'}) RETURN count(p) AS n", w=workspace)
    assert active[0]["n"] == 1
    # The ledger explains how the cookie's earlier profile joined.
    merges = container.profiles.merge_history(workspace=workspace, profile_id=pid)
    assert [m.message_id for m in merges] == ["j5"]
    assert merges[0].moved_interactions == 2


def test_merge_limit_keeps_two_people_apart(container, client, workspace, write_key):
    h = basic(write_key)
    batch = [
        {"type": "identify", "userId": "dad", "anonymousId": "family-tablet", "messageId": "s1",
         "timestamp": "2026-10-01T10:00:00Z"},
        {"type": "identify", "userId": "mum", "anonymousId": "family-tablet", "messageId": "s2",
         "timestamp": "2026-10-01T11:00:00Z"},
        {"type": "track", "userId": "mum", "event": "Order Completed", "messageId": "s3",
         "timestamp": "2026-10-01T11:05:00Z", "properties": {"order_id": "o1", "revenue": 10}},
    ]
    r = client.post("/v1/batch", json={"batch": batch}, headers=h)
    assert r.status_code == 200 and r.json()["stored"] == 3
    dad = _profile_of(container, workspace, "user_id|dad")
    mum = _profile_of(container, workspace, "user_id|mum")
    assert dad and mum and dad != mum
    assert _interactions(container, mum) == ["s2", "s3"]
    conflicts = container.profiles.conflicts(workspace=workspace, profile_id=mum)
    assert conflicts and conflicts[0]["rule"] == "max_per_profile:user_id"


def test_retries_are_idempotent(container, client, workspace, write_key):
    h = basic(write_key)
    batch = {"batch": [
        {"type": "track", "userId": "retry-1", "event": "Order Completed", "messageId": f"r{i}",
         "timestamp": "2026-10-01T10:00:00Z",
         "properties": {"order_id": f"o{i}", "products": [{"product_id": "p1", "price": 1, "quantity": 1}]}}
        for i in range(5)
    ]}
    first = client.post("/v1/batch", json=batch, headers=h).json()
    second = client.post("/v1/batch", json=batch, headers=h).json()
    assert (first["stored"], first["duplicates"]) == (5, 0)
    assert (second["stored"], second["duplicates"]) == (0, 5)
    pid = _profile_of(container, workspace, "user_id|retry-1")
    assert len(_interactions(container, pid)) == 5
    lines = cypher(container, "MATCH (:Profile {id:$id})-[:PERFORMED]->()-[c:CONTAINS]->() RETURN count(c) AS n", id=pid)
    assert lines[0]["n"] == 5


def test_partial_batch_stores_good_events_and_lists_bad_ones(container, client, workspace, write_key):
    batch = {"batch": [
        {"type": "track", "userId": "good-1", "event": "Store Visit", "messageId": "g1"},
        {"type": "track", "event": "No Identity", "messageId": "b1"},
        {"type": "track", "userId": "good-1", "event": 42, "messageId": "b2"},
        {"type": "teleport", "userId": "good-1", "messageId": "b3"},
        {"type": "identify", "userId": "good-1", "traits": "not-an-object", "messageId": "b4"},
        {"type": "track", "userId": "good-1", "event": "x", "timestamp": "yesterday", "messageId": "b5"},
        {"type": "track", "userId": "good-1", "event": "Big", "messageId": "b6", "properties": {"blob": "x" * 40_000}},
        {"type": "track", "userId": "null", "event": "Junk id", "messageId": "b7"},
        {"type": "identify", "userId": "good-1", "traits": {"plan": "gold"}, "messageId": "g2"},
    ]}
    r = client.post("/v1/batch", json=batch, headers=basic(write_key))
    assert r.status_code == 200
    body = r.json()
    assert body["stored"] == 2 and body["success"] is False
    got = {x["index"]: (x["code"], x.get("field")) for x in body["rejected"]}
    assert got == {
        1: ("missing_identity", "userId"),
        2: ("invalid_type", "event"),
        3: ("invalid_event_type", "type"),
        4: ("invalid_type", "traits"),
        5: ("invalid_timestamp", "timestamp"),
        6: ("event_too_large", None),
        7: ("invalid_identity", "userId"),
    }
    pid = _profile_of(container, workspace, "user_id|good-1")
    assert _interactions(container, pid) == ["g1", "g2"]


def test_all_bad_batch_is_400(client, write_key):
    r = client.post("/v1/batch", json={"batch": [{"type": "track", "event": "x"}]}, headers=basic(write_key))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "all_events_rejected"
    assert r.json()["rejected"][0]["code"] == "missing_identity"


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "invalid_json"), (b"", "invalid_json"), (b'{"events": []}', "invalid_batch"),
     (b'[1, 2]', "invalid_batch")],
)
def test_malformed_batches(client, write_key, body, code):
    r = client.post("/v1/batch", content=body, headers={**basic(write_key), "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == code


def test_batch_over_500kb_is_refused_naming_the_limit(container, client, workspace, write_key):
    events = [{"type": "track", "userId": "big", "event": "x", "messageId": f"big{i}",
               "properties": {"pad": "y" * 20_000}} for i in range(30)]
    r = client.post("/v1/batch", json={"batch": events}, headers=basic(write_key))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "batch_too_large" and "512000" in err["message"]
    assert _profile_of(container, workspace, "user_id|big") is None


def test_single_event_routes_and_errors(container, client, workspace, write_key):
    h = basic(write_key)
    assert client.post("/v1/identify", json={"userId": "single-1", "traits": {"email": "S@X.COM"}}, headers=h).status_code == 200
    assert client.post("/v1/track", json={"userId": "single-1", "event": "Coupon Applied"}, headers=h).status_code == 200
    assert client.post("/v1/alias", json={"userId": "single-1", "previousId": "old-anon-9"}, headers=h).status_code == 200
    r = client.post("/v1/track", json={"userId": "single-1"}, headers=h)
    assert r.status_code == 400 and r.json()["error"] == {
        "code": "missing_field", "message": "track events need an event name", "field": "event",
        "request_id": r.headers["x-request-id"]}
    r = client.post("/v1/page", json={"userId": "x", "properties": {"p": "z" * 33_000}}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "event_too_large"
    pid = _profile_of(container, workspace, "user_id|single-1")
    assert _profile_of(container, workspace, "email|s@x.com") == pid
    assert _profile_of(container, workspace, "anonymous_id|old-anon-9") == pid


def test_write_key_auth(client, write_key):
    event = {"batch": [{"type": "track", "userId": "a", "event": "x"}]}
    assert client.post("/v1/batch", json=event).json()["error"]["code"] == "missing_write_key"
    r = client.post("/v1/batch", json=event, headers=basic("wrong-key"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_write_key"
    r = client.post("/v1/batch", json=event, headers={"Authorization": f"Bearer {write_key}"})
    assert r.status_code == 200
    r = client.post("/v1/batch", json={**event, "writeKey": write_key})
    assert r.status_code == 200


def test_gzip_body_accepted(container, client, workspace, write_key):
    body = gzip.compress(json.dumps({"batch": [{"type": "identify", "userId": "gz-1"}]}).encode())
    r = client.post("/v1/batch", content=body, headers={
        **basic(write_key), "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["stored"] == 1
    assert _profile_of(container, workspace, "user_id|gz-1")


def test_overload_answers_429_with_retry_after(container, workspace, write_key):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.container import build_container
    from collect.settings import CollectSettings

    busy = build_container(app=container.app, neo=container.neo4j, collect=CollectSettings(max_inflight=0))
    try:
        with TestClient(create_app(busy)) as c:
            r = c.post("/v1/batch", json={"batch": [{"type": "identify", "userId": "busy-1"}]},
                       headers=basic(write_key))
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2" and r.json()["error"]["code"] == "overloaded"
    finally:
        busy.close()
    assert _profile_of(container, workspace, "user_id|busy-1") is None


def test_health_ready_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["neo4j"] == "reachable"
    m = client.get("/metrics").text
    assert "veil_events_total" in m and "veil_http_requests_total" in m


def test_consent_signals_are_captured_as_records(container, client, workspace, write_key):
    batch = {"batch": [
        {"type": "identify", "userId": "c-1", "messageId": "cs1", "timestamp": "2026-10-01T00:00:00Z",
         "context": {"consent": {"categoryPreferences": {"Marketing": True, "Analytics": True, "Advertising": False}}}},
    ]}
    r = client.post("/v1/batch", json=batch, headers=basic(write_key))
    assert r.status_code == 200 and r.json()["stored"] == 1
    pid = _profile_of(container, workspace, "user_id|c-1")
    got = {(c.purpose.value, c.status.value) for c in container.pipeline.consents.for_subject(
        workspace=workspace, profile_id=pid)}
    assert {("marketing", "granted"), ("analytics", "granted"), ("ads", "denied")} <= got
    # The browser later sends Global Privacy Control: marketing is refused from then on.
    r = client.post("/v1/track", json={"userId": "c-1", "event": "Viewed", "messageId": "cs2",
                                       "timestamp": "2026-10-02T00:00:00Z"},
                    headers={**basic(write_key), "Sec-GPC": "1"})
    assert r.status_code == 200
    from datetime import UTC, datetime

    from consent.gate import decide
    from consent.model import Channel, Purpose

    records = container.pipeline.consents.for_subject(workspace=workspace, profile_id=pid)
    d = decide(purpose=Purpose.marketing, channel=Channel.email, jurisdiction=container.pipeline.jurisdiction,
               records=records, policy=container.pipeline.consent_policy, now=datetime.now(UTC))
    assert not d.allowed
    assert "gpc" in next(r for r in records if r.id == d.record_id).source
    # A retried event records nothing twice.
    client.post("/v1/batch", json=batch, headers=basic(write_key))
    assert len(container.pipeline.consents.for_subject(workspace=workspace, profile_id=pid)) == len(records)


def test_invalid_tcf_string_rejects_that_event_only(container, client, workspace, write_key):
    batch = {"batch": [
        {"type": "track", "userId": "t-1", "event": "x", "messageId": "tc1", "context": {"gdpr_consent": "garbage!"}},
        {"type": "track", "userId": "t-1", "event": "y", "messageId": "tc2"},
    ]}
    body = client.post("/v1/batch", json=batch, headers=basic(write_key)).json()
    assert body["stored"] == 1 and body["rejected"][0]["index"] == 0
    assert body["rejected"][0]["code"] == "invalid_consent"
