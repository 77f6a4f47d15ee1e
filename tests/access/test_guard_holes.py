"""The holes of the enforcement review (issue 10), each through a public interface."""

from __future__ import annotations

import json
import uuid

from typer.testing import CliRunner

from api.cli import app
from api.cli.common import OPERATOR_ENV, operator_name
from tests.api.test_graphql import codes, gql, key
from tests.conftest import cypher

runner = CliRunner()
PROFILE_Q = "query($id: ID!) { profile(id: $id) { id traits { name value } } }"
INTERACTIONS_Q = "query($id: ID!) { interactions(profileId: $id, first: 5) { nodes { type } } }"
CO = "legal_obligation"


def _restrict(client, container, workspace, pid):
    co = key(container, workspace, "compliance_officer")
    q = "mutation($p: ID!) { createDsr(kind: RESTRICTION, profileId: $p) { id } }"
    r = gql(client, q, token=co, purpose=CO, variables={"p": pid})
    assert "errors" not in r.json(), r.text
    case = r.json()["data"]["createDsr"]["id"]
    for _ in range(3):
        r = gql(client, "mutation($id: ID!) { advanceDsr(id: $id) { state } }", token=co, purpose=CO,
                variables={"id": case})
    assert r.json()["data"]["advanceDsr"]["state"] == "done", r.text


def _two_people(container, workspace):
    """An anonymous visitor (PA) and a member (PU); returns their profile ids."""
    a = container.ingest.ingest([{"type": "track", "anonymousId": "anon-1", "event": "Viewed", "messageId": "h-a1",
                                  "timestamp": "2026-11-01T00:00:00Z"}], workspace=workspace, source="t")
    u = container.ingest.ingest([{"type": "identify", "userId": "member-1", "messageId": "h-u1",
                                  "traits": {"email": "member-1@example.com"}}], workspace=workspace, source="t")
    return a.profiles[0], u.profiles[0]


def test_interactions_query_honours_a_restriction(client, container, workspace):
    pa, pu = _two_people(container, workspace)
    agent = key(container, workspace, "support_agent")
    assert "errors" not in gql(client, INTERACTIONS_Q, token=agent, variables={"id": pa}).json()
    _restrict(client, container, workspace, pa)
    r = gql(client, INTERACTIONS_Q, token=agent, variables={"id": pa})
    assert codes(r) == ["CONSENT_DENIED"] and r.json()["data"] is None
    # An id of another tenant looks exactly like a missing one.
    other = key(container, f"{workspace}-x", "support_agent")
    assert codes(gql(client, INTERACTIONS_Q, token=other, variables={"id": pu})) == ["NOT_FOUND"]


def test_restriction_follows_a_merge_and_an_unmerge_gives_it_back(client, container, workspace):
    pa, pu = _two_people(container, workspace)
    _restrict(client, container, workspace, pa)
    # One ordinary identify from a write key links the visitor to the member: PA merges into PU.
    container.ingest.ingest([{"type": "identify", "userId": "member-1", "anonymousId": "anon-1",
                              "messageId": "h-link"}], workspace=workspace, source="t")
    merged = cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.status AS s, p.merged_into AS m", id=pa)[0]
    assert merged["s"] == "merged" and merged["m"] == pu
    agent = key(container, workspace, "support_agent")
    assert codes(gql(client, PROFILE_Q, token=agent, variables={"id": pu})) == ["CONSENT_DENIED"]
    assert codes(gql(client, INTERACTIONS_Q, token=agent, variables={"id": pu})) == ["CONSENT_DENIED"]
    # Legal obligation still reads a restricted person (GDPR Art. 18(2)).
    admin = key(container, workspace, "admin")
    assert "errors" not in gql(client, PROFILE_Q, token=admin, purpose=CO, variables={"id": pu}).json()

    merge_id = cypher(container, "MATCH (g:Merge {workspace: $w, loser: $l}) RETURN g.id AS id",
                      w=workspace, l=pa)[0]["id"]
    r = runner.invoke(app, ["profiles", "unmerge", merge_id, "-w", workspace])
    assert r.exit_code == 0, r.output
    assert "errors" not in gql(client, PROFILE_Q, token=agent, variables={"id": pu}).json()
    assert codes(gql(client, PROFILE_Q, token=agent, variables={"id": pa})) == ["CONSENT_DENIED"]
    rows = cypher(container, "MATCH (a:AuditRecord {workspace: $w, resource: 'profile.merges', action: 'write'}) "
                             "RETURN a.actor AS actor, a.extra AS extra", w=workspace)
    assert rows and rows[-1]["actor"] == f"operator:{operator_name()}" and merge_id in rows[-1]["extra"]


