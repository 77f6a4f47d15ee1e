"""Deterministic demo data for "Formosa Fresh" (福爾摩沙鮮選), a Taiwan / Hong Kong grocery brand.

`generate_events` yields Segment-spec payloads (identify / track / page / screen / alias, exactly
the shape analytics.js, analytics-swift/kotlin and analytics-python send) from web, app, POS,
CRM, LINE and e-mail touchpoints, sorted by timestamp. The same arguments always give the same
events, message ids included. Defaults: 10,000 people, ~200k events, one year ending 2026-11-01.

Identity-resolution cases planted in the data (`summarize` counts them):

1. web login: anonymous pages under an analytics.js cookie (`anonymousId`), then an `identify`
   with `userId` (member id) and the same `anonymousId`. Cookies get cleared, and LINE's in-app
   browser and e-mail clicks start fresh cookies, so one person collects several.
2. app login: screens under the app's `anonymousId` + `context.device.id`, then `identify` in app.
3. POS by phone: till receipts are track events whose `anonymousId` is the receipt
   (`pos-<store_id>-<n>`) and whose `context.traits.phone` is what the cashier typed
   (`0912345678` / `+85291234567`). Walk-in shoppers later join at the CRM counter: an `identify`
   with `userId` and the same phone written the CRM way (`0912-345-678` / `+852 9123 4567`),
   so the phone must be normalised before matching.
4. LINE: LINE events carry only the LINE user id (`anonymousId` and `context.traits.line_user_id`);
   an `identify` with `traits.line_user_id` (member-card binding or sign-up) links it to a member.
5. alias: `alias(previousId -> userId)` for legacy web-shop ids (`shop-123456`) migrated to member
   ids, and for some in-app sign-ups (previousId = the app `anonymousId`).
6. shared devices: family tablets where two different members log in on one `anonymousId` and
   device id. A one-user-id-per-profile merge limit must keep them apart.
7. junk: `userId` "null", e-mail `test@test.com`, phone `0000000000` typed at the till, and a few
   events with no id at all. Every event carrying such a value has `context.demo_junk` = reason;
   the API must refuse these as identifiers.

Data is synthetic: e-mail domains are RFC 2606 `example.*`, IPs are TEST-NET / private ranges,
the brand's sites live under `formosafresh.example`. Customers follow a repurchase cycle with a
bounded number of orders; about half lapse, so New/Active/Sleep/Lost stages all occur. Dairy
buyers outnumber meat buyers and about half the people never buy meat.

Layout: `demo_catalog` (stores, products, names), `demo_people` (who shops), `demo_sessions`
(what one visit writes), `demo_sim` (when each person does what). This module is the public
entry: it sorts the simulation's compact records and turns them into payloads as they are
yielded.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collect.demo_catalog import PRODUCTS
from collect.demo_people import DAY
from collect.demo_sessions import JUNK_EMAIL, JUNK_PHONE, JUNK_USER_ID, Record
from collect.demo_sim import MAX_ORDERS_PER_CUSTOMER, Simulation

__all__ = [
    "CRM_CSV_FIELDS",
    "DEFAULT_END",
    "JUNK_KEY",
    "MAX_ORDERS_PER_CUSTOMER",
    "batches",
    "crm_members_csv_rows",
    "generate_events",
    "summarize",
    "write_jsonl",
]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
JUNK_KEY = "demo_junk"
CRM_CSV_FIELDS = ("member_id", "name", "email", "phone", "birthday", "member_tier", "city")
_CHUNK = 5_000  # events materialised per GC-paused burst


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def _iso(ms: int) -> str:
    day, rest = divmod(ms, DAY)
    secs, millis = divmod(rest, 1000)
    hours, secs = divmod(secs, 3600)
    mins, secs = divmod(secs, 60)
    return f"{_date(day)}T{hours:02d}:{mins:02d}:{secs:02d}.{millis:03d}Z"


def _materialise(n: int, rec: Record) -> dict[str, Any]:
    ts, _seq, kind, uid, aid, shared, name, props, traits, ctx_traits, page, junk = rec
    ctx: dict[str, Any] = {
        "channel": shared.channel,
        "ip": shared.ip,
        "userAgent": shared.ua,
        "locale": shared.locale,
        "library": dict(shared.library),
    }
    if shared.device:
        ctx["device"] = dict(shared.device)
    if shared.campaign:
        ctx["campaign"] = dict(shared.campaign)
    event: dict[str, Any] = {"type": kind, "messageId": f"demo-{n}", "timestamp": _iso(ts)}
    if uid is not None:
        event["userId"] = uid
    if aid is not None:
        event["anonymousId"] = aid
    if page is not None:
        url, path, title, referrer = page
        ctx["page"] = {"url": url, "path": path, "title": title, "referrer": referrer}
        event["name"], event["properties"] = name, dict(ctx["page"])
    elif kind == "track":
        event["event"], event["properties"] = name, _expand(props)
    elif kind == "screen":
        event["name"], event["properties"] = name, dict(props)
    elif kind == "identify":
        event["traits"] = dict(traits)
    elif kind == "alias":
        event["previousId"] = name
    if ctx_traits:
        ctx["traits"] = dict(ctx_traits)
    if junk:
        ctx[JUNK_KEY] = junk
    event["context"] = ctx
    return event


def _expand(props: dict[str, Any]) -> dict[str, Any]:
    out = dict(props)
    if "products" in out:
        out["products"] = [
            {
                "product_id": PRODUCTS[i][0],
                "sku": PRODUCTS[i][1],
                "name": PRODUCTS[i][2],
                "category": PRODUCTS[i][3],
                "price": price,
                "quantity": q,
            }
            for i, q, price in out["products"]
        ]
    return out


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC around an allocation burst that creates no cycles.

    Building 200k nested dicts otherwise triggers full collections that scan everything the
    caller already holds (measured: more than half the run time when the caller keeps a list).
    Never held across a `yield`.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(customers: int, seed: int, days: int, end: datetime) -> Simulation:
    with _gc_paused():
        return Simulation(customers=customers, seed=seed, days=days, end=end)


def generate_events(
    *, customers: int = 10_000, seed: int = 42, days: int = 365, end: datetime = DEFAULT_END
) -> Iterator[dict[str, Any]]:
    """Yield the demo's Segment-spec events in timestamp order (same arguments, same events)."""
    recs = _run(customers, seed, days, end).records
    recs.sort(key=lambda r: (r[0], r[1]))
    for lo in range(0, len(recs), _CHUNK):
        with _gc_paused():
            chunk = [_materialise(lo + k, rec) for k, rec in enumerate(recs[lo : lo + _CHUNK], 1)]
        yield from chunk


