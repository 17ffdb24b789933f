"""The boundary: where a likelihood rises towards a limit of its model, the limiting model is fitted and used.

No silent nonsense: the fit says which model it used and why, its estimates and standard errors
are that model's (checked against independent fits), and every prediction is finite and right
for it (checked against the full model's formulas next to the limit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from bsc_toolkit.models.clv import (
    BetaGeoFitter,
    GammaGammaFitter,
    customer_lifetime_value,
    rfm_summary,
    simulate_bgnbd,
)
from bsc_toolkit.models.clv._bgnbd_math import GammaRates, NoDropout, compress_rfm, family_loglik
from bsc_toolkit.models.clv.value import clv_plausibility
from tests.models.clv import TRUE_BG
from tests.models.clv.test_cdnow import master_summary

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cdnow_master() -> pd.DataFrame:
    return master_summary()


def _no_dropout(seed: int, n: int = 2000) -> pd.DataFrame:
    """Practically nobody drops out: p ~ Beta(0.05, 5000), mean 1e-5."""
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=n)
    return simulate_bgnbd(n, T=T, seed=seed, r=0.5, alpha=2.0, a=0.05, b=5000.0)


def _independent_nbd(x: np.ndarray, T: np.ndarray) -> tuple[float, float, np.ndarray]:
    """r, alpha and their standard errors from statsmodels' NB2 count model with exposure T.

    x ~ Poisson(lambda T), lambda ~ Gamma(r, alpha): NB2 with mean exp(b0) T and dispersion
    1 / r, so r = 1 / dispersion and alpha = r / exp(b0).
    """
    import statsmodels.api as sm

    x, T = x[T > 0], T[T > 0]  # customers of age 0 carry no information
    res = sm.NegativeBinomial(x, np.ones((x.size, 1)), exposure=T).fit(disp=0, method="newton", maxiter=200)
    b0, disp = res.params
    r = 1.0 / disp
    alpha = r / np.exp(b0)
    J = np.array([[0.0, -1.0 / disp**2], [-alpha, -alpha / disp]])  # d(r, alpha) / d(b0, dispersion)
    se = np.sqrt(np.diag(J @ np.asarray(res.cov_params()) @ J.T))
    return r, alpha, se


# -- BG/NBD: no drop-out -------------------------------------------------------------------------


def test_simulated_no_dropout_data_use_the_nbd_and_its_estimates_are_the_nbd_count_model():
    sim = _no_dropout(seed=3)
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.model_ == "NBD (no drop-out)" and bgf.fit_status_.boundary == "no-dropout boundary"
    assert bgf.fit_status_.usable and bgf.converged_
    # the same estimates and standard errors as the NB2 count model of statsmodels
    r, alpha, se = _independent_nbd(sim["frequency"].to_numpy(), sim["T"].to_numpy())
    np.testing.assert_allclose(bgf.params_, [r, alpha], rtol=1e-6)
    np.testing.assert_allclose(bgf.standard_errors_, se, rtol=1e-4)
    # the simulated truth lies within the intervals
    ci = bgf.confidence_intervals_
    for k, v in {"r": 0.5, "alpha": 2.0}.items():
        assert ci.loc[k, "ci_lower"] < v < ci.loc[k, "ci_upper"], bgf.summary
    # predictions: finite, nobody leaves, (r + x) / (alpha + T) purchases per week
    x, t_x, T = sim["frequency"], sim["recency"], sim["T"]
    assert (bgf.conditional_probability_alive(x, t_x, T) == 1.0).all()
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T)
    np.testing.assert_allclose(pred, (r + x) * 52.0 / (alpha + T), rtol=1e-6)
    assert bgf.expected_number_of_purchases_up_to_time(10.0) == pytest.approx(r * 10.0 / alpha, rel=1e-6)
    for matrix in (bgf.probability_alive_matrix(), bgf.expected_purchases_matrix(t=4.0)):
        cells = matrix.to_numpy()
        assert np.isfinite(cells[~np.isnan(cells)]).all() and np.isnan(cells).sum() > 0
    assert (bgf.probability_alive_matrix().stack() == 1.0).all()


def test_the_split_drop_out_limit_is_used_where_its_likelihood_is_higher():
    """On other no-drop-out data the BG/NBD's supremum is at a, b -> 0 (a share pi leaves after one
    repeat purchase): the split model is used because it beats the NBD (maximum over the closure)."""
    sim = _no_dropout(seed=4)
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.model_ == "BG/NBD (split drop-out)" and bgf.fit_status_.boundary == "split drop-out boundary"
    assert list(bgf.params_.index) == ["r", "alpha", "pi"] and 0 < bgf.params_["pi"] < 0.05
    rows = compress_rfm(sim["frequency"].to_numpy(), sim["recency"].to_numpy(), sim["T"].to_numpy())
    nbd = optimize.minimize(
        lambda z: -family_loglik(GammaRates, NoDropout, np.exp(z), rows, 0)[0], np.log([0.5, 2.0]), method="Nelder-Mead"
    )
    assert bgf.log_likelihood_ > -nbd.fun + 1.0
    x, t_x, T = sim["frequency"], sim["recency"], sim["T"]
    alive = bgf.conditional_probability_alive(x, t_x, T)
    assert (alive[x != 1] == 1.0).all() and (alive[x == 1] < 1.0).all()
    assert np.isfinite(bgf.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T)).all()


@pytest.mark.slow  # reads and summarises the Online Retail log (~3 s)
def test_online_retail_weekly_uses_the_nbd_with_finite_forecasts():
    """The issue's case: b = 3.9e13, NaN standard errors and 5.6e13 forecast purchases before."""
    from bsc_toolkit import report_value as rv
    from bsc_toolkit.data.description import load_description
    from bsc_toolkit.data.io import load_dataset

    folder = ROOT / "examples" / "online_retail"
    path = load_description(folder).table_path("transactions")
    if not path.is_file():
        pytest.skip(f"the Online Retail data are not here ({path}); see examples/online_retail/README.md")
    data = load_dataset(folder).up_to_date_limit()
    tx = data.transactions
    full = rfm_summary(rv.net_refunds(tx, freq="W").transactions, freq="W", observation_end=tx["ordered_at"].max())
    bgf = BetaGeoFitter().fit(full)
    status = bgf.fit_status_
    assert bgf.model_ == status.model == "NBD (no drop-out)"
    assert status.boundary == "no-dropout boundary" and status.usable and status.converged
    assert bgf.search_path_[0].model == "BG/NBD" and bgf.search_path_[0].ran_away
    assert bgf.standard_errors_.notna().all()
    x, t_x, T = full["frequency"], full["recency"], full["T"]
    r, alpha, _ = _independent_nbd(x.to_numpy(), T.to_numpy())
    np.testing.assert_allclose(bgf.params_, [r, alpha], rtol=1e-5)
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(52.0, x, t_x, T)
    assert np.isfinite(pred).all() and pred.max() <= 52.0
    # the no-dropout forecast: 17,905 purchase weeks (ours nets refunds and drops far dates)
    assert pred.sum() == pytest.approx(((r + x) * 52.0 / (alpha + T)).sum(), rel=1e-6)
    assert 0.95 < pred.sum() / 17_905 < 1.05
    ggf = GammaGammaFitter().fit(full)
    clv = customer_lifetime_value(bgf, ggf, full, time_months=12, freq="W")
    check = clv_plausibility(bgf, ggf, clv=clv, expected_purchases=pred, max_purchases=52.14, period="week")
    assert np.isfinite(clv).all() and check.plausible and "limit_model" in {d.code for d in check.notes}


