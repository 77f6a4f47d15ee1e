"""GraphQL output types. Profile output can only be built from a MaskedProfile."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from access.pipeline import MaskedProfile, MaskedValue
from api.graphql.errors import ClientError
from consent.model import Channel, ConsentRecord, Purpose
from graph.profiles import MergeRecord

PurposeEnum = strawberry.enum(Purpose, name="Purpose", description="Why the data is read (required on every query)")
ChannelEnum = strawberry.enum(Channel, name="Channel")

_FROM_MASKED = object()
MAX_PAGE = 100


@strawberry.type(description="A field after masking; `masking` names the strategy applied")
class MaskedField:
    name: str
    value: JSON | None
    category: str
    masking: str

    @staticmethod
    def of(v: MaskedValue) -> MaskedField:
        """From a masked value."""
        value: Any = v.value
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        return MaskedField(name=v.name, value=value, category=v.category.value, masking=v.strategy)


@strawberry.type(description="One interaction (event) of a profile")
class Interaction:
    id: strawberry.ID
    message_id: str
    type: str
    event: str | None
    ts: datetime | None
    channel: str | None
    order_id: str | None
    revenue: float | None
    currency: str | None
    store_id: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None

    @staticmethod
    def of(row: dict[str, Any]) -> Interaction:
        """From a repository row."""
        return Interaction(
            id=strawberry.ID(row["key"]), message_id=row.get("message_id", ""), type=row.get("type", ""),
            event=row.get("event"), ts=row.get("ts"), channel=row.get("channel"), order_id=row.get("order_id"),
            revenue=row.get("revenue"), currency=row.get("currency"), store_id=row.get("store_id"),
            utm_source=row.get("utm_source"), utm_medium=row.get("utm_medium"), utm_campaign=row.get("utm_campaign"))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class InteractionConnection:
    nodes: list[Interaction]
    page_info: PageInfo


@strawberry.type(description="A consent record (history is append-only)")
class Consent:
    id: strawberry.ID
    purpose: str
    channel: str
    status: str
    lawful_basis: str
    source: str
    captured_at: datetime
    expires_at: datetime | None
    notice_version: str | None
    notice_hash: str | None
    jurisdiction: str

    @staticmethod
    def of(r: ConsentRecord) -> Consent:
        """From a record."""
        return Consent(id=strawberry.ID(r.id), purpose=r.purpose.value, channel=r.channel.value,
                       status=r.status.value, lawful_basis=r.lawful_basis.value, source=r.source,
                       captured_at=r.captured_at, expires_at=r.expires_at, notice_version=r.notice_version,
                       notice_hash=r.notice_hash, jurisdiction=r.jurisdiction.value)


@strawberry.type(description="An entry of the merge ledger")
class Merge:
    id: strawberry.ID
    loser: str
    winner: str
    rule: str
    message_id: str
    at: datetime
    undone_at: datetime | None
    moved_interactions: int

    @staticmethod
    def of(m: MergeRecord) -> Merge:
        """From a ledger record."""
        return Merge(id=strawberry.ID(m.id), loser=m.loser, winner=m.winner, rule=m.rule, message_id=m.message_id,
                     at=m.at, undone_at=m.undone_at, moved_interactions=m.moved_interactions)


@strawberry.type(description="Model scores of a profile: RFM, NASLD lifecycle stage, BG/NBD and Gamma-Gamma")
class ProfileScores:
    orders: int | None = None
    revenue: float | None = None
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    rfm_recency: int | None = strawberry.field(default=None, description="1-5, 5 = most recent")
    rfm_frequency: int | None = None
    rfm_monetary: int | None = None
    rfm_segment: str | None = None
    lifecycle_stage: str | None = strawberry.field(default=None, description="New, Active, Sleep, Lost or Deep")
    expected_purchases: float | None = strawberry.field(default=None, description="In the next horizonDays")
    purchase_probability: float | None = strawberry.field(
        default=None, description="P(at least one purchase in the next horizonDays)")
    horizon_days: int | None = None
    stars: int | None = strawberry.field(default=None, description="purchaseProbability as 1-5 stars")
    p_alive: float | None = strawberry.field(default=None, description="P(still a customer); 1 - churn risk")
    clv: float | None = strawberry.field(default=None, description="Discounted expected spend (Gamma-Gamma)")
    refreshed_at: datetime | None = None

    @staticmethod
    def of(values: tuple[MaskedValue, ...]) -> ProfileScores:
        """From the pipeline's (permitted) score values."""
        known = {f.name for f in dataclasses.fields(ProfileScores)}
        return ProfileScores(**{v.name: v.value for v in values if v.name in known})


