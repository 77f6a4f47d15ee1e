"""PII handling at ingestion: catalog lookup, free-text scanning and the per-category policy.

The policy (`privacy/ingest_policy.json`, validated at start-up) maps a PII category to an
action. `fields` acts on the whole value of a key the trait catalog puts in that category;
`free_text_findings` acts on each span the pattern recognizers find inside a free-text value,
by the category of what was found. Actions:

- `encrypt`: the value is kept here; protecting it at rest is the field-encryption layer's job
  (it encrypts every field the catalog classifies as PII before it reaches Neo4j);
- `tokenize`: replaced by a keyed HMAC token (`h:` + 24 hex, the masking `hmac` strategy with
  the privacy HMAC key), so equal values still join;
- `redact`: replaced by `<ENTITY_TYPE>` (a span) or `<CATEGORY>` (a whole value);
- `reject`: the event is refused with the code `pii_rejected`;
- `allow`: kept as is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.errors import VeilError
from privacy.catalog import ENTITY_CATEGORIES, CatalogScope, CatalogService
from privacy.masking import PiiCategory, mask_value
from privacy.prefilter import may_hold_pii

POLICY_FILE = Path(__file__).with_name("ingest_policy.json")
REJECT_CODE = "pii_rejected"
_WHERE = {"traits": "traits", "properties": "properties", "context_traits": "context.traits"}


class Action(StrEnum):
    """What ingestion does with PII of a category."""

    ENCRYPT = "encrypt"
    TOKENIZE = "tokenize"
    REDACT = "redact"
    REJECT = "reject"
    ALLOW = "allow"


class IngestPolicyError(VeilError, ValueError):
    """The ingest policy file is not valid (start-up stops)."""

    code = "configuration_error"
    status = 500


@dataclass(frozen=True)
class IngestPolicy:
    """Validated per-category actions."""

    fields: dict[PiiCategory, Action]
    free_text_findings: dict[PiiCategory, Action]


def parse_policy(data: Any) -> IngestPolicy:
    """Validate policy data; any unknown or missing category or action is an error."""
    if not isinstance(data, dict):
        raise IngestPolicyError("ingest policy: must be an object")
    out: dict[str, dict[PiiCategory, Action]] = {}
    required = {"fields": set(PiiCategory), "free_text_findings": set(ENTITY_CATEGORIES.values())}
    for section, needed in required.items():
        raw = data.get(section)
        if not isinstance(raw, dict):
            raise IngestPolicyError(f"ingest policy: '{section}' must be an object of category -> action")
        parsed: dict[PiiCategory, Action] = {}
        for cat, action in raw.items():
            try:
                parsed[PiiCategory(cat)] = Action(action)
            except ValueError as exc:
                raise IngestPolicyError(f"ingest policy {section}.{cat}: unknown category or action {action!r}; "
                                 f"actions are {', '.join(a.value for a in Action)}") from exc
        missing = sorted(c.value for c in needed - set(parsed))
        if missing:
            raise IngestPolicyError(f"ingest policy {section}: no action for {', '.join(missing)}")
        out[section] = parsed
    return IngestPolicy(fields=out["fields"], free_text_findings=out["free_text_findings"])


def load_ingest_policy(path: Path | None = None) -> IngestPolicy:
    """Load and validate the ingest policy file (the shipped one when `path` is None)."""
    return parse_policy(json.loads((path or POLICY_FILE).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Refusal:
    """Why the policy refuses an event (field names and entity types only, never values)."""

    code: str
    message: str
    field: str


@dataclass(frozen=True)
class ScannedEvent:
    """Traits, properties and context traits after the policy, or the refusal."""

    traits: dict[str, Any]
    properties: dict[str, Any]
    refusal: Refusal | None = None
    findings: int = 0
    context_traits: dict[str, Any] = field(default_factory=dict)


class _Rejected(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


@dataclass
class _Pending:
    """One event while the batch is processed: values replaced so far, texts waiting for the scan."""

    traits: dict[str, Any]
    properties: dict[str, Any]
    context_traits: dict[str, Any]
    refusal: Refusal | None = None
    texts: list[tuple[str, str, str]] | None = None  # (bag, key, text)
    findings: int = 0

    def put(self, bag: str, key: str, value: Any) -> None:
        current = getattr(self, bag)
        if current.get(key) is not value:
            setattr(self, bag, {**current, key: value})


class IngestScanner:
    """Applies the catalog and the policy to a batch of events."""

    def __init__(self, *, catalog: CatalogService, policy: IngestPolicy, hmac_key: bytes) -> None:
        self.catalog = catalog
        self.policy = policy
        self.hmac_key = hmac_key

    def scan_batch(self, *, workspace: str, events: Sequence[tuple[dict[str, Any], ...]]) -> list[ScannedEvent]:
        """One result per (traits, properties[, context traits]) tuple, in order. Free text of the
        whole batch is scanned in one recognizer pass."""
        events = [(e[0], e[1], e[2] if len(e) > 2 else {}) for e in events]
        limit = self.catalog.sample_values
        samples: dict[tuple[str, str], list[Any]] = {}
        for traits, properties, context_traits in events:
            for scope, bag in ((CatalogScope.TRAIT.value, traits), (CatalogScope.PROPERTY.value, properties),
                               (CatalogScope.TRAIT.value, context_traits)):
                for key, value in bag.items():
                    got = samples.setdefault((scope, key), [])
                    if len(got) < limit and value not in (None, ""):
                        got.append(value)
        categories = self.catalog.classify(workspace=workspace, samples=samples)
        pending = [self._fields(ev[0], ev[1], ev[2], categories) for ev in events]
        waiting = [(p, where, name, text) for p in pending if p.refusal is None and p.texts
                   for where, name, text in p.texts]
        if waiting:
            from privacy.detection import scan_texts  # Presidio loads on first use, not at import

            for (p, where, name, text), findings in zip(waiting, scan_texts([w[3] for w in waiting]), strict=True):
                if p.refusal is not None or not findings:
                    continue
                p.findings += len(findings)
                try:
                    p.put(where, name, self._apply_findings(f"{_WHERE[where]}.{name}", text, findings))
                except _Rejected as exc:
                    p.refusal = exc.refusal
        return [ScannedEvent(traits, properties, p.refusal, p.findings, ctx) if p.refusal is not None
                else ScannedEvent(p.traits, p.properties, None, p.findings, p.context_traits)
                for (traits, properties, ctx), p in zip(events, pending, strict=True)]

    def _fields(self, traits: dict[str, Any], properties: dict[str, Any], context_traits: dict[str, Any],
                categories: dict[tuple[str, str], PiiCategory]) -> _Pending:
        """Whole-value actions now; free text that may hold PII is queued for the batch scan."""
        p = _Pending(traits, properties, context_traits)
        for scope, bag, values in ((CatalogScope.TRAIT, "traits", traits),
                                   (CatalogScope.PROPERTY, "properties", properties),
                                   (CatalogScope.TRAIT, "context_traits", context_traits)):
            for key, value in values.items():
                if value is None:
                    continue
                category = categories.get((scope.value, key), PiiCategory.FREE_TEXT)
                action = self.policy.fields[category]
                where = f"{_WHERE[bag]}.{key}"
                if action is Action.REJECT:
                    p.refusal = Refusal(REJECT_CODE, f"{where} is {category.value} data, which the privacy "
                                                     "policy does not accept", where)
                    return p
                if action is Action.REDACT:
                    p.put(bag, key, f"<{category.value.upper()}>")
                elif action is Action.TOKENIZE:
                    p.put(bag, key, mask_value("hmac", value, key=self.hmac_key))
                elif category is PiiCategory.FREE_TEXT and isinstance(value, str) and may_hold_pii(value):
                    p.texts = [*(p.texts or []), (bag, key, value)]
        return p

    def _apply_findings(self, where: str, text: str, findings: list[Any]) -> str:
        parts: list[str] = []
        pos = 0
        for f in findings:
            category = ENTITY_CATEGORIES.get(f.entity_type, PiiCategory.FREE_TEXT)
            action = self.policy.free_text_findings.get(category, Action.REDACT)
            if action is Action.REJECT:
                raise _Rejected(Refusal(REJECT_CODE, f"{where} contains a {f.entity_type}, which the privacy "
                                                     "policy does not accept in free text", where))
            if action is Action.REDACT:
                replacement = f"<{f.entity_type}>"
            elif action is Action.TOKENIZE:
                replacement = mask_value("hmac", f.text, key=self.hmac_key)
            else:
                continue
            parts.append(text[pos:f.start])
            parts.append(replacement)
            pos = f.end
        if not parts:
            return text
        parts.append(text[pos:])
        return "".join(parts)
