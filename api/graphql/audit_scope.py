"""One audit transaction per GraphQL request, written before the response leaves.

Resolvers record through the guard, which defers to the request's scope; after execution the
scope is flushed (one allowed-read record per person, listing every field group read). If the
audit store refuses, the response carries no data at all: nothing is returned unaudited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from audit.service import AuditUnavailable


class AuditScope(SchemaExtension):
    """Opens the guard's request scope around execution and flushes it before the response."""

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        veil = context.get("veil") if isinstance(context, dict) else None
        if veil is None:
            yield
            return
        guard = veil.c.guard
        with guard.request_scope() as scope:
            try:
                yield
            finally:
                self._flush(guard, scope, context)

    def _flush(self, guard: Any, scope: Any, context: dict[str, Any]) -> None:
        try:
            guard.flush(scope)
        except AuditUnavailable:
            result = self.execution_context.result
            if result is not None:
                result.data = None
                result.errors = [GraphQLError("the audit trail is unavailable; nothing was returned",
                                              extensions={"code": "AUDIT_UNAVAILABLE"})]
            response = context.get("response")
            if response is not None:
                response.status_code = 503
