"""RFM, NASLD and predictions recomputed over the real graph: hand-computed stages and scores,
the monthly transition matrix, stage revenue shares, and stale scores cleared."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.bgnbd import fit_bgnbd, summary_from_transactions
from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from graph.analytics import AnalyticsRepository
from segments.model import SegmentError
from tests.conftest import cypher

T1 = datetime(2026, 5, 31, 12, tzinfo=UTC)
T2 = datetime(2026, 6, 30, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def order(uid: str, at: datetime, revenue: float = 100.0) -> dict:
    return {"type": "track", "userId": uid, "event": "Order Completed", "timestamp": at.isoformat(),
            "messageId": uuid.uuid4().hex, "properties": {"order_id": uuid.uuid4().hex[:10], "revenue": revenue}}


def service(container, clock, **settings) -> AnalyticsService:
    s = AnalyticsSettings(**{"cycle_days": 30.0, **settings})
    return AnalyticsService(repo=AnalyticsRepository(container.driver, database=container.neo4j.database),
                            settings=s, clock=clock)


def load(container, workspace, events) -> dict[str, str]:
    r = container.ingest.ingest(events, workspace=workspace, source="test")
    assert not r.rejected, r.rejected
    return {ev["userId"]: r.profiles[i] for i, ev in enumerate(events)}


def scores(container, pid) -> dict:
    row = cypher(container, "MATCH (p:Profile {id: $id}) RETURN [k IN keys(p) WHERE k STARTS WITH 'score.' "
                 "| [substring(k, 6), p[k]]] AS s", id=pid)[0]["s"]
    return dict(row)


def test_rfm_and_nasld_on_hand_computed_customers(container, workspace):
    now = T2
    d = lambda days: now - timedelta(days=days)
    ids = load(container, workspace, [
        order("a", d(10), 100),                                   # one purchase, recent: New
        order("b", d(50), 100), order("b", d(20), 100),           # Active
        order("c", d(100), 150), order("c", d(45), 150),          # Sleep (45 d, cycle 30)
        order("d", d(200), 200), order("d", d(75), 200),          # Lost
        order("e", d(400), 500),                                  # Deep
        {"type": "identify", "userId": "f", "messageId": uuid.uuid4().hex, "timestamp": d(5).isoformat(),
         "traits": {"member_tier": "gold"}},                     # no purchase: no scores
        order("g", d(1) + timedelta(days=3), 999),                # after `now`: ignored
    ])
    report = service(container, Clock(now)).refresh(workspace=workspace)
    assert report.customers == 5 and report.orders == 8 and report.cycle_days == 30.0
    assert report.predictions_skipped is not None  # too few repeat buyers to fit BG/NBD
    got = {u: scores(container, ids[u]) for u in "abcdef"}
    assert {u: got[u].get("lifecycle_stage") for u in "abcdef"} == {
        "a": "New", "b": "Active", "c": "Sleep", "d": "Lost", "e": "Deep", "f": None}
    # Recency 10/20/45/75/400 days -> R 5..1; orders 1,2,2,2,1 -> tied mid-ranks give F 2,4,4,4,2;
    # revenue 100/200/300/400/500 -> M 1..5.
    assert [(got[u]["rfm_recency"], got[u]["rfm_frequency"], got[u]["rfm_monetary"]) for u in "abcde"] == [
        (5, 2, 1), (4, 4, 2), (3, 4, 3), (2, 4, 4), (1, 2, 5)]
    assert {u: got[u]["rfm_segment"] for u in "abcde"} == {
        "a": "Potential Loyalist", "b": "Loyal", "c": "Loyal", "d": "At Risk", "e": "Lost"}
    assert got["c"]["orders"] == 2 and got["c"]["revenue"] == 300.0
    assert got["b"]["last_order_at"].to_native() == d(20)
    assert report.stages == {"New": 1, "Active": 1, "Sleep": 1, "Lost": 1, "Deep": 1}
    # The history of the month holds the stage.
    rows = cypher(container, "MATCH (p:Profile {id: $id})-[l:LIFECYCLE]->(m:LifecycleMonth) "
                  "RETURN m.month AS m, l.stage AS s", id=ids["c"])
    assert [(r["m"], r["s"]) for r in rows] == [("2026-06", "Sleep")]

    # Marketers target by score in segments: "fell asleep or got lost", "Loyal".
    def seg(definition: dict) -> set[str]:
        preview = container.segments.preview(workspace=workspace, definition=definition, sample_size=100)
        return set(preview.sample_ids)

    assert seg({"type": "score", "name": "lifecycle_stage", "op": "in", "value": ["Sleep", "Lost"]}) == {
        ids["c"], ids["d"]}
    assert seg({"type": "and", "conditions": [{"type": "score", "name": "rfm_segment", "op": "eq", "value": "Loyal"},
                                              {"type": "score", "name": "revenue", "op": "gt", "value": 250}]}) == {
        ids["c"]}
    assert seg({"type": "not", "condition": {"type": "score", "name": "orders", "op": "exists"}}) == {
        ids["f"], ids["g"]}  # no purchase, or only after `now`
    with pytest.raises(SegmentError) as exc:  # only model scores, never other properties
        seg({"type": "score", "name": "trait.email", "op": "exists"})
    assert exc.value.field == "name"

    # Thresholds are relative to the cycle: with a 60-day cycle c (45 days) is Active, d Sleep.
    service(container, Clock(now), cycle_days=60.0).refresh(workspace=workspace)
    assert scores(container, ids["c"])["lifecycle_stage"] == "Active"
    assert scores(container, ids["d"])["lifecycle_stage"] == "Sleep"
    # A configurable named-segment mapping.
    assert service(container, Clock(now)).cycle_days(np.array([2.0, 0.0]), np.array([40.0, 0.0])) == 30.0
    auto = service(container, Clock(now), cycle_days=None)
    assert auto.cycle_days(np.array([2.0, 1.0, 0.0]), np.array([40.0, 30.0, 0.0])) == 25.0  # median(20, 30)


def test_custom_rfm_mapping_from_file(container, workspace, tmp_path):
    (tmp_path / "rfm.json").write_text('{"second_axis": "f", "segments": ['
                                       '["Recent", 4, 5, 1, 5], ["Fading", 1, 3, 1, 5]]}')
    ids = load(container, workspace, [order("a", T2 - timedelta(days=1)), order("b", T2 - timedelta(days=90))])
    service(container, Clock(T2), rfm_segments_file=tmp_path / "rfm.json").refresh(workspace=workspace)
    assert scores(container, ids["a"])["rfm_segment"] == "Recent"
    assert scores(container, ids["b"])["rfm_segment"] == "Fading"


def test_monthly_transition_matrix_and_stage_revenue(container, workspace):
    ids = load(container, workspace, [
        order("x", T1 - timedelta(days=40)), order("x", T1 - timedelta(days=10)),        # Active -> Sleep
        order("y", T1 - timedelta(days=20)), order("y", T1 - timedelta(days=5)),
        order("y", T2 - timedelta(days=3), 100),                                          # Active -> Active
        order("z", T2 - timedelta(days=5), 50),                                           # new in June
        order("w", T1 - timedelta(days=50)),                                              # Sleep -> Lost
    ])
    clock = Clock(T1)
    svc = service(container, clock)
    svc.refresh(workspace=workspace)
    clock.now = T2
    svc.refresh(workspace=workspace)
    m = svc.transition_matrix(workspace=workspace, month="2026-06")
    assert (m.from_month, m.to_month) == ("2026-05", "2026-06")
    assert m.moved("Active", "Sleep") == 1 and m.moved("Active", "Active") == 1 and m.moved("Sleep", "Lost") == 1
    assert sum(map(sum, m.counts)) == 3
    assert m.entered == (1, 0, 0, 0, 0)  # z, as New
    shares = {s.stage: s for s in svc.stage_revenue(workspace=workspace, since=T2 - timedelta(days=30), until=T2)}
    assert shares["Active"].revenue == 100.0 and shares["New"].revenue == 50.0
    assert shares["Active"].share == pytest.approx(2 / 3) and shares["Sleep"].share == 0.0
    assert scores(container, ids["z"])["lifecycle_stage"] == "New"


def test_scores_of_merged_profiles_are_cleared(container, workspace):
    guest = {**order("x", T2 - timedelta(days=3)), "anonymousId": "ck-1"}
    del guest["userId"]
    anon = container.ingest.ingest([guest], workspace=workspace, source="test").profiles[0]
    ids = load(container, workspace, [order("u1", T2 - timedelta(days=2))])
    clock = Clock(T2)
    svc = service(container, clock)
    svc.refresh(workspace=workspace)
    assert scores(container, anon)["orders"] == 1 and scores(container, ids["u1"])["orders"] == 1
    # The guest logs in: the cookie's profile merges into the customer, and so do its orders.
    load(container, workspace, [{"type": "identify", "userId": "u1", "anonymousId": "ck-1",
                                 "messageId": uuid.uuid4().hex, "timestamp": (T2 - timedelta(days=1)).isoformat()}])
    assert cypher(container, "MATCH (p:Profile {id: $id}) RETURN p.status AS s", id=anon)[0]["s"] == "merged"
    clock.now = T2 + timedelta(hours=1)
    report = svc.refresh(workspace=workspace)
    assert report.customers == 1 and report.cleared == 1
    assert scores(container, ids["u1"])["orders"] == 2
    assert scores(container, anon) == {}


def test_predictions_match_the_pure_model_and_rank_sensibly(container, workspace):
    rng = random.Random(7)
    now = T2
    events, truth = [], {}
    for i in range(80):
        uid = f"c{i:03d}"
        n = rng.randint(1, 8)
        start = rng.uniform(60, 360)
        days = sorted(rng.uniform(0, start) for _ in range(n - 1)) + [start]
        truth[uid] = [now - timedelta(days=x) for x in days]
        events += [order(uid, t, round(rng.uniform(50, 500), 2)) for t in truth[uid]]
    events += [order("loyal", now - timedelta(days=x), 200) for x in range(2, 120, 7)]
    events += [order("lapsed", now - timedelta(days=x), 200) for x in (300, 310, 320)]
    ids = {}
    for k in range(0, len(events), 200):
        ids.update(load(container, workspace, events[k:k + 200]))
    report = service(container, Clock(now)).refresh(workspace=workspace)
    assert report.bgnbd is not None and report.predictions_skipped is None
    # Same parameters as fitting the pure model on the same transactions.
    flat = [(u, t) for u, ts in {**truth, "loyal": [now - timedelta(days=x) for x in range(2, 120, 7)],
                                 "lapsed": [now - timedelta(days=x) for x in (300, 310, 320)]}.items() for t in ts]
    summ = summary_from_transactions([u for u, _ in flat], np.array([t.replace(tzinfo=None) for _, t in flat],
                                     dtype="datetime64[s]"), observation_end=np.datetime64(now.replace(tzinfo=None)))
    ref = fit_bgnbd(summ.frequency, summ.recency, summ.T)
    assert report.bgnbd.r == pytest.approx(ref.r, rel=1e-6) and report.bgnbd.a == pytest.approx(ref.a, rel=1e-6)
    stored = AnalyticsRepository(container.driver, database=container.neo4j.database).get_model(
        workspace=workspace, kind="bgnbd")
    assert stored is not None and stored["r"] == pytest.approx(ref.r)
    loyal, lapsed = scores(container, ids["loyal"]), scores(container, ids["lapsed"])
    for s in (loyal, lapsed):
        assert 1 <= s["stars"] <= 5 and 0 <= s["p_alive"] <= 1 and 0 <= s["purchase_probability"] <= 1
        assert s["horizon_days"] == 14 and s["clv"] >= 0
    assert loyal["purchase_probability"] > lapsed["purchase_probability"]
    assert loyal["expected_purchases"] > lapsed["expected_purchases"]
    assert loyal["p_alive"] > lapsed["p_alive"] and loyal["stars"] >= lapsed["stars"]
    assert loyal["clv"] > lapsed["clv"]
