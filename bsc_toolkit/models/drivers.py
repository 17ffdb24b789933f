"""Driver analysis: which customer concerns matter most for satisfaction.

The four customer concerns of the Balanced Scorecard (``time``, ``quality``,
``service`` -- performance & service -- and ``cost``) are rated on the same
surveys as overall satisfaction. Their ratings are correlated (a "halo"), so
regression coefficients alone do not say how much each driver *explains*.
:class:`DriverImportance` reports

* **Shapley value / LMG** decomposition of the R^2 of the linear regression of
  the target on the drivers (Lindeman, Merenda & Gold 1980; Grömping 2006):
  each driver's average increase in R^2 when it is added, over all orders of
  entry. Computed exactly over all 2^k subsets from the correlation matrix
  (no refitting), so the bootstrap is cheap.
* **Johnson's relative weights** (Johnson 2000): the R^2 decomposition through
  the best orthogonal approximation of the drivers; numerically close to LMG.
* standardized and raw OLS coefficients with cluster-robust (by customer)
  confidence intervals, since customers answer repeatedly.

Intervals for the importances come from a cluster bootstrap (customers are
resampled with all their surveys; percentile intervals). Each bootstrap draw
also ranks the drivers, giving the probability that each driver holds each rank.

Ratings stay on their own scales (``scales``: a :class:`~bsc_toolkit.contracts.RatingScale` per
column, as the data set declares them): the coefficients are in "target points per driver point"
of those scales, and when the drivers are rated on different scales the importance-performance
table compares their mean ratings normalised to 0-1 (:meth:`RatingScale.normalise`). The
importance shares are scale-free. A single survey wave (a snapshot: one answer per customer)
works like repeated surveys (each customer is then a cluster of one).

Importance here is *derived* (statistical) importance: a description of how
ratings co-vary, not proof that raising a rating would raise satisfaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from bsc_toolkit.contracts import DRIVERS, RatingScale
from bsc_toolkit.models._base import IMPRECISE_SE_RATIO, FittedModel, NotEstimableError

__all__ = [
    "DriverImportance",
    "lmg_importance",
    "relative_weights",
    "importance_performance_table",
]

#: Condition number of the driver correlation matrix above which ``diagnostics_`` flags collinearity.
COLLINEAR_CONDITION = 30.0

_METHODS = {
    "shapley": "shapley",
    "lmg": "shapley",
    "relative_weights": "relative_weights",
    "johnson": "relative_weights",
}


def _as_batch(corr: np.ndarray) -> tuple[np.ndarray, bool]:
    corr = np.asarray(corr, dtype=float)
    if corr.ndim == 2:
        return corr[None], True
    return corr, False


def lmg_importance(corr: np.ndarray) -> np.ndarray:
    """Shapley/LMG decomposition of R^2 from a correlation matrix.

    Parameters
    ----------
    corr : ndarray, shape (k + 1, k + 1) or (B, k + 1, k + 1)
        Correlation matrix of the k drivers followed by the target (last
        row/column); a stack of B matrices is decomposed in one go.

    Returns
    -------
    ndarray, shape (k,) or (B, k)
        Each driver's share of R^2 in R^2 units; the shares sum to the R^2 of
        the regression on all drivers.
    """
    c, single = _as_batch(corr)
    k = c.shape[-1] - 1
    if k < 1:
        raise ValueError("need at least one driver")
    r2 = {(): np.zeros(c.shape[0])}
    for size in range(1, k + 1):
        for subset in combinations(range(k), size):
            idx = np.array(subset)
            rxx = c[:, idx[:, None], idx[None, :]]
            rxy = c[:, idx, k]
            r2[subset] = np.einsum("bi,bi->b", rxy, np.linalg.solve(rxx, rxy[..., None])[..., 0])
    out = np.zeros((c.shape[0], k))
    for j in range(k):
        others = [i for i in range(k) if i != j]
        for size in range(0, k):
            weight = factorial(size) * factorial(k - size - 1) / factorial(k)
            for subset in combinations(others, size):
                with_j = tuple(sorted((*subset, j)))
                out[:, j] += weight * (r2[with_j] - r2[subset])
    return out[0] if single else out


def relative_weights(corr: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights from a correlation matrix.

    Parameters
    ----------
    corr : ndarray, shape (k + 1, k + 1) or (B, k + 1, k + 1)
        Correlation matrix of the k drivers followed by the target.

    Returns
    -------
    ndarray, shape (k,) or (B, k)
        Raw relative weights (R^2 units); they sum to the full-model R^2.
    """
    c, single = _as_batch(corr)
    k = c.shape[-1] - 1
    rxx = c[:, :k, :k]
    rxy = c[:, :k, k]
    evals, evecs = np.linalg.eigh(rxx)
    evals = np.clip(evals, 1e-12, None)
    lam = np.einsum("bij,bj,bkj->bik", evecs, np.sqrt(evals), evecs)  # Rxx^(1/2), symmetric
    beta = np.linalg.solve(lam, rxy[..., None])[..., 0]
    eps = np.einsum("bjk,bk->bj", lam**2, beta**2)
    return eps[0] if single else eps


