"""Scorecard evaluation: RAG status, variance, trend, HTML rendering."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.metrics import kpi_summary
from bsc_toolkit.scorecard.evaluate import (
    STATUS_COLOURS,
    STATUS_WORDS,
    attention_table,
    evaluate_scorecard,
    rag_status,
    render_scorecard_html,
    status_counts,
    status_label,
    status_table,
)
from bsc_toolkit.scorecard.spec import load_scorecard, scorecard_from_dict


@pytest.mark.parametrize(
    "actual, target, direction, amber, red, relative, expected",
    [
        # higher is better, absolute thresholds: green <= 0 short, amber <= 0.3 short, red beyond
        (7.6, 7.5, "higher", 0.0, 0.3, False, "green"),
        (7.5, 7.5, "higher", 0.0, 0.3, False, "green"),  # on target
        (7.4, 7.5, "higher", 0.0, 0.3, False, "amber"),
        (7.2, 7.5, "higher", 0.0, 0.3, False, "amber"),  # boundary 0.3 short (float noise tolerated)
        (7.19, 7.5, "higher", 0.0, 0.3, False, "red"),
        # lower is better (churn): shortfall = actual - target
        (0.04, 0.05, "lower", 0.0, 0.02, False, "green"),
        (0.05, 0.05, "lower", 0.0, 0.02, False, "green"),
        (0.07, 0.05, "lower", 0.0, 0.02, False, "amber"),  # boundary 0.02 over
        (0.0701, 0.05, "lower", 0.0, 0.02, False, "red"),
        # relative thresholds: 5 % and 10 % of |target|
        (100.0, 100.0, "higher", 0.05, 0.10, True, "green"),
        (95.0, 100.0, "higher", 0.05, 0.10, True, "green"),  # boundary 5 %
        (94.9, 100.0, "higher", 0.05, 0.10, True, "amber"),
        (90.0, 100.0, "higher", 0.05, 0.10, True, "amber"),  # boundary 10 %
        (89.9, 100.0, "higher", 0.05, 0.10, True, "red"),
        (110.0, 100.0, "lower", 0.0, 0.10, True, "amber"),
        (111.0, 100.0, "lower", 0.0, 0.10, True, "red"),
        # negative target (NPS), relative to |target|
        (-22.0, -20.0, "higher", 0.0, 0.10, True, "amber"),
        (-23.0, -20.0, "higher", 0.0, 0.10, True, "red"),
        (float("nan"), 1.0, "higher", 0.0, 0.1, True, "no data"),
    ],
)
def test_rag_status(actual, target, direction, amber, red, relative, expected):
    assert rag_status(actual, target, direction, amber, red, relative) == expected


def test_rag_status_rejects_bad_input():
    with pytest.raises(ValueError, match="direction"):
        rag_status(1, 1, "up")
    with pytest.raises(ValueError, match="amber <= red"):
        rag_status(1, 1, "higher", 0.2, 0.1)
    with pytest.raises(ValueError, match="non-zero target"):
        rag_status(1, 0, "higher", 0.0, 0.1, True)


SPEC = scorecard_from_dict(
    {
        "perspectives": [
            {
                "perspective": "customer",
                "objectives": [
                    {
                        "id": "sat",
                        "name": "Satisfied customers",
                        "owner": "CX lead",
                        "measures": [
                            {
                                "name": "CSAT",
                                "kpi": "csat_mean",
                                "target": 7.5,
                                "thresholds": {"amber": 0.0, "red": 0.3, "relative": False},
                                "format": ".2f",
                            },
                            {
                                "name": "Churn",
                                "kpi": "churn_rate",
                                "target": 0.05,
                                "direction": "lower",
                                "thresholds": {"amber": 0.0, "red": 0.02, "relative": False},
                                "owner": "Retention lead",
                                "format": ".1%",
                                "initiatives": ["Save desk"],
                            },
                            {"name": "Staff trained", "column": "staff_trained", "target": 0.9},
                        ],
                    }
                ],
            }
        ]
    }
)

KPIS = pd.DataFrame(
    {
        "period": pd.period_range("2024Q1", periods=4, freq="Q"),
        "csat_mean": [7.0, 7.3, 7.6, 7.4],
        "churn_rate": [0.08, 0.06, 0.05, 0.071],
    }
)


def test_evaluate_latest_period_hand_computed():
    ev = evaluate_scorecard(SPEC, KPIS)
    assert list(ev["measure"]) == ["CSAT", "Churn", "Staff trained"]
    assert set(ev["period"]) == {"2024Q4"}
    csat, churn, staff = (ev.iloc[i] for i in range(3))
    assert csat["actual"] == 7.4 and csat["variance"] == pytest.approx(-0.1)
    assert csat["variance_pct"] == pytest.approx(-0.1 / 7.5)
    assert csat["status"] == "amber" and csat["owner"] == "CX lead"
    assert csat["previous"] == 7.6 and csat["change"] == pytest.approx(-0.2) and csat["improving"] is False
    assert csat["trend"] == [7.0, 7.3, 7.6, 7.4]
    assert csat["trend_periods"] == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert churn["status"] == "red" and churn["variance"] == pytest.approx(0.021)
    assert churn["owner"] == "Retention lead" and churn["improving"] is False
    assert staff["status"] == "no data" and math.isnan(staff["actual"]) and len(staff["trend"]) == 4


def test_evaluate_chosen_period_and_trend_window():
    ev = evaluate_scorecard(SPEC, KPIS.sample(frac=1, random_state=1), period="2024Q3", n_trend=2)
    assert list(ev["status"][:2]) == ["green", "green"]
    assert ev.iloc[0]["trend"] == [7.3, 7.6]
    assert ev.iloc[1]["improving"] is True  # churn fell from 0.06 to 0.05
    ev_idx = evaluate_scorecard(SPEC, KPIS.set_index("period"), period=pd.Period("2024Q2", "Q"))
    assert ev_idx.iloc[0]["actual"] == 7.3 and ev_idx.iloc[0]["previous"] == 7.0
    assert ev_idx.iloc[0]["trend"] == [7.0, 7.3]  # later periods are not part of the trend
    assert ev_idx.iloc[0]["trend_periods"] == ["2024Q1", "2024Q2"]


def test_evaluate_bad_input():
    with pytest.raises(ValueError, match="period '2030Q1' not in the KPI table"):
        evaluate_scorecard(SPEC, KPIS, period="2030Q1")
    with pytest.raises(ValueError, match="'period' column"):
        evaluate_scorecard(SPEC, KPIS.drop(columns="period"))
    doubled = pd.concat([KPIS.assign(segment="a"), KPIS.assign(segment="b")])
    with pytest.raises(ValueError, match="filter it to one group"):
        evaluate_scorecard(SPEC, doubled)


def test_evaluate_does_not_mutate_input():
    before = KPIS.copy()
    evaluate_scorecard(SPEC, KPIS)
    pd.testing.assert_frame_equal(KPIS, before)


def test_html_has_colours_and_one_svg_per_measure():
    ev = evaluate_scorecard(SPEC, KPIS)
    out = render_scorecard_html(ev, title="Test <card>")
    assert out.startswith("<table") and out.rstrip().endswith("</table>")
    assert out.count("<svg") == len(ev) == 3
    for status in ("amber", "red", "no data"):
        bg, fg = STATUS_COLOURS[status]
        assert f"background:{bg};color:{fg}" in out
    assert "Test &lt;card&gt;" in out  # escaped
    assert "7.40" in out and "7.1%" in out  # measure formats applied
    assert "Save desk" in out and "Customer" in out
    # the sparkline of the missing column says so instead of drawing
    assert re.search(r"<svg[^>]*>(<title>[^<]*</title>)?<text[^>]*>no data</text></svg>", out)


def test_default_scorecard_on_kpi_summary(small_sim):
    kpis = kpi_summary(small_sim.customers, small_sim.surveys, small_sim.transactions)
    ev = evaluate_scorecard(load_scorecard(), kpis)
    customer = ev[ev["perspective"] == "customer"]
    assert customer["status"].isin(["green", "amber", "red"]).all()
    # each measure reads its KPI column in the latest period
    latest = kpis.iloc[-1]
    assert np.allclose(customer["actual"], [latest[s] for s in customer["source"]])
    assert set(ev["period"]) == {str(latest["period"])}
    # internal-process and learning measures bind to columns absent from the default data
    assert (ev.loc[ev["perspective"].isin(["internal_process", "learning_growth"]), "status"] == "no data").all()
    assert render_scorecard_html(ev).count("<svg") == len(ev)
    assert np.isfinite(customer["variance"]).all()
    assert (customer["note"] == "").all()  # rating targets on 1-10, the simulated data on 1-10


# ---------------------------------------------------------------- missing is no data; scales kept


@pytest.mark.parametrize("actual", [float("nan"), None, pd.NA, float("inf"), float("-inf"), np.float64("nan")])
@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_a_missing_actual_is_no_data_never_red(actual, direction):
    # with red: 0 any shortfall would be red: a missing value must not be taken as one
    assert rag_status(actual, 5.0, direction, 0.0, 0.0, False) == "no data"


def test_rag_status_rejects_a_non_finite_target():
    with pytest.raises(ValueError, match="target must be a finite number"):
        rag_status(1.0, float("nan"))
    with pytest.raises(ValueError, match="target must be a finite number"):
        rag_status(1.0, float("inf"), relative=False)


def test_nan_actuals_in_the_kpi_table_are_no_data_with_a_note():
    kpis = KPIS.assign(csat_mean=[7.0, 7.3, 7.6, np.nan], churn_rate=np.nan)
    kpis.attrs["notes"] = {"churn_rate": "no churn dates (churned_at) or churn flag (churned) in the customers table"}
    ev = evaluate_scorecard(SPEC, kpis).set_index("measure")
    assert (ev["status"] == "no data").all()
    assert ev.loc["CSAT", "note"] == "no value for 2024Q4" and ev.loc["CSAT", "previous"] == 7.6
    assert ev.loc["Churn", "note"].startswith("no churn dates")  # the KPI table's reason
    assert ev.loc["Staff trained", "note"] == "column 'staff_trained' is not in the KPI table"
    assert np.isnan(ev.loc["CSAT", "variance"])
    html_out = render_scorecard_html(ev.reset_index())
    assert "no value for 2024Q4" in html_out and 'title="no value for 2024Q4"' in html_out


def _rated_spec():
    return scorecard_from_dict(
        {
            "perspectives": [
                {
                    "perspective": "customer",
                    "objectives": [
                        {
                            "id": "sat",
                            "name": "Satisfied",
                            "measures": [
                                {"name": "CSAT", "kpi": "csat_mean", "target": 7.5, "scale": [1, 10]},
                                {"name": "Top box", "kpi": "csat_top_box", "target": 0.2, "scale": [1, 10]},
                                {"name": "Time", "kpi": "time_mean", "target": 4.0, "scale": [1, 5]},
                                {"name": "NPS", "kpi": "nps", "target": 10, "scale": [0, 10]},
                                {"name": "Unscaled CSAT", "id": "raw", "kpi": "csat_mean", "target": 3.0},
                            ],
                        }
                    ],
                }
            ]
        }
    )


RATED = pd.DataFrame(
    {
        "period": pd.period_range("2024Q1", periods=2, freq="Q"),
        "csat_mean": [3.9, 4.1],
        "csat_top_box": [0.3, 0.35],
        "time_mean": [3.5, 4.2],
        "nps": [12.0, 8.0],
    }
)


def test_a_target_written_on_another_scale_is_no_data_with_a_note():
    ratings = {"csat": RatingScale(1, 5), "time": RatingScale(1, 5)}
    ev = evaluate_scorecard(_rated_spec(), RATED, ratings=ratings).set_index("measure")
    note = "target written for 1-10, data on 1-5: write the target on the data's scale"
    for name in ("CSAT", "Top box"):
        assert ev.loc[name, "status"] == "no data" and ev.loc[name, "note"] == note
        assert np.isnan(ev.loc[name, "variance"])  # no comparison across scales
    assert ev.loc["CSAT", "actual"] == 4.1  # the data itself is still shown, on its own scale
    assert ev.loc["Time", "status"] == "green" and ev.loc["Time", "note"] == ""  # target on 1-5, data on 1-5
    assert ev.loc["NPS", "status"] == "red" and ev.loc["NPS", "variance"] == pytest.approx(-2.0)  # 0.2 short
    assert ev.loc["Unscaled CSAT", "status"] == "green"  # no declared scale: nothing to check
    # the same data declared on 1-10: compared as usual (4.1 against 7.5 is red)
    ten = evaluate_scorecard(_rated_spec(), RATED, ratings={"time": RatingScale(1, 5)}).set_index("measure")
    assert ten.loc["CSAT", "status"] == "red" and ten.loc["CSAT", "note"] == ""
    assert "Time" in ten.index and ten.loc["Time", "status"] == "green"
    # default ratings are 1-10 for time: its 1-5 target is refused
    default = evaluate_scorecard(_rated_spec(), RATED).set_index("measure")
    assert default.loc["Time", "status"] == "no data"
    assert default.loc["Time", "note"] == "target written for 1-5, data on 1-10: write the target on the data's scale"


def test_the_scales_kpi_summary_records_are_used(small_sim):
    surveys = small_sim.surveys.assign(csat=(small_sim.surveys["csat"] + 1) // 2)  # 1-10 -> 1-5 (test data only)
    kpis = kpi_summary(small_sim.customers, surveys, small_sim.transactions, ratings={"csat": RatingScale(1, 5)})
    ev = evaluate_scorecard(load_scorecard(), kpis).set_index("source")
    assert ev.loc["csat_mean", "status"] == "no data" and "data on 1-5" in ev.loc["csat_mean", "note"]
    assert ev.loc["csat_top_box", "status"] == "no data"
    assert ev.loc["time_mean", "status"] in {"green", "amber", "red"}  # drivers still on 1-10
    assert ev.loc["nps", "status"] in {"green", "amber", "red"}


def test_default_scorecard_on_data_without_cost_or_churn(small_sim):
    kpis = kpi_summary(
        small_sim.customers.drop(columns="churned_at"),
        small_sim.surveys,
        small_sim.transactions.drop(columns="cost_usd"),
    )
    ev = evaluate_scorecard(load_scorecard(), kpis).set_index("source")
    for source in ("profit_usd", "profit_per_customer_usd", "churn_rate", "retention_rate"):
        assert ev.loc[source, "status"] == "no data", source  # never red
        assert ev.loc[source, "note"], source
    assert ev.loc["revenue_usd", "status"] in {"green", "amber", "red"}
    assert "profit is not revenue" in ev.loc["profit_usd", "note"]


def test_a_kpi_table_without_periods_is_no_data_throughout():
    blank = kpi_summary(None, None, None)  # no dated data at all: no periods
    ev = evaluate_scorecard(load_scorecard(), blank)
    assert (ev["status"] == "no data").all() and set(ev["period"]) == {""}
    assert ev["actual"].isna().all() and (ev["trend"].map(len) == 0).all()
    assert (ev["note"] != "").all()
    assert render_scorecard_html(ev).count("<svg") == len(ev)
    with pytest.raises(ValueError, match="no periods"):
        evaluate_scorecard(load_scorecard(), blank, period="2024Q1")


def test_snapshot_churn_shares_are_not_compared_with_per_period_targets():
    rng = np.random.default_rng(3)
    n = 400
    customers = pd.DataFrame(
        {"customer_id": np.arange(n), "churned": rng.random(n) < 0.25, "tenure_months": rng.uniform(1, 60, n)}
    )
    surveys = pd.DataFrame(
        {"customer_id": np.arange(n), "surveyed_at": pd.Timestamp("2024-12-31"), "csat": rng.integers(1, 6, n) * 1.0}
    )
    kpis = kpi_summary(customers, surveys, None, freq="Q", ratings={"csat": RatingScale(1, 5)})
    spec = load_scorecard(None)
    out = evaluate_scorecard(spec, kpis).set_index("source")
    churn = out.loc["churn_rate"]
    assert churn["status"] == "no data" and np.isnan(churn["variance"])
    assert f"({customers['churned'].mean():.1%})" in churn["note"] and "not a rate per period" in churn["note"]
    assert churn["actual"] == pytest.approx(customers["churned"].mean())  # the figure is shown, not scored
    dated = kpis.copy()
    dated.attrs = {**kpis.attrs, "churn_basis": "per period"}
    assert evaluate_scorecard(spec, dated).set_index("source").loc["churn_rate", "status"] != "no data"


# ---------------------------------------------------------------- status in words, never by colour alone
def test_status_words_and_symbols():
    assert status_label("green") == "\u2713 on target" and status_label("red", symbol=False) == "off target"
    assert status_label("amber") == "\u26a0 at risk" and status_label("no data") == "\u2013 no data"
    assert status_label("odd") == "odd"  # an unknown status passes through


def test_html_writes_each_status_as_a_word_on_its_colour():
    ev = evaluate_scorecard(SPEC, KPIS)  # CSAT amber, churn red, staff no data
    out = render_scorecard_html(ev)
    for code in ("amber", "red", "no data"):
        bg, fg = STATUS_COLOURS[code]
        cell = re.search(rf"background:{bg};color:{fg}[^>]*>([^<]*)</td>", out)
        assert cell and cell.group(1) == status_label(code)  # the word sits in the coloured cell
    assert "\u2717 off target (red)" in out and "\u26a0 at risk (amber)" in out  # the legend names the colours


def test_status_counts_and_the_status_table():
    ev = evaluate_scorecard(SPEC, KPIS)
    counts = status_counts(ev)
    assert counts.loc["all measures"].to_dict() == {
        "on target": 0,
        "at risk": 1,
        "off target": 1,
        "no data": 1,
        "measures": 3,
    }
    assert list(status_counts(ev, "perspective_title").index) == ["Customer"]
    table = status_table(ev)
    assert list(table["status"]) == ["at risk", "off target", "no data"]
    assert list(table["status_code"]) == ["amber", "red", "no data"]
    assert table.loc[1, "initiatives"] == "Save desk" and table.loc[1, "actual"] == pytest.approx(0.071)
    assert "trend" not in table and set(STATUS_WORDS.values()) >= set(table["status"])


def test_attention_table_lists_the_worst_first_in_each_measures_format():
    ev = evaluate_scorecard(SPEC, KPIS)
    att = attention_table(ev)
    assert list(att["measure"]) == ["Churn", "CSAT"]  # off target before at risk
    churn = att.iloc[0]
    assert (churn["actual"], churn["target"], churn["variance"], churn["status"]) == (
        "7.1%",
        "5.0%",
        "+2.1%",
        "\u2717 off target",
    )
    assert (churn["change"], churn["improving"]) == ("+2.1%", "no")  # 5.0% -> 7.1%: the wrong way
    assert att.iloc[1]["actual"] == "7.40" and att.iloc[1]["owner"] == "CX lead"
    one = evaluate_scorecard(SPEC, KPIS.iloc[[0]])
    assert "change" not in attention_table(one)  # one period: no change to show


def test_attention_table_orders_like_the_worst_measure_within_a_status():
    """Two measures off target: the one furthest from its target (as a share of it) comes first."""
    from bsc_toolkit.report_kpis import worst_measure
    from bsc_toolkit.scorecard.evaluate import shortfalls

    kpis = KPIS.assign(csat_mean=[7.0, 7.3, 7.6, 6.0])  # CSAT 20% below 7.5; churn 42% above 0.05
    ev = evaluate_scorecard(SPEC, kpis)
    assert list(ev.set_index("measure").loc[["CSAT", "Churn"], "status"]) == ["red", "red"]
    gaps = shortfalls(ev)
    assert gaps.loc[0] == pytest.approx(1.5 / 7.5) and gaps.loc[1] == pytest.approx(0.021 / 0.05)
    assert list(attention_table(ev)["measure"]) == ["Churn", "CSAT"]  # 42% before 20%
    assert worst_measure(ev).label == "Furthest from target: Churn"  # the headline agrees
    swapped = evaluate_scorecard(
        SPEC, KPIS.assign(csat_mean=[7.0, 7.3, 7.6, 3.0], churn_rate=[0.08, 0.06, 0.05, 0.075])
    )
    assert list(swapped["status"][:2]) == ["red", "red"]
    assert list(attention_table(swapped)["measure"]) == ["CSAT", "Churn"]  # 60% before 50%
    assert worst_measure(swapped).label == "Furthest from target: CSAT"
