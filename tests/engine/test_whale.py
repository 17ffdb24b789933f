"""Customer profitability and the whale curve on DuckDB and Spark against the pandas metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics
from bsc_toolkit.engine import tables_from_frames
from bsc_toolkit.engine import whale as ew

SHAPES = ("string_ids", "no_cost", "refunds_loss_late_orders", "no_transactions")
MONEY = ("revenue_usd", "cost_usd", "profit_usd", "margin_rate")


def _transactions(data):
    return data.transactions if "transactions" in data.tables_present else None


def _check_profitability(ref: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same customers, columns, dtypes and values (per customer); the engine's order is by value, then id."""
    assert list(got.columns) == list(ref.columns)
    assert got.dtypes.to_dict() == ref.dtypes.to_dict()
    assert len(got) == len(ref)
    assert got.attrs["notes"] == ref.attrs["notes"]
    a = ref.set_index("customer_id").sort_index()
    b = got.set_index("customer_id").sort_index()
    assert a.index.equals(b.index)
    for col in a.columns:
        if col in MONEY:
            np.testing.assert_allclose(b[col], a[col], rtol=1e-9, atol=1e-9, err_msg=col)
        else:
            assert (a[col].astype(str) == b[col].astype(str)).all(), col
    key = "profit_usd" if ref["profit_usd"].notna().any() else "revenue_usd"
    values = got[key].to_numpy(dtype=float)
    known = values[~np.isnan(values)]
    assert np.all(np.diff(known) <= 1e-9)  # descending
    assert np.isnan(values[len(known) :]).all()  # unknown last
    ties = np.flatnonzero(np.abs(np.diff(known)) < 1e-9)
    ids = got["customer_id"].to_numpy()
    assert all(ids[i] < ids[i + 1] for i in ties)  # equal values: by customer_id


def _check_curve(ref: pd.DataFrame, got: pd.DataFrame, by_customer: pd.Series | None) -> None:
    """Row for row; customers with equal values may be in another order in pandas (same values)."""
    assert list(got.columns) == list(ref.columns)
    assert got.dtypes.to_dict() == ref.dtypes.to_dict()
    assert len(got) == len(ref)
    for key in ("measure", "basis", "n_unknown"):
        assert got.attrs[key] == ref.attrs[key]
    scale = max(abs(float(ref["basis_usd"].iloc[0])), 1.0) if len(ref) else 1.0
    for col in ref.columns:
        if col == "customer_id":
            continue
        if ref[col].dtype.kind == "f":
            atol = 1e-9 * scale if col.startswith("cumulative") and col.endswith("_usd") else 1e-9
            np.testing.assert_allclose(got[col], ref[col], rtol=1e-9, atol=atol, err_msg=col)
        else:
            assert (got[col].astype(str) == ref[col].astype(str)).all(), col
    if len(ref) > 1:
        assert got["customer_id"].iloc[1:].is_unique
        value_col = ref.columns[2]
        # the engine's customer at each rank has (in pandas) the value pandas has at that rank
        np.testing.assert_allclose(
            by_customer.loc[got["customer_id"].iloc[1:].to_numpy()].to_numpy(dtype=float),
            ref[value_col].iloc[1:].to_numpy(dtype=float),
            rtol=0,
            atol=1e-9,
        )


def _peak_rank(curve: pd.DataFrame) -> int:
    cum = curve.iloc[1:, 4].to_numpy(dtype=float)
    return int(curve["rank"].iloc[1:].to_numpy()[np.flatnonzero(cum >= cum.max() - 1e-9 * abs(cum.max()))[0]])


@pytest.mark.parametrize("with_customers", [True, False])
def test_profitability_and_whale_equal_pandas(default_data, default_tables, with_customers):
    by = "segment" if with_customers else None
    ref = metrics.customer_profitability(
        default_data.transactions, default_data.customers if with_customers else None, by=by
    )
    got = ew.customer_profitability(default_tables, by=by, with_customers=with_customers)
    _check_profitability(ref, got)

    curve = metrics.whale_curve(ref)
    engine_curve = ew.whale_curve(default_tables, with_customers=with_customers)
    _check_curve(curve, engine_curve, ref.set_index("customer_id")["profit_usd"])
    assert engine_curve.attrs["n_ranked"] == len(ref)
    assert engine_curve.attrs["basis"] == "total profit"


def test_whale_points(default_data, default_tables):
    """points=...: the evenly spaced ranks, the first, the last and the peak, with the full curve's values."""
    prof = metrics.customer_profitability(default_data.transactions, default_data.customers)
    full = metrics.whale_curve(prof)
    n = len(full) - 1
    got = ew.whale_curve(default_tables, points=100)
    ranks = set(ew.whale_ranks(n, 100).tolist())
    assert len(ranks) == 100 and {1, n} <= ranks
    peak = _peak_rank(full)
    assert peak not in ranks  # the peak is added
    want = full[full["rank"].isin(ranks | {0, peak})].reset_index(drop=True)
    assert got["rank"].tolist() == want["rank"].tolist()
    assert len(got) == 102
    _check_curve(want, got, prof.set_index("customer_id")["profit_usd"])
    assert got["cumulative_profit_usd"].max() == pytest.approx(full["cumulative_profit_usd"].max(), rel=1e-12)
    assert got.attrs["points"] == 100 and got.attrs["n_ranked"] == n
    # more points than customers: the whole curve
    assert len(ew.whale_curve(default_tables, points=10 * n)) == n + 1


def test_whale_ranks():
    assert ew.whale_ranks(5, 10).tolist() == [1, 2, 3, 4, 5]
    r = ew.whale_ranks(1_000_001, 1000)
    assert len(r) == 1000 and r[0] == 1 and r[-1] == 1_000_001
    gaps = np.diff(r)
    assert gaps.min() >= 1000 and gaps.max() <= 1002  # evenly spaced
    with pytest.raises(ValueError, match="points"):
        ew.whale_curve(None, points=1)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_equal_pandas(shape, shape_data, backend_for, engine_name, tmp_path):
    """String ids, no cost (a revenue curve), refunds in a loss-making business (a loss curve), no orders."""
    data = shape_data(shape)
    tables = tables_from_frames(data, backend_for(engine_name), engine_name, tmp_path)
    for with_customers in (True, False):
        ref = metrics.customer_profitability(_transactions(data), data.customers if with_customers else None)
        got = ew.customer_profitability(tables, with_customers=with_customers)
        _check_profitability(ref, got)
        curve = metrics.whale_curve(ref)
        value_col = "profit_usd" if ref["profit_usd"].notna().any() else "revenue_usd"
        _check_curve(
            curve, ew.whale_curve(tables, with_customers=with_customers), ref.set_index("customer_id")[value_col]
        )
    expected = {
        "no_cost": ("revenue", "total revenue", 0),
        "refunds_loss_late_orders": ("profit", "total revenue", 0),
        "no_transactions": ("profit", "none", len(data.customers)),
    }
    if shape in expected:
        attrs = ew.whale_curve(tables).attrs
        assert (attrs["measure"], attrs["basis"], attrs["n_unknown"]) == expected[shape]
