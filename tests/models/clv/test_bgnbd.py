"""BetaGeoFitter: truth recovery, closed forms, Monte Carlo, matrices, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import BetaGeoFitter, simulate_bgnbd
from tests.models.clv import TRUE_BG


@pytest.mark.slow
def test_bgnbd_recovers_simulated_truth(sim_fit):
    _, bgf = sim_fit
    truth = pd.Series(TRUE_BG)
    est, se = bgf.params_, bgf.standard_errors_
    # within 3 standard errors, and the 95% intervals cover the truth
    assert ((est - truth).abs() < 3 * se).all(), bgf.summary
    ci = bgf.confidence_intervals_
    assert ((ci["ci_lower"] < truth) & (truth < ci["ci_upper"])).all(), bgf.summary
    # r and alpha are well determined: within 15 %
    assert abs(est["r"] / truth["r"] - 1) < 0.15
    assert abs(est["alpha"] / truth["alpha"] - 1) < 0.15
    assert list(bgf.summary.columns) == ["coef", "se", "ci_lower", "ci_upper", "p_value"]
    assert bgf.converged_ and bgf.converged


def test_bgnbd_closed_forms():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    # P(alive) = 1 without repeat purchases; < 1 otherwise, decreasing in T - t_x
    assert np.all(bgf.conditional_probability_alive(np.zeros(3), np.zeros(3), np.array([1.0, 10, 50])) == 1.0)
    pa = bgf.conditional_probability_alive(np.array([3.0, 3.0]), np.array([10.0, 10.0]), np.array([10.0, 40.0]))
    assert 0 < pa[1] < pa[0] < 1
    # hand formula for one customer
    r, al, a, b = TRUE_BG.values()
    x, tx, T = 2.0, 5.0, 20.0
    hand = 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x))
    assert bgf.conditional_probability_alive(x, tx, T) == pytest.approx(hand, rel=1e-12)
    # no information (x = 0, T = 0): conditional expectation = unconditional E[X(t)]
    for t in (1.0, 10.0, 52.0):
        assert bgf.conditional_expected_number_of_purchases_up_to_time(t, 0.0, 0.0, 0.0) == pytest.approx(
            bgf.expected_number_of_purchases_up_to_time(t), rel=1e-10
        )
    assert bgf.conditional_expected_number_of_purchases_up_to_time(0.0, 2.0, 5.0, 20.0) == 0.0
    # Series in, Series out (index preserved)
    s = pd.Series([0.0, 1.0], index=["u", "v"])
    out = bgf.conditional_probability_alive(
        s, pd.Series([0.0, 3.0], index=s.index), pd.Series([9.0, 9.0], index=s.index)
    )
    assert list(out.index) == ["u", "v"]


def test_bgnbd_matches_monte_carlo():
    n, T, t = 200_000, 30.0, 20.0
    sim = simulate_bgnbd(n, T=T, seed=3, holdout=t, **TRUE_BG)
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    # unconditional E[X(T)]
    se = sim["frequency"].std() / np.sqrt(n)
    assert abs(sim["frequency"].mean() - bgf.expected_number_of_purchases_up_to_time(T)) < 4 * se
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(t, sim["frequency"], sim["recency"], sim["T"])
    palive = bgf.conditional_probability_alive(sim["frequency"], sim["recency"], sim["T"])
    for x in (0, 1, 2, 4):
        g = sim["frequency"] == x if x < 4 else sim["frequency"] >= x
        actual = sim.loc[g, "frequency_holdout"]
        se = actual.std() / np.sqrt(g.sum())
        assert abs(actual.mean() - pred[g].mean()) < 4 * se, (x, actual.mean(), pred[g].mean())
        alive = sim.loc[g, "alive"].astype(float)
        se_a = max(alive.std() / np.sqrt(g.sum()), 1e-3)
        assert abs(alive.mean() - palive[g].mean()) < 4 * se_a


def test_bgnbd_matrices():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    m = bgf.probability_alive_matrix(max_frequency=5, max_recency=10)
    assert m.shape == (11, 6) and m.index.name == "recency" and m.columns.name == "frequency"
    assert m.loc[0, 0] == 1.0 and np.isnan(m.loc[3, 0]) and np.isnan(m.loc[0, 3])
    # more recent last purchase -> more likely alive
    assert m.loc[10, 3] > m.loc[5, 3]
    e = bgf.expected_purchases_matrix(t=4, max_frequency=5, max_recency=10)
    assert (e.stack() >= 0).all()
    with pytest.raises(ValueError, match="max_frequency"):
        bgf.probability_alive_matrix()


@pytest.mark.parametrize(
    "frame, match",
    [
        (pd.DataFrame({"frequency": [1.0, 0], "recency": [2.0, 0]}), r"missing column\(s\) \['T'\]"),
        (pd.DataFrame({"frequency": [1.0, -1], "recency": [2.0, 0], "T": [5.0, 5]}), "negative 'frequency'"),
        (pd.DataFrame({"frequency": [1.0, 2], "recency": [2.0, 0], "T": [5.0, 5]}), "recency' == 0"),
        (pd.DataFrame({"frequency": [1.0, 2], "recency": [2.0, 6], "T": [5.0, 5]}), "greater than 'T'"),
        (pd.DataFrame({"frequency": [1.0, np.nan], "recency": [2.0, 1], "T": [5.0, 5]}), "'frequency' has 1 missing"),
        (pd.DataFrame({"frequency": [1.5, 1], "recency": [2.0, 1], "T": [5.0, 5]}), "non-integer"),
    ],
)
def test_bgnbd_bad_input(frame, match):
    with pytest.raises(ValueError, match=match):
        BetaGeoFitter().fit(frame)


def test_t_zero_allowed_and_negative_t_rejected():
    ok = pd.DataFrame({"frequency": [0.0, 2.0, 1.0], "recency": [0.0, 5.0, 3.0], "T": [0.0, 9.0, 4.0]})
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    assert bgf.conditional_probability_alive(ok["frequency"], ok["recency"], ok["T"]).iloc[0] == 1.0
    with pytest.raises(ValueError, match="negative 'T'"):
        BetaGeoFitter().fit(ok.assign(T=[-1.0, 9.0, 4.0]))


def test_duplicated_customers_give_the_same_estimates_and_smaller_standard_errors():
    """The fit runs on distinct (x, t_x, T) rows with counts: k copies of every customer are k-fold information."""
    T = np.round(np.random.default_rng(3).uniform(20.0, 40.0, size=1500) * 7) / 7
    sim = simulate_bgnbd(1500, T=T, seed=9, **TRUE_BG)[["frequency", "recency", "T"]]
    once = BetaGeoFitter().fit(sim)
    thrice = BetaGeoFitter().fit(pd.concat([sim, sim, sim], ignore_index=True))
    np.testing.assert_allclose(thrice.params_, once.params_, rtol=1e-7)
    np.testing.assert_allclose(thrice.standard_errors_, once.standard_errors_ / np.sqrt(3), rtol=1e-6)
    assert thrice.log_likelihood_ == pytest.approx(3 * once.log_likelihood_, rel=1e-12)
    assert thrice.n_customers_ == 4500 and once.model_ == thrice.model_ == "BG/NBD"
