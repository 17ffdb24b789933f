"""Recovery of the simulator's spend truth by the financial panel models, agreement with
dummy-variable statsmodels fits, and the fitted-model convention."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models._base import SUMMARY_COLUMNS, NotFittedError, z_critical
from bsc_toolkit.models.financial import FinancialPanelModel
from bsc_toolkit.panel import customer_periods


@pytest.fixture(scope="module")
def sim():
    data = simulate(12000, seed=21)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    return data, panel


@pytest.fixture(scope="module")
def small():
    """A 3,000-customer panel for the fast tests."""
    data = simulate(3000, seed=5)
    return customer_periods(data.customers, data.surveys, data.transactions)


def _expected_revenue_panel(data, panel):
    """Panel whose revenue is the truth's expected revenue given csat and the hidden trait."""
    t = data.truth
    lat = data.latent[["customer_id", "period", "trait"]]
    df = panel.merge(lat, on=["customer_id", "period"], how="left", validate="one_to_one")
    base = df["segment"].map(t.orders_per_period).to_numpy() * df["segment"].map(t.order_value_usd).to_numpy()
    sd = t.spend_heterogeneity_sd
    g = np.where(df["csat"].notna(), t.spend_log_effect(df["csat"].fillna(t.csat_knot)), 0.0)
    df["revenue_usd"] = base * np.exp(g + sd * df["trait"].to_numpy() - 0.5 * sd**2)
    return df


# ------------------------------------------------------------------------- truth recovery
def test_ppml_fe_recovers_log_spend_effects(sim):
    data, panel = sim
    m = FinancialPanelModel(estimator="ppml").fit(panel)
    s = m.summary
    truth = {"csat_below": data.truth.spend_csat_below_knot, "csat_above": data.truth.spend_csat_above_knot}
    for term, true in truth.items():
        assert abs(s.loc[term, "coef"] - true) < 3 * s.loc[term, "se"], (term, s.loc[term, "coef"], true)
    assert np.allclose(s["pct_effect"], 100 * np.expm1(s["coef"]))
    assert m.customer_effects_.index.name == "customer_id"
    assert m.converged


def test_within_recovers_dollar_target_and_pooled_is_biased_up(sim):
    data, panel = sim
    # the dollar effect a linear FE regression targets: the same regression on expected revenue
    target = FinancialPanelModel(estimator="within").fit(_expected_revenue_panel(data, panel)).params_
    within = FinancialPanelModel(estimator="within").fit(panel).summary
    pooled = FinancialPanelModel(estimator="pooled").fit(panel).summary
    for term in ("csat_below", "csat_above"):
        assert abs(within.loc[term, "coef"] - target[term]) < 3 * within.loc[term, "se"], term
    # the hidden trait raises spend and satisfaction: pooled OLS overstates the effect
    assert pooled.loc["csat_below", "coef"] > within.loc["csat_below", "coef"] + 2 * within.loc["csat_below", "se"]
    assert pooled.loc["csat_below", "coef"] > 1.5 * target["csat_below"]


def test_first_differences_and_margin(sim):
    _, panel = sim
    fd = FinancialPanelModel(estimator="fd").fit(panel).summary
    assert fd.loc["csat_below", "coef"] > 0  # the above-knot slope is small and noisy in differences
    margin = FinancialPanelModel(outcome="margin_usd").fit(panel)
    assert margin.summary.loc["csat_below", "coef"] > 0
    assert "margin_usd" in margin.summary_text()


# ------------------------------------------------------------- dummy-variable reference
def _sm_cluster_se(result, groups, n, k):
    """statsmodels' uncorrected cluster sandwich SEs scaled by our CR1 factor."""
    g = groups.max() + 1
    factor = g / (g - 1) * ((n - 1) / (n - k) if k else 1.0)
    return result.bse * np.sqrt(factor)


