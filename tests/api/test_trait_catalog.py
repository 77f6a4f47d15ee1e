"""The trait catalog end to end: ingestion over HTTP (redact, reject), GraphQL review and override
(admin only, audited), and read masking that follows the override."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from api.settings import AppSettings
from collect.log.settings import LogSettings
from collect.settings import CollectSettings
from privacy.settings import PrivacySettings
from tests.api.test_graphql import codes, gql, key
from tests.conftest import basic, cypher

CATALOG_Q = "query { traitCatalog { scope key category sensitivity decidedBy actor } }"
SET_Q = """mutation($k: String!, $c: String!) { setTraitCategory(key: $k, category: $c) {
  key category decidedBy actor } }"""
PROFILE_Q = "query($id: ID!) { profile(id: $id) { traits { name value category masking } withheld } }"


def _catalog(container, workspace):
    return {(r["c"]["scope"], r["c"]["key"]): r["c"] for r in cypher(
        container, "MATCH (c:CatalogEntry {workspace: $w}) RETURN c {.*} AS c", w=workspace)}


def test_ingestion_classifies_keys_and_redacts_pii_in_free_text(client, container, workspace, write_key):
    r = client.post("/v1/batch", headers=basic(write_key), json={"batch": [
        {"type": "identify", "userId": "tc-1", "messageId": "tc-m1",
         "traits": {"手機": "0912-345-678", "Email": "Amy@Example.com", "loyalty_ref": "A123456789",
                    "備註": "客人說身分證A123456789，電話0912345678"}},
        {"type": "track", "userId": "tc-1", "event": "Support Chat", "messageId": "tc-m2",
         "properties": {"message": "please call me on +852 9123 4567", "agent_score": 4}},
    ]})
    assert r.status_code == 200 and r.json()["stored"] == 2, r.text
    cat = _catalog(container, workspace)
    assert (cat[("trait", "手機")]["category"], cat[("trait", "手機")]["decided_by"]) == ("contact", "name")
    assert cat[("trait", "Email")]["category"] == "contact"
    assert (cat[("trait", "loyalty_ref")]["category"], cat[("trait", "loyalty_ref")]["decided_by"]) == (
        "government_id", "sampled_values")
    assert cat[("property", "agent_score")]["category"] == "non_pii"
    assert cat[("trait", "備註")]["sensitivity"] == "medium"
    p = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="tc-1")
    assert p.traits["備註"] == "客人說身分證<TW_NATIONAL_ID>，電話<TW_PHONE>"
    props = cypher(container, "MATCH (e:Interaction {workspace: $w, message_id: 'tc-m2'}) RETURN e.properties AS p",
                   w=workspace)[0]["p"]
    assert "9123 4567" not in props  # sealed at rest ...
    opened = container.vault.open(props) if container.vault.enabled else props
    assert json.loads(opened)["message"] == "please call me on <HK_PHONE>"  # ... and redacted before that
    assert "9123 4567" not in opened


@pytest.fixture()
def strict_client(neo4j_settings, tmp_path):
    """An API whose ingest policy rejects government ids in free text and tokenizes card numbers."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "fields": {"contact": "encrypt", "government_id": "reject", "financial": "tokenize", "location": "encrypt",
                   "birth_date": "encrypt", "free_text": "encrypt", "non_pii": "allow"},
        "free_text_findings": {"contact": "redact", "government_id": "reject", "financial": "tokenize",
                               "birth_date": "redact"}}))
    # Direct mode (ack after the graph commit) answers policy refusals in the response; in log mode
    # they become dead letters (tests/collect/test_log_writer.py).
    c = build_container(app=AppSettings(env="test"), neo=neo4j_settings, collect=CollectSettings(),
                        privacy=PrivacySettings(ingest_policy_file=policy), log=LogSettings(backend="direct"))
    with TestClient(create_app(c)) as tc:
        yield tc, c
    c.close()


def test_reject_is_a_per_event_code_and_good_events_are_kept(strict_client, workspace):
    tc, c = strict_client
    wk = c.sources.create(workspace=workspace, name="strict").write_key
    r = tc.post("/v1/batch", headers=basic(wk), json={"batch": [
        {"type": "identify", "userId": "rj-1", "messageId": "rj-1", "traits": {"notes": "ID: A123456789"}},
        {"type": "identify", "userId": "rj-2", "messageId": "rj-2", "traits": {"national_id": "A123456789"}},
        {"type": "identify", "userId": "rj-3", "messageId": "rj-3",
         "traits": {"notes": "card 4111 1111 1111 1111", "card_number": "4111111111111111"}},
    ]})
    body = r.json()
    assert r.status_code == 200 and body["stored"] == 1, r.text
    assert [(x["index"], x["code"], x["field"]) for x in body["rejected"]] == [
        (0, "pii_rejected", "traits.notes"), (1, "pii_rejected", "traits.national_id")]
    assert "A123456789" not in r.text
    p = c.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="rj-3")
    assert p.traits["card_number"].startswith("h:") and p.traits["notes"].startswith("card h:")
    assert c.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="rj-1") is None
    single = tc.post("/v1/identify", headers=basic(wk), json={"userId": "rj-4", "traits": {"notes": "A123456789"}})
    assert single.status_code == 400 and single.json()["error"]["code"] == "pii_rejected"


