"""`veil log ...` through the real CLI: status, drain (into the real Neo4j), dead letters and replay."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from collect.log.base import Poison
from collect.log.settings import LogSettings
from collect.log.sqlite import SqliteLog
from tests.conftest import cypher

runner = CliRunner()


def test_status_drain_dead_letters_and_replay(container, workspace, tmp_path, monkeypatch):
    path = tmp_path / "events.db"
    monkeypatch.setenv("VEIL_LOG_PATH", str(path))
    monkeypatch.setenv("VEIL_NEO4J_URI", container.neo4j.uri)
    log = SqliteLog(LogSettings(path=path))
    events = [{"type": "track", "userId": "cli-1", "event": "Viewed", "messageId": f"cl{i}"} for i in range(3)]
    log.append(workspace=workspace, source="test", received_at="2026-12-01T00:00:00+00:00", sent_at=None,
               forced_type=None, sec_gpc=None, events=events, keys=[f"{workspace}|cl{i}" for i in range(3)])
    r = runner.invoke(app, ["log", "status"])
    assert r.exit_code == 0, r.output
    status = json.loads(r.stdout)
    assert (status["backend"], status["pending_events"]) == ("sqlite", 3)

    r = runner.invoke(app, ["log", "drain"])
    assert r.exit_code == 0, r.output
    rows = cypher(container, "MATCH (e:Interaction {workspace: $w}) RETURN e.message_id AS m ORDER BY m", w=workspace)
    assert [x["m"] for x in rows] == ["cl0", "cl1", "cl2"]
    assert json.loads(runner.invoke(app, ["log", "status"]).stdout)["pending_events"] == 0
    assert runner.invoke(app, ["log", "wait", "--timeout", "5"]).exit_code == 0

    # A dead letter (as a writer records it), listed and replayed into the graph.
    late = {"type": "track", "userId": "cli-1", "event": "Viewed", "messageId": "cl9"}
    log.append(workspace=workspace, source="test", received_at="2026-12-01T00:00:00+00:00", sent_at=None,
               forced_type=None, sec_gpc=None, events=[late], keys=[f"{workspace}|cl9"])
    [entry] = log.read(10)
    log.settle([entry], dead=[Poison(entry, late, "cl9", "write_failed", "ValueError: boom")])
    r = runner.invoke(app, ["log", "dead-letters", "--workspace", workspace, "--json"])
    [dl] = [json.loads(line) for line in r.stdout.splitlines()]
    assert (dl["message_id"], dl["code"], dl["reason"], dl["replayable"]) == ("cl9", "write_failed",
                                                                              "ValueError: boom", True)
    assert runner.invoke(app, ["log", "replay", str(dl["id"])]).exit_code == 0
    assert runner.invoke(app, ["log", "drain"]).exit_code == 0
    rows = cypher(container, "MATCH (e:Interaction {workspace: $w, message_id: 'cl9'}) RETURN count(e) AS n",
                  w=workspace)
    assert rows[0]["n"] == 1
    log.close()
