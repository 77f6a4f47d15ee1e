"""The trait catalog service: classify each trait / property key once per workspace.

A key is classified the first time it is seen:
- `name`: its name gives the category away (`privacy.masking.category_by_name`, case,
  separator and full-width insensitive, English and Chinese names);
- `sampled_values`: otherwise the fast pattern recognizers run on its first sampled values;
  a value that *is* an ID / phone / e-mail / card gives that category, PII inside longer text
  gives `free_text`, numbers and booleans without PII give `non_pii`, other text `free_text`
  (fail closed: free text is masked on read and scanned at ingestion);
- `admin`: an admin's override (GraphQL `setTraitCategory`), which always wins.

Entries are cached per process and per workspace (reloaded every `refresh_seconds`), so
ingestion costs one catalog query per workspace and period, not one per event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.errors import VeilError
from graph.catalog import CatalogEntry, CatalogRepository
from privacy.masking import PiiCategory, category_by_name
from privacy.vault import is_pii_trait


class CatalogScope(StrEnum):
    """Where a key lives."""

    TRAIT = "trait"
    PROPERTY = "property"


class DecidedBy(StrEnum):
    """How a key's category was decided."""

    NAME = "name"
    SAMPLED_VALUES = "sampled_values"
    ADMIN = "admin"


SENSITIVITY: dict[PiiCategory, str] = {
    PiiCategory.GOVERNMENT_ID: "high", PiiCategory.FINANCIAL: "high",
    PiiCategory.CONTACT: "medium", PiiCategory.BIRTH_DATE: "medium", PiiCategory.LOCATION: "medium",
    PiiCategory.FREE_TEXT: "medium", PiiCategory.NON_PII: "low",
}
ENTITY_CATEGORIES: dict[str, PiiCategory] = {
    **dict.fromkeys(("TW_NATIONAL_ID", "HK_ID", "CN_RESIDENT_ID"), PiiCategory.GOVERNMENT_ID),
    **dict.fromkeys(("TW_PHONE", "HK_PHONE", "CN_PHONE", "EMAIL_ADDRESS", "LINE_USER_ID", "IP_ADDRESS"),
                    PiiCategory.CONTACT),
    **dict.fromkeys(("CREDIT_CARD", "IBAN_CODE"), PiiCategory.FINANCIAL),
    "BIRTH_DATE": PiiCategory.BIRTH_DATE,
}
# A finding covering at least this share of a value means the value is that entity.
WHOLE_VALUE_SHARE = 0.8
MAX_KEY_LENGTH = 128


class CatalogError(VeilError, ValueError):
    """A catalog change that cannot be applied (stable code)."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_category(value: str) -> PiiCategory:
    """A category name, or CatalogError(unknown_category)."""
    try:
        return PiiCategory(value)
    except ValueError as exc:
        raise CatalogError("unknown_category",
                           f"category must be one of {', '.join(c.value for c in PiiCategory)}") from exc


def validate_key(key: str) -> str:
    """A catalog key, or CatalogError(invalid_key)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise CatalogError("invalid_key", f"key must be 1-{MAX_KEY_LENGTH} characters")
    return key


def classify_values(values: Iterable[Any]) -> PiiCategory:
    """The category sampled values suggest (see the module docstring)."""
    from privacy.detection import scan_text  # Presidio loads on first use, not at import

    texts, scalars_only = [], True
    for v in values:
        if isinstance(v, (bool, int, float)):
            texts.append(str(v))
        elif isinstance(v, str):
            scalars_only = False
            texts.append(v)
        else:  # lists and objects: text of unknown shape
            return PiiCategory.FREE_TEXT
    whole: list[PiiCategory] = []
    partial = False
    for text in texts:
        stripped = text.strip()
        for f in scan_text(stripped):
            category = ENTITY_CATEGORIES.get(f.entity_type, PiiCategory.FREE_TEXT)
            if (f.end - f.start) >= WHOLE_VALUE_SHARE * len(stripped):
                whole.append(category)
            else:
                partial = True
    if partial:
        return PiiCategory.FREE_TEXT
    if whole:
        # The most sensitive category any sampled value showed.
        order = list(SENSITIVITY)
        return min(whole, key=order.index)
    return PiiCategory.NON_PII if scalars_only and texts else PiiCategory.FREE_TEXT


def classify_key(key: str, samples: list[Any]) -> tuple[PiiCategory, DecidedBy]:
    """Classify a new key by its name, else by its sampled values."""
    by_name = category_by_name(key)
    if by_name is not None:
        return by_name, DecidedBy.NAME
    return classify_values(samples), DecidedBy.SAMPLED_VALUES


