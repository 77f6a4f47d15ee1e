"""Writes through the same enforcement: authorize, act, audit (denials audited too)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from access.auth import AuthService
from access.pipeline import NotFound, Pipeline, ReadContext
from access.principal import ROLES, Principal
from audit.events import AuditAction, AuditEvent, Decision, field_ref
from collect.traits import TraitService
from consent.model import Channel, ConsentRecord, ConsentStatus, LawfulBasis, Purpose, notice_hash
from graph.consents import ConsentRepository
from graph.policies import PolicyRule
from graph.principals import ApiKeyRecord
from privacy.catalog import CatalogScope, parse_category, validate_key
from privacy.erasure import ErasureReport, ProfileNotFound


def principal_event(principal: Principal, *, action: AuditAction, resource: str, decision: Decision, reason: str,
                    subject: str | None = None, purpose: str | None = None, lawful_basis: str | None = None,
                    fields: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
                    consent_record_id: str | None = None) -> AuditEvent:
    """An audit event attributed to a principal (id, kind and roles)."""
    return AuditEvent.create(
        workspace=principal.workspace, actor=principal.id, actor_kind=principal.kind.value,
        role=",".join(principal.roles) or None, action=action, resource=resource, subject=subject,
        decision=decision, reason=reason, purpose=purpose, lawful_basis=lawful_basis, fields_returned=fields,
        extra=extra or {}, consent_record_id=consent_record_id)


class AdminService:
    """Mutations of customer data, consent, keys, users and policy."""

    def __init__(self, *, pipeline: Pipeline, auth: AuthService, traits: TraitService,
                 consents: ConsentRepository, erase: Callable[..., ErasureReport]) -> None:
        self.pipeline = pipeline
        self.guard = pipeline.guard
        self.erase = erase  # privacy.erasure.erase_profile with its dependencies bound
        self.auth = auth
        self.traits = traits
        self.consents = consents
        self.seal_traits: Callable[..., int] | None = None  # KeyAdmin.seal_traits, wired by the container

    def _audit(self, principal: Principal, *, action: AuditAction, resource: str, decision: Decision,
               reason: str, subject: str | None = None, purpose: str | None = None,
               fields: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
               consent_record_id: str | None = None) -> None:
        self.guard.record(principal, action=action, resource=resource, subject=subject, decision=decision,
                          reason=reason, purpose=purpose, returned=fields, extra=extra,
                          consent_record_id=consent_record_id, immediate=True)

    def _require(self, principal: Principal, resource: str, action: AuditAction, *, subject: str | None = None,
                 purpose: str | None = None) -> None:
        # The allowed change is audited by the caller with what changed (before it is written).
        self.guard.require(principal, resource, "write", subject=subject, audit_allow=False, audit_action=action)

    def login(self, *, username: str, password: str, workspace: str) -> tuple[str, Principal]:
        """Staff login; failures are audited against the user name's pseudonym."""
        from access.auth import AuthError
        from audit.events import pseudonymize

        try:
            token, principal = self.auth.login(username=username, password=password, workspace=workspace)
        except AuthError as exc:
            self.pipeline.audit.record(AuditEvent.create(
                workspace=workspace, actor=pseudonymize(username, self.pipeline.hmac_key)[:32], actor_kind="user",
                action=AuditAction.LOGIN, resource="session", decision=Decision.DENY, reason=exc.code))
            raise
        self._audit(principal, action=AuditAction.LOGIN, resource="session", decision=Decision.ALLOW,
                    reason="login")
        return token, principal

    def update_traits(self, ctx: ReadContext, profile_id: str, traits: dict[str, Any]) -> bool:
        """Set traits (authorized as profile.traits write, audited with trait names only)."""
        p = ctx.principal
        self._require(p, "profile.traits", AuditAction.WRITE, subject=profile_id, purpose=ctx.purpose.value)
        # Audit first: if the trail is down, nothing is written.
        names = tuple(sorted(f"traits.{k}" for k in traits)) if isinstance(traits, dict) else ()
        self._audit(p, action=AuditAction.WRITE, resource="profile.traits", decision=Decision.ALLOW,
                    reason="permitted", subject=profile_id, purpose=ctx.purpose.value, fields=names)
        if not self.traits.update(workspace=p.workspace, profile_id=profile_id, traits=traits, actor=p.id):
            raise NotFound("profile")
        return True

    def erase_profile(self, ctx: ReadContext, profile_id: str, reason: str) -> ErasureReport:
        """Erase a person by crypto-shredding (admin only: `profile.erasure` write); audited by the eraser."""
        p = ctx.principal
        self._require(p, "profile.erasure", AuditAction.DSR, subject=profile_id, purpose=ctx.purpose.value)
        try:
            return self.erase(workspace=p.workspace, profile_id=profile_id, actor=p.id, actor_kind=p.kind.value,
                              reason=reason)
        except ProfileNotFound:
            raise NotFound("profile") from None

    def record_consent(self, ctx: ReadContext, profile_id: str, purpose: Purpose, channel: Channel, status: str,
                       notice_version: str | None, notice_text: str | None) -> ConsentRecord:
        """Append a consent record (granted/denied/withdrawn) for a profile."""
        p = ctx.principal
        self._require(p, "consent", AuditAction.CONSENT_CHANGE, subject=profile_id, purpose=ctx.purpose.value)
        profile = self.pipeline.profiles.get_profile(workspace=p.workspace, profile_id=profile_id)
        if profile is None or profile.status != "active":
            raise NotFound("profile")
        rec = ConsentRecord(
            id=str(uuid.uuid4()), subject=profile_id, purpose=purpose, channel=channel,
            status=ConsentStatus(status), lawful_basis=LawfulBasis.consent, source="graphql",
            captured_at=datetime.now(UTC), jurisdiction=self.pipeline.jurisdiction, notice_version=notice_version,
            notice_hash=notice_hash(notice_text) if notice_text else None, evidence={"actor": p.id})
        self._audit(p, action=AuditAction.CONSENT_CHANGE, resource="consent", decision=Decision.ALLOW,
                    reason=status, subject=profile_id, purpose=purpose.value, consent_record_id=rec.id)
        self.consents.append(workspace=p.workspace, records=[rec])
        return rec

    def set_trait_category(self, principal: Principal, *, scope: CatalogScope, key: str, category: str) -> Any:
        """An admin's override of a key's PII category in the trait catalog (wins over automatic ones)."""
        self._require(principal, "trait_catalog", AuditAction.POLICY_CHANGE)
        catalog = self.pipeline.catalog
        if catalog is None:
            raise NotFound("trait catalog")
        cat = parse_category(category)
        validate_key(key)
        previous = catalog.category(workspace=principal.workspace, scope=scope, key=key)
        # Audit first: if the trail is down, nothing changes.
        self._audit(principal, action=AuditAction.POLICY_CHANGE, resource="trait_catalog", decision=Decision.ALLOW,
                    reason="category_set", fields=(field_ref(scope.value, key),),
                    extra={"category": cat.value, "previous": previous.value})
        entry, _ = catalog.set_category(workspace=principal.workspace, scope=scope, key=key,
                                        category=cat.value, actor=principal.id)
        if scope is CatalogScope.TRAIT and self.seal_traits is not None and catalog.sealed_trait(principal.workspace, key):
            # Values stored before the override are sealed now, not only the ones written later.
            ws = principal.workspace
            self.seal_traits(workspace=ws, is_pii=lambda name: catalog.sealed_trait(ws, name))
        return entry

    def create_api_key(self, principal: Principal, role: str, name: str) -> tuple[ApiKeyRecord, str]:
        """A new API key in the caller's workspace."""
        self._require(principal, "keys", AuditAction.KEY_CHANGE)
        rec, key = self.auth.create_api_key(workspace=principal.workspace, role=role, name=name, actor=principal.id)
        self._audit(principal, action=AuditAction.KEY_CHANGE, resource="keys", decision=Decision.ALLOW,
                    reason="created", extra={"key_id": rec.id, "role": role})
        return rec, key

    def revoke_api_key(self, principal: Principal, key_id: str) -> bool:
        """Revoke a key of the caller's workspace."""
        self._require(principal, "keys", AuditAction.KEY_CHANGE)
        done = self.auth.repo.revoke_key(key_id=key_id, workspace=principal.workspace)
        self.auth.forget_cached_keys()  # revocation is immediate in this process
        self._audit(principal, action=AuditAction.KEY_CHANGE, resource="keys", decision=Decision.ALLOW,
                    reason="revoked" if done else "not_found", extra={"key_id": key_id})
        return done

    def create_user(self, principal: Principal, username: str, password: str) -> str:
        """A new staff user (no role until one is assigned)."""
        self._require(principal, "users", AuditAction.USER_CHANGE)
        user_id = self.auth.create_user(username=username, password=password)
        self._audit(principal, action=AuditAction.USER_CHANGE, resource="users", decision=Decision.ALLOW,
                    reason="created", extra={"user_id": user_id})
        return user_id

    def assign_role(self, principal: Principal, user_id: str, role: str, grant: bool) -> bool:
        """Grant or revoke a role in the caller's workspace."""
        self._require(principal, "users", AuditAction.USER_CHANGE)
        if grant:
            changed = self.auth.assign_role(user_id=user_id, role=role, workspace=principal.workspace,
                                            actor=principal.id)
        else:
            changed = self.auth.revoke_role(user_id=user_id, role=role, workspace=principal.workspace,
                                            actor=principal.id)
        self._audit(principal, action=AuditAction.USER_CHANGE, resource="users", decision=Decision.ALLOW,
                    reason="role_granted" if grant else "role_revoked", extra={"user_id": user_id, "role": role})
        return changed

    def set_policy_rule(self, principal: Principal, role: str, resource: str, action: str, effect: str,
                        present: bool) -> bool:
        """Add/remove a role rule scoped to the caller's workspace (seen by every worker)."""
        self._require(principal, "policy", AuditAction.POLICY_CHANGE)
        if role not in ROLES or effect not in ("allow", "deny") or not resource or not action:
            raise ValueError("role must be a Veil role, effect allow or deny, resource and action non-empty")
        rule = PolicyRule("p", (f"role:{role}", principal.workspace, resource, action, effect))
        changed = (self.pipeline.authz.add_rule(rule, actor=principal.id) if present
                   else self.pipeline.authz.remove_rule(rule, actor=principal.id))
        self._audit(principal, action=AuditAction.POLICY_CHANGE, resource="policy", decision=Decision.ALLOW,
                    reason="rule_added" if present else "rule_removed",
                    extra={"role": role, "object": resource, "act": action, "eft": effect})
        return changed

    # --- operations the CLI (and later the console) run -------------------------------------------
    def unmerge(self, caller: Principal, *, merge_id: str) -> int:
        """Undo a merge from the ledger (identity correction, audited with the merge id)."""
        self._require(caller, "profile.merges", AuditAction.WRITE, subject=merge_id)
        self._audit(caller, action=AuditAction.WRITE, resource="profile.merges", decision=Decision.ALLOW,
                    reason="unmerge", extra={"merge_id": merge_id})
        moved = self.pipeline.profiles.undo_merge(workspace=caller.workspace, merge_id=merge_id, actor=caller.id)
        if moved is None:
            raise NotFound("merge")
        return moved

    def create_source(self, caller: Principal, *, sources: Any, name: str, kind: str = "http",
                      write_key: str | None = None) -> Any:
        """A collection source and its write key (the key is returned once; audited without it)."""
        self._require(caller, "sources", AuditAction.KEY_CHANGE)
        new = sources.create(workspace=caller.workspace, name=name, kind=kind, write_key=write_key)
        self._audit(caller, action=AuditAction.KEY_CHANGE, resource="sources", decision=Decision.ALLOW,
                    reason="created", extra={"source_id": new.source.id, "name": name})
        return new

    def operate(self, caller: Principal, resource: str, *, reason: str, action: str = "write",
                extra: dict[str, Any] | None = None) -> None:
        """Authorize and audit an operational command on `resource` (imports, refreshes,
        retention, key management) before it runs."""
        self.guard.require(caller, resource, action, reason=reason, extra=extra)
