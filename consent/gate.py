"""The consent gate: a pure, fail-closed decision over a subject's consent history.

Rules, in order:
1. Anything unexpected denies: an unknown purpose, channel or jurisdiction, a policy without
   the jurisdiction or purpose, a naive `now`, records that are not ConsentRecords of one
   subject, or any error while deciding.
2. A person who restricted processing (GDPR Art. 18, a data-subject request) is refused for
   every purpose except `legal_obligation` and `security` (`restricted=True`; the caller reads
   the flag from the profile and passes it in).
3. GPC denies marketing, sale and ads (and any purpose whose rule has `gpc_blocks`).
4. A standing marketing refusal (on the asked channel or `any`) denies sale and ads too.
5. The standing record for (purpose, channel) decides, with fallback to channel `any`:
   - per channel the latest record counts (by captured_at, ties broken by the larger id);
   - a refusal on the asked channel always stands; a refusal on `any` stands unless a
     channel-specific record is strictly newer (so a broad "yes" never reopens a channel the
     person closed, while a specific "yes" after a broad "no" does);
   - grants count only when given on the consent basis, captured at or before `now`, and not
     expired (`expires_at`, else captured_at + the policy's consent_expiry_days);
   - refusals (denied or withdrawn) never expire and count as soon as they exist.
6. A refusal denies when the rule's `objection_blocks` (always so when consent is required);
   otherwise the purpose may still rest on its non-consent basis.
7. A standing grant allows on the consent basis when the rule accepts consent.
8. Otherwise the rule's first non-consent basis allows; failing that, deny.

Records are not filtered by their own jurisdiction: a consent or a refusal is the person's,
wherever it was captured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from consent.model import (
    Channel,
    ConsentRecord,
    ConsentStatus,
    Jurisdiction,
    LawfulBasis,
    Purpose,
)
from consent.policy import OBJECTION_FLOOR, ConsentPolicy

# What a restricted person's data may still be processed for.
RESTRICTION_EXEMPT = frozenset({Purpose.legal_obligation, Purpose.security})

_E = TypeVar("_E", bound=Enum)


@dataclass(frozen=True)
class Decision:
    """The gate's answer: a stable reason code, the basis relied on and the record behind it."""

    allowed: bool
    reason: str
    lawful_basis: LawfulBasis | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class _Standing:
    record: ConsentRecord | None  # the record that stands, grant or refusal
    expired: ConsentRecord | None  # the latest grant that no longer counts because it expired


def _deny(reason: str, record: ConsentRecord | None = None) -> Decision:
    return Decision(False, reason, None, record.id if record else None)


def _enum(kind: type[_E], value: Any) -> _E | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _key(record: ConsentRecord) -> tuple[datetime, str]:
    return record.captured_at, record.id


def _latest(records: Iterable[ConsentRecord]) -> ConsentRecord | None:
    return max(records, key=_key, default=None)


def _grant_counts(record: ConsentRecord, now: datetime, expiry_days: int | None) -> bool:
    if record.captured_at > now:
        return False
    expires = record.expires_at
    if expires is None and expiry_days is not None:
        expires = record.captured_at + timedelta(days=expiry_days)
    return expires is None or now < expires


def _standing(
    records: Sequence[ConsentRecord], purpose: Purpose, channel: Channel, now: datetime,
    expiry_days: int | None,
) -> _Standing:
    counted: dict[Channel, list[ConsentRecord]] = {channel: [], Channel.any: []}
    expired: list[ConsentRecord] = []
    for r in records:
        if r.purpose is not purpose or r.channel not in counted:
            continue
        if r.is_refusal:
            counted[r.channel].append(r)
        elif r.is_grant:
            if _grant_counts(r, now, expiry_days):
                counted[r.channel].append(r)
            elif r.captured_at <= now:
                expired.append(r)
        # A "granted" record on a non-consent basis is not consent: it neither grants nor refuses.
    specific = _latest(counted[channel]) if channel is not Channel.any else None
    general = _latest(counted[Channel.any])
    if specific is not None and specific.is_refusal:
        record: ConsentRecord | None = specific
    elif general is not None and general.is_refusal and (
        specific is None or general.captured_at >= specific.captured_at
    ):
        record = general
    else:
        record = specific or general
    return _Standing(record, _latest(expired))