class CatalogService:
    """Classifies keys at ingestion, answers categories on read, applies admin overrides."""

    def __init__(self, *, repo: CatalogRepository, sample_values: int = 5, refresh_seconds: float = 5.0) -> None:
        self.repo = repo
        self.sample_values = sample_values
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[tuple[str, str], CatalogEntry]]] = {}

    def entries(self, *, workspace: str) -> dict[tuple[str, str], CatalogEntry]:
        """The workspace's entries by (scope, key), from the per-process cache."""
        now = time.monotonic()
        cached = self._cache.get(workspace)
        if cached is not None and now - cached[0] < self.refresh_seconds:
            return cached[1]
        loaded = {(e.scope, e.key): e for e in self.repo.entries(workspace=workspace)}
        with self._lock:
            self._cache[workspace] = (now, loaded)
        return loaded

    def _remember(self, workspace: str, entries: Iterable[CatalogEntry]) -> None:
        with self._lock:
            cached = self._cache.get(workspace)
            if cached is None:
                return
            fresh = dict(cached[1])
            fresh.update({(e.scope, e.key): e for e in entries})
            self._cache[workspace] = (cached[0], fresh)

    def category(self, *, workspace: str, scope: CatalogScope | str, key: str) -> PiiCategory:
        """A key's category: the catalog's (an admin override wins), else by name, else free text."""
        entry = self.entries(workspace=workspace).get((str(scope), key))
        if entry is not None:
            return PiiCategory(entry.category)
        return category_by_name(key) or PiiCategory.FREE_TEXT

    def sealed_trait(self, workspace: str, name: str) -> bool:
        """Whether a trait's values are sealed at rest: an admin's classification wins, else the
        built-in rule by name (automatic classifications from samples do not seal on their own)."""
        entry = self.entries(workspace=workspace).get((CatalogScope.TRAIT.value, name))
        if entry is not None and entry.decided_by == "admin":
            return PiiCategory(entry.category) is not PiiCategory.NON_PII
        return is_pii_trait(name)

    def classify(self, *, workspace: str, samples: Mapping[tuple[str, str], list[Any]]) -> dict[tuple[str, str], PiiCategory]:
        """Categories of the keys seen in a batch; keys new to the catalog are classified and stored.

        `samples` maps (scope, key) to the key's values in this batch (first ones first)."""
        known = self.entries(workspace=workspace)
        out: dict[tuple[str, str], PiiCategory] = {}
        rows: list[dict[str, Any]] = []
        for (scope, key), values in samples.items():
            entry = known.get((scope, key))
            if entry is not None:
                out[(scope, key)] = PiiCategory(entry.category)
                continue
            if not key or len(key) > MAX_KEY_LENGTH:
                out[(scope, key)] = PiiCategory.FREE_TEXT  # odd keys are scanned, never catalogued
                continue
            if not values and category_by_name(key) is None:
                out[(scope, key)] = PiiCategory.FREE_TEXT  # nothing to judge yet: decide when values come
                continue
            category, decided_by = classify_key(key, values[: self.sample_values])
            out[(scope, key)] = category
            rows.append({"scope": scope, "key": key, "category": category.value,
                         "sensitivity": SENSITIVITY[category], "decided_by": decided_by.value, "actor": None})
        if rows:
            stored = self.repo.insert_if_absent(workspace=workspace, rows=rows, now=datetime.now(UTC))
            self._remember(workspace, stored)
            # Another worker may have decided first (or an admin): the stored decision counts.
            out.update({(e.scope, e.key): PiiCategory(e.category) for e in stored})
        return out

    def review(self, *, workspace: str, scope: CatalogScope | None = None) -> list[CatalogEntry]:
        """The catalog for review (read from the store, not the cache)."""
        return self.repo.entries(workspace=workspace, scope=scope.value if scope else None)

    def set_category(self, *, workspace: str, scope: CatalogScope, key: str, category: str,
                     actor: str) -> tuple[CatalogEntry, str | None]:
        """An admin override; returns the entry and the previous category."""
        cat = parse_category(category)
        validate_key(key)
        entry, previous = self.repo.set_override(workspace=workspace, scope=scope.value, key=key,
                                                 category=cat.value, sensitivity=SENSITIVITY[cat], actor=actor,
                                                 now=datetime.now(UTC))
        self.entries(workspace=workspace)
        self._remember(workspace, [entry])
        return entry, previous
