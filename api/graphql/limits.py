"""Static limits on a GraphQL document, in time linear in its size.

One pass over the document computes each operation's depth, alias count and cost; a fragment
is scored once (memoised) however often it is spread, so a document in which each fragment
spreads the previous one twice costs as much to check as it is long, while its score grows
with the expansion and is refused. Fragments are scored in dependency order without recursing
through spreads, and a fragment cycle is found before anything is scored.

Cost counts every field once per time it would be resolved: a field carrying a page-size
argument (`first`, `sampleSize`; its value, the variable's value or the schema default)
multiplies the cost of everything below it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.language import Node
from graphql.validation import ASTValidationRule, ValuesOfCorrectTypeRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from core.errors import VeilError

PAGE_ARGS = ("first", "sampleSize")


@dataclass(frozen=True)
class Limits:
    """The ceilings one document must stay under."""

    max_depth: int = 8
    max_aliases: int = 15
    max_cost: int = 10_000


@dataclass(frozen=True)
class Score:
    """Depth, aliases and cost of a selection set (a fragment's is computed once)."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


class LimitExceeded(VeilError):
    """The document is refused before validation and execution."""

    code = "query_refused"
    status = 400

    def __init__(self, code: str, message: str, node: Node | None = None, **extensions: Any) -> None:
        super().__init__(message, code=code.lower())
        self.error = GraphQLError(message, nodes=[node] if node is not None else None,
                                  extensions={"code": code, **extensions})


def _spreads(selection_set: SelectionSetNode | None) -> Iterator[str]:
    """Names of the fragments spread anywhere in a selection set (iteratively)."""
    stack = [selection_set] if selection_set is not None else []
    while stack:
        for sel in stack.pop().selections:
            if isinstance(sel, FragmentSpreadNode):
                yield sel.name.value
            elif isinstance(sel, (FieldNode, InlineFragmentNode)) and sel.selection_set is not None:
                stack.append(sel.selection_set)


def _dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragments so that each comes after those it spreads; LimitExceeded on a cycle."""
    deps = {name: [d for d in dict.fromkeys(_spreads(f.selection_set)) if d in fragments]
            for name, f in fragments.items()}
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in fragments:
        if state.get(root):
            continue
        state[root] = 1
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(deps[root]))]
        while stack:
            name, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif state.get(nxt) == 1:
                raise LimitExceeded("BAD_REQUEST", f"fragment '{nxt}' spreads itself (directly or through others)",
                                    fragments[nxt], reason="fragment_cycle")
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(deps[nxt])))
    return order


class _Scorer:
    """Scores selection sets; fragments must be scored in dependency order first."""

    def __init__(self, schema: GraphQLSchema, variables: Mapping[str, Any], limits: Limits) -> None:
        self.schema = schema
        self.variables = variables
        self.limits = limits
        self.fragments: dict[str, Score] = {}

    def page_size(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        """How many times the field's children are resolved (1 for a field without a page size)."""
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) or node.name.value not in parent.fields:
            return 1
        args = parent.fields[node.name.value].args
        for name in PAGE_ARGS:
            if name not in args:
                continue
            value: Any = args[name].default_value
            for arg in node.arguments or ():
                if arg.name.value == name:
                    if isinstance(arg.value, IntValueNode):
                        value = int(arg.value.value)
                    elif isinstance(arg.value, VariableNode):
                        given = self.variables.get(arg.value.name.value)
                        value = given if isinstance(given, int) else value  # else coercion refuses it
            if isinstance(value, int) and not isinstance(value, bool):
                return max(1, value)
        return 1

    def selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, level: int) -> Score:
        """Score of a selection set nested `level` fields deep."""
        if level > self.limits.max_depth + 1:  # stop walking at once: no recursion past the limit
            raise LimitExceeded("QUERY_TOO_DEEP", f"the query nests deeper than {self.limits.max_depth} levels",
                                selection_set, limit=self.limits.max_depth)
        total = Score()
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                alias = 1 if sel.alias is not None else 0
                if sel.selection_set is None:
                    total = total + Score(0, alias, 1)
                    continue
                child_type = None
                if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) and sel.name.value in parent.fields:
                    child_type = get_named_type(parent.fields[sel.name.value].type)
                sub = self.selection_set(sel.selection_set, child_type, level + 1)
                total = total + Score(sub.depth + 1, sub.aliases + alias, 1 + self.page_size(sel, parent) * sub.cost)
            elif isinstance(sel, FragmentSpreadNode):
                total = total + self.fragments.get(sel.name.value, Score())
            elif isinstance(sel, InlineFragmentNode):
                cond = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                total = total + self.selection_set(sel.selection_set, cond, level)
        return total


