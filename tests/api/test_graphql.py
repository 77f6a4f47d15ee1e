"""GraphQL through HTTP: authentication, purpose, roles, masking, consent, audit, hardening."""

from __future__ import annotations

import time
from unittest import mock

import neo4j.exceptions
import pytest

from tests.conftest import cypher

PROFILE_Q = """query($id: ID!) { profile(id: $id) { id traits { name value category masking }
  identifiers { name value masking } interactionCount withheld lawfulBasis consentRecordId } }"""


def gql(client, query, *, token=None, purpose="support", variables=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if purpose:
        h["X-Veil-Purpose"] = purpose
    return client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)


def codes(resp):
    return [e.get("extensions", {}).get("code") for e in resp.json().get("errors", [])]


@pytest.fixture()
def person(container, workspace):
    """One customer with contact data, a national id and some events."""
    r = container.ingest.ingest([
        {"type": "identify", "userId": "gq-1", "messageId": "gq-m1", "timestamp": "2026-10-01T00:00:00Z",
         "traits": {"email": "mei@example.com", "phone": "0912-345-678", "name": "林美玲", "national_id": "A123456789",
                    "member_tier": "gold", "city": "台北"}},
        {"type": "track", "userId": "gq-1", "event": "Order Completed", "messageId": "gq-m2",
         "timestamp": "2026-10-02T00:00:00Z", "properties": {"order_id": "o1", "revenue": 100}},
        {"type": "page", "userId": "gq-1", "messageId": "gq-m3", "timestamp": "2026-10-03T00:00:00Z"},
    ], workspace=workspace, source="test")
    return r.profiles[0]


def key(container, workspace, role):
    return container.auth.create_api_key(workspace=workspace, role=role, name=f"test-{role}", actor="test")[1]


def audit_rows(container, workspace, subject=None):
    return cypher(container, "MATCH (a:AuditRecord {workspace: $w}) WHERE $s IS NULL OR a.subject = $s "
                  "RETURN a {.*} AS a ORDER BY a.seq", w=workspace, s=subject)


def test_support_agent_sees_contact_masked_and_no_government_id(client, container, workspace, person):
    r = gql(client, PROFILE_Q, token=key(container, workspace, "support_agent"), variables={"id": person})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    p = r.json()["data"]["profile"]
    traits = {t["name"]: t for t in p["traits"]}
    assert traits["phone"]["value"] == "09**-***-678" and traits["phone"]["masking"] == "partial"
    assert traits["email"]["value"] == "m***@example.com"
    assert "national_id" not in traits and "traits.national_id" in p["withheld"]
    assert traits["member_tier"] == {"name": "member_tier", "value": "gold", "category": "non_pii", "masking": "plain"}
    assert traits["city"]["category"] == "location" and traits["city"]["value"] == "**"
    assert "A123456789" not in r.text and "0912345678" not in r.text and "+886912345678" not in r.text
    rows = audit_rows(container, workspace, person)
    read = [a["a"] for a in rows if a["a"]["action"] == "read"][-1]
    assert read["decision"] == "allow" and read["purpose"] == "support"
    assert "traits.phone" in read["fields_masked"] and "traits.national_id" not in read["fields_returned"]
    assert read["request_id"] == r.headers["x-request-id"]
    assert "mei@example.com" not in str(rows)


def test_marketer_cannot_read_raw_profiles_and_denial_is_audited(client, container, workspace, person):
    r = gql(client, PROFILE_Q, token=key(container, workspace, "marketer"), variables={"id": person},
            purpose="marketing")
    assert codes(r) == ["FORBIDDEN"] and r.json()["data"] is None
    denied = [a["a"] for a in audit_rows(container, workspace) if a["a"]["decision"] == "deny"]
    assert denied and denied[-1]["reason"] == "forbidden" and denied[-1]["role"] == "marketer"


