"""Tests of the service-profit chain mediation: reference implementation and recovery of the simulated truth."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.oracles import simulated_chain_effects
from bsc_toolkit.data.simulate import Truth, simulate
from bsc_toolkit.models._base import SUMMARY_COLUMNS, NotFittedError
from bsc_toolkit.models.chain import (
    ServiceProfitChain,
    customer_chain_table,
    mediation_reference,
)

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


@pytest.mark.slow  # a fresh interpreter importing statsmodels: ~2-4 s
def test_models_chain_does_not_import_the_simulator():
    code = "import bsc_toolkit.models.chain, sys; assert 'bsc_toolkit.data.simulate' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.slow
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


@pytest.mark.slow
def test_recovers_true_effects_without_confounding(fitted, truth):
    s = fitted.summary
    for effect in ("total", "indirect", "direct", "mediator_effect"):
        lo, hi = s.loc[effect, ["ci_lower", "ci_upper"]]
        assert lo <= truth[effect] <= hi, (effect, s.loc[effect, "coef"], truth[effect])
    # both paths positive and clearly so
    assert s.loc["total", "ci_lower"] > 0 and s.loc["indirect", "ci_lower"] > 0
    # within stated tolerances (about 2 bootstrap SE at 10k customers)
    assert s.loc["mediator_effect", "coef"] == pytest.approx(truth["mediator_effect"], rel=0.25)
    assert s.loc["indirect", "coef"] == pytest.approx(truth["indirect"], rel=0.5)
    assert s.loc["total", "coef"] == pytest.approx(truth["total"], rel=0.5)
    assert s.loc["total", "coef"] == pytest.approx(s.loc["direct", "coef"] + s.loc["indirect", "coef"])


@pytest.mark.slow
def test_summary_follows_the_model_convention(fitted):
    s = fitted.summary
    assert tuple(s.columns[:5]) == SUMMARY_COLUMNS and list(s.columns[5:]) == ["unit"]
    assert s.index.name == "effect" and s.index[0] == "total"
    pd.testing.assert_series_equal(s["coef"], fitted.effects_, check_names=False)
    pd.testing.assert_series_equal(s["se"], fitted.boot_effects_.std(), check_names=False)
    pd.testing.assert_frame_equal(fitted.params_.to_frame(), fitted.effects_.to_frame())
    assert list(fitted.confidence_intervals_.columns) == ["ci_lower", "ci_upper"]
    assert (s["ci_lower"] <= s["coef"]).all() and (s["coef"] <= s["ci_upper"]).all()
    # bootstrap two-sided p: 2 * min(1 + draws <= 0, 1 + draws >= 0) / (B + 1), never 0
    draws = fitted.boot_effects_["mediator_effect"]
    b = len(draws)
    expected = min(1.0, 2 * min(1 + (draws <= 0).sum(), 1 + (draws >= 0).sum()) / (b + 1))
    assert s.loc["mediator_effect", "p_value"] == pytest.approx(expected)
    p = s["p_value"].drop("prop_mediated")
    assert p.between(2 / (b + 1) - 1e-12, 1).all()
    assert np.isnan(s.loc["prop_mediated", "p_value"])
    assert s.loc["total", "p_value"] < 0.05  # the interval excludes 0
    assert fitted.cov_params_.shape == (len(s), len(s))
    assert "95% bootstrap CIs" in fitted.summary_text() and "ci_lower" in fitted.summary_text()


@pytest.mark.slow
def test_alpha_sets_the_interval_level(table):
    wide = ServiceProfitChain(alpha=0.05).fit(table, n_boot=100, seed=2).summary
    narrow = ServiceProfitChain(alpha=0.5).fit(table, n_boot=100, seed=2).summary
    assert ((wide["ci_upper"] - wide["ci_lower"]) > (narrow["ci_upper"] - narrow["ci_lower"])).all()
    pd.testing.assert_series_equal(wide["coef"], narrow["coef"])
    with pytest.raises(ValueError, match="alpha"):
        ServiceProfitChain(alpha=1.5)
    with pytest.raises(ValueError, match="delta"):
        ServiceProfitChain(delta=0)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_trait_confounding_inflates_the_direct_effect():
    """With the default truth (unobserved trait raising spend, correlated with satisfaction)
    the direct effect is biased upward; the retention path is not confounded by the trait."""
    d = simulate(10000, seed=7)
    tab = customer_chain_table(d.customers, d.surveys, d.transactions)
    m = ServiceProfitChain().fit(tab, n_boot=200, seed=1)
    truth = simulated_chain_effects(Truth(), n_customers=30000)
    s = m.summary
    assert s.loc["direct", "coef"] > 1.5 * truth["direct"]
    lo, hi = s.loc["mediator_effect", ["ci_lower", "ci_upper"]]
    assert lo <= truth["mediator_effect"] <= hi
    # the data show a large direct share: the diagnostics say so
    assert "assumption" in {d.code for d in m.diagnostics_}


def test_diagnostics(small_sim):
    tab = customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions)
    holes = tab.assign(revenue_usd=tab["revenue_usd"].mask(tab.index < 5))
    m = ServiceProfitChain().fit(holes, n_boot=0)
    codes = {d.code: d for d in m.diagnostics_}
    assert "few_customers" in codes and f"Only {len(tab) - 5:,} customers" in codes["few_customers"].message
    assert codes["dropped_rows"].severity == "info" and codes["dropped_rows"].message.startswith("5 of ")
    assert "no_bootstrap" in codes
    assert m.summary[["se", "ci_lower", "ci_upper", "p_value"]].isna().all().all()
    # low reliability of baseline satisfaction is stated; a large direct share too
    noisy = ServiceProfitChain().fit(tab.assign(reliability=0.3), n_boot=0)
    assert any("reliability" in d.message and d.code == "assumption" for d in noisy.diagnostics_)
    # refitting forgets the previous fit's diagnostics
    m.fit(tab, n_boot=0)
    assert "dropped_rows" not in {d.code for d in m.diagnostics_}


def test_not_fitted_and_bad_input(small_sim):
    tab = customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions)
    m = ServiceProfitChain()
    for use in (lambda: m.summary, m.summary_text, lambda: m.effects_, lambda: m.confidence_intervals_):
        with pytest.raises(NotFittedError, match="not fitted|before .fit"):
            use()
    assert not m.is_fitted and not hasattr(m, "params_")
    with pytest.raises(ValueError, match="revenue_usd"):
        ServiceProfitChain().fit(tab.drop(columns="revenue_usd"))
    with pytest.raises(ValueError, match="linear in the mediator"):
        ServiceProfitChain().fit(
            tab, outcome_formula="revenue_usd ~ csat_calibrated + I(periods_retained**2)", n_boot=0
        )
    with pytest.raises(ValueError, match="no variation"):
        ServiceProfitChain().fit(tab.assign(csat_calibrated=7.0), n_boot=0)
    with pytest.raises(ValueError, match="baseline_periods"):
        customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions, baseline_periods=8)
    assert not m.is_fitted  # a failed fit leaves no half-fitted model


def test_moved_names_still_resolve_from_the_old_path():
    import bsc_toolkit.data.oracles as oracles
    import bsc_toolkit.models.chain as chain
    import bsc_toolkit.scorecard.links as links

    with pytest.warns(FutureWarning, match="moved to bsc_toolkit.data.oracles"):
        assert chain.simulated_chain_effects is oracles.simulated_chain_effects
    for name in ("chain_link_strengths", "link_strengths_table"):
        with pytest.warns(FutureWarning, match="moved to bsc_toolkit.scorecard.links"):
            assert getattr(chain, name) is getattr(links, name)
    with pytest.raises(AttributeError, match="nope"):
        chain.nope  # noqa: B018


def test_customer_chain_table_lives_in_chain_table_and_is_re_exported():
    import bsc_toolkit.models.chain as chain
    import bsc_toolkit.models.chain_table as chain_table

    assert chain.customer_chain_table is chain_table.customer_chain_table
    assert "customer_chain_table" in chain.__all__


def test_scale_and_currency_label_the_effects(small_sim):
    from bsc_toolkit.contracts import RatingScale

    tab = customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions)
    m = ServiceProfitChain(scale=RatingScale(1, 10), currency="GBP").fit(tab, n_boot=0)
    units = m.summary["unit"]
    assert units["total"] == "GBP per 1 csat point (1-10)"
    assert units["mediator_effect"] == "periods_retained per 1 csat point (1-10)"
    assert units["mediator_to_outcome"] == "GBP per unit of periods_retained"
    assert not units.str.contains("USD").any()
    # the effects themselves do not depend on the labels
    pd.testing.assert_series_equal(m.effects_, ServiceProfitChain().fit(tab, n_boot=0).effects_)
    # satisfaction outside the declared scale is an error, not silently reinterpreted
    with pytest.raises(ValueError, match="outside the declared csat scale 1-5"):
        ServiceProfitChain(scale=RatingScale(1, 5)).fit(tab, n_boot=0)
    with pytest.raises(TypeError, match="RatingScale"):
        ServiceProfitChain(scale=(1, 5))
    # on a 1-5 scale (1-10 mapped linearly onto it) the effects are per point of that scale: 9/4 as large
    squeezed = tab.assign(csat_calibrated=1 + (tab["csat_calibrated"] - 1) * 4 / 9)
    m5 = ServiceProfitChain(scale=RatingScale(1, 5), currency="EUR").fit(squeezed, n_boot=0)
    assert m5.summary.loc["total", "unit"] == "EUR per 1 csat point (1-5)"
    assert m5.effects_["mediator_effect"] == pytest.approx(9 / 4 * m.effects_["mediator_effect"])
    assert m5.effects_["total"] == pytest.approx(9 / 4 * m.effects_["total"])


def test_string_ids_and_a_single_segment(small_sim):
    customers = small_sim.customers.assign(customer_id="C" + small_sim.customers["customer_id"].astype(str))
    surveys = small_sim.surveys.assign(customer_id="C" + small_sim.surveys["customer_id"].astype(str))
    tx = small_sim.transactions.assign(customer_id="C" + small_sim.transactions["customer_id"].astype(str))
    tab = customer_chain_table(customers, surveys, tx)
    ref = customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions)
    assert tab["customer_id"].str.startswith("C").all() and len(tab) == len(ref)
    np.testing.assert_allclose(
        ServiceProfitChain().fit(tab, n_boot=0).effects_, ServiceProfitChain().fit(ref, n_boot=0).effects_
    )
    # one segment (or none): the default formulas leave the segment terms out instead of failing
    one = customer_chain_table(customers.drop(columns="segment"), surveys, tx)
    assert set(one["segment"]) == {"all"}
    m = ServiceProfitChain().fit(one, n_boot=0)
    assert "segment" not in m.formulas_["mediator"] and "segment" not in m.formulas_["outcome"]
    assert np.isfinite(m.effects_.drop("prop_mediated")).all()


def test_imprecise_effect_is_flagged(small_sim):
    import statsmodels.api as sm

    tab = customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions)
    # satisfaction exactly uncorrelated (in the sample) with retention and revenue: every effect is ~0
    noise = np.random.default_rng(0).standard_normal(len(tab))
    resid = sm.OLS(noise, sm.add_constant(tab[["periods_retained", "revenue_usd"]].astype(float))).fit().resid
    flat = tab.assign(csat_calibrated=7 + 0.5 * resid / resid.std())
    m = ServiceProfitChain().fit(
        flat,
        mediator_formula="periods_retained ~ csat_calibrated",
        outcome_formula="revenue_usd ~ csat_calibrated + periods_retained",
        n_boot=50,
        seed=1,
    )
    assert abs(m.effects_["mediator_effect"]) < 1e-9 and abs(m.effects_["total"]) < 1e-6
    flagged = {d.message.split(" (")[0].removeprefix("The ") for d in m.diagnostics_ if d.code == "imprecise"}
    assert {"total", "indirect", "direct", "mediator effect"} <= flagged
    assert "mediator to outcome" not in flagged  # the retention -> revenue path is well determined
    assert all("do not determine it" in d.message for d in m.diagnostics_ if d.code == "imprecise")
