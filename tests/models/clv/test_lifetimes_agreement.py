"""Agreement with lifetimes 0.11.3 (a dev dependency, never imported by the package).

Estimates to 1e-4 relative and standard errors to 1e-3 on the CDNOW sample, the CDNOW master
cohort and a simulation; predictions (conditional expected purchases, P(alive), expected
average profit, CLV) to 1e-6 relative at the same parameters.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value
from bsc_toolkit.models.clv.simulate import simulate_bgnbd_days
from tests.models.clv.test_cdnow import master_summary

lifetimes = pytest.importorskip("lifetimes", reason="lifetimes (the dev extra) is not installed")

PARAM_RTOL = 1e-4
SE_RTOL = 1e-3
PREDICTION_RTOL = 1e-6


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _data(name: str, cdnow_summary_factory) -> pd.DataFrame:
    if name == "simulated":
        return simulate_bgnbd_days(5000, r=0.243, alpha=4.414, a=0.793, b=2.426, seed=7)
    if name == "CDNOW master":
        return master_summary()
    return cdnow_summary_factory()


@pytest.fixture
def summary_of(request):
    return lambda name: _data(name, lambda: request.getfixturevalue("cdnow_summary"))


def _assert_rel(ours: pd.Series, theirs: pd.Series, rtol: float) -> None:
    theirs = theirs.rename({"v": "gamma"}).reindex(ours.index)
    np.testing.assert_allclose(ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float), rtol=rtol)


@pytest.mark.parametrize("name", ["CDNOW sample", "CDNOW master", "simulated"])
def test_bgnbd_estimates_and_standard_errors_agree(name, summary_of):
    s = summary_of(name)
    ours = BetaGeoFitter().fit(s)
    theirs = lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    assert ours.model_ == "BG/NBD"
    _assert_rel(ours.params_, theirs.params_, PARAM_RTOL)
    _assert_rel(ours.standard_errors_, theirs.standard_errors_, SE_RTOL)


@pytest.mark.parametrize("name", ["CDNOW sample", "CDNOW master"])
def test_gamma_gamma_estimates_and_standard_errors_agree(name, summary_of):
    s = summary_of(name)
    rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    ours = GammaGammaFitter().fit(rep)
    theirs = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    _assert_rel(ours.params_, theirs.params_, PARAM_RTOL)
    _assert_rel(ours.standard_errors_, theirs.standard_errors_, SE_RTOL)


def test_predictions_agree_at_the_same_parameters(cdnow_summary):
    s = cdnow_summary
    lbg = lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    lgg = lifetimes.GammaGammaFitter().fit(
        s.loc[s["frequency"] > 0, "frequency"], s.loc[s["frequency"] > 0, "monetary_value"]
    )
    bgf = BetaGeoFitter.from_params(**lbg.params_.to_dict())
    ggf = GammaGammaFitter.from_params(**lgg.params_.rename({"v": "gamma"}).to_dict())
    f, r, T, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]
    for t in (1.0, 10.0, 39.0):
        np.testing.assert_allclose(
            bgf.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
            lbg.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
            rtol=PREDICTION_RTOL,
        )
        assert bgf.expected_number_of_purchases_up_to_time(t) == pytest.approx(
            float(lbg.expected_number_of_purchases_up_to_time(t)), rel=PREDICTION_RTOL
        )
    np.testing.assert_allclose(
        bgf.conditional_probability_alive(f, r, T), lbg.conditional_probability_alive(f, r, T), rtol=PREDICTION_RTOL
    )
    np.testing.assert_allclose(
        ggf.conditional_expected_average_profit(f, m),
        lgg.conditional_expected_average_profit(f, m),
        rtol=PREDICTION_RTOL,
    )
    ours = customer_lifetime_value(bgf, ggf, s, time_months=12, discount_rate_monthly=0.01, freq="W")
    theirs = lgg.customer_lifetime_value(lbg, f, r, T, m, time=12, discount_rate=0.01, freq="W")
    np.testing.assert_allclose(ours, theirs, rtol=PREDICTION_RTOL)
    assert ours.index.equals(s.index)
