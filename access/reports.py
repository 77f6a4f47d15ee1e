"""Segment membership, model reports and attribution, through the enforcement pipeline.

Every call authorizes with the one `require`, audits (ids and field names, never values) and
applies k-anonymity: groups smaller than k are suppressed for roles that may not read
individual profiles (e.g. marketers). Samples of people go through the pipeline's consent gate
and masking, and are empty for such roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from access.pipeline import MaskedProfile, Pipeline, ReadContext
from graph.segments import Evaluation, SizePoint
from segments.model import SegmentError
from segments.service import SegmentService

MAX_SAMPLE = 50


@dataclass(frozen=True)
class Membership:
    """Who entered and left a segment in [since, until): counts, plus masked samples."""

    segment_id: str
    since: datetime
    until: datetime
    entered_count: int
    left_count: int
    entered: list[MaskedProfile]
    left: list[MaskedProfile]


class Reports:
    """Aggregate reads and their writes (evaluation, costs), authorized and audited."""

    def __init__(self, *, pipeline: Pipeline, segments: SegmentService, k_anonymity: int) -> None:
        self.pipeline = pipeline
        self.segments = segments
        self.k = k_anonymity

    def sees_individuals(self, ctx: ReadContext) -> bool:
        """True when the role may read individual profiles (no k-anonymity suppression then)."""
        return self.pipeline.authz.allowed(ctx.principal, "profile", "read")

    def suppress(self, ctx: ReadContext, n: int) -> bool:
        """Whether a group of n people must be hidden from this caller."""
        return 0 < n < self.k and not self.sees_individuals(ctx)

    # --- segments -------------------------------------------------------------------------------

    def list_segments(self, ctx: ReadContext) -> list[Any]:
        """The workspace's saved segments."""
        self.pipeline.require(ctx, "segments", "read")
        rows = self.segments.list_segments(workspace=ctx.principal.workspace)
        self.pipeline.audit_access(ctx, resource="segments", reason="list", returned=("segments.definition",))
        return rows

    def evaluate(self, ctx: ReadContext, segment_id: str) -> Evaluation:
        """Recompute a saved segment's membership now."""
        self.pipeline.require(ctx, "segments", "write")
        result = self.segments.evaluate(workspace=ctx.principal.workspace, segment_id=segment_id)
        self.pipeline.audit_access(ctx, resource="segments", reason="evaluated", write=True,
                                   returned=("segments.size",))
        return result

    def membership(self, ctx: ReadContext, segment_id: str, *, since: datetime, until: datetime | None,
                   sample_size: int) -> Membership:
        """Who entered and who left in [since, until): counts for everyone with segment access; a
        masked sample only for roles that may read profiles."""
        self.pipeline.require(ctx, "segments", "read")
        ws = ctx.principal.workspace
        until = until or self.segments.clock()
        entered = self.segments.who_entered(workspace=ws, segment_id=segment_id, since=since, until=until)
        left = self.segments.who_left(workspace=ws, segment_id=segment_id, since=since, until=until)
        n = max(0, min(sample_size, MAX_SAMPLE))
        entered_sample = self.pipeline.sample_profiles(ctx, [c.profile_id for c in entered[:n]])
        left_sample = self.pipeline.sample_profiles(ctx, [c.profile_id for c in left[:n]])
        self.pipeline.audit_access(ctx, resource="segments", reason="membership",
                                   returned=("segments.entered_count", "segments.left_count"))
        return Membership(segment_id, since, until, len(entered), len(left), entered_sample, left_sample)

    def sizes(self, ctx: ReadContext, segment_id: str, times: list[datetime]) -> list[SizePoint]:
        """A saved segment's size at each time (from the membership history)."""
        self.pipeline.require(ctx, "segments", "read")
        if not 1 <= len(times) <= 400:
            raise SegmentError("invalid_request", "give 1-400 times")
        points = self.segments.size_history(workspace=ctx.principal.workspace, segment_id=segment_id,
                                            times=sorted(times))
        self.pipeline.audit_access(ctx, resource="segments", reason="size_history", returned=("segments.size",))
        return points