# -- BG/NBD: the other boundaries ------------------------------------------------------------------


def test_no_heterogeneity_in_purchase_rates_uses_the_bg_poisson():
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=3000)
    sim = simulate_bgnbd(3000, T=T, seed=4, r=2.5e5, alpha=1e6, a=0.8, b=2.5)  # lambda = 0.25 for everyone
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.model_ == "BG/Poisson" and bgf.fit_status_.boundary == "no-heterogeneity boundary (purchase rates)"
    ci = bgf.confidence_intervals_
    for k, v in {"lambda": 0.25, "a": 0.8, "b": 2.5}.items():
        assert ci.loc[k, "ci_lower"] < v < ci.loc[k, "ci_upper"], bgf.summary
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(20.0, sim["frequency"], sim["recency"], sim["T"])
    assert np.isfinite(pred).all() and (pred >= 0).all()


def test_a_common_drop_out_probability_uses_its_limit():
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=3000)
    sim = simulate_bgnbd(3000, T=T, seed=1, r=0.5, alpha=2.0, a=0.3e6, b=0.7e6)  # p = 0.3 for everyone
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.model_ == "BG/NBD (common drop-out probability)"
    assert bgf.fit_status_.boundary == "no-heterogeneity boundary (drop-out probabilities)"
    ci = bgf.confidence_intervals_
    for k, v in {"r": 0.5, "alpha": 2.0, "p": 0.3}.items():
        assert ci.loc[k, "ci_lower"] < v < ci.loc[k, "ci_upper"], bgf.summary
    assert 0 < ci.loc["p", "ci_lower"] < ci.loc["p", "ci_upper"] < 1  # logit-scale interval of a probability


