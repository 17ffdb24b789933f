"""The satisfaction -> retention -> money report's helpers: settings from the data, evidence of a
link (null results stated as such), Firth labels, imprecise terms, money labels and the what-if plan."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from bsc_toolkit import report_retention as rr
from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.io import CustomerData
from bsc_toolkit.data.simulate import SimulatedData
from bsc_toolkit.headline import Headline, HeadlineFigure, format_figure, format_interval
from bsc_toolkit.models._base import Diagnostic
from bsc_toolkit.models.features import csat_spline
from bsc_toolkit.models.retention import ChurnFlagModel

NULL_CHURN = "no evidence of a link between satisfaction and churn in these data"


def _shown_sentence(hl: Headline) -> str:
    """The sentence the headline box shows (the line under its title)."""
    return repr(hl).splitlines()[1]


def _fake_model(coef: dict[str, float], se: dict[str, float], alpha: float = 0.05, **extra) -> SimpleNamespace:
    names = list(coef)
    params = pd.Series(coef, dtype=float)
    cov = pd.DataFrame(np.diag([se[n] ** 2 for n in names]), index=names, columns=names)
    return SimpleNamespace(params_=params, cov_params_=cov, alpha=alpha, **extra)


def _snapshot_customers(n: int, slope: float, seed: int) -> pd.DataFrame:
    """Snapshot customers on a 1-5 scale with a known log-odds slope per csat point."""
    rng = np.random.default_rng(seed)
    csat = rng.integers(1, 6, n).astype(float)
    tenure = rng.uniform(1, 60, n)
    eta = -1.0 + slope * (csat - 3) - 0.01 * tenure
    churned = rng.random(n) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame({"customer_id": np.arange(n), "csat": csat, "tenure_months": tenure, "churned": churned})


# --------------------------------------------------------------------------- settings
def test_resolve_knot_defaults_to_the_scale_and_checks_the_range() -> None:
    assert rr.resolve_knot(None, RatingScale(1, 10)) == 7.0
    assert rr.resolve_knot(None, RatingScale(1, 5)) == 4.0
    assert rr.resolve_knot(6, RatingScale(1, 10)) == 6.0
    with pytest.raises(ValueError, match="not inside the csat scale 1-5"):
        rr.resolve_knot(7, RatingScale(1, 5))


def test_check_driver_names_the_data_drivers() -> None:
    drivers = ("waiting", "value")
    assert rr.check_driver(None, drivers) is None
    assert rr.check_driver("value", drivers) == "value"
    with pytest.raises(ValueError, match="'waiting', 'value'"):
        rr.check_driver("time", drivers)
    with pytest.raises(ValueError, match="no driver ratings"):
        rr.check_driver("time", ())


def test_churn_controls_follow_the_columns() -> None:
    frame = pd.DataFrame({"segment": ["a", "b", "a"], "tenure_years": [1.0, 2.0, np.nan]})
    assert rr.churn_controls(frame) == ("C(segment)", "tenure_years")
    assert rr.churn_controls(frame.assign(segment="a")) == ("tenure_years",)
    assert rr.churn_controls(frame.drop(columns="segment"), tenure="tenure_months") == ()


def test_integer_ids_keep_the_order_of_text_ids() -> None:
    panel = pd.DataFrame({"customer_id": ["C-2", "C-10", "C-2"], "x": [1, 2, 3]})
    out = rr.integer_ids(panel)
    assert out["customer_id"].tolist() == [1, 0, 1]  # "C-10" < "C-2" as text
    assert out["customer_id"].dtype == np.int64
    ints = pd.DataFrame({"customer_id": [3, 1]})
    assert rr.integer_ids(ints) is ints


def test_panel_of_dated_data_and_none_for_a_snapshot(small_sim: SimulatedData) -> None:
    data = CustomerData(small_sim.customers, small_sim.surveys, small_sim.transactions)
    panel, reason = rr.retention_panel(data, "Q")
    assert reason == "" and panel is not None
    assert {"csat", "time", "quality", "service", "cost"} <= set(panel.columns)
    text = rr.overview_markdown(data, panel)
    assert f"{small_sim.customers['customer_id'].nunique():,} customers" in text and "surveyed" in text

    customers = pd.DataFrame({"customer_id": [1, 2, 3, 4], "churned": [True, False, False, False]})
    surveys = pd.DataFrame({"customer_id": [1, 2], "csat": [2.0, 4.0]})
    snap = SimpleNamespace(
        is_snapshot=True,
        customers=customers,
        surveys=surveys,
        has=lambda table: True,
        scale=lambda rating: RatingScale(1, 5),
    )
    panel, reason = rr.retention_panel(snap, "Q")
    assert panel is None and "snapshot" in reason
    with pytest.raises(ValueError, match="snapshot"):
        rr.require_panel(panel, reason)
    text = rr.overview_markdown(snap, panel, reason)
    assert "4 customers at the snapshot date, 1 of them (25.0%) had churned" in text
    assert "50% answered the csat question (1-5 scale)" in text


# --------------------------------------------------------------------------- evidence of a link
def test_link_evidence_joint_wald_test_by_hand() -> None:
    model = _fake_model(
        {"Intercept": -2.0, "csat_below": -0.4, "csat_above": -0.2},
        {"Intercept": 0.1, "csat_below": 0.1, "csat_above": 0.1},
    )
    ev = rr.link_evidence(model, "churn", unit="per scale point (1-10)")
    assert list(ev.table.index) == ["csat_below", "csat_above"]
    assert ev.statistic == pytest.approx(16 + 4)
    assert ev.p_value == pytest.approx(stats.chi2.sf(20, 2))
    assert ev.df == 2 and ev.evident
    assert ev.table["excludes_zero"].tolist() == [True, True]
    assert ev.table.loc["csat_below", "ci_upper"] == pytest.approx(-0.4 + 1.959964 * 0.1)
    assert "Evidence of a link between satisfaction and churn" in ev.sentence()


def test_link_evidence_states_a_null_result() -> None:
    model = _fake_model({"csat": 0.01}, {"csat": 0.1})
    ev = rr.link_evidence(model, "churn")
    assert not ev.evident
    assert NULL_CHURN in ev.sentence()
    assert "includes 0" in ev.sentence()
    # a joint test not significant although one interval (just) excludes 0 is still no evidence
    model = _fake_model({"csat_below": 0.2, "csat_above": 0.0}, {"csat_below": 0.1, "csat_above": 0.5})
    ev = rr.link_evidence(model, "spend")
    assert ev.table["excludes_zero"].any() and ev.p_value > 0.05 and not ev.evident
    assert "not jointly different from 0" in ev.sentence()


def test_link_evidence_without_a_finite_covariance_is_no_evidence() -> None:
    model = _fake_model({"csat": 0.5}, {"csat": np.nan})
    ev = rr.link_evidence(model, "churn")
    assert np.isnan(ev.p_value) and not ev.evident


def test_link_evidence_agrees_with_statsmodels_and_recovers_the_truth() -> None:
    customers = _snapshot_customers(3000, slope=-0.5, seed=1)
    model = ChurnFlagModel(terms="spline", scale=RatingScale(1, 5), controls=("tenure_months",)).fit(customers)
    ev = rr.link_evidence(model, "churn")
    assert ev.evident
    # reference: the same logit in statsmodels and its Wald test of both spline slopes
    below, above = csat_spline(customers["csat"], 4.0)
    x = sm.add_constant(
        pd.DataFrame({"csat_below": below, "csat_above": above, "tenure_months": customers["tenure_months"]})
    )
    res = sm.Logit(customers["churned"].astype(float), x).fit(disp=0)
    wald = res.wald_test("csat_below = 0, csat_above = 0", scalar=True)
    assert ev.statistic == pytest.approx(float(wald.statistic), rel=1e-5)
    assert ev.p_value == pytest.approx(float(wald.pvalue), rel=1e-4, abs=1e-300)
    # the true slope (-0.5 per point, below and above the knot) lies in both intervals
    assert ((ev.table["ci_lower"] < -0.5) & (ev.table["ci_upper"] > -0.5)).all()


def test_no_link_in_data_without_one() -> None:
    customers = _snapshot_customers(3000, slope=0.0, seed=3)
    model = ChurnFlagModel(terms="linear", scale=RatingScale(1, 5), controls=("tenure_months",)).fit(customers)
    ev = rr.link_evidence(model, "churn")
    assert not ev.evident
    assert NULL_CHURN in ev.sentence()


# --------------------------------------------------------------------------- labels and flags
def test_estimate_label_names_firth_because_of_separation() -> None:
    separated = SimpleNamespace(penalty_="firth", diagnostics_=[Diagnostic("separation", "...", "warning")])
    asked = SimpleNamespace(penalty_="firth", diagnostics_=[Diagnostic("penalty", "...", "info")])
    plain = SimpleNamespace(penalty_=None, diagnostics_=[])
    assert rr.estimate_label(separated) == rr.FIRTH_LABEL
    assert rr.estimate_label(asked) == "Firth-penalised (bias-reduced) estimates"
    assert rr.estimate_label(plain) == "" and rr.estimate_label(object()) == ""
    text = rr.estimate_labels_markdown({"cloglog model": separated, "other": plain})
    assert rr.FIRTH_LABEL in text and "other" not in text


def test_a_separated_fit_is_labelled_firth() -> None:
    rng = np.random.default_rng(5)
    n = 400
    csat = rng.integers(1, 6, n).astype(float)
    churned = (csat <= 2) | (rng.random(n) < 0.1)  # everyone at 1-2 churned: quasi-complete separation
    customers = pd.DataFrame({"customer_id": np.arange(n), "csat": csat, "churned": churned})
    model = ChurnFlagModel(terms="bands", scale=RatingScale(1, 5), controls=()).fit(customers)
    assert model.penalty_ == "firth"
    assert rr.estimate_label(model) == rr.FIRTH_LABEL


def test_large_standard_errors_are_flagged_in_words() -> None:
    table = pd.DataFrame(
        {"coef": [1e-4, 0.5, 0.2], "se": [0.05, 0.1, np.nan]}, index=["csat_above", "csat_below", "segment"]
    )
    text = rr.large_se_markdown({"PPML": table})
    assert "csat\\_above" in text and "segment" in text and "SE not computable" in text
    assert "csat\\_below" not in text
    assert rr.large_se_markdown({"PPML": table.iloc[[1]]}) == ""
    assert list(rr.imprecise_terms(table)) == ["csat_above", "segment"]  # SE over 100 x coef, or not computable
    assert list(rr.imprecise_terms(table, ratio=0.1)) == ["csat_above", "csat_below", "segment"]


def test_logrank_markdown_states_no_difference_and_missing_tests() -> None:
    km = SimpleNamespace(logrank=pd.Series({"test_statistic": 4.9, "df": 4, "p_value": 0.3}), alpha=0.05, notes=("n",))
    text = rr.logrank_markdown(km)
    assert "p = 0.3" in text and "No evidence that retention differs" in text and "- n" in text
    km = SimpleNamespace(logrank=pd.Series({"test_statistic": np.nan, "df": 0, "p_value": np.nan}), alpha=0.05)
    assert "No log-rank test" in rr.logrank_markdown(km)
    assert "nan" not in rr.logrank_markdown(km)


def test_time_axis_label() -> None:
    assert rr.time_axis_label(SimpleNamespace(time_unit="tenure_months")) == "tenure (months)"
    assert (
        rr.time_axis_label(SimpleNamespace(time_unit="years since the first survey")) == "years since the first survey"
    )


# --------------------------------------------------------------------------- money and the what-if
def _evidence(evident: bool, outcome: str) -> rr.LinkEvidence:
    coef = 0.5 if evident else 0.01
    return rr.link_evidence(_fake_model({"csat": coef}, {"csat": 0.1}), outcome)


def test_what_if_plan_shows_only_figures_the_links_support() -> None:
    yes_churn, no_churn = _evidence(True, "churn"), _evidence(False, "churn")
    yes_spend, no_spend = _evidence(True, "spend"), _evidence(False, "spend")
    assert rr.what_if_plan(yes_churn, yes_spend, True) == {
        "retained_customers": None,
        "revenue_usd": None,
        "margin_usd": None,
    }
    plan = rr.what_if_plan(yes_churn, no_spend, True)
    assert plan["retained_customers"] is None
    assert "satisfaction and spend" in plan["revenue_usd"] and "satisfaction and spend" in plan["margin_usd"]
    plan = rr.what_if_plan(no_churn, yes_spend, True)
    assert all("satisfaction and churn" in plan[m] for m in plan)
    plan = rr.what_if_plan(yes_churn, yes_spend, False)
    assert plan["revenue_usd"] is None and plan["margin_usd"].startswith("no cost data")
    assert "could not be estimated" in rr.what_if_plan(yes_churn, None, True)["revenue_usd"]


def _what_if_result() -> SimpleNamespace:
    summary = pd.DataFrame(
        {
            "baseline": [100.0, 5000.0, 1000.0],
            "scenario": [110.0, 5600.0, 1100.0],
            "change": [10.0, 600.0, 100.0],
            "ci_lower": [5.0, 200.0, 40.0],
            "ci_upper": [15.0, 900.0, 160.0],
            "change_per_customer": [0.1, 6.0, 1.0],
            "change_per_customer_ci_lower": [0.05, 2.0, 0.4],
            "change_per_customer_ci_upper": [0.15, 9.0, 1.6],
        },
        index=pd.Index(["retained_customers", "revenue_usd", "margin_usd"], name="metric"),
    )
    settings = {
        "alpha": 0.05,
        "driver": None,
        "delta": 1.0,
        "segment": None,
        "n_customers": 100,
        "horizon_periods": 4,
        "freq": "Q-DEC",
        "n_sims": 50,
        "seed": 0,
        "csat_shift_mean": 1.0,
    }
    return SimpleNamespace(summary=summary, settings=settings)


def test_what_if_table_and_text_hide_unsupported_money_and_label_the_currency() -> None:
    result = _what_if_result()
    plan = rr.what_if_plan(_evidence(True, "churn"), _evidence(True, "spend"), False)
    table = rr.what_if_table(result, "EUR", plan)
    assert list(table.index) == ["retained customers at the horizon's end", "revenue (EUR)"]
    assert table.loc["revenue (EUR)", "change"] == 600.0
    text = rr.what_if_markdown(result, "EUR", plan, RatingScale(1, 5))
    assert "revenue \\(EUR\\)" in text and "**+600.0**" in text and "1-5 scale" in text
    assert "margin \\(EUR\\): *not shown*: no cost data" in text
    assert "USD" not in text

    plan = rr.what_if_plan(_evidence(True, "churn"), _evidence(False, "spend"), True)
    text = rr.what_if_markdown(result, "EUR", plan, RatingScale(1, 5))
    assert "+600" not in text and "no evidence of a link between satisfaction and spend in these data" in text
    assert list(rr.what_if_table(result, "EUR", plan).index) == ["retained customers at the horizon's end"]


def test_spend_markdown_reports_percent_effects_or_the_null() -> None:
    summary = pd.DataFrame(
        {"pct_effect": [11.2, 1.2], "pct_ci_lower": [4.5, -2.5], "pct_ci_upper": [18.2, 5.0]},
        index=["csat_below", "csat_above"],
    )
    strong = _fake_model({"csat_below": 0.106, "csat_above": 0.012}, {"csat_below": 0.031, "csat_above": 0.019})
    strong.summary = summary
    text = rr.spend_markdown(strong, rr.link_evidence(strong, "spend"), RatingScale(1, 10))
    assert "below the knot **11.2%** (95% CI 4.5% to 18.2%)" in text and "Evidence of a link" in text
    weak = _fake_model({"csat_below": 0.01, "csat_above": 0.0}, {"csat_below": 0.05, "csat_above": 0.05})
    weak.summary = summary
    text = rr.spend_markdown(weak, rr.link_evidence(weak, "spend"), RatingScale(1, 10))
    assert "no evidence of a link between satisfaction and spend in these data" in text
    assert "no money figure" in text


# --------------------------------------------------------------------------- the headline
def test_ratio_estimates_are_one_tidy_table_with_every_term() -> None:
    from bsc_toolkit.tables import estimates_frame

    a = pd.DataFrame(
        {"coef": [0.1, -0.2], "se": [0.01, 0.02], "exp_coef": [1.1, 0.8], "extra": [1, 2]},
        index=pd.Index(["x", "csat"], name="term"),
    )
    b = pd.DataFrame({"coef": [0.3], "se": [0.03], "exp_coef": [1.35]}, index=["csat"])
    out = estimates_frame({"m1": a, "m2": b}, label="term", extra=rr.RATIO_COLUMNS)
    assert list(out.columns) == [
        "model", "term", "estimate", "se", "estimate_ci_lower", "estimate_ci_upper", *rr.RATIO_COLUMNS
    ]  # fmt: skip
    assert out["model"].tolist() == ["m1", "m1", "m2"] and out["term"].tolist() == ["x", "csat", "csat"]
    assert out["estimate"].tolist() == [0.1, -0.2, 0.3] and out["exp_coef"].tolist() == [1.1, 0.8, 1.35]
    assert list(out.index) == [0, 1, 2]  # positional: no index column in the formatted table


def test_the_sentence_writes_the_numbers_as_the_cards_do() -> None:
    value = HeadlineFigure(
        "revenue from +1 CSAT point over 4 quarters",
        217_760.3,
        "money",
        ci=(91_234.0, 351_234.0),
        unit="USD",
        key=rr.VALUE_KEY,
    )
    ratio = HeadlineFigure(
        "churn hazard ratio per +1 CSAT point (CSAT below 7)", 0.6812, "ratio", ci=(0.61, 0.75), key="churn_ratio_below"
    )
    hl = Headline("T", sentence_fn=rr.retention_sentence).add(ratio, value)
    card = hl._repr_html_()
    sentence = _shown_sentence(hl)
    # two significant digits of the SE (about 66,000): 218,000 [91,000, 351,000], in the card and the sentence
    assert "218,000 USD" in card and "[91,000, 351,000]" in card
    assert "at 218,000 USD [91,000, 351,000]." in sentence
    assert f"{format_figure(ratio)} {format_interval(ratio)} below 7" in sentence
    assert f"{format_figure(ratio)}" in card and format_interval(ratio) in card
    assert sentence.endswith("This is an association, not proof of cause.")


def test_an_interval_that_could_not_be_computed_is_no_link() -> None:
    # the churn model's summary has no finite interval: the card says "no evidence", so must the sentence
    model = _fake_model({"csat": -0.4}, {"csat": np.nan})
    model.summary = pd.DataFrame(
        {
            "coef": [-0.4],
            "se": [np.nan],
            "exp_coef": [0.67],
            "exp_coef_ci_lower": [np.nan],
            "exp_coef_ci_upper": [np.nan],
        },
        index=["csat"],
    )
    (fig,) = rr.churn_effect_figures(model, rr.link_evidence(model, "churn"), knot=7, snapshot=False)
    assert fig.value == pytest.approx(0.67) and fig.ci is None
    assert fig.note.startswith("no evidence of a link between satisfaction and churn here: no 95% interval")
    assert "too imprecise to say anything" in fig.note and "nan" not in fig.note  # an SE that could not be computed
    assert not rr.shows_link(fig, 1.0)
    assert (
        rr.retention_sentence([fig]) == "There is no evidence of a link between satisfaction and churn in these data."
    )
    # the rule: a value, an interval, and the interval excludes the null
    shown = HeadlineFigure("r", 0.7, "ratio", ci=(0.6, 0.8))
    assert rr.shows_link(shown, 1.0) and not rr.shows_link(shown, 0.7)
    assert not rr.shows_link(HeadlineFigure("r", 0.7, "ratio", ci=(0.6, 1.0)), 1.0)  # a bound at the null
    assert not rr.shows_link(HeadlineFigure("r", None, "ratio", ci=(0.6, 0.8)), 1.0)


def test_churn_effect_figures_are_the_models_ratios_with_the_caveats() -> None:
    customers = _snapshot_customers(4000, slope=-0.5, seed=3)
    surveys = customers[["customer_id", "csat"]]
    model = ChurnFlagModel(knot=3, controls=("tenure_months",), scale=RatingScale(1, 5)).fit(customers, surveys)
    evidence = rr.link_evidence(model, "churn")
    figures = rr.churn_effect_figures(model, evidence, knot=3, snapshot=True)
    assert [f.key for f in figures] == ["churn_ratio_below", "churn_ratio_above"]
    below = figures[0]
    s = model.summary
    assert below.value == pytest.approx(s.loc["csat_below", "exp_coef"])
    assert below.ci == pytest.approx(
        (s.loc["csat_below", "exp_coef_ci_lower"], s.loc["csat_below", "exp_coef_ci_upper"])
    )
    assert below.value == pytest.approx(np.exp(s.loc["csat_below", "coef"]))
    assert below.value < 1 and below.ci[1] < 1  # a true slope of -0.5 log odds per point, recovered
    assert below.label == "churn odds ratio per +1 CSAT point (CSAT below 3)" and below.kind == "ratio"
    assert "association, not proof of cause" in below.note and "may run from churn to satisfaction" in below.note
    sentence = rr.retention_sentence(figures)
    assert sentence.startswith("One CSAT point more goes with a churn odds ratio of ")
    assert f"{format_figure(below)} {format_interval(below)} below 3" in sentence  # as the card shows it
    assert "association, not proof of cause" in sentence


def test_churn_effect_figures_state_no_evidence_separation_and_imprecision() -> None:
    null = _fake_model({"csat": 0.01}, {"csat": 0.1})
    null.summary = pd.DataFrame(
        {"coef": [0.01], "se": [0.1], "exp_coef": [1.01], "exp_coef_ci_lower": [0.83], "exp_coef_ci_upper": [1.23]},
        index=["csat"],
    )
    null.diagnostics_ = [
        Diagnostic("separation", "quasi-complete separation", "warning"),
        Diagnostic("dropped_rows", "rows left out", "info"),
    ]
    (fig,) = rr.churn_effect_figures(null, rr.link_evidence(null, "churn"), knot=7, snapshot=False)
    assert fig.key == "churn_ratio" and fig.label == "churn hazard ratio per +1 CSAT point"
    assert fig.note.startswith("no evidence of a link between satisfaction and churn here: the 95% interval includes 1")
    assert "Firth-penalised" in fig.note and "rows left out" not in fig.note  # warnings only, in short words
    assert (
        rr.retention_sentence([fig]) == "There is no evidence of a link between satisfaction and churn in these data."
    )

    vague = _fake_model({"csat": 0.001}, {"csat": 1.0})
    vague.summary = null.summary.assign(coef=0.001, se=1.0)
    vague.diagnostics_ = [Diagnostic("not_converged", "the fit did not converge")]  # what `converged` reads
    (fig,) = rr.churn_effect_figures(vague, rr.link_evidence(vague, "churn"), knot=7, snapshot=False)
    assert "too imprecise to say anything" in fig.note and "did not converge" in fig.note


def test_what_if_figure_is_the_revenue_change_or_says_why_not() -> None:
    result = _what_if_result()
    result = SimpleNamespace(summary=result.summary, settings=result.settings, diagnostics=[])
    plan = rr.what_if_plan(_evidence(True, "churn"), _evidence(True, "spend"), True)
    fig = rr.what_if_figure(result, plan, "EUR", label="revenue from +1 CSAT point over 4 quarters")
    assert fig.value == 600.0 and fig.ci == (200.0, 900.0) and fig.unit == "EUR" and fig.key == rr.VALUE_KEY
    assert fig.note.startswith("association, not proof of cause; 100 active customers, +6 EUR each")
    assert "margin +100 EUR [+40, +160]" in fig.note
    no_spend = rr.what_if_plan(_evidence(True, "churn"), _evidence(False, "spend"), True)
    fig = rr.what_if_figure(result, no_spend, "EUR", label="x")
    assert fig.value is None and "no evidence of a link between satisfaction and spend" in fig.note
    fig = rr.what_if_figure(None, {}, "EUR", label="x", reason="the section failed")
    assert fig.value is None and fig.note == "not shown: the section failed"


@pytest.mark.slow
def test_headline_starts_with_csat_and_churn_then_takes_the_model_figures(small_sim: SimulatedData) -> None:
    from bsc_toolkit.capabilities import data_features
    from bsc_toolkit.headline import kpi_figures
    from bsc_toolkit.report_kpis import kpi_headline_subtitle

    data = CustomerData(small_sim.customers, small_sim.surveys, small_sim.transactions)
    hl = rr.start_headline(data, "T <b>", freq="Q", features=data_features(data))
    assert [f.key for f in hl.figures] == ["csat_mean", "churn_rate", rr.CHURN_EFFECT_KEY, rr.VALUE_KEY]
    kh = kpi_figures(data, freq="Q")
    kpi = {f.key: f for f in kh.figures}
    assert hl.figures[0] == kpi["csat_mean"] and hl.figures[1] == kpi["churn_rate"]
    assert hl.subtitle == kpi_headline_subtitle(kh.period, kh.previous_period)  # the KPI report's words
    assert hl.sentence is None and hl.sentence_fn is rr.retention_sentence  # made from the figures when shown
    assert hl.figures[2].value is None and "not computed" in hl.figures[2].note
    assert hl.figures[3].label == "revenue from +1 CSAT point over 4 quarters" and hl.figures[3].unit == "USD"

    ratios = [
        HeadlineFigure(
            "churn hazard ratio per +1 CSAT point (CSAT below 7)", 0.7, "ratio", ci=(0.6, 0.8), key="churn_ratio_below"
        ),
        HeadlineFigure(
            "churn hazard ratio per +1 CSAT point (CSAT above 7)", 0.9, "ratio", ci=(0.8, 1.1), key="churn_ratio_above"
        ),
    ]
    hl.set(*ratios, replace=[rr.CHURN_EFFECT_KEY])
    keys = [f.key for f in hl.figures]
    assert keys == ["csat_mean", "churn_rate", "churn_ratio_below", "churn_ratio_above", rr.VALUE_KEY]
    sentence = _shown_sentence(hl)
    assert "0.700 [0.600, 0.800] below 7" in sentence and "above 7" not in sentence  # the interval includes 1
    hl.set(HeadlineFigure("churn hazard ratio per +1 CSAT point (CSAT below 7)", 0.5, key="churn_ratio_below"))
    assert [f.key for f in hl.figures] == keys and hl.figures[2].value == 0.5  # replaced in place
    rr.set_what_if(hl, None, {}, "USD", reason="the section failed")
    assert [f.key for f in hl.figures] == keys
    assert hl.figures[4].label == "revenue from +1 CSAT point over 4 quarters"  # the placeholder's label, kept
    assert hl.figures[4].value is None and hl.figures[4].note == "not shown: the section failed"


def test_headline_without_surveys_says_so(small_sim: SimulatedData) -> None:
    from bsc_toolkit.capabilities import data_features

    data = CustomerData(small_sim.customers, small_sim.surveys.iloc[:0], small_sim.transactions)
    hl = rr.start_headline(data, "T", freq="Q", features=data_features(data))
    by_key = {f.key: f for f in hl.figures}
    assert by_key["csat_mean"].value is None and by_key["csat_mean"].note
    assert by_key[rr.CHURN_EFFECT_KEY].value is None and by_key[rr.CHURN_EFFECT_KEY].note == rr.NO_CSAT
    assert by_key[rr.VALUE_KEY].value is None and by_key[rr.VALUE_KEY].note == rr.NO_CSAT
    assert _shown_sentence(hl).startswith("This data set has no satisfaction surveys")


def test_kpi_figures_that_cannot_be_computed_say_why() -> None:
    hl = rr.add_kpi_figures(Headline("T"), SimpleNamespace(), "Q", ("csat_mean", "churn_rate"))
    assert [f.key for f in hl.figures] == ["csat_mean", "churn_rate"]
    assert all(f.value is None and f.note.startswith("the KPI figures could not be computed: ") for f in hl.figures)


def test_interactive_what_if_computes_what_the_static_one_shows(small_sim: SimulatedData) -> None:
    from bsc_toolkit.models.financial import FinancialPanelModel
    from bsc_toolkit.models.retention import DiscreteTimeHazardModel
    from bsc_toolkit.models.whatif import what_if

    data = CustomerData(small_sim.customers, small_sim.surveys, small_sim.transactions)
    panel, _ = rr.retention_panel(data, "Q")
    panel = rr.integer_ids(panel)
    churn = DiscreteTimeHazardModel(link="cloglog", knot=7, nonlinearity_test=False).fit(panel)
    ppml = FinancialPanelModel("revenue_usd", "ppml", knot=7).fit(panel)
    plan = rr.what_if_plan(rr.link_evidence(churn, "churn"), rr.link_evidence(ppml, "spend"), True)
    fixed = dict(n_sims=20, seed=1, knot=7, churn_model=churn, spend_model=ppml, scale=(1, 10), drivers=data.drivers)
    static = what_if(panel, delta=1.5, segment="smb", horizon_periods=2, **fixed)
    words, shown = rr.what_if_compute(panel, data, plan, fixed)(delta=1.5, segment="smb", horizon=2)
    expected = rr.what_if_table(static, data.currency, plan)
    pd.testing.assert_frame_equal(shown.data, expected.reset_index())  # the table's raw data: the index as a column
    assert words.data == rr.what_if_markdown(static, data.currency, plan, data.scale("csat"))
    assert "segment smb" in words.data
    # the report's section: the same what-if and outputs, its table written out under its key
    ran = rr.run_what_if(panel, data, fixed, delta=1.5, segment="smb", horizon=2)
    pd.testing.assert_frame_equal(ran.summary, static.summary)
    words2, table2 = rr.what_if_outputs(ran, data, plan, key="what_if")
    assert words2.data == words.data and table2.key == "what_if" and shown.key is None
    pd.testing.assert_frame_equal(table2.data, shown.data)
    assert rr.what_if_widget(panel, data, plan, fixed) is None  # not in a kernel: nothing is shown
