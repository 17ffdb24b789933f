"""The report data: today's data on small data sets; on large ones a documented sample for the models, full-data tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics, report_data
from bsc_toolkit import report_clv as rc
from bsc_toolkit import report_clv_headline as rch
from bsc_toolkit import report_kpis as rk
from bsc_toolkit import report_retention as rr
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.engine.sample import Sampling
from bsc_toolkit.headline import Headline, HeadlineFigure, headline_frame, kpi_figures

N_SAMPLE = 400  # of the 2,000 customers of the default data set


@pytest.fixture(scope="module")
def full():
    """The default data as every report loads it today."""
    return load_dataset().up_to_date_limit()


@pytest.fixture(scope="module")
def sampled():
    """The default data with the reports' sample forced below its size: DuckDB, a sample of 400."""
    return report_data.load_report_data(max_customers=N_SAMPLE)


def _assert_same_data(a, b):
    for name in ("customers", "surveys", "transactions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.description == b.description and a.notes == b.notes and a.warnings == b.warnings


# ------------------------------------------------------------------ small data: today's path
def test_small_data_is_loaded_as_today(full):
    rd = report_data.load_report_data()
    assert rd.sampling is None and rd.tables is None and rd.engine == "pandas" and not rd.sampled
    _assert_same_data(rd.data, full)
    assert rd.notice_markdown() == "" and rd.sentence() == "" and rd.engine_markdown() == ""
    assert rd.factor == 1 and rd.scale_total(12.5) == 12.5 and rd.model_note("n") == "n"


def test_pandas_engine_never_samples(full):
    rd = report_data.load_report_data(engine="pandas", max_customers=10)
    assert rd.sampling is None
    _assert_same_data(rd.data, full)


def test_small_path_does_not_open_an_engine():
    """A folder whose files hold fewer rows than max_customers is loaded without asking an engine."""
    assert report_data._surely_within(None, 2_001)
    assert not report_data._surely_within(None, 1_000)


def test_invalid_arguments():
    from bsc_toolkit.engine.backends import EngineError

    with pytest.raises(EngineError, match="unknown engine"):
        report_data.load_report_data(engine="polars")
    with pytest.raises(ValueError, match="max_customers"):
        report_data.load_report_data(max_customers=0)


def test_small_path_tables_are_the_metrics(full):
    rd = report_data.load_report_data()
    kpi = report_data.kpi_table(rd, freq="Q")
    expected = metrics.kpi_summary(
        full.customers, full.surveys, full.transactions, freq="Q", ratings=full.ratings, drivers=full.drivers
    )
    pd.testing.assert_frame_equal(kpi, expected)
    prof, whale = report_data.profitability(rd, by="segment")
    # the per-customer table is the metrics one of the whole data (not of a sample), and the curve is built on it
    expected_prof = metrics.customer_profitability(full.transactions, full.customers, by="segment")
    pd.testing.assert_frame_equal(
        prof.sort_values("customer_id", ignore_index=True), expected_prof.sort_values("customer_id", ignore_index=True)
    )
    pd.testing.assert_frame_equal(whale, metrics.whale_curve(prof))
    kh = report_data.kpi_headline(rd, "Q", kpis=report_data.kpi_table(rd, freq="Q", drivers=[]))
    pd.testing.assert_frame_equal(headline_frame(kh.figures), headline_frame(kpi_figures(full).figures))


# ------------------------------------------------------------------ large data: sample + engine
@pytest.mark.slow
def test_sample_is_drawn_and_said(sampled, full):
    s = sampled.sampling
    assert sampled.sampled and sampled.engine == "duckdb" and sampled.tables is not None
    assert (s.n_total, s.n_sampled, s.seed) == (2000, N_SAMPLE, report_data.SAMPLE_SEED)
    assert len(sampled.data.customers) == N_SAMPLE and sampled.n_customers == 2000
    assert set(sampled.data.customers["customer_id"]) <= set(full.customers["customer_id"])
    assert sampled.sentence().startswith(
        "Models fitted on a random sample of 400 of 2,000 customers (20.0 %, seed 2024)"
    )
    assert "400 of 2\\,000" in sampled.notice_markdown()
    assert "2,000 customers; in memory, a random sample of 400 customers" in sampled.data_notes_markdown()
    assert sampled.factor == 5 and sampled.scale_total(3.0) == 15.0
    assert sampled.in_sample() == " customers in the sample"
    again = report_data.load_report_data(max_customers=N_SAMPLE)  # reproducible
    pd.testing.assert_frame_equal(again.data.customers, sampled.data.customers)


@pytest.mark.slow
def test_full_data_tables_on_the_engine_equal_pandas(sampled, full):
    """KPI tables, headline, answers, drivers, customers, market revenue, profitability: every customer."""
    for by in (None, "segment"):
        got = report_data.kpi_table(sampled, freq="Q", by=by)
        want = metrics.kpi_summary(
            full.customers, full.surveys, full.transactions, freq="Q", by=by, ratings=full.ratings, drivers=full.drivers
        )
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)
    kh = report_data.kpi_headline(sampled, "Q")
    pd.testing.assert_frame_equal(
        headline_frame(kh.figures), headline_frame(kpi_figures(full).figures), check_exact=False, rtol=1e-9
    )
    assert kh.period == kpi_figures(full).period
    # csat and nps with their intervals, from the engine's answer counts
    surveys = full.surveys.merge(full.customers[["customer_id", "segment"]], on="customer_id")
    got = metrics.csat_summary(report_data.answers(sampled, "csat", "segment"), by="segment", freq="Q")
    pd.testing.assert_frame_equal(got, metrics.csat_summary(surveys, by="segment", freq="Q"), rtol=1e-9)
    got = metrics.nps(report_data.answers(sampled, "nps"), freq="Q")
    pd.testing.assert_frame_equal(got, metrics.nps(full.surveys, freq="Q"), rtol=1e-9)
    pd.testing.assert_frame_equal(
        report_data.driver_table(sampled, "Q"),
        rk.driver_means(full.surveys, full.drivers, "Q", labels=full.driver_labels, ratings=full.ratings),
        rtol=1e-9,
    )
    customers = report_data.customers_table(sampled)
    pd.testing.assert_frame_equal(
        metrics.retention(customers, by="segment", freq="Q"), metrics.retention(full.customers, by="segment", freq="Q")
    )
    pd.testing.assert_frame_equal(
        metrics.market_share(report_data.market_transactions(sampled, "Q"), 1e7),
        metrics.market_share(full.transactions, 1e7),
        rtol=1e-9,
    )
    prof, whale = report_data.profitability(sampled, by="segment")
    want = metrics.customer_profitability(full.transactions, full.customers, by="segment")
    assert "customer_id" not in prof.columns and len(prof) == len(want)
    assert prof["profit_usd"].sum() == pytest.approx(want["profit_usd"].sum(), rel=1e-9)
    pd.testing.assert_frame_equal(
        rk.profitability_by_segment(prof, "segment"), rk.profitability_by_segment(want, "segment"), rtol=1e-9
    )
    assert rk.profitability_markdown(prof, whale, "USD") == rk.profitability_markdown(
        want, metrics.whale_curve(want), "USD"
    )
    assert whale["customer_id"].isna().all()
    assert report_data.refunds_markdown(sampled, prof) == rk.refunds_markdown(full.transactions, want, "USD")
    periods = [pd.Period("2025Q4", "Q"), pd.Period("2025Q3", "Q")]
    assert report_data.partial_periods_markdown(sampled, periods, "Q") == rk.partial_periods_markdown(
        full.surveys, full.transactions, periods, "Q"
    )


