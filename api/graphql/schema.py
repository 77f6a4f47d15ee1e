"""Strawberry schema: queries and mutations, each a thin call into the pipeline or a service."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from access.pipeline import ReadContext
from api.graphql.activation import ActivationMutations, ActivationQueries
from api.graphql.analytics import ReportMutations, ReportQueries, SegmentMutations, SegmentQueries
from api.graphql.console import ConsoleQueries
from api.graphql.errors import ClientError
from api.graphql.hardening import VeilSchema, extensions
from api.graphql.identity import IdentityMutations, IdentityQueries
from api.graphql.limits import Limits
from api.graphql.privacy import PrivacyMutation, PrivacyQuery
from api.graphql.types import (
    MAX_PAGE,
    ApiKeyCreated,
    AuditRecord,
    ChannelEnum,
    Consent,
    ErasureResult,
    Interaction,
    InteractionConnection,
    LoginResult,
    Merge,
    PageInfo,
    Profile,
    ProfileConnection,
    ProfileEdge,
    PurposeEnum,
    RoleEnum,
    Segment,
    SegmentPreview,
)
from consent.model import Channel, Purpose
from graph.profiles import ProfileFilter, interaction_cursor, parse_interaction_cursor


def _ctx(info: Info, purpose: Purpose | None, channel: Channel | None = None) -> ReadContext:
    gql = info.context["veil"]
    return gql.read_context(purpose, channel)


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def _nested_interactions(info: Info) -> tuple[int, str | None] | None:
    """(first, type) of the one `interactions` field selected under this profile, when it can be
    fetched with the profile (no time window, a valid page size); else None."""
    from strawberry.types.nodes import SelectedField

    fields = [s for f in info.selected_fields for s in f.selections
              if isinstance(s, SelectedField) and s.name == "interactions"]
    if len(fields) != 1:
        return None
    args = fields[0].arguments
    first, event_type = args.get("first", 20), args.get("type")
    if args.get("since") is not None or args.get("until") is not None:
        return None
    if isinstance(first, str) and first.isdigit():  # literals arrive as their source text
        first = int(first)
    if not isinstance(first, int) or not 1 <= first <= MAX_PAGE or not (event_type is None or isinstance(event_type, str)):
        return None
    return first, event_type


def _page_size(first: int) -> int:
    if first < 1 or first > MAX_PAGE:
        raise ClientError("BAD_REQUEST", f"first must be between 1 and {MAX_PAGE}")
    return first


@strawberry.input(description="Profile filters (all optional, combined with AND)")
class ProfileFilterInput:
    last_seen_since: datetime | None = None
    last_seen_until: datetime | None = None
    has_identifier: str | None = strawberry.field(default=None,
                                                  description="has an identifier of this type (e.g. email, line_user_id)")
    segment: str | None = strawberry.field(default=None, description="currently a member of this saved segment (id)")

    def to_filter(self) -> ProfileFilter:
        """The repository's filter."""
        return ProfileFilter(seen_since=self.last_seen_since, seen_until=self.last_seen_until,
                             identifier_type=self.has_identifier, segment=self.segment)