def _cluster_moments(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cluster counts, sums and cross-product sums of the columns of ``values``."""
    codes, _ = pd.factorize(clusters, sort=False)
    g = codes.max() + 1
    counts = np.bincount(codes, minlength=g).astype(float)
    sums = np.zeros((g, values.shape[1]))
    np.add.at(sums, codes, values)
    outer = (values[:, :, None] * values[:, None, :]).reshape(len(values), -1)
    cross = np.zeros((g, outer.shape[1]))
    np.add.at(cross, codes, outer)
    return counts, sums, cross


def _corr_from_moments(n: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Batched correlation matrices from totals (n: (B,), s: (B, p), q: (B, p*p))."""
    p = s.shape[1]
    q = q.reshape(-1, p, p)
    cov = (q - s[:, :, None] * s[:, None, :] / n[:, None, None]) / (n[:, None, None] - 1)
    sd = np.sqrt(np.clip(np.einsum("bii->bi", cov), 1e-300, None))
    return cov / (sd[:, :, None] * sd[:, None, :])


def _ranks(importance: np.ndarray) -> np.ndarray:
    """Rank 1 = most important, row by row."""
    order = np.argsort(-importance, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, importance.shape[-1] + 1)[None, :].repeat(len(order), 0), axis=-1)
    return ranks


