"""Satisfaction -> financial outcomes: customer-period panel regressions.

Revenue or margin per customer-period is regressed on the period's
satisfaction survey (taken at the start of the period, before the spend it may
drive; ``csat_col="csat_lag1"`` uses the previous period's survey instead),
with standard errors clustered by customer. Estimators:

* ``"pooled"`` -- OLS with segment and period effects (confounded by stable
  unobserved customer traits that drive both satisfaction and spend);
* ``"within"`` -- customer fixed effects by demeaning (no dummy columns, so it
  scales to millions of customers) plus period effects; the effect is in USD
  per csat point;
* ``"fd"`` -- first differences between consecutive surveyed periods
  ("changes on changes");
* ``"ppml"`` -- Poisson pseudo-maximum likelihood with customer fixed effects
  (concentrated out, Hausman-Hall-Griliches) and period effects, exposure
  ``log(at_risk_fraction)`` as offset: coefficients are changes in log expected
  revenue per csat point (``100 * (exp(b) - 1)`` percent).

By default the period in which a customer churns is dropped: its spend is cut
short by the exit itself, which would mix the retention link into the spend
link. Linear estimators use full periods only (``at_risk_fraction == 1``);
PPML keeps partial first periods through the offset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
from scipy import stats

from bsc_toolkit.models.features import csat_spline

__all__ = ["ESTIMATORS", "FinancialPanelModel", "cluster_robust_ols"]

ESTIMATORS = ("within", "pooled", "fd", "ppml")


def _require(df: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}; it has {list(df.columns)}")


def _group_sum(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Column-wise sums of ``values`` (n x k or n) per integer group code."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    return np.column_stack([np.bincount(codes, weights=values[:, j], minlength=n_groups) for j in range(values.shape[1])])


def cluster_robust_ols(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray, df_absorbed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and cluster-robust covariance (CR1, Stata's small-sample factor).

    Parameters
    ----------
    y : (n,) array
    x : (n, k) array
    groups : (n,) integer codes 0..G-1
    df_absorbed : int
        Parameters absorbed before the regression (not counted when clustering
        by the absorbed groups, as in Stata's ``xtreg, fe vce(cluster id)``).

    Returns
    -------
    beta : (k,) array
    cov : (k, k) array
    """
    xtx = x.T @ x
    beta = np.linalg.solve(xtx, x.T @ y)
    resid = y - x @ beta
    n, k = x.shape
    n_groups = int(groups.max()) + 1
    scores = _group_sum(groups, x * resid[:, None], n_groups)
    bread = np.linalg.inv(xtx)
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - k - df_absorbed)
    cov = factor * bread @ (scores.T @ scores) @ bread
    return beta, cov


