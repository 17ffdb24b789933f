"""Snapshot data (one row per customer, a churn flag, tenure, one survey): ChurnFlagModel and
Kaplan-Meier over tenure, against the truth of a simulation and against statsmodels / lifelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
from scipy import special

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.models._base import NotFittedError
from bsc_toolkit.models.retention import ChurnFlagModel, kaplan_meier_snapshot

FIVE = RatingScale(1, 5)
TRUE_SLOPE = -0.6  # log odds of churn per csat point (1-5 scale)
TRUE_TENURE = -0.02  # per month
TRUE_SMB = 0.3


def _snapshot(n: int = 5000, seed: int = 7) -> pd.DataFrame:
    """Customers at a snapshot: csat 1-5, tenure, segment, and a churn flag from a known logistic model."""
    rng = np.random.default_rng(seed)
    csat = rng.choice([1, 2, 3, 4, 5], n, p=[0.08, 0.12, 0.25, 0.35, 0.20]).astype(float)
    tenure = rng.uniform(1, 60, n)
    segment = rng.choice(["consumer", "smb", "enterprise"], n)
    eta = -0.2 + TRUE_SLOPE * (csat - 3) + TRUE_TENURE * tenure + TRUE_SMB * (segment == "smb")
    churned = rng.uniform(size=n) < special.expit(eta)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "churned": churned,
            "tenure_months": tenure,
            "segment": segment,
            "csat": csat,
        }
    )


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    return _snapshot()


def test_recovers_the_known_slope_per_point(snapshot):
    model = ChurnFlagModel(terms="linear", controls=("tenure_months", "C(segment)"), scale=FIVE).fit(snapshot)
    s = model.summary
    for term, true in {
        "csat": TRUE_SLOPE,
        "tenure_months": TRUE_TENURE,
        "C(segment)[T.smb]": TRUE_SMB,
        "C(segment)[T.enterprise]": 0.0,
        "Intercept": -0.2 - 3 * TRUE_SLOPE,
    }.items():
        assert abs(s.loc[term, "coef"] - true) < 3 * s.loc[term, "se"], (term, s.loc[term, "coef"], true)
    assert np.allclose(s["exp_coef"], np.exp(s["coef"]))  # the odds ratios
    assert model.penalty_ is None and model.unit == "per scale point (1-5)"
    assert "per scale point (1-5)" in model.summary_text() and "odds ratio" in model.summary_text()
    # a straight line is the truth: both spline slopes cover it
    spline = ChurnFlagModel(scale=FIVE).fit(snapshot)
    assert spline.knot == 4.0 and spline.controls_ == ("tenure_months",)  # the default control when present
    for term in ("csat_below", "csat_above"):
        assert abs(spline.params_[term] - TRUE_SLOPE) < 3 * spline.standard_errors_[term]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"terms": "spline", "controls": ("tenure_months", "C(segment)")},
        {"terms": "linear", "penalty": None},
        {"terms": "bands", "controls": ("C(segment)",)},
    ],
)
def test_equals_statsmodels_glm_binomial(snapshot, kwargs):
    model = ChurnFlagModel(scale=FIVE, **kwargs).fit(snapshot)
    assert model.penalty_ is None
    df = snapshot.assign(
        churned=snapshot["churned"].astype(float),
        csat_below=np.minimum(snapshot["csat"] - 4, 0),
        csat_above=np.maximum(snapshot["csat"] - 4, 0),
        csat_band=pd.Categorical(snapshot["csat"].map("{:g}".format), categories=["1", "2", "3", "4", "5"]),
    )
    y, x = patsy.dmatrices(model.formula_, df, return_type="dataframe")
    ref = sm.GLM(y.iloc[:, 0], x, family=sm.families.Binomial()).fit()
    assert list(ref.params.index) == list(model.params_.index)
    np.testing.assert_allclose(model.params_, ref.params, rtol=1e-6)
    np.testing.assert_allclose(model.standard_errors_, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(model.p_values_, ref.pvalues, rtol=1e-6, atol=1e-300)
    assert model.llf_ == pytest.approx(ref.llf, rel=1e-10)
    np.testing.assert_allclose(model.predict(snapshot), ref.predict(x), rtol=1e-6)
    if kwargs["terms"] == "spline":
        xl = x.drop(columns=["csat_below", "csat_above"]).assign(csat=df["csat"])
        line = sm.GLM(y.iloc[:, 0], xl, family=sm.families.Binomial()).fit()
        lr = model.nonlinearity_test_.loc["LR: spline vs linear", "statistic"]
        assert lr == pytest.approx(2 * (ref.llf - line.llf), rel=1e-6)


def test_predict_gives_probabilities_and_nan_without_csat(snapshot):
    model = ChurnFlagModel(scale=FIVE).fit(snapshot)
    new = pd.DataFrame({"csat": [1.0, 3.5, np.nan, 5.0], "tenure_months": [12.0, 12.0, 12.0, 12.0]}, index=[9, 8, 7, 6])
    p = model.predict(new)
    assert list(p.index) == [9, 8, 7, 6] and np.isnan(p.loc[7])
    assert p.loc[9] > p.loc[8] > p.loc[6] > 0
    b = model.params_
    eta = b["Intercept"] + b["csat_below"] * (1 - 4) + b["tenure_months"] * 12
    assert p.loc[9] == pytest.approx(special.expit(eta))
    with pytest.raises(NotFittedError):
        ChurnFlagModel().predict(new)


def test_separation_switches_to_firth_and_says_so(snapshot):
    df = snapshot.head(600).copy()
    df.loc[df["csat"] == 1, "churned"] = True  # every customer answering 1 churned
    model = ChurnFlagModel(terms="bands", scale=FIVE).fit(df)
    assert model.penalty_ == "firth"
    sep = next(d for d in model.diagnostics_ if d.code == "separation")
    assert sep.severity == "warning" and "[T.1]" in sep.message
    assert "estimates are Firth-penalised (bias-reduced) maximum likelihood" in sep.message
    assert np.isfinite(model.summary["se"]).all() and (model.standard_errors_ < 100).all()
    plain = ChurnFlagModel(terms="bands", scale=FIVE, penalty=None).fit(df)
    assert any(d.code == "separation" and d.severity == "error" for d in plain.diagnostics_)


def test_rows_without_csat_or_flag_are_dropped_and_said(snapshot):
    df = snapshot.head(1000).copy()
    df.loc[df.index[:50], "csat"] = np.nan
    df["churned"] = df["churned"].astype(object)
    df.loc[df.index[50:60], "churned"] = None
    model = ChurnFlagModel(scale=FIVE).fit(df)
    assert model.n_obs_ == 940
    messages = [d.message for d in model.diagnostics_ if d.code == "dropped_rows"]
    assert any("50 of 1,000 customers" in m and "satisfaction is missing" in m for m in messages)
    assert any("10 of 1,000 customers" in m and "churn flag is missing" in m for m in messages)
    few = ChurnFlagModel(scale=FIVE).fit(snapshot.head(80))
    assert any(d.code == "few_events" for d in few.diagnostics_)
    with pytest.raises(ValueError, match="churn flag"):
        ChurnFlagModel(scale=FIVE).fit(df.assign(churned="yes"))


def test_surveys_are_joined_by_text_ids(snapshot):
    df = snapshot.head(1500)
    customers = df.drop(columns="csat").assign(customer_id=lambda d: "C" + d["customer_id"].astype(str))
    surveys = pd.DataFrame({"customer_id": customers["customer_id"], "csat": df["csat"].to_numpy()})
    # one customer answered twice (mean used), one did not answer at all (left out)
    surveys = pd.concat([surveys.iloc[1:], pd.DataFrame({"customer_id": ["C2"], "csat": [df["csat"].iloc[2]]})])
    joined = ChurnFlagModel(scale=FIVE).fit(customers, surveys)
    direct = ChurnFlagModel(scale=FIVE).fit(df.iloc[1:])
    pd.testing.assert_series_equal(joined.params_, direct.params_, rtol=1e-10)
    assert any(d.code == "several_surveys" for d in joined.diagnostics_)
    assert any(d.code == "dropped_rows" and "1 of 1,500" in d.message for d in joined.diagnostics_)


def test_kaplan_meier_snapshot_equals_lifelines(snapshot):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    km = kaplan_meier_snapshot(snapshot, scale=FIVE, alpha=0.1)
    assert km.time_unit == "tenure_months" and km.alpha == 0.1
    assert list(km.counts["band"].astype(str)) == ["1", "2", "3", "4", "5"]
    for label, sub in snapshot.groupby(snapshot["csat"].map("{:g}".format)):
        ref = KaplanMeierFitter(alpha=0.1).fit(sub["tenure_months"], sub["churned"])
        mine = km.table[km.table["band"] == label]
        np.testing.assert_allclose(mine["time"], ref.survival_function_.index)
        np.testing.assert_allclose(mine["survival"], ref.survival_function_.iloc[:, 0])
        np.testing.assert_allclose(mine["ci_lower"], ref.confidence_interval_survival_function_.iloc[:, 0])
        counts = km.counts.set_index(km.counts["band"].astype(str)).loc[label]
        assert counts["customers"] == len(sub) and counts["churned"] == sub["churned"].sum()
    lr = multivariate_logrank_test(snapshot["tenure_months"], snapshot["csat"], snapshot["churned"])
    assert km.logrank["test_statistic"] == pytest.approx(lr.test_statistic)
    assert km.logrank["p_value"] < 1e-6  # low csat churns sooner in the simulation
    final = km.table.groupby("band", observed=True)["survival"].last()
    assert final["5"] > final["1"]
    by_segment = kaplan_meier_snapshot(snapshot, by="segment")
    assert set(by_segment.counts["band"].astype(str)) == {"consumer", "enterprise", "smb"}
    seg = multivariate_logrank_test(snapshot["tenure_months"], snapshot["segment"], snapshot["churned"])
    assert by_segment.logrank["test_statistic"] == pytest.approx(seg.test_statistic)


def test_kaplan_meier_snapshot_notes_and_errors(snapshot):
    df = snapshot.head(500).copy()
    df.loc[df.index[:7], "tenure_months"] = np.nan
    km = kaplan_meier_snapshot(df, scale=FIVE)
    assert km.counts["customers"].sum() == 493 and any("7 of 500" in n for n in km.notes)
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier_snapshot(df.assign(tenure_months=-1.0), scale=FIVE)
    with pytest.raises(ValueError, match="tenure_months"):
        kaplan_meier_snapshot(df.drop(columns="tenure_months"))