class DriverImportance(FittedModel):
    """Relative importance of satisfaction drivers with cluster-bootstrap intervals.

    Parameters
    ----------
    method : {"shapley", "relative_weights"}
        Importance measure reported in ``importance_`` and ``summary``
        (``"lmg"`` and ``"johnson"`` are accepted aliases). Both measures are
        always computed and kept in ``shapley_`` and ``relative_weights_``.
    alpha : float
        1 - confidence level of all intervals.
    scales : mapping of str to RatingScale, optional
        Scale of the target and of each driver rating, as the data set declares them
        (``CustomerData.ratings``). They label the coefficients ("csat points (1-5) per driver
        point (1-10)") and, when the drivers' scales differ, make :meth:`quadrant_table` compare
        normalised (0-1) mean ratings. Columns without a scale are labelled without one.

    Attributes (after :meth:`fit`)
    ------------------------------
    importance_ : Series
        Importance of each driver in R^2 units (sums to ``r2_``).
    shares_ : Series
        Importance as a share of R^2 (sums to 1).
    r2_ : float
        R^2 of the regression of the target on all drivers.
    r2_ci_ : tuple of float
        Bootstrap percentile interval of ``r2_``.
    shapley_, relative_weights_ : Series
        Both measures, whatever ``method`` is.
    params_ : Series
        Raw OLS coefficients (target points per driver point), intercept first.
    standard_errors_ : Series
        Cluster-robust (by respondent) standard errors of ``params_`` (HC1 without ``cluster``).
    cov_params_ : DataFrame
        Their covariance.
    confidence_intervals_ : DataFrame
        Cluster-robust CIs of ``params_`` (``ci_lower``, ``ci_upper``).
    std_coef_ : Series
        Standardized OLS coefficients.
    condition_number_ : float
        Condition number of the drivers' correlation matrix (large: near collinear).
    boot_importance_ : DataFrame
        The bootstrap draws of the importance (rows = draws).
    rank_probabilities_ : DataFrame
        Probability (share of bootstrap draws) that each driver (rows) holds
        each rank (columns, 1 = most important).
    ols_ : statsmodels RegressionResults
        The OLS fit with cluster-robust covariance.
    scales_ : dict of str to RatingScale
        The scales of the target and drivers that were given (others are unknown).
    units_ : Series
        Unit of each driver's coefficient, e.g. ``"csat points (1-5) per driver point (1-10)"``.
    diagnostics_ : list of Diagnostic
        ``"dropped_rows"`` (rows without a complete set of ratings, counted),
        ``"collinear"`` (condition number of the driver correlations above
        :data:`COLLINEAR_CONDITION`), ``"imprecise"`` (a coefficient's standard error more than
        :data:`IMPRECISE_SE_RATIO` times its size), ``"one_wave"`` (every respondent answered
        once: a single survey wave), ``"no_bootstrap"`` (``n_boot=0``).
    summary : DataFrame
        One row per driver (index ``driver``): ``coef, se, ci_lower, ci_upper, p_value``
        (OLS, cluster-robust), then ``importance, importance_ci_lower,
        importance_ci_upper, share, share_ci_lower, share_ci_upper`` (bootstrap percentile
        intervals), ``rank, p_rank, std_coef, mean_rating, sd_rating``,
        ``mean_normalised`` (the mean rating on 0-1, NaN without a scale) and ``unit`` (of ``coef``).
    """

    def __init__(
        self,
        method: str = "shapley",
        alpha: float = 0.05,
        *,
        scales: Mapping[str, RatingScale] | None = None,
    ) -> None:
        if method not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}, not {method!r}")
        super().__init__(alpha=alpha)
        self.method = _METHODS[method]
        scales = dict(scales or {})
        for name, scale in scales.items():
            if not isinstance(scale, RatingScale):
                raise TypeError(
                    f"scales[{name!r}] must be a bsc_toolkit.contracts.RatingScale, not {type(scale).__name__}"
                )
        self.scales = scales

    def fit(
        self,
        df: pd.DataFrame,
        target: str = "csat",
        drivers: Sequence[str] = DRIVERS,
        cluster: str | None = "customer_id",
        n_boot: int = 500,
        seed: int | None = 0,
    ) -> DriverImportance:
        """Fit the regression, the importance decomposition and the bootstrap.

        Parameters
        ----------
        df : DataFrame
            One row per survey answer (the surveys table, or the customer-period
            panel: rows with a missing target or driver are dropped and counted in
            ``diagnostics_``).
        target : str
            Overall satisfaction column.
        drivers : sequence of str
            Driver rating columns.
        cluster : str or None
            Column identifying the respondent; surveys of one respondent are
            resampled together and the OLS standard errors are cluster-robust.
            ``None`` treats rows as independent.
        n_boot : int
            Number of bootstrap draws (0 skips the bootstrap; intervals are NaN).
        seed : int or None
            Seed of the bootstrap.

        Returns
        -------
        DriverImportance
            ``self``, fitted.
        """
        self._start_fit()
        drivers = list(drivers)
        if len(drivers) < 2:
            raise ValueError("need at least two drivers")
        if target in drivers:
            raise ValueError(f"target {target!r} is also listed as a driver")
        cols = [*drivers, target] + ([cluster] if cluster else [])
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"data lacks column(s) {missing}; it has {list(df.columns)}")
        data = df[cols].dropna()
        if len(data) < len(drivers) + 10:
            raise NotEstimableError(
                f"only {len(data)} complete rows of {[*drivers, target]}; need at least {len(drivers) + 10}"
            )
        values = data[[*drivers, target]].to_numpy(dtype=float)
        for name, sd in zip([*drivers, target], values.std(axis=0)):
            if not sd > 0:
                raise NotEstimableError(f"column {name!r} has no variation")

        clusters = data[cluster].to_numpy() if cluster else np.arange(len(data))
        center = values.mean(axis=0)
        counts, sums, cross = _cluster_moments(values - center, clusters)
        corr = _corr_from_moments(counts.sum()[None], sums.sum(0)[None], cross.sum(0)[None])[0]
        if np.linalg.matrix_rank(corr[:-1, :-1]) < len(drivers):
            raise NotEstimableError(f"drivers {drivers} are perfectly collinear")

        k = len(drivers)
        self.target_, self.drivers_ = target, drivers
        self.n_obs_, self.n_clusters_, self.cluster_ = len(data), len(counts), cluster
        self.shapley_ = pd.Series(lmg_importance(corr), index=drivers, name="shapley")
        self.relative_weights_ = pd.Series(relative_weights(corr), index=drivers, name="relative_weight")
        std_coef = np.linalg.solve(corr[:k, :k], corr[:k, k])
        self.r2_ = float(corr[:k, k] @ std_coef)
        self.std_coef_ = pd.Series(std_coef, index=drivers, name="std_coef")
        self.condition_number_ = float(np.linalg.cond(corr[:k, :k]))
        self.importance_ = self.shapley_ if self.method == "shapley" else self.relative_weights_
        self.shares_ = (self.importance_ / self.r2_).rename("share")

        formula = f"{target} ~ " + " + ".join(drivers)
        model = smf.ols(formula, data=data)
        if cluster:
            self.ols_ = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(data[cluster])[0]})
        else:
            self.ols_ = model.fit(cov_type="HC1")
        params = self.ols_.params
        ci = self.ols_.conf_int(alpha=self.alpha)
        ci.columns = ["ci_lower", "ci_upper"]
        self.confidence_intervals_ = ci
        self.standard_errors_ = self.ols_.bse.rename("se")
        self.cov_params_ = self.ols_.cov_params()
        self.p_values_ = self.ols_.pvalues.rename("p_value")

        measure = lmg_importance if self.method == "shapley" else relative_weights
        boots = np.empty((0, k))
        if n_boot > 0:
            rng = np.random.default_rng(seed)
            g = len(counts)
            chunks = []
            chunk = max(1, int(2e7 // max(g, 1)))
            done = 0
            while done < n_boot:
                b = min(chunk, n_boot - done)
                w = np.stack([np.bincount(rng.integers(0, g, g), minlength=g) for _ in range(b)]).astype(float)
                chunks.append(measure(_corr_from_moments(w @ counts, w @ sums, w @ cross)))
                done += b
            boots = np.vstack(chunks)
        # both measures decompose R^2: a draw's importances sum to its R^2
        boot_r2 = boots.sum(axis=1)
        self.boot_importance_ = pd.DataFrame(boots, columns=drivers)
        self.boot_r2_ = boot_r2
        lo, hi = 100 * self.alpha / 2, 100 * (1 - self.alpha / 2)

        def pct(a: np.ndarray, q: float) -> np.ndarray:
            return np.percentile(a, q, axis=0) if len(a) else np.full(a.shape[1:] or (), np.nan)

        shares = boots / boot_r2[:, None] if len(boots) else boots
        self.r2_ci_ = (float(pct(boot_r2, lo)), float(pct(boot_r2, hi)))
        ranks = _ranks(boots) if len(boots) else np.empty((0, k), dtype=int)
        probs = np.array(
            [[np.mean(ranks[:, j] == r) if len(ranks) else np.nan for r in range(1, k + 1)] for j in range(k)]
        )
        self.rank_probabilities_ = pd.DataFrame(probs, index=pd.Index(drivers, name="driver"), columns=range(1, k + 1))
        self.rank_probabilities_.columns.name = "rank"

        sd = values.std(axis=0, ddof=1)
        rank = _ranks(self.importance_.to_numpy()[None])[0]
        self.scales_ = {c: self.scales[c] for c in [*drivers, target] if c in self.scales}
        self.units_ = pd.Series([self._unit(d) for d in drivers], index=drivers, name="unit")
        normalised = [
            float(self.scales_[d].normalise(m)) if d in self.scales_ else np.nan for d, m in zip(drivers, center[:k])
        ]
        self._table = pd.DataFrame(
            {
                "coef": params[drivers].to_numpy(),
                "se": self.standard_errors_[drivers].to_numpy(),
                "ci_lower": ci.loc[drivers, "ci_lower"].to_numpy(),
                "ci_upper": ci.loc[drivers, "ci_upper"].to_numpy(),
                "p_value": self.p_values_[drivers].to_numpy(),
                "importance": self.importance_.to_numpy(),
                "importance_ci_lower": pct(boots, lo),
                "importance_ci_upper": pct(boots, hi),
                "share": self.shares_.to_numpy(),
                "share_ci_lower": pct(shares, lo),
                "share_ci_upper": pct(shares, hi),
                "rank": rank,
                "p_rank": probs[np.arange(k), rank - 1],
                "std_coef": std_coef,
                "mean_rating": center[:k],
                "sd_rating": sd[:k],
                "mean_normalised": normalised,
                "unit": self.units_.to_numpy(),
            },
            index=pd.Index(drivers, name="driver"),
        )
        self._diagnose_fit(len(df), len(data), cols, n_boot)
        self.params_ = params
        return self

    def _diagnose_fit(self, n_rows: int, n_used: int, cols: list[str], n_boot: int) -> None:
        """What the data shows that a reader of the importances must know (see ``diagnostics_``)."""
        dropped = n_rows - n_used
        if dropped:
            self._diagnose(
                "dropped_rows",
                f"{dropped:,} of {n_rows:,} rows lack a complete set of {', '.join(cols)} and were left out "
                f"of the driver analysis ({n_used:,} rows used).",
                "info",
            )
        if self.condition_number_ > COLLINEAR_CONDITION:
            self._diagnose(
                "collinear",
                f"The driver ratings are nearly collinear (condition number of their correlation matrix "
                f"{self.condition_number_:.0f}, above {COLLINEAR_CONDITION:.0f}): the individual OLS coefficients "
                "are imprecise and can even change sign; the importance shares split the shared part by "
                "convention and are the safer reading.",
            )
        table = self._table
        ratio = table["se"] / table["coef"].abs()
        for name in table.index[(ratio > IMPRECISE_SE_RATIO).to_numpy()]:
            self._diagnose(
                "imprecise",
                f"The coefficient of {name} ({table.loc[name, 'coef']:.3g} {self.units_[name]}) has a standard "
                f"error {ratio[name]:.0f} times its size: these data do not determine it (no evidence of a link "
                f"between {name} and {self.target_}).",
            )
        if self.cluster_ is not None and self.n_clusters_ == self.n_obs_:
            self._diagnose(
                "one_wave",
                f"Every respondent answered once ({self.n_obs_:,} answers: a single survey wave, e.g. a snapshot): "
                "the importances describe differences between customers at one time, not changes over time.",
                "info",
            )
        if n_boot <= 0:
            self._diagnose(
                "no_bootstrap",
                "No bootstrap draws (n_boot=0): the importances, shares and R^2 have no intervals.",
                "info",
            )

    def _summary(self) -> pd.DataFrame:
        return self._table.copy()

    def _label(self, column: str) -> str:
        scale = self.scales.get(column)
        return f"{column} points ({scale.label})" if scale is not None else f"{column} points"

    def _unit(self, driver: str) -> str:
        scale = self.scales.get(driver)
        per = f"per driver point ({scale.label})" if scale is not None else "per driver point"
        return f"{self._label(self.target_)} {per}"

    @property
    def scales_differ_(self) -> bool:
        """True when the drivers are rated on different scales (compare them normalised to 0-1)."""
        self._check_fitted()
        known = {(s.low, s.high) for d, s in self.scales_.items() if d in self.drivers_}
        return len(known) > 1

    def summary_text(self) -> str:
        """Readable summary for notebooks and logs."""
        self._check_fitted()
        level = int(round(100 * (1 - self.alpha)))
        name = "Shapley/LMG" if self.method == "shapley" else "Johnson's relative weights"
        lines = [
            f"Driver importance for {self.target_!r} ({name}); {self.n_obs_} answers from "
            f"{self.n_clusters_} respondents",
            f"R^2 = {self.r2_:.3f} ({level}% CI {self.r2_ci_[0]:.3f} to {self.r2_ci_[1]:.3f})",
            "",
        ]
        cols = ["share", "share_ci_lower", "share_ci_upper", "rank", "p_rank", "coef", "ci_lower", "ci_upper"]
        lines.append(self.summary[cols].round(3).to_string())
        units = self.units_.unique()
        if len(units) == 1:
            lines.append(f"coef: {units[0]}")
        else:
            lines += ["coef units:", *(f"  {d}: {u}" for d, u in self.units_.items())]
        return "\n".join(lines)

    def quadrant_table(self, performance: str | None = None, **kwargs: float) -> pd.DataFrame:
        """Importance-performance (action priority) table; see :func:`importance_performance_table`.

        Parameters
        ----------
        performance : str, optional
            Summary column of performance. Default: ``"mean_rating"`` (on the drivers' common
            scale), or ``"mean_normalised"`` (0-1) when the drivers' scales differ.
        **kwargs
            Cut points, passed on.

        Returns
        -------
        DataFrame
            As :func:`importance_performance_table`; ``attrs`` also hold ``performance_label``
            (axis label naming the scale) and ``target``.

        Raises
        ------
        ValueError
            If the drivers' scales differ and some driver has no declared scale (its rating
            cannot be put on the common 0-1 range).
        """
        self._check_fitted()
        summary = self.summary
        if performance is None:
            performance = "mean_normalised" if self.scales_differ_ else "mean_rating"
        if performance == "mean_normalised":
            unknown = [d for d in self.drivers_ if d not in self.scales_]
            if unknown:
                raise ValueError(
                    f"the drivers are rated on different scales but {unknown} have no declared scale: "
                    "declare every driver's scale to compare their ratings"
                )
        table = importance_performance_table(summary, performance=performance, **kwargs)
        if performance == "mean_normalised":
            label = "performance: mean rating normalised to 0-1 (the drivers' scales differ)"
        elif performance == "mean_rating":
            labels = {self.scales_[d].label for d in self.drivers_ if d in self.scales_}
            known = len(labels) == 1 and all(d in self.scales_ for d in self.drivers_)
            label = f"performance: mean rating ({labels.pop()})" if known else "performance: mean rating"
        else:
            label = f"performance: {performance}"
        table.attrs.update(performance_label=label, target=self.target_)
        return table


_QUADRANTS = {
    (True, False): "concentrate here",
    (True, True): "keep up the good work",
    (False, False): "low priority",
    (False, True): "possible overkill",
}


def importance_performance_table(
    summary: pd.DataFrame,
    importance: str = "share",
    performance: str = "mean_rating",
    importance_cut: float | None = None,
    performance_cut: float | None = None,
) -> pd.DataFrame:
    """Importance-performance analysis (Martilla & James 1977) of drivers.

    Parameters
    ----------
    summary : DataFrame
        One row per driver with an importance and a performance column (e.g.
        ``DriverImportance.summary``).
    importance, performance : str
        Column names of derived importance and of stated performance (mean
        rating).
    importance_cut, performance_cut : float, optional
        Cross-hair of the quadrants; default the mean over drivers.

    Returns
    -------
    DataFrame
        ``importance, performance, quadrant, priority`` per driver, sorted by
        priority (1 = act first: high importance and low performance first).
    """
    for col in (importance, performance):
        if col not in summary.columns:
            raise ValueError(f"summary lacks column {col!r}; it has {list(summary.columns)}")
    imp = summary[importance].astype(float)
    perf = summary[performance].astype(float)
    i_cut = float(imp.mean()) if importance_cut is None else float(importance_cut)
    p_cut = float(perf.mean()) if performance_cut is None else float(performance_cut)
    high_i = imp >= i_cut
    high_p = perf >= p_cut
    quadrant = [_QUADRANTS[(bool(a), bool(b))] for a, b in zip(high_i, high_p)]
    order = {"concentrate here": 0, "keep up the good work": 1, "possible overkill": 2, "low priority": 3}
    out = pd.DataFrame({"importance": imp, "performance": perf, "quadrant": quadrant}, index=summary.index)
    # within a quadrant, a bigger importance-performance gap comes first
    gap = (imp - i_cut) / (imp.std(ddof=0) or 1.0) - (perf - p_cut) / (perf.std(ddof=0) or 1.0)
    out["_q"] = out["quadrant"].map(order)
    out["_gap"] = -gap
    out = out.sort_values(["_q", "_gap"]).drop(columns=["_q", "_gap"])
    out["priority"] = np.arange(1, len(out) + 1)
    out.attrs.update(importance_cut=i_cut, performance_cut=p_cut)
    return out
