"""The customer-period panel on DuckDB and Spark against the pandas panel, and its patterns for GLMs."""

from __future__ import annotations

import dataclasses

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from bsc_toolkit.engine import panel as ep
from bsc_toolkit.engine import tables_from_frames
from bsc_toolkit.panel import customer_periods

SHAPES = ("string_ids", "no_cost", "refunds_loss_late_orders", "no_surveys")


@pytest.fixture(scope="module")
def pandas_panel(default_data) -> pd.DataFrame:
    return customer_periods(default_data.customers, default_data.surveys, default_data.transactions, freq="Q")


def assert_same_panel(ref: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same rows, columns and dtypes; integers and labels exactly, floats to 1e-9 relative."""
    assert list(got.columns) == list(ref.columns)
    assert got.dtypes.to_dict() == ref.dtypes.to_dict()
    assert len(got) == len(ref)
    for col in ref.columns:
        a, b = ref[col], got[col]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-12, err_msg=col)
        else:
            assert (
                (a.to_numpy() == b.to_numpy()).all() if a.dtype.kind in "biuM" else a.astype(str).equals(b.astype(str))
            ), col


def test_panel_equals_pandas(pandas_panel, default_tables):
    assert_same_panel(pandas_panel, ep.customer_periods(default_tables, "Q"))


@pytest.mark.slow
@pytest.mark.parametrize("freq", ["M", "W", "Y", "Q-MAR"])
def test_panel_other_frequencies(freq, default_data, default_tables):
    """Months, weeks (Monday to Sunday, as pandas), years and fiscal quarters: the same periods as pandas."""
    ref = customer_periods(default_data.customers, default_data.surveys, default_data.transactions, freq=freq)
    assert_same_panel(ref, ep.customer_periods(default_tables, freq))


def test_panel_start_end_and_expression(default_data, default_tables):
    """Given start and end periods; the expression stays lazy and has the period start and index."""
    ref = customer_periods(
        default_data.customers, default_data.surveys, default_data.transactions, freq="Q", start="2024Q2", end="2025Q1"
    )
    got = ep.customer_periods(default_tables, "Q", start="2024Q2", end="2025Q1")
    assert_same_panel(ref, got)
    expr = ep.customer_periods_expr(default_tables, "Q", start="2024Q2", end="2025Q1")
    assert {"period", "period_i"} <= set(expr.columns)
    assert int(default_tables.backend.execute(expr.count())) == len(ref)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_panel_shapes(shape, shape_data, backend_for, engine_name, tmp_path):
    """String ids, no cost (cost and margin unknown), refunds and an order in 2099, no surveys."""
    data = shape_data(shape)
    tables = tables_from_frames(data, backend_for(engine_name), engine_name, tmp_path)
    end = None
    if shape == "refunds_loss_late_orders":
        # the order in 2099 stretches the panel to 2099Q1 (425k rows): checked in the engine; the rows are
        # compared in full on DuckDB, up to 2026 on Spark (its conversion to pandas is slow)
        expr = ep.customer_periods_expr(tables, "Q")
        assert int(tables.backend.execute(expr.period_i.max())) == (pd.Period("2099Q1") - pd.Period("2024Q1")).n
        end = "2026Q4" if engine_name == "spark" else None
    ref = customer_periods(data.customers, data.surveys, data.transactions, freq="Q", end=end)
    got = ep.customer_periods(tables, "Q", end=end)
    assert_same_panel(ref, got)
    if shape == "no_cost":
        assert got["cost_usd"].isna().all() and got["margin_usd"].isna().all()
    if shape == "no_surveys":
        assert not got["surveyed"].any() and "csat" not in got.columns


def test_panel_without_acquisition_dates(default_data, backend_for, engine_name, tmp_path):
    """No acquired_at: the window starts at the first survey or transaction (as pandas)."""
    customers = default_data.customers.drop(columns="acquired_at")
    ref = customer_periods(customers, default_data.surveys, default_data.transactions, freq="Q")
    backend = backend_for(engine_name)
    tables = tables_from_frames(default_data, backend, engine_name, tmp_path)
    pq.write_table(
        pa.Table.from_pandas(customers, preserve_index=False), tmp_path / "c.parquet", coerce_timestamps="us"
    )
    tables = dataclasses.replace(tables, customers=backend.read_parquet(str(tmp_path / "c.parquet")))
    assert_same_panel(ref, ep.customer_periods(tables, "Q"))


def test_panel_errors(default_data, duckdb_backend, tmp_path):
    backend = duckdb_backend
    tables = tables_from_frames(default_data, backend, "duckdb", tmp_path)
    dup = pd.concat([default_data.customers, default_data.customers.iloc[:2]], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(dup, preserve_index=False), tmp_path / "dup.parquet", coerce_timestamps="us")
    with pytest.raises(ValueError, match=r"duplicate customer_id\(s\), e.g. \[1, 2\]"):
        ep.customer_periods_expr(
            dataclasses.replace(tables, customers=backend.read_parquet(str(tmp_path / "dup.parquet")))
        )
    text = default_data.customers.assign(customer_id=default_data.customers["customer_id"].astype(str))
    pq.write_table(pa.Table.from_pandas(text, preserve_index=False), tmp_path / "text.parquet", coerce_timestamps="us")
    with pytest.raises(ValueError, match="customer_id is text in the customers table but numeric in the surveys"):
        ep.customer_periods_expr(
            dataclasses.replace(tables, customers=backend.read_parquet(str(tmp_path / "text.parquet")))
        )
    with pytest.raises(ValueError, match="give start and end periods"):
        ep.customer_periods_expr(dataclasses.replace(tables, surveys=None, transactions=None))
    with pytest.raises(ValueError, match="not supported on the engines"):
        ep.customer_periods_expr(tables, "min")
    with pytest.raises(ValueError, match="end period"):
        ep.customer_periods_expr(tables, "Q", start="2025Q1", end="2024Q1")


KEY_FREQS = ["Y", "Y-JUN", "Q", "Q-MAR", "M", "W", "W-WED", "D", "h"]


def test_period_key_matches_pandas(default_tables):
    """Consecutive periods have consecutive keys, and a timestamp's key is its pandas period's, in the
    engine and in Python (before 1970 too)."""
    stamps = pd.Series(pd.date_range("1968-12-25 05:00", "2031-03-07", freq="331h").as_unit("us"))
    table = ibis.memtable(pd.DataFrame({"ts": stamps}))
    keys = default_tables.backend.execute(
        table.select("ts", **{f"k{i}": ep.period_key(table.ts, f) for i, f in enumerate(KEY_FREQS)}).order_by("ts")
    )
    for i, freq in enumerate(KEY_FREQS):
        ordinals = stamps.dt.to_period(freq).array.asi8
        engine_keys = keys[f"k{i}"].to_numpy(dtype=np.int64)
        assert np.all(engine_keys - ordinals == engine_keys[0] - ordinals[0]), freq
        python_keys = np.array([ep.period_key_of(ts, freq) for ts in stamps[::7]])
        assert (python_keys == engine_keys[::7]).all(), freq
        assert ep.period_key_of(pd.Period(stamps[5], freq), freq) == engine_keys[5], freq


# ------------------------------------------------------------------------------------------ patterns
def _design(frame: pd.DataFrame, levels: list[str]) -> np.ndarray:
    cols = [np.ones(len(frame)), frame["csat"].to_numpy(dtype=float)]
    cols += [(frame["segment"] == level).to_numpy(dtype=float) for level in levels[1:]]
    return np.column_stack(cols)


def test_patterns_equal_pandas_groupby(pandas_panel, default_tables):
    """Counts exactly, sums to 1e-9; rounded csat; attrs."""
    got = ep.panel_patterns(default_tables, ["period", "segment", "csat"], "Q", digits={"csat": 0})
    rows = pandas_panel.dropna(subset=["csat"]).assign(csat=lambda d: np.floor(d["csat"] * 1.0 + 0.5) / 1.0)
    ref = (
        rows.assign(sq=rows["revenue_usd"] ** 2, msq=rows["margin_usd"] ** 2)
        .groupby(["period", "segment", "csat"], observed=True)
        .agg(
            n_rows=("churned", "size"),
            n_churned=("churned", "sum"),
            exposure=("at_risk_fraction", "sum"),
            revenue_usd_sum=("revenue_usd", "sum"),
            revenue_usd_sumsq=("sq", "sum"),
            margin_usd_sum=("margin_usd", "sum"),
            margin_usd_sumsq=("msq", "sum"),
        )
        .reset_index()
    )
    assert list(got.columns) == list(ref.columns)
    assert got["period"].dtype == ref["period"].dtype
    for col in ("period", "segment", "csat", "n_rows", "n_churned"):
        assert (got[col].to_numpy() == ref[col].to_numpy()).all(), col
    for col in ("exposure", "revenue_usd_sum", "revenue_usd_sumsq", "margin_usd_sum", "margin_usd_sumsq"):
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-9, atol=1e-9, err_msg=col)
    assert got.attrs["n_rows"] == len(rows)
    assert got.attrs["n_rows_dropped"] == int(pandas_panel["csat"].isna().sum())
    assert got.attrs["n_customers"] == rows["customer_id"].nunique()
    assert got.attrs["n_patterns"] == len(got) < len(rows) / 10


@pytest.mark.slow
def test_pattern_glms_reproduce_row_level_fits(pandas_panel, duckdb_backend, default_data, tmp_path):
    """Logit and cloglog (binomial) and Poisson (with exposure) on the patterns = the row-level fits, to 1e-8."""
    tables = tables_from_frames(default_data, duckdb_backend, "duckdb", tmp_path)
    rows = pandas_panel.dropna(subset=["csat"]).reset_index(drop=True)
    levels = sorted(rows["segment"].unique())
    x_rows = _design(rows, levels)
    y_rows = rows["churned"].to_numpy(dtype=float)
    fit = dict(tol=1e-14, maxiter=200)

    # logit: (events, non-events) per pattern
    pat = ep.panel_patterns(tables, ["segment", "csat"], exposure=None, values=())
    assert pat["n_rows"].sum() == len(rows) and pat["n_churned"].sum() == y_rows.sum()
    events = np.column_stack([pat["n_churned"], pat["n_rows"] - pat["n_churned"]]).astype(float)
    row_fit = sm.GLM(y_rows, x_rows, family=sm.families.Binomial()).fit(**fit)
    pat_fit = sm.GLM(events, _design(pat, levels), family=sm.families.Binomial()).fit(**fit)
    np.testing.assert_allclose(pat_fit.params, row_fit.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(pat_fit.bse, row_fit.bse, rtol=1e-8)
    # the same with frequency weights on (pattern, churned) rows
    pat2 = ep.panel_patterns(tables, ["segment", "csat", "churned"], exposure=None, values=())
    w_fit = sm.GLM(
        pat2["churned"].to_numpy(dtype=float),
        _design(pat2, levels),
        family=sm.families.Binomial(),
        freq_weights=pat2["n_rows"].to_numpy(dtype=float),
    ).fit(**fit)
    np.testing.assert_allclose(w_fit.params, row_fit.params, rtol=1e-8, atol=1e-10)

    # Poisson with offset log(at_risk_fraction): the exposures of a pattern add up
    pat = ep.panel_patterns(tables, ["segment", "csat"], values=())
    row_fit = sm.GLM(
        y_rows, x_rows, family=sm.families.Poisson(), offset=np.log(rows["at_risk_fraction"].to_numpy())
    ).fit(**fit)
    pat_fit = sm.GLM(
        pat["n_churned"].to_numpy(dtype=float),
        _design(pat, levels),
        family=sm.families.Poisson(),
        exposure=pat["exposure"].to_numpy(),
    ).fit(**fit)
    np.testing.assert_allclose(pat_fit.params, row_fit.params, rtol=1e-8, atol=1e-10)

    # the hazard model's cloglog with offset log(at_risk_fraction): at_risk_fraction is a pattern column
    cloglog = sm.families.Binomial(link=sm.families.links.CLogLog())
    pat = ep.panel_patterns(tables, ["segment", "csat", "at_risk_fraction"], values=())
    events = np.column_stack([pat["n_churned"], pat["n_rows"] - pat["n_churned"]]).astype(float)
    row_fit = sm.GLM(y_rows, x_rows, family=cloglog, offset=np.log(rows["at_risk_fraction"].to_numpy())).fit(**fit)
    pat_fit = sm.GLM(
        events, _design(pat, levels), family=cloglog, offset=np.log(pat["at_risk_fraction"].to_numpy())
    ).fit(**fit)
    np.testing.assert_allclose(pat_fit.params, row_fit.params, rtol=1e-8, atol=1e-10)

    # pooled linear spend: WLS on pattern means with n_rows weights = OLS on rows
    spend = rows[~rows["churned"]]
    pat = ep.panel_patterns(tables, ["segment", "csat"], where=lambda p: ~p.churned, values=("revenue_usd",))
    ols = sm.OLS(spend["revenue_usd"].to_numpy(), _design(spend, levels)).fit()
    wls = sm.WLS(pat["revenue_usd_sum"] / pat["n_rows"], _design(pat, levels), weights=pat["n_rows"]).fit()
    np.testing.assert_allclose(wls.params, ols.params, rtol=1e-8, atol=1e-10)
    # residual sum of squares from the sums of squares
    fitted = _design(pat, levels) @ wls.params.to_numpy()
    rss = float((pat["revenue_usd_sumsq"] - 2 * fitted * pat["revenue_usd_sum"] + pat["n_rows"] * fitted**2).sum())
    assert rss == pytest.approx(ols.ssr, rel=1e-8)


def test_patterns_on_a_panel_expression(default_tables, pandas_panel):
    """A filtered panel expression; margin without cost is unknown (strict sums); period needs freq."""
    expr = ep.customer_periods_expr(default_tables, "Q")
    got = ep.panel_patterns(expr.filter(expr.surveyed), ["period"], "Q", exposure="active_fraction")
    ref = (
        pandas_panel[pandas_panel["surveyed"]]
        .groupby("period")
        .agg(n=("churned", "size"), e=("active_fraction", "sum"))
    )
    assert got["n_rows"].tolist() == ref["n"].tolist()
    np.testing.assert_allclose(got["exposure"], ref["e"], rtol=1e-9)
    assert got["margin_usd_sum"].notna().all()
    # without cost_usd in the transactions: margin unknown in every pattern, revenue still summed
    no_cost = dataclasses.replace(default_tables, transactions=default_tables.transactions.drop("cost_usd"))
    expr_nc = ep.customer_periods_expr(no_cost, "Q")
    got_nc = ep.panel_patterns(expr_nc.filter(expr_nc.surveyed), ["period"], "Q", exposure="active_fraction")
    assert got_nc["n_rows"].tolist() == ref["n"].tolist()
    assert got_nc["margin_usd_sum"].isna().all() and got_nc["margin_usd_sumsq"].isna().all()
    np.testing.assert_allclose(got_nc["revenue_usd_sum"], got["revenue_usd_sum"], rtol=1e-9)
    with pytest.raises(ValueError, match="give freq"):
        ep.panel_patterns(expr, ["period"])
    with pytest.raises(ValueError, match="no column"):
        ep.panel_patterns(expr, ["nope"], "Q")
