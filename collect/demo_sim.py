"""A population's year for the demo: when each person shops, browses, reads mail and taps LINE."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime

from collect.demo_catalog import LIB_WEB, PRODUCTS, REGIONS, TABLET_DEVICE, WEB_USER_AGENTS
from collect.demo_people import DAY, HOUR, People, Person, new_uuid
from collect.demo_sessions import Context, Record, Recorder, Touchpoints, Visit

MAX_ORDERS_PER_CUSTOMER = 40
# local (UTC+8) hours people shop at, evening-heavy
_SHOP_HOURS = (9, 10, 11, 11, 12, 12, 13, 14, 15, 16, 17, 18, 18, 19, 19, 19, 20, 20, 21, 21, 22)


class Simulation:
    """Simulates every person in time order and keeps the resulting records."""

    def __init__(self, *, customers: int, seed: int, days: int, end: datetime) -> None:
        if customers < 1 or days < 7:
            raise ValueError("need at least 1 customer and 7 days")
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        self.rng = random.Random(f"formosa-fresh:{seed}")
        self.end = int(end.timestamp() * 1000)
        self.start = self.end - days * DAY
        self.migration = self.start + int(days * 0.4) * DAY  # legacy web-shop ids retired
        self.recorder = Recorder(start=self.start, end=self.end)
        self.touch = Touchpoints(self.rng, self.recorder, migration=self.migration)
        self.email_sends = self._schedule(every_days=28, local_hour=10)
        self.line_sends = self._schedule(every_days=14, local_hour=19)
        people = People(self.rng, start=self.start, end=self.end, migration=self.migration)
        self.people = [people.make() for _ in range(customers)]
        for person in self.people:
            self._live(person)
        self._shared_tablets(pairs=max(1, customers // 200))
        self._idless_events(count=max(1, customers // 2000))

    @property
    def records(self) -> list[Record]:
        """Records in creation order (not yet sorted by time)."""
        return self.recorder.records

    def _schedule(self, *, every_days: int, local_hour: int) -> list[int]:
        first = self.start - self.start % DAY + (local_hour - 8) * HOUR + DAY
        return list(range(first, self.end - 2 * HOUR, every_days * DAY))

    def _plan(self, p: Person) -> list[tuple[int, str]]:
        """What a person will do and when, before any identity state is known."""
        rng, plan = self.rng, []
        if p.kind == "browser":
            last = max(p.start + 1, p.stop - 2 * HOUR)
            plan += [(rng.randrange(p.start, last), "browse") for _ in range(rng.randint(1, 5))]
        else:
            early = p.start < self.start + 20 * DAY
            if p.kind in ("omni", "online") and early and rng.random() < 0.7:
                plan.append((p.start - HOUR, "crm_sync"))  # existing member, synced from the CRM
            # e-grocery baskets are bigger and rarer than store trips
            cycle = p.cycle * (1.5 if p.kind == "online" else 1.0)
            t = p.start
            while t < p.stop - 2 * HOUR and len(plan) < 2 * MAX_ORDERS_PER_CUSTOMER:
                plan.append((t, "order"))
                gap = max(DAY, int(rng.gammavariate(2.0, cycle / 2) * DAY))
                if p.kind != "store" and rng.random() < 0.2:
                    plan.append((t + rng.randrange(gap), "browse"))
                t += gap
        # broadcasts only matter when tapped / opened, and lapsed people rarely react
        if p.line_uid:
            plan += [
                (ts, "line")
                for ts in self.line_sends
                if ts >= p.start and rng.random() < (0.1 if ts < p.stop else 0.02)
            ]
        plan += [
            (ts, "email")
            for ts in self.email_sends
            if ts >= p.start and rng.random() < (0.2 if ts < p.stop else 0.03)
        ]
        if p.legacy_id:
            plan.append((self.migration, "migrate"))
        return sorted(plan)

    def _live(self, p: Person) -> None:
        actions: dict[str, Callable[[Person, int], None]] = {
            "order": self._order,
            "browse": self._browse,
            "email": self.touch.email,
            "line": self.touch.line,
            "crm_sync": lambda person, ts: self.touch.crm_join(person, max(self.start, ts)),
            "migrate": self._migrate,
        }
        for ts, what in self._plan(p):
            if what in ("order", "browse"):  # move to a plausible local time that day
                ts += (self.rng.choice(_SHOP_HOURS) - 8) * HOUR - ts % DAY
            if ts < self.end - 2 * HOUR:
                actions[what](p, ts + self.rng.randrange(HOUR))

    def _order(self, p: Person, ts: int) -> None:
        if p.orders >= MAX_ORDERS_PER_CUSTOMER:
            return
        rng = self.rng
        if p.kind == "store":
            channel = "app" if p.has_app and rng.random() < 0.3 else "pos"
        elif p.kind == "online":
            channel = "app" if p.has_app and rng.random() < 0.45 else "web"
        else:
            channel = rng.choices(("pos", "web", "app"), (0.7, 0.15, 0.15))[0]
            channel = "web" if channel == "app" and not p.has_app else channel
        if channel == "pos":
            self.touch.pos(p, ts)
        elif channel == "app":
            self.touch.app(p, ts, order=True)
        else:
            self.touch.web(p, ts, order=True, campaign=self._maybe_campaign(ts))

    def _browse(self, p: Person, ts: int) -> None:
        if p.has_app and self.rng.random() < 0.5:
            self.touch.app(p, ts, order=False)
            return
        signup = p.kind == "browser" and p.member_since is None and self.rng.random() < 0.12
        self.touch.web(p, ts, order=False, campaign=self._maybe_campaign(ts), login=signup)
        if signup:  # a converted browser starts ordering online
            for k in range(1, self.rng.randint(1, 4)):
                at = ts + k * int(p.cycle * DAY)
                if at < min(p.stop, self.end - 3 * HOUR):
                    self.touch.web(p, at, order=True)

    def _maybe_campaign(self, ts: int) -> dict[str, str] | None:
        roll = self.rng.random()
        if roll < 0.7:
            return None
        source = "google" if roll < 0.82 else "facebook" if roll < 0.94 else "sms"
        return self.touch.campaign(source, ts)

    def _migrate(self, p: Person, ts: int) -> None:
        """The old web shop's user ids are aliased to member ids by its backend."""
        if p.member_since is not None and p.legacy_id:
            shop = Visit(self.recorder, self.touch.server("web", p, 3), None)
            shop.alias(self.migration, p.member_id, p.legacy_id)

    def _shared_tablets(self, *, pairs: int) -> None:
        """Family tablets: two members of one household log in on the same app install."""
        rng = self.rng
        for code, share in (("TW", pairs * 3 // 4), ("HK", pairs - pairs * 3 // 4)):
            members = [p for p in self.people if p.region.code == code and p.member_since]
            rng.shuffle(members)
            for a, b in itertools.islice(zip(members[::2], members[1::2], strict=False), share):
                device = {
                    "id": new_uuid(rng).upper(),
                    "type": TABLET_DEVICE[0],
                    "model": TABLET_DEVICE[1],
                }
                tablet = (new_uuid(rng), device)
                since = max(int(a.member_since or 0), int(b.member_since or 0))
                for person in (a, b, a, b):
                    if since < self.end - 3 * DAY:
                        at = rng.randrange(since + DAY, self.end - 2 * DAY)
                        self.touch.app(person, at, order=rng.random() < 0.3, tablet=tablet)

    def _idless_events(self, *, count: int) -> None:
        """A misconfigured in-store kiosk sends hits with neither userId nor anonymousId."""
        kiosk = Context("web", "10.8.0.99", WEB_USER_AGENTS[0], "zh-TW", LIB_WEB)
        visit = Visit(self.recorder, kiosk, None, junk="missing_ids")
        for _ in range(count):
            at = self.rng.randrange(self.start, self.end)
            visit.track(
                at, "Product Viewed", REGIONS["TW"].product_props(self.rng.randrange(len(PRODUCTS)))
            )
