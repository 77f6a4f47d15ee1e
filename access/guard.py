"""The guard: the one entry point that authorizes a caller and audits the decision.

Every service method that reads, exports, changes or sends personal data takes the caller's
`ReadContext` (or `Principal`) and calls `guard.require(...)` first. The guard asks casbin,
audits a denial before raising, and (unless the service records a more detailed allow itself,
e.g. the fields a masked read returned) audits the allowed action too. Transports (GraphQL,
REST, CLI, jobs, the console) never reach customer data another way; `tests/test_guard_coverage.py`
walks the GraphQL schema and the CLI tree to keep it so.

Audit records of one request can be deferred to one transaction with `guard.request_scope()`;
the scope is flushed before the transport returns anything, and if the flush fails the
transport returns nothing (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from access.authz import Authorizer, FieldPermissions, Forbidden
from access.principal import Principal
from audit.events import AuditAction, AuditEvent
from audit.events import Decision as AuditDecision
from audit.service import AuditService
from consent.model import Channel, Purpose

_ACTIONS = {"read": AuditAction.READ, "write": AuditAction.WRITE, "export": AuditAction.EXPORT,
            "dsr": AuditAction.DSR, "send": AuditAction.WRITE}


@dataclass(frozen=True)
class ReadContext:
    """Who acts, for which purpose and channel; built once per request (or CLI command)."""

    principal: Principal
    purpose: Purpose
    channel: Channel
    permissions: FieldPermissions


Caller = ReadContext | Principal


@dataclass
class _Scope:
    events: list[AuditEvent] = field(default_factory=list)


_scope: ContextVar[_Scope | None] = ContextVar("veil_audit_scope", default=None)


def _principal(caller: Caller) -> Principal:
    return caller.principal if isinstance(caller, ReadContext) else caller


def _purpose(caller: Caller) -> str | None:
    return caller.purpose.value if isinstance(caller, ReadContext) else None


class Guard:
    """authorize (casbin) + audit, for every caller and transport."""

    def __init__(self, *, authz: Authorizer, audit: AuditService) -> None:
        self.authz = authz
        self.audit = audit

    # --- contexts --------------------------------------------------------------------------------
    def context(self, principal: Principal, purpose: Purpose, channel: Channel = Channel.any) -> ReadContext:
        """Per-request state: field permissions are computed once here."""
        return ReadContext(principal, purpose, channel, self.authz.field_permissions(principal))

    # --- decisions -------------------------------------------------------------------------------
    def allowed(self, caller: Caller, resource: str, action: str) -> bool:
        """The policy's answer, without auditing (for shaping output, e.g. k-anonymity)."""
        return self.authz.allowed(_principal(caller), resource, action)

    def require(self, caller: Caller, resource: str, action: str, *, subject: str | None = None,
                audit_allow: bool = True, reason: str = "permitted", returned: Sequence[str] = (),
                audit_action: AuditAction | None = None, extra: dict[str, Any] | None = None) -> None:
        """Authorize or raise Forbidden. Denials are always audited; an allow is audited unless the
        service records its own, more detailed allow record (`audit_allow=False`)."""
        principal = _principal(caller)
        act = audit_action or _ACTIONS.get(action, AuditAction.WRITE)
        if not self.authz.allowed(principal, resource, action):
            self.record(caller, action=act, resource=resource, subject=subject, decision=AuditDecision.DENY,
                        reason="forbidden", extra=extra, immediate=True)
            raise Forbidden(resource, action)
        if audit_allow:
            self.record(caller, action=act, resource=resource, subject=subject, decision=AuditDecision.ALLOW,
                        reason=reason, returned=returned, extra=extra)

    # --- audit -----------------------------------------------------------------------------------
    def event(self, caller: Caller, *, action: AuditAction, resource: str, subject: str | None,
              decision: AuditDecision, reason: str, returned: Sequence[str] = (), masked: Sequence[str] = (),
              lawful_basis: str | None = None, consent_record_id: str | None = None,
              purpose: str | None = None, extra: dict[str, Any] | None = None) -> AuditEvent:
        """An audit event attributed to the caller (ids and field names, never values)."""
        p = _principal(caller)
        return AuditEvent.create(
            workspace=p.workspace, actor=p.id, actor_kind=p.kind.value, role=",".join(p.roles) or None,
            action=action, resource=resource, subject=subject, fields_returned=tuple(returned),
            fields_masked=tuple(masked), purpose=purpose or _purpose(caller), lawful_basis=lawful_basis,
            consent_record_id=consent_record_id, decision=decision, reason=reason, extra=extra or {})

    def record(self, caller: Caller, *, action: AuditAction, resource: str, subject: str | None,
               decision: AuditDecision, reason: str, returned: Sequence[str] = (), masked: Sequence[str] = (),
               lawful_basis: str | None = None, consent_record_id: str | None = None,
               purpose: str | None = None, extra: dict[str, Any] | None = None,
               defer: list[AuditEvent] | None = None, immediate: bool = False) -> None:
        """Audit one decision: into `defer`, else into the request scope, else at once."""
        ev = self.event(caller, action=action, resource=resource, subject=subject, decision=decision,
                        reason=reason, returned=returned, masked=masked, lawful_basis=lawful_basis,
                        consent_record_id=consent_record_id, purpose=purpose, extra=extra)
        self.emit([ev], defer=defer, immediate=immediate)

    def emit(self, events: list[AuditEvent], *, defer: list[AuditEvent] | None = None,
             immediate: bool = False) -> None:
        """Store audit events (in the caller's list, the open request scope, or now)."""
        if not events:
            return
        if defer is not None:
            defer.extend(events)
            return
        scope = _scope.get()
        if scope is not None and not immediate:
            scope.events.extend(events)
            return
        if len(events) == 1:
            self.audit.record(events[0])
        else:
            self.audit.record_many(events)

    @contextmanager
    def request_scope(self) -> Iterator[_Scope]:
        """Defer this request's audit records to one transaction, written by `flush` before the
        transport returns anything. Nesting reuses the outer scope."""
        outer = _scope.get()
        if outer is not None:
            yield outer
            return
        scope = _Scope()
        token = _scope.set(scope)
        try:
            yield scope
        finally:
            _scope.reset(token)

    def flush(self, scope: _Scope) -> None:
        """Write the scope's records in one transaction, one allowed-read record per person listing
        every field group read (raises AuditUnavailable; then nothing may be returned)."""
        events, scope.events = coalesce_reads(scope.events), []
        if events:
            self.audit.record_many(events)


