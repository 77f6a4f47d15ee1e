"""The `veil` CLI: sources, member import with a row-level report, export, profile explain."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def test_sources_create_prints_a_working_key(container, client, workspace, neo4j_settings):
    r = runner.invoke(app, ["sources", "create", "--name", "pos", "--workspace", workspace, "--json"])
    assert r.exit_code == 0, r.output
    key = json.loads(r.stdout)["write_key"]
    resp = client.post("/v1/identify", json={"userId": "cli-1"}, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200


def test_import_members_reports_bad_rows_and_keeps_good_ones(container, workspace, tmp_path, neo4j_settings):
    csv_path = tmp_path / "members.csv"
    csv_path.write_text(
        "會員編號,姓名,Mobile Phone,email,birthday,tier\n"
        "M001,王小明,0912-345-678,Ming@Example.com,1990-01-02,gold\n"
        ",沒有編號,0922-000-111,x@example.com,,\n"
        "M002,陳大文,+852 9123 4567,dw@example.com,1985-05-06,silver,extra\n"
        "M003,林美玲,0933-222-444,mei@example.com,1992-03-04,basic\n",
        encoding="utf-8")
    report = tmp_path / "report.json"
    r = runner.invoke(app, ["import", "members", str(csv_path), "--workspace", workspace,
                            "--map", "phone=Mobile Phone", "--report", str(report)])
    assert r.exit_code == 0, r.output
    data = json.loads(report.read_text())
    assert data["stored"] == 2 and data["failed"] == 2
    assert [e["line"] for e in data["errors"]] == [3, 4]
    p = container.profiles.find_by_identifier(workspace=workspace, kind="phone", value="+886912345678")
    assert p.traits["name"] == "王小明" and p.traits["email"] == "ming@example.com"
    assert ("member_id", "M001") in p.identifiers

    out = tmp_path / "profiles.jsonl"
    r = runner.invoke(app, ["export", "profiles", "--purpose", "support", "--workspace", workspace, "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # Masked for the operator's role and the declared purpose, like a GraphQL read.
    assert sorted(row["traits"]["member_id"] for row in rows) == ["M**1", "M**3"]
    assert {row["purpose"] for row in rows} == {"support"}

    r = runner.invoke(app, ["profiles", "show", "--purpose", "legal_obligation", "--identifier", "member_id:M003",
                            "--workspace", workspace])
    assert r.exit_code == 0 and "林美玲" in r.stdout


def test_import_events_jsonl_with_broken_lines(container, workspace, tmp_path, neo4j_settings):
    path = tmp_path / "history.jsonl"
    path.write_text(
        '{"type":"track","userId":"h1","event":"Order Completed","messageId":"h-1",'
        '"properties":{"order_id":"1","products":[{"sku":"milk","category":"dairy","price":1,"quantity":1}]}}\n'
        '{broken\n'
        '{"type":"track","event":"no id","messageId":"h-3"}\n', encoding="utf-8")
    r = runner.invoke(app, ["import", "events", str(path), "--workspace", workspace])
    assert r.exit_code == 0, r.output
    assert "stored 1" in r.output and "failed 2" in r.output
    assert "line 2: invalid_row" in r.output and "line 3: missing_identity" in r.output


def test_import_members_bad_mapping_is_a_usage_error(tmp_path):
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("member_id\nM1\n")
    r = runner.invoke(app, ["import", "members", str(csv_path), "--map", "nonsense"])
    assert r.exit_code == 2
