"""Helpers of the KPI dashboard and scorecard reports (bsc_toolkit.report_kpis)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics
from bsc_toolkit import report_kpis as rk
from bsc_toolkit.capabilities import REQUIREMENTS
from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.headline import Headline, HeadlineFigure, KpiHeadline
from bsc_toolkit.scorecard import default_scorecard_path, evaluate_scorecard, load_scorecard, scorecard_from_dict
from bsc_toolkit.tables import table

ONE_TO_FIVE = RatingScale(1, 5, 2)


def _snapshot_tables(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Snapshot-shaped customers (churn flag, tenure) and surveys on 1-5 all dated on the snapshot day."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": rng.choice(["a", "b"], n),
            "churned": rng.random(n) < 0.25,
            "tenure_months": rng.uniform(1, 60, n),
        }
    )
    surveys = pd.DataFrame(
        {
            "customer_id": ids,
            "surveyed_at": pd.Timestamp("2024-12-31"),
            "csat": rng.integers(1, 6, n).astype(float),
        }
    )
    return customers, surveys


# ------------------------------------------------------------------ labels
def test_top_box_label_follows_the_declared_rule():
    assert rk.top_box_label(ONE_TO_FIVE) == "top-2-box (4-5)"
    assert rk.top_box_label(RatingScale(1, 10, 2)) == "top-2-box (9-10)"
    assert rk.top_box_label(RatingScale(0, 100, 1)) == "top box (100)"
    assert rk.top_box_label(RatingScale(1, 7, 3)) == "top-3-box (5-7)"


def test_kpi_labels_carry_the_scale_the_currency_and_the_driver_names():
    ratings = {"csat": ONE_TO_FIVE, "waiting": RatingScale(0, 10)}
    kw = {"currency": "GBP", "ratings": ratings, "driver_labels": {"waiting": "Waiting time"}}
    assert rk.kpi_label("csat_mean", **kw) == "CSAT mean (1-5)"
    assert rk.kpi_label("csat_top_box", **kw) == "CSAT top-2-box (4-5) share"
    assert rk.kpi_label("waiting_mean", **kw) == "Waiting time mean rating (0-10)"
    assert rk.kpi_label("revenue_usd", **kw) == "revenue (GBP)"
    assert rk.kpi_label("profit_per_customer_usd", **kw) == "profit per customer (GBP)"
    assert "USD" not in " ".join(rk.kpi_label(c, **kw) for c in metrics.KPI_COLUMNS)
    assert rk.kpi_label("churn_rate", **kw, churn_basis="by snapshot") == "share of customers who left by the snapshot"
    assert "per period" in rk.kpi_label("churn_rate", **kw)


# ------------------------------------------------------------------ headline
def test_headline_of_a_snapshot_is_one_period_with_no_data_stated_and_no_nan():
    customers, surveys = _snapshot_tables()
    kpis = metrics.kpi_summary(customers, surveys, None, freq="Q", ratings={"csat": ONE_TO_FIVE})
    table, period = rk.headline_table(kpis, currency="EUR", ratings={"csat": ONE_TO_FIVE})
    assert period == pd.Period("2024Q4", "Q")
    shown = table.set_index("KPI")
    flagged = customers["churned"].mean()
    assert shown.loc["share of customers who left by the snapshot", "current"] == f"{flagged:.1%}"
    assert shown.loc["CSAT mean (1-5)", "current"] == f"{surveys['csat'].mean():.2f}"
    assert shown.loc["CSAT top-2-box (4-5) share", "current"] == f"{(surveys['csat'] >= 4).mean():.1%}"
    assert shown.loc["revenue (EUR)", "current"] == "no data"
    assert shown.loc["revenue (EUR)", "note"]  # says why
    assert (shown["previous"] == "–").all() and (shown["change"] == "–").all()
    text = " ".join(table[["current", "previous", "change"]].to_numpy().ravel())
    assert "nan" not in text.lower() and "inf" not in text.lower()


def test_headline_uses_the_latest_period_with_data_and_rates_change_in_points():
    kpis = pd.DataFrame(
        {
            "period": pd.period_range("2024Q1", periods=3, freq="Q"),
            "churn_rate": [0.10, 0.08, np.nan],
            "revenue_usd": [1000.0, 1500.0, np.nan],
        }
    )
    table, period = rk.headline_table(kpis, currency="USD")
    assert period == pd.Period("2024Q2", "Q")  # 2024Q3 has no data at all
    row = table.set_index("KPI").loc["churn rate (per period)"]
    assert (row["current"], row["previous"], row["change"]) == ("8.0%", "10.0%", "-2.0 pp")
    assert table.set_index("KPI").loc["revenue (USD)", "change"] == "+500"
    assert len(rk.periods_with_data(kpis)) == 2
    with pytest.raises(ValueError, match="not in the KPI table"):
        rk.headline_table(kpis, "2030Q1", currency="USD")


def test_partial_periods_are_named():
    tx = pd.DataFrame({"ordered_at": pd.to_datetime(["2010-12-01", "2011-06-30", "2011-12-09"])})
    empty = pd.DataFrame({"surveyed_at": pd.Series([], dtype="datetime64[ns]")})
    text = rk.partial_periods_markdown(empty, tx, [pd.Period("2011Q4", "Q"), pd.Period("2011Q3", "Q")], "Q")
    assert "end on 2011-12-09" in text and "2011Q4" in text and "2011Q3" not in text
    assert "start on 2010-12-01" in rk.partial_periods_markdown(empty, tx, [pd.Period("2010Q4", "Q")], "Q")
    full = pd.DataFrame({"ordered_at": pd.to_datetime(["2024-01-01", "2024-12-31"])})
    assert rk.partial_periods_markdown(empty, full, [pd.Period("2024Q4", "Q"), pd.Period("2024Q1", "Q")], "Q") == ""
    span = rk.data_span(empty, tx)
    assert span == (pd.Timestamp("2010-12-01"), pd.Timestamp("2011-12-09"))
    assert rk.partial_period_sentences(span, [pd.Period("2011Q4", "Q"), None, pd.Period("2011Q4", "Q")]) == [
        "the data end on 2011-12-09, before the end of 2011Q4"
    ]  # said once
    assert rk.partial_period_sentences(span, ["2010Q4"], "Q") == [
        "the data start on 2010-12-01, after the start of 2010Q4"
    ]
    assert rk.partial_period_sentences(None, [pd.Period("2011Q4", "Q")]) == []
    assert rk.data_span(empty, tx.iloc[0:0]) is None


def test_headline_periods_skip_a_latest_period_covered_less_than_half():
    kpis = pd.DataFrame({"period": pd.period_range("2024Q1", periods=4, freq="Q"), "nps": [1.0, np.nan, 3.0, 4.0]})
    q1, q3, q4 = (pd.Period(p, "Q") for p in ("2024Q1", "2024Q3", "2024Q4"))
    early = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-11-10"))  # 41 days into 2024Q4
    late = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-11-20"))  # past its middle
    assert rk.headline_periods(kpis, span=early) == (q3, q1, q4, "the data end on 2024-11-10, before the end of 2024Q4")
    assert rk.headline_periods(kpis, span=late) == (q4, q3, None, None)  # partial, but headlined
    assert rk.headline_periods(kpis, "2024Q4", span=early) == (q4, q3, None, None)  # asked for: as it is
    assert rk.headline_periods(kpis, span=early, snapshot=True).previous is None
    assert rk.previous_period(kpis, q3) == q1  # 2024Q2 has no data
    assert rk.previous_period(kpis, "2024Q1") is None and rk.previous_period(kpis, None) is None
    with pytest.raises(ValueError, match="not in the KPI table"):
        rk.headline_periods(kpis, "2030Q1")


# ------------------------------------------------------------------ segments
def test_segment_breakdown_falls_back_to_totals_and_escapes_the_name():
    customers = pd.DataFrame({"customer_id": [1, 2], "segment": ["a", None], "empty": [None, None]})
    assert rk.segment_breakdown(customers, "segment") == ("segment", "")
    col, note = rk.segment_breakdown(customers, "<b>plan</b>")
    assert col is None and "totals" in note and "<b>" not in note
    assert rk.segment_breakdown(customers, "empty")[0] is None
    assert rk.segment_breakdown(customers, None)[0] is None


# ------------------------------------------------------------------ profitability
def _transactions(cost_factor: float | None) -> pd.DataFrame:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3, 3, 4],
            "ordered_at": pd.to_datetime(["2024-01-05"] * 6),
            "revenue_usd": [100.0, -20.0, 50.0, 30.0, -30.0, 10.0],
        }
    )
    if cost_factor is not None:
        tx["cost_usd"] = tx["revenue_usd"].abs() * cost_factor
    return tx


def test_without_cost_there_is_revenue_per_customer_and_never_profit():
    tx = _transactions(None)
    prof = metrics.customer_profitability(tx)
    by = rk.profitability_by_segment(prof, None)
    assert not any("profit" in c for c in by.columns)
    assert by.loc["all customers", "revenue_usd"] == pytest.approx(140.0)  # refunds netted
    assert by.loc["all customers", "revenue_per_customer_usd"] == pytest.approx(35.0)
    shown = table(by, currency="GBP").html  # the report's table: money in the data's currency, never USD
    assert "revenue (GBP)</th>" in shown and "revenue per customer (GBP)</th>" in shown and "USD" not in shown
    assert '<td class="num">140.00</td><td class="num">35.00</td>' in shown
    text = rk.profitability_markdown(prof, metrics.whale_curve(prof), "GBP")
    assert "profit is unknown" in text and "140 GBP" in text
    refunds = rk.refunds_markdown(tx, prof, "GBP")
    assert "**2**" in refunds and "-50 GBP" in refunds and "1 of 4 customers" in refunds


def test_a_loss_making_business_gets_a_loss_curve_in_words():
    tx = _transactions(1.5)  # every sale costs more than it brings
    prof = metrics.customer_profitability(tx)
    whale = metrics.whale_curve(prof)
    text = rk.profitability_markdown(prof, whale, "EUR")
    total = float(prof["profit_usd"].sum())
    assert total < 0 and "made a loss" in text and f"{total:,.0f} EUR" in text and "loss curve" in text
    revenue = float(prof["revenue_usd"].sum())
    assert f"on {revenue:,.0f} EUR of revenue (a margin of {total / revenue:.1%})" in text
    by = rk.profitability_by_segment(prof, None)
    assert by.loc["all customers", "profit_usd"] == pytest.approx(total)
    assert by.loc["all customers", "unprofitable share"] == pytest.approx((prof["profit_usd"] < 0).mean())


def test_a_loss_curve_names_the_profitable_few():
    tx = _transactions(None).assign(cost_usd=[10.0, 0.0, 120.0, 40.0, 0.0, 30.0])  # customer 1 earns 70
    prof = metrics.customer_profitability(tx)
    text = rk.profitability_markdown(prof, metrics.whale_curve(prof), "EUR")
    assert prof["profit_usd"].sum() < 0 and "made a loss" in text
    assert (
        "most profitable **25%** of customers earn 70 EUR" in text and "**75%** of customers are unprofitable" in text
    )


def test_a_profitable_business_reads_the_whale_curve_peak():
    tx = _transactions(0.5)
    prof = metrics.customer_profitability(tx)
    text = rk.profitability_markdown(prof, metrics.whale_curve(prof), "USD")
    profit = prof["profit_usd"].sort_values(ascending=False)
    peak = profit.cumsum().max() / profit.sum()
    assert f"{peak:.0%}" in text and f"{(profit < 0).mean():.0%}" in text


# ------------------------------------------------------------------ drivers
def test_driver_means_keep_each_scale_and_any_driver_name():
    surveys = pd.DataFrame(
        {
            "surveyed_at": pd.to_datetime(["2024-01-10", "2024-02-10", "2024-04-10", "2024-05-10"]),
            "waiting": [2.0, 4.0, 5.0, np.nan],
            "image": [70.0, 90.0, 50.0, 60.0],
        }
    )
    ratings = {"waiting": ONE_TO_FIVE, "image": RatingScale(0, 100)}
    out = rk.driver_means(surveys, ["waiting", "image"], "Q", labels={"waiting": "Waiting"}, ratings=ratings)
    got = out.set_index(["period", "driver"])
    assert got.loc[(pd.Period("2024Q1", "Q"), "waiting"), "mean_rating"] == pytest.approx(3.0)
    assert got.loc[(pd.Period("2024Q2", "Q"), "waiting"), "n_responses"] == 1
    assert got.loc[(pd.Period("2024Q2", "Q"), "image"), "mean_rating"] == pytest.approx(55.0)
    assert set(out["scale"]) == {"1-5", "0-100"} and "Waiting" in set(out["label"])
    assert rk.driver_means(surveys, ["absent"], "Q").empty


# ------------------------------------------------------------------ scorecard
def test_no_data_reasons_are_grouped():
    evaluation = pd.DataFrame(
        {
            "measure": ["Revenue", "Profit", "Staff <b>", "CSAT"],
            "source": ["revenue_usd", "profit_usd", "staff", "csat_mean"],
            "status": ["no data", "no data", "no data", "green"],
            "note": ["no transactions", "no transactions", "", ""],
        }
    )
    kpis = pd.DataFrame({"period": [pd.Period("2024Q1", "Q")], "revenue_usd": [np.nan], "profit_usd": [np.nan]})
    text = rk.no_data_markdown(evaluation, kpis)
    lines = text.splitlines()
    assert lines[0] == "- Revenue, Profit: no transactions"
    assert "Staff \\<b\\>" in lines[1] and "staff" in lines[1] and len(lines) == 2


def test_link_evidence_says_no_evidence_when_the_interval_includes_zero():
    spec = load_scorecard(default_scorecard_path())
    matched = pd.DataFrame(
        {
            "source": ["customer_satisfaction", "customer_retention", "customer_value", "customer_loyalty"],
            "target": ["customer_retention", "revenue_growth", "customer_satisfaction", "customer_acquisition"],
            "estimate": [0.2, 0.001, 0.0002, np.nan],
            "ci_lower": [-0.1, -0.5, 0.0001, np.nan],
            "ci_upper": [0.5, 0.7, 0.002, np.nan],
            "unit": ["quarters retained per csat point (1-10)", "EUR revenue per quarter retained", "R^2 (share)", ""],
        }
    )
    text = rk.link_evidence_markdown(matched, spec)
    lines = text.splitlines()
    assert len(lines) == 3
    assert "no evidence of a link between customer satisfaction and customer retention in these data" in lines[0]
    assert "not an effect" in lines[1]  # a money figure on a null link is not presented as one
    assert "practically none" in lines[2]
    imprecise = matched.iloc[[0]].assign(estimate=0.001, ci_lower=0.0005, ci_upper=0.9)
    assert "over 100 times" in rk.link_evidence_markdown(imprecise, spec)


def test_link_estimates_only_where_the_data_support_them(small_sim):
    features = dict.fromkeys(rk.LINK_NEEDS, True)
    links, note, models = rk.link_estimates(small_sim, features, "Q", estimate=False)
    assert links is None and "estimate_links = False" in note and models == {}
    no_csat = {**features, "csat": False, "transactions": False}
    links, note, _ = rk.link_estimates(small_sim, no_csat, "Q")
    assert links is None and REQUIREMENTS["csat"].label.split(" (")[0] in note and "without link estimates" in note


def test_link_estimates_on_ratings_alone_give_the_driver_link_with_its_model():
    rng = np.random.default_rng(0)
    n = 300
    drivers = pd.DataFrame(rng.integers(1, 6, size=(n, 2)).astype(float), columns=["waiting", "value"])
    csat = np.clip(np.round(1 + 0.5 * drivers["waiting"] + 0.3 * drivers["value"] + rng.normal(0, 0.5, n)), 1, 5)

    snapshot = SimpleNamespace(
        surveys=drivers.assign(customer_id=np.arange(n), csat=csat, surveyed_at=pd.Timestamp("2024-12-31")),
        drivers=("waiting", "value"),
        ratings={"csat": ONE_TO_FIVE, "waiting": ONE_TO_FIVE, "value": ONE_TO_FIVE},
    )
    features = {"csat": True, "drivers": True, "churn_dates": False, "transactions": False, "dated": False}
    links, note, models = rk.link_estimates(snapshot, features, "Q", n_boot=20)
    assert "Only the link from the driver ratings" in note and "churn dates" in note
    assert set(models) == {"driver analysis"} and models["driver analysis"].is_fitted
    row = links.set_index(["source", "target"]).loc[("driver ratings: waiting", "customer satisfaction")]
    assert row["ci_lower"] < 0.5 < row["ci_upper"]  # recovers the true coefficient
    assert "(1-5)" in row["unit"]


def test_plot_by_group_draws_intervals_or_says_no_data():
    frame = pd.DataFrame({"segment": ["a", "b"], "share": [0.2, 0.3], "lo": [0.1, 0.2], "hi": [0.3, 0.4]})
    ax = rk.plot_by_group(frame, "segment", "share", ("lo", "hi"), ylabel="share (1-5)", percent=True)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"] and ax.get_ylabel() == "share (1-5)"
    empty = rk.plot_by_group(frame.assign(share=np.nan), "segment", "share", ylabel="share")
    assert any("no data" in t.get_text() for t in empty.texts)
    plt.close("all")


# ------------------------------------------------------------------ headline boxes
def test_headline_table_carries_the_raw_numbers():
    kpis = pd.DataFrame(
        {
            "period": pd.period_range("2024Q1", periods=2, freq="Q"),
            "churn_rate": [0.10, 0.08],
            "revenue_usd": [1000.0, np.nan],
        }
    )
    table, _ = rk.headline_table(kpis, currency="USD", raw=True)
    row = table.set_index("kpi").loc["churn_rate"]
    assert (row["current_value"], row["previous_value"]) == (0.08, 0.10)
    assert row["change_value"] == pytest.approx(-0.02) and row["change"] == "-2.0 pp"
    assert np.isnan(table.set_index("kpi").loc["revenue_usd", "current_value"])  # missing stays missing, not 0
    assert list(rk.headline_table(kpis, currency="USD")[0].columns) == ["KPI", "current", "previous", "change", "note"]


def test_kpi_headline_subtitle_names_what_is_compared():
    q4, q3 = pd.Period("2025Q4", "Q"), pd.Period("2025Q3", "Q")
    assert rk.kpi_headline_subtitle(q4, q3) == "2025Q4 against 2025Q3, the previous period with data"
    assert "only period" in rk.kpi_headline_subtitle(q4, None)
    assert rk.kpi_headline_subtitle(q4, None, pd.Timestamp("2025-12-31")).startswith("snapshot of 2025-12-31")
    assert "no period" in rk.kpi_headline_subtitle(None, None)


def test_fill_kpi_headline_adds_the_figures_and_the_notes_no_figure_carries():
    q4, q3 = pd.Period("2025Q4", "Q"), pd.Period("2025Q3", "Q")
    partial = "the data end on 2025-11-02, before the end of 2025Q4: totals cover part of the period"
    figures = [
        HeadlineFigure("NPS", 12.0, "points", previous=10.0, key="nps"),
        HeadlineFigure("revenue per customer", None, "money", note="no transactions in this data set"),
        HeadlineFigure("churn rate", 0.05, "percent", note=partial),
    ]
    hl = rk.fill_kpi_headline(Headline("KPIs"), KpiHeadline(figures, q4, q3, [partial, "another caveat"]))
    assert hl.figures == figures and hl.subtitle.startswith("2025Q4 against 2025Q3")
    assert hl.caveats == ["another caveat"]  # the partial period is already beside the churn figure


@pytest.mark.slow
def test_the_kpi_headline_matches_the_metrics(small_data_dir):
    from bsc_toolkit.data.io import load_dataset
    from bsc_toolkit.headline import kpi_figures

    data = load_dataset(small_data_dir)
    hl = rk.fill_kpi_headline(Headline("KPIs"), kpi_figures(data, freq="Q"))
    shown = {f.key: f for f in hl.figures}
    nps = metrics.nps(data.surveys, freq="Q").set_index("period")
    latest, before = nps.index[-1], nps.index[-2]
    assert shown["nps"].value == pytest.approx(nps.loc[latest, "nps"])
    assert shown["nps"].previous == pytest.approx(nps.loc[before, "nps"])
    csat = metrics.csat_summary(data.surveys, freq="Q", scale=data.scale("csat")).set_index("period")
    assert shown["csat_mean"].value == pytest.approx(csat.loc[latest, "csat_mean"])
    assert shown["csat_top_box"].value == pytest.approx(csat.loc[latest, "csat_top_box"])
    assert hl.subtitle == f"{latest} against {before}, the previous period with data"


_CARD = scorecard_from_dict(
    {
        "perspectives": [
            {
                "perspective": "customer",
                "objectives": [
                    {
                        "id": "sat",
                        "name": "Satisfied customers",
                        "measures": [
                            # absolute thresholds: 0.2 short is at risk, beyond 0.5 off target
                            {"name": "CSAT", "kpi": "csat_mean", "target": 8.0, "format": ".2f",
                             "thresholds": {"amber": 0.0, "red": 0.5, "relative": False}},
                            {"name": "Churn", "kpi": "churn_rate", "target": 0.05, "direction": "lower",
                             "format": ".1%", "thresholds": {"amber": 0.0, "red": 0.5, "relative": True}},
                            {"name": "Revenue", "kpi": "revenue_usd", "target": 1000.0, "format": ",.0f",
                             "unit": "EUR per quarter", "thresholds": {"amber": 0.0, "red": 0.1, "relative": True}},
                            {"name": "Staff trained", "column": "staff_trained", "target": 0.9},
                        ],
                    }
                ],
            }
        ]
    }
)  # fmt: skip

_KPIS = pd.DataFrame(
    {
        "period": pd.period_range("2024Q1", periods=4, freq="Q"),
        "csat_mean": [8.1, 7.9, np.nan, 7.8],  # 2024Q4: 2.5% short, at risk
        "churn_rate": [0.05, 0.06, np.nan, 0.09],  # 80% above the target: off target
        "revenue_usd": [1200.0, 700.0, np.nan, 800.0],  # 20% short: off target, but less far than churn
    }
)


def test_previous_evaluation_is_the_previous_period_with_data():
    current = evaluate_scorecard(_CARD, _KPIS)
    previous = rk.previous_evaluation(_CARD, _KPIS, current["period"].iloc[0])
    assert set(previous["period"]) == {"2024Q2"}  # 2024Q3 has no data at all
    assert list(previous["status"]) == ["amber", "amber", "red", "no data"]
    assert rk.previous_evaluation(_CARD, _KPIS, "2024Q1") is None
    assert rk.previous_evaluation(_CARD, _KPIS.iloc[0:0], None) is None


def test_scorecard_figures_count_the_statuses_and_name_the_worst_measure():
    current = evaluate_scorecard(_CARD, _KPIS)
    previous = rk.previous_evaluation(_CARD, _KPIS, current["period"].iloc[0])
    kpi = [HeadlineFigure("NPS", None, "points"), HeadlineFigure("CSAT mean", 7.8, "score"), HeadlineFigure("x", 1.0)]
    figures = rk.scorecard_figures(current, previous, kpi)
    counts = {f.key: (f.value, f.previous) for f in figures[:4]}
    assert counts == {
        "measures_on_target": (0, 0),
        "measures_at_risk": (1, 2),
        "measures_off_target": (2, 1),
        "measures_no_data": (1, 1),
    }
    assert figures[0].label == "measures on target (of 4)" and figures[0].previous_label == "2024Q2"
    worst = figures[4]
    assert worst.label == "Furthest from target: Churn" and worst.value == pytest.approx(0.8)
    assert worst.previous == pytest.approx(0.2)  # the same measure in 2024Q2: 6.0% against 5.0%
    assert "9.0% against a target of 5.0%" in worst.note and "off target" in worst.note
    assert [f.label for f in figures[5:]] == ["CSAT mean"]  # the KPI figures with a value, up to six in all
    assert len(rk.scorecard_figures(current, None, kpi, max_figures=5)) == 5


def test_worst_measure_ranks_the_status_before_the_distance():
    ev = evaluate_scorecard(_CARD, _KPIS.assign(churn_rate=0.051))  # churn 2% above: at risk only
    assert rk.worst_measure(ev).label == "Furthest from target: Revenue"  # off target beats a larger at-risk gap
    met = evaluate_scorecard(_CARD, _KPIS.assign(csat_mean=9.0, churn_rate=0.01, revenue_usd=1010.0))
    best = rk.worst_measure(met)
    assert best.label == "Smallest margin over target: Revenue" and best.value == pytest.approx(0.01)
    assert best.better == "up" and "every scored measure meets its target" in best.note
    assert rk.worst_measure(evaluate_scorecard(_CARD, _KPIS.iloc[0:0])) is None  # nothing scored
    # revenue's target is in EUR but (say) the data are in GBP: its distance to target is not ranked
    other = rk.worst_measure(ev, unranked_units=("EUR",))
    assert other.label == "Furthest from target: CSAT" and "measures in EUR are not ranked" in other.note
    assert "Revenue" not in rk.scorecard_sentence(ev, unranked_units=("EUR",)).split("without data.")[1]


def test_scorecard_sentence():
    text = rk.scorecard_sentence(evaluate_scorecard(_CARD, _KPIS))
    assert text == (
        "Of 4 measures: 0 on target, 1 at risk, 2 off target, 1 without data. "
        "Furthest from its target: Churn, 9.0% against a target of 5.0%."
    )
    empty = rk.scorecard_sentence(evaluate_scorecard(_CARD, _KPIS.iloc[0:0]))
    assert empty.endswith("No measure can be scored against its target on these data.")
