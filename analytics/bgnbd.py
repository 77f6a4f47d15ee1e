"""BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

Inputs follow the paper: ``frequency`` x is the number of repeat purchases, ``recency`` t_x the
age at the last purchase and ``T`` the age at the end of observation, all measured from the
customer's first purchase in one time unit (days, weeks, ...). Parameters, and every prediction
horizon ``t``, are in that same unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from core.errors import VeilError

FloatArray = NDArray[np.float64]
DateLike = str | date | np.datetime64

DEFAULT_STAR_THRESHOLDS: Final = (0.2, 0.4, 0.6, 0.8)
# Largest gradient component (of the mean log-likelihood, in log-parameters) accepted as converged.
_GRAD_TOL: Final = 1e-6


class FitError(VeilError, RuntimeError):
    """A likelihood maximisation did not converge."""

    code = "model_fit_failed"
    status = 422


def require_positive_params(model: str, **params: float) -> None:
    """Raise ValueError unless every named model parameter is a finite positive number."""
    for name, value in params.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"{model} parameter {name} must be a finite positive number, got {value!r}"
            )


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = math.nan
    n_customers: int = 0

    def __post_init__(self) -> None:
        require_positive_params("BG/NBD", r=self.r, alpha=self.alpha, a=self.a, b=self.b)


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    """Per-customer sufficient statistics, customers in sorted id order."""

    customer_ids: NDArray[np.generic]
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray | None


def as_finite_array(values: ArrayLike, name: str) -> FloatArray:
    """Float array of ``values``; ValueError naming the argument if non-numeric or non-finite."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return array


def reject_if(bad: NDArray[np.bool_], message: str) -> None:
    """Raise ValueError(message) if any element of ``bad`` is true."""
    if np.any(bad):
        raise ValueError(f"{message} ({int(np.count_nonzero(bad))} value(s))")


def customer_weights(weights: ArrayLike | None, n_customers: int) -> FloatArray:
    """Validated per-customer weights (counts of identical customers); all ones when None."""
    if weights is None:
        return np.ones(n_customers)
    w = np.ravel(as_finite_array(weights, "weights"))
    if w.size != n_customers:
        raise ValueError("weights must have one entry per customer")
    reject_if(w < 0, "weights must be >= 0")
    if not np.any(w > 0):
        raise ValueError("weights must not all be zero")
    return w


def _history(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and broadcast (x, t_x, T)."""
    x, tx, age = (
        as_finite_array(frequency, "frequency"),
        as_finite_array(recency, "recency"),
        as_finite_array(T, "T"),
    )
    try:
        x, tx, age = np.broadcast_arrays(x, tx, age)
    except ValueError as exc:
        raise ValueError(
            "frequency, recency and T must have the same (or broadcastable) shapes"
        ) from exc
    reject_if(x < 0, "frequency must be >= 0")
    reject_if(x != np.floor(x), "frequency must be a whole number of repeat purchases")
    reject_if(tx < 0, "recency must be >= 0")
    reject_if(age < 0, "T must be >= 0")
    reject_if(tx > age, "recency must not exceed T")
    reject_if((x == 0) & (tx != 0), "recency must be 0 when frequency is 0")
    return x, tx, age


def _horizon(t: ArrayLike) -> FloatArray:
    horizon = as_finite_array(t, "t")
    reject_if(horizon < 0, "t must be >= 0")
    return horizon


def _neg_log_likelihood(
    log_params: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray, weights: FloatArray
) -> tuple[float, FloatArray]:
    """Weighted mean negative log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    rx = r + x
    log_alpha_t = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + tx)
    # ln L_i = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4)); the sum is done as a log-sum-exp.
    a3 = -rx * log_alpha_t
    b_x1 = b + np.maximum(x, 1.0) - 1.0
    with np.errstate(divide="ignore"):
        a4 = np.where(repeat, np.log(a) - np.log(b_x1) - rx * log_alpha_tx, -np.inf)
    peak = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - peak), np.exp(a4 - peak)
    total = e3 + e4
    w3, w4 = e3 / total, e4 / total
    ll = (
        gammaln(rx)
        - gammaln(r)
        + r * np.log(alpha)
        + betaln(a, b + x)
        - betaln(a, b)
        + peak
        + np.log(total)
    )

    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    grad_r = digamma(rx) - digamma(r) + np.log(alpha) - w3 * log_alpha_t - w4 * log_alpha_tx
    grad_alpha = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + tx))
    grad_a = psi_ab - psi_abx + w4 / a
    grad_b = digamma(b + x) - digamma(b) + psi_ab - psi_abx - w4 / b_x1
    grads = np.stack([grad_r * r, grad_alpha * alpha, grad_a * a, grad_b * b])
    wsum = weights.sum()
    return -float(weights @ ll) / wsum, -(grads @ weights) / wsum