def test_agrees_with_dummy_variable_reference(small):
    """Every estimator against statsmodels with explicit customer dummies, to 1e-6 (relative)."""
    sub = small[small["customer_id"] <= 100]
    cluster = {"use_correction": False}
    for est in ("pooled", "within", "fd", "ppml"):
        m = FinancialPanelModel(estimator=est).fit(sub)
        names = list(m.params_.index)
        df = m.prepare(sub)
        x = m._design(df)
        y = df["revenue_usd"]
        groups = pd.factorize(df["customer_id"])[0]
        if est == "pooled":
            ref = sm.OLS(y, x).fit(method="qr", cov_type="cluster", cov_kwds={"groups": groups, **cluster})
            se = _sm_cluster_se(ref, groups, len(y), x.shape[1])
        elif est == "within":
            xd = pd.concat([x, pd.get_dummies(df["customer_id"].astype(str), dtype=float)], axis=1)
            ref = sm.OLS(y, xd).fit(method="qr", cov_type="cluster", cov_kwds={"groups": groups, **cluster})
            se = _sm_cluster_se(ref, groups, len(y), x.shape[1])  # customer effects not counted (nested)
        elif est == "fd":
            ordinal = pd.PeriodIndex(df["period"]).asi8
            codes = df["customer_id"].to_numpy()
            cur = np.flatnonzero(np.r_[False, (codes[1:] == codes[:-1]) & (np.diff(ordinal) == 1)])
            dx = pd.DataFrame(x.to_numpy()[cur] - x.to_numpy()[cur - 1], columns=x.columns)[names]
            dy = y.to_numpy()[cur] - y.to_numpy()[cur - 1]
            groups = pd.factorize(codes[cur])[0]
            ref = sm.OLS(dy, dx).fit(method="qr", cov_type="cluster", cov_kwds={"groups": groups, **cluster})
            se = _sm_cluster_se(ref, groups, len(dy), dx.shape[1])
        else:
            keep = (df.groupby("customer_id")["revenue_usd"].transform("sum") > 0).to_numpy()
            df, x, y = df[keep].reset_index(drop=True), x[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
            xd = pd.concat([x, pd.get_dummies(df["customer_id"].astype(str), dtype=float)], axis=1)
            groups = pd.factorize(df["customer_id"])[0]
            ref = sm.GLM(y, xd, family=sm.families.Poisson(), offset=np.log(df["at_risk_fraction"])).fit(
                cov_type="cluster", cov_kwds={"groups": groups, **cluster}, tol=1e-13, maxiter=200, wls_method="qr"
            )
            se = _sm_cluster_se(ref, groups, len(y), 0)  # PPML: G/(G-1) only
        np.testing.assert_allclose(m.params_, ref.params[names], rtol=1e-6, atol=1e-9, err_msg=est)
        np.testing.assert_allclose(m.standard_errors_, se[names], rtol=1e-6, err_msg=est)
        np.testing.assert_allclose(np.sqrt(np.diag(m.cov_params_)), m.standard_errors_)


# ------------------------------------------------------------------------------ convention
def test_not_fitted_raises():
    m = FinancialPanelModel()
    for attr in ("summary", "params_", "cov_params_", "diagnostics_"):
        with pytest.raises(NotFittedError):
            getattr(m, attr)
    with pytest.raises(NotFittedError):
        m.summary_text()
    assert not hasattr(m, "params_")


def test_summary_columns_and_alpha(small):
    m95 = FinancialPanelModel(estimator="ppml").fit(small)
    m90 = FinancialPanelModel(estimator="ppml", alpha=0.1).fit(small)
    s95, s90 = m95.summary, m90.summary
    assert tuple(s95.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert {"pct_effect", "pct_ci_lower", "pct_ci_upper", "estimator", "outcome"} <= set(s95.columns)
    assert list(s95.index) == ["csat_below", "csat_above"]
    assert list(m95.confidence_intervals_.columns) == ["ci_lower", "ci_upper"]
    ratio = (s90["ci_upper"] - s90["ci_lower"]) / (s95["ci_upper"] - s95["ci_lower"])
    np.testing.assert_allclose(ratio, z_critical(0.1) / z_critical(0.05))
    np.testing.assert_allclose(s90["pct_ci_lower"], 100 * np.expm1(s95["coef"] - z_critical(0.1) * s95["se"]))
    assert (s90["pct_ci_upper"] < s95["pct_ci_upper"]).all()
    assert "90% intervals" in m90.summary_text()
    within = FinancialPanelModel(estimator="within").fit(small).summary
    assert tuple(within.columns[:5]) == SUMMARY_COLUMNS and "pct_effect" not in within.columns
    with pytest.raises(ValueError, match="alpha"):
        FinancialPanelModel(alpha=1.5)


def test_dropped_rows_diagnostics(small):
    m = FinancialPanelModel(estimator="ppml").fit(small)
    codes = [d.code for d in m.diagnostics_]
    assert "not_converged" not in codes and m.converged
    msgs = " ".join(d.message for d in m.diagnostics_ if d.code == "dropped_rows")
    n_no_csat = int(small["csat"].isna().sum())
    assert f"{n_no_csat:,} customer-periods without a csat survey" in msgs
    df = m.prepare(small)
    n_zero = int((df.groupby("customer_id")["revenue_usd"].sum() <= 0).sum())
    assert n_zero > 0 and f"{n_zero:,} customers whose revenue_usd is 0" in msgs


def test_ppml_leaves_out_negative_outcomes(small):
    """Issue 13: refunds make net revenue negative in some periods; PPML fits the rest and says so."""
    rng = np.random.default_rng(0)
    refund = small["csat"].notna() & (rng.random(len(small)) < 0.03)
    panel = small.assign(revenue_usd=small["revenue_usd"].where(~refund, -25.0))
    m = FinancialPanelModel(estimator="ppml").fit(panel)
    eligible = m.prepare(panel)
    n_neg = int((eligible["revenue_usd"] < 0).sum())
    assert n_neg > 0
    neg = [d for d in m.diagnostics_ if d.code == "dropped_rows" and "negative" in d.message]
    assert len(neg) == 1 and f"{n_neg:,} customer-periods" in neg[0].message and neg[0].severity == "warning"
    ref = FinancialPanelModel(estimator="ppml").fit(panel[~(panel["revenue_usd"] < 0)])
    np.testing.assert_allclose(m.params_, ref.params_, rtol=1e-10)
    assert m.n_obs_ == ref.n_obs_
    with pytest.raises(ValueError, match="negative margin_usd"):
        FinancialPanelModel(outcome="margin_usd", estimator="ppml").fit(small.assign(margin_usd=-1.0))


def test_no_within_variation_and_not_converged(small):
    m = FinancialPanelModel(estimator="within", formula="revenue_usd ~ csat_below + csat_above + C(segment)").fit(small)
    [d] = [d for d in m.diagnostics_ if d.code == "no_within_variation"]
    assert "C(segment)[T.smb]" in d.message
    assert not any(n.startswith("C(segment)") for n in m.params_.index)
    plain = FinancialPanelModel(estimator="within").fit(small)
    np.testing.assert_allclose(m.params_[plain.params_.index], plain.params_, rtol=1e-8)
    with pytest.raises(ValueError, match="no satisfaction term can be estimated"):
        FinancialPanelModel(estimator="within", formula="revenue_usd ~ C(segment)").fit(small)
    stuck = FinancialPanelModel(estimator="ppml", max_iter=1).fit(small)
    assert not stuck.converged
    assert any(d.code == "not_converged" and d.severity == "error" for d in stuck.diagnostics_)


def test_bad_input_raises(small):
    with pytest.raises(ValueError, match="revenue_usd"):
        FinancialPanelModel().fit(small.drop(columns=["revenue_usd"]))
    with pytest.raises(ValueError, match="estimator"):
        FinancialPanelModel(estimator="gmm")
    with pytest.raises(ValueError, match="csat"):
        FinancialPanelModel().fit(small.assign(csat=7.0))


def test_array_design_equals_the_frame_design_and_the_panel_is_untouched(small):
    before = small.copy()
    for est in ("within", "pooled", "fd", "ppml"):
        m = FinancialPanelModel(estimator=est)
        df = m.prepare(small)
        rows = (np.arange(len(df)) % 3 == 0) & (df["period"] != df["period"].min()).to_numpy()
        for sel in (None, rows):
            x, names = m._design_array(df, sel)
            ref = m._design(df if sel is None else df[sel])
            assert names == list(ref.columns), est
            np.testing.assert_array_equal(x, ref.to_numpy(dtype=float))
        m.fit(small)
    pd.testing.assert_frame_equal(small, before)


def test_a_regressor_collinear_with_the_fixed_effects_is_dropped_and_named(small):
    # within a customer, tenure moves one-for-one with calendar time, which the period effects absorb:
    # its coefficient is not identified (the fit used to return NaN standard errors without a word)
    m = FinancialPanelModel(estimator="within", formula="revenue_usd ~ csat_below + csat_above + tenure_years").fit(
        small
    )
    [d] = [d for d in m.diagnostics_ if d.code == "collinear"]
    assert "tenure_years" in d.message
    assert "tenure_years" not in m.params_.index
    assert np.isfinite(m.summary[["coef", "se"]].to_numpy()).all()
    plain = FinancialPanelModel(estimator="within").fit(small)
    np.testing.assert_allclose(m.params_[plain.params_.index], plain.params_, rtol=1e-8)
    assert not [d for d in plain.diagnostics_ if d.code == "collinear"]
