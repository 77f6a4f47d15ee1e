"""Hashed ad audiences: Meta Custom Audiences and Google Customer Match payloads built from a saved
segment, at export time through the consent gate (purpose `ads`, channel `ads`), with each
platform's normalisation before SHA-256, and an incremental diff that removes people who left,
withdrew or were erased."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from access.pipeline import ReadContext
from activation.errors import JourneyError
from activation.recipients import Recipients
from audit.events import AuditAction, AuditEvent, Decision
from audit.service import AuditService
from collect.normalize import normalize_email, normalize_phone
from consent.model import Purpose
from graph.activation_recipients import SegmentMembers

Platform = Literal["meta", "google"]


def sha256(value: str) -> str:
    """Lower-case hex SHA-256 of UTF-8 text."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def email_key(value: str) -> str | None:
    """Trimmed, lower-cased e-mail (both platforms), hashed."""
    norm = normalize_email(value)
    return sha256(norm) if norm else None


def phone_key(value: str, platform: Platform, *, region: str = "TW") -> str | None:
    """E.164 first (so `0912-345-678` keeps its country), then the platform's form, hashed:
    Meta wants digits with the country code and no '+', Google E.164 with '+'."""
    e164 = normalize_phone(value, default_region=region)
    if not e164:
        return None
    return sha256(e164.lstrip("+") if platform == "meta" else e164)


@dataclass(frozen=True)
class AudienceExport:
    """An audience payload: members to add and hashes to remove since the previous export."""

    platform: Platform
    segment_id: str
    members: dict[str, dict[str, list[str]]]  # profile id -> {"email": [...], "phone": [...]} hashes
    removed: list[str]  # profile ids in the previous export no longer allowed or present
    skipped: dict[str, int]  # reason -> count (consent, erased, no address...)

    def payload(self) -> dict[str, Any]:
        """The platform's upload shape (no profile ids)."""
        rows = [m for m in self.members.values() if m["email"] or m["phone"]]
        if self.platform == "meta":
            data = [[(m["email"] or [""])[0], (m["phone"] or [""])[0]] for m in rows]
            return {"schema": ["EMAIL_SHA256", "PHONE_SHA256"], "data": data}
        return {"operations": [{"create": {"userIdentifiers": [
            *({"hashedEmail": h} for h in m["email"]), *({"hashedPhoneNumber": h} for h in m["phone"])]}}
            for m in rows]}


class AudienceService:
    """Builds audience exports of saved segments."""

    def __init__(self, *, recipients: Recipients, members: SegmentMembers, audit: AuditService,
                 region: str = "TW") -> None:
        self.recipients = recipients
        self.members = members
        self.audit = audit
        self.region = region

    def export(self, ctx: ReadContext, *, segment_id: str, platform: str,
               previous: dict[str, Any] | None = None) -> AudienceExport:
        """Hash the allowed members' e-mails and phones; diff against a previous export."""
        self.recipients.pipeline.require(ctx, "audiences", "export", subject=segment_id)
        if platform not in ("meta", "google"):
            raise JourneyError("platform must be meta or google", field="platform")
        plat: Platform = "meta" if platform == "meta" else "google"
        ws = ctx.principal.workspace
        ids = self.members.ids(workspace=ws, segment_id=segment_id)
        read_ctx = self.recipients.context(ws, "ads", Purpose.ads)
        found = self.recipients.read(read_ctx, ids, address_type=None)
        members: dict[str, dict[str, list[str]]] = {}
        skipped: dict[str, int] = {}
        for pid in ids:
            r = found[pid]
            if not r.allowed:
                skipped[r.reason] = skipped.get(r.reason, 0) + 1
                continue
            emails = [h for v in r.identifiers.get("email", []) if (h := email_key(v))]
            phones = [h for v in r.identifiers.get("phone", []) if (h := phone_key(v, plat, region=self.region))]
            if not emails and not phones:
                skipped["no_address"] = skipped.get("no_address", 0) + 1
                continue
            members[r.profile_id] = {"email": emails, "phone": phones}
        before = set((previous or {}).get("members", {}))
        removed = sorted(before - set(members))
        self.audit.record(AuditEvent.create(
            workspace=ws, action=AuditAction.EXPORT, resource="audiences", subject=segment_id,
            decision=Decision.ALLOW, purpose="ads", reason=f"audience_{plat}",
            fields_returned=("identifiers.email", "identifiers.phone"),
            extra={"members": len(members), "removed": len(removed), "skipped": sum(skipped.values())},
            actor=ctx.principal.id, actor_kind=ctx.principal.kind.value, role=",".join(ctx.principal.roles)))
        return AudienceExport(plat, segment_id, members, removed, skipped)
