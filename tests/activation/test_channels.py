"""LINE, SMS and webhook sends against local receivers; birthday month by tier; one message per person
across a merge; an erased person's queued send is dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from activation.templates import template
from activation.worker import RoundReport
from tests.activation.conftest import ctx_of, person, send_audits, track

LINE_ID = "U" + "0123456789abcdef" * 2

MULTI = {"name": "welcome on every channel", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
    {"id": "line_hi", "type": "send", "channel": "line", "body": "歡迎 {{first_name}}！"},
    {"id": "sms_hi", "type": "send", "channel": "sms", "body": "【Formosa】{{first_name}} 歡迎加入"},
    {"id": "crm", "type": "send", "channel": "webhook", "destination": "crm", "body": "member_joined"}]}


def _publish(container, act, workspace, definition=None, template_name=None):
    j = act.create(ctx_of(container, workspace, "marketer"), definition=definition, template_name=template_name)
    act.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
    return j


def test_line_sms_and_signed_webhook(container, workspace, act, sinks):
    store = sinks[0]
    j = _publish(container, act, workspace, MULTI)
    t0 = datetime.now(UTC)
    pid = person(container, workspace, "m1", email="amy@example.com", line=LINE_ID, phone="0912-345-678",
                 traits={"first_name": "艾美", "member_tier": "gold"})
    track(container, workspace, "m1", "Signed Up", t0)
    r = act.worker(workspace).tick(t0 + timedelta(seconds=5))
    assert r.outcomes() == {"accepted": 3}, r.lanes
    line = store.of("line")
    assert [(m["to"], m["messages"][0]["text"]) for m in line] == [(LINE_ID, "歡迎 艾美！")]
    sends = {s.channel: s for s in act.sends(ctx_of(container, workspace, "marketer"), journey_id=j.id)}
    assert line[0]["retry_key"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "veil-send:" + sends["line"].key))
    sms = store.of("sms")
    assert [(m["to"], m["body"]) for m in sms] == [("+886912345678", "【Formosa】艾美 歡迎加入")]
    hooks = store.of("webhook")
    assert len(hooks) == 1 and hooks[0]["webhook_id"] == sends["webhook"].key
    payload = hooks[0]["payload"]
    # Only the fields the destination is allowed: the tier, never contact data.
    assert payload["fields"] == {"traits.member_tier": "gold"} and payload["profile_id"] == pid
    assert "amy@example.com" not in str(payload) and "0912" not in str(payload)
    assert {s.state for s in sends.values()} == {"accepted"}
    assert sorted(a["resource"] for a in send_audits(container, workspace)) == [
        "activation.line", "activation.sms", "activation.webhook"]


def test_birthday_month_offer_by_tier_once_per_person_across_a_merge(container, workspace, act, sinks):
    store = sinks[0]
    d = template("birthday_month")
    d["entry"]["hour"] = 0
    j = _publish(container, act, workspace, d)
    month = datetime.now(ZoneInfo("Asia/Taipei")).month
    other = month % 12 + 1
    old = datetime.now(UTC) - timedelta(days=40)
    bday = {"birthday": f"1990-{month:02d}-15"}
    # One person, two profiles before a merge: a member and an anonymous visitor, both with the birthday.
    amy = person(container, workspace, "m-amy", email="amy@example.com", at=old,
                 traits={"first_name": "Amy", "member_tier": "gold", **bday})
    container.ingest.ingest([{"type": "identify", "anonymousId": "anon-amy", "messageId": "anon-amy-1",
                              "timestamp": old.isoformat(), "context": {"consent": {"categoryPreferences": {
                                  "marketing": True}}},
                              "traits": {"email": "amy.alt@example.com", **bday}}],
                            workspace=workspace, source="test")
    person(container, workspace, "m-bob", email="bob@example.com", at=old,
           traits={"first_name": "Bob", "birthday": f"1985-{other:02d}-02"})
    person(container, workspace, "m-new", email="new@example.com", traits={"first_name": "New", **bday})
    worker = act.worker(workspace)
    now = datetime.now(UTC)
    report = RoundReport()
    worker.engine_round(now, report)
    assert report.engine.entered == {j.id: 2} and report.engine.planned == 2  # Bob: other month; New: too new
    # The two profiles merge after the sends were planned.
    container.ingest.ingest([{"type": "identify", "userId": "m-amy", "anonymousId": "anon-amy",
                              "messageId": "merge-amy", "timestamp": now.isoformat()}],
                            workspace=workspace, source="test")
    r = worker.tick(now)
    assert r.outcomes() == {"accepted": 1, "duplicate_person": 1}
    mails = store.of("email")
    assert len(mails) == 1 and "金卡會員" in mails[0]["body"] and "Amy" in mails[0]["subject"]
    states = sorted((s.state, s.reason) for s in act.sends(ctx_of(container, workspace, "marketer"), journey_id=j.id))
    assert states == [("accepted", "accepted"), ("skipped", "duplicate_person")]
    assert {a["subject"] for a in send_audits(container, workspace)} == {amy}
    # The next round in the same month enrols nobody again.
    again = RoundReport()
    worker.engine_round(now + timedelta(hours=1), again)
    assert again.engine.entered == {} and again.engine.planned == 0


def test_erased_persons_queued_send_is_dropped(container, workspace, act, sinks):
    store = sinks[0]
    _publish(container, act, workspace, template_name="cart_abandoned")
    t0 = datetime.now(UTC)
    gus = person(container, workspace, "gus", email="gus@example.com")
    track(container, workspace, "gus", "Product Added", t0)
    worker = act.worker(workspace)
    worker.tick(t0 + timedelta(minutes=1))
    report = RoundReport()
    worker.engine_round(t0 + timedelta(minutes=31), report)
    assert report.engine.planned == 1  # queued in the ledger
    container.erase(workspace=workspace, profile_id=gus, actor="test", reason="DSR-CASE-1", actor_kind="system")
    r = worker.tick(t0 + timedelta(minutes=32))
    assert r.outcomes() == {"erased": 1} and store.of("email") == []
    assert [(a["decision"], a["reason"]) for a in send_audits(container, workspace)] == [("deny", "erased")]


def test_accepted_sends_become_interactions(container, workspace, act, sinks):
    d = {"name": "hello", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
        {"id": "hi", "type": "send", "channel": "email", "subject": "hi", "body": "hello"}]}
    _publish(container, act, workspace, d)
    pid = person(container, workspace, "ix", email="ix@example.com")
    track(container, workspace, "ix", "Signed Up", datetime.now(UTC))
    worker = act.worker(workspace)
    worker.tick()
    worker.tick()
    rows = container.pipeline.profiles.repo.interactions(workspace=workspace, profile_id=pid)
    sent = [r for r in rows if r["event"] == "Message Sent"]
    assert len(sent) == 1 and sent[0]["channel"] == "email"
