"""Trait edits' validation, shared by ingestion edits and rectification requests."""

from __future__ import annotations

from typing import Any

from core.errors import VeilError

MAX_TRAIT_NAME = 64


class TraitError(VeilError, ValueError):
    """A trait update that cannot be applied."""

    code = "invalid_traits"
    status = 400


def validate_traits(traits: Any) -> dict[str, Any]:
    """Trait names are short non-empty strings; values are JSON scalars, lists or objects."""
    if not isinstance(traits, dict) or not traits:
        raise TraitError("traits must be a non-empty object")
    for name in traits:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TRAIT_NAME:
            raise TraitError(f"trait name {name!r} must be 1-{MAX_TRAIT_NAME} characters")
    return traits
