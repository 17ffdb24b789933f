"""Customer lifetime value from the fitted models, and the share of it held by unhappy customers.

:func:`customer_lifetime_value` is the discounted CLV combining a BG/NBD and a Gamma-Gamma fit
with the formula used by ``lifetimes``; :func:`clv_at_risk` the CLV held by low-satisfaction
customers, with customer-bootstrap intervals. :func:`clv_plausibility` decides whether the CLV
figures may be reported at all: a fit that ran away towards a boundary of the model without a
limiting model, or that did not converge, forecasts that are not finite, or CLVs far beyond any
spend ever observed (:func:`largest_yearly_spend`) make them nonsense, and a report must then
say so instead of printing them. A fit that used the limiting model at a boundary (e.g. the NBD
without drop-out where the BG/NBD's ``b`` runs to infinity; diagnostic ``"limit_model"``) is
usable: its forecasts are that model's, and the check carries the statement for the report.

Amounts are in the currency of the transactions (the ``_usd`` column suffix is historic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bsc_toolkit.models._base import Diagnostic, resolve_alpha
from bsc_toolkit.models.clv._inputs import _rfm_arrays
from bsc_toolkit.models.clv.bgnbd import BetaGeoFitter
from bsc_toolkit.models.clv.gamma_gamma import GammaGammaFitter
from bsc_toolkit.models.clv.rfm import _normalise_freq

__all__ = [
    "customer_lifetime_value",
    "clv_at_risk",
    "clv_plausibility",
    "largest_yearly_spend",
    "ClvPlausibility",
    "PERIODS_PER_MONTH",
    "IMPLAUSIBLE_CLV_FACTOR",
]

#: A customer's CLV over 12 months above this many times the largest yearly spend of any
#: customer in the data is implausible (see :func:`clv_plausibility`).
IMPLAUSIBLE_CLV_FACTOR = 10.0
#: Diagnostic codes of a fit that make its forecasts unusable.
_UNUSABLE_CODES = ("boundary", "not_converged")
#: Diagnostic codes said beside usable figures (a limiting model was used; close to a boundary).
_NOTE_CODES = ("limit_model", "near_boundary")

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
    conditional expectation and the expected value from the Gamma-Gamma model (or from the
    limiting models the fitters used at a boundary: ``bgf.model_``, ``ggf.model_``).
    A month is ``PERIODS_PER_MONTH[freq]`` periods (4.345 weeks, 30 days, 720 hours).

    Returns
    -------
    Series named ``clv_usd`` indexed like ``summary``, in the currency of the monetary values
    (the data set's currency; the suffix is historic). Check it with :func:`clv_plausibility`
    before reporting it.
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
    purchases, _ = _discounted_monthly(
        lambda t: np.asarray(bgf.predict(t, x, t_x, T), dtype=float), int(time_months), factor, discount_rate_monthly
    )
    return pd.Series(value * purchases, index=summary.index, name="clv_usd")


def _discounted_monthly(
    cumulative: Callable[[float], np.ndarray], months: int, factor: float, discount: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases month by month, discounted: ``sum_i (C(i m) - C((i - 1) m)) / (1 + d)^i``.

    ``cumulative(t)``: expected purchases in the next ``t`` periods (``C(0) = 0``); ``m = factor``
    periods per month, ``i = 1 .. months``, ``d = discount`` per month (the ``lifetimes`` CLV
    convention). Returns the discounted sum and the undiscounted ``C(months m)``.
    """
    discounted = previous = 0.0
    for i in range(1, months + 1):
        cum = cumulative(i * factor)
        discounted = discounted + (cum - previous) / (1 + discount) ** i
        previous = cum
    return discounted, previous


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


