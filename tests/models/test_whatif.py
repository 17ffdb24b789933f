"""What-if simulator against the simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models.financial import FinancialPanelModel
from bsc_toolkit.models.retention import DiscreteTimeHazardModel
from bsc_toolkit.models.whatif import driver_weights, scenario_population, what_if
from bsc_toolkit.panel import customer_periods


@pytest.fixture(scope="module")
def fitted():
    data = simulate(12000, seed=31)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    churn = DiscreteTimeHazardModel().fit(panel)
    spend = FinancialPanelModel(estimator="ppml").fit(panel)
    return data, panel, churn, spend


def _true_retained_change(truth, result, pop, horizon):
    cust = result.customers
    years = np.full(horizon, 0.25)  # quarters of the simulated window (to within a day)
    tenure = pop["tenure_years"].to_numpy() + np.cumsum(years)[:, None]
    seg = pop["segment"].to_numpy()

    def survival(csat):
        return np.prod([truth.retention_probability(csat, seg, tenure[k]) for k in range(horizon)], axis=0)

    return float((survival(cust["csat_scenario"].to_numpy()) - survival(cust["csat"].to_numpy())).sum())


@pytest.mark.slow
def test_retention_change_covers_truth(fitted):
    data, panel, churn, spend = fitted
    res = what_if(panel, delta=1.0, horizon_periods=4, n_sims=400, seed=0, churn_model=churn, spend_model=spend)
    pop = scenario_population(panel)
    true_change = _true_retained_change(data.truth, res, pop, 4)
    row = res.summary.loc["retained_customers"]
    assert row["ci_lower"] <= true_change <= row["ci_upper"], (true_change, row.to_dict())
    assert row["change"] > 0
    assert (res.summary["change"] > 0).all()
    assert res.summary.loc["revenue_usd", "ci_lower"] > 0
    assert len(res.draws) == 400
    assert "95% interval" in res.summary_text()


def test_revenue_change_matches_truth_multiplier(fitted):
    data, panel, churn, spend = fitted
    truth = data.truth
    res = what_if(panel, delta=1.0, horizon_periods=1, n_sims=50, seed=0, churn_model=churn, spend_model=spend)
    c = res.customers[res.customers["revenue_baseline_usd"] > 0]
    pop = scenario_population(panel).set_index("customer_id").loc[c["customer_id"]]
    seg, tenure = pop["segment"].to_numpy(), pop["tenure_years"].to_numpy() + 0.25

    def true_revenue_factor(csat):
        """exp(g(csat)) times the expected active share (1 - exp(-h)) / h of the period."""
        h = np.exp(truth.churn_log_hazard(csat, seg, tenure))
        return np.exp(truth.spend_log_effect(csat)) * -np.expm1(-h) / h

    # one period: each customer's scenario / baseline revenue from what_if vs the truth's ratio
    est = c["revenue_scenario_usd"] / c["revenue_baseline_usd"]
    true = true_revenue_factor(c["csat_scenario"].to_numpy()) / true_revenue_factor(c["csat"].to_numpy())
    assert (est > 1 - 1e-9).all()  # nobody loses revenue from a rise in csat
    # mean multiplier within 2 percentage points of the truth's
    assert abs(est.mean() - true.mean()) < 0.02, (est.mean(), true.mean())


@pytest.mark.slow
def test_zero_delta_and_reproducibility(fitted):
    _, panel, churn, spend = fitted
    kw = dict(churn_model=churn, spend_model=spend, n_sims=50)
    zero = what_if(panel, delta=0.0, **kw)
    assert np.allclose(zero.summary["change"], 0.0)
    assert np.allclose(zero.draws.to_numpy(), 0.0)
    a = what_if(panel, delta=1.0, seed=3, **kw)
    b = what_if(panel, delta=1.0, seed=3, **kw)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    # alpha sets the interval; the old level keyword still works, with a warning
    narrow = what_if(panel, delta=1.0, seed=3, alpha=0.5, **kw)
    assert (
        narrow.summary["ci_upper"] - narrow.summary["ci_lower"] < a.summary["ci_upper"] - a.summary["ci_lower"]
    ).all()
    assert "50% interval" in narrow.summary_text()
    with pytest.warns(FutureWarning, match="alpha"):
        old = what_if(panel, delta=1.0, seed=3, level=0.5, **kw)
    pd.testing.assert_frame_equal(old.summary, narrow.summary)


def test_driver_and_segment(fitted):
    data, panel, churn, spend = fitted
    weights, _ = driver_weights(panel)
    for name, true in data.truth.driver_weights.items():
        assert abs(weights[name] - true) < 0.03
    overall = what_if(panel, delta=1.0, segment="smb", churn_model=churn, spend_model=spend, n_sims=50)
    quality = what_if(
        panel, delta=1.0, driver="quality", segment="smb", churn_model=churn, spend_model=spend, n_sims=50
    )
    n_smb = len(scenario_population(panel, "smb"))
    assert overall.settings["n_customers"] == n_smb
    assert (overall.customers["segment"] == "smb").all()
    assert 0 < quality.settings["csat_shift_mean"] < 0.5
    assert 0 < quality.summary.loc["retained_customers", "change"] < overall.summary.loc["retained_customers", "change"]


def test_bad_input(fitted):
    _, panel, churn, spend = fitted
    with pytest.raises(ValueError, match="driver"):
        what_if(panel, driver="speed", churn_model=churn, spend_model=spend)
    with pytest.raises(ValueError, match="segment"):
        what_if(panel, segment="government", churn_model=churn, spend_model=spend)
    with pytest.raises(ValueError, match="cloglog"):
        what_if(panel, churn_model=DiscreteTimeHazardModel(link="logit").fit(panel), spend_model=spend)


def test_alpha_is_keyword_only_and_diagnostics_name_their_model(fitted):
    data, panel, churn, spend = fitted
    # the old 11th positional argument was the confidence level: read as alpha it would give 5% intervals
    with pytest.raises(TypeError):
        what_if(panel, 1.0, None, None, 1, 50, 0, 7.0, churn, spend, 0.95)
    with pytest.warns(FutureWarning, match="level"):
        old = what_if(
            panel, delta=1.0, horizon_periods=1, n_sims=50, seed=0, churn_model=churn, spend_model=spend, level=0.9
        )
    assert old.settings["alpha"] == pytest.approx(0.1)
    res = what_if(panel, delta=1.0, horizon_periods=1, n_sims=50, seed=0, churn_model=churn, spend_model=spend)
    expected = [f"churn model: {d.message}" for d in churn.diagnostics_] + [
        f"spend model: {d.message}" for d in spend.diagnostics_
    ]
    assert [d.message for d in res.diagnostics] == expected and expected  # the panel drops unsurveyed periods
    with pytest.raises(TypeError):
        churn.csat_effect(None, 0.95)


@pytest.mark.slow
def test_real_shapes_other_drivers_text_ids_no_cost_no_segment() -> None:
    """Other driver names and scales, text ids, no cost data (margin unknown, not 0), no segment column."""
    data = simulate(1500, seed=5)
    rename = {"time": "waiting", "quality": "expectations", "service": "image", "cost": "value"}
    surveys = data.surveys.rename(columns=rename)
    surveys[list(rename.values())] = np.ceil(surveys[list(rename.values())] / 2)  # drivers on 1-5
    customers = data.customers.drop(columns="segment")
    ids = {c: f"C{c:05d}" for c in data.customers["customer_id"]}
    frames = [f.assign(customer_id=f["customer_id"].map(ids)) for f in (customers, surveys, data.transactions)]
    frames[2] = frames[2].drop(columns="cost_usd")
    panel = customer_periods(*frames, rating_columns=["csat", "nps", *rename.values()])
    drivers = tuple(rename.values())
    res = what_if(
        panel,
        delta=1.0,
        driver="image",
        drivers=drivers,
        driver_scale=(1, 5),
        n_sims=50,
        churn_model=DiscreteTimeHazardModel(controls=("tenure_years",)).fit(panel),
        currency="EUR",
    )
    assert res.settings["currency"] == "EUR" and "revenue (EUR)" in res.summary_text()
    assert np.isnan(res.summary.loc["margin_usd", "change"])  # no cost data: no margin, never 0
    assert np.isfinite(res.summary.loc["revenue_usd", "change"])
    assert res.customers["csat_scenario"].ge(res.customers["csat"]).all()
    with pytest.raises(ValueError, match=r"driver must be None or one of \('waiting'"):
        what_if(panel, driver="time", drivers=drivers, n_sims=10)
    weights, _ = driver_weights(panel, drivers)
    assert list(weights.index[1:]) == list(drivers)
