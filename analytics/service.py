"""Models over the graph: RFM, NASLD, BG/NBD and Gamma-Gamma scores recomputed per workspace.

One aggregate query reads every purchase of the workspace's active profiles; the models run in
numpy (analytics/rfm.py, bgnbd.py, gamma_gamma.py); scores go back as non-PII `score.*`
profile properties in batched UNWIND writes, with the month's lifecycle stage kept as history.
No web framework, no policy: transports authorize, this computes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from analytics.bgnbd import (
    BgNbdParams,
    FitError,
    expected_purchases,
    fit_bgnbd,
    prob_alive,
    prob_at_least_one_purchase,
    stars,
    summary_from_transactions,
)
from analytics.gamma_gamma import GammaGammaParams, customer_lifetime_value, fit_gamma_gamma
from analytics.rfm import STAGE_ORDER, lifecycle_stages, rfm_scores, rfm_segments
from analytics.settings import AnalyticsSettings
from graph.analytics import AnalyticsRepository, GroupRevenue

log = logging.getLogger("veil.analytics")
Progress = Callable[[str, int, int], None]
DAY = 86400.0
# Report groupings -> the (non-PII) profile property they group by.
GROUPS = {"stage": "score.lifecycle_stage", "tier": "trait.member_tier", "rfm": "score.rfm_segment"}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def month_of(at: datetime) -> str:
    """`YYYY-MM` of a time (UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m")


def previous_month(month: str) -> str:
    """The month before `YYYY-MM`."""
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


@dataclass(frozen=True)
class RefreshReport:
    """What one refresh computed."""

    workspace: str
    at: datetime
    customers: int
    orders: int
    cycle_days: float
    stages: dict[str, int]
    rfm_segments: dict[str, int]
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    predictions_skipped: str | None
    cleared: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TransitionMatrix:
    """Customers by stage at the end of one month (rows) and the next (columns)."""

    from_month: str
    to_month: str
    stages: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    entered: tuple[int, ...]  # new in `to_month` (no stage the month before), by later stage
    exited: tuple[int, ...]  # staged in `from_month` but not in `to_month`, by earlier stage

    def moved(self, before: str, after: str) -> int:
        """How many went from `before` to `after`."""
        return self.counts[self.stages.index(before)][self.stages.index(after)]


@dataclass(frozen=True)
class StageShare:
    """One stage's customers, revenue and share of the period's revenue."""

    stage: str
    buyers: int
    revenue: float
    orders: int
    share: float


@dataclass
class _Customers:
    ids: np.ndarray
    orders: np.ndarray
    revenue: np.ndarray
    first: np.ndarray
    last: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray


class AnalyticsService:
    """Recomputes and reports the lifecycle and prediction models of a workspace."""

    def __init__(self, *, repo: AnalyticsRepository, settings: AnalyticsSettings,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock

    def _customers(self, workspace: str, now: datetime) -> _Customers | None:
        hist = self.repo.order_history(workspace=workspace, events=self.settings.purchase_events, now=now)
        if not hist.profile_ids:
            return None
        ids = np.asarray(hist.profile_ids)
        ts = np.asarray(hist.epoch_seconds, dtype=np.int64)
        rev = np.asarray(hist.revenue, dtype=np.float64)
        uniq, inv = np.unique(ids, return_inverse=True)
        inv = inv.ravel()
        n = uniq.size
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(first, inv, ts)
        np.maximum.at(last, inv, ts)
        # BG/NBD statistics in days: purchases on one UTC day are one purchase (lifetimes' convention).
        summary = summary_from_transactions(ids, ts.astype("datetime64[s]"), freq="D", amounts=rev,
                                            observation_end=np.datetime64(int(now.timestamp()), "s"))
        assert summary.monetary_value is not None
        return _Customers(ids=uniq, orders=np.bincount(inv, minlength=n), revenue=np.bincount(inv, weights=rev,
                          minlength=n), first=first, last=last, frequency=summary.frequency,
                          recency=summary.recency, T=summary.T, monetary=summary.monetary_value)

    def cycle_days(self, frequency: np.ndarray, recency: np.ndarray) -> float:
        """The configured repurchase cycle, else the median gap between repeat buyers' purchase days."""
        if self.settings.cycle_days is not None:
            return float(self.settings.cycle_days)
        repeat = frequency > 0
        if not np.any(repeat):
            return float(self.settings.cycle_days_fallback)
        gap = float(np.median(recency[repeat] / frequency[repeat]))
        return gap if gap > 0 else float(self.settings.cycle_days_fallback)

    def _predict(self, c: _Customers) -> tuple[dict[str, np.ndarray], BgNbdParams | None,
                                               GammaGammaParams | None, str | None]:
        s = self.settings
        repeaters = int(np.count_nonzero(c.frequency > 0))
        if repeaters < s.min_fit_customers:
            return {}, None, None, f"{repeaters} repeat buyers, fewer than {s.min_fit_customers}"
        try:
            bg = fit_bgnbd(c.frequency, c.recency, c.T)
        except (FitError, ValueError) as exc:
            return {}, None, None, f"BG/NBD fit failed: {exc}"
        p_buy = prob_at_least_one_purchase(bg, s.horizon_days, c.frequency, c.recency, c.T)
        out = {
            "score.expected_purchases": expected_purchases(bg, s.horizon_days, c.frequency, c.recency, c.T),
            "score.purchase_probability": p_buy,
            "score.stars": stars(np.clip(p_buy, 0.0, 1.0), tuple(s.star_thresholds)),
            "score.p_alive": prob_alive(bg, c.frequency, c.recency, c.T),
        }
        gg = None
        spenders = (c.frequency > 0) & (c.monetary > 0)
        if np.count_nonzero(spenders) >= s.min_fit_customers:
            try:
                gg = fit_gamma_gamma(c.frequency[spenders], c.monetary[spenders])
                out["score.clv"] = customer_lifetime_value(
                    bg, gg, c.frequency, c.recency, c.T, c.monetary, months=s.clv_months,
                    discount_rate=s.clv_discount_monthly, time_unit="D")
            except (FitError, ValueError) as exc:
                log.info("gamma-gamma skipped: %s", exc)
                gg = None
        return out, bg, gg, None

    def refresh(self, *, workspace: str, progress: Progress | None = None) -> RefreshReport:
        """Recompute RFM, NASLD and predictions for every active buyer of a workspace and store them."""
        s, now = self.settings, self.clock()
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        c = self._customers(workspace, now)
        timings["read"] = time.perf_counter() - t0
        if c is None:
            cleared = self.repo.clear_stale(workspace=workspace, now=now)
            return RefreshReport(workspace, now, 0, 0, float(s.cycle_days or s.cycle_days_fallback), {}, {}, None,
                                 None, "no purchases", cleared, timings)
        t1 = time.perf_counter()
        days_since = np.maximum(now.timestamp() - c.last, 0) / DAY
        scores = rfm_scores(days_since, c.orders, c.revenue, n_bins=s.rfm_bins)
        seg_map, axis = s.segment_map()
        names = rfm_segments(scores, segment_map=seg_map, second_axis=axis)  # type: ignore[arg-type]
        cycle = self.cycle_days(c.frequency, c.recency)
        stages = [st.value for st in lifecycle_stages(days_since, c.orders, cycle_days=cycle,
                                                      thresholds=s.thresholds())]
        predicted, bg, gg, skipped = self._predict(c)
        timings["compute"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        month_key = self.repo.ensure_month(workspace=workspace, month=month_of(now))
        columns: dict[str, list[Any]] = {
            "score.orders": c.orders.tolist(), "score.revenue": c.revenue.tolist(),
            "score.rfm_recency": scores.recency.tolist(), "score.rfm_frequency": scores.frequency.tolist(),
            "score.rfm_monetary": scores.monetary.tolist(), "score.rfm_segment": names,
            "score.lifecycle_stage": stages,
            **{k: v.tolist() for k, v in predicted.items()},
        }
        if predicted:
            columns["score.horizon_days"] = [s.horizon_days] * c.ids.size
        keys = list(columns)
        ids, firsts, lasts = c.ids.tolist(), c.first.tolist(), c.last.tolist()
        total, batch = len(ids), max(1, s.write_batch_rows)
        for start in range(0, total, batch):
            end = min(start + batch, total)
            rows = [{"id": ids[i], "first": firsts[i], "last": lasts[i], "stage": stages[i],
                     "props": {k: columns[k][i] for k in keys}} for i in range(start, end)]
            self.repo.write_scores(month_key=month_key, rows=rows, now=now)
            if progress is not None:
                progress("write", end, total)
        cleared = self.repo.clear_stale(workspace=workspace, now=now)
        if bg is not None:
            self.repo.save_model(workspace=workspace, kind="bgnbd", now=now, params={
                "r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "log_likelihood": bg.log_likelihood,
                "customers": bg.n_customers, "time_unit": "days"})
        if gg is not None:
            self.repo.save_model(workspace=workspace, kind="gamma_gamma", now=now, params={
                "p": gg.p, "q": gg.q, "v": gg.v, "customers": gg.n_customers})
        self.repo.save_model(workspace=workspace, kind="lifecycle", now=now, params={
            "cycle_days": cycle, "active": s.nasld_active, "sleep": s.nasld_sleep, "lost": s.nasld_lost})
        timings["write"] = time.perf_counter() - t2
        return RefreshReport(
            workspace=workspace, at=now, customers=total, orders=int(c.orders.sum()), cycle_days=cycle,
            stages={st.value: stages.count(st.value) for st in STAGE_ORDER},
            rfm_segments={n: names.count(n) for n in seg_map.names}, bgnbd=bg, gamma_gamma=gg,
            predictions_skipped=skipped, cleared=cleared, seconds=timings)

    def transition_matrix(self, *, workspace: str, month: str | None = None) -> TransitionMatrix:
        """Stage moves from the month before `month` (default: this month) to `month`."""
        to_month = month or month_of(self.clock())
        from_month = previous_month(to_month)
        moves = self.repo.transitions(workspace=workspace, from_month=from_month, to_month=to_month)
        names = tuple(st.value for st in STAGE_ORDER)
        idx = {n: i for i, n in enumerate(names)}
        counts = [[0] * len(names) for _ in names]
        entered, exited = [0] * len(names), [0] * len(names)
        for before, after, n in moves.moves:
            if after not in idx:
                continue
            if before is None:
                entered[idx[after]] += n
            elif before in idx:
                counts[idx[before]][idx[after]] += n
        for before, n in moves.exits:
            if before in idx:
                exited[idx[before]] += n
        return TransitionMatrix(from_month=from_month, to_month=to_month, stages=names,
                                counts=tuple(tuple(r) for r in counts), entered=tuple(entered),
                                exited=tuple(exited))

    def stage_revenue(self, *, workspace: str, since: datetime | None = None,
                      until: datetime | None = None) -> list[StageShare]:
        """Each current lifecycle stage's revenue in [since, until) (default: the last 30 days) and share."""
        until = until or self.clock()
        since = since or until - timedelta(days=30)
        rows = {g.group: g for g in self.group_revenue(workspace=workspace, group="stage", since=since,
                                                       until=until)}
        total = sum(g.revenue for g in rows.values())
        out = []
        for st in STAGE_ORDER:
            g = rows.get(st.value)
            rev = g.revenue if g else 0.0
            out.append(StageShare(stage=st.value, buyers=g.buyers if g else 0, revenue=rev,
                                  orders=g.orders if g else 0, share=rev / total if total else 0.0))
        return out

    def group_revenue(self, *, workspace: str, group: str, since: datetime, until: datetime) -> list[GroupRevenue]:
        """Revenue and orders in [since, until) by lifecycle stage, member tier or RFM segment."""
        if group not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(GROUPS)}")
        return self.repo.group_revenue(workspace=workspace, group_property=GROUPS[group],
                                       events=self.settings.purchase_events, since=since, until=until)
