"""CORS for the collector, so tracking libraries on a brand's website can reach it.

Browsers preflight every call of analytics.js and RudderStack JS (they send `Authorization`).
A preflight carries no write key, so it is answered for an origin that some enabled source
allows; the request itself is then checked against its own source (api/collection.py). The
public SDK assets and settings documents answer any origin: they hold nothing secret.

A plain ASGI middleware, applied only to the collection paths (GraphQL stays same-origin).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

COLLECT_PREFIXES = ("/v1/", "/beacon/", "/sourceConfig")
PUBLIC_PREFIXES = ("/v1/projects/", "/sourceConfig", "/analytics.js/", "/analytics-next/", "/web-sdk/")
ALLOW_HEADERS = ("authorization, content-type, content-encoding, anonymousid, sentat, x-request-id, accept, "
                 "accept-language, sec-gpc")
ALLOW_METHODS = "GET, POST, OPTIONS"
EXPOSE_HEADERS = "Retry-After, X-Request-Id"
MAX_AGE = "600"


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": EXPOSE_HEADERS, "Vary": "Origin"}


class CollectorCors:
    """Answers preflights and adds CORS headers on the collection and SDK paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _allowed(self, scope: Scope, path: str, origin: str) -> bool:
        if path.startswith(PUBLIC_PREFIXES):
            return True
        container = scope["app"].state.container
        return bool(await run_in_threadpool(container.sources.origin_allowed_anywhere, origin))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(COLLECT_PREFIXES + PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = await self._preflight(scope, path, origin)
            await response(scope, receive, send)
            return
        if not await self._allowed(scope, path, origin):
            await self.app(scope, receive, send)  # the route refuses it (403) or answers without CORS
            return
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _cors_headers(origin).items()]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, path: str, origin: str) -> Response:
        if not await self._allowed(scope, path, origin):
            return JSONResponse(error_body(
                "origin_not_allowed", f"no source allows pages on {origin[:200]} to send events; an admin can "
                                      "allow the origin with `veil sources origins`", field="Origin"),
                status_code=403, headers={"Vary": "Origin"})
        return Response(status_code=204, headers={
            **_cors_headers(origin), "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": MAX_AGE})
