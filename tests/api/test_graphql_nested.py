"""Nested profile fields (interactions, consents, merges, devices, cookies) through HTTP:
DataLoaders keep a page at a fixed number of queries, each nested read is audited per person,
and withheld groups come back null. Also profile filters and newest-first interaction cursors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest

from consent.model import Channel, ConsentRecord, ConsentStatus, LawfulBasis, Purpose
from tests.api.test_graphql import audit_rows, codes, gql, key

NESTED_PAGE = """query($first: Int!) { profiles(first: $first) { edges { node {
  id devices { name value } cookies { name value }
  interactions(first: 2) { event ts }
  consents { purpose status }
  mergeHistory { id loser winner } } } } }"""


def _people(container, workspace: str, n: int) -> list[str]:
    """n people, each with a device, a cookie, three events a day apart and a consent record."""
    events = []
    for i in range(n):
        uid = f"nest-{i}"
        events += [
            {"type": "identify", "userId": uid, "anonymousId": f"cookie-{i}", "messageId": f"{uid}-a",
             "timestamp": "2026-10-01T00:00:00Z", "context": {"device": {"id": f"dev-{i}"}},
             "traits": {"email": f"n{i}@example.com", "member_tier": "gold"}},
            {"type": "track", "userId": uid, "event": "Product Viewed", "messageId": f"{uid}-b",
             "timestamp": "2026-10-02T00:00:00Z"},
            {"type": "track", "userId": uid, "event": "Order Completed", "messageId": f"{uid}-c",
             "timestamp": "2026-10-03T00:00:00Z", "properties": {"order_id": f"o{i}", "revenue": 10}},
        ]
    by_event = container.ingest.ingest(events, workspace=workspace, source="test").profiles
    pids = list(dict.fromkeys(by_event[i] for i in sorted(by_event)))
    container.pipeline.consents.append(workspace=workspace, records=[
        ConsentRecord(id=str(uuid.uuid4()), subject=pid, purpose=Purpose.marketing, channel=Channel.email,
                      status=ConsentStatus.granted, lawful_basis=LawfulBasis.consent, source="test",
                      captured_at=datetime(2026, 10, 1, tzinfo=UTC), jurisdiction=container.pipeline.jurisdiction)
        for pid in pids])
    return pids


def _count_reads(container, client, query, token, variables):
    """Neo4j queries about customer data made while answering one request (API key and policy
    lookups, cached for a few seconds, are left out; audit appends run in their own sessions)."""
    real = container.driver.execute_query
    with mock.patch.object(container.driver, "execute_query", side_effect=real) as spy:
        r = gql(client, query, token=token, variables=variables)
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    return sum("Profile" in c.args[0] for c in spy.call_args_list), r.json()["data"]


def test_nested_fields_cost_a_fixed_number_of_queries(client, container, workspace):
    pids = _people(container, workspace, 6)
    token = key(container, workspace, "admin")
    small, _ = _count_reads(container, client, NESTED_PAGE, token, {"first": 2})
    large, data = _count_reads(container, client, NESTED_PAGE, token, {"first": 6})
    assert small == large, (small, large)  # no N+1: a bigger page does not cost more queries
    nodes = [e["node"] for e in data["profiles"]["edges"]]
    assert sorted(n["id"] for n in nodes) == sorted(pids)
    for n in nodes:
        assert [e["event"] for e in n["interactions"]] == ["Order Completed", "Product Viewed"]  # newest first
        assert [d["value"] for d in n["devices"]] and [c["value"] for c in n["cookies"]]
        assert n["consents"] == [{"purpose": "marketing", "status": "granted"}]
        assert n["mergeHistory"] == []
    # Every nested read is audited per person, before the response: one record per person and
    # request, listing every field group it returned.
    for pid in pids:
        rows = [a["a"] for a in audit_rows(container, workspace, pid) if a["a"]["decision"] == "allow"]
        assert rows and {r["resource"] for r in rows} == {"profile"}  # one per request that read them
        assert {"interactions.type", "consents", "merges"} <= set(rows[-1]["fields_returned"])


def test_nested_group_a_role_may_not_read_is_null_and_the_denial_audited(client, container, workspace):
    pid = _people(container, workspace, 1)[0]
    q = "query($id: ID!) { profile(id: $id) { id interactions(first: 5) { event } consents { status } } }"
    r = gql(client, q, token=key(container, workspace, "compliance_officer"), purpose="legal_obligation",
            variables={"id": pid})
    assert "errors" not in r.json(), r.text
    p = r.json()["data"]["profile"]
    assert p["interactions"] is None and p["consents"] == [{"status": "granted"}]
    denied = [a["a"] for a in audit_rows(container, workspace, pid)
              if a["a"]["resource"] == "profile.interactions"]
    assert denied and denied[-1]["decision"] == "deny" and denied[-1]["reason"] == "forbidden"


def test_nested_page_size_is_limited(client, container, workspace):
    pid = _people(container, workspace, 1)[0]
    r = gql(client, "query($id: ID!) { profile(id: $id) { interactions(first: 1000) { event } } }",
            token=key(container, workspace, "support_agent"), variables={"id": pid})
    assert codes(r) == ["BAD_REQUEST"]


def test_interactions_newest_first_with_cursor(client, container, workspace):
    pid = _people(container, workspace, 1)[0]
    token = key(container, workspace, "support_agent")
    q = """query($id: ID!, $after: String) { interactions(profileId: $id, first: 2, after: $after) {
      nodes { event ts } pageInfo { hasNextPage endCursor } } }"""
    first = gql(client, q, token=token, variables={"id": pid}).json()["data"]["interactions"]
    assert [n["event"] for n in first["nodes"]] == ["Order Completed", "Product Viewed"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = gql(client, q, token=token, variables={"id": pid, "after": first["pageInfo"]["endCursor"]})
    rest_data = rest.json()["data"]["interactions"]
    assert [n["event"] for n in rest_data["nodes"]] == [None] and rest_data["pageInfo"]["hasNextPage"] is False
    assert codes(gql(client, q, token=token, variables={"id": pid, "after": "garbage"})) == ["BAD_REQUEST"]


def test_interactions_query_passes_the_consent_gate(client, container, workspace):
    pid = _people(container, workspace, 1)[0]
    q = 'query($id: ID!) { interactions(profileId: $id, first: 5) { nodes { event } } }'
    # Marketing needs consent per person and channel: the record above is for e-mail only.
    r = gql(client, q, token=key(container, workspace, "admin"), purpose="marketing", variables={"id": pid})
    assert codes(r) == ["CONSENT_DENIED"]
    denied = [a["a"] for a in audit_rows(container, workspace, pid) if a["a"]["resource"] == "profile.interactions"]
    assert denied[-1]["decision"] == "deny"


@pytest.mark.parametrize(("flt", "expect"), [
    ({"hasIdentifier": "email"}, {"with-email"}),
    ({"hasIdentifier": "line_user_id"}, set()),
    ({"lastSeenSince": "2026-10-05T00:00:00Z"}, {"recent"}),
    ({"lastSeenUntil": "2026-10-05T00:00:00Z"}, {"with-email"}),
])
def test_profiles_filter(client, container, workspace, flt, expect):
    r = container.ingest.ingest([
        {"type": "identify", "userId": "with-email", "messageId": "f1", "timestamp": "2026-10-01T00:00:00Z",
         "traits": {"email": "f@example.com"}},
        {"type": "track", "userId": "recent", "event": "x", "messageId": "f2", "timestamp": "2026-10-09T00:00:00Z"},
    ], workspace=workspace, source="test")
    by_pid = {r.profiles[0]: "with-email", r.profiles[1]: "recent"}
    q = "query($f: ProfileFilterInput) { profiles(first: 10, filter: $f) { edges { node { id } } } }"
    resp = gql(client, q, token=key(container, workspace, "support_agent"), variables={"f": flt})
    assert "errors" not in resp.json(), resp.text
    assert {by_pid[e["node"]["id"]] for e in resp.json()["data"]["profiles"]["edges"]} == expect


def test_a_profile_with_its_interactions_is_one_round_trip_and_one_audit_record(client, container, workspace):
    pid = _people(container, workspace, 1)[0]
    token = key(container, workspace, "support_agent")
    q = "query($id: ID!) { profile(id: $id) { id interactions(first: 2) { event } } }"
    reads, data = _count_reads(container, client, q, token, {"id": pid})
    assert reads == 1, reads
    assert [e["event"] for e in data["profile"]["interactions"]] == ["Order Completed", "Product Viewed"]
    # The same as the two-step path (a time window is not prefetched).
    q2 = ('query($id: ID!) { profile(id: $id) { id interactions(first: 2, since: "2020-01-01T00:00:00Z") '
          '{ event } } }')
    reads2, data2 = _count_reads(container, client, q2, token, {"id": pid})
    assert reads2 == 2 and data2["profile"]["interactions"] == data["profile"]["interactions"]
    rows = [a["a"] for a in audit_rows(container, workspace, pid) if a["a"]["decision"] == "allow"]
    assert len(rows) == 2 and all("interactions.type" in r["fields_returned"] for r in rows)
    # A role that may not read interactions gets null, and the read is still one profile record.
    co = key(container, workspace, "compliance_officer")
    r = gql(client, q, token=co, purpose="legal_obligation", variables={"id": pid}).json()
    assert r["data"]["profile"]["interactions"] is None, r
