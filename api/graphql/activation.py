"""GraphQL for activation: templates, journeys (create, version, publish, pause), worker rounds,
the send ledger and results. Thin calls into `activation.service.ActivationService`, which
authorizes and audits; the ledger carries ids and states only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from activation.model import JourneyRecord, SendRecord
from api.graphql.common import ctx_of, run
from api.graphql.errors import ClientError
from api.graphql.types import PurposeEnum
from core.errors import VeilError

MAX_SENDS = 500


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a service call; its domain errors become coded GraphQL errors."""
    try:
        return await run(fn, *args, **kwargs)
    except VeilError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise ClientError("NOT_FOUND" if exc.status == 404 else "BAD_REQUEST" if exc.status == 400 else
                          exc.code.upper(), exc.message + where) from exc


@strawberry.type(description="A ready-made journey to copy")
class JourneyTemplate:
    template: str
    name: str
    description: str
    definition: JSON


@strawberry.type(description="People in a journey by state and exit reason")
class JourneyRunCount:
    state: str
    reason: str | None
    count: int


@strawberry.type(description="A journey: its latest version's definition and which version is published")
class Journey:
    id: str
    name: str
    template: str | None
    status: str
    latest_version: int
    published_version: int | None
    created_at: datetime | None
    definition: JSON

    @staticmethod
    def of(j: JourneyRecord) -> Journey:
        """From a journey record."""
        return Journey(id=j.id, name=j.name, template=j.template, status=j.status, latest_version=j.latest_version,
                       published_version=j.published_version, created_at=j.created_at,
                       definition=j.definition.model_dump(exclude_none=True))

    @strawberry.field(description="People in this journey by state and exit reason")
    async def runs(self, info: Info, purpose: PurposeEnum | None = None) -> list[JourneyRunCount]:
        ctx = ctx_of(info, purpose)
        rows = await _call(info.context["veil"].c.activation.run_counts, ctx, journey_id=self.id)
        return [JourneyRunCount(state=r["state"], reason=r["reason"], count=r["n"]) for r in rows]


@strawberry.type(description="One row of the send ledger (no message content, no contact data)")
class Send:
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

    @staticmethod
    def of(s: SendRecord) -> Send:
        """From a ledger record."""
        return Send(**s.__dict__)


@strawberry.type(description="Send results: how many sends of a journey and channel ended in a state, and why")
class SendCount:
    journey_id: str
    channel: str
    state: str
    reason: str | None
    count: int


@strawberry.type(description="What one worker round did")
class JourneyRound:
    entered: int
    planned: int
    recovered: int
    outcomes: JSON


