"""Segment-compatible collection routes: /v1/identify|track|page|screen|group|alias|batch|import,
Segment's short paths (/v1/i|t|p|s|g|a|b, what analytics.js posts to) and RudderStack's beacon path.

Bodies are read as JSON whatever the Content-Type (browsers send `text/plain` to avoid a
preflight), gzip is accepted, and the write key may come in the body (`writeKey`, as sendBeacon
sends it) or the query string when there is no Authorization header.
"""

from __future__ import annotations

import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import metrics
from api.collection_schema import BATCH_DOC, ERROR_RESPONSES, OK_RESPONSE, event_doc
from api.deps import ContainerDep, authenticate_source, write_key_from_header
from api.errors import ApiError, error_body
from collect.normalize import parse_timestamp
from collect.service import IngestResult
from core.errors import VeilError
from graph.driver import STORE_UNAVAILABLE
from graph.sources import SourceRecord

router = APIRouter(prefix="/v1", tags=["collection"])
beacon_router = APIRouter(tags=["collection"])
log = structlog.get_logger("veil.collect")
SINGLE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
# Segment's short paths (analytics.js): the first letter of each type; `b` is the batch.
SHORT_PATHS = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}


class _Inflight:
    """Counts concurrent ingest transactions; beyond the limit the API answers 429."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def acquire(self, limit: int) -> bool:
        with self.lock:
            if self.n >= limit:
                return False
            self.n += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.n -= 1


_inflight = _Inflight()


async def _read_body(request: Request, limit: int, code: str, what: str) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(400, code, f"{what} is {declared} bytes; the limit is {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit and request.headers.get("content-encoding", "").lower() != "gzip":
            raise ApiError(400, code, f"{what} is larger than the limit of {limit} bytes")
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = d.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise ApiError(400, "invalid_encoding", f"body is not valid gzip: {exc}") from exc
        if len(raw) > limit:
            raise ApiError(400, code, f"{what} is larger than the limit of {limit} bytes (after gzip)")
    if not raw.strip():
        raise ApiError(400, "invalid_json", "the request body is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}") from exc


def _result_body(result: IngestResult) -> dict[str, Any]:
    return {
        "success": not result.rejected,
        "received": result.received,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "rejected": [
            {"index": r.index, "code": r.code, "message": r.message, **({"field": r.field} if r.field else {})}
            for r in result.rejected
        ],
        **({"warnings": [{"index": i, "message": m} for i, m in result.warnings]} if result.warnings else {}),
    }


def _write_key(request: Request, body: dict[str, Any]) -> str | None:
    """Authorization header first, then the body's `writeKey`, then `?writeKey=` (beacons)."""
    key = write_key_from_header(request.headers.get("authorization"))
    if key is None and isinstance(body.get("writeKey"), str):
        key = body["writeKey"]
    if key is None:
        key = request.query_params.get("writeKey") or None
    return key


def _check_origin(container: ContainerDep, request: Request, source: SourceRecord) -> None:
    """A browser request (it has an Origin) must come from an origin this source allows."""
    origin = request.headers.get("origin")
    if not origin:
        return
    if not container.sources.origin_allowed(source, origin):
        log.info("origin_refused", origin=origin[:200], source=source.id)
        raise ApiError(403, "origin_not_allowed",
                       f"pages on {origin[:200]} may not send events with this write key; an admin can allow "
                       f"the origin with `veil sources origins`", field="Origin")


