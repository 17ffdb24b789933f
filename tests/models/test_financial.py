"""Recovery of the simulator's spend truth by the financial panel models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models.financial import FinancialPanelModel
from bsc_toolkit.panel import customer_periods


@pytest.fixture(scope="module")
def sim():
    data = simulate(12000, seed=21)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    return data, panel


def _expected_revenue_panel(data, panel):
    """Panel whose revenue is the truth's expected revenue given csat and the hidden trait."""
    t = data.truth
    lat = data.latent[["customer_id", "period", "trait"]]
    df = panel.merge(lat, on=["customer_id", "period"], how="left", validate="one_to_one")
    base = df["segment"].map(t.orders_per_period).to_numpy() * df["segment"].map(t.order_value_usd).to_numpy()
    sd = t.spend_heterogeneity_sd
    g = np.where(df["csat"].notna(), t.spend_log_effect(df["csat"].fillna(t.csat_knot)), 0.0)
    df["revenue_usd"] = base * np.exp(g + sd * df["trait"].to_numpy() - 0.5 * sd**2)
    return df


def test_ppml_fe_recovers_log_spend_effects(sim):
    data, panel = sim
    m = FinancialPanelModel(estimator="ppml").fit(panel)
    s = m.summary
    truth = {"csat_below": data.truth.spend_csat_below_knot, "csat_above": data.truth.spend_csat_above_knot}
    for term, true in truth.items():
        assert abs(s.loc[term, "coef"] - true) < 3 * s.loc[term, "se"], (term, s.loc[term, "coef"], true)
    assert np.allclose(s["pct_effect"], 100 * np.expm1(s["coef"]))
    assert m.customer_effects_.index.name == "customer_id"


def test_within_recovers_dollar_target_and_pooled_is_biased_up(sim):
    data, panel = sim
    # the dollar effect a linear FE regression targets: the same regression on expected revenue
    target = FinancialPanelModel(estimator="within").fit(_expected_revenue_panel(data, panel)).params_
    within = FinancialPanelModel(estimator="within").fit(panel).summary
    pooled = FinancialPanelModel(estimator="pooled").fit(panel).summary
    for term in ("csat_below", "csat_above"):
        assert abs(within.loc[term, "coef"] - target[term]) < 3 * within.loc[term, "se"], term
    # the hidden trait raises spend and satisfaction: pooled OLS overstates the effect
    assert pooled.loc["csat_below", "coef"] > within.loc["csat_below", "coef"] + 2 * within.loc["csat_below", "se"]
    assert pooled.loc["csat_below", "coef"] > 1.5 * target["csat_below"]


def test_first_differences_and_margin(sim):
    _, panel = sim
    fd = FinancialPanelModel(estimator="fd").fit(panel).summary
    assert fd.loc["csat_below", "coef"] > 0  # the above-knot slope is small and noisy in differences
    margin = FinancialPanelModel(outcome="margin_usd").fit(panel)
    assert margin.summary.loc["csat_below", "coef"] > 0
    assert "margin_usd" in margin.summary_text()


def test_agrees_with_dummy_variable_reference(sim):
    _, panel = sim
    sub = panel[panel["customer_id"] <= 200]
    ppml = FinancialPanelModel(estimator="ppml").fit(sub)
    df = ppml.prepare(sub)
    df = df[df.groupby("customer_id")["revenue_usd"].transform("sum") > 0].reset_index(drop=True)
    x = pd.concat([ppml._design(df), pd.get_dummies(df["customer_id"].astype(str), dtype=float)], axis=1)
    groups = pd.factorize(df["customer_id"])[0]
    ref = sm.GLM(df["revenue_usd"], x, family=sm.families.Poisson(), offset=np.log(df["at_risk_fraction"])).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}
    )
    g = groups.max() + 1
    names = list(ppml.params_.index)
    assert np.allclose(ppml.params_, ref.params[names], atol=1e-6)
    assert np.allclose(np.sqrt(np.diag(ppml.cov_params_)), ref.bse[names] * np.sqrt(g / (g - 1)), rtol=1e-4)

    within = FinancialPanelModel(estimator="within").fit(sub)
    dfw = within.prepare(sub)
    xw = pd.concat([within._design(dfw), pd.get_dummies(dfw["customer_id"].astype(str), dtype=float)], axis=1)
    ols = sm.OLS(dfw["revenue_usd"], xw).fit()
    assert np.allclose(within.params_, ols.params[list(within.params_.index)], atol=1e-6)


def test_bad_input_raises(sim):
    _, panel = sim
    with pytest.raises(ValueError, match="negatives"):
        FinancialPanelModel(outcome="margin_usd", estimator="ppml").fit(panel.assign(margin_usd=-1.0))
    with pytest.raises(ValueError, match="revenue_usd"):
        FinancialPanelModel().fit(panel.drop(columns=["revenue_usd"]))
    with pytest.raises(ValueError, match="estimator"):
        FinancialPanelModel(estimator="gmm")
    with pytest.raises(ValueError, match="csat"):
        FinancialPanelModel().fit(panel.assign(csat=7.0))
