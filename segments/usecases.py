"""Segment use cases (list, preview, save, evaluate, membership, size history), each behind the
guard: authorized, audited (ids and field names, never values), k-anonymous for roles that may not
see individuals; samples of people pass the consent gate and masking like any read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from access.kanon import KAnonymity
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


class SegmentCases:
    """What marketers and analysts do with segments."""

    def __init__(self, *, pipeline: Pipeline, segments: SegmentService, kanon: KAnonymity) -> None:
        self.pipeline = pipeline
        self.segments = segments
        self.kanon = kanon

    def suppress(self, ctx: ReadContext, n: int) -> bool:
        """Whether a group of n people must be hidden from this caller."""
        return self.kanon.suppress(ctx, n)

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

    def preview(self, ctx: ReadContext, *, definition: Any, sample_size: int) -> tuple[int | None, list[MaskedProfile]]:
        """Count and a small sample of a segment definition. The sample goes through the consent
        gate and masking (empty for roles that may not read profiles); for those roles a count
        under k is suppressed too (None), so a preview cannot single a person out."""
        self.pipeline.require(ctx, "segments", "read")
        preview = self.segments.preview(workspace=ctx.principal.workspace, definition=definition,
                                        sample_size=max(0, min(sample_size, MAX_SAMPLE)))
        sample = self.pipeline.sample_profiles(ctx, preview.sample_ids)
        hidden = self.suppress(ctx, preview.count)
        self.pipeline.audit_access(ctx, resource="segments", reason="preview_suppressed" if hidden else "preview",
                                   returned=() if hidden else ("segments.count",))
        return (None if hidden else preview.count), sample

    def save_segment(self, ctx: ReadContext, *, name: str, definition: Any, segment_id: str | None,
                     realtime: bool = False) -> Any:
        """Save (create or update) a segment definition, audited."""
        self.pipeline.require(ctx, "segments", "write")
        self.pipeline.audit_access(ctx, resource="segments", reason="saved", write=True,
                                   returned=("segments.definition",))
        return self.segments.save(workspace=ctx.principal.workspace, name=name, definition=definition,
                                  segment_id=segment_id, realtime=realtime)

    def evaluate_all(self, ctx: ReadContext, *, realtime_only: bool = False) -> list[Evaluation]:
        """Recompute every saved segment (or the realtime ones)."""
        self.pipeline.require(ctx, "segments", "write")
        results = self.segments.evaluate_all(workspace=ctx.principal.workspace, realtime_only=realtime_only)
        self.pipeline.audit_access(ctx, resource="segments", reason="evaluated_all", write=True,
                                   returned=("segments.size",))
        return results

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
