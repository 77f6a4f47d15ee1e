"""Realtime segments: "added to cart, no order within 30 minutes", re-evaluated for the profiles an
ingest batch touched (off the request path) and by the periodic sweep as time passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from graph.segments import SegmentRepository
from segments.service import SegmentService
from tests.conftest import cypher

ABANDONED = {"type": "event", "event": "Product Added", "window": {"last": 1, "unit": "days"},
             "not_followed_by": {"event": "Order Completed", "within": {"last": 30, "unit": "minutes"}}}


def ev(uid: str, name: str, minutes_ago: float, now: datetime) -> dict:
    return {"type": "track", "userId": uid, "event": name, "messageId": uuid.uuid4().hex,
            "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat(),
            "properties": {"product_id": "milk-1"} if name == "Product Added" else {"revenue": 80}}


def open_members(container, seg_id: str) -> set[str]:
    rows = cypher(container, "MATCH (p:Profile)-[m:IN_SEGMENT]->(:Segment {id: $s}) WHERE m.left_at IS NULL "
                  "RETURN collect(p.id) AS ids", s=seg_id)
    return set(rows[0]["ids"])


def test_abandoned_cart_incremental_and_swept(container, workspace):
    now = datetime.now(UTC)
    r = container.ingest.ingest([
        ev("old", "Product Added", 120, now),                                          # abandoned
        ev("bought", "Product Added", 120, now), ev("bought", "Order Completed", 110, now),
        ev("late", "Product Added", 180, now), ev("late", "Order Completed", 120, now),  # order too late
        ev("fresh", "Product Added", 5, now),                                          # not due yet
        ev("stale", "Product Added", 60 * 30, now),                                    # outside the day
    ], workspace=workspace, source="test")
    ids = {e["userId"]: r.profiles[i] for i, e in enumerate([
        {"userId": u} for u in ("old", "bought", "bought", "late", "late", "fresh", "stale")])}
    seg = container.segments.save(workspace=workspace, name="abandoned carts", definition=ABANDONED, realtime=True)
    first = container.segments.evaluate(workspace=workspace, segment_id=seg.id)
    assert open_members(container, seg.id) == {ids["old"], ids["late"]} and first.size == 2

    # New events: a cart added 40 minutes ago arrives; "fresh" orders within 30 minutes.
    r2 = container.ingest.ingest([ev("newbie", "Product Added", 40, now), ev("fresh", "Order Completed", 1, now)],
                                 workspace=workspace, source="test")
    assert container.realtime is not None and container.realtime.flush(20)
    assert open_members(container, seg.id) == {ids["old"], ids["late"], r2.profiles[0]}

    # Only touched profiles are evaluated incrementally: a cart nobody touched since stays out
    # until the sweep, which a later clock lets see the "quiet" cart as due.
    container.ingest.on_written.clear()  # no incremental pass for the next batch
    try:
        quiet = container.ingest.ingest([ev("quiet", "Product Added", 10, now)], workspace=workspace,
                                         source="test").profiles[0]
    finally:
        container.ingest.on_written.append(container.realtime.notify)
    later = SegmentService(repo=SegmentRepository(container.driver, database=container.neo4j.database),
                           clock=lambda: now + timedelta(minutes=25))
    assert later.evaluate(workspace=workspace, segment_id=seg.id, profile_ids=[ids["old"]]).entered == 0
    assert quiet not in open_members(container, seg.id)
    swept = later.evaluate_all(workspace=workspace, realtime_only=True)
    assert [(e.entered, e.left) for e in swept] == [(1, 0)]
    assert quiet in open_members(container, seg.id) and ids["fresh"] not in open_members(container, seg.id)


def test_non_realtime_segments_are_left_to_the_schedule(container, workspace):
    now = datetime.now(UTC)
    container.ingest.ingest([ev("a", "Product Added", 120, now)], workspace=workspace, source="test")
    seg = container.segments.save(workspace=workspace, name="carts", definition=ABANDONED)
    pid = container.ingest.ingest([ev("b", "Product Added", 90, now)], workspace=workspace,
                                  source="test").profiles[0]
    assert container.realtime.flush(20)
    assert open_members(container, seg.id) == set()  # not realtime: nothing evaluated incrementally
    container.segments.evaluate_all(workspace=workspace)
    assert pid in open_members(container, seg.id)
