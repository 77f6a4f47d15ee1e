"""Consent signals that arrive with collection events, parsed into ConsentSignal values.

Sources: Segment's `context.consent.categoryPreferences`, an IAB TCF v2.x TC string, Global
Privacy Control and Google Consent Mode v2. A signal has no subject or id yet: the caller
turns it into a ConsentRecord with `ConsentSignal.to_record`.

Web consent tools speak about purposes, not about our channels, so their signals use
channel `any`; only categories that name a channel (SMS, e-mail, LINE, push) are narrower.
When one event carries a grant and a denial for the same purpose, the denial is kept and the
grant dropped (reported in `ParsedSignals.ignored`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import iab_tcf

from consent.model import (
    Channel,
    ConsentRecord,
    ConsentStatus,
    Jurisdiction,
    LawfulBasis,
    Purpose,
    json_safe_evidence,
)
from core.errors import VeilError

SOURCE_CATEGORIES = "collect:context.consent"
SOURCE_TCF = "collect:tcf"
SOURCE_GPC = "collect:gpc"
SOURCE_CONSENT_MODE = "collect:consent_mode"

Target = tuple[Purpose, Channel]
CategoryMapping = Mapping[str, Sequence[Target]]

_ANY = Channel.any
# Keys are lower-case; an empty tuple marks a known category that carries no consent purpose.
DEFAULT_CATEGORY_MAPPING: CategoryMapping = MappingProxyType({
    "advertising": ((Purpose.ads, _ANY),),
    "targeting": ((Purpose.ads, _ANY),),
    "ads": ((Purpose.ads, _ANY),),
    "analytics": ((Purpose.analytics, _ANY),),
    "performance": ((Purpose.analytics, _ANY),),
    "personalization": ((Purpose.personalization, _ANY),),
    "personalisation": ((Purpose.personalization, _ANY),),
    "marketing": ((Purpose.marketing, _ANY),),
    "email": ((Purpose.marketing, Channel.email),),
    "email marketing": ((Purpose.marketing, Channel.email),),
    "sms": ((Purpose.marketing, Channel.sms),),
    "sms marketing": ((Purpose.marketing, Channel.sms),),
    "line": ((Purpose.marketing, Channel.line),),
    "push": ((Purpose.marketing, Channel.app_push),),
    "push notifications": ((Purpose.marketing, Channel.app_push),),
    "sale": ((Purpose.sale, _ANY),),
    "data sale": ((Purpose.sale, _ANY),),
    "sale of personal data": ((Purpose.sale, _ANY),),
    # Running the site, not profile-based personalisation: no purpose of ours depends on it.
    "functional": (),
    "strictly necessary": (),
    "necessary": (),
    "essential": (),
})


class SignalError(VeilError, ValueError):
    """A consent signal is malformed: a stable code, a message and the offending field."""

    status = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ConsentSignal:
    """One preference expressed with an event, before it is tied to a subject."""

    purpose: Purpose
    channel: Channel
    status: ConsentStatus
    source: str
    evidence: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", json_safe_evidence(self.evidence))

    def to_record(
        self, *, id: str, subject: str, captured_at: datetime, jurisdiction: Jurisdiction,
        expires_at: datetime | None = None, notice_version: str | None = None,
        notice_hash: str | None = None,
    ) -> ConsentRecord:
        """The ConsentRecord for this signal (consent basis: a signal grants or refuses consent)."""
        return ConsentRecord(
            id=id, subject=subject, purpose=self.purpose, channel=self.channel,
            status=self.status, lawful_basis=LawfulBasis.consent, source=self.source,
            captured_at=captured_at, expires_at=expires_at, notice_version=notice_version,
            notice_hash=notice_hash, jurisdiction=jurisdiction, evidence=self.evidence,
        )


@dataclass(frozen=True)
class ParsedSignals:
    """Signals found in one event, and notes on what was ignored (no values, only names)."""

    signals: tuple[ConsentSignal, ...]
    ignored: tuple[str, ...] = ()


# --- Segment categoryPreferences -----------------------------------------------------------

def category_signals(
    prefs: Any, *, mapping: CategoryMapping | None = None,
    where: str = "context.consent.categoryPreferences",
) -> tuple[list[ConsentSignal], list[str]]:
    """Signals from {category: bool}; unknown categories are skipped and listed as ignored."""
    if not isinstance(prefs, dict):
        raise SignalError("invalid_type", f"{where} must be an object", where)
    table = {k.strip().lower(): tuple(v) for k, v in (mapping or DEFAULT_CATEGORY_MAPPING).items()}
    signals: list[ConsentSignal] = []
    ignored: list[str] = []
    for name, value in prefs.items():
        key = f"{where}.{name}"
        if not isinstance(value, bool):
            raise SignalError("invalid_consent_value", f"{key} must be true or false", key)
        targets = table.get(str(name).strip().lower())
        if targets is None:
            ignored.append(f"{key}: unknown category")
            continue
        status = ConsentStatus.granted if value else ConsentStatus.denied
        for purpose, channel in targets:
            signals.append(ConsentSignal(
                Purpose(purpose), Channel(channel), status, SOURCE_CATEGORIES,
                {"category": str(name)[:100]},
            ))
    return signals, ignored


# --- IAB TCF v2.x ---------------------------------------------------------------------------

TCF_MAX_LENGTH = 32_768
_TCF_CHARS = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")
_CORE_FIXED_BITS = 213  # version .. publisherCC: every purpose bit lies inside these
_PUBLISHER_TC = 3
_PUBLISHER_TC_FIXED_BITS = 3 + 24 + 24 + 6
# TCF v2.2 policy: purposes 1 and 3-6 may only rest on consent.
_TCF_LI_ELIGIBLE = frozenset({2, 7, 8, 9, 10, 11})
# Veil purpose -> (TCF purposes, "all" = every one must be permitted, "any" = one suffices).
TCF_PURPOSE_MAP: Mapping[Purpose, tuple[tuple[int, ...], str]] = MappingProxyType({
    Purpose.ads: ((2, 3, 4), "all"),
    Purpose.personalization: ((5, 6), "all"),
    Purpose.analytics: ((7, 9), "any"),
})


@dataclass(frozen=True)
class TcfConsent:
    """The parts of a decoded TC string that consent decisions use."""

    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    segment: str  # "publisher_tc" when the publisher's own segment was present, else "core"
    evidence: dict[str, Any]


def _tc_error(where: str, message: str, code: str = "invalid_tcf_string") -> SignalError:
    return SignalError(code, message, where)


def _b64(segment: str, where: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _tc_error(where, f"{where} is not valid base64url: {exc}") from exc


def _bits(data: bytes, start: int, n: int) -> int:
    return (int.from_bytes(data, "big") >> (len(data) * 8 - start - n)) & ((1 << n) - 1)


def _true_keys(bitfield: Mapping[int, bool]) -> frozenset[int]:
    return frozenset(k for k, v in bitfield.items() if v)


def _utc_iso(value: Any) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if isinstance(value, datetime) else None


def decode_tcf(tc_string: Any, *, where: str = "context.consent.tcfString") -> TcfConsent:
    """Decode a TCF v2 TC string (v2.2 included) with iab-tcf, refusing malformed input."""
    if not isinstance(tc_string, str) or not tc_string.strip():
        raise _tc_error(where, f"{where} must be a non-empty string")
    text = tc_string.strip()
    if len(text) > TCF_MAX_LENGTH:
        raise _tc_error(where, f"{where} is longer than {TCF_MAX_LENGTH}")
    if not _TCF_CHARS.match(text):
        raise _tc_error(where, f"{where} has characters outside base64url")
    segments = text.split(".")
    core = _b64(segments[0], where)
    # iab-tcf reads past the end of a short string as 0 (integers) or True (bits); a truncated
    # string would otherwise decode as "consent to everything".
    if len(core) * 8 < _CORE_FIXED_BITS:
        raise _tc_error(where, f"{where} is truncated (core segment too short)")
    version = _bits(core, 0, 6)
    if version != 2:
        raise _tc_error(
            where, f"{where} is TCF version {version}; only v2 is supported",
            "unsupported_tcf_version",
        )
    publisher_segment: bytes | None = None
    for segment in segments[1:]:
        raw = _b64(segment, where)
        if raw and _bits(raw, 0, 3) == _PUBLISHER_TC:
            need = _PUBLISHER_TC_FIXED_BITS
            if len(raw) * 8 >= need:
                need += 2 * _bits(raw, need - 6, 6)
            if len(raw) * 8 < need:
                raise _tc_error(where, f"{where}: publisher TC segment is truncated")
            publisher_segment = raw
    try:
        decoded = iab_tcf.decode_v2(text)
    except Exception as exc:  # the library raises bare errors of many kinds on garbage
        raise _tc_error(where, f"{where} could not be decoded: {exc}") from exc
    pointer = getattr(getattr(decoded, "_reader", None), "_pointer", None)
    if isinstance(pointer, int) and pointer > len(core) * 8:
        raise _tc_error(where, f"{where} is truncated (vendor section)")
    evidence: dict[str, Any] = {
        "tcf_cmp_id": decoded.cmp_id,
        "tcf_cmp_version": decoded.cmp_version,
        "tcf_created": _utc_iso(decoded.created),
        "tcf_last_updated": _utc_iso(decoded.last_updated),
        "tcf_policy_version": decoded.tcf_policy_version,
        "tcf_vendor_list_version": decoded.vendor_list_version,
        "tcf_service_specific": bool(decoded.is_service_specific),
    }
    pub = getattr(decoded, "publisher_tc", None)
    if publisher_segment is not None and pub is not None:
        consents = _true_keys(pub.purposes_consent)
        interests = _true_keys(pub.purposes_lit_transparency)
        segment = "publisher_tc"
    else:
        consents = _true_keys(decoded.purposes_consent)
        interests = _true_keys(decoded.purposes_legitimate_interests)
        segment = "core"
    evidence["tcf_segment"] = segment
    # Purpose 1 (store/access information on a device) is kept as evidence only.
    evidence["tcf_storage_access"] = 1 in consents
    return TcfConsent(consents, interests, segment, evidence)


def _tcf_state(purpose: int, tcf: TcfConsent) -> str:
    if purpose in tcf.purpose_consents:
        return "consent"
    if purpose in tcf.purpose_legitimate_interests and purpose in _TCF_LI_ELIGIBLE:
        return "legitimate_interest"
    return "none"


def tcf_signals(tc_string: Any, *, where: str = "context.consent.tcfString") -> list[ConsentSignal]:
    """Signals for ads, personalization and analytics from a TC string, or SignalError."""
    tcf = decode_tcf(tc_string, where=where)
    signals = []
    for purpose, (numbers, mode) in TCF_PURPOSE_MAP.items():
        states = {n: _tcf_state(n, tcf) for n in numbers}
        permitted = [s != "none" for s in states.values()]
        consented = any(s == "consent" for s in states.values())
        if (mode == "all" and not all(permitted)) or (mode == "any" and not any(permitted)):
            status = ConsentStatus.denied
        elif consented:
            status = ConsentStatus.granted
        else:
            continue  # legitimate interest only: no consent either way; the policy decides
        evidence = {**tcf.evidence, "tcf_purposes": {str(n): s for n, s in states.items()}}
        signals.append(ConsentSignal(purpose, _ANY, status, SOURCE_TCF, evidence))
    return signals


# --- Global Privacy Control ------------------------------------------------------------------

GPC_PURPOSES = (Purpose.sale, Purpose.ads, Purpose.marketing)


def gpc_enabled(sec_gpc_header: str | None, context: Mapping[str, Any] | None) -> str | None:
    """Where GPC was expressed ("header" or "context"), or None when it was not."""
    if isinstance(sec_gpc_header, str) and sec_gpc_header.strip() == "1":
        return "header"
    if isinstance(context, Mapping) and context.get("gpc") is True:
        return "context"
    return None


def gpc_signals(sec_gpc_header: str | None, context: dict[str, Any] | None) -> list[ConsentSignal]:
    """Denials for sale, ads and marketing when GPC is on; no signal when it is absent."""
    via = gpc_enabled(sec_gpc_header, context)
    if via is None:
        return []
    return [
        ConsentSignal(p, _ANY, ConsentStatus.denied, SOURCE_GPC, {"gpc": via}) for p in GPC_PURPOSES
    ]


# --- Google Consent Mode v2 -----------------------------------------------------------------

_CM_ADS_KEYS = ("ad_storage", "ad_user_data", "ad_personalization")
_CM_SINGLE = {
    "analytics_storage": Purpose.analytics,
    "personalization_storage": Purpose.personalization,
}
_CM_NO_PURPOSE = frozenset({"functionality_storage", "security_storage"})


def consent_mode_signals(
    settings: Any, *, where: str = "context.consent.googleConsentMode"
) -> tuple[list[ConsentSignal], list[str]]:
    """Signals from Consent Mode v2 settings ({ad_storage: "granted" | "denied", ...})."""
    if not isinstance(settings, dict):
        raise SignalError("invalid_type", f"{where} must be an object", where)
    values: dict[str, bool] = {}
    ignored: list[str] = []
    for key, raw in settings.items():
        name = f"{where}.{key}"
        if key not in _CM_ADS_KEYS and key not in _CM_SINGLE:
            if key not in _CM_NO_PURPOSE:
                ignored.append(f"{name}: unknown Consent Mode key")
            continue
        value = raw.strip().lower() if isinstance(raw, str) else None
        if value not in ("granted", "denied"):
            message = f'{name} must be "granted" or "denied"'
            raise SignalError("invalid_consent_value", message, name)
        values[key] = value == "granted"
    signals: list[ConsentSignal] = []
    ads = {k: values[k] for k in _CM_ADS_KEYS if k in values}
    # Using profile data for ads needs both user-data and personalisation consent; any denial
    # among the ads keys is a refusal.
    if ads and not all(ads.values()):
        ads_status: ConsentStatus | None = ConsentStatus.denied
    elif ads.get("ad_user_data") and ads.get("ad_personalization"):
        ads_status = ConsentStatus.granted
    else:
        ads_status = None
    if ads_status is not None:
        evidence = {k: "granted" if v else "denied" for k, v in ads.items()}
        signals.append(ConsentSignal(Purpose.ads, _ANY, ads_status, SOURCE_CONSENT_MODE, evidence))
    for key, purpose in _CM_SINGLE.items():
        if key in values:
            status = ConsentStatus.granted if values[key] else ConsentStatus.denied
            evidence = {key: status.value}
            signals.append(ConsentSignal(purpose, _ANY, status, SOURCE_CONSENT_MODE, evidence))
    return signals, ignored


# --- One event ------------------------------------------------------------------------------

def _object(container: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SignalError("invalid_type", f"{where} must be an object", where)
    return value


def _drop_conflicting_grants(
    signals: list[ConsentSignal], ignored: list[str]
) -> list[ConsentSignal]:
    denied = {(s.purpose, s.channel) for s in signals if s.status is not ConsentStatus.granted}
    kept = []
    for s in signals:
        if s.status is ConsentStatus.granted and (
            (s.purpose, s.channel) in denied or (s.purpose, _ANY) in denied
        ):
            ignored.append(
                f"{s.source}: grant of {s.purpose.value}/{s.channel.value} dropped, "
                "the same event also refuses it"
            )
            continue
        kept.append(s)
    return kept


def read_signals(
    event: Mapping[str, Any], *, sec_gpc: str | None = None, mapping: CategoryMapping | None = None
) -> ParsedSignals:
    """Every consent signal in one Segment-spec event, with notes on what was ignored."""
    if not isinstance(event, Mapping):
        raise SignalError("invalid_type", "an event must be an object", None)
    context = _object(event, "context", "context") or {}
    consent = _object(context, "consent", "context.consent") or {}
    signals: list[ConsentSignal] = []
    ignored: list[str] = []
    prefs = consent.get("categoryPreferences")
    if prefs is not None:
        found, skipped = category_signals(prefs, mapping=mapping)
        signals += found
        ignored += skipped
    tc_fields = [
        (where, value) for where, value in (
            ("context.consent.tcfString", consent.get("tcfString")),
            ("context.consent.tcString", consent.get("tcString")),
            ("context.gdpr_consent", context.get("gdpr_consent")),
        ) if value not in (None, "")
    ]
    if len({v.strip() if isinstance(v, str) else repr(v) for _, v in tc_fields}) > 1:
        raise SignalError(
            "conflicting_tcf_strings", "the event carries different TC strings",
            tc_fields[1][0],
        )
    if tc_fields:
        signals += tcf_signals(tc_fields[0][1], where=tc_fields[0][0])
    for where, holder, key in (
        ("context.consent.googleConsentMode", consent, "googleConsentMode"),
        ("context.google_consent", context, "google_consent"),
    ):
        if holder.get(key) is not None:
            found, skipped = consent_mode_signals(holder[key], where=where)
            signals += found
            ignored += skipped
    signals += gpc_signals(sec_gpc, context)
    return ParsedSignals(tuple(_drop_conflicting_grants(signals, ignored)), tuple(ignored))


def signals_from_event(
    event: dict[str, Any], *, sec_gpc: str | None = None, mapping: CategoryMapping | None = None
) -> list[ConsentSignal]:
    """Every consent signal in one event (SignalError when one is malformed)."""
    return list(read_signals(event, sec_gpc=sec_gpc, mapping=mapping).signals)