def test_cli_reads_need_a_role_a_purpose_and_pass_the_consent_gate(client, container, workspace, monkeypatch):
    pa, pu = _two_people(container, workspace)
    # Without --purpose there is no read.
    r = runner.invoke(app, ["profiles", "show", pu, "-w", workspace])
    assert r.exit_code == 2 and "--purpose" in r.output
    # An operator without a role is refused, and nothing is printed.
    monkeypatch.setenv(OPERATOR_ENV, f"nobody-{uuid.uuid4().hex[:6]}")
    r = runner.invoke(app, ["profiles", "show", pu, "--purpose", "support", "-w", workspace])
    assert r.exit_code == 4 and "no_role" in r.output and "member-1@example.com" not in r.output
    monkeypatch.delenv(OPERATOR_ENV)
    # The consent gate applies: a restricted person is refused for support, and the refusal is audited.
    _restrict(client, container, workspace, pu)
    r = runner.invoke(app, ["profiles", "show", pu, "--purpose", "support", "-w", workspace])
    assert r.exit_code == 5 and "processing_restricted" in r.output and "member-1" not in r.stdout
    denied = cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s, decision: 'deny'}) "
                               "RETURN a.actor AS actor, a.purpose AS purpose", w=workspace, s=pu)
    assert {"actor": f"operator:{operator_name()}", "purpose": "support"} in [dict(d) for d in denied]
    # A permitted read is masked for the role and audited per person.
    r = runner.invoke(app, ["profiles", "show", pa, "--purpose", "support", "-w", workspace])
    assert r.exit_code == 0, r.output
    allowed = cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s, decision: 'allow', "
                                "action: 'read', resource: 'profile'}) RETURN a.actor AS actor", w=workspace, s=pa)
    assert [a["actor"] for a in allowed] == [f"operator:{operator_name()}"]


