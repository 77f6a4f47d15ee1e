"""Attribution (last click, first click, linear) within a lookback, ROAS, and dashboard KPIs.

A touch is an interaction of the same person before the order, within the lookback (24 h by
default): one with UTM fields (its channel is utm_source, its campaign utm_campaign) or a
configured click event (e-mail/LINE/SMS links; the campaign comes from the event's
`campaign_name`/`campaign_id`/`campaign` property). Orders without a touch are `(direct)`.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from analytics.settings import AnalyticsSettings
from graph.attribution import AttributionRepository, CostRecord, OrderTouches, Touch
from privacy.vault import FieldVault, is_sealed

DIRECT = "(direct)"
NO_CAMPAIGN = "(none)"


class Model(StrEnum):
    """How an order's revenue is split over its touches."""

    LAST_CLICK = "last_click"
    FIRST_CLICK = "first_click"
    LINEAR = "linear"


@dataclass(frozen=True)
class Credit:
    """Revenue, orders (fractional under linear) and distinct customers credited to a group."""

    channel: str
    campaign: str | None
    revenue: float
    orders: float
    customers: int
    cost: float | None = None

    @property
    def roas(self) -> float | None:
        """Revenue per unit of cost (None without a cost)."""
        return self.revenue / self.cost if self.cost else None


@dataclass(frozen=True)
class AttributionReport:
    """Attributed revenue by channel and by campaign in a period."""

    model: Model
    lookback: timedelta
    since: datetime
    until: datetime
    total_revenue: float
    orders: int
    channels: tuple[Credit, ...]
    campaigns: tuple[Credit, ...]
    veil_revenue: float

    @property
    def veil_share(self) -> float:
        """Share of all order revenue credited to Veil-driven channels."""
        return self.veil_revenue / self.total_revenue if self.total_revenue else 0.0


def touch_channel(t: Touch, click_events: dict[str, str]) -> tuple[str, str]:
    """(channel, campaign) of a touch."""
    if t.utm_source:
        return t.utm_source.lower(), t.utm_campaign or NO_CAMPAIGN
    channel = click_events.get(t.event or "", "other")
    campaign = NO_CAMPAIGN
    if t.properties:
        try:
            props = json.loads(t.properties)
        except ValueError:
            props = {}
        for k in ("campaign_name", "campaign_id", "campaign"):
            if isinstance(props.get(k), str | int) and not isinstance(props.get(k), bool):
                campaign = str(props[k])
                break
    return channel, campaign


def credit(order: OrderTouches, model: Model, click_events: dict[str, str]) -> list[tuple[str, str, float]]:
    """(channel, campaign, weight) of one order; weights sum to 1."""
    if not order.touches:
        return [(DIRECT, NO_CAMPAIGN, 1.0)]
    touches = sorted(order.touches, key=lambda t: t.epoch)
    if model is Model.LAST_CLICK:
        return [(*touch_channel(touches[-1], click_events), 1.0)]
    if model is Model.FIRST_CLICK:
        return [(*touch_channel(touches[0], click_events), 1.0)]
    w = 1.0 / len(touches)
    return [(*touch_channel(t, click_events), w) for t in touches]


def _prorated(cost: CostRecord, since: datetime, until: datetime) -> float:
    span = (cost.ends - cost.starts).total_seconds()
    overlap = (min(cost.ends, until) - max(cost.starts, since)).total_seconds()
    return cost.amount * max(0.0, overlap) / span if span > 0 else cost.amount


def attribute(orders: list[OrderTouches], *, model: Model, click_events: dict[str, str], veil_channels: set[str],
              costs: list[CostRecord], since: datetime, until: datetime, lookback: timedelta) -> AttributionReport:
    """Credit every order to its touches and join prorated costs (ROAS) per channel and campaign."""
    rev: dict[tuple[str, str], float] = defaultdict(float)
    cnt: dict[tuple[str, str], float] = defaultdict(float)
    who: dict[tuple[str, str], set[str]] = defaultdict(set)
    for o in orders:
        for channel, campaign, w in credit(o, model, click_events):
            rev[(channel, campaign)] += w * o.revenue
            cnt[(channel, campaign)] += w
            who[(channel, campaign)].add(o.profile_id)
    channel_cost: dict[str, float] = defaultdict(float)
    campaign_cost: dict[tuple[str, str], float] = defaultdict(float)
    for c in costs:
        amount = _prorated(c, since, until)
        channel_cost[c.channel] += amount
        if c.campaign:
            campaign_cost[(c.channel, c.campaign)] += amount
    by_channel: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in rev:
        by_channel[key[0]].append(key)
    for ch in channel_cost:
        by_channel.setdefault(ch, [])
    channels = tuple(sorted((Credit(
        channel=ch, campaign=None, revenue=sum(rev[k] for k in keys), orders=sum(cnt[k] for k in keys),
        customers=len(set().union(*(who[k] for k in keys))) if keys else 0, cost=channel_cost.get(ch))
        for ch, keys in by_channel.items()), key=lambda c: -c.revenue))
    campaign_keys = set(rev) | set(campaign_cost)
    campaigns = tuple(sorted((Credit(
        channel=ch, campaign=cp, revenue=rev.get((ch, cp), 0.0), orders=cnt.get((ch, cp), 0.0),
        customers=len(who.get((ch, cp), ())), cost=campaign_cost.get((ch, cp)))
        for ch, cp in campaign_keys), key=lambda c: (-c.revenue, c.channel, c.campaign or "")))
    total = sum(o.revenue for o in orders)
    veil = sum(c.revenue for c in channels if c.channel in veil_channels)
    return AttributionReport(model=model, lookback=lookback, since=since, until=until, total_revenue=total,
                             orders=len(orders), channels=channels, campaigns=campaigns, veil_revenue=veil)


