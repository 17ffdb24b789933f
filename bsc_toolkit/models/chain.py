"""The service-profit chain: satisfaction -> retention -> revenue, as a mediation model.

At the customer level, satisfaction (the treatment ``X``: the customer's
satisfaction level measured in a baseline period, regression-calibrated for
survey noise) can raise follow-up revenue (the outcome ``Y``) in two ways:
**indirectly**, because satisfied customers stay longer (the mediator ``M``:
periods retained in the follow-up), and **directly**, because satisfied
customers spend more per period. See :func:`customer_chain_table`. :class:`ServiceProfitChain` fits two regressions
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

in USD per ``delta`` csat points, with cluster (customer) bootstrap percentile
intervals. With linear models this is the product-of-coefficients estimator
generalised to interactions; :func:`mediation_reference` runs statsmodels'
``Mediation`` (Imai, Keele & Tingley 2010) on the same models for comparison.

Causal reading needs *sequential ignorability*: no unmeasured confounder of
satisfaction and revenue, or of retention and revenue. A customer trait that
raises both satisfaction and spend (present in the simulator) biases the direct
effect upward; :func:`simulated_chain_effects` gives the true effects of the
simulator for checking.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import patsy
import statsmodels.formula.api as smf

from bsc_toolkit.data.simulate import Truth, simulate
from bsc_toolkit.panel import customer_periods

if TYPE_CHECKING:
    from bsc_toolkit.models.drivers import DriverImportance

__all__ = [
    "customer_chain_table",
    "ServiceProfitChain",
    "mediation_reference",
    "simulated_chain_effects",
    "chain_link_strengths",
    "link_strengths_table",
]

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


def customer_chain_table(
    customers: pd.DataFrame,
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    freq: str = "Q",
    baseline_periods: int = 2,
) -> pd.DataFrame:
    """One row per customer: baseline satisfaction, then retention and revenue in the follow-up.

    The window is split in time so that cause precedes effect: satisfaction is
    measured in the first ``baseline_periods`` periods (the baseline), retention
    and revenue in the remaining periods (the follow-up). The cohort is the
    customers active at the window start, still active at the start of the
    follow-up, with at least one baseline survey.

    The baseline mean of a few surveys is a noisy measure of the customer's
    satisfaction level (period-to-period noise), which would attenuate every
    effect of satisfaction. ``csat_calibrated`` is the regression-calibration
    estimate of the level, E[level | baseline mean, segment]: the baseline mean
    shrunk towards the segment mean by the reliability
    ``var(level) / (var(level) + var(noise) / n_surveys)``, with the noise
    variance estimated from the repeated surveys of the cohort's customers
    (pooled within-customer variance over the whole window).

    Parameters
    ----------
    customers, surveys, transactions : DataFrame
        Tables following the data contracts.
    freq : str
        Period frequency of the panel (quarters by default).
    baseline_periods : int
        Number of periods in the baseline; at least one period must remain.

    Returns
    -------
    DataFrame
        ``customer_id, segment, tenure_years`` (at the follow-up start),
        ``n_surveys`` (baseline), ``csat`` (baseline mean), ``reliability``,
        ``csat_calibrated``, ``periods_retained`` (time active in the follow-up,
        in periods), ``retained`` (active at the window end), ``revenue_usd,
        margin_usd, n_orders`` (follow-up totals). ``attrs`` hold
        ``noise_var``, ``level_var`` and the baseline/follow-up periods.
    """
    if baseline_periods < 1:
        raise ValueError("baseline_periods must be at least 1")
    panel = customer_periods(customers, surveys, transactions, freq=freq)
    if panel.empty:
        raise ValueError("the customer-period panel is empty")
    periods = pd.PeriodIndex(panel["period"])
    ordinal = periods.asi8
    first, last = ordinal.min(), ordinal.max()
    if last - first + 1 <= baseline_periods:
        raise ValueError(
            f"the window has {last - first + 1} periods; baseline_periods={baseline_periods} leaves no follow-up"
        )
    churned_at = pd.to_datetime(customers.set_index("customer_id")["churned_at"])
    p_start, p_end = periods.start_time, periods.end_time + pd.Timedelta(1, "ns")
    length = ((p_end - p_start) / pd.Timedelta(1, "D")).to_numpy()
    churn_day = pd.DatetimeIndex(churned_at.reindex(panel["customer_id"]).to_numpy())
    lost = np.where(
        panel["churned"].to_numpy(), ((p_end - churn_day) / pd.Timedelta(1, "D")).to_numpy() / length, 0.0
    )
    active = np.clip(panel["at_risk_fraction"].to_numpy() - np.nan_to_num(lost), 0.0, 1.0)
    work = panel.assign(_active=active, _i=ordinal - first)
    if "segment" not in work:
        work["segment"] = "all"
    starters = work.loc[work["_i"] == 0, "customer_id"]
    followers = work.loc[work["_i"] == baseline_periods, "customer_id"]
    cohort = work[work["customer_id"].isin(starters) & work["customer_id"].isin(followers)]
    base = cohort[cohort["_i"] < baseline_periods].groupby("customer_id")
    follow = cohort[cohort["_i"] >= baseline_periods].groupby("customer_id")
    out = pd.DataFrame(
        {
            "segment": follow["segment"].first(),
            "tenure_years": follow["tenure_years"].first(),
            "n_surveys": base["surveyed"].sum().astype(np.int64),
            "csat": base["csat"].mean(),
            "periods_retained": follow["_active"].sum(),
            "retained": ~follow["churned"].any(),
            "revenue_usd": follow["revenue_usd"].sum(),
            "margin_usd": follow["margin_usd"].sum(),
            "n_orders": follow["n_orders"].sum(),
        }
    )
    out = out[out["n_surveys"] > 0]
    if len(out) < 30:
        raise ValueError(f"only {len(out)} customers in the cohort (active at the start, surveyed in the baseline)")
    # noise variance: pooled within-customer variance of csat over the window
    rated = cohort.dropna(subset=["csat"])
    dev = rated["csat"] - rated.groupby("customer_id")["csat"].transform("mean")
    dof = (rated.groupby("customer_id")["csat"].count() - 1).clip(lower=0).sum()
    noise_var = float((dev**2).sum() / dof) if dof > 0 else 0.0
    seg_mean = out.groupby("segment")["csat"].transform("mean")
    level_var = float(((out["csat"] - seg_mean) ** 2).mean() - (noise_var / out["n_surveys"]).mean())
    level_var = max(level_var, 1e-9)
    out["reliability"] = level_var / (level_var + noise_var / out["n_surveys"])
    out["csat_calibrated"] = seg_mean + out["reliability"] * (out["csat"] - seg_mean)
    out = out.reset_index()
    cols = ["customer_id", "segment", "tenure_years", "n_surveys", "csat", "reliability", "csat_calibrated",
            "periods_retained", "retained", "revenue_usd", "margin_usd", "n_orders"]
    out = out[cols]
    out.attrs.update(
        noise_var=noise_var,
        level_var=level_var,
        baseline=(str(pd.Period(ordinal=first, freq=freq)), str(pd.Period(ordinal=first + baseline_periods - 1, freq=freq))),
        follow_up=(str(pd.Period(ordinal=first + baseline_periods, freq=freq)), str(pd.Period(ordinal=last, freq=freq))),
    )
    return out


def _design_spec(model: Any) -> Any:
    """The right-hand-side design of a formula model (patsy DesignInfo or formulaic ModelSpec)."""
    spec = getattr(model.data, "model_spec", None) or getattr(model.data, "design_info", None)
    if spec is None:
        raise ValueError("the model was not created from a formula")
    return spec


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
    the table has no such column).
    """
    for col in (treatment, mediator, outcome):
        if col not in table.columns:
            raise ValueError(f"table lacks column {col!r}; it has {list(table.columns)}")
    extra = " + tenure_years" if "tenure_years" in table.columns else ""
    m_formula = mediator_formula or f"{mediator} ~ {treatment} * C(segment){extra}"
    y_formula = outcome_formula or f"{outcome} ~ ({treatment} + {mediator}) * C(segment){extra}"
    if "segment" not in table.columns and ("segment" in m_formula or "segment" in y_formula):
        raise ValueError("table lacks column 'segment' used by the model formulas")
    data = table.dropna(subset=[treatment, mediator, outcome]).reset_index(drop=True)
    if len(data) < 30:
        raise ValueError(f"only {len(data)} customers with {treatment}, {mediator} and {outcome}; need 30")
    for col in (treatment, mediator, outcome):
        if not data[col].astype(float).std() > 0:
            raise ValueError(f"column {col!r} has no variation")
    return data, m_formula, y_formula


