"""Privacy settings (environment prefixes VEIL_PRIVACY_ and VEIL_CRYPTO_).

No key has a default value: unset keys come from the install's own files under var/secrets/
(generated on first start outside prod; see core/secrets.py).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.secrets import HMAC_KEY, SecretStore


class PrivacySettings(BaseSettings):
    """Masking, trait catalog, ingestion scanning, field encryption and suppression switches."""

    model_config = SettingsConfigDict(env_prefix="VEIL_PRIVACY_", extra="ignore")

    hmac_key: str = Field("", repr=False, description="Key of the hmac masking strategy, ingestion tokens and "
                                                       "pseudonyms; unset: hmac_key_file, else var/secrets/hmac-key")
    hmac_key_file: Path | None = Field(None, description="File (mode 0600) holding the hmac key")
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

    def with_secrets(self, store: SecretStore | None = None) -> PrivacySettings:
        """A copy whose hmac_key holds the resolved key (value, file, or the install's file)."""
        resolved = (store or SecretStore.from_env()).resolve(HMAC_KEY, value=self.hmac_key, file=self.hmac_key_file)
        return self.model_copy(update={"hmac_key": resolved.value})


class CryptoSettings(BaseSettings):
    """Key material: the key-encryption key, the blind-index key and the data-key store."""

    model_config = SettingsConfigDict(env_prefix="VEIL_CRYPTO_", extra="ignore")

    kek: str | None = Field(None, repr=False, description="Key-encryption key, base64 of 32 bytes; when neither "
                                                          "this nor kek_file is set: var/secrets/kek")
    kek_file: Path | None = Field(None, description="File holding the base64 key-encryption key (wins over kek)")
    blind_index_key: str | None = Field(None, repr=False, description="HMAC key of the blind indexes, base64 of 32 bytes; "
                                                          "independent of the KEK so a KEK rotation keeps lookups; "
                                                          "unset: blind_index_key_file, else var/secrets/blind-index-key")
    blind_index_key_file: Path | None = Field(None, description="File holding the base64 blind-index key")
    keystore_file: Path = Field(Path("var/keystore.db"), description="SQLite file of the wrapped data keys; kept "
                                                                     "outside Neo4j so a graph backup holds no keys")
    key_cache_size: int = Field(50_000, description="Unwrapped data keys kept in memory per process (LRU)")
    key_cache_seconds: float = Field(300.0, description="How long a process trusts a cached data key; another "
                                                        "process forgets an erased person's key within this time")
