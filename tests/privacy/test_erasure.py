"""Erasure by crypto-shredding: the restored-backup test, suppression, GraphQL and CLI."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import structlog
from structlog.testing import capture_logs
from typer.testing import CliRunner

from api.cli import app
from collect.service import IngestService
from privacy.vault import is_sealed
from tests.conftest import basic, cypher

EMAIL, PHONE, NAME = "erase.me@example.com", "+886933222444", "陳小華"
OTHER_EMAIL = "keep.me@example.com"


def _send(client, write_key, events):
    r = client.post("/v1/batch", json={"batch": events}, headers=basic(write_key))
    assert r.status_code in (200, 400), r.text
    return r.json()


def _person(client, write_key, container, workspace) -> str:
    """A person with two merged profiles (web cookie, then a login) and a neighbour who stays."""
    _send(client, write_key, [
        {"type": "identify", "anonymousId": "er-cookie", "messageId": "er1", "timestamp": "2026-10-01T00:00:00Z",
         "traits": {"name": NAME, "phone": "0933-222-444"}, "context": {"ip": "198.51.100.7"}},
        {"type": "track", "anonymousId": "er-cookie", "event": "Viewed", "messageId": "er2",
         "timestamp": "2026-10-01T00:01:00Z", "properties": {"note": NAME}},
        {"type": "identify", "userId": "er-user", "messageId": "er3", "timestamp": "2026-10-01T00:02:00Z",
         "traits": {"email": EMAIL, "member_tier": "gold"}},
        {"type": "identify", "userId": "er-user", "anonymousId": "er-cookie", "messageId": "er4",
         "timestamp": "2026-10-01T00:03:00Z"},
        {"type": "identify", "userId": "keep-user", "messageId": "er5", "timestamp": "2026-10-01T00:04:00Z",
         "traits": {"email": OTHER_EMAIL, "name": "王大明", "member_tier": "gold"}},
    ])
    p = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=EMAIL)
    assert p is not None and p.traits["name"] == NAME and ("phone", PHONE) in p.identifiers
    assert cypher(container, "MATCH (m:Merge {workspace: $w}) RETURN count(m) AS n", w=workspace)[0]["n"] == 1
    return p.id


def _backup(container, workspace) -> dict:
    """'The backup': every node and relationship of the workspace, exported with Cypher.
    Data keys are not in it, because they are not in the graph. The audit chain is global and
    append-only, so it is left out: rolling it back would be tampering (and break other tests)."""
    nodes = cypher(container, "MATCH (n) WHERE n.workspace = $w AND NOT n:AuditRecord "
                              "RETURN elementId(n) AS id, labels(n) AS labels, "
                              "properties(n) AS props", w=workspace)
    rels = cypher(container, "MATCH (a)-[r]->(b) WHERE a.workspace = $w AND b.workspace = $w "
                             "RETURN elementId(a) AS a, elementId(b) AS b, type(r) AS type, properties(r) AS props",
                  w=workspace)
    return {"nodes": [dict(n) for n in nodes], "rels": [dict(r) for r in rels]}


def _restore(container, workspace, backup) -> None:
    """Put the workspace back exactly as the backup has it (replacing what is there now)."""
    cypher(container, "MATCH (n) WHERE n.workspace = $w AND NOT n:AuditRecord DETACH DELETE n", w=workspace)
    by_labels = defaultdict(list)
    for n in backup["nodes"]:
        by_labels[tuple(sorted(n["labels"]))].append({"bk": n["id"], "props": n["props"]})
    for labels, rows in by_labels.items():
        cypher(container, f"UNWIND $rows AS r CREATE (n:{':'.join(labels)}) SET n = r.props, n._bk = r.bk",
               rows=rows)
    by_type = defaultdict(list)
    for r in backup["rels"]:
        by_type[r["type"]].append(r)
    for kind, rows in by_type.items():
        cypher(container, f"UNWIND $rows AS r MATCH (a {{_bk: r.a}}), (b {{_bk: r.b}}) "
                          f"CREATE (a)-[x:{kind}]->(b) SET x = r.props", rows=rows)
    cypher(container, "MATCH (n) WHERE n.workspace = $w REMOVE n._bk", w=workspace)


def _sealed_values(backup) -> list[str]:
    return [v for n in backup["nodes"] for v in n["props"].values() if is_sealed(v)]


def test_restored_backup_of_an_erased_person_is_unreadable(container, client, workspace, write_key):
    pid = _person(client, write_key, container, workspace)
    other = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=OTHER_EMAIL)
    backup = _backup(container, workspace)
    sealed = _sealed_values(backup)
    mine = [v for v in sealed if v.split(":")[1] != other.id]
    assert len(mine) >= 6
    # Before the erasure the backup is readable with the key store (so the test can fail).
    assert {container.vault.open(v) for v in mine} >= {NAME, EMAIL, PHONE}

    report = container.erase(workspace=workspace, profile_id=pid, actor="system:test", actor_kind="system",
                             reason="DSR-test-1")
    assert report.profiles_erased == 2 and report.keys_shredded == 2 and report.identifiers_deleted >= 4

    _restore(container, workspace, backup)
    container.vault.forget(v.split(":")[1] for v in sealed)  # a fresh process: nothing cached
    assert [container.vault.open(v) for v in mine] == [None] * len(mine)
    text = json.dumps(backup, default=str, ensure_ascii=False)
    assert EMAIL not in text and NAME not in text and "933222444" not in text
    # Reads of the restored graph find the person again (the blind index came back) but no PII.
    back = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=EMAIL)
    assert back is not None and back.id == pid
    assert set(back.traits) == {"member_tier"} and all(t in ("user_id", "anonymous_id") for t, _ in back.identifiers)
    # The neighbour's data, under their own key, is intact.
    kept = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=OTHER_EMAIL)
    assert kept.traits["name"] == "王大明"


def test_erasure_purges_the_live_graph_and_suppresses_the_person(container, client, workspace, write_key):
    pid = _person(client, write_key, container, workspace)
    seg = container.segments.save(workspace=workspace, name="gold",
                                  definition={"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"})
    assert container.segments.evaluate(workspace=workspace, segment_id=seg.id).entered == 2
    report = container.erase(workspace=workspace, profile_id=pid, actor="system:test", actor_kind="system",
                             reason="DSR-test-2")
    assert report.segment_memberships_removed == 1 and report.interactions_deleted == 4
    assert report.identifiers_suppressed == report.identifiers_deleted >= 4
    assert report.merges_scrubbed == 1
    rows = cypher(container, "MATCH (p:Profile {workspace: $w}) WHERE p.status = 'erased' "
                             "RETURN p {.*} AS p", w=workspace)
    assert len(rows) == 2 and all(not any(k.startswith("trait") for k in r["p"]) for r in rows)
    assert cypher(container, "MATCH (p:Profile {workspace: $w})-[:IN_SEGMENT]->() RETURN count(*) AS n",
                  w=workspace)[0]["n"] == 1
    assert container.profiles.get_profile(workspace=workspace, profile_id=pid).status == "erased"

    # Re-sent events with any of the person's identifiers are refused per event, never stored.
    body = _send(client, write_key, [
        {"type": "identify", "userId": "new-person", "messageId": "er6", "traits": {"email": "new@example.com"}},
        {"type": "identify", "anonymousId": "fresh-cookie", "messageId": "er7", "traits": {"email": "Erase.Me@Example.com"}},
        {"type": "track", "userId": "er-user", "event": "Came Back", "messageId": "er8"},
        {"type": "identify", "anonymousId": "fresh-2", "messageId": "er9", "traits": {"phone": "0933 222 444"}},
    ])
    if container.durable is None:  # ack after the graph commit: refused per event in the response
        assert body["stored"] == 1
        assert [(r["index"], r["code"]) for r in body["rejected"]] == [
            (1, "suppressed_identity"), (2, "suppressed_identity"), (3, "suppressed_identity")]
    else:  # ack from the durable log (no graph read at the ack): the writer drops them, counted
        assert body["stored"] == 4
        assert container.durable.writer.stats.suppressed >= 3
    assert container.profiles.find_by_identifier(workspace=workspace, kind="email", value=EMAIL) is None
    assert cypher(container, "MATCH (i:Identifier {workspace: $w}) WHERE i.value IN ['fresh-cookie', 'fresh-2'] "
                             "RETURN count(i) AS n", w=workspace)[0]["n"] == 0
    # The erased person's merge cannot be undone (that would revive a tombstone).
    [merge] = cypher(container, "MATCH (m:Merge {workspace: $w}) RETURN m.id AS id", w=workspace)
    assert container.profiles.undo_merge(workspace=workspace, merge_id=merge["id"], actor="t") is None
    # Erasing again is safe and reports it.
    again = container.erase(workspace=workspace, profile_id=pid, actor="system:test", actor_kind="system",
                            reason="DSR-test-2")
    assert again.already_erased and again.keys_shredded == 0


def test_suppression_can_be_switched_off(container, client, workspace, write_key):
    pid = _person(client, write_key, container, workspace)
    container.erase(workspace=workspace, profile_id=pid, actor="system:test", actor_kind="system", reason="DSR-3")
    svc = IngestService(repo=container.ingest.repo, settings=container.collect, rules=container.rules,
                        vault=container.vault, suppressed=None)
    r = svc.ingest([{"type": "identify", "userId": "x-1", "messageId": "s1", "traits": {"email": EMAIL}}],
                   workspace=workspace, source="t")
    assert r.stored == 1 and not r.rejected
    back = container.profiles.find_by_identifier(workspace=workspace, kind="email", value=EMAIL)
    assert back is not None and back.id != pid and back.traits == {"email": EMAIL}


def _gql(client, token, query, variables):
    return client.post("/graphql", json={"query": query, "variables": variables},
                       headers={"Authorization": f"Bearer {token}", "X-Veil-Purpose": "legal_obligation"}).json()


ERASE = """mutation($id: ID!, $reason: String!) { eraseProfile(profileId: $id, reason: $reason) {
  profileId profilesErased keysShredded identifiersSuppressed alreadyErased } }"""


def test_erase_through_graphql_is_admin_only_audited_and_the_trail_verifies(container, client, workspace,
                                                                              write_key, tmp_path, monkeypatch):
    pid = _person(client, write_key, container, workspace)
    first_seq = cypher(container, "MATCH (a:AuditRecord) RETURN max(a.seq) AS s")[0]["s"] or 0
    key = lambda role: container.auth.create_api_key(workspace=workspace, role=role, name=role, actor="t")[1]
    for role in ("support_agent", "compliance_officer", "data_engineer"):
        r = _gql(client, key(role), ERASE, {"id": pid, "reason": "DSR-9"})
        assert r["errors"][0]["extensions"]["code"] == "FORBIDDEN", r
    admin = key("admin")
    r = _gql(client, admin, ERASE, {"id": pid, "reason": "mail erase.me@example.com"})
    assert r["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    r = _gql(client, admin, ERASE, {"id": "no-such-profile", "reason": "DSR-9"})
    assert r["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    r = _gql(client, admin, ERASE, {"id": pid, "reason": "DSR-9"})
    assert r["data"]["eraseProfile"] == {"profileId": pid, "profilesErased": 2, "keysShredded": 2,
                                         "identifiersSuppressed": 4, "alreadyErased": False}
    r = _gql(client, admin, "query($id: ID!) { profile(id: $id) { id } }", {"id": pid})
    assert r["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    rows = cypher(container, "MATCH (a:AuditRecord {workspace: $w}) WHERE a.resource = 'profile.erasure' "
                             "RETURN a {.*} AS a ORDER BY a.seq", w=workspace)
    assert [(a["a"]["decision"], a["a"]["reason"]) for a in rows][-2:] == [("allow", "erasure_started"),
                                                                            ("allow", "erased")]
    assert sum(a["a"]["decision"] == "deny" for a in rows) == 3
    assert all(a["a"]["subject"] == pid for a in rows)
    trail = json.dumps([a["a"] for a in rows], default=str, ensure_ascii=False)
    assert EMAIL not in trail and NAME not in trail and PHONE not in trail

    monkeypatch.delenv("VEIL_AUDIT_CHECKPOINT_KEY_FILE", raising=False)
    monkeypatch.setenv("VEIL_AUDIT_CHECKPOINT_COPY_FILE", str(tmp_path / "checkpoints.jsonl"))
    saved = structlog.get_config()
    try:
        with capture_logs():
            out = CliRunner().invoke(app, ["audit", "verify", "--after-seq", str(first_seq), "--json"])
    finally:
        structlog.configure(**saved)
    assert out.exit_code == 0 and json.loads(out.stdout)["ok"], out.output


def test_erase_from_the_cli(container, client, workspace, write_key):
    pid = _person(client, write_key, container, workspace)
    runner = CliRunner()
    r = runner.invoke(app, ["profiles", "erase", pid, "--reason", "erase.me@example.com", "-w", workspace, "--yes"])
    assert r.exit_code != 0
    assert container.profiles.get_profile(workspace=workspace, profile_id=pid).status == "active"
    r = runner.invoke(app, ["profiles", "erase", "nope", "--reason", "DSR-5", "-w", workspace, "--yes"])
    assert r.exit_code == 1
    r = runner.invoke(app, ["profiles", "erase", pid, "--reason", "DSR-5", "-w", workspace, "--yes"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout.strip().splitlines()[0])
    assert report["profiles_erased"] == 2 and report["keys_shredded"] == 2
    r = runner.invoke(app, ["profiles", "show", pid, "--purpose", "legal_obligation", "-w", workspace])
    # An erased person is gone for every reader, the CLI included.
    assert r.exit_code == 1 and "not_found" in r.output and NAME not in r.output and EMAIL not in r.output


@pytest.mark.parametrize("reason", ["", "has spaces in it", "x" * 101, "+886933222444"])
def test_erasure_reason_must_be_a_case_reference(container, workspace, reason):
    with pytest.raises(ValueError):
        container.erase(workspace=workspace, profile_id="whatever", actor="system:test", actor_kind="system",
                        reason=reason)
