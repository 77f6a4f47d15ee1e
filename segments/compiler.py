"""Compile a segment definition into one parameterised Cypher predicate over `p:Profile`.

Names that become part of the query text (trait property keys) must be on the catalog's
allow-list and pass `graph.segments.quote_key`; event names, identifier types and product
categories are checked against the catalog too, so a typo is an error rather than an empty
segment. Every value, including time-window cutoffs computed here, is a generated parameter
(`$v0`, `$v1`...). Problems are collected with their JSON path and raised together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import get_close_matches
from typing import Any

from consent.model import Channel
from graph import segments as q
from graph.identity import TRAIT_PREFIX
from segments.model import (
    INTERACTION_FIELDS,
    SCORE_FIELDS,
    AndCondition,
    Condition,
    ConsentCondition,
    CountSpec,
    EventCondition,
    IdentifierCondition,
    Issue,
    NotCondition,
    OrCondition,
    PropertyFilter,
    PurchaseCondition,
    ScoreCondition,
    SegmentError,
    SegmentRef,
    TraitCondition,
    parse_definition,
)

DEFAULT_PURCHASE_EVENTS = frozenset({"Order Completed"})
MAX_REFERENCE_DEPTH = 5
MAX_NODES = 500
_FIELD_KEYS = frozenset(INTERACTION_FIELDS)
SCORE_PREFIX = "score."
_SCORE_KEYS = frozenset(SCORE_PREFIX + n for n in SCORE_FIELDS)

# Given a segment id, its stored definition (None when the workspace has no such segment).
Resolver = Callable[[str], Condition | None]


@dataclass(frozen=True)
class Catalog:
    """Allow-lists for one workspace. `categories=None` skips the category check; `sealed_traits`
    are encrypted at rest, so only their presence can be tested in Cypher."""

    traits: frozenset[str]
    events: frozenset[str]
    identifier_types: frozenset[str]
    categories: frozenset[str] | None = None
    sealed_traits: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, traits: Iterable[str] = (), events: Iterable[str] = (),
           identifier_types: Iterable[str] = (), categories: Iterable[str] | None = None) -> Catalog:
        """A catalog from any iterables of names."""
        return cls(traits=frozenset(traits), events=frozenset(events),
                   identifier_types=frozenset(identifier_types),
                   categories=None if categories is None else frozenset(categories))


@dataclass(frozen=True)
class CompiledSegment:
    """A predicate over `p` (an active profile of `$ws`), its parameters and what it inlined."""

    predicate: str
    params: Mapping[str, Any]
    condition: Condition
    references: tuple[str, ...]
    now: datetime = field(compare=False)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(name: str) -> str:
    return repr(name if len(name) <= 64 else name[:61] + "...")


def _unknown(kind: str, name: str, known: frozenset[str]) -> str:
    hint = get_close_matches(name, sorted(known), n=1)
    return f"unknown {kind} {_show(name)}" + (f"; did you mean {hint[0]!r}?" if hint else "")


class _Compiler:
    def __init__(self, *, catalog: Catalog, resolve: Resolver | None, now: datetime,
                 purchase_events: frozenset[str], max_depth: int) -> None:
        self.catalog = catalog
        self.resolve = resolve
        self.now = now
        self.purchase_events = purchase_events
        self.max_depth = max_depth
        self.params: dict[str, Any] = {}
        self.issues: list[Issue] = []
        self.stack: list[str] = []
        self.references: list[str] = []
        self.nodes = 0
        self.trait_keys = frozenset(TRAIT_PREFIX + t for t in catalog.traits)

    def param(self, value: Any) -> str:
        name = f"v{len(self.params)}"
        self.params[name] = value
        return name

    def fail(self, path: str, code: str, message: str) -> str:
        self.issues.append(Issue(path, code, message))
        return q.FALSE

    def node(self, c: Condition, path: str) -> str:
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            return self.fail(path, "too_complex", f"a segment may have at most {MAX_NODES} conditions"
                                                  " (referenced segments included)")
        if isinstance(c, AndCondition | OrCondition):
            sep = q.AND if isinstance(c, AndCondition) else q.OR
            parts = [self.node(x, f"{_at(path, 'conditions')}[{i}]")
                     for i, x in enumerate(c.conditions)]
            return q.fill(q.GROUP, inner=sep.join(parts))
        if isinstance(c, NotCondition):
            return q.fill(q.NEGATE, inner=self.node(c.condition, _at(path, "condition")))
        if isinstance(c, TraitCondition):
            return self.trait(c, path)
        if isinstance(c, ScoreCondition):
            return self.compare(q.TRAIT_OPS, q.quote_key(SCORE_PREFIX + c.name, allowed=_SCORE_KEYS), c.op, c.value)
        if isinstance(c, IdentifierCondition):
            return self.identifier(c, path)
        if isinstance(c, EventCondition):
            return self.event(c, path)
        if isinstance(c, PurchaseCondition):
            return self.purchase(c, path)
        if isinstance(c, ConsentCondition):
            return self.consent(c)
        if isinstance(c, SegmentRef):
            return self.reference(c, path)
        raise TypeError(f"not a segment condition: {type(c).__name__}")  # pragma: no cover

    def trait(self, c: TraitCondition, path: str) -> str:
        at = _at(path, "name")
        if c.name not in self.catalog.traits:
            return self.fail(at, "unknown_trait", _unknown("trait", c.name, self.catalog.traits))
        try:
            key = q.quote_key(TRAIT_PREFIX + c.name, allowed=self.trait_keys)
        except q.UnsafeName as exc:
            return self.fail(at, "unsafe_name", f"trait name {exc}")
        if c.name in self.catalog.sealed_traits and c.op != "exists":
            # Ciphertexts are randomised per value: no comparison on them can run in the graph.
            return self.fail(_at(path, "op"), "encrypted_trait",
                             f"trait {_show(c.name)} holds personal data and is encrypted at rest; a segment can "
                             f"only test that it exists (op 'exists'), not compare its value with {c.op!r}")
        return self.compare(q.TRAIT_OPS, key, c.op, c.value)

    def compare(self, templates: Mapping[str, str], key: str, op: str, value: Any) -> str:
        if op == "exists":
            return q.fill(templates["exists"], key=key)
        v = self.param(value)
        if op in ("in", "contains"):
            return q.fill(templates[op], key=key, v=v)
        return q.fill(templates["compare"], key=key, op=q.COMPARE_OPS[op], v=v)

    def identifier(self, c: IdentifierCondition, path: str) -> str:
        known = self.catalog.identifier_types
        if c.identifier not in known:
            return self.fail(_at(path, "identifier"), "unknown_identifier_type",
                             _unknown("identifier type", c.identifier, known))
        has = q.fill(q.HAS_IDENTIFIER, v=self.param(c.identifier))
        return has if c.present else q.fill(q.NEGATE, inner=has)

    def where_filter(self, f: PropertyFilter, path: str) -> str:
        try:
            key = q.quote_key(f.field, allowed=_FIELD_KEYS)
        except q.UnsafeName as exc:  # pragma: no cover - the model's Literal already refuses
            return self.fail(f"{path}.field", "unsafe_name", f"field {exc}")
        return self.compare(q.FIELD_OPS, key, f.op, f.value)

    def window(self, c: EventCondition | PurchaseCondition) -> list[str]:
        if c.window is None:
            return []
        return [q.fill(q.EVENT_SINCE, v=self.param(c.window.cutoff(self.now)))]

    def counted(self, where: str, count: CountSpec) -> str:
        if count.op == "at_least" and count.n <= 1:
            return q.fill(q.EVENT_EXISTS, where=where) if count.n == 1 else q.TRUE
        if count.op in ("exactly", "at_most") and count.n == 0:
            return q.fill(q.NEGATE, inner=q.fill(q.EVENT_EXISTS, where=where))
        return q.fill(q.EVENT_COUNT, where=where, op=q.COUNT_OPS[count.op], v=self.param(count.n))

    def event(self, c: EventCondition, path: str) -> str:
        parts: list[str] = []
        if c.event is not None:
            if c.event not in self.catalog.events:
                return self.fail(_at(path, "event"), "unknown_event",
                                 _unknown("event", c.event, self.catalog.events))
            parts.append(q.fill(q.EVENT_NAME, v=self.param(c.event)))
        if c.interaction_type is not None:
            parts.append(q.fill(q.EVENT_TYPE, v=self.param(c.interaction_type)))
        parts += self.window(c)
        base = _at(path, "where")
        parts += [self.where_filter(f, f"{base}[{i}]") for i, f in enumerate(c.where)]
        if c.not_followed_by is not None:
            follow = c.not_followed_by
            known = self.catalog.events | self.purchase_events  # "no order yet" is fine in a new workspace
            if follow.event not in known:
                return self.fail(_at(path, "not_followed_by.event"), "unknown_event",
                                 _unknown("event", follow.event, known))
            span = follow.within.span()
            parts.append(q.fill(q.NOT_FOLLOWED, due=self.param(self.now - span), event=self.param(follow.event),
                                span=self.param(span)))
        where = q.AND.join(parts)
        if c.revenue is not None:
            return q.fill(q.EVENT_REVENUE, where=where, op=q.COUNT_OPS[c.revenue.op],
                          v=self.param(float(c.revenue.value)))
        return self.counted(where, c.count or CountSpec())

    def purchase(self, c: PurchaseCondition, path: str) -> str:
        if c.categories is not None:
            known = self.catalog.categories
            if known is not None:
                base = _at(path, "categories")
                bad = [(i, x) for i, x in enumerate(c.categories) if x not in known]
                for i, x in bad:
                    self.fail(f"{base}[{i}]", "unknown_category", _unknown("product category", x, known))
                if bad:
                    return q.FALSE
            product = q.fill(q.PRODUCT_CATEGORY_IN, v=self.param(list(c.categories)))
        else:
            product = q.fill(q.PRODUCT_ID_IN, v=self.param(list(c.product_ids or ())))
        events = q.fill(q.EVENT_NAME_IN, v=self.param(sorted(self.purchase_events)))
        where = q.fill(q.PURCHASE_WHERE, where=q.AND.join([events, *self.window(c)]), product=product)
        return self.counted(where, c.count)

    def consent(self, c: ConsentCondition) -> str:
        channels = sorted({c.channel.value, Channel.any.value})
        return q.fill(q.CONSENT_GRANTED, purpose=self.param(c.purpose.value), channels=self.param(channels),
                      channel=self.param(c.channel.value), now=self.param(self.now))

    def reference(self, c: SegmentRef, path: str) -> str:
        at = _at(path, "id")
        if c.id in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(c.id):], c.id])
            return self.fail(at, "segment_cycle", f"segments reference each other in a cycle: {chain}")
        if len(self.stack) >= self.max_depth:
            return self.fail(at, "segment_too_deep",
                             f"segment references are nested deeper than {self.max_depth} levels")
        target = self.resolve(c.id) if self.resolve is not None else None
        if target is None:
            return self.fail(at, "unknown_segment", f"no saved segment {_show(c.id)}")
        if c.id not in self.references:
            self.references.append(c.id)
        self.stack.append(c.id)
        try:
            inner = self.node(target, f"{path}<segment {c.id}>")
        finally:
            self.stack.pop()
        return q.fill(q.GROUP, inner=inner)


def compile_segment(
    definition: Condition | Mapping[str, Any] | str, *, catalog: Catalog, resolve: Resolver | None = None,
    now: datetime | None = None, segment_id: str | None = None,
    purchase_events: Iterable[str] = DEFAULT_PURCHASE_EVENTS, max_depth: int = MAX_REFERENCE_DEPTH,
) -> CompiledSegment:
    """Validate and compile a definition; `segment_id` is the segment being saved (for cycles)."""
    condition = parse_definition(definition)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    c = _Compiler(catalog=catalog, resolve=resolve, now=now, purchase_events=frozenset(purchase_events),
                  max_depth=max_depth)
    if segment_id is not None:
        c.stack.append(segment_id)
    predicate = c.node(condition, "")
    if c.issues:
        first = c.issues[0]
        raise SegmentError(first.code, f"{first.path or '(root)'}: {first.message}", tuple(c.issues))
    return CompiledSegment(predicate=predicate, params=dict(c.params), condition=condition,
                           references=tuple(c.references), now=now)
