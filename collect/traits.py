"""Direct trait edits (GraphQL/admin), through the same newest-wins rule as ingestion."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from collect.resolution import ProfileState, apply_traits
from collect.sealing import TraitSealer
from core.traits import MAX_TRAIT_NAME, TraitError, validate_traits
from graph.identity import StoredProfile, TraitRepository
from privacy.vault import FieldVault

__all__ = ["MAX_TRAIT_NAME", "TraitError", "TraitService", "validate_traits"]


class TraitService:
    """Applies an edit with provenance (who, when) so later events still win only when newer."""

    def __init__(self, repo: TraitRepository, *, vault: FieldVault,
                 sealed_trait: Callable[[str, str], bool] | None = None) -> None:
        self.repo = repo
        self.vault = vault
        self.sealed_trait = sealed_trait  # (workspace, trait) -> sealed at rest (the trait catalog)

    def update(self, *, workspace: str, profile_id: str, traits: dict[str, Any], actor: str) -> bool:
        """Set traits on a profile; False when the profile is not found in the workspace."""
        traits = validate_traits(traits)
        now = datetime.now(UTC)
        message_id = f"edit-{uuid.uuid4()}"

        def apply(stored: StoredProfile) -> dict[str, Any] | None:
            sealer = (TraitSealer(self.vault, is_pii=lambda name: self.sealed_trait(workspace, name))
                      if self.sealed_trait else TraitSealer(self.vault))
            plain = sealer.open({stored.id: stored.traits})[stored.id]
            state = ProfileState(id=stored.id, traits=plain, meta=dict(stored.meta))
            if not apply_traits(state, traits, ts=now.isoformat(), source=actor, message_id=message_id):
                return None
            self.vault.prepare(workspace, [stored.id], create=True)
            return {"id": stored.id, "props": sealer.seal(stored.id, state.traits),
                    "meta": json.dumps(state.meta, ensure_ascii=False), "first_seen": None, "last_seen": None}

        return self.repo.update(workspace=workspace, profile_id=profile_id, apply=apply)