def largest_yearly_spend(
    transactions: pd.DataFrame,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    value_col: str = "revenue_usd",
) -> float:
    """The largest net spend of any customer in any calendar year of the data.

    Refunds (negative amounts) are netted within the customer-year. The yardstick of
    :func:`clv_plausibility`: no forecast should make a customer worth many times what any
    customer has ever spent in a year.

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction (or per netted purchase).
    customer_col, date_col, value_col : str
        Column names.

    Returns
    -------
    float
        The largest customer-year total; NaN when there are no transactions.
    """
    missing = [c for c in (customer_col, date_col, value_col) if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions lack column(s) {missing}; they have {list(transactions.columns)}")
    if transactions.empty:
        return float("nan")
    year = pd.to_datetime(transactions[date_col]).dt.year
    totals = transactions[value_col].astype(float).groupby([transactions[customer_col], year]).sum()
    return float(totals.max())


@dataclass(frozen=True)
class ClvPlausibility:
    """Whether CLV figures may be reported, and why not.

    Attributes
    ----------
    plausible : bool
        True when nothing below was found: the money figures may be shown.
    reasons : tuple of str
        Each problem found, as a sentence for the report.
    diagnostics : tuple of Diagnostic
        The fits' diagnostics that make the forecasts unusable (``"boundary"``,
        ``"not_converged"``), for showing beside the statement.
    max_clv : float
        The largest CLV checked (NaN when none was given or none is finite).
    limit : float
        The largest plausible CLV: ``factor`` times the largest yearly spend, scaled to the
        horizon (NaN without a yardstick).
    max_yearly_spend : float
        The yardstick (:func:`largest_yearly_spend`).
    at_boundary : bool
        True when a fit is at a boundary of its model without a limiting model, or did not converge.
    notes : tuple of Diagnostic
        Diagnostics to show beside figures that are reported: ``"limit_model"`` (a limiting model
        was used, and why) and ``"near_boundary"``.
    models : tuple of str
        The models the forecasts come from (``model_`` of each fit checked), e.g.
        ``("NBD (no drop-out)", "Gamma-Gamma")``.
    """

    plausible: bool
    reasons: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default_factory=tuple)
    max_clv: float = float("nan")
    limit: float = float("nan")
    max_yearly_spend: float = float("nan")
    at_boundary: bool = False
    notes: tuple[Diagnostic, ...] = field(default_factory=tuple)
    models: tuple[str, ...] = ()


def _finite_share(values: Any) -> tuple[int, int]:
    arr = np.asarray(values, dtype=float).ravel()
    return int((~np.isfinite(arr)).sum()), int(arr.size)


