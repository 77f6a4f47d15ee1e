"""Identity-resolution settings (environment prefix VEIL_RESOLUTION_)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ResolutionSettings(BaseSettings):
    """Default thresholds and job limits; each workspace may set its own thresholds."""

    model_config = SettingsConfigDict(env_prefix="VEIL_RESOLUTION_", extra="ignore")

    auto_merge_threshold: float = Field(
        0.999, gt=0, lt=1, description="Match probability at or above which two profiles merge automatically")
    review_threshold: float = Field(
        0.9, gt=0, lt=1, description="Match probability at or above which a pair goes to the review queue")
    u_sample_pairs: float = Field(1e6, gt=0, description="Random pairs sampled to estimate u probabilities")
    em_max_pairs: float = Field(1e6, gt=0, description="Most blocked pairs one EM training session samples")
    default_region: str = Field("TW", description="Region for phone numbers without a country code")
    page_size: int = Field(2000, gt=0, description="Profiles read (and opened in memory) per page")
    interval_seconds: float = Field(0, ge=0, description="Scheduled incremental matching per workspace (0 = off)")
    duckdb_threads: int | None = Field(None, description="DuckDB threads of the matching job (default: all cores)")
