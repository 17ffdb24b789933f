"""The model convention of the CLV fitters: NotFittedError, summary, cov_params_, alpha, diagnostics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import bsc_toolkit.models.clv._fitting as fitting
from bsc_toolkit.formatting import diagnostics_markdown
from bsc_toolkit.models._base import SUMMARY_COLUMNS, FittedModel, NotFittedError
from bsc_toolkit.models.clv import BetaGeoFitter, GammaGammaFitter, simulate_bgnbd, simulate_gamma_gamma
from tests.models.clv import TRUE_BG, TRUE_GG


@pytest.fixture(scope="module")
def small_bg() -> pd.DataFrame:
    """2,000 well-behaved simulated customers (a fit takes well under a second)."""
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=2000)
    return simulate_bgnbd(2000, T=T, seed=3, **TRUE_BG)


@pytest.fixture(scope="module")
def small_bg_fit(small_bg) -> BetaGeoFitter:
    return BetaGeoFitter().fit(small_bg)


@pytest.fixture(scope="module")
def small_gg() -> pd.DataFrame:
    freq = pd.Series(np.random.default_rng(5).poisson(2.0, size=3000).astype(float))
    return simulate_gamma_gamma(freq, seed=11, **TRUE_GG)


# ---------------------------------------------------------------------------
# not fitted
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [BetaGeoFitter, GammaGammaFitter])
def test_unfitted_summary_and_attributes_raise_not_fitted(cls):
    model = cls()
    assert isinstance(model, FittedModel) and not model.is_fitted
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = model.summary
    with pytest.raises(NotFittedError):
        _ = model.params_
    with pytest.raises(NotFittedError):
        _ = model.cov_params_
    assert not hasattr(model, "params_")
    assert "not fitted" in repr(model)


def test_unfitted_predictions_raise_not_fitted():
    with pytest.raises(NotFittedError, match="BetaGeoFitter is not fitted"):
        BetaGeoFitter().conditional_probability_alive(1, 1, 2)
    with pytest.raises(NotFittedError):
        BetaGeoFitter().predict(4.0, 1, 1, 2)
    with pytest.raises(NotFittedError):
        BetaGeoFitter().expected_number_of_purchases_up_to_time(4.0)
    with pytest.raises(NotFittedError):
        BetaGeoFitter().probability_alive_matrix(3, 3)
    with pytest.raises(NotFittedError, match="GammaGammaFitter is not fitted"):
        GammaGammaFitter().conditional_expected_average_profit(2.0, 10.0)
    with pytest.raises(NotFittedError):
        GammaGammaFitter().population_mean_spend()


def test_from_params_counts_as_fitted():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    assert bgf.is_fitted and bgf.diagnostics_ == [] and bgf.converged
    s = bgf.summary
    assert tuple(s.columns) == SUMMARY_COLUMNS
    assert s["coef"].to_dict() == pytest.approx(TRUE_BG)
    assert s[["se", "ci_lower", "ci_upper", "p_value"]].isna().all().all()
    assert bgf.cov_params_.isna().all().all()


# ---------------------------------------------------------------------------
# summary, covariance, alpha
# ---------------------------------------------------------------------------


def test_summary_columns_and_covariance(small_bg_fit, small_gg):
    for model, names in (
        (small_bg_fit, ["r", "alpha", "a", "b"]),
        (GammaGammaFitter().fit(small_gg), ["p", "q", "gamma"]),
    ):
        s = model.summary
        assert list(s.columns) == list(SUMMARY_COLUMNS)
        assert list(s.index) == names and s.index.name == "param"
        # positive parameters: a test of "= 0" is meaningless, so no p-value
        assert s["p_value"].isna().all()
        assert (s["ci_lower"] < s["coef"]).all() and (s["coef"] < s["ci_upper"]).all()
        cov = model.cov_params_
        assert list(cov.index) == names and list(cov.columns) == names
        np.testing.assert_allclose(np.sqrt(np.diag(cov)), s["se"], rtol=1e-12)
        with pytest.warns(FutureWarning, match="cov_params_"):
            old = model.variance_matrix_
        pd.testing.assert_frame_equal(old, cov)


def test_alpha_sets_the_interval_level(small_bg, small_bg_fit):
    wide = BetaGeoFitter(alpha=0.01).fit(small_bg).summary
    narrow = small_bg_fit.summary  # alpha = 0.05
    pd.testing.assert_series_equal(wide["coef"], narrow["coef"])
    assert (narrow["ci_upper"] - narrow["ci_lower"] < wide["ci_upper"] - wide["ci_lower"]).all()
    # Wald on the log scale: log(ci_upper / coef) = z * se / coef
    z = 2.5758293035489
    np.testing.assert_allclose(np.log(wide["ci_upper"] / wide["coef"]), z * wide["se"] / wide["coef"], rtol=1e-9)
    with pytest.raises(ValueError, match="alpha"):
        BetaGeoFitter(alpha=1.5)


# ---------------------------------------------------------------------------
# diagnostics
# ---------------------------------------------------------------------------


def test_no_diagnostics_on_well_behaved_data(small_bg_fit, small_gg):
    bgf = small_bg_fit
    ggf = GammaGammaFitter().fit(small_gg)
    assert bgf.diagnostics_ == [] and ggf.diagnostics_ == []
    assert bgf.converged and bgf.converged_
    assert diagnostics_markdown(bgf, ggf) == ""


@pytest.mark.slow
def test_no_diagnostics_on_the_large_simulation(sim_fit):
    _, bgf = sim_fit
    assert bgf.diagnostics_ == []


def test_no_dropout_data_use_the_nbd_limit():
    """Almost nobody drops out (p ~ Beta(0.05, 5000)): b runs away, the NBD without drop-out is used."""
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=2000)
    sim = simulate_bgnbd(2000, T=T, seed=3, r=0.5, alpha=2.0, a=0.05, b=5000.0)
    assert sim["alive"].all()
    bgf = BetaGeoFitter().fit(sim)
    # the BG/NBD search ran away towards b -> infinity; the NBD reaches the same log-likelihood
    first, last = bgf.search_path_
    assert first.model == "BG/NBD" and first.ran_away and first.params["b"] > 1e6
    assert last.model == "NBD (no drop-out)" and last.converged
    assert last.log_likelihood >= first.log_likelihood - fitting.LIMIT_TOLERANCE
    assert bgf.model_ == "NBD (no drop-out)" == bgf.fit_status_.model
    assert list(bgf.params_.index) == ["r", "alpha"] and list(bgf.summary.index) == ["r", "alpha"]
    assert bgf.params_["r"] == pytest.approx(0.5, rel=0.1)
    assert bgf.standard_errors_.notna().all() and (bgf.standard_errors_ > 0).all()
    assert bgf.log_likelihood_ == pytest.approx(last.log_likelihood, abs=1e-6)
    status = bgf.fit_status_
    assert status.boundary == "no-dropout boundary" and status.usable and status.converged and bgf.converged
    assert "nobody leaves" in status.message and "b -> infinity" in status.message
    assert [d.code for d in bgf.diagnostics_] == ["limit_model"]
    assert bgf.diagnostics_[0].severity == "warning" and bgf.diagnostics_[0].message == status.message
    md = diagnostics_markdown(bgf)  # escaped for Markdown
    assert md.startswith("- **Warning:** The BG\\/NBD likelihood rises towards") and md.count("\n- ") == 0


def test_a_boundary_without_a_limiting_model_is_withheld(monkeypatch):
    """Without limiting models the run-away search is reported as such, and not usable."""
    from dataclasses import replace

    import bsc_toolkit.models.clv.bgnbd as bgnbd

    bare = {k: replace(v, limits=()) for k, v in bgnbd.MODELS.items()}
    monkeypatch.setattr(BetaGeoFitter, "_specs", bare)
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=2000)
    sim = simulate_bgnbd(2000, T=T, seed=3, r=0.5, alpha=2.0, a=0.05, b=5000.0)
    bgf = BetaGeoFitter().fit(sim)
    assert bgf.model_ == "BG/NBD" and bgf.params_["b"] > 1e6
    status = bgf.fit_status_
    assert not status.usable and not status.converged and not bgf.converged
    assert status.boundary.endswith("(no limiting model)") and "b -> infinity" in status.boundary
    codes = [d.code for d in bgf.diagnostics_]
    assert codes and set(codes) == {"boundary"}
    text = " ".join(d.message for d in bgf.diagnostics_)
    assert "ran away towards infinity" in text and "no-drop-out limit" in text and "not usable" in text


def test_both_drop_out_parameters_to_zero_are_one_limit():
    """a and b running to 0 together mean one limit: drop-out probabilities split between 0 and 1."""
    bgf = BetaGeoFitter.from_params(r=0.5, alpha=2.0, a=1e-8, b=3e-8)
    groups = bgf._runaway_meanings({"r": True, "a": False, "b": False})
    ab = [g for g in groups if g[0] == ["a", "b"]]
    assert len(groups) == 2 and len(ab) == 1 and "split between 0 and 1" in ab[0][2] and "25.0%" in ab[0][2]


def test_high_survival_without_runaway_is_reported(small_bg):
    """The P(alive) check alone: an NBD-like fit (99%+ alive) that is still a BG/NBD fit."""
    from bsc_toolkit.models.clv._bgnbd_math import compress_rfm

    bgf = BetaGeoFitter.from_params(r=0.25, alpha=4.0, a=0.01, b=3.0)
    x, t_x, T = (small_bg[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    bgf._diagnose_no_dropout(compress_rfm(x, t_x, T))
    assert [d.code for d in bgf.diagnostics_] == ["near_boundary"]
    assert "little drop-out" in bgf.diagnostics_[0].message
    assert bgf.fit_status_.usable  # close to the boundary is not at it: the figures stay


def test_not_converged_is_reported(small_gg, monkeypatch):
    real = fitting._search_model

    def never_converges(problem, spec, starts):
        res = real(problem, spec, starts)
        return fitting._Search(res.eta, res.f, False, False, res.n_iter)

    monkeypatch.setattr(fitting, "_search_model", never_converges)
    ggf = GammaGammaFitter().fit(small_gg)
    assert not ggf.converged and not ggf.converged_
    assert ggf.model_ == "Gamma-Gamma"  # the limiting models fit much worse: not used
    assert [d.code for d in ggf.diagnostics_] == ["not_converged"]
    assert "did not converge" in ggf.diagnostics_[0].message
    status = ggf.fit_status_
    assert not status.usable and not status.converged and status.boundary is None
    assert "did not converge" in status.message


def test_fit_status_of_a_sound_fit_and_from_params(small_bg_fit):
    status = small_bg_fit.fit_status_
    assert status == fitting.FitStatus("BG/NBD", True, None, status.message, True)
    assert "interior maximum" in status.message and small_bg_fit.model_ == "BG/NBD"
    given = BetaGeoFitter.from_params(**TRUE_BG).fit_status_
    assert given.usable and given.converged and given.boundary is None and "from_params" in given.message
    # a limiting model's parameters make that model
    nbd = BetaGeoFitter.from_params(r=0.5, alpha=2.0)
    assert nbd.model_ == "NBD (no drop-out)" and nbd.fit_status_.model == "NBD (no drop-out)"
    with pytest.raises(ValueError, match="expected parameters"):
        BetaGeoFitter.from_params(r=0.5, b=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.usable = False  # type: ignore[misc]


def test_initial_params_are_checked_and_used(small_bg, small_bg_fit):
    again = BetaGeoFitter().fit(small_bg, initial_params=small_bg_fit.params_.to_numpy())
    np.testing.assert_allclose(again.params_, small_bg_fit.params_, rtol=1e-6)
    with pytest.raises(ValueError, match="initial_params must be 4 positive numbers"):
        BetaGeoFitter().fit(small_bg, initial_params=[1.0, -1.0, 1.0, 1.0])


def test_gamma_gamma_assumption_diagnostic():
    """Spend that rises with frequency breaks the independence assumption: said in words."""
    rng = np.random.default_rng(8)
    freq = pd.Series(rng.poisson(3.0, size=3000).astype(float))
    sim = simulate_gamma_gamma(freq, seed=9, **TRUE_GG)
    sim["monetary_value"] *= 1 + 0.5 * sim["frequency"]
    ggf = GammaGammaFitter().fit(sim)
    assert ggf.frequency_monetary_correlation_ > 0.2
    assert [d.code for d in ggf.diagnostics_] == ["assumption"]
    msg = ggf.diagnostics_[0].message
    assert f"{ggf.frequency_monetary_correlation_:+.2f}" in msg and "assumes it is about 0" in msg
    # a refit on independent data forgets the old diagnostic
    clean = simulate_gamma_gamma(freq, seed=9, **TRUE_GG)
    assert ggf.fit(clean).diagnostics_ == []


# ---------------------------------------------------------------------------
# estimates -> natural-scale tables (one implementation for every CLV fitter)
# ---------------------------------------------------------------------------


def test_wald_natural_delta_method_intervals_and_p_values():
    eta = np.array([np.log(2.0), 0.0, 0.5])  # log scale, logit scale, as it is
    cov = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.0], [0.0, 0.0, 0.25]])
    wald = fitting._wald_natural(("log", "logit", "identity"), eta, cov, 0.05, ["r", "p", "gamma"])
    z = 1.959963984540054
    np.testing.assert_allclose(wald.params, [2.0, 0.5, 0.5], rtol=1e-15)
    jac = np.array([2.0, 0.25, 1.0])  # d theta / d eta
    np.testing.assert_allclose(wald.se, np.sqrt(np.diag(cov)) * jac, rtol=1e-15)
    np.testing.assert_allclose(wald.cov, cov * np.outer(jac, jac), rtol=1e-15)
    # intervals on the transformed scale (se 0.2, 0.3, 0.5): positive for r, inside (0, 1) for p, symmetric for gamma
    np.testing.assert_allclose(wald.ci["ci_lower"], [2 * np.exp(-z * 0.2), 1 / (1 + np.exp(z * 0.3)), 0.5 - z * 0.5])
    np.testing.assert_allclose(wald.ci["ci_upper"], [2 * np.exp(z * 0.2), 1 / (1 + np.exp(-z * 0.3)), 0.5 + z * 0.5])
    # a test of "= 0" only for the coefficient (the others are positive, or probabilities)
    assert np.isnan(wald.p_value.iloc[:2]).all()
    assert wald.p_value["gamma"] == pytest.approx(2 * (1 - 0.8413447460685429), rel=1e-12)  # z = 0.5 / 0.5 = 1
    # unknown covariance (from_params): NaN tables, the estimates stay
    blind = fitting._wald_natural(("log", "identity"), eta[[0, 2]], np.full((2, 2), np.nan), 0.05, ["r", "g"])
    assert blind.params.tolist() == pytest.approx([2.0, 0.5])
    assert blind.se.isna().all() and blind.ci.isna().all().all() and blind.p_value.isna().all()
    with pytest.raises(ValueError, match="unknown transform"):
        fitting._theta(("sqrt",), np.zeros(1))


def test_p_value_text():
    assert fitting._p_text(0.0312) == "p = 0.031"
    assert fitting._p_text(3e-5) == fitting._p_text(0.0) == "p < 0.0001"
