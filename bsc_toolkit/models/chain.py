"""The service-profit chain: satisfaction -> retention -> revenue, as a mediation model.

At the customer level, satisfaction (the treatment ``X``: the customer's
satisfaction level measured in a baseline period, regression-calibrated for
survey noise) can raise follow-up revenue (the outcome ``Y``) in two ways:
**indirectly**, because satisfied customers stay longer (the mediator ``M``:
periods retained in the follow-up), and **directly**, because satisfied
customers spend more per period. :func:`customer_chain_table` (in :mod:`bsc_toolkit.models.chain_table`,
re-exported here) builds the customer table. :class:`ServiceProfitChain` fits two regressions
(statsmodels formulas, changeable)

* mediator model  ``M ~ X * C(segment) + controls``
* outcome model   ``Y ~ (X + M) * C(segment) + controls`` (linear in ``M``)

and computes, by g-computation (predicting every customer's outcome with
satisfaction raised by ``delta`` points and the mediator at its value under
either satisfaction level), the average

* **total effect**     E[Y(x + d, M(x + d)) - Y(x, M(x))]
* **indirect effect**  E[Y(x', M(x + d)) - Y(x', M(x))]  (ACME; at x' = x + d "treated" and x' = x "control")
* **direct effect**    E[Y(x + d, M(x')) - Y(x, M(x'))]  (ADE)
* **proportion mediated** indirect / total,

in the data's currency (``currency``) per ``delta`` csat points on the data's csat scale
(``scale``, kept as declared: 1-5, 0-10, 1-10...), with cluster (customer) bootstrap percentile
intervals. With linear models this is the product-of-coefficients estimator
generalised to interactions; :func:`mediation_reference` runs statsmodels'
``Mediation`` (Imai, Keele & Tingley 2010) on the same models for comparison.

Causal reading needs *sequential ignorability*: no unmeasured confounder of
satisfaction and revenue, or of retention and revenue. A customer trait that
raises both satisfaction and spend (present in the simulator) biases the direct
effect upward; :func:`bsc_toolkit.data.oracles.simulated_chain_effects` gives the
true effects of the simulator for checking.

The link-strength table of the strategy map moved to :mod:`bsc_toolkit.scorecard.links`
(``chain_link_strengths``, ``link_strengths_table``) and the truth oracle to
:mod:`bsc_toolkit.data.oracles`; the old names here still work for one release (with a
``FutureWarning``) and are imported only when used, so this module never loads the simulator.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np
import pandas as pd
import patsy
import statsmodels.formula.api as smf

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.models._base import IMPRECISE_SE_RATIO, FittedModel, NotEstimableError
from bsc_toolkit.models.chain_table import chain_baseline_periods, customer_chain_table

__all__ = [
    "chain_baseline_periods",
    "customer_chain_table",
    "ServiceProfitChain",
    "mediation_reference",
]

# Names that moved out of this module: old name -> new module (kept for one release).
_MOVED = {
    "simulated_chain_effects": "bsc_toolkit.data.oracles",
    "chain_link_strengths": "bsc_toolkit.scorecard.links",
    "link_strengths_table": "bsc_toolkit.scorecard.links",
}


def __getattr__(name: str) -> Any:
    # PEP 562: the moved names resolve lazily, so importing this module never loads the simulator.
    if name in _MOVED:
        warnings.warn(
            f"bsc_toolkit.models.chain.{name} moved to {_MOVED[name]}.{name}; the old path will be removed in 0.3.0",
            FutureWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_EFFECTS = (
    "total",
    "indirect",
    "direct",
    "indirect_treated",
    "indirect_control",
    "direct_treated",
    "direct_control",
    "prop_mediated",
    "mediator_effect",
    "mediator_to_outcome",
)


def _design_spec(model: Any) -> Any:
    """The right-hand-side design of a formula model (patsy DesignInfo or formulaic ModelSpec)."""
    spec = getattr(model.data, "model_spec", None) or getattr(model.data, "design_info", None)
    if spec is None:
        raise ValueError("the model was not created from a formula")
    return spec


#: Why a column of the chain table can be constant, said where it is.
_NO_VARIATION = {
    "periods_retained": (
        ": every customer of the cohort stayed for the whole follow-up (nobody churned in it), so retention "
        "cannot be linked to satisfaction"
    ),
    "retained": ": every customer of the cohort stayed for the whole follow-up (nobody churned in it)",
}


def _chain_inputs(
    table: pd.DataFrame,
    treatment: str,
    mediator: str,
    outcome: str,
    mediator_formula: str | None,
    outcome_formula: str | None,
) -> tuple[pd.DataFrame, str, str]:
    """Checked complete rows and the two formulas (defaults filled in) of a chain model.

    The default formulas are ``M ~ X * C(segment) + tenure_years`` and
    ``Y ~ (X + M) * C(segment) + tenure_years`` (without ``tenure_years`` if
    the table has no such column, and without the segment terms when the table has no
    ``segment`` column or a single segment).
    """
    for col in (treatment, mediator, outcome):
        if col not in table.columns:
            raise ValueError(f"table lacks column {col!r}; it has {list(table.columns)}")
    extra = " + tenure_years" if "tenure_years" in table.columns else ""
    segments = "segment" in table.columns and table["segment"].nunique() > 1
    if segments:
        m_default = f"{mediator} ~ {treatment} * C(segment){extra}"
        y_default = f"{outcome} ~ ({treatment} + {mediator}) * C(segment){extra}"
    else:
        m_default = f"{mediator} ~ {treatment}{extra}"
        y_default = f"{outcome} ~ {treatment} + {mediator}{extra}"
    m_formula = mediator_formula or m_default
    y_formula = outcome_formula or y_default
    if "segment" not in table.columns and ("segment" in m_formula or "segment" in y_formula):
        raise ValueError("table lacks column 'segment' used by the model formulas")
    data = table.dropna(subset=[treatment, mediator, outcome]).reset_index(drop=True)
    if len(data) < 30:
        raise NotEstimableError(f"only {len(data)} customers with {treatment}, {mediator} and {outcome}; need 30")
    for col in (treatment, mediator, outcome):
        if not data[col].astype(float).std() > 0:
            raise NotEstimableError(f"column {col!r} has no variation{_NO_VARIATION.get(col, '')}")
    return data, m_formula, y_formula


#: Customers below which the bootstrap intervals of the chain are flagged as unreliable.
FEW_CUSTOMERS = 500
#: Customers per segment below which a segment's own slopes (``C(segment)`` interactions) are flagged.
FEW_PER_SEGMENT = 30
#: Share of the total effect above which the direct effect (the path most exposed to
#: confounding by an unmeasured trait driving both satisfaction and spend) is flagged.
DIRECT_SHARE_FLAG = 0.5
#: Mean reliability of baseline satisfaction below which the calibration is flagged.
LOW_RELIABILITY = 0.5


def _bootstrap_p_values(draws: pd.DataFrame) -> pd.Series:
    """Two-sided bootstrap p-values of "effect = 0", at most 1.

    ``2 * min(1 + draws <= 0, 1 + draws >= 0) / (B + 1)`` (Davison & Hinkley 1997, eq. 4.11): never 0,
    since B draws cannot show a p-value below ``2 / (B + 1)``. NaN when there are no draws, and for the
    proportion mediated, a ratio for which "= 0" is not the question.
    """
    if draws.empty:
        return pd.Series(np.nan, index=draws.columns)
    n = draws.notna().sum()
    below = (1 + (draws <= 0).sum()) / (n + 1)
    above = (1 + (draws >= 0).sum()) / (n + 1)
    p = (2 * np.minimum(below, above)).clip(upper=1.0)
    return p.where(p.index != "prop_mediated")


class ServiceProfitChain(FittedModel):
    """Mediation of the satisfaction -> revenue effect through retention.

    Parameters
    ----------
    alpha : float
        1 - confidence level of the bootstrap intervals.
    delta : float
        Size of the satisfaction increase the effects refer to (points of the csat scale).
    scale : RatingScale, optional
        The csat scale as the data declare it (``CustomerData.scale("csat")``; default 1-10).
        Satisfaction stays on it: the effects are per ``delta`` points of it, and a treatment
        outside it is an error.
    currency : str
        Currency of the money outcomes (``CustomerData.currency``; the ``_usd`` column suffix is
        historic). Labels every money effect.

    Attributes (after :meth:`fit`)
    ------------------------------
    effects_ : Series
        Point estimates: ``total, indirect, direct`` (averages of the treated
        and control versions), ``indirect_treated, indirect_control,
        direct_treated, direct_control, prop_mediated``, ``mediator_effect``
        (periods retained per ``delta`` points: the a-path) and
        ``mediator_to_outcome`` (money per period retained: the b-path).
    params_ : Series
        The same as ``effects_`` (the name every model of the toolkit shares).
    standard_errors_ : Series
        Bootstrap standard deviations of the effects.
    cov_params_ : DataFrame
        Bootstrap covariance of the effects.
    confidence_intervals_ : DataFrame
        Percentile bootstrap intervals (``ci_lower``, ``ci_upper``) of ``effects_``.
    p_values_ : Series
        Two-sided bootstrap p-values of ``effect = 0``:
        ``2 * min(share of draws < 0, share of draws > 0)`` (at most 1; 0 means no draw
        crossed 0, i.e. ``p < 2 / n_boot``).
    boot_effects_ : DataFrame
        Bootstrap draws (rows) of the effects.
    mediator_result_, outcome_result_ : statsmodels results
        The two OLS fits (HC1 standard errors).
    diagnostics_ : list of Diagnostic
        ``"few_customers"`` (fewer than :data:`FEW_CUSTOMERS` customers, or a segment with
        fewer than :data:`FEW_PER_SEGMENT`), ``"assumption"`` (the direct effect is more than
        :data:`DIRECT_SHARE_FLAG` of the total, or the mean reliability of baseline
        satisfaction is below :data:`LOW_RELIABILITY`), ``"dropped_rows"`` (rows without
        treatment, mediator or outcome), ``"imprecise"`` (an effect's standard error more than
        :data:`IMPRECISE_SE_RATIO` times its size), ``"no_bootstrap"`` (``n_boot=0``).
    summary : DataFrame
        One row per effect (index ``effect``): ``coef`` (the estimate), ``se`` (bootstrap
        SD), ``ci_lower, ci_upper`` (bootstrap percentile interval), ``p_value``
        (bootstrap, see ``p_values_``), ``unit``.
    """

    _fitted_attribute = "effects_"

    def __init__(
        self,
        alpha: float = 0.05,
        delta: float = 1.0,
        *,
        scale: RatingScale | None = None,
        currency: str = "USD",
    ) -> None:
        super().__init__(alpha=alpha)
        if not delta > 0:
            raise ValueError("delta must be positive")
        if scale is not None and not isinstance(scale, RatingScale):
            raise TypeError(f"scale must be a bsc_toolkit.contracts.RatingScale, not {type(scale).__name__}")
        self.delta = float(delta)
        self.scale = scale if scale is not None else RatingScale()
        self.currency = str(currency)

    @property
    def unit(self) -> str:
        """What the satisfaction effects are per: ``"per 1 csat point (1-10)"``."""
        d = self.delta
        return f"per {d:g} csat point{'s' if d != 1 else ''} ({self.scale.label})"

    def fit(
        self,
        table: pd.DataFrame,
        treatment: str = "csat_calibrated",
        mediator: str = "periods_retained",
        outcome: str = "revenue_usd",
        mediator_formula: str | None = None,
        outcome_formula: str | None = None,
        n_boot: int = 500,
        seed: int | None = 0,
    ) -> ServiceProfitChain:
        """Fit the mediator and outcome models and bootstrap the effects.

        Parameters
        ----------
        table : DataFrame
            One row per customer, e.g. from :func:`customer_chain_table`.
        treatment, mediator, outcome : str
            Column names of X, M and Y.
        mediator_formula, outcome_formula : str, optional
            statsmodels formulas overriding the defaults
            ``M ~ X * C(segment) + tenure_years`` and
            ``Y ~ (X + M) * C(segment) + tenure_years``.
            The outcome formula must be linear in the mediator.
        n_boot : int
            Bootstrap draws (customers resampled); 0 skips the intervals.
        seed : int or None
            Seed of the bootstrap.

        Returns
        -------
        ServiceProfitChain
            ``self``, fitted.
        """
        self._start_fit()
        data, m_formula, y_formula = _chain_inputs(
            table, treatment, mediator, outcome, mediator_formula, outcome_formula
        )
        x = data[treatment].astype(float)
        if x.min() < self.scale.low - 1e-9 or x.max() > self.scale.high + 1e-9:
            raise ValueError(
                f"{treatment} runs from {x.min():g} to {x.max():g}, outside the declared csat scale "
                f"{self.scale.label}: pass the data's scale (scale=CustomerData.scale('csat'))"
            )
        self.mediator_result_ = smf.ols(m_formula, data=data).fit(cov_type="HC1")
        self.outcome_result_ = smf.ols(y_formula, data=data).fit(cov_type="HC1")
        m_info = _design_spec(self.mediator_result_.model)
        y_info = _design_spec(self.outcome_result_.model)
        n = len(data)
        d = self.delta

        def design(info: Any, frame: pd.DataFrame) -> np.ndarray:
            if isinstance(info, patsy.DesignInfo):
                return np.asarray(patsy.dmatrix(info, frame, return_type="matrix"))
            return np.asarray(info.get_model_matrix(frame))  # formulaic ModelSpec

        shifted = data.assign(**{treatment: data[treatment] + d})
        dm0, dm1 = design(m_info, data), design(m_info, shifted)
        ys = {}
        for tx, frame in ((0, data), (1, shifted)):
            for mv in (0.0, 1.0, 2.0):
                ys[tx, mv] = design(y_info, frame.assign(**{mediator: mv}))
        for tx in (0, 1):
            if not np.allclose(ys[tx, 2.0] - ys[tx, 1.0], ys[tx, 1.0] - ys[tx, 0.0]):
                raise ValueError(f"the outcome formula must be linear in the mediator {mediator!r}")
        ym = np.asarray(self.mediator_result_.model.endog)
        yy = np.asarray(self.outcome_result_.model.endog)
        xm = np.asarray(self.mediator_result_.model.exog)
        xy = np.asarray(self.outcome_result_.model.exog)
        if len(ym) != n or len(yy) != n:
            raise ValueError("the formulas drop rows (missing values in a control); drop them first")
        y_base = {tx: ys[tx, 0.0] for tx in (0, 1)}
        y_slope = {tx: ys[tx, 1.0] - ys[tx, 0.0] for tx in (0, 1)}

        def effects(alpha_m: np.ndarray, beta_y: np.ndarray, w: np.ndarray) -> np.ndarray:
            m0, m1 = dm0 @ alpha_m, dm1 @ alpha_m
            base = {tx: y_base[tx] @ beta_y for tx in (0, 1)}
            slope = {tx: y_slope[tx] @ beta_y for tx in (0, 1)}

            def mean(v: np.ndarray) -> float:
                return float(w @ v / w.sum())

            def yhat(tx: int, m: np.ndarray) -> np.ndarray:
                return base[tx] + slope[tx] * m

            y00, y01, y10, y11 = yhat(0, m0), yhat(0, m1), yhat(1, m0), yhat(1, m1)
            total = mean(y11 - y00)
            ind_t, ind_c = mean(y11 - y10), mean(y01 - y00)
            dir_t, dir_c = mean(y11 - y01), mean(y10 - y00)
            ind, dire = (ind_t + ind_c) / 2, (dir_t + dir_c) / 2
            prop = ind / total if total != 0 else np.nan
            b = mean((slope[0] + slope[1]) / 2)
            return np.array([total, ind, dire, ind_t, ind_c, dir_t, dir_c, prop, mean(m1 - m0), b])

        def wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
            xw = x * w[:, None]
            return np.linalg.lstsq(xw.T @ x, xw.T @ y, rcond=None)[0]

        ones = np.ones(n)
        estimates = pd.Series(
            effects(self.mediator_result_.params.to_numpy(), self.outcome_result_.params.to_numpy(), ones),
            index=list(_EFFECTS),
        )
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(n_boot):
            w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)  # customers resampled
            draws.append(effects(wls(xm, ym, w), wls(xy, yy, w), w))
        self.boot_effects_ = pd.DataFrame(np.array(draws).reshape(-1, len(_EFFECTS)), columns=list(_EFFECTS))
        # no draws (n_boot=0): the quantiles, SDs and p-values are NaN
        ci = self.boot_effects_.quantile([self.alpha / 2, 1 - self.alpha / 2]).T
        ci.columns = ["ci_lower", "ci_upper"]
        ci.index.name = "effect"
        self.confidence_intervals_ = ci
        self.standard_errors_ = self.boot_effects_.std().reindex(estimates.index).rename("se")
        self.cov_params_ = (
            self.boot_effects_.cov()
            if n_boot > 1
            else pd.DataFrame(np.nan, index=estimates.index, columns=estimates.index)
        )
        self.p_values_ = _bootstrap_p_values(self.boot_effects_).reindex(estimates.index).rename("p_value")
        self.treatment_, self.mediator_, self.outcome_ = treatment, mediator, outcome
        self.formulas_ = {"mediator": m_formula, "outcome": y_formula}
        self.n_obs_ = n
        self.n_boot_ = int(n_boot)

        money = self.currency if outcome.endswith("_usd") else outcome
        per = self.unit
        units = {
            "prop_mediated": "share of total",
            "mediator_effect": f"{mediator} {per}",
            "mediator_to_outcome": f"{money} per unit of {mediator}",
        }
        self.units_ = pd.Series({e: units.get(e, f"{money} {per}") for e in _EFFECTS}, name="unit")
        self._diagnose_fit(table, data, estimates, m_formula, y_formula)
        self.params_ = estimates
        self.effects_ = estimates
        return self

    def _diagnose_fit(
        self, table: pd.DataFrame, data: pd.DataFrame, e: pd.Series, m_formula: str, y_formula: str
    ) -> None:
        """What the data shows that a reader of the effects must know (see ``diagnostics_``)."""
        n, t, m, y = len(data), self.treatment_, self.mediator_, self.outcome_
        dropped = len(table) - n
        if dropped:
            self._diagnose(
                "dropped_rows",
                f"{dropped:,} of {len(table):,} customers lack {t}, {m} or {y} and were left out of the chain.",
                "info",
            )
        if n < FEW_CUSTOMERS:
            self._diagnose(
                "few_customers",
                f"Only {n:,} customers in the chain (fewer than {FEW_CUSTOMERS}): the bootstrap intervals of "
                "the direct, indirect and total effects are wide and their coverage is less reliable.",
            )
        if "segment" in data.columns and ("segment" in m_formula or "segment" in y_formula):
            counts = data["segment"].value_counts()
            small = counts[counts < FEW_PER_SEGMENT]
            if len(small):
                listed = ", ".join(f"{s} ({c})" for s, c in small.items())
                self._diagnose(
                    "few_customers",
                    f"Segment(s) with fewer than {FEW_PER_SEGMENT} customers: {listed}. The models give each "
                    "segment its own slopes, so those segments' effects rest on very few customers.",
                )
        total, direct = e["total"], e["direct"]
        if np.isfinite(total) and total != 0 and np.isfinite(direct):
            share = direct / total
            if share > DIRECT_SHARE_FLAG:
                self._diagnose(
                    "assumption",
                    f"The direct effect of {t} on {y} is {share:.0%} of the total effect: most of the estimated "
                    f"effect does not run through {m}. The direct path is the one an unmeasured customer trait "
                    "raising both satisfaction and spend would bias, so it is causal only if no such confounder "
                    "exists; a within-customer (fixed-effects) model of spend is the more robust check.",
                )
        if "reliability" in data.columns:
            rel = float(data["reliability"].mean())
            if np.isfinite(rel) and rel < LOW_RELIABILITY:
                self._diagnose(
                    "assumption",
                    f"The mean reliability of baseline satisfaction is {rel:.2f} (below {LOW_RELIABILITY}): most "
                    "of its variation between customers is survey noise. The regression calibration corrects the "
                    "attenuation only if the noise is classical (independent, constant variance), and the "
                    "intervals ignore the uncertainty of the reliability.",
                )
        ratio = (self.standard_errors_ / e.abs()).drop("prop_mediated")
        for effect in ratio.index[(ratio > IMPRECISE_SE_RATIO).to_numpy()]:
            self._diagnose(
                "imprecise",
                f"The {effect.replace('_', ' ')} ({e[effect]:,.3g} {self.units_[effect]}) has a bootstrap standard "
                f"error {ratio[effect]:,.0f} times its size: these data do not determine it.",
            )
        if self.n_boot_ == 0:
            self._diagnose(
                "no_bootstrap",
                "No bootstrap draws (n_boot=0): the effects have no standard errors, intervals or p-values.",
                "info",
            )

    def _summary(self) -> pd.DataFrame:
        out = pd.DataFrame(
            {
                "coef": self.effects_,
                "se": self.standard_errors_,
                "ci_lower": self.confidence_intervals_["ci_lower"],
                "ci_upper": self.confidence_intervals_["ci_upper"],
                "p_value": self.p_values_,
                "unit": self.units_,
            },
            index=pd.Index(list(_EFFECTS), name="effect"),
        )
        return out

    def summary_text(self) -> str:
        """Readable summary for notebooks and logs."""
        self._check_fitted()
        level = int(round(100 * (1 - self.alpha)))
        head = (
            f"Service-profit chain: {self.treatment_} -> {self.mediator_} -> {self.outcome_} "
            f"({self.n_obs_} customers; {level}% bootstrap CIs)\n"
            f"  mediator model: {self.formulas_['mediator']}\n  outcome model:  {self.formulas_['outcome']}\n"
        )
        table = self.summary
        text = head + table.to_string(float_format=lambda v: f"{v:,.3f}", na_rep="-")
        if table.drop(columns="unit").isna().any().any():
            only_ratio = table.drop(index="prop_mediated").drop(columns="unit").notna().all().all()
            text += (
                "\n  -: not tested (the proportion mediated is a ratio: '= 0' is not its question)"
                if only_ratio
                else "\n  -: not computed (see the diagnostics)"
            )
        return text


def mediation_reference(
    table: pd.DataFrame,
    treatment: str = "csat_calibrated",
    mediator: str = "periods_retained",
    outcome: str = "revenue_usd",
    mediator_formula: str | None = None,
    outcome_formula: str | None = None,
    n_rep: int = 200,
    seed: int | None = 0,
    method: str = "parametric",
) -> pd.DataFrame:
    """statsmodels' ``Mediation`` on the same models, as a reference implementation.

    ``Mediation`` sets the treatment to 1 ("treated") and 0 ("control") for
    every customer, so with models linear in the treatment its effects are the
    effects of one csat point, comparable to :class:`ServiceProfitChain` with
    ``delta=1``.

    Parameters
    ----------
    table, treatment, mediator, outcome, mediator_formula, outcome_formula
        As in :meth:`ServiceProfitChain.fit` (same checks, rows and default formulas).
    n_rep : int
        Simulation draws of ``Mediation``.
    seed : int or None
        Seed of the draws.
    method : {"parametric", "bootstrap"}
        ``Mediation.fit`` method.

    Returns
    -------
    DataFrame
        statsmodels' summary (index ``ACME (control)``, ..., ``Total effect``,
        ``Prop. mediated (average)``; columns ``Estimate, Lower CI bound,
        Upper CI bound, P-value``).
    """
    from statsmodels.stats.mediation import Mediation

    data, m_formula, y_formula = _chain_inputs(table, treatment, mediator, outcome, mediator_formula, outcome_formula)
    med = smf.ols(m_formula, data=data)
    out = smf.ols(y_formula, data=data)
    res = Mediation(out, med, treatment, mediator).fit(method=method, n_rep=n_rep, rng=seed)
    return res.summary()
