"""RFM scores and segments, NASLD lifecycle stages and transitions, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.rfm import (
    DEFAULT_SEGMENT_MAP,
    DEFAULT_SEGMENT_TABLE,
    LifecycleStage,
    LifecycleThresholds,
    SegmentRow,
    build_segment_map,
    lifecycle_stage,
    lifecycle_stages,
    quantile_scores,
    rfm_scores,
    rfm_segments,
    stage_transitions,
)

N, A, S, L, D = (
    LifecycleStage.NEW,
    LifecycleStage.ACTIVE,
    LifecycleStage.SLEEP,
    LifecycleStage.LOST,
    LifecycleStage.DEEP,
)


def test_quantile_scores_without_ties() -> None:
    values = np.arange(10, 110, 10)
    assert quantile_scores(values).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quantile_scores(values, higher_is_better=False).tolist() == [
        5,
        5,
        4,
        4,
        3,
        3,
        2,
        2,
        1,
        1,
    ]
    shuffled = np.random.default_rng(7).permutation(10)
    assert quantile_scores(values[shuffled]).tolist() == quantile_scores(values)[shuffled].tolist()


def test_quantile_scores_ties_share_the_mid_rank_score() -> None:
    # Six tied values hold ranks 1..6, mid-rank 3.5: floor((3.5 - 0.5) * 5 / 10) + 1 = 2.
    assert quantile_scores([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]).tolist() == [2] * 6 + [4, 4, 5, 5]
    assert quantile_scores([7, 7, 7]).tolist() == [3, 3, 3]
    assert quantile_scores([42]).tolist() == [3]
    assert quantile_scores([]).tolist() == []


@pytest.mark.parametrize("n_bins", [1, 0, True, 2.5])
def test_quantile_scores_reject_bad_bins(n_bins: object) -> None:
    with pytest.raises(ValueError, match="n_bins"):
        quantile_scores([1, 2, 3], n_bins=n_bins)  # type: ignore[arg-type]


def test_rfm_scores_and_segments() -> None:
    scores = rfm_scores([0, 10, 20, 30, 40], [1, 2, 3, 4, 5], [50, 40, 30, 20, 10])
    assert scores.recency.tolist() == [5, 4, 3, 2, 1]
    assert scores.frequency.tolist() == [1, 2, 3, 4, 5]
    assert scores.monetary.tolist() == [5, 4, 3, 2, 1]
    assert rfm_segments(scores) == [
        "New Customers",
        "Potential Loyalist",
        "Need Attention",
        "At Risk",
        "Can't Lose Them",
    ]
    # F + M is 6 for everyone, so the FM axis is 3 throughout.
    assert rfm_segments(scores, second_axis="fm") == [
        "Potential Loyalist",
        "Potential Loyalist",
        "Need Attention",
        "At Risk",
        "At Risk",
    ]


def test_default_segment_map() -> None:
    assert set(DEFAULT_SEGMENT_MAP.names) == {
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New Customers",
        "Promising",
        "Need Attention",
        "About To Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    }
    expected = {
        (5, 5): "Champions",
        (5, 4): "Champions",
        (3, 5): "Loyal",
        (4, 1): "Promising",
        (3, 1): "About To Sleep",
        (2, 1): "Hibernating",
        (1, 1): "Lost",
        (1, 5): "Can't Lose Them",
        (2, 3): "At Risk",
    }
    for (r, f), name in expected.items():
        assert DEFAULT_SEGMENT_MAP.segment(r, f) == name
    with pytest.raises(ValueError, match="1..5"):
        DEFAULT_SEGMENT_MAP.segment(0, 3)


def test_custom_segment_map() -> None:
    two_bins = build_segment_map([("Good", 2, 2, 1, 2), ("Bad", 1, 1, 1, 2)], n_bins=2)
    scores = rfm_scores([1, 9], [3, 1], [10, 20], n_bins=2)
    assert rfm_segments(scores, segment_map=two_bins) == ["Good", "Bad"]
    with pytest.raises(ValueError, match="bins"):
        rfm_segments(scores)
    with pytest.raises(ValueError, match="second_axis"):
        rfm_segments(scores, segment_map=two_bins, second_axis="m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ((), "empty"),
        (
            (*DEFAULT_SEGMENT_TABLE, ("Extra", 5, 5, 5, 5)),
            "R=5,F=5 is in both 'Champions' and 'Extra'",
        ),
        (DEFAULT_SEGMENT_TABLE[1:], "R=5,F=4 is in no segment"),
        ((("All", 0, 5, 1, 5),), "integers in 1..5"),
        ((("All", 1, 6, 1, 5),), "integers in 1..5"),
        ((("All", 5, 1, 1, 5),), "backwards"),
        ((("", 1, 5, 1, 5),), "non-empty string"),
        ((("All", 1, 5, 1),), "must be"),
    ],
)
def test_segment_table_validation(table: tuple[SegmentRow, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_segment_map(table)


def test_rfm_scores_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="one entry per customer"):
        rfm_scores([1, 2], [1], [1, 2])
    with pytest.raises(ValueError, match="recency_days must be >= 0"):
        rfm_scores([-1, 2], [1, 1], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        rfm_scores([1, 2], [1, np.nan], [1, 2])


def test_lifecycle_stages_with_default_thresholds() -> None:
    days = [0, 30, 31, 30, 45, 60, 61, 90, 91, 400]
    purchases = [1, 1, 1, 2, 3, 1, 2, 9, 2, 1]
    assert lifecycle_stages(days, purchases, cycle_days=30) == [N, N, S, A, S, S, L, L, D, D]


def test_lifecycle_stages_with_custom_thresholds() -> None:
    thresholds = LifecycleThresholds(active=1.5, sleep=3.0, lost=6.0)
    stages = lifecycle_stages(
        [15, 16, 30, 31, 60, 61], [2] * 6, cycle_days=10, thresholds=thresholds
    )
    assert stages == [A, S, S, L, L, D]


def test_lifecycle_stage_scalar() -> None:
    assert lifecycle_stage(10, 1, cycle_days=30) is N
    assert lifecycle_stage(10, 4, cycle_days=30) == "Active"


@pytest.mark.parametrize(
    ("days", "purchases", "cycle_days", "message"),
    [
        ([-1], [1], 30.0, "days_since_last_purchase must be >= 0"),
        ([1], [0], 30.0, "purchases must be a whole number >= 1"),
        ([1], [1.5], 30.0, "purchases must be a whole number >= 1"),
        ([1], [1], 0.0, "cycle_days"),
        ([1], [1], float("nan"), "cycle_days"),
        ([1, 2], [1], 30.0, "one entry per customer"),
    ],
)
def test_lifecycle_stages_reject_bad_input(
    days: list[float], purchases: list[float], cycle_days: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        lifecycle_stages(days, purchases, cycle_days=cycle_days)


@pytest.mark.parametrize(
    "bounds", [(2.0, 1.0, 3.0), (0.0, 1.0, 2.0), (1.0, 2.0, 2.0), (1.0, 2.0, float("inf"))]
)
def test_lifecycle_thresholds_validation(bounds: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError, match="0 < active < sleep < lost"):
        LifecycleThresholds(*bounds)


def test_stage_transitions() -> None:
    before: dict[int, LifecycleStage | str] = {1: "New", 2: N, 3: A, 4: S, 5: D}
    after: dict[int, LifecycleStage | str] = {1: A, 2: "Sleep", 3: A, 5: D, 6: N}
    moves = stage_transitions(before, after)
    assert moves.stages == (N, A, S, L, D)
    expected = np.zeros((5, 5), dtype=int)
    expected[0, 1] = expected[0, 2] = expected[1, 1] = expected[4, 4] = 1
    np.testing.assert_array_equal(moves.counts, expected)
    assert moves.entered.tolist() == [1, 0, 0, 0, 0]
    assert moves.exited.tolist() == [0, 0, 1, 0, 0]
    probabilities = moves.probabilities()
    assert probabilities[0].tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]
    assert probabilities[3].tolist() == [0.0] * 5  # nobody was Lost before
    with pytest.raises(ValueError, match="Dormant"):
        stage_transitions({1: "Dormant"}, {1: A})
