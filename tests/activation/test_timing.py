"""Quiet hours in the recipient's zone with the backlog spread out; a slow channel does not stall
the others; expiry; unit checks of the time rules."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from activation.service import ActivationService
from activation.timing import next_local_hour, parse_hhmm, quiet_end, spread
from tests.activation.conftest import ctx_of, person, settings_for, track

SIGNUP = {"name": "signup mail", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
    {"id": "hello", "type": "send", "channel": "email", "subject": "hi", "body": "hello {{first_name}}",
     "expires_minutes": 60 * 24}]}


def test_quiet_end_in_zone():
    start, end = parse_hhmm("21:00"), parse_hhmm("09:00")
    # 22:30 in Taipei is 14:30 UTC: quiet until 09:00 Taipei the next day (01:00 UTC).
    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    assert quiet_end(at, "Asia/Taipei", start, end) == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    # The same instant is 14:30 in London: not quiet there.
    assert quiet_end(at, "Europe/London", start, end) is None
    # 07:00 Taipei (23:00 UTC the day before): quiet until 09:00 the same local day.
    assert quiet_end(datetime(2026, 3, 2, 23, 0, tzinfo=UTC), "Asia/Taipei", start, end) == \
        datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert next_local_hour(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "Asia/Taipei", 10) == \
        datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    offsets = {spread(f"k{i}", 60) for i in range(200)}
    assert len(offsets) > 150 and all(timedelta(0) <= o < timedelta(minutes=60) for o in offsets)


def test_quiet_hours_hold_in_the_recipients_zone_and_release_spread_out(container, workspace, sinks):
    store, smtp, http = sinks
    now = datetime.now(UTC)
    taipei = now.astimezone(ZoneInfo("Asia/Taipei"))
    start = (taipei - timedelta(hours=1)).strftime("%H:%M")
    end = (taipei + timedelta(hours=1)).strftime("%H:%M")
    svc = ActivationService(driver=container.driver, database=container.neo4j.database, pipeline=container.pipeline,
                            audit=container.audit, jurisdiction=container.activation.jurisdiction,
                            settings=settings_for(smtp, http, quiet_start=start, quiet_end=end,
                                                  quiet_spread_minutes=60))
    try:
        j = svc.create(ctx_of(container, workspace, "marketer"), definition=SIGNUP)
        svc.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
        for i in range(6):
            person(container, workspace, f"tw{i}", email=f"tw{i}@example.com", traits={"locale": "zh-TW"})
            track(container, workspace, f"tw{i}", "Signed Up", now)
        person(container, workspace, "uk", email="uk@example.com", traits={"locale": "en-GB"})
        track(container, workspace, "uk", "Signed Up", now)
        worker = svc.worker(workspace)
        r = worker.tick(now + timedelta(seconds=1))
        # Taipei is inside its quiet hours; London (8 hours behind) is not.
        assert r.outcomes() == {"accepted": 1, "held_quiet_hours": 6}
        assert [m["rcpt_tos"] for m in store.of("email")] == [["uk@example.com"]]
        held = [s for s in svc.sends(ctx_of(container, workspace, "marketer"), journey_id=j.id)
                if s.state == "planned"]
        ends = quiet_end(now + timedelta(seconds=1), "Asia/Taipei", parse_hhmm(start), parse_hhmm(end))
        assert ends is not None
        dues = sorted(s.due_at for s in held)
        assert len(dues) == 6 and all(ends <= d < ends + timedelta(minutes=60) for d in dues)
        assert len(set(dues)) == 6  # spread out, not one burst at the end of quiet hours
        # Released as each one's time comes.
        worker.tick(dues[2] + timedelta(seconds=1))
        assert len(store.of("email")) == 4
        worker.tick(dues[-1] + timedelta(seconds=1))
        assert len(store.of("email")) == 7
    finally:
        svc.close()


def test_a_slow_channel_does_not_stall_the_others(container, workspace, act, sinks):
    store, _, http = sinks
    http.server.delays["webhooks"] = 2.5
    d = {"name": "both", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
        {"id": "crm", "type": "send", "channel": "webhook", "destination": "crm", "body": "x"},
        {"id": "hello", "type": "send", "channel": "email", "subject": "hi", "body": "hello"}]}
    j = act.create(ctx_of(container, workspace, "marketer"), definition=d)
    act.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
    now = datetime.now(UTC)
    for i in range(6):
        person(container, workspace, f"p{i}", email=f"p{i}@example.com", traits={"member_tier": "gold"})
        track(container, workspace, f"p{i}", "Signed Up", now)
    worker = act.worker(workspace)
    started = time.monotonic()
    worker.start()
    try:
        while len(store.of("email")) < 6 and time.monotonic() - started < 20:
            time.sleep(0.05)
        email_done = time.monotonic() - started
        hooks_then = len(store.of("webhook"))
        assert len(store.of("email")) == 6
        # The e-mails all went while the webhook lane was still stuck on its slow receiver.
        assert hooks_then < 6, (email_done, hooks_then)
        while len(store.of("webhook")) < 6 and time.monotonic() - started < 30:
            time.sleep(0.1)
        assert len(store.of("webhook")) == 6
    finally:
        worker.stop()


def test_expired_message_is_not_sent(container, workspace, act, sinks):
    store = sinks[0]
    d = {"name": "short-lived", "entry": {"kind": "event", "event": "Signed Up"}, "steps": [
        {"id": "hello", "type": "send", "channel": "email", "subject": "hi", "body": "x", "expires_minutes": 5}]}
    j = act.create(ctx_of(container, workspace, "marketer"), definition=d)
    act.publish(ctx_of(container, workspace, "admin"), journey_id=j.id)
    now = datetime.now(UTC)
    person(container, workspace, "late", email="late@example.com")
    track(container, workspace, "late", "Signed Up", now)
    worker = act.worker(workspace)
    from activation.worker import RoundReport

    worker.engine_round(now, RoundReport())
    r = worker.tick(now + timedelta(minutes=6))  # the worker was down past the expiry
    assert r.outcomes() == {"expired": 1} and store.of("email") == []
