"""The Formosa Fresh demo generator: determinism, Segment shape and the planted identity cases."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collect.demo import (
    CRM_CSV_FIELDS,
    DEFAULT_END,
    JUNK_KEY,
    MAX_ORDERS_PER_CUSTOMER,
    batches,
    crm_members_csv_rows,
    generate_events,
    summarize,
    write_jsonl,
)
from collect.demo_catalog import CATEGORY_LABELS, REGIONS, STORES

Event = dict[str, Any]
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TW_PHONE = re.compile(r"^09\d{2}-\d{3}-\d{3}$|^09\d{8}$")
HK_PHONE = re.compile(r"^\+852 \d{4} \d{4}$|^\+852\d{8}$")
SMALL = {"customers": 1_500, "seed": 3}


@pytest.fixture(scope="module")
def default_events() -> list[Event]:
    return list(generate_events())


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(generate_events(**SMALL))


def _phone_key(raw: str) -> str:
    """Digits with the country code, written independently of the generator and the API."""
    digits = re.sub(r"\D", "", raw)
    return "886" + digits[1:] if digits.startswith("09") else digits


def _valid_uid(event: Event) -> str | None:
    uid = event.get("userId")
    return uid if uid and uid != "null" else None


def test_same_arguments_give_the_same_events() -> None:
    first = list(generate_events(customers=200, seed=11))
    assert first == list(generate_events(customers=200, seed=11))
    assert first != list(generate_events(customers=200, seed=12))
    rows = list(crm_members_csv_rows(customers=200, seed=11))
    assert rows == list(crm_members_csv_rows(customers=200, seed=11))


def test_default_run_has_about_200k_events_from_10k_people(default_events: list[Event]) -> None:
    assert 180_000 <= len(default_events) <= 230_000
    members = {e["userId"] for e in default_events if str(e.get("userId", "")).startswith("M")}
    assert 4_000 <= len(members) <= 10_000
    stats = summarize(default_events)
    assert set(stats["by_type"]) == {"identify", "track", "page", "screen", "alias"}
    assert set(stats["by_channel"]) == {"web", "app", "pos", "crm", "line", "email"}
    assert 0.12 <= stats["stitch_or_merge_share"] <= 0.3


def test_message_ids_are_unique(events: list[Event]) -> None:
    ids = [e["messageId"] for e in events]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("demo-") for i in ids)


def test_timestamps_are_sorted_iso_utc_inside_the_window(events: list[Event]) -> None:
    stamps = [e["timestamp"] for e in events]
    assert all(ISO_UTC.match(s) for s in stamps)
    assert stamps == sorted(stamps)
    first = datetime.fromisoformat(stamps[0])
    last = datetime.fromisoformat(stamps[-1])
    assert DEFAULT_END - timedelta(days=366) <= first and last < DEFAULT_END


def test_window_follows_end_and_days() -> None:
    end = datetime(2025, 6, 1, tzinfo=UTC)
    for days in (7, 30):
        stamps = [
            e["timestamp"] for e in generate_events(customers=100, seed=1, days=days, end=end)
        ]
        assert stamps and stamps[-1] < "2025-06-01"
        assert stamps[0] >= (end - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


def test_every_event_has_an_id_unless_marked_junk(events: list[Event]) -> None:
    idless = [e for e in events if not e.get("userId") and not e.get("anonymousId")]
    assert idless, "the deliberately id-less events are missing"
    assert all(e["context"][JUNK_KEY] == "missing_ids" for e in idless)


def test_common_context_fields(events: list[Event]) -> None:
    for e in events:
        ctx = e["context"]
        assert ctx["channel"] in {"web", "app", "pos", "crm", "line", "email", "sms"}
        assert ctx["locale"] in {"zh-TW", "zh-HK", "en-US"}
        assert ctx["ip"] and ctx["userAgent"] and ctx["library"]["name"]
        if ctx["channel"] == "app":
            assert ctx["device"]["type"] in {"ios", "android"} and ctx["device"]["id"]
        if e["type"] == "page":
            assert set(ctx["page"]) == {"url", "path", "title", "referrer"}
            assert ctx["page"]["url"].startswith("https://")
    landings = [e for e in events if "campaign" in e["context"]]
    assert {e["context"]["campaign"]["source"] for e in landings} == {
        "line", "email", "sms", "google", "facebook",
    }  # fmt: skip
    for e in landings:
        if e["type"] == "page":
            assert f"utm_campaign={e['context']['campaign']['name']}" in e["context"]["page"]["url"]


def test_orders_follow_the_ecommerce_spec(events: list[Event]) -> None:
    orders = [e for e in events if e.get("event") == "Order Completed"]
    assert orders
    for e in orders:
        props = e["properties"]
        assert props["currency"] in {"TWD", "HKD"} and props["channel"] in {"pos", "web", "app"}
        assert props["order_id"] and props["total"] == props["revenue"] + props["shipping"]
        assert props["products"]
        for item in props["products"]:
            assert item["category"] in CATEGORY_LABELS
            assert item["price"] > 0 and item["quantity"] >= 1
            assert item["product_id"] and item["sku"] and item["name"]
        if props["channel"] == "pos":
            assert props["store_id"] in STORES and e["anonymousId"].startswith("pos-")
    assert {o["properties"]["channel"] for o in orders} == {"pos", "web", "app"}


def test_identify_traits_look_like_real_members(events: list[Event]) -> None:
    full = [e for e in events if e["type"] == "identify" and "name" in e["traits"]]
    assert full
    tiers = {t for region in REGIONS.values() for t in region.tiers}
    for e in full:
        traits = e["traits"]
        assert re.fullmatch(r"M\d{7}", traits["member_id"]) and traits["member_id"] == e["userId"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", traits["birthday"])
        assert traits["member_tier"] in tiers and "@" in traits["email"]
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", traits["name"])
        if not e["context"].get(JUNK_KEY):
            assert TW_PHONE.match(traits["phone"]) or HK_PHONE.match(traits["phone"])
        if "line_user_id" in traits:
            assert re.fullmatch(r"U[0-9a-f]{32}", traits["line_user_id"])


def test_anonymous_browsing_is_later_identified_on_web_and_app(events: list[Event]) -> None:
    anonymous_first: dict[str, str] = {}
    identified = set()
    for e in events:
        aid = e.get("anonymousId")
        if aid and not e.get("userId"):
            anonymous_first.setdefault(aid, e["context"]["channel"])
        elif aid in anonymous_first and _valid_uid(e):
            identified.add(anonymous_first[aid])
    assert {"web", "app"} <= identified


def test_pos_phone_is_later_seen_in_a_crm_identify(events: list[Event]) -> None:
    pos_phones: set[str] = set()
    matched = 0
    for e in events:
        ctx = e["context"]
        if ctx["channel"] == "pos" and "phone" in ctx.get("traits", {}) and not e.get("userId"):
            pos_phones.add(_phone_key(ctx["traits"]["phone"]))
        elif ctx["channel"] == "crm" and "phone" in e.get("traits", {}):
            matched += _phone_key(e["traits"]["phone"]) in pos_phones
    assert matched > 0


def test_line_user_is_linked_to_a_member_after_anonymous_line_events(events: list[Event]) -> None:
    seen_on_line = {
        e["anonymousId"]
        for e in events
        if e["context"]["channel"] == "line" and not e.get("userId")
    }
    linked = {
        e["traits"]["line_user_id"]
        for e in events
        if e["type"] == "identify" and _valid_uid(e) and "line_user_id" in e["traits"]
    }
    assert seen_on_line & linked


def test_aliases_cover_legacy_ids_and_app_sign_ups(events: list[Event]) -> None:
    aliases = [e for e in events if e["type"] == "alias"]
    assert any(a["previousId"].startswith("shop-") for a in aliases)
    assert any(a["previousId"] == a.get("anonymousId") for a in aliases)
    assert all(a["userId"] != a["previousId"] for a in aliases)


def test_shared_devices_put_two_members_on_one_anonymous_id(events: list[Event]) -> None:
    users: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if (uid := _valid_uid(e)) and e.get("anonymousId"):
            users[e["anonymousId"]].add(uid)
    shared = [aid for aid, ids in users.items() if len(ids) > 1]
    assert shared and all(len(users[aid]) == 2 for aid in shared)


def test_junk_identifiers_are_present_and_marked(events: list[Event]) -> None:
    reasons = {e["context"][JUNK_KEY] for e in events if JUNK_KEY in e["context"]}
    assert reasons == {"missing_ids", "null_user_id", "placeholder_contact", "placeholder_phone"}
    for e in events:
        junk_values = (
            e.get("userId") == "null"
            or e.get("traits", {}).get("email") == "test@test.com"
            or e["context"].get("traits", {}).get("phone") == "0000000000"
        )
        assert junk_values == (
            e["context"].get(JUNK_KEY)
            in {"null_user_id", "placeholder_contact", "placeholder_phone"}
        )


def test_purchases_support_lifecycle_and_category_segments(events: list[Event]) -> None:
    orders_by_person: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.get("event") == "Order Completed" and not e["context"].get(JUNK_KEY):
            key = e.get("userId") or _phone_key(e["context"]["traits"]["phone"])
            orders_by_person[key].append(e)
    assert max(len(v) for v in orders_by_person.values()) <= MAX_ORDERS_PER_CUSTOMER
    days_since_last = [
        (DEFAULT_END - datetime.fromisoformat(v[-1]["timestamp"])).days
        for v in orders_by_person.values()
    ]
    assert any(d < 30 for d in days_since_last) and any(d > 180 for d in days_since_last)
    assert any(60 <= d <= 180 for d in days_since_last)
    bought: dict[str, set[str]] = {
        k: {p["category"] for o in v for p in o["properties"]["products"]}
        for k, v in orders_by_person.items()
    }
    dairy = sum("dairy" in c for c in bought.values())
    meat = sum("meat" in c for c in bought.values())
    assert dairy > meat > 0
    repeat_never_meat = [
        c for k, c in bought.items() if len(orders_by_person[k]) >= 5 and "meat" not in c
    ]
    assert repeat_never_meat


def test_events_fit_segment_size_limits(events: list[Event]) -> None:
    assert max(len(json.dumps(e).encode()) for e in events) < 32 * 1024
    for batch in batches(events, size=100):
        assert len(json.dumps({"batch": batch}).encode()) < 500 * 1024


def test_batches_and_jsonl(events: list[Event], tmp_path: Any) -> None:
    chunks = list(batches(events[:250], size=100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    with pytest.raises(ValueError):
        list(batches(events, size=0))
    path = tmp_path / "demo.jsonl"
    assert write_jsonl(path, events[:50]) == 50
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == events[:50]
    assert re.search(r"[\u4e00-\u9fff]", "".join(lines))  # UTF-8 kept, not \u-escaped


def test_crm_rows_match_the_members_in_the_events(events: list[Event]) -> None:
    rows = list(crm_members_csv_rows(**SMALL))
    assert rows and all(tuple(r) == CRM_CSV_FIELDS for r in rows)
    ids = [r["member_id"] for r in rows]
    assert len(set(ids)) == len(ids)
    identified = {e["userId"] for e in events if e["type"] == "identify" and _valid_uid(e)}
    assert set(ids) <= identified
    assert all(TW_PHONE.match(r["phone"]) or HK_PHONE.match(r["phone"]) for r in rows)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        list(generate_events(customers=0))
    with pytest.raises(ValueError):
        list(generate_events(customers=10, days=3))
