"""The BG/NBD model with time-invariant customer covariates: :class:`BetaGeoCovariatesFitter`.

Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD
models" (note 019), and the static covariates of R's CLVTools (Bachmann, Meierer & Naef 2021).
Customer ``i`` with covariates ``z_i`` (e.g. satisfaction) has

* purchase rate ``lambda_i ~ Gamma(r, rate=alpha_i)``, ``alpha_i = alpha * exp(-gamma_purchase' z_i)``:
  a positive coefficient means more purchases (``E[lambda_i] = r / alpha_i`` is multiplied by
  ``exp(gamma)`` per unit of ``z``, the ``exp_coef`` column of ``summary``);
* drop-out probability after each repeat purchase ``p_i ~ Beta(a_i, b)``,
  ``a_i = a * exp(gamma_dropout' z_i)`` with ``b`` common: ``gamma_dropout`` adds to the logit of the
  mean drop-out probability ``E[p_i] = a_i / (a_i + b)`` (positive = more drop-out; ``exp_coef`` is
  the odds ratio of that mean per unit of ``z``).

**Why only ``a`` is scaled.** CLVTools multiplies *both* ``a`` and ``b`` by ``exp(gamma' z)``. That
leaves the mean drop-out probability ``a / (a + b)`` unchanged and moves only its dispersion, so it
cannot answer the question the toolkit asks ("are more satisfied customers less likely to drop
out?"). Scaling ``a`` alone moves the mean; the coefficients are therefore not comparable with
CLVTools' drop-out coefficients (the purchase coefficients are).

The covariates are **centred at their means** in the fitted data (``covariate_means_``), so
``r, alpha, a, b`` are the parameters of an average customer and comparable with the plain
:class:`~bsc_toolkit.models.clv.bgnbd.BetaGeoFitter`. Customers with a missing covariate are left
out of the fit (missing is "no data", never 0) and counted in a ``"dropped_rows"`` diagnostic.

Maximum likelihood runs over ``(log r, log alpha, log a, log b, gammas)`` with the analytic
gradient (the chain rule on :func:`~bsc_toolkit.models.clv._bgnbd_math.bgnbd_loglik_grad`), from the
plain BG/NBD estimates with zero coefficients, by BFGS with a Newton polish; the Hessian is the
central difference of the analytic gradient. Identical ``(x, t_x, T, z)`` rows are compressed
with weights, and customers without a repeat purchase (whose likelihood depends on ``T`` and the
purchase covariates only) are compressed on those alone. Intervals are Wald intervals: on the log
scale for ``r, alpha, a, b`` (so they stay positive, ``p_value`` NaN), ordinary with p-values for
the coefficients. ``lr_test_`` tests all coefficients at once against the plain BG/NBD.

The drop-out here is latent: it is inferred from purchase silence, unlike the observed churn of the
retention report's hazard models (:mod:`bsc_toolkit.models.retention.hazard`); see
:func:`~bsc_toolkit.models.clv.clv_whatif.clv_what_if`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from bsc_toolkit.models._base import FittedModel, NotEstimableError
from bsc_toolkit.models.clv._bgnbd_math import bgnbd_loglik_grad
from bsc_toolkit.models.clv._fitting import FitStatus, _fd_hessian, _p_text, _wald_natural
from bsc_toolkit.models.clv._inputs import (
    _as_names,
    _collinear,
    _covariate_matrix,
    _flat_columns,
    _non_negative,
    _rfm_arrays,
)
from bsc_toolkit.models.clv.bgnbd import (
    BetaGeoFitter,
    _alive_expected_purchases,
    _alive_survival,
    _beta_log_odds_dead,
    _gamma_timing,
)

__all__ = ["BetaGeoCovariatesFitter", "MODEL_NAME"]

#: The model's name in ``fit_status_``, ``model_`` and the diagnostics.
MODEL_NAME = "BG/NBD with covariates"
_BASE = ("r", "alpha", "a", "b")
#: A positive parameter (alpha in units where the longest customer age is 10) beyond these bounds,
#: or a coefficient larger than this in size, has run away to a limit of the model.
_RUNAWAY_HIGH, _RUNAWAY_LOW, _RUNAWAY_COEF = 1e6, 1e-6, 20.0
#: A fit putting more than this share of the customers still alive sees practically no drop-out.
_NO_DROPOUT_ALIVE_SHARE = 0.99


# -- per-customer BG/NBD formulas (parameters broadcast) -------------------------------------------


def _p_alive(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2008, note 021); 1 without repeat purchases."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = _beta_log_odds_dead(a, b, x, _gamma_timing(r, alpha, x, t_x, T))
    return np.where(x > 0, special.expit(-log_odds_dead), 1.0)


def _expected_if_alive(t, r, alpha, a, b, x, T) -> np.ndarray:
    """E[Y(t) | alive at T, x, T]: expected purchases in (T, T + t] of a customer alive at T (FHL eq. 10).

    The plain BG/NBD's evaluation (:mod:`~bsc_toolkit.models.clv.bgnbd`): finite and accurate for
    any positive parameters, including a purchase-rate shape ``r`` in the millions.
    """
    x = np.asarray(x, dtype=float)
    return _alive_expected_purchases(t, r + x, alpha + np.asarray(T, dtype=float), a, b + x)


def _expected_new(t, r, alpha, a, b) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] of a new customer (FHL eq. 9)."""
    return _alive_expected_purchases(t, r, alpha, a, b)


