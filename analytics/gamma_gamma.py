"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie note 025) and discounted CLV.

The model is fitted on customers with at least one repeat purchase: ``frequency`` x is their
number of repeat purchases and ``monetary_value`` m their mean spend per repeat purchase.
Transaction values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from analytics.bgnbd import (
    BgNbdParams,
    FloatArray,
    as_finite_array,
    customer_weights,
    expected_purchases,
    minimize_log_params,
    reject_if,
    require_positive_params,
)

# Length of one month in each time unit a BG/NBD model may be fitted in (as in lifetimes).
PERIODS_PER_MONTH: Final = {"D": 30.0, "W": 4.345, "M": 1.0, "h": 720.0, "H": 720.0}


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: spend shape p, and Gamma(q, v) heterogeneity of the spend scale."""

    p: float
    q: float
    v: float
    log_likelihood: float = math.nan
    n_customers: int = 0

    def __post_init__(self) -> None:
        require_positive_params("Gamma-Gamma", p=self.p, q=self.q, v=self.v)


def _neg_log_likelihood(
    log_params: FloatArray, x: FloatArray, m: FloatArray, weights: FloatArray
) -> tuple[float, FloatArray]:
    """Weighted mean negative log-likelihood of mean spends and its gradient in log-parameters."""
    p, q, v = np.exp(log_params)
    px = p * x
    log_total = np.log(x * m + v)
    ll = (
        gammaln(px + q) - gammaln(px) - gammaln(q)
        + q * np.log(v) + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_total
    )  # fmt: skip
    psi_pxq = digamma(px + q)
    grad_p = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_total)
    grad_q = psi_pxq - digamma(q) + np.log(v) - log_total
    grad_v = q / v - (px + q) / (x * m + v)
    grads = np.stack([grad_p * p, grad_q * q, grad_v * v])
    wsum = weights.sum()
    return -float(weights @ ll) / wsum, -(grads @ weights) / wsum


def fit_gamma_gamma(
    frequency: ArrayLike, monetary_value: ArrayLike, *, weights: ArrayLike | None = None
) -> GammaGammaParams:
    """Fit Gamma-Gamma by maximum likelihood on repeat customers' (x, mean repeat spend)."""
    x = np.ravel(as_finite_array(frequency, "frequency"))
    m = np.ravel(as_finite_array(monetary_value, "monetary_value"))
    if x.shape != m.shape or x.size == 0:
        raise ValueError("frequency and monetary_value must be non-empty and of equal length")
    reject_if(
        (x < 1) | (x != np.floor(x)),
        "frequency must be a whole number >= 1 (fit on repeat customers only)",
    )
    reject_if(m <= 0, "monetary_value must be > 0")
    w = customer_weights(weights, x.size)

    # Rescale money so the mean spend is 1: v is in money units, the others are unit-free.
    scale = float(np.average(m, weights=w))
    p, q, v_scaled = minimize_log_params(
        _neg_log_likelihood, 3, (x, m / scale, w), model="Gamma-Gamma"
    )
    v = v_scaled * scale
    nll, _ = _neg_log_likelihood(np.log([p, q, v]), x, m, w)
    return GammaGammaParams(
        p=float(p),
        q=float(q),
        v=float(v),
        log_likelihood=float(-nll * w.sum()),
        n_customers=round(float(w.sum())),
    )


def conditional_expected_average_profit(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """E[spend per transaction | x, m]: a blend of m and the population mean (note 025, eq. 5)."""
    x = as_finite_array(frequency, "frequency")
    m = as_finite_array(monetary_value, "monetary_value")
    reject_if((x < 0) | (x != np.floor(x)), "frequency must be a whole number >= 0")
    reject_if(m < 0, "monetary_value must be >= 0")
    p, q, v = params.p, params.q, params.v
    if q <= 1.0:
        raise ValueError(f"the population mean spend is infinite for q <= 1 (q = {q})")
    individual_weight = p * x / (p * x + q - 1.0)
    population_mean = p * v / (q - 1.0)
    return np.asarray(
        (1.0 - individual_weight) * population_mean + individual_weight * m, dtype=np.float64
    )


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    discount_rate: float = 0.01,
    time_unit: str = "D",
) -> FloatArray:
    """Discounted CLV: sum over months k of E[purchases in month k] * E[profit] / (1 + d)^k.

    Same scheme as lifetimes' ``customer_lifetime_value``: ``time_unit`` is the unit the BG/NBD
    model was fitted in (a month is 30 days, 4.345 weeks or 720 hours) and ``discount_rate`` is
    monthly.
    """
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValueError("months must be an integer >= 1")
    if not (math.isfinite(discount_rate) and discount_rate >= 0):
        raise ValueError("discount_rate must be a finite number >= 0 (monthly)")
    if time_unit not in PERIODS_PER_MONTH:
        raise ValueError(f"time_unit must be one of {sorted(PERIODS_PER_MONTH)}, got {time_unit!r}")
    profit = conditional_expected_average_profit(gamma_gamma, frequency, monetary_value)
    x, tx, age = np.broadcast_arrays(
        as_finite_array(frequency, "frequency"),
        as_finite_array(recency, "recency"),
        as_finite_array(T, "T"),
    )
    ends = np.arange(0, months + 1, dtype=np.float64) * PERIODS_PER_MONTH[time_unit]
    cumulative = expected_purchases(bgnbd, ends.reshape((-1,) + (1,) * x.ndim), x, tx, age)
    per_month = np.diff(cumulative, axis=0)
    discount = (1.0 + discount_rate) ** -np.arange(1, months + 1, dtype=np.float64)
    return np.asarray(profit * np.tensordot(discount, per_month, axes=1), dtype=np.float64)
