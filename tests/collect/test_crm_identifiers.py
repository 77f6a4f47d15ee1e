"""CRM columns declared as identifiers (`veil import members|events --identifier type=Column`):
rows sharing a national ID, card number or phone end as one profile, merges in the ledger."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from collect.importer import member_rows_to_events, parse_identifiers
from tests.conftest import cypher

runner = CliRunner()
RULES = {"types": {
    "user_id": {"priority": 100, "max_per_profile": 1}, "national_id": {"priority": 95, "max_per_profile": 1},
    "member_id": {"priority": 90, "max_per_profile": 1}, "loyalty_card": {"priority": 85, "max_per_profile": 2},
    "email": {"priority": 80, "max_per_profile": 5}, "phone": {"priority": 70, "max_per_profile": 3},
    "crm_member": {"priority": 40, "max_per_profile": None}, "device_id": {"priority": 30, "max_per_profile": None},
    "anonymous_id": {"priority": 10, "max_per_profile": None},
}}
CSV = """會員編號,姓名,身分證字號,卡號,會員等級
C001,王小明,A123456789,CARD-1,gold
C002,王小明,A123456789,,silver
C003,陳美美,B234567890,CARD-3,gold
C004,陳美美,,CARD-3,
C005,林大同,C345678901,,
"""


def _profiles(container, workspace: str, kind: str, value: str) -> set[str]:
    key = container.vault.identifier_key(workspace, kind, value)
    rows = cypher(container, "MATCH (:Identifier {key: $k})-[:IDENTIFIES]->(p:Profile {status: 'active'}) "
                             "RETURN p.id AS id", k=key)
    return {r["id"] for r in rows}


def _import(tmp_path, workspace: str, *extra: str):
    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")
    return runner.invoke(app, ["import", "members", str(path), "--workspace", workspace,
                               "--member-id-type", "crm_member", *extra])


def test_rows_sharing_a_declared_identifier_merge_with_ledger(container, workspace, tmp_path, monkeypatch):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    monkeypatch.setenv("VEIL_COLLECT_IDENTITY_RULES_FILE", str(rules))
    # First import without declared identifiers: five CRM records, five profiles (the duplicates stay).
    r = _import(tmp_path, workspace)
    assert r.exit_code == 0, r.output
    members = {m: _profiles(container, workspace, "crm_member", m) for m in ("C001", "C002", "C003", "C004", "C005")}
    assert len({p for ps in members.values() for p in ps}) == 5
    # Re-import declaring the national ID and the loyalty card as identifiers: duplicates merge.
    r = _import(tmp_path, workspace, "--identifier", "national_id=身分證字號", "--identifier", "loyalty card=卡號")
    assert r.exit_code == 0, r.output
    assert "identifier national_id: priority 95, at most 1 per profile" in r.output
    same = lambda *ms: {p for m in ms for p in _profiles(container, workspace, "crm_member", m)}
    assert len(same("C001", "C002")) == 1 and len(same("C003", "C004")) == 1
    assert len(same("C001", "C003", "C005")) == 3
    assert same("C001") == _profiles(container, workspace, "national_id", "A123456789")
    assert same("C003") == _profiles(container, workspace, "loyalty_card", "CARD-3")
    # The ledger names the CRM row (its messageId) whose declared identifier joined the two records.
    ledger = cypher(container, "MATCH (m:Merge {workspace: $w}) RETURN m.rule AS rule, m.message_id AS mid, "
                               "m.winner AS winner, m.loser AS loser", w=workspace)
    assert sorted(r["mid"].split("-")[2] for r in ledger) == ["C002", "C004"], ledger
    assert {r["winner"] for r in ledger} == same("C001", "C003")
    assert {r["loser"] for r in ledger} == {p for ps in (members["C002"], members["C004"]) for p in ps}


def test_user_id_member_numbers_keep_people_apart_by_default(container, workspace, tmp_path):
    """Without --member-id-type the member number is the login user id (one per profile), as before."""
    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")
    r = runner.invoke(app, ["import", "members", str(path), "--workspace", workspace,
                            "--identifier", "national_id=身分證字號"])
    assert r.exit_code == 0, r.output
    assert "not in the identity rules" in r.output  # default rules: the custom type gets priority 50
    assert _profiles(container, workspace, "user_id", "C001") != _profiles(container, workspace, "user_id", "C002")


def test_identifier_declarations_are_validated():
    assert parse_identifiers(["Loyalty Card=卡號"]) == {"卡號": "loyalty_card"}
    for bad in ("national_id", "=col", "user_id=X"):
        try:
            parse_identifiers([bad])
        except ValueError:
            continue
        raise AssertionError(bad)
    rows = iter([{"會員編號": "C9", "身分證字號": " A1 ", "x": ""}])
    (_line, event, _err), = member_rows_to_events(rows, mapping={}, file_tag="t", identifiers={"身分證字號": "national_id"})
    assert event["context"]["externalIds"] == [{"type": "national_id", "id": "A1"}]


def test_import_events_adds_identifiers_from_a_path(container, workspace, tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [{"type": "track", "anonymousId": f"pos-{i}", "event": "Order Completed", "messageId": f"ev-{i}-{workspace}",
              "traits": {"card": "CARD-77"}} for i in range(2)]
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    r = runner.invoke(app, ["import", "events", str(path), "--workspace", workspace,
                            "--identifier", "loyalty_card=traits.card"])
    assert r.exit_code == 0, r.output
    assert _profiles(container, workspace, "anonymous_id", "pos-0") == _profiles(container, workspace,
                                                                                "anonymous_id", "pos-1")
