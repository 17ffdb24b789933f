"""Recovery of the simulator's churn truth by the retention link models (hazard, Cox, Kaplan-Meier)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models._base import NotFittedError
from bsc_toolkit.models.retention import (
    CoxChurnModel,
    DiscreteTimeHazardModel,
    csat_band,
    kaplan_meier_by_band,
    survival_episodes,
)
from bsc_toolkit.panel import customer_periods


@pytest.fixture(scope="module")
def sim():
    data = simulate(12000, seed=11)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    return data, panel


@pytest.fixture(scope="module")
def small():
    data = simulate(6000, seed=12)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    return data, panel


@pytest.fixture(scope="module")
def cloglog(sim):
    return DiscreteTimeHazardModel(keep_data=True).fit(sim[1])


def _truth_params(truth):
    return {
        "Intercept": truth.churn_base_log_hazard,
        "csat_below": truth.churn_csat_below_knot,
        "csat_above": truth.churn_csat_above_knot,
        "C(segment)[T.smb]": truth.churn_segment["smb"],
        "C(segment)[T.enterprise]": truth.churn_segment["enterprise"],
        "tenure_years": truth.churn_tenure_per_year,
    }


def test_cloglog_recovers_truth_within_3_se(sim, cloglog):
    truth = sim[0].truth
    s = cloglog.summary
    for term, true in _truth_params(truth).items():
        assert abs(s.loc[term, "coef"] - true) < 3 * s.loc[term, "se"], (term, s.loc[term, "coef"], true)
    # i.e. the 99.7% intervals (coef +- 3 SE) cover the truth; the 95% ones are reported in summary
    assert (s["ci_lower"] < s["coef"]).all() and (s["coef"] < s["ci_upper"]).all()
    assert np.allclose(s["exp_coef"], np.exp(s["coef"]))
    assert cloglog.n_events_ > 300


def test_nonlinearity_test_detects_diminishing_returns(cloglog):
    t = cloglog.nonlinearity_test_
    assert t.loc["LR: spline vs linear", "p_value"] < 1e-3
    assert t.loc["Wald: slope above = slope below", "p_value"] < 1e-3
    assert t.loc["one-sided: diminishing returns above knot", "p_value"] < 1e-3
    # LR and Wald statistics of the same 1-df hypothesis are close in large samples
    lr, wald = t["statistic"].iloc[0], t["statistic"].iloc[1]
    assert abs(lr - wald) / wald < 0.25
    assert "Nonlinearity" in cloglog.summary_text()


def test_logit_close_to_cloglog_for_rare_churn(sim, cloglog):
    logit = DiscreteTimeHazardModel(link="logit", keep_data=True).fit(sim[1])
    # exposure: an offset in the cloglog model, a covariate with its own coefficient in the logit model
    assert cloglog.result_.model.offset is not None and "log_at_risk" not in cloglog.params_
    assert getattr(logit.result_.model, "offset", None) is None and "log_at_risk" in logit.params_
    for term in ("csat_below", "csat_above", "tenure_years"):
        assert abs(logit.params_[term] - cloglog.params_[term]) < 0.05
    assert list(logit.summary.columns) == list(cloglog.summary.columns)  # columns do not depend on the link


def test_bands_and_drivers(sim):
    bands = DiscreteTimeHazardModel(terms="bands").fit(sim[1]).csat_effect()
    assert list(bands["band"].astype(str)) == ["1-5", "6", "7", "8", "9-10"]
    assert bands["effect"].is_monotonic_decreasing
    drivers = DiscreteTimeHazardModel(terms="drivers").fit(sim[1])
    assert (drivers.params_[["time", "quality", "service", "cost"]] < 0).all()


def test_csat_effect_and_predictions(sim, cloglog):
    eff = cloglog.csat_effect(np.array([5.0, 7.0, 9.0]))
    b = cloglog.params_
    assert np.allclose(eff["effect"], [-2 * b["csat_below"], 0.0, 2 * b["csat_above"]])
    rows = cloglog.prepare(sim[1])
    full = rows[rows["at_risk_fraction"] == 1.0].head(50)
    fitted = cloglog.result_.predict(cloglog.result_.model.exog[full.index], offset=np.zeros(len(full)))
    assert np.allclose(cloglog.predict_hazard(full), fitted)
    # csat_effect: alpha sets the interval; the old level keyword still works, with a warning
    narrow = cloglog.csat_effect(np.array([5.0]), alpha=0.5)
    assert (narrow["ci_upper"] - narrow["ci_lower"]).iloc[0] < (eff["ci_upper"] - eff["ci_lower"]).iloc[0]
    with pytest.warns(FutureWarning, match="alpha"):
        old = cloglog.csat_effect(np.array([5.0]), level=0.5)
    assert np.allclose(old["ci_lower"], narrow["ci_lower"])


@pytest.mark.slow
def test_episodes_and_cox_agree_with_statsmodels_and_truth(small):
    data, panel = small
    eps = survival_episodes(panel)
    assert (eps["stop"] > eps["start"]).all()
    assert eps["event"].sum() == int(panel.loc[panel["csat"].notna(), "churned"].sum())
    cox = CoxChurnModel().fit(eps)
    s = cox.summary
    truth = data.truth
    for term, true in {
        "csat_below": truth.churn_csat_below_knot,
        "csat_above": truth.churn_csat_above_knot,
        "segment[enterprise]": truth.churn_segment["enterprise"],
        "tenure_years": truth.churn_tenure_per_year,
    }.items():
        assert abs(s.loc[term, "coef"] - true) < 3 * s.loc[term, "se"], term
    agree = cox.agreement()
    assert (agree["diff_in_se"] < 0.25).all(), agree
    assert np.allclose(agree["lifelines_se"], agree["statsmodels_se"], rtol=0.02)
    # discrete-time cloglog on the same data gives the same log hazard ratios
    disc = DiscreteTimeHazardModel().fit(panel)
    for term in ("csat_below", "csat_above"):
        assert abs(disc.params_[term] - s.loc[term, "coef"]) < 0.5 * s.loc[term, "se"]
    tenure_eps = survival_episodes(panel, time_scale="tenure")
    assert (tenure_eps["start"] >= 0).all()


def test_kaplan_meier_by_band_orders_survival(small):
    data, panel = small
    km = kaplan_meier_by_band(panel)
    assert km.logrank["p_value"] < 1e-6
    t = km.table
    assert {"band", "time", "survival", "ci_lower", "ci_upper", "at_risk"} <= set(t.columns)
    assert ((t["ci_lower"] <= t["survival"] + 1e-12) & (t["survival"] <= t["ci_upper"] + 1e-12)).all()
    final = t.groupby("band", observed=True)["survival"].last()
    assert final["9-10"] > final["7"] > final["1-5"]
    assert km.counts["customers"].sum() > 0


def test_csat_band_edges():
    bands = csat_band(np.array([1, 5, 5.5, 6, 7, 8, 9, 10, np.nan]))
    assert list(pd.Series(bands).astype(str)) == ["1-5", "1-5", "6", "6", "7", "8", "9-10", "9-10", "nan"]


def test_bad_input_raises(sim):
    panel = sim[1]
    with pytest.raises(ValueError, match="at_risk_fraction"):
        DiscreteTimeHazardModel().fit(panel.drop(columns=["at_risk_fraction"]))
    with pytest.raises(ValueError, match="churned"):
        DiscreteTimeHazardModel().fit(panel.assign(churned=False))
    with pytest.raises(ValueError, match="link"):
        DiscreteTimeHazardModel(link="probit")
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = DiscreteTimeHazardModel().summary
