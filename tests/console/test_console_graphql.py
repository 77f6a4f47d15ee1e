"""The GraphQL queries the console added: role-checked, audited, bad input answered with a code."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

from tests.api.test_graphql import audit_rows, codes, gql, key

EXPORT = """query($f: String!, $s: String) { auditExport(format: $f, subject: $s) {
  format records firstSeq lastSeq content } }"""
CHAIN = "{ auditChainStatus { ok checked verifiedFrom lastSeq headSeq brokenSeq problem checkpointSeq } }"
FULL = "{ auditChainStatus(full: true) { ok verifiedFrom brokenSeq } }"


def _person(container, workspace):
    return container.ingest.ingest([{"type": "identify", "userId": "cg-1", "messageId": "cg-1",
                                     "timestamp": "2026-10-01T00:00:00Z",
                                     "traits": {"email": "cg@example.com", "member_tier": "gold"}}],
                                   workspace=workspace, source="test").profiles[0]


def test_viewer_lists_roles_and_abilities(client, container, workspace):
    r = gql(client, "{ viewer { kind workspace roles abilities } }", token=key(container, workspace, "marketer"),
            purpose=None).json()
    v = r["data"]["viewer"]
    assert v["workspace"] == workspace and v["roles"] == ["marketer"] and v["kind"] == "api_key"
    assert "segments:read" in v["abilities"] and "aggregates:read" in v["abilities"]
    assert "audit:read" not in v["abilities"] and "profile:read" not in v["abilities"]
    assert codes(gql(client, "{ viewer { id } }", purpose=None)) == ["UNAUTHENTICATED"]


def test_audit_export_of_a_filtered_view_is_audited_and_role_checked(client, container, workspace):
    pid = _person(container, workspace)
    support, officer = key(container, workspace, "support_agent"), key(container, workspace, "compliance_officer")
    assert "errors" not in gql(client, "query($id: ID!) { profile(id: $id) { id } }", token=support,
                               variables={"id": pid}).json()
    r = gql(client, EXPORT, token=officer, purpose="legal_obligation", variables={"f": "csv", "s": pid}).json()
    e = r["data"]["auditExport"]
    rows = list(csv.DictReader(io.StringIO(e["content"])))
    assert e["records"] == len(rows) >= 1 and {row["subject"] for row in rows} == {pid}
    assert any(row["action"] == "read" and row["role"] == "support_agent" for row in rows)
    j = gql(client, EXPORT, token=officer, purpose="legal_obligation", variables={"f": "jsonl", "s": pid}).json()
    lines = [json.loads(x) for x in j["data"]["auditExport"]["content"].splitlines()]
    assert len(lines) == e["records"] + 1  # the CSV export itself is now on the person's trail
    exports = [a["a"] for a in audit_rows(container, workspace, pid) if a["a"]["action"] == "export"]
    assert [x["reason"] for x in exports] == ["console_export", "console_export"]
    # Support agents may not export the trail; the denial is audited too.
    assert codes(gql(client, EXPORT, token=support, variables={"f": "csv"})) == ["FORBIDDEN"]
    assert any(a["a"]["resource"] == "audit" and a["a"]["decision"] == "deny" for a in audit_rows(container, workspace))
    bad = gql(client, EXPORT, token=officer, purpose="legal_obligation", variables={"f": "xlsx"})
    assert codes(bad) == ["BAD_REQUEST"] and "format" in bad.json()["errors"][0]["message"]


def test_chain_status_verifies_and_is_audited(client, container, workspace):
    officer = key(container, workspace, "compliance_officer")
    s = gql(client, CHAIN, token=officer, purpose="legal_obligation").json()["data"]["auditChainStatus"]
    # The chain is the database's (a shared one may hold checkpoints signed by other installations):
    # the answer must be the service's verification over the range it names.
    truth = container.audit.verify(after_seq=s["verifiedFrom"])
    assert (s["ok"], s["brokenSeq"]) == (truth.ok, truth.broken_seq)
    assert s["problem"] == (truth.problem.value if truth.problem else None)
    assert s["headSeq"] >= (s["lastSeq"] or 0)
    assert s["checkpointSeq"] is None or s["verifiedFrom"] == s["checkpointSeq"]
    full = gql(client, FULL, token=officer, purpose="legal_obligation").json()["data"]["auditChainStatus"]
    assert full["verifiedFrom"] == 0 and (full["brokenSeq"] is None) == full["ok"]
    if s["verifiedFrom"] == 0:
        assert (full["ok"], full["brokenSeq"]) == (s["ok"], s["brokenSeq"])
    assert any(a["a"]["resource"] == "audit.chain" for a in audit_rows(container, workspace))
    assert codes(gql(client, CHAIN, token=key(container, workspace, "marketer"), purpose="marketing")) == ["FORBIDDEN"]


def test_segment_vocabulary_and_ingestion_health_are_role_checked(client, container, workspace):
    _person(container, workspace)
    marketer, engineer = key(container, workspace, "marketer"), key(container, workspace, "data_engineer")
    v = gql(client, "{ segmentVocabulary { traits identifierTypes } }", token=marketer, purpose="marketing").json()
    assert "member_tier" in v["data"]["segmentVocabulary"]["traits"]
    assert "email" in v["data"]["segmentVocabulary"]["identifierTypes"]
    q = "{ ingestionHealth { profilesActive neo4jReachable schemaVersion schemaExpected auditHeadSeq } }"
    h = gql(client, q, token=engineer).json()["data"]["ingestionHealth"]
    assert h["profilesActive"] == 1 and h["neo4jReachable"] and h["schemaVersion"] == h["schemaExpected"]
    assert codes(gql(client, q, token=marketer, purpose="marketing")) == ["FORBIDDEN"]


def test_dsr_package_downloads_a_finished_access_request(client, container, workspace):
    pid = _person(container, workspace)
    officer = key(container, workspace, "compliance_officer")
    case = gql(client, "mutation($p: ID!) { createDsr(kind: ACCESS, profileId: $p) { id } }", token=officer,
               purpose="legal_obligation", variables={"p": pid}).json()["data"]["createDsr"]["id"]
    q = "query($id: ID!) { dsrPackage(id: $id) { filename contentBase64 size } }"
    assert codes(gql(client, q, token=officer, purpose="legal_obligation", variables={"id": case})) == ["BAD_REQUEST"]
    for _ in range(3):  # received -> verified -> approved -> running (runs) -> done
        r = gql(client, "mutation($id: ID!) { advanceDsr(id: $id) { state } }", token=officer,
                purpose="legal_obligation", variables={"id": case}).json()
        assert "errors" not in r, r
    p = gql(client, q, token=officer, purpose="legal_obligation", variables={"id": case}).json()["data"]["dsrPackage"]
    data = base64.b64decode(p["contentBase64"])
    assert p["size"] == len(data) and p["filename"].endswith(".zip")
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_root_redirects_to_console_with_security_headers(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    js = client.get("/console/static/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["content-security-policy"] == csp
    assert client.get("/console/static/vendor/chart.umd.min.js").status_code == 200
    assert client.get("/console/static/../../api/app.py").status_code == 404


def test_console_session_cookie_is_httponly_strict_and_needs_the_csrf_header(client, container, workspace):
    _person(container, workspace)
    officer = key(container, workspace, "compliance_officer")
    bad = client.post("/console/session", headers={"Authorization": "Bearer vk_not-a-key"})
    assert bad.status_code == 401 and bad.json()["success"] is False and bad.json()["code"]
    r = client.post("/console/session", headers={"Authorization": f"Bearer {officer}"})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert officer not in r.text  # the page gets the CSRF value, never the token
    csrf = r.json()["csrf"]
    q = {"query": "{ viewer { roles } }"}
    # With the cookie but no CSRF header the request is anonymous; a wrong header is refused.
    anon = client.post("/graphql", json=q)
    assert codes(anon) == ["UNAUTHENTICATED"]
    forged = client.post("/graphql", json=q, headers={"X-Veil-CSRF": "0" * 40})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    ok = client.post("/graphql", json=q, headers={"X-Veil-CSRF": csrf})
    assert ok.json()["data"]["viewer"]["roles"] == ["compliance_officer"]
    assert client.delete("/console/session", headers={"X-Veil-CSRF": "nope"}).status_code == 403
    out = client.delete("/console/session", headers={"X-Veil-CSRF": csrf})
    assert out.status_code == 200 and 'veil_console=""' in out.headers["set-cookie"]
    client.cookies.clear()
    assert codes(client.post("/graphql", json=q, headers={"X-Veil-CSRF": csrf})) == ["UNAUTHENTICATED"]