@strawberry.type
class ActivationQueries:
    @strawberry.field(description="Ready-made journey templates")
    async def journey_templates(self, info: Info, purpose: PurposeEnum | None = None) -> list[JourneyTemplate]:
        ctx = ctx_of(info, purpose)
        rows = await _call(info.context["veil"].c.activation.templates, ctx)
        return [JourneyTemplate(template=n, name=d.name, description=d.description,
                                definition=d.model_dump(exclude_none=True)) for n, d in rows]

    @strawberry.field(description="Journeys of this workspace")
    async def journeys(self, info: Info, status: str | None = None,
                       purpose: PurposeEnum | None = None) -> list[Journey]:
        ctx = ctx_of(info, purpose)
        return [Journey.of(j) for j in await _call(info.context["veil"].c.activation.list, ctx, status=status)]

    @strawberry.field(description="One journey")
    async def journey(self, info: Info, id: str, purpose: PurposeEnum | None = None) -> Journey:
        ctx = ctx_of(info, purpose)
        return Journey.of(await _call(info.context["veil"].c.activation.get, ctx, journey_id=id))

    @strawberry.field(description="The send ledger, in key order (cursor: the last key)")
    async def sends(self, info: Info, journey_id: str | None = None, state: str | None = None,
                    profile_id: str | None = None, first: int = 100, after: str | None = None,
                    purpose: PurposeEnum | None = None) -> list[Send]:
        ctx = ctx_of(info, purpose)
        if not 1 <= first <= MAX_SENDS:
            raise ClientError("BAD_REQUEST", f"first must be between 1 and {MAX_SENDS}")
        rows = await _call(info.context["veil"].c.activation.sends, ctx, journey_id=journey_id, state=state,
                           profile_id=profile_id, after=after, limit=first)
        return [Send.of(s) for s in rows]

    @strawberry.field(description="Send results by journey, channel, state and reason")
    async def send_results(self, info: Info, journey_id: str | None = None,
                           purpose: PurposeEnum | None = None) -> list[SendCount]:
        ctx = ctx_of(info, purpose)
        rows = await _call(info.context["veil"].c.activation.summary, ctx, journey_id=journey_id)
        return [SendCount(journey_id=r["journey"], channel=r["channel"], state=r["state"], reason=r["reason"],
                          count=r["n"]) for r in rows]

    @strawberry.field(description="Replay stored history through a journey version on a simulated clock: per-step "
                                  "counts, projected sends per channel per day, stops (k-anonymous aggregates)")
    async def journey_dry_run(self, info: Info, id: str, since: datetime, until: datetime,
                              version: int | None = None, purpose: PurposeEnum | None = None) -> JSON:
        ctx = ctx_of(info, purpose)
        r = await _call(info.context["veil"].c.activation.dry_run, ctx, journey_id=id, since=since, until=until,
                        version=version)
        return dict(r.__dict__)

    @strawberry.field(description="Configured channel senders (endpoints, no secrets)")
    async def activation_channels(self, info: Info, purpose: PurposeEnum | None = None) -> JSON:
        ctx = ctx_of(info, purpose)
        return await _call(info.context["veil"].c.activation.channels, ctx)


@strawberry.type
class ActivationMutations:
    @strawberry.mutation(description="Create a draft journey from a template or a definition")
    async def create_journey(self, info: Info, template: str | None = None, definition: JSON | None = None,
                             name: str | None = None, purpose: PurposeEnum | None = None) -> Journey:
        ctx = ctx_of(info, purpose)
        if (template is None) == (definition is None):
            raise ClientError("BAD_REQUEST", "give exactly one of template, definition")
        return Journey.of(await _call(info.context["veil"].c.activation.create, ctx, definition=definition,
                                      template_name=template, name=name))

    @strawberry.mutation(description="Save a new version of a journey (people already in keep theirs)")
    async def update_journey(self, info: Info, id: str, definition: JSON,
                             purpose: PurposeEnum | None = None) -> Journey:
        ctx = ctx_of(info, purpose)
        return Journey.of(await _call(info.context["veil"].c.activation.update, ctx, journey_id=id,
                                      definition=definition))

    @strawberry.mutation(description="Publish a version (default the latest); needs the publish permission")
    async def publish_journey(self, info: Info, id: str, version: int | None = None,
                              purpose: PurposeEnum | None = None) -> Journey:
        ctx = ctx_of(info, purpose)
        return Journey.of(await _call(info.context["veil"].c.activation.publish, ctx, journey_id=id,
                                      version=version))

    @strawberry.mutation(description="Pause or resume a journey")
    async def pause_journey(self, info: Info, id: str, paused: bool = True,
                            purpose: PurposeEnum | None = None) -> Journey:
        ctx = ctx_of(info, purpose)
        return Journey.of(await _call(info.context["veil"].c.activation.set_paused, ctx, journey_id=id,
                                      paused=paused))

    @strawberry.mutation(description="Run one worker round now (entry, steps, sends)")
    async def run_journeys(self, info: Info, purpose: PurposeEnum | None = None) -> JourneyRound:
        ctx = ctx_of(info, purpose)
        r = await _call(info.context["veil"].c.activation.run_round, ctx)
        return JourneyRound(entered=sum(r.engine.entered.values()), planned=r.engine.planned,
                            recovered=r.recovered, outcomes=r.outcomes())
