"""Segment service: validate, preview, save and evaluate segments, and answer membership history.

No web framework and no policy here: transports authorize the caller and mask the sample ids
through the enforcement pipeline before anything leaves the process.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from collect.rules import DEFAULT_TYPES
from graph.segments import (
    Evaluation,
    MembershipChange,
    SegmentRecord,
    SegmentRepository,
    SizePoint,
)
from segments.compiler import (
    DEFAULT_PURCHASE_EVENTS,
    MAX_REFERENCE_DEPTH,
    Catalog,
    CompiledSegment,
    compile_segment,
)
from segments.model import (
    Condition,
    Issue,
    SegmentError,
    SegmentNotFound,
    dump_definition,
    parse_definition,
)

log = logging.getLogger("veil.segments")
MAX_SAMPLE = 100
MAX_NAME = 200


class Preview(NamedTuple):
    """How many people match now, and a few of their profile ids (unmasked: mask before use)."""

    count: int
    sample_ids: tuple[str, ...]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SegmentService:
    """Segments of one deployment; every call names its workspace."""

    def __init__(self, *, repo: SegmentRepository, purchase_events: Iterable[str] = DEFAULT_PURCHASE_EVENTS,
                 max_depth: int = MAX_REFERENCE_DEPTH, clock: Callable[[], datetime] = _utcnow,
                 sealed_trait: Callable[[str, str], bool] | None = None) -> None:
        self.repo = repo
        self.sealed_trait = sealed_trait
        self.purchase_events = frozenset(purchase_events)
        self.max_depth = max_depth
        self.clock = clock

    def catalog(self, *, workspace: str) -> Catalog:
        """The allow-lists for a workspace: names present in its graph, plus built-in identifier types."""
        known = self.repo.known_names(workspace=workspace)
        sealed = (frozenset(t for t in known.traits if self.sealed_trait(workspace, t)) if self.sealed_trait
                  else frozenset())
        return Catalog(traits=known.traits, events=known.events, categories=known.categories,
                       identifier_types=known.identifier_types | frozenset(DEFAULT_TYPES), sealed_traits=sealed)

    def _resolver(self, workspace: str) -> Callable[[str], Condition | None]:
        def resolve(segment_id: str) -> Condition | None:
            rec = self.repo.get(workspace=workspace, segment_id=segment_id)
            return parse_definition(rec.definition) if rec is not None else None
        return resolve

    def validate(self, *, workspace: str, definition: Any, segment_id: str | None = None,
                 now: datetime | None = None) -> CompiledSegment:
        """Check a definition against the workspace's names and compile it (SegmentError if not usable)."""
        return compile_segment(definition, catalog=self.catalog(workspace=workspace),
                               resolve=self._resolver(workspace), now=now or self.clock(),
                               segment_id=segment_id, purchase_events=self.purchase_events,
                               max_depth=self.max_depth)

    def preview(self, *, workspace: str, definition: Any, sample_size: int = 10) -> Preview:
        """Count the people a definition selects now and return up to `sample_size` of their ids."""
        if not 0 <= sample_size <= MAX_SAMPLE:
            raise SegmentError("invalid_sample_size", f"sample_size must be 0-{MAX_SAMPLE}",
                               (Issue("sample_size", "invalid_sample_size", f"must be 0-{MAX_SAMPLE}"),))
        compiled = self.validate(workspace=workspace, definition=definition)
        count = self.repo.count(workspace=workspace, compiled=compiled)
        sample = self.repo.sample(workspace=workspace, compiled=compiled, limit=sample_size) if sample_size else []
        return Preview(count, tuple(sample))

    def save(self, *, workspace: str, name: str, definition: Any,
             segment_id: str | None = None, realtime: bool = False) -> SegmentRecord:
        """Create a segment, or replace the name and definition of `segment_id`; validated first."""
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > MAX_NAME:
            raise SegmentError("invalid_segment", f"name must be 1-{MAX_NAME} characters",
                               (Issue("name", "invalid_name", f"must be 1-{MAX_NAME} characters"),))
        if segment_id is not None and self.repo.get(workspace=workspace, segment_id=segment_id) is None:
            raise SegmentNotFound(segment_id)
        new_id = segment_id or f"seg_{uuid.uuid4().hex}"
        compiled = self.validate(workspace=workspace, definition=definition, segment_id=new_id)
        text, now = dump_definition(compiled.condition), self.clock()
        if segment_id is None:
            return self.repo.create(workspace=workspace, segment_id=new_id, name=name, definition=text, now=now,
                                    realtime=realtime)
        rec = self.repo.update(workspace=workspace, segment_id=segment_id, name=name, definition=text, now=now,
                               realtime=realtime)
        if rec is None:
            raise SegmentNotFound(segment_id)
        return rec

    def get_segment(self, *, workspace: str, segment_id: str) -> SegmentRecord | None:
        """A saved segment, or None."""
        return self.repo.get(workspace=workspace, segment_id=segment_id)

    def segment_or_raise(self, *, workspace: str, segment_id: str) -> SegmentRecord:
        """A saved segment, or SegmentNotFound."""
        rec = self.repo.get(workspace=workspace, segment_id=segment_id)
        if rec is None:
            raise SegmentNotFound(segment_id)
        return rec

    def list_segments(self, *, workspace: str) -> list[SegmentRecord]:
        """The workspace's saved segments."""
        return self.repo.list(workspace=workspace)

    def definition(self, *, workspace: str, segment_id: str) -> Condition:
        """A saved segment's definition as a model."""
        return parse_definition(self.segment_or_raise(workspace=workspace, segment_id=segment_id).definition)

    def compiled(self, *, workspace: str, segment_id: str, now: datetime | None = None) -> CompiledSegment:
        """A saved segment compiled against the workspace's current names (references inlined)."""
        return self.validate(workspace=workspace, segment_id=segment_id, now=now,
                             definition=self.definition(workspace=workspace, segment_id=segment_id))

    def members(self, *, workspace: str, segment_id: str) -> Iterator[str]:
        """The profile ids a saved segment selects now (live, not the stored memberships)."""
        compiled = self.compiled(workspace=workspace, segment_id=segment_id)
        return self.repo.members(workspace=workspace, compiled=compiled)

    def evaluate(self, *, workspace: str, segment_id: str, profile_ids: Iterable[str] | None = None) -> Evaluation:
        """Recompute membership: open memberships for new members, close them for people who left
        (of everyone, or only of `profile_ids`)."""
        now = self.clock()
        compiled = self.compiled(workspace=workspace, segment_id=segment_id, now=now)
        ids = None if profile_ids is None else sorted(set(profile_ids))
        result = self.repo.evaluate(workspace=workspace, segment_id=segment_id, compiled=compiled, now=now,
                                    profile_ids=ids)
        if result is None:
            raise SegmentNotFound(segment_id)
        return result

    def evaluate_all(self, *, workspace: str, realtime_only: bool = False,
                     profile_ids: Iterable[str] | None = None) -> list[Evaluation]:
        """Evaluate every saved segment of a workspace (or only those marked realtime), for everyone
        or only for `profile_ids`."""
        out = []
        ids = None if profile_ids is None else list(profile_ids)
        for rec in self.repo.list(workspace=workspace):
            if realtime_only and not rec.realtime:
                continue
            try:
                out.append(self.evaluate(workspace=workspace, segment_id=rec.id, profile_ids=ids))
            except SegmentError as exc:  # e.g. a trait that no longer exists: skip, keep the others going
                log.warning("segment %s not evaluated: %s", rec.id, exc)
        return out

    def who_entered(self, *, workspace: str, segment_id: str, since: datetime,
                    until: datetime | None = None) -> list[MembershipChange]:
        """People who entered the segment in [since, until) (until defaults to now)."""
        self.segment_or_raise(workspace=workspace, segment_id=segment_id)
        return self.repo.entered_between(workspace=workspace, segment_id=segment_id, since=since,
                                         until=until or self.clock())

    def who_left(self, *, workspace: str, segment_id: str, since: datetime,
                 until: datetime | None = None) -> list[MembershipChange]:
        """People who left the segment in [since, until) (until defaults to now)."""
        self.segment_or_raise(workspace=workspace, segment_id=segment_id)
        return self.repo.left_between(workspace=workspace, segment_id=segment_id, since=since,
                                      until=until or self.clock())

    def size_history(self, *, workspace: str, segment_id: str, times: list[datetime]) -> list[SizePoint]:
        """The segment's size at each given time, from the stored membership history."""
        self.segment_or_raise(workspace=workspace, segment_id=segment_id)
        return self.repo.size_history(workspace=workspace, segment_id=segment_id, times=times)
