"""Decrypting reads of the single customer view: the one place stored PII is opened for callers.

Callers (the enforcement pipeline, the CLI, exports) use `ProfileReader` instead of the bare
repository. Lookups by identifier go through the blind index; trait and identifier values are
opened with the vault (keys for a whole page in one key-store call). A value whose data key was
shredded is left out, never shown as ciphertext.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from consent.model import ConsentRecord
from graph.profiles import MergeRecord, ProfileFilter, ProfileRecord, ProfileRepository
from privacy.vault import FieldVault, is_sealed


class ProfileReader:
    """ProfileRepository reads with PII opened; everything else passes through."""

    def __init__(self, *, repo: ProfileRepository, vault: FieldVault) -> None:
        self.repo = repo
        self.vault = vault

    def open_profiles(self, records: list[ProfileRecord]) -> list[ProfileRecord]:
        """Profiles with their sealed traits and identifier values opened."""
        self.vault.preload([v for r in records for v in r.traits.values()]
                           + [v for r in records for _, v in r.identifiers])
        out = []
        for r in records:
            traits = {k: self.vault.open(v) for k, v in r.traits.items()}
            idents = tuple(sorted((t, o) for t, o in ((t, self.vault.open(v)) for t, v in r.identifiers)
                                  if o is not None))
            out.append(replace(r, traits={k: v for k, v in traits.items() if v is not None}, identifiers=idents))
        return out

    def open_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows (e.g. interactions with sealed properties, context, URLs) with sealed values opened."""
        self.vault.preload([v for r in rows for v in r.values() if is_sealed(v)])
        return [{k: self.vault.open(v) if is_sealed(v) else v for k, v in r.items()} for r in rows]

    def get_profile(self, *, workspace: str, profile_id: str) -> ProfileRecord | None:
        """A profile by id, opened (None when missing or in another workspace)."""
        rec = self.repo.get_profile(workspace=workspace, profile_id=profile_id)
        return self.open_profiles([rec])[0] if rec is not None else None

    def find_by_identifier(self, *, workspace: str, kind: str, value: str) -> ProfileRecord | None:
        """The profile a normalised identifier belongs to, found through its blind index."""
        key = self.vault.identifier_key(workspace, kind, value)
        rec = self.repo.find_by_identifier_key(workspace=workspace, key=key)
        return self.open_profiles([rec])[0] if rec is not None else None

    def get_with_consents(self, *, workspace: str,
                          profile_id: str) -> tuple[ProfileRecord, list[ConsentRecord]] | None:
        """A profile, opened, and its person's consent history, in one round trip."""
        found = self.repo.get_with_consents(workspace=workspace, profile_id=profile_id)
        if found is None:
            return None
        return self.open_profiles([found[0]])[0], found[1]

    def get_with_consents_and_interactions(
        self, *, workspace: str, profile_id: str, event_type: str | None, since: datetime | None,
        until: datetime | None, limit: int,
    ) -> tuple[ProfileRecord, list[ConsentRecord], list[dict[str, Any]]] | None:
        """A profile (opened), its consent history and first interactions (no sealed fields), one round trip."""
        found = self.repo.get_with_consents_and_interactions(
            workspace=workspace, profile_id=profile_id, event_type=event_type, since=since, until=until, limit=limit)
        if found is None:
            return None
        return self.open_profiles([found[0]])[0], found[1], found[2]

    def page(self, *, workspace: str, after: str, limit: int,
             filters: ProfileFilter | None = None) -> list[ProfileRecord]:
        """A page of active profiles, filtered, opened."""
        return self.open_profiles(self.repo.page(workspace=workspace, after=after, limit=limit, filters=filters))

    def iter_profiles(self, *, workspace: str, page_size: int = 1000) -> Iterator[ProfileRecord]:
        """All active profiles of a workspace, opened page by page."""
        page: list[ProfileRecord] = []
        for rec in self.repo.iter_profiles(workspace=workspace, page_size=page_size):
            page.append(rec)
            if len(page) >= page_size:
                yield from self.open_profiles(page)
                page = []
        yield from self.open_profiles(page)

    # Reads without sealed fields pass straight through.

    def interactions(self, *, workspace: str, profile_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A profile's interactions, oldest first (no sealed fields)."""
        return self.repo.interactions(workspace=workspace, profile_id=profile_id, limit=limit)

    def interactions_page(self, *, workspace: str, profile_id: str, event_type: str | None,
                          since: datetime | None, until: datetime | None, after: str | None,
                          limit: int) -> list[dict[str, Any]]:
        """A page of a profile's interactions (no sealed fields)."""
        return self.repo.interactions_page(workspace=workspace, profile_id=profile_id, event_type=event_type,
                                           since=since, until=until, after=after, limit=limit)

    def interactions_for_profiles(self, *, workspace: str, profile_ids: list[str], event_type: str | None,
                                  since: datetime | None, until: datetime | None,
                                  limit: int) -> dict[str, list[dict[str, Any]]]:
        """First page of interactions of several profiles (no sealed fields)."""
        return self.repo.interactions_for_profiles(workspace=workspace, profile_ids=profile_ids,
                                                   event_type=event_type, since=since, until=until, limit=limit)

    def merge_history(self, *, workspace: str, profile_id: str) -> list[MergeRecord]:
        """The merge ledger of a profile."""
        return self.repo.merge_history(workspace=workspace, profile_id=profile_id)

    def merge_histories(self, *, workspace: str, profile_ids: list[str]) -> dict[str, list[MergeRecord]]:
        """Merge ledgers of several profiles."""
        return self.repo.merge_histories(workspace=workspace, profile_ids=profile_ids)

    def conflicts(self, *, workspace: str, profile_id: str) -> list[dict[str, Any]]:
        """Identity conflicts of a profile (identifiers appear as blind-index keys)."""
        return self.repo.conflicts(workspace=workspace, profile_id=profile_id)

    def counts(self, *, workspace: str) -> dict[str, int]:
        """Active and merged profile counts."""
        return self.repo.counts(workspace=workspace)

    def undo_merge(self, *, workspace: str, merge_id: str, actor: str) -> int | None:
        """Undo a merge (see ProfileRepository.undo_merge)."""
        return self.repo.undo_merge(workspace=workspace, merge_id=merge_id, actor=actor)