@pytest.mark.slow
def test_masked_sample_shows_pseudonyms_only(monkeypatch):
    monkeypatch.setenv("BSC_MASK_KEY", "cd" * 16)
    rd = report_data.load_report_data(mask_ids=True, max_customers=100)
    assert rd.data.customers["customer_id"].str.startswith("C-").all()
    assert rd.data.transactions["customer_id"].str.startswith("C-").all()
    prof, whale = report_data.profitability(rd)
    assert "customer_id" not in prof.columns and whale["customer_id"].isna().all()


# ------------------------------------------------------------------ figures from the sample say so, totals scaled
def _sampled_record(n_total=1_000_000, n=50_000) -> report_data.ReportData:
    return report_data.ReportData(load_dataset(), sampling=Sampling(n_total, n, engine="duckdb"), engine="duckdb")


def test_mark_sampled_notes_model_figures_only():
    rd = _sampled_record()
    hl = Headline("t")
    hl.add(
        HeadlineFigure("CSAT mean", 7.0, "score", key="csat_mean", note="a KPI"),
        HeadlineFigure("churn ratio", 0.8, "ratio", key="churn_ratio_below", note="association."),
        HeadlineFigure("value", 2.0e6, "money", key="value_of_csat_point"),
        HeadlineFigure("missing", None, "ratio", key="churn_ratio_above", note="not computed"),
    )
    rd.mark_sampled(hl, "churn_ratio", "value_of", scaled=["value_of"])
    rd.mark_sampled(hl, "churn_ratio")  # said once
    notes = {f.key: f.note for f in hl.figures}
    assert notes["csat_mean"] == "a KPI" and notes["churn_ratio_above"] == "not computed"
    assert notes["churn_ratio_below"] == (
        "association; fitted on a random sample of 50,000 of 1,000,000 customers (5.0 %)"
    )
    assert "scaled to all 1,000,000 (x 20)" in notes["value_of_csat_point"]


