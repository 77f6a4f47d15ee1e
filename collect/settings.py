"""Collection settings (environment prefix VEIL_COLLECT_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CollectSettings(BaseSettings):
    """Limits, normalisation and identity-resolution knobs of the collection API."""

    model_config = SettingsConfigDict(env_prefix="VEIL_COLLECT_", extra="ignore")

    default_region: str = Field("TW", description="Region for phone numbers without a country code")
    max_event_bytes: int = Field(32 * 1024, description="Largest accepted event (Segment: 32 KB)")
    max_batch_bytes: int = Field(500 * 1024, description="Largest accepted request body (Segment: 500 KB)")
    max_batch_events: int = Field(2500, description="Most events in one batch request")
    max_inflight: int = Field(16, description="Concurrent ingest transactions before answering 429")
    retry_after_seconds: int = Field(2, description="Retry-After value sent with 429")
    max_future_skew_seconds: int = Field(
        3600, description="Event times further in the future than this (after skew correction) are clamped to receivedAt"
    )
    coalesce: bool = Field(
        True, description="Write concurrent requests of a process in one transaction (one writer thread)"
    )
    coalesce_max_events: int = Field(1000, description="Most events one coalesced transaction writes")
    identity_rules_file: Path | None = Field(
        None, description="JSON file with identity-resolution rules; built-in defaults when unset"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins every source accepts (JSON list; '*' = any); each source adds its own",
    )
    public_url: str | None = Field(
        None, description="Public base URL of the collector for the self-hosted snippets (default: the request's host)"
    )
    web_sdk_dir: Path = Field(
        Path(__file__).resolve().parents[1] / "deploy" / "web-sdk" / "node_modules",
        description="node_modules holding @segment/analytics-next and @rudderstack/analytics-js (make web-sdk)",
    )
    blocked_values: list[str] = Field(
        default_factory=list, description="Extra identifier values refused everywhere (besides the built-in junk list)"
    )
