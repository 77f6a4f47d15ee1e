"""The dispatcher: one channel lane's round. Each planned send is decided again at this moment
(authorization, consent gate, restriction, erasure, merges, caps, quiet hours, expiry), audited
before anything leaves, handed to the provider, and counted only from the provider's answer."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from activation.channels.base import ChannelRegistry, ChannelSender, Message, Outcome, SendResult
from activation.errors import ChannelNotConfigured
from activation.model import JourneyDefinition, Step
from activation.recipients import WORKER_ID, WORKER_ROLE, Recipient, Recipients
from activation.render import render
from activation.settings import ActivationSettings
from activation.timing import backoff, parse_hhmm, quiet_end, spread
from activation.unsubscribe import UnsubscribeLinks, UnsubscribeToken
from audit.events import AuditAction, AuditEvent, Decision, field_ref
from audit.service import AuditService, AuditUnavailable
from graph.activation_ledger import LedgerRepository

MAX_ATTEMPTS = 5


@dataclass
class LaneReport:
    """Counts of one lane round by outcome or skip reason."""

    channel: str
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        """Count one."""
        self.outcomes[what] = self.outcomes.get(what, 0) + 1


class Dispatcher:
    """Sends due messages of one channel per call; lanes of different channels run independently."""

    def __init__(self, *, ledger: LedgerRepository, recipients: Recipients, registry: ChannelRegistry,
                 audit: AuditService, settings: ActivationSettings, default_zone: str,
                 definition: Any, links: UnsubscribeLinks) -> None:
        self.ledger = ledger
        self.recipients = recipients
        self.registry = registry
        self.audit = audit
        self.settings = settings
        self.default_zone = default_zone
        self.definition = definition  # (journey_id, version) -> JourneyDefinition
        self.links = links
        self.quiet = (parse_hhmm(settings.quiet_start), parse_hhmm(settings.quiet_end))
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def _pool(self, channel: str) -> ThreadPoolExecutor:
        if channel not in self._pools:
            self._pools[channel] = ThreadPoolExecutor(self.settings.lane_threads, thread_name_prefix=f"lane-{channel}")
        return self._pools[channel]

    def close(self) -> None:
        """Stop the lanes' provider threads."""
        for pool in self._pools.values():
            pool.shutdown(wait=True)

    def channels(self) -> list[str]:
        """Channels with a lane: every registered sender."""
        return self.registry.names()

    def recover(self, *, workspace: str, now: datetime) -> int:
        """Sends left 'sending' by a dead worker: retried with the same key where the provider drops
        duplicates, else marked unknown (never blindly sent again)."""
        rows = []
        for s in self.ledger.stale(workspace=workspace, now=now):
            try:
                idempotent = self.registry.get(s["channel"]).idempotent
            except ChannelNotConfigured:
                idempotent = False
            if idempotent:
                rows.append(_row(s["key"], "planned", "recovered_retry", due_at=now))
            else:
                rows.append(_row(s["key"], "unknown", "worker_lost"))
        self.ledger.finish(rows=rows, now=now)
        return len(rows)

    def run_lane(self, *, workspace: str, channel: str, now: datetime) -> LaneReport:
        """One round of one channel: claim due sends, decide, audit, send, record outcomes."""
        report = LaneReport(channel)
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        claimed = self.ledger.claim(workspace=workspace, channel=channel, worker=WORKER_ID, now=now,
                                    lease_until=lease, limit=self.settings.batch_size)
        report.claimed = len(claimed)
        if not claimed:
            return report
        try:
            sender: ChannelSender | None = self.registry.get(channel)
        except ChannelNotConfigured:
            sender = None
        finish: list[dict[str, Any]] = []
        audits: list[AuditEvent] = []
        ctx = self.recipients.context(workspace, sender.consent_channel if sender else "any")
        live = [s for s in claimed if s["expires_at"] is None or s["expires_at"] > now]
        for s in claimed:
            if s not in live:
                finish.append(_row(s["key"], "expired", "expired"))
                audits.append(self._event(workspace, s, None, "expired", channel))
                report.add("expired")
        recips = self.recipients.read(ctx, [s["profile_id"] for s in live],
                                      address_type=sender.address_type if sender else None) if live else {}
        ready: list[tuple[dict[str, Any], Recipient]] = []
        for s in live:
            r = recips[s["profile_id"]]
            if sender is None:
                reason = "channel_not_configured"
            elif not r.allowed:
                reason = r.reason
            else:
                held = quiet_end(now, r.timezone or self.default_zone, *self.quiet)
                if held is not None:
                    due = held + spread(s["key"], self.settings.quiet_spread_minutes)
                    if s["expires_at"] is not None and due > s["expires_at"]:
                        reason = "expired_in_quiet_hours"
                    else:
                        finish.append(_row(s["key"], "planned", "quiet_hours", due_at=due))
                        report.add("held_quiet_hours")
                        continue
                else:
                    ready.append((s, r))
                    continue
            finish.append(_row(s["key"], "failed" if reason == "channel_not_configured" else "skipped", reason))
            audits.append(self._event(workspace, s, r, reason, channel))
            report.add(reason)
        ready = self._dedupe_and_cap(workspace, channel, ready, now, finish, audits, report)
        messages = [(s, r, self._message(workspace, s, r, channel)) for s, r in ready]
        for s, r, _ in messages:
            audits.append(self._event(workspace, s, r, "dispatched", channel, allowed=True))
        # Fail closed: without the audit records nothing is sent (the sends go back to planned).
        try:
            self._record(audits)
        except Exception:
            self.ledger.finish(rows=[_row(s["key"], "planned", "audit_unavailable", due_at=now) for s in claimed],
                               now=now)
            raise
        self.ledger.finish(rows=finish, now=now)
        if not messages or sender is None:
            return report
        results = list(self._pool(channel).map(lambda m: _safe_send(sender, m[2]), messages))
        out = [self._outcome(s, r, res, sender, now, report) for (s, r, _), res in zip(messages, results, strict=True)]
        self.ledger.finish(rows=out, now=now)
        return report

    def _record(self, audits: list[AuditEvent], attempts: int = 3) -> None:
        """Write the attempt records in one transaction; a lost race on the chain head with another
        process (the transaction committed nothing) is retried a few times before giving up."""
        for attempt in range(attempts):
            try:
                self.audit.record_many(audits)
                return
            except AuditUnavailable:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)

    def _dedupe_and_cap(self, workspace: str, channel: str, ready: list[tuple[dict[str, Any], Recipient]],
                        now: datetime, finish: list[dict[str, Any]], audits: list[AuditEvent],
                        report: LaneReport) -> list[tuple[dict[str, Any], Recipient]]:
        """One message per person per (journey, step, occurrence); at most the daily cap per channel."""
        owners = self.ledger.claim_person(workspace=workspace, rows=[
            {"key": s["key"], "person_key": f"{s['journey_id']}:{s['step']}:{r.profile_id}:{s['occurrence']}"}
            for s, r in ready])
        counts = self.ledger.recent_counts(workspace=workspace, channel=channel,
                                           profile_ids=[r.profile_id for _, r in ready], since=now - timedelta(days=1))
        kept = []
        for s, r in ready:
            reason = None
            if owners.get(s["key"]) != s["key"]:
                reason = "duplicate_person"
            else:
                cap = self._definition(s).daily_cap or self.settings.daily_cap
                if counts.get(r.profile_id, 0) >= cap:
                    reason = "frequency_cap"
            if reason is not None:
                finish.append(_row(s["key"], "skipped", reason))
                audits.append(self._event(workspace, s, r, reason, channel))
                report.add(reason)
                continue
            counts[r.profile_id] = counts.get(r.profile_id, 0) + 1
            kept.append((s, r))
        return kept

    def _definition(self, s: dict[str, Any]) -> JourneyDefinition:
        d: JourneyDefinition = self.definition(s["journey_id"], int(s["version"]))
        return d

    def _step(self, s: dict[str, Any]) -> Step:
        return next(st for st in self._definition(s).steps if st.id == s["step"])

    def _message(self, workspace: str, s: dict[str, Any], r: Recipient, channel: str) -> Message:
        """Rendered now, from plain fields only; never stored."""
        step = self._step(s)
        values = dict(r.fields)
        tier = str(values.get("member_tier") or values.get("tier") or "")
        values["offer"] = step.offers.get(tier) or step.offers.get("default", "")
        unsubscribe = None
        if channel == "email":
            unsubscribe = self.links.url(UnsubscribeToken(workspace, r.profile_id, "email", s["key"]))
            values["unsubscribe_url"] = unsubscribe
        fields: dict[str, Any] = {}
        if channel == "webhook":
            for name in getattr(self.registry.get("webhook"), "allowed_fields", lambda _d: [])(step.destination):
                short = name.split(".", 1)[1] if name.startswith("traits.") else name
                if short in r.fields:
                    fields[name] = r.fields[short]
        return Message(key=s["key"], profile_id=r.profile_id, address=r.address, subject=render(step.subject, values),
                       body=render(step.body, values), fields=fields, destination=step.destination,
                       unsubscribe_url=unsubscribe)

    def _outcome(self, s: dict[str, Any], r: Recipient, res: SendResult, sender: ChannelSender, now: datetime,
                 report: LaneReport) -> dict[str, Any]:
        report.add(res.outcome.value)
        base = {"profile_id_sent": r.profile_id, "consent_record_id": r.consent_record_id}
        if res.outcome is Outcome.ACCEPTED:
            return _row(s["key"], "accepted", res.reason, provider_id=res.provider_id, **base)
        if res.outcome is Outcome.FAILED:
            return _row(s["key"], "failed", res.reason, **base)
        if res.outcome is Outcome.UNKNOWN and not sender.idempotent:
            return _row(s["key"], "unknown", res.reason, **base)
        if int(s["attempts"]) >= MAX_ATTEMPTS:
            return _row(s["key"], "failed", "retries_exhausted", **base)
        due = now + backoff(int(s["attempts"]))
        if s["expires_at"] is not None and due > s["expires_at"]:
            return _row(s["key"], "expired", f"expired_after_{res.reason}", **base)
        return _row(s["key"], "planned", f"retry_{res.reason}", due_at=due, **base)

    def _event(self, workspace: str, s: dict[str, Any], r: Recipient | None, reason: str, channel: str,
               allowed: bool = False) -> AuditEvent:
        """One audit record per attempt: ids, field names, the consent record and the reason; no values."""
        extra: dict[str, str | int | bool | None] = {
            "send_key": s["key"], "journey": s["journey_id"], "version": int(s["version"]), "step": s["step"],
            "channel": channel, "outcome": "dispatched" if allowed else "skipped", "attempt": int(s["attempts"])}
        if r is not None and r.profile_id != s["profile_id"]:
            extra["planned_profile"] = s["profile_id"]
        return AuditEvent.create(
            workspace=workspace, action=AuditAction.SEND, resource=f"activation.{channel}",
            decision=Decision.ALLOW if allowed else Decision.DENY, subject=r.profile_id if r else s["profile_id"],
            fields_returned=tuple(field_ref(*f.split(".", 1)) for f in (r.fields_read if r and allowed else ())),
            purpose="marketing", lawful_basis=r.lawful_basis if r and allowed else None,
            consent_record_id=r.consent_record_id if r else None, reason=reason, extra=extra,
            actor=WORKER_ID, actor_kind="system", role=WORKER_ROLE)


def _safe_send(sender: ChannelSender, message: Message) -> SendResult:
    try:
        return sender.send(message)
    except Exception:  # noqa: BLE001 - a sender bug must not take the lane down; the outcome is unknown
        return SendResult(Outcome.UNKNOWN, reason="sender_error")


def _row(key: str, state: str, reason: str, *, due_at: datetime | None = None, provider_id: str | None = None,
         profile_id_sent: str | None = None, consent_record_id: str | None = None) -> dict[str, Any]:
    return {"key": key, "state": state, "reason": reason, "due_at": due_at.isoformat() if due_at else None,
            "provider_id": provider_id, "profile_id_sent": profile_id_sent, "consent_record_id": consent_record_id}


def count(rows: Iterable[dict[str, Any]], state: str) -> int:
    """How many rows are in a state."""
    return sum(1 for r in rows if r.get("state") == state)