def test_other_workspace_profile_looks_missing(client, container, workspace, person):
    other = key(container, workspace + "-b", "support_agent")
    r = gql(client, PROFILE_Q, token=other, variables={"id": person})
    missing = gql(client, PROFILE_Q, token=other, variables={"id": "no-such-profile"})
    assert codes(r) == codes(missing) == ["NOT_FOUND"]
    assert r.json()["errors"][0]["message"] == missing.json()["errors"][0]["message"]


def test_no_credentials_write_key_and_no_purpose(client, container, workspace, write_key, person):
    assert codes(gql(client, PROFILE_Q, variables={"id": person})) == ["UNAUTHENTICATED"]
    r = gql(client, PROFILE_Q, token=write_key, variables={"id": person})
    assert codes(r) == ["UNAUTHENTICATED"] and "ingest" in r.json()["errors"][0]["message"]
    r = gql(client, PROFILE_Q, token=key(container, workspace, "support_agent"), variables={"id": person},
            purpose=None)
    assert codes(r) == ["PURPOSE_REQUIRED"]


def test_consent_gate_grant_then_withdraw_takes_effect_on_next_read(client, container, workspace, person):
    app_key, support = key(container, workspace, "app"), key(container, workspace, "support_agent")
    q = "query($id: ID!) { profile(id: $id, purpose: marketing) { id consentRecordId lawfulBasis } }"
    first = gql(client, q, token=app_key, variables={"id": person})
    assert codes(first) == ["CONSENT_DENIED"]
    grant = """mutation($id: ID!) { recordConsent(profileId: $id, purposeOfConsent: marketing, channel: any,
      granted: true, noticeVersion: "v3", noticeText: "我們會寄送優惠") { id status noticeHash } }"""
    g = gql(client, grant, token=support, variables={"id": person})
    assert g.json()["data"]["recordConsent"]["status"] == "granted", g.text
    ok = gql(client, q, token=app_key, variables={"id": person})
    assert ok.json()["data"]["profile"]["consentRecordId"] == g.json()["data"]["recordConsent"]["id"]
    assert ok.json()["data"]["profile"]["lawfulBasis"] == "consent"
    w = gql(client, """mutation($id: ID!) { withdrawConsent(profileId: $id, purposeOfConsent: marketing,
      channel: any) { status } }""", token=support, variables={"id": person})
    assert w.json()["data"]["withdrawConsent"]["status"] == "withdrawn"
    assert codes(gql(client, q, token=app_key, variables={"id": person})) == ["CONSENT_DENIED"]
    history = gql(client, 'query($id: ID!) { consents(profileId: $id) { status } }', token=support,
                  variables={"id": person})
    assert [c["status"] for c in history.json()["data"]["consents"]] == ["granted", "withdrawn"]


def test_audit_failure_means_no_data_and_503(container, workspace, person):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.container import build_container

    broken = build_container(app=container.app, neo=container.neo4j, collect=container.collect)
    broken.audit.repo = mock.create_autospec(type(broken.audit.repo), instance=True)
    broken.audit.repo.append.side_effect = neo4j.exceptions.ServiceUnavailable("down")
    broken.audit.repo.append_many.side_effect = neo4j.exceptions.ServiceUnavailable("down")
    try:
        with TestClient(create_app(broken)) as c:
            r = gql(c, PROFILE_Q, token=key(container, workspace, "support_agent"), variables={"id": person})
        assert r.status_code == 503 and codes(r) == ["AUDIT_UNAVAILABLE"]
        assert r.json()["data"] is None and "example.com" not in r.text
    finally:
        broken.close()


