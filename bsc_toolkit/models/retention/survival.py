"""Survival views of satisfaction and churn: start/stop episodes, Kaplan-Meier by band, Cox model.

* :func:`survival_episodes` -- counting-process episodes, one per customer-period;
* :func:`kaplan_meier_by_band` -- Kaplan-Meier curves by the band of the first surveyed csat,
  with a log-rank test;
* :class:`CoxChurnModel` -- Cox proportional hazards with time-varying csat (lifelines'
  ``CoxTimeVaryingFitter``), cross-checked with statsmodels' ``PHReg`` (:meth:`CoxChurnModel.agreement`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.models._base import FittedModel, NotEstimableError, check_alpha
from bsc_toolkit.models.features import Bands, add_csat_spline, csat_band, csat_bands, csat_spline
from bsc_toolkit.models.retention._common import (
    CsatTerms,
    check_on_scale,
    check_scale,
    csat_term,
    require,
    store_estimates,
)

__all__ = ["survival_episodes", "KaplanMeierByBand", "kaplan_meier_by_band", "CoxChurnModel"]

DAYS_PER_YEAR = 365.25


# --------------------------------------------------------------------------- episodes
def survival_episodes(
    panel: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    time_scale: str = "calendar",
    surveyed_only: bool = True,
    knot: float | None = None,
    *,
    scale: RatingScale | None = None,
    bands: Bands | None = None,
) -> pd.DataFrame:
    """Start/stop (counting-process) episodes, one per customer-period.

    Each episode is the customer's activity window in the period as the panel carries it
    (``active_from``: period start, or acquisition if later; ``active_to``: the period end, or the
    churn date in the churn period, where ``event = 1``).

    Parameters
    ----------
    panel : pandas.DataFrame
        Output of :func:`bsc_toolkit.panel.customer_periods`.
    customers : pandas.DataFrame, optional
        Not needed any more (the panel carries the activity window); accepted for compatibility.
    time_scale : {"calendar", "tenure"}
        ``"calendar"``: years since the first period's start; customers
        acquired during the window enter late, tenure is a covariate
        (``tenure_years`` at the period start) and calendar-time shocks are
        absorbed by the baseline hazard. ``"tenure"``: years since acquisition;
        customers acquired before the window enter late (left truncation) and
        the tenure effect is absorbed by the baseline hazard.
    surveyed_only : bool
        Keep only episodes with a survey (csat known; without a ``csat`` column, ``surveyed``);
        dropping whole episodes keeps the partial likelihood valid if response is random.
    knot : float, optional
        Knot for the ``csat_below``/``csat_above`` columns (default ``scale.default_knot()``).
    scale : RatingScale, optional
        Scale of csat (default 1-10): the default knot and bands.
    bands : tuple of (upper edge, label), optional
        csat bands of the ``csat_band`` column (default ``csat_bands(scale)``).

    Returns
    -------
    pandas.DataFrame
        Panel columns plus ``start``, ``stop`` (years), ``event`` (0/1),
        ``csat_below``, ``csat_above``, ``csat_band`` (if the panel has
        ``csat``). Episodes of zero length (churn on the window's first day,
        dates are whole days) are given half a day.
    """
    if customers is not None:
        warnings.warn(
            "survival_episodes(panel, customers): the customers table is no longer needed (the panel carries "
            "the activity window) and the argument will be removed in 0.3.0",
            FutureWarning,
            stacklevel=2,
        )
    if time_scale not in ("calendar", "tenure"):
        raise ValueError(f"time_scale must be 'calendar' or 'tenure', not {time_scale!r}")
    require(panel, ["customer_id", "period", "churned", "tenure_years", "active_from", "active_to"])
    has_csat = "csat" in panel.columns
    if surveyed_only and not has_csat:
        require(panel, ["surveyed"])
    df = panel.copy()
    w0 = pd.DatetimeIndex(df["active_from"])
    w1 = pd.DatetimeIndex(df["active_to"])
    year = pd.Timedelta(DAYS_PER_YEAR, "D")
    length = ((w1 - w0) / year).to_numpy()
    if time_scale == "tenure":
        df["start"] = df["tenure_years"].to_numpy(dtype=float)
    else:
        df["start"] = ((w0 - pd.PeriodIndex(df["period"]).start_time.min()) / year).to_numpy()
    df["stop"] = np.maximum(df["start"] + length, df["start"] + 0.5 / DAYS_PER_YEAR)
    df["event"] = df["churned"].astype(bool).astype(int)
    if surveyed_only:
        df = df[df["csat"].notna()] if has_csat else df[df["surveyed"].to_numpy(dtype=bool)]
    if not has_csat:  # a panel without csat (driver ratings only): no spline or band columns
        return df.reset_index(drop=True)
    return add_csat_spline(df, knot, scale=check_scale(scale), bands=bands).reset_index(drop=True)


# --------------------------------------------------------------------------- Kaplan-Meier
@dataclass(frozen=True)
class KaplanMeierByBand:
    """Kaplan-Meier survival by csat band.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy survival table: ``band, time`` (in ``time_unit``),
        ``survival, ci_lower, ci_upper, at_risk`` (pointwise intervals at level ``1 - alpha``).
    logrank : pandas.Series
        Multivariate log-rank test across bands: ``test_statistic, df, p_value``.
    counts : pandas.DataFrame
        Customers and churn events per band.
    alpha : float
        1 - confidence level of the intervals.
    time_unit : str
        What ``time`` measures: ``"years since the first survey"`` (:func:`kaplan_meier_by_band`)
        or the duration column of :func:`~bsc_toolkit.models.retention.kaplan_meier_snapshot`.
    notes : tuple of str
        What an analyst must know beside the curves, in words (rows left out, a single band...).
    """

    table: pd.DataFrame
    logrank: pd.Series
    counts: pd.DataFrame
    alpha: float = 0.05
    time_unit: str = "years since the first survey"
    notes: tuple[str, ...] = ()


def kaplan_meier_by_band(
    panel: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    bands: Bands | None = None,
    alpha: float = 0.05,
    *,
    scale: RatingScale | None = None,
) -> KaplanMeierByBand:
    """Kaplan-Meier curves of customers grouped by their first surveyed csat.

    Time runs from the start of the customer's window in the period of the
    first survey (the band is fixed at that point, so no future information
    enters) to churn or the end of the panel (censored).

    Parameters
    ----------
    panel : pandas.DataFrame
        Output of :func:`bsc_toolkit.panel.customer_periods`.
    customers : pandas.DataFrame, optional
        Not needed (the panel carries the activity window); accepted for compatibility.
    bands : tuple of (upper edge, label), optional
        csat bands (default ``csat_bands(scale)``: :data:`CSAT_BANDS` on 1-10).
    alpha : float
        1 - confidence level of the pointwise survival intervals.
    scale : RatingScale, optional
        Scale of csat (default 1-10); csat outside it is an error.

    Returns
    -------
    KaplanMeierByBand
    """
    alpha = check_alpha(alpha)
    scale = check_scale(scale)
    bands = csat_bands(scale) if bands is None else tuple(bands)
    require(panel, ["csat"])
    if panel["csat"].notna().any():
        check_on_scale(panel["csat"].to_numpy(dtype=float), scale, scale.default_knot(), False)
    eps = survival_episodes(panel, time_scale="calendar", surveyed_only=False, scale=scale, bands=bands)
    eps = eps.sort_values(["customer_id", "start"])
    first_survey = eps[eps["csat"].notna()].groupby("customer_id", sort=False).first()
    if first_survey.empty:
        raise NotEstimableError("panel column 'csat' is empty: no surveyed customer-periods")
    last = eps.groupby("customer_id", sort=False).agg(end=("stop", "max"), event=("event", "max"))
    cust = first_survey[["start", "csat"]].join(last, how="inner")
    cust["duration"] = (cust["end"] - cust["start"]).round(8)
    cust["band"] = csat_band(cust["csat"], bands)
    cust = cust.dropna(subset=["band"])
    labels = [label for _, label in bands]
    return km_by_group(cust, labels, alpha)


def km_by_group(
    cust: pd.DataFrame, labels: list[str], alpha: float, time_unit: str | None = None, notes: tuple[str, ...] = ()
) -> KaplanMeierByBand:
    """Kaplan-Meier curve per group and the log-rank test across groups.

    ``cust`` has one row per customer with ``duration``, ``event`` (0/1) and ``band`` (the group,
    one of ``labels``; groups without rows get no curve).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    pieces = []
    for label in labels:
        sub = cust[cust["band"] == label]
        if sub.empty:
            continue
        km = KaplanMeierFitter(alpha=alpha).fit(sub["duration"], sub["event"], label=label)
        ci = km.confidence_interval_survival_function_
        piece = pd.DataFrame(
            {
                "band": label,
                "time": km.survival_function_.index.to_numpy(),
                "survival": km.survival_function_.iloc[:, 0].to_numpy(),
                "ci_lower": ci.iloc[:, 0].to_numpy(),
                "ci_upper": ci.iloc[:, 1].to_numpy(),
                "at_risk": km.event_table["at_risk"].reindex(km.survival_function_.index).to_numpy(),
            }
        )
        pieces.append(piece)
    table = pd.concat(pieces, ignore_index=True)
    table["band"] = pd.Categorical(table["band"], categories=labels, ordered=True)
    present = cust["band"].astype(str)
    if present.nunique() >= 2:
        lr = multivariate_logrank_test(cust["duration"], present, cust["event"])
        logrank = pd.Series({"test_statistic": lr.test_statistic, "df": lr.degrees_of_freedom, "p_value": lr.p_value})
    else:
        logrank = pd.Series({"test_statistic": np.nan, "df": 0, "p_value": np.nan})
        notes = (
            *notes,
            "Only one band has customers"
            + (f" ('{present.iloc[0]}')" if len(present) else "")
            + ": there is nothing to compare, so no log-rank test. Is the declared rating scale the data's?",
        )
    counts = (
        cust.groupby("band", observed=False).agg(customers=("event", "size"), churned=("event", "sum")).reset_index()
    )
    extra = {} if time_unit is None else {"time_unit": time_unit}
    return KaplanMeierByBand(table=table, logrank=logrank, counts=counts, alpha=alpha, notes=tuple(notes), **extra)


