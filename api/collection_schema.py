"""OpenAPI description of the collection API: the real request bodies and every error status.

The routes read their bodies themselves (any Content-Type, gzip, 500 KB limit), so FastAPI
cannot infer the bodies; these models document them. They are permissive on purpose: Segment
events carry free-form traits, properties and context, validated by `collect.events`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_OPEN = ConfigDict(extra="allow")


class ExternalId(BaseModel):
    """An identifier from another system (a CRM id, a national ID, a loyalty card)."""

    model_config = _OPEN
    id: str | int = Field(description="The identifier's value")
    type: str = Field(description="Identifier type, e.g. national_id, loyalty_card (lower-cased, spaces to _)")
    collection: str | None = None
    encoding: str | None = None


class Campaign(BaseModel):
    """UTM parameters (strings or numbers)."""

    model_config = _OPEN
    source: str | None = None
    medium: str | None = None
    name: str | None = None
    term: str | None = None
    content: str | None = None


class Context(BaseModel):
    """Where the event happened."""

    model_config = _OPEN
    ip: str | None = None
    userAgent: str | None = None
    locale: str | None = None
    channel: str | None = Field(None, description="web, app, pos, crm, server...; inferred when missing")
    page: dict[str, Any] | None = Field(None, description="url, path, referrer, title, search")
    campaign: Campaign | None = None
    device: dict[str, Any] | None = Field(None, description="device.id becomes a device identifier")
    traits: dict[str, Any] | None = None
    externalIds: list[ExternalId] | None = None
    consent: dict[str, Any] | None = Field(None, description="consent signals (TCF string, categories, GPC)")


class SegmentEvent(BaseModel):
    """One event of the Segment spec. `userId` or `anonymousId` is required."""

    model_config = _OPEN
    type: Literal["identify", "track", "page", "screen", "group", "alias"] | None = Field(
        None, description="Required in a batch; implied by the path of a single-event route")
    userId: str | int | None = None
    anonymousId: str | int | None = None
    previousId: str | int | None = Field(None, description="alias: the id being merged")
    groupId: str | int | None = None
    event: str | None = Field(None, description="track: the event name (required)")
    name: str | None = Field(None, description="page/screen name")
    messageId: str | None = Field(None, description="Idempotency key: a retried event is stored once")
    timestamp: str | None = Field(None, description="ISO 8601; corrected for clock skew with sentAt")
    originalTimestamp: str | None = None
    sentAt: str | None = None
    traits: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    context: Context | None = None
    integrations: dict[str, Any] | None = None
    writeKey: str | None = Field(None, description="The write key when there is no Authorization header")


class Batch(BaseModel):
    """What the SDKs send to /v1/batch (and analytics.js to /v1/b)."""

    model_config = _OPEN
    batch: list[SegmentEvent] = Field(description="Up to 2,500 events, 500 KB in all")
    sentAt: str | None = None
    context: Context | None = Field(None, description="Merged under every event's own context")
    writeKey: str | None = None


class Rejected(BaseModel):
    """One refused event of a batch, by its index."""

    index: int
    code: str
    message: str
    field: str | None = None


class Warning_(BaseModel):
    """Something of an accepted event that was not used (e.g. a placeholder e-mail)."""

    index: int
    message: str


class IngestResponse(BaseModel):
    """Per-event outcome of a request."""

    success: bool = Field(description="False when any event was rejected")
    received: int
    stored: int
    duplicates: int = Field(description="Events already stored under the same messageId")
    rejected: list[Rejected]
    warnings: list[Warning_] | None = None


class ErrorDetail(BaseModel):
    """The error, again, with where it happened."""

    code: str
    message: str
    field: str | None = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    """Every error: top-level `code` and `message` (what SDKs read) and the same in `error`."""

    model_config = _OPEN
    success: Literal[False] = False
    code: str = Field(description="Stable code, e.g. invalid_json, missing_write_key, overloaded")
    message: str
    error: ErrorDetail
    rejected: list[Rejected] | None = Field(None, description="all_events_rejected: why, per event")


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined (request bodies in openapi_extra cannot
    refer to a model's local definitions)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


def _body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    content = {"schema": schema}
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": content, "text/plain": content}}}


_EVENT = _inline(SegmentEvent.model_json_schema())
BATCH_DOC = _body(_inline(Batch.model_json_schema()),
                  "JSON (any Content-Type; browsers send text/plain), optionally gzip-encoded")


def event_doc(kind: str) -> dict[str, Any]:
    """The request body of a single-event route."""
    return _body(_EVENT, f"One {kind} event as JSON (any Content-Type; browsers send text/plain), "
                         "optionally gzip-encoded; its type is implied by the path")


OK_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"model": IngestResponse, "description": "Stored; rejected events (if any) are listed by index"},
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed body, an invalid event (single routes), every event "
                                             "of a batch rejected (all_events_rejected), or over a size limit"},
    401: {"model": ErrorBody, "description": "missing_write_key / invalid_write_key"},
    403: {"model": ErrorBody, "description": "origin_not_allowed: the page's origin is not allowed for this key"},
    429: {"model": ErrorBody, "description": "overloaded: retry after the Retry-After header",
          "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    503: {"model": ErrorBody, "description": "store_unavailable: nothing was stored; retry after Retry-After",
          "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}
