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
        {"customer_id": [1, 1, 1], "surveyed_at": pd.to_datetime(["2024-01-05", "2024-04-05", "2024-10-05"]), "csat": [5, 6, 8]}
    )
    tx = pd.DataFrame({"customer_id": [1], "ordered_at": pd.to_datetime(["2024-02-01"]), "revenue_usd": [10.0], "cost_usd": [4.0]})
    panel = customer_periods(customers, surveys, tx)
    assert panel["period"].astype(str).tolist() == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert np.isnan(panel["csat_lag1"].iloc[0])
    assert panel["csat_lag1"].iloc[1] == 5 and np.isnan(panel["csat_lag1"].iloc[3])  # Q3 not surveyed
    assert panel["margin_usd"].tolist() == [6.0, 0.0, 0.0, 0.0]


def test_missing_columns_are_named(small_sim):
    with pytest.raises(ValueError, match="transactions table lacks"):
        customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions.drop(columns="revenue_usd"))