def test_what_if_totals_are_scaled_and_said():
    from bsc_toolkit.models.whatif import WhatIfResult

    summary = pd.DataFrame(
        {
            "baseline": [900.0, 1e5],
            "scenario": [950.0, 1.1e5],
            "change": [50.0, 1e4],
            "ci_lower": [40.0, 8e3],
            "ci_upper": [60.0, 1.2e4],
            "change_per_customer": [0.05, 10.0],
            "change_per_customer_ci_lower": [0.04, 8.0],
            "change_per_customer_ci_upper": [0.06, 12.0],
        },
        index=pd.Index(["retained_customers", "revenue_usd"], name="metric"),
    )
    settings = dict(n_customers=1000, delta=1.0, driver=None, segment=None, horizon_periods=4, freq="Q", alpha=0.05,
                    n_sims=10, seed=0, currency="USD")  # fmt: skip
    result = WhatIfResult(summary, pd.DataFrame({"revenue_usd": [1.0, 2.0]}), pd.DataFrame(), settings)
    scaled = rr.scale_what_if(result, 20.0)
    assert scaled.summary.loc["revenue_usd", "change"] == 2e5 and scaled.summary.loc["revenue_usd", "ci_upper"] == 2.4e5
    assert scaled.summary.loc["revenue_usd", "change_per_customer"] == 10.0
    assert scaled.draws["revenue_usd"].tolist() == [20.0, 40.0] and scaled.settings["n_customers"] == 20_000
    plan = {"retained_customers": None, "revenue_usd": None, "margin_usd": "no cost"}
    words = rr.what_if_markdown(scaled, "USD", plan, load_dataset().scale("csat"))
    assert "about 20,000 active customers (1,000 of them in the sample)" in words and "(x 20)" in words
    figure = rr.what_if_figure(scaled, plan, "USD", label="revenue")
    assert figure.value == 2e5 and "about 20,000 active customers" in figure.note
    assert rr.scale_what_if(result, 1.0) is result


