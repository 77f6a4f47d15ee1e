"""HTTP endpoints people and providers call back on: RFC 8058 one-click unsubscribe, the LINE
webhook (follow/unfollow) and inbound SMS (STOP). Transport only: the work is in
`activation.inbound.InboundService`."""

from __future__ import annotations

import asyncio
import html
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from api.errors import ApiError
from core.errors import VeilError

router = APIRouter(tags=["activation"])


def _api_error(exc: VeilError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, field=exc.field)


@router.get("/v1/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str) -> HTMLResponse:
    """A confirmation page (a GET never unsubscribes: mail scanners follow links)."""
    t = html.escape(token, quote=True)
    return HTMLResponse(f"""<!doctype html><meta charset="utf-8"><title>Unsubscribe</title>
<form method="post" action="/v1/unsubscribe/{t}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<p>Stop marketing e-mail from us? 不再收到行銷郵件？</p><button type="submit">Unsubscribe 取消訂閱</button></form>""")


@router.post("/v1/unsubscribe/{token}")
async def unsubscribe(token: str, request: Request) -> PlainTextResponse:
    """RFC 8058 one-click unsubscribe: withdraws e-mail marketing consent at once."""
    try:
        await asyncio.to_thread(request.app.state.container.activation.inbound.unsubscribe, token)
    except VeilError as exc:
        raise _api_error(exc) from exc
    return PlainTextResponse("unsubscribed\n")


@router.post("/v1/activation/line/webhook/{workspace}")
async def line_webhook(workspace: str, request: Request,
                       x_line_signature: Annotated[str | None, Header()] = None) -> JSONResponse:
    """LINE Messaging API webhook (signature verified): unfollow withdraws, follow grants."""
    body = await request.body()
    try:
        counts = await asyncio.to_thread(request.app.state.container.activation.inbound.line_webhook, workspace,
                                         body, x_line_signature)
    except VeilError as exc:
        raise _api_error(exc) from exc
    return JSONResponse({"success": True, **counts})


@router.post("/v1/activation/sms/inbound/{workspace}")
async def sms_inbound(workspace: str, request: Request, token: str | None = None) -> JSONResponse:
    """An inbound SMS from the provider's callback (form `from`, `text`; shared token); STOP withdraws."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    sender, text = form.get("from"), form.get("text")
    if not sender or text is None:
        raise ApiError(400, "missing_field", "an inbound SMS needs form fields `from` and `text`",
                       field="from" if not sender else "text")
    try:
        stopped = await asyncio.to_thread(request.app.state.container.activation.inbound.sms_inbound, workspace,
                                          token, sender, text)
    except VeilError as exc:
        raise _api_error(exc) from exc
    return JSONResponse({"success": True, "stopped": stopped})
