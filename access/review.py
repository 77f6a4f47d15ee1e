"""Compliance and operator reviews the web console needs: audit-trail export of a filtered view,
the chain's status, the caller's own abilities and ingestion health.

Each method takes the caller's read context, authorizes through the pipeline (denials audited)
and records what it returned (ids and field names, never values) before returning it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY

from access.pipeline import Pipeline, ReadContext
from access.principal import Principal
from audit.chain import StoredAudit, record_to_json
from audit.checkpoint import trusted_keys, verify_checkpoint
from audit.events import AuditAction, AuditEvent, Decision
from audit.service import CSV_COLUMNS, AuditService, record_to_csv_row
from core.errors import VeilError

MAX_EXPORT = 5000
# Without a signed checkpoint, the quick check covers this many newest records (the full one: all).
QUICK_WINDOW = 5000
EXPORT_FORMATS = ("csv", "jsonl")
# (resource, action) pairs the console asks about to decide which screens a role gets.
ABILITIES: tuple[tuple[str, str], ...] = (
    ("audit", "read"), ("dsr", "read"), ("dsr", "write"), ("profile", "read"), ("profile.consents", "read"),
    ("segments", "read"), ("segments", "write"), ("aggregates", "read"), ("sources", "read"),
    ("profile.erasure", "write"), ("trait_catalog", "read"),
)


class ReviewError(VeilError):
    """A review request the caller can fix (bad format or limit)."""

    code = "bad_request"
    status = 400


@dataclass(frozen=True)
class AuditFilter:
    """The audit-trail filters the console offers (all optional, combined with AND)."""

    subject: str | None = None
    actor: str | None = None
    action: str | None = None
    purpose: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditExport:
    """A filtered export: its text, how many records and the seq range it covers."""

    format: str
    records: int
    first_seq: int | None
    last_seq: int | None
    content: str


@dataclass(frozen=True)
class ChainStatus:
    """Verification of the hash chain (from `verified_from`) and the latest signed checkpoint."""

    ok: bool
    checked: int
    verified_from: int
    last_seq: int | None
    last_hash: str | None
    head_seq: int | None
    broken_seq: int | None
    problem: str | None
    detail: str
    checkpoint_seq: int | None
    checkpoint_at: datetime | None
    checkpoint_key_id: str | None


@dataclass(frozen=True)
class IngestHealth:
    """Process counters of the collection API and the state of the stores behind it."""

    events_stored: float
    events_duplicate: float
    events_rejected: float
    throttled: float
    merges: float
    ingest_requests: float
    ingest_seconds_sum: float
    profiles_active: int
    profiles_merged: int
    audit_head_seq: int | None


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


class Review:
    """Read-only reviews for the console's compliance and operations screens."""

    def __init__(self, *, pipeline: Pipeline, audit: AuditService,
                 profile_counts: Callable[[str], dict[str, int]]) -> None:
        self.pipeline = pipeline
        self.audit = audit
        self.profile_counts = profile_counts

    def abilities(self, principal: Principal) -> list[str]:
        """The `resource:action` pairs of `ABILITIES` the principal is allowed (no personal data)."""
        return [f"{r}:{a}" for r, a in ABILITIES if self.pipeline.authz.allowed(principal, r, a)]

    def _record(self, ctx: ReadContext, *, action: AuditAction, resource: str, reason: str,
                returned: Sequence[str], subject: str | None = None, extra: dict[str, Any] | None = None) -> None:
        p = ctx.principal
        self.audit.record(AuditEvent.create(
            workspace=p.workspace, actor=p.id, actor_kind=p.kind.value, role=",".join(p.roles), action=action,
            resource=resource, subject=subject, fields_returned=tuple(returned), purpose=ctx.purpose.value,
            decision=Decision.ALLOW, reason=reason, extra=extra))

    def export_audit(self, ctx: ReadContext, *, filters: AuditFilter, fmt: str, limit: int) -> AuditExport:
        """The filtered audit view as CSV or JSONL; the export is recorded before it is returned."""
        self.pipeline.require(ctx, "audit", "read", subject=filters.subject)  # first: no hints to others
        if fmt not in EXPORT_FORMATS:
            raise ReviewError(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
        if not 1 <= limit <= MAX_EXPORT:
            raise ReviewError(f"limit must be between 1 and {MAX_EXPORT}", field="limit")
        try:
            rows: list[StoredAudit] = self.audit.repo.query(
                ctx.principal.workspace, subject=filters.subject, actor=filters.actor, action=filters.action,
                purpose=filters.purpose, decision=filters.decision, since=filters.since, until=filters.until,
                limit=limit)
        except ValueError as exc:  # an unknown action/decision value
            raise ReviewError(str(exc)) from exc
        self._record(ctx, action=AuditAction.EXPORT, resource="audit", reason="console_export",
                     subject=filters.subject, returned=("audit",), extra={"format": fmt, "records": len(rows)})
        if fmt == "jsonl":
            content = "".join(record_to_json(r) + "\n" for r in rows)
        else:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            writer.writerows(record_to_csv_row(r) for r in rows)
            content = out.getvalue()
        seqs = [r.seq for r in rows]
        return AuditExport(format=fmt, records=len(rows), first_seq=min(seqs, default=None),
                           last_seq=max(seqs, default=None), content=content)

    def chain_status(self, ctx: ReadContext, *, full: bool) -> ChainStatus:
        """Verify the chain from the latest validly signed checkpoint (without one, the newest
        `QUICK_WINDOW` records), or from genesis when `full`; `verified_from` says which."""
        self.pipeline.require(ctx, "audit", "read")
        keys = trusted_keys(self.audit.settings)
        signed = [c for c in self.audit.repo.checkpoints() if c.key_id in keys and verify_checkpoint(keys[c.key_id], c)]
        latest = max(signed, key=lambda c: c.seq, default=None)
        head = self.audit.repo.head()
        if full:
            start = 0
        elif latest is not None:
            start = latest.seq
        else:
            start = max(0, (head.seq if head else 0) - QUICK_WINDOW)
        result = self.audit.verify(after_seq=start)
        self._record(ctx, action=AuditAction.READ, resource="audit.chain", reason="chain_status",
                     returned=("audit.chain",))
        return ChainStatus(
            ok=result.ok, checked=result.checked, verified_from=start, last_seq=result.last_seq,
            last_hash=result.last_hash, head_seq=head.seq if head else None, broken_seq=result.broken_seq,
            problem=result.problem.value if result.problem else None, detail=result.detail,
            checkpoint_seq=latest.seq if latest else None, checkpoint_at=latest.at if latest else None,
            checkpoint_key_id=latest.key_id if latest else None)

    def ingest_health(self, ctx: ReadContext) -> IngestHealth:
        """This process's collection counters, the workspace's profile counts and the audit head."""
        self.pipeline.require(ctx, "sources", "read")
        counts = self.profile_counts(ctx.principal.workspace)
        head = self.audit.repo.head()
        self._record(ctx, action=AuditAction.READ, resource="ops.health", reason="ingest_health",
                     returned=("ops.health",))
        return IngestHealth(
            events_stored=_sample("veil_events_total", {"result": "stored"}),
            events_duplicate=_sample("veil_events_total", {"result": "duplicate"}),
            events_rejected=_sample("veil_events_total", {"result": "rejected"}),
            throttled=_sample("veil_ingest_throttled_total"), merges=_sample("veil_profile_merges_total"),
            ingest_requests=_sample("veil_ingest_seconds_count"), ingest_seconds_sum=_sample("veil_ingest_seconds_sum"),
            profiles_active=int(counts.get("active", 0)), profiles_merged=int(counts.get("merged", 0)),
            audit_head_seq=head.seq if head else None)

    def segment_vocabulary(self, ctx: ReadContext, catalog_of: Callable[[str], Any]) -> dict[str, list[str]]:
        """Names a segment form may offer (trait keys, events, categories, identifier types; no values)."""
        self.pipeline.require(ctx, "segments", "read")
        catalog = catalog_of(ctx.principal.workspace)
        self.pipeline.audit_access(ctx, resource="segments", reason="vocabulary", returned=("segments.vocabulary",))
        return {"traits": sorted(catalog.traits), "events": sorted(catalog.events),
                "categories": sorted(catalog.categories or ()), "identifier_types": sorted(catalog.identifier_types)}
