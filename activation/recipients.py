"""The one place activation reads people: through the access pipeline, at the moment of sending.

Every read here is the worker's principal (role `activation`, purpose `marketing`, the send's
channel) going through authorization, the consent gate (consent, withdrawal, objection, GPC,
restriction), and masking; only values the masking policy shows in plain reach a message. The
caller writes one audit record per send attempt from what this returns (field names, the
consent record relied on, the reason), never values. When the access pipeline becomes
`access.guard.Guard`, only this module changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from access.authz import Forbidden
from access.pipeline import Pipeline, ReadContext
from access.principal import Principal, PrincipalKind
from audit.events import AuditAction, AuditEvent, Decision
from consent.model import Channel, Purpose
from graph.activation_recipients import BirthdayRepository, RecipientRepository
from privacy.masking import TRAIT_CATEGORIES, PiiCategory

WORKER_ID = "system:journey-worker"
WORKER_ROLE = "activation"
BIRTHDAY_TRAITS = sorted(k for k, v in TRAIT_CATEGORIES.items() if v is PiiCategory.BIRTH_DATE)
_MONTH = re.compile(r"^(?:\d{4}[-/.])?(\d{1,2})[-/.]\d{1,2}")
# A locale's region tells the zone when the profile has no readable `timezone` trait.
REGION_ZONES = {"TW": "Asia/Taipei", "HK": "Asia/Hong_Kong", "MO": "Asia/Macau", "CN": "Asia/Shanghai",
                "SG": "Asia/Singapore", "MY": "Asia/Kuala_Lumpur", "JP": "Asia/Tokyo", "KR": "Asia/Seoul",
                "GB": "Europe/London", "DE": "Europe/Berlin", "FR": "Europe/Paris", "US": "America/New_York",
                "AU": "Australia/Sydney"}


@dataclass(frozen=True)
class Recipient:
    """Whether one planned profile may be sent to now, and what the message may use."""

    planned_profile_id: str
    profile_id: str  # the person's current profile (after merges)
    allowed: bool
    reason: str
    address: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # plain (unmasked-by-policy) values only
    timezone: str | None = None
    lawful_basis: str | None = None
    consent_record_id: str | None = None
    fields_read: tuple[str, ...] = ()
    identifiers: dict[str, list[str]] = field(default_factory=dict)  # plain identifiers by type


def worker_principal(workspace: str) -> Principal:
    """The journey worker's principal in a workspace."""
    return Principal(id=WORKER_ID, kind=PrincipalKind.SYSTEM, workspace=workspace, roles=(WORKER_ROLE,),
                     name="journey worker")