@strawberry.type(description="A customer profile as the caller may see it")
class Profile:
    id: strawberry.ID
    first_seen: datetime | None
    last_seen: datetime | None
    traits: list[MaskedField]
    identifiers: list[MaskedField] | None = strawberry.field(
        description="null when the caller's role may not read identifiers")
    devices: list[MaskedField] | None = strawberry.field(
        description="App and device ids (identifiers of type device_id); null when identifiers are withheld")
    cookies: list[MaskedField] | None = strawberry.field(
        description="Web cookies (identifiers of type anonymous_id); null when identifiers are withheld")
    interaction_count: int | None
    withheld: list[str] = strawberry.field(description="Fields the caller's role may not read")
    purpose: str
    lawful_basis: str | None
    consent_record_id: str | None
    scores: ProfileScores | None = strawberry.field(
        description="Model scores; null unless the role may read them and the purpose is analytics or marketing")

    def __post_init__(self) -> None:
        raise TypeError("build Profile with Profile.from_masked")

    @classmethod
    def from_masked(cls, m: MaskedProfile) -> Profile:
        """The only way to build a Profile: from the pipeline's masked output."""
        if not isinstance(m, MaskedProfile):
            raise TypeError("Profile.from_masked needs a MaskedProfile")
        obj = object.__new__(cls)
        idents = [MaskedField.of(i) for i in m.identifiers] if m.identifiers is not None else None
        values = {
            "id": strawberry.ID(m.id), "first_seen": m.first_seen, "last_seen": m.last_seen,
            "traits": [MaskedField.of(t) for t in m.traits], "identifiers": idents,
            "devices": [i for i in idents if i.name == "device_id"] if idents is not None else None,
            "cookies": [i for i in idents if i.name == "anonymous_id"] if idents is not None else None,
            "interaction_count": m.interaction_count, "withheld": list(m.withheld), "purpose": m.purpose,
            "lawful_basis": m.lawful_basis, "consent_record_id": m.consent_record_id, "_masked": m,
            "scores": ProfileScores.of(m.scores) if m.scores is not None else None}
        for k, v in values.items():
            object.__setattr__(obj, k, v)
        return obj

    @strawberry.field(description="Newest interactions first, filtered by type or event name and time "
                                  "(a page of profiles is fetched in one query); null when withheld")
    async def interactions(self, info: Info, first: int = 20, type: str | None = None,
                           since: datetime | None = None, until: datetime | None = None) -> list[Interaction] | None:
        if first < 1 or first > MAX_PAGE:
            raise ClientError("BAD_REQUEST", f"first must be between 1 and {MAX_PAGE}")
        loader = info.context["veil"].nested_loader("interactions", self.purpose, (first, type, since, until))
        rows = await loader.load(self._masked)  # type: ignore[attr-defined]
        return None if rows is None else [Interaction.of(r) for r in rows]

    @strawberry.field(description="Consent history of this person (append-only); null when withheld")
    async def consents(self, info: Info) -> list[Consent] | None:
        rows = await info.context["veil"].nested_loader("consents", self.purpose).load(self._masked)  # type: ignore[attr-defined]
        return None if rows is None else [Consent.of(r) for r in rows]

    @strawberry.field(description="Merge ledger of this person; null when withheld")
    async def merge_history(self, info: Info) -> list[Merge] | None:
        rows = await info.context["veil"].nested_loader("merges", self.purpose).load(self._masked)  # type: ignore[attr-defined]
        return None if rows is None else [Merge.of(r) for r in rows]


@strawberry.type
class ProfileEdge:
    cursor: str
    node: Profile


@strawberry.type
class ProfileConnection:
    edges: list[ProfileEdge]
    page_info: PageInfo
    withheld_count: int = strawberry.field(description="Profiles on this page the consent gate refused")


class Role(Enum):
    admin = "admin"
    data_engineer = "data_engineer"
    marketer = "marketer"
    analyst = "analyst"
    support_agent = "support_agent"
    compliance_officer = "compliance_officer"
    app = "app"


RoleEnum = strawberry.enum(Role, name="Role")


@strawberry.type
class ApiKeyCreated:
    id: str
    workspace: str
    role: str
    name: str
    key: str = strawberry.field(description="Shown once; store it now")


@strawberry.type
class LoginResult:
    token: str
    expires_in_seconds: int
    roles: list[str]


@strawberry.type(description="One record of the tamper-evident audit trail (ids and field names, never values)")
class AuditRecord:
    seq: int
    hash: str
    prev_hash: str
    id: str
    at: datetime
    actor: str
    actor_kind: str
    role: str | None
    action: str
    resource: str
    subject: str | None
    decision: str
    reason: str | None
    purpose: str | None
    lawful_basis: str | None
    consent_record_id: str | None
    fields_returned: list[str]
    fields_masked: list[str]
    request_id: str | None

    @staticmethod
    def of(stored: Any) -> AuditRecord:
        """From a stored chain record."""
        e = stored.event
        return AuditRecord(seq=stored.seq, hash=stored.hash, prev_hash=stored.prev_hash, id=e.id, at=e.at,
                           actor=e.actor, actor_kind=e.actor_kind.value, role=e.role, action=e.action.value,
                           resource=e.resource, subject=e.subject, decision=e.decision.value, reason=e.reason,
                           purpose=e.purpose, lawful_basis=e.lawful_basis, consent_record_id=e.consent_record_id,
                           fields_returned=list(e.fields_returned), fields_masked=list(e.fields_masked),
                           request_id=e.request_id)


@strawberry.type(description="How many people a segment definition matches now, and a masked sample")
class SegmentPreview:
    count: int | None = strawberry.field(description="people matching; null when fewer than k and your role "
                                                     "may not see individuals (k-anonymity)")
    suppressed: bool = strawberry.field(description="true when the count was withheld (k-anonymity)")
    sample: list[Profile]


@strawberry.type(description="A saved segment")
class Segment:
    id: str
    name: str
    definition: JSON


@strawberry.type(description="What an erasure did: the person's data keys are shredded, their data purged")
class ErasureResult:
    profile_id: str
    profiles_erased: int
    keys_shredded: int
    identifiers_deleted: int
    identifiers_suppressed: int
    interactions_deleted: int
    segment_memberships_removed: int
    merges_scrubbed: int
    conflicts_scrubbed: int
    already_erased: bool

    @classmethod
    def of(cls, report: Any) -> ErasureResult:
        """From a privacy.erasure.ErasureReport."""
        return cls(**report.as_dict())
