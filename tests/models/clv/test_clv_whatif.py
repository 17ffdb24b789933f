"""clv_what_if: satisfaction shifted inside the BG/NBD with covariates, carried to purchases and money."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models._base import NotEstimableError, z_critical
from bsc_toolkit.models.clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, simulate_gamma_gamma
from bsc_toolkit.models.clv.bgnbd_covariates import BetaGeoCovariatesFitter
from bsc_toolkit.models.clv.clv_whatif import WHAT_IF_MEASURES, clv_what_if
from bsc_toolkit.models.clv.simulate import simulate_bgnbd_covariates
from tests.models.clv import TRUE_BG, TRUE_GG

COLUMNS = ["baseline", "scenario", "change", "change_ci_lower", "change_ci_upper", "change_pct"]
INTERVALS = ["delta", "draws"]


def _data(n: int, seed: int, gp: float, gd: float, scale: bool = False) -> pd.DataFrame:
    """Simulated customers: continuous csat and ages, or (``scale``) csat 1-5 and four cohorts' ages."""
    rng = np.random.default_rng(seed)
    if scale:
        csat = pd.DataFrame({"csat": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n, p=[0.05, 0.1, 0.25, 0.35, 0.25])})
        T = rng.choice([39.0, 52.0, 65.0, 78.0], n)
    else:
        csat, T = None, rng.uniform(30.0, 78.0, n)
    sim = simulate_bgnbd_covariates(
        n, **TRUE_BG, gamma_purchase={"csat": gp}, gamma_dropout={"csat": gd}, covariates=csat, T=T, seed=seed
    )
    sim["monetary_value"] = simulate_gamma_gamma(sim["frequency"], **TRUE_GG, seed=seed)["monetary_value"]
    return sim


@pytest.fixture(scope="module")
def effect():
    """4,000 customers whose satisfaction raises purchasing and lowers drop-out; fitted models."""
    sim = _data(4000, seed=1, gp=0.3, gd=-0.5)
    return sim, BetaGeoCovariatesFitter().fit(sim, "csat"), GammaGammaFitter().fit(sim)


@pytest.fixture(scope="module")
def no_effect():
    sim = _data(4000, seed=2, gp=0.0, gd=0.0)
    return sim, BetaGeoCovariatesFitter().fit(sim, "csat"), GammaGammaFitter().fit(sim)


@pytest.fixture(scope="module")
def scale_effect():
    """4,000 customers with csat on a 1-5 scale (a quarter at 5) in four cohorts: few distinct cells."""
    sim = _data(4000, seed=9, gp=0.3, gd=-0.5, scale=True)
    return sim, BetaGeoCovariatesFitter().fit(sim, "csat"), GammaGammaFitter().fit(sim)


@pytest.mark.parametrize("interval", INTERVALS)
def test_higher_satisfaction_means_more_purchases_and_money(effect, interval):
    sim, fit, gg = effect
    sim = sim.iloc[:2000]  # the fit used all 4,000; the what-if runs on half of them (time)
    out = clv_what_if(fit, sim, "csat", 1.0, spend_model=gg, n_draws=80, seed=3, interval=interval)
    assert list(out.columns) == COLUMNS
    assert list(out.index) == list(WHAT_IF_MEASURES)
    for measure in ("expected_purchases", "mean_p_alive_now", "mean_p_alive_horizon", "clv"):
        row = out.loc[measure]
        assert row["change"] > 0 and row["change_ci_lower"] > 0, (measure, row.to_dict())
        assert row["change_ci_lower"] < row["change"] < row["change_ci_upper"]
    drop = out.loc["mean_dropout_probability"]
    assert drop["change"] < 0 and drop["change_ci_upper"] < 0
    np.testing.assert_allclose(out["change"], out["scenario"] - out["baseline"])
    np.testing.assert_allclose(out["change_pct"], 100 * out["change"] / out["baseline"])
    assert out.attrs["n_customers"] == len(sim) and out.attrs["n_missing_covariate"] == 0
    assert out.attrs["horizon_periods"] == pytest.approx(12 * 4.345)
    assert out.attrs["interval"] == interval and out.attrs["n_draws"] == (80 if interval == "draws" else 0)


