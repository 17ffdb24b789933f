"""Satisfaction -> retention link models.

Three views of how satisfaction (csat, or the four driver ratings) relates to
churn, all fitted on the customer-period panel of
:func:`bsc_toolkit.panel.customer_periods`:

* :func:`kaplan_meier_by_band` -- Kaplan-Meier survival curves by csat band
  (band of the customer's first surveyed csat) with a log-rank test.
* :class:`ChurnLogitModel` -- a discrete-time hazard model (binomial GLM on the
  surveyed customer-periods), either with a complementary log-log link and
  offset ``log(at_risk_fraction)`` (exact for a hazard that is constant within
  a period: the coefficients are log hazard ratios) or with a logit link and
  ``log(at_risk_fraction)`` as a covariate ``log_at_risk`` (an estimated
  coefficient, not an offset: exposure does not scale the odds; the other
  coefficients are log odds ratios). The default csat term is a linear spline
  with a knot, and :attr:`ChurnLogitModel.nonlinearity_test_` tests it against
  a straight line (diminishing returns above the knot, Ittner & Larcker 1998).
* :class:`CoxChurnModel` -- a Cox proportional-hazards model with time-varying
  csat on start/stop episodes (:func:`survival_episodes`), fitted with
  lifelines' ``CoxTimeVaryingFitter`` and checked against statsmodels'
  ``PHReg`` with ``entry`` (left truncation), which is the same counting-process
  partial likelihood.

Only surveyed customer-periods carry csat; the models use those periods
(survey response is assumed missing at random given the covariates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
import statsmodels.api as sm
from scipy import stats

from bsc_toolkit.contracts import DRIVERS
from bsc_toolkit.models.features import CSAT_BANDS, add_csat_spline, csat_band, csat_spline

__all__ = [
    "CSAT_BANDS",
    "csat_band",
    "csat_spline",
    "add_csat_spline",
    "ChurnLogitModel",
    "KaplanMeierByBand",
    "kaplan_meier_by_band",
    "survival_episodes",
    "CoxChurnModel",
]

_TERMS = ("spline", "linear", "bands", "drivers")
_DAYS_PER_YEAR = 365.25


def _require(df: pd.DataFrame, cols: list[str] | tuple[str, ...], table: str = "panel") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing}; it has {list(df.columns)}")


def _reference_band(knot: float) -> str:
    """Label of the csat band that holds the knot (reference of ``terms='bands'``)."""
    return str(csat_band(np.array([knot]))[0])


def _csat_term(terms: str, reference_band: str) -> str:
    if terms == "spline":
        return "csat_below + csat_above"
    if terms == "linear":
        return "csat"
    if terms == "bands":
        return f'C(csat_band, Treatment("{reference_band}"))'
    if terms == "drivers":
        return " + ".join(DRIVERS)
    raise ValueError(f"terms must be one of {_TERMS}, not {terms!r}")


def _tidy(params: pd.Series, bse: pd.Series, ci: pd.DataFrame, pvalues: pd.Series, ratio_name: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "coef": params,
            "se": bse,
            "z": params / bse,
            "p_value": pvalues,
            "ci_lower": ci.iloc[:, 0],
            "ci_upper": ci.iloc[:, 1],
        }
    )
    out[ratio_name] = np.exp(out["coef"])
    out[f"{ratio_name}_lower"] = np.exp(out["ci_lower"])
    out[f"{ratio_name}_upper"] = np.exp(out["ci_upper"])
    out.index.name = "term"
    return out


class ChurnLogitModel:
    """Discrete-time churn hazard on surveyed customer-periods.

    ``churned`` (0/1 per customer-period) is modelled with a binomial GLM:

    * ``link="cloglog"`` (default) with offset ``log(at_risk_fraction)``:
      ``P(churn) = 1 - exp(-exposure * exp(x'b))``, exact when the hazard is
      constant within a period, so coefficients are log hazard ratios (per
      period);
    * ``link="logit"``: log odds ratios, with ``log_at_risk`` (log exposure)
      as a covariate with its own coefficient instead of an offset, so it
      appears in ``params_`` and ``summary`` (close to the cloglog results
      when churn is rare).

    Parameters
    ----------
    link : {"cloglog", "logit"}
    terms : {"spline", "linear", "bands", "drivers"}
        How satisfaction enters: linear spline of csat with a knot (default),
        linear csat, csat bands (:data:`CSAT_BANDS`, reference = the band
        holding the knot) or the four driver ratings.
    knot : float
        Knot of the csat spline.
    controls : sequence of str
        Formula terms added after the satisfaction terms.
    formula : str, optional
        Full statsmodels formula overriding ``terms`` and ``controls`` (the
        columns ``csat_below``, ``csat_above``, ``csat_band`` and
        ``log_at_risk`` are available).
    cov_type : {"nonrobust", "cluster"}
        Model-based standard errors or cluster-robust by customer.

    Attributes (after ``fit``)
    --------------------------
    result_ : statsmodels GLM results
    params_ : pandas.Series
    confidence_intervals_ : pandas.DataFrame
    summary : pandas.DataFrame
        Tidy coefficient table with hazard (cloglog) or odds (logit) ratios.
    nonlinearity_test_ : pandas.DataFrame or None
        For ``terms="spline"``: likelihood-ratio and Wald tests of equal
        slopes below and above the knot, and a one-sided test of diminishing
        returns (effect above the knot smaller in size than below).
    n_obs_, n_events_, n_customers_ : int
    """

    def __init__(
        self,
        link: str = "cloglog",
        terms: str = "spline",
        knot: float = 7.0,
        controls: tuple[str, ...] = ("C(segment)", "tenure_years"),
        formula: str | None = None,
        cov_type: str = "nonrobust",
    ) -> None:
        if link not in ("cloglog", "logit"):
            raise ValueError(f"link must be 'cloglog' or 'logit', not {link!r}")
        if terms not in _TERMS:
            raise ValueError(f"terms must be one of {_TERMS}, not {terms!r}")
        if cov_type not in ("nonrobust", "cluster"):
            raise ValueError(f"cov_type must be 'nonrobust' or 'cluster', not {cov_type!r}")
        self.link = link
        self.terms = terms
        self.knot = float(knot)
        self.controls = tuple(controls)
        self.formula = formula
        self.cov_type = cov_type

    # ------------------------------------------------------------------ helpers
    @property
    def reference_band(self) -> str:
        """Label of the csat band that holds the knot (reference of ``terms='bands'``)."""
        return _reference_band(self.knot)

    def _formula(self) -> str:
        if self.formula is not None:
            return self.formula
        rhs = [_csat_term(self.terms, self.reference_band), *self.controls]
        if self.link == "logit":
            rhs.append("log_at_risk")
        return "churned ~ " + " + ".join(rhs)

    def prepare(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Rows used for fitting: surveyed periods with the model's columns, churned as int."""
        needed = ["customer_id", "churned", "at_risk_fraction"]
        needed += list(DRIVERS) if self.terms == "drivers" else ["csat"]
        _require(panel, needed)
        df = add_csat_spline(panel, self.knot) if "csat" in panel.columns else panel.copy()
        df["churned"] = df["churned"].astype(int)
        if "segment" in df.columns and df["segment"].dtype == object:
            df["segment"] = df["segment"].astype("category")  # patsy codes categoricals much faster
        df["log_at_risk"] = np.log(df["at_risk_fraction"].astype(float).clip(lower=1e-6))
        used = ["csat"] if "csat" in df.columns else []
        if self.terms == "drivers":
            used += list(DRIVERS)
        df = df.dropna(subset=used)
        return df.reset_index(drop=True)

    def _glm(self, y: pd.Series, x: pd.DataFrame, df: pd.DataFrame):
        link = sm.families.links.CLogLog() if self.link == "cloglog" else sm.families.links.Logit()
        offset = df["log_at_risk"].to_numpy() if self.link == "cloglog" else None
        model = sm.GLM(y, x, family=sm.families.Binomial(link=link), offset=offset)
        if self.cov_type == "cluster":
            return model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["customer_id"])[0]})
        return model.fit()

    # ---------------------------------------------------------------------- fit
    def fit(self, panel: pd.DataFrame) -> "ChurnLogitModel":
        """Fit on the customer-period panel (unsurveyed periods are dropped).

        Parameters
        ----------
        panel : pandas.DataFrame
            Output of :func:`bsc_toolkit.panel.customer_periods`.

        Returns
        -------
        ChurnLogitModel
            ``self``.
        """
        df = self.prepare(panel)
        if len(df) < 20:
            raise ValueError(f"too few surveyed customer-periods to fit ({len(df)}); need at least 20")
        n_events = int(df["churned"].sum())
        if n_events == 0 or n_events == len(df):
            raise ValueError("column 'churned' has no variation in the surveyed periods")
        sat_col = "csat" if self.terms != "drivers" else DRIVERS[0]
        if df[sat_col].nunique() < 2:
            raise ValueError(f"column '{sat_col}' has no variation")
        self.formula_ = self._formula()
        y, x = patsy.dmatrices(self.formula_, df, return_type="dataframe", NA_action="raise")
        self.design_info_ = x.design_info
        self.result_ = self._glm(y.iloc[:, -1], x, df)
        self.params_ = self.result_.params
        self.cov_params_ = self.result_.cov_params()
        self.confidence_intervals_ = self.result_.conf_int()
        self.confidence_intervals_.columns = ["lower", "upper"]
        self.n_obs_ = len(df)
        self.n_events_ = n_events
        self.n_customers_ = int(df["customer_id"].nunique())
        self.band_means_ = df.groupby("csat_band", observed=True)["csat"].mean() if "csat_band" in df.columns else None
        self.nonlinearity_test_ = None
        if self.terms == "spline" and self.formula is None:
            self.nonlinearity_test_ = self._nonlinearity_test()
        return self

    def _nonlinearity_test(self) -> pd.DataFrame:
        # the straight line is the spline with equal slopes: reuse the design matrix
        model = self.result_.model
        x = pd.DataFrame(model.exog, columns=model.exog_names)
        x["csat_below"] = x["csat_below"] + x.pop("csat_above")
        start = self.params_.drop("csat_above").to_numpy()
        linear = sm.GLM(model.endog, x, family=model.family, offset=getattr(model, "offset", None)).fit(start_params=start)
        lr = 2.0 * (self.result_.llf - linear.llf)
        b = self.params_
        v = self.cov_params_
        diff = b["csat_above"] - b["csat_below"]
        se = float(np.sqrt(v.loc["csat_above", "csat_above"] + v.loc["csat_below", "csat_below"]
                           - 2 * v.loc["csat_above", "csat_below"]))
        z = diff / se
        # diminishing returns: csat protects less above the knot, i.e. the
        # (negative) slope below is steeper: below < above  <=>  diff > 0
        sign = 1.0 if b["csat_below"] <= 0 else -1.0
        return pd.DataFrame(
            {
                "statistic": [lr, z**2, sign * z],
                "df": [1, 1, np.nan],
                "p_value": [stats.chi2.sf(lr, 1), stats.chi2.sf(z**2, 1), stats.norm.sf(sign * z)],
                "estimate": [np.nan, diff, diff],
                "se": [np.nan, se, se],
            },
            index=pd.Index(
                [
                    "LR: spline vs linear",
                    "Wald: slope above = slope below",
                    "one-sided: diminishing returns above knot",
                ],
                name="test",
            ),
        )

    # ------------------------------------------------------------------ outputs
    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise ValueError("model is not fitted: call fit(panel) first")

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy coefficient table (log hazard/odds ratios and ratios with CIs)."""
        self._check_fitted()
        r = self.result_
        ratio = "hazard_ratio" if self.link == "cloglog" else "odds_ratio"
        return _tidy(r.params, r.bse, r.conf_int(), r.pvalues, ratio)

    def summary_text(self) -> str:
        """Readable summary: statsmodels table plus the nonlinearity test."""
        self._check_fitted()
        text = str(self.result_.summary())
        if self.nonlinearity_test_ is not None:
            text += "\n\nNonlinearity (diminishing returns) tests\n" + self.nonlinearity_test_.round(4).to_string()
        return text

    def predict_hazard(self, data: pd.DataFrame, params: pd.Series | np.ndarray | None = None) -> np.ndarray:
        """Per-period churn probability for a full period of exposure.

        Parameters
        ----------
        data : pandas.DataFrame
            Rows with the covariates of the formula (``csat`` may be non-integer).
        params : array-like, optional
            Coefficients to use (e.g. a simulation draw); default ``params_``.

        Returns
        -------
        numpy.ndarray
            ``P(churn within one period | at risk all period)``.
        """
        x = self.design_matrix(data)
        beta = np.asarray(self.params_ if params is None else params, dtype=float)
        eta = x @ beta
        if self.link == "cloglog":
            return -np.expm1(-np.exp(eta))
        return 1.0 / (1.0 + np.exp(-eta))

    def design_matrix(self, data: pd.DataFrame) -> np.ndarray:
        """Design matrix of the fitted formula for new rows (exposure = one full period).

        Parameters
        ----------
        data : pandas.DataFrame
            Rows with the covariates of the formula (``csat`` may be non-integer).

        Returns
        -------
        numpy.ndarray
            ``(len(data), len(params_))`` matrix; ``design_matrix(data) @ params_``
            is the linear predictor.
        """
        self._check_fitted()
        df = add_csat_spline(data, self.knot) if "csat" in data.columns else data.copy()
        df["log_at_risk"] = 0.0
        if "churned" not in df.columns:
            df["churned"] = 0
        (x,) = patsy.build_design_matrices([self.design_info_], df, return_type="matrix")
        return np.asarray(x, dtype=float)

    def csat_effect(self, grid: np.ndarray | None = None, level: float = 0.95) -> pd.DataFrame:
        """Effect of csat on the linear predictor relative to csat at the knot.

        For ``terms="spline"`` a curve over ``grid`` with delta-method CI; for
        ``terms="bands"`` one row per band (relative to the knot's band).

        Returns
        -------
        pandas.DataFrame
            ``csat`` (or ``band`` and the band's mean csat ``csat_mean``),
            ``effect`` (log hazard/odds ratio), ``ci_lower``, ``ci_upper``.
        """
        self._check_fitted()
        zq = stats.norm.ppf(0.5 + level / 2)
        if self.terms == "spline":
            grid = np.arange(1.0, 10.01, 0.25) if grid is None else np.asarray(grid, dtype=float)
            x = np.column_stack(csat_spline(grid, self.knot))
            names = ["csat_below", "csat_above"]
            b = self.params_[names].to_numpy()
            v = self.cov_params_.loc[names, names].to_numpy()
            eff = x @ b
            se = np.sqrt(np.einsum("ij,jk,ik->i", x, v, x))
            return pd.DataFrame({"csat": grid, "effect": eff, "ci_lower": eff - zq * se, "ci_upper": eff + zq * se})
        if self.terms == "bands":
            rows = [{"band": self.reference_band, "effect": 0.0, "ci_lower": 0.0, "ci_upper": 0.0}]
            for name in self.params_.index:
                if name.startswith("C(csat_band"):
                    label = name.split("[T.")[-1].rstrip("]")
                    b, s = self.params_[name], float(np.sqrt(self.cov_params_.loc[name, name]))
                    rows.append({"band": label, "effect": b, "ci_lower": b - zq * s, "ci_upper": b + zq * s})
            out = pd.DataFrame(rows)
            order = [label for _, label in CSAT_BANDS]
            out["band"] = pd.Categorical(out["band"], categories=order, ordered=True)
            out["csat_mean"] = out["band"].astype(str).map(self.band_means_.rename(index=str)).astype(float)
            return out.sort_values("band", ignore_index=True)
        raise ValueError("csat_effect needs terms='spline' or terms='bands'")


# --------------------------------------------------------------------------- episodes
def survival_episodes(
    panel: pd.DataFrame,
    customers: pd.DataFrame,
    time_scale: str = "calendar",
    surveyed_only: bool = True,
    knot: float = 7.0,
) -> pd.DataFrame:
    """Start/stop (counting-process) episodes, one per customer-period.

    Each episode runs from the start of the customer's window in the period
    (period start, or acquisition if later) to the period end, or to the churn
    date in the churn period (``event = 1``).

    Parameters
    ----------
    panel : pandas.DataFrame
        Output of :func:`bsc_toolkit.panel.customer_periods`.
    customers : pandas.DataFrame
        Customers table (``customer_id, acquired_at, churned_at``).
    time_scale : {"calendar", "tenure"}
        ``"calendar"``: years since the first period's start; customers
        acquired during the window enter late, tenure is a covariate
        (``tenure_years`` at the period start) and calendar-time shocks are
        absorbed by the baseline hazard. ``"tenure"``: years since acquisition;
        customers acquired before the window enter late (left truncation) and
        the tenure effect is absorbed by the baseline hazard.
    surveyed_only : bool
        Keep only episodes with a survey (csat known); dropping whole
        episodes keeps the partial likelihood valid if response is random.
    knot : float
        Knot for the ``csat_below``/``csat_above`` columns.

    Returns
    -------
    pandas.DataFrame
        Panel columns plus ``start``, ``stop`` (years), ``event`` (0/1),
        ``csat_below``, ``csat_above``, ``csat_band``. Episodes of zero length
        (churn on the window's first day, dates are whole days) are given half
        a day.
    """
    if time_scale not in ("calendar", "tenure"):
        raise ValueError(f"time_scale must be 'calendar' or 'tenure', not {time_scale!r}")
    _require(panel, ["customer_id", "period", "churned", "csat"])
    _require(customers, ["customer_id", "acquired_at", "churned_at"], "customers table")
    cust = customers[["customer_id", "acquired_at", "churned_at"]].copy()
    cust["acquired_at"] = pd.to_datetime(cust["acquired_at"])
    cust["churned_at"] = pd.to_datetime(cust["churned_at"])
    df = panel.merge(cust, on="customer_id", how="left", validate="many_to_one")
    if df["acquired_at"].isna().any():
        ids = df.loc[df["acquired_at"].isna(), "customer_id"].unique()[:5].tolist()
        raise ValueError(f"panel customer_id(s) not in customers table, e.g. {ids}")
    periods = pd.PeriodIndex(df["period"])
    p_start = periods.start_time
    p_end = periods.end_time + pd.Timedelta(1, "ns")
    acq = pd.DatetimeIndex(df["acquired_at"])
    w0 = acq.where(acq > p_start, p_start)
    churned = df["churned"].astype(bool).to_numpy()
    w1 = pd.DatetimeIndex(np.where(churned, df["churned_at"].to_numpy(), p_end.to_numpy()))
    origin = acq if time_scale == "tenure" else pd.DatetimeIndex(np.full(len(df), p_start.min()))
    year = pd.Timedelta(_DAYS_PER_YEAR, "D")
    df["start"] = ((w0 - origin) / year).to_numpy()
    df["stop"] = ((w1 - origin) / year).to_numpy()
    df["stop"] = np.maximum(df["stop"], df["start"] + 0.5 / _DAYS_PER_YEAR)
    df["event"] = churned.astype(int)
    if surveyed_only:
        df = df[df["csat"].notna()]
    df = add_csat_spline(df, knot).drop(columns=["acquired_at", "churned_at"])
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- Kaplan-Meier
@dataclass(frozen=True)
class KaplanMeierByBand:
    """Kaplan-Meier survival by csat band.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy survival table: ``band, time`` (years since the first survey),
        ``survival, ci_lower, ci_upper, at_risk``.
    logrank : pandas.Series
        Multivariate log-rank test across bands: ``test_statistic, df, p_value``.
    counts : pandas.DataFrame
        Customers and churn events per band.
    """

    table: pd.DataFrame
    logrank: pd.Series
    counts: pd.DataFrame


def kaplan_meier_by_band(
    panel: pd.DataFrame,
    customers: pd.DataFrame,
    bands: tuple[tuple[float, str], ...] = CSAT_BANDS,
) -> KaplanMeierByBand:
    """Kaplan-Meier curves of customers grouped by their first surveyed csat.

    Time runs from the start of the customer's window in the period of the
    first survey (the band is fixed at that point, so no future information
    enters) to churn or the end of the panel (censored).

    Parameters
    ----------
    panel : pandas.DataFrame
        Output of :func:`bsc_toolkit.panel.customer_periods`.
    customers : pandas.DataFrame
        Customers table with ``acquired_at`` and ``churned_at``.
    bands : tuple of (upper edge, label)
        csat bands (:data:`CSAT_BANDS`).

    Returns
    -------
    KaplanMeierByBand
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    eps = survival_episodes(panel, customers, time_scale="calendar", surveyed_only=False)
    eps = eps.sort_values(["customer_id", "start"])
    first_survey = eps[eps["csat"].notna()].groupby("customer_id", sort=False).first()
    if first_survey.empty:
        raise ValueError("panel column 'csat' is empty: no surveyed customer-periods")
    last = eps.groupby("customer_id", sort=False).agg(end=("stop", "max"), event=("event", "max"))
    cust = first_survey[["start", "csat"]].join(last, how="inner")
    cust["duration"] = (cust["end"] - cust["start"]).round(8)
    cust["band"] = csat_band(cust["csat"], bands)
    cust = cust.dropna(subset=["band"])
    labels = [label for _, label in bands]
    pieces = []
    for label in labels:
        sub = cust[cust["band"] == label]
        if sub.empty:
            continue
        km = KaplanMeierFitter().fit(sub["duration"], sub["event"], label=label)
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
    counts = (
        cust.groupby("band", observed=False)
        .agg(customers=("event", "size"), churned=("event", "sum"))
        .reset_index()
    )
    return KaplanMeierByBand(table=table, logrank=logrank, counts=counts)


# --------------------------------------------------------------------------- Cox
class CoxChurnModel:
    """Cox proportional hazards with time-varying csat (start/stop episodes).

    Fitted with lifelines' ``CoxTimeVaryingFitter``; :meth:`agreement`
    refits with statsmodels' ``PHReg`` (``entry`` = episode start, Efron
    ties), the same counting-process partial likelihood, and tabulates both.

    Parameters
    ----------
    terms : {"spline", "linear", "bands", "drivers"}
        How satisfaction enters (see :class:`ChurnLogitModel`).
    knot : float
    controls : sequence of str
        Formula terms; the default suits ``time_scale="calendar"`` (with
        ``"tenure"`` drop ``tenure_years``: it is the time axis).
    formula : str, optional
        Right-hand-side formula overriding ``terms`` and ``controls``.
    penalizer : float
        lifelines ridge penalty (0 = plain partial likelihood).

    Attributes (after ``fit``)
    --------------------------
    fitter_ : lifelines.CoxTimeVaryingFitter
    params_, standard_errors_ : pandas.Series
    confidence_intervals_ : pandas.DataFrame
    summary : pandas.DataFrame
        Log hazard ratios and hazard ratios with 95% CIs.
    """

    def __init__(
        self,
        terms: str = "spline",
        knot: float = 7.0,
        controls: tuple[str, ...] = ("C(segment)", "tenure_years"),
        formula: str | None = None,
        penalizer: float = 0.0,
    ) -> None:
        if terms not in _TERMS:
            raise ValueError(f"terms must be one of {_TERMS}, not {terms!r}")
        self.terms = terms
        self.knot = float(knot)
        self.controls = tuple(controls)
        self.formula = formula
        self.penalizer = float(penalizer)

    def _design(self, episodes: pd.DataFrame) -> pd.DataFrame:
        rhs = self.formula or " + ".join([_csat_term(self.terms, _reference_band(self.knot)), *self.controls])
        x = patsy.dmatrix(rhs, episodes, return_type="dataframe", NA_action="raise")
        x = x.drop(columns=["Intercept"], errors="ignore")
        x.columns = [c.replace("C(segment)[T.", "segment[").replace(", ", "_") for c in x.columns]
        return x

    def fit(self, episodes: pd.DataFrame) -> "CoxChurnModel":
        """Fit on :func:`survival_episodes` output.

        Returns
        -------
        CoxChurnModel
            ``self``.
        """
        from lifelines import CoxTimeVaryingFitter

        _require(episodes, ["customer_id", "start", "stop", "event"], "episodes")
        if len(episodes) < 20:
            raise ValueError(f"too few episodes to fit ({len(episodes)}); need at least 20")
        if episodes["event"].sum() == 0:
            raise ValueError("column 'event' has no churn events")
        x = self._design(episodes)
        df = pd.concat(
            [episodes[["customer_id", "start", "stop", "event"]].reset_index(drop=True), x.reset_index(drop=True)],
            axis=1,
        )
        ctv = CoxTimeVaryingFitter(penalizer=self.penalizer)
        ctv.fit(df, id_col="customer_id", event_col="event", start_col="start", stop_col="stop", show_progress=False)
        self.fitter_ = ctv
        self.design_columns_ = list(x.columns)
        self._data = df
        self.params_ = ctv.params_.rename(None)
        self.standard_errors_ = ctv.standard_errors_.rename(None)
        ci = ctv.confidence_intervals_.copy()
        ci.columns = ["lower", "upper"]
        self.confidence_intervals_ = ci
        self.n_obs_ = len(df)
        self.n_events_ = int(df["event"].sum())
        self.n_customers_ = int(df["customer_id"].nunique())
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table: coef (log hazard ratio), se, z, p, CIs, hazard ratio."""
        if not hasattr(self, "fitter_"):
            raise ValueError("model is not fitted: call fit(episodes) first")
        s = self.fitter_.summary
        ci = s[["coef lower 95%", "coef upper 95%"]]
        return _tidy(s["coef"], s["se(coef)"], ci, s["p"], "hazard_ratio")

    def summary_text(self) -> str:
        """Readable coefficient table."""
        return (
            f"Cox PH, time-varying covariates: {self.n_customers_} customers, {self.n_obs_} episodes, "
            f"{self.n_events_} churn events\n" + self.summary.round(4).to_string()
        )

    def agreement(self) -> pd.DataFrame:
        """Refit with statsmodels ``PHReg`` (entry = start, Efron ties) and compare.

        Returns
        -------
        pandas.DataFrame
            Per term: ``lifelines_coef, statsmodels_coef, lifelines_se,
            statsmodels_se, abs_diff_coef`` and ``diff_in_se`` (coefficient
            difference in units of the lifelines SE).
        """
        if not hasattr(self, "fitter_"):
            raise ValueError("model is not fitted: call fit(episodes) first")
        from statsmodels.duration.hazard_regression import PHReg

        d = self._data
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
