"""The one base class of domain errors: a stable code, an HTTP status, a message and where.

Every transport (HTTP/REST, GraphQL, CLI) has one mapper that renders a `VeilError` from its
`code`, `status`, `message` and `field`; anything else is a server fault and is masked.
"""

from __future__ import annotations

from typing import Any


class VeilError(Exception):
    """A client-actionable error. Subclasses set `code` and `status` as class attributes."""

    code: str = "bad_request"
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if not isinstance(getattr(type(self), "field", None), property):  # some derive it (SegmentError)
            self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(VeilError):
    """The request is malformed or names something invalid."""

    code = "bad_request"
    status = 400


class Unauthenticated(VeilError):
    """No or invalid credentials."""

    code = "unauthenticated"
    status = 401


class PermissionDenied(VeilError):
    """The principal's role does not allow the action."""

    code = "forbidden"
    status = 403


class NotFoundError(VeilError):
    """The object does not exist, or belongs to another tenant (indistinguishable by design)."""

    code = "not_found"
    status = 404


class Conflict(VeilError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409


class TooManyRequests(VeilError):
    """Rate limit or overload; carries Retry-After."""

    code = "rate_limited"
    status = 429


class Unavailable(VeilError):
    """A backing store is unreachable; retry later."""

    code = "unavailable"
    status = 503