LIMITS = [
    ("NBD (no drop-out)", dict(r=0.4, alpha=3.0, a=0.8, b=1e9), dict(r=0.4, alpha=3.0)),
    ("BG/Poisson", dict(r=0.2e8, alpha=1e8, a=0.8, b=2.5), dict(**{"lambda": 0.2}, a=0.8, b=2.5)),
    ("BG/NBD (common drop-out probability)", dict(r=0.4, alpha=3.0, a=0.3e8, b=0.7e8), dict(r=0.4, alpha=3.0, p=0.3)),
    ("BG/NBD (split drop-out)", dict(r=0.4, alpha=3.0, a=0.2e-9, b=0.8e-9), dict(r=0.4, alpha=3.0, pi=0.2)),
    ("Poisson (no drop-out)", dict(r=0.2e8, alpha=1e8, a=0.8, b=1e9), {"lambda": 0.2}),
    ("Poisson (common drop-out probability)", dict(r=0.2e8, alpha=1e8, a=0.3e8, b=0.7e8), {"lambda": 0.2, "p": 0.3}),
    ("Poisson (split drop-out)", dict(r=0.2e8, alpha=1e8, a=0.2e-9, b=0.8e-9), {"lambda": 0.2, "pi": 0.2}),
]
X = np.array([0.0, 1.0, 1.0, 2.0, 5.0, 12.0])
T_X = np.array([0.0, 3.0, 25.0, 10.0, 20.0, 29.0])
AGE = np.full(6, 30.0)


