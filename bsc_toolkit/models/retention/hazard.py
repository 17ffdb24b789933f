"""The discrete-time churn hazard model: a binomial GLM on the surveyed customer-periods.

``churned`` (0/1 per customer-period) is modelled with a complementary log-log link and offset
``log(at_risk_fraction)`` (exact for a hazard constant within a period: coefficients are log
hazard ratios), or with a logit link and ``log_at_risk`` as a covariate (log odds ratios). The
default csat term is a linear spline with a knot, tested against a straight line (diminishing
returns above the knot, Ittner & Larcker 1998).

The fit runs on a lean IRLS (:mod:`._irls`) over a design matrix built once with numpy
(:mod:`._design`); it reproduces statsmodels' GLM, which stays the reference in the tests and
is available as :attr:`DiscreteTimeHazardModel.result_`. Under complete or quasi-complete
separation the maximum-likelihood estimate does not exist: by default (``penalty="auto"``) the
model then refits with Firth's penalty (finite, bias-reduced estimates) and says so.

csat stays on its own scale (``scale``, default 1-10): the knot defaults to
``scale.default_knot()`` and the bands to :func:`~bsc_toolkit.models.features.csat_bands`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import patsy

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.models._base import FittedModel, NotEstimableError, deprecated_alias, resolve_alpha, z_critical
from bsc_toolkit.models.features import Bands, add_csat_spline, csat_band, csat_spline
from bsc_toolkit.models.retention._common import (
    CsatTerms,
    binomial_text,
    check_on_scale,
    check_penalty,
    csat_term,
    fit_binomial_model,
    grid_of,
    record_numerical_warnings,
    require,
    take,
)
from bsc_toolkit.models.retention._design import build_design, term_columns

__all__ = ["DiscreteTimeHazardModel", "ChurnLogitModel"]


class DiscreteTimeHazardModel(CsatTerms, FittedModel):
    """Discrete-time churn hazard on surveyed customer-periods (binomial GLM).

    * ``link="cloglog"`` (default) with offset ``log(at_risk_fraction)``:
      ``P(churn) = 1 - exp(-exposure * exp(x'b))``; coefficients are log hazard ratios per period;
    * ``link="logit"``: log odds ratios, with ``log_at_risk`` (log exposure) as a covariate with
      its own coefficient (close to the cloglog results when churn is rare).

    Parameters
    ----------
    link : {"cloglog", "logit"}
    terms : {"spline", "linear", "bands", "drivers"}
        How satisfaction enters: linear spline of csat with a knot (default), linear csat, csat
        bands (``bands``, reference = the band holding the knot, or the most populated band if that
        one is empty) or the driver ratings (``drivers``).
    knot : float, optional
        Knot of the csat spline (default ``scale.default_knot()``: 7 on 1-10, 4 on 1-5).
    controls : sequence of str
        Formula terms added after the satisfaction terms.
    formula : str, optional
        Full formula overriding ``terms`` and ``controls`` (columns ``csat_below``, ``csat_above``,
        ``csat_band`` and ``log_at_risk`` are available).
    cov_type : {"nonrobust", "cluster"}
        Model-based standard errors or cluster-robust by customer (CRV1, as statsmodels).
    nonlinearity_test : bool
        With ``terms="spline"`` (and no ``formula``), also fit the straight line and test it
        (a second fit); ``False`` skips it.
    alpha : float
        1 - confidence level of the intervals.
    keep_data : bool
        Keep the design matrix, outcome and offset of the fit (``n x k`` floats, about 440 MB at 1M
        customers) so that :attr:`result_` is available. By default they are dropped after the fit;
        :meth:`to_statsmodels` gives the same statsmodels fit from the panel passed to it.
        Predictions never need them.
    penalty : {"auto", "firth", None}
        ``"auto"`` (default): plain maximum likelihood, refitted with Firth's penalty when the fit
        shows complete or quasi-complete separation (a ``separation`` warning says so);
        ``"firth"``: always Firth-penalised; ``None``: plain maximum likelihood (separation is then
        an error diagnostic). Firth's estimates maximise ``l + 0.5 log|I|`` (Jeffreys prior; Kosmidis
        & Firth 2009); their standard errors come from the inverse information at the estimate and
        the intervals are Wald intervals (profile-penalised-likelihood intervals are the textbook
        choice, Heinze & Schemper 2002; Wald is used here), and the nonlinearity LR test compares
        penalised likelihoods.
    scale : RatingScale, optional
        Scale of csat (default 1-10, top-2-box): the default knot, bands and the unit of the
        coefficients ("per scale point (1-5)"). csat outside the scale is an error.
    drivers : sequence of str, optional
        Driver rating columns of ``terms="drivers"`` (default :data:`bsc_toolkit.contracts.DRIVERS`).
    bands : tuple of (upper edge, label), optional
        csat bands of ``terms="bands"`` (default ``csat_bands(scale)``).

    Attributes
    ----------
    params_, standard_errors_, p_values_ : pandas.Series
    cov_params_ : pandas.DataFrame
    confidence_intervals_ : pandas.DataFrame
        ``ci_lower, ci_upper`` per term.
    summary : pandas.DataFrame
        ``coef, se, ci_lower, ci_upper, p_value``, then ``exp_coef`` with ``exp_coef_ci_lower``,
        ``exp_coef_ci_upper`` (the hazard ratio under cloglog, the odds ratio under logit) and ``z``.
    nonlinearity_test_ : pandas.DataFrame or None
        Likelihood-ratio and Wald tests of equal slopes below and above the knot, and a
        one-sided test of diminishing returns.
    reference_band_ : str or None
        Reference band actually used by ``terms="bands"``.
    penalty_ : str or None
        ``"firth"`` if the estimates are Firth-penalised, else None (plain maximum likelihood).
    llf_ : float
        Log-likelihood at the estimates (unpenalised).
    penalised_llf_ : float or None
        ``l + 0.5 log|I|`` at the estimates of a Firth fit.
    diagnostics_ : list of Diagnostic
        ``not_converged``, ``separation`` (an error under plain maximum likelihood, a warning when
        the estimates are Firth-penalised), ``penalty``, ``few_events``, ``empty_reference``,
        ``dropped_rows``.
    result_ : statsmodels GLMResults
        statsmodels' fit of the same model, computed on first access (only with ``keep_data=True``;
        otherwise use :meth:`to_statsmodels`).
    n_obs_, n_events_, n_customers_ : int
    """

    def __init__(
        self,
        link: str = "cloglog",
        terms: str = "spline",
        knot: float | None = None,
        controls: tuple[str, ...] = ("C(segment)", "tenure_years"),
        formula: str | None = None,
        cov_type: str = "nonrobust",
        nonlinearity_test: bool = True,
        alpha: float = 0.05,
        keep_data: bool = False,
        *,
        penalty: str | None = "auto",
        scale: RatingScale | None = None,
        drivers: Sequence[str] | None = None,
        bands: Bands | None = None,
    ) -> None:
        super().__init__(alpha=alpha)
        if link not in ("cloglog", "logit"):
            raise ValueError(f"link must be 'cloglog' or 'logit', not {link!r}")
        if cov_type not in ("nonrobust", "cluster"):
            raise ValueError(f"cov_type must be 'nonrobust' or 'cluster', not {cov_type!r}")
        self.link = link
        self._set_terms(terms, knot, scale, drivers, bands)
        self.penalty = check_penalty(penalty)
        self.controls = tuple(controls)
        self.formula = formula
        self.cov_type = cov_type
        self.nonlinearity_test = bool(nonlinearity_test)
        self.keep_data = bool(keep_data)

    # ------------------------------------------------------------------ data
    def _rhs(self, reference: str) -> str:
        if self.formula is not None:
            return self.formula.split("~", 1)[1].strip()
        rhs = [csat_term(self.terms, reference, self.drivers), *self.controls]
        if self.link == "logit":
            rhs.append("log_at_risk")
        return " + ".join(rhs)

    def _prepare(self, panel: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
        require(panel, ["customer_id", "churned", "at_risk_fraction", *self._sat_columns()])
        controls = None if self.formula is not None else term_columns(list(self.controls))
        if controls is None:  # a custom formula may use any column
            cols = list(panel.columns)
        else:
            extra = [c for c in controls if c not in ("csat_below", "csat_above", "csat_band", "log_at_risk")]
            require(panel, extra)
            cols = list(
                dict.fromkeys(["customer_id", "churned", "at_risk_fraction", "csat", *self._sat_columns(), *extra])
            )
            cols = [c for c in cols if c in panel.columns]
        used = [c for c in dict.fromkeys(["csat", *self._sat_columns()]) if c in panel.columns]
        missing = np.zeros(len(panel), dtype=bool)
        for c in used:
            missing |= panel[c].isna().to_numpy()
        dropped = {"satisfaction": int(missing.sum())}
        if controls is not None:
            for c in cols:
                if c not in used and c != "customer_id":
                    missing |= panel[c].isna().to_numpy()
            dropped["controls"] = int(missing.sum()) - dropped["satisfaction"]
        keep = ~missing
        df = pd.DataFrame({c: take(panel[c], keep) for c in cols})
        if "csat" in df.columns:
            df["csat_below"], df["csat_above"] = csat_spline(df["csat"].to_numpy(), self.knot)
            if self.terms == "bands" or self.formula is not None:
                df["csat_band"] = csat_band(df["csat"].to_numpy(), self.bands)
        df["churned"] = df["churned"].astype(int)
        df["log_at_risk"] = np.log(df["at_risk_fraction"].to_numpy(dtype=float).clip(min=1e-6))
        return df, dropped

    def prepare(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Rows used for fitting: surveyed periods with the model's columns, churned as int."""
        return self._prepare(panel)[0]

    # ------------------------------------------------------------------ fit
    def fit(self, panel: pd.DataFrame) -> DiscreteTimeHazardModel:
        """Fit on the customer-period panel (unsurveyed periods are dropped).

        Parameters
        ----------
        panel : pandas.DataFrame
            Output of :func:`bsc_toolkit.panel.customer_periods`.

        Returns
        -------
        DiscreteTimeHazardModel
            ``self``.
        """
        self._start_fit()
        self.__dict__.pop("_result", None)
        self._data = None
        record_numerical_warnings(self, "hazard", lambda: self._fit(panel))
        return self

    def _fit(self, panel: pd.DataFrame) -> None:
        df, dropped = self._prepare(panel)
        if len(df) < 20:
            raise NotEstimableError(f"too few surveyed customer-periods to fit ({len(df)}); need at least 20")
        n_events = int(df["churned"].sum())
        if n_events == 0:
            raise NotEstimableError(
                "column 'churned' has no variation in the surveyed periods: nobody churned (a panel built from a "
                "customers table without churn dates has no churn; for a churn flag at a snapshot date use "
                "ChurnFlagModel)"
            )
        if n_events == len(df):
            raise NotEstimableError("column 'churned' has no variation in the surveyed periods: everybody churned")
        sat_col = "csat" if self.terms != "drivers" else self.drivers[0]
        if df[sat_col].nunique() < 2:
            raise NotEstimableError(f"column '{sat_col}' has no variation")
        if self.terms != "drivers" and "csat" in df.columns:
            check_on_scale(
                df["csat"].to_numpy(), self.scale, self.knot, self.terms == "spline" and self.formula is None
            )
        reference = self.reference_band
        self.reference_band_ = None
        self.band_means_ = None
        if "csat_band" in df.columns:
            df["csat_band"], reference = self._bands_and_reference(df["csat_band"], "surveyed customer-periods")
            self.reference_band_ = reference if self.terms == "bands" else None
            self.band_means_ = df.groupby("csat_band", observed=True)["csat"].mean()
        rhs = self._rhs(reference)
        self.formula_ = "churned ~ " + rhs
        x, names, self.design_info_, _ = build_design(df, rhs)
        y = df["churned"].to_numpy(dtype=np.float64)
        offset = df["log_at_risk"].to_numpy() if self.link == "cloglog" else None
        groups = pd.factorize(df["customer_id"])[0] if self.cov_type == "cluster" else None
        n_obs, n_customers = len(df), int(df["customer_id"].nunique())
        del df  # the fit needs the arrays only
        self.n_obs_ = n_obs
        self.n_events_ = n_events
        self.n_customers_ = n_customers
        fit_binomial_model(self, x, y, names, self.link, offset, groups, dropped=dropped, n_rows=len(panel))
        # the n x k design and per-row arrays are not kept unless asked (to_statsmodels rebuilds them)
        if self.keep_data:
            self._data = (x, y, offset, groups, names)

    def _arrays(self, panel: pd.DataFrame) -> tuple:
        """The design, outcome, offset and clusters of this model on ``panel``."""
        df, _ = self._prepare(panel)
        if "csat_band" in df.columns:
            df["csat_band"] = df["csat_band"].cat.remove_unused_categories()
        x, names, _, _ = build_design(df, self.formula_.split("~", 1)[1].strip())
        y = df["churned"].to_numpy(dtype=np.float64)
        if len(df) != self.n_obs_ or names != list(self.params_.index) or int(y.sum()) != self.n_events_:
            raise ValueError(
                f"this panel gives {len(df):,} rows and {int(y.sum()):,} events for the model's terms; the fit "
                f"had {self.n_obs_:,} and {self.n_events_:,}: pass the panel the model was fitted on"
            )
        offset = df["log_at_risk"].to_numpy() if self.link == "cloglog" else None
        groups = pd.factorize(df["customer_id"])[0] if self.cov_type == "cluster" else None
        return x, y, offset, groups, names

    # ------------------------------------------------------------------ outputs
    @property
    def result_(self):
        """statsmodels ``GLMResults`` of the same model (with ``keep_data=True``; fitted on first access)."""
        self._check_fitted()
        if self.penalty_ is not None:
            raise AttributeError(
                "result_: statsmodels has no Firth penalty, and this model's estimates are Firth-penalised "
                f"(penalty_={self.penalty_!r}); statsmodels' plain fit would be the nonsense the penalty avoids"
            )
        if self._data is None:
            raise AttributeError(
                "result_ needs the fit's data: fit with DiscreteTimeHazardModel(keep_data=True), "
                "or call .to_statsmodels(panel) with the panel the model was fitted on"
            )
        if "_result" not in self.__dict__:
            self.__dict__["_result"] = self._statsmodels_fit(*self._data)
        return self.__dict__["_result"]

    def to_statsmodels(self, panel: pd.DataFrame):
        """statsmodels' ``GLMResults`` of this model on ``panel`` (the panel passed to :meth:`fit`).

        statsmodels starts from ``params_``, so it converges at once to the same estimates; use it
        for statsmodels' own summary, influence measures or tests. Not available when the estimates
        are Firth-penalised (statsmodels has no such penalty).
        """
        self._check_fitted()
        if self.penalty_ is not None:
            raise ValueError(
                "to_statsmodels: this model's estimates are Firth-penalised (penalty_='firth') and statsmodels "
                "has no Firth penalty; its plain maximum-likelihood fit does not exist here (separation)"
            )
        return self._statsmodels_fit(*self._arrays(panel))

    def _statsmodels_fit(self, x, y, offset, groups, names):
        import statsmodels.api as sm

        link = sm.families.links.CLogLog() if self.link == "cloglog" else sm.families.links.Logit()
        model = sm.GLM(y, pd.DataFrame(x, columns=names), family=sm.families.Binomial(link=link), offset=offset)
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups}} if groups is not None else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(start_params=self.params_.to_numpy(), **kw)

    def summary_text(self) -> str:
        """Readable summary: coefficient table, nonlinearity tests and diagnostics."""
        self._check_fitted()
        kind = "log hazard ratios (cloglog)" if self.link == "cloglog" else "log odds ratios (logit)"
        return binomial_text(
            self,
            f"Discrete-time hazard, {kind}: {self.formula_}\n{self.n_obs_:,} customer-periods, "
            f"{self.n_customers_:,} customers, {self.n_events_:,} churn events",
        )

    def design_matrix(self, data: pd.DataFrame) -> np.ndarray:
        """Design matrix of the fitted formula for new rows (exposure = one full period).

        Returns
        -------
        numpy.ndarray
            ``(len(data), len(params_))``; ``design_matrix(data) @ params_`` is the linear predictor.
        """
        self._check_fitted()
        df = add_csat_spline(data, self.knot, bands=self.bands) if "csat" in data.columns else data.copy()
        if self.reference_band_ is not None or "csat_band" in df.columns:
            levels = [str(v) for v in self.band_means_.index] if self.band_means_ is not None else None
            if levels is not None and "csat_band" in df.columns:
                df["csat_band"] = pd.Categorical(np.asarray(df["csat_band"], dtype=object), categories=levels)
        df["log_at_risk"] = 0.0
        if "churned" not in df.columns:
            df["churned"] = 0
        (x,) = patsy.build_design_matrices([self.design_info_], df, return_type="matrix")
        return np.asarray(x, dtype=float)

    def predict_hazard(self, data: pd.DataFrame, params: pd.Series | np.ndarray | None = None) -> np.ndarray:
        """Per-period churn probability for a full period of exposure.

        Parameters
        ----------
        data : pandas.DataFrame
            Rows with the covariates of the formula (``csat`` may be non-integer).
        params : array-like, optional
            Coefficients to use (e.g. a simulation draw); default ``params_``.
        """
        x = self.design_matrix(data)
        eta = x @ np.asarray(self.params_ if params is None else params, dtype=float)
        if self.link == "cloglog":
            return -np.expm1(-np.exp(eta))
        return 1.0 / (1.0 + np.exp(-eta))

    def csat_effect(
        self, grid: np.ndarray | None = None, *, alpha: float | None = None, level: float | None = None
    ) -> pd.DataFrame:
        """Effect of csat on the linear predictor relative to csat at the knot (or the reference band).

        For ``terms="spline"`` a curve over ``grid`` with delta-method intervals; for
        ``terms="bands"`` one row per band.

        Parameters
        ----------
        grid : array-like, optional
            csat values (default the scale from low to high in 36 steps: 1 to 10 by 0.25).
        alpha : float, optional
            1 - confidence level (default: the model's ``alpha``).
        level : float, optional
            Deprecated: the confidence level; use ``alpha = 1 - level``.

        Returns
        -------
        pandas.DataFrame
            ``csat`` (or ``band`` and its mean csat ``csat_mean``), ``effect`` (log hazard/odds
            ratio), ``ci_lower``, ``ci_upper``.
        """
        self._check_fitted()
        alpha = resolve_alpha(self.alpha if alpha is None else alpha, level, "level", "csat_effect")
        zq = z_critical(alpha)
        if self.terms == "spline":
            grid = grid_of(self.scale) if grid is None else np.asarray(grid, dtype=float)
            x = np.column_stack(csat_spline(grid, self.knot))
            names = ["csat_below", "csat_above"]
            b = self.params_[names].to_numpy()
            v = self.cov_params_.loc[names, names].to_numpy()
            eff = x @ b
            se = np.sqrt(np.einsum("ij,jk,ik->i", x, v, x))
            return pd.DataFrame({"csat": grid, "effect": eff, "ci_lower": eff - zq * se, "ci_upper": eff + zq * se})
        if self.terms == "bands":
            ref = self.reference_band_ or self.reference_band
            rows = [{"band": ref, "effect": 0.0, "ci_lower": 0.0, "ci_upper": 0.0}]
            for name in self.params_.index:
                if name.startswith("C(csat_band"):
                    label = name.split("[T.")[-1].rstrip("]")
                    b, s = self.params_[name], float(np.sqrt(self.cov_params_.loc[name, name]))
                    rows.append({"band": label, "effect": b, "ci_lower": b - zq * s, "ci_upper": b + zq * s})
            out = pd.DataFrame(rows)
            out["band"] = pd.Categorical(out["band"], categories=[label for _, label in self.bands], ordered=True)
            out["csat_mean"] = out["band"].astype(str).map(self.band_means_.rename(index=str)).astype(float)
            return out.sort_values("band", ignore_index=True)
        raise ValueError("csat_effect needs terms='spline' or terms='bands'")


ChurnLogitModel = deprecated_alias(DiscreteTimeHazardModel, "ChurnLogitModel", "0.3.0")