def test_admin_reviews_and_overrides_the_catalog_and_masking_follows(client, container, workspace):
    container.ingest.ingest([{"type": "identify", "userId": "ov-1", "messageId": "ov-m1",
                              "traits": {"favourite_shop": "Xinyi", "member_tier": "gold"}}],
                            workspace=workspace, source="test")
    pid = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="ov-1").id
    admin, analyst = key(container, workspace, "admin"), key(container, workspace, "analyst")

    r = gql(client, CATALOG_Q, token=admin)
    assert "errors" not in r.json(), r.text
    entries = {e["key"]: e for e in r.json()["data"]["traitCatalog"]}
    assert entries["favourite_shop"]["category"] == "free_text"
    assert entries["favourite_shop"]["decidedBy"] == "sampled_values"

    # An analyst reads non-PII only: the free-text trait is withheld until an admin says otherwise.
    before = gql(client, PROFILE_Q, token=analyst, purpose="analytics", variables={"id": pid}).json()
    assert "traits.favourite_shop" in before["data"]["profile"]["withheld"]

    assert codes(gql(client, SET_Q, token=analyst, variables={"k": "favourite_shop", "c": "non_pii"})) == ["FORBIDDEN"]
    assert codes(gql(client, CATALOG_Q, token=analyst)) == ["FORBIDDEN"]
    assert codes(gql(client, SET_Q, token=admin, variables={"k": "favourite_shop", "c": "secret"})) == ["BAD_REQUEST"]
    r = gql(client, SET_Q, token=admin, variables={"k": "favourite_shop", "c": "non_pii"})
    assert r.json()["data"]["setTraitCategory"]["decidedBy"] == "admin", r.text

    after = gql(client, PROFILE_Q, token=analyst, purpose="analytics", variables={"id": pid}).json()
    traits = {t["name"]: t for t in after["data"]["profile"]["traits"]}
    assert traits["favourite_shop"] == {"name": "favourite_shop", "value": "Xinyi", "category": "non_pii",
                                        "masking": "plain"}
    # Re-ingesting the key does not undo the admin's decision.
    container.ingest.ingest([{"type": "identify", "userId": "ov-2", "messageId": "ov-m2",
                              "traits": {"favourite_shop": "0912-345-678"}}], workspace=workspace, source="test")
    assert _catalog(container, workspace)[("trait", "favourite_shop")]["category"] == "non_pii"

    rows = [a["a"] for a in cypher(container, "MATCH (a:AuditRecord {workspace: $w, resource: 'trait_catalog'}) "
                                              "RETURN a {.*} AS a ORDER BY a.seq", w=workspace)]
    changes = [a for a in rows if a["action"] == "policy_change"]
    assert [a["decision"] for a in changes] == ["deny", "allow"]
    assert changes[-1]["fields_returned"] == ["trait.favourite_shop"] and "non_pii" in changes[-1]["extra"]
    assert "Xinyi" not in str(rows)
    assert [a["decision"] for a in rows if a["action"] == "read"] == ["allow", "deny"]


def test_chinese_key_override_is_audited_by_a_reversible_name(client, container, workspace):
    admin = key(container, workspace, "admin")
    r = gql(client, SET_Q, token=admin, variables={"k": "會員卡號", "c": "financial"})
    assert r.json()["data"]["setTraitCategory"]["category"] == "financial", r.text
    row = cypher(container, "MATCH (a:AuditRecord {workspace: $w, resource: 'trait_catalog', decision: 'allow'}) "
                            "RETURN a.fields_returned AS f", w=workspace)[0]
    ref = row["f"][0]
    assert bytes.fromhex(ref.split("x:")[1]).decode() == "會員卡號"


def test_context_traits_stored_with_the_interaction_are_scanned_too(client, container, workspace, write_key):
    r = client.post("/v1/track", headers=basic(write_key), json={
        "userId": "ctx-1", "event": "Order Completed", "messageId": "ctx-m1",
        "properties": {"order_id": "o-9"},
        "context": {"traits": {"phone": "0912-345-678", "備註": "請改送到 A123456789 的地址"}}})
    assert r.status_code == 200, r.text
    ctx = cypher(container, "MATCH (e:Interaction {workspace: $w, message_id: 'ctx-m1'}) RETURN e.context AS c",
                 w=workspace)[0]["c"]
    assert "A123456789" not in ctx  # sealed at rest ...
    opened = container.vault.open(ctx) if container.vault.enabled else ctx
    assert json.loads(opened)["traits"]["備註"] == "請改送到 <TW_NATIONAL_ID> 的地址"  # ... and redacted
    assert "A123456789" not in opened
    p = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="ctx-1")
    assert p.traits["備註"] == "請改送到 <TW_NATIONAL_ID> 的地址"