def test_policy_change_at_run_time_is_seen_by_another_worker(client, container, workspace, person):
    from api.container import build_container

    admin = key(container, workspace, "admin")
    analyst = key(container, workspace, "analyst")
    q = 'query($id: ID!) { interactions(profileId: $id, purpose: analytics) { nodes { event } } }'
    assert "errors" not in gql(client, q, token=analyst, variables={"id": person}).json()
    other_worker = build_container(app=container.app, neo=container.neo4j, collect=container.collect)
    try:
        principal = other_worker.auth.authenticate_api_key(analyst)
        assert other_worker.pipeline.authz.allowed(principal, "profile.interactions", "read")
        r = gql(client, """mutation { setPolicyRule(role: analyst, resource: "profile.interactions",
                action: "read", effect: "deny") }""", token=admin)
        assert r.json()["data"]["setPolicyRule"] is True, r.text
        time.sleep(1.1)
        assert not other_worker.pipeline.authz.allowed(principal, "profile.interactions", "read")
        assert codes(gql(client, q, token=analyst, variables={"id": person})) == ["FORBIDDEN"]
        change = [a["a"] for a in audit_rows(container, workspace) if a["a"]["action"] == "policy_change"]
        assert change and change[-1]["reason"] == "rule_added"
    finally:
        other_worker.close()


def test_staff_login_and_role_assignment(client, container, workspace, person):
    admin = key(container, workspace, "admin")
    uid = gql(client, f'mutation {{ createUser(username: "agent-{workspace}", password: "correct horse battery") }}', token=admin).json()["data"]["createUser"]
    login = 'mutation { login(username: "agent-%s", password: "%s", workspace: "%s") { token roles } }'
    assert codes(gql(client, login % (workspace, "correct horse battery", workspace))) == ["UNAUTHENTICATED"]
    assert gql(client, 'mutation($u: String!) { assignRole(userId: $u, role: support_agent) }', token=admin,
               variables={"u": uid}).json()["data"]["assignRole"] is True
    assert codes(gql(client, login % (workspace, "wrong password!!", workspace))) == ["UNAUTHENTICATED"]
    ok = gql(client, login % (workspace, "correct horse battery", workspace)).json()["data"]["login"]
    assert ok["roles"] == ["support_agent"]
    r = gql(client, PROFILE_Q, token=ok["token"], variables={"id": person})
    assert r.json()["data"]["profile"]["id"] == person
    logins = [a["a"] for a in audit_rows(container, workspace) if a["a"]["action"] == "login"]
    assert [x["decision"] for x in logins] == ["deny", "deny", "allow"]


