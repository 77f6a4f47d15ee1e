"""Key management use cases (KEK rotation, encrypting a legacy store), each behind the guard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.events import AuditAction
from core.guard import GuardPort
from core.principal import Principal
from privacy.keys import KeyProvider, LocalKeyProvider, RotationReport, read_key, rotate_kek
from privacy.upgrade import UpgradeReport, encrypt_existing, seal_profile_traits
from privacy.vault import FieldVault


class KeyAdmin:
    """Operations on the field vault's keys; the caller needs `keys` write."""

    def __init__(self, *, guard: GuardPort, vault: FieldVault, upgrade_repo: Any) -> None:
        self.guard = guard
        self.vault = vault
        self.upgrade_repo = upgrade_repo

    def key_count(self, caller: Principal) -> int:
        """How many data keys are stored (for a progress bar)."""
        self.guard.require(caller, "keys", "read", audit_allow=False)
        return self.vault.store.count()

    def rotate_kek(self, caller: Principal, *, new_kek_file: Path, old_kek_file: Path | None, batch: int,
                   progress: Callable[[int], None] | None = None) -> RotationReport:
        """Rewrap every data key under a new KEK (resumable); KeyMaterialError on bad key files."""
        self.guard.require(caller, "keys", "write", audit_action=AuditAction.KEY_CHANGE, reason="rotate_kek")
        old: KeyProvider = (LocalKeyProvider(read_key(None, old_kek_file, default="", what="old KEK")[0])
                            if old_kek_file else self.vault.provider)
        new = LocalKeyProvider(read_key(None, new_kek_file, default="", what="new KEK")[0])
        return rotate_kek(store=self.vault.store, old=old, new=new, batch=batch, progress=progress)

    def seal_traits(self, *, workspace: str, is_pii: Callable[[str], bool]) -> int:
        """Seal stored plaintext values of traits now classified as PII (after an admin's override;
        the caller has been authorized for the override). Returns the profiles changed."""
        if not self.vault.enabled:
            return 0
        return seal_profile_traits(vault=self.vault, repo=self.upgrade_repo, workspace=workspace, is_pii=is_pii)

    def encrypt_existing(self, caller: Principal, *, page_size: int,
                         progress: Callable[[str, int], None] | None = None) -> UpgradeReport:
        """Seal a workspace stored before field encryption (rerunnable)."""
        self.guard.require(caller, "keys", "write", audit_action=AuditAction.KEY_CHANGE,
                           reason="encrypt_existing")
        return encrypt_existing(vault=self.vault, repo=self.upgrade_repo, workspace=caller.workspace,
                                page_size=page_size, progress=progress)
