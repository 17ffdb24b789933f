"""The sBG with customer-level covariates (a logit covariate on the churn probability), its what-if
(satisfaction -> retention -> money) and the simulator whose truth it is (simulate_sbg)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.models.clv import _sbg_math, sbg_whatif
from bsc_toolkit.models.clv.sbg import LACK_OF_FIT_LEVEL, RETENTION_FALLS, ShiftedBetaGeoFitter
from bsc_toolkit.models.clv.sbg_whatif import sbg_what_if
from bsc_toolkit.models.clv.simulate_contractual import simulate_sbg

TRUTH = {"alpha": 0.8, "beta": 2.0, "gamma": -0.4}


def subscribers(n: int, gamma: float, seed: int, csat: str = "normal") -> pd.DataFrame:
    """Simulated subscribers with staggered entry (1-24 periods observed) and a csat covariate.

    ``csat="normal"``: standardised (mean 0, sd 1); ``"scale"``: whole points on 1-10.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) if csat == "normal" else rng.integers(1, 11, n).astype(float)
    covariates = pd.DataFrame({"csat": z}, index=pd.Index([f"c{i}" for i in range(n)]))
    return simulate_sbg(
        n,
        TRUTH["alpha"],
        TRUTH["beta"],
        n_periods=rng.integers(1, 25, n),
        covariates=covariates,
        gamma={"csat": gamma},
        seed=seed + 1,
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, ShiftedBetaGeoFitter]:
    sim = subscribers(20_000, TRUTH["gamma"], seed=7)
    return sim, ShiftedBetaGeoFitter().fit(sim, covariates=["csat"])


@pytest.fixture(scope="module")
def on_scale() -> tuple[pd.DataFrame, ShiftedBetaGeoFitter]:
    """csat in whole points 1-10, churn log odds ratio -0.15 per point."""
    sim = subscribers(20_000, -0.15, seed=21, csat="scale")
    return sim, ShiftedBetaGeoFitter().fit(sim, covariates=["csat"])


# -- estimation ------------------------------------------------------------------------------------


def test_recovers_the_churn_coefficient_and_the_beta_parameters(fitted):
    sim, sbg = fitted
    assert list(sbg.params_.index) == ["alpha", "beta", "churn:csat"]
    ci = sbg.confidence_intervals_
    for name, truth in (("alpha", TRUTH["alpha"]), ("beta", TRUTH["beta"]), ("churn:csat", TRUTH["gamma"])):
        assert ci.loc[name, "ci_lower"] < truth < ci.loc[name, "ci_upper"], sbg.summary
    assert sbg.summary.loc["churn:csat", "p_value"] < 1e-6
    assert np.isnan(sbg.summary.loc["alpha", "p_value"])
    assert sbg.covariate_means_["csat"] == pytest.approx(sim["csat"].mean())
    assert sbg.fit_status_.usable and sbg.model_ == "sBG" and sbg.n_customers_ == 20_000


def test_analytic_gradients_match_numerical_ones(fitted):
    t, d, w, Zc = fitted[1]._rows_
    rows = slice(0, 3000)
    args = (t[rows], d[rows], w[rows], Zc[rows])
    x = fitted[1]._x_ + np.array([0.1, -0.1, 0.05])
    analytic = _sbg_math._sbg_loglik_grad(x, *args)[1]
    numeric = approx_fprime(x, lambda y: _sbg_math._sbg_loglik_grad(y, *args)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5)
    x = np.array([-1.5, 0.3])
    analytic = _sbg_math._geo_loglik_grad(x, *args)[1]
    numeric = approx_fprime(x, lambda y: _sbg_math._geo_loglik_grad(y, *args)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5)
    hessian = _sbg_math._geo_hessian(x, *args)
    numeric_h = np.array(
        [approx_fprime(x, lambda y, i=i: _sbg_math._geo_loglik_grad(y, *args)[1][i], 1e-6) for i in range(2)]
    )
    np.testing.assert_allclose(hessian, numeric_h, rtol=1e-4)


