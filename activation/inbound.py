"""What comes back from people: one-click unsubscribe (RFC 8058), LINE follow/unfollow (signed
webhooks), SMS STOP replies. Each becomes an appended consent record, audited (ids only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from activation.errors import UnsubscribeError
from activation.recipients import Recipients
from activation.unsubscribe import UnsubscribeLinks, withdrawal
from audit.events import AuditAction, AuditEvent, Decision
from audit.service import AuditService
from consent.model import Channel, ConsentRecord, ConsentStatus, Jurisdiction, LawfulBasis, Purpose
from graph.consents import ConsentRepository

STOP_WORDS = frozenset({"stop", "unsubscribe", "td", "退訂", "取消", "停止", "退订"})


class InboundError(UnsubscribeError):
    """A signed inbound call that does not verify."""

    code = "invalid_signature"
    status = 401


class InboundService:
    """Turns replies and unsubscribes into consent changes."""

    def __init__(self, *, consents: ConsentRepository, recipients: Recipients, links: UnsubscribeLinks,
                 audit: AuditService, jurisdiction: Jurisdiction, line_secret: str | None,
                 sms_token: str | None, sms_region: str = "TW") -> None:
        self.sms_region = sms_region
        self.consents = consents
        self.recipients = recipients
        self.links = links
        self.audit = audit
        self.jurisdiction = jurisdiction
        self.line_secret = line_secret
        self.sms_token = sms_token

    def _record(self, workspace: str, record: ConsentRecord, *, actor: str, reason: str,
                extra: dict[str, str | int | bool | None]) -> None:
        # Audited first: if the trail is down the change is not made and the caller gets an error.
        self.audit.record(AuditEvent.create(
            workspace=workspace, action=AuditAction.CONSENT_CHANGE, resource="consent", subject=record.subject,
            decision=Decision.ALLOW, purpose=record.purpose.value, consent_record_id=record.id, reason=reason,
            extra={"channel": record.channel.value, "status": record.status.value, **extra},
            actor=actor, actor_kind="system", role="system"))
        self.consents.append(workspace=workspace, records=[record])

    def unsubscribe(self, token: str) -> str:
        """One-click unsubscribe: withdraw e-mail marketing for the person the link was sent to."""
        t = self.links.parse(token)
        rec = withdrawal(profile_id=t.profile_id, channel=t.channel, source="email_one_click_unsubscribe",
                         jurisdiction=self.jurisdiction, evidence={"send_key": t.send_key})
        self._record(t.workspace, rec, actor="system:unsubscribe", reason="one_click_unsubscribe",
                     extra={"send_key": t.send_key})
        return t.profile_id

    def line_webhook(self, workspace: str, body: bytes, signature: str | None) -> dict[str, int]:
        """LINE webhook events: `unfollow` withdraws LINE marketing, `follow` grants it."""
        if not self.line_secret:
            raise InboundError("the LINE channel secret is not configured", field="X-Line-Signature")
        good = base64.b64encode(hmac.new(self.line_secret.encode(), body, hashlib.sha256).digest()).decode()
        if not signature or not hmac.compare_digest(good, signature):
            raise InboundError("X-Line-Signature does not match the body", field="X-Line-Signature")
        try:
            events = json.loads(body or b"{}").get("events", [])
        except (json.JSONDecodeError, AttributeError) as exc:
            raise UnsubscribeError("body is not a LINE webhook payload", field="body") from exc
        counts = {"follow": 0, "unfollow": 0, "unknown_user": 0}
        for ev in events if isinstance(events, list) else []:
            kind = ev.get("type") if isinstance(ev, dict) else None
            user = (ev.get("source") or {}).get("userId") if isinstance(ev, dict) else None
            if kind not in ("follow", "unfollow") or not isinstance(user, str):
                continue
            pid = self.recipients.profile_of(workspace, "line_user_id", user)
            if pid is None:
                counts["unknown_user"] += 1
                continue
            if kind == "unfollow":
                rec = withdrawal(profile_id=pid, channel="line", source="line_unfollow",
                                 jurisdiction=self.jurisdiction)
            else:
                rec = ConsentRecord(id=f"c_{uuid.uuid4().hex}", subject=pid, purpose=Purpose.marketing,
                                    channel=Channel.line, status=ConsentStatus.granted,
                                    lawful_basis=LawfulBasis.consent, source="line_follow",
                                    captured_at=datetime.now(UTC), jurisdiction=self.jurisdiction)
            self._record(workspace, rec, actor="system:line-webhook", reason=f"line_{kind}", extra={})
            counts[kind] += 1
        return counts

    def sms_inbound(self, workspace: str, token: str | None, sender: str, text: str) -> bool:
        """An SMS reply; STOP (or 退訂/TD) withdraws SMS marketing. True when it was a stop."""
        if not self.sms_token or not token or not hmac.compare_digest(self.sms_token, token):
            raise InboundError("inbound SMS token does not match", field="token")
        if text.strip().lower() not in STOP_WORDS:
            return False
        pid = self.recipients.profile_of(workspace, "phone", sender, region=self.sms_region)
        if pid is None:
            return False
        self._record(workspace, withdrawal(profile_id=pid, channel="sms", source="sms_stop",
                                           jurisdiction=self.jurisdiction),
                     actor="system:sms-inbound", reason="sms_stop", extra={})
        return True


def describe(counts: dict[str, int]) -> dict[str, Any]:
    """A response body for the webhook."""
    return {"success": True, **counts}
