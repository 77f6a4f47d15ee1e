"""Segment-spec event validation and normalisation into NormalizedEvent records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collect.normalize import (
    SkewError,
    corrected_timestamp,
    is_junk,
    normalize_email,
    normalize_phone,
    parse_timestamp,
)
from collect.rules import IdentityRules
from core.errors import VeilError

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")
_EMAIL_KEYS = ("email",)
_PHONE_KEYS = ("phone", "mobile", "phone_number", "phoneNumber", "cellphone")
_MEMBER_KEYS = ("member_id", "memberId")
_LINE_KEYS = ("line_user_id", "lineUserId", "line_id")
_ID_MAX_LEN = 256


class EventError(VeilError, ValueError):
    """A single event is invalid: a stable code, a message and the offending field."""

    status = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class LineItem:
    """One product line of an order."""

    product_id: str
    name: str | None
    category: str | None
    price: float | None
    quantity: float


@dataclass(frozen=True)
class NormalizedEvent:
    """An accepted event: identifiers normalised, time corrected to UTC, ready for the graph."""

    message_id: str
    type: str
    event: str | None
    ts: datetime
    received_at: datetime
    identifiers: tuple[tuple[str, str], ...]  # (type, value), most trusted first
    ident: tuple[str, str]  # the identifier the interaction is recorded under
    previous_id: str | None
    traits: dict[str, Any]
    properties: dict[str, Any]
    context: dict[str, Any]
    channel: str
    line_items: tuple[LineItem, ...] = ()
    order_id: str | None = None
    revenue: float | None = None
    currency: str | None = None
    store_id: str | None = None
    group_id: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _opt_str(
    raw: dict[str, Any], key: str, *, max_len: int = _ID_MAX_LEN, allow_int: bool = False
) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int) if allow_int else str):
        raise EventError("invalid_type", f"{key} must be a string", key)
    text = str(value).strip()
    if len(text) > max_len:
        raise EventError("invalid_value", f"{key} is longer than {max_len} characters", key)
    return text


def _opt_dict(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError("invalid_type", f"{key} must be an object", key)
    return value


def _opt_number(raw: dict[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise EventError("invalid_type", f"{where} must be a number", where)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            pass
    raise EventError("invalid_type", f"{where} must be a number", where)


def _first(traits: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for k in keys:
        if traits.get(k) not in (None, ""):
            return k, traits[k]
    return None


def _line_items(properties: dict[str, Any]) -> tuple[LineItem, ...]:
    products = properties.get("products")
    if products is None:
        return ()
    if not isinstance(products, list):
        raise EventError("invalid_type", "properties.products must be an array", "properties.products")
    items = []
    for i, p in enumerate(products):
        where = f"properties.products[{i}]"
        if not isinstance(p, dict):
            raise EventError("invalid_type", f"{where} must be an object", where)
        pid = p.get("product_id") or p.get("sku") or p.get("id")
        if pid in (None, "") or not isinstance(pid, (str, int)):
            raise EventError("missing_field", f"{where} needs product_id or sku", f"{where}.product_id")
        qty = _opt_number(p, "quantity", f"{where}.quantity")
        items.append(
            LineItem(
                product_id=str(pid),
                name=str(p["name"]) if p.get("name") is not None else None,
                category=str(p["category"]) if p.get("category") is not None else None,
                price=_opt_number(p, "price", f"{where}.price"),
                quantity=1.0 if qty is None else qty,
            )
        )
    return tuple(items)


_SCALAR = (str, int, float)
_CAMPAIGN_KEYS = ("source", "medium", "name", "term", "content")
_PAGE_KEYS = ("url", "referrer", "path", "title", "search")


def identifier_type(text: str) -> str:
    """An identifier type name as stored: trimmed, lower-case, spaces as `_`, at most 64 characters."""
    return text.strip().lower().replace(" ", "_")[:64]


def _check_context(context: dict[str, Any]) -> None:
    """The context fields Veil stores as graph properties or identifiers must have the right shape
    (a campaign value that is an object, or externalIds that are a number, used to fail the write)."""
    for name, keys in (("campaign", _CAMPAIGN_KEYS), ("page", _PAGE_KEYS)):
        part = context.get(name)
        if part is None:
            continue
        if not isinstance(part, dict):
            raise EventError("invalid_type", f"context.{name} must be an object", f"context.{name}")
        for key in keys:
            value = part.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, _SCALAR)):
                raise EventError("invalid_type", f"context.{name}.{key} must be a string",
                                 f"context.{name}.{key}")
    ext_ids = context.get("externalIds")
    if ext_ids is None:
        return
    if not isinstance(ext_ids, list):
        raise EventError("invalid_type", "context.externalIds must be an array of {id, type} objects",
                         "context.externalIds")
    for i, ext in enumerate(ext_ids):
        where = f"context.externalIds[{i}]"
        if not isinstance(ext, dict):
            raise EventError("invalid_type", f"{where} must be an object with id and type", where)
        kind = ext.get("type")
        if not isinstance(kind, str) or not identifier_type(kind):
            raise EventError("invalid_type", f"{where}.type must be a non-empty string", f"{where}.type")
        ident = ext.get("id")
        if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
            raise EventError("invalid_type", f"{where}.id must be a string", f"{where}.id")


class Normalizer:
    """Turns raw Segment-spec dicts into NormalizedEvent or raises EventError."""

    def __init__(self, *, rules: IdentityRules, default_region: str, max_future_s: int) -> None:
        self.rules = rules
        self.region = default_region
        self.max_future_s = max_future_s

    def _identifier(self, kind: str, value: Any, where: str, warnings: list[str]) -> tuple[str, str] | None:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            warnings.append(f"{where}: not a string, not used as an identifier")
            return None
        text = str(value).strip()
        if is_junk(text, blocked=self.rules.blocked_values):
            warnings.append(f"{where}: placeholder value refused as identifier")
            return None
        if kind == "email":
            norm = normalize_email(text)
        elif kind == "phone":
            norm = normalize_phone(text, default_region=self.region)
        else:
            norm = text if 0 < len(text) <= _ID_MAX_LEN else None
        if norm is None:
            warnings.append(f"{where}: invalid {kind}, not used as an identifier")
            return None
        if kind in ("email", "phone") and is_junk(norm, blocked=self.rules.blocked_values):
            warnings.append(f"{where}: placeholder value refused as identifier")
            return None
        return kind, norm

    def normalize(
        self, raw: Any, *, received_at: datetime, sent_at_batch: datetime | None = None,
        forced_type: str | None = None,
    ) -> NormalizedEvent:
        """Validate and normalise one event (forced_type for /v1/<type> single-event routes)."""
        if not isinstance(raw, dict):
            raise EventError("invalid_type", "an event must be a JSON object", None)
        etype = forced_type or raw.get("type")
        if not isinstance(etype, str) or etype not in EVENT_TYPES:
            raise EventError(
                "invalid_event_type", f"type must be one of {', '.join(EVENT_TYPES)}", "type"
            )
        warnings: list[str] = []
        user_id = _opt_str(raw, "userId", allow_int=True)
        anonymous_id = _opt_str(raw, "anonymousId", allow_int=True)
        message_id = _opt_str(raw, "messageId") or f"veil-{uuid.uuid4()}"
        traits = dict(_opt_dict(raw, "traits"))
        properties = _opt_dict(raw, "properties")
        context = _opt_dict(raw, "context")
        _opt_dict(raw, "integrations")
        ctx_traits = _opt_dict(context, "traits") if context else {}
        if not isinstance(context.get("device", {}) or {}, dict):
            raise EventError("invalid_type", "context.device must be an object", "context.device")

        ts_raw = raw.get("timestamp") or raw.get("originalTimestamp")
        ts = parse_timestamp(ts_raw) if ts_raw is not None else None
        if ts_raw is not None and ts is None:
            raise EventError("invalid_timestamp", "timestamp must be ISO 8601", "timestamp")
        sent_raw = raw.get("sentAt")
        sent_at = parse_timestamp(sent_raw) if sent_raw is not None else sent_at_batch
        if sent_raw is not None and sent_at is None:
            raise EventError("invalid_timestamp", "sentAt must be ISO 8601", "sentAt")
        try:
            when = corrected_timestamp(
                timestamp=ts, sent_at=sent_at, received_at=received_at, max_future_s=self.max_future_s
            )
        except SkewError as exc:
            raise EventError("invalid_timestamp", str(exc), "timestamp") from exc
        _check_context(context)

        event_name = None
        if etype == "track":
            event_name = _opt_str(raw, "event", max_len=200)
            if not event_name:
                raise EventError("missing_field", "track events need an event name", "event")
        elif etype in ("page", "screen"):
            event_name = _opt_str(raw, "name", max_len=200) or _opt_str(properties, "name", max_len=200)
        previous_id = None
        if etype == "alias":
            previous_id = _opt_str(raw, "previousId", allow_int=True)
            if not previous_id or is_junk(previous_id, blocked=self.rules.blocked_values):
                raise EventError("missing_field", "alias events need a previousId", "previousId")
        group_id = _opt_str(raw, "groupId", allow_int=True) if etype == "group" else None

        found: dict[tuple[str, str], None] = {}
        for kind, value, where in (
            ("user_id", user_id, "userId"),
            ("anonymous_id", anonymous_id, "anonymousId"),
        ):
            if value is not None:
                ident = self._identifier(kind, value, where, warnings)
                if ident:
                    found[ident] = None
        if not found:
            code = "missing_identity" if user_id is None and anonymous_id is None else "invalid_identity"
            raise EventError(
                code, "an event needs a usable userId or anonymousId", "userId"
            )
        ident = next(iter(found))  # userId if usable, else anonymousId
        device = context.get("device") or {}
        if device.get("id") not in (None, ""):
            d = self._identifier("device_id", device["id"], "context.device.id", warnings)
            if d:
                found[d] = None
        for source_name, src in (("traits", traits), ("context.traits", ctx_traits)):
            for kind, keys in (
                ("email", _EMAIL_KEYS), ("phone", _PHONE_KEYS),
                ("member_id", _MEMBER_KEYS), ("line_user_id", _LINE_KEYS),
            ):
                hit = _first(src, keys)
                if hit:
                    d = self._identifier(kind, hit[1], f"{source_name}.{hit[0]}", warnings)
                    if d:
                        found[d] = None
                        if source_name == "traits":
                            traits[hit[0]] = d[1]
        for i, ext in enumerate(context.get("externalIds") or []):
            if ext.get("id") not in (None, ""):
                kind = identifier_type(ext["type"])
                d = self._identifier(kind, ext["id"], f"context.externalIds[{i}]", warnings)
                if d:
                    found[d] = None
        if etype == "track" and ctx_traits:
            # Traits sent with a track call (a POS phone, a CRM tier) are still traits of the person.
            traits = {**ctx_traits, **traits}
        identifiers = tuple(sorted(found, key=lambda t: -self.rules.priority(t[0])))

        items = _line_items(properties)
        revenue = _opt_number(properties, "revenue", "properties.revenue")
        if revenue is None:
            revenue = _opt_number(properties, "total", "properties.total")
        store_id = _opt_str(properties, "store_id", allow_int=True)
        channel = context.get("channel") if isinstance(context.get("channel"), str) else None
        if not channel:
            channel = (
                "pos" if store_id else "app" if etype == "screen" or device.get("type") in ("ios", "android")
                else "web" if etype == "page" or context.get("page") else "server"
            )
        return NormalizedEvent(
            message_id=message_id,
            type=etype,
            event=event_name,
            ts=when,
            received_at=received_at,
            identifiers=identifiers,
            ident=ident,
            previous_id=previous_id,
            traits=traits if etype in ("identify", "track") else {},
            properties=properties,
            context=context,
            channel=channel,
            line_items=items,
            order_id=_opt_str(properties, "order_id", allow_int=True),
            revenue=revenue,
            currency=_opt_str(properties, "currency", max_len=8),
            store_id=store_id,
            group_id=group_id,
            warnings=tuple(warnings),
        )
