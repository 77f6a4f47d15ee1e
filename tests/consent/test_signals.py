"""Consent signals from events: Segment categories, TCF, GPC, Consent Mode (no database)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import iab_tcf
import pytest

from consent.model import Channel, ConsentStatus, Jurisdiction, LawfulBasis, Purpose
from consent.signals import (
    SOURCE_CATEGORIES,
    SOURCE_GPC,
    SOURCE_TCF,
    ConsentSignal,
    SignalError,
    category_signals,
    consent_mode_signals,
    decode_tcf,
    gpc_signals,
    read_signals,
    signals_from_event,
    tcf_signals,
)

G, D = ConsentStatus.granted, ConsentStatus.denied


# --- a TC string encoder written from the IAB TCF v2.2 core-segment layout -------------------

def _b(value: int, n: int) -> str:
    return format(value, f"0{n}b")


def _letters(text: str) -> str:
    return "".join(_b(ord(ch) - ord("A"), 6) for ch in text)


def _field(ids: tuple[int, ...] | set[int], n: int = 24) -> str:
    return "".join("1" if i in ids else "0" for i in range(1, n + 1))


def _deci(moment: datetime) -> int:
    return int(moment.timestamp() * 10)  # TCF timestamps are deciseconds


def _pack(bits: str) -> str:
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_tc(
    *, consents=(), interests=(), version=2, policy_version=4, cmp_id=300, cmp_version=7,
    vendor_list=310, created=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    updated=datetime(2026, 3, 2, 9, 30, tzinfo=UTC), max_vendor=3, publisher=None,
) -> str:
    """Core segment (+ optional publisher TC segment) per the TCF v2.2 string format."""
    core = (
        _b(version, 6) + _b(_deci(created), 36) + _b(_deci(updated), 36) + _b(cmp_id, 12)
        + _b(cmp_version, 12) + _b(1, 6) + _letters("EN") + _b(vendor_list, 12)
        + _b(policy_version, 6) + "1" + "0" + "0" * 12 + _field(consents) + _field(interests)
        + "0" + _letters("TW")
        + _b(max_vendor, 16) + "0" + _field({1, 3}, max_vendor)  # vendor consents, bitfield
        + _b(max_vendor, 16) + "0" + _field({1}, max_vendor)  # vendor legitimate interests
        + _b(0, 12)  # no publisher restrictions
    )
    segments = [_pack(core)]
    if publisher is not None:
        pub_consents, pub_interests = publisher
        segments.append(_pack(_b(3, 3) + _field(pub_consents) + _field(pub_interests) + _b(0, 6)))
    return ".".join(segments)


# A public TC string (TCF v2.0, policy version 2) from the iab-tcf project's test seeds, with
# the decoded values its seed file states: consents 2,4,5,7,8,9,10; LI 2,3,5,6,7,9,10; CMP 20.
PUBLIC_TC = (
    "CG6MJgNIvJb0TAUAEBENAzCMAFvAAG7AAAJYGUlUcVlfByPiu55Ad8JQeAgftrYDE6QzDgEJs8wJQB9WxJwQpEMgKBX4"
    "BoIIiRYEsnLAAAYkHAFcDQAAQIkVqSCsYkyMCyFCJJJEghIKM2ZYGG0OkcVQIRAY4wMsHeYAA2OrevzrigZOQCYQFYA"
    "AkJQwEg0KRQIgQADAgUA4AIKEYUiSQ0JHBDMjAINAAAAEBiAhAgAAgCgBgAAAgAASEBACACAgEAAAAgABACNAQgAAkA"
    "QSAEAQBAAKgIEgBEEEoAgBgMBACgAARIpFBIIDQgAWAAEAAwAPgArAB3AH4AToA8QCEgEtAKSCgBwABABSAFwAXYAzA"
    "B_QFTBAEIACAAFAAcAA8AC0AGQAOwApgBzAD0AIaASoBLACaAGGAMgAewA-AB9gEIAI0AVAA4AB8gEVAI7ATEAmUBSI"
    "C2AF5AL-AYMAwggAJAAWAEEAWIBnADqAK-AW0AuABk4cAUAA4AEQAJwAkgDnAL8AtEBcQDIgGSBgB4AEgAngCJAHkAR"
    "gAkwBKwCvAG8AOOAeoBJYCbAFigLoJQCAAKACIAI4AWkAxQBuAEXgJECQAwAKgKwAYeUAIAAXAAyACoALgAiwBJgCjA"
    "FKAVsBJACmwFbALkAXcAxkBkBSAKACAAGgA0gChgLtHAEAAUQBGAEcALAAmABsgDvAJaAdMBQgChwFLgKsAWyAxIBjE"
    "DHAMdGAAQAWEgBYAMQAhABMACgAG0ApoBZwFUgLxAXmAx4dAPAB5AEMARAAqgCEAFIANEAcQA_QCUgFiALyAYQA2gC7"
    "wGGlQAIATSYAIAKgCmRIAYALYAYgA3gFZANQAusWACADMAjoUAEADwAMoAfIBaBUAEARw0AIAJkAaoA4AEgjwBgArQB"
    "ZQDjAOQAdYA8QDbAHtASiAq8BYgCyQF2BoA4AywBqAFLAKuAawBDYCdiEAUAb4BAwC5gHoAU0RADgEuAJwAV-A_YD-A"
    "IiAS8AvYRACAYEAwkA.IGVtd_X9fb2vj-_599_t0eY1f9_63t-wzjheNs-8NyZ_X_J4Xv2MyvB34pqYKmR4kunbBAQdt"
    "HGncTQgBwIlVqTLsYk2MjzNKJ7JEmlsbe2dYGH9Pn8XT_ZKZ70-v___7v3______7oA"
)


def by_purpose(signals: list[ConsentSignal]) -> dict[Purpose, ConsentStatus]:
    return {s.purpose: s.status for s in signals}


# --- TCF -----------------------------------------------------------------------------------

def test_public_tc_string_decodes_to_its_documented_purposes():
    tcf = decode_tcf(PUBLIC_TC)
    assert tcf.purpose_consents == {2, 4, 5, 7, 8, 9, 10}
    assert tcf.purpose_legitimate_interests == {2, 3, 5, 6, 7, 9, 10}
    assert tcf.segment == "core"
    assert tcf.evidence["tcf_cmp_id"] == 20
    assert tcf.evidence["tcf_vendor_list_version"] == 51
    assert tcf.evidence["tcf_policy_version"] == 2
    assert tcf.evidence["tcf_created"] == "1993-07-05T11:23:32+00:00"


def test_public_tc_string_li_bits_do_not_stand_in_for_consent_on_purposes_3_to_6():
    # Purpose 3 and 6 have only the legitimate-interest bit: ads and personalization are refused.
    signals = tcf_signals(PUBLIC_TC)
    assert by_purpose(signals) == {Purpose.ads: D, Purpose.personalization: D, Purpose.analytics: G}
    ads = next(s for s in signals if s.purpose is Purpose.ads)
    assert ads.evidence["tcf_purposes"] == {"2": "consent", "3": "none", "4": "consent"}


def test_tcf_v22_string_all_consented():
    tc = encode_tc(consents=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), interests=(2, 7, 9, 10))
    signals = tcf_signals(tc)
    assert by_purpose(signals) == {Purpose.ads: G, Purpose.personalization: G, Purpose.analytics: G}
    assert all(s.channel is Channel.any and s.source == SOURCE_TCF for s in signals)
    ev = signals[0].evidence
    assert ev["tcf_policy_version"] == 4  # TCF v2.2
    assert ev["tcf_cmp_id"] == 300 and ev["tcf_cmp_version"] == 7
    assert ev["tcf_vendor_list_version"] == 310
    assert ev["tcf_created"] == "2026-03-01T08:00:00+00:00"
    assert ev["tcf_last_updated"] == "2026-03-02T09:30:00+00:00"
    assert ev["tcf_storage_access"] is True  # purpose 1: evidence only


def test_tcf_li_only_on_consent_only_purposes_is_a_refusal():
    tc = encode_tc(consents=(1, 7), interests=(2, 3, 4, 5, 6, 7, 9))
    assert by_purpose(tcf_signals(tc)) == {
        Purpose.ads: D, Purpose.personalization: D, Purpose.analytics: G,
    }


def test_tcf_basic_ads_on_legitimate_interest_with_profile_consent_is_a_grant():
    tc = encode_tc(consents=(3, 4), interests=(2,))
    assert by_purpose(tcf_signals(tc))[Purpose.ads] is G


def test_tcf_analytics_on_legitimate_interest_only_gives_no_signal():
    # Neither a consent nor a refusal: the policy decides whether LI suffices.
    tc = encode_tc(consents=(), interests=(7, 9))
    assert Purpose.analytics not in by_purpose(tcf_signals(tc))


def test_tcf_reject_all_refuses_everything():
    tc = encode_tc(consents=(), interests=())
    assert by_purpose(tcf_signals(tc)) == {
        Purpose.ads: D, Purpose.personalization: D, Purpose.analytics: D,
    }


def test_tcf_publisher_segment_is_preferred_for_first_party_use():
    tc = encode_tc(consents=(1, 2, 3, 4, 5, 6, 7, 9), publisher=((7,), ()))
    tcf = decode_tcf(tc)
    assert tcf.segment == "publisher_tc" and tcf.purpose_consents == {7}
    assert by_purpose(tcf_signals(tc)) == {
        Purpose.ads: D, Purpose.personalization: D, Purpose.analytics: G,
    }


@pytest.mark.parametrize(("value", "code"), [
    ("", "invalid_tcf_string"),
    (None, "invalid_tcf_string"),
    ("not a TC string!", "invalid_tcf_string"),
    ("CPc7TgAPc7TgA", "invalid_tcf_string"),  # valid base64url, far too short
    ("A", "invalid_tcf_string"),  # one base64 character is no byte at all
])
def test_invalid_tc_strings_raise(value, code):
    with pytest.raises(SignalError) as err:
        tcf_signals(value)
    assert err.value.code == code
    assert err.value.field == "context.consent.tcfString"


def test_truncated_tc_string_is_refused_not_read_as_all_true():
    # iab-tcf reads missing bits as True; a cut string must not become "consent to all".
    full = encode_tc(consents=(), interests=(), max_vendor=400)
    cut = full[:24]  # 144 bits: ends before the purpose bit fields
    assert all(iab_tcf.decode_v2(cut).purposes_consent.values())  # what the raw library says
    with pytest.raises(SignalError, match="truncated \\(core segment too short\\)"):
        tcf_signals(cut)
    with pytest.raises(SignalError, match="truncated \\(vendor section\\)"):
        tcf_signals(full[:44])  # purposes complete, vendor section cut


def test_tcf_v1_string_is_unsupported():
    v1 = encode_tc(version=1)
    with pytest.raises(SignalError) as err:
        tcf_signals(v1)
    assert err.value.code == "unsupported_tcf_version"


def test_truncated_publisher_segment_is_refused():
    tc = encode_tc(consents=(7,), publisher=((7,), ()))
    core, pub = tc.split(".")
    with pytest.raises(SignalError, match="publisher TC segment is truncated"):
        tcf_signals(f"{core}.{pub[:4]}")


# --- Segment categoryPreferences ------------------------------------------------------------

SEGMENT_PREFS = {"Advertising": False, "Analytics": True, "Functional": True, "Marketing": True,
                 "SMS": False, "Carrier Pigeon": True}


def test_segment_category_preferences_default_mapping():
    signals, ignored = category_signals(SEGMENT_PREFS)
    got = {(s.purpose, s.channel): s.status for s in signals}
    assert got == {
        (Purpose.ads, Channel.any): D,
        (Purpose.analytics, Channel.any): G,
        (Purpose.marketing, Channel.any): G,
        (Purpose.marketing, Channel.sms): D,
    }
    assert all(s.source == SOURCE_CATEGORIES for s in signals)
    assert ignored == ["context.consent.categoryPreferences.Carrier Pigeon: unknown category"]


def test_segment_categories_are_case_insensitive_and_mapping_is_configurable():
    mapping = {"Newsletter": [(Purpose.marketing, Channel.email)], "LINE OA": [
        (Purpose.marketing, Channel.line), (Purpose.personalization, Channel.line)]}
    signals, ignored = category_signals({"newsletter": True, "line oa": False, "Marketing": True},
                                        mapping=mapping)
    got = {(s.purpose, s.channel): s.status for s in signals}
    assert got == {(Purpose.marketing, Channel.email): G, (Purpose.marketing, Channel.line): D,
                   (Purpose.personalization, Channel.line): D}
    assert ignored == ["context.consent.categoryPreferences.Marketing: unknown category"]


def test_segment_category_value_must_be_boolean():
    with pytest.raises(SignalError) as err:
        category_signals({"Marketing": "yes"})
    assert err.value.field == "context.consent.categoryPreferences.Marketing"


# --- GPC -------------------------------------------------------------------------------------

def test_gpc_header_denies_sale_ads_marketing_on_any_channel():
    signals = gpc_signals("1", {})
    assert {(s.purpose, s.channel, s.status) for s in signals} == {
        (Purpose.sale, Channel.any, D), (Purpose.ads, Channel.any, D),
        (Purpose.marketing, Channel.any, D),
    }
    assert all(s.source == SOURCE_GPC and s.evidence == {"gpc": "header"} for s in signals)


def test_gpc_from_context_flag():
    assert len(gpc_signals(None, {"gpc": True})) == 3
    assert gpc_signals(None, {"gpc": True})[0].evidence == {"gpc": "context"}


@pytest.mark.parametrize(("header", "context"), [
    (None, {}), ("0", {}), ("", {"gpc": False}), (None, {"gpc": "false"}), (None, None),
])
def test_no_gpc_means_no_preference(header, context):
    assert gpc_signals(header, context) == []


# --- Google Consent Mode v2 -----------------------------------------------------------------

def test_consent_mode_all_granted():
    signals, ignored = consent_mode_signals({
        "ad_storage": "granted", "analytics_storage": "granted", "ad_user_data": "granted",
        "ad_personalization": "granted", "functionality_storage": "granted",
    })
    assert by_purpose(signals) == {Purpose.ads: G, Purpose.analytics: G}
    assert ignored == []


def test_consent_mode_any_ads_denial_refuses_ads():
    signals, _ = consent_mode_signals({
        "ad_storage": "granted", "analytics_storage": "denied", "ad_user_data": "denied",
        "ad_personalization": "granted", "personalization_storage": "granted",
    })
    assert by_purpose(signals) == {
        Purpose.ads: D, Purpose.analytics: D, Purpose.personalization: G,
    }


def test_consent_mode_ad_storage_alone_is_not_an_ads_grant():
    signals, _ = consent_mode_signals({"ad_storage": "granted"})
    assert signals == []


def test_consent_mode_bad_value_and_unknown_key():
    with pytest.raises(SignalError) as err:
        consent_mode_signals({"ad_storage": True})
    assert err.value.field == "context.consent.googleConsentMode.ad_storage"
    _, ignored = consent_mode_signals({"wait_for_update": "granted"})
    assert ignored == [
        "context.consent.googleConsentMode.wait_for_update: unknown Consent Mode key"
    ]


# --- whole events ---------------------------------------------------------------------------

def _event(context: dict) -> dict:
    return {"type": "track", "event": "Page Viewed", "anonymousId": "a-1", "context": context}


def test_event_with_every_signal_kind():
    tc = encode_tc(consents=(1, 5, 6, 7, 9))
    event = _event({
        "consent": {"categoryPreferences": {"Analytics": True}, "tcfString": tc},
        "google_consent": {"analytics_storage": "granted"},
    })
    signals = signals_from_event(event, sec_gpc="1")
    got = {(s.purpose, s.channel, s.status, s.source) for s in signals}
    assert (Purpose.analytics, Channel.any, G, SOURCE_CATEGORIES) in got
    assert (Purpose.personalization, Channel.any, G, SOURCE_TCF) in got
    assert (Purpose.ads, Channel.any, D, SOURCE_TCF) in got
    assert (Purpose.ads, Channel.any, D, SOURCE_GPC) in got


def test_event_tc_string_aliases():
    tc = encode_tc(consents=(7,))
    for context in ({"gdpr_consent": tc}, {"consent": {"tcString": tc}}):
        assert by_purpose(signals_from_event(_event(context)))[Purpose.analytics] is G


def test_event_with_different_tc_strings_is_refused():
    ctx = {"consent": {"tcfString": encode_tc(consents=(7,))}, "gdpr_consent": encode_tc()}
    with pytest.raises(SignalError) as err:
        signals_from_event(_event(ctx))
    assert err.value.code == "conflicting_tcf_strings"


def test_event_invalid_tc_string_raises_for_the_caller_to_decide():
    with pytest.raises(SignalError) as err:
        signals_from_event(_event({"gdpr_consent": "garbage!"}))
    assert err.value.field == "context.gdpr_consent"


def test_grant_and_refusal_in_one_event_keeps_the_refusal():
    event = _event({"consent": {"categoryPreferences": {"Advertising": True, "SMS": True}}})
    parsed = read_signals(event, sec_gpc="1")
    ads = [s for s in parsed.signals if s.purpose is Purpose.ads]
    assert [s.status for s in ads] == [D]
    sms = [s for s in parsed.signals if s.channel is Channel.sms]
    assert sms == []  # GPC's marketing/any refusal outranks a marketing/sms grant
    assert any("grant of ads/any dropped" in note for note in parsed.ignored)


def test_event_without_consent_context_has_no_signals():
    assert signals_from_event(_event({})) == []
    assert signals_from_event({"type": "identify", "userId": "u1"}) == []


def test_event_consent_must_be_an_object():
    with pytest.raises(SignalError) as err:
        signals_from_event(_event({"consent": "yes"}))
    assert err.value.field == "context.consent"


def test_signal_to_record():
    signal = gpc_signals("1", {})[0]
    record = signal.to_record(
        id="r1", subject="p-123", captured_at=datetime(2026, 5, 1, tzinfo=UTC),
        jurisdiction=Jurisdiction.GDPR,
    )
    assert record.purpose is signal.purpose and record.status is D
    assert record.lawful_basis is LawfulBasis.consent
    assert record.source == SOURCE_GPC and record.evidence == {"gpc": "header"}
