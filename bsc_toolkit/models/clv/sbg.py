"""The shifted-beta-geometric (sBG) model of contractual retention: :class:`ShiftedBetaGeoFitter`.

Fader & Hardie (2007), "How to project customer retention", *Journal of Interactive Marketing*
21(1), 76-90; the discounted expected residual lifetime (DERL) of Fader & Hardie (2010),
"Customer-base valuation in a contractual setting: the perils of ignoring heterogeneity",
*Marketing Science* 29(1), 85-93.

Each customer's churn probability ``theta`` per period is constant over her lifetime and varies
across customers as ``Beta(alpha, beta)``; her lifetime ``T`` (periods as a customer) is geometric
given ``theta``. Across customers::

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)          (churns at the end of period t)
    S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)           (still a customer after t periods)
    r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)   (retention rate in period t)

Estimation is maximum likelihood in ``(log alpha, log beta, gamma)`` with the analytic gradient,
BFGS, a Hessian from central differences of the gradient, delta-method standard errors and Wald
intervals (on the log scale for ``alpha`` and ``beta``). Identical rows are compressed into
weights, so a fit on a million customers takes a fraction of a second. Every fit is checked
against the observed retention per period (a likelihood-ratio test against the life table,
``lack_of_fit_``): the sBG cannot represent a retention rate that falls with tenure, and the check
says so instead of reporting such a fit as if it held. The class states the covariate
parameterisation, the no-heterogeneity limit, the goodness-of-fit check, the timing conventions and
the relation to the hazard models. The numerics are in :mod:`~bsc_toolkit.models.clv._sbg_math`;
:func:`~bsc_toolkit.models.clv.sbg_whatif.sbg_what_if` turns a change of a covariate (satisfaction
+1 point) into retention, residual lifetime and money, with intervals.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from bsc_toolkit.models._base import FittedModel, NotEstimableError
from bsc_toolkit.models.clv._fitting import FitStatus, _fd_hessian, _p_text, _wald_natural
from bsc_toolkit.models.clv._inputs import (
    _as_names,
    _collinear,
    _covariate_matrix,
    _flat_columns,
    _non_negative,
    _numeric_column,
    _rows_preview,
    _weights,
)
from bsc_toolkit.models.clv._sbg_math import (
    _binomial_deviance,
    _Churn,
    _churn_params,
    _derl,
    _expected_churn,
    _expected_residual,
    _geo_hessian,
    _geo_loglik_grad,
    _life_table,
    _maximise,
    _pool_periods,
    _retention,
    _sbg_loglik_grad,
    _survival,
    _tdot,
    _trend_test,
)
from bsc_toolkit.models.clv._special import _log_rising

__all__ = ["ShiftedBetaGeoFitter"]


#: A fitted alpha + beta above this is the no-heterogeneity limit: the Beta distribution of churn
#: probabilities has a standard deviation below 0.05% of the range, so the geometric model (one
#: churn probability for everyone) is fitted instead.
HETEROGENEITY_LIMIT = 1e6
#: alpha or beta below this has run away towards zero (a boundary of the model).
RUNAWAY_LOW = 1e-6
#: Search bounds of log(alpha), log(beta).
_LOG_BOUNDS = (np.log(1e-10), np.log(1e12))
#: Relative tolerance of the comparison "the geometric limit fits at least as well as the sBG".
_LIMIT_TOL = 1e-9

MODEL_SBG = "sBG"
MODEL_GEOMETRIC = "geometric (no heterogeneity)"
BOUNDARY_NO_HETEROGENEITY = "no-heterogeneity boundary"
BOUNDARY_POLARISED = "polarised boundary (alpha, beta -> 0)"
BOUNDARY_OTHER = "boundary of the parameter space"

#: The goodness-of-fit check warns (diagnostic ``"lack_of_fit"``) below this p-value.
LACK_OF_FIT_LEVEL = 0.01
#: Periods are pooled until each group expects at least this many churners and renewals.
LACK_OF_FIT_MIN_EXPECTED = 5.0
#: What a significant rise of churn with tenure means for the model, in words.
RETENTION_FALLS = (
    "retention falls with tenure (churn rises: e.g. contracts ending, ageing products); neither the sBG nor its "
    "geometric limit can represent that, so residual lifetimes and DERL are overstated for long-tenure customers"
)

# -- input checks ----------------------------------------------------------------------------------


def _tenure_column(data: pd.DataFrame, col: str, minimum: int) -> np.ndarray:
    t = _numeric_column(data, col)
    index = data.index

    def fail(mask: np.ndarray, what: str) -> None:
        if mask.any():
            raise ValueError(f"column {col!r}: {int(mask.sum())} row(s) {what}: rows {_rows_preview(index[mask])}")

    fail(np.isnan(t), "with a missing value (tenure must be known for every customer)")
    fail(~np.isfinite(t), "with an infinite value")
    fail(t != np.floor(t), "with a non-integer value (tenure counts whole periods completed, e.g. 1, 2, 3)")
    if minimum == 1:
        fail(
            t < 1,
            "below 1 (tenure counts the whole periods completed, at least 1; a customer who has not completed a "
            "period says nothing about retention: leave such customers out of the fit)",
        )
    else:
        fail(t < minimum, f"below {minimum}")
    return t


def _churned_column(data: pd.DataFrame, col: str) -> np.ndarray:
    raw = data[col]
    index = data.index
    missing = raw.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"column {col!r}: {int(missing.sum())} row(s) with a missing value (churned must be True or False for "
            f"every customer): rows {_rows_preview(index[missing])}"
        )
    if pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(raw):
        vals = raw.to_numpy(dtype=float)
        bad = ~np.isin(vals, (0.0, 1.0))
    else:
        bad = ~raw.map(
            lambda v: isinstance(v, bool | np.bool_) or (isinstance(v, int | float) and v in (0, 1))
        ).to_numpy(dtype=bool)
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        raise ValueError(
            f"column {col!r} must be True/False (or 1/0): {int(bad.sum())} row(s) hold other values ({examples}) at "
            f"rows {_rows_preview(index[bad])}"
        )
    return raw.astype(float).to_numpy(dtype=float) == 1.0


def _check_columns(data: Any, cols: Sequence[str]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame with one row per customer, got {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"data is missing column(s) {missing}; available: {list(data.columns)}")


def _fmt_count(x: float) -> str:
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.1f}"


def _whole(value: Any, name: str, minimum: int, unit: str = "") -> int:
    """``value`` as an int, or an error naming ``name`` if it is not a whole number >= ``minimum``.

    Strings, None, booleans, NaN and infinities are errors too (never a bare ``int()`` failure).
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if ok:
        v = float(value)
        ok = bool(np.isfinite(v) and v == np.floor(v) and v >= minimum)
    if not ok:
        raise ValueError(f"{name} must be a whole number{unit} >= {minimum}, got {value!r}")
    return int(value)


# -- the fitter ------------------------------------------------------------------------------------


