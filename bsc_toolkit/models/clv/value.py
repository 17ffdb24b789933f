"""Customer lifetime value from the fitted models, and the share of it held by unhappy customers.

:func:`customer_lifetime_value` is the discounted CLV combining a BG/NBD and a Gamma-Gamma fit
with the formula used by ``lifetimes``; :func:`clv_at_risk` the CLV held by low-satisfaction
customers, with customer-bootstrap intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bsc_toolkit.models._base import resolve_alpha
from bsc_toolkit.models.clv._inputs import _rfm_arrays
from bsc_toolkit.models.clv.bgnbd import BetaGeoFitter
from bsc_toolkit.models.clv.gamma_gamma import GammaGammaFitter
from bsc_toolkit.models.clv.rfm import _normalise_freq

__all__ = ["customer_lifetime_value", "clv_at_risk", "PERIODS_PER_MONTH"]

#: Number of ``freq`` periods in a month, as used by ``lifetimes`` for CLV.
PERIODS_PER_MONTH: dict[str, float] = {"W": 4.345, "M": 1.0, "D": 30.0, "h": 30.0 * 24.0}


def customer_lifetime_value(
    bgf: BetaGeoFitter,
    ggf: GammaGammaFitter,
    summary: pd.DataFrame,
    time_months: int = 12,
    discount_rate_monthly: float = 0.01,
    freq: str = "W",
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",
    monetary_value_col: str = "monetary_value",
) -> pd.Series:
    """Discounted customer lifetime value over ``time_months`` months.

    Same formula as ``lifetimes``: ``sum_{i=1..time_months} E[purchases in month i]
    * E[average value] / (1 + d)^i``, with the expected purchases from the BG/NBD
    conditional expectation and the expected value from the Gamma-Gamma model.
    A month is ``PERIODS_PER_MONTH[freq]`` periods (4.345 weeks, 30 days, 720 hours).

    Returns
    -------
    Series named ``clv_usd`` indexed like ``summary`` (in the currency of the
    monetary values, USD in this project).
    """
    if time_months < 1 or int(time_months) != time_months:
        raise ValueError("time_months must be a positive integer")
    if discount_rate_monthly <= -1:
        raise ValueError("discount_rate_monthly must be > -1")
    f = _normalise_freq(freq) if freq != "M" else "M"
    factor = PERIODS_PER_MONTH[f]
    x, t_x, T = _rfm_arrays(summary, frequency_col, recency_col, T_col, [monetary_value_col])
    value = np.asarray(
        ggf.conditional_expected_average_profit(x, summary[monetary_value_col].to_numpy(dtype=float)),
        dtype=float,
    )
    clv = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    for i in range(1, int(time_months) + 1):
        cum = np.asarray(bgf.predict(i * factor, x, t_x, T), dtype=float)
        clv += value * (cum - prev) / (1 + discount_rate_monthly) ** i
        prev = cum
    return pd.Series(clv, index=summary.index, name="clv_usd")


def clv_at_risk(
    clv: pd.Series,
    satisfaction: pd.Series,
    threshold: float,
    n_boot: int = 2000,
    seed: int | None = None,
    *,
    alpha: float = 0.05,
    confidence: float | None = None,
) -> pd.DataFrame:
    """CLV held by low-satisfaction customers, with customer-bootstrap intervals.

    A descriptive join, not a causal estimate: it says how much of the forecast
    value sits with customers who are unhappy, not what raising their
    satisfaction would be worth.

    Parameters
    ----------
    clv : Series
        CLV per customer (e.g. from :func:`customer_lifetime_value`), indexed by
        customer id.
    satisfaction : Series
        A satisfaction score per customer (e.g. the latest csat), indexed by
        customer id. Only customers present in both series with a non-missing
        score are used.
    threshold : float
        Customers with ``satisfaction <= threshold`` count as low-satisfaction.
    n_boot : int, default 2000
        Percentile-bootstrap resamples of customers (with replacement). The
        intervals reflect which customers happen to be in the base, not the
        uncertainty of the fitted model parameters.
    seed : int, optional
        Seed for ``numpy.random.default_rng``.
    alpha : float, default 0.05
        1 - confidence level of the intervals (0.05: 95% intervals).
    confidence : float, optional
        Deprecated: the confidence level, ``1 - alpha``. Accepted with a FutureWarning
        for one release; use ``alpha``.

    Returns
    -------
    DataFrame
        Rows ``clv_at_risk_usd`` (total CLV of the low-satisfaction customers),
        ``share_of_clv`` (their share of the CLV of all customers used) and
        ``mean_clv_gap_low_minus_rest_usd`` (mean CLV of the low group minus that
        of the others); columns ``estimate``, ``ci_lower``, ``ci_upper``.
    """
    alpha = resolve_alpha(alpha, confidence, "confidence", "clv_at_risk")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    both = pd.concat({"clv": clv, "satisfaction": satisfaction}, axis=1, join="inner").dropna()
    if both.empty:
        raise ValueError("no customer has both a CLV and a satisfaction score (check the customer ids)")
    value = both["clv"].to_numpy(dtype=float)
    low = (both["satisfaction"] <= threshold).to_numpy()
    n = value.size

    def stats_of(weights: np.ndarray) -> np.ndarray:
        """(risk, share, gap) for rows of customer weights (resample counts)."""
        risk = weights @ np.where(low, value, 0.0)
        total = weights @ value
        n_low = weights @ low.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = risk / n_low - (total - risk) / (weights.sum(axis=-1) - n_low)
            return np.stack([risk, risk / total, gap], axis=-1)

    rng = np.random.default_rng(seed)
    draws = []
    chunk = max(1, 5_000_000 // n)  # bounded memory: chunk x n resample counts at a time
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        counts = np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(float)
        draws.append(stats_of(counts))
    boot = np.concatenate(draws)
    tail = 100 * alpha / 2
    return pd.DataFrame(
        {
            "estimate": stats_of(np.ones(n)),
            "ci_lower": np.nanpercentile(boot, tail, axis=0),
            "ci_upper": np.nanpercentile(boot, 100 - tail, axis=0),
        },
        index=pd.Index(["clv_at_risk_usd", "share_of_clv", "mean_clv_gap_low_minus_rest_usd"], name="measure"),
    )
