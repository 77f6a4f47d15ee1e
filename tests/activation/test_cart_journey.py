"""Cart abandonment end to end against a real SMTP server: exactly one e-mail 30 minutes after the
cart (simulated clock), none when the order arrives in time or consent is withdrawn during the
wait; every attempt audited without personal values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from activation.unsubscribe import withdrawal
from consent.model import Jurisdiction
from tests.activation.conftest import ctx_of, person, send_audits, track


def _journey(container, act, workspace):
    j = act.create(ctx_of(container, workspace, "marketer"), template_name="cart_abandoned")
    act.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
    return j


def test_cart_abandoned_sends_exactly_once_after_30_minutes(container, workspace, act, sinks):
    store = sinks[0]
    j = _journey(container, act, workspace)
    t0 = datetime.now(UTC)
    amy = person(container, workspace, "amy", email="amy@example.com", traits={"first_name": "艾美"})
    track(container, workspace, "amy", "Product Added", t0, {"cart_id": "c1", "product_id": "milk"})
    worker = act.worker(workspace)

    r1 = worker.tick(t0 + timedelta(minutes=1))
    assert r1.engine.entered == {j.id: 1}
    assert store.of("email") == []
    r2 = worker.tick(t0 + timedelta(minutes=29))
    assert r2.engine.planned == 0 and store.of("email") == []

    r3 = worker.tick(t0 + timedelta(minutes=31))
    assert r3.engine.planned == 1 and r3.outcomes() == {"accepted": 1}
    mails = store.of("email")
    assert len(mails) == 1
    m = mails[0]
    assert m["rcpt_tos"] == ["amy@example.com"]
    assert "艾美" in m["subject"] and "艾美" in m["body"]
    assert m["list_unsubscribe"].startswith("<http://127.0.0.1:8013/v1/unsubscribe/")
    assert m["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"

    # Retries of the round and later rounds never send it again.
    worker.tick(t0 + timedelta(minutes=31))
    worker.tick(t0 + timedelta(minutes=90))
    assert len(store.of("email")) == 1
    sends = act.sends(ctx_of(container, workspace, "marketer"), journey_id=j.id)
    assert [(s.state, s.profile_id, s.channel) for s in sends] == [("accepted", amy, "email")]
    assert m["send_key"] == sends[0].key

    audits = send_audits(container, workspace)
    assert len(audits) == 1
    a = audits[0]
    assert a["decision"] == "allow" and a["subject"] == amy and a["purpose"] == "marketing"
    assert a["consent_record_id"] and a["lawful_basis"] == "consent"
    assert "identifiers.email" in a["fields_returned"]
    blob = json.dumps(a, default=str, ensure_ascii=False)
    assert "amy@example.com" not in blob and "艾美" not in blob


def test_no_send_when_order_arrives_in_time(container, workspace, act, sinks):
    store = sinks[0]
    j = _journey(container, act, workspace)
    t0 = datetime.now(UTC)
    person(container, workspace, "bob", email="bob@example.com")
    track(container, workspace, "bob", "Product Added", t0)
    worker = act.worker(workspace)
    worker.tick(t0 + timedelta(minutes=1))
    track(container, workspace, "bob", "Order Completed", t0 + timedelta(minutes=10), {"order_id": "o1", "revenue": 9})
    r = worker.tick(t0 + timedelta(minutes=31))
    assert r.engine.planned == 0 and store.of("email") == []
    counts = act.run_counts(ctx_of(container, workspace, "marketer"), journey_id=j.id)
    assert [(c["state"], c["reason"]) for c in counts] == [("exited", "goal")]


def test_withdrawal_during_the_wait_stops_the_send(container, workspace, act, sinks):
    store = sinks[0]
    _journey(container, act, workspace)
    t0 = datetime.now(UTC)
    cy = person(container, workspace, "cy", email="cy@example.com")
    track(container, workspace, "cy", "Product Added", t0)
    worker = act.worker(workspace)
    worker.tick(t0 + timedelta(minutes=1))
    # She unsubscribes from e-mail marketing while the journey waits.
    container.admin.consents.append(workspace=workspace, records=[withdrawal(
        profile_id=cy, channel="email", source="test", jurisdiction=Jurisdiction.TW_PDPA)])
    r = worker.tick(t0 + timedelta(minutes=31))
    assert r.outcomes() == {"consent_withdrawn": 1} and store.of("email") == []
    audits = send_audits(container, workspace)
    assert [(a["decision"], a["reason"]) for a in audits] == [("deny", "consent_withdrawn")]
    assert audits[0]["consent_record_id"]


def test_lifecycle_filter_and_no_consent(container, workspace, act, sinks):
    store = sinks[0]
    _journey(container, act, workspace)
    t0 = datetime.now(UTC)
    person(container, workspace, "deb", email="deb@example.com", stage="Sleep")  # not New/Active: never enters
    person(container, workspace, "eve", email="eve@example.com", consent=False)
    track(container, workspace, "deb", "Product Added", t0)
    track(container, workspace, "eve", "Product Added", t0)
    worker = act.worker(workspace)
    assert sum(worker.tick(t0 + timedelta(minutes=1)).engine.entered.values()) == 1
    r = worker.tick(t0 + timedelta(minutes=31))
    assert r.outcomes() == {"consent_denied": 1} and store.of("email") == []


def test_publishing_needs_a_configured_channel(container, workspace, act):
    import pytest

    from activation.errors import ChannelNotConfigured

    d = {"name": "push", "entry": {"kind": "event", "event": "x"}, "steps": [
        {"id": "s", "type": "send", "channel": "sms", "body": "hi"}]}
    j = act.create(ctx_of(container, workspace, "marketer"), definition=d)
    act.registry._senders.pop("sms")
    with pytest.raises(ChannelNotConfigured) as err:
        act.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
    assert err.value.code == "channel_not_configured" and err.value.field == "channel"


def test_paused_journey_holds_its_runs(container, workspace, act, sinks):
    store = sinks[0]
    j = _journey(container, act, workspace)
    t0 = datetime.now(UTC)
    person(container, workspace, "pa", email="pa@example.com")
    track(container, workspace, "pa", "Product Added", t0)
    worker = act.worker(workspace)
    worker.tick(t0 + timedelta(minutes=1))
    act.set_paused(ctx_of(container, workspace, "admin"), journey_id=j.id, paused=True)
    assert worker.tick(t0 + timedelta(minutes=31)).engine.planned == 0 and store.of("email") == []
    act.set_paused(ctx_of(container, workspace, "admin"), journey_id=j.id, paused=False)
    assert worker.tick(t0 + timedelta(minutes=32)).outcomes() == {"accepted": 1}


def test_two_profiles_merged_during_the_wait_get_one_reminder(container, workspace, act, sinks):
    store = sinks[0]
    j = _journey(container, act, workspace)
    t0 = datetime.now(UTC)
    person(container, workspace, "mm", email="mm@example.com")
    # The same person browsing anonymously on another device, with consent and a cart of her own.
    container.ingest.ingest([{"type": "identify", "anonymousId": "dev-2", "messageId": "mm-anon",
                              "timestamp": t0.isoformat(), "traits": {"email": "mm.alt@example.com"},
                              "context": {"consent": {"categoryPreferences": {"marketing": True}}}}],
                            workspace=workspace, source="test")
    anon = container.ingest.ingest([{"type": "track", "anonymousId": "dev-2", "event": "Product Added",
                                     "messageId": "mm-anon-cart", "timestamp": t0.isoformat()}],
                                   workspace=workspace, source="test").profiles[0]
    container.driver.execute_query("MATCH (p:Profile {id: $id}) SET p.`score.lifecycle_stage` = 'Active'",
                                   id=anon, database_=container.neo4j.database)
    track(container, workspace, "mm", "Product Added", t0 + timedelta(seconds=1))
    worker = act.worker(workspace)
    assert worker.tick(t0 + timedelta(minutes=1)).engine.entered == {j.id: 2}
    # She logs in on the second device: the profiles merge while both runs wait.
    container.ingest.ingest([{"type": "identify", "userId": "mm", "anonymousId": "dev-2", "messageId": "mm-login",
                              "timestamp": (t0 + timedelta(minutes=5)).isoformat()}],
                            workspace=workspace, source="test")
    r = worker.tick(t0 + timedelta(minutes=32))
    assert r.outcomes() == {"accepted": 1} and len(store.of("email")) == 1
    assert r.engine.exited.get("merged_duplicate") == 1