@strawberry.type
class Query(PrivacyQuery, SegmentQueries, ReportQueries, ConsoleQueries, ActivationQueries, IdentityQueries):
    @strawberry.field(description="A profile by id")
    async def profile(self, info: Info, id: strawberry.ID, purpose: PurposeEnum | None = None) -> Profile:
        ctx = _ctx(info, purpose)
        veil = info.context["veil"]
        nested = _nested_interactions(info)
        if nested is None:
            return Profile.from_masked(await _run(veil.pipeline.read_profile, ctx, profile_id=str(id)))
        # The common read (a profile and its first interactions): one round trip, same chain.
        first, event_type = nested
        masked, rows = await _run(veil.pipeline.read_profile_with_interactions, ctx, profile_id=str(id),
                                  first=first, event_type=event_type, since=None, until=None)
        if rows is not None:
            veil.nested_loader("interactions", masked.purpose, (first, event_type, None, None)).prime(masked, rows)
        return Profile.from_masked(masked)

    @strawberry.field(description="A profile by identifier (type + value, e.g. email + amy@example.com)")
    async def profile_by_identifier(self, info: Info, type: str, value: str,
                                    purpose: PurposeEnum | None = None) -> Profile:
        ctx = _ctx(info, purpose)
        veil = info.context["veil"]
        norm = veil.normalize_identifier(type, value)
        return Profile.from_masked(await _run(veil.pipeline.read_profile, ctx, identifier=norm))

    @strawberry.field(description="Profiles, filtered and cursor-paginated (Relay style)")
    async def profiles(self, info: Info, first: int = 20, after: str | None = None,
                       filter: ProfileFilterInput | None = None,
                       purpose: PurposeEnum | None = None) -> ProfileConnection:
        ctx = _ctx(info, purpose)
        filters = filter.to_filter() if filter is not None else None
        rows, skipped, has_next = await _run(info.context["veil"].pipeline.list_profiles, ctx,
                                             after=after or "", limit=_page_size(first), filters=filters)
        edges = [ProfileEdge(cursor=m.id, node=Profile.from_masked(m)) for m in rows]
        return ProfileConnection(edges=edges, withheld_count=skipped, page_info=PageInfo(
            has_next_page=has_next, end_cursor=edges[-1].cursor if edges else after))

    @strawberry.field(description="Interactions of a profile, newest first, filtered by type or event name and time")
    async def interactions(self, info: Info, profile_id: strawberry.ID, first: int = 50, after: str | None = None,
                           type: str | None = None, since: datetime | None = None, until: datetime | None = None,
                           purpose: PurposeEnum | None = None) -> InteractionConnection:
        ctx = _ctx(info, purpose)
        limit = _page_size(first)
        try:
            parse_interaction_cursor(after)
        except ValueError as exc:
            raise ClientError("BAD_REQUEST", "after is not a cursor of this connection") from exc
        rows = await _run(info.context["veil"].pipeline.interactions, ctx, str(profile_id), event_type=type,
                          since=since, until=until, after=after, limit=limit + 1)
        page = rows[:limit]
        return InteractionConnection(nodes=[Interaction.of(r) for r in page], page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=interaction_cursor(page[-1]) if page else after))

    @strawberry.field(description="Consent history of a profile (append-only)")
    async def consents(self, info: Info, profile_id: strawberry.ID, purpose: PurposeEnum | None = None) -> list[Consent]:
        ctx = _ctx(info, purpose)
        return [Consent.of(r) for r in await _run(info.context["veil"].pipeline.consent_history, ctx, str(profile_id))]

    @strawberry.field(description="Merge ledger of a profile")
    async def merge_history(self, info: Info, profile_id: strawberry.ID,
                            purpose: PurposeEnum | None = None) -> list[Merge]:
        ctx = _ctx(info, purpose)
        return [Merge.of(m) for m in await _run(info.context["veil"].pipeline.merge_history, ctx, str(profile_id))]


    @strawberry.field(description="The audit trail of this workspace, newest first (compliance officers)")
    async def audit_records(self, info: Info, subject: str | None = None, actor: str | None = None,
                            action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                            read_purpose: str | None = None, decision: str | None = None, first: int = 50,
                            purpose: PurposeEnum | None = None) -> list[AuditRecord]:
        """`readPurpose` filters by the purpose recorded on the audited access; `decision` by allow/deny."""
        ctx = _ctx(info, purpose)
        rows = await _run(info.context["veil"].pipeline.audit_trail, ctx, subject=subject, actor=actor,
                          action=action, since=since, until=until, limit=_page_size(first),
                          purpose=read_purpose, decision=decision)
        return [AuditRecord.of(r) for r in rows]


    @strawberry.field(description="Count and masked sample of a segment definition (JSON condition language)")
    async def segment_preview(self, info: Info, definition: JSON, sample_size: int = 10,
                              purpose: PurposeEnum | None = None) -> SegmentPreview:
        ctx = _ctx(info, purpose)
        veil = info.context["veil"]
        count, sample = await _run(veil.c.segment_cases.preview, ctx, definition=definition, sample_size=sample_size)
        return SegmentPreview(count=count, suppressed=count is None, sample=[Profile.from_masked(m) for m in sample])