def _survival_if_alive(t, r, alpha, a, b, x, T) -> np.ndarray:
    """P(alive at T + t | alive at T, x, T) = 2F1(r + x, a; a + b + x; -t / (alpha + T)).

    Given alive at T, the posterior is ``lambda ~ Gamma(r + x, alpha + T)``, ``p ~ Beta(a, b + x)``;
    a customer survives the Poisson(lambda t) purchases of (T, T + t] with probability
    ``exp(-lambda p t)``; its expectation is Euler's integral of the hypergeometric function
    (evaluated as the plain BG/NBD's).
    """
    x = np.asarray(x, dtype=float)
    return _alive_survival(t, r + x, alpha + np.asarray(T, dtype=float), a, b + x)


# -- fitting data and likelihood -------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    """Compressed fitting data: repeat buyers on (x, t_x, T, z), the others on (T, z_purchase)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    zp: np.ndarray
    zd: np.ndarray
    w: np.ndarray
    T0: np.ndarray
    zp0: np.ndarray
    w0: np.ndarray
    n: float


def _compress(x, t_x, T, Zp, Zd) -> _Data:
    kp, kd = Zp.shape[1], Zd.shape[1]
    rep = x > 0
    cols = {"x": x[rep], "t_x": t_x[rep], "T": T[rep]}
    cols.update({f"p{j}": Zp[rep, j] for j in range(kp)})
    cols.update({f"d{j}": Zd[rep, j] for j in range(kd)})
    g1 = pd.DataFrame(cols).groupby(list(cols), sort=False).size().reset_index(name="w")
    cols0 = {"T": T[~rep]}
    cols0.update({f"p{j}": Zp[~rep, j] for j in range(kp)})
    g0 = pd.DataFrame(cols0).groupby(list(cols0), sort=False).size().reset_index(name="w")

    def mat(g: pd.DataFrame, prefix: str, k: int) -> np.ndarray:
        return g[[f"{prefix}{j}" for j in range(k)]].to_numpy(dtype=float).reshape(len(g), k)

    return _Data(
        x=g1["x"].to_numpy(dtype=float),
        t_x=g1["t_x"].to_numpy(dtype=float),
        T=g1["T"].to_numpy(dtype=float),
        zp=mat(g1, "p", kp),
        zd=mat(g1, "d", kd),
        w=g1["w"].to_numpy(dtype=float),
        T0=g0["T"].to_numpy(dtype=float),
        zp0=mat(g0, "p", kp),
        w0=g0["w"].to_numpy(dtype=float),
        n=float(x.size),
    )


