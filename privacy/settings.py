"""Privacy settings (environment prefixes VEIL_PRIVACY_ and VEIL_CRYPTO_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_HMAC_KEY = "veil-dev-hmac-key-change-me-0123456789abcdef"
# Development-only key material (base64 of 32 bytes); refused when VEIL_ENV=prod.
DEV_KEK = "dmVpbC1kZXYta2VrLWNoYW5nZS1tZS0wMTIzNDU2Nzg="
DEV_BLIND_INDEX_KEY = "dmVpbC1kZXYtYmxpbmQtaW5kZXgta2V5LWNoYW5nZSE="


class PrivacySettings(BaseSettings):
    """Masking, trait catalog, ingestion scanning, field encryption and suppression switches."""

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
    encryption: bool = Field(True, description="Encrypt PII values (AES-256-GCM, a data key per profile) before they "
                                               "reach Neo4j; false only for benchmarks and tests")
    suppression: bool = Field(True, description="Reject events that carry an identifier of an erased person "
                                                "(code suppressed_identity)")



class CryptoSettings(BaseSettings):
    """Key material: the key-encryption key, the blind-index key and the data-key store."""

    model_config = SettingsConfigDict(env_prefix="VEIL_CRYPTO_", extra="ignore")

    kek: str | None = Field(None, description="Key-encryption key, base64 of 32 bytes (the development key when "
                                              "neither this nor kek_file is set; refused in prod)")
    kek_file: Path | None = Field(None, description="File holding the base64 key-encryption key (wins over kek)")
    blind_index_key: str | None = Field(None, description="HMAC key of the blind indexes, base64 of 32 bytes; "
                                                          "independent of the KEK so a KEK rotation keeps lookups")
    blind_index_key_file: Path | None = Field(None, description="File holding the base64 blind-index key")
    keystore_file: Path = Field(Path("var/keystore.db"), description="SQLite file of the wrapped data keys; kept "
                                                                     "outside Neo4j so a graph backup holds no keys")
    key_cache_size: int = Field(50_000, description="Unwrapped data keys kept in memory per process (LRU)")
    key_cache_seconds: float = Field(300.0, description="How long a process trusts a cached data key; another "
                                                        "process forgets an erased person's key within this time")
