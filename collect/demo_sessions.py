"""Demo touchpoints: web visits, app sessions, till receipts, CRM updates, LINE and e-mail.

Each hit becomes a compact `Record`; `collect.demo` turns records into Segment payloads only as
they are yielded. Identity state (cookies, logins, app installs) changes the way the real SDKs
would change it, which is what makes the stitching cases realistic.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from collect.demo_catalog import (
    COUPONS,
    LIB_PYTHON,
    LIB_WEB,
    PRODUCTS,
    PRODUCTS_BY_CATEGORY,
    STORES,
)
from collect.demo_people import HOUR, MINUTE, Person, new_uuid

JUNK_USER_ID = "null"
JUNK_EMAIL = "test@test.com"
JUNK_PHONE = "0000000000"

_BRAND = "福爾摩沙鮮選"
_LINE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.18.0"
)
_MEDIUM = {
    "line": "message",
    "email": "email",
    "sms": "sms",
    "google": "cpc",
    "facebook": "paid_social",
}
_CAMPAIGN = {"google": "brand-search", "facebook": "retargeting-cart"}
_REFERRER = {
    "google": "https://www.google.com/",
    "facebook": "https://www.facebook.com/",
    "line": "https://line.me/",
}
_CATEGORY_ODDS = (("produce", 0.55), ("bakery", 0.35), ("beverages", 0.35), ("snacks", 0.3))

# (ts ms, seq, type, userId, anonymousId, Context, name, properties, traits, context traits,
#  page (url, path, title, referrer) | None, junk reason | None). `name` is the event, page or
#  screen name, or an alias's previousId; `properties["products"]` holds (index, qty, price).
Record = tuple[Any, ...]
Basket = list[tuple[int, int]]  # (product index, quantity)


@dataclass(frozen=True, slots=True)
class Context:
    """Context shared by one session's hits (copied per event when materialised)."""

    channel: str
    ip: str
    ua: str
    locale: str
    library: dict[str, str]
    device: dict[str, str] | None = None
    campaign: dict[str, str] | None = None

    def landing(self, campaign: dict[str, str] | None) -> Context:
        """The session as seen on its landing hit, which carries the utm campaign."""
        return self if campaign is None else dataclasses.replace(self, campaign=campaign)


