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
  revenue per csat point (``100 * (exp(b) - 1)`` percent). PPML needs a
  non-negative outcome: customer-periods with a negative one (refunds, losses)
  are left out of the fit and a diagnostic says how many.

By default the period in which a customer churns is dropped: its spend is cut
short by the exit itself, which would mix the retention link into the spend
link. Linear estimators use full periods only (``at_risk_fraction == 1``);
PPML keeps partial first periods through the offset.

The estimators are hand-written (numpy) rather than delegated to pyfixest: at
1M customers pyfixest reproduces them to 1e-13 but is 1.6-4.2x slower warm (see
``benchmarks/bench_financial.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy

from bsc_toolkit.models._base import FittedModel, NotEstimableError, check_alpha, wald_table, z_critical
from bsc_toolkit.models._fe_algebra import (
    _column_std,
    _demean_,
    _group_sum,
    cluster_robust_ols,
    independent_columns,
    ppml_customer_effects,
)
from bsc_toolkit.models.features import csat_spline

__all__ = ["ESTIMATORS", "FinancialPanelModel", "cluster_robust_ols"]

ESTIMATORS = ("within", "pooled", "fd", "ppml")
_VARIES = 1e-12  # a regressor whose within-customer spread is below this does not vary


def _require(df: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}; it has {list(df.columns)}")


def _sorted_by_customer_period(df: pd.DataFrame) -> bool:
    """Whether rows are already ordered by ``customer_id`` and then ``period`` (no sort needed)."""
    if not isinstance(df["period"].dtype, pd.PeriodDtype) or len(df) < 2:
        return False
    ids = df["customer_id"].to_numpy()
    per = pd.PeriodIndex(df["period"]).asi8
    if ids.dtype.kind in "iuf":
        did = np.sign(np.diff(ids))
    else:  # text ids: compare neighbours (no arithmetic on strings)
        a, b = ids[:-1], ids[1:]
        did = np.where(a < b, 1, np.where(a == b, 0, -1))
    dper = np.diff(per)
    return bool(np.all((did > 0) | ((did == 0) & (dper > 0))))


def _is_sat_term(name: str) -> bool:
    """Whether a design column is a satisfaction term (not intercept, segment or period effect)."""
    return not name.startswith(("period_", "segment_")) and name != "Intercept"


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


class FinancialPanelModel(FittedModel):
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
        time-invariant terms are swept out, with a ``no_within_variation``
        diagnostic). Columns ``csat_below`` and ``csat_above`` are available.
    tol, max_iter : float, int
        Convergence tolerance (largest coefficient step) and iteration limit
        of the PPML Newton iterations.
    alpha : float
        1 - confidence level of the intervals (0.05: 95% intervals).

    Attributes (after ``fit``)
    --------------------------
    params_ : pandas.Series
        All coefficients (satisfaction terms first, then period effects).
    standard_errors_ : pandas.Series
    cov_params_ : pandas.DataFrame
        Cluster-robust (by customer) covariance.
    confidence_intervals_ : pandas.DataFrame
        Columns ``ci_lower``, ``ci_upper`` (normal-theory, level ``1 - alpha``).
    summary : pandas.DataFrame
        Satisfaction terms: ``coef, se, ci_lower, ci_upper, p_value``, then
        ``z``, for PPML ``pct_effect, pct_ci_lower, pct_ci_upper`` (percent
        change in expected outcome per csat point), ``estimator``, ``outcome``.
    customer_effects_ : pandas.Series or None
        Estimated customer fixed effects (``"within"``: USD; ``"ppml"``: log),
        indexed by ``customer_id``; None for ``"pooled"`` and ``"fd"``.
    period_effects_ : pandas.Series
        Period effects relative to the first period (0 for it).
    sat_terms_ : list of str
        The satisfaction terms (rows of ``summary``).
    n_obs_, n_customers_ : int
        Customer-periods and customers used.
    diagnostics_ : list of Diagnostic
        ``dropped_rows`` (rows without csat or outcome, churn and partial
        periods, PPML: negative outcomes and customers whose outcome is always
        0), ``no_within_variation`` (regressors dropped), ``not_converged``.
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
        alpha: float = 0.05,
    ) -> None:
        super().__init__(alpha=alpha)
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
    def _selection(self, panel: pd.DataFrame) -> tuple[pd.Series, dict[str, int]]:
        """Boolean mask of the rows to fit and the counts of rows left out, by reason."""
        _require(panel, ["customer_id", "period", self.outcome, self.csat_col, "churned", "at_risk_fraction"])
        keep = panel[self.csat_col].notna()
        dropped = {f"without a {self.csat_col} survey": int((~keep).sum())}
        has_y = panel[self.outcome].notna()
        dropped[f"without {self.outcome}"] = int((keep & ~has_y).sum())
        keep &= has_y
        if self.drop_churn_periods:
            churn = panel["churned"].astype(bool)
            dropped["in the period of churn (drop_churn_periods)"] = int((keep & churn).sum())
            keep &= ~churn
        if self.estimator != "ppml":
            full = panel["at_risk_fraction"] >= 1.0 - 1e-9
            dropped["in partial periods (linear estimators use full periods only)"] = int((keep & ~full).sum())
            keep &= full
        return keep, dropped

    def prepare(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Rows used for fitting, with ``csat_below``/``csat_above`` added.

        PPML's further exclusions (negative outcomes) are made in :meth:`fit`.
        """
        return self._prepare(panel, self._selection(panel)[0])

    def _prepare(self, panel: pd.DataFrame, keep: pd.Series, lean: bool = False) -> pd.DataFrame:
        """Rows ``keep`` sorted by customer and period; ``lean``: only the columns the fit uses."""
        cols = list(panel.columns)
        if lean and self.formula is None:
            want = ["customer_id", "period", self.outcome, self.csat_col, "at_risk_fraction"]
            want += ["segment"] if self.estimator == "pooled" and "segment" in panel.columns else []
            cols = [c for c in dict.fromkeys(want) if c in panel.columns]
        df = panel.loc[keep, cols] if lean else panel.loc[keep].copy()
        df["csat_below"], df["csat_above"] = csat_spline(df[self.csat_col], self.knot)
        if lean and _sorted_by_customer_period(df):
            df.index = pd.RangeIndex(len(df))
            return df
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

    def _design_array(self, df: pd.DataFrame, rows: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
        """:meth:`_design` as a column-major float64 array (rows ``rows`` only), built column by column."""
        if self.formula is not None or (self.estimator == "pooled" and "segment" in df.columns):
            x = self._design(df if rows is None else df.loc[rows])
            return np.asfortranarray(x.to_numpy(dtype=float)), list(x.columns)
        n = len(df) if rows is None else int(np.count_nonzero(rows))
        sat = ["csat_below", "csat_above"] if self.terms == "spline" else [self.csat_col]
        names = (["Intercept"] if self.estimator == "pooled" else []) + sat
        per_codes, per_names = None, []
        if self.period_effects:
            codes, levels = pd.factorize(df["period"] if rows is None else df["period"].array[rows])
            labels = np.array([str(v) for v in levels], dtype=object)
            order = np.argsort(labels, kind="stable")  # get_dummies on text: levels in sorted text order
            rank = np.empty(len(order), dtype=np.intp)
            rank[order] = np.arange(len(order))
            per_codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
            per_names = [f"period_{label}" for label in labels[order][1:]]
        x = np.zeros((n, len(names) + len(per_names)), order="F")
        j = 0
        if self.estimator == "pooled":
            x[:, 0] = 1.0
            j = 1
        for col in sat:
            values = df[col].to_numpy(dtype=float)
            x[:, j] = values if rows is None else values[rows]
            j += 1
        for level in range(1, len(per_names) + 1):
            x[:, j] = per_codes == level
            j += 1
        return x, names + per_names

    # ---------------------------------------------------------------------- fit
    def fit(self, panel: pd.DataFrame) -> FinancialPanelModel:
        """Fit on the customer-period panel of :func:`bsc_toolkit.panel.customer_periods`.

        Returns
        -------
        FinancialPanelModel
            ``self``.

        Raises
        ------
        ValueError
            If a column is missing.
        NotEstimableError
            If fewer than 20 customer-periods are usable, csat does not vary, or no
            satisfaction term varies within customers (a ``ValueError`` too).
        """
        self._start_fit()
        keep, dropped = self._selection(panel)
        df = self._prepare(panel, keep, lean=True)
        n_kept = int(keep.sum())
        del keep
        n_negative = 0
        if self.estimator == "ppml":
            negative = (df[self.outcome] < 0).to_numpy()
            n_negative = int(negative.sum())
            if n_negative:
                n_cust = df.loc[negative, "customer_id"].nunique()
                df = df.loc[~negative].reset_index(drop=True)
        if len(df) < 20:
            extra = f" after leaving out {_count(n_negative, 'customer-period')} with a negative {self.outcome}"
            extra = extra if n_negative else ""
            raise NotEstimableError(f"too few usable customer-periods ({len(df)}){extra}; need at least 20")
        if df[self.csat_col].nunique() < 2:
            raise NotEstimableError(f"column '{self.csat_col}' has no variation")
        parts = [_count(n, "customer-period") + " " + why for why, n in dropped.items() if n]
        if parts:
            self._diagnose(
                "dropped_rows",
                f"Left out of the fit: {'; '.join(parts)} "
                f"({len(panel) - n_kept:,} of {len(panel):,} customer-periods).",
                "info",
            )
        if n_negative:
            self._diagnose(
                "dropped_rows",
                f"PPML needs a non-negative outcome: {_count(n_negative, 'customer-period')} of {n_cust:,} customers "
                f"with a negative {self.outcome} (refunds or losses; {n_negative / (len(df) + n_negative):.1%} of the "
                f"usable rows) were left out; the estimates describe the remaining customer-periods.",
            )
        codes, uniques = pd.factorize(df["customer_id"], sort=True)
        y = df[self.outcome].to_numpy(dtype=float)
        g = len(uniques)
        effects = None
        if self.estimator == "ppml":
            offset = np.log(df["at_risk_fraction"].to_numpy(dtype=float).clip(1e-6))
            beta, cov, names, effects = self._fit_ppml(df, y, codes, g, offset)
        else:
            xm, names = self._design_array(df)
            if self.estimator == "pooled":
                beta, cov = cluster_robust_ols(y, xm, codes)
            elif self.estimator == "within":
                beta, cov, names, effects = self._fit_within(y, xm, names, codes, g)
            else:
                beta, cov, names = self._fit_fd(df, y, xm, names, codes)
            del xm
        self.customer_effects_ = (
            None
            if effects is None
            else pd.Series(effects, index=pd.Index(uniques, name="customer_id"), name="customer_effect")
        )
        self.params_ = pd.Series(beta, index=names, name="coef")
        self.cov_params_ = pd.DataFrame(cov, index=names, columns=names)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(cov)), index=names, name="se")
        z = z_critical(self.alpha)
        self.confidence_intervals_ = pd.DataFrame(
            {"ci_lower": beta - z * self.standard_errors_, "ci_upper": beta + z * self.standard_errors_}, index=names
        )
        self.n_obs_ = len(df)
        self.n_customers_ = g
        per = [n for n in names if n.startswith("period_")]
        first = str(pd.PeriodIndex(df["period"]).min())
        self.period_effects_ = (
            pd.concat([pd.Series({first: 0.0}), self.params_[per].rename(lambda s: s[len("period_") :])]).rename(
                "period_effect"
            )
            if self.period_effects
            else pd.Series(dtype=float)
        )
        self.sat_terms_ = [n for n in names if _is_sat_term(n)]
        return self

    def _drop_invariant(self, xd: np.ndarray, names: list[str], how: str) -> np.ndarray:
        """Mask of the columns of ``xd`` (within-customer transformed) that can be estimated; diagnose the rest.

        A column is dropped when it does not vary (``no_within_variation``) or when it is a linear
        combination of the columns kept before it (``collinear``; e.g. tenure within customers is the
        calendar time that the period effects already absorb). Satisfaction terms are kept first.
        """
        varying = _column_std(xd) > _VARIES
        gone = [n for n, v in zip(names, varying) if not v]
        if gone:
            verb, it = ("does", "was dropped") if len(gone) == 1 else ("do", "were dropped")
            self._diagnose(
                "no_within_variation",
                f"{', '.join(gone)} {verb} not vary {how} and {it}: the customer effects absorb time-invariant "
                f"terms, so the '{self.estimator}' estimator cannot estimate their effect.",
            )
        keep = independent_columns(xd, names, varying)
        collinear = [n for n, v, k in zip(names, varying, keep) if v and not k]
        if collinear:
            self._diagnose(
                "collinear",
                f"{', '.join(collinear)} {'is a linear combination' if len(collinear) == 1 else 'are linear combinations'}"
                f" of the other regressors {how} (with the customer and period effects) and "
                f"{'was' if len(collinear) == 1 else 'were'} dropped: {'its' if len(collinear) == 1 else 'their'} "
                "effect cannot be separated from theirs.",
            )
        if not any(k and _is_sat_term(n) for n, k in zip(names, keep)):
            raise NotEstimableError(
                f"satisfaction does not vary {how} in these data, so no satisfaction term can be estimated "
                f"({', '.join(gone + collinear)}): the '{self.estimator}' estimator identifies effects from "
                "changes within customers only, which needs customers surveyed in two or more usable periods"
            )
        return keep

    def _fit_within(self, y, x, names, codes, g):
        """Customer fixed effects by demeaning; ``x`` (column-major) is demeaned in place."""
        counts = np.bincount(codes, minlength=g).astype(float)
        ybar = _group_sum(codes, y, g) / counts
        xbar = _demean_(x, codes, counts)
        yd = y - ybar[codes]
        xd = x
        varying = self._drop_invariant(xd, names, "within customers")
        if not varying.all():
            xd, xbar = xd[:, varying], xbar[:, varying]
        beta, cov = cluster_robust_ols(yd, xd, codes)
        effects = ybar - xbar @ beta
        return beta, cov, [n for n, v in zip(names, varying) if v], effects

    def _fit_fd(self, df, y, x, names, codes):
        ordinal = pd.PeriodIndex(df["period"]).asi8
        same = np.r_[False, (codes[1:] == codes[:-1]) & (np.diff(ordinal) == 1)]
        cur = np.flatnonzero(same)
        prev = cur - 1
        if cur.size < 20:
            raise NotEstimableError(
                f"too few consecutive surveyed periods for first differences ({cur.size}; need at least 20)"
            )
        dy = y[cur] - y[prev]
        dx = x[cur] - x[prev]
        # with period dummies, differences of dummies identify period effects; keep the intercept-free form
        keep = self._drop_invariant(dx, names, "between consecutive surveyed periods")
        sub_codes = pd.factorize(codes[cur])[0]
        beta, cov = cluster_robust_ols(dy, dx[:, keep], sub_codes)
        return beta, cov, [n for n, k in zip(names, keep) if k]

    def _fit_ppml(self, df, y, codes, g, offset):
        n_i = _group_sum(codes, y, g)
        use = n_i[codes] > 0  # customers without spend carry no information on beta
        n_zero = int((n_i <= 0).sum())
        if n_zero:
            self._diagnose(
                "dropped_rows",
                f"{_count(n_zero, 'customer')} whose {self.outcome} is 0 in every usable period "
                f"({int((~use).sum()):,} customer-periods) carry no information under customer fixed effects "
                "and were dropped from the PPML fit (their customer effect is minus infinity).",
                "info",
            )
        # the design of the customers with spend only (a customer's rows are all in or all out)
        all_used = bool(use.all())
        xu, names = self._design_array(df, None if all_used else use)
        yu, cu, ou = (y, codes, offset) if all_used else (y[use], codes[use], offset[use])
        del df
        xc = xu.copy(order="F")  # within-customer centred regressors (reused by the solver)
        _demean_(xc, cu, np.maximum(np.bincount(cu, minlength=g), 1).astype(float))
        varying = self._drop_invariant(xc, names, "within customers")
        if not varying.all():
            xu, xc = np.asfortranarray(xu[:, varying]), np.asfortranarray(xc[:, varying])
        names = [n for n, v in zip(names, varying) if v]
        fit = ppml_customer_effects(xu, xc, yu, cu, ou, n_i, max_iter=self.max_iter, tol=self.tol)
        if not fit.converged:
            self._diagnose(
                "not_converged",
                f"PPML did not converge in {self.max_iter} Newton iterations (last step {fit.last_step:.2g}, "
                f"tolerance {self.tol:g}); the estimates and standard errors should not be used. Check for "
                "customers whose spend is perfectly predicted, or raise max_iter.",
                "error",
            )
        beta, cov, effects = fit.beta, fit.cov, fit.effects
        return beta, cov, names, effects

    # ------------------------------------------------------------------ outputs
    def _summary(self) -> pd.DataFrame:
        """Tidy table of the satisfaction terms (cluster-robust by customer)."""
        names = self.sat_terms_
        out = wald_table(self.params_[names], self.standard_errors_[names], self.alpha)
        out["z"] = out["coef"] / out["se"]
        if self.estimator == "ppml":
            for pct, col in (("pct_effect", "coef"), ("pct_ci_lower", "ci_lower"), ("pct_ci_upper", "ci_upper")):
                out[pct] = 100 * np.expm1(out[col])
        out["estimator"] = self.estimator
        out["outcome"] = self.outcome
        out.index.name = "term"
        return out

    def summary_text(self) -> str:
        """Readable summary (with the diagnostics, if any)."""
        self._check_fitted()
        unit = "log expected" if self.estimator == "ppml" else "USD of"
        level = f"{100 * (1 - check_alpha(self.alpha)):g}%"
        text = (
            f"{self.estimator} estimator, {unit} {self.outcome} per customer-period on {self.csat_col} "
            f"({self.n_customers_} customers, {self.n_obs_} customer-periods; SE clustered by customer; "
            f"{level} intervals)\n" + self.summary.drop(columns=["estimator", "outcome"]).round(4).to_string()
        )
        return text + "".join(f"\n{d}" for d in self.diagnostics_)