def test_figures_are_the_fitters_predictions(effect):
    sim, fit, _ = effect
    out = clv_what_if(fit, sim, "csat", 0.5, n_draws=0, interval="draws")
    horizon = out.attrs["horizon_periods"]
    shifted = sim.assign(csat=sim["csat"] + 0.5)
    assert out.loc["expected_purchases", "baseline"] == pytest.approx(fit.predict(horizon, sim).sum(), rel=1e-10)
    assert out.loc["expected_purchases", "scenario"] == pytest.approx(fit.predict(horizon, shifted).sum(), rel=1e-10)
    assert out.loc["mean_p_alive_now", "scenario"] == pytest.approx(
        fit.conditional_probability_alive(shifted).mean(), rel=1e-10
    )
    assert out.loc["mean_p_alive_horizon", "baseline"] == pytest.approx(
        fit.conditional_probability_alive_at_horizon(horizon, sim).mean(), rel=1e-10
    )
    assert out.loc["mean_dropout_probability", "scenario"] == pytest.approx(
        fit.expected_dropout_probability(shifted).mean(), rel=1e-10
    )
    assert out[["change_ci_lower", "change_ci_upper"]].isna().all().all()  # n_draws = 0: no intervals


@pytest.mark.parametrize("interval", INTERVALS)
def test_zero_delta_changes_nothing(effect, interval):
    sim, fit, gg = effect
    out = clv_what_if(fit, sim, "csat", 0.0, spend_model=gg, n_draws=20, interval=interval)
    assert (out[["change", "change_ci_lower", "change_ci_upper", "change_pct"]] == 0).all().all()
    np.testing.assert_array_equal(out["scenario"], out["baseline"])


@pytest.mark.parametrize("interval", INTERVALS)
def test_no_true_effect_gives_intervals_around_zero(no_effect, interval):
    sim, fit, gg = no_effect
    out = clv_what_if(fit, sim.iloc[:2000], "csat", 1.0, spend_model=gg, n_draws=80, seed=4, interval=interval)
    assert (out["change_ci_lower"] < 0).all() and (out["change_ci_upper"] > 0).all(), out


def test_delta_and_draws_intervals_agree(scale_effect):
    # true effects on purchasing and drop-out: both methods exclude 0, and their endpoints differ by
    # less than a tenth of the interval's width (1,000 draws: Monte Carlo error about 2% of the width)
    sim, fit, gg = scale_effect
    kw = dict(spend_model=gg, bounds=(1.0, 5.0))
    delta = clv_what_if(fit, sim, "csat", 1.0, interval="delta", **kw)
    draws = clv_what_if(fit, sim, "csat", 1.0, interval="draws", n_draws=1000, seed=5, **kw)
    pd.testing.assert_frame_equal(delta[["baseline", "scenario", "change"]], draws[["baseline", "scenario", "change"]])
    width = draws["change_ci_upper"] - draws["change_ci_lower"]
    for end in ("change_ci_lower", "change_ci_upper"):
        gap = (delta[end] - draws[end]).abs() / width
        assert (gap < 0.1).all(), (end, gap.to_dict())
    for out in (delta, draws):
        excludes_zero = (out["change_ci_lower"] > 0) | (out["change_ci_upper"] < 0)
        assert excludes_zero.all(), out
        assert ((out["change_ci_lower"] < out["change"]) & (out["change"] < out["change_ci_upper"])).all()


def test_delta_interval_of_the_dropout_probability_is_the_analytic_one(effect):
    # mean a_i / (a_i + b) = mean expit(log a + g z_i - log b): its gradient is known in closed form
    sim, fit, _ = effect
    out = clv_what_if(fit, sim, "csat", 1.0)
    theta, cov = fit._theta, fit._cov_theta  # log r, log alpha, log a, log b, purchase:csat, dropout:csat
    z = sim["csat"].to_numpy() - fit.covariate_means_["csat"]
    grad = np.zeros(theta.size)
    for sign, zz in ((1.0, z + 1.0), (-1.0, z)):
        p = 1 / (1 + np.exp(-(theta[2] + theta[5] * zz - theta[3])))
        slope = p * (1 - p)
        grad[[2, 3, 5]] += sign * np.array([slope.mean(), -slope.mean(), (slope * zz).mean()])
    half = z_critical(0.05) * np.sqrt(grad @ cov @ grad)
    row = out.loc["mean_dropout_probability"]
    assert row["change_ci_upper"] - row["change"] == pytest.approx(half, rel=1e-6)
    assert row["change"] - row["change_ci_lower"] == pytest.approx(half, rel=1e-6)


