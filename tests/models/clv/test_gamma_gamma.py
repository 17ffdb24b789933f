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