def test_cli_export_names_every_person_and_leaves_out_restricted_ones(client, container, workspace, tmp_path):
    pa, pu = _two_people(container, workspace)
    _restrict(client, container, workspace, pa)
    out = tmp_path / "export.jsonl"
    r = runner.invoke(app, ["export", "profiles", "--purpose", "support", "-w", workspace, "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == [pu]
    assert "exported 1 profiles" in r.output and "1 restricted" in r.output
    exported = cypher(container, "MATCH (a:AuditRecord {workspace: $w, action: 'export'}) "
                                 "RETURN a.subject AS s, a.decision AS d", w=workspace)
    pairs = {(e["s"], e["d"]) for e in exported}
    assert (pu, "allow") in pairs and (pa, "deny") in pairs


def test_sources_create_is_audited_and_needs_a_role(container, workspace, monkeypatch):
    r = runner.invoke(app, ["sources", "create", "--name", "pos", "-w", workspace, "--json"])
    assert r.exit_code == 0, r.output
    source_id = json.loads(r.stdout)["source_id"]
    rows = cypher(container, "MATCH (a:AuditRecord {workspace: $w, resource: 'sources', decision: 'allow'}) "
                             "RETURN a.extra AS extra", w=workspace)
    assert any(source_id in (row["extra"] or "") for row in rows)
    monkeypatch.setenv(OPERATOR_ENV, "analyst-op")
    container.auth.grant_operator(name="analyst-op", role="analyst", workspace=workspace, actor="test")
    r = runner.invoke(app, ["sources", "create", "--name", "pos2", "-w", workspace])
    assert r.exit_code == 4 and "forbidden" in r.output
    denied = cypher(container, "MATCH (a:AuditRecord {workspace: $w, resource: 'sources', decision: 'deny'}) "
                               "RETURN a.actor AS actor", w=workspace)
    assert [d["actor"] for d in denied] == ["operator:analyst-op"]


def test_rectification_values_are_not_plaintext_in_the_graph(client, container, workspace):
    _, pu = _two_people(container, workspace)
    co = key(container, workspace, "compliance_officer")
    q = 'mutation($p: ID!) { createDsr(kind: RECTIFICATION, profileId: $p, changes: {name: "Canary Rectified"}) { id } }'
    r = gql(client, q, token=co, purpose=CO, variables={"p": pu})
    assert "errors" not in r.json(), r.text
    stored = cypher(container, "MATCH (d:DsrCase {subject: $s}) RETURN d.changes AS c", s=pu)
    assert stored and all("Canary Rectified" not in (row["c"] or "") for row in stored)
    case = r.json()["data"]["createDsr"]["id"]
    for _ in range(3):
        r = gql(client, "mutation($id: ID!) { advanceDsr(id: $id) { state } }", token=co, purpose=CO,
                variables={"id": case})
    assert r.json()["data"]["advanceDsr"]["state"] == "done", r.text
    admin = key(container, workspace, "admin")
    traits = gql(client, PROFILE_Q, token=admin, purpose=CO, variables={"id": pu}).json()["data"]["profile"]["traits"]
    assert {"name": "name", "value": "Canary Rectified"} in traits


def test_segment_preview_hides_small_counts_from_marketers(client, container, workspace):
    container.ingest.ingest([{"type": "identify", "userId": "vip-1", "messageId": "vip-1",
                              "traits": {"member_tier": "vip"}}], workspace=workspace, source="t")
    q = "query($d: JSON!) { segmentPreview(definition: $d) { count suppressed sample { id } } }"
    definition = {"type": "trait", "name": "member_tier", "op": "eq", "value": "vip"}
    marketer = key(container, workspace, "marketer")
    r = gql(client, q, token=marketer, purpose="marketing", variables={"d": definition})
    assert "errors" not in r.json(), r.text
    assert r.json()["data"]["segmentPreview"] == {"count": None, "suppressed": True, "sample": []}
    analyst = key(container, workspace, "analyst")
    r = gql(client, q, token=analyst, purpose="analytics", variables={"d": definition})
    assert r.json()["data"]["segmentPreview"]["count"] == 1, r.text


def test_an_erased_key_is_dropped_from_another_process_cache(container, tmp_path):
    from privacy.keys import SqliteKeyStore
    from privacy.vault import FieldVault

    path = tmp_path / "keys.sqlite"
    provider = container.vault.provider
    one = FieldVault(provider=provider, store=SqliteKeyStore(path), blind_key=b"k" * 32)
    two = FieldVault(provider=provider, store=SqliteKeyStore(path), blind_key=b"k" * 32)
    one.prepare("w", ["p1"], create=True)
    sealed = one.seal("p1", "secret value")
    assert two.open(sealed) == "secret value"  # two has the key cached now
    one.shred(["p1"])
    two._shred_checked = 0.0  # as if a second had passed
    assert two.open(sealed) is None


def test_a_trait_an_admin_classifies_as_pii_is_sealed_at_rest_old_values_too(client, container, workspace):
    from tests.api.test_trait_catalog import SET_Q

    container.ingest.ingest([{"type": "identify", "userId": "seal-1", "messageId": "seal-1",
                              "traits": {"plan": "LC-CANARY-001"}}], workspace=workspace, source="t")

    def stored() -> list[str]:
        return [str(r["v"]) for r in cypher(container, "MATCH (p:Profile {workspace: $w}) "
                                                       "RETURN p.`trait.plan` AS v", w=workspace)]

    assert stored() == ["LC-CANARY-001"]  # a name the built-in rules do not know: plaintext
    admin = key(container, workspace, "admin")
    r = gql(client, SET_Q, token=admin, variables={"k": "plan", "c": "financial"})
    assert "errors" not in r.json(), r.text
    assert all("LC-CANARY" not in v for v in stored()), stored()  # the stored value was sealed now
    container.ingest.ingest([{"type": "identify", "userId": "seal-2", "messageId": "seal-2",
                              "traits": {"plan": "LC-CANARY-002"}}], workspace=workspace, source="t")
    assert len(stored()) == 2 and all("LC-CANARY" not in v for v in stored())
    pid = container.ingest.ingest([{"type": "track", "userId": "seal-2", "event": "x", "messageId": "seal-3"}],
                                  workspace=workspace, source="t").profiles[0]
    traits = gql(client, PROFILE_Q, token=admin, purpose=CO, variables={"id": pid}).json()["data"]["profile"]["traits"]
    assert {"name": "plan", "value": "LC-CANARY-002"} in traits  # still readable through the chain


def test_consents_and_an_objection_follow_a_merge_and_an_unmerge(client, container, workspace):
    pa, pu = _two_people(container, workspace)
    agent = key(container, workspace, "support_agent")
    grant = """mutation($id: ID!) { recordConsent(profileId: $id, purposeOfConsent: marketing, channel: any,
      granted: true) { status } }"""
    for pid in (pa, pu):
        assert "errors" not in gql(client, grant, token=agent, variables={"id": pid}).json()
    marketer_read = key(container, workspace, "admin")
    assert "errors" not in gql(client, PROFILE_Q, token=marketer_read, purpose="marketing",
                               variables={"id": pu}).json()
    # The visitor objects to marketing (a DSR), then turns out to be the member.
    co = key(container, workspace, "compliance_officer")
    r = gql(client, "mutation($p: ID!) { createDsr(kind: OBJECTION, profileId: $p) { id } }", token=co,
            purpose=CO, variables={"p": pa})
    case = r.json()["data"]["createDsr"]["id"]
    for _ in range(3):
        gql(client, "mutation($id: ID!) { advanceDsr(id: $id) { state } }", token=co, purpose=CO,
            variables={"id": case})
    container.ingest.ingest([{"type": "identify", "userId": "member-1", "anonymousId": "anon-1",
                              "messageId": "h-link2"}], workspace=workspace, source="t")
    # One person now: the member's own consent and the visitor's objection are one history.
    r = gql(client, PROFILE_Q, token=marketer_read, purpose="marketing", variables={"id": pu})
    assert codes(r) == ["CONSENT_DENIED"], r.text
    assert "errors" not in gql(client, PROFILE_Q, token=agent, variables={"id": pu}).json()  # support: contract
    merge_id = cypher(container, "MATCH (g:Merge {workspace: $w, loser: $l}) RETURN g.id AS id",
                      w=workspace, l=pa)[0]["id"]
    assert runner.invoke(app, ["profiles", "unmerge", merge_id, "-w", workspace]).exit_code == 0
    assert "errors" not in gql(client, PROFILE_Q, token=marketer_read, purpose="marketing",
                               variables={"id": pu}).json()
    assert codes(gql(client, PROFILE_Q, token=marketer_read, purpose="marketing", variables={"id": pa})) == [
        "CONSENT_DENIED"]