def test_clv_totals_are_scaled_and_said():
    value = pd.DataFrame(
        {
            "segment": ["a", "a", "b", None],
            "clv_usd": [100.0, 300.0, np.nan, 50.0],
            "clv_margin_usd": [10.0, 30.0, np.nan, 5.0],
            "expected_purchases": [1.0, 2.0, 3.0, 4.0],
        }
    )
    frame = rch.segment_frame(value, "segment", scale=10)
    plain = rch.segment_frame(value, "segment")
    pd.testing.assert_series_equal(frame["total_value"], 10 * plain["total_value"])
    pd.testing.assert_series_equal(frame["customers"], 10 * plain["customers"])
    pd.testing.assert_series_equal(frame["mean_value"], plain["mean_value"])
    pd.testing.assert_series_equal(frame["share_of_value"], plain["share_of_value"])
    figures = rch.buyer_figures(value, [], "USD", 12, scale=10)
    assert figures[0].value == 4500.0 and figures[1].value == 100.0
    # a scaled total without an interval keeps three significant digits: no false precision from a sample
    odd = value.assign(clv_usd=[100.123, 300.456, np.nan, 50.789])
    assert rch.buyer_figures(odd, [], "USD", 12, scale=20)[0].value == 9030.0  # 20 x 451.368 = 9,027.36
    assert rch.buyer_figures(odd, [], "USD", 12)[0].value == pytest.approx(451.368)  # the whole base: as it is
    words = rc.buyer_value_markdown(value, 12, "USD", scale=10)
    assert "**4,500 USD**" in words and "**450 USD** of gross margin" in words and "(x 10)" in words
    assert "(x" not in rc.buyer_value_markdown(value, 12, "USD")
    risk = pd.DataFrame(
        {"estimate": [1000.0, 0.25, -5.0], "ci_lower": [800.0, 0.2, -9.0], "ci_upper": [1200.0, 0.3, -1.0]},
        index=["clv_at_risk_usd", "share_of_clv", "mean_clv_gap_low_minus_rest_usd"],
    )
    scaled = rch.scale_at_risk(risk, 10)
    assert scaled.loc["clv_at_risk_usd"].tolist() == [10000.0, 8000.0, 12000.0]
    assert scaled.loc["share_of_clv"].equals(risk.loc["share_of_clv"]) and rch.scale_at_risk(None, 10) is None
    low = pd.Series([True, False, False, True])
    words = rc.at_risk_markdown(scaled, low, 5, "latest csat <= 6", "CLV", "USD", scale=10)
    assert "About 20 of 40 surveyed customers (50%; 2 of 4 in the sample)" in words and "**10,000 USD**" in words
    what_if = pd.DataFrame(
        {
            "baseline": [10.0, 0.5],
            "scenario": [12.0, 0.6],
            "change": [2.0, 0.1],
            "change_ci_lower": [1.0, 0.0],
            "change_ci_upper": [3.0, 0.2],
        },  # fmt: skip
        index=["clv", "mean_p_alive_horizon"],
    )
    out = rch.scale_totals(what_if, rch.WHAT_IF_TOTALS, 10)
    assert out.loc["clv"].tolist() == [100.0, 120.0, 20.0, 10.0, 30.0]
    assert out.loc["mean_p_alive_horizon"].equals(what_if.loc["mean_p_alive_horizon"])


@pytest.mark.slow
def test_report_on_a_sample_says_so(tmp_path):
    """End to end: the chain report on the default data with max_customers below its size states the sample."""
    out = tmp_path / "out"
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "service_profit_chain.ipynb"
    cmd = [sys.executable, "-m", "bsc_toolkit.cli", "report", str(notebook), "--out", str(out)]
    cmd += ["-p", "max_customers", "500", "-p", "n_boot", "30"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (out / "service_profit_chain.html").read_text(encoding="utf-8")
    assert "Models fitted on a random sample of 500 of 2,000 customers (25.0 %, seed 2024)" in html
    assert "fitted on a random sample of 500 of 2,000 customers (25.0 %)" in html  # beside the figures
    assert "customers in the sample" in html and "Traceback" not in html
