"""BG/NBD and Gamma-Gamma: CDNOW results from the papers, agreement with lifetimes, validation."""

from __future__ import annotations

from pathlib import Path

import lifetimes
import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
from scipy import integrate, stats

from analytics.bgnbd import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    prob_alive,
    prob_at_least_one_purchase,
    stars,
    summary_from_transactions,
)
from analytics.gamma_gamma import (
    GammaGammaParams,
    conditional_expected_average_profit,
    customer_lifetime_value,
    fit_gamma_gamma,
)

# Read the files directly: lifetimes.datasets needs pkg_resources, which newer setuptools drops.
DATASETS = Path(lifetimes.__file__).parent / "datasets"


def _csv(name: str) -> np.ndarray:
    return np.genfromtxt(DATASETS / name, delimiter=",", names=True)


@pytest.fixture(scope="module")
def cdnow() -> np.ndarray:
    """The 2,357-customer CDNOW calibration summary (weeks) used by Fader, Hardie & Lee (2005)."""
    return _csv("cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> np.ndarray:
    """The same customers with zbar, the mean value of their repeat transactions."""
    return _csv("cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def cdnow_transactions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW sample transactions: (sample customer id, date, amount)."""
    raw = np.loadtxt(DATASETS / "CDNOW_sample.txt", dtype=str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    return raw[:, 1].astype(int), dates, raw[:, 4].astype(float)


@pytest.fixture(scope="module")
def params(cdnow: np.ndarray) -> BgNbdParams:
    return fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def _lifetimes_bgnbd(params: BgNbdParams) -> BetaGeoFitter:
    """A lifetimes BetaGeoFitter carrying our parameters, to compare formulas on equal footing."""
    model = BetaGeoFitter()
    model.params_ = pd.Series({"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b})
    model.predict = model.conditional_expected_number_of_purchases_up_to_time
    return model


def test_fit_reproduces_fader_hardie_lee_2005(params: BgNbdParams) -> None:
    rounded = tuple(round(v, 3) for v in (params.r, params.alpha, params.a, params.b))
    assert rounded == (0.243, 4.414, 0.793, 2.426)
    assert params.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert params.n_customers == 2357


def test_fit_agrees_with_lifetimes(cdnow: np.ndarray, params: BgNbdParams) -> None:
    theirs = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]).params_
    ours = [params.r, params.alpha, params.a, params.b]
    assert ours == pytest.approx(list(theirs[["r", "alpha", "a", "b"]]), rel=1e-4)


def test_weights_are_customer_counts(cdnow: np.ndarray, params: BgNbdParams) -> None:
    history = np.column_stack([cdnow["frequency"], cdnow["recency"], cdnow["T"]])
    rows, counts = np.unique(history, axis=0, return_counts=True)
    weighted = fit_bgnbd(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)
    assert weighted.n_customers == 2357
    assert weighted.log_likelihood == pytest.approx(params.log_likelihood, abs=1e-6)
    assert weighted.alpha == pytest.approx(params.alpha, rel=1e-8)
    total = log_likelihood(params, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert total == pytest.approx(params.log_likelihood, abs=1e-8)
    by_row = log_likelihood(params, rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)
    assert by_row == pytest.approx(total, abs=1e-8)


def test_fit_is_unit_invariant(cdnow: np.ndarray, params: BgNbdParams) -> None:
    in_days = fit_bgnbd(cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7)
    assert in_days.alpha == pytest.approx(params.alpha * 7, rel=1e-5)
    assert (in_days.r, in_days.a, in_days.b) == pytest.approx(
        (params.r, params.a, params.b), rel=1e-5
    )


def test_prob_alive_matches_lifetimes(cdnow: np.ndarray, params: BgNbdParams) -> None:
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    theirs = _lifetimes_bgnbd(params).conditional_probability_alive(x, tx, T)
    np.testing.assert_allclose(prob_alive(params, x, tx, T), theirs, rtol=0, atol=1e-9)
    assert np.all(prob_alive(params, x, tx, T)[x == 0] == 1.0)


@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 52.0, 500.0])
def test_expected_purchases_match_lifetimes(
    cdnow: np.ndarray, params: BgNbdParams, t: float
) -> None:
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    theirs = _lifetimes_bgnbd(params).conditional_expected_number_of_purchases_up_to_time(
        t, x, tx, T
    )
    np.testing.assert_allclose(
        expected_purchases(params, t, x, tx, T), theirs, rtol=1e-9, atol=1e-9
    )


def test_expected_purchases_shape_and_limits(params: BgNbdParams) -> None:
    horizons = np.array([[0.0], [10.0], [39.0]])
    result = expected_purchases(
        params, horizons, [0, 2, 7], [0.0, 30.43, 20.0], [38.86, 38.86, 35.0]
    )
    assert result.shape == (3, 3)
    assert np.all(result[0] == 0.0)
    assert np.all(np.diff(result, axis=0) > 0)
    # A brand-new customer (x = 0, T = 0) has the unconditional expectation, FHL 2005 eq. 9.
    unconditional = _lifetimes_bgnbd(params).expected_number_of_purchases_up_to_time(39.0)
    assert expected_purchases(params, 39.0, 0, 0.0, 0.0) == pytest.approx(unconditional, rel=1e-9)


def _p_no_purchase_by_integration(
    params: BgNbdParams, t: float, x: int, tx: float, T: float
) -> float:
    """P(X(t) = 0 | x, t_x, T), integrating the individual-level model over Gamma(λ) and Beta(p)."""
    rate = stats.gamma(a=params.r, scale=1 / params.alpha)
    dropout = stats.beta(params.a, params.b)

    def rate_term(s: float) -> float:
        return float(
            integrate.quad(lambda lam: rate.pdf(lam) * lam**x * np.exp(-lam * s), 0, np.inf)[0]
        )

    still_alive = integrate.quad(lambda p: dropout.pdf(p) * (1 - p) ** x, 0, 1)[0]
    died = integrate.quad(lambda p: dropout.pdf(p) * p * (1 - p) ** (x - 1), 0, 1)[0] if x else 0.0
    dead_term = died * rate_term(tx)
    return float(
        (still_alive * rate_term(T + t) + dead_term) / (still_alive * rate_term(T) + dead_term)
    )


@pytest.mark.parametrize(
    ("t", "x", "tx", "T"),
    [(10.0, 0, 0.0, 38.86), (10.0, 2, 30.43, 38.86), (39.0, 1, 1.71, 38.86), (39.0, 7, 20.0, 35.0)],
)
def test_prob_at_least_one_purchase_from_first_principles(
    params: BgNbdParams, t: float, x: int, tx: float, T: float
) -> None:
    expected = 1 - _p_no_purchase_by_integration(params, t, x, tx, T)
    assert prob_at_least_one_purchase(params, t, x, tx, T) == pytest.approx(expected, rel=1e-6)


def test_prob_at_least_one_purchase_limits(cdnow: np.ndarray, params: BgNbdParams) -> None:
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    p39 = prob_at_least_one_purchase(params, 39.0, x, tx, T)
    assert np.all(prob_at_least_one_purchase(params, 0.0, x, tx, T) == 0.0)
    assert np.all(p39 <= expected_purchases(params, 39.0, x, tx, T))  # Markov's inequality
    np.testing.assert_allclose(
        prob_at_least_one_purchase(params, 1e60, x, tx, T), prob_alive(params, x, tx, T)
    )
    # With no history at all it is 1 - P(X(t) = 0) of the population (FHL 2005 eq. 8 at n = 0).
    p0 = _lifetimes_bgnbd(params).probability_of_n_purchases_up_to_time(39.0, 0)
    assert prob_at_least_one_purchase(params, 39.0, 0, 0.0, 0.0) == pytest.approx(1 - p0, rel=1e-12)


def test_stars() -> None:
    probabilities = [0.0, 0.19, 0.2, 0.5, 0.79, 0.8, 1.0]
    assert stars(probabilities).tolist() == [1, 1, 2, 3, 4, 5, 5]
    assert stars([0.3, 0.7], thresholds=(0.5,)).tolist() == [1, 2]


@pytest.mark.parametrize(
    ("probabilities", "thresholds"),
    [
        ([1.2], (0.2, 0.4, 0.6, 0.8)),
        ([np.nan], (0.5,)),
        ([0.5], (0.6, 0.4)),
        ([0.5], (0.0, 0.5)),
        ([0.5], ()),
    ],
)
def test_stars_rejects_bad_input(probabilities: list[float], thresholds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        stars(probabilities, thresholds)


@pytest.mark.parametrize(
    ("x", "tx", "T", "message"),
    [
        ([-1], [0.0], [10.0], "frequency must be >= 0"),
        ([1.5], [2.0], [10.0], "whole number"),
        ([2], [12.0], [10.0], "recency must not exceed T"),
        ([0], [3.0], [10.0], "recency must be 0 when frequency is 0"),
        ([1], [-1.0], [10.0], "recency must be >= 0"),
        ([1], [1.0], [-10.0], "T must be >= 0"),
        ([1], [np.nan], [10.0], "finite"),
        ([1, 2], [1.0, 2.0, 3.0], [10.0], "shapes"),
        (["a"], [1.0], [10.0], "numeric"),
    ],
)
def test_invalid_histories_raise(
    params: BgNbdParams, x: list[float | str], tx: list[float], T: list[float], message: str
) -> None:
    for call in (
        lambda: fit_bgnbd(x, tx, T),
        lambda: prob_alive(params, x, tx, T),
        lambda: expected_purchases(params, 1.0, x, tx, T),
        lambda: prob_at_least_one_purchase(params, 1.0, x, tx, T),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_other_invalid_inputs_raise(params: BgNbdParams) -> None:
    with pytest.raises(ValueError, match="t must be >= 0"):
        expected_purchases(params, -1.0, 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="zero customers"):
        fit_bgnbd([], [], [])
    with pytest.raises(ValueError, match="repeat purchase"):
        fit_bgnbd([0, 0], [0.0, 0.0], [5.0, 6.0])
    with pytest.raises(ValueError, match="weights"):
        fit_bgnbd([1, 0], [1.0, 0.0], [5.0, 6.0], weights=[1.0])
    with pytest.raises(ValueError, match="parameter alpha"):
        BgNbdParams(r=0.2, alpha=-1.0, a=0.8, b=2.4)
    with pytest.raises(ValueError, match="a == 1"):
        expected_purchases(BgNbdParams(r=0.2, alpha=4.0, a=1.0, b=2.4), 1.0, 1, 1.0, 2.0)


def test_summary_reproduces_the_cdnow_summary(
    cdnow_transactions: tuple[np.ndarray, np.ndarray, np.ndarray],
    cdnow: np.ndarray,
    cdnow_spend: np.ndarray,
) -> None:
    ids, dates, amounts = cdnow_transactions
    # 39 calibration weeks: 1997-01-01 .. 1997-09-30, measured in days then expressed in weeks.
    summary = summary_from_transactions(
        ids, dates, observation_end="1997-09-30", amounts=amounts, periods_per_unit=7
    )
    assert summary.customer_ids.tolist() == cdnow["ID"].astype(int).tolist()
    np.testing.assert_array_equal(summary.frequency, cdnow["frequency"])
    np.testing.assert_array_equal(np.round(summary.recency, 2), cdnow["recency"])
    np.testing.assert_array_equal(np.round(summary.T, 2), cdnow["T"])
    assert summary.monetary_value is not None
    np.testing.assert_allclose(summary.monetary_value, cdnow_spend["zbar"], atol=0.005 + 1e-9)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_matches_lifetimes(
    cdnow_transactions: tuple[np.ndarray, np.ndarray, np.ndarray], freq: str
) -> None:
    ids, dates, amounts = cdnow_transactions
    frame = pd.DataFrame({"id": ids, "date": dates, "amount": amounts})
    theirs = summary_data_from_transaction_data(
        frame,
        "id",
        "date",
        monetary_value_col="amount",
        observation_period_end="1998-03-31",
        freq=freq,
    ).sort_index()
    ours = summary_from_transactions(
        ids, dates, observation_end="1998-03-31", freq=freq, amounts=amounts
    )
    assert ours.customer_ids.tolist() == theirs.index.tolist()
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(getattr(ours, column), theirs[column].to_numpy(), atol=1e-9)


def test_summary_matches_lifetimes_on_timestamps() -> None:
    raw = np.genfromtxt(
        DATASETS / "example_transactions.csv", delimiter=",", names=True, dtype=None
    )
    dates = np.array([d.replace(" ", "T") for d in raw["date"].astype(str)], dtype="datetime64[s]")
    frame = pd.DataFrame({"id": raw["id"], "date": dates})
    theirs = summary_data_from_transaction_data(frame, "id", "date").sort_index()
    ours = summary_from_transactions(raw["id"], dates, observation_end=dates.max())
    assert ours.monetary_value is None
    np.testing.assert_array_equal(ours.frequency, theirs["frequency"].to_numpy())
    np.testing.assert_array_equal(ours.recency, theirs["recency"].to_numpy())
    np.testing.assert_array_equal(ours.T, theirs["T"].to_numpy())


def test_summary_by_hand() -> None:
    summary = summary_from_transactions(
        ["a", "a", "a", "b", "c", "a"],
        ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-03", "2024-02-01", "2024-01-10"],
        amounts=[10.0, 5.0, 20.0, 7.0, 99.0, 30.0],
        observation_end="2024-01-10",
    )
    # a: purchase days 1st (two orders, one purchase), 5th, 10th; c buys only after the end.
    assert summary.customer_ids.tolist() == ["a", "b"]
    assert summary.frequency.tolist() == [2.0, 0.0]
    assert summary.recency.tolist() == [9.0, 0.0]
    assert summary.T.tolist() == [9.0, 7.0]
    assert summary.monetary_value is not None
    assert summary.monetary_value.tolist() == [25.0, 0.0]
    # Weeks run Monday to Sunday: Sunday the 7th is in the 1st's week, Monday the 8th is not.
    weekly = summary_from_transactions(
        [1, 1, 2, 2],
        ["2024-01-01", "2024-01-07", "2024-01-07", "2024-01-08"],
        observation_end="2024-01-14",
        freq="W",
    )
    assert weekly.frequency.tolist() == [0.0, 1.0]
    assert weekly.T.tolist() == [1.0, 1.0]  # the 14th is the Sunday ending the 8th's week


def test_summary_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="freq"):
        summary_from_transactions([1], ["2024-01-01"], observation_end="2024-01-02", freq="Q")
    with pytest.raises(ValueError, match="no transactions"):
        summary_from_transactions([1], ["2024-01-05"], observation_end="2024-01-02")
    with pytest.raises(ValueError, match="equal length"):
        summary_from_transactions([1, 2], ["2024-01-01"], observation_end="2024-01-02")
    with pytest.raises(ValueError, match="dates"):
        summary_from_transactions([1], ["not a date"], observation_end="2024-01-02")
    with pytest.raises(ValueError, match="amounts"):
        summary_from_transactions(
            [1], ["2024-01-01"], observation_end="2024-01-02", amounts=[np.nan]
        )


# --- Gamma-Gamma spend model and CLV -------------------------------------------------------------


@pytest.fixture(scope="module")
def spend_params(cdnow_spend: np.ndarray) -> GammaGammaParams:
    repeat = cdnow_spend[cdnow_spend["x"] > 0]
    return fit_gamma_gamma(repeat["x"], repeat["zbar"])


def _lifetimes_gamma_gamma(params: GammaGammaParams) -> GammaGammaFitter:
    model = GammaGammaFitter()
    model.params_ = pd.Series({"p": params.p, "q": params.q, "v": params.v})
    return model


def test_gamma_gamma_fit_reproduces_the_paper(
    cdnow_spend: np.ndarray, spend_params: GammaGammaParams
) -> None:
    # Fader, Hardie & Lee (2005), "RFM and CLV": p = 6.25, q = 3.74, gamma = 15.44 on 946 repeaters.
    assert (round(spend_params.p, 2), round(spend_params.q, 2)) == (6.25, 3.74)
    assert spend_params.v == pytest.approx(15.44, abs=0.01)
    assert spend_params.n_customers == 946
    repeat = cdnow_spend[cdnow_spend["x"] > 0]
    theirs = GammaGammaFitter().fit(repeat["x"], repeat["zbar"]).params_
    ours = [spend_params.p, spend_params.q, spend_params.v]
    assert ours == pytest.approx(list(theirs[["p", "q", "v"]]), rel=1e-4)


def test_expected_average_profit_matches_lifetimes(
    cdnow_spend: np.ndarray, spend_params: GammaGammaParams
) -> None:
    theirs = _lifetimes_gamma_gamma(spend_params).conditional_expected_average_profit(
        cdnow_spend["x"], cdnow_spend["zbar"]
    )
    ours = conditional_expected_average_profit(spend_params, cdnow_spend["x"], cdnow_spend["zbar"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    # With no repeat purchases the estimate is the population mean p v / (q - 1).
    population_mean = spend_params.p * spend_params.v / (spend_params.q - 1)
    assert conditional_expected_average_profit(spend_params, 0, 0.0) == pytest.approx(
        population_mean
    )


def test_customer_lifetime_value_matches_lifetimes(
    cdnow: np.ndarray, cdnow_spend: np.ndarray, params: BgNbdParams, spend_params: GammaGammaParams
) -> None:
    x, tx, T, m = (pd.Series(cdnow_spend[c]) for c in ("x", "t_x", "T", "zbar"))
    theirs = _lifetimes_gamma_gamma(spend_params).customer_lifetime_value(
        _lifetimes_bgnbd(params), x, tx, T, m, time=12, discount_rate=0.01, freq="W"
    )
    ours = customer_lifetime_value(
        params, spend_params, x, tx, T, m, months=12, discount_rate=0.01, time_unit="W"
    )
    np.testing.assert_allclose(ours, theirs.to_numpy(), rtol=1e-9)
    undiscounted = customer_lifetime_value(
        params, spend_params, 2, 30.43, 38.86, 22.35, discount_rate=0.0
    )
    assert undiscounted > customer_lifetime_value(params, spend_params, 2, 30.43, 38.86, 22.35)


def test_gamma_gamma_rejects_bad_input(spend_params: GammaGammaParams, params: BgNbdParams) -> None:
    with pytest.raises(ValueError, match="repeat customers only"):
        fit_gamma_gamma([0, 2], [10.0, 12.0])
    with pytest.raises(ValueError, match="monetary_value must be > 0"):
        fit_gamma_gamma([1, 2], [0.0, 12.0])
    with pytest.raises(ValueError, match="q <= 1"):
        conditional_expected_average_profit(GammaGammaParams(p=6.0, q=0.9, v=15.0), [1], [10.0])
    with pytest.raises(ValueError, match="months"):
        customer_lifetime_value(params, spend_params, 1, 1.0, 2.0, 10.0, months=0)
    with pytest.raises(ValueError, match="time_unit"):
        customer_lifetime_value(params, spend_params, 1, 1.0, 2.0, 10.0, time_unit="Y")
