"""Hashed ad audiences: each platform's normalisation before SHA-256, the ads consent checked at
export time, and removals of people who withdrew since the previous export."""

from __future__ import annotations

import hashlib

from activation.audiences import email_key, phone_key
from activation.unsubscribe import withdrawal
from consent.model import Jurisdiction
from tests.activation.conftest import ctx_of


def h(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()


def test_platform_normalisation():
    assert email_key("  Amy@Example.COM ") == h("amy@example.com")
    # E.164 first, so the country is not lost: Meta without '+', Google with it.
    assert phone_key("0912-345-678", "meta") == h("886912345678")
    assert phone_key("0912-345-678", "google") == h("+886912345678")
    assert phone_key("9123 4567", "google", region="HK") == h("+85291234567")
    assert phone_key("not a phone", "meta") is None


def _member(container, workspace, uid, ads: bool, email: str, phone: str) -> str:
    ev = {"type": "identify", "userId": uid, "messageId": f"aud-{uid}", "traits": {
        "email": email, "phone": phone, "member_tier": "gold"},
        "context": {"consent": {"categoryPreferences": {"ads": ads}}}}
    return container.ingest.ingest([ev], workspace=workspace, source="test").profiles[0]


def test_audience_export_checks_ads_consent_and_diffs(container, workspace, act):
    amy = _member(container, workspace, "a1", True, " Amy@Example.com", "0912-345-678")
    bob = _member(container, workspace, "a2", True, "bob@example.com", "0922-000-111")
    _member(container, workspace, "a3", False, "cy@example.com", "0933-000-111")
    seg = container.segments.save(workspace=workspace, name="gold", definition={
        "type": "trait", "name": "member_tier", "op": "eq", "value": "gold"}, segment_id=None)
    container.segments.evaluate(workspace=workspace, segment_id=seg.id)
    marketer = ctx_of(container, workspace, "marketer")
    first = act.export_audience(marketer, segment_id=seg.id, platform="meta")
    assert set(first.members) == {amy, bob} and first.skipped == {"consent_denied": 1}
    assert first.members[amy] == {"email": [h("amy@example.com")], "phone": [h("886912345678")]}
    payload = first.payload()
    assert payload["schema"] == ["EMAIL_SHA256", "PHONE_SHA256"] and len(payload["data"]) == 2
    assert "amy" not in str(payload).lower() and amy not in str(payload)
    # Bob objects to marketing (which also stops ads); the next sync removes him.
    container.admin.consents.append(workspace=workspace, records=[withdrawal(
        profile_id=bob, channel="any", source="test", jurisdiction=Jurisdiction.TW_PDPA)])
    second = act.export_audience(marketer, segment_id=seg.id, platform="google",
                                 previous={"members": first.members})
    assert set(second.members) == {amy} and second.removed == [bob]
    ops = second.payload()["operations"]
    assert ops[0]["create"]["userIdentifiers"] == [{"hashedEmail": h("amy@example.com")},
                                                   {"hashedPhoneNumber": h("+886912345678")}]
