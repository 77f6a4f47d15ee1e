"""The segment condition language: JSON conditions as pydantic models, with readable error paths.

A definition is one condition; `and`/`or`/`not` combine others. Example (dairy buyers who did
not buy meat in the last 90 days and have an e-mail address)::

    {"type": "and", "conditions": [
        {"type": "purchase", "categories": ["dairy"], "window": {"last": 90, "unit": "days"}},
        {"type": "not", "condition":
            {"type": "purchase", "categories": ["meat"], "window": {"last": 90, "unit": "days"}}},
        {"type": "identifier", "identifier": "email"}]}

Condition types:

- `and` / `or`: `conditions`, a non-empty list. `not`: `condition`, one condition.
- `trait`: `name`, `op` (eq, ne, gt, gte, lt, lte, in, contains, exists) and `value` (a scalar;
  a list for `in`; none for `exists`). `contains` is a substring of a text trait or an element
  of a list trait. Comparisons are false when the profile lacks the trait (so `ne` needs the
  trait present; `not` + `eq` does not).
- `score`: `name` (a model score: lifecycle_stage, rfm_segment, rfm_recency/frequency/monetary,
  stars, purchase_probability, expected_purchases, p_alive, clv, orders, revenue), `op` and
  `value` as for traits; false for people without scores.
- `identifier`: `identifier` (a type such as email, phone, member_id), `present` (default true).
- `event`: `event` (a track/page/screen name) and/or `interaction_type` (track, page, screen,
  identify, group, alias); `where`, filters on interaction fields (channel, store_id, revenue,
  currency, order_id, source, utm_source, utm_medium, utm_campaign); then either `count`
  ({"op": at_least|at_most|exactly, "n": N}, default at least 1) or `revenue` (total revenue,
  {"op": at_least|at_most, "value": X}); `window` ({"last": N, "unit": minutes|hours|days|weeks});
  `not_followed_by` ({"event": E, "within": {"last": N, "unit": ...}}) keeps only interactions at
  least that old with no E by the person within that span after them ("added to cart, no order
  within 30 minutes"). Such a condition changes with time alone: mark the segment realtime.
- `purchase`: `categories` or `product_ids` (exactly one), bought in a purchase event
  (`Order Completed`) within `window`; `count` as for events counts orders. "Never" is
  `{"op": "exactly", "n": 0}` or the condition wrapped in `not`.
- `consent`: `purpose`, `channel` (default any): a granted record (consent basis, not expired)
  on that channel or `any`, with no later denial or withdrawal. A targeting filter only: the
  consent gate still decides at activation.
- `segment`: `id` of another saved segment of the workspace, inlined when compiled (cycles and
  chains deeper than the limit are refused).

`definition_json_schema()` exports the JSON schema of the language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from consent.model import Channel, Purpose
from core.errors import VeilError

MAX_LIST = 1000
MAX_CHILDREN = 100
MAX_WINDOW_DAYS = 3660
# Quoting metacharacters (backtick, backslash for \u escapes) and control characters.
_UNSAFE_NAME = re.compile(r"[`\\\x00-\x1f\x7f]")

INTERACTION_TYPES = ("track", "page", "screen", "identify", "group", "alias")
# Scalar Interaction fields a filter may name (collect/service.py `_interaction_props`).
TEXT_FIELDS = ("channel", "store_id", "currency", "order_id", "source",
               "utm_source", "utm_medium", "utm_campaign")
NUMBER_FIELDS = ("revenue",)
INTERACTION_FIELDS = TEXT_FIELDS + NUMBER_FIELDS


class SegmentError(VeilError, ValueError):
    """A definition that cannot be used; `issues` point at the offending parts by JSON path."""

    code = "invalid_segment"

    status = 400

    issues: tuple[Issue, ...] = ()

    def __init__(self, code: str, message: str, issues: tuple[Issue, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.issues = issues

    @property
    def field(self) -> str | None:
        """Path of the first offending part (`conditions[1].name`), None for the whole input."""
        issues = getattr(self, "issues", ())
        return issues[0].path if issues else None

    def __str__(self) -> str:
        issues = getattr(self, "issues", ())
        if not issues:
            return self.message
        return "; ".join(f"{i.path or '(root)'}: {i.message}" for i in issues)


class SegmentNotFound(SegmentError):
    """No saved segment with that id in the workspace (another tenant's looks the same)."""

    status = 404

    def __init__(self, segment_id: str) -> None:
        super().__init__("segment_not_found", f"segment {segment_id!r} not found")


@dataclass(frozen=True)
class Issue:
    """One problem in a definition: where (JSON path), a stable code and a message."""

    path: str
    code: str
    message: str


def _safe_name(value: str) -> str:
    if _UNSAFE_NAME.search(value):
        raise ValueError("must not contain backticks, backslashes or control characters")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_safe_name)]
