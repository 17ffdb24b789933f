"""Firth-penalised (Jeffreys-prior) estimation in the binomial fits, and the penalty="auto" switch.

The reference is computed here with independent code: the penalised log-likelihood
``l(b) + 0.5 log det(X'W(b)X)`` written out directly and maximised with scipy.optimize.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
from scipy import optimize, special

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models.retention import DiscreteTimeHazardModel
from bsc_toolkit.models.retention._irls import fit_binomial, fit_firth
from bsc_toolkit.panel import customer_periods
from tests.models.retention import separated_panel


def _penalised_loglike(beta: np.ndarray, x: np.ndarray, y: np.ndarray, link: str, offset: np.ndarray) -> float:
    """``l + 0.5 log det(X'WX)``, W the Fisher weights ``(dmu/deta)^2 / (mu (1 - mu))``."""
    eta = x @ beta + offset
    if link == "logit":
        log_p, log_q = special.log_expit(eta), special.log_expit(-eta)
        p = np.exp(log_p)
        w = p * (1 - p)
    else:  # cloglog: mu = 1 - exp(-exp(eta))
        lam = np.exp(eta)
        log_q = -lam
        log_p = np.log(-np.expm1(-lam))
        w = np.exp(2 * eta - lam - log_p)  # (lam e^-lam)^2 / (p e^-lam), in logs
    loglike = np.sum(y * log_p + (1 - y) * log_q)
    sign, logdet = np.linalg.slogdet(x.T @ (w[:, None] * x))
    value = loglike + 0.5 * logdet
    return float(value) if sign > 0 and np.isfinite(value) else -np.inf


def _reference(x: np.ndarray, y: np.ndarray, link: str, offset: np.ndarray | None = None) -> np.ndarray:
    off = np.zeros(len(y)) if offset is None else offset

    def objective(b: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return -_penalised_loglike(b, x, y, link, off)

    coarse = optimize.minimize(
        objective, np.zeros(x.shape[1]), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8, "maxfev": 20_000}
    )
    fine = optimize.minimize(objective, coarse.x, method="BFGS", jac="3-point", options={"gtol": 1e-9})
    return fine.x


def _separated(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Complete separation on x1 (y = 1 exactly when x1 > 0.2), plus a binary covariate."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n).astype(float)
    y = (x1 > 0.2).astype(float)
    return np.column_stack([np.ones(n), x1, x2]), y


def test_logit_firth_equals_direct_maximisation_on_separated_data():
    x, y = _separated()
    firth = fit_firth(x, y, "logit")
    assert firth.converged and firth.penalty == "firth"
    np.testing.assert_allclose(firth.params, _reference(x, y, "logit"), atol=1e-5)
    # the penalised log-likelihood reported is the one maximised
    assert firth.penalised_llf == pytest.approx(_penalised_loglike(firth.params, x, y, "logit", np.zeros(len(y))))
    # standard errors: the inverse Fisher information at the estimate
    p = special.expit(x @ firth.params)
    info = x.T @ ((p * (1 - p))[:, None] * x)
    np.testing.assert_allclose(firth.cov, np.linalg.inv(info), rtol=1e-8)


def test_cloglog_firth_with_exposure_offset_equals_direct_maximisation():
    x, y = _separated(80, seed=3)
    offset = np.log(np.random.default_rng(4).uniform(0.2, 1.0, len(y)))
    firth = fit_firth(x, y, "cloglog", offset=offset)
    assert firth.converged
    np.testing.assert_allclose(firth.params, _reference(x, y, "cloglog", offset), atol=1e-5)


def test_firth_is_finite_where_maximum_likelihood_diverges():
    x, y = _separated(200, seed=5)  # well separated: the ML slope runs off to infinity
    with np.errstate(over="ignore"):
        ml = fit_binomial(x, y, "logit")
    assert abs(ml.params[1]) > 10 or not ml.converged
    firth = fit_binomial(x, y, "logit", penalty="firth")
    assert firth.converged and np.all(np.isfinite(firth.params)) and np.all(np.isfinite(np.diag(firth.cov)))
    assert 0 < firth.params[1] < abs(ml.params[1])
    assert np.all(np.sqrt(np.diag(firth.cov)) < 100)


def test_firth_shrinks_towards_maximum_likelihood_as_data_grow():
    """Without separation Firth's estimate differs from ML by O(1/n): far less than a standard error."""
    rng = np.random.default_rng(8)
    n = 20_000
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = (rng.uniform(size=n) < special.expit(x @ [-1.0, 0.7, -0.4])).astype(float)
    ml, firth = fit_binomial(x, y, "logit"), fit_binomial(x, y, "logit", penalty="firth")
    se = np.sqrt(np.diag(ml.cov))
    assert np.all(np.abs(firth.params - ml.params) < 0.05 * se)
    assert np.all(np.abs(firth.params[1:]) <= np.abs(ml.params[1:]))  # bias reduction shrinks the slopes


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_auto_penalty_refits_a_separated_hazard_model_with_firth(link):
    panel = separated_panel(varying_exposure=True)
    model = DiscreteTimeHazardModel(terms="linear", link=link).fit(panel)  # penalty="auto" by default
    assert model.penalty_ == "firth"
    sep = [d for d in model.diagnostics_ if d.code == "separation"]
    assert len(sep) == 1 and sep[0].severity == "warning"
    assert "Complete or quasi-complete separation" in sep[0].message
    assert "estimates are Firth-penalised (bias-reduced) maximum likelihood" in sep[0].message
    assert "Firth-penalised" in model.summary_text()
    assert np.isfinite(model.summary[["coef", "se", "ci_lower", "ci_upper"]].to_numpy()).all()
    assert (model.standard_errors_ < 100).all()
    # the model's estimates maximise the penalised likelihood of its own design (built here with patsy)
    rows = model.prepare(panel)
    x = np.asarray(patsy.dmatrix(model.formula_.split("~")[1], rows))
    y = rows["churned"].to_numpy(dtype=float)
    offset = rows["log_at_risk"].to_numpy() if link == "cloglog" else None
    reference = _reference(x, y, link, offset)
    off = np.zeros(len(y)) if offset is None else offset
    ours = model.params_.to_numpy()
    assert _penalised_loglike(ours, x, y, link, off) >= _penalised_loglike(reference, x, y, link, off) - 1e-10
    # the cloglog surface is flat along one direction here (a 1e-12 change over 5e-6): scipy's
    # finite-difference optimum is only that precise
    np.testing.assert_allclose(ours, reference, atol=1e-5 if link == "logit" else 5e-5)
    plain = DiscreteTimeHazardModel(terms="linear", link=link, penalty=None).fit(panel)
    assert plain.penalty_ is None
    assert any(d.code == "separation" and d.severity == "error" for d in plain.diagnostics_)
    assert abs(plain.params_["csat"]) > abs(model.params_["csat"])
    with pytest.raises(ValueError, match="Firth"):
        model.to_statsmodels(panel)


def test_firth_spline_and_its_penalised_nonlinearity_test():
    scale = RatingScale(1, 5)
    panel = separated_panel(600, seed=2, varying_exposure=True)
    model = DiscreteTimeHazardModel(scale=scale).fit(panel)
    assert model.penalty_ == "firth" and model.penalised_llf_ is not None
    # Heinze & Schemper's penalised LR test: the straight line maximises the spline model's penalised
    # likelihood under equal slopes; reference: that maximisation done here with scipy
    rows = model.prepare(panel)
    x = np.asarray(patsy.dmatrix(model.formula_.split("~")[1], rows))
    y, offset = rows["churned"].to_numpy(dtype=float), rows["log_at_risk"].to_numpy()
    names = list(model.params_.index)
    i_below, i_above = names.index("csat_below"), names.index("csat_above")
    restrict = np.delete(np.eye(len(names)), i_above, axis=1)  # beta = restrict @ gamma ...
    restrict[i_above, names.index("csat_below") - (i_above < i_below)] = 1.0  # ... with equal slopes

    def objective(gamma: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return -_penalised_loglike(restrict @ gamma, x, y, "cloglog", offset)

    coarse = optimize.minimize(objective, np.zeros(len(names) - 1), method="Nelder-Mead", options={"maxfev": 20_000})
    line = optimize.minimize(objective, coarse.x, method="BFGS", jac="3-point", options={"gtol": 1e-9})
    full = _penalised_loglike(model.params_.to_numpy(), x, y, "cloglog", offset)
    lr = model.nonlinearity_test_.loc["LR: spline vs linear"]
    assert lr["statistic"] == pytest.approx(2 * (full + line.fun), abs=1e-6)
    assert lr["statistic"] >= 0 and 0 <= lr["p_value"] <= 1
    always = DiscreteTimeHazardModel(penalty="firth", scale=scale).fit(panel)
    pd.testing.assert_series_equal(always.params_, model.params_, rtol=1e-8)


def test_penalty_firth_on_data_without_separation_is_labelled():
    data = simulate(1500, seed=21)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    ml = DiscreteTimeHazardModel().fit(panel)
    assert ml.penalty_ is None and not any(d.code in ("separation", "penalty") for d in ml.diagnostics_)
    firth = DiscreteTimeHazardModel(penalty="firth").fit(panel)
    assert firth.penalty_ == "firth"
    assert any(d.code == "penalty" and d.severity == "info" for d in firth.diagnostics_)
    # on thousands of rows the penalty moves the estimates by a small fraction of a standard error
    assert ((firth.params_ - ml.params_).abs() < 0.1 * ml.standard_errors_).all()


def test_auto_penalty_leaves_default_fits_unchanged():
    data = simulate(1500, seed=22)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    for kwargs in ({}, {"link": "logit"}, {"terms": "bands"}, {"cov_type": "cluster"}):
        auto = DiscreteTimeHazardModel(**kwargs).fit(panel)
        plain = DiscreteTimeHazardModel(**kwargs, penalty=None).fit(panel)
        pd.testing.assert_frame_equal(auto.summary, plain.summary, check_exact=True)
        assert auto.penalty_ is None


def test_bad_penalty_is_refused():
    with pytest.raises(ValueError, match="penalty"):
        DiscreteTimeHazardModel(penalty="ridge")
    with pytest.raises(ValueError, match="penalty"):
        fit_binomial(np.ones((3, 1)), np.array([0.0, 1.0, 0.0]), penalty="lasso")