def test_profiles_are_cursor_paginated(client, container, workspace, person):
    container.ingest.ingest([{"type": "identify", "userId": f"pg-{i}", "messageId": f"pg-{i}"} for i in range(4)],
                            workspace=workspace, source="test")
    token = key(container, workspace, "support_agent")
    q = 'query($a: String) { profiles(first: 2, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }'
    seen, after = [], None
    for _ in range(5):
        page = gql(client, q, token=token, variables={"a": after}).json()["data"]["profiles"]
        seen += [e["node"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert len(seen) == 5 == len(set(seen)) and person in seen
    too_big = gql(client, 'query { profiles(first: 1000) { edges { cursor } } }', token=token)
    assert codes(too_big) == ["BAD_REQUEST"]


def test_interactions_filtered_by_type(client, container, workspace, person):
    token = key(container, workspace, "support_agent")
    r = gql(client, 'query($id: ID!) { interactions(profileId: $id, type: "Order Completed") { nodes { event orderId } } }',
            token=token, variables={"id": person})
    assert r.json()["data"]["interactions"]["nodes"] == [{"event": "Order Completed", "orderId": "o1"}]


def test_hardening_limits_introspection_suggestions_and_masked_errors(client, container, workspace, person):
    token = key(container, workspace, "support_agent")
    assert codes(gql(client, "{ __schema { types { name } } }", token=token))
    r = gql(client, "query($id: ID!) { profile(id: $id) { idd } }", token=token, variables={"id": person})
    assert "Did you mean" not in r.text and r.status_code in (200, 400)
    aliases = " ".join(f"a{i}: profile(id: \"x\") {{ id }}" for i in range(20))
    assert "errors" in gql(client, "{ " + aliases + " }", token=token).json()
    deep = "{ profile(id: \"x\") { " + "traits { name " * 10 + "}" * 10 + " } }"
    assert "errors" in gql(client, deep, token=token).json()
    with mock.patch.object(container.pipeline.profiles, "get_with_consents",
                           side_effect=RuntimeError("bolt://127.0.0.1:7688 MATCH (p:Profile) exploded")):
        r = gql(client, PROFILE_Q, token=token, variables={"id": person})
    assert r.json()["errors"][0]["message"] == "internal error"
    assert "7688" not in r.text and "MATCH" not in r.text


def test_compliance_officer_reads_audit_trail_but_not_traits(client, container, workspace, person):
    gql(client, PROFILE_Q, token=key(container, workspace, "support_agent"), variables={"id": person})
    officer = key(container, workspace, "compliance_officer")
    q = 'query($s: String) { auditRecords(subject: $s, purpose: legal_obligation) { seq action decision role fieldsMasked hash } }'
    r = gql(client, q, token=officer, variables={"s": person})
    rows = r.json()["data"]["auditRecords"]
    assert any(x["role"] == "support_agent" and "traits.phone" in x["fieldsMasked"] for x in rows), r.text
    p = gql(client, PROFILE_Q, token=officer, variables={"id": person}, purpose="legal_obligation")
    body = p.json()["data"]["profile"]
    assert body["traits"] == [] and "traits.email" in body["withheld"]
    support = key(container, workspace, "support_agent")
    assert codes(gql(client, q, token=support, variables={"s": person})) == ["FORBIDDEN"]
    # "Who was refused access to this customer, for marketing?"
    gql(client, PROFILE_Q, token=key(container, workspace, "app"), variables={"id": person}, purpose="marketing")
    denied = gql(client, 'query($s: String) { auditRecords(subject: $s, readPurpose: "marketing", decision: "deny", '
                 'purpose: legal_obligation) { role reason } }', token=officer, variables={"s": person})
    assert denied.json()["data"]["auditRecords"] == [{"role": "app", "reason": "no_consent_record"}]


def test_committed_sdl_is_current():
    from pathlib import Path

    from api.graphql.schema import build_schema

    committed = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text(encoding="utf-8")
    assert committed.strip() == build_schema(introspection=False).as_str().strip(), "run `veil graphql-schema -o schema.graphql`"


def test_segment_preview_counts_for_marketers_and_masks_samples(client, container, workspace, person):
    marketer, support = key(container, workspace, "marketer"), key(container, workspace, "support_agent")
    definition = {"type": "and", "conditions": [
        {"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"},
        {"type": "event", "event": "Order Completed", "count": {"op": "at_least", "n": 1},
         "window": {"last": 3650, "unit": "days"}}]}
    q = 'query($d: JSON!) { segmentPreview(definition: $d, purpose: marketing) { count sample { id traits { name value } } } }'
    r = gql(client, q, token=marketer, variables={"d": definition}).json()
    # One matching person: a count under k would single them out, so a marketer sees none (k-anonymity).
    assert r["data"]["segmentPreview"] == {"count": None, "sample": []}, r
    # Support agents may not work with segments at all.
    assert codes(gql(client, q, token=support, variables={"d": definition})) == ["FORBIDDEN"]
    bad = {"type": "trait", "name": "x`}) DETACH DELETE (n) //", "op": "eq", "value": 1}
    r = gql(client, q, token=marketer, variables={"d": bad})
    assert codes(r) == ["BAD_REQUEST"] and r.json()["errors"][0]["extensions"]["issues"][0]["path"] == "name"
    saved = gql(client, 'mutation($d: JSON!) { saveSegment(name: "gold buyers", definition: $d, purpose: marketing) { id name } }',
                token=marketer, variables={"d": definition}).json()
    assert saved["data"]["saveSegment"]["name"] == "gold buyers"
    assert cypher(container, "MATCH (p:Profile {workspace: $w}) RETURN count(p) AS n", w=workspace)[0]["n"] >= 1
