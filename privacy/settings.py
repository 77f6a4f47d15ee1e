"""Privacy settings (environment prefix VEIL_PRIVACY_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_HMAC_KEY = "veil-dev-hmac-key-change-me-0123456789abcdef"


class PrivacySettings(BaseSettings):
    """Masking, trait catalog and ingestion-scanning configuration."""

    model_config = SettingsConfigDict(env_prefix="VEIL_PRIVACY_", extra="ignore")

    hmac_key: str = Field(DEV_HMAC_KEY, description="Key of the hmac masking strategy and pseudonyms (refused in prod if default)")
    masking_policy_file: Path | None = Field(None, description="Masking policy JSON; the shipped one when unset")
    ingest_scan: bool = Field(
        True, description="Classify trait/property keys into the trait catalog and scan free text at ingestion")
    ingest_policy_file: Path | None = Field(
        None, description="Per-category ingestion policy JSON (encrypt/tokenize/redact/reject/allow); shipped one when unset")
    catalog_sample_values: int = Field(5, ge=1, le=100, description="Values of a new key the recognizers sample to classify it")
    dsr_deadline_days: int = Field(30, ge=1, description="Days from receipt within which a data-subject request is due")
    dsr_export_dir: Path = Field(Path("var/dsr-exports"), description="Where access-request packages are written (0600)")
    retention_policy_file: Path | None = Field(
        None, description="Retention policy JSON (days per event type / event name); the shipped one when unset")
    retention_batch_size: int = Field(5000, ge=1, description="Interactions the purge deletes per transaction")
    catalog_refresh_seconds: float = Field(
        5.0, ge=0, description="How long a process trusts its cached trait catalog (admin overrides made elsewhere)")
