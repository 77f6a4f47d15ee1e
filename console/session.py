"""The console's session: an HttpOnly, SameSite=Strict cookie holding the caller's bearer token
(a staff token from the `login` mutation, or an API key), with a CSRF header on every request.

`POST /console/session` takes the token in `Authorization: Bearer ...`, checks it with the same
authentication as GraphQL, and sets the cookie; its answer carries the CSRF value the page sends
back as `X-Veil-CSRF`. `DELETE /console/session` clears it. `SessionCookieAuth` turns the cookie
into the Authorization header for `/graphql` only when that header matches, so a cross-site form
or script can not ride the session; the token itself never reaches the page's storage.
"""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import SimpleCookie

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from access.auth import API_KEY_PREFIX, AuthError

COOKIE = "veil_console"
CSRF_HEADER = "x-veil-csrf"
GRAPHQL_PATH = "/graphql"

router = APIRouter(prefix="/console/session", include_in_schema=False)


def csrf_for(token: str) -> str:
    """The CSRF value bound to a session token (only a page that was handed it can send it)."""
    return hashlib.sha256(f"veil-console-csrf:{token}".encode()).hexdigest()[:40]


def _secure(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"success": False, "code": code, "message": message}, status_code=status)


@router.post("")
async def open_session(request: Request) -> JSONResponse:
    """Check the bearer token like GraphQL does, then keep it in an HttpOnly cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _error("missing_credentials", "send the token as 'Authorization: Bearer ...'", 401)
    auth = request.app.state.container.auth
    try:
        if token.startswith(API_KEY_PREFIX):
            principal = await run_in_threadpool(auth.authenticate_api_key, token)
            max_age = None
        else:
            principal = await run_in_threadpool(auth.authenticate_token, token)
            max_age = auth.settings.token_ttl_minutes * 60
    except AuthError as exc:
        return _error(exc.code, exc.message, 401)
    response = JSONResponse({"success": True, "csrf": csrf_for(token), "workspace": principal.workspace,
                             "roles": list(principal.roles), "expires_in_seconds": max_age})
    response.set_cookie(COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=_secure(request))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete("")
async def close_session(request: Request) -> JSONResponse:
    """Log out: forget the cookie (a staff token also expires on its own); CSRF-checked too."""
    token = request.cookies.get(COOKIE, "")
    if token and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf_for(token)):
        return _error("csrf_failed", "missing or wrong X-Veil-CSRF header for the console session", 403)
    response = JSONResponse({"success": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


class SessionCookieAuth:
    """For `/graphql` requests without an Authorization header: use the session cookie only when an
    X-Veil-CSRF header comes with it; a wrong one is refused with 403 `csrf_failed`. A cross-site
    request can send neither the header (no CORS) nor, with SameSite=Strict, the cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != GRAPHQL_PATH:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", ()))
        names = {k for k, _ in headers}
        cookie_raw = b"; ".join(v for k, v in headers if k == b"cookie").decode("latin-1")
        token = ""
        if cookie_raw and b"authorization" not in names:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie_raw)
            except Exception:  # noqa: BLE001 - a malformed Cookie header is treated as none
                jar = SimpleCookie()
            token = jar[COOKIE].value if COOKIE in jar else ""
        sent = next((v.decode("latin-1") for k, v in headers if k == CSRF_HEADER.encode()), "")
        if not token or not sent:  # no CSRF header: the cookie is not used (the request is anonymous)
            await self.app(scope, receive, send)
            return
        if not hmac.compare_digest(sent, csrf_for(token)):
            response = _error("csrf_failed", "missing or wrong X-Veil-CSRF header for the console session", 403)
            await response(scope, receive, send)
            return
        scope = dict(scope)
        scope["headers"] = [*headers, (b"authorization", f"Bearer {token}".encode("latin-1"))]
        await self.app(scope, receive, send)
