"""GraphQL for the trait catalog (admins); each resolver is a thin call into the pipeline or a service."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.types import PurposeEnum
from graph.catalog import CatalogEntry as CatalogRecord
from privacy.catalog import CatalogScope

CatalogScopeEnum = strawberry.enum(CatalogScope, name="CatalogScope",
                                   description="trait: a profile trait; property: an event property")


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


@strawberry.type
class PrivacyQuery:
    @strawberry.field(description="The trait catalog of this workspace (admins)")
    async def trait_catalog(self, info: Info, scope: CatalogScopeEnum | None = None,
                            purpose: PurposeEnum | None = None) -> list[CatalogEntry]:
        veil = info.context["veil"]
        ctx = veil.read_context(purpose, None)
        return [CatalogEntry.of(e) for e in await _run(veil.pipeline.trait_catalog, ctx, scope=scope)]


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(description="Override a key's PII category in the trait catalog (admins; audited)")
    async def set_trait_category(self, info: Info, key: str, category: str,
                                 scope: CatalogScopeEnum = CatalogScope.TRAIT) -> CatalogEntry:
        veil = info.context["veil"]
        return CatalogEntry.of(await _run(veil.c.admin.set_trait_category, veil.principal, scope=scope, key=key,
                                          category=category))
