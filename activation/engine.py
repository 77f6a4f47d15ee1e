"""The journey engine: enter people (event, segment, schedule), move them through waits and
conditions, and plan sends in the ledger. Sending itself is the dispatcher's job (at send time)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from activation.channels.base import ChannelRegistry
from activation.model import Condition, JourneyDefinition, Step, parse_definition
from activation.recipients import REGION_ZONES
from activation.timing import next_local_hour
from graph.activation_journeys import (
    ENROL_BIRTH_MONTH,
    ENROL_EVENT,
    ENROL_SEGMENT,
    JourneyRepository,
)
from graph.activation_ledger import LedgerRepository

# Entry re-scans this much before the cursor, so events that arrive a little late still enter
# (the run key makes a re-scan a no-op).
LOOKBACK = timedelta(hours=1)
BEST_CHANNEL_ORDER = ("email", "line", "sms")
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def occurrence_token(occurrence: str) -> str:
    """An occurrence as a short token usable in a ledger key (hashed when it is not one)."""
    return occurrence if _TOKEN.match(occurrence) else "h" + hashlib.sha256(occurrence.encode()).hexdigest()[:24]


def send_key(*, journey_id: str, version: int, step: str, profile_id: str, occurrence: str) -> str:
    """The deterministic ledger key of one send."""
    return f"{journey_id}:v{version}:{step}:{profile_id}:{occurrence_token(occurrence)}"


@dataclass
class TickReport:
    """What one engine round did."""

    entered: dict[str, int] = field(default_factory=dict)
    advanced: int = 0
    planned: int = 0
    exited: dict[str, int] = field(default_factory=dict)


class JourneyEngine:
    """Entry and step execution; every time comes from the caller (`now`), so a simulated clock works."""

    def __init__(self, *, journeys: JourneyRepository, ledger: LedgerRepository, registry: ChannelRegistry,
                 default_zone: str, birth_months: Callable[[str], list[dict[str, Any]]] | None = None,
                 batch_size: int = 1000) -> None:
        self.birth_months = birth_months
        self.journeys = journeys
        self.ledger = ledger
        self.registry = registry
        self.default_zone = default_zone
        self.batch_size = batch_size
        self._defs: dict[str, JourneyDefinition] = {}

    def enrol(self, *, workspace: str, now: datetime, report: TickReport) -> None:
        """Enter people into every active journey."""
        for j in self.journeys.active(workspace=workspace):
            d = parse_definition(j["definition"])
            e = d.entry
            cursor = j["cursor"] or now
            params: dict[str, Any] = {"workspace": workspace, "jid": j["id"], "version": j["version"],
                                          "stages": e.lifecycle_stages, "reentry": d.reentry, "now": now.isoformat()}
            occurrence = None
            if e.kind == "event":
                n = self.journeys.enrol(ENROL_EVENT, event=e.event, since=(cursor - LOOKBACK).isoformat(), **params)
            elif e.kind == "segment":
                n = self.journeys.enrol(ENROL_SEGMENT, segment=e.segment_id, since=(cursor - LOOKBACK).isoformat(),
                                        **params)
            else:
                local = now.astimezone(ZoneInfo(self.default_zone))
                occurrence = f"{local:%Y-%m}"
                if j.get("last_occurrence") == occurrence or (local.day, local.hour) < (e.day, e.hour):
                    continue
                if self.birth_months is not None:  # refresh the month index before enrolling
                    self.journeys.set_birth_months(workspace=workspace, rows=self.birth_months(workspace))
                month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                before = month_start.astimezone(UTC).isoformat() if e.registered_before_month else None
                n = self.journeys.enrol(ENROL_BIRTH_MONTH, month=local.month, occurrence=occurrence, before=before,
                                        **params)
            self.journeys.set_cursor(id=j["id"], workspace=workspace, cursor=max(now, cursor),
                                     occurrence=occurrence)
            report.entered[j["id"]] = report.entered.get(j["id"], 0) + n

    def definition(self, journey_id: str, version: int) -> JourneyDefinition:
        """A version's definition (versions never change, so they are cached)."""
        key = f"{journey_id}:{version}"
        if key not in self._defs:
            found = self.journeys.definitions([key])
            self._defs[key] = parse_definition(found[key])
        return self._defs[key]

    def advance(self, *, workspace: str, now: datetime, report: TickReport) -> int:
        """Move every due run as far as it can go now; returns how many runs were due."""
        runs = self.journeys.due_runs(workspace=workspace, now=now, limit=self.batch_size)
        if not runs:
            return 0
        defs = {r["key"]: self.definition(r["journey_id"], r["version"]) for r in runs}
        rows = [{"key": r["key"], "profile_id": r["profile_id"], "entered_at": r["entered_at"].isoformat(),
                 "journey_id": r["journey_id"], "events": _events_of(defs[r["key"]])} for r in runs]
        facts = self.journeys.facts(workspace=workspace, rows=rows)
        plans: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for run in runs:
            updates.append(self._step(run, defs[run["key"]], facts.get(run["key"]), now, plans, report))
        # Plans first: if we stop between the two writes, re-running the step re-plans the same keys.
        created = self.ledger.plan(workspace=workspace, rows=plans, now=now)
        report.planned += len(created)
        self.journeys.update_runs(updates, now=now)
        report.advanced += len(runs)
        return len(runs)

    def _step(self, run: dict[str, Any], d: JourneyDefinition, person: dict[str, Any] | None, now: datetime,
              plans: list[dict[str, Any]], report: TickReport) -> dict[str, Any]:
        i = int(run["step"])
        arrived: datetime = run["next_at"] or now
        wait_until: datetime | None = run["wait_until"]

        def done(state: str, reason: str) -> dict[str, Any]:
            report.exited[reason] = report.exited.get(reason, 0) + 1
            return {"key": run["key"], "step": i, "state": state, "next_at": now.isoformat(), "wait_until": None,
                    "exit_reason": reason}

        if person is None or person["status"] != "active":
            return done("exited", "profile_gone")
        if person["duplicate"] and d.reentry != "every_occurrence":
            # Two profiles of one person each entered before they merged: the first run goes on.
            return done("exited", "merged_duplicate")
        while i < len(d.steps):
            if d.goal_event and d.goal_event in person["events"]:
                return done("exited", "goal")
            step = d.steps[i]
            if step.type == "wait":
                if wait_until is None:
                    wait_until = self._wait_until(step, arrived, person)
                if now < wait_until:
                    return {"key": run["key"], "step": i, "state": "active", "next_at": wait_until.isoformat(),
                            "wait_until": wait_until.isoformat(), "exit_reason": None}
                arrived, wait_until = wait_until, None
            elif step.type == "condition":
                if not _holds(step.condition, person):  # type: ignore[arg-type]
                    return done("exited", f"condition_false:{step.id}")
            elif step.type == "send":
                plans.append(self._plan(run, step, person["profile_id"], now))
            else:
                return done("exited", f"exit:{step.id}")
            i += 1
        return done("done", "completed")

    def _wait_until(self, step: Step, arrived: datetime, person: dict[str, Any]) -> datetime:
        if step.minutes is not None:
            return arrived + timedelta(minutes=step.minutes)
        locale = person.get("locale")
        region = locale.replace("_", "-").split("-")[-1].upper() if isinstance(locale, str) else ""
        zone = REGION_ZONES.get(region, self.default_zone)
        return next_local_hour(arrived, zone, step.until_local_hour or 0)

    def _plan(self, run: dict[str, Any], step: Step, profile_id: str, now: datetime) -> dict[str, Any]:
        channel = step.channel or "email"
        if channel == "best":  # hook: a later model picks per person; until then a fixed order
            names = self.registry.names()
            channel = next((c for c in (*step.fallback_channels, *BEST_CHANNEL_ORDER) if c in names), "email")
        key = send_key(journey_id=run["journey_id"], version=run["version"], step=step.id, profile_id=profile_id,
                       occurrence=run["occurrence"])
        return {"key": key, "due_at": now.isoformat(), "expires_at": (now + timedelta(minutes=step.expires_minutes)
                                                                      ).isoformat(),
                "props": {"journey_id": run["journey_id"], "version": run["version"], "step": step.id,
                          "profile_id": profile_id, "occurrence": occurrence_token(run["occurrence"]),
                          "channel": channel, "run_key": run["key"]}}


def _events_of(d: JourneyDefinition) -> list[str]:
    events = [s.condition.event for s in d.steps if s.condition is not None and s.condition.event]
    if d.goal_event:
        events.append(d.goal_event)
    return sorted(set(events))


def _holds(c: Condition, person: dict[str, Any]) -> bool:
    if c.kind == "no_event_since_entry":
        return c.event not in person["events"]
    if c.kind == "event_since_entry":
        return c.event in person["events"]
    return person.get("stage") in c.values
