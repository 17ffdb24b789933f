"""Tests of the service-profit chain mediation: reference implementation and recovery of the simulated truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.simulate import Truth, simulate
from bsc_toolkit.models.chain import (
    ServiceProfitChain,
    chain_link_strengths,
    customer_chain_table,
    link_strengths_table,
    mediation_reference,
    simulated_chain_effects,
)
from bsc_toolkit.models.drivers import DriverImportance

# The unobserved spend trait is switched off so that sequential ignorability holds and
# the estimates can be compared with the truth; the default truth is tested separately.
UNCONFOUNDED = replace(Truth(), trait_satisfaction_corr=0.0)


@pytest.fixture(scope="module")
def sim():
    return simulate(10000, seed=7, truth=UNCONFOUNDED)


@pytest.fixture(scope="module")
def table(sim):
    return customer_chain_table(sim.customers, sim.surveys, sim.transactions)


@pytest.fixture(scope="module")
def fitted(table):
    return ServiceProfitChain().fit(table, n_boot=300, seed=1)


@pytest.fixture(scope="module")
def truth():
    return simulated_chain_effects(UNCONFOUNDED, n_customers=30000)


def test_table_definitions(sim, table):
    assert table["customer_id"].is_unique
    assert (table["n_surveys"].between(1, 2)).all()
    assert table["periods_retained"].between(0, 6 + 1e-9).all()
    assert table["reliability"].between(0, 1).all()
    # customers active at the window start and still active at the follow-up start (2024Q3)
    c = sim.customers.set_index("customer_id").loc[table["customer_id"]]
    assert (c["acquired_at"] < pd.Timestamp("2024-04-01")).all()
    assert (c["churned_at"].isna() | (c["churned_at"] >= pd.Timestamp("2024-07-01"))).all()
    # follow-up revenue equals the transactions of 2024Q3-2025Q4
    t = sim.transactions[sim.transactions["ordered_at"] >= "2024-07-01"]
    rev = t.groupby("customer_id")["revenue_usd"].sum().reindex(table["customer_id"], fill_value=0.0)
    np.testing.assert_allclose(table["revenue_usd"].to_numpy(), rev.to_numpy(), atol=1e-6)
    # retained customers were active for the whole follow-up
    assert np.allclose(table.loc[table["retained"], "periods_retained"], 6.0)
    # the noise variance is of the order of the simulated period-level csat noise
    assert 0.6 < table.attrs["noise_var"] < 1.2
    assert table.attrs["follow_up"] == ("2024Q3", "2025Q4")


def test_truth_helper_matches_the_simulator(truth):
    # mean follow-up retention and revenue of the cohort, expected vs simulated (another seed, 30k customers)
    s = simulate(30000, seed=99, truth=UNCONFOUNDED)
    tab = customer_chain_table(s.customers, s.surveys, s.transactions)
    assert tab["periods_retained"].mean() == pytest.approx(truth["mean_mediator"], rel=0.01)
    assert tab["revenue_usd"].mean() == pytest.approx(truth["mean_outcome"], rel=0.04)
    assert truth["total"] == pytest.approx(truth["direct"] + truth["indirect"], rel=0.01)
    assert truth["indirect"] > 0 and truth["direct"] > 0


def test_recovers_true_effects_without_confounding(fitted, truth):
    s = fitted.summary.set_index("effect")
    for effect in ("total", "indirect", "direct", "mediator_effect"):
        lo, hi = s.loc[effect, ["ci_low", "ci_high"]]
        assert lo <= truth[effect] <= hi, (effect, s.loc[effect, "estimate"], truth[effect])
    # both paths positive and clearly so
    assert s.loc["total", "ci_low"] > 0 and s.loc["indirect", "ci_low"] > 0
    # within stated tolerances (about 2 bootstrap SE at 10k customers)
    assert s.loc["mediator_effect", "estimate"] == pytest.approx(truth["mediator_effect"], rel=0.25)
    assert s.loc["indirect", "estimate"] == pytest.approx(truth["indirect"], rel=0.5)
    assert s.loc["total", "estimate"] == pytest.approx(truth["total"], rel=0.5)
    assert s.loc["total", "estimate"] == pytest.approx(s.loc["direct", "estimate"] + s.loc["indirect", "estimate"])


def test_agrees_with_statsmodels_mediation(table):
    sub = table.sample(2000, random_state=0).reset_index(drop=True)
    own = ServiceProfitChain().fit(sub, n_boot=200, seed=0)
    ref = mediation_reference(sub, n_rep=40, seed=0)  # slow: statsmodels rebuilds the formula models per draw
    e, boot_sd = own.effects_, own.boot_effects_.std()
    pairs = {"total": "Total effect", "indirect": "ACME (average)", "direct": "ADE (average)"}
    for mine, theirs in pairs.items():
        # statsmodels' estimate is a Monte Carlo mean over 40 parameter draws: MC sd ~ 0.16 SE
        assert abs(ref.loc[theirs, "Estimate"] - e[mine]) < 0.6 * boot_sd[mine], mine
        width_ref = ref.loc[theirs, "Upper CI bound"] - ref.loc[theirs, "Lower CI bound"]
        width_own = own.confidence_intervals_.loc[mine].diff().iloc[-1]
        assert 0.5 < width_own / width_ref < 2.0, mine


def test_product_of_coefficients_without_interactions(table):
    m = ServiceProfitChain().fit(
        table,
        mediator_formula="periods_retained ~ csat_calibrated + C(segment) + tenure_years",
        outcome_formula="revenue_usd ~ csat_calibrated + periods_retained + C(segment) + tenure_years",
        n_boot=20,
    )
    a = m.mediator_result_.params["csat_calibrated"]
    b = m.outcome_result_.params["periods_retained"]
    c = m.outcome_result_.params["csat_calibrated"]
    assert m.effects_["indirect"] == pytest.approx(a * b)
    assert m.effects_["direct"] == pytest.approx(c)
    assert m.effects_["total"] == pytest.approx(c + a * b)
    assert m.effects_["mediator_effect"] == pytest.approx(a)
    assert m.effects_["mediator_to_outcome"] == pytest.approx(b)


def test_trait_confounding_inflates_the_direct_effect():
    """With the default truth (unobserved trait raising spend, correlated with satisfaction)
    the direct effect is biased upward; the retention path is not confounded by the trait."""
    d = simulate(10000, seed=7)
    tab = customer_chain_table(d.customers, d.surveys, d.transactions)
    m = ServiceProfitChain().fit(tab, n_boot=200, seed=1)
    truth = simulated_chain_effects(Truth(), n_customers=30000)
    s = m.summary.set_index("effect")
    assert s.loc["direct", "estimate"] > 1.5 * truth["direct"]
    lo, hi = s.loc["mediator_effect", ["ci_low", "ci_high"]]
    assert lo <= truth["mediator_effect"] <= hi


def test_chain_link_strengths(sim, table):
    links = chain_link_strengths(sim, n_boot=50)
    # the same table as from models fitted beforehand (what the notebook does)
    drivers = DriverImportance().fit(sim.surveys, n_boot=50, seed=0)
    chain = ServiceProfitChain().fit(table, n_boot=50, seed=0)
    pd.testing.assert_frame_equal(link_strengths_table(drivers, chain), links)
    assert list(links.columns) == ["source", "target", "estimate", "ci_low", "ci_high", "unit", "method"]
    main = links[~links["source"].str.startswith("driver ratings:")]
    pairs = list(zip(main["source"], main["target"]))
    for pair in [
        ("driver ratings", "customer satisfaction"),
        ("customer satisfaction", "customer retention"),
        ("customer retention", "revenue"),
        ("customer satisfaction", "revenue"),
    ]:
        assert pair in pairs
    assert (links["ci_low"] <= links["estimate"]).all() and (links["estimate"] <= links["ci_high"]).all()
    assert (links.loc[links["source"].str.startswith("driver ratings:"), "estimate"] > 0).all()


def test_bad_input(table, sim):
    with pytest.raises(ValueError, match="revenue_usd"):
        ServiceProfitChain().fit(table.drop(columns="revenue_usd"))
    with pytest.raises(ValueError, match="linear in the mediator"):
        ServiceProfitChain().fit(
            table, outcome_formula="revenue_usd ~ csat_calibrated + I(periods_retained**2)", n_boot=0
        )
    with pytest.raises(ValueError, match="no variation"):
        ServiceProfitChain().fit(table.assign(csat_calibrated=7.0), n_boot=0)
    with pytest.raises(ValueError, match="baseline_periods"):
        customer_chain_table(sim.customers, sim.surveys, sim.transactions, baseline_periods=8)
    with pytest.raises(RuntimeError, match="not fitted"):
        ServiceProfitChain().summary_text()
    with pytest.raises(RuntimeError, match="chain is not fitted"):
        link_strengths_table(DriverImportance().fit(sim.surveys, n_boot=0), ServiceProfitChain())