@strawberry.type
class Mutation(PrivacyMutation, SegmentMutations, ReportMutations, ActivationMutations, IdentityMutations):
    @strawberry.mutation(description="Log in as a staff user; returns a short-lived token")
    async def login(self, info: Info, username: str, password: str, workspace: str) -> LoginResult:
        veil = info.context["veil"]
        token, principal = await _run(veil.login, username=username, password=password, workspace=workspace)
        return LoginResult(token=token, expires_in_seconds=veil.token_ttl_seconds, roles=list(principal.roles))

    @strawberry.mutation(description="Set traits on a profile (newest value wins, provenance kept)")
    async def update_traits(self, info: Info, profile_id: strawberry.ID, traits: JSON,
                            purpose: PurposeEnum | None = None) -> bool:
        ctx = _ctx(info, purpose)
        return await _run(info.context["veil"].update_traits, ctx, str(profile_id), traits)

    @strawberry.mutation(description="Erase a person (admin only): shred their data keys so their PII is unreadable "
                                     "everywhere, backups included, and purge their data; reason is a case reference")
    async def erase_profile(self, info: Info, profile_id: strawberry.ID, reason: str,
                            purpose: PurposeEnum | None = None) -> ErasureResult:
        ctx = _ctx(info, purpose)
        return ErasureResult.of(await _run(info.context["veil"].erase_profile, ctx, str(profile_id), reason))

    @strawberry.mutation(description="Record a consent decision (granted/denied) for a purpose and channel")
    async def record_consent(self, info: Info, profile_id: strawberry.ID, purpose_of_consent: PurposeEnum,
                             channel: ChannelEnum, granted: bool, notice_version: str | None = None,
                             notice_text: str | None = None, purpose: PurposeEnum | None = None) -> Consent:
        ctx = _ctx(info, purpose)
        rec = await _run(info.context["veil"].record_consent, ctx, str(profile_id), purpose_of_consent, channel,
                         "granted" if granted else "denied", notice_version, notice_text)
        return Consent.of(rec)

    @strawberry.mutation(description="Withdraw consent; takes effect on the next read")
    async def withdraw_consent(self, info: Info, profile_id: strawberry.ID, purpose_of_consent: PurposeEnum,
                               channel: ChannelEnum, purpose: PurposeEnum | None = None) -> Consent:
        ctx = _ctx(info, purpose)
        rec = await _run(info.context["veil"].record_consent, ctx, str(profile_id), purpose_of_consent, channel,
                         "withdrawn", None, None)
        return Consent.of(rec)

    @strawberry.mutation(description="Save a segment definition (create, or update with id)")
    async def save_segment(self, info: Info, name: str, definition: JSON, id: str | None = None,
                           realtime: bool = False, purpose: PurposeEnum | None = None) -> Segment:
        ctx = _ctx(info, purpose)
        veil = info.context["veil"]
        rec = await _run(veil.c.segment_cases.save_segment, ctx, name=name, definition=definition,
                         segment_id=id, realtime=realtime)
        return Segment(id=rec.id, name=rec.name, definition=json.loads(rec.definition))

    @strawberry.mutation(description="Create an API key for an app (admin only)")
    async def create_api_key(self, info: Info, role: RoleEnum, name: str) -> ApiKeyCreated:
        rec, key = await _run(info.context["veil"].create_api_key, role.value, name)
        return ApiKeyCreated(id=rec.id, workspace=rec.workspace, role=rec.role, name=rec.name, key=key)

    @strawberry.mutation(description="Revoke an API key (admin only)")
    async def revoke_api_key(self, info: Info, id: str) -> bool:
        return await _run(info.context["veil"].revoke_api_key, id)

    @strawberry.mutation(description="Create a staff user (admin only)")
    async def create_user(self, info: Info, username: str, password: str) -> str:
        return await _run(info.context["veil"].create_user, username, password)

    @strawberry.mutation(description="Give a user a role in this workspace (admin only)")
    async def assign_role(self, info: Info, user_id: str, role: RoleEnum) -> bool:
        return await _run(info.context["veil"].assign_role, user_id, role.value, True)

    @strawberry.mutation(description="Take a role away in this workspace (admin only)")
    async def revoke_role(self, info: Info, user_id: str, role: RoleEnum) -> bool:
        return await _run(info.context["veil"].assign_role, user_id, role.value, False)

    @strawberry.mutation(description="Add or remove an authorization rule for this workspace (admin only)")
    async def set_policy_rule(self, info: Info, role: RoleEnum, resource: str, action: str, effect: str,
                              present: bool = True) -> bool:
        return await _run(info.context["veil"].set_policy_rule, role.value, resource, action, effect, present)


def build_schema(*, introspection: bool, max_depth: int = 8, max_aliases: int = 15,
                 max_tokens: int = 2000, max_cost: int = 10_000) -> strawberry.Schema:
    """The hardened schema (limits, coded errors and value-free error logs: api/graphql/hardening.py)."""
    limits = Limits(max_depth=max_depth, max_aliases=max_aliases, max_cost=max_cost)
    return VeilSchema(query=Query, mutation=Mutation,
                      extensions=extensions(limits=limits, introspection=introspection, max_tokens=max_tokens))