@dataclass(frozen=True)
class Cohort:
    """Customers whose first order fell in `month`, and the share of them buying k months later."""

    month: str
    size: int
    retention: tuple[float, ...]  # index k = months after the first order (k = 0 is 1.0)


def _month_index(epoch: int) -> int:
    d = datetime.fromtimestamp(epoch, UTC)
    return d.year * 12 + d.month - 1


def cohorts(order_epochs: list[list[int]], *, since: datetime, months: int) -> list[Cohort]:
    """Monthly first-order cohorts from `since` on, with retention for up to `months` months."""
    start = since.year * 12 + since.month - 1
    members: dict[int, list[set[int]]] = defaultdict(list)
    for epochs in order_epochs:
        if not epochs:
            continue
        active = {_month_index(e) for e in epochs}
        first = min(active)
        if first >= start:
            members[first].append(active)
    out = []
    for m in sorted(members):
        people = members[m]
        ret = tuple(sum(1 for a in people if m + k in a) / len(people) for k in range(months + 1))
        out.append(Cohort(month=f"{m // 12}-{m % 12 + 1:02d}", size=len(people), retention=ret))
    return out


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AttributionService:
    """Attribution, campaign costs and KPIs of a workspace."""

    def __init__(self, *, repo: AttributionRepository, settings: AnalyticsSettings,
                 clock: Callable[[], datetime] = _utcnow, vault: FieldVault | None = None) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock
        self.vault = vault  # click properties are sealed at rest (they may hold personal data)

    def _opened(self, orders: list[OrderTouches]) -> list[OrderTouches]:
        """Orders with their touches' sealed properties opened (one key-store call)."""
        if self.vault is None:
            return orders
        vault = self.vault
        vault.preload([t.properties for o in orders for t in o.touches if is_sealed(t.properties)])
        return [replace(o, touches=tuple(replace(t, properties=vault.open(t.properties))
                                         if is_sealed(t.properties) else t for t in o.touches))
                for o in orders]

    def report(self, *, workspace: str, since: datetime, until: datetime, model: Model | None = None,
               lookback_hours: float | None = None) -> AttributionReport:
        """Attribute the orders of [since, until)."""
        s = self.settings
        model = model or Model(s.attribution_model)
        hours = s.attribution_lookback_hours if lookback_hours is None else lookback_hours
        if not 0 < hours <= 24 * 90:
            raise ValueError("lookback must be between 0 and 2160 hours")
        lookback = timedelta(hours=hours)
        orders = self._opened(self.repo.order_touches(
            workspace=workspace, events=list(s.purchase_events), clicks=list(s.click_events), since=since,
            until=until, lookback=lookback))
        costs = self.repo.costs(workspace=workspace, since=since, until=until)
        return attribute(orders, model=model, click_events=s.click_events, veil_channels=set(s.veil_channels),
                         costs=costs, since=since, until=until, lookback=lookback)

    def add_cost(self, *, workspace: str, channel: str, campaign: str | None, amount: float, currency: str,
                 starts: datetime, ends: datetime, actor: str) -> str:
        """Record money spent on a channel (and campaign) over [starts, ends); returns its id."""
        channel = channel.strip().lower()
        if not channel or len(channel) > 100 or (campaign is not None and len(campaign) > 200):
            raise ValueError("channel must be 1-100 characters and campaign at most 200")
        if not (amount >= 0 and amount < 1e15):
            raise ValueError("amount must be a number >= 0")
        if starts.tzinfo is None or ends.tzinfo is None or ends <= starts:
            raise ValueError("starts and ends must be timezone-aware with ends after starts")
        return self.repo.add_cost(workspace=workspace, cost_id=f"cost_{uuid.uuid4().hex}", channel=channel,
                                  campaign=campaign or None, amount=float(amount), currency=currency.upper()[:8],
                                  starts=starts, ends=ends, actor=actor, now=self.clock())

    def repeat_rate(self, *, workspace: str, since: datetime, until: datetime) -> tuple[int, int]:
        """(buyers in the period, of whom with two or more orders ever)."""
        return self.repo.repeat(workspace=workspace, events=list(self.settings.purchase_events), since=since,
                                until=until)

    def cohorts(self, *, workspace: str, since: datetime, until: datetime, months: int = 6) -> list[Cohort]:
        """First-order cohorts from `since`, retention by month."""
        epochs = self.repo.order_epochs(workspace=workspace, events=list(self.settings.purchase_events),
                                        until=until)
        return cohorts(epochs, since=since, months=months)