class Recorder:
    """Collects records inside the window, numbered in creation order for a stable sort."""

    def __init__(self, *, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.records: list[Record] = []
        self._seq = itertools.count()

    def add(
        self,
        ts: int,
        kind: str,
        uid: str | None,
        aid: str | None,
        ctx: Context,
        name: str | None = None,
        props: dict[str, Any] | None = None,
        *,
        traits: dict[str, Any] | None = None,
        ctx_traits: dict[str, str] | None = None,
        page: tuple[str, str, str, str] | None = None,
        junk: str | None = None,
    ) -> None:
        """Keep one hit; hits outside the window are dropped."""
        if self.start <= ts < self.end:
            rec = (ts, next(self._seq), kind, uid, aid, ctx, name, props, traits, ctx_traits)
            self.records.append((*rec, page, junk))


@dataclass(slots=True)
class Visit:
    """One session's ids and context, so that each hit is a one-liner."""

    rec: Recorder
    ctx: Context
    aid: str | None
    uid: str | None = None
    ctx_traits: dict[str, str] | None = None
    junk: str | None = None

    def track(self, ts: int, event: str, props: dict[str, Any]) -> None:
        """A track call."""
        self.rec.add(
            ts,
            "track",
            self.uid,
            self.aid,
            self.ctx,
            event,
            props,
            ctx_traits=self.ctx_traits,
            junk=self.junk,
        )

    def screen(self, ts: int, name: str, props: dict[str, Any]) -> None:
        """An app screen call."""
        self.rec.add(ts, "screen", self.uid, self.aid, self.ctx, name, props)

    def page(
        self,
        ts: int,
        path: str,
        title: str,
        *,
        site: str,
        landing: Context | None = None,
        query: str = "",
        referrer: str = "",
    ) -> None:
        """An analytics.js page call."""
        url = f"https://{site}{path}{query}"
        page = (url, path, f"{title}｜{_BRAND}", referrer)
        self.rec.add(ts, "page", self.uid, self.aid, landing or self.ctx, title, page=page)

    def identify(
        self, ts: int, uid: str | None, traits: dict[str, Any], junk: str | None = None
    ) -> None:
        """An identify call on this session's anonymousId."""
        self.rec.add(ts, "identify", uid, self.aid, self.ctx, traits=traits, junk=junk)

    def alias(self, ts: int, uid: str, previous_id: str) -> None:
        """An alias call."""
        self.rec.add(ts, "alias", uid, self.aid, self.ctx, previous_id)


class Touchpoints:
    """Writes what one person does in one visit and updates their identity state."""

    def __init__(self, rng: random.Random, rec: Recorder, *, migration: int) -> None:
        self.rng, self.rec, self.migration = rng, rec, migration
        self._order_no = itertools.count(1)
        self._receipts: Counter[str] = Counter()

    # ---- small pieces ---------------------------------------------------------------------
    def step(self, ts: int, low: int = 8, high: int = 90) -> int:
        """A few seconds later."""
        return ts + self.rng.randint(low, high) * 1000

    def server(self, channel: str, p: Person, host: int) -> Context:
        """Context of a server-side integration (CRM, ESP, web-shop backend)."""
        return Context(channel, f"10.0.{host}.10", "analytics-python/2.3.3", p.locale, LIB_PYTHON)

    def campaign(self, source: str, ts: int) -> dict[str, str]:
        """utm fields of a campaign running in the month of `ts`."""
        month = time.strftime("%Y-%m", time.gmtime(ts / 1000))
        name = _CAMPAIGN.get(source, "weekly-deals")
        return {"source": source, "medium": _MEDIUM[source], "name": f"{name}-{month}"}

    def _ip(self) -> str:
        net = self.rng.choice(("203.0.113", "198.51.100", "192.0.2"))  # TEST-NET ranges
        return f"{net}.{self.rng.randint(1, 254)}"

    def _traits(self, p: Person, *, typed: bool) -> tuple[dict[str, Any], str | None]:
        """Full member traits; `typed` means the person filled in a form themselves."""
        rng = self.rng
        traits: dict[str, Any] = {
            "name": p.name,
            "email": p.email,
            "phone": p.phone,
            "birthday": p.birthday,
            "member_id": p.member_id,
            "member_tier": p.tier,
            "city": p.city,
        }
        if rng.random() < 0.95:
            traits["gender"] = "female" if p.gender == "F" else "male"
        if p.line_uid and (p.line_bound or rng.random() < 0.4):
            traits["line_user_id"] = p.line_uid
            p.line_bound = True
        if typed and rng.random() < 0.02:  # people who will not give their details
            traits["email"], traits["phone"] = JUNK_EMAIL, JUNK_PHONE
            return traits, "placeholder_contact"
        if typed and rng.random() < 0.25:  # forms take what people type
            traits["phone"] = p.phone_pos
            if rng.random() < 0.2:
                traits["email"] = p.email.capitalize()
        return traits, None

    def login(self, p: Person, ts: int, visit: Visit, *, app: bool) -> None:
        """Sign up or log in on a web cookie / app install (sets `visit.uid`)."""
        if p.member_since is None:
            p.member_since = ts
            traits, junk = self._traits(p, typed=True)
            visit.identify(ts, p.member_id, {**traits, "createdAt": _iso_s(ts)}, junk)
            if app and visit.aid and self.rng.random() < 0.5:  # mobile SDK alias on sign-up
                visit.alias(ts + 1000, p.member_id, visit.aid)
            visit.uid = p.member_id
            return
        if self.rng.random() < 0.01:  # a front-end bug sends the string "null" first
            visit.identify(ts - 1000, JUNK_USER_ID, {}, "null_user_id")
        visit.uid = p.user_id(ts, self.migration)
        visit.identify(ts, visit.uid, {"email": p.email, "member_id": p.member_id})

    def crm_join(self, p: Person, ts: int) -> None:
        """A member record created (or synced) in the CRM."""
        p.member_since = ts
        traits, junk = self._traits(p, typed=self.rng.random() < 0.5)
        crm = Visit(self.rec, self.server("crm", p, 2), None)
        crm.identify(ts, p.member_id, {**traits, "createdAt": _iso_s(ts)}, junk)

    def _basket(self, p: Person) -> Basket:
        rng = self.rng
        picks: Basket = []
        for cat, odds in (
            ("dairy", p.dairy),
            ("meat", p.meat),
            *_CATEGORY_ODDS,
            ("household", 0.2),
        ):
            for _ in range(rng.choice((1, 1, 1, 2)) if rng.random() < odds else 0):
                qty = rng.choice((1, 1, 1, 1, 2, 2, 3))
                picks.append((rng.choice(PRODUCTS_BY_CATEGORY[cat]), qty))
        return picks or [(rng.choice(PRODUCTS_BY_CATEGORY["produce"]), 1)]

    def _order(self, p: Person, basket: Basket, channel: str, order_id: str) -> dict[str, Any]:
        """Segment `Order Completed` properties (revenue excludes shipping; prices incl. tax)."""
        region = p.region
        items = [(i, q, region.price(PRODUCTS[i][4])) for i, q in basket]
        subtotal = sum(q * price for _, q, price in items)
        props: dict[str, Any] = {
            "order_id": order_id,
            "currency": region.currency,
            "channel": channel,
        }
        discount = 0
        if self.rng.random() < (0.1 if channel == "pos" else 0.15):
            props["coupon"] = coupon = self.rng.choice(tuple(COUPONS))
            props["discount"] = discount = min(region.price(COUPONS[coupon][1]), subtotal // 2)
        shipping = 0 if channel == "pos" or subtotal >= region.free_shipping else region.shipping
        props.update(revenue=subtotal - discount, shipping=shipping, products=items)
        props["total"] = subtotal - discount + shipping
        return props

    def _coupon(self, props: dict[str, Any], **extra: str) -> dict[str, Any]:
        coupon = props["coupon"]
        return {
            "order_id": props["order_id"],
            **extra,
            "coupon_id": coupon,
            "coupon_name": COUPONS[coupon][0],
            "discount": props["discount"],
        }

    def _count_order(self, p: Person, ts: int) -> None:
        p.orders += 1
        if p.member_since is not None and p.orders in (10, 25):  # the CRM pushes tier upgrades
            p.tier = p.region.tiers[1 if p.orders == 10 else 2]
            crm = Visit(self.rec, self.server("crm", p, 2), None)
            crm.identify(ts + HOUR, p.member_id, {"member_tier": p.tier})

    # ---- visits ---------------------------------------------------------------------------
    def web(
        self,
        p: Person,
        ts: int,
        *,
        order: bool,
        campaign: dict[str, str] | None = None,
        new_cookie: bool = False,
        liff: bool = False,
        login: bool = False,
    ) -> None:
        """A visit to the web shop (analytics.js), optionally ending in an order."""
        rng = self.rng
        # Safari caps script-set cookies at 7 days and people switch browsers: cookies churn.
        if new_cookie or p.cookie is None or rng.random() < 0.3:
            p.cookie, p.cookie_uid = new_uuid(rng), None
        ctx = Context("web", self._ip(), _LINE_UA if liff else p.web_ua, p.locale, LIB_WEB)
        visit, site, t = Visit(self.rec, ctx, p.cookie, p.cookie_uid), p.region.site, ts
        query, referrer = "", ""
        if campaign:
            source, medium, name = campaign["source"], campaign["medium"], campaign["name"]
            query = f"?utm_source={source}&utm_medium={medium}&utm_campaign={name}"
            referrer = _REFERRER.get(campaign["source"], "")
        visit.page(
            t, "/", "首頁", site=site, landing=ctx.landing(campaign), query=query, referrer=referrer
        )
        if liff:  # LINE's in-app browser (LIFF) hands the page the LINE user id
            visit.uid = p.user_id(t, self.migration) if p.line_bound else None
            visit.identify(t + 700, visit.uid, {"line_user_id": p.line_uid})
        if login and visit.uid is None:
            t = self.step(t)
            if p.member_since is None:
                visit.page(t, "/member/signup", "加入會員", site=site)
            self.login(p, t + 500, visit, app=False)
        basket = self._basket(p) if order else []
        viewed = [i for i, _ in basket][: rng.choice((1, 1, 2))]
        for i in viewed or [rng.randrange(len(PRODUCTS)) for _ in range(rng.randint(1, 2))]:
            t = self.step(t)
            visit.page(t, f"/products/{PRODUCTS[i][0]}", PRODUCTS[i][2], site=site)
            visit.track(t + 300, "Product Viewed", p.region.product_props(i))
        if order:
            self._checkout(p, t, basket, visit, "web")
        p.cookie_uid = visit.uid

    def app(
        self, p: Person, ts: int, *, order: bool, tablet: tuple[str, dict[str, str]] | None = None
    ) -> None:
        """An app session (analytics-swift/kotlin); `tablet` = a shared family device."""
        rng = self.rng
        if tablet is None and (p.app_anon is None or rng.random() < 0.03):  # (re)install
            p.app_anon, p.app_uid = new_uuid(rng), None
        aid, device = tablet or (str(p.app_anon), p.device)
        ios = device["type"] == "ios"
        lib = {
            "name": "analytics-swift" if ios else "analytics-kotlin",
            "version": "1.6.2" if ios else "1.19.1",
        }
        ua = f"FormosaFresh/5.4.0 ({device['model']}; {device['type']})"
        ctx = Context("app", self._ip(), ua, p.locale, lib, device)
        visit, t = Visit(self.rec, ctx, aid, None if tablet else p.app_uid), ts
        visit.screen(t, "Home", {"name": "Home"})
        if tablet or (visit.uid is None and (order or rng.random() < 0.3)):
            t = self.step(t)
            self.login(p, t, visit, app=True)
        if p.line_uid is None and visit.uid and rng.random() < 0.1:  # geofenced store visit
            store = {"store_id": p.store_id, "store_name": STORES[p.store_id][0]}
            visit.track(self.step(t), "Store Visit", {**store, "method": "app_geofence"})
        basket = self._basket(p) if order else []
        for i in [i for i, _ in basket][: rng.choice((1, 1, 2))] or [rng.randrange(len(PRODUCTS))]:
            t = self.step(t)
            visit.screen(
                t, "Product Detail", {"name": "Product Detail", "product_id": PRODUCTS[i][0]}
            )
            visit.track(t + 300, "Product Viewed", p.region.product_props(i))
        if order:
            self._checkout(p, t, basket, visit, "app")
        if tablet is None:
            p.app_uid = visit.uid

    def _checkout(self, p: Person, t: int, basket: Basket, visit: Visit, channel: str) -> None:
        rng = self.rng
        cart_id = f"c-{next(self._order_no):08d}"
        for i, qty in basket[:2]:  # the rest was added from list pages, which we do not track
            t = self.step(t, 5, 40)
            visit.track(
                t,
                "Product Added",
                {**p.region.product_props(i), "quantity": qty, "cart_id": cart_id},
            )
        t = self.step(t)
        products = [(i, q, p.region.price(PRODUCTS[i][4])) for i, q in basket]
        if rng.random() < 0.6:
            visit.track(t + 300, "Cart Viewed", {"cart_id": cart_id, "products": products})
        if visit.uid is None:  # checking out needs a member login (or a sign-up)
            t = self.step(t)
            if channel == "web":
                visit.page(t, "/member/login", "會員登入", site=p.region.site)
            self.login(p, t + 500, visit, app=channel == "app")
        props = self._order(p, basket, channel, f"FF{p.region.code}{next(self._order_no):08d}")
        t = self.step(t)
        visit.track(
            t + 300,
            "Checkout Started",
            {k: props[k] for k in ("order_id", "revenue", "currency", "products")},
        )
        if "coupon" in props:
            t = self.step(t)
            visit.track(t, "Coupon Applied", self._coupon(props, cart_id=cart_id))
        t = self.step(t, 20, 120)
        visit.track(t, "Order Completed", props)
        self._count_order(p, t)

    def pos(self, p: Person, ts: int) -> None:
        """A till receipt: the receipt is the anonymousId, the phone the cashier typed a trait."""
        rng = self.rng
        store_id = p.store_id if rng.random() < 0.85 else rng.choice(p.region.stores)
        self._receipts[store_id] += 1
        receipt = f"{store_id}-{self._receipts[store_id]:06d}"
        if p.line_uid and rng.random() < 0.25:  # LINE beacon at the entrance
            line = Context("line", "10.0.5.10", "LINE-Messaging-Webhook/2.0", p.locale, LIB_PYTHON)
            beacon = Visit(self.rec, line, p.line_uid, ctx_traits={"line_user_id": p.line_uid})
            where = {"store_id": store_id, "store_name": STORES[store_id][0]}
            beacon.track(ts - 20 * MINUTE, "Store Visit", {**where, "method": "line_beacon"})
        till = Context(
            "pos", f"10.8.{STORES[store_id][2]}.10", "FormosaPOS/3.4", p.locale, LIB_PYTHON
        )
        visit = Visit(self.rec, till, f"pos-{receipt}", ctx_traits={"phone": p.phone_pos})
        if p.member_since is None and rng.random() < 0.01:
            visit.ctx_traits, visit.junk = {"phone": JUNK_PHONE}, "placeholder_phone"
        if p.member_since is not None and rng.random() < 0.6:  # member card scanned
            visit.uid = p.member_id
        props = {**self._order(p, self._basket(p), "pos", receipt), "store_id": store_id}
        if "coupon" in props:
            visit.track(ts - 30_000, "Coupon Applied", self._coupon(props))
        visit.track(ts, "Order Completed", props)
        self._count_order(p, ts)
        joins = p.join_after is not None and p.orders >= p.join_after
        if p.kind == "store" and p.member_since is None and joins:
            self.crm_join(p, ts + rng.randint(2, 10) * MINUTE)

    def email(self, p: Person, ts: int) -> None:
        """A member opens the weekly newsletter and sometimes clicks through to the shop."""
        if p.member_since is None:
            return
        week = time.strftime("%Y-W%V", time.gmtime(ts / 1000))
        props = {
            "email_id": f"nl-{p.region.code}-{week}",
            "email_subject": "本週新鮮好康",
            "campaign_name": f"weekly-deals-{week}",
        }
        esp = Visit(
            self.rec,
            self.server("email", p, 4),
            None,
            p.user_id(ts, self.migration),
            ctx_traits={"email": p.email},
        )
        esp.track(ts, "Email Opened", props)
        if self.rng.random() < 0.3:
            link = {**props, "link_url": f"https://{p.region.site}/promo/weekly"}
            esp.track(self.step(ts), "Email Link Clicked", link)
            # newsletter links carry a one-click sign-in token, so the landing page identifies
            buy = ts < p.stop and self.rng.random() < 0.2
            self.web(
                p,
                self.step(ts, 20, 60),
                order=buy,
                campaign=self.campaign("email", ts),
                new_cookie=self.rng.random() < 0.5,
                login=True,
            )

    def line(self, p: Person, ts: int) -> None:
        """A LINE broadcast tapped; members sometimes bind their card, some open the shop."""
        rng = self.rng
        ctx = Context("line", "10.0.5.10", "LINE-Messaging-Webhook/2.0", p.locale, LIB_PYTHON)
        visit = Visit(self.rec, ctx, p.line_uid, ctx_traits={"line_user_id": str(p.line_uid)})
        props = {
            "line_message_id": f"{rng.getrandbits(60)}",
            "campaign_name": "line-weekly",
            "link_url": f"https://{p.region.site}/promo/line",
        }
        visit.track(ts, "LINE Message Clicked", props)
        if p.member_since is not None and not p.line_bound and rng.random() < 0.3:
            p.line_bound = True  # member card bound inside LINE
            traits = {"line_user_id": p.line_uid, "member_id": p.member_id}
            visit.identify(self.step(ts), p.member_id, traits)
        if rng.random() < 0.4:  # opens the link in LINE's own browser
            self.web(
                p,
                self.step(ts, 5, 20),
                order=ts < p.stop and rng.random() < 0.15,
                campaign=self.campaign("line", ts),
                new_cookie=True,
                liff=True,
            )


def _iso_s(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))
