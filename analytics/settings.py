"""Analytics settings (environment prefix VEIL_ANALYTICS_): model parameters, schedule, reporting."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from analytics.bgnbd import DEFAULT_STAR_THRESHOLDS
from analytics.rfm import (
    DEFAULT_SEGMENT_MAP,
    DEFAULT_SEGMENT_TABLE,
    LifecycleThresholds,
    SegmentMap,
    build_segment_map,
)


class AnalyticsSettings(BaseSettings):
    """Parameters a brand tunes: lifecycle thresholds, RFM mapping, prediction horizon, schedule."""

    model_config = SettingsConfigDict(env_prefix="VEIL_ANALYTICS_", extra="ignore")

    purchase_events: list[str] = Field(["Order Completed"], description="Event names that count as a purchase")
    cycle_days: float | None = Field(
        None, description="The brand's repurchase cycle in days; unset = median gap between a repeat "
                          "customer's purchase days, estimated at each refresh")
    cycle_days_fallback: float = Field(30.0, description="Cycle used when it cannot be estimated (no repeat buyers)")
    nasld_active: float = Field(1.0, description="Active/New while days since last purchase <= this x cycle")
    nasld_sleep: float = Field(2.0, description="Sleep up to this x cycle")
    nasld_lost: float = Field(3.0, description="Lost up to this x cycle; Deep beyond")
    rfm_bins: int = Field(5, description="Quantile bins of the RFM scores")
    rfm_segments_file: Path | None = Field(
        None, description='JSON {"second_axis": "f"|"fm", "segments": [[name, r_from, r_to, f_from, f_to], ...]} '
                          "tiling the R x F score grid; built-in table when unset")
    horizon_days: int = Field(14, description="N of 'probability of at least one purchase within N days'")
    star_thresholds: list[float] = Field(list(DEFAULT_STAR_THRESHOLDS),
                                         description="Probability cut points of the 1-5 stars")
    clv_months: int = Field(12, description="CLV horizon in months")
    clv_discount_monthly: float = Field(0.01, description="Monthly discount rate of CLV")
    min_fit_customers: int = Field(20, description="Fewest buyers (with at least one repeat) to fit BG/NBD")
    write_batch_rows: int = Field(5000, description="Profiles per score write transaction")
    refresh_interval_seconds: int = Field(
        0, description="Refresh models and re-evaluate saved segments every N seconds in the API process (0 = off)")
    sweep_interval_seconds: int = Field(
        0, description="Re-evaluate realtime segments (time-based conditions) every N seconds (0 = off)")
    realtime_segments: bool = Field(
        True, description="Re-evaluate realtime segments for the profiles an ingest batch touched")
    attribution_lookback_hours: float = Field(24.0, description="Touches at most this long before an order count")
    attribution_model: str = Field("last_click", description="Default model: last_click, first_click or linear")
    click_events: dict[str, str] = Field(
        {"Email Link Clicked": "email", "LINE Message Clicked": "line", "SMS Link Clicked": "sms",
         "Push Notification Tapped": "app_push"},
        description="Click events that are touches, and the channel each stands for")
    veil_channels: list[str] = Field(["email", "line", "sms", "app_push"],
                                     description="Channels Veil drives (for the share of revenue)")
    k_anonymity: int = Field(5, description="Aggregate groups smaller than this are suppressed for roles "
                                            "that may not read individual profiles")

    def thresholds(self) -> LifecycleThresholds:
        """The NASLD thresholds (validated)."""
        return LifecycleThresholds(active=self.nasld_active, sleep=self.nasld_sleep, lost=self.nasld_lost)

    def segment_map(self) -> tuple[SegmentMap, str]:
        """The RFM named-segment map and its second axis ('f' or 'fm')."""
        if self.rfm_segments_file is None:
            if self.rfm_bins == 5:
                return DEFAULT_SEGMENT_MAP, "f"
            return build_segment_map(DEFAULT_SEGMENT_TABLE, n_bins=self.rfm_bins), "f"
        data = json.loads(Path(self.rfm_segments_file).read_text(encoding="utf-8"))
        axis = data.get("second_axis", "f")
        if axis not in ("f", "fm"):
            raise ValueError("rfm segments file: second_axis must be 'f' or 'fm'")
        rows = [tuple(r) for r in data["segments"]]
        return build_segment_map(rows, n_bins=self.rfm_bins), axis  # type: ignore[arg-type]
