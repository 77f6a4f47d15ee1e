"""Bulk export of profiles through the same chain as any read, one audit record per person.

The trail must answer "who saw this customer?": every exported person gets an `export` record
(subject = profile id, the fields written, purpose, lawful basis), and every person left out by
a restriction of processing or an objection/refusal gets a `deny` record. A page's records are
stored before that page is handed to the writer, so nothing leaves unaudited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from access.guard import ReadContext
from access.pipeline import ConsentDenied, MaskedProfile, Pipeline
from audit.events import AuditAction, AuditEvent

PAGE = 500


@dataclass
class ExportSummary:
    """What an export wrote and what it left out (and why)."""

    exported: int = 0
    restricted: int = 0
    refused: int = 0  # consent refused or withdrawn, objection, no lawful basis for the purpose
    reasons: dict[str, int] = field(default_factory=dict)


class ProfileExporter:
    """Exports a workspace's active profiles, masked for the caller's role and purpose."""

    def __init__(self, *, pipeline: Pipeline, page_size: int = PAGE) -> None:
        self.pipeline = pipeline
        self.page_size = page_size

    def export(self, ctx: ReadContext, *, write: Callable[[MaskedProfile], None],
               progress: Callable[[int], None] | None = None) -> ExportSummary:
        """Stream every permitted person to `write`; restricted and objecting people are skipped."""
        guard = self.pipeline.guard
        guard.require(ctx, "profiles", "export", audit_action=AuditAction.EXPORT, reason="export_started")
        ws = ctx.principal.workspace
        summary = ExportSummary()
        after = ""
        while True:
            page = self.pipeline.profiles.page(workspace=ws, after=after, limit=self.page_size)
            if not page:
                return summary
            after = page[-1].id
            consents = self.pipeline.consents.for_subjects(workspace=ws, profile_ids=[p.id for p in page])
            events: list[AuditEvent] = []
            rows: list[MaskedProfile] = []
            for profile in page:
                try:
                    rows.append(self.pipeline._finish(ctx, profile, consents.get(profile.id, []), defer=events,
                                                      action=AuditAction.EXPORT))
                except ConsentDenied as exc:
                    if profile.restricted:
                        summary.restricted += 1
                    else:
                        summary.refused += 1
                    summary.reasons[exc.decision.reason] = summary.reasons.get(exc.decision.reason, 0) + 1
            guard.emit(events, immediate=True)  # stored before any of this page is written
            for row in rows:
                write(row)
            summary.exported += len(rows)
            if progress is not None:
                progress(len(page))