def _zone(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def zone_of(fields: dict[str, Any]) -> str | None:
    """The recipient's zone from readable traits: `timezone`, else the region of `locale`."""
    tz = _zone(fields.get("timezone"))
    if tz is not None:
        return tz
    locale = fields.get("locale") or fields.get("language")
    if isinstance(locale, str):
        region = locale.replace("_", "-").split("-")[-1].upper()
        return REGION_ZONES.get(region)
    return None


class Recipients:
    """Reads recipients for a batch of sends of one channel."""

    def __init__(self, *, pipeline: Pipeline, repo: RecipientRepository,
                 birthdays: BirthdayRepository | None = None) -> None:
        self.pipeline = pipeline
        self.repo = repo
        self.birthdays = birthdays

    def birth_months(self, workspace: str, *, page_size: int = 2000) -> list[dict[str, Any]]:
        """Profiles whose stored birth month is missing or stale: [{id, month}] (1-12).

        Birthdays stay sealed; only the month is kept in the clear (`act.birth_month`), which alone
        does not single anyone out and lets a birthday journey enrol with an indexed query. The
        derivation is authorized (`profile.birth_month`) and audited once per run."""
        ctx = self.pipeline.context(worker_principal(workspace), Purpose.marketing)
        self.pipeline.require(ctx, "profile.birth_month", "read")
        if self.birthdays is None:
            return []
        vault = self.pipeline.profiles.vault
        changed: list[dict[str, Any]] = []
        after, seen = "", 0
        while True:
            rows = self.birthdays.page(workspace=workspace, trait_names=BIRTHDAY_TRAITS, after=after,
                                       limit=page_size)
            if not rows:
                break
            vault.preload([sealed for _, sealed, _ in rows])
            for pid, sealed, stored in rows:
                m = _MONTH.match(str(vault.open(sealed) or ""))
                month = int(m.group(1)) if m and 1 <= int(m.group(1)) <= 12 else None
                if month is not None and month != stored:
                    changed.append({"id": pid, "month": month})
            seen += len(rows)
            after = rows[-1][0]
        self.pipeline.audit.record(AuditEvent.create(
            workspace=workspace, action=AuditAction.READ, resource="profile.birth_month", decision=Decision.ALLOW,
            purpose="marketing", reason="birth_month_index", fields_returned=("traits.birthday",),
            extra={"profiles": seen, "changed": len(changed)}, actor=WORKER_ID, actor_kind="system",
            role=WORKER_ROLE))
        return changed

    def profile_of(self, workspace: str, kind: str, value: str, *, region: str = "TW") -> str | None:
        """The active profile an inbound reply's identifier belongs to (blind-index lookup), else None."""
        from collect.normalize import normalize_email, normalize_phone

        norm: str | None = value.strip()
        if kind == "phone":
            norm = normalize_phone(value, default_region=region)
        elif kind == "email":
            norm = normalize_email(value)
        if not norm:
            return None
        found = self.pipeline.profiles.find_by_identifier(workspace=workspace, kind=kind, value=norm)
        return found.id if found is not None and found.status == "active" else None

    def context(self, workspace: str, channel: str, purpose: Purpose = Purpose.marketing) -> ReadContext:
        """The worker's read context for a purpose (marketing; ads for audiences) on a channel."""
        return self.pipeline.context(worker_principal(workspace), purpose, Channel(channel))

    def read(self, ctx: ReadContext, profile_ids: Sequence[str], *, address_type: str | None) -> dict[str, Recipient]:
        """Planned profile id -> Recipient, decided now (authorization, gate, masking)."""
        ids = list(dict.fromkeys(profile_ids))
        try:
            self.pipeline.require(ctx, "profile", "read")
        except Forbidden:
            return {pid: Recipient(pid, pid, False, "forbidden") for pid in ids}
        found = self.repo.read(workspace=ctx.principal.workspace, profile_ids=ids)
        opened = dict(zip(found, self.pipeline.profiles.open_profiles([p for p, _ in found.values()]), strict=True))
        out: dict[str, Recipient] = {}
        for pid in ids:
            if pid not in found:
                out[pid] = Recipient(pid, pid, False, "not_found")
                continue
            profile, records = opened[pid], found[pid][1]
            if profile.status == "erased":
                out[pid] = Recipient(pid, profile.id, False, "erased")
                continue
            if profile.status != "active":
                out[pid] = Recipient(pid, profile.id, False, "not_found")
                continue
            # Records captured on profiles merged into this one are the same person's.
            records = [r if r.subject == profile.id else replace(r, subject=profile.id) for r in records]
            decision = self.pipeline.gate(ctx, profile.id, records, restricted=profile.restricted)
            if not decision.allowed:
                out[pid] = Recipient(pid, profile.id, False, decision.reason,
                                     consent_record_id=decision.record_id)
                continue
            masked = self.pipeline.mask(ctx, profile, decision)
            plain = {t.name: t.value for t in masked.traits if t.strategy == "plain"}
            plain.update({f"score.{s.name}": s.value for s in masked.scores or ()})
            read = [f"traits.{name}" for name in plain if not name.startswith("score.")]
            idents: dict[str, list[str]] = {}
            for ident in masked.identifiers or ():
                if ident.strategy == "plain" and ident.category.value == "contact":
                    idents.setdefault(ident.name, []).append(str(ident.value))
            address = None
            if address_type is not None:
                for ident in masked.identifiers or ():
                    if ident.name == address_type and ident.strategy == "plain":
                        address = str(ident.value)
                        read.append(f"identifiers.{address_type}")
                        break
                if address is None:
                    out[pid] = Recipient(pid, profile.id, False, "no_address",
                                         consent_record_id=decision.record_id)
                    continue
            out[pid] = Recipient(
                pid, profile.id, True, decision.reason, address=address, fields=plain, timezone=zone_of(plain),
                lawful_basis=masked.lawful_basis, consent_record_id=decision.record_id,
                fields_read=tuple(read) if address_type else tuple(read + [f"identifiers.{k}" for k in idents]),
                identifiers=idents if address_type is None else {})
        return out
