"""The enforcement pipeline: authorize -> fetch -> consent gate -> mask -> audit -> respond.

Every read of customer data (GraphQL resolvers today, activation jobs later) calls this
module; transports never touch repositories for customer data directly. The audit record is
written before anything is returned, and if it cannot be written nothing is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from access.authz import Authorizer
from access.guard import Guard, ReadContext
from core.errors import VeilError

__all__ = ["ConsentDenied", "MaskedProfile", "MaskedValue", "NotFound", "Pipeline", "ReadContext"]
from access.principal import Principal
from audit.chain import StoredAudit
from audit.events import AuditAction, AuditEvent
from audit.events import Decision as AuditDecision
from audit.service import AuditService
from consent.gate import Decision, decide
from consent.model import Channel, ConsentRecord, Jurisdiction, Purpose
from consent.policy import ConsentPolicy
from core.errors import BadRequest
from graph.consents import ConsentRepository
from graph.profiles import MergeRecord, ProfileFilter, ProfileRecord
from privacy.catalog import CatalogScope, CatalogService
from privacy.masking import (
    MaskingPolicy,
    PiiCategory,
    identifier_category,
    mask_value,
    trait_category,
)
from privacy.reader import ProfileReader

INTERACTION_FIELDS = ("interactions.type", "interactions.event", "interactions.ts")


class NotFound(VeilError):
    """No such object in the caller's workspace (another tenant's object looks the same)."""

    code = "not_found"
    status = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class ConsentDenied(VeilError):
    """The consent gate refused this purpose for this person."""

    code = "consent_denied"
    status = 403

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"not permitted for this purpose: {decision.reason}")
        self.decision = decision


@dataclass(frozen=True)
class MaskedValue:
    """A field value after masking, with how it was masked."""

    name: str
    value: Any
    category: PiiCategory
    strategy: str


@dataclass(frozen=True)
class MaskedProfile:
    """A profile as the caller may see it. The only input output types accept."""

    id: str
    first_seen: datetime | None
    last_seen: datetime | None
    traits: tuple[MaskedValue, ...]
    identifiers: tuple[MaskedValue, ...] | None  # None = not permitted
    interaction_count: int | None
    withheld: tuple[str, ...]
    purpose: str
    lawful_basis: str | None
    consent_record_id: str | None
    scores: tuple[MaskedValue, ...] | None = None  # None = not permitted (role or purpose)


# Model scores (RFM, lifecycle stage, purchase predictions) are read for these purposes only.
SCORE_PURPOSES = frozenset({Purpose.analytics, Purpose.marketing})


class Pipeline:
    """One reusable enforcement pipeline."""

    def __init__(self, *, guard: Guard, profiles: ProfileReader, consents: ConsentRepository,
                 consent_policy: ConsentPolicy, masking: MaskingPolicy,
                 jurisdiction: Jurisdiction, hmac_key: bytes, catalog: CatalogService | None = None) -> None:
        self.guard = guard
        self.authz: Authorizer = guard.authz
        self.catalog = catalog
        self.profiles = profiles
        self.consents = consents
        self.consent_policy = consent_policy
        self.masking = masking
        self.audit: AuditService = guard.audit
        self.jurisdiction = jurisdiction
        self.hmac_key = hmac_key

    def context(self, principal: Principal, purpose: Purpose, channel: Channel = Channel.any) -> ReadContext:
        """Per-request state: field permissions are computed once here."""
        return self.guard.context(principal, purpose, channel)

    def _audit(self, ctx: ReadContext, *, action: AuditAction, resource: str, subject: str | None,
               decision: AuditDecision, reason: str, returned: Sequence[str] = (), masked: Sequence[str] = (),
               lawful_basis: str | None = None, consent_record_id: str | None = None,
               defer: list[AuditEvent] | None = None) -> None:
        self.guard.record(ctx, action=action, resource=resource, subject=subject, decision=decision,
                          reason=reason, returned=returned, masked=masked, lawful_basis=lawful_basis,
                          consent_record_id=consent_record_id, defer=defer)

    def require(self, ctx: ReadContext, resource: str, action: str, *, subject: str | None = None) -> None:
        """Authorize through the guard (denials audited); the allowed read is audited with its fields."""
        self.guard.require(ctx, resource, action, subject=subject, audit_allow=False)

    @staticmethod
    def normalize_identifier(kind: str, value: str, *, default_region: str) -> tuple[str, str]:
        """Identifiers are stored normalised; look them up the same way (BadRequest if invalid)."""
        from collect.normalize import normalize_email, normalize_phone

        if kind == "email":
            norm = normalize_email(value)
        elif kind == "phone":
            norm = normalize_phone(value, default_region=default_region)
        else:
            norm = value.strip() or None
        if norm is None:
            raise BadRequest(f"not a valid {kind}", field="identifier")
        return kind, norm

    def counts(self, *, workspace: str) -> dict[str, int]:
        """How many profiles are active / merged away (numbers only, for progress bars)."""
        return self.profiles.counts(workspace=workspace)

    def consent_records(self, ctx: ReadContext, profile_id: str) -> list[ConsentRecord]:
        """Consent history of a person (including profiles merged into it)."""
        return self.consents.for_subject(workspace=ctx.principal.workspace, profile_id=profile_id)

    def gate(self, ctx: ReadContext, profile_id: str, records: list[ConsentRecord] | None = None, *,
             restricted: bool = False) -> Decision:
        """The consent decision for this purpose and channel (a restricted person: legal/security only)."""
        if records is None:
            records = self.consent_records(ctx, profile_id)
        return decide(purpose=ctx.purpose, channel=ctx.channel, jurisdiction=self.jurisdiction,
                      records=records, policy=self.consent_policy, now=datetime.now(UTC), restricted=restricted)

    def mask(self, ctx: ReadContext, profile: ProfileRecord, decision: Decision) -> MaskedProfile:
        """Drop fields the role may not read and mask the rest per the masking policy."""
        withheld: list[str] = []
        traits = self._mask_fields(ctx, sorted(profile.traits.items()), self.trait_categorizer(ctx), "traits",
                                   withheld)
        identifiers: list[MaskedValue] | None = None
        if ctx.permissions.may_read("identifiers"):
            identifiers = self._mask_fields(ctx, list(profile.identifiers), identifier_category, "identifiers",
                                            withheld)
        else:
            withheld.append("identifiers")
        counts = ctx.permissions.may_read("interactions")
        if not counts:
            withheld.append("interactions")
        scores: tuple[MaskedValue, ...] | None = None
        if ctx.permissions.may_read("scores") and ctx.purpose in SCORE_PURPOSES:
            scores = tuple(MaskedValue(k, v, PiiCategory.NON_PII, "plain") for k, v in sorted(profile.scores.items()))
        else:
            withheld.append("scores")
        return MaskedProfile(
            id=profile.id, first_seen=profile.first_seen, last_seen=profile.last_seen, traits=tuple(traits),
            identifiers=tuple(identifiers) if identifiers is not None else None,
            interaction_count=profile.interactions if counts else None, withheld=tuple(withheld),
            purpose=ctx.purpose.value, lawful_basis=decision.lawful_basis.value if decision.lawful_basis else None,
            consent_record_id=decision.record_id, scores=scores)

    def trait_categorizer(self, ctx: ReadContext) -> Any:
        """Trait name -> category: the workspace's trait catalog (admin overrides win), else by name."""
        if self.catalog is None:
            return trait_category
        catalog, ws = self.catalog, ctx.principal.workspace
        return lambda name: catalog.category(workspace=ws, scope=CatalogScope.TRAIT, key=name)

    def _mask_fields(self, ctx: ReadContext, items: list[tuple[str, Any]], categorize: Any, prefix: str,
                     withheld: list[str]) -> list[MaskedValue]:
        """Withhold what the role may not read; mask the rest with the policy's strategy."""
        out = []
        for name, value in items:
            cat = categorize(name)
            if not ctx.permissions.may_read(cat.value):
                withheld.append(f"{prefix}.{name}")
                continue
            strategy = self.masking.strategy_for(roles=ctx.principal.roles, purpose=ctx.purpose.value, category=cat)
            out.append(MaskedValue(name, mask_value(strategy, value, key=self.hmac_key), cat, strategy))
        return out

    def read_profile(self, ctx: ReadContext, *, profile_id: str | None = None,
                     identifier: tuple[str, str] | None = None) -> MaskedProfile:
        """The whole pipeline for one profile."""
        self.require(ctx, "profile", "read", subject=profile_id)
        ws = ctx.principal.workspace
        records: list[ConsentRecord] | None = None
        if identifier is not None:
            profile = self.profiles.find_by_identifier(workspace=ws, kind=identifier[0], value=identifier[1])
        else:
            # One round trip: the profile and the consent history the gate needs.
            found = self.profiles.get_with_consents(workspace=ws, profile_id=profile_id or "")
            profile, records = found if found is not None else (None, None)
        if profile is None or profile.status != "active":
            self._audit(ctx, action=AuditAction.READ, resource="profile", subject=profile_id,
                        decision=AuditDecision.DENY, reason="not_found")
            raise NotFound("profile")
        return self._finish(ctx, profile, records)

    def read_profile_with_interactions(
        self, ctx: ReadContext, *, profile_id: str, first: int, event_type: str | None,
        since: datetime | None, until: datetime | None,
    ) -> tuple[MaskedProfile, list[dict[str, Any]] | None]:
        """A profile and its first interactions in one round trip, through the same chain as
        `read_profile` + `interactions_of` (the interactions are None when the role may not read
        them). Both reads are audited; the request scope merges them into one record."""
        if not self.guard.allowed(ctx, "profile.interactions", "read"):
            return self.read_profile(ctx, profile_id=profile_id), None
        self.require(ctx, "profile", "read", subject=profile_id)
        found = self.profiles.get_with_consents_and_interactions(
            workspace=ctx.principal.workspace, profile_id=profile_id, event_type=event_type, since=since,
            until=until, limit=first)
        if found is None or found[0].status != "active":
            self._audit(ctx, action=AuditAction.READ, resource="profile", subject=profile_id,
                        decision=AuditDecision.DENY, reason="not_found")
            raise NotFound("profile")
        masked = self._finish(ctx, found[0], found[1])
        self._audit(ctx, action=AuditAction.READ, resource="profile.interactions", subject=masked.id,
                    decision=AuditDecision.ALLOW, reason="permitted", returned=INTERACTION_FIELDS,
                    lawful_basis=masked.lawful_basis, consent_record_id=masked.consent_record_id)
        return masked, found[2]

    def _finish(self, ctx: ReadContext, profile: ProfileRecord, records: list[ConsentRecord] | None = None,
                defer: list[AuditEvent] | None = None, action: AuditAction = AuditAction.READ) -> MaskedProfile:
        decision = self.gate(ctx, profile.id, records, restricted=profile.restricted)
        if not decision.allowed:
            self._audit(ctx, action=action, resource="profile", subject=profile.id,
                        decision=AuditDecision.DENY, reason=decision.reason, consent_record_id=decision.record_id,
                        defer=defer)
            raise ConsentDenied(decision)
        masked = self.mask(ctx, profile, decision)
        returned = [f"traits.{t.name}" for t in masked.traits] + (
            [f"identifiers.{i.name}" for i in masked.identifiers] if masked.identifiers is not None else []) + (
            [f"scores.{s.name}" for s in masked.scores] if masked.scores is not None else [])
        masked_fields = [f"traits.{t.name}" for t in masked.traits if t.strategy != "plain"] + (
            [f"identifiers.{i.name}" for i in masked.identifiers if i.strategy != "plain"]
            if masked.identifiers is not None else [])
        self._audit(ctx, action=action, resource="profile", subject=profile.id,
                    decision=AuditDecision.ALLOW, reason=decision.reason, returned=returned, masked=masked_fields,
                    lawful_basis=masked.lawful_basis, consent_record_id=decision.record_id, defer=defer)
        return masked

    def list_profiles(self, ctx: ReadContext, *, after: str, limit: int,
                      filters: ProfileFilter | None = None) -> tuple[list[MaskedProfile], int, bool]:
        """A page of profiles; people the gate refuses are skipped (and audited as denials)."""
        self.require(ctx, "profile", "read")
        page = self.profiles.page(workspace=ctx.principal.workspace, after=after, limit=limit + 1, filters=filters)
        has_next = len(page) > limit
        page = page[:limit]
        # One query for the whole page's consent history (no N+1).
        consents = self.consents.for_subjects(workspace=ctx.principal.workspace, profile_ids=[p.id for p in page])
        out = []
        skipped = 0
        events: list[AuditEvent] = []
        for profile in page:
            try:
                out.append(self._finish(ctx, profile, consents.get(profile.id, []), defer=events))
            except ConsentDenied:
                skipped += 1
        # One audit transaction for the page, before anything is returned.
        self.guard.emit(events)
        return out, skipped, has_next

    def interactions(self, ctx: ReadContext, profile_id: str, *, event_type: str | None, since: datetime | None,
                     until: datetime | None, after: str | None, limit: int) -> list[dict[str, Any]]:
        """A profile's interactions, newest first (no PII in these fields); consent-gated and audited."""
        self.require(ctx, "profile.interactions", "read", subject=profile_id)
        # The person's profile decides: another tenant's, a merged-away or an unknown id is not
        # found, and a restriction of processing (on any profile merged into it) applies here too.
        found = self.profiles.get_with_consents(workspace=ctx.principal.workspace, profile_id=profile_id)
        if found is None or found[0].status != "active":
            self._audit(ctx, action=AuditAction.READ, resource="profile.interactions", subject=profile_id,
                        decision=AuditDecision.DENY, reason="not_found")
            raise NotFound("profile")
        decision = self.gate(ctx, profile_id, found[1], restricted=found[0].restricted)
        if not decision.allowed:
            self._audit(ctx, action=AuditAction.READ, resource="profile.interactions", subject=profile_id,
                        decision=AuditDecision.DENY, reason=decision.reason, consent_record_id=decision.record_id)
            raise ConsentDenied(decision)
        rows = self.profiles.interactions_page(workspace=ctx.principal.workspace, profile_id=profile_id,
                                               event_type=event_type, since=since, until=until, after=after,
                                               limit=limit)
        self._audit(ctx, action=AuditAction.READ, resource="profile.interactions", subject=profile_id,
                    decision=AuditDecision.ALLOW, reason=decision.reason, returned=INTERACTION_FIELDS,
                    lawful_basis=decision.lawful_basis.value if decision.lawful_basis else None,
                    consent_record_id=decision.record_id)
        return rows

    def interactions_of(self, ctx: ReadContext, profiles: Sequence[MaskedProfile], *, event_type: str | None,
                        since: datetime | None, until: datetime | None, limit: int) -> dict[str, Any]:
        """First page of interactions of profiles already read in this request (one query)."""
        return self._batch(ctx, "profile.interactions", profiles, INTERACTION_FIELDS,
                           lambda ids: self.profiles.interactions_for_profiles(
                               workspace=ctx.principal.workspace, profile_ids=ids, event_type=event_type,
                               since=since, until=until, limit=limit))

    def _batch(self, ctx: ReadContext, resource: str, profiles: Sequence[MaskedProfile], returned: tuple[str, ...],
               fetch: Any) -> dict[str, Any]:
        """A nested field of profiles this request already read (they passed the gate): one query
        and one audit transaction for the lot; None for each when the role may not read it."""
        events: list[AuditEvent] = []
        ids = [m.id for m in profiles]
        if not self.authz.allowed(ctx.principal, resource, "read"):
            for pid in ids:
                self._audit(ctx, action=AuditAction.READ, resource=resource, subject=pid,
                            decision=AuditDecision.DENY, reason="forbidden", defer=events)
            self.guard.emit(events)
            return dict.fromkeys(ids, None)
        found = fetch(ids)
        for m in profiles:
            self._audit(ctx, action=AuditAction.READ, resource=resource, subject=m.id, decision=AuditDecision.ALLOW,
                        reason="permitted", returned=returned, lawful_basis=m.lawful_basis,
                        consent_record_id=m.consent_record_id, defer=events)
        self.guard.emit(events)
        return {pid: found.get(pid, []) for pid in ids}

    def consents_of(self, ctx: ReadContext, profiles: Sequence[MaskedProfile]) -> dict[str, Any]:
        """Consent histories of profiles already read in this request (one query)."""
        return self._batch(ctx, "profile.consents", profiles, ("consents",), lambda ids: self.consents.for_subjects(
            workspace=ctx.principal.workspace, profile_ids=ids))

    def merges_of(self, ctx: ReadContext, profiles: Sequence[MaskedProfile]) -> dict[str, Any]:
        """Merge ledgers of profiles already read in this request (one query)."""
        return self._batch(ctx, "profile.merges", profiles, ("merges",), lambda ids: self.profiles.merge_histories(
            workspace=ctx.principal.workspace, profile_ids=ids))

    def merge_history(self, ctx: ReadContext, profile_id: str) -> list[MergeRecord]:
        """The merge ledger of a profile, audited."""
        self.require(ctx, "profile.merges", "read", subject=profile_id)
        history = self.profiles.merge_history(workspace=ctx.principal.workspace, profile_id=profile_id)
        self._audit(ctx, action=AuditAction.READ, resource="profile.merges", subject=profile_id,
                    decision=AuditDecision.ALLOW, reason="permitted", returned=("merges",))
        return history

    def consent_history(self, ctx: ReadContext, profile_id: str) -> list[ConsentRecord]:
        """Consent records of a profile, audited."""
        self.require(ctx, "profile.consents", "read", subject=profile_id)
        records = self.consent_records(ctx, profile_id)
        self._audit(ctx, action=AuditAction.READ, resource="profile.consents", subject=profile_id,
                    decision=AuditDecision.ALLOW, reason="permitted", returned=("consents",))
        return records

    def audit_trail(self, ctx: ReadContext, *, subject: str | None, actor: str | None, action: str | None,
                    since: datetime | None, until: datetime | None, limit: int, purpose: str | None = None,
                    decision: str | None = None) -> list[StoredAudit]:
        """The workspace's audit records for compliance review; reading them is audited too."""
        self.require(ctx, "audit", "read", subject=subject)
        rows = self.audit.repo.query(ctx.principal.workspace, subject=subject, actor=actor, action=action,
                                     since=since, until=until, limit=limit, purpose=purpose, decision=decision)
        self._audit(ctx, action=AuditAction.READ, resource="audit", subject=subject,
                    decision=AuditDecision.ALLOW, reason="permitted", returned=("audit",))
        return rows

    def trait_catalog(self, ctx: ReadContext, *, scope: CatalogScope | None) -> list[Any]:
        """The workspace's trait catalog for review (admins), audited."""
        self.require(ctx, "trait_catalog", "read")
        if self.catalog is None:
            raise NotFound("trait catalog")
        entries = self.catalog.review(workspace=ctx.principal.workspace, scope=scope)
        self._audit(ctx, action=AuditAction.READ, resource="trait_catalog", subject=None,
                    decision=AuditDecision.ALLOW, reason="permitted", returned=("trait_catalog",))
        return entries

    def sample_profiles(self, ctx: ReadContext, profile_ids: Sequence[str]) -> list[MaskedProfile]:
        """Profiles behind an aggregate, through the same gate and masking; empty for roles that may
        not read individual profiles (e.g. marketers). One audit transaction for the sample."""
        sample: list[MaskedProfile] = []
        if not profile_ids or not self.authz.allowed(ctx.principal, "profile", "read"):
            return sample
        events: list[AuditEvent] = []
        ws = ctx.principal.workspace
        consents = self.consents.for_subjects(workspace=ws, profile_ids=list(profile_ids))
        for pid in profile_ids:
            profile = self.profiles.get_profile(workspace=ws, profile_id=pid)
            if profile is None or profile.status != "active":
                continue
            try:
                sample.append(self._finish(ctx, profile, consents.get(pid, []), defer=events))
            except ConsentDenied:
                pass
        self.guard.emit(events)
        return sample

    def audit_access(self, ctx: ReadContext, *, resource: str, reason: str, returned: Sequence[str],
                     write: bool = False, subject: str | None = None) -> None:
        """Record an allowed read or write of aggregates/segments (ids and field names only)."""
        self._audit(ctx, action=AuditAction.WRITE if write else AuditAction.READ, resource=resource,
                    subject=subject, decision=AuditDecision.ALLOW, reason=reason, returned=returned)
