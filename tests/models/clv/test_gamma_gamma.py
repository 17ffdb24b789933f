"""GammaGammaFitter: truth recovery, conditional mean by Monte Carlo, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import GammaGammaFitter, simulate_gamma_gamma
from tests.models.clv import TRUE_GG


def test_gamma_gamma_recovers_simulated_truth():
    rng = np.random.default_rng(5)
    freq = pd.Series(rng.poisson(2.0, size=6000).astype(float))
    sim = simulate_gamma_gamma(freq, seed=11, **TRUE_GG)
    ggf = GammaGammaFitter().fit(sim)
    truth = pd.Series(TRUE_GG)
    assert ggf.n_customers_ == int((freq > 0).sum())
    assert ((ggf.params_ - truth).abs() < 3 * ggf.standard_errors_).all(), ggf.summary
    ci = ggf.confidence_intervals_
    assert ((ci["ci_lower"] < truth) & (truth < ci["ci_upper"])).all(), ggf.summary
    assert abs(ggf.population_mean_spend() / (6.0 * 15.0 / 2.8) - 1) < 0.05


def test_gamma_gamma_conditional_mean_monte_carlo():
    freq = pd.Series(np.tile([1.0, 3.0, 10.0], 40_000))
    sim = simulate_gamma_gamma(freq, seed=2, **TRUE_GG)
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    pred = ggf.conditional_expected_average_profit(sim["frequency"], sim["monetary_value"])
    true_mean = TRUE_GG["p"] / sim["nu_"]  # E[z | nu]
    for x in (1.0, 3.0, 10.0):
        g = sim["frequency"] == x
        se = (true_mean[g] - pred[g]).std() / np.sqrt(g.sum())
        assert abs(true_mean[g].mean() - pred[g].mean()) < 4 * se
    # frequency 0 -> population mean
    assert ggf.conditional_expected_average_profit(0.0, 0.0) == pytest.approx(6.0 * 15.0 / 2.8)


def test_gamma_gamma_bad_input():
    bad = pd.DataFrame({"frequency": [1.0, 2.0, 3.0, 1.0], "monetary_value": [10.0, 0.0, 5.0, 3.0]})
    with pytest.raises(ValueError, match="non-positive 'monetary_value'.*rows \\[1\\]"):
        GammaGammaFitter().fit(bad)
    with pytest.raises(ValueError, match="missing column"):
        GammaGammaFitter().fit(bad.drop(columns="monetary_value"))


@pytest.mark.parametrize(
    "key, params", [("gg", (3.0, 4.0, 20.0)), ("gg_constant", (3.0, 40.0)), ("gg_common", (3.0, 0.1))]
)
def test_gamma_gamma_family_derivatives_match_central_differences(key, params):
    from bsc_toolkit.models.clv.gamma_gamma import MODELS, _GGLikelihood

    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, 300).astype(float)
    m = rng.gamma(3.0, 10.0, 300)
    lik, spec, p = _GGLikelihood(x, m), MODELS[key], np.array(params)
    ll, g, H = lik.loglik(spec, p, 2, True)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)
    for i in range(p.size):
        h = 1e-6 * p[i]
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        f_up, g_up, _ = lik.loglik(spec, up, 1, True)
        f_down, g_down, _ = lik.loglik(spec, down, 1, True)
        assert g[i] == pytest.approx((f_up - f_down) / (2 * h), rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(H[i], (g_up - g_down) / (2 * h), rtol=1e-5, atol=1e-5)
    if key == "gg":  # the Fader & Hardie (2013) log density, term by term
        from scipy import special

        a, q, v = p
        px = a * x
        ref = (
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(v + x * m)
        )
        assert ll == pytest.approx(ref.sum(), rel=1e-12)
        # spend rescaled in the search: the same fit in natural units
        assert lik.loglik(spec, p * [1, 1, lik.scale], 0, False)[0] == pytest.approx(ll - 300 * np.log(lik.scale))
