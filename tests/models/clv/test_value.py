"""customer_lifetime_value and clv_at_risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import BetaGeoFitter, GammaGammaFitter, clv_at_risk, customer_lifetime_value
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
