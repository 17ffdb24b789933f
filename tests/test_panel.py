"""The customer-period panel rebuilt from the tables matches the simulator's latent panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.panel import customer_periods


def test_panel_matches_latent_truth(small_sim):
    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    latent = small_sim.latent
    assert len(panel) == len(latent)
    merged = panel.merge(latent, on=["customer_id", "period"], suffixes=("", "_true"), validate="one_to_one")
    assert len(merged) == len(latent)
    assert (merged["churned"] == merged["churned_true"]).all()
    assert (merged["n_orders"] == merged["n_orders_true"]).all()
    assert (merged["surveyed"] == merged["surveyed_true"]).all()
    surveyed = merged[merged["surveyed"]]
    assert (surveyed["csat"] == surveyed["csat_true"]).all()
    # dates are stored to the day, so exposure and tenure agree to about a day
    assert np.abs(merged["at_risk_fraction"] - merged["at_risk_fraction_true"]).max() < 0.02
    assert np.abs(merged["tenure_years"] - merged["tenure_years_true"]).max() < 0.01
    assert panel["revenue_usd"].sum() == pytest.approx(small_sim.transactions["revenue_usd"].sum())


def test_lagged_csat_only_for_consecutive_periods():
    customers = pd.DataFrame(
        {"customer_id": [1], "acquired_at": pd.to_datetime(["2023-01-01"]), "churned_at": pd.to_datetime([None])}
    )
    surveys = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "surveyed_at": pd.to_datetime(["2024-01-05", "2024-04-05", "2024-10-05"]),
            "csat": [5, 6, 8],
        }
    )
    tx = pd.DataFrame(
        {"customer_id": [1], "ordered_at": pd.to_datetime(["2024-02-01"]), "revenue_usd": [10.0], "cost_usd": [4.0]}
    )
    panel = customer_periods(customers, surveys, tx)
    assert panel["period"].astype(str).tolist() == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert np.isnan(panel["csat_lag1"].iloc[0])
    assert panel["csat_lag1"].iloc[1] == 5 and np.isnan(panel["csat_lag1"].iloc[3])  # Q3 not surveyed
    assert panel["margin_usd"].tolist() == [6.0, 0.0, 0.0, 0.0]


def test_missing_columns_are_named(small_sim):
    with pytest.raises(ValueError, match="transactions table lacks"):
        customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions.drop(columns="revenue_usd"))


def test_activity_window_columns_match_the_simulation(small_sim):
    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    merged = panel.merge(small_sim.latent, on=["customer_id", "period"], suffixes=("", "_true"))
    assert np.abs(merged["active_fraction"] - merged["active_fraction_true"]).max() < 0.02
    periods = pd.PeriodIndex(panel["period"])
    start, end = periods.start_time, periods.end_time + pd.Timedelta(1, "ns")
    assert (panel["active_from"] >= start).all() and (panel["active_to"] <= end).all()
    assert (panel["active_from"] <= panel["active_to"]).all()
    # the window ends at the churn date in the churn period and at the period end otherwise
    churn = small_sim.customers.set_index("customer_id")["churned_at"].reindex(panel["customer_id"]).to_numpy()
    churned = panel["churned"].to_numpy()
    assert (panel["active_to"].to_numpy()[churned] == churn[churned]).all()
    assert (panel["active_to"].to_numpy()[~churned] == end[~churned]).all()
    days = (end - start) / pd.Timedelta(1, "D")
    at_risk = (end - pd.DatetimeIndex(panel["active_from"])) / pd.Timedelta(1, "D") / days
    np.testing.assert_allclose(panel["at_risk_fraction"], at_risk, rtol=1e-12)


def test_slim_dtypes_and_order(small_sim):
    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    assert panel["churned"].dtype == bool and panel["surveyed"].dtype == bool
    assert panel["n_orders"].dtype == np.int32
    for col in ("tenure_years", "at_risk_fraction", "active_fraction", "csat", "revenue_usd", "margin_usd"):
        assert panel[col].dtype == np.float64, col
    assert panel["active_from"].dtype == "datetime64[ns]"
    assert isinstance(panel.index, pd.RangeIndex)
    keys = list(zip(panel["customer_id"], pd.PeriodIndex(panel["period"]).asi8))
    assert keys == sorted(keys)
    # same panel whatever the row order of the inputs
    shuffled = customer_periods(
        small_sim.customers.sample(frac=1, random_state=1),
        small_sim.surveys.sample(frac=1, random_state=2),
        small_sim.transactions.sample(frac=1, random_state=3),
    )
    pd.testing.assert_frame_equal(shuffled, panel, rtol=1e-12)


def test_churn_after_the_panel_end_is_not_a_churn_in_the_panel():
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "acquired_at": pd.to_datetime(["2023-06-01", "2024-02-10"]),
            "churned_at": pd.to_datetime(["2025-03-01", "2024-05-15"]),
        }
    )
    surveys = pd.DataFrame(
        {"customer_id": [1, 2], "surveyed_at": pd.to_datetime(["2024-01-05", "2024-04-02"]), "csat": [7, 4]}
    )
    tx = pd.DataFrame(
        {
            "customer_id": [1, 2, 2, 9],
            "ordered_at": pd.to_datetime(["2024-03-01", "2024-02-11", "2024-02-12", "2024-02-12"]),
            "revenue_usd": [5.0, 1.0, 2.0, 100.0],
        }
    )
    panel = customer_periods(customers, surveys, tx, end="2024Q4")
    one = panel[panel["customer_id"] == 1]
    assert len(one) == 4 and not one["churned"].any()  # churns in 2025: active to the panel end
    assert (one["active_fraction"] == 1.0).all()
    two = panel[panel["customer_id"] == 2]
    assert two["churned"].tolist() == [False, True]
    assert two["active_from"].iloc[0] == pd.Timestamp("2024-02-10")
    assert two["active_to"].iloc[1] == pd.Timestamp("2024-05-15")
    assert two["n_orders"].tolist() == [2, 0] and two["revenue_usd"].tolist() == [3.0, 0.0]
    assert np.isnan(panel["cost_usd"]).all()  # no cost column: unknown, not zero
    assert panel["revenue_usd"].sum() == 8.0  # customer 9 is not in the customers table


def test_duplicate_customers_are_named():
    customers = pd.DataFrame(
        {
            "customer_id": [3, 3],
            "acquired_at": pd.to_datetime(["2024-01-01"] * 2),
            "churned_at": pd.to_datetime([None, None]),
        }
    )
    empty_s = pd.DataFrame({"customer_id": [3], "surveyed_at": pd.to_datetime(["2024-01-05"]), "csat": [7]})
    empty_t = pd.DataFrame({"customer_id": [3], "ordered_at": pd.to_datetime(["2024-01-05"]), "revenue_usd": [1.0]})
    with pytest.raises(ValueError, match=r"duplicate customer_id.*\[3\]"):
        customer_periods(customers, empty_s, empty_t)


# --------------------------------------------------------------------------- other data shapes
def _tables():
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "acquired_at": pd.to_datetime(["2023-11-01", "2024-02-10", "2024-01-20"]),
            "churned_at": pd.to_datetime([None, "2024-05-15", None]),
            "segment": ["consumer", "smb", "consumer"],
        }
    )
    surveys = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 1],
            "survey_id": [10, 11, 12, 13],
            "surveyed_at": pd.to_datetime(["2024-01-05", "2024-04-02", "2024-03-03", "2024-07-01"]),
            "csat": [7.0, 4.0, 9.0, 8.0],
            "speed": [3.0, 1.0, 5.0, 4.0],
            "price": [2.0, 2.0, np.nan, 5.0],
            "comment": ["ok", "slow", "", "fine"],
            "promoter": [True, False, True, True],
        }
    )
    tx = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 3],
            "ordered_at": pd.to_datetime(["2024-03-01", "2024-02-11", "2024-02-15", "2024-08-01"]),
            "revenue_usd": [5.0, 1.0, 2.0, 4.0],
        }
    )
    return customers, surveys, tx


def test_default_rating_columns_are_the_numeric_survey_columns():
    customers, surveys, tx = _tables()
    panel = customer_periods(customers, surveys, tx)
    ratings = [c for c in panel.columns if c in surveys.columns and c != "customer_id"]
    assert ratings == ["csat", "speed", "price"]  # not the id, the text or the boolean column
    row = panel[(panel["customer_id"] == 1) & (panel["period"].astype(str) == "2024Q3")].iloc[0]
    assert (row["speed"], row["price"]) == (4.0, 5.0)
    assert np.isnan(panel.loc[panel["customer_id"] == 3, "price"]).all()  # missing stays missing
    only = customer_periods(customers, surveys, tx, rating_columns=["price"])
    assert "price" in only.columns and "csat" not in only.columns and "csat_lag1" not in only.columns
    with pytest.raises(ValueError, match="not numeric"):
        customer_periods(customers, surveys, tx, rating_columns=["comment"])
    with pytest.raises(ValueError, match="lacks rating column"):
        customer_periods(customers, surveys, tx, rating_columns=["nps"])
    with pytest.raises(ValueError, match="name of a panel column"):
        customer_periods(customers, surveys.rename(columns={"speed": "churned"}), tx)


def test_default_data_keeps_its_column_order(small_sim):
    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    assert list(panel.columns) == [
        "customer_id", "period", "segment", "region", "channel", "tenure_years", "at_risk_fraction",
        "active_fraction", "active_from", "active_to", "churned", "csat", "nps", "time", "quality", "service",
        "cost", "surveyed", "n_orders", "revenue_usd", "cost_usd", "margin_usd", "csat_lag1",
    ]  # fmt: skip
    reordered = small_sim.surveys[["customer_id", "cost", "time", "surveyed_at", "nps", "csat", "service", "quality"]]
    pd.testing.assert_frame_equal(customer_periods(small_sim.customers, reordered, small_sim.transactions), panel)


def test_a_panel_without_csat_can_be_built():
    customers, surveys, tx = _tables()
    panel = customer_periods(customers, surveys.drop(columns=["csat"]), tx)
    assert "csat" not in panel.columns and "csat_lag1" not in panel.columns and "speed" in panel.columns
    no_surveys = customer_periods(customers, surveys.iloc[:0][["customer_id", "surveyed_at"]], tx)
    assert not no_surveys["surveyed"].any() and len(no_surveys) > 0


def test_without_acquisition_dates_the_window_starts_at_the_first_activity():
    customers, surveys, tx = _tables()
    customers = pd.concat([customers, pd.DataFrame({"customer_id": [4], "segment": ["smb"]})], ignore_index=True)
    panel = customer_periods(customers.drop(columns="acquired_at"), surveys, tx)
    first = {1: "2024-01-05", 2: "2024-02-11", 3: "2024-02-15"}  # first survey or order
    for cid, day in first.items():
        rows = panel[panel["customer_id"] == cid]
        assert rows["active_from"].iloc[0] == pd.Timestamp(day)
        assert rows["tenure_years"].iloc[0] == 0.0
    assert 4 not in set(panel["customer_id"])  # no date and no activity: no rows
    assert panel.loc[panel["customer_id"] == 2, "churned"].tolist() == [False, True]
    # a missing date in an acquired_at column is treated the same way
    gap = customers.assign(acquired_at=pd.to_datetime(["2023-11-01", None, "2024-01-20", None]))
    two = customer_periods(gap, surveys, tx)
    assert two.loc[two["customer_id"] == 2, "active_from"].iloc[0] == pd.Timestamp("2024-02-11")
    assert two.loc[two["customer_id"] == 1, "active_from"].iloc[0] == pd.Timestamp("2024-01-01")  # period start


def test_without_churn_dates_nobody_churns(small_sim):
    panel = customer_periods(small_sim.customers.drop(columns="churned_at"), small_sim.surveys, small_sim.transactions)
    assert not panel["churned"].any()
    full = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    assert len(panel) >= len(full)  # churners now stay to the panel end


def test_text_customer_ids_give_the_same_panel(small_sim):
    def text(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(customer_id="C" + frame["customer_id"].astype(str).str.zfill(5))

    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    expected = panel.assign(customer_id="C" + panel["customer_id"].astype(str).str.zfill(5))
    got = customer_periods(text(small_sim.customers), text(small_sim.surveys), text(small_sim.transactions))
    pd.testing.assert_frame_equal(got, expected)
    as_string = customer_periods(
        text(small_sim.customers).astype({"customer_id": "string"}),
        text(small_sim.surveys).astype({"customer_id": "string"}),
        text(small_sim.transactions),
    )
    pd.testing.assert_frame_equal(as_string, expected)
    with pytest.raises(ValueError, match="text in the customers table but numeric in the surveys"):
        customer_periods(text(small_sim.customers), small_sim.surveys, small_sim.transactions)
    missing = text(small_sim.customers)
    missing.loc[0, "customer_id"] = None
    with pytest.raises(ValueError, match="missing customer_id"):
        customer_periods(missing, text(small_sim.surveys), text(small_sim.transactions))
