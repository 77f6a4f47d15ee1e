"""Activation settings (environment prefix VEIL_ACTIVATION_): provider endpoints, quiet hours, worker."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ActivationSettings(BaseSettings):
    """Where each channel's provider is and how the worker paces sends.

    Every provider's base URL is configurable so the real client libraries can be pointed at local
    receivers; a channel whose endpoint or credentials are unset is not registered (its sends fail
    with `channel_not_configured`, they are never pretended sent).
    """

    model_config = SettingsConfigDict(env_prefix="VEIL_ACTIVATION_", extra="ignore")

    smtp_host: str | None = Field(None, description="SMTP server host; unset = no e-mail channel")
    smtp_port: int = Field(587, description="SMTP server port")
    smtp_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS")
    smtp_ssl: bool = Field(False, description="Implicit TLS (SMTPS)")
    smtp_user: str | None = Field(None, description="SMTP AUTH user name")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password")
    smtp_from: str = Field("Veil <no-reply@veil.localhost>", description="From address of marketing e-mail")
    smtp_timeout_seconds: float = Field(10.0, description="SMTP connect/command timeout")
    unsubscribe_base_url: str = Field("http://127.0.0.1:8000", description="Public base URL of the one-click "
                                      "unsubscribe endpoint (RFC 8058) put in List-Unsubscribe")
    unsubscribe_secret: SecretStr | None = Field(None, description="HMAC key signing unsubscribe links; "
                                                 "unset = a key generated under var/ on first use")
    line_base_url: str | None = Field(None, description="LINE Messaging API base URL (a local receiver in tests)")
    line_channel_token: SecretStr | None = Field(None, description="LINE channel access token")
    line_channel_secret: SecretStr | None = Field(None, description="LINE channel secret (webhook signatures)")
    sms_base_url: str | None = Field(None, description="SMS provider base URL (Mitake-style form API)")
    sms_username: str | None = Field(None, description="SMS provider account")
    sms_password: SecretStr | None = Field(None, description="SMS provider password")
    sms_inbound_token: SecretStr | None = Field(None, description="Shared token the provider's inbound-SMS "
                                                "callback must send (STOP replies); unset = inbound refused")
    sms_default_region: str = Field("TW", description="Region of national numbers in inbound SMS")
    webhooks: dict[str, dict[str, object]] = Field(
        default_factory=dict, description='Webhook destinations: {"name": {"url": ..., "secret": "whsec_...", '
        '"fields": ["traits.member_tier", ...]}} (JSON); only the listed fields are carried')
    http_timeout_seconds: float = Field(5.0, description="Timeout of provider HTTP calls")
    quiet_start: str = Field("21:00", description="Quiet hours start, recipient's local time (HH:MM)")
    quiet_end: str = Field("09:00", description="Quiet hours end, recipient's local time (HH:MM)")
    quiet_spread_minutes: int = Field(60, description="Sends held by quiet hours are spread over this many "
                                      "minutes after the quiet period ends (no burst)")
    default_timezones: dict[str, str] = Field(
        default_factory=lambda: {"TW_PDPA": "Asia/Taipei", "HK_PDPO": "Asia/Hong_Kong", "GDPR": "Europe/Berlin"},
        description="Recipient zone when the profile has none, per jurisdiction (never the server's)")
    dry_run_k_anonymity: int = Field(5, description="Dry-run counts below this are reported as null")
    daily_cap: int = Field(3, description="Most marketing messages per person per channel in 24 hours")
    lease_seconds: int = Field(60, description="A claimed send not finished within this is recovered")
    batch_size: int = Field(200, description="Sends claimed per channel lane per round")
    lane_threads: int = Field(4, description="Concurrent provider calls per channel lane")
    poll_seconds: float = Field(1.0, description="Worker sleep between rounds when idle")
