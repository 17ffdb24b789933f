"""customer_lifetime_value, clv_at_risk, clv_plausibility and largest_yearly_spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import (
    BetaGeoFitter,
    GammaGammaFitter,
    clv_at_risk,
    customer_lifetime_value,
    simulate_bgnbd,
)
from bsc_toolkit.models.clv.value import clv_plausibility, largest_yearly_spend
from tests.models.clv import TRUE_BG, TRUE_GG


def test_customer_lifetime_value_formula():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    summary = pd.DataFrame(
        {
            "frequency": [0.0, 2.0, 5.0],
            "recency": [0.0, 10.0, 30.0],
            "T": [30.0, 30.0, 30.0],
            "monetary_value": [0.0, 20.0, 40.0],
        },
        index=pd.Index([7, 8, 9], name="customer_id"),
    )
    clv0 = customer_lifetime_value(bgf, ggf, summary, time_months=12, discount_rate_monthly=0.0)
    assert clv0.name == "clv_usd" and list(clv0.index) == [7, 8, 9]
    undiscounted = bgf.conditional_expected_number_of_purchases_up_to_time(
        12 * 4.345, summary["frequency"], summary["recency"], summary["T"]
    ) * ggf.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    np.testing.assert_allclose(clv0, undiscounted, rtol=1e-10)
    clv1 = customer_lifetime_value(bgf, ggf, summary, time_months=12, discount_rate_monthly=0.01)
    assert (clv1 < clv0).all() and (clv1 > clv0 / 1.01**12).all()
    assert clv1.loc[9] > clv1.loc[8]


def test_clv_at_risk_estimates_and_bootstrap():
    clv = pd.Series([100.0, 300.0, 50.0, 550.0, 30.0, 999.0], index=[1, 2, 3, 4, 5, 6])
    csat = pd.Series([3.0, 6.0, 9.0, 10.0, 7.0, np.nan, 2.0], index=[1, 2, 3, 4, 5, 6, 7])
    # customer 6 has no score and 7 no CLV: both left out
    before = (clv.copy(), csat.copy())
    out = clv_at_risk(clv, csat, threshold=6, n_boot=500, seed=3)
    pd.testing.assert_series_equal(clv, before[0])
    pd.testing.assert_series_equal(csat, before[1])
    assert list(out.index) == ["clv_at_risk_usd", "share_of_clv", "mean_clv_gap_low_minus_rest_usd"]
    np.testing.assert_allclose(out["estimate"], [400.0, 400.0 / 1030.0, 200.0 - 210.0])
    # the bootstrap is the plain percentile bootstrap over customers
    v, low = np.array([100.0, 300.0, 50.0, 550.0, 30.0]), np.array([True, True, False, False, False])
    idx = np.random.default_rng(3).integers(0, 5, size=(500, 5))
    risk = (v[idx] * low[idx]).sum(1)
    share = risk / v[idx].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = risk / low[idx].sum(1) - (v[idx] * ~low[idx]).sum(1) / (~low[idx]).sum(1)
    ref = np.array([np.nanpercentile(a, [2.5, 97.5]) for a in (risk, share, gap)])
    np.testing.assert_allclose(out[["ci_lower", "ci_upper"]].to_numpy(), ref, rtol=1e-12)
    assert (out["ci_lower"] <= out["estimate"]).all() and (out["estimate"] <= out["ci_upper"]).all()
    with pytest.raises(ValueError, match="customer ids"):
        clv_at_risk(clv, csat.set_axis(range(100, 107)), threshold=6)


def test_clv_at_risk_alpha_and_deprecated_confidence():
    rng = np.random.default_rng(0)
    clv = pd.Series(rng.gamma(2.0, 100.0, size=200))
    csat = pd.Series(rng.integers(1, 11, size=200).astype(float))
    default = clv_at_risk(clv, csat, threshold=6, n_boot=300, seed=1)
    assert list(default.columns) == ["estimate", "ci_lower", "ci_upper"]
    pd.testing.assert_frame_equal(clv_at_risk(clv, csat, threshold=6, n_boot=300, seed=1, alpha=0.05), default)
    with pytest.warns(FutureWarning, match="alpha"):
        old = clv_at_risk(clv, csat, threshold=6, n_boot=300, seed=1, confidence=0.95)
    pd.testing.assert_frame_equal(old, default, rtol=1e-12)
    narrow = clv_at_risk(clv, csat, threshold=6, n_boot=300, seed=1, alpha=0.5)
    assert ((narrow["ci_upper"] - narrow["ci_lower"]) < (default["ci_upper"] - default["ci_lower"])).all()
    with pytest.raises(ValueError, match="alpha"):
        clv_at_risk(clv, csat, threshold=6, alpha=1.2)


def test_largest_yearly_spend_nets_refunds_within_customer_years():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "ordered_at": pd.to_datetime(["2024-02-01", "2024-05-01", "2025-01-03", "2024-03-01", "2024-03-02"]),
            "revenue_usd": [300.0, -100.0, 250.0, 150.0, 30.0],
        }
    )
    assert largest_yearly_spend(tx) == 250.0  # a: 200 in 2024 and 250 in 2025; b: 180
    assert np.isnan(largest_yearly_spend(tx.iloc[:0]))
    with pytest.raises(ValueError, match="revenue_usd"):
        largest_yearly_spend(tx.drop(columns="revenue_usd"))


def _rfm(sim: pd.DataFrame) -> pd.DataFrame:
    return sim[["frequency", "recency", "T"]].assign(monetary_value=np.where(sim["frequency"] > 0, 40.0, 0.0))


def test_clv_plausibility_passes_a_sound_fit():
    T = np.random.default_rng(2).uniform(27.0, 39.0, size=1000)
    sim = simulate_bgnbd(1000, T=T, seed=5, **TRUE_BG)
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.diagnostics_ == []
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    rfm = _rfm(sim)
    clv = customer_lifetime_value(bgf, ggf, rfm, time_months=12)
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(
        52.14, rfm["frequency"], rfm["recency"], rfm["T"]
    )
    # (continuous-time simulation: a customer may buy more than once a week, so max_purchases is not checked)
    check = clv_plausibility(bgf, ggf, clv=clv, expected_purchases=expected, max_yearly_spend=2000.0, currency="GBP")
    assert check.plausible and check.reasons == () and not check.at_boundary
    assert check.max_clv == pytest.approx(clv.max()) and check.limit == pytest.approx(20000.0)
    # the limit scales with the horizon, and a CLV beyond it is stated in words with the currency
    yardstick = clv.max() / 15  # 10 x yardstick is below the largest 12-month CLV...
    tight = clv_plausibility(bgf, clv=clv, max_yearly_spend=yardstick, currency="GBP")
    assert not tight.plausible and not tight.at_boundary and tight.limit == pytest.approx(10 * yardstick)
    assert "more than 10 times the largest yearly spend" in tight.reasons[0] and "GBP" in tight.reasons[0]
    # ... but not below a 24-month CLV of the same size
    assert clv_plausibility(bgf, clv=clv, max_yearly_spend=yardstick, horizon_months=24).plausible


def _no_dropout_sim() -> pd.DataFrame:
    """The data of the boundary test in test_fitting: nobody drops out, b runs to infinity."""
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=2000)
    return simulate_bgnbd(2000, T=T, seed=3, r=0.5, alpha=2.0, a=0.05, b=5000.0)


def test_clv_plausibility_accepts_the_limiting_model_at_the_no_dropout_boundary():
    sim = _no_dropout_sim()
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.model_ == "NBD (no drop-out)"
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    rfm = _rfm(sim)
    clv = customer_lifetime_value(bgf, ggf, rfm, time_months=12)
    assert np.isfinite(clv).all() and (clv >= 0).all()
    # the NBD forecast: (r + x) / (alpha + T) purchases per week, everyone alive
    r, alpha = bgf.params_["r"], bgf.params_["alpha"]
    weekly = (r + rfm["frequency"]) / (alpha + rfm["T"])
    undiscounted = customer_lifetime_value(bgf, ggf, rfm, time_months=12, discount_rate_monthly=0.0)
    value = ggf.conditional_expected_average_profit(rfm["frequency"], rfm["monetary_value"])
    np.testing.assert_allclose(undiscounted, weekly * 12 * 4.345 * value, rtol=1e-9)
    check = clv_plausibility(bgf, ggf, clv=clv, max_yearly_spend=5000.0)
    assert check.plausible and not check.at_boundary and check.reasons == ()
    assert [d.code for d in check.notes] == ["limit_model"] and check.notes[0] in bgf.diagnostics_
    assert check.models == ("NBD (no drop-out)", "Gamma-Gamma")


def test_clv_plausibility_withholds_a_run_away_fit_without_a_limiting_model(monkeypatch):
    from dataclasses import replace

    import bsc_toolkit.models.clv.bgnbd as bgnbd

    monkeypatch.setattr(BetaGeoFitter, "_specs", {k: replace(v, limits=()) for k, v in bgnbd.MODELS.items()})
    sim = _no_dropout_sim()
    bgf = BetaGeoFitter().fit(sim)
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    with np.errstate(all="ignore"):
        clv = customer_lifetime_value(bgf, ggf, _rfm(sim), time_months=12)
    check = clv_plausibility(bgf, ggf, clv=clv, max_yearly_spend=5000.0)
    assert not check.plausible and check.at_boundary
    assert "at a boundary of the model (no drop-out: b -> infinity" in check.reasons[0]
    assert {d.code for d in check.diagnostics} == {"boundary"}
    assert all(d in bgf.diagnostics_ for d in check.diagnostics)


def test_clv_plausibility_withholds_a_spend_model_with_infinite_mean():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    ggf = GammaGammaFitter.from_params(p=6.0, q=0.8, gamma=15.0)
    assert not ggf.fit_status_.usable and "infinite" in ggf.fit_status_.message
    check = clv_plausibility(bgf, ggf)
    assert not check.plausible and [d.code for d in check.diagnostics] == ["boundary"]


def test_clv_plausibility_catches_forecasts_that_are_not_finite_or_impossible():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)  # no diagnostics
    clv = pd.Series([10.0, np.inf, np.nan, 30.0])
    check = clv_plausibility(bgf, clv=clv)
    assert not check.plausible and "2 of 4 customer CLVs are not finite." in check.reasons
    assert check.max_clv == 30.0 and np.isnan(check.limit)  # no yardstick: the size is not checked
    neg = clv_plausibility(bgf, clv=pd.Series([10.0, -5.0]))
    assert neg.reasons == ("1 customer CLVs are negative.",)
    many = clv_plausibility(bgf, expected_purchases=np.array([3.0, 60.0]), max_purchases=52.14, period="week")
    assert not many.plausible and "more than the 52.14 weeks of the horizon" in many.reasons[0]
    bad = clv_plausibility(bgf, expected_purchases=np.array([3.0, np.nan, -1.0]))
    assert bad.reasons == ("2 of 3 expected purchase counts are not finite or negative.",)
    assert clv_plausibility(bgf, expected_purchases=np.array([3.0]), max_purchases=52.14).plausible
    with pytest.raises(ValueError, match="factor"):
        clv_plausibility(bgf, factor=0)


def test_clv_plausibility_counts_the_spend_model_and_non_convergence():
    from bsc_toolkit.models._base import Diagnostic

    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    ggf.diagnostics_.append(Diagnostic("not_converged", "Gamma-Gamma: the search did not converge."))
    ggf.diagnostics_.append(Diagnostic("assumption", "Gamma-Gamma: frequency and spend correlate."))
    check = clv_plausibility(bgf, ggf)
    assert not check.plausible and check.at_boundary
    assert check.reasons == ("The Gamma-Gamma fit is not converged.",)
    assert [d.code for d in check.diagnostics] == ["not_converged"]  # the assumption note is not a reason
