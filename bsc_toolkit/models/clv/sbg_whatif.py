"""What-if for subscribers: a covariate change (satisfaction +1 point) -> retention, lifetime, money.

:func:`sbg_what_if` pushes the active customers of a data set, as they are and with one covariate
changed, through a :class:`~bsc_toolkit.models.clv.sbg.ShiftedBetaGeoFitter` fitted with
covariates, and gives the change in retention, expected periods within a horizon, DERL and
(with revenue) residual value, with intervals from draws of the fitted parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from bsc_toolkit.models._base import NotEstimableError, check_alpha
from bsc_toolkit.models.clv._inputs import _covariate_matrix, _non_negative
from bsc_toolkit.models.clv._sbg_math import (
    _GRID,
    _derl_geometric,
    _derl_sbg,
    _horizon_geometric,
    _horizon_sum,
    _interpolated_lifetimes,
)
from bsc_toolkit.models.clv.sbg import (
    LACK_OF_FIT_LEVEL,
    ShiftedBetaGeoFitter,
    _check_columns,
    _churned_column,
    _tenure_column,
    _whole,
)

__all__ = ["sbg_what_if"]

#: Parameter draws evaluated together.
_DRAW_BATCH = 20


def _batch_alpha(X: np.ndarray, limit: bool, Zc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw, per-customer ``alpha_i`` (or ``theta_i`` at the limit), shape (B, m), and ``beta`` (B,)."""
    k0 = 1 if limit else 2
    eta = np.repeat(X[:, :1], len(Zc), axis=1)
    for j in range(Zc.shape[1]):
        eta = eta + X[:, k0 + j][:, None] * Zc[None, :, j]
    if limit:
        return special.expit(eta), np.full(len(X), np.nan)
    return np.exp(eta), np.exp(X[:, 1])


def _whatif_measures(
    X: np.ndarray,
    limit: bool,
    Zb: np.ndarray,
    Zs: np.ndarray,
    n_g: np.ndarray,
    cnt: np.ndarray,
    money: np.ndarray | None,
    d: float,
    horizon: int,
    exact: bool = False,
) -> np.ndarray:
    """The what-if measures for parameter draws ``X`` (B, k): shape (2 [baseline, scenario], B, M).

    ``Zb``, ``Zs``: centred covariates of the customer groups (baseline, scenario), ``n_g`` their
    tenures, ``cnt`` their sizes, ``money`` their revenue sums. Retention is exact; DERL and the
    horizon sum are exact when ``exact``, at the limit, or with at most ``_GRID`` customer groups per
    distinct tenure on average; otherwise interpolated
    (:func:`~bsc_toolkit.models.clv._sbg_math._interpolated_lifetimes`).
    """
    B = len(X)
    (ab, b), (as_, _) = _batch_alpha(X, limit, Zb), _batch_alpha(X, limit, Zs)
    bn = b[:, None] + n_g[None, :]
    if limit:
        lifetimes = [(_horizon_geometric(th, horizon), _derl_geometric(th, d)) for th in (ab, as_)]
    elif not exact and len(n_g) > np.unique(n_g).size * _GRID:
        lifetimes = _interpolated_lifetimes((ab, as_), b, n_g, d, horizon)
    else:
        lifetimes = [
            (_horizon_sum(a.ravel(), bn.ravel(), horizon).reshape(a.shape), _derl_sbg(a, bn, d)) for a in (ab, as_)
        ]
    out = np.empty((2, B, 4 + (money is not None)))
    n_total = cnt.sum()
    for s_i, (a, (hor, derl)) in enumerate(zip((ab, as_), lifetimes)):
        r = 1 - a if limit else bn / (a + bn)  # r(n + 1) = (beta + n) / (alpha_i + beta + n)
        out[s_i, :, 0] = (r * cnt).sum(axis=1) / n_total
        out[s_i, :, 1] = ((1 - r) * cnt).sum(axis=1) / n_total
        out[s_i, :, 2] = (hor * cnt).sum(axis=1) / n_total
        out[s_i, :, 3] = (derl * cnt).sum(axis=1) / n_total
        if money is not None:
            out[s_i, :, 4] = (derl * money).sum(axis=1)
    return out


