"""Attribution on a hand-built graph: last click inside the 24-hour window (not outside it), first
click and linear, ROAS from entered costs, KPIs, and k-anonymity for marketers over GraphQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics.attribution import AttributionService, Model
from graph.attribution import AttributionRepository
from tests.api.test_graphql import audit_rows, codes, gql, key

T = datetime(2026, 6, 15, 12, tzinfo=UTC)
SINCE, UNTIL = T - timedelta(days=1), T + timedelta(days=1)


def _ev(uid: str, at: datetime, **kw) -> dict:
    return {"type": "track", "userId": uid, "messageId": uuid.uuid4().hex, "timestamp": at.isoformat(), **kw}


def page(uid, at, source, medium, name):
    return {**_ev(uid, at), "type": "page", "context": {"campaign": {"source": source, "medium": medium,
                                                                      "name": name}}}


def click(uid, at, event, campaign):
    return _ev(uid, at, event=event, properties={"campaign_name": campaign, "link_url": "https://x.example/"})


def order(uid, at, revenue):
    return _ev(uid, at, event="Order Completed", properties={"order_id": uuid.uuid4().hex[:8], "revenue": revenue})


@pytest.fixture()
def shop(container, workspace):
    h = timedelta(hours=1)
    events = [
        {"type": "identify", "userId": "a", "messageId": uuid.uuid4().hex, "traits": {"member_tier": "gold"}},
        {"type": "identify", "userId": "b", "messageId": uuid.uuid4().hex, "traits": {"member_tier": "gold"}},
        {"type": "identify", "userId": "c", "messageId": uuid.uuid4().hex, "traits": {"member_tier": "silver"}},
        page("a", T - 30 * h, "google", "cpc", "brand"),            # outside 24 h
        click("a", T - 5 * h, "Email Link Clicked", "nl-1"),
        page("a", T - 2 * h, "facebook", "paid_social", "retarget"),
        order("a", T, 100),
        click("b", T - 22 * h, "LINE Message Clicked", "line-weekly"),
        order("b", T + h, 200),                                       # 23 h after the click
        page("c", T - 25 * h, "google", "cpc", "brand"),              # 25 h: outside the window
        order("c", T, 300),
        order("d", T - timedelta(days=10), 50), order("d", T, 400),  # no touches: direct
    ]
    r = container.ingest.ingest(events, workspace=workspace, source="test")
    assert not r.rejected
    return workspace


def service(container) -> AttributionService:
    return AttributionService(repo=AttributionRepository(container.driver, database=container.neo4j.database),
                              settings=container.analytics_settings, vault=container.vault)


def by_channel(report):
    return {c.channel: round(c.revenue, 6) for c in report.channels}


def test_last_click_within_24_hours(container, shop):
    r = service(container).report(workspace=shop, since=SINCE, until=UNTIL)
    assert r.model is Model.LAST_CLICK and r.orders == 4 and r.total_revenue == 1000.0
    assert by_channel(r) == {"facebook": 100.0, "line": 200.0, "(direct)": 700.0}
    assert {(c.channel, c.campaign) for c in r.campaigns if c.revenue} == {
        ("facebook", "retarget"), ("line", "line-weekly"), ("(direct)", "(none)")}
    assert r.veil_share == pytest.approx(0.2)  # LINE is Veil-driven, facebook is not
    # A longer window reaches c's google visit (25 h) and a's (30 h, but a's last click stays facebook).
    wide = service(container).report(workspace=shop, since=SINCE, until=UNTIL, lookback_hours=48)
    assert by_channel(wide) == {"facebook": 100.0, "line": 200.0, "google": 300.0, "(direct)": 400.0}


def test_first_click_and_linear(container, shop):
    first = service(container).report(workspace=shop, since=SINCE, until=UNTIL, model=Model.FIRST_CLICK)
    assert by_channel(first) == {"email": 100.0, "line": 200.0, "(direct)": 700.0}
    assert first.veil_share == pytest.approx(0.3)
    linear = service(container).report(workspace=shop, since=SINCE, until=UNTIL, model=Model.LINEAR)
    assert by_channel(linear) == {"email": 50.0, "facebook": 50.0, "line": 200.0, "(direct)": 700.0}
    email = next(c for c in linear.campaigns if c.channel == "email")
    assert email.campaign == "nl-1" and email.orders == 0.5


ATTR = """query($s: DateTime!, $u: DateTime!) { attribution(since: $s, until: $u) { orders totalRevenue veilShare
  channels { key revenue customers value cost suppressed } } }"""
KPI = """query($s: DateTime!, $u: DateTime!) { kpis(since: $s, until: $u, cohortMonths: 1) { buyers repeatBuyers
  repeatPurchaseRate aovByTier { key customers value suppressed } cohorts { month size retention suppressed } } }"""
COST = """mutation($s: DateTime!, $u: DateTime!) { recordCampaignCost(channel: "facebook", campaign: "retarget",
  amount: 50, starts: $s, ends: $u) }"""


def test_costs_roas_kpis_and_k_anonymity_over_graphql(client, container, shop):
    ws = shop
    marketer, analyst = key(container, ws, "marketer"), key(container, ws, "analyst")
    support = key(container, ws, "support_agent")
    v = {"s": SINCE.isoformat(), "u": UNTIL.isoformat()}
    cost = gql(client, COST, token=marketer, purpose="marketing", variables=v).json()
    assert "errors" not in cost, cost
    cost_id = cost["data"]["recordCampaignCost"]
    assert any(a["a"]["resource"] == "campaign_costs" and a["a"]["action"] == "write"
               and a["a"].get("subject") == cost_id for a in audit_rows(container, ws))
    assert codes(gql(client, COST, token=analyst, purpose="analytics", variables=v)) == ["FORBIDDEN"]

    # Analysts may read individual profiles: no suppression; ROAS from the cost.
    a = gql(client, ATTR, token=analyst, purpose="analytics", variables=v).json()["data"]["attribution"]
    rows = {r["key"]: r for r in a["channels"]}
    assert rows["facebook"]["value"] == pytest.approx(2.0) and rows["facebook"]["cost"] == pytest.approx(50.0)
    assert rows["line"]["revenue"] == 200.0 and not rows["line"]["suppressed"]
    # Marketers may not: every group here has fewer than k = 5 people, so numbers are withheld.
    m = gql(client, ATTR, token=marketer, purpose="marketing", variables=v).json()["data"]["attribution"]
    assert all(r["suppressed"] and r["revenue"] is None and r["customers"] is None for r in m["channels"])
    assert m["orders"] is None  # 4 orders, fewer than k: the totals are withheld as well
    assert codes(gql(client, ATTR, token=support, purpose="support", variables=v)) == ["FORBIDDEN"]

    container.analytics.refresh(workspace=ws)
    k = gql(client, KPI, token=analyst, purpose="analytics", variables=v).json()["data"]["kpis"]
    assert (k["buyers"], k["repeatBuyers"], k["repeatPurchaseRate"]) == (4, 1, 0.25)
    tiers = {r["key"]: r for r in k["aovByTier"]}
    assert tiers["gold"]["value"] == 150.0 and tiers["gold"]["customers"] == 2
    assert tiers["silver"]["value"] == 300.0 and tiers["(none)"]["value"] == 400.0
    assert k["cohorts"] == [{"month": "2026-06", "size": 4, "retention": [1.0, 0.0], "suppressed": False}]
    km = gql(client, KPI, token=marketer, purpose="marketing", variables=v).json()["data"]["kpis"]
    assert km["repeatPurchaseRate"] is None and all(r["suppressed"] for r in km["aovByTier"])
    assert km["cohorts"][0]["suppressed"] and km["cohorts"][0]["retention"] is None
    reasons = [a["a"]["reason"] for a in audit_rows(container, ws) if a["a"]["resource"] == "aggregates"]
    assert reasons.count("attribution") == 2 and reasons.count("kpis") == 2


def test_k_threshold_is_a_setting(client, container, shop, monkeypatch):
    monkeypatch.setattr(container.reports, "k", 2)
    marketer = key(container, shop, "marketer")
    v = {"s": SINCE.isoformat(), "u": UNTIL.isoformat()}
    m = gql(client, ATTR, token=marketer, purpose="marketing", variables=v).json()["data"]["attribution"]
    rows = {r["key"]: r for r in m["channels"]}
    assert rows["(direct)"]["customers"] == 2 and not rows["(direct)"]["suppressed"]  # c and d
    assert rows["line"]["suppressed"]  # one person
