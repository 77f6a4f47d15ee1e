"""/graphql over HTTP: gates that run before a document is parsed, and coded HTTP errors.

- `GraphQLGate` (ASGI): JSON content type only (415) and a body-size ceiling (413), checked
  before the body is parsed; a body without Content-Length is counted as it streams in.
- `RateLimiter`: token buckets per principal, or per client IP for requests without valid
  credentials (429 with Retry-After). Buckets live in the worker process.
- `VeilGraphQLRouter`: strawberry's transport errors (bad JSON, unknown operation name, GET
  queries, batches) answer coded JSON instead of plain text.

Every refusal has the GraphQL error shape: `{"errors": [{"message", "extensions": {"code"}}]}`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from cross_web import HTTPException
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from api.logs import request_id_var
from core.errors import TooManyRequests, VeilError

GRAPHQL_PATH = "/graphql"
JSON_TYPES = ("application/json", "application/graphql-response+json")


def error_document(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    """A GraphQL response carrying one coded error (and the request id)."""
    ext: dict[str, Any] = {"code": code, **extensions}
    rid = request_id_var.get()
    if rid:
        ext["request_id"] = rid
    return {"data": None, "errors": [{"message": message, "extensions": ext}]}


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


class GraphQLGate:
    """Refuses non-JSON and oversized /graphql requests before anything reads them."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, path: str = GRAPHQL_PATH) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if ctype not in JSON_TYPES:
            await _send_json(send, 415, error_document(
                "UNSUPPORTED_MEDIA_TYPE", "send the GraphQL request as JSON (Content-Type: application/json)"))
            return
        too_large = error_document("PAYLOAD_TOO_LARGE", f"the request body is larger than {self.max_body_bytes} "
                                   "bytes", limit=self.max_body_bytes)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _send_json(send, 413, too_large, {"connection": "close"})
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _send_json(send, 413, too_large, {"connection": "close"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the disconnect, when the app waits for one
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class RateLimited(TooManyRequests):
    """A principal or client IP sent more than its rate."""

    code = "rate_limited"


class RateLimiter:
    """Token buckets keyed by principal or client IP (LRU-bounded, thread-safe)."""

    def __init__(self, *, rate: float, burst: int, anonymous_rate: float, anonymous_burst: int,
                 max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = rate, burst
        self.anonymous_rate, self.anonymous_burst = anonymous_rate, anonymous_burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def charge(self, key: str, *, anonymous: bool) -> None:
        """Take one token from the key's bucket; RateLimited (with Retry-After) when it is empty."""
        rate, burst = (self.anonymous_rate, self.anonymous_burst) if anonymous else (self.rate, self.burst)
        if rate <= 0:
            return
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                tokens -= 1.0
                retry = 0
            else:
                retry = max(1, math.ceil((1.0 - tokens) / rate))
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        if retry:
            raise RateLimited(f"too many requests; retry in {retry} s", headers={"Retry-After": str(retry)},
                              extra={"retry_after_seconds": retry, "limit_per_second": rate})


def rate_limited_context(getter: Callable[[Request, Response], Awaitable[dict[str, Any]]],
                         limiter: RateLimiter) -> Callable[[Request, Response], Awaitable[dict[str, Any]]]:
    """Wrap the GraphQL context getter: charge the caller's bucket before the body is parsed.

    A request with valid credentials is charged to its principal; one without (login) or with
    refused credentials to its client IP, so forged tokens cannot mint fresh buckets.
    """

    async def context(request: Request, response: Response) -> dict[str, Any]:
        ctx = await getter(request, response)
        try:
            principal = ctx["veil"].principal  # cached on the context: resolvers reuse it
            key, anonymous = f"principal:{principal.workspace}:{principal.id}", False
        except Exception:  # noqa: BLE001 - refused credentials or a failing key store: resolvers report why
            key, anonymous = f"ip:{request.client.host if request.client else 'unknown'}", True
        limiter.charge(key, anonymous=anonymous)
        return ctx

    return context


async def veil_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """Render a VeilError raised before /graphql executes (the rate limit) as a GraphQL error."""
    assert isinstance(exc, VeilError)
    return JSONResponse(error_document(exc.code.upper(), exc.message, **exc.extra), status_code=exc.status,
                        headers=exc.headers)


_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
               415: "UNSUPPORTED_MEDIA_TYPE"}


class VeilGraphQLRouter(GraphQLRouter):
    """Strawberry's router, answering its transport errors as coded GraphQL errors."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Strawberry's `run`, with its HTTPException rendered as JSON."""
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            return JSONResponse(error_document(_HTTP_CODES.get(exc.status_code, "BAD_REQUEST"), exc.reason),
                                status_code=exc.status_code)


    def decode_json(self, data: str | bytes) -> object:
        """JSON the decoder refuses other than by JSONDecodeError is a client mistake too."""
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except RecursionError as exc:  # thousands of nested brackets
            raise HTTPException(400, "the request body nests too deeply") from exc
        except ValueError as exc:  # not UTF-8, or an integer of more than 4300 digits
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