def _revenue(revenue_per_period: float | pd.Series, data: pd.DataFrame, active: np.ndarray) -> np.ndarray:
    """Revenue per period for each row of ``data`` (NaN: no data), checked.

    A Series must be indexed by ``data``'s customers (its index) and reach at least one of the
    ``active`` ones; a number applies to everyone; an array needs one value per row of ``data``.
    """
    if isinstance(revenue_per_period, pd.Series):
        rev = revenue_per_period
        if not rev.index.is_unique:
            dup = rev.index[rev.index.duplicated()].unique()
            raise ValueError(
                f"revenue_per_period has {len(dup)} customer(s) listed twice in its index (e.g. "
                f"{', '.join(repr(v) for v in dup[:3])}): give one revenue per customer"
            )
        n_active = int(active.sum())
        matched = int(data.index[active].isin(rev.index).sum())
        if matched == 0:
            examples = ", ".join(repr(v) for v in rev.index[:3])
            wanted = ", ".join(repr(v) for v in data.index[active][:3])
            raise ValueError(
                f"revenue_per_period does not match the data: 0 of the {n_active:,} active customers (with "
                f"covariate values) appear in its index ({len(rev):,} revenue row(s), e.g. {examples}; active "
                f"customers e.g. {wanted}). Index it by the same customer ids as data (data.index)."
            )
        values = pd.to_numeric(rev, errors="coerce")
        bad = values.isna() & rev.notna()
        if bad.any():
            raise ValueError(
                f"revenue_per_period must be numeric; {int(bad.sum())} value(s) are not (e.g. "
                f"{', '.join(repr(v) for v in rev[bad].unique()[:3])})"
            )
        revenue = values.reindex(data.index).to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            arr = np.asarray(revenue_per_period, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"revenue_per_period must be a number or a Series indexed by customer, got {revenue_per_period!r}"
            ) from None
        if arr.ndim > 1 or (arr.ndim == 1 and arr.size != len(data)):
            raise ValueError(
                f"revenue_per_period must be one number, a Series indexed by customer, or one value per row of data "
                f"({len(data)}); got an array of shape {arr.shape}"
            )
        revenue = np.broadcast_to(arr, (len(data),)).copy()
    if (revenue[~np.isnan(revenue)] < 0).any():
        raise ValueError("revenue_per_period must be non-negative")
    return revenue