def test_the_fit_check_passes_on_the_models_own_truth_and_fails_when_churn_rises_with_tenure(fitted):
    sbg = fitted[1]
    assert (
        sbg.lack_of_fit_["p_value"] > LACK_OF_FIT_LEVEL and sbg.lack_of_fit_["df"] == sbg.lack_of_fit_["n_groups"] - 2
    )
    assert not any(d.code == "lack_of_fit" for d in sbg.diagnostics_)
    # the model's expected churners per period are the at-risk customers' churn probabilities given survival
    t, d, w, Zc = sbg._rows_
    a, b, g = (float(v) for v in sbg.params_)
    a_i = a * np.exp(g * Zc[:, 0])
    expected_3 = float((w * (t >= 3) * a_i / (a_i + b + 2)).sum())
    assert sbg.retention_check_.loc[3, "expected_churned"] == pytest.approx(expected_3, rel=1e-10)
    # churn rising with tenure (theta_t = (0.03 + 0.02 t) exp(-0.3 csat)), satisfaction lowering it
    rng = np.random.default_rng(8)
    n, periods = 8000, 15
    csat = rng.normal(size=n)
    observed = rng.integers(1, periods + 1, n)
    theta = (0.03 + 0.02 * np.arange(1, periods + 1))[None, :] * np.exp(-0.3 * csat)[:, None]
    leaves = rng.random((n, periods)) < theta
    lifetime = np.where(leaves.any(axis=1), leaves.argmax(axis=1) + 1, periods + 1)
    churned = lifetime <= observed
    data = pd.DataFrame({"tenure": np.where(churned, lifetime, observed), "churned": churned, "csat": csat})
    rising = ShiftedBetaGeoFitter().fit(data, covariates=["csat"])
    assert rising.lack_of_fit_["p_value"] < 1e-10 and rising.fit_status_.usable
    assert any(d.code == "lack_of_fit" and RETENTION_FALLS in d.message for d in rising.diagnostics_)
    assert RETENTION_FALLS in rising.fit_status_.message
    assert rising.params_["churn:csat"] < 0  # the covariate effect is still found
    # a what-if on that fit carries the caveat
    what_if = sbg_what_if(rising, data, "csat", 1.0, n_draws=20)
    assert what_if.attrs["settings"]["lack_of_fit_p_value"] < 1e-10
    assert any("fails its goodness-of-fit check" in note for note in what_if.attrs["notes"])


def test_customers_without_a_covariate_value_are_left_out_and_counted():
    sim = subscribers(3000, TRUTH["gamma"], seed=3)
    holes = sim.copy()
    holes.iloc[:50, holes.columns.get_loc("csat")] = np.nan
    sbg = ShiftedBetaGeoFitter().fit(holes, covariates=["csat"])
    dropped = [d for d in sbg.diagnostics_ if d.code == "dropped_rows"]
    assert len(dropped) == 1 and dropped[0].severity == "info" and "50 customer(s)" in dropped[0].message
    assert sbg.n_customers_ == 2950
    complete = ShiftedBetaGeoFitter().fit(sim.iloc[50:], covariates=["csat"])
    np.testing.assert_allclose(sbg.params_, complete.params_, rtol=1e-8)


