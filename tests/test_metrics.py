"""Customer KPIs against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics


@pytest.fixture()
def surveys():
    # 2024Q1: nps scores 10, 9, 8, 6, 0 -> 2 promoters, 1 passive, 2 detractors: NPS 0
    # 2024Q2: 10, 10, 7, 3 -> 2 promoters, 1 passive, 1 detractor: NPS 25
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 1, 2, 3, 4],
            "surveyed_at": pd.to_datetime(
                [
                    "2024-01-10",
                    "2024-02-01",
                    "2024-03-31",
                    "2024-01-02",
                    "2024-02-20",
                    "2024-04-01",
                    "2024-05-05",
                    "2024-06-30",
                    "2024-04-15",
                ]
            ),
            "csat": [10, 9, 8, 6, 2, 9, 10, 7, 4],
            "nps": [10, 9, 8, 6, 0, 10, 10, 7, 3],
            "segment": ["a", "a", "b", "b", "b", "a", "a", "b", "b"],
        }
    )


def test_nps_matches_hand_computation(surveys):
    out = metrics.nps(surveys)
    q1, q2 = out.iloc[0], out.iloc[1]
    assert str(q1["period"]) == "2024Q1" and q1["n_responses"] == 5
    assert q1["nps"] == pytest.approx(0.0)
    assert q1["promoters_share"] == pytest.approx(0.4) and q1["detractors_share"] == pytest.approx(0.4)
    # Var = (pP + pD - (pP - pD)^2) / n = (0.4 + 0.4 - 0) / 5 = 0.16 -> se = 40 points
    assert q1["nps_se"] == pytest.approx(40.0)
    assert q1["nps_ci_upper"] == pytest.approx(1.959964 * 40, rel=1e-5)
    assert q2["nps"] == pytest.approx(25.0)
    # (0.5 + 0.25 - 0.25^2) / 4 = 0.171875
    assert q2["nps_se"] == pytest.approx(100 * np.sqrt(0.171875))


def test_nps_by_segment_and_pooled(surveys):
    by = metrics.nps(surveys, by="segment", freq=None).set_index("segment")
    assert by.loc["a", "nps"] == pytest.approx(100.0)  # 10, 9, 10, 10
    assert by.loc["b", "nps"] == pytest.approx(-60.0)  # 8, 6, 0, 7, 3: 0 promoters, 3 detractors of 5
    pooled = metrics.nps(surveys, freq=None)
    assert pooled["n_responses"].item() == 9
    assert pooled["nps"].item() == pytest.approx(100 * (4 - 3) / 9)


def test_nps_bootstrap_interval_is_close_to_analytic():
    rng = np.random.default_rng(0)
    s = pd.DataFrame({"surveyed_at": pd.Timestamp("2024-01-01"), "nps": rng.integers(0, 11, 2000)})
    a = metrics.nps(s, method="analytic").iloc[0]
    b = metrics.nps(s, method="bootstrap", n_boot=4000, seed=1).iloc[0]
    assert b["nps_ci_lower"] == pytest.approx(a["nps_ci_lower"], abs=0.8)
    assert b["nps_ci_upper"] == pytest.approx(a["nps_ci_upper"], abs=0.8)


def test_nps_rejects_out_of_scale_values(surveys):
    bad = surveys.assign(nps=surveys["nps"].where(surveys.index != 2, 11))
    with pytest.raises(ValueError, match="0-10 scale"):
        metrics.nps(bad)


def test_csat_mean_and_top_two_box(surveys):
    out = metrics.csat_summary(surveys)
    q1 = out.iloc[0]
    assert q1["csat_mean"] == pytest.approx(7.0)  # (10+9+8+6+2)/5
    assert q1["csat_top2_box"] == pytest.approx(0.4)  # 10 and 9
    sd = np.std([10, 9, 8, 6, 2], ddof=1)
    assert q1["csat_mean_ci_upper"] - q1["csat_mean"] == pytest.approx(2.776445 * sd / np.sqrt(5), rel=1e-5)
    assert q1["csat_top2_box_ci_lower"] < 0.4 < q1["csat_top2_box_ci_upper"]
    five = metrics.csat_summary(surveys.assign(csat=[5, 4, 3, 2, 1, 5, 5, 4, 1]), scale_max=5, top_box=2, freq=None)
    assert five["csat_top2_box"].item() == pytest.approx(5 / 9)


@pytest.fixture()
def customers():
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "segment": ["a", "a", "a", "b", "b", "b"],
            "channel": ["web"] * 6,
            "acquired_at": pd.to_datetime(
                ["2023-06-01", "2023-07-01", "2024-02-01", "2023-01-01", "2024-04-10", "2024-05-01"]
            ),
            "churned_at": pd.to_datetime([None, "2024-02-15", None, "2024-05-01", None, "2024-06-01"]),
        }
    )


def test_retention_counts_and_rates(customers):
    out = metrics.retention(customers, start="2024Q1", end="2024Q2").set_index("period")
    q1, q2 = out.loc[pd.Period("2024Q1")], out.loc[pd.Period("2024Q2")]
    # start of Q1: customers 1, 2, 4 active; 3 acquired; 2 churned
    assert (q1["n_customers_start"], q1["acquired"], q1["churned"], q1["n_customers_end"]) == (3, 1, 1, 3)
    assert q1["churn_rate"] == pytest.approx(1 / 3)
    # Q2: start 1, 3, 4; acquired 5, 6; churned 4 (from start) and 6 (new): rate counts only 4
    assert (q2["n_customers_start"], q2["acquired"], q2["churned"], q2["n_customers_end"]) == (3, 2, 2, 3)
    assert q2["churn_rate"] == pytest.approx(1 / 3)
    assert q2["retention_rate"] == pytest.approx(2 / 3)
    by = metrics.retention(customers, by="segment", start="2024Q2", end="2024Q2").set_index("segment")
    assert by.loc["a", "churn_rate"] == 0 and by.loc["b", "churn_rate"] == 1.0


def test_acquisition(customers):
    out = metrics.acquisition(customers, start="2024Q1", end="2024Q2")
    assert out["acquired"].tolist() == [1, 2]
    assert out["acquisition_rate"].tolist() == pytest.approx([1 / 3, 2 / 3])


@pytest.fixture()
def transactions():
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3, 3, 3],
            "ordered_at": pd.to_datetime(
                ["2024-01-05", "2024-04-05", "2024-02-01", "2024-02-02", "2024-05-01", "2024-06-01"]
            ),
            "revenue_usd": [100.0, 50.0, 30.0, 10.0, 10.0, 10.0],
            "cost_usd": [60.0, 30.0, 10.0, 20.0, 15.0, 5.0],
        }
    )


def test_profitability_and_whale_curve(transactions, customers):
    prof = metrics.customer_profitability(transactions, customers, by="segment").set_index("customer_id")
    assert prof.loc[1, "profit_usd"] == 60 and prof.loc[2, "profit_usd"] == 20 and prof.loc[3, "profit_usd"] == -10
    assert prof.loc[4, "n_orders"] == 0 and prof.loc[4, "profit_usd"] == 0
    assert prof.loc[1, "margin_rate"] == pytest.approx(0.4)
    whale = metrics.whale_curve(prof.reset_index())
    # total profit 70; ranked 60, 20, 0, 0, 0, -10 -> cumulative 86%, 114%, ..., 100%
    assert whale["cumulative_profit_share"].iloc[1] == pytest.approx(60 / 70)
    assert whale["cumulative_profit_share"].max() == pytest.approx(80 / 70)
    assert whale["cumulative_profit_share"].iloc[-1] == pytest.approx(1.0)
    assert whale["customer_share"].iloc[-1] == pytest.approx(1.0)


def test_whale_curve_needs_positive_profit(transactions):
    prof = metrics.customer_profitability(transactions.assign(cost_usd=1000.0))
    with pytest.raises(ValueError, match="positive total profit"):
        metrics.whale_curve(prof)


def test_market_share(transactions):
    out = metrics.market_share(transactions, pd.Series({"2024Q1": 1400.0, "2024Q2": 700.0}))
    assert out["revenue_usd"].tolist() == [140.0, 70.0]
    assert out["market_share"].tolist() == pytest.approx([0.1, 0.1])
    with pytest.raises(ValueError, match="market size missing"):
        metrics.market_share(transactions, pd.Series({"2024Q1": 1.0}))


def test_kpi_summary_and_compare_periods(customers, surveys, transactions):
    surveys = surveys[surveys["customer_id"] <= 6]
    kpis = metrics.kpi_summary(customers, surveys, transactions)
    assert list(kpis.columns) == ["period", *metrics.KPI_COLUMNS]
    q1 = kpis.iloc[0]
    assert q1["revenue_usd"] == 140 and q1["profit_usd"] == 50
    assert q1["nps"] == pytest.approx(0.0) and q1["churn_rate"] == pytest.approx(1 / 3)
    # average of 3 customers at start and 3 at end
    assert q1["revenue_per_customer_usd"] == pytest.approx(140 / 3)
    cmp = metrics.compare_periods(kpis).set_index("kpi")
    assert cmp.loc["revenue_usd", "current"] == 70 and cmp.loc["revenue_usd", "change"] == -70
    by = metrics.kpi_summary(customers, surveys, transactions, by="segment")
    assert set(by["segment"]) == {"a", "b"}
    assert by.groupby("period")["revenue_usd"].sum().tolist() == [140.0, 70.0]


def test_missing_columns_are_named(surveys):
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['nps'\]"):
        metrics.nps(surveys.drop(columns="nps"))


def test_alpha_sets_every_interval_and_confidence_is_deprecated(small_sim):
    surveys = small_sim.surveys
    wide = metrics.nps(surveys, freq=None)
    narrow = metrics.nps(surveys, freq=None, alpha=0.5)
    assert (narrow["nps_ci_upper"] - narrow["nps_ci_lower"]).iloc[0] < (
        wide["nps_ci_upper"] - wide["nps_ci_lower"]
    ).iloc[0]
    with pytest.warns(FutureWarning, match="alpha"):
        old = metrics.retention(small_sim.customers, confidence=0.9)
    new = metrics.retention(small_sim.customers, alpha=0.1)
    pd.testing.assert_frame_equal(old, new)
    with pytest.raises(ValueError, match="alpha"):
        metrics.csat_summary(surveys, alpha=95)


def test_wilson_interval_matches_the_formula():
    from bsc_toolkit.metrics._common import _wilson

    lo, hi = _wilson(np.array([3.0, 0.0, 5.0]), np.array([10.0, 0.0, 5.0]), 0.05)
    z = 1.959963985
    p, n = 0.3, 10
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert lo[0] == pytest.approx(centre - half, rel=1e-8) and hi[0] == pytest.approx(centre + half, rel=1e-8)
    assert np.isnan(lo[1]) and np.isnan(hi[1])  # no customers: no interval, not 0
    assert hi[2] == pytest.approx(1.0) and lo[2] < 1


def test_the_package_re_exports_every_kpi_function_from_its_module():
    from bsc_toolkit.metrics import customers, profitability, satisfaction, summary

    modules = (satisfaction, customers, profitability, summary)
    for name in metrics.__all__:
        owners = [m for m in modules if name in m.__all__]
        assert len(owners) == 1, name  # one job, one home
        assert getattr(metrics, name) is getattr(owners[0], name)