def _alive_expectation(params: dict, t: float, x: float, T: float) -> float:
    """Expected purchases in (T, T + t] of a customer alive at T, from first principles by quadrature.

    Alive, a customer's rate has the posterior Gamma(r + x, alpha + T) (or is lambda) and their
    drop-out probability p the posterior Beta(a, b + x) (or p; or, in the split model, 1 with
    probability pi if x = 0, else 0); with rate lam and drop-out probability p, the purchases in t
    average (1 - exp(-p lam t)) / p.
    """
    from scipy import integrate, stats

    def given_p(p: float) -> float:  # averaged over the rate
        if "lambda" in params:
            lam = params["lambda"]
            return lam * t if p == 0 else -np.expm1(-p * lam * t) / p
        r, alpha = params["r"], params["alpha"]
        if p == 0:
            return (r + x) * t / (alpha + T)
        return -np.expm1(-(r + x) * np.log1p(p * t / (alpha + T))) / p

    if "a" in params:
        density = stats.beta(params["a"], params["b"] + x).pdf
        return integrate.quad(lambda p: given_p(p) * density(p), 0.0, 1.0, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    if "p" in params:
        return given_p(params["p"])
    if "pi" in params and x == 0:
        return params["pi"] * given_p(1.0) + (1 - params["pi"]) * given_p(0.0)
    return given_p(0.0)


@pytest.mark.parametrize("name, near, limit", LIMITS, ids=[n for n, *_ in LIMITS])
def test_limiting_model_predictions_from_first_principles(name, near, limit):
    lim = BetaGeoFitter.from_params(**limit)
    assert lim.model_ == name
    alive = np.asarray(lim.conditional_probability_alive(X, T_X, AGE))
    # P(alive) is the BG/NBD's next to the limit (where its closed form is still exact)
    full = BetaGeoFitter.from_params(**near)
    np.testing.assert_allclose(alive, full.conditional_probability_alive(X, T_X, AGE), rtol=1e-6)
    for t in (1.0, 13.0, 52.0):
        expected = np.array([_alive_expectation(limit, t, x, T) for x, T in zip(X, AGE)]) * alive
        got = lim.conditional_expected_number_of_purchases_up_to_time(t, X, T_X, AGE)
        np.testing.assert_allclose(got, expected, rtol=1e-8)
        assert lim.expected_number_of_purchases_up_to_time(t) == pytest.approx(
            _alive_expectation(limit, t, 0.0, 0.0), rel=1e-8
        )


def test_the_bgnbd_formula_itself_is_the_quadrature():
    """The same first-principles check on the full model (guards the quadrature above)."""
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    alive = np.asarray(bgf.conditional_probability_alive(X, T_X, AGE))
    expected = np.array([_alive_expectation(TRUE_BG, 13.0, x, T) for x, T in zip(X, AGE)]) * alive
    np.testing.assert_allclose(
        bgf.conditional_expected_number_of_purchases_up_to_time(13.0, X, T_X, AGE), expected, rtol=1e-8
    )


def test_the_nbd_limit_matches_monte_carlo():
    n, T, t = 100_000, 30.0, 20.0
    sim = simulate_bgnbd(n, T=T, seed=5, holdout=t, r=0.5, alpha=2.0, a=0.05, b=5000.0)
    nbd = BetaGeoFitter.from_params(r=0.5, alpha=2.0)
    pred = nbd.conditional_expected_number_of_purchases_up_to_time(t, sim["frequency"], sim["recency"], sim["T"])
    for x in (0, 1, 3):
        g = sim["frequency"] == x
        actual = sim.loc[g, "frequency_holdout"]
        assert abs(actual.mean() - pred[g].mean()) < 4 * actual.std() / np.sqrt(g.sum())


# -- BG/NBD: predictions next to the BG/Poisson limit and where scipy's hyp2f1 fails ---------------


def _near_bgp(r: float) -> dict:
    """An interior BG/NBD with purchase rates Gamma(r, r / 0.3): mean 0.3, coefficient of variation 1 / sqrt(r)."""
    return dict(r=r, alpha=r / 0.3, a=0.8, b=2.4)


def _fhl_eq10(params: dict, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """FHL 2005 eq. 10 (expected purchases of a customer alive at T) with scipy's hyp2f1, as printed."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    z = t / (alpha + T + t)
    c = a + b + x - 1
    return c / (a - 1) * (1 - (1 - z) ** (r + x) * special.hyp2f1(r + x, b + x, c, z))


@pytest.mark.parametrize("r, rtol", [(1e3, 1e-8), (1e4, 2e-7)])
def test_large_r_agrees_with_hyp2f1_where_that_works(r, rtol):
    """From r + x = 1000 on the expectation is the expansion around the BG/Poisson; where scipy's hyp2f1
    still works it gives the same within hyp2f1's own error, which grows with r (1e-9 at r = 1e3, 7e-8
    at 1e4): the first-principles quadrature agrees with the toolkit to 1e-11."""
    params = _near_bgp(r)
    bgf = BetaGeoFitter.from_params(**params)
    alive = np.asarray(bgf.conditional_probability_alive(X, T_X, AGE))
    for t in (1.0, 13.0, 52.0):
        got = bgf.conditional_expected_number_of_purchases_up_to_time(t, X, T_X, AGE)
        np.testing.assert_allclose(got, _fhl_eq10(params, t, X, AGE) * alive, rtol=rtol)
        expected = np.array([_alive_expectation(params, t, x, T) for x, T in zip(X, AGE)]) * alive
        np.testing.assert_allclose(got, expected, rtol=1e-11)


def test_large_r_predictions_are_finite_exact_and_tend_to_the_bg_poisson():
    """The review's case: r = 1e5 (scipy's hyp2f1 NaN) gave NaN predictions. They are finite, the
    first-principles ones, and approach the BG/Poisson's (lambda = r / alpha) like 1 / r: within
    c / r with c = 24..32 here, so within 1e-8 from r ~ 3e9."""
    assert np.isfinite(BetaGeoFitter.from_params(**_near_bgp(1e5)).predict(20, [1], [10], [39])).all()
    bgp = BetaGeoFitter.from_params(**{"lambda": 0.3}, a=0.8, b=2.4)
    gap = {}
    for r in (1e5, 1e8, 1e10):
        params = _near_bgp(r)
        bgf = BetaGeoFitter.from_params(**params)
        alive = np.asarray(bgf.conditional_probability_alive(X, T_X, AGE))
        gap[r, "alive"] = np.abs(alive / bgp.conditional_probability_alive(X, T_X, AGE) - 1).max()
        for t in (1.0, 52.0):
            got = bgf.conditional_expected_number_of_purchases_up_to_time(t, X, T_X, AGE)
            assert np.isfinite(got).all()
            expected = np.array([_alive_expectation(params, t, x, T) for x, T in zip(X, AGE)]) * alive
            np.testing.assert_allclose(got, expected, rtol=1e-11)
            new = bgf.expected_number_of_purchases_up_to_time(t)
            assert new == pytest.approx(_alive_expectation(params, t, 0.0, 0.0), rel=1e-11)
            gap[r, t] = np.abs(got / bgp.predict(t, X, T_X, AGE) - 1).max()
    for what in ("alive", 1.0, 52.0):
        assert 10 / 1e5 < gap[1e5, what] < 50 / 1e5, gap
        assert gap[1e5, what] / gap[1e8, what] == pytest.approx(1e3, rel=0.01), gap  # O(1 / r)
        assert gap[1e10, what] < 1e-8, gap


HYP2F1_CORNERS = [  # NaN before: scipy's hyp2f1 fails here (at least for new customers)
    (dict(r=0.3, alpha=0.01, a=0.3, b=3.0), 100.0),  # a horizon 1e4 times alpha
    (dict(r=0.3, alpha=1.0, a=0.3, b=1000.0), 10.0),  # drop-out probabilities near 0
    (dict(r=0.25, alpha=4.0, a=1.0, b=2.5), 52.0),  # a = 1: the formula's removable 0/0
]


@pytest.mark.parametrize("params, t", HYP2F1_CORNERS, ids=["long horizon", "large b", "a = 1"])
def test_predictions_where_hyp2f1_fails_are_the_first_principles_ones(params, t):
    bgf = BetaGeoFitter.from_params(**params)
    alive = np.asarray(bgf.conditional_probability_alive(X, T_X, AGE))
    expected = np.array([_alive_expectation(params, t, x, T) for x, T in zip(X, AGE)]) * alive
    np.testing.assert_allclose(
        bgf.conditional_expected_number_of_purchases_up_to_time(t, X, T_X, AGE), expected, rtol=1e-8
    )
    assert bgf.expected_number_of_purchases_up_to_time(t) == pytest.approx(
        _alive_expectation(params, t, 0.0, 0.0), rel=1e-8
    )


def test_cdnow_sample_does_not_trigger_the_boundary(cdnow_summary):
    bgf = BetaGeoFitter().fit(cdnow_summary)
    ggf = GammaGammaFitter().fit(cdnow_summary)
    for model, name in ((bgf, "BG/NBD"), (ggf, "Gamma-Gamma")):
        assert model.model_ == name and model.fit_status_.boundary is None and model.fit_status_.usable
        assert model.diagnostics_ == [] and len(model.search_path_) == 1


def test_cdnow_master_does_not_trigger_the_boundary(cdnow_master):
    bgf = BetaGeoFitter().fit(cdnow_master)
    assert bgf.model_ == "BG/NBD" and bgf.fit_status_.boundary is None and bgf.diagnostics_ == []
    rep = cdnow_master[cdnow_master["monetary_value"] > 0]
    ggf = GammaGammaFitter().fit(rep)
    assert ggf.model_ == "Gamma-Gamma" and ggf.fit_status_.boundary is None and ggf.fit_status_.usable


def test_a_sound_fit_checks_no_limit(sim_fit):
    _, bgf = sim_fit
    assert [m.model for m in bgf.search_path_] == ["BG/NBD"] and bgf.fit_status_.boundary is None
    assert bgf.params_.to_dict() == pytest.approx(TRUE_BG, rel=0.5)


# -- Gamma-Gamma -----------------------------------------------------------------------------------


def _frequencies(seed: int, n: int = 3000) -> np.ndarray:
    return np.random.default_rng(seed).poisson(2.0, n) + 1.0


def test_spend_constant_within_customers_uses_the_inverse_gamma_limit():
    x = _frequencies(1)
    mu = 30.0 / np.random.default_rng(101).gamma(4.0, 1.0, x.size)  # InverseGamma(4, scale 30): every purchase mu
    summary = pd.DataFrame({"frequency": np.r_[x, 0.0], "monetary_value": np.r_[mu, 0.0]})
    ggf = GammaGammaFitter().fit(summary)
    assert ggf.model_ == "Inverse-gamma spend (constant within customers)"
    assert ggf.fit_status_.boundary == "no-variation boundary (spend within customers)" and ggf.fit_status_.usable
    assert list(ggf.params_.index) == ["q", "scale"] and [d.code for d in ggf.diagnostics_] == ["limit_model"]
    ci = ggf.confidence_intervals_
    for k, v in {"q": 4.0, "scale": 30.0}.items():
        assert ci.loc[k, "ci_lower"] < v < ci.loc[k, "ci_upper"], ggf.summary
    # the observed mean for repeat buyers; the population mean scale / (q - 1) without repeat purchases
    value = ggf.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    np.testing.assert_allclose(value.iloc[:-1], mu)
    pop = ggf.params_["scale"] / (ggf.params_["q"] - 1)
    assert value.iloc[-1] == pytest.approx(pop) and ggf.population_mean_spend() == pytest.approx(pop)


def test_no_heterogeneity_in_mean_spend_uses_the_common_mean_limit():
    x = _frequencies(4)
    m = np.random.default_rng(4).gamma(3.0 * x, 1.0 / (0.1 * x))  # every purchase Gamma(3, 0.1): mean 30
    ggf = GammaGammaFitter().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    assert ggf.model_ == "Gamma spend (common mean)"
    assert ggf.fit_status_.boundary == "no-heterogeneity boundary (mean spend)" and ggf.fit_status_.usable
    ci = ggf.confidence_intervals_
    for k, v in {"p": 3.0, "nu": 0.1}.items():
        assert ci.loc[k, "ci_lower"] < v < ci.loc[k, "ci_upper"], ggf.summary
    mean = ggf.params_["p"] / ggf.params_["nu"]
    assert ggf.population_mean_spend() == pytest.approx(mean) and abs(mean / 30.0 - 1) < 0.02
    np.testing.assert_allclose(ggf.conditional_expected_average_profit(x, m), mean)
    # next to the limit the Gamma-Gamma formula gives the same
    near = GammaGammaFitter.from_params(p=3.0, q=1e9, gamma=1e10)
    common = GammaGammaFitter.from_params(p=3.0, nu=0.1)
    np.testing.assert_allclose(
        near.conditional_expected_average_profit(x, m), common.conditional_expected_average_profit(x, m), rtol=1e-6
    )


def test_infinite_mean_spend_stays_an_error():
    """q <= 1 is no limit with a model: the fit says so and is not usable."""
    rng = np.random.default_rng(6)
    x = _frequencies(6, 4000)
    nu = rng.gamma(0.7, 1.0 / 5.0, x.size)  # q = 0.7: the mean of p / nu is infinite
    m = rng.gamma(4.0 * x, 1.0 / (nu * x))
    ggf = GammaGammaFitter().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    assert ggf.params_["q"] <= 1
    assert not ggf.fit_status_.usable and "infinite" in ggf.fit_status_.message
    assert [(d.code, d.severity) for d in ggf.diagnostics_] == [("boundary", "error")]
    with pytest.raises(ValueError, match="infinite"):
        ggf.conditional_expected_average_profit(2.0, 10.0)
    assert ggf.population_mean_spend() == float("inf")


def test_gamma_gamma_on_fixed_prices_fits_the_spend_constant_limit():
    # every customer pays one plan price on every purchase: spend does not vary within customers, so the
    # Gamma-Gamma likelihood rises towards p -> infinity; the limit is the inverse-gamma model of mean spend
    from scipy import optimize, stats

    rng = np.random.default_rng(7)  # a draw on which the former log-likelihood (cancelling gammaln) missed the limit
    n = 2000
    x = rng.integers(1, 48, n).astype(float)
    m = rng.choice([29.0, 79.0, 249.0], n, p=[0.6, 0.3, 0.1])
    ggf = GammaGammaFitter().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
    assert ggf.fit_status_.model == "Inverse-gamma spend (constant within customers)" and ggf.fit_status_.usable

    def neg(e):
        return -stats.invgamma.logpdf(m, np.exp(e[0]), scale=np.exp(e[1])).sum()

    ref = optimize.minimize(neg, [0.5, 4.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10})
    assert ggf.log_likelihood_ == pytest.approx(-ref.fun, abs=1e-6)
    np.testing.assert_allclose(ggf.params_.to_numpy(), np.exp(ref.x), rtol=1e-4)