class ServiceProfitChain:
    """Mediation of the satisfaction -> revenue effect through retention.

    Parameters
    ----------
    alpha : float
        1 - confidence level of the bootstrap intervals.
    delta : float
        Size of the satisfaction increase the effects refer to (csat points).

    Attributes (after :meth:`fit`)
    ------------------------------
    effects_ : Series
        Point estimates: ``total, indirect, direct`` (averages of the treated
        and control versions), ``indirect_treated, indirect_control,
        direct_treated, direct_control, prop_mediated``, ``mediator_effect``
        (periods retained per ``delta`` points: the a-path) and
        ``mediator_to_outcome`` (USD per period retained: the b-path).
    confidence_intervals_ : DataFrame
        Percentile bootstrap intervals (``lower``, ``upper``) of ``effects_``.
    boot_effects_ : DataFrame
        Bootstrap draws (rows) of the effects.
    mediator_result_, outcome_result_ : statsmodels results
        The two OLS fits (HC1 standard errors).
    summary : DataFrame
        Tidy table: ``effect, estimate, ci_low, ci_high, unit``.
    """

    def __init__(self, alpha: float = 0.05, delta: float = 1.0) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if not delta > 0:
            raise ValueError("delta must be positive")
        self.alpha = alpha
        self.delta = float(delta)

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
    ) -> "ServiceProfitChain":
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
        data, m_formula, y_formula = _chain_inputs(
            table, treatment, mediator, outcome, mediator_formula, outcome_formula
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
        self.effects_ = pd.Series(
            effects(self.mediator_result_.params.to_numpy(), self.outcome_result_.params.to_numpy(), ones),
            index=list(_EFFECTS),
        )
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(n_boot):
            w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)  # customers resampled
            draws.append(effects(wls(xm, ym, w), wls(xy, yy, w), w))
        self.boot_effects_ = pd.DataFrame(np.array(draws).reshape(-1, len(_EFFECTS)), columns=list(_EFFECTS))
        # no draws (n_boot=0): the quantiles are NaN
        ci = self.boot_effects_.quantile([self.alpha / 2, 1 - self.alpha / 2]).T
        ci.columns = ["lower", "upper"]
        self.confidence_intervals_ = ci
        self.treatment_, self.mediator_, self.outcome_ = treatment, mediator, outcome
        self.formulas_ = {"mediator": m_formula, "outcome": y_formula}
        self.n_obs_ = n

        money = "USD" if outcome.endswith("_usd") else outcome
        per = f"per {d:g} csat point{'s' if d != 1 else ''}"
        units = {
            "prop_mediated": "share of total",
            "mediator_effect": f"{mediator} {per}",
            "mediator_to_outcome": f"{money} per unit of {mediator}",
        }
        self.summary = pd.DataFrame(
            {
                "effect": list(_EFFECTS),
                "estimate": self.effects_.to_numpy(),
                "ci_low": ci["lower"].to_numpy(),
                "ci_high": ci["upper"].to_numpy(),
                "unit": [units.get(e, f"{money} {per}") for e in _EFFECTS],
            }
        )
        return self

    def summary_text(self) -> str:
        """Readable summary for notebooks and logs."""
        if not hasattr(self, "summary"):
            raise RuntimeError("ServiceProfitChain is not fitted; call .fit(table) first")
        level = int(round(100 * (1 - self.alpha)))
        head = (
            f"Service-profit chain: {self.treatment_} -> {self.mediator_} -> {self.outcome_} "
            f"({self.n_obs_} customers; {level}% bootstrap CIs)\n"
            f"  mediator model: {self.formulas_['mediator']}\n  outcome model:  {self.formulas_['outcome']}\n"
        )
        table = self.summary.set_index("effect")
        return head + table.to_string(float_format=lambda v: f"{v:,.3f}")


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

    data, m_formula, y_formula = _chain_inputs(
        table, treatment, mediator, outcome, mediator_formula, outcome_formula
    )
    med = smf.ols(m_formula, data=data)
    out = smf.ols(y_formula, data=data)
    res = Mediation(out, med, treatment, mediator).fit(method=method, n_rep=n_rep, rng=seed)
    return res.summary()


