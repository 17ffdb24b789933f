"""Scorecard evaluation: RAG status, variance, trend, HTML rendering."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.metrics import kpi_summary
from bsc_toolkit.scorecard.evaluate import STATUS_COLOURS, evaluate_scorecard, rag_status, render_scorecard_html
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