def test_covariates_that_cannot_be_estimated_or_read():
    sim = subscribers(2000, TRUTH["gamma"], seed=4)
    with pytest.raises(NotEstimableError, match=r"\['flat'\] take one value"):
        ShiftedBetaGeoFitter().fit(sim.assign(flat=3.0), covariates=["csat", "flat"])
    with pytest.raises(NotEstimableError, match="collinear"):
        ShiftedBetaGeoFitter().fit(sim.assign(twice=2 * sim["csat"] + 1), covariates=["csat", "twice"])
    text = sim.assign(segment="gold")
    with pytest.raises(ValueError, match=r"column 'segment' must be numeric.*'gold'.*c0"):
        ShiftedBetaGeoFitter().fit(text, covariates=["segment"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['nps'\]"):
        ShiftedBetaGeoFitter().fit(sim, covariates=["nps"])
    with pytest.raises(NotEstimableError, match="no customer left"):
        ShiftedBetaGeoFitter().fit(sim.assign(csat=np.nan), covariates=["csat"])


def test_predictions_per_customer(fitted):
    sim, sbg = fitted
    a, b, g = (float(v) for v in sbg.params_)
    few = sim.head(4).copy()
    few.iloc[3, few.columns.get_loc("csat")] = np.nan
    rate = sbg.retention_rate(few["tenure"] + 1, covariates=few)
    assert isinstance(rate, pd.Series) and list(rate.index) == list(few.index)
    a_i = a * np.exp(g * (few["csat"] - sbg.covariate_means_["csat"]))
    np.testing.assert_allclose(rate.iloc[:3], ((b + few["tenure"]) / (a_i + b + few["tenure"])).iloc[:3])
    assert np.isnan(rate.iloc[3])  # no csat: no prediction, not a made-up one
    at_means = sbg.retention_rate(2)
    assert at_means == pytest.approx((b + 1) / (a + b + 1))
    value = sbg.customer_lifetime_value(25.0, 0.01, few["tenure"], covariates=few)
    np.testing.assert_allclose(value.iloc[:3], 25.0 * sbg.derl(0.01, few["tenure"], covariates=few).iloc[:3])
    with pytest.raises(ValueError, match="same index"):
        sbg.derl(0.1, few["tenure"].reset_index(drop=True), covariates=few)
    plain = ShiftedBetaGeoFitter.from_params(alpha=a, beta=b)
    with pytest.raises(ValueError, match="without covariates"):
        plain.survival_function(2, covariates=few)


def test_higher_satisfaction_means_higher_retention_per_customer(fitted):
    sbg = fitted[1]
    grid = pd.DataFrame({"csat": [-2.0, 0.0, 2.0]})
    assert np.all(np.diff(sbg.retention_rate(3, covariates=grid)) > 0)
    assert np.all(np.diff(sbg.derl(0.1, 3, covariates=grid)) > 0)


def test_from_params_with_a_covariate():
    sbg = ShiftedBetaGeoFitter.from_params(alpha=1.0, beta=3.0, gamma={"csat": -0.5}, covariate_means={"csat": 7.0})
    at_mean = sbg.retention_rate(1, covariates=pd.DataFrame({"csat": [7.0, 9.0]}))
    assert at_mean.iloc[0] == pytest.approx(3.0 / 4.0)
    assert at_mean.iloc[1] == pytest.approx(3.0 / (np.exp(-1.0) + 3.0))


def test_no_heterogeneity_with_a_covariate_is_a_logit_geometric_model():
    # alpha, beta huge: theta_i = expit(logit 0.2 - 0.4 csat_i) exactly; with this seed the likelihood rises
    # towards the boundary (with others it has a finite maximum by chance, said in "weak_heterogeneity")
    rng = np.random.default_rng(2)
    n = 20_000
    covariates = pd.DataFrame({"csat": rng.normal(size=n)})
    sim = simulate_sbg(
        n, 2e7, 8e7, n_periods=rng.integers(1, 13, n), covariates=covariates, gamma={"csat": -0.4}, seed=3
    )
    sbg = ShiftedBetaGeoFitter().fit(sim, covariates=["csat"])
    assert sbg.fit_status_.boundary == "no-heterogeneity boundary" and sbg.fit_status_.usable
    assert list(sbg.params_.index) == ["churn_probability", "churn:csat"]
    ci = sbg.confidence_intervals_
    assert ci.loc["churn:csat", "ci_lower"] < -0.4 < ci.loc["churn:csat", "ci_upper"]
    assert ci.loc["churn_probability", "ci_lower"] < 0.2 < ci.loc["churn_probability", "ci_upper"]
    assert np.isfinite(sbg.derl(0.1, sim["tenure"], covariates=sim)).all()
    result = sbg_what_if(sbg, sim, "csat", 1.0, n_draws=200)
    assert result.loc["retention_rate_next_period", "change_ci_lower"] > 0


# -- what-if ---------------------------------------------------------------------------------------


def test_what_if_more_satisfaction_raises_retention_and_value(on_scale):
    sim, sbg = on_scale
    assert sbg.confidence_intervals_.loc["churn:csat", "ci_upper"] < 0
    revenue = pd.Series(20.0 + (np.arange(len(sim)) % 3) * 10.0, index=sim.index)
    result = sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=revenue, discount_rate=0.01, n_draws=500, seed=1)
    assert list(result.columns) == ["baseline", "scenario", "change", "change_ci_lower", "change_ci_upper"]
    assert list(result.index) == [
        "retention_rate_next_period",
        "churn_probability_next_period",
        "expected_periods_within_horizon",
        "derl",
        "clv_total",
    ]
    for measure in ("retention_rate_next_period", "expected_periods_within_horizon", "derl", "clv_total"):
        row = result.loc[measure]
        assert row["change"] > 0 and 0 < row["change_ci_lower"] <= row["change"] <= row["change_ci_upper"], measure
    assert result.loc["churn_probability_next_period", "change_ci_upper"] < 0

    # the baseline is the fitter's own predictions for the active customers
    active = sim[~sim["churned"]]
    tenure = active["tenure"]
    base = result["baseline"]
    assert base["retention_rate_next_period"] == pytest.approx(sbg.retention_rate(tenure + 1, covariates=active).mean())
    assert base["derl"] == pytest.approx(sbg.derl(0.01, tenure, covariates=active).mean(), rel=1e-10)
    horizon = sbg.expected_residual_lifetime(tenure, covariates=active, horizon=12).mean()
    assert base["expected_periods_within_horizon"] == pytest.approx(horizon)
    clv = sbg.customer_lifetime_value(revenue[active.index], 0.01, tenure, covariates=active).sum()
    assert base["clv_total"] == pytest.approx(clv, rel=1e-10)
    shifted = active.assign(csat=active["csat"] + 1)
    assert result.loc["derl", "scenario"] == pytest.approx(sbg.derl(0.01, tenure, covariates=shifted).mean())
    settings = result.attrs["settings"]
    assert settings["n_active"] == len(active) and settings["n_draws"] == 500


def test_what_if_without_an_effect_has_an_interval_around_zero():
    sim = subscribers(20_000, 0.0, seed=31, csat="scale")
    sbg = ShiftedBetaGeoFitter().fit(sim, covariates=["csat"])
    result = sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=30.0, n_draws=500, seed=2)
    for measure, row in result.iterrows():
        assert row["change_ci_lower"] < 0 < row["change_ci_upper"], measure


