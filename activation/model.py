"""Journey definitions (validated data) and the records services hand to transports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from activation.errors import JourneyError

_STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SEND_CHANNELS = ("email", "sms", "line", "webhook", "best")


class Condition(BaseModel):
    """A condition over one person: events since they entered, lifecycle stage, a trait value."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["no_event_since_entry", "event_since_entry", "lifecycle_in"]
    event: str | None = None
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Condition:
        if self.kind in ("no_event_since_entry", "event_since_entry") and not self.event:
            raise ValueError(f"{self.kind} needs `event`")
        if self.kind == "lifecycle_in" and not self.values:
            raise ValueError("lifecycle_in needs `values`")
        return self


class Entry(BaseModel):
    """How people enter: on an event, on entering a saved segment, or on a schedule."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["event", "segment", "schedule"]
    event: str | None = None
    segment_id: str | None = None
    schedule: Literal["birthday_month"] | None = None
    day: int = Field(1, ge=1, le=28, description="day of the month a schedule enrols on")
    hour: int = Field(10, ge=0, le=23, description="local hour (jurisdiction's zone) a schedule enrols at")
    lifecycle_stages: list[str] | None = Field(None, description="only people in these NASLD stages")
    registered_before_month: bool = Field(False, description="only people first seen before this month")

    @model_validator(mode="after")
    def _check(self) -> Entry:
        need = {"event": self.event, "segment": self.segment_id, "schedule": self.schedule}[self.kind]
        if not need:
            raise ValueError(f"entry kind {self.kind!r} needs "
                             f"`{ {'event': 'event', 'segment': 'segment_id', 'schedule': 'schedule'}[self.kind]}`")
        return self


class Step(BaseModel):
    """wait (minutes, or until a local hour), condition (else exit), send, exit."""

    model_config = ConfigDict(extra="forbid")
    id: str
    type: Literal["wait", "condition", "send", "exit"]
    minutes: int | None = Field(None, ge=1, le=60 * 24 * 366)
    until_local_hour: int | None = Field(None, ge=0, le=23)
    condition: Condition | None = None
    channel: str | None = None
    fallback_channels: list[str] = Field(default_factory=list)
    subject: str = ""
    body: str = ""
    offers: dict[str, str] = Field(default_factory=dict, description="member tier -> offer text ({{offer}})")
    destination: str | None = Field(None, description="webhook destination name")
    expires_minutes: int = Field(24 * 60, ge=1, le=60 * 24 * 30)

    @model_validator(mode="after")
    def _check(self) -> Step:
        if not _STEP_ID.match(self.id):
            raise ValueError("step id must be snake_case, at most 40 characters")
        if self.type == "wait" and (self.minutes is None) == (self.until_local_hour is None):
            raise ValueError("a wait step needs exactly one of `minutes`, `until_local_hour`")
        if self.type == "condition" and self.condition is None:
            raise ValueError("a condition step needs `condition`")
        if self.type == "send":
            if self.channel not in SEND_CHANNELS:
                raise ValueError(f"channel must be one of {', '.join(SEND_CHANNELS)}")
            if self.channel == "webhook" and not self.destination:
                raise ValueError("a webhook send needs `destination`")
            if not self.body:
                raise ValueError("a send step needs `body`")
        return self


class JourneyDefinition(BaseModel):
    """A journey: entry, steps in order, an optional goal that ends it, re-entry rule."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    entry: Entry
    steps: list[Step] = Field(min_length=1, max_length=50)
    goal_event: str | None = Field(None, description="people who do this event leave the journey")
    reentry: Literal["every_occurrence", "no_overlap", "once"] = "no_overlap"
    daily_cap: int | None = Field(None, ge=1, le=50, description="overrides the per-channel daily cap")

    @model_validator(mode="after")
    def _check(self) -> JourneyDefinition:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique")
        if not any(s.type == "send" for s in self.steps):
            raise ValueError("a journey needs at least one send step")
        return self


def parse_definition(raw: Any) -> JourneyDefinition:
    """A validated definition from a dict or JSON text; JourneyError naming what and where."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return JourneyDefinition.model_validate(data)
    except json.JSONDecodeError as exc:
        raise JourneyError(f"definition is not JSON: {exc.msg}", field="definition") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "definition." + ".".join(str(p) for p in first["loc"]) if first["loc"] else "definition"
        raise JourneyError(f"{where}: {first['msg']}", field=where) from exc


@dataclass(frozen=True)
class JourneyRecord:
    """A journey and its versions' state."""

    id: str
    workspace: str
    name: str
    template: str | None
    status: str  # draft | active | paused
    latest_version: int
    published_version: int | None
    created_at: datetime
    definition: JourneyDefinition  # of the latest version


@dataclass(frozen=True)
class SendRecord:
    """One row of the send ledger (ids and states only, no message content)."""

    key: str
    journey_id: str
    version: int
    step: str
    profile_id: str
    occurrence: str
    channel: str
    state: str
    reason: str | None
    due_at: datetime | None
    expires_at: datetime | None
    attempts: int
    provider_id: str | None
    updated_at: datetime | None
