"""Retention: how long interactions are kept, per event type (and per event name), and the purge.

The policy is data (`privacy/retention_policy.json`, `VEIL_PRIVACY_RETENTION_POLICY_FILE`),
validated at start-up. The purge deletes expired `Interaction` nodes of one workspace in
batches (one transaction per batch), audited before it starts (with the planned counts) and
when it ends (with the deleted counts). Profiles, identifiers and products are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.events import Actor, AuditAction, AuditEvent, Decision
from audit.service import AuditService
from core.errors import VeilError
from graph.retention import RetentionRepository

POLICY_FILE = Path(__file__).with_name("retention_policy.json")
EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")


class RetentionPolicyError(VeilError, ValueError):
    """The retention policy is not valid (start-up stops)."""

    code = "configuration_error"
    status = 500


@dataclass(frozen=True)
class RetentionPolicy:
    """Days kept per type and per event name; None = kept."""

    types: dict[str, int | None]
    events: dict[str, int | None] = field(default_factory=dict)
    default_days: int | None = None


@dataclass(frozen=True)
class Rule:
    """One thing the purge deletes: a type (minus events with their own rule) or an event name."""

    days: int
    type: str | None = None
    event: str | None = None
    exempt: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the rule is shown."""
        return f"type {self.type}" if self.type else f"event {self.event!r}"


@dataclass(frozen=True)
class PurgeLine:
    """A rule with its cutoff and the number of interactions it deletes (or would)."""

    rule: Rule
    cutoff: datetime
    count: int


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did."""

    workspace: str
    dry_run: bool
    lines: tuple[PurgeLine, ...]

    @property
    def total(self) -> int:
        """Interactions deleted (or to delete, on a dry run)."""
        return sum(line.count for line in self.lines)


def _days(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RetentionPolicyError(f"retention policy {where}: days must be a positive integer or null")
    return value


def parse_retention_policy(data: Any) -> RetentionPolicy:
    """Validate policy data."""
    if not isinstance(data, dict):
        raise RetentionPolicyError("retention policy: must be an object")
    types, events = data.get("types", {}), data.get("events", {})
    if not isinstance(types, dict) or not isinstance(events, dict):
        raise RetentionPolicyError("retention policy: 'types' and 'events' must be objects")
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise RetentionPolicyError(f"retention policy types: unknown event types {unknown}; "
                                   f"use {', '.join(EVENT_TYPES)}")
    return RetentionPolicy(
        types={t: _days(d, f"types.{t}") for t, d in types.items()},
        events={e: _days(d, f"events.{e}") for e, d in events.items()},
        default_days=_days(data.get("default_days"), "default_days"))


def load_retention_policy(path: Path | None = None) -> RetentionPolicy:
    """Load and validate the retention policy (the shipped one when `path` is None)."""
    return parse_retention_policy(json.loads((path or POLICY_FILE).read_text(encoding="utf-8")))


def rules(policy: RetentionPolicy) -> list[Rule]:
    """The purge rules a policy gives: event-name rules first, then each type that has a limit."""
    exempt = tuple(sorted(policy.events))
    out = [Rule(days=d, event=e) for e, d in sorted(policy.events.items()) if d is not None]
    for t in EVENT_TYPES:
        days = policy.types.get(t, policy.default_days)  # a type listed as null is kept
        if days is not None:
            out.append(Rule(days=days, type=t, exempt=exempt))
    return out


class RetentionService:
    """Plans and runs the purge of one workspace."""

    def __init__(self, *, repo: RetentionRepository, audit: AuditService, policy: RetentionPolicy,
                 batch_size: int = 5000) -> None:
        self.repo = repo
        self.audit = audit
        self.policy = policy
        self.batch_size = batch_size

    def plan(self, *, workspace: str, now: datetime | None = None) -> list[PurgeLine]:
        """Each rule with its cutoff and how many interactions it would delete now."""
        now = now or datetime.now(UTC)
        lines = []
        for rule in rules(self.policy):
            cutoff = now - timedelta(days=rule.days)
            n = self.repo.count(workspace=workspace, cutoff=cutoff, type=rule.type, event=rule.event,
                                exempt=list(rule.exempt))
            lines.append(PurgeLine(rule, cutoff, n))
        return lines

    def _audit(self, actor: Actor, workspace: str, reason: str, lines: list[PurgeLine]) -> None:
        extra: dict[str, Any] = {"total": sum(line.count for line in lines)}
        for line in lines:
            if line.rule.type:
                extra[f"{line.rule.type}_days"] = line.rule.days
                extra[f"{line.rule.type}_count"] = line.count
        extra["event_rules_count"] = sum(line.count for line in lines if line.rule.event)
        self.audit.record(AuditEvent.create(
            workspace=workspace, actor=actor, action=AuditAction.WRITE, resource="interactions.retention",
            decision=Decision.ALLOW, reason=reason, extra=extra))

    def purge(self, *, workspace: str, actor: Actor, dry_run: bool = False, now: datetime | None = None,
              on_plan: Callable[[int], None] | None = None,
              progress: Callable[[int], None] | None = None) -> PurgeReport:
        """Delete expired interactions (or only count them); audited before and after."""
        now = now or datetime.now(UTC)
        planned = self.plan(workspace=workspace, now=now)
        if on_plan is not None:
            on_plan(sum(line.count for line in planned))
        if dry_run:
            self._audit(actor, workspace, "dry_run", planned)
            return PurgeReport(workspace, True, tuple(planned))
        self._audit(actor, workspace, "purge_started", planned)
        done = []
        for line in planned:
            deleted = 0
            while line.count:
                n = self.repo.delete_batch(workspace=workspace, cutoff=line.cutoff, batch=self.batch_size,
                                           type=line.rule.type, event=line.rule.event, exempt=list(line.rule.exempt))
                deleted += n
                if progress is not None and n:
                    progress(n)
                if n < self.batch_size:
                    break
            done.append(PurgeLine(line.rule, line.cutoff, deleted))
        self._audit(actor, workspace, "purged", done)
        return PurgeReport(workspace, False, tuple(done))
