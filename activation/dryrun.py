"""Dry run: replay stored history through a journey version on a simulated clock and report
per-step counts, projected sends per channel per day, and how many consent, caps or quiet hours
would stop. Read-only; consent is judged as it stands now; small counts follow k-anonymity."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from access.pipeline import ReadContext
from activation.errors import JourneyError
from activation.model import JourneyDefinition
from activation.recipients import Recipients
from activation.timing import next_local_hour, parse_hhmm, quiet_end
from graph.activation_journeys import HistoryRepository

MAX_ENTRIES = 200_000


@dataclass(frozen=True)
class DryRunReport:
    """Aggregates only; a count below k is reported as None."""

    entered: int | None
    steps: dict[str, int | None]  # step id -> people who reached it
    exits: dict[str, int | None]
    sends_per_day: dict[str, dict[str, int | None]]  # channel -> day -> projected sends
    stopped: dict[str, int | None]  # consent reasons, frequency_cap, quiet_hours (held, not lost)
    k_anonymity: int


def _k(n: int, k: int) -> int | None:
    return n if n == 0 or n >= k else None


class DryRunner:
    """Replays one event-entry definition over a window of history."""

    def __init__(self, *, history: HistoryRepository, recipients: Recipients, default_zone: str,
                 quiet: tuple[str, str], daily_cap: int, k_anonymity: int) -> None:
        self.history = history
        self.recipients = recipients
        self.default_zone = default_zone
        self.quiet = (parse_hhmm(quiet[0]), parse_hhmm(quiet[1]))
        self.daily_cap = daily_cap
        self.k = k_anonymity

    def run(self, ctx: ReadContext, d: JourneyDefinition, *, since: datetime, until: datetime) -> DryRunReport:
        """Simulate `d` for everyone who entered in [since, until)."""
        if d.entry.kind != "event" or not d.entry.event:
            raise JourneyError("dry runs replay event-entry journeys", field="entry.kind")
        if until <= since:
            raise JourneyError("until must be after since", field="until")
        ws = ctx.principal.workspace
        entries = self.history.entries(workspace=ws, event=d.entry.event, since=since, until=until,
                                       stages=d.entry.lifecycle_stages, limit=MAX_ENTRIES)
        if d.reentry != "every_occurrence":  # the simplest faithful reading: one entry per person
            seen: set[str] = set()
            entries = [e for e in entries if not (e[0] in seen or seen.add(e[0]))]  # type: ignore[func-returns-value]
        ids = sorted({pid for pid, _, _ in entries})
        watched = sorted({s.condition.event for s in d.steps if s.condition and s.condition.event}
                         | ({d.goal_event} if d.goal_event else set()))
        events = self.history.events(workspace=ws, profile_ids=ids, events=watched, since=since)
        reached: Counter[str] = Counter()
        exits: Counter[str] = Counter()
        planned: list[tuple[str, str, datetime]] = []  # (profile, channel, at)
        for pid, t, stage in entries:
            happened = events.get(pid, [])

            def since_entry(ev: str, start: datetime, now: datetime) -> bool:
                return any(e == ev and start <= ts <= now for e, ts in happened)  # noqa: B023

            now, entered, out = t, t, "completed"
            for step in d.steps:
                if d.goal_event and since_entry(d.goal_event, entered, now):
                    out = "goal"
                    break
                reached[step.id] += 1
                if step.type == "wait":
                    now = now + timedelta(minutes=step.minutes) if step.minutes is not None else \
                        next_local_hour(now, self.default_zone, step.until_local_hour or 0)
                elif step.type == "condition" and step.condition is not None:
                    c = step.condition
                    ok = (not since_entry(c.event or "", entered, now) if c.kind == "no_event_since_entry" else
                          since_entry(c.event or "", entered, now) if c.kind == "event_since_entry" else
                          stage in c.values)
                    if not ok:
                        out = f"condition_false:{step.id}"
                        break
                elif step.type == "send":
                    planned.append((pid, step.channel or "email", now))
                else:
                    out = f"exit:{step.id}"
                    break
            exits[out] += 1
        stopped: Counter[str] = Counter()
        per_day: dict[str, Counter[str]] = defaultdict(Counter)
        by_channel: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        for pid, ch, at in planned:
            by_channel[ch].append((pid, at))
        for ch, rows in by_channel.items():
            consent_channel = "any" if ch == "webhook" else ch
            decided = self.recipients.read(self.recipients.context(ws, consent_channel),
                                           sorted({p for p, _ in rows}), address_type=None)
            sent_on: Counter[tuple[str, str]] = Counter()
            for pid, at in sorted(rows, key=lambda r: r[1]):
                r = decided[pid]
                if not r.allowed:
                    stopped[r.reason] += 1
                    continue
                held = quiet_end(at, r.timezone or self.default_zone, *self.quiet)
                if held is not None:
                    stopped["quiet_hours_held"] += 1
                    at = held
                day = at.date().isoformat()
                if sent_on[(pid, day)] >= (d.daily_cap or self.daily_cap):
                    stopped["frequency_cap"] += 1
                    continue
                sent_on[(pid, day)] += 1
                per_day[ch][day] += 1
        k = self.k
        return DryRunReport(
            entered=_k(len(entries), k), steps={s.id: _k(reached[s.id], k) for s in d.steps},
            exits={r: _k(n, k) for r, n in sorted(exits.items())},
            sends_per_day={ch: {day: _k(n, k) for day, n in sorted(days.items())} for ch, days in per_day.items()},
            stopped={r: _k(n, k) for r, n in sorted(stopped.items())}, k_anonymity=k)

    @staticmethod
    def as_dict(r: DryRunReport) -> dict[str, Any]:
        """JSON-ready."""
        return r.__dict__