def test_customers_at_the_top_of_the_scale_stay_put(scale_effect):
    sim, fit, gg = scale_effect
    out = clv_what_if(fit, sim, "csat", 1.0, spend_model=gg, bounds=(1.0, 5.0))
    clipped = sim.assign(csat=np.clip(sim["csat"] + 1.0, 1.0, 5.0))
    horizon = out.attrs["horizon_periods"]
    assert out.loc["expected_purchases", "scenario"] == pytest.approx(fit.predict(horizon, clipped).sum(), rel=1e-10)
    assert out.loc["mean_p_alive_horizon", "scenario"] == pytest.approx(
        fit.conditional_probability_alive_at_horizon(horizon, clipped).mean(), rel=1e-10
    )
    top = sim["csat"] == 5.0
    only_top = clv_what_if(fit, sim[top], "csat", 1.0, spend_model=gg, bounds=(1.0, 5.0))
    assert (only_top["change"] == 0).all() and (only_top["change_ci_upper"] == 0).all()


def test_clv_baseline_is_customer_lifetime_value_without_effects():
    sim = _data(1500, seed=5, gp=0.0, gd=0.0)
    gg = GammaGammaFitter().fit(sim)
    plain = BetaGeoFitter.from_params(**TRUE_BG)
    model = BetaGeoCovariatesFitter.from_params(**TRUE_BG, gamma_purchase={"csat": 0.0}, gamma_dropout={"csat": 0.0})
    for months, rate, freq in ((12, 0.01, "W"), (6, 0.0, "W"), (24, 0.02, "W")):
        out = clv_what_if(
            model,
            sim,
            "csat",
            1.0,
            spend_model=gg,
            time_months=months,
            discount_rate_monthly=rate,
            freq=freq,
            n_draws=0,
        )
        clv = customer_lifetime_value(plain, gg, sim, time_months=months, discount_rate_monthly=rate, freq=freq)
        assert out.loc["clv", "baseline"] == pytest.approx(clv.sum(), rel=1e-6)
        assert out.loc["clv", "change"] == pytest.approx(0.0, abs=1e-9 * clv.sum())
    assert "no covariance" in " ".join(clv_what_if(model, sim, "csat", 1.0, spend_model=gg, n_draws=10).attrs["notes"])


def test_bounds_clip_the_shifted_covariate(effect):
    sim, fit, _ = effect
    out = clv_what_if(fit, sim, "csat", 1.0, n_draws=0, bounds=(-5.0, 0.5))
    clipped = sim.assign(csat=np.clip(sim["csat"] + 1.0, -5.0, 0.5))
    horizon = out.attrs["horizon_periods"]
    assert out.loc["expected_purchases", "scenario"] == pytest.approx(fit.predict(horizon, clipped).sum(), rel=1e-10)
    with pytest.raises(ValueError, match="low < high"):
        clv_what_if(fit, sim, "csat", 1.0, n_draws=0, bounds=(1.0, 1.0))


def test_customers_without_the_covariate_are_left_out(effect):
    sim, fit, _ = effect
    gaps = sim.copy()
    gaps.loc[gaps.index[:25], "csat"] = np.nan
    out = clv_what_if(fit, gaps, "csat", 1.0, n_draws=0)
    full = clv_what_if(fit, sim.iloc[25:], "csat", 1.0, n_draws=0)
    pd.testing.assert_frame_equal(out, full, check_exact=False, rtol=1e-12)
    assert out.attrs["n_missing_covariate"] == 25 and out.attrs["n_customers"] == len(sim) - 25
    assert "25 of 4,000 customers" in out.attrs["notes"][0]


def test_draws_are_reproducible(effect):
    sim, fit, _ = effect
    one = clv_what_if(fit, sim.iloc[:500], "csat", 1.0, n_draws=30, seed=7, interval="draws")
    two = clv_what_if(fit, sim.iloc[:500], "csat", 1.0, n_draws=30, seed=7, interval="draws")
    other = clv_what_if(fit, sim.iloc[:500], "csat", 1.0, n_draws=30, seed=8, interval="draws")
    pd.testing.assert_frame_equal(one, two)
    assert not np.allclose(one["change_ci_lower"], other["change_ci_lower"])


