"""Typed audit events: who did what to which subject, under which purpose, and the decision.

Events carry ids, codes and field names, never values. Construction validates that:
identifier-like fields are short tokens (no spaces, no '@'), field names look like field
names, and `extra` is a small flat map of short keys to str/int/bool/None. A string that looks
like an e-mail address, an E.164 phone number or an IPv4 address is rejected anywhere in the
event. That guard is a backstop, not a PII detector: callers pass ids (a profile id, or
`pseudonymize(value, key)` where only a raw identifier is known).

The request id and the acting principal come from the contextvars defined here
(`request_id_var`, `actor_var`); the API sets them per request (see `bind`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from core.errors import VeilError

ExtraValue = str | int | bool | None


class AuditAction(str, Enum):
    """What was attempted (the outcome is the separate `Decision`)."""

    READ = "read"
    WRITE = "write"
    CONSENT_CHANGE = "consent_change"
    POLICY_CHANGE = "policy_change"
    KEY_CHANGE = "key_change"
    USER_CHANGE = "user_change"
    LOGIN = "login"
    EXPORT = "export"
    INGEST = "ingest"
    DSR = "dsr"
    SEND = "send"  # a message to a person (sent or skipped), decided at the moment of sending


class Decision(str, Enum):
    """The outcome of the attempt."""

    ALLOW = "allow"
    DENY = "deny"
    ERROR = "error"


class ActorKind(str, Enum):
    """What kind of principal acted."""

    USER = "user"
    API_KEY = "api_key"
    WRITE_KEY = "write_key"
    SYSTEM = "system"
    OPERATOR = "operator"


class InvalidAuditEvent(VeilError, ValueError):
    """An audit event that breaks the ids-and-codes-only contract (a bug in the caller)."""

    code = "invalid_audit_event"
    status = 400

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.code = "invalid_audit_event"
        self.field = field_name


@dataclass(frozen=True)
class Actor:
    """The principal an event is attributed to."""

    id: str
    kind: ActorKind
    role: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        """A background job or the platform itself."""
        return cls(id=name, kind=ActorKind.SYSTEM, role="system")


request_id_var: ContextVar[str | None] = ContextVar("audit_request_id", default=None)
actor_var: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


@contextmanager
def bind(*, actor: Actor | None = None, request_id: str | None = None) -> Iterator[None]:
    """Set the actor and/or request id for the enclosed block (restored afterwards)."""
    tokens: list[tuple[Any, Any]] = []
    if actor is not None:
        tokens.append((actor_var, actor_var.set(actor)))
    if request_id is not None:
        tokens.append((request_id_var, request_id_var.set(request_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


MIN_KEY_BYTES = 16


def pseudonymize(value: str, key: bytes | str) -> str:
    """HMAC-SHA256 (hex) of an identifier, for events where only the raw identifier is known.

    The caller normalises the value first (e.g. lower-cased e-mail) so that the same person
    always maps to the same pseudonym under one key.
    """
    raw_key = key.encode() if isinstance(key, str) else key
    if len(raw_key) < MIN_KEY_BYTES:
        raise ValueError(f"pseudonymization key must be at least {MIN_KEY_BYTES} bytes")
    return hmac.new(raw_key, value.encode(), hashlib.sha256).hexdigest()


# Ids and codes: no whitespace, no '@', bounded length.
_TOKEN = re.compile(r"[A-Za-z0-9_.:/+=,\-]{1,200}")
_FIELD_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_.:\[\]\-]{0,127}")
_EXTRA_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PII = re.compile(
    r"[^\s@]+@[^\s@]+\.[^\s@]+"  # e-mail
    r"|^\+\d{7,15}$"  # E.164 phone number
    r"|^(?:\d{1,3}\.){3}\d{1,3}$"  # IPv4 address
)
MAX_EXTRA_ITEMS = 16
MAX_FIELDS = 512
INT_RANGE = (-(2**63), 2**63 - 1)


def _check_text(name: str, value: str, pattern: re.Pattern[str]) -> None:
    if not isinstance(value, str):
        raise InvalidAuditEvent(name, f"must be a string, got {type(value).__name__}")
    if _PII.search(value):
        raise InvalidAuditEvent(name, "looks like personal data; pass an id or a pseudonym")
    if not pattern.fullmatch(value):
        raise InvalidAuditEvent(name, "must be an id or code (no spaces, at most 200 characters)")


def _check_optional(name: str, value: str | None) -> None:
    if value is not None:
        _check_text(name, value, _TOKEN)


def _check_extra(extra: Mapping[str, Any]) -> None:
    if not isinstance(extra, Mapping):
        raise InvalidAuditEvent("extra", "must be a mapping")
    if len(extra) > MAX_EXTRA_ITEMS:
        raise InvalidAuditEvent("extra", f"at most {MAX_EXTRA_ITEMS} entries")
    for key, value in extra.items():
        if not isinstance(key, str) or not _EXTRA_KEY.fullmatch(key):
            raise InvalidAuditEvent("extra", f"key {key!r} must be snake_case, at most 40 characters")
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                raise InvalidAuditEvent(f"extra.{key}", "integer out of the 64-bit range")
            continue
        if isinstance(value, str):
            _check_text(f"extra.{key}", value, _TOKEN)
            continue
        raise InvalidAuditEvent(f"extra.{key}", f"must be str, int, bool or None, got {type(value).__name__}")


def _safe_request_id(rid: str | None) -> str | None:
    """Client-supplied request ids that are not plain tokens are kept only as a short hash."""
    if rid is None:
        return None
    try:
        _check_text("request_id", rid, _TOKEN)
    except InvalidAuditEvent:
        return "h:" + hashlib.sha256(rid.encode()).hexdigest()[:32]
    return rid


def field_ref(prefix: str, name: str) -> str:
    """An auditable field name for a key: as is when it is a plain ASCII name, else its UTF-8 hex
    (`traits.x:e6898be6a99f` for 手機; reversible, still a name and not a value), else a hash."""
    plain = f"{prefix}.{name}"
    if _FIELD_NAME.fullmatch(plain) and not _PII.search(plain):
        return plain
    encoded = f"{prefix}.x:{name.encode('utf-8').hex()}"
    if len(encoded) <= 128:
        return encoded
    return f"{prefix}.h:{hashlib.sha256(name.encode('utf-8')).hexdigest()[:32]}"


def _check_fields(name: str, names: tuple[str, ...]) -> None:
    if len(names) > MAX_FIELDS:
        raise InvalidAuditEvent(name, f"at most {MAX_FIELDS} field names")
    for item in names:
        _check_text(name, item, _FIELD_NAME)


@dataclass(frozen=True)
class AuditEvent:
    """One audited attempt. Build it with `AuditEvent.create(...)` in request code."""

    id: str
    at: datetime
    workspace: str
    actor: str
    actor_kind: ActorKind
    role: str | None
    action: AuditAction
    resource: str
    decision: Decision
    subject: str | None = None
    fields_returned: tuple[str, ...] = ()
    fields_masked: tuple[str, ...] = ()
    purpose: str | None = None
    lawful_basis: str | None = None
    consent_record_id: str | None = None
    reason: str | None = None
    request_id: str | None = None
    extra: Mapping[str, ExtraValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.at, datetime) or self.at.tzinfo is None:
            raise InvalidAuditEvent("at", "must be a timezone-aware datetime")
        set_(self, "at", self.at.astimezone(UTC))
        for name, enum in (("actor_kind", ActorKind), ("action", AuditAction), ("decision", Decision)):
            try:
                set_(self, name, enum(getattr(self, name)))
            except ValueError as exc:
                raise InvalidAuditEvent(name, f"unknown value {getattr(self, name)!r}") from exc
        for name in ("fields_returned", "fields_masked"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise InvalidAuditEvent(name, "must be a sequence of field names, not a string")
            set_(self, name, tuple(value))
            _check_fields(name, getattr(self, name))
        for name in ("id", "workspace", "actor", "resource"):
            _check_text(name, getattr(self, name), _TOKEN)
        for name in ("role", "subject", "purpose", "lawful_basis", "consent_record_id", "reason", "request_id"):
            _check_optional(name, getattr(self, name))
        _check_extra(self.extra)
        set_(self, "extra", dict(self.extra))

    @classmethod
    def create(
        cls,
        *,
        workspace: str,
        action: AuditAction | str,
        resource: str,
        decision: Decision | str = Decision.ALLOW,
        subject: str | None = None,
        fields_returned: tuple[str, ...] | list[str] = (),
        fields_masked: tuple[str, ...] | list[str] = (),
        purpose: str | None = None,
        lawful_basis: str | None = None,
        consent_record_id: str | None = None,
        reason: str | None = None,
        extra: Mapping[str, ExtraValue] | None = None,
        actor: Actor | str | None = None,
        actor_kind: ActorKind | str | None = None,
        role: str | None = None,
        request_id: str | None = None,
    ) -> AuditEvent:
        """A new event: fresh id, now (UTC), actor and request id from the contextvars.

        `actor` may be an `Actor`, or a principal id given with `actor_kind` (and `role`);
        without it the actor bound in `actor_var` is used. `actor_kind`/`role` override.
        Empty optional strings (e.g. the roles of a role-less key joined) count as None.
        """
        who = actor if actor is not None else actor_var.get()
        if who is None:
            raise InvalidAuditEvent("actor", "no actor given and none bound in audit.events.actor_var")
        if isinstance(who, str):
            if actor_kind is None:
                raise InvalidAuditEvent("actor_kind", "required when actor is given as an id")
            who = Actor(id=who, kind=actor_kind, role=role)  # type: ignore[arg-type]
        return cls(
            id=str(uuid.uuid4()), at=datetime.now(UTC), workspace=workspace, actor=who.id,
            actor_kind=actor_kind if actor_kind is not None else who.kind,  # type: ignore[arg-type]
            role=(role if role is not None else who.role) or None, action=action,  # type: ignore[arg-type]
            resource=resource, decision=decision, subject=subject or None,  # type: ignore[arg-type]
            fields_returned=tuple(fields_returned), fields_masked=tuple(fields_masked),
            purpose=purpose or None, lawful_basis=lawful_basis or None,
            consent_record_id=consent_record_id or None, reason=reason or None,
            request_id=_safe_request_id(request_id or request_id_var.get()),
            extra=dict(extra or {}),
        )

    @classmethod
    def restore(cls, **values: Any) -> AuditEvent:
        """An event read back from storage or an export, as stored: typed, but not re-validated.

        It was validated when written; a record edited since may no longer validate and is
        kept as found, so that the verifier reports its hash mismatch instead of crashing.
        """
        event = object.__new__(cls)
        for f in fields(cls):
            if f.name in values:
                value = values[f.name]
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = None if f.default is MISSING else f.default
            enum = _ENUM_FIELDS.get(f.name)
            if enum is not None:
                try:
                    value = enum(value)
                except ValueError:
                    pass
            elif f.name in ("fields_returned", "fields_masked") and isinstance(value, list):
                value = tuple(value)
            object.__setattr__(event, f.name, value)
        return event


_ENUM_FIELDS: dict[str, type[Enum]] = {"actor_kind": ActorKind, "action": AuditAction, "decision": Decision}
