"""Identity-resolution rules: identifier types, their priority, per-profile limits, blocked values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# Built-in identifier types. Higher priority = more trusted: the profile of the most trusted
# identifier in an event is the one the event lands on and the one others merge into.
DEFAULT_TYPES: dict[str, dict[str, int | None]] = {
    "user_id": {"priority": 100, "max_per_profile": 1},
    "member_id": {"priority": 90, "max_per_profile": 1},
    "email": {"priority": 80, "max_per_profile": 5},
    "phone": {"priority": 70, "max_per_profile": 3},
    "line_user_id": {"priority": 60, "max_per_profile": 3},
    "device_id": {"priority": 30, "max_per_profile": None},
    "anonymous_id": {"priority": 10, "max_per_profile": None},
}
CUSTOM_TYPE_PRIORITY = 50


@dataclass(frozen=True)
class IdentifierType:
    """One identifier type and how it takes part in resolution."""

    name: str
    priority: int
    max_per_profile: int | None


@dataclass(frozen=True)
class IdentityRules:
    """The configured resolution rules; unknown (custom) types get a middle priority, no limit."""

    types: dict[str, IdentifierType]
    blocked_values: frozenset[str] = field(default_factory=frozenset)

    def get(self, name: str) -> IdentifierType:
        """The rule for a type, a default for custom types."""
        return self.types.get(name) or IdentifierType(name, CUSTOM_TYPE_PRIORITY, None)

    def priority(self, name: str) -> int:
        """Priority of a type."""
        return self.get(name).priority

    @property
    def limited_types(self) -> list[str]:
        """Types that have a per-profile limit."""
        return sorted(t.name for t in self.types.values() if t.max_per_profile is not None)


def load_rules(path: Path | None = None, *, extra_blocked: list[str] | None = None) -> IdentityRules:
    """Rules from a JSON file ({"types": {name: {priority, max_per_profile}}, "blocked_values": [...]})."""
    spec: dict = {"types": DEFAULT_TYPES, "blocked_values": []}
    if path is not None:
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"identity rules file {path}: {exc}") from exc
    types: dict[str, IdentifierType] = {}
    for name, rule in dict(spec.get("types", {})).items():
        prio = rule.get("priority")
        limit = rule.get("max_per_profile")
        if not isinstance(prio, int) or (limit is not None and (not isinstance(limit, int) or limit < 1)):
            raise ValueError(f"identity rules: type {name!r} needs an integer priority and a limit >= 1 or null")
        types[name] = IdentifierType(name, prio, limit)
    for required in ("user_id", "anonymous_id"):
        if required not in types:
            raise ValueError(f"identity rules: type {required!r} must be configured")
    blocked = [str(v).strip().lower() for v in spec.get("blocked_values", []) + (extra_blocked or [])]
    return IdentityRules(types=types, blocked_values=frozenset(blocked))