def _neg_loglik_grad(theta: np.ndarray, d: _Data, kp: int) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood per customer and its gradient in (log r, log alpha, log a, log b, gammas)."""
    r, alpha, a, b = np.exp(theta[:4])
    gp, gd = theta[4 : 4 + kp], theta[4 + kp :]
    # repeat buyers: the lead's per-customer log-likelihood and gradient, then the chain rule
    log_alpha_i = np.log(alpha) - d.zp @ gp
    alpha_i = np.exp(log_alpha_i)
    a_i = a * np.exp(d.zd @ gd)
    with np.errstate(all="ignore"):
        ll1, (d_r, d_alpha, d_a, d_b) = bgnbd_loglik_grad(r, alpha_i, a_i, b, d.x, d.t_x, d.T)
        # no repeat purchase: log L = -r log(1 + T / alpha_i), whatever a and b are
        log_alpha_0 = np.log(alpha) - d.zp0 @ gp
        log1p0 = np.log1p(d.T0 * np.exp(-log_alpha_0))
        ll0 = -r * log1p0
        u0 = d.w0 * r * d.T0 / (np.exp(log_alpha_0) + d.T0)  # d ll0 / d log alpha_i, weighted
    u1 = d.w * d_alpha * alpha_i  # d ll / d log alpha_i, weighted
    v1 = d.w * d_a * a_i  # d ll / d log a_i, weighted
    ll = float(d.w @ ll1 + d.w0 @ ll0)
    grad = np.concatenate(
        [
            [r * float(d.w @ d_r - d.w0 @ log1p0), u1.sum() + u0.sum(), v1.sum(), b * float(d.w @ d_b)],
            -(d.zp.T @ u1 + d.zp0.T @ u0),
            d.zd.T @ v1,
        ]
    )
    if not (np.isfinite(ll) and np.isfinite(grad).all()):
        return 1e300, np.zeros_like(theta)
    return -ll / d.n, -grad / d.n


@dataclass(frozen=True)
class _Optimum:
    theta: np.ndarray
    mean_neg_ll: float
    hessian: np.ndarray  # of the mean negative log-likelihood
    decrement: float  # N * g' H^-1 g / 2: how much log-likelihood a Newton step could still gain
    converged: bool


def _maximise(fun, theta0: np.ndarray, n: float, max_newton: int = 10) -> _Optimum:
    """BFGS with the analytic gradient, then Newton steps with the finite-difference Hessian.

    BFGS starts from the inverse of the finite-difference Hessian at the start (when it is positive
    definite), so it needs only a few iterations; the Hessian at the optimum gives the covariance and
    the Newton polish. It is recomputed after the polish only if the polish moved the estimate by
    more than a small fraction of its standard errors.
    """

    def grad(th: np.ndarray) -> np.ndarray:
        return fun(th)[1]

    options: dict[str, Any] = {"gtol": 1e-9, "maxiter": 1000}
    try:
        H0 = _fd_hessian(grad, theta0)
        if np.isfinite(H0).all() and float(np.linalg.eigvalsh(H0).min()) > 0:
            inv = np.linalg.inv(H0)
            inv = (inv + inv.T) / 2
            np.linalg.cholesky(inv)  # scipy refuses a start that is not numerically positive definite
            options["hess_inv0"] = inv
    except np.linalg.LinAlgError:
        pass
    res = optimize.minimize(fun, theta0, jac=True, method="BFGS", options=options)
    theta = np.asarray(res.x, dtype=float)
    f, g = fun(theta)
    H = _fd_hessian(grad, theta)
    gained = 0.0
    for _ in range(max_newton):
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        if not np.isfinite(step).all() or float(g @ step) <= 0 or n * float(g @ step) / 2 < 1e-10:
            break
        for shrink in (1.0, 0.5, 0.25, 0.1):
            f_new, g_new = fun(theta - shrink * step)
            if f_new <= f:
                theta, gained, f, g = theta - shrink * step, gained + n * (f - f_new), f_new, g_new
                break
        else:
            break
    if gained > 1e-3:  # moved by more than ~0.05 standard errors: the curvature there may differ
        H = _fd_hessian(grad, theta)
    try:
        decrement = n * float(g @ np.linalg.solve(H, g)) / 2
        pos_def = float(np.linalg.eigvalsh(H).min()) > 0
    except np.linalg.LinAlgError:
        decrement, pos_def = float("inf"), False
    converged = bool(np.isfinite(f) and f < 1e299 and pos_def and abs(decrement) < 1e-4)
    return _Optimum(theta, float(f), H, decrement, converged)


# -- the fitter ----------------------------------------------------------------------------------


class BetaGeoCovariatesFitter(FittedModel):
    """BG/NBD with time-invariant customer covariates on purchasing and drop-out (see the module).

    ``alpha_i = alpha * exp(-gamma_purchase' z_i)`` (positive coefficient: more purchases) and
    ``a_i = a * exp(gamma_dropout' z_i)``, ``b`` common (positive coefficient: more drop-out), with
    ``z_i`` centred at the fitted data's means.

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level of the intervals (not the model parameter ``alpha``, which is
        ``params_["alpha"]``).

    Attributes
    ----------
    params_, standard_errors_ : Series
        Index ``r, alpha, a, b, purchase:<covariate>..., dropout:<covariate>...``.
    confidence_intervals_ : DataFrame
        ``ci_lower``, ``ci_upper``: log-scale Wald intervals for ``r, alpha, a, b``, ordinary ones
        for the coefficients.
    cov_params_ : DataFrame
        Covariance of the estimates on the natural scale (delta method for ``r, alpha, a, b``).
    log_likelihood_ : float
    null_log_likelihood_ : float
        The plain BG/NBD's maximum on the same customers.
    lr_test_ : Series
        ``statistic, df, p_value`` of the likelihood-ratio test of all coefficients = 0.
    n_customers_, n_dropped_ : int
        Customers used, and customers left out for a missing covariate.
    covariate_means_ : Series
        The means the covariates were centred at.
    purchase_covariates_, dropout_covariates_ : tuple of str
    plain_fitter_ : BetaGeoFitter
        The plain BG/NBD on the same customers (the starting point and the test's null model).
    converged_ : bool
    diagnostics_ : list of Diagnostic
        ``"dropped_rows"`` (info), ``"not_converged"``, ``"boundary"`` (a parameter ran away, the
        Hessian is not positive definite, or practically nobody drops out).
    fit_status_ : FitStatus
        ``model`` ("BG/NBD with covariates"), ``converged``, ``boundary``, ``message``, ``usable``.
    model_ : str

    Examples
    --------
    >>> fitter = BetaGeoCovariatesFitter().fit(summary, covariates=["csat"])   # doctest: +SKIP
    >>> fitter.summary                                                          # doctest: +SKIP
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__(alpha=alpha)

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        summary: pd.DataFrame,
        covariates: str | Sequence[str] | None = None,
        frequency_col: str = "frequency",
        recency_col: str = "recency",
        T_col: str = "T",
        purchase_covariates: str | Sequence[str] | None = None,
        dropout_covariates: str | Sequence[str] | None = None,
    ) -> BetaGeoCovariatesFitter:
        """Fit on an RFM summary holding the covariate columns (one row per customer); returns ``self``.

        Parameters
        ----------
        summary : DataFrame
            RFM summary (e.g. :func:`~bsc_toolkit.models.clv.rfm_summary`) joined with the
            customers' covariates (e.g. their satisfaction).
        covariates : str or sequence of str
            Covariate columns acting on both purchasing and drop-out (the default of the two below).
        frequency_col, recency_col, T_col : str
            RFM column names.
        purchase_covariates, dropout_covariates : str or sequence of str, optional
            The covariates of each part (default: ``covariates``; ``[]`` for none).

        Raises
        ------
        ValueError
            An unknown or non-numeric covariate column, or no covariate at all.
        NotEstimableError
            No customers in the summary, none with a value of every covariate, a covariate without
            variation (or covariates that are linear combinations of each other) among the customers
            used, no repeat purchase, or a plain BG/NBD at a boundary of its parameter space (its
            limiting model was used: the covariate effects are not identified there).
        """
        self._start_fit()
        base = _as_names(covariates, "covariates")
        purchase = _as_names(purchase_covariates, "purchase_covariates")
        dropout = _as_names(dropout_covariates, "dropout_covariates")
        purchase = purchase if purchase is not None else list(base or [])
        dropout = dropout if dropout is not None else list(base or [])
        if not purchase and not dropout:
            raise ValueError(
                "no covariate given (covariates, purchase_covariates, dropout_covariates): without covariates "
                "this is the plain BG/NBD; use BetaGeoFitter"
            )
        union = list(dict.fromkeys([*purchase, *dropout]))
        x, t_x, T = _rfm_arrays(summary, frequency_col, recency_col, T_col)
        if x.size == 0:
            raise NotEstimableError(f"{MODEL_NAME}: no customers in the summary (it has no rows): nothing to fit")
        Z = _covariate_matrix(summary, union)
        keep = ~np.isnan(Z).any(axis=1)
        n_dropped = int((~keep).sum())
        if n_dropped:
            per = {c: int(np.isnan(Z[:, j]).sum()) for j, c in enumerate(union) if np.isnan(Z[:, j]).any()}
            counts = ", ".join(f"{c}: {k:,}" for c, k in per.items())
            self._diagnose(
                "dropped_rows",
                f"{MODEL_NAME}: {n_dropped:,} of {x.size:,} customers have no value of a covariate ({counts}) and "
                "are left out of the fit (missing is no data, not 0); the estimates describe the "
                f"{int(keep.sum()):,} customers with data.",
                "info",
            )
        if not keep.any():
            raise NotEstimableError(
                f"{MODEL_NAME}: none of the {x.size:,} customers in the summary has a value of every covariate {union}"
            )
        x, t_x, T, Z = x[keep], t_x[keep], T[keep], Z[keep]
        if not (x > 0).any():
            raise NotEstimableError(f"{MODEL_NAME}: no customer has a repeat purchase; the model is not identified")
        means = Z.mean(axis=0)
        Zc = Z - means
        flat = _flat_columns(Z)
        if flat:
            j = flat[0]
            raise NotEstimableError(
                f"{MODEL_NAME}: covariate {union[j]!r} takes one value ({Z[0, j]:g}) for all {x.size:,} customers "
                "used, so its effect cannot be estimated; drop it"
            )
        for part, names in (("purchase", purchase), ("dropout", dropout)):
            if _collinear(Z[:, [union.index(c) for c in names]]):
                raise NotEstimableError(
                    f"{MODEL_NAME}: the {part} covariates {names} are linear combinations of each other "
                    "among the customers used; their effects cannot be told apart, drop one"
                )
        Zp = Zc[:, [union.index(c) for c in purchase]].reshape(x.size, len(purchase))
        Zd = Zc[:, [union.index(c) for c in dropout]].reshape(x.size, len(dropout))

        # the plain BG/NBD on the same customers: the start and the null model of the LR test
        plain = BetaGeoFitter(alpha=self.alpha).fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
        if not set(_BASE) <= set(plain.params_.index):
            status = plain.fit_status_
            raise NotEstimableError(
                f"{MODEL_NAME}: on these {x.size:,} customers the plain BG/NBD sits at its "
                f"{status.boundary or 'boundary'} and the {status.model} was used instead ({status.message}). "
                "The covariate effects of the BG/NBD are not identified there; report the plain model's "
                "figures without covariates"
            )
        data = _compress(x, t_x, T, Zp, Zd)
        kp, kd = len(purchase), len(dropout)
        start = np.log(np.clip(plain.params_[list(_BASE)].to_numpy(dtype=float), 1e-8, 1e8))
        start = np.where(np.isfinite(start), start, np.log(1e8))

        # the null model's maximum: the plain fit's (its own optimiser, or its limiting model at a
        # boundary), or the likelihood at its estimates, whichever is higher
        zeros = np.zeros(kp + kd)
        ll_start = -_neg_loglik_grad(np.concatenate([start, zeros]), data, kp)[0] * data.n
        plain_ll = float(getattr(plain, "log_likelihood_", np.nan))
        null_ll = max(ll_start, plain_ll) if np.isfinite(plain_ll) else ll_start
        opt = _maximise(lambda th: _neg_loglik_grad(th, data, kp), np.concatenate([start, zeros]), data.n)

        names = [*_BASE, *(f"purchase:{c}" for c in purchase), *(f"dropout:{c}" for c in dropout)]
        self.purchase_covariates_ = tuple(purchase)
        self.dropout_covariates_ = tuple(dropout)
        self.covariate_means_ = pd.Series(means, index=union, name="mean")
        self.plain_fitter_ = plain
        self.n_customers_ = int(x.size)
        self.n_dropped_ = n_dropped
        self.converged_ = opt.converged
        self.log_likelihood_ = -opt.mean_neg_ll * data.n
        self.null_log_likelihood_ = null_ll
        stat = max(0.0, 2 * (self.log_likelihood_ - self.null_log_likelihood_))
        df = kp + kd
        self.lr_test_ = pd.Series({"statistic": stat, "df": float(df), "p_value": float(stats.chi2.sf(stat, df))})
        self.lr_test_.name = "lr_test"
        try:
            cov_theta = np.linalg.inv(opt.hessian * data.n)
        except np.linalg.LinAlgError:
            cov_theta = np.full_like(opt.hessian, np.nan)
        self._store(opt.theta, cov_theta, names)
        self._max_T = float(T.max())
        self._diagnose_fit(opt, x, t_x, T, Zp, Zd)
        return self

    def _store(self, theta: np.ndarray, cov_theta: np.ndarray, names: list[str]) -> None:
        """Estimates, covariances, standard errors, intervals and p-values from the search-scale fit.

        The search scale is log ``r, alpha, a, b`` (their intervals are on it, so they stay positive)
        and the coefficients as they are.
        """
        self._theta = np.asarray(theta, dtype=float)
        self._cov_theta = np.asarray(cov_theta, dtype=float)
        transforms = ["log"] * len(_BASE) + ["identity"] * (len(names) - len(_BASE))
        wald = _wald_natural(transforms, self._theta, self._cov_theta, self.alpha, names)
        self.params_, self.standard_errors_, self.confidence_intervals_, self.cov_params_, self._p_values_ = wald

    def _diagnose_fit(self, opt: _Optimum, x, t_x, T, Zp, Zd) -> None:
        boundary: str | None = None
        reasons: list[str] = []
        if not opt.converged:
            self._diagnose(
                "not_converged",
                f"{MODEL_NAME}: the maximum-likelihood search did not converge (a Newton step could still raise "
                f"the log-likelihood by {opt.decrement:.3g}, or the curvature is not positive); the estimates "
                "should not be used as they are.",
            )
        p = self.params_
        scale = 10.0 / max(self._max_T, 1e-12)
        positive = {"r": p["r"], "alpha": p["alpha"] * scale, "a": p["a"], "b": p["b"]}
        high = [k for k, v in positive.items() if not np.isfinite(v) or v > _RUNAWAY_HIGH]
        low = [k for k, v in positive.items() if v < _RUNAWAY_LOW]
        coefs = [k for k in p.index[4:] if not np.isfinite(p[k]) or abs(p[k]) > _RUNAWAY_COEF]
        limits = [
            (
                "b" in high or "a" in low,
                "no-dropout boundary",
                "the drop-out probability is practically zero (b -> infinity or a -> 0, the no-drop-out limit of the "
                "model): the drop-out coefficients are not identified",
            ),
            (
                "a" in high or "b" in low,
                "all-dropout boundary",
                "the drop-out probabilities pile up at 1 (a -> infinity or b -> 0): customers leave after their "
                "first repeat purchase",
            ),
            (
                bool({"r", "alpha"} & set(high)),
                "no-heterogeneity boundary (purchase rates)",
                "purchase rates hardly differ across customers (r and alpha -> infinity)",
            ),
            (
                bool({"r", "alpha"} & set(low)),
                "extreme-heterogeneity boundary (purchase rates)",
                "purchase rates are extremely dispersed across customers (r or alpha -> 0)",
            ),
        ]
        for hit, label, reason in limits:
            if hit:
                boundary = boundary or label
                reasons.append(reason)
        if coefs:
            boundary = boundary or "covariate effect boundary"
            reasons.append(
                f"the coefficient(s) {', '.join(coefs)} ran away (|coef| > {_RUNAWAY_COEF:g}): the covariate "
                "separates buyers from non-buyers or stayers from leavers almost perfectly"
            )
        se = self.standard_errors_.to_numpy(dtype=float)
        try:
            pos_def = float(np.linalg.eigvalsh(opt.hessian).min()) > 0
        except np.linalg.LinAlgError:
            pos_def = False
        bad_se = [n for n, s in zip(self.params_.index, se) if not (np.isfinite(s) and s > 0)]
        if not pos_def or bad_se:
            boundary = boundary or "flat likelihood"
            which = f" (not finite for {', '.join(bad_se)})" if bad_se else ""
            reasons.append(
                "the log-likelihood is not strictly curved at the estimate (Hessian not positive definite) or "
                f"the standard errors are not finite{which}"
            )
        near = ""
        if boundary is None:
            r, alpha_i, a_i, b = self._individual(Zp, Zd, None)
            alive = float(np.mean(_p_alive(r, alpha_i, a_i, b, x, t_x, T)))
            if alive > _NO_DROPOUT_ALIVE_SHARE:
                near = (
                    f" It puts {alive:.1%} of the customers still alive at the end of the data: little drop-out, so "
                    "a, b and the drop-out coefficients are poorly determined."
                )
                self._diagnose(
                    "near_boundary",
                    f"{MODEL_NAME}: the fit puts {alive:.1%} of the customers still alive at the end of the data: the "
                    "data show little drop-out, so a, b and the drop-out coefficients are poorly determined and the "
                    "model is close to its no-drop-out limit. P(alive), long-horizon forecasts and drop-out effects "
                    "rest on that.",
                )
        for reason in reasons:
            self._diagnose(
                "boundary",
                f"{MODEL_NAME}: {reason}. The estimates sit at a limit of the model; their standard errors, "
                "intervals and the forecasts built on them are not usable.",
            )
        usable = bool(opt.converged and boundary is None and np.isfinite(self.params_.to_numpy()).all())
        pval = float(self.lr_test_["p_value"])
        if usable:
            message = (
                f"The {MODEL_NAME} converged on {self.n_customers_:,} customers"
                + (f" ({self.n_dropped_:,} without covariate data left out)" if self.n_dropped_ else "")
                + f"; the covariates together {'improve' if pval < self.alpha else 'do not significantly improve'} "
                f"the fit (likelihood-ratio test against the plain BG/NBD: {_p_text(pval)})." + near
            )
        elif boundary is not None:
            message = (
                f"The {MODEL_NAME} sits at a limit of the model ({boundary}): {reasons[0]}. No limiting model "
                "with covariates is fitted, so its estimates and forecasts are withheld."
            )
        else:
            message = f"The {MODEL_NAME} did not converge; its estimates and forecasts are withheld."
        self.fit_status_ = FitStatus(
            model=MODEL_NAME, converged=bool(opt.converged), boundary=boundary, message=message, usable=usable
        )
        self.model_ = MODEL_NAME

    @classmethod
    def from_params(
        cls,
        r: float,
        alpha: float,
        a: float,
        b: float,
        gamma_purchase: Mapping[str, float] | None = None,
        gamma_dropout: Mapping[str, float] | None = None,
        covariate_means: Mapping[str, float] | None = None,
    ) -> BetaGeoCovariatesFitter:
        """A fitter with given parameters (no data; standard errors, covariance and intervals are NaN).

        For what-if analyses with assumed effects and for tests against known truth. The
        covariates are centred at ``covariate_means`` (default 0 for each). Counts as fitted.
        """
        gp, gd = dict(gamma_purchase or {}), dict(gamma_dropout or {})
        if not gp and not gd:
            raise ValueError("give at least one coefficient in gamma_purchase or gamma_dropout")
        base = np.array([r, alpha, a, b], dtype=float)
        if not (np.isfinite(base).all() and (base > 0).all()):
            raise ValueError("r, alpha, a and b must be positive and finite")
        coefs = np.array([*gp.values(), *gd.values()], dtype=float)
        if not np.isfinite(coefs).all():
            raise ValueError("the coefficients must be finite")
        union = list(dict.fromkeys([*gp, *gd]))
        means = dict(covariate_means or {})
        unknown = sorted(set(means) - set(union))
        if unknown:
            raise ValueError(f"covariate_means for {unknown}, which have no coefficient")
        self = cls()
        self._start_fit()
        names = [*_BASE, *(f"purchase:{c}" for c in gp), *(f"dropout:{c}" for c in gd)]
        self.purchase_covariates_ = tuple(gp)
        self.dropout_covariates_ = tuple(gd)
        self.covariate_means_ = pd.Series([float(means.get(c, 0.0)) for c in union], index=union, name="mean")
        k = len(names)
        self._store(np.concatenate([np.log(base), coefs]), np.full((k, k), np.nan), names)
        self.log_likelihood_ = self.null_log_likelihood_ = np.nan
        self.lr_test_ = pd.Series({"statistic": np.nan, "df": float(k - 4), "p_value": np.nan}, name="lr_test")
        self.n_customers_ = self.n_dropped_ = 0
        self.converged_ = True
        self.fit_status_ = FitStatus(
            model=MODEL_NAME,
            converged=True,
            boundary=None,
            message=f"The {MODEL_NAME} parameters are given, not estimated: there are no standard errors.",
            usable=True,
        )
        self.model_ = MODEL_NAME
        return self

    # -- results -------------------------------------------------------------------------------
    def _summary(self) -> pd.DataFrame:
        out = pd.DataFrame({"coef": self.params_, "se": self.standard_errors_}).join(self.confidence_intervals_)
        out["p_value"] = self._p_values_  # NaN for r, alpha, a, b: positive by definition, "= 0" is meaningless
        exp_coef = np.exp(self.params_.where(~self.params_.index.isin(_BASE)))
        out["exp_coef"] = exp_coef  # purchase: rate ratio; dropout: odds ratio of E[p], per unit
        out.index.name = "param"
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """One row per parameter: ``coef, se, ci_lower, ci_upper, p_value, exp_coef``.

        ``exp_coef`` (coefficients only) is the multiplicative effect of one unit of the covariate:
        on the mean purchase rate for ``purchase:<covariate>``, on the odds of the mean drop-out
        probability for ``dropout:<covariate>``. ``p_value`` is NaN for ``r, alpha, a, b``.
        """
        return super().summary

    @property
    def covariates_(self) -> tuple[str, ...]:
        """Every covariate of the model, purchase ones first."""
        self._check_fitted()
        return tuple(self.covariate_means_.index)

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"<{type(self).__name__}: not fitted>"
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {self.n_customers_} customers, {p}>"

    # -- per-customer parameters ---------------------------------------------------------------
    def _params_vector(self, params: Any) -> np.ndarray:
        """The search-scale vector of ``params`` (natural scale, ``params_`` order) or of the estimates."""
        self._check_fitted()
        if params is None:
            return self._theta
        if isinstance(params, pd.Series):
            missing = [k for k in self.params_.index if k not in params.index]
            if missing:
                raise ValueError(f"params lacks {missing}; expected the index of params_ {list(self.params_.index)}")
            vec = params[self.params_.index].to_numpy(dtype=float)
        else:
            vec = np.asarray(params, dtype=float)
            if vec.shape != (len(self.params_),):
                raise ValueError(f"params must have {len(self.params_)} values in the order {list(self.params_.index)}")
        if not (np.isfinite(vec).all() and (vec[:4] > 0).all()):
            raise ValueError("params must be finite with r, alpha, a, b positive")
        out = vec.copy()
        out[:4] = np.log(vec[:4])
        return out

    def _centred(self, frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Centred purchase and dropout covariate matrices of ``frame`` (NaN rows where missing)."""
        union = list(self.covariate_means_.index)
        Z = _covariate_matrix(frame, union, what) - self.covariate_means_.to_numpy(dtype=float)
        Zp = Z[:, [union.index(c) for c in self.purchase_covariates_]].reshape(len(frame), -1)
        Zd = Z[:, [union.index(c) for c in self.dropout_covariates_]].reshape(len(frame), -1)
        return Zp, Zd

    def _individual(self, Zp: np.ndarray, Zd: np.ndarray, params: Any) -> tuple[Any, np.ndarray, np.ndarray, Any]:
        theta = self._params_vector(params)
        kp = len(self.purchase_covariates_)
        r, alpha, a, b = np.exp(theta[:4])
        alpha_i = alpha * np.exp(-(Zp @ theta[4 : 4 + kp]))
        a_i = a * np.exp(Zd @ theta[4 + kp :])
        return r, alpha_i, a_i, b

    def individual_parameters(self, covariates: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Each customer's BG/NBD parameters ``r, alpha, a, b`` (NaN where a covariate is missing).

        Also ``expected_purchase_rate`` (``r / alpha_i``, purchases per period while alive) and
        ``expected_dropout_probability`` (``a_i / (a_i + b)``, after each repeat purchase).
        """
        Zp, Zd = self._centred(covariates, "covariates")
        r, alpha_i, a_i, b = self._individual(Zp, Zd, params)
        n = len(covariates)
        return pd.DataFrame(
            {
                "r": np.full(n, r),
                "alpha": alpha_i,
                "a": a_i,
                "b": np.full(n, b),
                "expected_purchase_rate": r / alpha_i,
                "expected_dropout_probability": a_i / (a_i + b),
            },
            index=covariates.index,
        )

    def _per_customer(
        self,
        frame: pd.DataFrame,
        what: str,
        params: Any,
        fun: Callable[..., np.ndarray],
        name: str,
        rfm_cols: tuple[str, str, str] | None = None,
    ) -> pd.Series:
        """``fun(r, alpha_i, a_i, b[, x, t_x, T])`` per customer of ``frame``; NaN (no data) without every covariate.

        ``rfm_cols``: the frequency, recency and T columns, whose arrays follow the parameters.
        """
        rfm = _rfm_arrays(frame, *rfm_cols) if rfm_cols is not None else ()
        Zp, Zd = self._centred(frame, what)
        known = ~(np.isnan(Zp).any(axis=1) | np.isnan(Zd).any(axis=1))
        r, alpha_i, a_i, b = self._individual(Zp[known], Zd[known], params)
        out = np.full(len(frame), np.nan)
        out[known] = fun(r, alpha_i, a_i, b, *(v[known] for v in rfm))
        return pd.Series(out, index=frame.index, name=name)

    # -- predictions ---------------------------------------------------------------------------
    def conditional_probability_alive(
        self,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        recency_col: str = "recency",
        T_col: str = "T",
        params: Any = None,
    ) -> pd.Series:
        """P(alive at T | x, t_x, T, z) per customer (NaN where a covariate is missing, as in every prediction).

        ``params``: a parameter vector (natural scale, the order of ``params_``) instead of the
        estimates, e.g. a draw for an interval.
        """
        cols = (frequency_col, recency_col, T_col)
        return self._per_customer(summary, "summary", params, _p_alive, "p_alive", cols)

    def conditional_probability_alive_at_horizon(
        self,
        t: float,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        recency_col: str = "recency",
        T_col: str = "T",
        params: Any = None,
    ) -> pd.Series:
        """P(alive at T + t | x, t_x, T, z): still alive ``t`` periods after the end of the data."""
        tt = _non_negative(t, "t", "of periods")

        def fun(r, alpha_i, a_i, b, x, t_x, T):
            return _p_alive(r, alpha_i, a_i, b, x, t_x, T) * _survival_if_alive(tt, r, alpha_i, a_i, b, x, T)

        cols = (frequency_col, recency_col, T_col)
        return self._per_customer(summary, "summary", params, fun, "p_alive_horizon", cols)

    def conditional_expected_number_of_purchases_up_to_time(
        self,
        t: float,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        recency_col: str = "recency",
        T_col: str = "T",
        params: Any = None,
    ) -> pd.Series:
        """E[Y(t) | x, t_x, T, z]: expected purchases in (T, T + t] per customer (FHL eq. 10)."""
        tt = _non_negative(t, "t", "of periods")

        def fun(r, alpha_i, a_i, b, x, t_x, T):
            return _p_alive(r, alpha_i, a_i, b, x, t_x, T) * _expected_if_alive(tt, r, alpha_i, a_i, b, x, T)

        cols = (frequency_col, recency_col, T_col)
        return self._per_customer(summary, "summary", params, fun, "expected_purchases", cols)

    predict = conditional_expected_number_of_purchases_up_to_time

    def expected_number_of_purchases_up_to_time(
        self, t: float, covariates: pd.DataFrame, params: Any = None
    ) -> pd.Series:
        """E[X(t)]: expected repeat purchases in (0, t] of a new customer with these covariates (FHL eq. 9)."""
        tt = _non_negative(t, "t", "of periods")

        def fun(r, alpha_i, a_i, b):
            return _expected_new(tt, r, alpha_i, a_i, b)

        return self._per_customer(covariates, "covariates", params, fun, "expected_purchases")

    def expected_dropout_probability(self, covariates: pd.DataFrame, params: Any = None) -> pd.Series:
        """``E[p_i] = a_i / (a_i + b)``: each customer's mean drop-out probability after a repeat purchase."""
        Zp, Zd = self._centred(covariates, "covariates")
        _, _, a_i, b = self._individual(Zp, Zd, params)
        return pd.Series(a_i / (a_i + b), index=covariates.index, name="dropout_probability")
