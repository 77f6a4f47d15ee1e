"""The demo's customers: identity attributes, shopping habits and per-person tracking state."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from collect.demo_catalog import (
    CITY_WEIGHTS,
    GIVEN_NAMES,
    MOBILE_DEVICES,
    REGIONS,
    STORES_BY_CITY,
    SURNAMES,
    WEB_USER_AGENTS,
    Region,
)

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000

# omni: stores + web + app; online: web/app only; store: tills only (may join the CRM);
# browser: mostly anonymous visits, a few sign up.
KINDS = ("omni", "online", "store", "browser")
KIND_WEIGHTS = (0.30, 0.17, 0.40, 0.13)
APP_SHARE = {"omni": 0.7, "online": 0.5, "store": 0.0, "browser": 0.1}
_HK_MOBILE = ("61", "63", "64", "65", "69", "94", "96", "97")  # blocks valid in libphonenumber
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606: never a real inbox


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng`, so it is reproducible (unlike uuid.uuid4)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(slots=True, eq=False)
class Person:
    """One synthetic customer; the fields from `tier` on change as their year unfolds."""

    region: Region
    kind: str
    name: str
    gender: str
    email: str
    phone: str  # as the CRM writes it
    phone_pos: str  # as a cashier or a web form receives it
    birthday: str
    city: str
    member_id: str
    locale: str
    store_id: str
    web_ua: str
    device: dict[str, str]
    has_app: bool
    line_uid: str | None
    legacy_id: str | None
    start: int  # first visit (epoch ms)
    stop: int  # lapses after this (the window's end for people who stay)
    cycle: float  # typical days between shops
    dairy: float  # share of baskets with dairy
    meat: float
    join_after: int | None  # walk-in shoppers join at the CRM counter after this many receipts
    tier: str
    orders: int = 0
    member_since: int | None = None
    line_bound: bool = False
    cookie: str | None = None
    cookie_uid: str | None = None
    app_anon: str | None = None
    app_uid: str | None = None

    def user_id(self, ts: int, migration: int) -> str:
        """The user id the shop sent at `ts`: the legacy web-shop id before the migration."""
        return self.legacy_id if self.legacy_id and ts < migration else self.member_id


class People:
    """Draws unique, plausible people for one simulation window."""

    def __init__(self, rng: random.Random, *, start: int, end: int, migration: int) -> None:
        self.rng, self.start, self.end, self.migration = rng, start, end, migration
        self.used: set[str] = set()
        self.year = datetime.fromtimestamp(end / 1000, UTC).year

    def make(self) -> Person:
        """The next person."""
        rng = self.rng
        region = REGIONS["TW"] if rng.random() < 0.75 else REGIONS["HK"]
        cities, weights = zip(*CITY_WEIGHTS[region.code], strict=True)
        city = rng.choices(cities, weights)[0]
        surname, sur_tw, sur_hk = rng.choice(SURNAMES)
        given, given_rom, gender = rng.choice(GIVEN_NAMES)
        phone, phone_pos = self._phone(region.code)
        local = f"{given_rom}.{sur_tw if region.code == 'TW' else sur_hk}"
        email = self._unique(
            lambda: f"{local}{rng.randrange(10, 9999)}@{rng.choice(_EMAIL_DOMAINS)}"
        )
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        start, stop = self._active_span()
        os_, model = rng.choice(MOBILE_DEVICES)
        device_id = new_uuid(rng).upper() if os_ == "ios" else f"{rng.getrandbits(64):016x}"
        line_share = region.line_share * (1.2 if kind in ("omni", "store") else 0.8)
        legacy = kind in ("omni", "online") and start < self.migration and rng.random() < 0.12
        return Person(
            region=region,
            kind=kind,
            name=surname + given,
            gender=gender,
            email=email,
            phone=phone,
            phone_pos=phone_pos,
            birthday=f"{self.year - rng.randint(18, 75)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
            city=city,
            member_id=self._unique(lambda: f"M{rng.randrange(10**7):07d}"),
            locale=rng.choices(region.locales, region.locale_weights)[0],
            store_id=rng.choice(STORES_BY_CITY[city]),
            web_ua=rng.choice(WEB_USER_AGENTS),
            device={"id": device_id, "type": os_, "model": model},
            has_app=rng.random() < APP_SHARE[kind],
            line_uid=f"U{rng.getrandbits(128):032x}" if rng.random() < line_share else None,
            legacy_id=f"shop-{rng.randrange(10**6):06d}" if legacy else None,
            start=start,
            stop=stop,
            cycle=min(120.0, max(10.0, rng.lognormvariate(math.log(45), 0.5))),
            dairy=0.6 if rng.random() < 0.8 else 0.04,
            meat=0.4 if rng.random() < 0.5 else 0.0,
            join_after=rng.randint(1, 4) if rng.random() < 0.6 else None,
            tier=region.tiers[0],
        )

    def _unique(self, make: Callable[[], str]) -> str:
        value = make()
        while value in self.used:
            value = make()
        self.used.add(value)
        return value

    def _phone(self, region_code: str) -> tuple[str, str]:
        """(CRM format, till/form format) of a new mobile number."""
        rng = self.rng
        if region_code == "TW":
            digits = self._unique(lambda: f"09{rng.randrange(10**8):08d}")
            return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}", digits
        digits = self._unique(lambda: f"{rng.choice(_HK_MOBILE)}{rng.randrange(10**6):06d}")
        return f"+852 {digits[:4]} {digits[4:]}", "+852" + digits  # HK tills keep the +852

    def _active_span(self) -> tuple[int, int]:
        """First visit, and when they stop coming (about half lapse, for lifecycle stages)."""
        rng, span = self.rng, self.end - self.start
        roll = rng.random()
        if roll < 0.35:  # customers from before the window
            start = self.start + rng.randrange(min(20 * DAY, span // 4))
        elif roll < 0.47:  # brand new in the last 45 days
            start = self.end - rng.randrange(2 * DAY, min(45 * DAY, span))
        else:
            start = self.start + rng.randrange(span - 3 * DAY)
        stop = self.end
        if rng.random() < 0.5:
            stop = min(self.end, start + int(rng.expovariate(1 / 100) * DAY) + DAY)
        return start, stop
