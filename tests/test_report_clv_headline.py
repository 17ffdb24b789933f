"""The customer-value report's headline figures and key tables (bsc_toolkit.report_clv_headline)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import report_clv as rc
from bsc_toolkit import report_clv_headline as rch
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.headline import Headline, HeadlineFigure, format_figure, format_interval
from bsc_toolkit.models.clv import ShiftedBetaGeoFitter, sbg_what_if

SUBSCRIBERS = SimpleNamespace(contractual=True, period_name="quarter", covariate_reason="")
BUYERS = SimpleNamespace(contractual=False, period_name="week", covariate_reason="No csat answers: no covariate.")


def _fitter(**status: object) -> SimpleNamespace:
    base = {"model": "sBG", "converged": True, "boundary": None, "message": "", "usable": True}
    return SimpleNamespace(fit_status_=SimpleNamespace(**{**base, **status}), diagnostics_=[])


def _by_key(figures: list[HeadlineFigure]) -> dict[str, HeadlineFigure]:
    return {f.key: f for f in figures}


# -- fit status as the note of the figures -----------------------------------------------------------
def test_fit_note_says_limit_model_boundary_non_convergence_and_lack_of_fit() -> None:
    assert rch.fit_note(_fitter()) is None
    limit = rch.fit_note(_fitter(model="geometric (no heterogeneity)", boundary="no-heterogeneity boundary"))
    assert limit == "limit model: geometric (no heterogeneity), at the no-heterogeneity boundary."
    assert "did not converge" in rch.fit_note(_fitter(model="BG/NBD", converged=False, usable=False))
    runaway = rch.fit_note(_fitter(model="BG/NBD", boundary="no-dropout boundary", usable=False))
    assert "without a limiting model" in runaway and "withheld" in runaway
    misfit = _fitter()
    misfit.diagnostics_ = [SimpleNamespace(code="lack_of_fit", message="...")]
    assert "lack of fit" in rch.fit_note(misfit)
    assert rch.fit_note(None) is None


# -- the subscribers' figures ------------------------------------------------------------------------
def test_subscriber_figures_are_the_total_residual_value_and_the_mean_retention_at_the_next_renewal() -> None:
    alpha, beta = 0.7, 1.2
    sbg = ShiftedBetaGeoFitter.from_params(alpha, beta)
    tenure = pd.Series([1, 3, 3, 8], index=pd.Index([10, 11, 12, 13], name="customer_id"))
    table = pd.DataFrame({"tenure": tenure, "revenue_per_period": [100.0, 50.0, np.nan, 20.0]})
    derl = sbg.derl(0.03, tenure)
    value = rc.subscriber_value(table, derl, "transactions")
    figs = _by_key(rch.subscriber_figures(value, sbg, SUBSCRIBERS, "EUR"))
    money = figs[rch.KEYS["value"]]
    # the total over the customers with a revenue, by hand: revenue x DERL
    expected = sum(r * d for r, d in zip([100.0, 50.0, 20.0], derl.to_numpy()[[0, 1, 3]]))
    assert money.value == pytest.approx(expected) and money.unit == "EUR" and money.kind == "money"
    assert "1 of 4 active subscribers have no revenue data" in money.note  # left out, not 0
    # r(n + 1) = (beta + n) / (alpha + beta + n) for tenure n (FH 2007, eq. 4)
    truth = np.mean([(beta + n) / (alpha + beta + n) for n in tenure])
    retention = figs[rch.KEYS["retention"]]
    assert retention.value == pytest.approx(truth) and retention.kind == "percent"
    assert retention.note is None  # an interior fit: nothing to say


def test_subscriber_figures_without_money_or_values_say_no_data_and_why() -> None:
    sbg = ShiftedBetaGeoFitter.from_params(0.7, 1.2)
    table = pd.DataFrame({"tenure": [1, 2], "balance": [1000.0, 5.0]}, index=[1, 2])
    balance = rc.subscriber_value(table, sbg.derl(0.03, table["tenure"]), "balance")
    figs = _by_key(rch.subscriber_figures(balance, sbg, SUBSCRIBERS, "EUR"))
    assert figs[rch.KEYS["value"]].value is None and "balance_margin" in figs[rch.KEYS["value"]].note
    assert figs[rch.KEYS["retention"]].value is not None  # retention needs no money
    limit = _fitter(model="geometric (no heterogeneity)", boundary="no-heterogeneity boundary")
    withheld = rch.subscriber_figures(None, limit, SUBSCRIBERS, "EUR", withheld="values withheld: infinite DERL")
    assert all(f.value is None for f in withheld)
    assert all("infinite DERL" in f.note and "limit model" in f.note for f in withheld)


def test_buyer_figures_are_the_totals_of_the_clv_table() -> None:
    value = pd.DataFrame({"clv_usd": [10.0, 25.5, np.nan], "expected_purchases": [1.0, 2.5, 0.5]})
    figs = _by_key(rch.buyer_figures(value, [_fitter(model="BG/NBD")], "GBP", 12))
    assert figs[rch.KEYS["value"]].value == pytest.approx(35.5)
    assert figs[rch.KEYS["value"]].label == "12-month CLV of all customers"
    assert figs[rch.KEYS["purchases"]].value == pytest.approx(4.0)
    assert "purchase weeks" in figs[rch.KEYS["purchases"]].note
    nbd = _fitter(model="NBD (no drop-out)", boundary="no-dropout boundary")
    gone = rch.buyer_figures(None, [nbd], "GBP", 12, withheld="CLV withheld: implausible")
    assert [f.value for f in gone] == [None, None] and all("NBD (no drop-out)" in f.note for f in gone)


# -- the value of +1 csat point -----------------------------------------------------------------------
def _what_if(change: float, lo: float, hi: float, money: str | None = "clv_total") -> pd.DataFrame:
    rows = {"retention_rate_next_period": [0.90, 0.92, 0.02, 0.01, 0.03]}
    if money:
        rows[money] = [1000.0, 1000.0 + change, change, lo, hi]
    cols = ["baseline", "scenario", "change", "change_ci_lower", "change_ci_upper"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)


def test_what_if_figure_is_the_money_change_with_its_interval() -> None:
    fig = rch.what_if_figure(_what_if(2.0e6, 1.1e6, 2.9e6), "USD", 1.0)
    assert (fig.value, fig.ci, fig.unit, fig.key) == (2.0e6, (1.1e6, 2.9e6), "USD", rch.KEYS["csat_point"])
    assert fig.label == "value of +1 csat point" and "not proof of cause" in fig.note
    assert "no evidence" not in fig.note
    # the sentence writes the amounts as the figure's card does
    assert (format_figure(fig), format_interval(fig)) == ("2,000,000 USD", "[1,100,000, 2,900,000]")
    assert rch.what_if_sentence(fig, "residual value") == (
        "+1 csat point goes with 2,000,000 USD [1,100,000, 2,900,000] of residual value; this is an association, "
        "not proof of cause."
    )
    buyers = rch.what_if_figure(_what_if(230.0, 187.0, 273.0, money="clv"), "GBP", 2.0)
    assert buyers.value == 230.0 and buyers.label == "value of +2 csat points" and "CLV horizon" in buyers.note


def test_what_if_figure_says_no_evidence_or_no_data() -> None:
    null = rch.what_if_figure(_what_if(50.0, -20.0, 120.0), "USD", 1.0)
    assert null.value == 50.0 and "no evidence of an effect" in null.note
    assert rch.what_if_sentence(null, "CLV", 2.0) == (
        f"No evidence that +2 csat points changes CLV: the 95% interval {format_interval(null)} USD includes 0."
    )
    assert format_interval(null) == "[-20, 120]"
    no_money = rch.what_if_figure(_what_if(0, 0, 0, money=None), "EUR", 1.0)
    assert no_money.value is None and "no revenue" in no_money.note
    assert "retention at the next renewal +2.0 pp [+1.0, +3.0]" in no_money.note  # what the what-if does say
    assert rch.what_if_sentence(no_money, "CLV") is None
    missing = rch.what_if_figure(None, "EUR", 1.0, withheld="what-if withheld")
    assert missing.value is None and missing.note == "what-if withheld."


def test_the_static_what_if_figure_equals_the_package_function(tmp_path: Path) -> None:
    """The headline's +1 csat value is sbg_what_if's clv_total change, interval included."""
    rng = np.random.default_rng(3)
    n = 400
    subs = pd.DataFrame(
        {
            "tenure": rng.integers(1, 8, n),
            "active": rng.random(n) < 0.7,
            "csat": rng.integers(1, 11, n).astype(float),
            "segment": rng.choice(["a", "b"], n),
        },
        index=pd.Index(range(n), name="customer_id"),
    )
    revenue = pd.Series(rng.gamma(2.0, 50.0, n), index=subs.index)
    fitter = ShiftedBetaGeoFitter.from_params(0.8, 2.0, gamma={"csat": -0.2}, covariate_means={"csat": 5.5})
    kw = {"revenue_per_period": revenue, "discount_rate": 0.03, "churned_col": "left", "horizon": 4, "scale": (1, 10)}
    table = sbg_what_if(fitter, subs.assign(left=~subs["active"]), "csat", 1.0, n_draws=50, seed=0, **kw)
    fig = rch.what_if_figure(table, "USD", 1.0, fitter=fitter)
    assert fig.value == pytest.approx(table.loc["clv_total", "change"]) and fig.value > 0
    # the interactive what-if calls the same function: the same numbers, and a segment restricts the customers
    compute = rch.sbg_what_if_compute(
        fitter,
        subs,
        revenue=revenue,
        discount_rate=0.03,
        scale=(1, 10),
        currency="USD",
        period_name="quarter",
        months_per_period=3,
        segments=subs["segment"],
        n_draws=50,
    )
    # the static section shows compute.result(...): the raw what-if is sbg_what_if's, with the report's draws
    static = compute.result(1.0, horizon=12, n_draws=50, key="what_if")
    pd.testing.assert_frame_equal(static.raw, table)
    assert static.table.key == "what_if" and "churn_probability_next_period" not in static.shown.index
    assert "expected_periods_within_horizon" in static.shown.index  # 12 months: 4 quarters
    assert static.markdown == rc.what_if_markdown(
        static.shown,
        "csat",
        1.0,
        "USD",
        horizon="the remaining lifetime",
        periods="quarters",
        labels={"expected_periods_within_horizon": "expected quarters as a customer in the next 4"},
    )
    # the interactive form calls the same path (its own, fewer draws by default)
    words, shown = compute(delta=1.0, horizon=12)
    assert "csat point" in words and "not a causal effect" in words
    raw = shown.data.set_index("measure_id")
    assert raw.loc["clv_total", "change"] == pytest.approx(table.loc["clv_total", "change"])
    assert list(raw.index) == list(static.shown.index)
    # over one contract period an active customer is certainly active: that row is not shown, in either
    one = compute.result(1.0, horizon=3, n_draws=50)
    assert (
        "expected_periods_within_horizon" in one.raw.index and "expected_periods_within_horizon" not in one.shown.index
    )
    # a net negative revenue (refunds above purchases) is left out of the money row, as no revenue is
    refunds = revenue.copy()
    refunds.iloc[0] = -10.0
    kw_neg = {**kw, "revenue_per_period": refunds.where(refunds >= 0)}
    expected = sbg_what_if(fitter, subs.assign(left=~subs["active"]), "csat", 1.0, n_draws=50, seed=0, **kw_neg)
    negative = rch.sbg_what_if_compute(
        fitter,
        subs,
        revenue=refunds,
        discount_rate=0.03,
        scale=(1, 10),
        currency="USD",
        period_name="quarter",
        months_per_period=3,
    ).result(1.0, horizon=12, n_draws=50)
    pd.testing.assert_frame_equal(negative.raw, expected)
    _, only_a = compute(delta=1.0, segment="a", horizon=12)
    in_a = subs[(subs["segment"] == "a") & subs["active"]]
    base_a = sbg_what_if(fitter, in_a.assign(left=False), "csat", 1.0, n_draws=50, seed=0, **kw)
    got = only_a.data.set_index("measure_id")
    assert got.loc["clv_total", "baseline"] == pytest.approx(base_a.loc["clv_total", "baseline"])
    assert got.loc["clv_total", "baseline"] < raw.loc["clv_total", "baseline"]


# -- the headline box ----------------------------------------------------------------------------------
def test_pending_figures_are_no_data_and_are_replaced_by_key() -> None:
    pending = rch.pending_figures(SUBSCRIBERS, "EUR", delta=1.0)
    assert [f.key for f in pending] == [rch.KEYS["value"], rch.KEYS["retention"], rch.KEYS["csat_point"]]
    assert all(f.value is None and f.note for f in pending)
    buyers = rch.pending_figures(BUYERS, "GBP", horizon_months=12, csat=False)
    assert buyers[1].key == rch.KEYS["purchases"] and buyers[2].note == "No csat answers: no covariate."
    hl = Headline("t").add(*pending)
    hl.set(*rch.subscriber_figures(None, _fitter(), SUBSCRIBERS, "EUR", withheld="values withheld"))
    hl.set(HeadlineFigure("extra", 1.0, key="x"))
    assert [f.key for f in hl.figures] == [*(f.key for f in pending), "x"]
    assert hl.figures[0].note.startswith("values withheld") and hl.figures[2] is pending[2]


def test_model_subtitle_names_the_model_used() -> None:
    assert rch.model_subtitle(SUBSCRIBERS) == "Subscribers (contractual): sBG model of contract renewals, quarters"
    geo = _fitter(model="geometric (no heterogeneity)", boundary="no-heterogeneity boundary")
    assert "(fitted as the limiting geometric (no heterogeneity) model)" in rch.model_subtitle(SUBSCRIBERS, geo)
    text = rch.model_subtitle(BUYERS, _fitter(model="BG/NBD"), _fitter(model="Gamma-Gamma"))
    assert text.startswith("Buyers (non-contractual): BG/NBD") and "limiting" not in text


@pytest.mark.slow
def test_kpi_context_on_simulated_data(small_data_dir: Path) -> None:
    data = load_dataset(small_data_dir)
    figures, notes = rch.headline_kpis(data, contractual=True)
    assert [f.key for f in figures] == ["csat_mean", "churn_rate"]
    assert all(f.previous_label for f in figures if f.value is not None)  # each card names the period compared
    assert not any(n.startswith("KPI figures for") for n in notes)  # not a caveat
    buyers = rch.kpi_context(figures + [HeadlineFigure("revenue per customer", 3.0, key="revenue_per_customer")], False)
    assert [f.key for f in buyers] == ["csat_mean", "revenue_per_customer"]
    no_csat = [HeadlineFigure("CSAT mean", None, key="csat_mean")]
    assert rch.kpi_context(no_csat, True) == []  # context without a value is left out


# -- key tables ----------------------------------------------------------------------------------------
def test_estimates_frame_keeps_estimates_and_intervals() -> None:
    summary = pd.DataFrame(
        {"coef": [0.7, -0.28], "se": [0.06, 0.065], "ci_lower": [0.6, -0.41], "ci_upper": [0.8, -0.15]},
        index=pd.Index(["alpha", "churn:csat"], name="param"),
    ).assign(p_value=[np.nan, 1.7e-5])
    out = rch.estimates_table({"sBG": summary}).data
    assert list(out.columns) == [
        "model",
        "parameter",
        "estimate",
        "se",
        "estimate_ci_lower",
        "estimate_ci_upper",
        "p_value",
        "p_value_shown",
    ]
    assert out["estimate"].tolist() == [0.7, -0.28] and out["estimate_ci_upper"].tolist() == [0.8, -0.15]
    single = rch.estimates_table(summary.drop(columns="p_value").rename(index={"alpha": "churn_probability"})).data
    assert "model" not in single.columns and "p_value" not in single.columns
    assert single["parameter"].tolist() == ["churn probability", "churn:csat"]


def test_segment_frame_sums_to_the_total_and_keeps_no_data_apart() -> None:
    value = pd.DataFrame({"segment": ["a", "a", "b", None], "clv_usd": [10.0, np.nan, 30.0, 60.0]})
    out = rch.segment_frame(value, "segment").set_index("segment")
    assert out.loc["a", "customers"] == 2 and out.loc["a", "with_value"] == 1 and out.loc["a", "total_value"] == 10
    assert out.loc["no data", "total_value"] == 60 and out["share_of_value"].sum() == pytest.approx(1.0)
    assert out.index[0] == "no data"  # largest first


def test_measures_frame_writes_each_measure_in_its_unit() -> None:
    frame = pd.DataFrame(
        {
            "estimate": [1045208.0, 0.3, -286.0],
            "ci_lower": [890219.0, 0.258, -592.0],
            "ci_upper": [1219488, 0.345, 58.8],
        },
        index=["at_risk", "share", "gap"],
    )
    out = rch.measures_frame(frame, {"share": "share of CLV"}, {"at_risk": "money", "share": "share", "gap": "money"},
                             "USD", columns=("estimate",))  # fmt: skip
    assert out["estimate_shown"].tolist() == ["1,045,208 USD [890,219, 1,219,488]", "30.0% [25.8, 34.5]",
                                              "-286 USD [-592, 59]"]  # fmt: skip
    assert out["measure"].tolist() == ["at risk", "share of CLV", "gap"] and out["measure_id"].tolist()[0] == "at_risk"
    table = _what_if(2.0e6, 1.1e6, 2.9e6)
    shown = rch.measures_frame(table, {}, rch.what_if_units(table.index, "quarter"), "USD")
    assert shown["change_shown"].tolist() == ["+2.0 pp [+1.0, +3.0]", "+2,000,000 USD [+1,100,000, +2,900,000]"]
    assert shown["baseline_shown"].tolist()[0] == "90.0%"


def test_reference_frame_keeps_the_digits_of_each_parameter() -> None:
    frame = pd.DataFrame({"published": [0.243, 15.44], "this_package": [0.24259, 15.4435], "se": [0.0126, 4.2]})
    frame["rel_diff"] = frame["this_package"] / frame["published"] - 1
    out = rch.reference_frame(frame)
    assert out["published_shown"].tolist() == ["0.243", "15.44"] and out["this_package_shown"].tolist()[0] == "0.2426"
    assert out["rel_diff_shown"].tolist() == ["-0.17%", "+0.023%"]
    big = rch.reference_frame(pd.DataFrame({"published": [12345.6], "se": [np.nan], "rel_diff": [9e-5]}))
    assert big["published_shown"].tolist() == ["12,350"] and big["se_shown"].tolist() == ["no data"]  # never 1.2e+04
    assert big["rel_diff_shown"].tolist() == ["+0.0090%"]
    shown = rch.reference_table(frame.drop(columns="rel_diff").assign(parameter=["r", "gamma"]), key="reference_x")
    assert shown.key == "reference_x" and shown.data["rel_diff"].iloc[0] == pytest.approx(0.24259 / 0.243 - 1)
    html = shown._repr_html_()
    assert "relative difference" in html and "-0.17%" in html and "this package" in html


def test_estimates_table_says_not_tested_for_the_positive_parameters() -> None:
    summary = pd.DataFrame(
        {"coef": [0.7, -0.28], "se": [0.06, 0.065], "ci_lower": [0.6, -0.41], "ci_upper": [0.8, -0.15]},
        index=pd.Index(["alpha", "churn:csat"], name="param"),
    ).assign(p_value=[np.nan, 1.7e-5])
    shown = rch.estimates_table({"sBG": summary}, key="clv_estimates")
    assert shown.key == "clv_estimates" and shown.data["p_value"].iloc[1] == pytest.approx(1.7e-5)  # raw numbers kept
    assert shown.data["p_value_shown"].tolist() == ["not tested", "<0.001"]
    assert "not tested" in shown._repr_html_() and "no data" not in shown._repr_html_()


def test_the_headline_sentence_carries_the_cards_figure_text() -> None:
    fig = rch.what_if_figure(_what_if(2.4e6, 12_000.0, 4.8e6), "USD", 1.0)
    sentence = rch.what_if_sentence(fig, "residual value")
    assert f"{format_figure(fig)} {format_interval(fig)}" in sentence and "[12,000, 4,800,000]" in sentence
    hl = Headline("t").add(fig)
    hl.sentence = sentence
    assert format_figure(fig) in hl._repr_html_() and sentence in repr(hl)


def test_at_risk_table_writes_each_measure_in_its_unit() -> None:
    risk = pd.DataFrame(
        {"estimate": [1200.0, 0.3, -286.0], "ci_lower": [900.0, 0.25, -592.0], "ci_upper": [1500.0, 0.35, 58.8]},
        index=["clv_at_risk_usd", "share_of_clv", "mean_clv_gap_low_minus_rest_usd"],
    )
    shown = rch.at_risk_table(risk, "residual value", "USD", "latest csat <= 6")
    assert shown.key == "clv_at_risk" and shown.data["estimate_shown"].tolist() == [
        "1,200 USD [900, 1,500]",
        "30.0% [25.0, 35.0]",
        "-286 USD [-592, 59]",
    ]
    assert shown.data["measure"].tolist()[0] == "residual value at risk"


def test_value_sentence_opens_with_the_value_when_there_is_no_what_if() -> None:
    value = HeadlineFigure("12-month CLV of all customers", 8_258_237.0, "money", unit="GBP", key=rch.KEYS["value"])
    point = HeadlineFigure(
        "value of +1 csat point", None, "money", note="No csat answers: satisfaction cannot enter the CLV model.",
        key=rch.KEYS["csat_point"],
    )  # fmt: skip
    text = rch.value_sentence([value, point])
    assert text == (
        "12-month CLV of all customers: 8,258,237 GBP. Value of +1 csat point: no data "
        "(No csat answers: satisfaction cannot enter the CLV model)."
    )
