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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from privacy.catalog import ENTITY_CATEGORIES, CatalogScope, CatalogService
from privacy.masking import PiiCategory, mask_value

POLICY_FILE = Path(__file__).with_name("ingest_policy.json")
REJECT_CODE = "pii_rejected"
# Every recognizer needs a digit (any script) or an '@': text without one holds nothing to find.
_MAY_HOLD_PII = re.compile(r"[\d@＠]")


class Action(StrEnum):
    """What ingestion does with PII of a category."""

    ENCRYPT = "encrypt"
    TOKENIZE = "tokenize"
    REDACT = "redact"
    REJECT = "reject"
    ALLOW = "allow"


class IngestPolicyError(ValueError):
    """The ingest policy file is not valid (start-up stops)."""


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
    """Traits and properties after the policy, or the refusal."""

    traits: dict[str, Any]
    properties: dict[str, Any]
    refusal: Refusal | None = None
    findings: int = 0


class _Rejected(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


class IngestScanner:
    """Applies the catalog and the policy to a batch of events."""

    def __init__(self, *, catalog: CatalogService, policy: IngestPolicy, hmac_key: bytes) -> None:
        self.catalog = catalog
        self.policy = policy
        self.hmac_key = hmac_key

    def scan_batch(self, *, workspace: str,
                   events: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> list[ScannedEvent]:
        """One result per (traits, properties) pair, in order."""
        limit = self.catalog.sample_values
        samples: dict[tuple[str, str], list[Any]] = {}
        for traits, properties in events:
            for scope, bag in ((CatalogScope.TRAIT.value, traits), (CatalogScope.PROPERTY.value, properties)):
                for key, value in bag.items():
                    got = samples.setdefault((scope, key), [])
                    if len(got) < limit and value not in (None, ""):
                        got.append(value)
        categories = self.catalog.classify(workspace=workspace, samples=samples)
        return [self._event(traits, properties, categories) for traits, properties in events]

    def _event(self, traits: dict[str, Any], properties: dict[str, Any],
               categories: dict[tuple[str, str], PiiCategory]) -> ScannedEvent:
        found = [0]
        try:
            new_traits = self._bag(CatalogScope.TRAIT, "traits", traits, categories, found)
            new_props = self._bag(CatalogScope.PROPERTY, "properties", properties, categories, found)
        except _Rejected as exc:
            return ScannedEvent(traits, properties, exc.refusal, found[0])
        return ScannedEvent(new_traits, new_props, None, found[0])

    def _bag(self, scope: CatalogScope, prefix: str, bag: dict[str, Any],
             categories: dict[tuple[str, str], PiiCategory], found: list[int]) -> dict[str, Any]:
        out = bag
        for key, value in bag.items():
            if value is None:
                continue
            category = categories.get((scope.value, key), PiiCategory.FREE_TEXT)
            new = self._value(f"{prefix}.{key}", category, value, found)
            if new is not value:
                if out is bag:
                    out = dict(bag)
                out[key] = new
        return out

    def _value(self, where: str, category: PiiCategory, value: Any, found: list[int]) -> Any:
        action = self.policy.fields[category]
        if action is Action.REJECT:
            raise _Rejected(Refusal(REJECT_CODE, f"{where} is {category.value} data, which the privacy policy "
                                                 "does not accept", where))
        if action is Action.REDACT:
            return f"<{category.value.upper()}>"
        if action is Action.TOKENIZE:
            return mask_value("hmac", value, key=self.hmac_key)
        if category is PiiCategory.FREE_TEXT and isinstance(value, str):
            return self._free_text(where, value, found)
        return value

    def _free_text(self, where: str, text: str, found: list[int]) -> str:
        if not _MAY_HOLD_PII.search(text):
            return text
        from privacy.detection import scan_text  # Presidio loads on first use, not at import

        findings = scan_text(text)
        if not findings:
            return text
        found[0] += len(findings)
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