def minimize_log_params(
    objective: Callable[..., tuple[float, FloatArray]],
    n_params: int,
    args: tuple[object, ...],
    *,
    model: str,
) -> FloatArray:
    """Minimise a (value, gradient) objective over log-parameters from 0; return the parameters."""
    result = minimize(
        objective, np.zeros(n_params), args=args, jac=True, method="BFGS", options={"gtol": 1e-9}
    )
    # BFGS may stop on "precision loss" while already at the optimum, so judge by the gradient.
    if not (np.all(np.isfinite(result.x)) and np.max(np.abs(result.jac)) < _GRAD_TOL):
        raise FitError(f"{model} fit did not converge: {result.message}")
    return np.asarray(np.exp(result.x), dtype=np.float64)


def fit_bgnbd(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, weights: ArrayLike | None = None
) -> BgNbdParams:
    """Fit BG/NBD by maximum likelihood on per-customer (x, t_x, T), optionally count-weighted."""
    x, tx, age = (np.ravel(v) for v in _history(frequency, recency, T))
    if x.size == 0:
        raise ValueError("cannot fit BG/NBD on zero customers")
    w = customer_weights(weights, x.size)
    if not np.any((x > 0) & (w > 0)):
        raise ValueError("cannot fit BG/NBD without at least one customer with a repeat purchase")
    if not np.any(age * w > 0):
        raise ValueError("cannot fit BG/NBD when every customer has T == 0")

    # Identical histories share one likelihood term: fit on the distinct rows with summed weights.
    rows, inverse = np.unique(np.column_stack([x, tx, age]), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w).astype(np.float64)
    ux, utx, uage = rows.T
    # Rescale time so max T == 1: the optimum then sits near log-params 0 whatever the unit.
    scale = float(uage.max())
    args = (ux, utx / scale, uage / scale, counts)
    r, alpha_scaled, a, b = minimize_log_params(_neg_log_likelihood, 4, args, model="BG/NBD")
    alpha = alpha_scaled * scale
    nll, _ = _neg_log_likelihood(np.log([r, alpha, a, b]), ux, utx, uage, counts)
    total_weight = float(counts.sum())
    return BgNbdParams(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=float(-nll * total_weight),
        n_customers=round(total_weight),
    )


