"""Rating scales other than 1-10: knot, bands, units, reference bands and driver names follow the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.models.features import CSAT_BANDS, add_csat_spline, band_holding, csat_band, csat_bands
from bsc_toolkit.models.retention import (
    CoxChurnModel,
    DiscreteTimeHazardModel,
    kaplan_meier_by_band,
    survival_episodes,
)
from bsc_toolkit.panel import customer_periods

FIVE = RatingScale(1, 5)


def test_bands_of_the_default_scale_are_the_old_constant():
    assert csat_bands() == CSAT_BANDS
    assert csat_bands(RatingScale(1, 10, top_box=2)) == ((5, "1-5"), (6, "6"), (7, "7"), (8, "8"), (10, "9-10"))


@pytest.mark.parametrize("scale", [RatingScale(1, 5), RatingScale(1, 7), RatingScale(0, 6), RatingScale(1, 4)])
def test_narrow_scales_get_one_band_per_point(scale):
    bands = csat_bands(scale)
    points = np.arange(scale.low, scale.high + 1)
    assert [e for e, _ in bands] == list(points)
    assert [label for _, label in bands] == [f"{p:g}" for p in points]
    assert list(pd.Series(csat_band(points, bands)).astype(str)) == [f"{p:g}" for p in points]


@pytest.mark.parametrize(
    "scale",
    [RatingScale(0, 10), RatingScale(1, 8), RatingScale(0, 100, top_box=20), RatingScale(1, 20), RatingScale(1, 10, 3)],
)
def test_wide_scales_have_the_top_box_on_top_and_equal_middle_bands(scale):
    bands = csat_bands(scale)
    answers = np.arange(scale.low, scale.high + 1)
    cut = pd.Series(csat_band(answers, bands)).astype(str)
    assert cut.notna().all() and cut.nunique() == len(bands)  # every answer in a band, no empty band
    top = answers[cut == bands[-1][1]]
    assert top.min() == scale.top_box_min and top.max() == scale.high  # the top box is the top band
    widths = [int((cut == label).sum()) for _, label in bands[1:-1]]
    assert len(set(widths)) == 1  # the three bands below the top box have equal widths
    assert int((cut == bands[0][1]).sum()) >= widths[0]  # the sparse low end is pooled
    assert band_holding(scale.default_knot(), bands) in {label for _, label in bands}


def _five_point_periods(n: int = 20_000, seed: int = 0, csat_values=(1, 2, 3, 4, 5)) -> tuple[pd.DataFrame, dict]:
    """Surveyed customer-periods with csat on 1-5 and churn from a known cloglog hazard (knot 4)."""
    rng = np.random.default_rng(seed)
    csat = rng.choice(np.asarray(csat_values, dtype=float), n)
    exposure = rng.uniform(0.3, 1.0, n)
    segment = rng.choice(["consumer", "smb"], n)
    truth = {"Intercept": -2.0, "C(segment)[T.smb]": 0.3, "csat_below": -0.5, "csat_above": -0.2}
    eta = (
        truth["Intercept"]
        + truth["C(segment)[T.smb]"] * (segment == "smb")
        + truth["csat_below"] * np.minimum(csat - 4, 0)
        + truth["csat_above"] * np.maximum(csat - 4, 0)
        + np.log(exposure)
    )
    churned = rng.uniform(size=n) < -np.expm1(-np.exp(eta))
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "churned": churned,
            "at_risk_fraction": exposure,
            "csat": csat,
            "segment": segment,
        }
    )
    return df, truth


def test_hazard_model_on_a_five_point_scale_recovers_the_truth_and_states_the_unit():
    panel, truth = _five_point_periods()
    model = DiscreteTimeHazardModel(scale=FIVE, controls=("C(segment)",)).fit(panel)
    assert model.knot == 4.0 and model.unit == "per scale point (1-5)"
    s = model.summary
    for term, true in truth.items():
        assert abs(s.loc[term, "coef"] - true) < 3 * s.loc[term, "se"], (term, s.loc[term, "coef"], true)
    text = model.summary_text()
    assert "per scale point (1-5)" in text and "knot at 4" in text
    effect = model.csat_effect()
    assert effect["csat"].min() == 1.0 and effect["csat"].max() == 5.0
    bands = DiscreteTimeHazardModel(terms="bands", scale=FIVE, controls=()).fit(panel)
    assert bands.reference_band_ == "4"
    assert list(bands.csat_effect()["band"].astype(str)) == ["1", "2", "3", "4", "5"]
    assert "band '4'" in bands.summary_text()


def test_an_empty_reference_band_is_replaced_by_the_most_populated_one():
    panel, _ = _five_point_periods(4000, seed=1, csat_values=(1, 2, 3, 3, 5, 5, 5))  # nobody answers 4
    model = DiscreteTimeHazardModel(terms="bands", scale=FIVE, controls=()).fit(panel)
    assert model.reference_band_ == "5"
    assert any(d.code == "empty_reference" and "'4'" in d.message for d in model.diagnostics_)
    assert (model.summary["p_value"] > 0).all() and np.isfinite(model.summary["se"]).all()
    assert set(model.csat_effect()["band"].astype(str)) == {"1", "2", "3", "5"}


def test_ratings_outside_the_declared_scale_are_refused():
    panel, _ = _five_point_periods(2000, seed=2)
    with pytest.raises(ValueError, match="knot 7"):
        DiscreteTimeHazardModel(controls=()).fit(panel)  # 1-10 default: the knot is above every answer
    with pytest.raises(ValueError, match="outside its declared 1-5 scale"):
        DiscreteTimeHazardModel(scale=FIVE, controls=()).fit(panel.assign(csat=panel["csat"] + 1))
    with pytest.raises(ValueError, match="outside its declared 1-10 scale"):
        kaplan_meier_by_band(_sim_panel().assign(csat=lambda p: p["csat"] + 1))


@pytest.fixture(scope="module")
def sim_panel():
    return _sim_panel()


def _sim_panel() -> pd.DataFrame:
    data = simulate(1500, seed=31)
    return customer_periods(data.customers, data.surveys, data.transactions)


def _on_five_points(panel: pd.DataFrame) -> pd.DataFrame:
    """The simulated 1-10 csat recoded to 1-5 (a test fixture: 1-2 -> 1, ..., 9-10 -> 5)."""
    return panel.assign(csat=np.ceil(panel["csat"] / 2))


def test_episodes_and_kaplan_meier_follow_the_scale(sim_panel):
    panel = _on_five_points(sim_panel)
    eps = survival_episodes(panel, scale=FIVE)
    np.testing.assert_array_equal(eps["csat_below"], np.minimum(eps["csat"] - 4, 0))
    assert list(eps["csat_band"].cat.categories) == ["1", "2", "3", "4", "5"]
    km = kaplan_meier_by_band(panel, scale=FIVE)
    assert list(km.counts["band"].astype(str)) == ["1", "2", "3", "4", "5"]
    assert km.counts["customers"].sum() > 0 and np.isfinite(km.logrank["test_statistic"])
    # the default 1-10 bands put every 1-5 answer in one band: no comparison, and a note says so
    lumped = kaplan_meier_by_band(panel)
    assert np.isnan(lumped.logrank["p_value"]) and any("Only one band" in n for n in lumped.notes)


def test_cox_model_uses_its_own_knot(sim_panel):
    eps = survival_episodes(sim_panel)  # spline columns at knot 7
    at6 = CoxChurnModel(knot=6).fit(eps)
    same = CoxChurnModel(knot=6).fit(survival_episodes(sim_panel, knot=6))
    pd.testing.assert_series_equal(at6.params_, same.params_)
    assert not np.allclose(at6.params_["csat_below"], CoxChurnModel().fit(eps).params_["csat_below"])


def test_cox_model_never_uses_an_empty_reference_band(sim_panel):
    five = _on_five_points(sim_panel)
    eps5 = survival_episodes(five, scale=FIVE)
    no_fours = eps5[eps5["csat"] != 4]
    cox = CoxChurnModel(terms="bands", scale=FIVE).fit(no_fours)
    assert cox.reference_band_ != "4" and np.isfinite(cox.summary["se"]).all()
    assert any(d.code == "empty_reference" and "'4'" in d.message for d in cox.diagnostics_)
    assert "1-5 scale" in cox.summary_text()


def test_driver_terms_take_the_driver_names(sim_panel):
    renamed = sim_panel.rename(columns={"time": "speed", "cost": "price"})
    drivers = ("speed", "quality", "service", "price")
    model = DiscreteTimeHazardModel(terms="drivers", drivers=drivers).fit(renamed)
    default = DiscreteTimeHazardModel(terms="drivers").fit(sim_panel)
    np.testing.assert_array_equal(model.params_.to_numpy(), default.params_.to_numpy())
    assert {"speed", "price"} <= set(model.params_.index) and "time" not in model.params_.index
    assert "speed, quality, service, price" in model.summary_text()
    with pytest.raises(ValueError, match="time"):
        DiscreteTimeHazardModel(terms="drivers").fit(renamed)
    eps = survival_episodes(renamed)
    cox = CoxChurnModel(terms="drivers", drivers=["speed", "price"]).fit(eps)
    assert {"speed", "price"} <= set(cox.params_.index)


def test_add_csat_spline_defaults_follow_the_scale():
    df = pd.DataFrame({"csat": [1.0, 3.0, 4.0, 5.0]})
    out = add_csat_spline(df, scale=FIVE)
    assert out["csat_below"].tolist() == [-3.0, -1.0, 0.0, 0.0] and out["csat_above"].tolist() == [0, 0, 0, 1.0]
    assert list(out["csat_band"].astype(str)) == ["1", "3", "4", "5"]
    assert add_csat_spline(df)["csat_below"].tolist() == [-6.0, -4.0, -3.0, -2.0]  # 1-10: knot 7


def test_driver_models_run_on_a_panel_without_csat(sim_panel):
    panel = sim_panel.drop(columns=["csat", "csat_lag1"])
    with pytest.raises(ValueError, match="csat"):
        DiscreteTimeHazardModel().fit(panel)
    hazard = DiscreteTimeHazardModel(terms="drivers").fit(panel)
    assert {"time", "quality", "service", "cost"} <= set(hazard.params_.index)
    eps = survival_episodes(panel)
    assert "csat_band" not in eps.columns and len(eps) == int(panel["surveyed"].sum())
    cox = CoxChurnModel(terms="drivers").fit(eps)
    assert np.isfinite(cox.summary["coef"]).all()


def test_cox_formula_with_bands_drops_an_empty_band(sim_panel):
    eps = survival_episodes(sim_panel)
    no_low = eps[eps["csat"] > 5]  # band '1-5' is empty: its dummy would be a column of zeros
    cox = CoxChurnModel(formula="C(csat_band) + tenure_years").fit(no_low)
    assert not any("1-5" in term for term in cox.params_.index)
    assert np.isfinite(cox.summary["se"]).all() and cox.n_obs_ == len(no_low)
    assert "custom formula; csat on its 1-10 scale, knot 7" in cox.summary_text()
