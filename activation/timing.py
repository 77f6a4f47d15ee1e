"""Time rules of sending: quiet hours in the recipient's zone, spread after them, backoff, waits."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_hhmm(text: str) -> time:
    """'21:30' -> time(21, 30); ValueError otherwise."""
    hh, _, mm = text.partition(":")
    return time(int(hh), int(mm or 0))


def quiet_end(now: datetime, zone: str, start: time, end: time) -> datetime | None:
    """If `now` is inside quiet hours in `zone`, the (UTC) moment they end; else None."""
    local = now.astimezone(ZoneInfo(zone))
    t = local.time()
    if start == end:
        return None
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    ends = datetime.combine(day, end, tzinfo=ZoneInfo(zone))
    return ends.astimezone(UTC)


def spread(key: str, minutes: int) -> timedelta:
    """A stable offset in [0, minutes) for a send: a held backlog leaves evenly, not as one burst."""
    if minutes <= 0:
        return timedelta(0)
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return timedelta(seconds=h % (minutes * 60))


def backoff(attempts: int) -> timedelta:
    """Retry delay after `attempts` tries: 30 s doubling, at most an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def next_local_hour(after: datetime, zone: str, hour: int) -> datetime:
    """The next moment (UTC) at `hour`:00 local time in `zone`, strictly after `after`."""
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    at = datetime.combine(local.date(), time(hour), tzinfo=tz)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=tz)
    return at.astimezone(UTC)
