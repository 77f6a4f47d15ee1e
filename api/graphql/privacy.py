"""GraphQL for the trait catalog (admins) and data-subject requests (compliance officers, admins).

Each resolver is a thin call into the pipeline or a service, which authorize and audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.errors import ClientError
from api.graphql.types import PurposeEnum
from graph.catalog import CatalogEntry as CatalogRecord
from graph.dsr import DsrCaseRecord
from privacy.catalog import CatalogScope
from privacy.dsr import CLOSED, DsrKind, DsrState

CatalogScopeEnum = strawberry.enum(CatalogScope, name="CatalogScope",
                                   description="trait: a profile trait; property: an event property")
DsrKindEnum = strawberry.enum(DsrKind, name="DsrKind", description="What the person asked for")
DsrStateEnum = strawberry.enum(DsrState, name="DsrState",
                               description="received -> verified -> approved -> running -> done | failed")
MAX_CASES = 100


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


@strawberry.type(description="A trait or event-property key and its PII category in this workspace")
class CatalogEntry:
    scope: str
    key: str
    category: str
    sensitivity: str
    decided_by: str = strawberry.field(description="name, sampled_values or admin (an admin's decision wins)")
    decided_at: datetime | None
    actor: str | None

    @staticmethod
    def of(e: CatalogRecord) -> CatalogEntry:
        """From a repository record."""
        return CatalogEntry(scope=e.scope, key=e.key, category=e.category, sensitivity=e.sensitivity,
                            decided_by=e.decided_by, decided_at=e.decided_at, actor=e.actor)


@strawberry.type(description="One step of a data-subject request")
class DsrStep:
    state: str
    at: str
    actor: str


@strawberry.type(description="A data-subject request, tracked as a case (subject = pseudonymous profile id)")
class DsrCase:
    id: strawberry.ID
    kind: str
    subject: str
    state: str
    received_at: datetime
    due_at: datetime
    updated_at: datetime
    overdue: bool
    requested_by: str
    history: list[DsrStep]
    result: JSON | None = strawberry.field(description="Counts, ids and the package path; never personal values")

    @staticmethod
    def of(c: DsrCaseRecord) -> DsrCase:
        """From a repository record."""
        return DsrCase(id=strawberry.ID(c.id), kind=c.kind, subject=c.subject, state=c.state,
                       received_at=c.received_at, due_at=c.due_at, updated_at=c.updated_at,
                       overdue=c.state not in CLOSED and c.due_at < datetime.now(UTC),
                       requested_by=c.requested_by, history=[DsrStep(state=h.state, at=h.at, actor=h.actor)
                                                            for h in c.history], result=c.result)


@strawberry.type
class PrivacyQuery:
    @strawberry.field(description="The trait catalog of this workspace (admins)")
    async def trait_catalog(self, info: Info, scope: CatalogScopeEnum | None = None,
                            purpose: PurposeEnum | None = None) -> list[CatalogEntry]:
        veil = info.context["veil"]
        ctx = veil.read_context(purpose, None)
        return [CatalogEntry.of(e) for e in await _run(veil.pipeline.trait_catalog, ctx, scope=scope)]


    @strawberry.field(description="Data-subject request cases, newest first; overdue = past the deadline, still open")
    async def dsr_cases(self, info: Info, state: DsrStateEnum | None = None, kind: DsrKindEnum | None = None,
                        subject: str | None = None, overdue: bool = False, first: int = 50,
                        purpose: PurposeEnum | None = None) -> list[DsrCase]:
        veil = info.context["veil"]
        ctx = veil.read_context(purpose, None)
        if not 1 <= first <= MAX_CASES:
            raise ClientError("BAD_REQUEST", f"first must be between 1 and {MAX_CASES}")
        rows = await _run(veil.c.dsr.cases, principal=ctx.principal, state=state.value if state else None,
                          kind=kind.value if kind else None, subject=subject, overdue=overdue, limit=first)
        return [DsrCase.of(r) for r in rows]


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(description="Open a data-subject request for a person (profile id or identifier)")
    async def create_dsr(self, info: Info, kind: DsrKindEnum, profile_id: strawberry.ID | None = None,
                         identifier_type: str | None = None, identifier_value: str | None = None,
                         changes: JSON | None = None, purpose: PurposeEnum | None = None) -> DsrCase:
        veil = info.context["veil"]
        ctx = veil.read_context(purpose, None)
        identifier = None
        if identifier_type and identifier_value:
            identifier = veil.normalize_identifier(identifier_type, identifier_value)
        elif profile_id is None:
            raise ClientError("BAD_REQUEST", "give profileId or identifierType and identifierValue")
        case = await _run(veil.c.dsr.create, principal=ctx.principal, kind=kind.value,
                          profile_id=str(profile_id) if profile_id else None, identifier=identifier, changes=changes)
        return DsrCase.of(case)

    @strawberry.mutation(description="Move a case on (next state by default); advancing to running runs it")
    async def advance_dsr(self, info: Info, id: strawberry.ID, to: DsrStateEnum | None = None,
                          purpose: PurposeEnum | None = None) -> DsrCase:
        veil = info.context["veil"]
        ctx = veil.read_context(purpose, None)
        return DsrCase.of(await _run(veil.c.dsr.advance, principal=ctx.principal, case_id=str(id),
                                     to=to.value if to else None))

    @strawberry.mutation(description="Override a key's PII category in the trait catalog (admins; audited)")
    async def set_trait_category(self, info: Info, key: str, category: str,
                                 scope: CatalogScopeEnum = CatalogScope.TRAIT) -> CatalogEntry:
        veil = info.context["veil"]
        return CatalogEntry.of(await _run(veil.c.admin.set_trait_category, veil.principal, scope=scope, key=key,
                                          category=category))
