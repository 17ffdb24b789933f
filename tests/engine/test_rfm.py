"""The RFM summary on DuckDB and Spark against the pandas summary; its triples fit the same BG/NBD."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bsc_toolkit.engine import EngineTables, tables_from_frames
from bsc_toolkit.engine import rfm as er
from bsc_toolkit.models.clv import BetaGeoFitter
from bsc_toolkit.models.clv._bgnbd_math import bgnbd_loglik, compress_rfm
from bsc_toolkit.models.clv.rfm import rfm_summary

EXACT = ("frequency", "frequency_holdout")

SETTINGS = {
    "weeks": dict(freq="W"),
    "days_in_weeks": dict(freq="D", freq_multiplier=7),
    "hours": dict(freq="h"),
    "calibration": dict(freq="W", calibration_end="2024-09-30 12:00", observation_end="2025-12-31"),
    "calibration_days": dict(freq="D", calibration_end="2024-06-30", observation_end="2025-03-01", freq_multiplier=7),
}


def assert_same_summary(ref: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same index (values, dtype, name), columns; integer-valued columns exactly, the others to 1e-9."""
    assert list(got.columns) == list(ref.columns)
    assert got.index.name == ref.index.name
    assert got.index.dtype == ref.index.dtype
    assert got.index.equals(ref.index)
    for col in ref.columns:
        a, b = ref[col].to_numpy(), got[col].to_numpy()
        assert a.dtype == b.dtype, col
        if col in EXACT:
            assert (a == b).all(), col
        else:
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12, err_msg=col)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_rfm_summary_equals_pandas(setting, default_data, default_tables):
    kwargs = SETTINGS[setting]
    ref = rfm_summary(default_data.transactions, **kwargs)
    assert len(ref) > 1000
    assert_same_summary(ref, er.rfm_summary(default_tables, **kwargs))
    if setting in ("weeks", "calibration"):
        ref = rfm_summary(default_data.transactions, value_col=None, **kwargs)
        assert_same_summary(ref, er.rfm_summary(default_tables, value=False, **kwargs))


def test_weeks_are_monday_to_sunday(duckdb_backend, tmp_path):
    """A Sunday and the next Monday are in different weeks; Monday to Sunday in one (pandas "W")."""
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3, 3],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-07 23:59:59",
                    "2024-01-08 00:00:00",
                    "2024-01-08 00:00:00",
                    "2024-01-14 23:00:00",
                    "2024-01-01 00:00:00",
                    "2024-01-21 01:00:00",
                ]
            ),
            "revenue_usd": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    pq.write_table(pa.Table.from_pandas(tx, preserve_index=False), tmp_path / "tx.parquet", coerce_timestamps="us")
    transactions = duckdb_backend.read_parquet(str(tmp_path / "tx.parquet"))
    tables = EngineTables(duckdb_backend, "duckdb", None, transactions=transactions)  # type: ignore[arg-type]
    for freq in ("W", "D", "h"):
        ref = rfm_summary(tx, freq=freq)
        got = er.rfm_summary(tables, freq=freq)
        assert_same_summary(ref, got)
    weeks = er.rfm_summary(tables, freq="W")
    assert weeks["frequency"].tolist() == [1.0, 0.0, 1.0]


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["string_ids", "no_cost", "single_period"])
def test_rfm_shapes(shape, shape_data, backend_for, engine_name, tmp_path):
    data = shape_data(shape)
    tables = tables_from_frames(data, backend_for(engine_name), engine_name, tmp_path)
    for kwargs in (SETTINGS["weeks"], SETTINGS["calibration_days"]):
        assert_same_summary(rfm_summary(data.transactions, **kwargs), er.rfm_summary(tables, **kwargs))


def test_negative_values_raise_like_pandas(shape_data, duckdb_backend, tmp_path):
    """Refunds: the same error (count, examples, what to do), counted in the engine; without values it works."""
    data = shape_data("refunds_loss_late_orders")
    tables = tables_from_frames(data, duckdb_backend, "duckdb", tmp_path)
    n_negative = int((data.transactions["revenue_usd"] < 0).sum())
    with pytest.raises(ValueError, match="net out refunds") as pandas_error:
        rfm_summary(data.transactions)
    with pytest.raises(ValueError, match="net out refunds") as engine_error:
        er.rfm_summary(tables)
    for error in (pandas_error, engine_error):
        assert f"column 'revenue_usd' has {n_negative} negative value(s)" in str(error.value)
    assert "revenue_usd=-" in str(engine_error.value)  # examples of the rows
    assert_same_summary(rfm_summary(data.transactions, value_col=None), er.rfm_summary(tables, value=False))


