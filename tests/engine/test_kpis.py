"""The KPI table on DuckDB and Spark equals the pandas reference (:func:`bsc_toolkit.metrics.kpi_summary`).

Integer columns exactly, float columns to 1e-9 relative (NaN in the same places), same dtypes,
rows, Period column and ``attrs``. Each engine call is one query (one Spark job).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics
from bsc_toolkit.data.io import CustomerData
from bsc_toolkit.engine import tables_from_frames
from bsc_toolkit.engine.kpis import kpi_summary

TABLES = ("customers", "surveys", "transactions")


def reference(data: CustomerData, absent: tuple[str, ...] = (), **kwargs) -> pd.DataFrame:
    """The pandas function with the arguments the engine defaults to (the data set's freq, scales, drivers)."""
    frames = [None if name in absent else getattr(data, name) for name in TABLES]
    surveyed = "surveys" not in absent
    kwargs.setdefault("freq", data.freq)
    kwargs.setdefault("ratings", data.ratings if surveyed else {})
    kwargs.setdefault("drivers", data.drivers if surveyed else ())
    kwargs.setdefault("snapshot", data.description.snapshot_date if data.is_snapshot else None)
    return metrics.kpi_summary(*frames, **kwargs)


def assert_same(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Same columns, dtypes and rows; integers and labels exactly, floats to 1e-9 relative; same attrs."""
    assert list(got.columns) == list(ref.columns)
    assert got.dtypes.to_dict() == ref.dtypes.to_dict()
    assert len(got) == len(ref)
    for col in ref.columns:
        left, right = got[col].reset_index(drop=True), ref[col].reset_index(drop=True)
        if pd.api.types.is_float_dtype(right):
            np.testing.assert_array_equal(left.isna(), right.isna(), err_msg=f"NaN in {col}")
            np.testing.assert_allclose(left, right, rtol=1e-9, atol=0, equal_nan=True, err_msg=col)
        else:
            pd.testing.assert_series_equal(left, right, check_exact=True)
    assert got.attrs == ref.attrs


@pytest.fixture(scope="module")
def variants(shape_data, default_data):
    """``variants(name)`` -> the shape ``name`` of tests/shapes.py (``shape_data``), or ``"missing_amounts"``."""
    cache: dict[str, CustomerData] = {}

    def get(name: str) -> CustomerData:
        if name == "missing_amounts":
            if name not in cache:
                cache[name] = _missing_amounts(default_data)
            return cache[name]
        return shape_data(name)

    return get


def _missing_amounts(data: CustomerData) -> CustomerData:
    """Some revenue, cost, order and survey dates and csat answers missing."""
    rng = np.random.default_rng(7)
    tx = data.transactions.copy()
    tx.loc[rng.random(len(tx)) < 0.002, "revenue_usd"] = np.nan
    tx.loc[rng.random(len(tx)) < 0.002, "cost_usd"] = np.nan
    tx.loc[rng.random(len(tx)) < 0.001, "ordered_at"] = pd.NaT
    surveys = data.surveys.copy()
    surveys.loc[rng.random(len(surveys)) < 0.05, "csat"] = np.nan
    surveys.loc[rng.random(len(surveys)) < 0.01, "surveyed_at"] = pd.NaT
    return dataclasses.replace(data, transactions=tx, surveys=surveys)


@pytest.mark.parametrize(
    ("freq", "by"),
    [
        (None, None),
        ("Q", "segment"),
        ("Q", ["segment", "region"]),
        ("M", ["segment", "region"]),
        ("W", None),
        ("Y", "channel"),
    ],
)
def test_default_data_matches_pandas(default_tables, default_data, freq, by):
    got = kpi_summary(default_tables, freq, by)
    assert_same(got, reference(default_data, freq=freq or default_data.freq, by=by))
    assert got["n_customers_start"].dtype == np.int64 and got["revenue_usd"].notna().all()
    if freq == "W":  # pandas weeks: Monday to Sunday
        assert (got["period"].dt.start_time.dt.dayofweek == 0).all()
        assert (got["period"].dt.end_time.dt.dayofweek == 6).all()


@pytest.mark.parametrize(
    "variant",
    [
        "snapshot",
        "scale_1_5",
        "string_ids",
        "no_cost",
        "no_surveys",
        "other_drivers",
        "refunds_loss_late_orders",
        "missing_amounts",
    ],
)
def test_shapes_match_pandas(variant, variants, engine_name, backend_for, tmp_path):
    data = variants(variant)
    tables = tables_from_frames(data, backend_for(engine_name), engine_name, tmp_path)
    got = kpi_summary(tables, by="segment")
    ref = reference(data, by="segment")
    assert_same(got, ref)
    # the rule each shape is about is exercised, not passed over
    if variant == "snapshot":
        assert got.attrs["churn_basis"] == "by snapshot" and got["churn_rate"].notna().sum() == 3
    elif variant == "scale_1_5":
        assert got.attrs["ratings"]["csat"].high == 5 and got["csat_top_box"].between(0, 1).all()
    elif variant in {"no_cost", "no_surveys"}:
        lost = "profit_usd" if variant == "no_cost" else "csat_mean"
        assert got[lost].isna().all() and lost in got.attrs["notes"]
    elif variant == "other_drivers":
        assert "waiting_mean" in got.columns and got["waiting_mean"].notna().all()
    elif variant == "refunds_loss_late_orders":  # 2099Q1: no order between, so no revenue data (NaN, not 0)
        assert got["revenue_usd"].isna().any() and (got["revenue_usd"] == 0).any()
    elif variant == "missing_amounts":  # strict sums: a missing amount makes its period's sum unknown
        assert got["revenue_usd"].isna().any() and got["revenue_usd"].notna().any()
        assert "transaction rows lack revenue_usd" in got.attrs["notes"]["revenue_usd"]


def test_range_outside_the_data(default_tables, default_data):
    got = kpi_summary(default_tables, "Q", "segment", start="2019Q1", end="2030Q2")
    assert_same(got, reference(default_data, freq="Q", by="segment", start="2019Q1", end="2030Q2"))
    outside = got["period"] < pd.Period("2024Q1", "Q")
    assert outside.any() and got.loc[outside, "revenue_usd"].isna().all()  # no orders then: no data, not 0
    assert got.loc[outside, "csat_mean"].isna().all()


def test_nan_is_missing(default_tables, default_data, tmp_path):
    """A float NaN in a Parquet file (Spark and DuckDB read it as a value, not a null) is a missing amount or rating.

    DuckDB trusts Parquet min/max statistics to rule NaN out (duckdb/duckdb#25521: ``isnan`` folds to false
    on files pyarrow writes) unless ``can_have_nan`` (setting ``parquet_can_have_nan``) is on.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tx = default_data.transactions.copy()
    tx.loc[tx.index[::500], "revenue_usd"] = np.nan
    surveys = default_data.surveys.copy()
    surveys.loc[surveys.index[::50], "csat"] = np.nan
    replaced = {}
    for name, frame in (("transactions", tx), ("surveys", surveys)):
        arrow = pa.table({c: pa.array(frame[c].to_numpy(), from_pandas=c.endswith("_at")) for c in frame.columns})
        path = tmp_path / f"{name}.parquet"
        pq.write_table(arrow, path, coerce_timestamps="us")
        options = {"can_have_nan": True} if default_tables.engine == "duckdb" else {}
        replaced[name] = default_tables.backend.read_parquet(str(path), table_name=f"nan_{name}", **options)
    assert replaced["transactions"].revenue_usd.isnan().sum().to_pyarrow().as_py() == 50  # NaN, not null
    got = kpi_summary(dataclasses.replace(default_tables, **replaced), "Q", "segment")
    ref = metrics.kpi_summary(
        default_data.customers,
        surveys,
        tx,
        freq="Q",
        by="segment",
        ratings=default_data.ratings,
        drivers=default_data.drivers,
    )
    assert_same(got, ref)
    assert got["revenue_usd"].isna().any() and got.attrs["notes"]["revenue_usd"].startswith("50 transaction rows")


@pytest.mark.parametrize("absent", [("surveys",), ("transactions",), ("customers",), ("surveys", "transactions")])
def test_absent_tables(default_tables, default_data, absent):
    tables = dataclasses.replace(default_tables, **dict.fromkeys(absent))
    got = kpi_summary(tables, "Q")
    assert_same(got, reference(default_data, absent, freq="Q"))


def test_no_tables_no_query(default_tables, default_data):
    tables = dataclasses.replace(default_tables, customers=None, surveys=None, transactions=None)
    assert_same(kpi_summary(tables), reference(default_data, TABLES))
    with_range = kpi_summary(tables, start="2024Q1", end="2024Q4")
    assert_same(with_range, reference(default_data, TABLES, start="2024Q1", end="2024Q4"))
    assert len(with_range) == 4 and with_range["churn_rate"].isna().all()


def test_errors_before_any_query(default_tables):
    with pytest.raises(ValueError, match="not computed by the engines"):
        kpi_summary(default_tables, "Q-MAR")
    with pytest.raises(ValueError, match="lacks column"):
        kpi_summary(default_tables, by="no_such_column")