def coalesce_reads(events: list[AuditEvent]) -> list[AuditEvent]:
    """Merge the allowed reads of one person in one request (profile, interactions, consents...)
    into the profile read's record: the fields of every group it returned, its lawful basis and
    consent record. Denials, writes and reads of other kinds stay as they are."""
    out: list[AuditEvent] = []
    by_subject: dict[tuple[str, str | None, str | None], int] = {}
    for ev in events:
        if (ev.action is not AuditAction.READ or ev.decision is not AuditDecision.ALLOW or ev.subject is None
                or not ev.resource.startswith("profile")):
            out.append(ev)
            continue
        k = (ev.subject, ev.purpose, ev.actor)
        i = by_subject.get(k)
        if i is None:
            by_subject[k] = len(out)
            out.append(ev)
            continue
        first = out[i]
        main, other = (ev, first) if ev.resource == "profile" and first.resource != "profile" else (first, ev)
        out[i] = replace(
            main, fields_returned=tuple(dict.fromkeys(main.fields_returned + other.fields_returned)),
            fields_masked=tuple(dict.fromkeys(main.fields_masked + other.fields_masked)),
            lawful_basis=main.lawful_basis or other.lawful_basis,
            consent_record_id=main.consent_record_id or other.consent_record_id)
    return out
