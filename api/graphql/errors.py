"""The GraphQL error mapper: every error leaves with a stable `extensions.code`.

Domain errors (`core.errors.VeilError` and the older classes) keep their message and get a
code; client mistakes found before execution (syntax, validation, variables) are BAD_REQUEST
with their location; everything else is a server fault, masked as "internal error" with the
request id. The same classification drives the one log line per error, which carries the code,
path, request id and operation name and never a message, a value or a variable.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.types import ExecutionContext

from access.auth import AuthError
from access.authz import Forbidden
from access.pipeline import ConsentDenied, NotFound
from api.logs import exception_frames, request_id_var
from audit.service import AuditUnavailable
from core.errors import VeilError
from privacy.catalog import CatalogError
from privacy.dsr import DsrError
from segments.model import SegmentError, SegmentNotFound

log = structlog.get_logger("veil.graphql")

INTERNAL = "INTERNAL_SERVER_ERROR"
# GraphQL code of a VeilError: its own code when clients branch on it, else its status class.
OWN_CODES = frozenset({"consent_denied", "audit_unavailable", "purpose_required"})
STATUS_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT",
                413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "BAD_REQUEST", 429: "RATE_LIMITED",
                503: "UNAVAILABLE"}
# Codes that also set the HTTP status of the GraphQL response.
HTTP_STATUS = {"UNAUTHENTICATED": 401, "AUDIT_UNAVAILABLE": 503, "UNAVAILABLE": 503, "RATE_LIMITED": 429}

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
# Strawberry's scalars append the Python parser's complaint after the offending value.
_PARSER_DETAIL = re.compile(r'(cannot represent an? [A-Za-z_]\w*: ".*")\.\s.*$', re.DOTALL)


class ClientError(VeilError):
    """A request the client can fix (bad argument, missing purpose)."""

    code = "BAD_REQUEST"  # GraphQL codes are upper case
    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _from_veil(exc: VeilError) -> tuple[str, dict[str, Any]]:
    code = exc.code.upper() if exc.code in OWN_CODES else STATUS_CODES.get(
        exc.status, "BAD_REQUEST" if 400 <= exc.status < 500 else "UNAVAILABLE")
    ext: dict[str, Any] = {**exc.extra}
    if exc.code.upper() != code:
        ext["reason"] = exc.code
    if exc.field:
        ext["field"] = exc.field
    return code, ext


def domain_error(exc: BaseException) -> tuple[str, str, dict[str, Any]] | None:
    """(code, message, extra extensions) of a known domain error; None for anything unexpected."""
    if isinstance(exc, AuthError):
        return "UNAUTHENTICATED", exc.message, {"reason": exc.code}
    if isinstance(exc, Forbidden):
        return "FORBIDDEN", str(exc), {}
    if isinstance(exc, NotFound):
        return "NOT_FOUND", str(exc), {}
    if isinstance(exc, ConsentDenied):
        return "CONSENT_DENIED", "not permitted for this purpose", {
            "reason": getattr(getattr(exc, "decision", None), "reason", None)}
    if isinstance(exc, AuditUnavailable):
        return "AUDIT_UNAVAILABLE", "audit trail unavailable; nothing was returned", {}
    if isinstance(exc, SegmentNotFound):
        return "NOT_FOUND", exc.message, {}
    if isinstance(exc, SegmentError):
        return "BAD_REQUEST", exc.message, {"reason": exc.code, "issues": [
            {"path": i.path, "code": i.code, "message": i.message} for i in exc.issues]}
    if isinstance(exc, DsrError):
        code = "NOT_FOUND" if exc.code in ("case_not_found", "subject_not_found") else "BAD_REQUEST"
        return code, exc.message, {"reason": exc.code}
    if isinstance(exc, CatalogError):
        return "BAD_REQUEST", exc.message, {"reason": exc.code}
    if isinstance(exc, ClientError):
        return exc.code, exc.message, {}
    if isinstance(exc, VeilError):
        code, ext = _from_veil(exc)
        return code, exc.message, ext
    return None


def to_graphql(exc: Exception) -> GraphQLError | None:
    """A GraphQLError with `extensions.code` for known errors, None for unexpected ones."""
    found = domain_error(exc)
    if found is None:
        return None
    code, message, ext = found
    return GraphQLError(message, extensions={"code": code, **ext})


def _root_cause(err: GraphQLError) -> BaseException | None:
    """The non-GraphQL exception behind an error, if any."""
    orig: BaseException | None = err.original_error
    while isinstance(orig, GraphQLError) and orig.original_error is not None:
        orig = orig.original_error
    return None if isinstance(orig, GraphQLError) else orig


def classify(err: GraphQLError) -> tuple[str, str, dict[str, Any]]:
    """(code, client message, extra extensions) of any error a GraphQL request produced."""
    code = (err.extensions or {}).get("code")
    if code and code != "GRAPHQL_VALIDATION_FAILED":
        return code, err.message, {k: v for k, v in (err.extensions or {}).items() if k != "code"}
    cause = _root_cause(err)
    if err.path is not None:  # raised while resolving a field
        found = domain_error(cause) if cause is not None else None
        if found is not None:
            return found
        if cause is None and isinstance(err.original_error, GraphQLError):
            return "BAD_REQUEST", err.message, {}  # a resolver refusing input as a GraphQLError
        return INTERNAL, "internal error", {}
    # No path: parsing, validation, variable coercion or operation selection, i.e. the request,
    # unless a non-GraphQL exception escaped from the machinery itself.
    variables = err.message.startswith("Variable '$")
    if cause is not None and not variables:
        found = domain_error(cause)
        return found if found is not None else (INTERNAL, "internal error", {})
    if isinstance(err, GraphQLSyntaxError) and "tokens. Parsing aborted" in err.message:
        return "QUERY_TOO_LARGE", err.message, {}
    message = _SUGGESTION.sub("", err.message)
    if cause is not None:
        message = message.replace(str(cause), "").rstrip(" ;:.") + "."
    message = _PARSER_DETAIL.sub(r"\1.", message)
    reason = ("syntax_error" if isinstance(err, GraphQLSyntaxError) else
              "invalid_variables" if variables else "invalid_document")
    return "BAD_REQUEST", message, {"reason": reason}


def coded(err: GraphQLError) -> GraphQLError:
    """The error as the client sees it: coded, located, masked when it is a server fault."""
    code, message, ext = classify(err)
    extensions: dict[str, Any] = {"code": code, **ext}
    if code == INTERNAL:
        rid = request_id_var.get()
        if rid:
            extensions["request_id"] = rid
    return GraphQLError(message, nodes=err.nodes, source=err.source, positions=err.positions, path=err.path,
                        original_error=None, extensions=extensions)


def log_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """One structured line per error: code, path, request id (bound), operation name; no text."""
    operation = None
    if execution_context is not None:
        try:
            operation = execution_context.operation_name
        except Exception:  # noqa: BLE001 - an unparsable document has no operation
            operation = None
    for err in errors:
        code, _message, _ext = classify(err)
        fields: dict[str, Any] = {"code": code, "path": ".".join(str(p) for p in err.path) if err.path else None,
                                  "operation": operation[:64] if operation else None}
        if code == INTERNAL:
            cause = _root_cause(err) or err
            log.error("graphql_error", error=type(cause).__name__, trace=exception_frames(cause), **fields)
        else:
            log.info("graphql_error", **fields)


def code_result(result: Any, context: Any) -> None:
    """Code (and mask) every error of a result, whatever phase produced it, and set the HTTP
    status some codes imply (401, 429, 503) on the response in the context."""
    errors = getattr(result, "errors", None)
    if not errors:
        return
    result.errors = [coded(e) for e in errors]
    response = context.get("response") if isinstance(context, dict) else None
    for err in result.errors:
        status = HTTP_STATUS.get((err.extensions or {}).get("code", ""))
        if status and response is not None:
            response.status_code = status
            break
