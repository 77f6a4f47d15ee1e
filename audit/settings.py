"""Audit trail settings (environment prefix VEIL_AUDIT_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.secrets import AUDIT_KEY_NAME, SecretsSettings


def default_key_file() -> Path:
    """The install's key file: <VEIL_SECRETS_DIR>/audit-checkpoint.key (default var/secrets/)."""
    return SecretsSettings().dir / AUDIT_KEY_NAME

# Where installs before var/secrets/ kept the key: still used when it exists and the new one does not.
LEGACY_KEY_FILE = Path("var/audit-checkpoint.key")


class AuditSettings(BaseSettings):
    """Where the checkpoint signing key and the outside copy of checkpoints live, and how often."""

    # An empty value (VEIL_AUDIT_CHECKPOINT_KEY_FILE=) means None, not the current directory.
    model_config = SettingsConfigDict(env_prefix="VEIL_AUDIT_", extra="ignore", env_parse_none_str="")

    checkpoint_key_file: Path | None = Field(
        default_factory=default_key_file,
        description="Ed25519 private key (PEM, mode 0600) that signs checkpoints; kept outside Neo4j "
                    "(an existing var/audit-checkpoint.key of an older install is used instead while the "
                    "default file is absent). Unset (empty) disables checkpoints",
    )
    auto_create_key: bool | None = Field(
        None,
        description="Create the key file (0600) on first use if it is missing. Unset: yes, except with "
                    "VEIL_ENV=prod, where a lost or unmounted key is an error instead of a silent new key "
                    "(create it once with `veil secrets init`)",
    )
    checkpoint_every: int = Field(
        1000, ge=0, description="Sign a checkpoint when a record's seq is a multiple of this; 0 = only on demand",
    )
    checkpoint_copy_file: Path | None = Field(
        Path("var/audit-checkpoints.jsonl"),
        description="Outside copy of every checkpoint (JSONL, appended); verification still finds a "
                    "rewrite or truncation when the checkpoint nodes are deleted. Unset disables it",
    )
    trusted_public_key_files: list[Path] = Field(
        default_factory=list,
        description="PEM public keys of earlier checkpoint keys (JSON list), so that checkpoints "
                    "signed before a key rotation still verify",
    )

    @model_validator(mode="after")
    def _legacy_key_location(self) -> AuditSettings:
        """Keep an older install's key (and so its checkpoints' key id) when it is the one on disk."""
        default = default_key_file()
        if self.checkpoint_key_file == default and not default.exists() and LEGACY_KEY_FILE.exists():
            self.checkpoint_key_file = LEGACY_KEY_FILE
        return self