TraitName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_safe_name)]
Text = Annotated[str, StringConstraints(max_length=1000)]
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Scalar = Text | StrictBool | StrictInt | Number
ScalarList = Annotated[list[Scalar], Field(min_length=1, max_length=MAX_LIST)]
CompareOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Node):
    """A relative time window ending now: the last N units."""

    last: int = Field(ge=1, le=MAX_WINDOW_DAYS * 24 * 60)
    unit: Literal["minutes", "hours", "days", "weeks"] = "days"

    @model_validator(mode="after")
    def _bounded(self) -> Window:
        if self.span() > timedelta(days=MAX_WINDOW_DAYS):
            raise ValueError(f"window is longer than {MAX_WINDOW_DAYS} days")
        return self

    def span(self) -> timedelta:
        """The window's length."""
        return timedelta(**{self.unit: self.last})

    def cutoff(self, now: datetime) -> datetime:
        """The earliest time inside the window."""
        return now - self.span()


class CountSpec(_Node):
    """How many matching interactions (or orders)."""

    op: Literal["at_least", "at_most", "exactly"] = "at_least"
    n: int = Field(1, ge=0, le=1_000_000)


class RevenueSpec(_Node):
    """Total revenue of the matching interactions."""

    op: Literal["at_least", "at_most"] = "at_least"
    value: Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _check_value(op: str, value: Any, numbers_only: bool = False) -> None:
    if op == "exists":
        if value is not None:
            raise ValueError("`exists` takes no value")
        return
    if value is None:
        raise ValueError(f"`{op}` needs a value")
    if op == "in":
        if not isinstance(value, list):
            raise ValueError("`in` needs a list of values")
        items = value
    elif isinstance(value, list):
        raise ValueError(f"`{op}` needs a single value, not a list")
    else:
        items = [value]
    if op == "contains" and not all(isinstance(v, str) for v in items):
        raise ValueError("`contains` needs a text value")
    if numbers_only and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        raise ValueError("this field holds numbers: the value must be a number")


class PropertyFilter(_Node):
    """A filter on one scalar field of an interaction."""

    field: Literal["channel", "store_id", "currency", "order_id", "source",
                   "utm_source", "utm_medium", "utm_campaign", "revenue"]
    op: CompareOp
    value: Scalar | ScalarList | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> PropertyFilter:
        numeric = self.field in NUMBER_FIELDS
        if numeric and self.op == "contains":
            raise ValueError("`contains` applies to text fields only")
        _check_value(self.op, self.value, numbers_only=numeric)
        if not numeric and self.value is not None:
            items = self.value if isinstance(self.value, list) else [self.value]
            if not all(isinstance(v, str) for v in items):
                raise ValueError("this field holds text: the value must be text")
        return self


class TraitCondition(_Node):
    """Compare a profile trait."""

    type: Literal["trait"] = "trait"
    name: TraitName
    op: CompareOp
    value: Scalar | ScalarList | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> TraitCondition:
        _check_value(self.op, self.value)
        return self


class IdentifierCondition(_Node):
    """The profile has (or lacks) an identifier of a type."""

    type: Literal["identifier"] = "identifier"
    identifier: Name
    present: bool = True


class FollowUp(_Node):
    """An event that did not follow within a span (e.g. no order within 30 minutes of a cart add)."""

    event: Name
    within: Window


class EventCondition(_Node):
    """How often (or for how much revenue) the person did something, optionally recently."""

    type: Literal["event"] = "event"
    event: Name | None = None
    interaction_type: Literal["track", "page", "screen", "identify", "group", "alias"] | None = None
    where: Annotated[list[PropertyFilter], Field(max_length=20)] = []
    count: CountSpec | None = None
    revenue: RevenueSpec | None = None
    window: Window | None = None
    not_followed_by: FollowUp | None = None

    @model_validator(mode="after")
    def _shape(self) -> EventCondition:
        if self.event is None and self.interaction_type is None:
            raise ValueError("give `event` or `interaction_type`")
        if self.count is not None and self.revenue is not None:
            raise ValueError("give `count` or `revenue`, not both")
        return self