def simulated_chain_effects(
    truth: Truth | None = None,
    n_customers: int = 20000,
    n_periods: int = 8,
    baseline_periods: int = 2,
    seed: int = 12345,
    delta: float = 1.0,
    outcome: str = "revenue_usd",
    centered: bool = True,
    **simulate_kwargs: Any,
) -> pd.Series:
    """True chain effects of the simulator, in expectation, for checking estimates.

    The estimand matches :func:`customer_chain_table` and
    :class:`ServiceProfitChain`: among customers active at the window start
    and still active at the start of the follow-up, raise every customer's
    satisfaction by ``delta`` points in every follow-up period (holding the
    driver ratings, the unobserved trait and everything else fixed) and
    average the change in expected follow-up revenue (or margin) -- in total,
    through the churn hazard only (indirect) and through spend only (direct) --
    and in expected periods retained (``mediator_effect``).

    The expectations are exact (closed form over the constant-hazard periods)
    given each customer's simulated satisfaction path, taken from a simulation
    with churn switched off so that every path is known for the whole window;
    customers are weighted by their true probability of surviving the baseline.

    Parameters
    ----------
    truth : Truth, optional
        Generating parameters (default ``Truth()``).
    n_customers, n_periods, seed, **simulate_kwargs
        Passed to :func:`~bsc_toolkit.data.simulate.simulate`; a large
        ``n_customers`` makes the population average precise.
    baseline_periods : int
        Periods in the baseline (as in :func:`customer_chain_table`).
    delta : float
        Satisfaction increase in csat points.
    outcome : {"revenue_usd", "margin_usd"}
        Outcome whose expected follow-up total is compared.
    centered : bool
        Compare satisfaction ``delta / 2`` above with ``delta / 2`` below the
        actual level (default) rather than ``delta`` above with the actual
        level. Observed csat is an integer and the true effects have a kink at
        the integer ``Truth.csat_knot``, so a one-sided shift from the integer
        levels picks only the flat (or only the steep) side of the kink for the
        many customers sitting at the knot; the centred contrast is what a
        linear regression on a continuous satisfaction level estimates.

    Returns
    -------
    Series
        ``total, indirect, direct, indirect_treated, indirect_control,
        direct_treated, direct_control, prop_mediated, mediator_effect,
        mean_outcome, mean_mediator``.
    """
    if outcome not in {"revenue_usd", "margin_usd"}:
        raise ValueError(f"outcome must be 'revenue_usd' or 'margin_usd', not {outcome!r}")
    truth = truth or Truth()
    sim = simulate(
        n_customers, n_periods=n_periods, seed=seed, truth=replace(truth, churn_base_log_hazard=-60.0), **simulate_kwargs
    )
    lat = sim.latent.sort_values(["customer_id", "period"], ignore_index=True)
    first = lat["period"].min()
    starters = lat.loc[lat["period"] == first, "customer_id"]
    lat = lat[lat["customer_id"].isin(starters)].reset_index(drop=True)
    t_index = (pd.PeriodIndex(lat["period"]).asi8 - first.ordinal).astype(int)
    seg = lat["segment"].to_numpy()
    c = lat["csat"].to_numpy(float)
    ten = lat["tenure_years"].to_numpy()
    r = lat["at_risk_fraction"].to_numpy()
    codes = pd.factorize(lat["customer_id"])[0]
    follow = t_index >= baseline_periods
    sigma = truth.spend_heterogeneity_sd

    def per_segment(values: dict[str, float]) -> np.ndarray:
        return lat["segment"].map(values).to_numpy(float)

    orders = per_segment(truth.orders_per_period) * np.exp(sigma * lat["trait"].to_numpy() - 0.5 * sigma**2)
    value = per_segment(truth.order_value_usd)
    if outcome == "margin_usd":
        value = value * (1 - per_segment(truth.cogs_ratio)) - per_segment(truth.serve_cost_per_order_usd)
    # weight: true probability of surviving the baseline
    hr0 = np.exp(truth.churn_log_hazard(c, seg, ten)) * r
    weight = np.exp(-np.bincount(codes, np.where(follow, 0.0, hr0)))

    def expected(dm: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
        h = np.exp(truth.churn_log_hazard(c + dm, seg, ten))
        hr = np.where(follow, h * r, 0.0)
        cum = pd.Series(hr).groupby(codes).cumsum().to_numpy() - hr  # follow-up hazard before the period
        active = np.where(follow, np.exp(-cum) * -np.expm1(-hr) / h, 0.0)
        y = active * orders * np.exp(truth.spend_log_effect(c + dy)) * value
        return np.bincount(codes, y), np.bincount(codes, active)

    # y{dm}{dy}: the hazard sees csat + dm, spend sees csat + dy
    lo, hi = (-delta / 2, delta / 2) if centered else (0.0, delta)
    actual = expected(0.0, 0.0)
    (y00, m0), (y01, _), (y10, m1), (y11, _) = (expected(lo, lo), expected(lo, hi), expected(hi, lo), expected(hi, hi))

    def mean(v: np.ndarray) -> float:
        return float(weight @ v / weight.sum())

    total = mean(y11 - y00)
    ind_t, ind_c = mean(y11 - y01), mean(y10 - y00)
    dir_t, dir_c = mean(y11 - y10), mean(y01 - y00)
    ind, dire = (ind_t + ind_c) / 2, (dir_t + dir_c) / 2
    return pd.Series(
        {
            "total": total,
            "indirect": ind,
            "direct": dire,
            "indirect_treated": ind_t,
            "indirect_control": ind_c,
            "direct_treated": dir_t,
            "direct_control": dir_c,
            "prop_mediated": ind / total,
            "mediator_effect": mean(m1 - m0),
            "mean_outcome": mean(actual[0]),
            "mean_mediator": mean(actual[1]),
        },
        name="truth",
    )


def chain_link_strengths(
    data: Any,
    freq: str = "Q",
    outcome: str = "revenue_usd",
    baseline_periods: int = 2,
    n_boot: int = 200,
    seed: int | None = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Strengths of the links of the service-profit chain, for labelling a strategy map.

    Fits :class:`~bsc_toolkit.models.drivers.DriverImportance` on the surveys
    and :class:`ServiceProfitChain` on :func:`customer_chain_table`, then
    tabulates both with :func:`link_strengths_table` (call that directly to
    reuse models already fitted).

    Parameters
    ----------
    data : object with ``customers``, ``surveys``, ``transactions``
        E.g. the result of ``load_dataset`` or ``simulate``.
    freq, baseline_periods
        See :func:`customer_chain_table`.
    outcome : {"revenue_usd", "margin_usd"}
        Financial outcome at the end of the chain.
    n_boot, seed, alpha
        Bootstrap settings of both analyses.

    Returns
    -------
    DataFrame
        See :func:`link_strengths_table`.
    """
    from bsc_toolkit.models.drivers import DriverImportance

    for name in ("customers", "surveys", "transactions"):
        if not hasattr(data, name):
            raise ValueError(f"data lacks the {name!r} table")
    drivers = DriverImportance(alpha=alpha).fit(data.surveys, n_boot=n_boot, seed=seed)
    table = customer_chain_table(data.customers, data.surveys, data.transactions, freq=freq, baseline_periods=baseline_periods)
    chain = ServiceProfitChain(alpha=alpha).fit(table, outcome=outcome, n_boot=n_boot, seed=seed)
    return link_strengths_table(drivers, chain, freq=freq)


def link_strengths_table(drivers: DriverImportance, chain: ServiceProfitChain, freq: str = "Q") -> pd.DataFrame:
    """Link strengths of the service-profit chain from a fitted driver analysis and a fitted chain.

    Parameters
    ----------
    drivers : DriverImportance
        Fitted on the surveys (drivers -> satisfaction).
    chain : ServiceProfitChain
        Fitted on :func:`customer_chain_table` (satisfaction -> retention ->
        revenue or margin).
    freq : str
        Period frequency of the chain table (labels the retention unit).

    Returns
    -------
    DataFrame
        Columns ``source, target, estimate, ci_low, ci_high, unit, method``;
        sources and targets are objectives: ``"driver ratings"`` ->
        ``"customer satisfaction"`` -> ``"customer retention"`` ->
        ``"revenue"`` (or ``"margin"``), plus the direct link satisfaction ->
        revenue and one row per driver (``"driver ratings: quality"``, ...).
    """
    for name, model in (("drivers", drivers), ("chain", chain)):
        if not hasattr(model, "summary"):
            raise RuntimeError(f"{name} is not fitted; call .fit() first")
    money = "revenue" if chain.outcome_ == "revenue_usd" else "margin"
    per = {"Q": "quarters", "M": "months", "W": "weeks", "Y": "years", "D": "days"}.get(freq, f"{freq} periods")
    measure = "Shapley" if drivers.method == "shapley" else "relative-weight"
    e, ci = chain.effects_, chain.confidence_intervals_
    rows = [
        ("driver ratings", "customer satisfaction", drivers.r2_, *drivers.r2_ci_,
         f"R^2 (share of {drivers.target_} variance)", f"OLS of {drivers.target_} on the driver ratings; cluster bootstrap"),
    ]
    for name, row in drivers.summary.iterrows():
        rows.append(
            (f"driver ratings: {name}", "customer satisfaction", row["coef"], row["coef_ci_low"], row["coef_ci_high"],
             f"{drivers.target_} points per rating point", f"OLS coefficient, cluster-robust CI; {measure} share {row['share']:.2f}")
        )
    rows += [
        ("customer satisfaction", "customer retention", e["mediator_effect"], *ci.loc["mediator_effect"],
         f"{per} retained per csat point", "OLS mediator model (a-path); customer bootstrap"),
        ("customer retention", money, e["mediator_to_outcome"], *ci.loc["mediator_to_outcome"],
         f"USD {money} per {per[:-1] if per.endswith('s') else per} retained", "OLS outcome model (b-path); customer bootstrap"),
        ("customer satisfaction", money, e["direct"], *ci.loc["direct"],
         f"USD {money} per csat point (direct)", "mediation direct effect (ADE); customer bootstrap"),
        ("customer satisfaction", money, e["indirect"], *ci.loc["indirect"],
         f"USD {money} per csat point (via retention)", "mediation indirect effect (ACME); customer bootstrap"),
        ("customer satisfaction", money, e["total"], *ci.loc["total"],
         f"USD {money} per csat point (total)", "mediation total effect; customer bootstrap"),
    ]
    return pd.DataFrame(rows, columns=["source", "target", "estimate", "ci_low", "ci_high", "unit", "method"])
