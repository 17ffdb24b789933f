"""The sBG model of contractual retention without covariates (ShiftedBetaGeoFitter).

Fader & Hardie (2007) estimates on their two cohorts, the likelihood against an independent
textbook implementation, cohort data == individual data, recovery of simulated truth, DERL and
residual lifetimes against brute-force sums, the boundaries and the input errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from bsc_toolkit.models._base import Diagnostic, NotEstimableError, NotFittedError
from bsc_toolkit.models.clv._special import _digamma_diff, _log_rising
from bsc_toolkit.models.clv.sbg import LACK_OF_FIT_LEVEL, RETENTION_FALLS, ShiftedBetaGeoFitter
from bsc_toolkit.models.clv.simulate_contractual import simulate_sbg

#: Fader & Hardie (2007), survivors of 1000 customers after 0..7 years, and their estimates.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
PAPER = {"regular": (REGULAR, 0.704, 1.182), "high end": (HIGH_END, 0.668, 3.806)}


def textbook_loglik(log_params: np.ndarray, survivors: list[float]) -> float:
    """FH (2007) eq. 6: sum_t (s[t-1] - s[t]) log P(T = t) + s[n] log S(n), with Beta functions."""
    a, b = np.exp(log_params)
    s = np.asarray(survivors, dtype=float)
    n = s.size - 1
    t = np.arange(1, n + 1)
    log_p = special.betaln(a + 1, b + t - 1) - special.betaln(a, b)
    log_s = special.betaln(a, b + n) - special.betaln(a, b)
    return float(np.sum((s[:-1] - s[1:]) * log_p) + s[-1] * log_s)


def survival_textbook(a: float, b: float, t: np.ndarray) -> np.ndarray:
    return np.exp(special.betaln(a, b + t) - special.betaln(a, b))


def cohort_rows(survivors: list[float]) -> pd.DataFrame:
    """One row per customer of a cohort: churners at the end of each period, then the survivors."""
    s = np.asarray(survivors, dtype=int)
    n = s.size - 1
    tenure = np.concatenate([np.repeat(np.arange(1, n + 1), s[:-1] - s[1:]), np.full(s[-1], n)])
    churned = np.concatenate([np.ones(s[0] - s[-1], dtype=bool), np.zeros(s[-1], dtype=bool)])
    return pd.DataFrame({"tenure": tenure, "churned": churned}, index=pd.Index(np.arange(s[0]), name="customer_id"))


@pytest.fixture(scope="module")
def regular() -> ShiftedBetaGeoFitter:
    return ShiftedBetaGeoFitter().fit_survivors(REGULAR)


# -- the published estimates ---------------------------------------------------------------------


@pytest.mark.parametrize("cohort", sorted(PAPER))
def test_fader_hardie_2007_estimates(cohort):
    survivors, alpha, beta = PAPER[cohort]
    sbg = ShiftedBetaGeoFitter().fit_survivors(survivors)
    assert round(float(sbg.params_["alpha"]), 3) == alpha
    assert round(float(sbg.params_["beta"]), 3) == beta
    assert sbg.model_ == "sBG" and sbg.fit_status_.model == "sBG"
    assert sbg.fit_status_.converged and sbg.fit_status_.usable and sbg.fit_status_.boundary is None
    assert sbg.n_customers_ == 1000


@pytest.mark.parametrize("cohort", sorted(PAPER))
def test_log_likelihood_equals_an_independent_textbook_fit(cohort):
    survivors = PAPER[cohort][0]
    sbg = ShiftedBetaGeoFitter().fit_survivors(survivors)
    log_params = np.log(sbg.params_[["alpha", "beta"]].to_numpy(dtype=float))
    assert sbg.log_likelihood_ == pytest.approx(textbook_loglik(log_params, survivors), rel=1e-10)
    ref = optimize.minimize(
        lambda x: -textbook_loglik(x, survivors),
        np.zeros(2),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000},
    )
    np.testing.assert_allclose(np.exp(log_params), np.exp(ref.x), rtol=1e-5)
    assert sbg.log_likelihood_ >= -ref.fun - 1e-9


def test_standard_errors_are_the_inverse_information_of_the_textbook_likelihood():
    sbg = ShiftedBetaGeoFitter().fit_survivors(REGULAR)
    x = np.log(sbg.params_.to_numpy(dtype=float))
    h = 1e-4
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            H[i, j] = (
                textbook_loglik(x + ei + ej, REGULAR)
                - textbook_loglik(x + ei - ej, REGULAR)
                - textbook_loglik(x - ei + ej, REGULAR)
                + textbook_loglik(x - ei - ej, REGULAR)
            ) / (4 * h * h)
    se_log = np.sqrt(np.diag(np.linalg.inv(-H)))
    np.testing.assert_allclose(sbg.standard_errors_.to_numpy(), se_log * np.exp(x), rtol=1e-4)
    ci = sbg.confidence_intervals_
    np.testing.assert_allclose(ci["ci_lower"].to_numpy(), np.exp(x - 1.959964 * se_log), rtol=1e-4)
    np.testing.assert_allclose(ci["ci_upper"].to_numpy(), np.exp(x + 1.959964 * se_log), rtol=1e-4)


def test_cohort_fit_equals_individual_fit_on_the_same_customers():
    cohort = ShiftedBetaGeoFitter().fit_survivors(HIGH_END)
    rows = cohort_rows(HIGH_END)
    individual = ShiftedBetaGeoFitter().fit(rows)
    np.testing.assert_allclose(individual.params_, cohort.params_, rtol=1e-7)
    np.testing.assert_allclose(individual.standard_errors_, cohort.standard_errors_, rtol=1e-5)
    assert individual.log_likelihood_ == pytest.approx(cohort.log_likelihood_, rel=1e-12)
    assert individual.n_customers_ == cohort.n_customers_ == 1000
    weighted = rows.groupby(["tenure", "churned"]).size().rename("n").reset_index()
    by_weight = ShiftedBetaGeoFitter().fit(weighted, weights_col="n")
    np.testing.assert_allclose(by_weight.params_, cohort.params_, rtol=1e-7)
    assert by_weight.n_customers_ == 1000


def test_survivor_shares_give_the_same_estimates_and_say_what_the_intervals_assume():
    shares = ShiftedBetaGeoFitter().fit_survivors(np.asarray(REGULAR) / 1000)
    counts = ShiftedBetaGeoFitter().fit_survivors(REGULAR)
    np.testing.assert_allclose(shares.params_, counts.params_, rtol=1e-6)
    assert any(d.code == "assumption" and "shares" in d.message for d in shares.diagnostics_)
    assert not any(d.code == "assumption" for d in counts.diagnostics_)


def test_retention_curve_of_a_cohort_is_its_survivors(regular):
    curve = regular.retention_curve()
    np.testing.assert_allclose(curve["observed_survival"], np.asarray(REGULAR) / 1000)
    np.testing.assert_allclose(curve["at_risk"].iloc[1:], REGULAR[:-1])
    np.testing.assert_allclose(curve["fitted_survival"], regular.survival_function(np.arange(8)))
    np.testing.assert_allclose(curve["fitted_retention"].iloc[1:], regular.retention_rate(np.arange(1, 8)))
    expected = regular.expected_survivors(12)
    assert expected.iloc[0] == 1000 and len(expected) == 13
    np.testing.assert_allclose(expected, 1000 * regular.survival_function(np.arange(13)))
    assert np.isnan(regular.retention_curve(10)["observed_survival"].iloc[9])


# -- recovery of simulated truth ------------------------------------------------------------------


def test_individual_fit_recovers_the_simulated_truth():
    rng = np.random.default_rng(11)
    n = 20_000
    sim = simulate_sbg(n, alpha=0.7, beta=1.3, n_periods=rng.integers(1, 25, n), seed=5)
    assert sim.index.name == "customer_id" and set(sim.columns) == {"tenure", "churned", "theta_"}
    sbg = ShiftedBetaGeoFitter().fit(sim)
    ci = sbg.confidence_intervals_
    for name, truth in (("alpha", 0.7), ("beta", 1.3)):
        assert ci.loc[name, "ci_lower"] < truth < ci.loc[name, "ci_upper"], (name, sbg.summary)
    assert sbg.fit_status_.usable and sbg.n_customers_ == n


def test_a_million_customers_recover_the_truth_and_pass_the_fit_check():
    # identical rows are compressed: the fit is fast (timings belong in benchmarks, not here)
    rng = np.random.default_rng(0)
    n = 1_000_000
    sim = simulate_sbg(n, alpha=0.7, beta=1.2, n_periods=rng.integers(1, 37, n), seed=1)
    sbg = ShiftedBetaGeoFitter().fit(sim)
    assert sbg.n_customers_ == n and sbg.fit_status_.usable
    assert abs(sbg.params_["alpha"] - 0.7) < 4 * sbg.standard_errors_["alpha"]
    assert abs(sbg.params_["beta"] - 1.2) < 4 * sbg.standard_errors_["beta"]
    assert sbg.lack_of_fit_["p_value"] > LACK_OF_FIT_LEVEL
    assert not any(d.code == "lack_of_fit" for d in sbg.diagnostics_)


# -- predictions -------------------------------------------------------------------------------


def test_survival_retention_and_churn_probability_agree(regular):
    t = np.arange(1, 30)
    S = regular.survival_function(np.arange(30))
    assert S[0] == 1.0
    np.testing.assert_allclose(S, survival_textbook(0.704077, 1.182043, np.arange(30)), rtol=1e-4)
    np.testing.assert_allclose(regular.retention_rate(t), S[1:] / S[:-1], rtol=1e-12)
    np.testing.assert_allclose(regular.churn_probability(t), S[:-1] - S[1:], rtol=1e-10)
    a, b = regular.params_
    assert regular.retention_rate(3) == pytest.approx((b + 2) / (a + b + 2))
    series = regular.survival_function(pd.Series([0, 2], index=["x", "y"]))
    assert isinstance(series, pd.Series) and list(series.index) == ["x", "y"]
    with pytest.raises(ValueError, match="whole periods"):
        regular.retention_rate(0)
    with pytest.raises(ValueError, match="whole periods"):
        regular.survival_function(1.5)


def brute_derl(a: float, b: float, n: int, d: float) -> float:
    """sum_{k >= 0} S(n + 1 + k) / S(n) / (1 + d)^k, summed until the terms vanish."""
    k = np.arange(int(60 / np.log1p(d)) + 10)
    log_ratio = special.betaln(a, b + n + 1 + k) - special.betaln(a, b + n)
    return float(np.sum(np.exp(log_ratio - k * np.log1p(d))))


@pytest.mark.parametrize(
    "a, b", [(0.704, 1.182), (0.3, 0.1), (3.0, 300.2), (50.0, 10.0), (1.0, 2.0), (4.5, 7.0), (1e4, 4e4)]
)
@pytest.mark.parametrize("d", [0.1, 0.01])
def test_derl_equals_the_discounted_sum_of_survival_probabilities(a, b, d):
    sbg = ShiftedBetaGeoFitter.from_params(alpha=a, beta=b)
    tenure = np.array([0, 1, 4, 20])
    got = sbg.derl(d, tenure)
    expected = [brute_derl(a, b, n, d) for n in tenure]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_derl_is_fader_hardie_2010_with_n_equal_to_tenure_plus_one(regular):
    a, b = (float(v) for v in regular.params_)
    for tenure in (0, 3, 6):
        n = tenure + 1  # FH's "n - 1 renewals" = tenure renewals
        fh = np.exp(special.betaln(a, b + n) - special.betaln(a, b + n - 1)) * special.hyp2f1(
            1, b + n, a + b + n, 1 / 1.1
        )
        assert regular.derl(0.1, tenure) == pytest.approx(fh, rel=1e-10)
    value = regular.customer_lifetime_value(pd.Series([30.0, 50.0], index=["a", "b"]), 0.1, 3)
    assert value.name == "clv" and list(value.index) == ["a", "b"]
    np.testing.assert_allclose(value, np.array([30.0, 50.0]) * regular.derl(0.1, 3))


def test_expected_residual_lifetime_is_infinite_when_alpha_at_most_one_and_finite_with_a_horizon(regular):
    assert regular.params_["alpha"] < 1
    assert np.isinf(regular.expected_residual_lifetime(0)) and np.isinf(regular.expected_residual_lifetime(5))
    assert regular.derl(0.0, 5) == np.inf
    a, b = (float(v) for v in regular.params_)
    for n, H in ((0, 10), (5, 24)):
        got = regular.expected_residual_lifetime(n, horizon=H)
        brute = np.sum(survival_textbook(a, b, n + np.arange(H)) / survival_textbook(a, b, np.array([n])))
        assert got == pytest.approx(brute, rel=1e-10)
        assert 1 <= got <= H
    assert any(d.code == "infinite_expected_lifetime" and d.severity == "info" for d in regular.diagnostics_)


def test_expected_residual_lifetime_for_alpha_above_one_is_the_closed_form_and_the_sum():
    sbg = ShiftedBetaGeoFitter.from_params(alpha=3.5, beta=4.0)
    t = np.arange(200_000, dtype=float)
    for n in (0, 7):
        brute = np.sum(survival_textbook(3.5, 4.0, n + t) / survival_textbook(3.5, 4.0, np.array([n])))
        assert sbg.expected_residual_lifetime(n) == pytest.approx(brute, rel=1e-6)
        assert sbg.expected_residual_lifetime(n) == pytest.approx((3.5 + 4.0 + n - 1) / 2.5)
        assert sbg.derl(0.0, n) == pytest.approx(sbg.expected_residual_lifetime(n) - 1)


def test_expected_survivors_needs_a_cohort_size_after_an_individual_fit():
    sbg = ShiftedBetaGeoFitter().fit(cohort_rows(REGULAR))
    with pytest.raises(ValueError, match="cohort_size"):
        sbg.expected_survivors(5)
    np.testing.assert_allclose(sbg.expected_survivors(5, cohort_size=200), 200 * sbg.survival_function(np.arange(6)))


# -- boundaries ------------------------------------------------------------------------------------


def no_heterogeneity_sample(seed: int) -> pd.DataFrame:
    """alpha, beta huge: theta = 0.2 for everyone (sd 4e-5)."""
    rng = np.random.default_rng(seed)
    sim = simulate_sbg(5000, alpha=2e7, beta=8e7, n_periods=rng.integers(1, 13, 5000), seed=seed + 1)
    assert sim["theta_"].std() < 1e-4
    return sim


def test_no_heterogeneity_fits_the_geometric_limit_with_finite_predictions():
    # Truth at the boundary: in about half of the samples the likelihood rises towards it (this seed),
    # in the other half it has a finite maximum by chance (next test).
    sim = no_heterogeneity_sample(0)
    sbg = ShiftedBetaGeoFitter().fit(sim)
    status = sbg.fit_status_
    assert "no-heterogeneity" in status.boundary and status.usable and status.converged
    assert sbg.model_ == "geometric (no heterogeneity)"
    assert list(sbg.params_.index) == ["churn_probability"]
    ci = sbg.confidence_intervals_.loc["churn_probability"]
    assert ci["ci_lower"] < 0.2 < ci["ci_upper"]
    assert any(d.code == "limit_model" and d.severity == "warning" for d in sbg.diagnostics_)
    assert not any(d.code in ("boundary", "not_converged") for d in sbg.diagnostics_)
    theta = float(sbg.params_["churn_probability"])
    assert sbg.retention_rate(5) == pytest.approx(1 - theta)
    assert sbg.expected_residual_lifetime(3) == pytest.approx(1 / theta)
    assert sbg.derl(0.1, 3) == pytest.approx(brute_geometric_derl(theta, 0.1))
    values = [sbg.survival_function(10), sbg.churn_probability(4), sbg.expected_residual_lifetime(2, horizon=12)]
    assert np.isfinite(values).all()
    assert np.isfinite(sbg.customer_lifetime_value(20.0, 0.1, sim["tenure"])).all()


def test_a_finite_maximum_without_significant_heterogeneity_says_so():
    sbg = ShiftedBetaGeoFitter().fit(no_heterogeneity_sample(1))
    assert sbg.model_ == "sBG" and sbg.fit_status_.usable
    assert sbg.heterogeneity_p_value_ > 0.05
    assert any(d.code == "weak_heterogeneity" and d.severity == "info" for d in sbg.diagnostics_)
    fh = ShiftedBetaGeoFitter().fit_survivors(REGULAR)
    assert fh.heterogeneity_p_value_ < 1e-10 and not any(d.code == "weak_heterogeneity" for d in fh.diagnostics_)


def brute_geometric_derl(theta: float, d: float) -> float:
    k = np.arange(5000)
    return float(np.sum((1 - theta) ** (k + 1) / (1 + d) ** k))


def test_churn_only_in_the_first_period_is_the_polarised_boundary_and_not_usable():
    data = pd.DataFrame({"tenure": [1] * 300 + [5] * 700, "churned": [True] * 300 + [False] * 700})
    sbg = ShiftedBetaGeoFitter().fit(data)
    assert sbg.fit_status_.boundary.startswith("polarised") and not sbg.fit_status_.usable
    assert any(d.code == "boundary" for d in sbg.diagnostics_)


def test_nobody_churned_is_not_estimable():
    data = pd.DataFrame({"tenure": [1, 4, 7, 2], "churned": [False] * 4})
    with pytest.raises(NotEstimableError, match="no churn observed.*cannot separate"):
        ShiftedBetaGeoFitter().fit(data)
    sbg = ShiftedBetaGeoFitter().fit_survivors(REGULAR)
    with pytest.raises(NotEstimableError, match="no churn observed"):
        sbg.fit_survivors([500, 500, 500])
    assert not sbg.is_fitted and sbg.diagnostics_ == []
    assert [k for k in vars(sbg) if k.endswith("_")] == ["diagnostics_"]  # nothing left of the previous fit


def test_one_period_of_data_is_not_estimable():
    all_left = pd.DataFrame({"tenure": [1] * 5, "churned": [True] * 5})
    with pytest.raises(NotEstimableError, match="every one of the 5 customers churned"):
        ShiftedBetaGeoFitter().fit(all_left)
    one_period = pd.DataFrame({"tenure": [1] * 5, "churned": [True, False, False, True, False]})
    with pytest.raises(NotEstimableError, match="single period.*2 of 5"):
        ShiftedBetaGeoFitter().fit(one_period)
    with pytest.raises(NotEstimableError, match="single period"):
        ShiftedBetaGeoFitter().fit_survivors([1000, 600])


# -- goodness of fit ------------------------------------------------------------------------------


def rising_churn(n: int, seed: int, max_periods: int = 15) -> pd.DataFrame:
    """Identical customers whose churn probability rises with tenure: theta_t = 0.03 + 0.02 t.

    A discrete Weibull-like lifetime (contracts ending, ageing products): retention falls from
    0.95 in period 1 to 0.67 in period 15, which no sBG (retention rising or constant) can follow.
    Staggered entry: customer i is observed for 1..max_periods periods.
    """
    rng = np.random.default_rng(seed)
    observed = rng.integers(1, max_periods + 1, n)
    theta = 0.03 + 0.02 * np.arange(1, max_periods + 1)
    leaves = rng.random((n, max_periods)) < theta
    lifetime = np.where(leaves.any(axis=1), leaves.argmax(axis=1) + 1, max_periods + 1)
    churned = lifetime <= observed
    return pd.DataFrame({"tenure": np.where(churned, lifetime, observed), "churned": churned})


def life_table(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """At risk (tenure >= t) and churned (left at the end of t) per period, by counting customers."""
    periods = np.arange(1, int(data["tenure"].max()) + 1)
    at_risk = np.array([(data["tenure"] >= t).sum() for t in periods], dtype=float)
    churned = np.array([((data["tenure"] == t) & data["churned"]).sum() for t in periods], dtype=float)
    return at_risk, churned


def saturated_loglik(at_risk: np.ndarray, churned: np.ndarray) -> float:
    """Life table: each period its own churn probability c_t / R_t (right-censoring as in the sBG)."""
    h = churned / at_risk
    return float(np.sum(special.xlogy(churned, h) + special.xlogy(at_risk - churned, 1 - h)))


def test_rising_churn_fails_the_fit_check_and_says_retention_falls():
    data = rising_churn(5000, seed=0)
    sbg = ShiftedBetaGeoFitter().fit(data)
    check = sbg.lack_of_fit_
    assert check["p_value"] < 1e-10 and check["df"] == check["n_groups"] - (1 if sbg._limit_ else 2)
    assert check["trend_z"] > 0 and check["trend_p_value"] < 1e-10
    warning = [d for d in sbg.diagnostics_ if d.code == "lack_of_fit"]
    assert len(warning) == 1 and warning[0].severity == "warning"
    assert RETENTION_FALLS in warning[0].message and "overstated for long-tenure customers" in warning[0].message
    status = sbg.fit_status_
    assert status.usable and RETENTION_FALLS in status.message
    # here the sBG runs to its no-heterogeneity limit: the status must not present that as "everyone has the
    # same churn probability" without saying the constant-churn model fails too
    assert sbg.model_ == "geometric (no heterogeneity)"
    assert "also fails the goodness-of-fit check" in status.message
    assert "every customer appears to have the same churn probability" not in status.message
    assert all("every customer appears" not in d.message for d in sbg.diagnostics_)
    # the table behind it: observed retention near the truth 1 - theta_t, falling; fitted constant
    table = sbg.retention_check_
    at_risk, churned = life_table(data)
    np.testing.assert_allclose(table["at_risk"], at_risk)
    np.testing.assert_allclose(table["churned"], churned)
    truth = 1 - (0.03 + 0.02 * table.index.to_numpy())
    assert np.all(np.abs(table["observed_retention"] - truth)[:8] < 0.02)
    assert np.ptp(table["fitted_retention"]) < 1e-12
    assert table["observed_survival"].iloc[-1] < table["fitted_survival"].iloc[-1] - 0.1


def test_the_models_own_truth_passes_the_fit_check_and_the_statistic_is_the_likelihood_ratio():
    rng = np.random.default_rng(3)
    n = 20_000
    sim = simulate_sbg(n, alpha=0.7, beta=1.3, n_periods=rng.integers(1, 13, n), seed=4)
    sbg = ShiftedBetaGeoFitter().fit(sim)
    check = sbg.lack_of_fit_
    assert check["p_value"] > LACK_OF_FIT_LEVEL
    assert not any(d.code.startswith("lack_of_fit") for d in sbg.diagnostics_)
    assert RETENTION_FALLS not in sbg.fit_status_.message
    # no pooling needed here: G is the likelihood-ratio statistic against the life table, df = periods - 2
    assert check["n_groups"] == check["n_periods"] == 12 and check["df"] == 10
    at_risk, churned = life_table(sim)
    lr = 2 * (saturated_loglik(at_risk, churned) - sbg.log_likelihood_)
    assert check["statistic"] == pytest.approx(lr, rel=1e-8)
    assert check["p_value"] == pytest.approx(stats.chi2.sf(lr, 10), rel=1e-6)
    a, b = sbg.params_
    np.testing.assert_allclose(sbg.retention_check_["fitted_retention"], sbg.retention_rate(np.arange(1, 13)))
    assert sbg.retention_rate(1) == pytest.approx(b / (a + b))


def test_cohort_data_are_checked_too():
    fh = ShiftedBetaGeoFitter().fit_survivors(REGULAR)  # FH (2007): the sBG fits this cohort well
    s = np.asarray(REGULAR, dtype=float)
    lr = 2 * (saturated_loglik(s[:-1], s[:-1] - s[1:]) - fh.log_likelihood_)
    assert fh.lack_of_fit_["statistic"] == pytest.approx(lr, rel=1e-8) and fh.lack_of_fit_["df"] == 5
    assert fh.lack_of_fit_["p_value"] > 0.5 and not any(d.code == "lack_of_fit" for d in fh.diagnostics_)
    theta = 0.03 + 0.02 * np.arange(1, 13)  # rising churn, as a cohort's expected survivors
    survivors = np.round(1000 * np.concatenate([[1.0], np.cumprod(1 - theta)]))
    rising = ShiftedBetaGeoFitter().fit_survivors(survivors)
    assert rising.lack_of_fit_["p_value"] < 1e-10
    assert any(d.code == "lack_of_fit" and RETENTION_FALLS in d.message for d in rising.diagnostics_)


def test_a_departure_that_is_not_a_fall_in_retention_is_described_as_such():
    # half the cohort leaves after period 1, then a flat 5% per period: a step the smooth sBG cannot follow
    theta = np.array([0.5] + [0.05] * 11)
    survivors = np.round(2000 * np.concatenate([[1.0], np.cumprod(1 - theta)]))
    sbg = ShiftedBetaGeoFitter().fit_survivors(survivors)
    assert sbg.lack_of_fit_["p_value"] < 1e-10 and sbg.lack_of_fit_["trend_z"] < 0
    (warning,) = [d for d in sbg.diagnostics_ if d.code == "lack_of_fit"]
    assert RETENTION_FALLS not in warning.message
    assert "does not follow the shape the model allows" in warning.message and "period 2" in warning.message
    assert sbg.fit_status_.usable and "fails the goodness-of-fit check" in sbg.fit_status_.message


def test_sparse_periods_are_pooled_and_too_few_customers_are_not_tested():
    rng = np.random.default_rng(5)
    n = 600
    sim = simulate_sbg(n, alpha=0.7, beta=1.3, n_periods=rng.integers(1, 40, n), seed=6)
    sbg = ShiftedBetaGeoFitter().fit(sim)
    table, check = sbg.retention_check_, sbg.lack_of_fit_
    assert check["n_groups"] < check["n_periods"] == len(table)
    by_group = table.groupby("group")[["expected_churned", "at_risk"]].sum()
    assert (by_group["expected_churned"] >= 5).all()
    assert (by_group["at_risk"] - by_group["expected_churned"] >= 5).all()
    assert np.all(np.diff(table["group"]) >= 0) and check["df"] == check["n_groups"] - 2
    tiny = ShiftedBetaGeoFitter().fit(_customers())
    assert np.isnan(tiny.lack_of_fit_["p_value"])
    assert any(d.code == "lack_of_fit_not_tested" and d.severity == "info" for d in tiny.diagnostics_)


# -- input errors ----------------------------------------------------------------------------------


def _customers(**columns) -> pd.DataFrame:
    base = {"tenure": [1, 2, 3, 4], "churned": [True, False, True, False]}
    base.update(columns)
    return pd.DataFrame(base, index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"))


@pytest.mark.parametrize(
    "data, pattern",
    [
        (_customers(tenure=[1, 2.5, 3, 4]), r"'tenure'.*non-integer.*c2"),
        (_customers(tenure=[1, 0, 3, -1]), r"'tenure'.*2 row\(s\) below 1.*c2, c4"),
        (_customers(tenure=[1, np.nan, 3, 4]), r"'tenure'.*missing.*c2"),
        (_customers(tenure=[1, "two", 3, 4]), r"'tenure' must be numeric.*'two'.*c2"),
        (_customers(churned=["yes", False, True, "no"]), r"'churned' must be True/False.*'yes'.*c1, c4"),
        (_customers(churned=[True, None, True, False]), r"'churned'.*missing.*c2"),
        (_customers(churned=[1, 0, 2, 0]), r"'churned' must be True/False.*c3"),
        (_customers().drop(columns="churned"), r"missing column\(s\) \['churned'\]"),
    ],
)
def test_bad_input_names_the_column_and_the_rows(data, pattern):
    with pytest.raises(ValueError, match=pattern):
        ShiftedBetaGeoFitter().fit(data)


def test_churn_flags_as_ones_and_zeros_and_weights_are_accepted():
    ones = ShiftedBetaGeoFitter().fit(_customers(churned=[1, 0, 1, 0]))
    bools = ShiftedBetaGeoFitter().fit(_customers())
    np.testing.assert_allclose(ones.params_, bools.params_)
    with pytest.raises(ValueError, match=r"'w' \(weights\).*c3"):
        ShiftedBetaGeoFitter().fit(_customers(w=[1, 2, -1, 1]), weights_col="w")
    with pytest.raises(TypeError, match="DataFrame"):
        ShiftedBetaGeoFitter().fit([[1, True]])


@pytest.mark.parametrize(
    "survivors, pattern",
    [
        ([1000], "at least one"),
        ([0, 0], "cohort size"),
        ([1000, 600, 700], "must not increase"),
        ([10, np.nan], "missing"),
        (np.array([[1000, 600], [500, 300]]), r"one-dimensional.*shape \(2, 2\)"),
        (pd.DataFrame({"a": [1000, 600], "b": [900, 400]}), r"one-dimensional.*shape \(2, 2\)"),
        (1000, r"one-dimensional.*shape \(\)"),
        (["1000", "many"], "must be numbers"),
    ],
)
def test_bad_survivors(survivors, pattern):
    with pytest.raises(ValueError, match=pattern):
        ShiftedBetaGeoFitter().fit_survivors(survivors)


# -- conventions -----------------------------------------------------------------------------------


def test_follows_the_fitted_model_conventions():
    sbg = ShiftedBetaGeoFitter()
    with pytest.raises(NotFittedError):
        sbg.summary  # noqa: B018
    with pytest.raises(NotFittedError):
        sbg.derl(0.1, 1)
    with pytest.raises(ValueError, match="alpha"):
        ShiftedBetaGeoFitter(alpha=1.5)
    assert sbg.fit_survivors(REGULAR) is sbg
    summary = sbg.summary
    assert list(summary.columns[:5]) == ["coef", "se", "ci_lower", "ci_upper", "p_value"]
    assert list(summary.index) == ["alpha", "beta"] and summary["p_value"].isna().all()
    assert isinstance(sbg.diagnostics_, list) and all(isinstance(d, Diagnostic) for d in sbg.diagnostics_)
    narrow = ShiftedBetaGeoFitter(alpha=0.5).fit_survivors(REGULAR).summary
    assert ((narrow["ci_upper"] - narrow["ci_lower"]) < (summary["ci_upper"] - summary["ci_lower"])).all()
    assert sbg.cov_params_.shape == (2, 2) and sbg.survivors_.iloc[-1] == 241
    with pytest.raises(ValueError):
        sbg.fit(pd.DataFrame({"customer_id": [1, 2]}))
    assert not sbg.is_fitted and sbg.diagnostics_ == []


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda m: m.expected_residual_lifetime(3, horizon="x"), "horizon must be a whole number"),
        (lambda m: m.expected_residual_lifetime(3, horizon=np.nan), "horizon must be a whole number"),
        (lambda m: m.expected_residual_lifetime(3, horizon=2.5), "horizon must be a whole number"),
        (lambda m: m.expected_survivors(np.nan), "n_periods must be a whole number"),
        (lambda m: m.expected_survivors("x"), "n_periods must be a whole number"),
        (lambda m: m.expected_survivors(None, cohort_size=10), "n_periods must be a whole number"),
        (lambda m: m.retention_curve(np.nan), "n_periods must be a whole number"),
        (lambda m: m.retention_curve(0), "n_periods must be a whole number"),
        (lambda m: m.survival_function("x"), "t must be whole periods"),
    ],
)
def test_bad_settings_name_the_argument(regular, call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(regular)


def test_from_params_predicts_without_data():
    sbg = ShiftedBetaGeoFitter.from_params(alpha=0.704, beta=1.182)
    assert sbg.is_fitted and sbg.standard_errors_.isna().all()
    assert sbg.survival_function(1) == pytest.approx(1.182 / (0.704 + 1.182))
    with pytest.raises(ValueError, match="positive"):
        ShiftedBetaGeoFitter.from_params(alpha=-1, beta=1)


def test_stable_log_gamma_and_digamma_differences():
    x = np.array([0.3, 2.0, 9.99, 10.0, 57.0, 1e3])
    t = np.array([0.0, 1.0, 5.0, 17.0, 2.0, 40.0])
    np.testing.assert_allclose(_log_rising(x, t), special.gammaln(x + t) - special.gammaln(x), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(_digamma_diff(x, t), special.digamma(x + t) - special.digamma(x), rtol=1e-10, atol=1e-14)
    for big in (1e6, 3.3e9, 1e14):  # where gammaln differences lose digits: against the exact sums
        j = np.arange(7.0)
        assert _log_rising(big, 7.0) == pytest.approx(np.sum(np.log(big + j)), rel=1e-14)
        assert _digamma_diff(big, 7.0) == pytest.approx(np.sum(1 / (big + j)), rel=1e-10)
