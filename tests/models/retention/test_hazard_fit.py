"""The lean IRLS fit of the hazard model against statsmodels, and its diagnostics."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models._base import NotFittedError
from bsc_toolkit.models.retention import ChurnLogitModel, DiscreteTimeHazardModel
from bsc_toolkit.models.retention._irls import fit_binomial
from bsc_toolkit.panel import customer_periods
from tests.models.retention import separated_panel

SUMMARY = ["coef", "se", "ci_lower", "ci_upper", "p_value", "exp_coef", "exp_coef_ci_lower", "exp_coef_ci_upper", "z"]


@pytest.fixture(scope="module")
def panel():
    data = simulate(3000, seed=5)
    return customer_periods(data.customers, data.surveys, data.transactions)


def _statsmodels(model: DiscreteTimeHazardModel, cov_type: str = "nonrobust"):
    """statsmodels' GLM on the same rows and design (built here with patsy)."""
    import patsy

    df = model.prepare(model._panel)
    y, x = patsy.dmatrices(model.formula_, df, return_type="dataframe")
    link = sm.families.links.CLogLog() if model.link == "cloglog" else sm.families.links.Logit()
    offset = df["log_at_risk"].to_numpy() if model.link == "cloglog" else None
    glm = sm.GLM(y.iloc[:, 0], x, family=sm.families.Binomial(link=link), offset=offset)
    if cov_type == "cluster":
        return glm.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["customer_id"])[0]})
    return glm.fit()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"link": "logit"},
        {"terms": "bands"},
        {"terms": "drivers"},
        {"terms": "linear", "link": "logit"},
        {"cov_type": "cluster"},
        {"cov_type": "cluster", "link": "logit"},
    ],
)
def test_lean_fit_equals_statsmodels(panel, kwargs):
    model = DiscreteTimeHazardModel(**kwargs).fit(panel)
    model._panel = panel
    ref = _statsmodels(model, kwargs.get("cov_type", "nonrobust"))
    assert list(ref.params.index) == list(model.params_.index)  # patsy's names and order
    np.testing.assert_allclose(model.params_.to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.standard_errors_.to_numpy(), ref.bse.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.llf_, ref.llf, rtol=1e-10)
    assert list(model.summary.columns) == SUMMARY


def test_nonlinearity_lr_equals_statsmodels(panel):
    model = DiscreteTimeHazardModel().fit(panel)
    model._panel = panel
    spline = _statsmodels(model)
    linear = DiscreteTimeHazardModel(terms="linear").fit(panel)
    linear._panel = panel
    line = _statsmodels(linear)
    lr = 2 * (spline.llf - line.llf)
    assert model.nonlinearity_test_.loc["LR: spline vs linear", "statistic"] == pytest.approx(lr, rel=1e-6)
    assert DiscreteTimeHazardModel(nonlinearity_test=False).fit(panel).nonlinearity_test_ is None


def test_irls_alone_equals_statsmodels():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(5000), rng.normal(size=5000), rng.integers(0, 2, 5000)])
    offset = np.log(rng.uniform(0.2, 1.0, 5000))
    y = (rng.uniform(size=5000) < 1 - np.exp(-np.exp(x @ [-2.0, 0.5, -0.3] + offset))).astype(float)
    fit = fit_binomial(x, y, "cloglog", offset=offset)
    ref = sm.GLM(y, x, family=sm.families.Binomial(link=sm.families.links.CLogLog()), offset=offset).fit()
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-6)
    assert fit.converged


def test_separation_is_diagnosed():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # statsmodels-style warnings become diagnostics
        model = DiscreteTimeHazardModel(terms="linear", penalty=None).fit(separated_panel())
    codes = [d.code for d in model.diagnostics_]
    assert "separation" in codes
    sep = next(d for d in model.diagnostics_ if d.code == "separation")
    assert sep.severity == "error" and "csat" in sep.message
    assert model.penalty_ is None


def test_separation_in_a_band_is_diagnosed():
    df = separated_panel(600, seed=1)
    df["csat"] = np.where(df["csat"] <= 2, 2.0, df["csat"] + 4)  # band 1-5 all churns; 7, 8, 9 vary
    df["churned"] = (df["csat"] <= 2) | (np.random.default_rng(2).uniform(size=len(df)) < 0.2)
    model = DiscreteTimeHazardModel(terms="bands").fit(df)
    sep = [d for d in model.diagnostics_ if d.code == "separation"]
    assert sep and "1-5" in sep[0].message


