"""Model reports, attribution and KPIs (and their writes: campaign costs, score refresh), each
behind the guard: authorized, audited (ids and field names, never values) and k-anonymous for
roles that may not read individual profiles (e.g. marketers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from access.kanon import KAnonymity
from access.pipeline import Pipeline, ReadContext
from access.principal import Principal
from analytics.attribution import AttributionService, Credit, Model
from analytics.service import AnalyticsService
from segments.model import SegmentError


@dataclass(frozen=True)
class GroupRow:
    """One row of an aggregate; numbers are None when the group is suppressed (k-anonymity)."""

    key: str
    customers: int | None
    orders: float | None
    revenue: float | None
    value: float | None  # AOV, ROAS, share... depending on the report
    cost: float | None = None
    campaign: str | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class Attribution:
    """An attribution report as the caller may see it."""

    model: str
    lookback_hours: float
    orders: int | None  # None: fewer than k orders, hidden from roles without individual access
    total_revenue: float | None
    veil_revenue: float | None
    veil_share: float | None
    channels: list[GroupRow]
    campaigns: list[GroupRow]


@dataclass(frozen=True)
class Kpis:
    """Dashboard KPIs of a period."""

    aov_by_tier: list[GroupRow]
    aov_by_stage: list[GroupRow]
    buyers: int
    repeat_buyers: int | None
    repeat_purchase_rate: float | None
    cohorts: list[tuple[str, int | None, tuple[float, ...] | None, bool]]  # month, size, retention, suppressed


class Reports:
    """Aggregate reads and their writes, authorized and audited."""

    def __init__(self, *, pipeline: Pipeline, analytics: AnalyticsService, attribution: AttributionService,
                 kanon: KAnonymity) -> None:
        self.pipeline = pipeline
        self.analytics = analytics
        self.attribution = attribution
        self.kanon = kanon

    @property
    def k(self) -> int:
        """The k of k-anonymity."""
        return self.kanon.k

    @k.setter
    def k(self, value: int) -> None:
        self.kanon.k = value

    def suppress(self, ctx: ReadContext, n: int) -> bool:
        """Whether a group of n people must be hidden from this caller."""
        return self.kanon.suppress(ctx, n)

    def refresh_scores(self, caller: Principal, *, progress: Any = None) -> Any:
        """Recompute the lifecycle and prediction scores of every buyer (a write of derived data)."""
        self.pipeline.guard.require(caller, "analytics.scores", "write", reason="refresh")
        return self.analytics.refresh(workspace=caller.workspace, progress=progress)

    # --- attribution and KPIs ---------------------------------------------------------------------

    def _row(self, ctx: ReadContext, key: str, customers: int, orders: float, revenue: float, value: float | None,
             cost: float | None = None, campaign: str | None = None) -> GroupRow:
        if self.suppress(ctx, customers):
            return GroupRow(key, None, None, None, None, None, campaign, suppressed=True)
        return GroupRow(key, customers, orders, revenue, value, cost, campaign)

    def _credit_row(self, ctx: ReadContext, c: Credit) -> GroupRow:
        return self._row(ctx, c.channel, c.customers, c.orders, c.revenue, c.roas, c.cost, c.campaign)

    def attribution_report(self, ctx: ReadContext, *, since: datetime, until: datetime, model: str | None,
                           lookback_hours: float | None) -> Attribution:
        """Revenue by channel and campaign (ROAS where costs exist); small groups suppressed."""
        self.pipeline.require(ctx, "aggregates", "read")
        try:
            r = self.attribution.report(workspace=ctx.principal.workspace, since=since, until=until,
                                        model=Model(model) if model else None, lookback_hours=lookback_hours)
        except ValueError as exc:
            raise SegmentError("invalid_request", str(exc)) from None
        hide = self.suppress(ctx, r.orders)  # totals of fewer than k orders could single a buyer out
        out = Attribution(model=r.model.value, lookback_hours=r.lookback.total_seconds() / 3600,
                          orders=None if hide else r.orders, total_revenue=None if hide else r.total_revenue,
                          veil_revenue=None if hide else r.veil_revenue, veil_share=None if hide else r.veil_share,
                          channels=[self._credit_row(ctx, c) for c in r.channels],
                          campaigns=[self._credit_row(ctx, c) for c in r.campaigns])
        self.pipeline.audit_access(ctx, resource="aggregates", reason="attribution",
                                   returned=("aggregates.attribution",))
        return out

    def record_cost(self, ctx: ReadContext, *, channel: str, campaign: str | None, amount: float, currency: str,
                    starts: datetime, ends: datetime) -> str:
        """Enter a campaign cost (audited write)."""
        self.pipeline.require(ctx, "campaign_costs", "write")
        try:
            cost_id = self.attribution.add_cost(workspace=ctx.principal.workspace, channel=channel,
                                                campaign=campaign, amount=amount, currency=currency, starts=starts,
                                                ends=ends, actor=ctx.principal.id)
        except ValueError as exc:
            raise SegmentError("invalid_request", str(exc)) from None
        self.pipeline.audit_access(ctx, resource="campaign_costs", reason="recorded", write=True,
                                   subject=cost_id, returned=("campaign_costs.amount",))
        return cost_id

    def kpis(self, ctx: ReadContext, *, since: datetime, until: datetime, cohort_months: int = 6) -> Kpis:
        """AOV by member tier and lifecycle stage, repeat-purchase rate, cohort retention."""
        self.pipeline.require(ctx, "aggregates", "read")
        ws = ctx.principal.workspace

        def aov(group: str) -> list[GroupRow]:
            rows = self.analytics.group_revenue(workspace=ws, group=group, since=since, until=until)
            return [self._row(ctx, g.group, g.buyers, g.orders, g.revenue, g.revenue / g.orders if g.orders else None)
                    for g in sorted(rows, key=lambda g: g.group)]

        buyers, repeaters = self.attribution.repeat_rate(workspace=ws, since=since, until=until)
        hidden = self.suppress(ctx, buyers)
        cohorts: list[tuple[str, int | None, tuple[float, ...] | None, bool]] = [
            (c.month, None, None, True) if self.suppress(ctx, c.size) else (c.month, c.size, c.retention, False)
            for c in self.attribution.cohorts(workspace=ws, since=since, until=until, months=cohort_months)]
        out = Kpis(aov_by_tier=aov("tier"), aov_by_stage=aov("stage"), buyers=buyers,
                   repeat_buyers=None if hidden else repeaters,
                   repeat_purchase_rate=None if hidden or not buyers else repeaters / buyers, cohorts=cohorts)
        self.pipeline.audit_access(ctx, resource="aggregates", reason="kpis", returned=("aggregates.kpis",))
        return out

    def transitions(self, ctx: ReadContext, *, month: str | None) -> tuple[str, str, tuple[str, ...],
                                                                            list[list[int | None]]]:
        """The NASLD transition matrix (cells under k hidden for roles that may not see individuals)."""
        self.pipeline.require(ctx, "aggregates", "read")
        if month is not None and not (len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit()):
            raise SegmentError("invalid_request", "month must be YYYY-MM")
        m = self.analytics.transition_matrix(workspace=ctx.principal.workspace, month=month)
        rows = [list(r) for r in m.counts] + [list(m.entered)]
        cells: list[list[int | None]] = [[None if self.suppress(ctx, n) else n for n in r] for r in rows]
        self.pipeline.audit_access(ctx, resource="aggregates", reason="transitions",
                                   returned=("aggregates.transitions",))
        return m.from_month, m.to_month, m.stages, cells

    def stage_revenue(self, ctx: ReadContext, *, since: datetime, until: datetime) -> list[GroupRow]:
        """Each lifecycle stage's revenue and share of the period's revenue."""
        self.pipeline.require(ctx, "aggregates", "read")
        rows = [self._row(ctx, s.stage, s.buyers, s.orders, s.revenue, s.share)
                for s in self.analytics.stage_revenue(workspace=ctx.principal.workspace, since=since, until=until)]
        self.pipeline.audit_access(ctx, resource="aggregates", reason="stage_revenue",
                                   returned=("aggregates.stage_revenue",))
        return rows
