"""Consent settings (environment prefix VEIL_CONSENT_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from consent.model import Jurisdiction


class ConsentSettings(BaseSettings):
    """Which privacy regime applies and where its policy lives."""

    model_config = SettingsConfigDict(env_prefix="VEIL_CONSENT_", extra="ignore")

    jurisdiction: Jurisdiction = Field(Jurisdiction.TW_PDPA, description="Regime the gate applies (TW_PDPA, HK_PDPO, GDPR)")
    policy_file: Path | None = Field(None, description="Consent policy JSON; the shipped one when unset")
