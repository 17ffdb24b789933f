"""What-if simulator: raise satisfaction -> retention -> money.

:func:`what_if` takes the customers active at the end of the panel, shifts
their latest satisfaction (overall csat, or one driver rating translated into
csat through an OLS of csat on the four drivers), and pushes both scenarios
through the fitted link models:

* churn: the discrete-time cloglog hazard (:class:`~bsc_toolkit.models.retention.DiscreteTimeHazardModel`)
  gives the probability of churning in each period of the horizon (tenure
  grows, satisfaction is held at its latest / shifted value), hence the
  survival curve and the expected number of retained customers;
* spend: PPML with customer fixed effects
  (:class:`~bsc_toolkit.models.financial.FinancialPanelModel`) gives each
  customer's expected revenue per full period at the latest period's level,
  scaled by ``exp(g(csat_new) - g(csat))`` in the scenario; a customer who
  churns mid-period spends for the expected active share
  ``(1 - exp(-h)) / h`` of it. Margin is revenue times the customer's observed
  margin ratio (so satisfaction is assumed to move margin in proportion to
  revenue).

Uncertainty comes from parametric simulation: the churn coefficients and the
spend coefficients of satisfaction are drawn from normal distributions with
the fitted (cluster-robust for spend) covariances; baseline spend levels and
(for a driver) the driver's weight in csat are held at their point estimates
(the weight's standard error, typically ~0.01, is reported in ``settings``). The
intervals are percentile intervals of the simulated changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS, RatingScale
from bsc_toolkit.models._base import Diagnostic, resolve_alpha
from bsc_toolkit.models.drivers import DriverImportance
from bsc_toolkit.models.features import csat_spline
from bsc_toolkit.models.financial import FinancialPanelModel
from bsc_toolkit.models.retention import DiscreteTimeHazardModel

__all__ = ["WhatIfResult", "what_if", "driver_weights", "scenario_population"]

_METRICS = ("retained_customers", "revenue_usd", "margin_usd")


@dataclass(frozen=True)
class WhatIfResult:
    """Outcome of :func:`what_if`.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per metric (``retained_customers`` at the horizon's end,
        ``revenue_usd`` and ``margin_usd`` summed over the horizon) with
        ``baseline, scenario, change, ci_lower, ci_upper`` (totals; the interval is that of
        ``change``) and ``change_per_customer, change_per_customer_ci_lower,
        change_per_customer_ci_upper``; ``retained_customers`` alone when run without money.
    draws : pandas.DataFrame
        Simulated total changes, one row per draw (columns = metrics).
    customers : pandas.DataFrame
        Per customer: csat now and in the scenario, survival to the horizon's
        end and expected revenue/margin over the horizon in both scenarios
        (point estimates).
    settings : dict
        Parameters of the run.
    diagnostics : list of Diagnostic
        The churn and spend models' diagnostics, each message prefixed with the model it concerns:
        the what-if inherits every caveat of the models it runs on.
    """

    summary: pd.DataFrame
    draws: pd.DataFrame
    customers: pd.DataFrame
    settings: dict = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def summary_text(self) -> str:
        """A few sentences stating the what-if and its result with intervals."""
        s = self.settings
        what = (
            f"csat by {s['delta']:+g} point(s)"
            if s["driver"] is None
            else (
                f"the '{s['driver']}' rating by {s['delta']:+g} point(s) (= {s['csat_shift_mean']:+.2f} csat points on average)"
            )
        )
        who = "all segments" if s["segment"] is None else f"segment '{s['segment']}'"
        lvl = round(100 * (1 - s["alpha"]), 1)
        lvl = int(lvl) if float(lvl).is_integer() else lvl
        lines = [
            f"Raising {what} for {s['n_customers']:,} active customers ({who}), over {s['horizon_periods']} "
            f"period(s) ({s['freq']}):"
        ]
        currency = s.get("currency", "USD")
        labels = {
            "retained_customers": "retained customers at the end",
            "revenue_usd": f"revenue ({currency})",
            "margin_usd": f"margin ({currency})",
        }
        for metric, row in self.summary.iterrows():
            lines.append(
                f"  {labels[metric]}: {row['baseline']:,.1f} -> {row['scenario']:,.1f}, change {row['change']:+,.1f} "
                f"({lvl}% interval {row['ci_lower']:+,.1f} to {row['ci_upper']:+,.1f}; per customer "
                f"{row['change_per_customer']:+,.3f})"
            )
        lines.append(f"Intervals: {s['n_sims']} parametric draws of the fitted coefficients (seed {s['seed']}).")
        return "\n".join(lines)


def driver_weights(panel: pd.DataFrame, drivers: Sequence[str] | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """OLS of csat on the driver ratings (surveyed periods).

    The regression of :class:`~bsc_toolkit.models.drivers.DriverImportance`
    (without its bootstrap).

    Parameters
    ----------
    panel : pandas.DataFrame
        Customer-period panel (or surveys table) with ``customer_id``, ``csat``
        and the driver ratings; rows with a missing rating are dropped.
    drivers : sequence of str, optional
        The driver columns (default: whichever of time, quality, service and cost the panel has).

    Returns
    -------
    params : pandas.Series
        Intercept and csat points per driver point.
    cov : pandas.DataFrame
        Covariance (cluster-robust by customer).
    """
    drivers = list(drivers) if drivers is not None else [d for d in DRIVERS if d in panel.columns]
    ols = DriverImportance().fit(panel, target="csat", drivers=drivers, cluster="customer_id", n_boot=0).ols_
    return ols.params, ols.cov_params()


def scenario_population(
    panel: pd.DataFrame, segment: str | None = None, drivers: Sequence[str] | None = None
) -> pd.DataFrame:
    """Customers active at the end of the panel with their latest survey answers.

    Returns one row per customer still active after the panel's last period
    (present in it and not churned), with ``segment``, ``tenure_years`` (at
    the start of the last period) and the latest non-missing ``csat`` and
    driver ratings (customers never surveyed are left out). A panel without a
    ``segment`` column is one segment, ``"all"``.
    """
    if "segment" not in panel.columns:
        if segment is not None:
            raise ValueError(f"segment {segment!r} given, but the panel has no 'segment' column")
        panel = panel.assign(segment="all")
    missing = [
        c for c in ("customer_id", "period", "segment", "tenure_years", "churned", "csat") if c not in panel.columns
    ]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}")
    last = panel["period"].max()
    cur = panel[(panel["period"] == last) & ~panel["churned"].astype(bool)]
    if segment is not None:
        segments = set(panel["segment"])
        if segment not in segments:
            raise ValueError(f"segment {segment!r} not in panel column 'segment' ({sorted(segments)})")
        cur = cur[cur["segment"] == segment]
    drivers = list(drivers) if drivers is not None else list(DRIVERS)
    cols = [c for c in ("csat", *drivers) if c in panel.columns]
    surveyed = panel[panel["csat"].notna() & panel["customer_id"].isin(cur["customer_id"])]
    latest = surveyed.sort_values(["customer_id", "period"]).groupby("customer_id")[cols].last()
    out = cur[["customer_id", "segment", "tenure_years"]].merge(latest, left_on="customer_id", right_index=True)
    if out.empty:
        raise ValueError(
            "no surveyed customers active at the end of the panel" + (f" in segment {segment!r}" if segment else "")
        )
    return out.reset_index(drop=True)


def _sat_index(model: FinancialPanelModel, csat: np.ndarray, params: np.ndarray) -> np.ndarray:
    """g(csat), the spend model's satisfaction part of the log mean.

    ``params`` is ``(k,)`` (returns ``(n,)``) or ``(k, S)`` draws (returns ``(n, S)``).
    """
    below, above = csat_spline(csat, model.knot)
    cols = {"csat_below": below, "csat_above": above, model.csat_col: csat}
    unknown = [c for c in model.sat_terms_ if c not in cols]
    if unknown:
        raise ValueError(f"what_if needs a spend model whose satisfaction terms are csat or its spline, not {unknown}")
    x = np.column_stack([cols[c] for c in model.sat_terms_])
    return x @ params


def what_if(
    panel: pd.DataFrame,
    delta: float = 1.0,
    driver: str | None = None,
    segment: str | None = None,
    horizon_periods: int = 4,
    n_sims: int = 500,
    seed: int = 0,
    knot: float = 7.0,
    churn_model: DiscreteTimeHazardModel | None = None,
    spend_model: FinancialPanelModel | None = None,
    *,
    alpha: float = 0.05,
    scale: tuple[float, float] | RatingScale = (1.0, 10.0),
    level: float | None = None,
    drivers: Sequence[str] | None = None,
    driver_scale: tuple[float, float] | RatingScale | None = None,
    currency: str = "USD",
    money: bool = True,
) -> WhatIfResult:
    """Predict retention and money if satisfaction were ``delta`` points higher.

    Parameters
    ----------
    panel : pandas.DataFrame
        Output of :func:`bsc_toolkit.panel.customer_periods`.
    delta : float
        Points added to csat (``driver=None``) or to the driver rating; the
        shifted rating is clipped to ``scale``.
    driver : str, optional
        Shift one driver rating (one of ``drivers``) instead of csat; translated
        into csat with :func:`driver_weights`.
    segment : str, optional
        Apply the change to (and report on) one segment only.
    horizon_periods : int
        Number of future periods simulated.
    n_sims : int
        Parametric simulation draws for the intervals.
    seed : int
        Seed of the draws.
    knot : float
        Knot of the csat splines of the default models.
    churn_model, spend_model : fitted models, optional
        Default: ``DiscreteTimeHazardModel(link="cloglog", knot=knot)`` and
        ``FinancialPanelModel(estimator="ppml", knot=knot)`` fitted on ``panel``.
    alpha : float
        1 - coverage of the intervals (0.05: 95% intervals).
    scale : (low, high) or RatingScale
        Scale of csat (the shifted csat is clipped to it).
    level : float, optional
        Deprecated: the interval coverage; use ``alpha = 1 - level``.
    drivers : sequence of str, optional
        The data's driver rating columns (default: time, quality, service, cost).
    driver_scale : (low, high) or RatingScale, optional
        Scale of the shifted driver (default: ``scale``).
    currency : str
        Currency of the money figures (labels only).
    money : bool
        False: retention only. No spend model is fitted or used (for data that cannot identify
        one, e.g. no customer surveyed in two periods); the summary and the draws hold
        ``retained_customers`` alone.

    Returns
    -------
    WhatIfResult
    """
    alpha = resolve_alpha(alpha, level, "level", "what_if")
    drivers = tuple(drivers) if drivers is not None else DRIVERS
    if driver is not None and driver not in drivers:
        raise ValueError(f"driver must be None or one of {drivers}, not {driver!r}")
    if horizon_periods < 1:
        raise ValueError("horizon_periods must be at least 1")
    if n_sims < 2:
        raise ValueError("n_sims must be at least 2")
    if churn_model is None:
        churn_model = DiscreteTimeHazardModel(link="cloglog", knot=knot, nonlinearity_test=False).fit(panel)
    if spend_model is None and money:
        spend_model = FinancialPanelModel(estimator="ppml", knot=knot).fit(panel)
    if churn_model.link != "cloglog":
        raise ValueError("what_if needs a cloglog churn model (a hazard per period)")
    if money and spend_model.estimator != "ppml":
        raise ValueError("what_if needs a PPML spend model (a multiplicative csat effect)")
    if churn_model.terms == "drivers" and driver is None:
        raise ValueError("a churn model on driver ratings needs a driver to shift")

    rng = np.random.default_rng(seed)
    pop = scenario_population(panel, segment, drivers)
    lo, hi = _bounds(scale)
    dlo, dhi = _bounds(driver_scale if driver_scale is not None else scale)
    weight_se = None
    if driver is None:
        new_driver = None
        csat_shift = np.full(len(pop), float(delta))
    else:
        pop = pop.dropna(subset=[driver]).reset_index(drop=True)
        w_params, w_cov = driver_weights(panel, [d for d in drivers if d in panel.columns])
        d0 = pop[driver].to_numpy(dtype=float)
        new_driver = np.clip(d0 + delta, dlo, dhi)
        weight_se = float(np.sqrt(w_cov.loc[driver, driver]))
        csat_shift = float(w_params[driver]) * (new_driver - d0)
    n = len(pop)
    csat0 = pop["csat"].to_numpy(dtype=float)
    csat1 = np.clip(csat0 + csat_shift, lo, hi)

    # --- churn design matrices per horizon period --------------------------------------
    last = pd.Period(panel["period"].max())
    per_years = [
        ((last + k + 1).end_time - (last + k).end_time) / pd.Timedelta(365.25, "D") for k in range(horizon_periods + 1)
    ]
    tenure_start = pop["tenure_years"].to_numpy(dtype=float) + np.cumsum(per_years)[:horizon_periods, None]

    def frames(csat: np.ndarray, drv: np.ndarray | None) -> list[np.ndarray]:
        out = []
        for k in range(horizon_periods):
            f = pop.copy()
            f["csat"] = csat
            if drv is not None:
                f[driver] = drv
            f["tenure_years"] = tenure_start[k]
            out.append(churn_model.design_matrix(f))
        return out

    x0 = frames(csat0, None)
    x1 = frames(csat1, new_driver)

    # --- spend levels ----------------------------------------------------------------------
    def sat_index(csat: np.ndarray, params: np.ndarray) -> np.ndarray:
        if not money:  # retention only: no spend, no satisfaction effect on it
            return np.zeros((len(csat), *params.shape[1:]))
        return _sat_index(spend_model, csat, params)

    if money:
        fixed_effect = spend_model.customer_effects_.reindex(pop["customer_id"]).to_numpy()
        missing_alpha = np.isnan(fixed_effect)
        period_eff = float(spend_model.period_effects_.iloc[-1]) if len(spend_model.period_effects_) else 0.0
        b_spend = spend_model.params_[spend_model.sat_terms_].to_numpy()
        with np.errstate(over="ignore"):
            level0 = np.exp(fixed_effect + period_eff + _sat_index(spend_model, csat0, b_spend))
        if missing_alpha.any():  # customers with no usable spend rows: segment mean of the others
            seg_mean = pd.Series(level0[~missing_alpha]).groupby(pop["segment"].to_numpy()[~missing_alpha]).mean()
            level0[missing_alpha] = pop["segment"][missing_alpha].map(seg_mean).fillna(0.0).to_numpy()
        margin_ratio = _margin_ratio(panel, pop)
    else:
        b_spend, level0, margin_ratio = np.zeros(0), np.zeros(n), np.zeros(n)

    def run(beta_churn: np.ndarray, b_sp: np.ndarray):
        """(survival, revenue) per customer for baseline and scenario; coefficients (p,) or (p, S)."""
        g_old = sat_index(csat0, b_sp)
        g_new = sat_index(csat1, b_sp)
        lev = level0 if b_sp.ndim == 1 else level0[:, None]
        res = []
        for xs, rev_full in ((x0, lev), (x1, lev * np.exp(g_new - g_old))):
            surv, revenue = 1.0, 0.0
            for k in range(horizon_periods):
                hz = np.exp(np.clip(xs[k] @ beta_churn, -30, 10))
                revenue = revenue + surv * rev_full * (-np.expm1(-hz) / hz)  # expected active share
                surv = surv * np.exp(-hz)
            res.append((surv, revenue))
        return res

    beta_c = churn_model.params_.to_numpy()
    (s0, r0), (s1, r1) = run(beta_c, b_spend)
    per_customer = pd.DataFrame(
        {
            "customer_id": pop["customer_id"],
            "segment": pop["segment"],
            "csat": csat0,
            "csat_scenario": csat1,
            "survival_baseline": s0,
            "survival_scenario": s1,
            "revenue_baseline_usd": r0,
            "revenue_scenario_usd": r1,
            "margin_baseline_usd": r0 * margin_ratio,
            "margin_scenario_usd": r1 * margin_ratio,
        }
    )
    if not money:  # no spend model: money unknown, not 0
        per_customer = per_customer.drop(columns=[c for c in per_customer.columns if c.endswith("_usd")])

    # parametric simulation, chunked over draws to bound memory
    churn_draws = rng.multivariate_normal(beta_c, churn_model.cov_params_.to_numpy(), n_sims)
    if money:
        names = spend_model.sat_terms_
        spend_draws = rng.multivariate_normal(b_spend, spend_model.cov_params_.loc[names, names].to_numpy(), n_sims)
    else:
        spend_draws = np.zeros((n_sims, 0))
    chunk = max(1, int(5e6 // max(n, 1)))
    changes = []
    for a in range(0, n_sims, chunk):
        sl = slice(a, min(a + chunk, n_sims))
        (s0d, r0d), (s1d, r1d) = run(churn_draws[sl].T, spend_draws[sl].T)
        changes.append(
            np.column_stack(
                [(s1d - s0d).sum(axis=0), (r1d - r0d).sum(axis=0), ((r1d - r0d) * margin_ratio[:, None]).sum(axis=0)]
            )
        )
    metrics = _METRICS if money else _METRICS[:1]
    draws = pd.DataFrame(np.vstack(changes), columns=list(_METRICS))[list(metrics)]

    alpha_tail = alpha / 2
    base = {"retained_customers": s0.sum(), "revenue_usd": r0.sum(), "margin_usd": (r0 * margin_ratio).sum()}
    scen = {"retained_customers": s1.sum(), "revenue_usd": r1.sum(), "margin_usd": (r1 * margin_ratio).sum()}
    rows = []
    for m in metrics:
        lo_q, hi_q = draws[m].quantile([alpha_tail, 1 - alpha_tail])
        change = scen[m] - base[m]
        rows.append(
            {
                "metric": m,
                "baseline": base[m],
                "scenario": scen[m],
                "change": change,
                "ci_lower": lo_q,
                "ci_upper": hi_q,
                "change_per_customer": change / n,
                "change_per_customer_ci_lower": lo_q / n,
                "change_per_customer_ci_upper": hi_q / n,
            }
        )
    summary = pd.DataFrame(rows).set_index("metric")
    settings = {
        "delta": float(delta),
        "driver": driver,
        "segment": segment,
        "horizon_periods": int(horizon_periods),
        "n_sims": int(n_sims),
        "seed": int(seed),
        "alpha": float(alpha),
        "freq": str(last.freqstr),
        "last_period": str(last),
        "n_customers": int(n),
        "csat_shift_mean": float(np.mean(csat1 - csat0)),
        "driver_weight_se": weight_se,
        "currency": currency,
    }
    diagnostics = [
        Diagnostic(d.code, f"{label}: {d.message}", d.severity)
        for label, model in (("churn model", churn_model), ("spend model", spend_model))
        if model is not None
        for d in model.diagnostics_
    ]
    return WhatIfResult(
        summary=summary, draws=draws, customers=per_customer, settings=settings, diagnostics=diagnostics
    )


def _bounds(scale: tuple[float, float] | RatingScale) -> tuple[float, float]:
    if isinstance(scale, RatingScale):
        return scale.low, scale.high
    lo, hi = scale
    return float(lo), float(hi)


def _margin_ratio(panel: pd.DataFrame, pop: pd.DataFrame) -> np.ndarray:
    """Customer's margin / revenue over the panel (segment ratio if no revenue); NaN without cost data."""
    if "margin_usd" not in panel.columns:
        raise ValueError("panel lacks column 'margin_usd'")
    if not panel["margin_usd"].notna().any():  # no cost data: margin unknown, not 0
        return np.full(len(pop), np.nan)
    if "segment" not in panel.columns:
        panel = panel.assign(segment="all")
    sums = panel.groupby("customer_id")[["revenue_usd", "margin_usd"]].sum()
    seg = panel.groupby("segment")[["revenue_usd", "margin_usd"]].sum()
    seg_ratio = (seg["margin_usd"] / seg["revenue_usd"].where(seg["revenue_usd"] > 0)).fillna(0.0)
    s = sums.reindex(pop["customer_id"])
    ratio = (s["margin_usd"] / s["revenue_usd"].where(s["revenue_usd"] > 0)).to_numpy()
    fallback = pop["segment"].map(seg_ratio).to_numpy(dtype=float)
    return np.where(np.isfinite(ratio), ratio, fallback)
