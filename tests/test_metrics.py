"""Customer KPIs against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics
from bsc_toolkit.contracts import DRIVERS, RatingScale


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
    assert q1["csat_top_box"] == pytest.approx(0.4)  # 10 and 9: the top-2-box of the default 1-10 scale
    sd = np.std([10, 9, 8, 6, 2], ddof=1)
    assert q1["csat_mean_ci_upper"] - q1["csat_mean"] == pytest.approx(2.776445 * sd / np.sqrt(5), rel=1e-5)
    assert q1["csat_top_box_ci_lower"] < 0.4 < q1["csat_top_box_ci_upper"]
    assert "csat_top2_box" not in out.columns
    five = surveys.assign(csat=[5, 4, 3, 2, 1, 5, 5, 4, 1])
    new = metrics.csat_summary(five, scale=RatingScale(1, 5), freq=None)
    assert new["csat_top_box"].item() == pytest.approx(5 / 9)  # top-2 of 1-5 is 4-5: 5, 4, 5, 5, 4
    with pytest.warns(FutureWarning, match="scale=RatingScale"):
        old = metrics.csat_summary(five, scale_max=5, top_box=2, freq=None)
    pd.testing.assert_frame_equal(old, new)


@pytest.mark.parametrize(
    "scale, scores, expected",
    [
        (RatingScale(1, 5, top_box=2), [5, 4, 3, 2, 1], 2 / 5),  # 4-5
        (RatingScale(1, 5, top_box=1), [5, 4, 3, 2, 1], 1 / 5),  # 5 only
        (RatingScale(1, 7, top_box=3), [7, 6, 5, 4, 1], 3 / 5),  # 5-7
        (RatingScale(0, 10, top_box=2), [0, 9, 10, 8, 5], 2 / 5),  # 9-10
        (RatingScale(0, 100, top_box=21), [80, 79, 100, 50, 0], 2 / 5),  # 80-100
    ],
)
def test_csat_top_box_follows_the_declared_scale(scale, scores, expected):
    s = pd.DataFrame({"customer_id": range(5), "surveyed_at": pd.Timestamp("2024-03-01"), "csat": scores})
    out = metrics.csat_summary(s, scale=scale)
    assert out["csat_top_box"].item() == pytest.approx(expected)
    assert out["csat_mean"].item() == pytest.approx(np.mean(scores))  # never rescaled
    assert out.attrs["scale"] == scale


def test_csat_outside_its_declared_scale_is_an_error(surveys):
    with pytest.raises(ValueError, match="outside its declared 1-5 scale"):
        metrics.csat_summary(surveys, scale=RatingScale(1, 5))  # 1-10 data declared 1-5
    with pytest.raises(ValueError, match="not both"):
        metrics.csat_summary(surveys, scale=RatingScale(1, 10), scale_max=10)


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
    assert set(whale["measure"]) == {"profit"} and set(whale["basis"]) == {"total profit"}
    assert whale["basis_usd"].iloc[0] == pytest.approx(70.0)


def test_market_share(transactions):
    out = metrics.market_share(transactions, pd.Series({"2024Q1": 1400.0, "2024Q2": 700.0}))
    assert out["revenue_usd"].tolist() == [140.0, 70.0]
    assert out["market_share"].tolist() == pytest.approx([0.1, 0.1])
    with pytest.raises(ValueError, match="market size missing"):
        metrics.market_share(transactions, pd.Series({"2024Q1": 1.0}))


def test_kpi_summary_and_compare_periods(customers, surveys, transactions):
    surveys = surveys[surveys["customer_id"] <= 6]
    kpis = metrics.kpi_summary(customers, surveys, transactions)
    # no driver ratings in these surveys: the fixed KPIs only (the default drivers' means when present)
    assert list(kpis.columns) == ["period", *metrics.kpi_columns([])]
    with_drivers = metrics.kpi_summary(customers, surveys, transactions, drivers=DRIVERS)
    assert list(with_drivers.columns) == ["period", *metrics.KPI_COLUMNS]
    assert with_drivers[[f"{d}_mean" for d in DRIVERS]].isna().all().all()  # asked for, absent: no data
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


# ---------------------------------------------------------------- missing is no data


def _q(kpis: pd.DataFrame, period: str, **group) -> pd.Series:
    rows = kpis[kpis["period"] == pd.Period(period, "Q")]
    for col, value in group.items():
        rows = rows[rows[col] == value]
    assert len(rows) == 1
    return rows.iloc[0]


def test_kpi_summary_hand_computed_reference(customers, surveys, transactions):
    kpis = metrics.kpi_summary(customers, surveys[surveys["customer_id"] <= 6], transactions)
    q1, q2 = _q(kpis, "2024Q1"), _q(kpis, "2024Q2")
    # Q1: revenue 100 + 30 + 10, cost 60 + 10 + 20; Q2: 50 + 10 + 10, cost 30 + 15 + 5
    assert (q1["revenue_usd"], q1["cost_usd"], q1["profit_usd"]) == (140, 90, 50)
    assert (q2["revenue_usd"], q2["cost_usd"], q2["profit_usd"]) == (70, 50, 20)
    assert q1["csat_top_box"] == pytest.approx(0.4) and q1["csat_mean"] == pytest.approx(7.0)
    assert (q1["n_customers_start"], q1["acquired"], q1["churned"]) == (3, 1, 1)
    assert not kpis.attrs["notes"]  # everything is there: nothing to explain


@pytest.mark.parametrize(
    "drop, table, nan_cols",
    [
        ("cost_usd", "transactions", ["cost_usd", "profit_usd", "profit_per_customer_usd"]),
        ("revenue_usd", "transactions", ["revenue_usd", "cost_usd", "profit_usd", "revenue_per_customer_usd"]),
        ("ordered_at", "transactions", ["revenue_usd", "cost_usd", "profit_usd", "profit_per_customer_usd"]),
        ("csat", "surveys", ["csat_mean", "csat_top_box"]),
        ("nps", "surveys", ["nps"]),
        ("surveyed_at", "surveys", ["csat_mean", "csat_top_box", "nps"]),
        ("churned_at", "customers", ["n_customers_start", "churned", "churn_rate", "retention_rate"]),
        ("acquired_at", "customers", ["acquired", "n_customers_start", "churn_rate", "revenue_per_customer_usd"]),
    ],
)
def test_kpi_summary_absent_column_is_no_data(customers, surveys, transactions, drop, table, nan_cols):
    tables = {"customers": customers, "surveys": surveys[surveys["customer_id"] <= 6], "transactions": transactions}
    full = metrics.kpi_summary(**tables, start="2024Q1", end="2024Q2")
    tables[table] = tables[table].drop(columns=drop)
    kpis = metrics.kpi_summary(**tables, start="2024Q1", end="2024Q2")
    assert list(kpis.columns) == list(full.columns)
    assert kpis[nan_cols].isna().all().all()  # no data, never 0
    assert all(c in kpis.attrs["notes"] for c in nan_cols)  # and the table says why
    others = [c for c in full.columns if c != "period" and full[c].notna().all() and kpis[c].notna().all()]
    pd.testing.assert_frame_equal(kpis[others], full[others])  # the rest is unchanged
    assert len(others) >= 4


def test_no_cost_means_no_profit_not_revenue(customers, surveys, transactions):
    kpis = metrics.kpi_summary(customers, surveys, transactions.drop(columns="cost_usd"))
    assert _q(kpis, "2024Q1")["revenue_usd"] == 140
    assert kpis["profit_usd"].isna().all() and kpis["cost_usd"].isna().all()  # today's bug: profit = revenue
    assert "profit is not revenue" in kpis.attrs["notes"]["profit_usd"]


@pytest.mark.parametrize("empty", [None, "no rows"])
def test_no_transactions_means_no_revenue(customers, surveys, transactions, empty):
    tx = None if empty is None else transactions.iloc[:0]
    kpis = metrics.kpi_summary(customers, surveys, tx)
    assert len(kpis) == 2  # periods of the surveys
    assert kpis[["revenue_usd", "cost_usd", "profit_usd", "revenue_per_customer_usd"]].isna().all().all()
    assert _q(kpis, "2024Q2")["nps"] == pytest.approx(25.0)  # the surveys still count


def test_no_churn_information_is_not_zero_churn(customers, surveys, transactions):
    kpis = metrics.kpi_summary(customers.drop(columns="churned_at"), surveys, transactions)
    assert kpis[["churn_rate", "retention_rate", "churned", "n_customers_start"]].isna().all().all()
    assert kpis["acquired"].tolist() == [1, 2]  # acquisitions are still known
    assert kpis.attrs["churn_basis"] == "no churn data"
    ret = metrics.retention(customers.drop(columns="churned_at"), start="2024Q1", end="2024Q1")
    assert ret["churn_basis"].item() == "no churn data" and np.isnan(ret["churn_rate"].item())


def test_true_zero_revenue_versus_no_data(customers, surveys, transactions):
    # segment b (customers 4, 5, 6) orders nothing in quarters that have orders: a true 0;
    # 2023Q4 has no order at all: no data for either segment
    kpis = metrics.kpi_summary(customers, surveys, transactions, by="segment", start="2023Q4", end="2024Q2")
    assert _q(kpis, "2024Q1", segment="b")["revenue_usd"] == 0.0
    assert _q(kpis, "2024Q2", segment="b")["cost_usd"] == 0.0
    assert _q(kpis, "2024Q1", segment="a")["revenue_usd"] == 140.0
    assert _q(kpis, "2023Q4", segment="a")[["revenue_usd", "profit_usd"]].isna().all()
    assert _q(kpis, "2023Q4", segment="b")[["revenue_usd", "profit_usd"]].isna().all()
    assert "without any order" in kpis.attrs["notes"]["revenue_usd"]


def test_a_missing_amount_makes_the_sum_unknown(customers, transactions):
    tx = transactions.assign(cost_usd=[60.0, 30.0, np.nan, 20.0, 15.0, 5.0])  # one Q1 cost missing
    kpis = metrics.kpi_summary(customers, None, tx)
    q1, q2 = _q(kpis, "2024Q1"), _q(kpis, "2024Q2")
    assert q1["revenue_usd"] == 140 and np.isnan(q1["cost_usd"]) and np.isnan(q1["profit_usd"])
    assert q2["cost_usd"] == 50 and q2["profit_usd"] == 20  # a partial sum is not the total
    prof = metrics.customer_profitability(tx).set_index("customer_id")
    assert np.isnan(prof.loc[2, "profit_usd"]) and prof.loc[1, "profit_usd"] == 60


@pytest.mark.parametrize("which", ["customers", "surveys", "transactions", "all"])
def test_kpi_summary_on_empty_tables(customers, surveys, transactions, which):
    tables = {"customers": customers, "surveys": surveys, "transactions": transactions}
    for name in tables if which == "all" else [which]:
        tables[name] = tables[name].iloc[:0]
    kpis = metrics.kpi_summary(**tables, start="2024Q1", end="2024Q2")
    assert kpis["period"].astype(str).tolist() == ["2024Q1", "2024Q2"]
    if which in ("customers", "all"):
        assert kpis["churn_rate"].isna().all() and kpis["revenue_per_customer_usd"].isna().all()
    if which in ("surveys", "all"):
        assert kpis[["csat_mean", "csat_top_box", "nps"]].isna().all().all()
    if which in ("transactions", "all"):
        assert kpis["revenue_usd"].isna().all()
    if which == "surveys":
        assert kpis["revenue_usd"].tolist() == [140, 70]
    # no dates anywhere and no range: an empty table with the columns
    bare = metrics.kpi_summary(customers[["customer_id"]], None, None)
    assert bare.empty and list(bare.columns) == ["period", *metrics.kpi_columns([])]
    assert metrics.compare_periods(bare)["current"].isna().all()


def test_kpi_summary_with_only_customer_ids(customers):
    kpis = metrics.kpi_summary(customers[["customer_id"]], None, None, start="2024Q1", end="2024Q3")
    assert len(kpis) == 3
    assert kpis.drop(columns="period").isna().all().all()  # nothing known, nothing made up
    assert set(kpis.attrs["notes"]) == set(metrics.kpi_columns([]))


def test_rating_scales_and_drivers_are_arguments(surveys, customers):
    five = surveys.assign(csat=[5, 4, 3, 2, 1, 5, 5, 4, 1], speed=[1, 2, 3, 4, 5, 1, 1, 1, 1])
    kpis = metrics.kpi_summary(customers, five, None, ratings={"csat": RatingScale(1, 5)}, drivers=["speed", "image"])
    assert list(kpis.columns) == ["period", *metrics.kpi_columns(["speed", "image"])]
    q1 = _q(kpis, "2024Q1")
    assert q1["csat_top_box"] == pytest.approx(2 / 5)  # 5 and 4 of 5, 4, 3, 2, 1 (customers 1-5 in Q1)
    assert q1["csat_mean"] == pytest.approx(3.0)
    assert q1["speed_mean"] == pytest.approx(3.0)
    assert kpis["image_mean"].isna().all() and "'image'" in kpis.attrs["notes"]["image_mean"]
    assert kpis.attrs["ratings"]["csat"] == RatingScale(1, 5) and kpis.attrs["drivers"] == ("speed", "image")
    # the default 1-10 scale on 1-5 data is caught, not turned into a 0 % top box
    with pytest.raises(ValueError, match="outside its declared 1-10 scale"):
        metrics.kpi_summary(customers, five.assign(csat=0), None)


def test_nps_must_be_on_0_to_10(surveys, customers):
    with pytest.raises(ValueError, match="NPS is defined on 0-10"):
        metrics.kpi_summary(customers, surveys, None, ratings={"nps": RatingScale(1, 5)})
    with pytest.raises(ValueError, match="NPS is defined on 0-10"):
        metrics.resolve_ratings({"nps": RatingScale(1, 10)})
    assert metrics.resolve_ratings({"nps": RatingScale(0, 10)})["nps"] == RatingScale(0, 10)


# ---------------------------------------------------------------- snapshot data, string ids


@pytest.fixture()
def snapshot():
    """Five customers at a 2024-06-30 snapshot: a churn flag, no dates; string ids; 1-5 csat."""
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "segment": ["x", "x", "y", "y", "y"],
            "churned": [True, False, False, True, False],
        }
    )
    surveys = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "surveyed_at": pd.Timestamp("2024-06-30"),
            "csat": [5, 4, 2, 3, 5],
            "nps": [10, 9, 6, 0, 8],
        }
    )
    transactions = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c2", "c5"],
            "ordered_at": pd.to_datetime(["2024-02-01", "2024-04-01", "2024-05-01", "2024-06-01"]),
            "revenue_usd": [10.0, 20.0, -5.0, 40.0],
        }
    )
    return customers, surveys, transactions


def _wilson_by_hand(k: float, n: float, z: float = 1.959963985) -> tuple[float, float]:
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def test_retention_on_snapshot_flags(snapshot):
    customers, _, _ = snapshot
    out = metrics.retention(customers, end="2024Q2")
    row = out.iloc[0]
    assert (row["n_customers_start"], row["churned"], row["n_customers_end"]) == (5, 2, 3)
    assert row["churn_rate"] == pytest.approx(0.4) and row["retention_rate"] == pytest.approx(0.6)
    lo, hi = _wilson_by_hand(2, 5)
    assert row["churn_rate_ci_lower"] == pytest.approx(lo) and row["churn_rate_ci_upper"] == pytest.approx(hi)
    assert np.isnan(row["acquired"])  # no acquired_at
    assert row["churn_basis"] == "by snapshot" and out.attrs["churn_basis"] == "by snapshot"
    assert (
        "by the snapshot" in out.attrs["notes"]["churn_rate"] and "not a per-period" in out.attrs["notes"]["churn_rate"]
    )
    by = metrics.retention(customers, by="segment", start="2024Q1", end="2024Q2").set_index(["period", "segment"])
    assert by.loc[(pd.Period("2024Q2", "Q"), "x"), "churn_rate"] == pytest.approx(0.5)
    assert by.loc[(pd.Period("2024Q2", "Q"), "y"), "churn_rate"] == pytest.approx(1 / 3)
    assert by.loc[pd.Period("2024Q1", "Q")][["n_customers_start", "churn_rate"]].isna().all().all()  # before it
    with pytest.raises(ValueError, match="pass snapshot="):
        metrics.retention(customers)
    # a flag left unknown is left out of the rate, not counted as staying
    unknown = customers.assign(churned=pd.array([True, False, None, True, False], dtype="boolean"))
    assert metrics.retention(unknown, end="2024Q2")["churn_rate"].item() == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="churn flag"):
        metrics.retention(customers.assign(churned=["yes", "no", "no", "yes", "no"]), end="2024Q2")


def test_kpi_summary_on_snapshot_data(snapshot):
    customers, surveys, transactions = snapshot
    kpis = metrics.kpi_summary(customers, surveys, transactions, ratings={"csat": RatingScale(1, 5)})
    assert kpis["period"].astype(str).tolist() == ["2024Q1", "2024Q2"]  # orders span Q1-Q2
    q1, q2 = _q(kpis, "2024Q1"), _q(kpis, "2024Q2")  # the snapshot is in the surveys' period, Q2
    assert (q2["n_customers_start"], q2["churned"], q2["churn_rate"]) == (5, 2, pytest.approx(0.4))
    assert q1[["n_customers_start", "churned", "churn_rate"]].isna().all()
    assert kpis["acquired"].isna().all()
    assert q2["csat_mean"] == pytest.approx(3.8) and q2["csat_top_box"] == pytest.approx(3 / 5)  # 5, 4, 5
    assert q2["nps"] == pytest.approx(0.0)  # promoters 10, 9; detractors 6, 0
    assert q2["revenue_usd"] == pytest.approx(55.0) and np.isnan(q2["profit_usd"])  # refund counted; no cost
    assert q2["revenue_per_customer_usd"] == pytest.approx(55.0 / 4)  # average of 5 and 3 customers
    assert kpis.attrs["churn_basis"] == "by snapshot" and "snapshot" in kpis.attrs["notes"]["churn_rate"]
    by = metrics.kpi_summary(customers, surveys, transactions, by="segment", ratings={"csat": RatingScale(1, 5)})
    assert _q(by, "2024Q2", segment="x")["revenue_usd"] == pytest.approx(15.0)
    assert _q(by, "2024Q1", segment="y")["revenue_usd"] == 0.0  # orders that quarter, none from y
    # end= places the snapshot when there are no surveys
    alone = metrics.kpi_summary(customers, None, None, end="2024Q4")
    assert alone["churn_rate"].tolist() == [pytest.approx(0.4)]
    # snapshot= (the data set's snapshot date) wins, and its period joins the range
    later = metrics.kpi_summary(customers, None, transactions, snapshot=pd.Timestamp("2024-09-30"))
    assert later["period"].astype(str).tolist() == ["2024Q1", "2024Q2", "2024Q3"]
    assert later["churn_rate"].isna().tolist() == [True, True, False]
    assert np.isnan(_q(later, "2024Q3")["revenue_usd"])  # no order in Q3: no revenue data


def test_string_and_integer_ids_give_the_same_kpis(customers, surveys, transactions):
    as_str = {"customer_id": lambda f: "id-" + f["customer_id"].astype(str)}
    ints = metrics.kpi_summary(customers, surveys, transactions, by="segment")
    strs = metrics.kpi_summary(
        customers.assign(**as_str), surveys.assign(**as_str), transactions.assign(**as_str), by="segment"
    )
    pd.testing.assert_frame_equal(ints, strs)
    prof = metrics.customer_profitability(transactions.assign(**as_str), customers.assign(**as_str))
    assert prof.set_index("customer_id").loc["id-1", "profit_usd"] == 60
    assert metrics.whale_curve(prof)["customer_id"].iloc[1] == "id-1"


def test_acquisition_without_acquisition_dates(customers):
    out = metrics.acquisition(customers.drop(columns="acquired_at"), start="2024Q1", end="2024Q2")
    assert out[["acquired", "acquisition_rate"]].isna().all().all()


# ---------------------------------------------------------------- compare_periods


def test_compare_periods_single_period_and_all_nan(customers, surveys, transactions):
    one = metrics.kpi_summary(customers, surveys, transactions, start="2024Q2", end="2024Q2")
    cmp = metrics.compare_periods(one).set_index("kpi")
    assert cmp.loc["revenue_usd", "current"] == 70
    assert cmp["previous"].isna().all() and cmp["change"].isna().all()
    blank = metrics.kpi_summary(None, None, None, start="2024Q1", end="2024Q2")
    cmp = metrics.compare_periods(blank, "2024Q2")
    assert list(cmp["kpi"]) == list(metrics.kpi_columns([]))
    assert cmp[["current", "previous", "change"]].isna().all().all()
    custom = pd.DataFrame({"period": ["2024Q1", "2024Q2"], "score": [None, None], "label": ["a", "b"]})
    assert list(metrics.compare_periods(custom)["kpi"]) == ["score"]  # text columns are not KPIs


# ---------------------------------------------------------------- whale curve: loss and revenue curves


@pytest.fixture()
def loss_making():
    # profits 30, -10, -40 on revenue 100, 50, 50: total profit -20 on revenue 200
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "A"],
            "ordered_at": pd.Timestamp("2024-01-15"),
            "revenue_usd": [60.0, 50.0, 50.0, 40.0],
            "cost_usd": [40.0, 60.0, 90.0, 30.0],
        }
    )


def test_whale_curve_of_a_loss_making_business(loss_making):
    prof = metrics.customer_profitability(loss_making)
    whale = metrics.whale_curve(prof)  # no error: a loss curve
    assert whale["customer_id"].tolist()[1:] == ["A", "B", "C"]
    assert whale["cumulative_profit_usd"].tolist() == [0.0, 30.0, 20.0, -20.0]  # money
    assert whale["cumulative_profit_share"].tolist() == pytest.approx([0.0, 0.15, 0.10, -0.10])  # of revenue
    assert set(whale["basis"]) == {"total revenue"} and whale["basis_usd"].iloc[0] == 200.0
    assert whale.attrs["basis"] == "total revenue" and whale.attrs["measure"] == "profit"
    # refunds: neither total positive -> money only, shares NaN
    refunds = pd.DataFrame({"customer_id": [1, 2], "revenue_usd": [-10.0, 5.0], "cost_usd": [5.0, 5.0]})
    none = metrics.whale_curve(metrics.customer_profitability(refunds))
    assert none["cumulative_profit_usd"].tolist() == [0.0, 0.0, -15.0]
    assert none["cumulative_profit_share"].isna().all() and set(none["basis"]) == {"none"}


def test_whale_curve_without_cost_is_of_revenue_and_says_so(loss_making):
    prof = metrics.customer_profitability(loss_making.drop(columns="cost_usd"))
    assert prof["profit_usd"].isna().all() and prof["margin_rate"].isna().all()
    assert prof.set_index("customer_id").loc["A", "revenue_usd"] == 100
    whale = metrics.whale_curve(prof)
    assert set(whale["measure"]) == {"revenue"} and whale.attrs["measure"] == "revenue"
    assert not any("profit" in c for c in whale.columns)  # revenue is never called profit
    assert whale["cumulative_revenue_share"].tolist() == pytest.approx([0.0, 0.5, 0.75, 1.0])
    assert set(whale["basis"]) == {"total revenue"}


def test_whale_curve_without_transactions_is_empty(customers, transactions):
    prof = metrics.customer_profitability(transactions.iloc[:0], customers)
    assert len(prof) == 6 and prof[["n_orders", "revenue_usd", "profit_usd"]].isna().all().all()
    whale = metrics.whale_curve(prof)
    assert whale.empty and list(whale.columns) == list(metrics.WHALE_COLUMNS)
    assert metrics.whale_curve(metrics.customer_profitability(None)).empty
    assert metrics.market_share(transactions.iloc[:0], 100.0).empty


# ---------------------------------------------------------------- KPI figures: "no data", scale labels


@pytest.fixture()
def mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_plots_draw_no_data_instead_of_raising(mpl):
    from bsc_toolkit.plots import kpis as kplots

    periods = pd.period_range("2024Q1", periods=2, freq="Q")
    # the reported bug: an all-empty object column ('isfinite' not supported)
    nps_empty = pd.DataFrame({"nps": [None, None], "nps_ci_lower": [None, None], "nps_ci_upper": [None, None]})
    ax = kplots.plot_nps_trend(nps_empty.assign(period=periods))
    assert any(t.startswith("no data") for t in _texts(ax)) and not ax.lines
    empty_ret = metrics.retention(pd.DataFrame({"customer_id": []}))
    assert empty_ret.empty
    assert "no data" in _texts(kplots.plot_retention(empty_ret))[0]
    assert "no data" in _texts(kplots.plot_kpi_trend(pd.DataFrame({"period": periods}), "csat_mean"))[0]
    whale = metrics.whale_curve(metrics.customer_profitability(None))
    assert "no data" in _texts(kplots.plot_whale_curve(whale))[0]
    assert "no data" in _texts(kplots.plot_score_distribution(pd.DataFrame({"csat": [np.nan, None]})))[0]
    assert "no data" in _texts(kplots.plot_score_distribution(pd.DataFrame({"customer_id": [1]})))[0]


def test_plot_labels_carry_the_scale_and_the_basis(mpl, surveys, loss_making, snapshot):
    from bsc_toolkit.plots import kpis as kplots

    five = RatingScale(1, 5)
    csat = metrics.csat_summary(surveys.assign(csat=[5, 4, 3, 2, 1, 5, 5, 4, 1]), scale=five)
    ax = kplots.plot_kpi_trend(csat, "csat_mean", ylabel="CSAT mean", scale=five)
    assert ax.get_ylabel() == "CSAT mean (1-5)" and len(ax.lines) >= 1
    ax = kplots.plot_score_distribution(surveys.assign(csat=[5, 4, 3, 2, 1, 5, 5, 4, 1]), scale=five)
    assert ax.get_xlabel() == "csat (1-5)" and [t for t in ax.get_xticks()] == [1, 2, 3, 4, 5]
    loss = metrics.whale_curve(metrics.customer_profitability(loss_making))
    ax = kplots.plot_whale_curve(loss)
    assert ax.get_ylabel() == "cumulative profit (share of total revenue)" and len(ax.lines) >= 1
    revenue = metrics.whale_curve(metrics.customer_profitability(loss_making.drop(columns="cost_usd")))
    ax = kplots.plot_whale_curve(revenue)
    assert "revenue" in ax.get_ylabel() and "profit" not in ax.get_ylabel() + ax.get_xlabel()
    ret = metrics.retention(snapshot[0], end="2024Q2")
    assert kplots.plot_retention(ret).get_ylabel() == "share of customers who left by the snapshot"
