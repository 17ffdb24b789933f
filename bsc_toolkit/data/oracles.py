"""Truth oracles: the true effects of the simulator, for checking estimates.

Each oracle runs :func:`bsc_toolkit.data.simulate.simulate` with the generating parameters
(:class:`~bsc_toolkit.data.simulate.Truth`) and computes what a model *should* estimate, so the
models themselves never import the simulator.

- :func:`simulated_chain_effects`: the direct, indirect and total effects of satisfaction on
  follow-up revenue (or margin) that :class:`bsc_toolkit.models.chain.ServiceProfitChain`
  estimates.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from bsc_toolkit.data.simulate import Truth, simulate

__all__ = ["simulated_chain_effects"]


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

    The estimand matches :func:`~bsc_toolkit.models.chain.customer_chain_table` and
    :class:`~bsc_toolkit.models.chain.ServiceProfitChain`: among customers active at the window start
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
        Periods in the baseline (as in :func:`~bsc_toolkit.models.chain.customer_chain_table`).
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
        n_customers,
        n_periods=n_periods,
        seed=seed,
        truth=replace(truth, churn_base_log_hazard=-60.0),
        **simulate_kwargs,
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