def test_what_if_clips_to_the_scale_and_counts(on_scale):
    sim, sbg = on_scale
    capped = sbg_what_if(sbg, sim, "csat", 1.0, n_draws=50, scale=(1, 10))
    active = sim[~sim["churned"]]
    assert capped.attrs["settings"]["n_clipped"] == int((active["csat"] == 10).sum()) > 0
    free = sbg_what_if(sbg, sim, "csat", 1.0, n_draws=50)
    assert capped.loc["derl", "change"] < free.loc["derl", "change"]


def test_what_if_draws_interpolate_accurately(fitted):
    """Many distinct customers: the draws use a cubic interpolation in log alpha_i; it equals the exact sum."""
    sim, sbg = fitted
    active = sim[~sim["churned"]]
    Zb = active[["csat"]].to_numpy() - sbg.covariate_means_.to_numpy()
    n_g = active["tenure"].to_numpy(dtype=float)
    args = (False, Zb, Zb + 1.0, n_g, np.ones(len(active)), np.full(len(active), 10.0), 0.05, 12)
    X = sbg._x_ + np.array([[0.0, 0.0, 0.0], [0.1, -0.1, 0.05], [-0.2, 0.3, -0.1]])
    assert len(n_g) > np.unique(n_g).size * _sbg_math._GRID  # the interpolation is used
    exact = sbg_whatif._whatif_measures(X, *args, exact=True)
    interpolated = sbg_whatif._whatif_measures(X, *args)
    np.testing.assert_allclose(interpolated, exact, rtol=1e-7)


def test_what_if_errors(on_scale):
    sim, sbg = on_scale
    with pytest.raises(ValueError, match="no covariate 'nps'"):
        sbg_what_if(sbg, sim, "nps", 1.0)
    with pytest.raises(ValueError, match="discount_rate must be positive"):
        sbg_what_if(sbg, sim, "csat", 1.0, discount_rate=0.0)
    with pytest.raises(ValueError, match="missing column"):
        sbg_what_if(sbg, sim.drop(columns="csat"), "csat", 1.0)
    with pytest.raises(NotEstimableError, match="no active customer"):
        sbg_what_if(sbg, sim.assign(churned=True), "csat", 1.0)
    with pytest.raises(ValueError, match="horizon must be a whole number"):
        sbg_what_if(sbg, sim, "csat", 1.0, horizon="x")
    with pytest.raises(ValueError, match="n_draws must be a whole number"):
        sbg_what_if(sbg, sim, "csat", 1.0, n_draws=np.nan)
    with pytest.raises(ValueError, match="horizon must be a whole number"):
        sbg_what_if(sbg, sim, "csat", 1.0, horizon=None)