def sbg_what_if(
    fitter: ShiftedBetaGeoFitter,
    data: pd.DataFrame,
    covariate: str,
    delta: float,
    revenue_per_period: float | pd.Series | None = None,
    discount_rate: float = 0.1,
    tenure_col: str = "tenure",
    churned_col: str = "churned",
    n_draws: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    horizon: int = 12,
    scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """What if the active customers' ``covariate`` were ``delta`` higher: retention, lifetime, money.

    The active customers of ``data`` (``churned`` False) are taken as they are (baseline) and with
    ``covariate + delta`` (scenario), every other covariate unchanged, and pushed through the fitted
    sBG with covariates.

    Parameters
    ----------
    fitter : ShiftedBetaGeoFitter
        Fitted with ``covariate`` among its covariates.
    data : DataFrame
        One row per customer with ``tenure_col``, ``churned_col`` and the fitter's covariates
        (typically the data it was fitted on). Active customers with a missing covariate are left
        out (counted in ``attrs["settings"]["n_dropped"]``).
    covariate : str
        The covariate changed (e.g. ``"csat"``).
    delta : float
        Change added to it (e.g. ``1.0``: one satisfaction point).
    revenue_per_period : float or Series, optional
        Payment per period: one number, or a Series indexed like ``data`` (by customer; customers
        without a value are left out of the CLV row and counted in ``n_without_revenue``). Adds the
        ``clv_total`` row, NaN (no data, never 0) when no active customer has a revenue. A Series
        that reaches none of the active customers is an error (misaligned index).
    discount_rate : float
        Per period, > 0, for ``derl`` and ``clv_total`` (undiscounted residual lifetimes are infinite
        when ``alpha <= 1``).
    tenure_col, churned_col : str
        Columns of ``data``.
    n_draws : int
        Parameter draws for the intervals.
    seed : int
        Seed of the draws.
    alpha : float
        1 - level of the intervals.
    horizon : int
        Periods counted by ``expected_periods_within_horizon``.
    scale : (low, high), optional
        Clip the scenario's covariate to this range (a rating scale), so nobody is pushed beyond it.

    Returns
    -------
    DataFrame indexed by ``measure`` with columns ``baseline, scenario, change, change_ci_lower,
    change_ci_upper``:

    * ``retention_rate_next_period``: mean probability of renewing at the next renewal
      (``r(n + 1)`` for tenure ``n``);
    * ``churn_probability_next_period``: its complement;
    * ``expected_periods_within_horizon``: mean expected number of the next ``horizon`` periods
      the customer is a customer in (:meth:`ShiftedBetaGeoFitter.expected_residual_lifetime`);
    * ``derl``: mean discounted expected residual lifetime (future renewals, FH 2010);
    * ``clv_total`` (with revenue): total expected residual value, in the money unit of the revenue.

    ``attrs["settings"]`` holds the settings and counts (``n_active``, ``n_dropped``, ``n_clipped``,
    ``n_without_revenue``, ``n_with_revenue``; ``intervals`` is False, and the interval columns NaN,
    when the fitter's covariance is not finite, e.g. after ``from_params``;
    ``lack_of_fit_p_value``: the fitter's goodness-of-fit check, below 0.01 when its retention
    curve contradicts the data, see ``fitter.diagnostics_``). ``attrs["notes"]`` (list of str) says
    in words what a reader of the figures must know: customers without revenue left out of
    ``clv_total`` (or none with revenue: the row is NaN), a fit that fails its goodness-of-fit check.

    Raises
    ------
    ValueError
        ``covariate`` is not among the fitter's covariates; bad settings (``horizon``,
        ``n_draws``... named), columns or revenue (a Series matching none of the active customers).
    NotEstimableError
        The fit is not usable (``fitter.fit_status_.usable`` False: at a boundary or not
        converged); no active customer, or none with values of the covariates.

    Notes
    -----
    The intervals are percentile intervals of the change over ``n_draws`` draws of the parameters
    from their asymptotic normal distribution, on the scale they were estimated on
    (``log alpha, log beta, gamma``; ``logit theta, gamma`` at the geometric limit: the covariance
    behind ``cov_params_``), so drawn ``alpha`` and ``beta`` stay positive.

    This is the subscription counterpart of the retention report's hazard-model what-if
    (:func:`bsc_toolkit.models.whatif.what_if`); how the two models relate is in the Notes of
    :class:`~bsc_toolkit.models.clv.sbg.ShiftedBetaGeoFitter`.
    """
    alpha = check_alpha(alpha)
    fitter._check_fitted()
    if not fitter.fit_status_.usable:
        raise NotEstimableError(f"the {fitter.model_} cannot carry a what-if: {fitter.fit_status_.message}")
    if covariate not in fitter.covariates_:
        raise ValueError(
            f"the fitter has no covariate {covariate!r} (its covariates: {fitter.covariates_}); fit it with "
            f"covariates=[{covariate!r}, ...]"
        )
    d_rate = _non_negative(discount_rate, "discount_rate", "per period")
    if d_rate == 0:
        raise ValueError(
            "discount_rate must be positive in sbg_what_if: undiscounted residual lifetimes are infinite when alpha <= 1"
        )
    horizon = _whole(horizon, "horizon", 1, " of periods")
    n_draws = _whole(n_draws, "n_draws", 2)
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise ValueError(f"delta must be a number, got {delta!r}") from None
    names = fitter.covariates_
    _check_columns(data, [tenure_col, churned_col, *names])
    tenure = _tenure_column(data, tenure_col, minimum=0)
    churned = _churned_column(data, churned_col)
    Z = _covariate_matrix(data, names, "data")
    active = ~churned
    n_active_all = int(active.sum())
    if n_active_all == 0:
        raise NotEstimableError(
            f"no active customer in data (column {churned_col!r} is True everywhere): nothing to project"
        )
    complete = active & ~np.isnan(Z).any(axis=1)
    n_dropped = n_active_all - int(complete.sum())
    if not complete.any():
        raise NotEstimableError(f"none of the {n_active_all} active customers has values of the covariates {names}")
    rev_known = None
    revenue = None
    if revenue_per_period is not None:
        revenue = _revenue(revenue_per_period, data, complete)
        rev_known = ~np.isnan(revenue)
    j = names.index(covariate)
    Zs = Z.copy()
    Zs[:, j] += delta
    n_clipped = 0
    if scale is not None:
        lo, hi = float(scale[0]), float(scale[1])
        clipped = np.clip(Zs[:, j], lo, hi)
        n_clipped = int(((clipped != Zs[:, j]) & complete).sum())
        Zs[:, j] = clipped

    # compress active customers into (tenure, covariates) groups: counts and revenue sums
    rows = pd.DataFrame(np.column_stack([tenure, Z, Zs])[complete])
    rows["n"] = 1.0
    rows["rev"] = 0.0 if revenue is None else np.where(rev_known, revenue, 0.0)[complete]
    grouped = rows.groupby(list(range(1 + 2 * len(names))), sort=False)[["n", "rev"]].sum()
    keys = np.array(grouped.index.tolist(), dtype=float).reshape(-1, 1 + 2 * len(names))
    n_g = keys[:, 0]
    means = fitter.covariate_means_.to_numpy()
    Zb = keys[:, 1 : 1 + len(names)] - means
    Zsc = keys[:, 1 + len(names) :] - means
    cnt = grouped["n"].to_numpy()
    money = grouped["rev"].to_numpy() if revenue is not None else None
    x_hat = fitter._x_
    both = _whatif_measures(x_hat[None, :], fitter._limit_, Zb, Zsc, n_g, cnt, money, d_rate, horizon, exact=True)
    base, scen = both[0, 0], both[1, 0]
    index = [
        "retention_rate_next_period",
        "churn_probability_next_period",
        "expected_periods_within_horizon",
        "derl",
    ] + (["clv_total"] if revenue is not None else [])
    cov = fitter._xcov_
    lo_hi = np.full((len(index), 2), np.nan)
    if np.isfinite(cov).all():
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(x_hat, cov, size=n_draws, method="eigh")
        changes = []
        for s in range(0, len(draws), _DRAW_BATCH):
            res = _whatif_measures(
                draws[s : s + _DRAW_BATCH], fitter._limit_, Zb, Zsc, n_g, cnt, money, d_rate, horizon
            )
            changes.append(res[1] - res[0])
        lo_hi = np.quantile(np.concatenate(changes), [alpha / 2, 1 - alpha / 2], axis=0).T
    out = pd.DataFrame(
        {
            "baseline": base,
            "scenario": scen,
            "change": scen - base,
            "change_ci_lower": lo_hi[:, 0],
            "change_ci_upper": lo_hi[:, 1],
        },
        index=pd.Index(index, name="measure"),
    )
    lack_of_fit = getattr(fitter, "lack_of_fit_", None)
    n_with_revenue = None if revenue is None else int((complete & rev_known).sum())
    notes: list[str] = []
    n_active = int(cnt.sum())
    if n_with_revenue == 0:  # no active customer has revenue: no data, not a value of 0
        out.loc["clv_total", :] = np.nan
        notes.append(
            f"None of the {n_active:,} active customers has a revenue per period: clv_total is not available (no "
            "data, not 0)."
        )
    elif n_with_revenue is not None and n_with_revenue < n_active:
        notes.append(
            f"clv_total covers the {n_with_revenue:,} of the {n_active:,} active customers with a revenue per period; "
            f"{n_active - n_with_revenue:,} have none (no data: left out of the total, not counted as 0)."
        )
    lof_p = np.nan if lack_of_fit is None else float(lack_of_fit["p_value"])
    if lof_p < LACK_OF_FIT_LEVEL:
        notes.append(
            f"The {fitter.model_} fails its goodness-of-fit check against the observed retention per period "
            f"(p = {lof_p:.2g}; see the fit's lack_of_fit diagnostic): these figures rest on a retention curve the "
            "data contradict."
        )
    out.attrs["notes"] = notes
    out.attrs["settings"] = {
        "covariate": covariate,
        "delta": delta,
        "n_active": n_active,
        "n_dropped": int(n_dropped),
        "n_clipped": n_clipped,
        "n_without_revenue": None if revenue is None else int((complete & ~rev_known).sum()),
        "n_with_revenue": n_with_revenue,
        "horizon": horizon,
        "discount_rate": d_rate,
        "n_draws": n_draws,
        "seed": seed,
        "alpha": alpha,
        "model": fitter.model_,
        "intervals": bool(np.isfinite(cov).all()),
        "lack_of_fit_p_value": lof_p,
    }
    return out