def _records_ok(records: Any) -> bool:
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        return False
    subjects = set()
    for r in records:
        if not isinstance(r, ConsentRecord):
            return False
        subjects.add(r.subject)
    return len(subjects) <= 1


def _decide(
    purpose: Any, channel: Any, jurisdiction: Any, records: Any, policy: ConsentPolicy,
    now: Any, gpc: bool, restricted: bool = False,
) -> Decision:
    p = _enum(Purpose, purpose)
    if p is None:
        return _deny("unknown_purpose")
    c = _enum(Channel, channel)
    if c is None:
        return _deny("unknown_channel")
    j = _enum(Jurisdiction, jurisdiction)
    if j is None or j not in policy.jurisdictions:
        return _deny("unknown_jurisdiction")
    rule = policy.rule(j, p)
    if rule is None:
        return _deny("unknown_purpose")
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        return _deny("invalid_time")
    if not _records_ok(records):
        return _deny("invalid_records")
    if not isinstance(gpc, bool):
        return _deny("invalid_gpc")
    if not isinstance(restricted, bool):
        return _deny("invalid_restriction")
    if restricted and p not in RESTRICTION_EXEMPT:
        return _deny("processing_restricted")

    if gpc and (p in OBJECTION_FLOOR or rule.gpc_blocks):
        return _deny("gpc_objection")
    if p in OBJECTION_FLOOR and p is not Purpose.marketing:
        marketing_rule = policy.rule(j, Purpose.marketing)
        days = marketing_rule.consent_expiry_days if marketing_rule else None
        marketing = _standing(records, Purpose.marketing, c, now, days).record
        if marketing is not None and marketing.is_refusal:
            return _deny("objection_recorded", marketing)

    standing = _standing(records, p, c, now, rule.consent_expiry_days)
    record = standing.record
    if record is not None and record.is_refusal and rule.objection_blocks:
        if not rule.requires_consent:
            return _deny("objection_recorded", record)
        withdrawn = record.status is ConsentStatus.withdrawn
        return _deny("consent_withdrawn" if withdrawn else "consent_denied", record)
    if record is not None and record.is_grant and rule.accepts_consent:
        return Decision(True, "consent_granted", LawfulBasis.consent, record.id)
    basis = rule.non_consent_basis
    if basis is not None:
        return Decision(True, basis.value, basis, None)
    if standing.expired is not None:
        return _deny("consent_expired", standing.expired)
    return _deny("no_consent_record")


def decide(
    *, purpose: Purpose, channel: Channel, jurisdiction: Jurisdiction,
    records: Sequence[ConsentRecord], policy: ConsentPolicy, now: datetime, gpc: bool = False,
    restricted: bool = False,
) -> Decision:
    """Whether `purpose` may be pursued on `channel` for one subject now; denies when unsure."""
    try:
        return _decide(purpose, channel, jurisdiction, records, policy, now, gpc, restricted)
    except Exception:  # noqa: BLE001 - fail closed: no bug or odd input may become "allowed"
        return _deny("evaluation_error")


def decide_many(
    *, purpose: Purpose, channels: Iterable[Channel], jurisdiction: Jurisdiction,
    records: Sequence[ConsentRecord], policy: ConsentPolicy, now: datetime, gpc: bool = False,
    restricted: bool = False,
) -> dict[Channel, Decision]:
    """One decision per channel for the same purpose, subject and moment."""
    return {
        ch: decide(
            purpose=purpose, channel=ch, jurisdiction=jurisdiction, records=records,
            policy=policy, now=now, gpc=gpc, restricted=restricted,
        )
        for ch in channels
    }