def test_what_if_revenue_that_matches_no_active_customer_is_an_error_or_no_data(on_scale):
    sim, sbg = on_scale
    active = sim.index[~sim["churned"]]
    shifted = pd.Series(50.0, index=sim.index.astype(str) + "-x")  # another key: matches nobody
    with pytest.raises(ValueError, match=rf"0 of the {len(active):,} active customers"):
        sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=shifted, n_draws=50)
    twice = pd.Series(50.0, index=list(sim.index[:2]) * 2)
    with pytest.raises(ValueError, match="listed twice"):
        sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=twice, n_draws=50)
    with pytest.raises(ValueError, match=r"one value per row of data.*shape \(3,\)"):
        sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=np.array([1.0, 2.0, 3.0]), n_draws=50)
    # revenue known for former customers only (or missing for all): the CLV row is NaN, never 0
    former = pd.Series(50.0, index=sim.index).where(sim["churned"])
    for revenue in (former, np.nan):
        result = sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=revenue, n_draws=50)
        assert result.loc["clv_total"].isna().all()
        assert result.loc["derl"].notna().all()
        settings = result.attrs["settings"]
        assert settings["n_with_revenue"] == 0 and settings["n_without_revenue"] == settings["n_active"] == len(active)
        assert any("not available (no data, not 0)" in note for note in result.attrs["notes"])
    # revenue for some active customers: the row sums theirs, and says how many had none
    part = pd.Series(50.0, index=active[:100])
    result = sbg_what_if(sbg, sim, "csat", 1.0, revenue_per_period=part, n_draws=50)
    clv = sbg.customer_lifetime_value(part, 0.1, sim.loc[part.index, "tenure"], covariates=sim.loc[part.index])
    assert result.loc["clv_total", "baseline"] == pytest.approx(clv.sum(), rel=1e-10)
    assert result.attrs["settings"]["n_without_revenue"] == len(active) - 100
    assert any(f"covers the 100 of the {len(active):,} active customers" in note for note in result.attrs["notes"])
    assert not any("goodness-of-fit" in note for note in result.attrs["notes"])  # this fit passes its check


def test_what_if_needs_a_usable_fit():
    rng = np.random.default_rng(0)
    polarised = pd.DataFrame(
        {"tenure": [1] * 300 + [5] * 700, "churned": [True] * 300 + [False] * 700, "csat": rng.normal(size=1000)}
    )
    sbg = ShiftedBetaGeoFitter().fit(polarised, covariates=["csat"])
    assert not sbg.fit_status_.usable
    with pytest.raises(NotEstimableError, match="cannot carry a what-if: The sBG fit sits at a boundary"):
        sbg_what_if(sbg, polarised, "csat", 1.0, n_draws=50)


# -- the simulator ---------------------------------------------------------------------------------


def test_simulate_sbg_follows_its_definition():
    n = 50_000
    sim = simulate_sbg(n, 2.0, 6.0, n_periods=3, seed=0)
    assert sim["tenure"].between(1, 3).all() and sim["tenure"].dtype == np.int64
    assert (sim.loc[~sim["churned"], "tenure"] == 3).all()
    assert sim["theta_"].mean() == pytest.approx(2.0 / 8.0, abs=0.005)
    # P(T = 1) = alpha / (alpha + beta), P(still a customer after 3) = S(3)
    assert ((sim["tenure"] == 1) & sim["churned"]).mean() == pytest.approx(0.25, abs=0.006)
    S3 = 6.0 / 8.0 * 7.0 / 9.0 * 8.0 / 10.0
    assert (~sim["churned"]).mean() == pytest.approx(S3, abs=0.006)
    staggered = simulate_sbg(1000, 2.0, 6.0, n_periods=np.arange(1, 1001), seed=0)
    assert (staggered["tenure"] <= np.arange(1, 1001)).all()


def test_simulate_sbg_rejects_bad_arguments():
    covariates = pd.DataFrame({"csat": np.arange(10.0)})
    with pytest.raises(ValueError, match="not columns"):
        simulate_sbg(10, 1.0, 1.0, 5, covariates=covariates, gamma={"nps": 1.0})
    with pytest.raises(ValueError, match="n = 5 rows"):
        simulate_sbg(5, 1.0, 1.0, 5, covariates=covariates)
    with pytest.raises(ValueError, match="without covariates"):
        simulate_sbg(10, 1.0, 1.0, 5, gamma={"csat": 1.0})
    with pytest.raises(ValueError, match="n_periods"):
        simulate_sbg(10, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match="alpha"):
        simulate_sbg(10, -1.0, 1.0, 5)
