"""RFM quintile scores and named segments; NASLD lifecycle stages and stage-transition matrices."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from analytics.bgnbd import FloatArray, as_finite_array, reject_if

IntArray = NDArray[np.int64]
SegmentRow = tuple[str, int, int, int, int]
CustomerId = TypeVar("CustomerId", bound=Hashable)

# Segment, then the inclusive R-score range and F-score range it covers. The rows must tile the
# 5 x 5 grid of (R, F) scores exactly once, so every customer lands in exactly one segment.
DEFAULT_SEGMENT_TABLE: Final[tuple[SegmentRow, ...]] = (
    # name                 R from  R to  F from  F to
    ("Champions",             5,     5,     4,     5),
    ("Loyal",                 3,     4,     4,     5),
    ("Potential Loyalist",    4,     5,     2,     3),
    ("New Customers",         5,     5,     1,     1),
    ("Promising",             4,     4,     1,     1),
    ("Need Attention",        3,     3,     3,     3),
    ("About To Sleep",        3,     3,     1,     2),
    ("At Risk",               1,     2,     3,     4),
    ("Can't Lose Them",       1,     2,     5,     5),
    ("Hibernating",           2,     2,     1,     2),
    ("Lost",                  1,     1,     1,     2),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RfmScores:
    """Per-customer scores 1..n_bins; higher is better on every axis (recency already reversed)."""

    recency: IntArray
    frequency: IntArray
    monetary: IntArray
    n_bins: int


def quantile_scores(
    values: ArrayLike, *, n_bins: int = 5, higher_is_better: bool = True
) -> IntArray:
    """Rank-based quantile scores 1..n_bins; tied values share the score of their mid-rank."""
    v = np.ravel(as_finite_array(values, "values"))
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
        raise ValueError("n_bins must be an integer >= 2")
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    # Mid-ranks make the score independent of input order. floor((mid - 1/2) * bins / n) + 1 puts
    # n / bins customers in each bin when there are no ties; done in integers as 2 * mid is whole.
    twice_mid = np.rint(2.0 * rankdata(v if higher_is_better else -v, method="average")).astype(
        np.int64
    )
    return np.asarray((twice_mid - 1) * n_bins // (2 * v.size) + 1, dtype=np.int64)


def rfm_scores(
    recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike, *, n_bins: int = 5
) -> RfmScores:
    """Quantile-score recency (reversed: fewer days is better), frequency and monetary value."""
    r = np.ravel(as_finite_array(recency_days, "recency_days"))
    f = np.ravel(as_finite_array(frequency, "frequency"))
    m = np.ravel(as_finite_array(monetary, "monetary"))
    if not r.shape == f.shape == m.shape:
        raise ValueError("recency_days, frequency and monetary must have one entry per customer")
    reject_if(r < 0, "recency_days must be >= 0")
    reject_if(f < 0, "frequency must be >= 0")
    return RfmScores(
        recency=quantile_scores(r, n_bins=n_bins, higher_is_better=False),
        frequency=quantile_scores(f, n_bins=n_bins),
        monetary=quantile_scores(m, n_bins=n_bins),
        n_bins=n_bins,
    )


@dataclass(frozen=True, slots=True)
class SegmentMap:
    """A validated tiling of the (R score, F score) grid into named segments."""

    names: tuple[str, ...]
    n_bins: int
    # grid[r - 1][f - 1] is the index into ``names`` of the segment for scores (r, f).
    grid: tuple[tuple[int, ...], ...] = field(repr=False)

    def segment(self, recency_score: int, frequency_score: int) -> str:
        """The segment name for one (R, F) score pair."""
        for score in (recency_score, frequency_score):
            if not 1 <= score <= self.n_bins:
                raise ValueError(f"scores must lie in 1..{self.n_bins}, got {score}")
        return self.names[self.grid[recency_score - 1][frequency_score - 1]]


def build_segment_map(table: Sequence[SegmentRow], *, n_bins: int = 5) -> SegmentMap:
    """Validate a (name, r_from, r_to, f_from, f_to) table that covers each score cell once."""
    if not table:
        raise ValueError("segment table must not be empty")
    owner: dict[tuple[int, int], str] = {}
    names: list[str] = []
    problems: list[str] = []
    for row in table:
        if len(row) != 5:
            raise ValueError(f"segment row {row!r} must be (name, r_from, r_to, f_from, f_to)")
        name, *bounds = row
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"segment name must be a non-empty string, got {name!r}")
        if any(
            isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= n_bins for b in bounds
        ):
            raise ValueError(f"segment {name!r}: score bounds must be integers in 1..{n_bins}")
        r_from, r_to, f_from, f_to = bounds
        if r_from > r_to or f_from > f_to:
            raise ValueError(f"segment {name!r}: a range runs backwards")
        if name not in names:
            names.append(name)
        for cell in ((r, f) for r in range(r_from, r_to + 1) for f in range(f_from, f_to + 1)):
            if cell in owner:
                problems.append(f"R={cell[0]},F={cell[1]} is in both {owner[cell]!r} and {name!r}")
            owner[cell] = name
    problems += [
        f"R={r},F={f} is in no segment"
        for r in range(1, n_bins + 1)
        for f in range(1, n_bins + 1)
        if (r, f) not in owner
    ]
    if problems:
        raise ValueError(
            "segment table must tile the score grid exactly once: " + "; ".join(problems)
        )
    grid = tuple(
        tuple(names.index(owner[(r, f)]) for f in range(1, n_bins + 1))
        for r in range(1, n_bins + 1)
    )
    return SegmentMap(names=tuple(names), n_bins=n_bins, grid=grid)


DEFAULT_SEGMENT_MAP: Final = build_segment_map(DEFAULT_SEGMENT_TABLE)


def rfm_segments(
    scores: RfmScores,
    *,
    segment_map: SegmentMap = DEFAULT_SEGMENT_MAP,
    second_axis: Literal["f", "fm"] = "f",
) -> list[str]:
    """Segment name per customer from R and F (or the rounded-half-up mean of F and M) scores."""
    if scores.n_bins != segment_map.n_bins:
        raise ValueError(
            f"scores use {scores.n_bins} bins but the segment map uses {segment_map.n_bins}"
        )
    if second_axis == "f":
        second = scores.frequency
    elif second_axis == "fm":
        second = (scores.frequency + scores.monetary + 1) // 2
    else:
        raise ValueError(f"second_axis must be 'f' or 'fm', got {second_axis!r}")
    lookup = np.asarray(segment_map.grid, dtype=np.int64)[scores.recency - 1, second - 1]
    return [segment_map.names[i] for i in lookup]


class LifecycleStage(StrEnum):
    """NASLD stages, in order of decreasing engagement."""

    NEW = "New"
    ACTIVE = "Active"
    SLEEP = "Sleep"
    LOST = "Lost"
    DEEP = "Deep"


STAGE_ORDER: Final = tuple(LifecycleStage)


@dataclass(frozen=True, slots=True)
class LifecycleThresholds:
    """Stage boundaries as multiples of the brand's repurchase cycle since the last purchase.

    With d = days since the last purchase and c = cycle_days (upper bounds inclusive):
    New    d <= active * c and exactly one purchase ever;
    Active d <= active * c and two or more purchases;
    Sleep  active * c < d <= sleep * c;
    Lost   sleep * c  < d <= lost * c;
    Deep   d > lost * c.
    A one-purchase customer leaves New by ageing past ``active`` cycles or by buying again.
    """

    active: float = 1.0
    sleep: float = 2.0
    lost: float = 3.0

    def __post_init__(self) -> None:
        bounds = (self.active, self.sleep, self.lost)
        if (
            not all(math.isfinite(b) for b in bounds)
            or not 0 < self.active < self.sleep < self.lost
        ):
            raise ValueError(
                f"lifecycle thresholds must satisfy 0 < active < sleep < lost, got {bounds}"
            )


DEFAULT_THRESHOLDS: Final = LifecycleThresholds()


def lifecycle_stages(
    days_since_last_purchase: ArrayLike,
    purchases: ArrayLike,
    *,
    cycle_days: float,
    thresholds: LifecycleThresholds = DEFAULT_THRESHOLDS,
) -> list[LifecycleStage]:
    """NASLD stage per customer from days since last purchase, purchase count and cycle length."""
    days = np.ravel(as_finite_array(days_since_last_purchase, "days_since_last_purchase"))
    count = np.ravel(as_finite_array(purchases, "purchases"))
    if days.shape != count.shape:
        raise ValueError("days_since_last_purchase and purchases must have one entry per customer")
    if not (math.isfinite(cycle_days) and cycle_days > 0):
        raise ValueError(f"cycle_days must be a finite number > 0, got {cycle_days!r}")
    reject_if(days < 0, "days_since_last_purchase must be >= 0")
    reject_if((count < 1) | (count != np.floor(count)), "purchases must be a whole number >= 1")
    cycles = days / cycle_days
    # Index into STAGE_ORDER: 1 (Active) .. 4 (Deep) by elapsed cycles; one-timers Active -> New.
    stage = 1 + np.searchsorted(
        [thresholds.active, thresholds.sleep, thresholds.lost], cycles, side="left"
    )
    stage = np.where((stage == 1) & (count == 1), 0, stage)
    return [STAGE_ORDER[i] for i in stage]


def lifecycle_stage(
    days_since_last_purchase: float,
    purchases: int,
    *,
    cycle_days: float,
    thresholds: LifecycleThresholds = DEFAULT_THRESHOLDS,
) -> LifecycleStage:
    """NASLD stage of one customer (see LifecycleThresholds for the rules)."""
    (stage,) = lifecycle_stages(
        [days_since_last_purchase], [purchases], cycle_days=cycle_days, thresholds=thresholds
    )
    return stage


@dataclass(frozen=True, slots=True)
class StageTransitions:
    """Customer counts moving between two stage snapshots, rows = earlier stage, columns = later."""

    stages: tuple[LifecycleStage, ...]
    counts: IntArray
    # Customers only in the later snapshot (by later stage) / only in the earlier one (by earlier).
    entered: IntArray
    exited: IntArray

    def probabilities(self) -> FloatArray:
        """Row-normalised transition probabilities; a stage nobody was in gets a row of zeros."""
        totals = self.counts.sum(axis=1, keepdims=True)
        shares = np.divide(self.counts, totals, out=np.zeros(self.counts.shape), where=totals > 0)
        return np.asarray(shares, dtype=np.float64)


def stage_transitions(
    before: Mapping[CustomerId, LifecycleStage | str],
    after: Mapping[CustomerId, LifecycleStage | str],
) -> StageTransitions:
    """Count customer moves between two {customer_id: stage} snapshots (stage names validated)."""
    position = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    n = len(STAGE_ORDER)
    counts = np.zeros((n, n), dtype=np.int64)
    entered = np.zeros(n, dtype=np.int64)
    exited = np.zeros(n, dtype=np.int64)
    for customer, earlier in before.items():
        i = position[LifecycleStage(earlier)]
        if customer in after:
            counts[i, position[LifecycleStage(after[customer])]] += 1
        else:
            exited[i] += 1
    for customer, later in after.items():
        if customer not in before:
            entered[position[LifecycleStage(later)]] += 1
    return StageTransitions(stages=STAGE_ORDER, counts=counts, entered=entered, exited=exited)
