"""Churn and satisfaction in snapshot data: one row per customer, a churn flag, tenure, one survey.

Some data sets have no dates: at a snapshot date each customer is flagged as churned or not, with
their tenure (``tenure_months``) and one satisfaction survey. No hazard over calendar periods can
be fitted from that; what can be done:

* :class:`ChurnFlagModel` -- a logistic regression of the churn flag on satisfaction (spline at a
  knot, linear, or bands, on the data's rating scale) and controls, with odds ratios, a test of
  diminishing returns (spline vs line), and Firth's penalty when the fit shows separation;
* :func:`kaplan_meier_snapshot` -- Kaplan-Meier curves over tenure, churn flag as the event and
  tenure at the snapshot as the censoring time of those who stayed, by csat band, with a log-rank
  test.

Both read satisfaction as measured at the snapshot: for customers who already left it may be an
exit survey, so the association can run from churn to satisfaction as much as the other way. The
estimates describe an association, not the effect of raising satisfaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import patsy

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.models._base import FittedModel, NotEstimableError, check_alpha
from bsc_toolkit.models.features import Bands, add_csat_spline, csat_band, csat_bands, csat_spline
from bsc_toolkit.models.retention._common import (
    CsatTerms,
    binomial_text,
    check_on_scale,
    check_penalty,
    check_scale,
    csat_term,
    fit_binomial_model,
    record_numerical_warnings,
    require,
    take,
)
from bsc_toolkit.models.retention._design import build_design, term_columns
from bsc_toolkit.models.retention.survival import KaplanMeierByBand, km_by_group

__all__ = ["ChurnFlagModel", "kaplan_meier_snapshot"]


def _snapshot_rows(
    customers: pd.DataFrame, surveys: pd.DataFrame | None, needed: Sequence[str]
) -> tuple[pd.DataFrame, int]:
    """One row per customer: the customers table with the survey's ratings joined on ``customer_id``.

    Returns the table and the number of customers with several surveys (their ratings are averaged).
    """
    if surveys is None:
        return customers, 0
    require(customers, ["customer_id"], "customers table")
    require(surveys, ["customer_id"], "surveys table")
    ratings = [c for c in needed if c in surveys.columns]
    missing = [c for c in needed if c not in surveys.columns and c not in customers.columns]
    if missing:
        raise ValueError(f"neither the customers nor the surveys table has column(s) {missing}")
    if not ratings:
        return customers, 0
    by_customer = surveys.groupby("customer_id", sort=False)[ratings]
    per_customer = by_customer.mean()
    several = int((surveys["customer_id"].value_counts() > 1).sum())
    base = customers.drop(columns=[c for c in ratings if c in customers.columns])
    try:
        joined = base.merge(per_customer, left_on="customer_id", right_index=True, how="left", validate="many_to_one")
    except ValueError as err:  # e.g. integer ids in one table and text in the other
        raise ValueError(f"cannot join the surveys to the customers on customer_id: {err}") from None
    return joined, several


def _churn_flag(values: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(flag as float 0/1, missing) of a churn-flag column; anything but 0/1/True/False is an error."""
    missing = values.isna().to_numpy()
    flag = np.zeros(len(values))
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        flag[~missing] = values[~missing].to_numpy(dtype=float)
    else:  # object: Python booleans, numbers or their text
        present = values[~missing].map(lambda v: int(v) if isinstance(v, bool | np.bool_) else v)
        flag[~missing] = pd.to_numeric(present, errors="coerce")
    bad = np.zeros(len(values), dtype=bool)
    bad[~missing] = ~np.isin(flag[~missing], (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"column {name!r} must be a churn flag (0/1 or True/False); it has e.g. {values[bad].head(3).tolist()}"
        )
    return flag, missing


class ChurnFlagModel(CsatTerms, FittedModel):
    """Logistic regression of a snapshot churn flag on satisfaction and controls.

    ``logit P(churned = 1) = b0 + f(csat) + controls``, one row per customer; ``exp_coef`` in the
    summary is the odds ratio. For data with churn dates use the
    :class:`~bsc_toolkit.models.retention.DiscreteTimeHazardModel` instead: a flag at one date mixes
    customers observed for different lengths of time (``tenure_months`` as a control absorbs part
    of that).

    Parameters
    ----------
    terms : {"spline", "linear", "bands", "drivers"}
        How satisfaction enters: linear spline of csat at ``knot`` (default), linear csat, csat
        bands (``bands``; reference = the band holding the knot, or the most populated band if that
        one is empty) or the driver ratings (``drivers``).
    knot : float, optional
        Knot of the spline (default ``scale.default_knot()``: 4 on 1-5, 7 on 1-10).
    controls : sequence of str, optional
        Formula terms after the satisfaction terms (e.g. ``("tenure_months", "C(segment)")``).
        Default: ``tenure_months`` if the data has it, else none.
    formula : str, optional
        Full formula ``"churned ~ ..."`` overriding ``terms`` and ``controls`` (columns ``csat_below``,
        ``csat_above`` and ``csat_band`` are available).
    nonlinearity_test : bool
        With ``terms="spline"``: also fit the straight line and test spline vs line.
    alpha : float
        1 - confidence level of the intervals.
    penalty : {"auto", "firth", None}
        As :class:`~bsc_toolkit.models.retention.DiscreteTimeHazardModel`: ``"auto"`` (default)
        refits with Firth's penalty (Jeffreys prior, finite bias-reduced estimates, Wald intervals)
        when the plain fit shows separation, and says so; ``"firth"`` always; ``None`` never.
    scale : RatingScale, optional
        Scale of csat (default 1-10): knot, bands and the unit of the coefficients.
    drivers : sequence of str, optional
        Driver rating columns of ``terms="drivers"`` (default :data:`bsc_toolkit.contracts.DRIVERS`).
    bands : tuple of (upper edge, label), optional
        Default ``csat_bands(scale)``: one band per point on scales of up to 7 points.

    Attributes
    ----------
    params_, standard_errors_, p_values_ : pandas.Series
        Log odds ratios, their standard errors and Wald p-values.
    cov_params_ : pandas.DataFrame
    confidence_intervals_ : pandas.DataFrame
    summary : pandas.DataFrame
        ``coef, se, ci_lower, ci_upper, p_value``, the odds ratio ``exp_coef`` with
        ``exp_coef_ci_lower``, ``exp_coef_ci_upper``, and ``z``.
    nonlinearity_test_ : pandas.DataFrame or None
        LR and Wald tests of equal slopes below and above the knot, one-sided test of
        diminishing returns (a penalised LR test when the fit is Firth-penalised).
    penalty_ : str or None
        ``"firth"`` when the estimates are Firth-penalised.
    controls_ : tuple of str
        Controls actually used.
    reference_band_ : str or None
    llf_ : float
        Log-likelihood (unpenalised); ``penalised_llf_`` for a Firth fit.
    formula_ : str
    n_obs_, n_events_ : int
        Customers used and churners among them.
    diagnostics_ : list of Diagnostic
        ``not_converged``, ``separation``, ``penalty``, ``few_events``, ``empty_reference``,
        ``dropped_rows``, ``several_surveys``, ``assumption``.
    """

    def __init__(
        self,
        terms: str = "spline",
        knot: float | None = None,
        controls: Sequence[str] | None = None,
        formula: str | None = None,
        nonlinearity_test: bool = True,
        alpha: float = 0.05,
        *,
        penalty: str | None = "auto",
        scale: RatingScale | None = None,
        drivers: Sequence[str] | None = None,
        bands: Bands | None = None,
    ) -> None:
        super().__init__(alpha=alpha)
        self._set_terms(terms, knot, scale, drivers, bands)
        self.controls = None if controls is None else tuple([controls] if isinstance(controls, str) else controls)
        self.formula = formula
        self.nonlinearity_test = bool(nonlinearity_test)
        self.penalty = check_penalty(penalty)

    def _rhs(self, reference: str, controls: tuple[str, ...]) -> str:
        if self.formula is not None:
            return self.formula.split("~", 1)[1].strip()
        return " + ".join([csat_term(self.terms, reference, self.drivers), *controls])

    # ------------------------------------------------------------------ fit
    def fit(self, customers: pd.DataFrame, surveys: pd.DataFrame | None = None) -> ChurnFlagModel:
        """Fit on snapshot data.

        Parameters
        ----------
        customers : pandas.DataFrame
            One row per customer with ``churned`` (0/1 or bool: churned by the snapshot date), the
            controls' columns and, without ``surveys``, the satisfaction column(s).
        surveys : pandas.DataFrame, optional
            ``customer_id`` and the ratings, joined to ``customers`` on ``customer_id``; a customer
            with several surveys gets their mean (and a diagnostic says so), one without a survey is
            left out.

        Returns
        -------
        ChurnFlagModel
            ``self``.
        """
        self._start_fit()
        record_numerical_warnings(self, "churn-flag", lambda: self._fit(customers, surveys))
        return self

    def _fit(self, customers: pd.DataFrame, surveys: pd.DataFrame | None) -> None:
        require(customers, ["churned"], "customers table")
        data, several = _snapshot_rows(customers, surveys, self._sat_columns())
        require(data, self._sat_columns(), "snapshot data")
        if self.controls is not None:
            controls = self.controls
        else:
            controls = ("tenure_months",) if "tenure_months" in data.columns and self.formula is None else ()
        simple = None if self.formula is not None else term_columns(list(controls))
        n_rows = len(data)
        flag, flag_missing = _churn_flag(data["churned"], "churned")
        sat = [c for c in dict.fromkeys(["csat", *self._sat_columns()]) if c in data.columns]
        if self.terms == "drivers":
            sat = list(self.drivers)
        missing = flag_missing.copy()
        for c in sat:
            missing |= data[c].isna().to_numpy()
        dropped = {"satisfaction": int((missing & ~flag_missing).sum())}
        if simple is None:
            cols = list(data.columns)
        else:
            extra = [c for c in simple if c not in ("csat_below", "csat_above", "csat_band")]
            require(data, extra, "snapshot data")
            cols = list(dict.fromkeys(["customer_id", *sat, *extra]))
            cols = [c for c in cols if c in data.columns and c != "churned"]
            before = missing.copy()
            for c in extra:
                missing |= data[c].isna().to_numpy()
            dropped["controls"] = int((missing & ~before).sum())
        keep = ~missing
        df = pd.DataFrame({c: take(data[c], keep) for c in cols if c != "churned"})
        df["churned"] = flag[keep]
        n_flag_missing = int(flag_missing.sum())
        if len(df) < 20:
            raise NotEstimableError(
                f"too few customers with a churn flag and satisfaction to fit ({len(df)}); need at least 20"
            )
        n_events = int(df["churned"].sum())
        if n_events in (0, len(df)):
            raise NotEstimableError("column 'churned' has no variation among the customers used")
        sat_col = "csat" if self.terms != "drivers" else self.drivers[0]
        if df[sat_col].nunique() < 2:
            raise NotEstimableError(f"column '{sat_col}' has no variation")
        reference = self.reference_band
        self.reference_band_ = None
        self.band_means_ = None
        if "csat" in df.columns and self.terms != "drivers":
            csat = df["csat"].to_numpy(dtype=float)
            check_on_scale(csat, self.scale, self.knot, self.terms == "spline" and self.formula is None)
            df["csat_below"], df["csat_above"] = csat_spline(csat, self.knot)
            df["csat_band"], reference = self._bands_and_reference(csat_band(csat, self.bands), "customers")
            if self.terms == "bands" and self.formula is None:
                self.reference_band_ = reference
            self.band_means_ = df.groupby("csat_band", observed=True)["csat"].mean()
        self.controls_ = tuple(controls)
        rhs = self._rhs(reference, self.controls_)
        self.formula_ = "churned ~ " + rhs
        x, names, self.design_info_, _ = build_design(df, rhs)
        y = df["churned"].to_numpy(dtype=np.float64)
        del df
        self.n_obs_ = len(y)
        self.n_events_ = n_events
        fit_binomial_model(
            self, x, y, names, "logit", dropped=dropped, n_rows=n_rows, model_name="churn-flag model", unit="customer"
        )
        if n_flag_missing:
            self._diagnose(
                "dropped_rows",
                f"{n_flag_missing:,} of {n_rows:,} customers were left out because their churn flag is missing.",
            )
        if several:
            self._diagnose(
                "several_surveys",
                f"{several:,} customers have more than one survey: the model uses the mean of their ratings.",
                "info",
            )
        self._diagnose(
            "assumption",
            "Satisfaction is measured at the snapshot, after some customers had already churned: the odds "
            "ratios describe an association (it may run from churn to satisfaction), not the effect of "
            "raising satisfaction.",
            "info",
        )

    # ------------------------------------------------------------------ outputs
    def summary_text(self) -> str:
        """Readable summary: odds-ratio table, nonlinearity tests and diagnostics."""
        self._check_fitted()
        return binomial_text(
            self,
            f"Churn flag at the snapshot, log odds ratios (logit): {self.formula_}\n"
            f"{self.n_obs_:,} customers, {self.n_events_:,} churned",
            "; exp_coef is the odds ratio",
        )

    def design_matrix(self, data: pd.DataFrame) -> pd.DataFrame:
        """Design matrix of the fitted formula for new rows (rows with a missing covariate left out).

        Returns
        -------
        pandas.DataFrame
            Indexed like the complete rows of ``data``, columns as ``params_``.
        """
        self._check_fitted()
        df = add_csat_spline(data, self.knot, bands=self.bands) if "csat" in data.columns else data.copy()
        if "csat_band" in df.columns and self.band_means_ is not None:
            levels = [str(v) for v in self.band_means_.index]
            df["csat_band"] = pd.Categorical(np.asarray(df["csat_band"], dtype=object), categories=levels)
        (x,) = patsy.build_design_matrices([self.design_info_], df, NA_action="drop", return_type="dataframe")
        return x

    def predict(self, data: pd.DataFrame) -> pd.Series:
        """Churn probability of each row of ``data`` (the covariates of the formula).

        Parameters
        ----------
        data : pandas.DataFrame
            ``csat`` (or the drivers) and the controls; ``csat`` may be non-integer.

        Returns
        -------
        pandas.Series
            ``churn_probability`` indexed like ``data``; NaN where a covariate is missing.
        """
        x = self.design_matrix(data)
        eta = x.to_numpy(dtype=float) @ self.params_.to_numpy()
        p = pd.Series(1.0 / (1.0 + np.exp(-eta)), index=x.index)
        return p.reindex(data.index).rename("churn_probability")


def kaplan_meier_snapshot(
    customers: pd.DataFrame,
    surveys: pd.DataFrame | None = None,
    *,
    scale: RatingScale | None = None,
    duration_col: str = "tenure_months",
    event_col: str = "churned",
    by: str = "band",
    bands: Bands | None = None,
    alpha: float = 0.05,
) -> KaplanMeierByBand:
    """Kaplan-Meier curves over tenure for snapshot data, by csat band, with a log-rank test.

    Each customer's tenure is the time to churn when flagged (``event_col``) and the censored time
    at the snapshot otherwise. The band is that of the satisfaction measured at the snapshot (for
    churners possibly after churning): the curves describe survival *of customers who answer
    like this*, not the effect of satisfaction (a note says so).

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with ``duration_col``, ``event_col`` and (without ``surveys``) ``csat``.
    surveys : pandas.DataFrame, optional
        ``customer_id`` and ``csat``, joined on ``customer_id`` (mean of several surveys).
    scale : RatingScale, optional
        Scale of csat (default 1-10): the bands (:func:`~bsc_toolkit.models.features.csat_bands`).
    duration_col, event_col : str
        Tenure (non-negative, in its own unit) and churn flag (0/1 or bool) columns.
    by : str
        ``"band"`` (csat bands) or the name of a column to group by instead (e.g. ``"segment"``).
    bands : tuple of (upper edge, label), optional
        Default ``csat_bands(scale)``.
    alpha : float
        1 - confidence level of the pointwise intervals.

    Returns
    -------
    KaplanMeierByBand
        As :func:`~bsc_toolkit.models.retention.kaplan_meier_by_band`; ``time`` is in the unit of
        ``duration_col`` (``time_unit``) and ``band`` holds the group; ``notes`` says which rows were
        left out.
    """
    alpha = check_alpha(alpha)
    scale = check_scale(scale)
    bands = csat_bands(scale) if bands is None else tuple(bands)
    require(customers, [duration_col, event_col], "customers table")
    data, several = _snapshot_rows(customers, surveys, ["csat"] if by == "band" else [])
    group_col = "csat" if by == "band" else by
    require(data, [group_col], "snapshot data")
    event, event_missing = _churn_flag(data[event_col], event_col)
    duration = pd.to_numeric(data[duration_col], errors="coerce").to_numpy(dtype=float)
    if (duration < 0).any():
        raise ValueError(f"column {duration_col!r} has negative durations")
    group_missing = data[group_col].isna().to_numpy()
    keep = ~(event_missing | np.isnan(duration) | group_missing)
    notes = []
    n_out = int((~keep).sum())
    if n_out:
        notes.append(
            f"{n_out:,} of {len(data):,} customers were left out: missing {duration_col} "
            f"({int(np.isnan(duration).sum()):,}), {event_col} ({int(event_missing.sum()):,}) or "
            f"{group_col} ({int(group_missing.sum()):,})."
        )
    if several:
        notes.append(f"{several:,} customers have more than one survey: their mean csat is used.")
    if by == "band":
        csat = data[group_col].to_numpy(dtype=float)[keep]
        if len(csat):
            check_on_scale(csat, scale, scale.default_knot(), False)
        group = csat_band(csat, bands)
        labels = [label for _, label in bands]
        notes.append(
            "csat is measured at the snapshot, after some customers had churned: the curves describe "
            "customers by their answer, not the effect of satisfaction on retention."
        )
    else:
        values = data[group_col][keep]
        labels = [str(v) for v in sorted(pd.unique(values), key=str)]
        group = values.astype(str).to_numpy()
    cust = pd.DataFrame({"duration": duration[keep], "event": event[keep].astype(int), "band": group})
    if cust.empty:
        raise ValueError("no customer has a duration, a churn flag and a group")
    return km_by_group(cust, labels, alpha, time_unit=duration_col, notes=tuple(notes))