class FinancialPanelModel:
    """Revenue or margin per customer-period on satisfaction.

    Parameters
    ----------
    outcome : str
        Panel column, e.g. ``"revenue_usd"`` or ``"margin_usd"``.
    estimator : {"within", "pooled", "fd", "ppml"}
        See the module docstring.
    csat_col : str
        Satisfaction column: ``"csat"`` (the period's survey, which precedes
        the period's spend) or ``"csat_lag1"``.
    terms : {"spline", "linear"}
        Linear spline of csat with a knot (``csat_below``, ``csat_above``) or
        linear csat.
    knot : float
    period_effects : bool
        Include period dummies.
    drop_churn_periods : bool
        Drop the period in which the customer churns (see module docstring).
    formula : str, optional
        Patsy formula ``"outcome ~ terms"`` replacing the default right-hand
        side (period effects are still added when ``period_effects``; for
        ``"within"``/``"fd"``/``"ppml"`` the intercept is dropped and
        time-invariant terms are swept out). Columns ``csat_below`` and
        ``csat_above`` are available.
    tol, max_iter : float, int
        Convergence tolerance (largest coefficient step) and iteration limit
        of the PPML Newton iterations.

    Attributes (after ``fit``)
    --------------------------
    params_ : pandas.Series
        All coefficients (satisfaction terms first, then period effects).
    cov_params_ : pandas.DataFrame
        Cluster-robust (by customer) covariance.
    confidence_intervals_ : pandas.DataFrame
    summary : pandas.DataFrame
        Satisfaction terms: coef, se, z, p, CI (and ``pct_effect`` for PPML).
    customer_effects_ : pandas.Series or None
        Estimated customer fixed effects (``"within"``: USD; ``"ppml"``: log),
        indexed by ``customer_id``; None for ``"pooled"`` and ``"fd"``.
    period_effects_ : pandas.Series
        Period effects relative to the first period (0 for it).
    n_obs_, n_customers_ : int
    """

    def __init__(
        self,
        outcome: str = "revenue_usd",
        estimator: str = "within",
        csat_col: str = "csat",
        terms: str = "spline",
        knot: float = 7.0,
        period_effects: bool = True,
        drop_churn_periods: bool = True,
        formula: str | None = None,
        tol: float = 1e-10,
        max_iter: int = 50,
    ) -> None:
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}")
        if terms not in ("spline", "linear"):
            raise ValueError(f"terms must be 'spline' or 'linear', not {terms!r}")
        self.outcome = outcome
        self.estimator = estimator
        self.csat_col = csat_col
        self.terms = terms
        self.knot = float(knot)
        self.period_effects = period_effects
        self.drop_churn_periods = drop_churn_periods
        self.formula = formula
        self.tol = tol
        self.max_iter = max_iter

    # ----------------------------------------------------------------- data prep
    def prepare(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Rows used for fitting, with ``csat_below``/``csat_above`` added."""
        _require(panel, ["customer_id", "period", self.outcome, self.csat_col, "churned", "at_risk_fraction"])
        keep = panel[self.csat_col].notna() & panel[self.outcome].notna()
        if self.drop_churn_periods:
            keep &= ~panel["churned"].astype(bool)
        if self.estimator != "ppml":
            keep &= panel["at_risk_fraction"] >= 1.0 - 1e-9
        df = panel.loc[keep].copy()
        df["csat_below"], df["csat_above"] = csat_spline(df[self.csat_col], self.knot)
        return df.sort_values(["customer_id", "period"], ignore_index=True)

    def _sat_design(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.formula is not None:
            x = patsy.dmatrices(self.formula, df, return_type="dataframe", NA_action="raise")[1]
            if self.estimator != "pooled":
                x = x.drop(columns=["Intercept"], errors="ignore")
            return x.set_axis(df.index)
        cols = ["csat_below", "csat_above"] if self.terms == "spline" else [self.csat_col]
        x = df[cols].astype(float)
        if self.estimator == "pooled":
            x.insert(0, "Intercept", 1.0)
            if "segment" in df.columns:
                seg = pd.get_dummies(df["segment"], prefix="segment", drop_first=True, dtype=float)
                x = pd.concat([x, seg], axis=1)
        return x

    def _design(self, df: pd.DataFrame) -> pd.DataFrame:
        x = self._sat_design(df)
        if self.period_effects:
            per = pd.get_dummies(df["period"].astype(str), prefix="period", drop_first=True, dtype=float)
            x = pd.concat([x, per], axis=1)
        return x

    # ---------------------------------------------------------------------- fit
    def fit(self, panel: pd.DataFrame) -> "FinancialPanelModel":
        """Fit on the customer-period panel of :func:`bsc_toolkit.panel.customer_periods`.

        Returns
        -------
        FinancialPanelModel
            ``self``.
        """
        df = self.prepare(panel)
        if len(df) < 20:
            raise ValueError(f"too few usable customer-periods ({len(df)}); need at least 20")
        if df[self.csat_col].nunique() < 2:
            raise ValueError(f"column '{self.csat_col}' has no variation")
        if self.estimator == "ppml" and (df[self.outcome] < 0).any():
            raise ValueError(f"estimator 'ppml' needs a non-negative outcome; column '{self.outcome}' has negatives")
        codes, uniques = pd.factorize(df["customer_id"], sort=True)
        x = self._design(df)
        names = list(x.columns)
        xm = x.to_numpy(dtype=float)
        y = df[self.outcome].to_numpy(dtype=float)
        g = len(uniques)
        alpha = None
        if self.estimator == "pooled":
            beta, cov = cluster_robust_ols(y, xm, codes)
        elif self.estimator == "within":
            beta, cov, alpha = self._fit_within(y, xm, codes, g)
        elif self.estimator == "fd":
            beta, cov, names = self._fit_fd(df, y, xm, names, codes)
        else:
            offset = np.log(df["at_risk_fraction"].to_numpy(dtype=float).clip(1e-6))
            beta, cov, alpha = self._fit_ppml(y, xm, codes, g, offset)
        self.customer_effects_ = None if alpha is None else pd.Series(
            alpha, index=pd.Index(uniques, name="customer_id"), name="customer_effect"
        )
        self.params_ = pd.Series(beta, index=names, name="coef")
        self.cov_params_ = pd.DataFrame(cov, index=names, columns=names)
        se = np.sqrt(np.diag(cov))
        self.confidence_intervals_ = pd.DataFrame(
            {"lower": beta - 1.959963984540054 * se, "upper": beta + 1.959963984540054 * se}, index=names
        )
        self.n_obs_ = len(df)
        self.n_customers_ = g
        per = [n for n in names if n.startswith("period_")]
        first = str(pd.PeriodIndex(df["period"]).min())
        self.period_effects_ = pd.concat(
            [pd.Series({first: 0.0}), self.params_[per].rename(lambda s: s[len("period_"):])]
        ).rename("period_effect") if self.period_effects else pd.Series(dtype=float)
        self.sat_terms_ = [n for n in names if not n.startswith("period_") and not n.startswith("segment_") and n != "Intercept"]
        return self

    def _fit_within(self, y, x, codes, g):
        counts = np.bincount(codes, minlength=g).astype(float)
        ybar = _group_sum(codes, y, g) / counts
        xbar = _group_sum(codes, x, g) / counts[:, None]
        yd = y - ybar[codes]
        xd = x - xbar[codes]
        varying = xd.std(axis=0) > 1e-12
        if not varying.all():
            raise ValueError("some regressors do not vary within customers (time-invariant terms are absorbed by the fixed effects)")
        beta, cov = cluster_robust_ols(yd, xd, codes)
        alpha = ybar - xbar @ beta
        return beta, cov, alpha

    def _fit_fd(self, df, y, x, names, codes):
        ordinal = pd.PeriodIndex(df["period"]).asi8
        same = np.r_[False, (codes[1:] == codes[:-1]) & (np.diff(ordinal) == 1)]
        prev = np.flatnonzero(same) - 1
        cur = np.flatnonzero(same)
        if cur.size < 20:
            raise ValueError(f"too few consecutive surveyed periods for first differences ({cur.size})")
        dy = y[cur] - y[prev]
        dx = x[cur] - x[prev]
        # with period dummies, differences of dummies identify period effects; keep the intercept-free form
        keep = dx.std(axis=0) > 1e-12
        dx = dx[:, keep]
        names = [n for n, k in zip(names, keep) if k]
        sub_codes = pd.factorize(codes[cur])[0]
        beta, cov = cluster_robust_ols(dy, dx, sub_codes)
        return beta, cov, names

    def _fit_ppml(self, y, x, codes, g, offset):
        n_i = _group_sum(codes, y, g)
        use = n_i[codes] > 0  # customers without spend carry no information on beta
        yu, xu, cu, ou = y[use], x[use], codes[use], offset[use]
        size = np.maximum(np.bincount(cu, minlength=g), 1)

        def concentrated(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Expected counts, within-customer centred regressors and Hessian at ``beta``."""
            eta = xu @ beta + ou
            eta -= _group_sum(cu, eta, g)[cu] / size[cu]  # stabilise; shares p are shift-invariant
            lam = np.exp(eta)
            p = lam / _group_sum(cu, lam, g)[cu]
            w = n_i[cu] * p
            xc = xu - _group_sum(cu, xu * p[:, None], g)[cu]
            return w, xc, (xc * w[:, None]).T @ xc

        beta = np.zeros(xu.shape[1])
        for _ in range(self.max_iter):
            w, xc, hess = concentrated(beta)
            step = np.linalg.solve(hess, xc.T @ (yu - w))
            beta = beta + step
            if np.max(np.abs(step)) < self.tol:
                break
        else:
            raise RuntimeError("PPML did not converge; check for perfectly predicted customers")
        w, xc, hess = concentrated(beta)
        scores = _group_sum(cu, xc * (yu - w)[:, None], g)
        g_used = int((n_i > 0).sum())
        bread = np.linalg.inv(hess)
        cov = g_used / (g_used - 1) * bread @ (scores.T @ scores) @ bread
        lam_all = _group_sum(codes, np.exp(x @ beta + offset), g)
        with np.errstate(divide="ignore"):
            alpha = np.log(n_i) - np.log(lam_all)
        return beta, cov, alpha

    # ------------------------------------------------------------------ outputs
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise ValueError("model is not fitted: call fit(panel) first")

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table of the satisfaction terms (cluster-robust by customer)."""
        self._check_fitted()
        names = self.sat_terms_
        b = self.params_[names]
        se = np.sqrt(np.diag(self.cov_params_.loc[names, names]))
        out = pd.DataFrame(
            {
                "coef": b,
                "se": se,
                "z": b / se,
                "p_value": 2 * stats.norm.sf(np.abs(b / se)),
                "ci_lower": self.confidence_intervals_.loc[names, "lower"],
                "ci_upper": self.confidence_intervals_.loc[names, "upper"],
            }
        )
        if self.estimator == "ppml":
            for pct, col in (("pct_effect", "coef"), ("pct_ci_lower", "ci_lower"), ("pct_ci_upper", "ci_upper")):
                out[pct] = 100 * np.expm1(out[col])
        out.insert(0, "estimator", self.estimator)
        out.insert(1, "outcome", self.outcome)
        out.index.name = "term"
        return out

    def summary_text(self) -> str:
        """Readable summary."""
        self._check_fitted()
        unit = "log expected" if self.estimator == "ppml" else "USD of"
        return (
            f"{self.estimator} estimator, {unit} {self.outcome} per customer-period on {self.csat_col} "
            f"({self.n_customers_} customers, {self.n_obs_} customer-periods; SE clustered by customer)\n"
            + self.summary.drop(columns=["estimator", "outcome"]).round(4).to_string()
        )
