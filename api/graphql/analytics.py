"""GraphQL for segment evaluation and membership history (and, below, reports): thin calls into
`access.reports.Reports`, which authorizes, audits and applies k-anonymity."""

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
        return [SavedSegment.of(r) for r in await run(info.context["veil"].c.reports.list_segments, ctx)]

    @strawberry.field(description="Who entered and who left a saved segment in [since, until) (until: now)")
    async def segment_membership(self, info: Info, id: str, since: datetime, until: datetime | None = None,
                                 sample_size: int = 10, purpose: PurposeEnum | None = None) -> SegmentMembership:
        ctx = ctx_of(info, purpose)
        m = await run(info.context["veil"].c.reports.membership, ctx, id, since=since, until=until,
                      sample_size=sample_size)
        return SegmentMembership(segment_id=m.segment_id, since=m.since, until=m.until,
                                 entered_count=m.entered_count, left_count=m.left_count,
                                 entered=[Profile.from_masked(x) for x in m.entered],
                                 left=[Profile.from_masked(x) for x in m.left])

    @strawberry.field(description="A saved segment's size at each given time (membership history)")
    async def segment_sizes(self, info: Info, id: str, times: list[datetime],
                            purpose: PurposeEnum | None = None) -> list[SegmentSize]:
        ctx = ctx_of(info, purpose)
        points = await run(info.context["veil"].c.reports.sizes, ctx, id, times)
        return [SegmentSize(at=p.at, size=p.size) for p in points]


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(description="Recompute a saved segment's membership now (history kept)")
    async def evaluate_segment(self, info: Info, id: str, purpose: PurposeEnum | None = None) -> SegmentEvaluation:
        ctx = ctx_of(info, purpose)
        r = await run(info.context["veil"].c.reports.evaluate, ctx, id)
        return SegmentEvaluation(segment_id=r.segment_id, at=r.at, entered=r.entered, left=r.left, size=r.size)
