"""The schema's protective layer: document limits, error coding and value-free error logs."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, ParserCache
from strawberry.types import ExecutionContext, ExecutionResult

from api.graphql.audit_scope import AuditScope
from api.graphql.errors import code_result, log_errors
from api.graphql.limits import DocumentLimits, Limits


class VeilSchema(strawberry.Schema):
    """A strawberry schema whose error log is ours: strawberry's logs each error's message,
    which quotes the query's literals and variables (a looked-up e-mail, a password)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """One structured line per error, without its message."""
        log_errors(errors, execution_context)

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Every result leaves coded: one mapper, whichever phase (or extension) failed."""
        result = await super().execute(*args, **kwargs)
        code_result(result, kwargs.get("context_value"))
        return result


def extensions(*, limits: Limits, introspection: bool, max_tokens: int) -> list[Any]:
    """Schema extensions in order: parse (bounded, cached), limits then validation, error coding."""
    out: list[Any] = [
        AuditScope,  # one audit transaction per request, flushed before the response (fail closed)
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        # Apps send the same few documents: parsing is cached per text, validation per document.
        lambda: ParserCache(maxsize=512),
        lambda: DocumentLimits(limits),  # per request: extensions hold the execution context
    ]
    if not introspection:
        out.append(DisableIntrospection)
    return out
