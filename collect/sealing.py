"""Trait values between the graph (sealed) and the planner (plain), for one write transaction.

The planner's newest-wins logic and merges need plain values; Neo4j must only see sealed PII.
`TraitSealer.open` decrypts what was read under lock, `seal` turns a profile's traits back into
properties: an unchanged value keeps its stored ciphertext when it was sealed under the same
profile's key (no re-encryption of untouched traits), anything else is sealed anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graph.identity import TRAIT_PREFIX, to_property
from privacy.vault import FieldVault, is_pii_trait, is_sealed, key_id_of


class TraitSealer:
    """Opens stored traits and seals written ones, with one vault."""

    def __init__(self, vault: FieldVault, *, is_pii: Callable[[str], bool] = is_pii_trait) -> None:
        self.vault = vault
        self.is_pii = is_pii  # the workspace's trait catalog decides (an admin's override wins)
        self._stored: dict[tuple[str, str], tuple[Any, str]] = {}  # (profile, trait) -> (plain, sealed)

    def open(self, stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Plain traits per profile id (keys of the sealed values loaded in one store call)."""
        self.vault.preload(v for traits in stored.values() for v in traits.values())
        out: dict[str, dict[str, Any]] = {}
        for pid, traits in stored.items():
            plain: dict[str, Any] = {}
            for name, value in traits.items():
                if is_sealed(value):
                    opened = self.vault.open(value)
                    if opened is None:
                        continue  # its key was shredded: the value is gone
                    self._stored[(pid, name)] = (opened, value)
                    value = opened
                plain[name] = value
            out[pid] = plain
        return out

    def seal(self, profile_id: str, traits: dict[str, Any]) -> dict[str, Any]:
        """Trait properties to write (call `vault.prepare` for the profile first)."""
        props: dict[str, Any] = {}
        for name, value in traits.items():
            prop = to_property(value)
            if self.is_pii(name) and prop is not None:
                old = self._stored.get((profile_id, name))
                if old is not None and old[0] is value and key_id_of(old[1]) == profile_id:
                    prop = old[1]
                else:
                    prop = self.vault.seal(profile_id, prop)
            props[TRAIT_PREFIX + name] = prop
        return props