def crm_members_csv_rows(
    *, customers: int = 10_000, seed: int = 42, days: int = 365, end: datetime = DEFAULT_END
) -> Iterator[dict[str, str]]:
    """Yield the CRM's member export (one dict per member) for the same simulated population."""
    sim = _run(customers, seed, days, end)
    for p in sorted(sim.people, key=lambda person: person.member_id):
        if p.member_since is not None:
            yield {
                "member_id": p.member_id,
                "name": p.name,
                "email": p.email,
                "phone": p.phone,
                "birthday": p.birthday,
                "member_tier": p.tier,
                "city": p.city,
            }


def batches(events: Iterable[dict[str, Any]], size: int = 100) -> Iterator[list[dict[str, Any]]]:
    """Group events into lists of at most `size` (a `/v1/batch` body's `batch`)."""
    if size < 1:
        raise ValueError("size must be positive")
    iterator = iter(events)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def write_jsonl(path: str | Path, events: Iterable[dict[str, Any]]) -> int:
    """Write one compact JSON event per line (UTF-8) and return how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
            count += 1
    return count


def _phone_key(raw: str) -> str | None:
    # Only the demo's own formats, on purpose: these counts must not depend on the API's
    # normaliser, which the demo exists to exercise.
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw == JUNK_PHONE or len(set(digits)) <= 1:
        return None
    if len(digits) == 10 and digits.startswith("09"):
        return "+886" + digits[1:]
    if len(digits) == 11 and digits.startswith("852"):
        digits = digits[3:]
    return "+852" + digits if len(digits) == 8 else None


def _identifiers(event: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    if (uid := event.get("userId")) and uid != JUNK_USER_ID:
        ids.append(f"user:{uid}")
    if aid := event.get("anonymousId"):
        ids.append(f"anon:{aid}")
    if device := (event.get("context", {}).get("device") or {}).get("id"):
        ids.append(f"device:{device}")
    if prev := event.get("previousId"):
        ids.append(f"user:{prev}")
    for traits in (event.get("traits") or {}, event.get("context", {}).get("traits") or {}):
        if (email := traits.get("email")) and email.lower() != JUNK_EMAIL:
            ids.append(f"email:{email.lower()}")
        if (phone := traits.get("phone")) and (norm := _phone_key(phone)):
            ids.append(f"phone:{norm}")
        if line := traits.get("line_user_id"):
            ids.append(f"line:{line}")
    return ids


def summarize(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Count events by type/channel and the planted identity cases (for the CLI and tests)."""
    by_type: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    junk: Counter[str] = Counter()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    anon_only: set[str] = set()
    anon_users: dict[str, set[str]] = defaultdict(set)
    pos_phones: set[str] = set()
    crm_phones: set[str] = set()
    stitched, merged, line_links, aliases, total = 0, 0, 0, 0, 0
    for event in events:
        total += 1
        by_type[event["type"]] += 1
        ctx = event.get("context", {})
        by_channel[ctx.get("channel", "?")] += 1
        if reason := ctx.get(JUNK_KEY):
            junk[reason] += 1
        uid, aid = event.get("userId"), event.get("anonymousId")
        if aid and uid and uid != JUNK_USER_ID:
            anon_users[aid].add(uid)
        elif aid and not uid:
            anon_only.add(aid)
        phone = _phone_key((ctx.get("traits") or {}).get("phone", ""))
        if ctx.get("channel") == "pos" and phone:
            pos_phones.add(phone)
        if event["type"] == "identify" and ctx.get("channel") == "crm":
            if norm := _phone_key(event["traits"].get("phone", "")):
                crm_phones.add(norm if norm in pos_phones else "")
            if event.get("traits", {}).get("line_user_id") and uid:
                line_links += 1
        elif event["type"] == "identify" and event["traits"].get("line_user_id") and uid:
            line_links += 1
        aliases += event["type"] == "alias"
        ids = _identifiers(event)
        known = {find(i) for i in ids if i in parent}
        new = [i for i in ids if i not in parent]
        for i in new:
            parent[i] = i
        if len(known) > 1:
            merged += 1
        elif known and new:
            stitched += 1
        for i in ids[1:]:
            ra, rb = find(ids[0]), find(i)
            if ra != rb:
                parent[rb] = ra
    crm_phones.discard("")
    return {
        "events": total,
        "by_type": dict(by_type),
        "by_channel": dict(by_channel),
        "stitch_events": stitched,
        "merge_events": merged,
        "stitch_or_merge_share": round((stitched + merged) / max(total, 1), 3),
        "anonymous_ids_later_identified": sum(1 for a in anon_only if a in anon_users),
        "pos_phones_later_in_crm": len(crm_phones),
        "line_links": line_links,
        "aliases": aliases,
        "shared_anonymous_ids": sum(1 for users in anon_users.values() if len(users) > 1),
        "junk": dict(junk),
    }
