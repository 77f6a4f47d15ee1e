"""Dry run: stored history replayed through a journey on a simulated clock; aggregates only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.activation.conftest import ctx_of, person, track


def test_dry_run_replays_history(container, workspace, act):
    t = datetime.now(UTC) - timedelta(hours=3)
    for uid, consent, stage in (("amy", True, "Active"), ("bob", True, "New"), ("cy", False, "Active"),
                                ("deb", True, "Sleep")):
        person(container, workspace, uid, email=f"{uid}@example.com", consent=consent, stage=stage)
        track(container, workspace, uid, "Product Added", t)
    track(container, workspace, "bob", "Order Completed", t + timedelta(minutes=10), {"order_id": "o1"})
    marketer = ctx_of(container, workspace, "marketer")
    j = act.create(marketer, template_name="cart_abandoned")  # a draft can be dry-run
    window = {"since": t - timedelta(hours=1), "until": datetime.now(UTC)}
    small = act.dry_run(marketer, journey_id=j.id, **window)
    assert small.entered is None and small.k_anonymity == 5  # 3 people: below k, not shown
    act.dry_runner.k = 1
    r = act.dry_run(marketer, journey_id=j.id, **window)
    assert r.entered == 3  # deb (Sleep) is not New/Active
    assert r.steps == {"wait_30m": 3, "still_unpaid": 2, "remind": 2}
    assert r.exits == {"completed": 2, "goal": 1}
    assert r.stopped == {"consent_denied": 1}
    day = (t + timedelta(minutes=30)).date().isoformat()
    assert r.sends_per_day == {"email": {day: 1}}
    # Nothing was sent or planned.
    assert act.sends(marketer, journey_id=j.id) == []
