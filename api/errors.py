"""Domain errors with an HTTP status and a stable code, and their JSON rendering."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from api.logs import request_id_var
from core.errors import VeilError


class ApiError(VeilError):
    """An error the client can act on, raised by the HTTP transport itself."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None,
        headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, field=field, code=code, status=status, headers=headers, extra=extra)


def error_body(code: str, message: str, *, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body every error uses: `code` and `message` at the top (what rudder-sdk-python and
    other SDKs read) and the same in `error`, with the field and request id."""
    err: dict[str, Any] = {"code": code, "message": message}
    if field:
        err["field"] = field
    rid = request_id_var.get()
    if rid:
        err["request_id"] = rid
    return {"success": False, "code": code, "message": message, "error": err, **extra}


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Render any domain error (ApiError and every other VeilError) with its status and code."""
    assert isinstance(exc, VeilError)
    return JSONResponse(
        error_body(exc.code, exc.message, field=exc.field, **exc.extra),
        status_code=exc.status, headers=exc.headers,
    )