def test_the_delta_method_ignores_draws_and_seed(effect):
    sim, fit, _ = effect
    one = clv_what_if(fit, sim.iloc[:500], "csat", 1.0, n_draws=30, seed=7)
    other = clv_what_if(fit, sim.iloc[:500], "csat", 1.0, n_draws=0, seed=8)
    pd.testing.assert_frame_equal(one, other)
    assert one.attrs["interval"] == "delta" and one.attrs["n_draws"] == 0
    assert one[["change_ci_lower", "change_ci_upper"]].notna().all().all()


@pytest.mark.parametrize("interval", INTERVALS)
def test_a_spend_model_near_infinite_mean_gives_no_clv_interval(effect, interval):
    # q close to 1 with a wide interval: the mean spend may be infinite, so the CLV change has no interval
    sim, fit, gg = effect
    near = copy.deepcopy(gg)
    near.params_ = near.params_.copy()
    near.params_["q"] = 1.05
    near.cov_params_ = near.cov_params_.copy()
    near.cov_params_.loc["q", "q"] = 0.5**2
    out = clv_what_if(fit, sim.iloc[:500], "csat", 1.0, spend_model=near, n_draws=40, interval=interval)
    assert out.loc["clv", ["change_ci_lower", "change_ci_upper"]].isna().all()
    assert np.isfinite(out.loc["clv", "change"])
    assert out.drop(index="clv")[["change_ci_lower", "change_ci_upper"]].notna().all().all()
    notes = " ".join(out.attrs["notes"])
    assert "infinite mean spend" in notes and "no CLV interval is given" in notes, notes


def test_bad_requests_are_refused(effect):
    sim, fit, gg = effect
    with pytest.raises(ValueError, match="'nps' is not in the model"):
        clv_what_if(fit, sim, "nps", 1.0)
    with pytest.raises(TypeError, match="BetaGeoCovariatesFitter"):
        clv_what_if(BetaGeoFitter.from_params(**TRUE_BG), sim, "csat", 1.0)
    with pytest.raises(ValueError, match="time_months"):
        clv_what_if(fit, sim, "csat", 1.0, time_months=0)
    with pytest.raises(ValueError, match="monetary_value"):
        clv_what_if(fit, sim.drop(columns="monetary_value"), "csat", 1.0, spend_model=gg, n_draws=0)
    with pytest.raises(ValueError, match='"delta" or "draws"'):
        clv_what_if(fit, sim, "csat", 1.0, interval="bootstrap")


def test_an_unusable_fit_carries_no_what_if(effect):
    sim, fit, _ = effect
    broken = BetaGeoCovariatesFitter().fit(sim, "csat")
    broken.fit_status_ = type(broken.fit_status_)(
        model=broken.model_, converged=False, boundary=None, message="did not converge", usable=False
    )
    with pytest.raises(NotEstimableError, match="did not converge"):
        clv_what_if(broken, sim, "csat", 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("interval", INTERVALS)
def test_interval_covers_the_true_change(interval):
    # the change the true parameters give on these customers lies in the interval of the fitted model
    sim = _data(8000, seed=6, gp=0.3, gd=-0.5)
    fit = BetaGeoCovariatesFitter().fit(sim, "csat")
    gg = GammaGammaFitter().fit(sim)
    out = clv_what_if(fit, sim, "csat", 1.0, spend_model=gg, n_draws=200, seed=1, interval=interval)
    truth = BetaGeoCovariatesFitter.from_params(
        **TRUE_BG,
        gamma_purchase={"csat": 0.3},
        gamma_dropout={"csat": -0.5},
        covariate_means={"csat": float(sim["csat"].mean())},
    )
    true_gg = GammaGammaFitter.from_params(**TRUE_GG)
    true_out = clv_what_if(truth, sim, "csat", 1.0, spend_model=true_gg, n_draws=0)
    for measure, row in out.iterrows():
        assert row["change_ci_lower"] < true_out.loc[measure, "change"] < row["change_ci_upper"], (
            measure,
            true_out.loc[measure, "change"],
            row.to_dict(),
        )
