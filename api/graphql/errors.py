"""Domain errors -> GraphQL errors with stable codes; everything else is masked."""

from __future__ import annotations

from graphql import GraphQLError

from access.auth import AuthError
from access.authz import Forbidden
from access.pipeline import ConsentDenied, NotFound
from audit.service import AuditUnavailable
from privacy.catalog import CatalogError
from privacy.dsr import DsrError
from segments.model import SegmentError, SegmentNotFound


class ClientError(Exception):
    """A request the client can fix (bad argument, missing purpose)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def to_graphql(exc: Exception) -> GraphQLError | None:
    """A GraphQLError with `extensions.code` for known errors, None for unexpected ones."""
    if isinstance(exc, AuthError):
        return GraphQLError(exc.message, extensions={"code": "UNAUTHENTICATED", "reason": exc.code})
    if isinstance(exc, Forbidden):
        return GraphQLError(str(exc), extensions={"code": "FORBIDDEN"})
    if isinstance(exc, NotFound):
        return GraphQLError(str(exc), extensions={"code": "NOT_FOUND"})
    if isinstance(exc, ConsentDenied):
        return GraphQLError("not permitted for this purpose", extensions={
            "code": "CONSENT_DENIED", "reason": exc.decision.reason})
    if isinstance(exc, AuditUnavailable):
        return GraphQLError("audit trail unavailable; nothing was returned", extensions={"code": "AUDIT_UNAVAILABLE"})
    if isinstance(exc, SegmentNotFound):
        return GraphQLError(exc.message, extensions={"code": "NOT_FOUND"})
    if isinstance(exc, SegmentError):
        return GraphQLError(exc.message, extensions={
            "code": "BAD_REQUEST", "reason": exc.code,
            "issues": [{"path": i.path, "code": i.code, "message": i.message} for i in exc.issues]})
    if isinstance(exc, DsrError):
        code = "NOT_FOUND" if exc.code in ("case_not_found", "subject_not_found") else "BAD_REQUEST"
        return GraphQLError(exc.message, extensions={"code": code, "reason": exc.code})
    if isinstance(exc, CatalogError):
        return GraphQLError(exc.message, extensions={"code": "BAD_REQUEST", "reason": exc.code})
    if isinstance(exc, ClientError):
        return GraphQLError(exc.message, extensions={"code": exc.code})
    return None
