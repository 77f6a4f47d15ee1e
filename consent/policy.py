"""Consent policy: per jurisdiction, which lawful bases may justify each purpose.

The policy is data (`default_policy.json`, reasons in its "notes"), validated when loaded so a
bad file fails at start-up with the path of the offending entry, never at decision time.

Each purpose rule says:
- `lawful_bases`: the bases that may justify the purpose, in order of preference;
- `requires_consent`: true when consent is the only route (then `lawful_bases` is exactly
  ["consent"]); false when at least one non-consent basis is listed;
- `objection_blocks`: whether a denial/withdrawal record stops the purpose even on a
  non-consent basis (always true when consent is required);
- `gpc_blocks`: whether Global Privacy Control stops it;
- `consent_expiry_days`: how long a consent record without its own expiry counts (null: until
  withdrawn).

Floors that configuration cannot lower: marketing, sale and ads always honour objections and
GPC (the gate enforces this too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from consent.model import Jurisdiction, LawfulBasis, Purpose
from core.errors import VeilError

OBJECTION_FLOOR = frozenset({Purpose.marketing, Purpose.sale, Purpose.ads})
MAX_EXPIRY_DAYS = 3650
_E = TypeVar("_E", bound=Enum)
_TOP_KEYS = frozenset({"version", "notes", "jurisdictions"})
_JURISDICTION_KEYS = frozenset({"notes", "purposes"})
_RULE_KEYS = frozenset(
    {"lawful_bases", "requires_consent", "objection_blocks", "gpc_blocks", "consent_expiry_days"}
)


class PolicyError(VeilError, ValueError):
    """The policy file is invalid; `path` names the offending entry."""

    code = "configuration_error"
    status = 500

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class PurposeRule:
    """How one purpose may be justified in one jurisdiction."""

    lawful_bases: tuple[LawfulBasis, ...]
    requires_consent: bool
    objection_blocks: bool
    gpc_blocks: bool
    consent_expiry_days: int | None

    @property
    def non_consent_basis(self) -> LawfulBasis | None:
        """The preferred basis other than consent, if the purpose has one."""
        return next((b for b in self.lawful_bases if b is not LawfulBasis.consent), None)

    @property
    def accepts_consent(self) -> bool:
        """True when a consent record can justify the purpose."""
        return LawfulBasis.consent in self.lawful_bases


@dataclass(frozen=True)
class ConsentPolicy:
    """The validated policy: jurisdiction -> purpose -> rule (read-only mappings)."""

    version: str
    jurisdictions: Mapping[Jurisdiction, Mapping[Purpose, PurposeRule]]

    def rule(self, jurisdiction: Jurisdiction, purpose: Purpose) -> PurposeRule | None:
        """The rule for a purpose in a jurisdiction, None when the policy has none."""
        return self.jurisdictions.get(jurisdiction, {}).get(purpose)


def _keys(
    obj: Any, path: str, allowed: frozenset[str], required: frozenset[str]
) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PolicyError(path, "must be an object")
    for key in obj:
        if key not in allowed:
            raise PolicyError(f"{path}.{key}", "unknown key")
    for key in sorted(required - obj.keys()):
        raise PolicyError(f"{path}.{key}", "is required")
    return obj


def _member(kind: type[_E], value: Any, path: str, what: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise PolicyError(path, f"unknown {what} {value!r}") from None


def _nonempty_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise PolicyError(path, "must be a non-empty object")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(path, "must be true or false")
    return value


def _notes(value: Any, path: str) -> None:
    if isinstance(value, str):
        return
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return
    raise PolicyError(path, "must be a string or an object of strings")


def _rule(raw: Any, path: str, purpose: Purpose) -> PurposeRule:
    spec = _keys(raw, path, _RULE_KEYS | {"notes"}, _RULE_KEYS)
    if "notes" in spec:
        _notes(spec["notes"], f"{path}.notes")
    bases_raw = spec["lawful_bases"]
    if not isinstance(bases_raw, list) or not bases_raw:
        raise PolicyError(f"{path}.lawful_bases", "must be a non-empty list")
    bases: list[LawfulBasis] = []
    for i, item in enumerate(bases_raw):
        where = f"{path}.lawful_bases[{i}]"
        basis = _member(LawfulBasis, item, where, "lawful basis")
        if basis in bases:
            raise PolicyError(where, f"duplicate lawful basis {basis.value!r}")
        bases.append(basis)
    requires = _bool(spec["requires_consent"], f"{path}.requires_consent")
    objection = _bool(spec["objection_blocks"], f"{path}.objection_blocks")
    gpc = _bool(spec["gpc_blocks"], f"{path}.gpc_blocks")
    if requires and bases != [LawfulBasis.consent]:
        raise PolicyError(
            f"{path}.lawful_bases", 'requires_consent is true, so it must be exactly ["consent"]'
        )
    if not requires and bases == [LawfulBasis.consent]:
        raise PolicyError(
            f"{path}.requires_consent", "must be true when consent is the only lawful basis"
        )
    if requires and not objection:
        raise PolicyError(f"{path}.objection_blocks", "must be true when consent is required")
    if purpose in OBJECTION_FLOOR and not objection:
        raise PolicyError(f"{path}.objection_blocks", f"must be true for {purpose.value}")
    if purpose in OBJECTION_FLOOR and not gpc:
        raise PolicyError(f"{path}.gpc_blocks", f"must be true for {purpose.value}")
    days = spec["consent_expiry_days"]
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRY_DAYS
    ):
        raise PolicyError(
            f"{path}.consent_expiry_days", f"must be null or a whole number 1..{MAX_EXPIRY_DAYS}"
        )
    return PurposeRule(tuple(bases), requires, objection, gpc, days)


def parse_policy(data: Any) -> ConsentPolicy:
    """Validate a policy document (already parsed JSON) into a ConsentPolicy, or PolicyError."""
    top = _keys(data, "$", _TOP_KEYS, frozenset({"version", "jurisdictions"}))
    if not isinstance(top["version"], str) or not top["version"].strip():
        raise PolicyError("$.version", "must be a non-empty string")
    if "notes" in top:
        _notes(top["notes"], "$.notes")
    jurisdictions: dict[Jurisdiction, Mapping[Purpose, PurposeRule]] = {}
    for jname, jspec in _nonempty_object(top["jurisdictions"], "$.jurisdictions").items():
        jpath = f"$.jurisdictions.{jname}"
        jurisdiction = _member(Jurisdiction, jname, jpath, "jurisdiction")
        jspec = _keys(jspec, jpath, _JURISDICTION_KEYS, frozenset({"purposes"}))
        if "notes" in jspec:
            _notes(jspec["notes"], f"{jpath}.notes")
        rules: dict[Purpose, PurposeRule] = {}
        for pname, pspec in _nonempty_object(jspec["purposes"], f"{jpath}.purposes").items():
            ppath = f"{jpath}.purposes.{pname}"
            purpose = _member(Purpose, pname, ppath, "purpose")
            rules[purpose] = _rule(pspec, ppath, purpose)
        jurisdictions[jurisdiction] = MappingProxyType(rules)
    return ConsentPolicy(top["version"].strip(), MappingProxyType(jurisdictions))


def load_policy(path: Path | str | None = None) -> ConsentPolicy:
    """Load and validate a policy file; the shipped default_policy.json when path is None."""
    try:
        if path is None:
            text = resources.files("consent").joinpath("default_policy.json").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"consent policy {path or 'default_policy.json'}: {exc}") from exc
    return parse_policy(data)
