"""Privacy settings (environment prefix VEIL_PRIVACY_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_HMAC_KEY = "veil-dev-hmac-key-change-me-0123456789abcdef"


class PrivacySettings(BaseSettings):
    """Masking configuration."""

    model_config = SettingsConfigDict(env_prefix="VEIL_PRIVACY_", extra="ignore")

    hmac_key: str = Field(DEV_HMAC_KEY, description="Key of the hmac masking strategy and pseudonyms (refused in prod if default)")
    masking_policy_file: Path | None = Field(None, description="Masking policy JSON; the shipped one when unset")
