"""Data-subject requests against the real Neo4j: state machine, audit trail, each kind's effect,
and the access package (everything about the person, nothing about anyone else)."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from access.authz import Forbidden
from access.principal import Principal, PrincipalKind
from consent.model import Purpose
from privacy.dsr import DsrError, DsrService
from tests.conftest import cypher


@pytest.fixture()
def officer(workspace) -> Principal:
    return Principal(id="user:co-1", kind=PrincipalKind.USER, workspace=workspace, roles=("compliance_officer",))


@pytest.fixture()
def dsr(container, tmp_path) -> DsrService:
    """The container's service, writing packages under the test's tmp dir."""
    s = container.dsr
    return DsrService(repo=s.repo, guard=s.guard, profiles=s.profiles, consents=s.consents, audit=s.audit,
                      jurisdiction=s.jurisdiction, traits=s.traits, export_dir=tmp_path / "exports",
                      deadline_days=30, erasure=s.erasure)


def ingest(container, workspace, events):
    r = container.ingest.ingest(events, workspace=workspace, source="test")
    assert not r.rejected, r.rejected
    return r


def person(container, workspace, uid="d-1"):
    ingest(container, workspace, [{"type": "identify", "userId": uid, "messageId": f"{uid}-m1",
                                   "traits": {"email": f"{uid}@example.com", "member_tier": "gold"}}])
    return container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value=uid).id


def dsr_audit(container, workspace, subject):
    return [r["a"] for r in cypher(container, "MATCH (a:AuditRecord {workspace: $w, subject: $s}) "
                                              "RETURN a {.*} AS a ORDER BY a.seq", w=workspace, s=subject)]


def run_to_end(dsr, officer, case):
    for _ in range(3):  # received -> verified -> approved -> running (-> done | failed)
        case = dsr.advance(principal=officer, case_id=case.id)
    return case


def test_state_machine_guards_transitions_with_stable_codes(container, workspace, officer, dsr):
    pid = person(container, workspace)
    case = dsr.create(principal=officer, kind="access", profile_id=pid)
    assert case.state == "received" and case.due_at - case.received_at == timedelta(days=30)
    for to, code in (("approved", "invalid_transition"), ("running", "invalid_transition"),
                     ("done", "invalid_transition"), ("archived", "invalid_state")):
        with pytest.raises(DsrError) as err:
            dsr.advance(principal=officer, case_id=case.id, to=to)
        assert err.value.code == code
    assert dsr.advance(principal=officer, case_id=case.id).state == "verified"
    closed = dsr.advance(principal=officer, case_id=case.id, to="failed")
    assert closed.state == "failed"
    with pytest.raises(DsrError) as err:
        dsr.advance(principal=officer, case_id=case.id)
    assert err.value.code == "invalid_transition" and "failed" in err.value.message
    for kwargs, code in (({"kind": "forget_me", "profile_id": pid}, "invalid_kind"),
                         ({"kind": "access", "profile_id": "nobody"}, "subject_not_found"),
                         ({"kind": "rectification", "profile_id": pid}, "invalid_changes"),
                         ({"kind": "access", "profile_id": pid, "changes": {"a": 1}}, "invalid_changes")):
        with pytest.raises(DsrError) as err:
            dsr.create(principal=officer, **kwargs)
        assert err.value.code == code
    with pytest.raises(DsrError) as err:
        dsr.get(principal=officer, case_id="dsr-missing")
    assert err.value.code == "case_not_found"


def test_roles_without_dsr_rights_are_refused_and_audited(container, workspace, dsr):
    pid = person(container, workspace)
    agent = Principal(id="user:sa-1", kind=PrincipalKind.USER, workspace=workspace, roles=("support_agent",))
    with pytest.raises(Forbidden):
        dsr.create(principal=agent, kind="access", profile_id=pid)
    denied = [a for a in dsr_audit(container, workspace, pid) if a["resource"] == "dsr"]
    assert denied and denied[-1]["decision"] == "deny" and denied[-1]["actor"] == "user:sa-1"


def test_every_step_is_in_the_audit_trail_and_restriction_blocks_processing(container, workspace, officer, dsr):
    pid = person(container, workspace)
    case = run_to_end(dsr, officer, dsr.create(principal=officer, kind="restriction", profile_id=pid))
    assert case.state == "done" and case.result == {"restricted": True}
    assert [h.state for h in case.history] == ["received", "verified", "approved", "running", "done"]
    rows = dsr_audit(container, workspace, pid)
    steps = [a for a in rows if a["action"] == "dsr"]
    assert [a["reason"] for a in steps] == ["received", "verified", "approved", "running", "done"]
    assert all(a["purpose"] == "legal_obligation" and a["actor"] == "user:co-1" and case.id in a["extra"]
               for a in steps)
    assert any(a["resource"] == "profile.restriction" and a["action"] == "write" for a in rows)
    assert container.profiles.get_profile(workspace=workspace, profile_id=pid).restricted

    pipeline = container.pipeline
    admin = Principal(id="key:adm", kind=PrincipalKind.API_KEY, workspace=workspace, roles=("admin",))
    from access.pipeline import ConsentDenied

    with pytest.raises(ConsentDenied) as denied:
        pipeline.read_profile(pipeline.context(admin, Purpose.support), profile_id=pid)
    assert denied.value.decision.reason == "processing_restricted"
    legal = pipeline.read_profile(pipeline.context(admin, Purpose.legal_obligation), profile_id=pid)
    assert legal.id == pid


def test_rectification_updates_traits_and_audits_names_only(container, workspace, officer, dsr):
    pid = person(container, workspace)
    case = dsr.create(principal=officer, kind="rectification", profile_id=pid,
                      changes={"email": "fixed@example.com", "生日": "1990-02-03"})
    # The corrected values are personal data: sealed under the person's key while the case is open.
    assert list(case.changes or {}) == ["__sealed__"] and "fixed@example.com" not in str(case.changes)
    case = run_to_end(dsr, officer, case)
    assert case.state == "done" and case.changes is None  # the corrected values do not stay on the case
    p = container.profiles.get_profile(workspace=workspace, profile_id=pid)
    assert p.traits["email"] == "fixed@example.com" and p.traits["生日"] == "1990-02-03"
    rows = dsr_audit(container, workspace, pid)
    write = [a for a in rows if a["resource"] == "profile.traits"][-1]
    assert write["fields_returned"] == ["traits.email", "traits.x:" + "生日".encode().hex()]
    assert "fixed@example.com" not in json.dumps(rows, default=str)


def test_objection_records_a_marketing_refusal_the_gate_honours(container, workspace, officer, dsr):
    pid = person(container, workspace)
    case = run_to_end(dsr, officer, dsr.create(principal=officer, kind="objection", profile_id=pid))
    assert case.state == "done"
    records = container.pipeline.consents.for_subject(workspace=workspace, profile_id=pid)
    assert [(r.purpose.value, r.status.value, r.source) for r in records] == [("marketing", "denied", "dsr")]
    assert case.result["consent_record_id"] == records[0].id
    pipeline = container.pipeline
    ctx = pipeline.context(officer, Purpose.marketing)
    assert not pipeline.gate(ctx, pid).allowed
    assert any(a["action"] == "consent_change" and a["consent_record_id"] == records[0].id
               for a in dsr_audit(container, workspace, pid))


def test_erasure_without_a_runner_fails_the_case_visibly(container, workspace, officer, dsr):
    s = container.dsr
    no_erasure = DsrService(repo=s.repo, guard=s.guard, profiles=s.profiles, consents=s.consents, audit=s.audit,
                      jurisdiction=s.jurisdiction, traits=s.traits, export_dir=dsr.export_dir)
    pid = person(container, workspace)
    case = run_to_end(no_erasure, officer, no_erasure.create(principal=officer, kind="erasure", profile_id=pid))
    assert case.state == "failed" and case.result == {"error": "erasure_unavailable"}
    failed = [a for a in dsr_audit(container, workspace, pid) if a["action"] == "dsr"][-1]
    assert (failed["reason"], failed["decision"]) == ("failed", "error")


def test_erasure_runs_crypto_shredding(container, workspace, officer, dsr):
    pid = person(container, workspace, uid="er-1")
    case = run_to_end(dsr, officer, dsr.create(principal=officer, kind="erasure", profile_id=pid))
    assert case.state == "done", case.result
    assert [a["reason"] for a in dsr_audit(container, workspace, pid) if a["action"] == "dsr"] == [
        "received", "verified", "approved", "running", "erasure_started", "erased", "done"]
    assert case.result["keys_shredded"] >= 1 and case.result["profiles_erased"] == 1
    after = container.profiles.get_profile(workspace=workspace, profile_id=pid)
    assert after is None or "er-1@example.com" not in json.dumps(after.traits, default=str)


def test_overdue_cases_are_listed(container, workspace, officer, dsr):
    pid = person(container, workspace)
    old = dsr.create(principal=officer, kind="access", profile_id=pid,
                     received_at=datetime.now(UTC) - timedelta(days=40))
    fresh = dsr.create(principal=officer, kind="objection", profile_id=pid)
    assert [c.id for c in dsr.cases(principal=officer, overdue=True)] == [old.id]
    assert {c.id for c in dsr.cases(principal=officer)} == {old.id, fresh.id}
    assert [c.id for c in dsr.cases(principal=officer, kind="objection")] == [fresh.id]
    with pytest.raises(DsrError):
        dsr.cases(principal=officer, state="lost")


def _people_sharing_a_store(container, workspace):
    """Amy (with a merged anonymous profile) and Bob both shop at store S1."""
    ingest(container, workspace, [
        {"type": "page", "anonymousId": "anon-amy", "messageId": "amy-p1", "timestamp": "2026-09-01T00:00:00Z"},
        {"type": "identify", "userId": "amy", "anonymousId": "anon-amy2", "messageId": "amy-i1",
         "timestamp": "2026-09-02T00:00:00Z",
         "traits": {"email": "amy@example.com", "phone": "0912-345-678", "member_tier": "gold"},
         "context": {"consent": {"categoryPreferences": {"marketing": True}}}},
        {"type": "track", "userId": "amy", "anonymousId": "anon-amy", "event": "Order Completed",
         "messageId": "amy-o1", "timestamp": "2026-09-03T00:00:00Z",
         "properties": {"order_id": "A-1", "store_id": "S1", "revenue": 120,
                        "products": [{"product_id": "milk", "category": "dairy", "price": 60, "quantity": 2}]}},
        {"type": "identify", "userId": "bob", "messageId": "bob-i1", "timestamp": "2026-09-02T00:00:00Z",
         "traits": {"email": "bob@example.com", "phone": "0922-000-111", "member_tier": "gold"}},
        {"type": "track", "userId": "bob", "event": "Order Completed", "messageId": "bob-o1",
         "timestamp": "2026-09-04T00:00:00Z",
         "properties": {"order_id": "B-1", "store_id": "S1", "revenue": 60,
                        "products": [{"product_id": "milk", "category": "dairy", "price": 60, "quantity": 1}]}},
    ])
    amy = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="amy")
    bob = container.profiles.find_by_identifier(workspace=workspace, kind="user_id", value="bob")
    return amy.id, bob.id


def test_access_package_holds_everything_about_the_person_and_nothing_about_anyone_else(
        container, workspace, officer, dsr):
    amy, bob = _people_sharing_a_store(container, workspace)
    merged = cypher(container, "MATCH (l:Profile {workspace: $w})-[:MERGED_INTO]->(:Profile {id: $id}) "
                               "RETURN collect(l.id) AS ids", w=workspace, id=amy)[0]["ids"]
    assert merged, "the anonymous browsing profile was merged into Amy"
    seg = container.segments.save(workspace=workspace, name="gold",
                                  definition={"type": "trait", "name": "member_tier", "op": "eq", "value": "gold"})
    container.segments.evaluate(workspace=workspace, segment_id=seg.id)
    admin = Principal(id="key:reader", kind=PrincipalKind.API_KEY, workspace=workspace, roles=("support_agent",))
    for pid in (amy, bob):
        container.pipeline.read_profile(container.pipeline.context(admin, Purpose.support), profile_id=pid)

    case = run_to_end(dsr, officer, dsr.create(principal=officer, kind="access", identifier=("email", "amy@example.com")))
    assert case.state == "done", case.result
    assert case.subject == amy

    with zipfile.ZipFile(case.result["package"]) as z:
        names = set(z.namelist())
        files = {n: z.read(n).decode("utf-8") for n in names}
    for table in ("traits", "identifiers", "interactions", "consents", "segments", "access_log"):
        assert {f"{table}.json", f"{table}.csv"} <= names
    load = {n[:-5]: json.loads(t) for n, t in files.items() if n.endswith(".json")}
    assert load["profile"]["id"] == amy and load["profile"]["merged_profiles"] == merged
    assert {(i["type"], i["value"]) for i in load["identifiers"]} >= {
        ("user_id", "amy"), ("email", "amy@example.com"), ("phone", "+886912345678"), ("anonymous_id", "anon-amy")}
    assert {t["name"]: t["value"] for t in load["traits"]}["email"] == "amy@example.com"
    assert {e["message_id"] for e in load["interactions"]} == {"amy-p1", "amy-i1", "amy-o1"}
    order = next(e for e in load["interactions"] if e["message_id"] == "amy-o1")
    assert order["properties"]["store_id"] == "S1" and order["items"][0]["product_id"] == "milk"
    assert [c["purpose"] for c in load["consents"]] == ["marketing"]
    assert [s["segment_id"] for s in load["segments"]] == [seg.id]
    log = load["access_log"]
    assert any(r["actor"] == "key:reader" and r["action"] == "read" and r["resource"] == "profile" for r in log)
    assert load["manifest"]["counts"]["interactions"] == 3
    assert "amy@example.com" in files["identifiers.csv"] and "amy-o1" in files["interactions.csv"]

    everything = "\n".join(files.values())
    for other in (bob, "bob@example.com", "+886922000111", "bob-i1", "bob-o1", "B-1"):
        assert other not in everything, other

    fetched = dsr.package(principal=officer, case_id=case.id)
    assert str(fetched) == case.result["package"]
    exports = [a for a in dsr_audit(container, workspace, amy) if a["action"] == "export"]
    assert [a["reason"] for a in exports] == ["export_package", "package_fetched"]




def test_a_case_id_with_a_long_digit_run_is_a_valid_erasure_reason(container, workspace):
    """Case ids are random hex; a run of 7+ digits in one must not fail the erasure (phone-like
    digit runs are refused only in free-form reasons)."""
    pid = person(container, workspace, uid="er-digits")
    with pytest.raises(ValueError):
        container.erase(workspace=workspace, profile_id=pid, actor="user:co-1", reason="call-0912345678")
    report = container.erase(workspace=workspace, profile_id=pid, actor="user:co-1",
                             reason="dsr:dsr-4201302123456789")
    assert report.profiles_erased == 1
