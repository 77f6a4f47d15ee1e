"""Normalisation and validation of single events (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collect.events import EventError, Normalizer
from collect.normalize import is_junk, normalize_email, normalize_phone
from collect.rules import load_rules

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture()
def norm() -> Normalizer:
    return Normalizer(rules=load_rules(), default_region="TW", max_future_s=3600)


@pytest.mark.parametrize(("raw", "expected"), [
    ("0912-345-678", "+886912345678"), ("(02)2345-6789", "+886223456789"), ("+852 9123 4567", "+85291234567"),
    ("+86 138 0013 8000", "+8613800138000"), ("12345", None), ("not a phone", None),
])
def test_phone_to_e164_with_tw_default(raw, expected):
    assert normalize_phone(raw, default_region="TW") == expected


def test_email_trimmed_lowercased():
    assert normalize_email("  Amy.Chen@Example.COM ") == "amy.chen@example.com"
    assert normalize_email("no-at-sign") is None


@pytest.mark.parametrize("value", ["null", "undefined", "0000000000", "test@test.com", " NULL ", "1234567890", "n/a"])
def test_junk_values(value):
    assert is_junk(value)


def test_real_values_are_not_junk():
    assert not is_junk("0912345678") and not is_junk("amy@example.com") and not is_junk("M0001234")


def test_clock_skew_corrected_and_utc(norm):
    # The device clock is 10 minutes fast: sentAt and timestamp are both shifted.
    ev = norm.normalize({"type": "track", "userId": "u", "event": "x", "timestamp": "2026-11-01T20:05:00+08:00",
                         "sentAt": "2026-11-01T20:10:00+08:00"}, received_at=NOW)
    assert ev.ts == datetime(2026, 11, 1, 11, 55, tzinfo=UTC)


def test_missing_timestamp_uses_received_at(norm):
    assert norm.normalize({"type": "identify", "userId": "u"}, received_at=NOW).ts == NOW


def test_identifiers_extracted_normalised_and_ordered(norm):
    ev = norm.normalize({
        "type": "identify", "anonymousId": "a-1", "userId": "u-1",
        "traits": {"email": " X@Y.com", "mobile": "0912 345 678", "member_id": "M1", "line_user_id": "U" + "a" * 32},
        "context": {"device": {"id": "dev-1"}, "externalIds": [{"id": "c-9", "type": "CRM id"}]},
    }, received_at=NOW)
    assert ev.identifiers == (
        ("user_id", "u-1"), ("member_id", "M1"), ("email", "x@y.com"), ("phone", "+886912345678"),
        ("line_user_id", "U" + "a" * 32), ("crm_id", "c-9"), ("device_id", "dev-1"), ("anonymous_id", "a-1"))
    assert ev.traits["email"] == "x@y.com" and ev.traits["mobile"] == "+886912345678"


def test_junk_email_refused_as_identifier_with_warning(norm):
    ev = norm.normalize({"type": "identify", "userId": "u", "traits": {"email": "test@test.com", "phone": "0000000000"}},
                        received_at=NOW)
    assert ev.identifiers == (("user_id", "u"),)
    assert len(ev.warnings) == 2


def test_junk_only_identity_is_refused(norm):
    with pytest.raises(EventError) as exc:
        norm.normalize({"type": "track", "userId": "undefined", "anonymousId": "null", "event": "x"}, received_at=NOW)
    assert exc.value.code == "invalid_identity"


def test_order_line_items(norm):
    ev = norm.normalize({"type": "track", "userId": "u", "event": "Order Completed", "properties": {
        "order_id": 1001, "total": "1,280", "store_id": "TPE-1",
        "products": [{"sku": "milk", "category": "乳製品", "price": 80, "quantity": 2}]}}, received_at=NOW)
    assert ev.revenue == 1280.0 and ev.order_id == "1001" and ev.channel == "pos"
    assert ev.line_items[0].product_id == "milk" and ev.line_items[0].quantity == 2


def test_bad_line_item_points_at_it(norm):
    with pytest.raises(EventError) as exc:
        norm.normalize({"type": "track", "userId": "u", "event": "Order Completed",
                        "properties": {"products": [{"sku": "a"}, {"price": 1}]}}, received_at=NOW)
    assert exc.value.field == "properties.products[1].product_id"


def test_rules_file_validation(tmp_path):
    bad = tmp_path / "rules.json"
    bad.write_text('{"types": {"user_id": {"priority": "high"}}}')
    with pytest.raises(ValueError, match="user_id"):
        load_rules(bad)