def _sent_at(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ApiError(400, "invalid_timestamp", "sentAt must be an ISO 8601 time", field="sentAt")
    return parsed


async def _ingest(
    container: ContainerDep, request: Request, events: list[Any], *, key: str | None,
    sent_at: datetime | None, forced_type: str | None,
) -> IngestResult:
    source = authenticate_source(container, key)
    _check_origin(container, request, source)
    settings = container.collect
    if not _inflight.acquire(settings.max_inflight):
        metrics.THROTTLED.inc()
        raise ApiError(429, "overloaded", "too many concurrent requests; retry after the delay",
                       headers={"Retry-After": str(settings.retry_after_seconds)})
    started = time.perf_counter()
    try:
        # Durable-log hook (issue 12): `intake` appends to the log and answers after the fsync;
        # with VEIL_LOG_BACKEND=direct it is the ingest service (answer after the graph commit).
        result = await run_in_threadpool(
            container.intake.ingest, events, workspace=source.workspace, source=source.id,
            received_at=datetime.now(UTC), sent_at=sent_at, forced_type=forced_type,
            sec_gpc=request.headers.get("sec-gpc"),
        )
    except STORE_UNAVAILABLE as exc:
        log.warning("ingest_unavailable", error=type(exc).__name__)
        raise ApiError(503, "store_unavailable", "the graph store is busy or unreachable; nothing was stored, retry",
                       headers={"Retry-After": str(settings.retry_after_seconds)}) from exc
    except VeilError as exc:  # the log is full or unwritable (503 + Retry-After): nothing was stored
        raise ApiError(exc.status, exc.code, exc.message, headers=exc.headers) from exc
    finally:
        _inflight.release()
    metrics.INGEST_SECONDS.observe(time.perf_counter() - started)
    metrics.record_ingest(result)
    return result


@router.post("/batch", openapi_extra=BATCH_DOC, responses={**OK_RESPONSE, **ERROR_RESPONSES})
@router.post("/import", openapi_extra=BATCH_DOC, responses={**OK_RESPONSE, **ERROR_RESPONSES})
@router.post("/b", openapi_extra=BATCH_DOC, responses={**OK_RESPONSE, **ERROR_RESPONSES})
@beacon_router.post("/beacon/v1/batch", openapi_extra=BATCH_DOC, responses={**OK_RESPONSE, **ERROR_RESPONSES})
async def batch(request: Request, container: ContainerDep) -> JSONResponse:
    """A batch of events (what the SDKs send); good events are stored, bad ones listed by index."""
    body = await _read_body(request, container.collect.max_batch_bytes, "batch_too_large", "the batch")
    if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
        raise ApiError(400, "invalid_batch", "the body must be an object with a 'batch' array", field="batch")
    events = body["batch"]
    if len(events) > container.collect.max_batch_events:
        raise ApiError(400, "batch_too_large",
                       f"{len(events)} events; the limit is {container.collect.max_batch_events} per batch")
    key = _write_key(request, body)
    sent_at = _sent_at(body.get("sentAt"))
    shared_ctx = body.get("context") if isinstance(body.get("context"), dict) else None
    if shared_ctx:
        events = [
            {**e, "context": {**shared_ctx, **(e.get("context") or {})}} if isinstance(e, dict)
            and isinstance(e.get("context", {}), dict) else e
            for e in events
        ]
    result = await _ingest(container, request, events, key=key, sent_at=sent_at, forced_type=None)
    if events and len(result.rejected) == len(events):
        return JSONResponse(
            error_body("all_events_rejected", "no event in the batch was valid", **_result_body(result)),
            status_code=400)
    return JSONResponse(_result_body(result))


def _single_route(kind: str):
    async def single(request: Request, container: ContainerDep) -> JSONResponse:
        body = await _read_body(request, container.collect.max_event_bytes, "event_too_large", "the event")
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_type", "the body must be a JSON object")
        key = _write_key(request, body)
        result = await _ingest(container, request, [body], key=key, sent_at=None, forced_type=kind)
        if result.rejected:
            r = result.rejected[0]
            raise ApiError(400, r.code, r.message, field=r.field)
        return JSONResponse(_result_body(result))

    single.__name__ = f"ingest_{kind}"
    single.__doc__ = f"One {kind} event."
    return single


for _kind in SINGLE_TYPES:
    router.add_api_route(f"/{_kind}", _single_route(_kind), methods=["POST"], name=f"ingest_{_kind}",
                         openapi_extra=event_doc(_kind), responses={**OK_RESPONSE, **ERROR_RESPONSES})
for _short, _kind in SHORT_PATHS.items():
    router.add_api_route(f"/{_short}", _single_route(_kind), methods=["POST"], name=f"ingest_{_kind}_short",
                         openapi_extra=event_doc(_kind), responses={**OK_RESPONSE, **ERROR_RESPONSES},
                         summary=f"One {_kind} event (Segment's short path)")