class PurchaseCondition(_Node):
    """Bought products of some categories (or some products), optionally recently."""

    type: Literal["purchase"] = "purchase"
    categories: Annotated[list[Name], Field(min_length=1, max_length=MAX_LIST)] | None = None
    product_ids: Annotated[list[Name], Field(min_length=1, max_length=MAX_LIST)] | None = None
    count: CountSpec = CountSpec()
    window: Window | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> PurchaseCondition:
        if (self.categories is None) == (self.product_ids is None):
            raise ValueError("give exactly one of `categories` or `product_ids`")
        return self


class ConsentCondition(_Node):
    """A standing granted consent for a purpose on a channel (or on `any`)."""

    type: Literal["consent"] = "consent"
    purpose: Purpose
    channel: Channel = Channel.any
    status: Literal["granted"] = "granted"


SCORE_FIELDS = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment", "lifecycle_stage", "stars",
                "purchase_probability", "expected_purchases", "p_alive", "clv", "orders", "revenue")


class ScoreCondition(_Node):
    """Compare a model score (see `veil analytics refresh`), e.g. stars >= 4 or stage = Sleep."""

    type: Literal["score"] = "score"
    name: Literal["rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment", "lifecycle_stage", "stars",
                  "purchase_probability", "expected_purchases", "p_alive", "clv", "orders", "revenue"]
    op: CompareOp
    value: Scalar | ScalarList | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> ScoreCondition:
        _check_value(self.op, self.value)
        return self


class SegmentRef(_Node):
    """Membership of another saved segment, by id."""

    type: Literal["segment"] = "segment"
    id: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class AndCondition(_Node):
    """All of the conditions."""

    type: Literal["and"] = "and"
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=MAX_CHILDREN)]


class OrCondition(_Node):
    """Any of the conditions."""

    type: Literal["or"] = "or"
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=MAX_CHILDREN)]


class NotCondition(_Node):
    """The condition does not hold."""

    type: Literal["not"] = "not"
    condition: Condition


Condition = Annotated[
    AndCondition | OrCondition | NotCondition | TraitCondition | ScoreCondition | IdentifierCondition
    | EventCondition | PurchaseCondition | ConsentCondition | SegmentRef,
    Field(discriminator="type"),
]
CONDITION_TYPES = ("and", "or", "not", "trait", "score", "identifier", "event", "purchase", "consent", "segment")

for _model in (AndCondition, OrCondition, NotCondition):
    _model.model_rebuild()

_ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)


def definition_json_schema() -> dict[str, Any]:
    """JSON schema of a segment definition (for editors and API docs)."""
    return _ADAPTER.json_schema()


def _path(loc: tuple[int | str, ...], data: Any) -> str:
    """`('and', 'conditions', 1, 'trait', 'name')` -> `conditions[1].name` (union tags dropped)."""
    out = ""
    node = data
    at_union = True  # the root, `condition` and each item of `conditions` are tagged unions
    prev: int | str | None = None
    for part in loc:
        if at_union and isinstance(node, dict) and node.get("type") == part:
            at_union = False  # pydantic's tag of the union member, not a key of the input
            continue
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            at_union = prev == "conditions"
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
            at_union = part == "condition"
        prev = part
    return out


def _issue(err: Any, data: Any) -> Issue:
    path = _path(tuple(err["loc"]), data)
    kind = err["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # Said in our words: pydantic's message would echo the input.
        return Issue(f"{path}.type" if path else "type", "unknown_condition_type",
                     f"`type` must be one of {', '.join(CONDITION_TYPES)}")
    if kind == "extra_forbidden":
        return Issue(path, "unknown_field", "unknown field")
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    return Issue(path, kind, msg)


def parse_definition(data: Any) -> Condition:
    """Validate a definition (a dict, JSON text or a Condition) or raise SegmentError with paths."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_none=True)
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise SegmentError("invalid_json", f"definition is not valid JSON: {exc.args[0]}") from None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        issues = tuple(_issue(e, data) for e in exc.errors(include_url=False, include_input=False))
        raise SegmentError("invalid_segment", "the segment definition is invalid", issues) from None


def dump_definition(condition: Condition) -> str:
    """The canonical JSON text of a definition (as stored)."""
    return _ADAPTER.dump_json(condition, exclude_none=True, exclude_defaults=False).decode()
