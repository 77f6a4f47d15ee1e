"""The consent gate: pure, fail-closed decisions over a consent history (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from consent.gate import Decision, decide, decide_many
from consent.model import (
    Channel,
    ConsentRecord,
    ConsentStatus,
    Jurisdiction,
    LawfulBasis,
    Purpose,
    notice_hash,
)
from consent.policy import ConsentPolicy, load_policy, parse_policy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
G, D, W = ConsentStatus.granted, ConsentStatus.denied, ConsentStatus.withdrawn
GDPR, TW, HK = Jurisdiction.GDPR, Jurisdiction.TW_PDPA, Jurisdiction.HK_PDPO


@pytest.fixture(scope="module")
def policy() -> ConsentPolicy:
    return load_policy()


def rec(
    id: str, purpose: Purpose, status: ConsentStatus, at: datetime, *,
    channel: Channel = Channel.any, basis: LawfulBasis = LawfulBasis.consent,
    expires_at: datetime | None = None, subject: str = "p-1", jurisdiction=GDPR,
) -> ConsentRecord:
    return ConsentRecord(
        id=id, subject=subject, purpose=purpose, channel=channel, status=status,
        lawful_basis=basis, source="graphql", captured_at=at, expires_at=expires_at,
        jurisdiction=jurisdiction,
    )


def ask(policy, records, purpose=Purpose.marketing, channel=Channel.email, jurisdiction=GDPR,
        now=NOW, gpc=False) -> Decision:
    return decide(purpose=purpose, channel=channel, jurisdiction=jurisdiction, records=records,
                  policy=policy, now=now, gpc=gpc)


# --- grant, withdraw, expire -----------------------------------------------------------------

def test_grant_then_withdraw_denies_on_the_next_decision(policy):
    history = [rec("r1", Purpose.marketing, G, NOW - timedelta(days=10))]
    first = ask(policy, history)
    assert first == Decision(True, "consent_granted", LawfulBasis.consent, "r1")
    history.append(rec("r2", Purpose.marketing, W, NOW))  # appended, r1 untouched
    second = ask(policy, history)
    assert second == Decision(False, "consent_withdrawn", None, "r2")
    history.append(rec("r3", Purpose.marketing, G, NOW + timedelta(minutes=1)))
    assert ask(policy, history, now=NOW + timedelta(minutes=2)).record_id == "r3"


def test_denied_record_reason(policy):
    assert ask(policy, [rec("r1", Purpose.marketing, D, NOW)]).reason == "consent_denied"


def test_explicit_expiry(policy):
    r = rec("r1", Purpose.marketing, G, NOW - timedelta(days=30), expires_at=NOW)
    assert ask(policy, [r], now=NOW - timedelta(seconds=1)).allowed
    assert ask(policy, [r]) == Decision(False, "consent_expired", None, "r1")


def test_policy_default_expiry(policy):
    # GDPR marketing consents count 730 days; TW sets no expiry.
    old = rec("r1", Purpose.marketing, G, NOW - timedelta(days=731))
    assert ask(policy, [old]).reason == "consent_expired"
    assert ask(policy, [old], jurisdiction=TW).reason == "consent_granted"


def test_expired_later_grant_leaves_the_earlier_refusal_standing(policy):
    records = [
        rec("r1", Purpose.marketing, D, NOW - timedelta(days=40)),
        rec("r2", Purpose.marketing, G, NOW - timedelta(days=30),
            expires_at=NOW - timedelta(days=1)),
    ]
    assert ask(policy, records) == Decision(False, "consent_denied", None, "r1")


def test_future_grant_does_not_count_but_future_refusal_does(policy):
    grant = rec("r1", Purpose.marketing, G, NOW - timedelta(days=1))
    assert ask(policy, [rec("r0", Purpose.marketing, G, NOW + timedelta(hours=1))]).reason == (
        "no_consent_record"
    )
    future_withdrawal = rec("r2", Purpose.marketing, W, NOW + timedelta(hours=1))
    assert not ask(policy, [grant, future_withdrawal]).allowed


def test_granted_record_on_a_non_consent_basis_is_not_consent(policy):
    r = rec("r1", Purpose.marketing, G, NOW, basis=LawfulBasis.legitimate_interests)
    assert ask(policy, [r]).reason == "no_consent_record"


# --- latest record wins ----------------------------------------------------------------------

def test_latest_record_wins_regardless_of_input_order(policy):
    t = NOW - timedelta(days=1)
    records = [rec("b", Purpose.marketing, G, t), rec("a", Purpose.marketing, W, t - timedelta(1))]
    assert ask(policy, records).record_id == "b"
    assert ask(policy, list(reversed(records))).record_id == "b"


def test_ties_on_captured_at_are_broken_by_id(policy):
    t = NOW - timedelta(days=1)
    withdrawal_last = [rec("a", Purpose.marketing, G, t), rec("b", Purpose.marketing, W, t)]
    assert ask(policy, withdrawal_last) == Decision(False, "consent_withdrawn", None, "b")
    grant_last = [rec("a", Purpose.marketing, W, t), rec("b", Purpose.marketing, G, t)]
    assert ask(policy, grant_last) == Decision(True, "consent_granted", LawfulBasis.consent, "b")


# --- channels --------------------------------------------------------------------------------

def test_channel_falls_back_to_any(policy):
    records = [rec("r1", Purpose.marketing, G, NOW - timedelta(days=1))]
    assert ask(policy, records, channel=Channel.sms).record_id == "r1"


def test_broad_withdrawal_after_channel_grant_denies(policy):
    records = [
        rec("r1", Purpose.marketing, G, NOW - timedelta(days=2), channel=Channel.email),
        rec("r2", Purpose.marketing, W, NOW - timedelta(days=1)),
    ]
    assert ask(policy, records) == Decision(False, "consent_withdrawn", None, "r2")


def test_channel_grant_after_broad_refusal_reopens_only_that_channel(policy):
    records = [
        rec("r1", Purpose.marketing, D, NOW - timedelta(days=2)),
        rec("r2", Purpose.marketing, G, NOW - timedelta(days=1), channel=Channel.email),
    ]
    assert ask(policy, records, channel=Channel.email).allowed
    assert ask(policy, records, channel=Channel.sms).record_id == "r1"
    assert not ask(policy, records, channel=Channel.sms).allowed


def test_broad_grant_does_not_reopen_a_channel_the_person_closed(policy):
    records = [
        rec("r1", Purpose.marketing, W, NOW - timedelta(days=2), channel=Channel.sms),
        rec("r2", Purpose.marketing, G, NOW - timedelta(days=1)),
    ]
    got = decide_many(purpose=Purpose.marketing, channels=[Channel.sms, Channel.email],
                      jurisdiction=GDPR, records=records, policy=policy, now=NOW)
    assert got[Channel.sms] == Decision(False, "consent_withdrawn", None, "r1")
    assert got[Channel.email] == Decision(True, "consent_granted", LawfulBasis.consent, "r2")


def test_broad_refusal_at_the_same_instant_as_a_channel_grant_wins(policy):
    t = NOW - timedelta(days=1)
    records = [rec("z", Purpose.marketing, G, t, channel=Channel.email),
               rec("a", Purpose.marketing, D, t)]
    assert not ask(policy, records).allowed


# --- GPC and marketing objections ------------------------------------------------------------

def test_gpc_blocks_marketing_but_not_support(policy):
    records = [rec("r1", Purpose.marketing, G, NOW - timedelta(days=1))]
    assert ask(policy, records, gpc=True) == Decision(False, "gpc_objection", None, None)
    support = ask(policy, records, purpose=Purpose.support, gpc=True)
    assert support == Decision(True, "contract", LawfulBasis.contract, None)


@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
@pytest.mark.parametrize("purpose", [Purpose.marketing, Purpose.sale, Purpose.ads])
def test_gpc_blocks_marketing_sale_ads_everywhere(policy, jurisdiction, purpose):
    records = [rec("r1", purpose, G, NOW - timedelta(days=1))]
    assert ask(policy, records, purpose=purpose, jurisdiction=jurisdiction).allowed
    got = ask(policy, records, purpose=purpose, jurisdiction=jurisdiction, gpc=True)
    assert got.reason == "gpc_objection" and not got.allowed


def test_gpc_does_not_block_analytics_on_legitimate_interests(policy):
    got = ask(policy, [], purpose=Purpose.analytics, channel=Channel.web, gpc=True)
    assert got == Decision(True, "legitimate_interests", LawfulBasis.legitimate_interests, None)


def test_marketing_refusal_blocks_ads_and_sale_despite_their_grants(policy):
    records = [
        rec("ads", Purpose.ads, G, NOW - timedelta(days=3)),
        rec("sale", Purpose.sale, G, NOW - timedelta(days=3)),
        rec("mkt", Purpose.marketing, W, NOW - timedelta(days=1)),
    ]
    for purpose in (Purpose.ads, Purpose.sale):
        got = ask(policy, records, purpose=purpose, channel=Channel.ads)
        assert got == Decision(False, "objection_recorded", None, "mkt")
    # Re-granting marketing lifts it.
    records.append(rec("mkt2", Purpose.marketing, G, NOW))
    assert ask(policy, records, purpose=Purpose.ads, channel=Channel.ads).record_id == "ads"


def test_tw_marketing_objection_stops_marketing(policy):
    records = [rec("r1", Purpose.marketing, G, NOW - timedelta(days=100), jurisdiction=TW),
               rec("r2", Purpose.marketing, D, NOW - timedelta(days=1), jurisdiction=TW)]
    assert ask(policy, records[:1], jurisdiction=TW).allowed
    assert ask(policy, records, jurisdiction=TW).record_id == "r2"
    assert not ask(policy, records, jurisdiction=TW).allowed


# --- jurisdictions and bases -----------------------------------------------------------------

def test_hk_marketing_without_consent_is_denied(policy):
    assert ask(policy, [], jurisdiction=HK) == Decision(False, "no_consent_record", None, None)
    granted = [rec("r1", Purpose.marketing, G, NOW - timedelta(days=1), jurisdiction=HK)]
    assert ask(policy, granted, jurisdiction=HK).allowed


def test_gdpr_analytics_on_legitimate_interests_unless_objection(policy):
    q = {"purpose": Purpose.analytics, "channel": Channel.web}
    assert ask(policy, [], **q) == Decision(
        True, "legitimate_interests", LawfulBasis.legitimate_interests, None
    )
    objection = [rec("r1", Purpose.analytics, D, NOW - timedelta(days=1))]
    assert ask(policy, objection, **q) == Decision(False, "objection_recorded", None, "r1")
    consent = [rec("r2", Purpose.analytics, G, NOW - timedelta(days=1))]
    assert ask(policy, consent, **q) == Decision(True, "consent_granted", LawfulBasis.consent, "r2")


def test_security_and_legal_obligation_survive_objections(policy):
    records = [rec("r1", Purpose.security, D, NOW), rec("r2", Purpose.legal_obligation, W, NOW)]
    assert ask(policy, records, purpose=Purpose.security).reason == "legitimate_interests"
    assert ask(policy, records, purpose=Purpose.legal_obligation).reason == "legal_obligation"


def test_ads_without_consent_is_denied(policy):
    got = ask(policy, [], purpose=Purpose.ads, channel=Channel.ads)
    assert got == Decision(False, "no_consent_record", None, None)


# --- fail closed -----------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"purpose": "profiling"}, "unknown_purpose"),
    ({"channel": "fax"}, "unknown_channel"),
    ({"jurisdiction": "US_CCPA"}, "unknown_jurisdiction"),
    ({"now": datetime(2026, 6, 1, 12, 0)}, "invalid_time"),
    ({"gpc": "0"}, "invalid_gpc"),
])
def test_unexpected_input_denies(policy, kwargs, reason):
    records = [rec("r1", Purpose.marketing, G, NOW - timedelta(days=1))]
    args = {"purpose": Purpose.marketing, "channel": Channel.email, "jurisdiction": GDPR,
            "records": records, "policy": policy, "now": NOW, **kwargs}
    assert decide(**args) == Decision(False, reason, None, None)


def _only(jurisdiction: str, purposes: dict) -> ConsentPolicy:
    return parse_policy({"version": "t", "jurisdictions": {jurisdiction: {"purposes": purposes}}})


def test_policy_missing_jurisdiction_or_purpose_denies():
    rule = {"lawful_bases": ["contract"], "requires_consent": False, "objection_blocks": False,
            "gpc_blocks": False, "consent_expiry_days": None}
    small = _only("GDPR", {"support": rule})
    assert ask(small, [], purpose=Purpose.support).allowed
    assert ask(small, [], purpose=Purpose.support, jurisdiction=TW).reason == "unknown_jurisdiction"
    assert ask(small, [], purpose=Purpose.security).reason == "unknown_purpose"


def test_records_of_several_subjects_or_wrong_types_deny(policy):
    mixed = [rec("r1", Purpose.marketing, G, NOW, subject="p-1"),
             rec("r2", Purpose.marketing, G, NOW, subject="p-2")]
    assert ask(policy, mixed).reason == "invalid_records"
    assert ask(policy, [{"status": "granted"}]).reason == "invalid_records"
    assert ask(policy, "granted").reason == "invalid_records"


def test_internal_error_fails_closed():
    got = decide(purpose=Purpose.support, channel=Channel.email, jurisdiction=GDPR, records=[],
                 policy=object(), now=NOW)  # type: ignore[arg-type]
    assert got == Decision(False, "evaluation_error", None, None)


def test_decision_is_frozen(policy):
    with pytest.raises(dataclasses.FrozenInstanceError):
        ask(policy, []).allowed = True  # type: ignore[misc]


# --- the record itself -----------------------------------------------------------------------

def test_record_is_frozen_and_normalised():
    from zoneinfo import ZoneInfo

    taipei = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Taipei"))
    r = ConsentRecord(
        id="r1", subject="p-1", purpose="marketing", channel="line", status="granted",
        lawful_basis="consent", source="import", captured_at=taipei, jurisdiction="TW_PDPA",
        notice_version="2026-05", notice_hash=notice_hash("我們會寄送優惠資訊給您。"),
        evidence={"policy_version": 3},
    )
    assert r.purpose is Purpose.marketing and r.channel is Channel.line
    assert r.captured_at == NOW and r.captured_at.tzinfo is UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = ConsentStatus.withdrawn  # type: ignore[misc]
    assert hash(r) == hash(dataclasses.replace(r))


@pytest.mark.parametrize(("change", "message"), [
    ({"captured_at": datetime(2026, 6, 1)}, "timezone-aware"),
    ({"expires_at": NOW - timedelta(days=1)}, "after captured_at"),
    ({"notice_hash": "abc"}, "sha256"),
    ({"evidence": {"when": NOW}}, "JSON-safe"),
    ({"evidence": {"blob": "x" * 5000}}, "larger than"),
    ({"subject": " "}, "subject"),
    ({"purpose": "profiling"}, "profiling"),
])
def test_record_validation(change, message):
    base = {"id": "r1", "subject": "p-1", "purpose": Purpose.ads, "channel": Channel.any,
            "status": G, "lawful_basis": LawfulBasis.consent, "source": "graphql",
            "captured_at": NOW, "jurisdiction": GDPR}
    with pytest.raises(ValueError, match=message):
        ConsentRecord(**{**base, **change})


def test_notice_hash_is_sha256_of_normalised_wording():
    assert notice_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert notice_hash("line one\r\nline two") == notice_hash("line one\nline two")
    assert notice_hash("caf\u0065\u0301") == notice_hash("caf\u00e9")  # NFD vs NFC
    assert notice_hash("v1 wording") != notice_hash("v2 wording")


# --- restriction of processing (a data-subject request) --------------------------------------

@pytest.mark.parametrize("purpose", list(Purpose))
def test_a_restricted_person_is_refused_except_for_legal_obligation_and_security(policy, purpose):
    granted = [rec(f"g-{p.value}", p, G, NOW - timedelta(days=1)) for p in Purpose]
    d = decide(purpose=purpose, channel=Channel.email, jurisdiction=GDPR, records=granted, policy=policy, now=NOW,
               restricted=True)
    if purpose in (Purpose.legal_obligation, Purpose.security):
        assert d.allowed
    else:
        assert d == Decision(False, "processing_restricted")
    unrestricted = decide(purpose=purpose, channel=Channel.email, jurisdiction=GDPR, records=granted, policy=policy,
                          now=NOW)
    assert unrestricted.allowed


def test_a_non_boolean_restriction_flag_fails_closed(policy):
    d = decide(purpose=Purpose.security, channel=Channel.any, jurisdiction=GDPR, records=[], policy=policy, now=NOW,
               restricted="no")  # type: ignore[arg-type]
    assert d == Decision(False, "invalid_restriction")