# --------------------------------------------------------------------------- Cox
class CoxChurnModel(CsatTerms, FittedModel):
    """Cox proportional hazards with time-varying csat (start/stop episodes).

    Fitted with lifelines' ``CoxTimeVaryingFitter``; :meth:`agreement` refits with statsmodels'
    ``PHReg`` (``entry`` = episode start, Efron ties), the same counting-process partial
    likelihood, and tabulates both.

    Parameters
    ----------
    terms : {"spline", "linear", "bands", "drivers"}
        How satisfaction enters (see :class:`~bsc_toolkit.models.retention.DiscreteTimeHazardModel`).
    knot : float, optional
        Knot of the csat spline (default ``scale.default_knot()``: 7 on 1-10, 4 on 1-5). The
        ``csat_below``, ``csat_above`` and ``csat_band`` columns are recomputed from the episodes'
        ``csat`` with this knot and the model's bands, whatever :func:`survival_episodes` was given.
    controls : sequence of str
        Formula terms; the default suits ``time_scale="calendar"`` (with ``"tenure"`` drop
        ``tenure_years``: it is the time axis).
    formula : str, optional
        Right-hand-side formula overriding ``terms`` and ``controls``.
    penalizer : float
        lifelines ridge penalty (0 = plain partial likelihood).
    alpha : float
        1 - confidence level of the intervals.
    scale : RatingScale, optional
        Scale of csat (default 1-10): default knot, bands and the unit of the coefficients.
    drivers : sequence of str, optional
        Driver rating columns of ``terms="drivers"`` (default :data:`bsc_toolkit.contracts.DRIVERS`).
    bands : tuple of (upper edge, label), optional
        csat bands of ``terms="bands"`` (default ``csat_bands(scale)``); the reference is the band
        holding the knot, or the most populated band if that one has no episodes.

    Attributes
    ----------
    fitter_ : lifelines.CoxTimeVaryingFitter
    params_, standard_errors_, p_values_ : pandas.Series
    cov_params_ : pandas.DataFrame
    confidence_intervals_ : pandas.DataFrame
        ``ci_lower, ci_upper`` per term.
    summary : pandas.DataFrame
        ``coef, se, ci_lower, ci_upper, p_value`` (log hazard ratios), ``exp_coef`` (hazard ratio)
        with ``exp_coef_ci_lower``, ``exp_coef_ci_upper``, and ``z``.
    reference_band_ : str or None
        Reference band actually used by ``terms="bands"``.
    diagnostics_ : list of Diagnostic
        ``not_converged``, ``separation``, ``few_events``, ``empty_reference``.
    n_obs_, n_events_, n_customers_ : int
    """

    def __init__(
        self,
        terms: str = "spline",
        knot: float | None = None,
        controls: tuple[str, ...] = ("C(segment)", "tenure_years"),
        formula: str | None = None,
        penalizer: float = 0.0,
        alpha: float = 0.05,
        *,
        scale: RatingScale | None = None,
        drivers: Sequence[str] | None = None,
        bands: Bands | None = None,
    ) -> None:
        super().__init__(alpha=alpha)
        self._set_terms(terms, knot, scale, drivers, bands)
        self.controls = tuple(controls)
        self.formula = formula
        self.penalizer = float(penalizer)

    def _features(self, episodes: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        """Episodes with the spline and band columns of this model's knot and bands, and the reference band."""
        reference = self.reference_band
        if "csat" not in episodes.columns or self.terms == "drivers":
            return episodes, reference
        csat = episodes["csat"].to_numpy(dtype=float)
        if np.isfinite(csat).any():
            check_on_scale(csat, self.scale, self.knot, self.terms == "spline" and self.formula is None)
        below, above = csat_spline(csat, self.knot)
        band, reference = self._bands_and_reference(csat_band(csat, self.bands), "episodes")
        return episodes.assign(csat_below=below, csat_above=above, csat_band=band), reference

    def _design(self, episodes: pd.DataFrame, reference: str) -> pd.DataFrame:
        rhs = self.formula or " + ".join([csat_term(self.terms, reference, self.drivers), *self.controls])
        x = patsy.dmatrix(rhs, episodes, return_type="dataframe", NA_action="raise")
        x = x.drop(columns=["Intercept"], errors="ignore")
        x.columns = [c.replace("C(segment)[T.", "segment[").replace(", ", "_") for c in x.columns]
        return x

    def fit(self, episodes: pd.DataFrame) -> CoxChurnModel:
        """Fit on :func:`survival_episodes` output.

        Returns
        -------
        CoxChurnModel
            ``self``.
        """
        from lifelines import CoxTimeVaryingFitter

        self._start_fit()
        require(episodes, ["customer_id", "start", "stop", "event"], "episodes")
        if len(episodes) < 20:
            raise NotEstimableError(f"too few episodes to fit ({len(episodes)}); need at least 20")
        if episodes["event"].sum() == 0:
            raise NotEstimableError("column 'event' has no churn events: nobody churned in a surveyed period")
        episodes, reference = self._features(episodes)
        self.reference_band_ = reference if self.terms == "bands" and self.formula is None else None
        x = self._design(episodes, reference)
        df = pd.concat(
            [episodes[["customer_id", "start", "stop", "event"]].reset_index(drop=True), x.reset_index(drop=True)],
            axis=1,
        )
        ctv = CoxTimeVaryingFitter(penalizer=self.penalizer, alpha=self.alpha)
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            ctv.fit(
                df, id_col="customer_id", event_col="event", start_col="start", stop_col="stop", show_progress=False
            )
        self.fitter_ = ctv
        self.design_columns_ = list(x.columns)
        self._data = df
        params = ctv.params_.rename(None)
        cov = pd.DataFrame(ctv.variance_matrix_.to_numpy(), index=params.index, columns=params.index)
        store_estimates(self, params, ctv.standard_errors_.rename(None), cov)
        self.n_obs_ = len(df)
        self.n_events_ = int(df["event"].sum())
        self.n_customers_ = int(df["customer_id"].nunique())
        self._diagnose_cox(caught)
        return self

    def _diagnose_cox(self, caught: list) -> None:
        texts = sorted(
            {
                str(w.message).strip().splitlines()[0]
                for w in caught
                if "converge" in str(w.message).lower() or issubclass(w.category, RuntimeWarning)
            }
        )
        if any("converge" in t.lower() for t in texts):
            self._diagnose(
                "not_converged", "The Cox partial-likelihood fit did not converge: " + "; ".join(texts)[:300]
            )
        elif texts:
            self._diagnose("numerical", "Numerical warnings during the Cox fit: " + "; ".join(texts)[:300], "info")
        flagged = [
            n
            for n in self.params_.index
            if abs(self.params_[n]) > 10 or not np.isfinite(self.standard_errors_[n]) or self.standard_errors_[n] > 100
        ]
        if flagged:
            self._diagnose(
                "separation",
                f"Term(s) {', '.join(flagged)} of the Cox model have |coef| > 10 or SE > 100: a category in "
                "which every or no customer churned (separation); those estimates are meaningless.",
                "error",
            )
        k = len(self.params_)
        if self.n_events_ < 10 * k:
            self._diagnose(
                "few_events",
                f"Only {self.n_events_:,} churn events for {k} parameters (fewer than "
                "10 per parameter): estimates may be biased and intervals too narrow.",
            )

    def summary_text(self) -> str:
        """Readable coefficient table, with the unit of the satisfaction coefficients."""
        self._check_fitted()
        return (
            f"Cox PH, time-varying covariates: {self.n_customers_} customers, {self.n_obs_} episodes, "
            f"{self.n_events_} churn events\nSatisfaction: {self._satisfaction_text()}\n"
            + self.summary.round(4).to_string()
        )

    def agreement(self) -> pd.DataFrame:
        """Refit with statsmodels ``PHReg`` (entry = start, Efron ties) and compare.

        Returns
        -------
        pandas.DataFrame
            Per term: ``lifelines_coef, statsmodels_coef, lifelines_se, statsmodels_se,
            abs_diff_coef`` and ``diff_in_se`` (coefficient difference in units of the lifelines SE).
        """
        self._check_fitted()
        from statsmodels.duration.hazard_regression import PHReg

        d = self._data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = PHReg(
                d["stop"].to_numpy(),
                d[self.design_columns_].to_numpy(dtype=float),
                status=d["event"].to_numpy(),
                entry=d["start"].to_numpy(),
                ties="efron",
            ).fit()
        out = pd.DataFrame(
            {
                "lifelines_coef": self.params_.to_numpy(),
                "statsmodels_coef": res.params,
                "lifelines_se": self.standard_errors_.to_numpy(),
                "statsmodels_se": res.bse,
            },
            index=pd.Index(self.design_columns_, name="term"),
        )
        out["abs_diff_coef"] = (out["lifelines_coef"] - out["statsmodels_coef"]).abs()
        out["diff_in_se"] = out["abs_diff_coef"] / out["lifelines_se"]
        return out