def clv_plausibility(
    bgf: BetaGeoFitter,
    ggf: GammaGammaFitter | None = None,
    *,
    clv: pd.Series | np.ndarray | None = None,
    expected_purchases: pd.Series | np.ndarray | None = None,
    max_purchases: float | None = None,
    max_yearly_spend: float | None = None,
    horizon_months: float = 12,
    factor: float = IMPLAUSIBLE_CLV_FACTOR,
    currency: str = "",
    period: str = "period",
) -> ClvPlausibility:
    """Check fitted CLV models and their forecasts before any money figure is reported.

    The forecasts are not plausible when

    * a fit has a ``"boundary"`` or ``"not_converged"`` diagnostic, or its ``fit_status_`` says it
      is not usable (parameters ran away towards a boundary of the model without a limiting
      model, or the search did not converge: forecasts there are numerically meaningless). A fit
      that used a limiting model (diagnostic ``"limit_model"``, e.g. the NBD without drop-out
      where the BG/NBD's ``b`` runs to infinity) is usable: its diagnostic is returned in
      ``notes`` for the report to show beside the figures;
    * any expected number of purchases or any CLV is not finite (or is negative);
    * an expected number of purchases exceeds ``max_purchases`` (e.g. the number of weeks in
      the horizon, at weekly resolution where a customer buys at most once a week);
    * some customer's CLV exceeds ``factor`` times the largest yearly spend of any customer
      (scaled to the horizon: ``factor * max_yearly_spend * horizon_months / 12``).

    Parameters
    ----------
    bgf : BetaGeoFitter
        The fitted purchase model.
    ggf : GammaGammaFitter, optional
        The fitted spend model (its diagnostics count too).
    clv : Series or array, optional
        CLV per customer (:func:`customer_lifetime_value`).
    expected_purchases : Series or array, optional
        Expected purchases per customer over the horizon (or a holdout).
    max_purchases : float, optional
        The most purchases possible over that time (None: not checked).
    max_yearly_spend : float, optional
        :func:`largest_yearly_spend` of the data (None or NaN: the CLV size is not checked).
    horizon_months : float
        Length of the CLV horizon in months.
    factor : float
        How many times the largest yearly spend a 12-month CLV may reach.
    currency : str
        Currency label for the sentences.
    period : str
        Name of the model's time unit ("week"), for the sentences.

    Returns
    -------
    ClvPlausibility
    """
    if not factor > 0:
        raise ValueError(f"factor must be positive, got {factor}")
    if not horizon_months > 0:
        raise ValueError(f"horizon_months must be positive, got {horizon_months}")
    reasons: list[str] = []
    unusable: list[Diagnostic] = []
    notes: list[Diagnostic] = []
    models: list[str] = []
    status_only: list[str] = []
    for model in (bgf, ggf):
        if model is None:
            continue
        model._check_fitted()
        found = [d for d in model.diagnostics_ if d.code in _UNUSABLE_CODES]
        unusable += found
        notes += [d for d in model.diagnostics_ if d.code in _NOTE_CODES]
        status = getattr(model, "fit_status_", None)
        models.append(str(getattr(model, "model_", type(model).__name__)))
        if status is not None and not status.usable and not found:
            status_only.append(f"The {status.model} fit is not usable: {status.message}")
    at_boundary = bool(unusable)
    reasons += status_only
    if at_boundary:
        names = sorted({d.message.split(":", 1)[0] for d in unusable if ":" in d.message})
        codes = {d.code for d in unusable}
        what = " and ".join(
            w for c, w in (("boundary", "at a boundary of the model"), ("not_converged", "not converged")) if c in codes
        )
        reasons.append(
            f"The {' and '.join(names) or 'model'} fit is {what}"
            + (" (no drop-out: b -> infinity, the NBD limit)" if _no_dropout(bgf) else "")
            + "."
        )
    unit = f" {currency}" if currency else ""
    if expected_purchases is not None:
        bad, n = _finite_share(expected_purchases)
        values = np.asarray(expected_purchases, dtype=float)
        negative = int((values[np.isfinite(values)] < 0).sum())
        if bad or negative:
            reasons.append(f"{bad + negative:,} of {n:,} expected purchase counts are not finite or negative.")
        if max_purchases is not None and np.isfinite(values).any():
            top = float(np.nanmax(np.where(np.isfinite(values), values, np.nan)))
            if top > max_purchases * (1 + 1e-9):
                reasons.append(
                    f"Some customer is expected to buy in {top:,.3g} {period}s, more than the {max_purchases:,.4g} "
                    f"{period}s of the horizon."
                )
    max_clv = limit = float("nan")
    yardstick = float("nan") if max_yearly_spend is None else float(max_yearly_spend)
    if clv is not None:
        values = np.asarray(clv, dtype=float)
        bad, n = _finite_share(values)
        if bad:
            reasons.append(f"{bad:,} of {n:,} customer CLVs are not finite.")
        finite = values[np.isfinite(values)]
        if finite.size:
            max_clv = float(finite.max())
            if (finite < 0).any():
                reasons.append(f"{int((finite < 0).sum()):,} customer CLVs are negative.")
        if np.isfinite(yardstick) and yardstick > 0:
            limit = factor * yardstick * horizon_months / 12.0
            if np.isfinite(max_clv) and max_clv > limit:
                reasons.append(
                    f"The largest {horizon_months:g}-month CLV, {max_clv:,.3g}{unit}, is more than {factor:g} times "
                    f"the largest yearly spend of any customer in the data ({yardstick:,.0f}{unit})."
                )
    return ClvPlausibility(
        plausible=not reasons,
        reasons=tuple(reasons),
        diagnostics=tuple(unusable),
        max_clv=max_clv,
        limit=limit,
        max_yearly_spend=yardstick,
        at_boundary=at_boundary,
        notes=tuple(notes),
        models=tuple(models),
    )


def _no_dropout(bgf: BetaGeoFitter) -> bool:
    """Whether a BG/NBD fit (not a limiting model) sits at its no-drop-out limit (b large, or a/(a+b) tiny)."""
    try:
        a, b = float(bgf.params_["a"]), float(bgf.params_["b"])
    except (KeyError, AttributeError):
        return False
    return bool(not np.isfinite(b) or b > 1e6 or (np.isfinite(a) and a / (a + b) < 1e-4))
