"""GraphQL for segment evaluation and membership history (and, below, reports): thin calls into
`segments.usecases.SegmentCases` and `analytics.reports.Reports`, which authorizes, audits and applies k-anonymity."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.common import ctx_of, run
from api.graphql.types import Profile, PurposeEnum


@strawberry.type(description="A saved segment")
class SavedSegment:
    id: str
    name: str
    definition: strawberry.scalars.JSON
    realtime: bool
    last_evaluated_at: datetime | None

    @staticmethod
    def of(rec) -> SavedSegment:  # type: ignore[no-untyped-def]
        """From a segment record."""
        return SavedSegment(id=rec.id, name=rec.name, definition=json.loads(rec.definition), realtime=rec.realtime,
                            last_evaluated_at=rec.last_evaluated_at)


@strawberry.type(description="Outcome of evaluating a segment: memberships opened and closed, size after")
class SegmentEvaluation:
    segment_id: str
    at: datetime
    entered: int
    left: int
    size: int


@strawberry.type(description="Who entered and left a segment in [since, until); samples are masked and "
                             "empty for roles that may not read profiles")
class SegmentMembership:
    segment_id: str
    since: datetime
    until: datetime
    entered_count: int
    left_count: int
    entered: list[Profile]
    left: list[Profile]


@strawberry.type(description="Segment size at a moment")
class SegmentSize:
    at: datetime
    size: int


@strawberry.type
class SegmentQueries:
    @strawberry.field(description="Saved segments of this workspace")
    async def segments(self, info: Info, purpose: PurposeEnum | None = None) -> list[SavedSegment]:
        ctx = ctx_of(info, purpose)
        return [SavedSegment.of(r) for r in await run(info.context["veil"].c.segment_cases.list_segments, ctx)]

    @strawberry.field(description="Who entered and who left a saved segment in [since, until) (until: now)")
    async def segment_membership(self, info: Info, id: str, since: datetime, until: datetime | None = None,
                                 sample_size: int = 10, purpose: PurposeEnum | None = None) -> SegmentMembership:
        ctx = ctx_of(info, purpose)
        m = await run(info.context["veil"].c.segment_cases.membership, ctx, id, since=since, until=until,
                      sample_size=sample_size)
        return SegmentMembership(segment_id=m.segment_id, since=m.since, until=m.until,
                                 entered_count=m.entered_count, left_count=m.left_count,
                                 entered=[Profile.from_masked(x) for x in m.entered],
                                 left=[Profile.from_masked(x) for x in m.left])

    @strawberry.field(description="A saved segment's size at each given time (membership history)")
    async def segment_sizes(self, info: Info, id: str, times: list[datetime],
                            purpose: PurposeEnum | None = None) -> list[SegmentSize]:
        ctx = ctx_of(info, purpose)
        points = await run(info.context["veil"].c.segment_cases.sizes, ctx, id, times)
        return [SegmentSize(at=p.at, size=p.size) for p in points]


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(description="Recompute a saved segment's membership now (history kept)")
    async def evaluate_segment(self, info: Info, id: str, purpose: PurposeEnum | None = None) -> SegmentEvaluation:
        ctx = ctx_of(info, purpose)
        r = await run(info.context["veil"].c.segment_cases.evaluate, ctx, id)
        return SegmentEvaluation(segment_id=r.segment_id, at=r.at, entered=r.entered, left=r.left, size=r.size)


@strawberry.type(description="One group of an aggregate; numbers are null when `suppressed` (fewer people than k, "
                             "for roles that may not see individuals)")
class AggregateRow:
    key: str
    campaign: str | None
    customers: int | None
    orders: float | None
    revenue: float | None
    value: float | None = strawberry.field(description="AOV, ROAS or share, depending on the report")
    cost: float | None
    suppressed: bool

    @staticmethod
    def of(r) -> AggregateRow:  # type: ignore[no-untyped-def]
        """From a report row."""
        return AggregateRow(key=r.key, campaign=r.campaign, customers=r.customers, orders=r.orders,
                            revenue=r.revenue, value=r.value, cost=r.cost, suppressed=r.suppressed)


@strawberry.type(description="Orders credited to channel and campaign touches; value = ROAS where costs exist")
class AttributionResult:
    model: str
    lookback_hours: float
    orders: int | None = strawberry.field(description="null when under k and your role may not see individuals")
    total_revenue: float | None
    veil_revenue: float | None
    veil_share: float | None = strawberry.field(description="Share of revenue through Veil-driven channels")
    channels: list[AggregateRow]
    campaigns: list[AggregateRow]


@strawberry.type
class CohortRow:
    month: str
    size: int | None
    retention: list[float] | None = strawberry.field(description="Share buying k months after the first order")
    suppressed: bool


@strawberry.type(description="Dashboard KPIs of a period; AOV rows carry value = average order value")
class KpiResult:
    aov_by_tier: list[AggregateRow]
    aov_by_stage: list[AggregateRow]
    buyers: int
    repeat_buyers: int | None
    repeat_purchase_rate: float | None
    cohorts: list[CohortRow]


@strawberry.type(description="NASLD stage moves: rows = stage in fromMonth, columns = stage in toMonth; the last "
                             "row counts people new in toMonth. Null cells are suppressed.")
class StageTransitions:
    from_month: str
    to_month: str
    stages: list[str]
    counts: list[list[int | None]]


@strawberry.type
class ReportQueries:
    @strawberry.field(description="Attribution of orders in [since, until) (model: last_click, first_click, linear)")
    async def attribution(self, info: Info, since: datetime, until: datetime, model: str | None = None,
                          lookback_hours: float | None = None, purpose: PurposeEnum | None = None) -> AttributionResult:
        ctx = ctx_of(info, purpose)
        r = await run(info.context["veil"].c.reports.attribution_report, ctx, since=since, until=until, model=model,
                      lookback_hours=lookback_hours)
        return AttributionResult(model=r.model, lookback_hours=r.lookback_hours, orders=r.orders,
                                 total_revenue=r.total_revenue, veil_revenue=r.veil_revenue, veil_share=r.veil_share,
                                 channels=[AggregateRow.of(x) for x in r.channels],
                                 campaigns=[AggregateRow.of(x) for x in r.campaigns])

    @strawberry.field(description="AOV by member tier and lifecycle stage, repeat-purchase rate, cohort retention")
    async def kpis(self, info: Info, since: datetime, until: datetime, cohort_months: int = 6,
                   purpose: PurposeEnum | None = None) -> KpiResult:
        ctx = ctx_of(info, purpose)
        k = await run(info.context["veil"].c.reports.kpis, ctx, since=since, until=until,
                      cohort_months=max(0, min(cohort_months, 24)))
        return KpiResult(aov_by_tier=[AggregateRow.of(x) for x in k.aov_by_tier],
                         aov_by_stage=[AggregateRow.of(x) for x in k.aov_by_stage], buyers=k.buyers,
                         repeat_buyers=k.repeat_buyers, repeat_purchase_rate=k.repeat_purchase_rate,
                         cohorts=[CohortRow(month=m, size=n, retention=list(r) if r is not None else None,
                                            suppressed=s) for m, n, r, s in k.cohorts])

    @strawberry.field(description="Monthly NASLD transition matrix (month YYYY-MM, default this month)")
    async def stage_transitions(self, info: Info, month: str | None = None,
                                purpose: PurposeEnum | None = None) -> StageTransitions:
        ctx = ctx_of(info, purpose)
        f, t, stages, cells = await run(info.context["veil"].c.reports.transitions, ctx, month=month)
        return StageTransitions(from_month=f, to_month=t, stages=list(stages), counts=cells)

    @strawberry.field(description="Each lifecycle stage's revenue in [since, until); value = share of revenue")
    async def stage_revenue(self, info: Info, since: datetime, until: datetime,
                            purpose: PurposeEnum | None = None) -> list[AggregateRow]:
        ctx = ctx_of(info, purpose)
        rows = await run(info.context["veil"].c.reports.stage_revenue, ctx, since=since, until=until)
        return [AggregateRow.of(r) for r in rows]


@strawberry.type
class ReportMutations:
    @strawberry.mutation(description="Enter money spent on a channel (and campaign) over [starts, ends); audited")
    async def record_campaign_cost(self, info: Info, channel: str, amount: float, starts: datetime, ends: datetime,
                                   campaign: str | None = None, currency: str = "TWD",
                                   purpose: PurposeEnum | None = None) -> str:
        ctx = ctx_of(info, purpose)
        return await run(info.context["veil"].c.reports.record_cost, ctx, channel=channel, campaign=campaign,
                         amount=amount, currency=currency, starts=starts, ends=ends)
