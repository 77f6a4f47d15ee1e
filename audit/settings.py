"""Audit trail settings (environment prefix VEIL_AUDIT_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    """Where the checkpoint signing key and the outside copy of checkpoints live, and how often."""

    # An empty value (VEIL_AUDIT_CHECKPOINT_KEY_FILE=) means None, not the current directory.
    model_config = SettingsConfigDict(env_prefix="VEIL_AUDIT_", extra="ignore", env_parse_none_str="")

    checkpoint_key_file: Path | None = Field(
        Path("var/audit-checkpoint.key"),
        description="Ed25519 private key (PEM, mode 0600) that signs checkpoints; kept outside Neo4j. "
                    "Unset (empty) disables checkpoints",
    )
    auto_create_key: bool = Field(
        True,
        description="Create the key file (0600) on first use if it is missing; set false in prod so "
                    "a lost or unmounted key is an error instead of a silent new key",
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