def test_missing_values_and_bad_arguments(default_data, duckdb_backend, tmp_path):
    tx = default_data.transactions.copy()
    tx.loc[[3, 7], "ordered_at"] = pd.NaT
    pq.write_table(pa.Table.from_pandas(tx, preserve_index=False), tmp_path / "tx.parquet", coerce_timestamps="us")
    expr = duckdb_backend.read_parquet(str(tmp_path / "tx.parquet"))
    with pytest.raises(ValueError, match=r"column 'ordered_at' has 2 missing value\(s\)"):
        er.rfm_summary(expr)
    with pytest.raises(ValueError, match="calibration_end must not be after observation_end"):
        er.rfm_summary(
            expr.filter(expr.ordered_at.notnull()), calibration_end="2026-01-01", observation_end="2025-01-01"
        )
    with pytest.raises(ValueError, match="freq must be one of"):
        er.rfm_summary(expr, freq="M")
    empty = er.rfm_summary(
        expr.filter(expr.customer_id < 0), calibration_end="2024-06-30", observation_end="2025-01-01"
    )
    ref = rfm_summary(tx.iloc[:0], calibration_end="2024-06-30", observation_end="2025-01-01")
    assert_same_summary(ref, empty)


@pytest.mark.parametrize("setting", ["weeks", "calibration_days"])
def test_patterns_fit_the_same_bgnbd(setting, default_data, default_tables):
    """The distinct triples with counts: the same customers, log-likelihood and BG/NBD fit (1e-8)."""
    kwargs = SETTINGS[setting]
    summary = rfm_summary(default_data.transactions, **kwargs)
    patterns = er.rfm_patterns(default_tables, value=True, **kwargs)
    ref = summary.groupby(["frequency", "recency", "T"]).agg(
        n_customers=("monetary_value", "size"),
        monetary_value_sum=("monetary_value", "sum"),
        monetary_value_sumsq=("monetary_value", lambda m: float((m**2).sum())),
    )
    ref = ref.reset_index()
    for col in ("frequency", "recency", "T", "n_customers"):
        assert (patterns[col].to_numpy() == ref[col].to_numpy()).all(), col  # exactly: the same floats
    np.testing.assert_allclose(patterns["monetary_value_sum"], ref["monetary_value_sum"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(patterns["monetary_value_sumsq"], ref["monetary_value_sumsq"], rtol=1e-9, atol=1e-9)
    assert patterns.attrs["n_customers"] == len(summary)
    assert len(patterns) < len(summary)

    # the compressed rows have the per-customer log-likelihood
    rows = compress_rfm(
        patterns["frequency"].to_numpy(),
        patterns["recency"].to_numpy(),
        patterns["T"].to_numpy(),
        weights=patterns["n_customers"].to_numpy(),
    )
    direct = compress_rfm(summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy())
    assert rows.n == direct.n == len(summary) and rows.n_rows == direct.n_rows

    def loglik(r) -> float:
        x = np.concatenate([np.zeros(r.zero_w.size), r.x])
        t = np.concatenate([np.zeros(r.zero_w.size), r.t_values[r.it]])
        big_t = np.concatenate([r.T_values[r.zero_iT], r.T_values[r.iT]])
        w = np.concatenate([r.zero_w, r.w])
        return float(w @ bgnbd_loglik(0.5, 4.0, 0.8, 2.5, x, t, big_t))

    assert loglik(rows) == pytest.approx(loglik(direct), rel=1e-12)

    # a BetaGeoFitter on the triples (one row per customer again) = on the per-customer summary
    expanded = patterns.loc[patterns.index.repeat(patterns["n_customers"]), ["frequency", "recency", "T"]]
    on_summary = BetaGeoFitter().fit(summary)
    on_patterns = BetaGeoFitter().fit(expanded)
    assert on_summary.model_ == on_patterns.model_
    np.testing.assert_allclose(on_patterns.params_, on_summary.params_, rtol=1e-8)
    assert on_patterns.log_likelihood_ == pytest.approx(on_summary.log_likelihood_, rel=1e-12)

    # ... and fitted on the triples directly, with their counts as weights: the same fit and standard errors
    weighted = BetaGeoFitter().fit(patterns, weights_col="n_customers")
    assert weighted.model_ == on_summary.model_ and weighted.n_customers_ == len(summary)
    np.testing.assert_allclose(weighted.params_, on_summary.params_, rtol=1e-8)
    np.testing.assert_allclose(weighted.standard_errors_, on_summary.standard_errors_, rtol=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(on_summary.log_likelihood_, rel=1e-12)


def test_weights_col_is_checked():
    """Negative or missing weights are refused with the column and the rows."""
    summary = pd.DataFrame({"frequency": [1.0, 0.0], "recency": [2.0, 0.0], "T": [5.0, 5.0], "n": [3.0, -1.0]})
    with pytest.raises(
        ValueError, match=r"column 'n' \(weights\): 1 row\(s\) missing, infinite or negative at rows \[1\]"
    ):
        BetaGeoFitter().fit(summary, weights_col="n")


def test_patterns_same_on_every_engine(default_data, default_tables):
    """The triples are the same on every engine (counts exactly)."""
    summary = rfm_summary(default_data.transactions, freq="W")
    patterns = er.rfm_patterns(default_tables, freq="W")
    ref = summary.groupby(["frequency", "recency", "T"]).size()
    assert patterns.set_index(["frequency", "recency", "T"])["n_customers"].to_dict() == ref.to_dict()
    assert list(patterns.columns) == ["frequency", "recency", "T", "n_customers"]