def log_likelihood(
    params: BgNbdParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> float:
    """Total BG/NBD log-likelihood of the histories under ``params`` (in the data's time unit)."""
    x, tx, age = (np.ravel(v) for v in _history(frequency, recency, T))
    w = customer_weights(weights, x.size)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    nll, _ = _neg_log_likelihood(log_params, x, tx, age, w)
    return float(-nll * w.sum())


def _log_alive_odds_inverse(
    params: BgNbdParams, x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """ln of P(dead)/P(alive) given history; -inf when x == 0 (nobody drops out before a repeat)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds = np.log(a / (b + np.maximum(x, 1.0) - 1.0)) + (r + x) * (
        np.log(alpha + T) - np.log(alpha + tx)
    )
    return np.where(x > 0, log_odds, -np.inf)


def prob_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(customer still active at T | x, t_x, T) (Fader, Hardie & Lee 2008, note 021)."""
    x, tx, age = _history(frequency, recency, T)
    return np.asarray(expit(-_log_alive_odds_inverse(params, x, tx, age)), dtype=np.float64)


def expected_purchases(
    params: BgNbdParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[repeat purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10)."""
    x, tx, age = _history(frequency, recency, T)
    horizon = _horizon(t)
    x, tx, age, horizon = np.broadcast_arrays(x, tx, age, horizon)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if a == 1.0:
        raise ValueError("expected_purchases is undefined for a == 1 (eq. 10 divides by a - 1)")
    big_a, big_b, big_c = r + x, b + x, a + b + x - 1.0
    z = horizon / (alpha + age + horizon)
    log_1mz = np.log(alpha + age) - np.log(alpha + age + horizon)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_hyp = np.log(hyp2f1(big_a, big_b, big_c, z))
        # Euler's transformation where the direct series overflows (z near 1, long horizons).
        log_hyp_euler = (
            np.log(hyp2f1(big_c - big_a, big_c - big_b, big_c, z))
            + (big_c - big_a - big_b) * log_1mz
        )
    log_hyp = np.where(np.isfinite(log_hyp), log_hyp, log_hyp_euler)
    if_alive = (a + b + x - 1.0) / (a - 1.0) * -np.expm1(log_hyp + big_a * log_1mz)
    alive = expit(-_log_alive_odds_inverse(params, x, tx, age))
    return np.asarray(if_alive * alive, dtype=np.float64)


def prob_at_least_one_purchase(
    params: BgNbdParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(at least one purchase in (T, T + t] | x, t_x, T).

    Formula: P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)).

    Derivation: a customer who has dropped out buys nothing; one still alive at T, with rate
    lambda, buys nothing in the next t with probability exp(-lambda t) (dropout only happens right
    after a purchase, so it cannot intervene). Hence P(X(t) = 0 | history) =
    (1 - P(alive)) + P(alive) * E[exp(-lambda t) | alive, history]. Given alive, the posterior of
    lambda is Gamma(r + x, alpha + T), whose Laplace transform at t is
    ((alpha + T) / (alpha + T + t)) ** (r + x).
    Taking 1 minus this gives the formula above; it tends to P(alive) as t grows.
    """
    x, tx, age = _history(frequency, recency, T)
    horizon = _horizon(t)
    alive = expit(-_log_alive_odds_inverse(params, x, tx, age))
    log_no_purchase_if_alive = -(params.r + x) * np.log1p(horizon / (params.alpha + age))
    return np.asarray(alive * -np.expm1(log_no_purchase_if_alive), dtype=np.float64)


def stars(
    probabilities: ArrayLike, thresholds: tuple[float, ...] = DEFAULT_STAR_THRESHOLDS
) -> NDArray[np.int64]:
    """Map probabilities to 1..len(thresholds)+1 stars (a value on a threshold gets the higher)."""
    p = as_finite_array(probabilities, "probabilities")
    reject_if((p < 0) | (p > 1), "probabilities must lie in [0, 1]")
    cuts = np.asarray(thresholds, dtype=np.float64)
    if cuts.ndim != 1 or cuts.size == 0 or not np.all(np.isfinite(cuts)):
        raise ValueError("thresholds must be a non-empty sequence of finite numbers")
    if np.any(np.diff(cuts) <= 0) or cuts[0] <= 0 or cuts[-1] >= 1:
        raise ValueError("thresholds must be strictly increasing and inside (0, 1)")
    return np.searchsorted(cuts, p, side="right").astype(np.int64) + 1


_DAY_UNITS: Final = {"D": "datetime64[D]", "h": "datetime64[h]", "M": "datetime64[M]"}


def _to_periods(dates: ArrayLike | Sequence[DateLike], freq: str) -> NDArray[np.int64]:
    """Whole periods since the epoch; weeks run Monday to Sunday like pandas' 'W' periods."""
    try:
        stamps = np.asarray(dates, dtype="datetime64[s]")
    except (TypeError, ValueError) as exc:
        raise ValueError("dates must be datetimes, dates or ISO-8601 strings") from exc
    if np.any(np.isnat(stamps)):
        raise ValueError("dates must not contain missing values (NaT)")
    if freq == "W":
        # 1970-01-01 was a Thursday; shifting by 3 days makes each week start on Monday.
        return (stamps.astype("datetime64[D]").astype(np.int64) + 3) // 7
    if freq not in _DAY_UNITS:
        raise ValueError(f"freq must be one of 'D', 'W', 'M', 'h', got {freq!r}")
    return stamps.astype(_DAY_UNITS[freq]).astype(np.int64)


def summary_from_transactions(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    *,
    observation_end: DateLike,
    freq: str = "D",
    amounts: ArrayLike | None = None,
    periods_per_unit: float = 1.0,
) -> TransactionSummary:
    """Per-customer frequency/recency/T (+ mean repeat spend), like lifetimes' summary data.

    Transactions in one ``freq`` period ('D', 'W' Monday-Sunday, 'M', 'h') count as one purchase
    with summed spend; the first period is not a repeat purchase and is excluded from
    ``monetary_value`` (0 for customers without repeats). Transactions after ``observation_end``
    are ignored. recency and T are whole periods divided by ``periods_per_unit`` (freq='D' with 7
    gives weeks to the day, as in the CDNOW summary of Fader, Hardie & Lee 2005).
    """
    ids = np.asarray(customer_ids)
    periods = _to_periods(dates, freq)
    if ids.ndim != 1 or periods.shape != ids.shape:
        raise ValueError("customer_ids and dates must be 1-d and of equal length")
    spend = None if amounts is None else np.ravel(as_finite_array(amounts, "amounts"))
    if spend is not None and spend.shape != ids.shape:
        raise ValueError("amounts must have one entry per transaction")
    if not (math.isfinite(periods_per_unit) and periods_per_unit > 0):
        raise ValueError("periods_per_unit must be a finite positive number")
    end = int(_to_periods([observation_end], freq)[0])

    keep = periods <= end
    if not np.any(keep):
        raise ValueError("no transactions on or before observation_end")
    try:
        uniq_ids, cust = np.unique(ids[keep], return_inverse=True)
    except TypeError as exc:
        raise ValueError("customer_ids must be mutually comparable (all str or all int)") from exc
    cust, periods = cust.ravel(), periods[keep]

    # Several transactions by one customer in one period count as one purchase (spend summed).
    order = np.lexsort((periods, cust))
    cust, periods = cust[order], periods[order]
    starts = np.ones(cust.size, dtype=bool)
    starts[1:] = (cust[1:] != cust[:-1]) | (periods[1:] != periods[:-1])
    group_cust, group_period = cust[starts], periods[starts]
    first = np.flatnonzero(np.r_[True, group_cust[1:] != group_cust[:-1]])
    last = np.r_[first[1:] - 1, group_cust.size - 1]
    frequency = np.bincount(group_cust, minlength=uniq_ids.size).astype(np.float64) - 1.0

    monetary = None
    if spend is not None:
        group_spend = np.bincount(np.cumsum(starts) - 1, weights=spend[keep][order])
        repeat_spend = np.bincount(group_cust, weights=group_spend) - group_spend[first]
        monetary = np.divide(
            repeat_spend, frequency, out=np.zeros_like(frequency), where=frequency > 0
        )
    return TransactionSummary(
        customer_ids=uniq_ids,
        frequency=frequency,
        recency=(group_period[last] - group_period[first]) / periods_per_unit,
        T=(end - group_period[first]) / periods_per_unit,
        monetary_value=monetary,
    )
