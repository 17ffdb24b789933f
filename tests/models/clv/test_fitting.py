"""The model convention of the CLV fitters: NotFittedError, summary, cov_params_, alpha, diagnostics."""

from __future__ import annotations

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


def test_no_dropout_data_give_a_boundary_diagnostic():
    """Almost nobody drops out (p ~ Beta(0.05, 5000)): the fit runs to the no-drop-out limit."""
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=2000)
    sim = simulate_bgnbd(2000, T=T, seed=3, r=0.5, alpha=2.0, a=0.05, b=5000.0)
    assert sim["alive"].all()
    bgf = BetaGeoFitter().fit(sim)
    # what the fit does: b runs away (1.5e13) and the Hessian is singular; r and alpha are fine
    assert bgf.params_["b"] > 1e6
    assert bgf.params_["r"] == pytest.approx(0.5, rel=0.1)
    codes = [d.code for d in bgf.diagnostics_]
    assert codes and set(codes) == {"boundary"}
    text = " ".join(d.message for d in bgf.diagnostics_)
    assert "b = 1.5" in text and "no-drop-out limit" in text and "not usable" in text
    assert bgf.converged  # converged to the limit: boundary, not non-convergence
    md = diagnostics_markdown(bgf)
    assert md.startswith("- **Warning:** BG") and md.count("\n- ") == len(codes) - 1


def test_both_drop_out_parameters_to_zero_are_one_diagnostic():
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=2000)
    sim = simulate_bgnbd(2000, T=T, seed=4, r=0.5, alpha=2.0, a=0.05, b=5000.0)
    bgf = BetaGeoFitter().fit(sim)
    boundary = [d.message for d in bgf.diagnostics_ if d.code == "boundary"]
    assert bgf.params_["a"] < 1e-6 and bgf.params_["b"] < 1e-6
    assert len(boundary) == 1 and "split between 0 and 1" in boundary[0]


def test_high_survival_without_runaway_is_reported(small_bg):
    """The P(alive) check alone: an NBD-like fit (99%+ alive) without a run-away parameter."""
    bgf = BetaGeoFitter.from_params(r=0.25, alpha=4.0, a=0.01, b=3.0)
    x, t_x, T = (small_bg[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    bgf._diagnose_no_dropout(x, t_x, T, np.ones(x.size))
    assert [d.code for d in bgf.diagnostics_] == ["boundary"]
    assert "practically no drop-out" in bgf.diagnostics_[0].message


def test_not_converged_is_reported(small_gg, monkeypatch):
    real = fitting._maximise

    def never_converges(neg_ll, starts):
        res = real(neg_ll, starts)
        return fitting._FitResult(res.log_params, res.neg_ll, False)

    monkeypatch.setattr(fitting, "_maximise", never_converges)
    ggf = GammaGammaFitter().fit(small_gg)
    assert not ggf.converged and not ggf.converged_
    assert [d.code for d in ggf.diagnostics_] == ["not_converged"]
    assert "did not report convergence" in ggf.diagnostics_[0].message


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