def _variable_values(op: OperationDefinitionNode | None, variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Provided variables over the operation's literal integer defaults."""
    values: dict[str, Any] = {}
    for var in (op.variable_definitions or ()) if op is not None else ():
        if isinstance(var.default_value, IntValueNode):
            values[var.variable.name.value] = int(var.default_value.value)
    values.update(variables or {})
    return values


def check(schema: GraphQLSchema, document: DocumentNode, *, variables: Mapping[str, Any] | None,
          operation_name: str | None, limits: Limits) -> dict[str, Score]:
    """Every operation's score; raises LimitExceeded for the first limit a document breaks.

    Refuses several operations without an operation name (strawberry would run the first).
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if len(operations) > 1 and operation_name is None:
        raise LimitExceeded("BAD_REQUEST", "the document has several operations: name one with operationName",
                            operations[1], reason="operation_name_required")
    chosen = next((op for op in operations if operation_name is None or
                   (op.name is not None and op.name.value == operation_name)), None)
    scorer = _Scorer(schema, _variable_values(chosen, variables), limits)
    for name in _dependency_order(fragments):
        frag = fragments[name]
        scorer.fragments[name] = scorer.selection_set(frag.selection_set,
                                                      schema.get_type(frag.type_condition.name.value), 1)
    scores: dict[str, Score] = {}
    for op in operations:  # the whole document's score is reported, not the first fragment's
        root = schema.get_root_type(op.operation)
        scores[op.name.value if op.name else ""] = _checked(scorer.selection_set(op.selection_set, root, 1), op,
                                                              limits)
    for name, score in scorer.fragments.items():  # fragments no operation uses are bounded too
        _checked(score, fragments[name], limits)
    return scores


def _checked(score: Score, node: Node, limits: Limits) -> Score:
    if score.depth > limits.max_depth:
        raise LimitExceeded("QUERY_TOO_DEEP", f"the query nests {score.depth} levels; the limit is {limits.max_depth}",
                            node, depth=score.depth, limit=limits.max_depth)
    if score.aliases > limits.max_aliases:
        raise LimitExceeded("TOO_MANY_ALIASES", f"the query uses {score.aliases} aliases; the limit is "
                            f"{limits.max_aliases}", node, aliases=score.aliases, limit=limits.max_aliases)
    if score.cost > limits.max_cost:
        raise LimitExceeded("QUERY_TOO_COMPLEX", f"the query would cost {score.cost}; the limit is {limits.max_cost} "
                            "(fields x page sizes: ask for smaller pages or fewer fields)", node,
                            cost=score.cost, limit=limits.max_cost)
    return score


class _LocatedValuesOfCorrectType(ValuesOfCorrectTypeRule):
    """Strawberry's scalars raise errors without a location; give them the literal's."""

    _node: Node | None = None

    def is_valid_value_node(self, node: Any, input_type: Any) -> Any:
        self._node = node
        return super().is_valid_value_node(node, input_type)

    def report_error(self, error: GraphQLError) -> None:
        if not error.nodes and self._node is not None:
            error = GraphQLError(error.message, nodes=[self._node], original_error=error.original_error,
                                 extensions=error.extensions)
        super().report_error(error)


@lru_cache(maxsize=512)
def _validate(schema: GraphQLSchema, document: DocumentNode,
              rules: tuple[type[ASTValidationRule], ...]) -> tuple[GraphQLError, ...]:
    """graphql-core validation (with strawberry's rules), cached per document: apps send the same few."""
    return tuple(validate_document(schema, document, rules))


class DocumentLimits(SchemaExtension):
    """Checks the limits before graphql-core validates, then validates (cached)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_validate(self) -> Iterator[None]:
        """Refused documents skip validation: it is never run on an exploding document."""
        ctx = self.execution_context
        assert ctx.graphql_document is not None
        try:
            check(ctx.schema._schema, ctx.graphql_document, variables=ctx.variables,
                  operation_name=getattr(ctx, "_provided_operation_name", None), limits=self.limits)
        except LimitExceeded as exc:
            ctx.pre_execution_errors = [exc.error]
        else:
            rules = tuple(_LocatedValuesOfCorrectType if r is ValuesOfCorrectTypeRule else r
                          for r in ctx.validation_rules)
            ctx.pre_execution_errors = list(_validate(ctx.schema._schema, ctx.graphql_document, rules))
        yield
