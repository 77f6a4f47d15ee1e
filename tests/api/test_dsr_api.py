"""Data-subject requests through GraphQL (compliance officers) and the `veil dsr` CLI."""

from __future__ import annotations

import json
import zipfile

from typer.testing import CliRunner

from api.cli import app
from api.cli.common import operator_name
from tests.api.test_graphql import codes, gql, key
from tests.conftest import cypher

runner = CliRunner()
CASE = "id kind subject state dueAt overdue history { state actor } result"
CREATE_Q = f"""mutation($t: String!, $v: String!, $k: DsrKind!) {{
  createDsr(kind: $k, identifierType: $t, identifierValue: $v) {{ {CASE} }} }}"""
ADVANCE_Q = f"mutation($id: ID!, $to: DsrState) {{ advanceDsr(id: $id, to: $to) {{ {CASE} }} }}"
LIST_Q = f"query($o: Boolean!) {{ dsrCases(overdue: $o) {{ {CASE} }} }}"


def _person(container, workspace, uid):
    r = container.ingest.ingest([{"type": "identify", "userId": uid, "messageId": f"{uid}-1",
                                  "traits": {"email": f"{uid}@example.com"}}], workspace=workspace, source="t")
    return r.profiles[0]


def test_compliance_officer_runs_a_case_over_graphql(client, container, workspace):
    pid = _person(container, workspace, "gq-dsr")
    co = key(container, workspace, "compliance_officer")
    r = gql(client, CREATE_Q, token=co, purpose="legal_obligation",
            variables={"t": "email", "v": " GQ-DSR@example.com ", "k": "OBJECTION"})
    assert "errors" not in r.json(), r.text
    case = r.json()["data"]["createDsr"]
    assert (case["subject"], case["state"], case["overdue"]) == (pid, "received", False)

    bad = gql(client, ADVANCE_Q, token=co, purpose="legal_obligation", variables={"id": case["id"], "to": "DONE"})
    assert codes(bad) == ["BAD_REQUEST"] and bad.json()["errors"][0]["extensions"]["reason"] == "invalid_transition"
    for expected in ("verified", "approved", "done"):
        r = gql(client, ADVANCE_Q, token=co, purpose="legal_obligation", variables={"id": case["id"]})
        assert r.json()["data"]["advanceDsr"]["state"] == expected, r.text
    done = r.json()["data"]["advanceDsr"]
    assert [h["state"] for h in done["history"]] == ["received", "verified", "approved", "running", "done"]
    assert "consent_record_id" in done["result"]

    listed = gql(client, LIST_Q, token=co, purpose="legal_obligation", variables={"o": False}).json()
    assert [c["id"] for c in listed["data"]["dsrCases"]] == [case["id"]]
    assert gql(client, LIST_Q, token=co, purpose="legal_obligation", variables={"o": True}).json()[
        "data"]["dsrCases"] == []

    agent = key(container, workspace, "support_agent")
    assert codes(gql(client, LIST_Q, token=agent, variables={"o": False})) == ["FORBIDDEN"]
    missing = gql(client, CREATE_Q, token=co, purpose="legal_obligation",
                  variables={"t": "email", "v": "nobody@example.com", "k": "ACCESS"})
    assert codes(missing) == ["NOT_FOUND"]
    steps = cypher(container, "MATCH (a:AuditRecord {workspace: $w, action: 'dsr', subject: $s}) "
                              "RETURN a.reason AS r ORDER BY a.seq", w=workspace, s=pid)
    assert [s["r"] for s in steps] == ["received", "verified", "approved", "running", "done"]


def test_cli_create_list_advance_show_export(container, workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("VEIL_PRIVACY_DSR_EXPORT_DIR", str(tmp_path / "exports"))
    pid = _person(container, workspace, "cli-dsr")
    r = runner.invoke(app, ["dsr", "create", "access", "--identifier", "email:CLI-DSR@example.com",
                            "-w", workspace, "--json"])
    assert r.exit_code == 0, r.output
    case = json.loads(r.stdout)
    assert case["subject"] == pid and case["state"] == "received"
    r = runner.invoke(app, ["dsr", "advance", case["id"], "--to", "running", "-w", workspace])
    assert r.exit_code == 1 and "invalid_transition" in r.output
    for _ in range(3):
        r = runner.invoke(app, ["dsr", "advance", case["id"], "-w", workspace, "--json"])
        assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "done"
    r = runner.invoke(app, ["dsr", "list", "-w", workspace, "--json"])
    assert [c["id"] for c in json.loads(r.stdout)] == [case["id"]]
    r = runner.invoke(app, ["dsr", "show", case["id"], "-w", workspace])
    assert r.exit_code == 0 and "done" in r.stdout
    out = tmp_path / "amy.zip"
    r = runner.invoke(app, ["dsr", "export", case["id"], "--out", str(out), "-w", workspace])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as z:
        assert json.loads(z.read("profile.json"))["id"] == pid
    actors = cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s}) WHERE a.action IN ['dsr', 'export'] "
                               "RETURN DISTINCT a.actor AS a", w=workspace, s=pid)
    assert [a["a"] for a in actors] == [f"operator:{operator_name()}"]