class ShiftedBetaGeoFitter(FittedModel):
    """Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007).

    Each customer churns at the end of a period with her own probability ``theta``, constant over
    her lifetime; ``theta ~ Beta(alpha, beta)`` across customers. The retention rate
    ``r(t) = (beta + t - 1) / (alpha + beta + t - 1)`` rises with tenure because the customers
    most likely to leave leave first. With covariates ``z`` (customer-level, e.g. satisfaction),
    ``alpha_i = alpha * exp(gamma' (z_i - mean z))``: ``gamma`` is a **logit covariate on the churn
    probability**, it shifts ``logit E[theta_i] = log(alpha_i / beta)``, so ``exp(gamma)`` is the
    odds ratio of the mean churn probability per unit of the covariate (``beta``, the other side of
    the Beta, is shared: the spread of churn probabilities around each customer's mean follows).
    When the likelihood rises towards ``alpha, beta -> infinity`` together (no heterogeneity: every
    customer has the same churn probability), the limiting geometric model, a logit in the
    covariates, is fitted instead and ``fit_status_`` says so. Either model is then tested against
    the observed retention per period (``lack_of_fit_``, ``retention_check_``; see Notes): data whose
    retention falls with tenure fit neither, and the fit says so in words.

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level of the intervals (not the model parameter ``alpha``, which is
        ``params_["alpha"]``).

    Attributes
    ----------
    params_ : Series
        ``alpha``, ``beta`` (``alpha`` at the covariate means) and ``churn:<covariate>`` for each
        covariate (log odds ratios). At the no-heterogeneity boundary (``model_`` is
        ``"geometric (no heterogeneity)"``): ``churn_probability`` (the one churn probability per
        period, at the covariate means) and the ``churn:<covariate>`` log odds ratios.
    standard_errors_, confidence_intervals_, cov_params_
        Delta-method standard errors; Wald intervals on the log scale for ``alpha`` and ``beta``
        (on the logit scale for ``churn_probability``), ordinary Wald intervals for the covariate
        coefficients; covariance on the natural scale.
    log_likelihood_ : float
    n_customers_ : int or float
        Customers fitted (rows, or the sum of the weights: a float when it is not whole).
    converged_ : bool
    fit_status_ : FitStatus
        ``model, converged, boundary, message, usable``: how the fit ended, in words
        (:class:`bsc_toolkit.models.clv._fitting.FitStatus`). ``model`` is ``"sBG"`` or
        ``"geometric (no heterogeneity)"``; ``boundary`` is None, ``"no-heterogeneity boundary"`` (the
        geometric limit was fitted: usable), ``"polarised boundary (alpha, beta -> 0)"`` or
        ``"boundary of the parameter space"`` (not usable).
    model_ : str
        ``fit_status_.model``.
    covariates_ : list of str
    covariate_means_ : Series
        Means the covariates were centred on (weighted like the fit).
    survivors_ : Series or None
        The cohort's survivors after :meth:`fit_survivors`.
    heterogeneity_p_value_ : float
        Likelihood-ratio test of "every customer has the same churn probability" (the geometric
        model, a boundary: p-values from half a chi-squared(1)); 1 when the limit was fitted.
    lack_of_fit_ : Series or None
        Goodness-of-fit check of the fitted model (sBG or geometric limit) against the life table,
        the saturated model with its own churn probability for every period (see Notes):
        ``statistic`` (G), ``df``, ``p_value`` (NaN when ``df < 1``: too few customers to check),
        ``n_periods``, ``n_groups`` (after pooling sparse periods), ``trend_z`` and
        ``trend_p_value`` (Cochran-Armitage test of a rise of churn with tenure, one-sided). None
        after :meth:`from_params`.
    retention_check_ : DataFrame or None
        Per period ``1 .. max tenure``: ``at_risk``, ``churned``, ``expected_churned`` (under the
        fitted model, given who was at risk), ``observed_retention``, ``fitted_retention``,
        ``observed_survival``, ``fitted_survival`` (their products) and ``group`` (the pooled group
        of the check).
    diagnostics_ : list of Diagnostic
        ``"limit_model"`` (the geometric limit was fitted), ``"not_converged"``, ``"boundary"``,
        ``"dropped_rows"`` (customers without a covariate value), ``"infinite_expected_lifetime"``,
        ``"weak_heterogeneity"`` (the test above is not significant at ``alpha``), ``"assumption"``
        (:meth:`fit_survivors` on counts that are not whole numbers), ``"lack_of_fit"`` (warning:
        the goodness-of-fit check fails at p < 0.01; in words which way the data depart) and
        ``"lack_of_fit_not_tested"`` (info: too few customers per period for the check).

    Notes
    -----
    Period conventions (``tenure`` = whole periods completed): a customer who churned with tenure
    ``t`` left at the end of period ``t`` (``P(T = t)``); an active customer with tenure ``t`` is
    still a customer after ``t`` periods (``T > t``), i.e. she renewed for period ``t + 1``.

    **Goodness of fit.** The sBG can only represent a retention rate that rises with tenure (or,
    at its geometric limit, stays constant). Every fit is therefore checked against the life table:
    in period ``t``, ``R_t`` customers are at risk (tenure ``>= t``) and ``c_t`` leave at its end;
    the saturated model gives each period its own churn probability ``c_t / R_t``, the fitted model
    expects ``E_t`` churners (the sum of the at-risk customers' churn probabilities in ``t`` given
    that they reached it). The statistic ``G = 2 sum_t [c_t log(c_t / E_t) + (R_t - c_t)
    log((R_t - c_t) / (R_t - E_t))]`` is, without covariates and without pooling, exactly the
    likelihood-ratio statistic of the fitted model against the saturated one (the likelihood of
    both factorises into the periods, right-censoring included). Adjacent periods are pooled until
    each group expects at least 5 churners and 5 renewals (a sparse tail joins the group before
    it); ``df = groups - 2`` for the sBG, ``groups - 1`` for the geometric limit. With covariates the
    same statistic compares the per-period totals with the model's (as the Hosmer-Lemeshow test
    groups a logistic regression; the covariate coefficients are not subtracted from ``df``), an
    approximate test of the tenure shape. At p < 0.01 the ``"lack_of_fit"`` diagnostic says which
    way the data depart, and ``fit_status_.message`` says it too (``usable`` is unchanged: the
    figures are still those of the fitted model, with that caveat).

    **Relation to the retention report's hazard models.** The retention report fits a
    discrete-time cloglog hazard per customer-period with satisfaction
    (:class:`~bsc_toolkit.models.retention.DiscreteTimeHazardModel`, used by
    :func:`bsc_toolkit.models.whatif.what_if`). The sBG with a covariate asks the same question
    -- does satisfaction lower churn? -- in a model that also lets unobserved heterogeneity make the
    retention rate rise with tenure (the customers most likely to leave leave first) without a tenure
    term; its coefficient is a log odds ratio of the mean churn probability rather than a log hazard
    ratio (close when churn is rare), and it uses one satisfaction value per customer. A hazard
    model without frailty reads the sorting of the customer base as tenure dependence. The toolkit's
    panel simulator (:mod:`bsc_toolkit.data.simulate`) has a cloglog truth; the sBG's own truth is
    :func:`~bsc_toolkit.models.clv.simulate_contractual.simulate_sbg`. Its what-if (a covariate
    change -> retention, residual lifetime, money) is
    :func:`~bsc_toolkit.models.clv.sbg_whatif.sbg_what_if`.

    Examples
    --------
    >>> sbg = ShiftedBetaGeoFitter().fit_survivors([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> sbg.params_.round(3).tolist()
    [0.704, 1.182]
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__(alpha=alpha)

    # -- fitting ----------------------------------------------------------------------------------
    def fit(
        self,
        data: pd.DataFrame,
        duration_col: str = "tenure",
        event_col: str = "churned",
        covariates: Sequence[str] | None = None,
        weights_col: str | None = None,
    ) -> ShiftedBetaGeoFitter:
        """Fit on individual data, one row per customer; returns ``self``.

        Parameters
        ----------
        data : DataFrame
            One row per customer (or per group of identical customers, with ``weights_col``).
        duration_col : str
            Tenure: whole periods completed, an integer >= 1.
        event_col : str
            ``True`` (or 1): the customer left at the end of period ``tenure``; ``False`` (or 0): still
            a customer after ``tenure`` periods (right-censored).
        covariates : sequence of str, optional
            Numeric customer-level columns (e.g. ``["csat"]``), centred by the fitter
            (``covariate_means_``). Customers without a value of a covariate are left out (missing
            data is no data) and counted in a ``"dropped_rows"`` diagnostic.
        weights_col : str, optional
            Number of customers each row stands for (non-negative).

        Raises
        ------
        NotEstimableError
            Nobody churned; every customer observed for one period only; a covariate without
            variation, or collinear covariates; no customer left after dropping missing covariates.
        ValueError
            Bad input (missing columns, missing or non-integer tenure, tenure below 1, churn not
            True/False...), naming the column and the rows.
        """
        self._start_fit()
        names = _as_names(covariates) or []
        _check_columns(data, [duration_col, event_col, *names, *([weights_col] if weights_col else [])])
        t = _tenure_column(data, duration_col, minimum=1)
        d = _churned_column(data, event_col).astype(float)
        if weights_col is not None:
            w = _weights(data, weights_col)
        else:
            w = np.ones(len(data))
        Z = _covariate_matrix(data, names, "data")
        keep = w > 0
        n_dropped = 0.0
        if names:
            missing = np.isnan(Z).any(axis=1) & keep
            n_dropped = float(w[missing].sum())
            keep &= ~missing
        if n_dropped > 0:
            per_cov = ", ".join(f"{c}: {int(np.isnan(Z[:, j]).sum())}" for j, c in enumerate(names))
            self._diagnose(
                "dropped_rows",
                f"sBG: {_fmt_count(n_dropped)} customer(s) without a value of the covariate(s) were left out of the "
                f"fit (missing per covariate: {per_cov}); the estimates describe the customers with values.",
                "info",
            )
        t, d, w, Z = t[keep], d[keep], w[keep], Z[keep]
        if w.sum() <= 0:
            raise NotEstimableError(
                "sBG: no customer left to fit"
                + (" after leaving out those without covariate values" if n_dropped else "")
                + f" ({len(data)} row(s) given)"
            )
        self._fit_or_forget(t, d, w, Z, names, event_col)
        self.survivors_ = None
        return self

    def fit_survivors(self, survivors: Sequence[float] | np.ndarray | pd.Series) -> ShiftedBetaGeoFitter:
        """Fit on one cohort's survivor counts; returns ``self``.

        Parameters
        ----------
        survivors : sequence of numbers
            Customers still active at the start (the cohort size, first) and after each period:
            ``[1000, 631, 468, ...]``. Non-increasing, non-negative, the first positive. Counts, not
            shares: the standard errors depend on the cohort size.

        Notes
        -----
        Equivalent to :meth:`fit` on ``s[t-1] - s[t]`` customers who churned at the end of period
        ``t`` and ``s[-1]`` customers still active after the last period (same estimates).
        """
        self._start_fit()
        try:
            s = np.asarray(survivors, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"survivors must be numbers (customers still active after 0, 1, 2... periods), got {survivors!r}"
            ) from None
        if s.ndim != 1:
            raise ValueError(
                f"survivors must be one-dimensional, one count per period (e.g. [1000, 631, 468]), got an array of "
                f"shape {s.shape}; pass a list or a Series (one cohort at a time)"
            )
        if s.size < 2:
            raise ValueError("survivors needs the cohort size and at least one later count, e.g. [1000, 631, 468]")
        if not np.isfinite(s).all():
            raise ValueError(
                f"survivors has missing or infinite values at positions {np.flatnonzero(~np.isfinite(s))[:5].tolist()}"
            )
        if s[0] <= 0:
            raise ValueError(f"survivors must start with the (positive) cohort size, got {s[0]:g}")
        if (s < 0).any():
            raise ValueError(
                f"survivors must be non-negative; negative at positions {np.flatnonzero(s < 0)[:5].tolist()}"
            )
        up = np.flatnonzero(np.diff(s) > 0)
        if up.size:
            i = int(up[0])
            raise ValueError(
                f"survivors must not increase (a cohort only loses customers): {s[i]:g} at position {i} is followed "
                f"by {s[i + 1]:g}"
            )
        n = s.size - 1
        periods = np.arange(1, n + 1, dtype=float)
        t = np.concatenate([periods, [float(n)]])
        d = np.concatenate([np.ones(n), [0.0]])
        w = np.concatenate([s[:-1] - s[1:], [s[-1]]])
        keep = w > 0
        self._fit_or_forget(t[keep], d[keep], w[keep], np.empty((int(keep.sum()), 0)), [], None)
        if (s != np.round(s)).any():
            self._diagnose(
                "assumption",
                f"sBG: the survivors are not whole numbers (shares rather than counts of customers?). The estimates "
                f"do not depend on it, but the standard errors and intervals treat them as {s[0]:g} customers.",
            )
        self.survivors_ = pd.Series(s, index=pd.RangeIndex(s.size, name="period"), name="survivors")
        return self

    def _fit_or_forget(
        self, t: np.ndarray, d: np.ndarray, w: np.ndarray, Z: np.ndarray, names: list[str], event_col: str | None
    ) -> None:
        """:meth:`_fit_rows`, leaving an unfitted model (no attribute of this fit) if it fails."""
        try:
            self._fit_rows(t, d, w, Z, names, event_col)
        except Exception:
            self._start_fit()
            raise

    def _fit_rows(
        self, t: np.ndarray, d: np.ndarray, w: np.ndarray, Z: np.ndarray, names: list[str], event_col: str | None
    ) -> None:
        """Compress, check identification, fit the sBG (or its geometric limit) and store everything."""
        p = len(names)
        W = float(w.sum())
        self.n_customers_ = int(round(W)) if abs(W - round(W)) < 1e-9 else W
        means = _tdot(Z, w) / W if p else np.empty(0)
        Zc = Z - means
        self.covariates_ = list(names)
        self.covariate_means_ = pd.Series(means, index=pd.Index(names, dtype=object), name="mean", dtype=float)
        # compress identical (tenure, churned, covariates) rows
        if p:
            rows = np.column_stack([t, d, Z])
            codes = pd.DataFrame(rows).groupby(list(range(p + 2)), sort=False).ngroup().to_numpy()
            w = np.bincount(codes, weights=w)
            member = np.empty(w.size, dtype=np.int64)
            member[codes] = np.arange(codes.size)  # any row of each group (they are identical)
            keys = rows[member]
            t, d, Z = keys[:, 0], keys[:, 1], keys[:, 2:]
            Zc = Z - means
        else:
            key = (t * 2 + d).astype(np.int64)
            if key.max() < 10_000_000:  # a counting sort: no argsort of a million keys
                counts = np.bincount(key, weights=w)
                uniq = np.flatnonzero(counts)
                w = counts[uniq]
            else:
                uniq, inv = np.unique(key, return_inverse=True)
                w = np.bincount(inv, weights=w)
            t, d = (uniq // 2).astype(float), (uniq % 2).astype(float)
            Z = Zc = np.empty((t.size, 0))
        self._rows_ = (t, d, w, Zc)
        self._check_identified(t, d, w, Z, names, event_col)

        # the geometric limit (no heterogeneity): closed form without covariates
        x_geo, geo_conv = self._fit_geometric(t, d, w, Zc)
        ll_geo = _geo_loglik_grad(x_geo, t, d, w, Zc)[0]

        # the sBG, from a method-of-moments start (then from alpha = beta = 1 if that fails)
        def fun_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
            return _sbg_loglik_grad(x, t, d, w, Zc)

        zmax = np.abs(Zc).max(axis=0) if p else np.empty(0)
        bounds: list[tuple[float | None, float | None]] = [_LOG_BOUNDS, _LOG_BOUNDS] + [
            (-40.0 / m, 40.0 / m) if m > 0 else (None, None) for m in zmax
        ]
        best: tuple[np.ndarray, bool, str, float] | None = None
        for x0 in (self._start(t, d, w), np.zeros(2)):
            x0 = np.concatenate([x0, np.zeros(p)])
            x, conv, msg = _maximise(fun_grad, x0, bounds, W)
            ll = fun_grad(x)[0]
            if best is None or ll > best[3] + 1e-9 * abs(ll):
                best = (x, conv, msg, ll)
            if conv or np.exp(x[0]) + np.exp(x[1]) > HETEROGENEITY_LIMIT or ll <= ll_geo:
                break  # converged, or on its way to the no-heterogeneity limit (fitted below)
        assert best is not None
        x_sbg, conv_sbg, msg_sbg, ll_sbg = best

        a_hat, b_hat = np.exp(x_sbg[0]), np.exp(x_sbg[1])
        limit = bool(a_hat + b_hat > HETEROGENEITY_LIMIT or ll_geo >= ll_sbg - _LIMIT_TOL * max(1.0, abs(ll_sbg)))
        # likelihood-ratio test of "no heterogeneity" (alpha + beta -> infinity, a boundary: half chi2(1))
        lr = max(0.0, 2 * (ll_sbg - ll_geo)) if not limit else 0.0
        self.heterogeneity_p_value_ = float(0.5 * stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
        if limit:
            self._store(x_geo, True, ll_geo, names, lambda x: _geo_hessian(x, t, d, w, Zc))
            self.converged_ = geo_conv
        else:
            self._store(x_sbg, False, ll_sbg, names, lambda x: _fd_hessian(lambda y: fun_grad(y)[1], x))
            self.converged_ = conv_sbg
        lack = self._check_fit(t, d, w, Zc)
        if limit:
            self._status_limit(geo_conv, lack)
        else:
            self._status_sbg(conv_sbg, msg_sbg, bounds, lack)
        if lack is not None:
            self._diagnose("lack_of_fit", lack[1], "warning")
        self.model_ = self.fit_status_.model

    def _check_identified(
        self, t: np.ndarray, d: np.ndarray, w: np.ndarray, Z: np.ndarray, names: list[str], event_col: str | None
    ) -> None:
        W = w.sum()
        churned = float(w[d == 1].sum())
        where = f" (column {event_col!r} is False everywhere)" if event_col else ""
        if churned == 0:
            raise NotEstimableError(
                f"sBG: no churn observed: none of the {_fmt_count(W)} customers left{where}, so the model cannot "
                "separate the churn probability from zero (its estimate would be 'nobody ever leaves'). Fit it on data "
                "that include customers who left (a longer observation window, or former customers as well as "
                "current ones)."
            )
        if t.max() <= 1:
            if churned >= W:
                raise NotEstimableError(
                    f"sBG: every one of the {_fmt_count(W)} customers churned at the end of the first period: the "
                    "churn probability is 1 for everyone and there is no retention to model."
                )
            raise NotEstimableError(
                f"sBG: every customer was observed for a single period (tenure 1): the data show the first-period "
                f"churn rate ({_fmt_count(churned)} of {_fmt_count(W)} customers) but nothing about how retention "
                "changes with tenure, so alpha and beta (the mean and the spread of the churn probabilities) cannot "
                "be separated. The model needs customers observed for at least two periods."
            )
        flat = [names[j] for j in _flat_columns(Z, w)]
        if flat:
            raise NotEstimableError(
                f"sBG: covariate(s) {flat} take one value for every customer fitted: their effect on churn "
                "cannot be estimated. Leave them out."
            )
        if _collinear(Z, w):
            raise NotEstimableError(
                f"sBG: the covariates {names} are collinear (one is a linear combination of the others): their "
                "separate effects on churn cannot be estimated. Leave one out."
            )

    @staticmethod
    def _start(t: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Log (alpha, beta) from the first two observed retention rates (method of moments)."""
        at_risk1 = w.sum()
        h1 = float(w[(t == 1) & (d == 1)].sum() / at_risk1)
        at_risk2 = float(w[t >= 2].sum())
        mu = min(max(h1, 1e-3), 1 - 1e-3)
        kappa = 100.0
        if at_risk2 > 0:
            h2 = float(w[(t == 2) & (d == 1)].sum() / at_risk2)
            r1, r2 = 1 - h1, 1 - h2
            if r2 > r1 + 1e-9:
                kappa = (1 - r2) / (r2 - r1)
        kappa = min(max(kappa, 0.05), 1e4)
        return np.log([mu * kappa, (1 - mu) * kappa])

    @staticmethod
    def _fit_geometric(t: np.ndarray, d: np.ndarray, w: np.ndarray, Zc: np.ndarray) -> tuple[np.ndarray, bool]:
        """The no-heterogeneity limit: one churn probability (a logit in the covariates)."""
        theta = float((w * d).sum() / (w * t).sum())
        x0 = np.array([special.logit(min(max(theta, 1e-12), 1 - 1e-12))])
        if not Zc.shape[1]:
            return x0, True
        x0 = np.concatenate([x0, np.zeros(Zc.shape[1])])

        def fun_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
            return _geo_loglik_grad(x, t, d, w, Zc)

        x, conv, _ = _maximise(fun_grad, x0, [(None, None)] * x0.size, float(w.sum()))
        return x, conv

    # -- goodness of fit --------------------------------------------------------------------------
    def _check_fit(self, t: np.ndarray, d: np.ndarray, w: np.ndarray, Zc: np.ndarray) -> tuple[str, str] | None:
        """Test the fitted model against the life table; store ``lack_of_fit_`` and ``retention_check_``.

        Returns ``(test and reason, diagnostic message)`` when the model fails the check at
        :data:`LACK_OF_FIT_LEVEL`, else None: the first is ``"<test, statistic, df, p>): <which way
        the data depart, in words>."`` for the end of a parenthesis in ``fit_status_.message``.
        """
        at_risk, churned = _life_table(t, d, w)
        with np.errstate(all="ignore"):
            expected = _expected_churn(self._x_, self._limit_, t, w, Zc)
        K = at_risk.size
        groups = _pool_periods(expected, at_risk, LACK_OF_FIT_MIN_EXPECTED)
        n_groups = int(groups.max()) + 1
        obs_g, exp_g, n_g = (np.bincount(groups, weights=v) for v in (churned, expected, at_risk))
        statistic = float(_binomial_deviance(obs_g, exp_g, n_g).sum())
        n_shape = 1 if self._limit_ else 2
        df = n_groups - n_shape
        p_value = float(stats.chi2.sf(statistic, df)) if df >= 1 else np.nan
        trend_z, trend_p = _trend_test(at_risk, churned)
        self.lack_of_fit_ = pd.Series(
            {
                "statistic": statistic,
                "df": float(df),
                "p_value": p_value,
                "n_periods": float(K),
                "n_groups": float(n_groups),
                "trend_z": trend_z,
                "trend_p_value": trend_p,
            },
            name="lack_of_fit",
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            obs_ret = 1 - churned / at_risk
            fit_ret = 1 - expected / at_risk
        self.retention_check_ = pd.DataFrame(
            {
                "at_risk": at_risk,
                "churned": churned,
                "expected_churned": expected,
                "observed_retention": obs_ret,
                "fitted_retention": fit_ret,
                "observed_survival": np.cumprod(obs_ret),
                "fitted_survival": np.cumprod(fit_ret),
                "group": groups,
            },
            index=pd.RangeIndex(1, K + 1, name="period"),
        )
        if df < 1:
            self._diagnose(
                "lack_of_fit_not_tested",
                f"sBG: too few customers per period to check the fit against the observed retention per period: "
                f"after pooling adjacent periods so that each group expects at least {LACK_OF_FIT_MIN_EXPECTED:g} "
                f"churners and {LACK_OF_FIT_MIN_EXPECTED:g} renewals, {n_groups} group(s) remain for {n_shape} "
                "parameter(s) of the retention curve.",
                "info",
            )
            return None
        if not p_value < LACK_OF_FIT_LEVEL:
            return None
        if trend_z > 0 and trend_p < LACK_OF_FIT_LEVEL:
            reason = RETENTION_FALLS
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                resid = (obs_g - exp_g) / np.sqrt(exp_g * (1 - exp_g / n_g))
            worst = int(np.nanargmax(np.abs(resid))) if np.isfinite(resid).any() else 0
            span = np.flatnonzero(groups == worst) + 1
            where = f"period {span[0]}" if span.size == 1 else f"periods {span[0]}-{span[-1]}"
            reason = (
                "the observed retention per period does not follow the shape the model allows (a retention rate "
                f"that rises with tenure, or stays constant); the largest departure is in {where}: observed "
                f"{1 - obs_g[worst] / n_g[worst]:.3f}, fitted {1 - exp_g[worst] / n_g[worst]:.3f}"
            )
        pooled = f", {K} periods pooled into {n_groups} groups" if n_groups < K else ""
        test = (
            "likelihood-ratio test against the life table, one churn probability per period"
            f"{pooled}: G = {statistic:,.1f}, df = {df}, {_p_text(p_value)}"
        )
        trend = ""
        if np.isfinite(trend_z):
            trend = f"; trend test of churn against tenure (Cochran-Armitage): z = {trend_z:.1f}, " + (
                f"churn rises, one-sided {_p_text(trend_p)}" if trend_z > 0 else "churn falls"
            )
        what = "its geometric limit (one constant churn probability)" if self._limit_ else "the fitted sBG"
        message = (
            f"sBG: {what} fails the goodness-of-fit check against the observed retention per period ({test}). "
            f"Observed retention goes from {obs_ret[0]:.3f} in period 1 to {obs_ret[-1]:.3f} in period {K}, fitted "
            f"from {fit_ret[0]:.3f} to {fit_ret[-1]:.3f}; still customers after {K} periods: "
            f"{np.prod(obs_ret):.1%} observed, {np.prod(fit_ret):.1%} fitted{trend}. In words: {reason}."
        )
        return f"{test}): {reason}.", message

    # -- storing the fit --------------------------------------------------------------------------
    def _store(
        self, x: np.ndarray, limit: bool, ll: float, names: list[str], hessian: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        """Estimates, covariance (internal and natural scale), standard errors, intervals."""
        self._x_ = np.asarray(x, dtype=float)
        self._limit_ = limit
        self.log_likelihood_ = float(ll)
        with np.errstate(all="ignore"):
            H = np.asarray(hessian(self._x_), dtype=float)
            info = -H
            try:
                pos_def = bool(np.isfinite(info).all()) and float(np.linalg.eigvalsh(info).min()) > 0
                cov_x = np.linalg.inv(info) if pos_def else np.full_like(info, np.nan)
            except np.linalg.LinAlgError:
                pos_def, cov_x = False, np.full_like(info, np.nan)
        self._pos_def_ = pos_def
        self._xcov_ = cov_x
        self._set_tables(names)

    def _set_tables(self, names: list[str]) -> None:
        """Estimates, standard errors, intervals, covariance and p-values from ``_x_`` and ``_xcov_``.

        ``_x_`` is on the log scale for alpha and beta (the logit scale for the churn probability at
        the geometric limit) and holds the covariate coefficients as they are.
        """
        cov_names = [f"churn:{c}" for c in names]
        if self._limit_:
            index, transforms = ["churn_probability", *cov_names], ["logit"]
        else:
            index, transforms = ["alpha", "beta", *cov_names], ["log", "log"]
        transforms += ["identity"] * len(names)
        wald = _wald_natural(transforms, self._x_, self._xcov_, self.alpha, index)
        self.params_, self.standard_errors_, self.confidence_intervals_, self.cov_params_, self._p_values_ = wald

    # -- status in words --------------------------------------------------------------------------
    def _status_limit(self, converged: bool, lack: tuple[str, str] | None = None) -> None:
        th = float(self.params_["churn_probability"])
        one = "one churn probability per covariate pattern" if self.covariates_ else "one churn probability"
        at = " at the covariate means" if self.covariates_ else ""
        if lack is None:
            who = (
                f"customers with the same covariate values appear to have the same churn probability ({th:.3g} per "
                "period at the covariate means)"
                if self.covariates_
                else f"every customer appears to have the same churn probability, {th:.3g} per period"
            )
            message = (
                f"The likelihood rises towards alpha, beta -> infinity together (the no-heterogeneity boundary): "
                f"{who}. The limiting geometric model was fitted instead ({one}, a constant retention rate): "
                "predictions assume retention does not change with tenure."
            )
        else:
            message = (
                "The sBG likelihood rises towards alpha, beta -> infinity together (the no-heterogeneity boundary), "
                f"so its limiting geometric model was fitted ({one}, {th:.3g} per period{at}: a constant retention "
                "rate). The constant-churn model also fails the goodness-of-fit check against the observed "
                f"retention per period ({lack[0]} Its figures assume a constant retention rate that the data "
                "contradict."
            )
        self._diagnose("limit_model", "sBG: " + message, "warning")
        if not converged:
            self._diagnose(
                "not_converged",
                "sBG (geometric limit): the maximum-likelihood search did not converge; the estimates may not be the "
                "maximum.",
            )
        usable = converged and self._pos_def_ and np.isfinite(self.params_.to_numpy()).all()
        self.fit_status_ = FitStatus(
            model=MODEL_GEOMETRIC,
            converged=converged,
            boundary=BOUNDARY_NO_HETEROGENEITY,
            message=message,
            usable=bool(usable),
        )

    def _status_sbg(
        self, converged: bool, solver_message: str, bounds: list, lack: tuple[str, str] | None = None
    ) -> None:
        a, b = float(self.params_["alpha"]), float(self.params_["beta"])
        boundary: str | None = None
        words: list[str] = []
        if a < RUNAWAY_LOW and b < RUNAWAY_LOW:
            boundary = BOUNDARY_POLARISED
            share = a / (a + b)
            words.append(
                f"alpha = {a:.3g} and beta = {b:.3g} ran away towards zero: churn probabilities split between 0 and 1 "
                f"(a share {share:.1%} of the customers leaves after the first period, the rest never leave). The "
                "data sit at this limit of the model, so its predictions of future churn are not usable."
            )
        elif a < RUNAWAY_LOW or b < RUNAWAY_LOW or a > 1e10 or b > 1e10:
            boundary = BOUNDARY_OTHER
            words.append(
                f"alpha = {a:.3g}, beta = {b:.3g}: a parameter ran away to a limit of the model, so the estimates "
                "and predictions are not usable."
            )
        elif self.covariates_ and np.isfinite(self._x_).all():
            at_bound = [
                c
                for c, v, (lo, hi) in zip(self.covariates_, self._x_[2:], bounds[2:])
                if lo is not None and (v <= lo + 1e-6 or v >= hi - 1e-6)
            ]
            if at_bound:
                boundary = BOUNDARY_OTHER
                words.append(
                    f"the coefficient(s) of {at_bound} ran to the edge of the search (the covariate separates "
                    "customers who churn from those who stay), so the estimates are not usable."
                )
        if boundary is None and not self._pos_def_:
            boundary = BOUNDARY_OTHER
            words.append(
                "the log-likelihood is not strictly curved at the estimate (the Hessian is not positive definite), "
                "so the standard errors and intervals are not usable."
            )
        if boundary is not None:
            self._diagnose("boundary", "sBG: " + " ".join(words))
        if not converged:
            self._diagnose(
                "not_converged",
                f"sBG: the maximum-likelihood search did not converge ({solver_message}); the estimates may not be "
                "the maximum and should not be used as they are.",
            )
        finite = bool(np.isfinite(self.params_.to_numpy()).all())
        usable = converged and boundary is None and finite
        if not converged:
            message = (
                f"The sBG maximum-likelihood search did not converge ({solver_message}): the estimates may not be "
                "the maximum and are not shown as final."
            )
        elif boundary is not None:
            message = "The sBG fit sits at a boundary: " + " ".join(words)
        else:
            cov = f", shifted by {', '.join(self.covariates_)}" if self.covariates_ else ""
            message = (
                f"The sBG model converged: churn probabilities vary across customers as Beta(alpha = {a:.3g}, "
                f"beta = {b:.3g}){cov}, so the retention rate rises with tenure as the customers most likely to "
                "leave drop out."
            )
            if self.covariates_:
                message += " alpha is that of a customer at the covariate means."
        if lack is not None:
            message += (
                " The fitted model fails the goodness-of-fit check against the observed retention per period "
                f"({lack[0]}"
            )
        self.fit_status_ = FitStatus(
            model=MODEL_SBG, converged=converged, boundary=boundary, message=message, usable=bool(usable)
        )
        if usable:
            self._diagnose_heavy_tail()
            p = self.heterogeneity_p_value_
            if p > self.alpha:
                self._diagnose(
                    "weak_heterogeneity",
                    f"sBG: the data hardly distinguish the fitted spread of churn probabilities from none "
                    f"(likelihood-ratio test of 'every customer has the same churn probability': p = {p:.2g}), so "
                    "alpha and beta are imprecise (wide intervals) and the rise of retention with tenure is "
                    "uncertain; the geometric model (a constant retention rate) fits about as well.",
                    "info",
                )

    def _diagnose_heavy_tail(self) -> None:
        a = float(self.params_["alpha"])
        if self.covariates_:
            t, d, w, Zc = self._rows_
            a_i = _churn_params(self._x_, False, Zc).a
            share = float(w[a_i <= 1].sum() / w.sum())
            if share == 0:
                return
            who = f"{share:.1%} of the customers (alpha_i <= 1)"
        elif a <= 1:
            who = f"every customer (alpha = {a:.3g} <= 1)"
        else:
            return
        self._diagnose(
            "infinite_expected_lifetime",
            f"sBG: for {who} the expected lifetime is infinite: a small share of customers is predicted to stay "
            "practically for ever. Report expected periods within a horizon "
            "(expected_residual_lifetime(..., horizon=...)) or discounted values (derl, customer_lifetime_value), "
            "which are finite.",
            "info",
        )

    # -- construction without data ----------------------------------------------------------------
    @classmethod
    def from_params(
        cls,
        alpha: float,
        beta: float,
        gamma: Mapping[str, float] | None = None,
        covariate_means: Mapping[str, float] | None = None,
    ) -> ShiftedBetaGeoFitter:
        """A fitter with given parameters (no data; standard errors NaN), e.g. for what-ifs and tests.

        Parameters
        ----------
        alpha, beta : float
            sBG parameters (``alpha`` at the covariate means).
        gamma : mapping, optional
            Covariate name -> coefficient (log odds ratio of the mean churn probability).
        covariate_means : mapping, optional
            Means the covariates are centred on (default 0 for each).
        """
        if not (np.isfinite([alpha, beta]).all() and alpha > 0 and beta > 0):
            raise ValueError(f"alpha and beta must be positive and finite, got alpha={alpha!r}, beta={beta!r}")
        gamma = dict(gamma or {})
        means = dict(covariate_means or {})
        unknown = sorted(set(means) - set(gamma))
        if unknown:
            raise ValueError(f"covariate_means given for {unknown}, which have no coefficient in gamma")
        names = list(gamma)
        self = cls()
        self._start_fit()
        self.covariates_ = names
        self.covariate_means_ = pd.Series(
            [float(means.get(c, 0.0)) for c in names], index=pd.Index(names, dtype=object), name="mean", dtype=float
        )
        self._x_ = np.array([np.log(alpha), np.log(beta), *[float(gamma[c]) for c in names]])
        self._limit_ = False
        k = self._x_.size
        self._xcov_ = np.full((k, k), np.nan)
        self._pos_def_ = False
        self._set_tables(names)
        self.log_likelihood_ = np.nan
        self.heterogeneity_p_value_ = np.nan
        self.lack_of_fit_ = None
        self.retention_check_ = None
        self.n_customers_ = 0
        self.converged_ = True
        self.survivors_ = None
        self._rows_ = None
        self.fit_status_ = FitStatus(
            model=MODEL_SBG,
            converged=True,
            boundary=None,
            message="Parameters given, not estimated from data (no standard errors).",
            usable=True,
        )
        self.model_ = MODEL_SBG
        return self

    # -- summary ----------------------------------------------------------------------------------
    def _summary(self) -> pd.DataFrame:
        out = pd.DataFrame({"coef": self.params_, "se": self.standard_errors_}).join(self.confidence_intervals_)
        out["p_value"] = self._p_values_
        out.index.name = "param"
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """One row per parameter: ``coef, se, ci_lower, ci_upper, p_value``.

        ``p_value`` is NaN for ``alpha``, ``beta`` and ``churn_probability`` (positive by definition:
        a test of "= 0" is meaningless) and the Wald test of "no effect" for ``churn:<covariate>``.
        """
        return super().summary

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"<{type(self).__name__}: not fitted>"
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__} ({self.model_}): {self.n_customers_} customers, {p}>"

    # -- predictions ------------------------------------------------------------------------------
    def _customer_params(self, covariates: pd.DataFrame | None, x: np.ndarray | None = None) -> tuple[_Churn, Any]:
        """Per-customer parameters for ``covariates`` (None: at the covariate means) and their index."""
        self._check_fitted()
        x = self._x_ if x is None else x
        if covariates is None:
            return _churn_params(x, self._limit_, np.zeros((1, len(self.covariates_)))), None
        if not self.covariates_:
            raise ValueError("this model was fitted without covariates: do not pass covariates=")
        if not isinstance(covariates, pd.DataFrame):
            raise TypeError("covariates must be a DataFrame with the columns " + repr(self.covariates_))
        _check_columns(covariates, self.covariates_)
        Zc = _covariate_matrix(covariates, self.covariates_, "covariates") - self.covariate_means_.to_numpy()
        return _churn_params(x, self._limit_, Zc), covariates.index

    def _inputs(
        self, values: Any, name: str, covariates: pd.DataFrame | None, minimum: int
    ) -> tuple[_Churn, np.ndarray, Any]:
        P, cov_index = self._customer_params(covariates)
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be whole periods >= {minimum}; got {values!r}") from None
        if np.isnan(arr).any():
            raise ValueError(
                f"{name} has missing values at positions {np.flatnonzero(np.isnan(arr.ravel()))[:5].tolist()}"
            )
        if (arr != np.floor(arr)).any() or (arr < minimum).any():
            raise ValueError(f"{name} must be whole periods >= {minimum}; got {values!r}")
        if cov_index is None:
            P = _Churn(P.limit, np.full(arr.shape, P.a[0]), P.b)
            index = values.index if isinstance(values, pd.Series) else None
            return P, arr, index
        if arr.ndim > 1 or (arr.ndim == 1 and arr.size != len(cov_index)):
            raise ValueError(f"{name} must be a scalar or have one value per row of covariates ({len(cov_index)})")
        if isinstance(values, pd.Series) and not values.index.equals(cov_index):
            raise ValueError(f"{name} and covariates must have the same index (one row per customer, same order)")
        return P, arr, cov_index

    @staticmethod
    def _wrap(result: np.ndarray, index: Any, name: str | None = None) -> Any:
        if index is not None:
            return pd.Series(np.broadcast_to(result, (len(index),)), index=index, name=name)
        if np.ndim(result) == 0:
            return float(result)
        return result

    def survival_function(self, t: Any, covariates: pd.DataFrame | None = None) -> Any:
        """``S(t)``: probability that a new customer is still a customer after ``t`` periods (``S(0) = 1``).

        Parameters
        ----------
        t : int, array or Series of whole periods >= 0
        covariates : DataFrame, optional
            One row per customer with the model's covariates (then ``t`` is a scalar or one value
            per row); ``None``: a customer at the covariate means. A customer with a missing
            covariate gets NaN (no data).
        """
        P, tt, index = self._inputs(t, "t", covariates, 0)
        return self._wrap(_survival(P, tt), index, "survival")

    def retention_rate(self, t: Any, covariates: pd.DataFrame | None = None) -> Any:
        """``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``, periods ``t >= 1``.

        The share of the customers active in period ``t`` who renew at its end (FH 2007, eq. 4);
        constant ``1 - churn_probability`` at the no-heterogeneity limit.
        """
        P, tt, index = self._inputs(t, "t", covariates, 1)
        return self._wrap(_retention(P, tt), index, "retention_rate")

    def churn_probability(self, t: Any, covariates: pd.DataFrame | None = None) -> Any:
        """``P(T = t) = S(t - 1) - S(t)``: probability that a new customer leaves at the end of period ``t``.

        Unconditional (FH 2007, eq. 3). The churn probability of a customer still active in period
        ``t`` is ``1 - retention_rate(t)``.
        """
        P, tt, index = self._inputs(t, "t", covariates, 1)
        if P.limit:
            res = P.theta * np.exp((tt - 1) * np.log1p(-P.theta))
        else:
            res = np.exp(np.log(P.a) + _log_rising(P.b, tt - 1) - _log_rising(P.a + P.b, tt))
        return self._wrap(res, index, "churn_probability")

    def expected_residual_lifetime(
        self, tenure: Any, covariates: pd.DataFrame | None = None, horizon: int | None = None
    ) -> Any:
        """Expected periods an active customer with ``tenure`` completed periods remains a customer.

        ``E[T - n | T > n]`` for ``n = tenure``: counts the period in progress (``n + 1``, in which
        she is known to be a customer) and every later one she renews for. For the sBG it is
        ``(alpha + beta + n - 1) / (alpha - 1)`` when ``alpha > 1`` and **infinite** when
        ``alpha <= 1`` (a small share of customers with churn probabilities near 0 stays practically
        for ever; FH 2007's data sets both have alpha < 1). Pass ``horizon`` for a finite figure.

        Parameters
        ----------
        tenure : int, array or Series
            Whole periods completed (>= 0) by customers still active.
        covariates : DataFrame, optional
            See :meth:`survival_function`.
        horizon : int, optional
            Count only the next ``horizon`` periods (``n + 1 ... n + horizon``): the expected number of
            them in which the customer is a customer (between 1 and ``horizon``), always finite.
        """
        if horizon is not None:
            horizon = _whole(horizon, "horizon", 1, " of periods")
        P, n, index = self._inputs(tenure, "tenure", covariates, 0)
        res = _expected_residual(P, n, horizon)
        return self._wrap(res, index, "expected_residual_lifetime")

    def derl(self, discount_rate: float, tenure: Any, covariates: pd.DataFrame | None = None) -> Any:
        """Discounted expected residual lifetime (FH 2010) of active customers with ``tenure`` periods.

        A customer with ``tenure = n`` completed periods who is still a customer has renewed ``n``
        times and is in period ``n + 1``, whose payment is already made. DERL counts her future
        renewal payments: the one at the end of period ``n + 1`` (made with probability
        ``S(n + 1) / S(n)``) undiscounted, the next discounted once, and so on::

            DERL = sum_{k >= 0} S(n + 1 + k) / S(n) / (1 + d)^k
                 = B(alpha, beta + n + 1) / B(alpha, beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d))

        i.e. FH (2010)'s ``DERL(d | alpha, beta, n renewals)`` (their formula with their ``n`` equal to
        ``tenure + 1``), valued just before her next renewal decision. Multiply by the payment per
        period for the expected residual value (:meth:`customer_lifetime_value`); add one payment to
        include the period in progress if it is not paid yet. At ``d = 0`` it equals
        ``expected_residual_lifetime(tenure) - 1`` (infinite when ``alpha <= 1``).

        Parameters
        ----------
        discount_rate : float
            Per period, >= 0 (yearly 10% with monthly periods: ``1.1 ** (1 / 12) - 1``).
        tenure : int, array or Series
            Whole periods completed (>= 0).
        covariates : DataFrame, optional
            See :meth:`survival_function`.
        """
        d = _non_negative(discount_rate, "discount_rate", "per period")
        P, n, index = self._inputs(tenure, "tenure", covariates, 0)
        return self._wrap(_derl(P, n, d), index, "derl")

    def customer_lifetime_value(
        self,
        revenue_per_period: Any,
        discount_rate: float,
        tenure: Any,
        covariates: pd.DataFrame | None = None,
    ) -> pd.Series:
        """Expected residual value of active subscribers: ``revenue_per_period * DERL``.

        The expected discounted sum of the customer's future renewal payments (FH 2010's expected
        residual lifetime value), in the money unit of ``revenue_per_period``; the convention is
        that of :meth:`derl` (the payment for the period in progress is not counted).

        Parameters
        ----------
        revenue_per_period : float, array or Series
            Payment per period (one number, or one per customer). Missing values give NaN (no data).
        discount_rate : float
            Per period, >= 0.
        tenure : int, array or Series
            Whole periods completed by each customer (>= 0).
        covariates : DataFrame, optional
            See :meth:`survival_function`.

        Returns
        -------
        Series named ``clv``, indexed like the first of ``revenue_per_period``, ``tenure``,
        ``covariates`` that has an index.
        """
        derl = self.derl(discount_rate, tenure, covariates)
        rev = np.asarray(revenue_per_period, dtype=float)
        if (rev < 0).any():
            raise ValueError("revenue_per_period must be non-negative")
        index = None
        for obj in (revenue_per_period, tenure, covariates):
            if isinstance(obj, pd.Series | pd.DataFrame):
                if index is not None and not obj.index.equals(index):
                    raise ValueError(
                        "revenue_per_period, tenure and covariates must share one index (one row per customer)"
                    )
                index = obj.index if index is None else index
        value = np.atleast_1d(rev * np.asarray(derl, dtype=float))
        if index is None:
            index = pd.RangeIndex(value.size)
        if value.size == 1 and len(index) != 1:
            value = np.repeat(value, len(index))
        if value.size != len(index):
            raise ValueError("revenue_per_period, tenure and covariates have different lengths")
        return pd.Series(value, index=index, name="clv")

    # -- cohort views -----------------------------------------------------------------------------
    def _population_survival(self, periods: np.ndarray) -> np.ndarray:
        """Survival of the fitted population (averaged over its covariates), or at the means."""
        rows = self._rows_
        if rows is None or not self.covariates_:
            P, _ = self._customer_params(None)
            return _survival(_Churn(P.limit, P.a[0], P.b), periods)
        _, _, w, Zc = rows
        P = _churn_params(self._x_, self._limit_, Zc)
        S = _survival(_Churn(P.limit, P.a[:, None], P.b), periods[None, :])
        return (w @ S) / w.sum()

    def expected_survivors(self, n_periods: int, cohort_size: float | None = None) -> pd.Series:
        """Expected survivors of a cohort after 0..``n_periods`` periods: ``cohort_size * S(t)``.

        Parameters
        ----------
        n_periods : int
            Last period (>= 1).
        cohort_size : float, optional
            Default: the cohort size of :meth:`fit_survivors`; required after :meth:`fit`. With
            covariates, ``S(t)`` is averaged over the fitted customers.

        Returns
        -------
        Series indexed by ``period`` 0..``n_periods``, named ``expected_survivors``.
        """
        self._check_fitted()
        n_periods = _whole(n_periods, "n_periods", 1)
        if cohort_size is None:
            if self.survivors_ is None:
                raise ValueError("pass cohort_size (the model was not fitted with fit_survivors)")
            cohort_size = float(self.survivors_.iloc[0])
        periods = np.arange(n_periods + 1, dtype=float)
        return pd.Series(
            float(cohort_size) * self._population_survival(periods),
            index=pd.RangeIndex(n_periods + 1, name="period"),
            name="expected_survivors",
        )

    def retention_curve(self, n_periods: int | None = None) -> pd.DataFrame:
        """Observed against fitted retention, period by period (the calibration plot's table).

        Parameters
        ----------
        n_periods : int, optional
            Last period shown (default: the longest tenure fitted); periods beyond the data have
            NaN observed values (a projection).

        Returns
        -------
        DataFrame indexed by ``period`` 0..n with ``at_risk`` (customers active in the period),
        ``churned`` (left at its end), ``observed_survival`` (Kaplan-Meier: for one cohort the
        survivors' share), ``fitted_survival``, ``observed_retention`` and ``fitted_retention`` (of the
        fitted population, averaged over its covariates).
        """
        self._check_fitted()
        if self._rows_ is None:
            raise ValueError("retention_curve needs a model fitted to data (not from_params)")
        t, d, w, _ = self._rows_
        last = int(t.max())
        n = last if n_periods is None else _whole(n_periods, "n_periods", 1)
        periods = np.arange(1, n + 1)
        total = np.bincount(t.astype(int), weights=w, minlength=max(n, last) + 2)
        churn = np.bincount(t.astype(int), weights=w * d, minlength=max(n, last) + 2)
        at_risk_all = total[::-1].cumsum()[::-1]  # customers with tenure >= t
        at_risk = at_risk_all[periods]
        churned = churn[periods]
        with np.errstate(divide="ignore", invalid="ignore"):
            obs_ret = np.where(at_risk > 0, 1 - churned / at_risk, np.nan)
        obs_surv = np.concatenate([[1.0], np.cumprod(obs_ret)])
        fit_surv = self._population_survival(np.arange(n + 1, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            fit_ret = fit_surv[1:] / fit_surv[:-1]
        return pd.DataFrame(
            {
                "at_risk": np.concatenate([[np.nan], at_risk]),
                "churned": np.concatenate([[np.nan], churned]),
                "observed_survival": obs_surv,
                "fitted_survival": fit_surv,
                "observed_retention": np.concatenate([[np.nan], obs_ret]),
                "fitted_retention": np.concatenate([[np.nan], fit_ret]),
            },
            index=pd.RangeIndex(n + 1, name="period"),
        )
