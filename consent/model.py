"""Consent vocabulary and the append-only consent record."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any


class Purpose(str, Enum):
    """Why personal data is processed."""

    support = "support"
    analytics = "analytics"
    marketing = "marketing"
    personalization = "personalization"
    security = "security"
    legal_obligation = "legal_obligation"
    sale = "sale"
    ads = "ads"


class Channel(str, Enum):
    """Where the processing reaches the person; `any` covers every channel."""

    email = "email"
    sms = "sms"
    line = "line"
    app_push = "app_push"
    web = "web"
    ads = "ads"
    any = "any"


class ConsentStatus(str, Enum):
    """What the person said. A withdrawal is a later record, never an edit."""

    granted = "granted"
    denied = "denied"
    withdrawn = "withdrawn"


class LawfulBasis(str, Enum):
    """GDPR Art. 6(1) bases; the other regimes are mapped onto them in the policy."""

    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    vital_interests = "vital_interests"
    public_task = "public_task"
    legitimate_interests = "legitimate_interests"


class Jurisdiction(str, Enum):
    """The privacy regimes Veil ships a policy for."""

    TW_PDPA = "TW_PDPA"
    HK_PDPO = "HK_PDPO"
    GDPR = "GDPR"


EVIDENCE_MAX_BYTES = 4096
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def notice_hash(text: str) -> str:
    """sha256 hex of a notice's wording (NFC-normalised, line endings folded to \\n)."""
    # Normalising first lets an auditor re-hash a copy that went through an editor or a
    # Windows mail client and still match the record.
    canonical = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def json_safe_evidence(evidence: Any, *, where: str = "evidence") -> dict[str, Any] | None:
    """A JSON round-tripped copy of evidence (a small object), else TypeError/ValueError."""
    if evidence is None:
        return None
    if not isinstance(evidence, dict):
        raise TypeError(f"{where} must be an object")
    try:
        text = json.dumps(evidence, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} must be JSON-safe: {exc}") from exc
    if len(text.encode("utf-8")) > EVIDENCE_MAX_BYTES:
        raise ValueError(f"{where} is larger than {EVIDENCE_MAX_BYTES} bytes")
    copied: dict[str, Any] = json.loads(text)
    return copied


def _aware_utc(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class ConsentRecord:
    """One consent event for one pseudonymous subject. Records are appended, never updated."""

    id: str
    subject: str
    purpose: Purpose
    channel: Channel
    status: ConsentStatus
    lawful_basis: LawfulBasis
    source: str
    captured_at: datetime
    jurisdiction: Jurisdiction
    expires_at: datetime | None = None
    notice_version: str | None = None
    notice_hash: str | None = None
    evidence: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        for name in ("id", "subject", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        # Enum coercion lets repositories hand over the stored strings.
        set_ = object.__setattr__
        set_(self, "purpose", Purpose(self.purpose))
        set_(self, "channel", Channel(self.channel))
        set_(self, "status", ConsentStatus(self.status))
        set_(self, "lawful_basis", LawfulBasis(self.lawful_basis))
        set_(self, "jurisdiction", Jurisdiction(self.jurisdiction))
        set_(self, "captured_at", _aware_utc(self.captured_at, "captured_at"))
        if self.expires_at is not None:
            expires = _aware_utc(self.expires_at, "expires_at")
            if expires <= self.captured_at:
                raise ValueError("expires_at must be after captured_at")
            set_(self, "expires_at", expires)
        if self.notice_version is not None and not isinstance(self.notice_version, str):
            raise ValueError("notice_version must be a string")
        if self.notice_hash is not None and (
            not isinstance(self.notice_hash, str) or not _SHA256_HEX.match(self.notice_hash)
        ):
            raise ValueError("notice_hash must be a lowercase sha256 hex digest")
        set_(self, "evidence", json_safe_evidence(self.evidence))

    @property
    def is_grant(self) -> bool:
        """True for a granted record given on the consent basis (the only kind that is consent)."""
        return self.status is ConsentStatus.granted and self.lawful_basis is LawfulBasis.consent

    @property
    def is_refusal(self) -> bool:
        """True for a denial or a withdrawal (an objection, whatever basis it names)."""
        return self.status in (ConsentStatus.denied, ConsentStatus.withdrawn)