def test_empty_reference_band_uses_the_most_populated_band():
    df = separated_panel(600, seed=3)
    df["csat"] = np.where(df["csat"] <= 2, 5.0, 9.0) + np.where(np.arange(len(df)) % 3 == 0, 1.0, 0.0)
    df["churned"] = np.random.default_rng(4).uniform(size=len(df)) < 0.3
    model = DiscreteTimeHazardModel(terms="bands").fit(df)  # knot 7: band "7" has no rows
    assert model.reference_band_ != "7"
    assert any(d.code == "empty_reference" and "'7'" in d.message for d in model.diagnostics_)
    assert (model.summary["p_value"] > 0).all()
    assert set(model.csat_effect()["band"].astype(str)) == set(
        df["csat"].map(lambda c: "1-5" if c <= 5 else "6" if c <= 6 else "9-10")
    )


def test_dropped_rows_and_few_events(panel):
    model = DiscreteTimeHazardModel().fit(panel)
    dropped = [d for d in model.diagnostics_ if d.code == "dropped_rows"]
    n_missing = int(panel["csat"].isna().sum())
    assert dropped and f"{n_missing:,}" in dropped[0].message
    few = DiscreteTimeHazardModel().fit(panel.head(300))
    assert any(d.code == "few_events" for d in few.diagnostics_)
    gap = panel.assign(tenure_years=panel["tenure_years"].mask(panel.index % 50 == 0))
    model = DiscreteTimeHazardModel().fit(gap)
    assert any(d.code == "dropped_rows" and "control" in d.message for d in model.diagnostics_)


def test_convention_and_deprecated_name(panel):
    with pytest.raises(NotFittedError):
        DiscreteTimeHazardModel().summary  # noqa: B018
    with pytest.raises(ValueError, match="alpha"):
        DiscreteTimeHazardModel(alpha=0)
    wide = DiscreteTimeHazardModel(alpha=0.01).fit(panel).summary
    narrow = DiscreteTimeHazardModel(alpha=0.2).fit(panel).summary
    assert ((wide["ci_upper"] - wide["ci_lower"]) > (narrow["ci_upper"] - narrow["ci_lower"])).all()
    with pytest.warns(FutureWarning, match="DiscreteTimeHazardModel"):
        old = ChurnLogitModel()
    assert isinstance(old, DiscreteTimeHazardModel)
    assert DiscreteTimeHazardModel().fit(panel).converged


@pytest.mark.slow
def test_warm_started_irls_on_many_rows_equals_statsmodels():
    """Above 200,000 rows the IRLS starts from a subsample fit: same optimum as statsmodels."""
    rng = np.random.default_rng(1)
    n = 250_000
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n), rng.uniform(0, 5, n)])
    y = (rng.uniform(size=n) < 1 - np.exp(-np.exp(x @ [-2.5, 0.4, -0.3, -0.1]))).astype(float)
    for link, sm_link in (("cloglog", sm.families.links.CLogLog()), ("logit", sm.families.links.Logit())):
        fit = fit_binomial(x, y, link)
        ref = sm.GLM(y, x, family=sm.families.Binomial(link=sm_link)).fit()
        np.testing.assert_allclose(fit.params, ref.params, rtol=1e-6)
        np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-6)


def test_fitted_model_keeps_no_per_row_arrays(panel):
    """The n x k design and per-row arrays are dropped after the fit unless keep_data=True."""

    def per_row(value) -> bool:
        if isinstance(value, (tuple, list)):
            return any(per_row(v) for v in value)
        return isinstance(value, (np.ndarray, pd.Series, pd.DataFrame)) and len(value) >= model.n_obs_

    model = DiscreteTimeHazardModel(cov_type="cluster").fit(panel)
    assert not [name for name, value in vars(model).items() if per_row(value)]
    with pytest.raises(AttributeError, match="keep_data=True"):
        _ = model.result_
    assert not hasattr(model, "result_")
    ref = model.to_statsmodels(panel)  # the same model in statsmodels, from the panel given
    np.testing.assert_allclose(ref.params, model.params_, rtol=1e-6)
    np.testing.assert_allclose(ref.bse, model.standard_errors_, rtol=1e-6)
    with pytest.raises(ValueError, match="pass the panel the model was fitted on"):
        model.to_statsmodels(panel.iloc[: len(panel) // 2])
    kept = DiscreteTimeHazardModel(keep_data=True).fit(panel.copy())
    gc.collect()
    np.testing.assert_allclose(kept.result_.params, kept.params_, rtol=1e-6)


def test_survival_episodes_no_longer_need_the_customers_table(panel):
    from bsc_toolkit.models.retention import survival_episodes

    with pytest.warns(FutureWarning, match="customers table is no longer needed"):
        old = survival_episodes(panel, pd.DataFrame({"customer_id": []}))
    pd.testing.assert_frame_equal(old, survival_episodes(panel))
