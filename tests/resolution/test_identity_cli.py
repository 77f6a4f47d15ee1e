"""`veil identity` end to end through the CLI against the real Neo4j."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from tests.resolution.test_matching_graph import PLANTED, _background, _events

runner = CliRunner()


def test_run_review_reject_explain_and_errors(container, workspace, neo4j_settings):
    r = container.ingest.ingest(_events(PLANTED + _background(120)), workspace=workspace, source="crm")
    assert not r.rejected
    bad = runner.invoke(app, ["identity", "thresholds", "-w", workspace, "--auto-merge", "0.5", "--review", "0.9"])
    assert bad.exit_code == 1 and "invalid_thresholds" in bad.output
    ok = runner.invoke(app, ["identity", "thresholds", "-w", workspace, "--auto-merge", "0.999", "--review", "0.6"])
    assert ok.exit_code == 0 and json.loads(ok.stdout) == {"auto_merge": 0.999, "review": 0.6}

    run = runner.invoke(app, ["identity", "run", "-w", workspace, "--json"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["mode"] == "full" and report["merged"] == len(report["merge_ids"]) > 0

    listed = runner.invoke(app, ["identity", "review", "-w", workspace, "--json", "--limit", "5"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert items and all(0.6 <= x["probability"] for x in items)
    assert items[0]["evidence"][0][0] == "name"  # labels and weights, no values
    assert "王" not in listed.stdout

    rej = runner.invoke(app, ["identity", "reject", items[0]["id"], "-w", workspace])
    assert rej.exit_code == 0, rej.output
    again = runner.invoke(app, ["identity", "reject", items[0]["id"], "-w", workspace])
    assert again.exit_code == 1 and "already_decided" in again.output

    explained = runner.invoke(app, ["identity", "explain", report["merge_ids"][0], "-w", workspace])
    assert explained.exit_code == 0, explained.output
    info = json.loads(explained.stdout)
    assert info["rule"] == "probabilistic" and info["probability"] >= 0.999 and info["evidence"]

    undo = runner.invoke(app, ["identity", "unmerge", report["merge_ids"][0], "-w", workspace])
    assert undo.exit_code == 0, undo.output
    missing = runner.invoke(app, ["identity", "approve", "nope", "-w", workspace])
    assert missing.exit_code == 1 and "candidate_not_found" in missing.output
    wrong_status = runner.invoke(app, ["identity", "review", "-w", workspace, "--status", "bogus"])
    assert wrong_status.exit_code == 1 and "invalid_status" in wrong_status.output
