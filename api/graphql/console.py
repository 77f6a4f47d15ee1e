"""GraphQL queries the web console needs beyond the rest of the schema: who am I, audit export and
chain status, the segment form's vocabulary, an access package, ingestion health.

Thin calls into `access.review.Review` (and the DSR service), which authorize and audit."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from access.review import MAX_EXPORT, AuditFilter, Review, ReviewError
from api.graphql.common import ctx_of, run
from api.graphql.errors import ClientError
from api.graphql.types import PurposeEnum
from graph.migrations import LATEST_VERSION


def _review(info: Info) -> Review:
    c = info.context["veil"].c
    return Review(pipeline=c.pipeline, audit=c.audit, profile_counts=lambda ws: c.pipeline.counts(workspace=ws))


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run(fn, *args, **kwargs)
    except ReviewError as exc:
        raise ClientError("BAD_REQUEST", exc.message) from exc


@strawberry.type(description="The caller: principal, workspace, roles and the abilities the console shows screens by")
class Viewer:
    id: str
    name: str | None
    kind: str
    workspace: str
    roles: list[str]
    abilities: list[str] = strawberry.field(description="resource:action pairs this caller is allowed")


@strawberry.type(description="The filtered audit view as a file; the export itself is audited")
class AuditExportFile:
    format: str
    records: int
    first_seq: int | None
    last_seq: int | None
    content: str


@strawberry.type(description="Hash-chain verification and the latest signed checkpoint")
class AuditChainStatus:
    ok: bool
    checked: int
    verified_from: int = strawberry.field(description="Verification started after this seq (a signed checkpoint)")
    last_seq: int | None
    last_hash: str | None
    head_seq: int | None
    broken_seq: int | None = strawberry.field(description="The first bad record when verification fails")
    problem: str | None
    detail: str
    checkpoint_seq: int | None
    checkpoint_at: datetime | None
    checkpoint_key_id: str | None


@strawberry.type(description="Names the segment builder may offer (no personal values)")
class SegmentVocabulary:
    traits: list[str]
    events: list[str]
    categories: list[str]
    identifier_types: list[str]


@strawberry.type(description="A finished access request's package (zip, base64); fetching it is audited")
class DsrPackage:
    filename: str
    content_base64: str
    size: int


@strawberry.type(description="Collection counters of this API process and the stores behind it")
class IngestionHealth:
    events_stored: float
    events_duplicate: float
    events_rejected: float
    throttled: float
    merges: float
    ingest_requests: float
    ingest_seconds_sum: float
    profiles_active: int
    profiles_merged: int
    audit_head_seq: int | None
    neo4j_reachable: bool
    schema_version: int | None
    schema_expected: int


@strawberry.type
class ConsoleQueries:
    @strawberry.field(description="Who is calling: roles and abilities (no personal data)")
    async def viewer(self, info: Info) -> Viewer:
        veil = info.context["veil"]
        p = veil.principal
        abilities = await run(_review(info).abilities, p)
        return Viewer(id=p.id, name=p.name, kind=p.kind.value, workspace=p.workspace, roles=list(p.roles),
                      abilities=abilities)

    @strawberry.field(description="The filtered audit trail as CSV or JSONL (compliance officers); audited as an export")
    async def audit_export(self, info: Info, format: str = "csv", subject: str | None = None,
                           actor: str | None = None, action: str | None = None, read_purpose: str | None = None,
                           decision: str | None = None, since: datetime | None = None, until: datetime | None = None,
                           limit: int = MAX_EXPORT, purpose: PurposeEnum | None = None) -> AuditExportFile:
        ctx = ctx_of(info, purpose)
        filters = AuditFilter(subject=subject, actor=actor, action=action, purpose=read_purpose, decision=decision,
                              since=since, until=until)
        e = await _call(_review(info).export_audit, ctx, filters=filters, fmt=format, limit=limit)
        return AuditExportFile(format=e.format, records=e.records, first_seq=e.first_seq, last_seq=e.last_seq,
                               content=e.content)

    @strawberry.field(description="Verify the audit chain from the latest signed checkpoint (full: from genesis)")
    async def audit_chain_status(self, info: Info, full: bool = False,
                                 purpose: PurposeEnum | None = None) -> AuditChainStatus:
        ctx = ctx_of(info, purpose)
        s = await _call(_review(info).chain_status, ctx, full=full)
        return AuditChainStatus(**s.__dict__)

    @strawberry.field(description="Trait keys, events, product categories and identifier types for segment forms")
    async def segment_vocabulary(self, info: Info, purpose: PurposeEnum | None = None) -> SegmentVocabulary:
        ctx = ctx_of(info, purpose)
        segments = info.context["veil"].c.segment_cases.segments
        v = await _call(_review(info).segment_vocabulary, ctx, lambda ws: segments.catalog(workspace=ws))
        return SegmentVocabulary(**v)

    @strawberry.field(description="The package of a finished access request (compliance officers); audited")
    async def dsr_package(self, info: Info, id: strawberry.ID, purpose: PurposeEnum | None = None) -> DsrPackage:
        ctx = ctx_of(info, purpose)
        path = await run(info.context["veil"].c.dsr.package, principal=ctx.principal, case_id=str(id))
        data = await run(path.read_bytes)
        return DsrPackage(filename=path.name, content_base64=base64.b64encode(data).decode("ascii"), size=len(data))

    @strawberry.field(description="Ingestion health: collection counters, profile counts, Neo4j and schema state")
    async def ingestion_health(self, info: Info, purpose: PurposeEnum | None = None) -> IngestionHealth:
        ctx = ctx_of(info, purpose)
        c = info.context["veil"].c
        h = await _call(_review(info).ingest_health, ctx)
        reachable = await run(c.ping)
        version = await run(c.schema_version) if reachable else None
        return IngestionHealth(**h.__dict__, neo4j_reachable=reachable, schema_version=version,
                               schema_expected=LATEST_VERSION)
