"""`bsc kpis --engine` and `bsc report --engine`: the engine is chosen, checked, and gives pandas' numbers."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bsc_toolkit.cli import app


def test_kpis_table_is_the_same_on_duckdb_and_pandas():
    runner = CliRunner()
    on_pandas = runner.invoke(app, ["kpis", "--engine", "pandas", "--by", "segment"])
    on_duckdb = runner.invoke(app, ["kpis", "--engine", "duckdb", "--by", "segment"])
    assert on_pandas.exit_code == 0 and on_duckdb.exit_code == 0, on_pandas.output + on_duckdb.output
    assert on_duckdb.output == on_pandas.output  # the printed table, to its 3 decimals
    assert "2025Q4" in on_duckdb.output and "n_customers_start" in on_duckdb.output


@pytest.mark.parametrize("command", [["kpis"], ["report", "--out", "unused"]])
def test_unknown_engine_is_refused_before_any_work(command, tmp_path):
    args = [c if c != "unused" else str(tmp_path / "out") for c in command]
    res = CliRunner().invoke(app, [*args, "--engine", "polars"])
    assert res.exit_code == 1
    assert "--engine must be one of duckdb, spark, pandas, not 'polars'" in res.output
    assert not (tmp_path / "out").exists()


def test_excel_data_default_to_pandas(tmp_path):
    """Excel input stays on pandas: without --engine the table is computed, with --engine duckdb it is refused."""
    import pandas as pd

    from bsc_toolkit.data.simulate import simulate

    sim = simulate(n_customers=200, seed=3)
    with pd.ExcelWriter(tmp_path / "transactions.xlsx") as writer:
        sim.transactions.to_excel(writer, index=False)
    default = CliRunner().invoke(app, ["kpis", str(tmp_path)])
    assert default.exit_code == 0, default.output
    assert "revenue_usd" in default.output
    refused = CliRunner().invoke(app, ["kpis", str(tmp_path), "--engine", "duckdb"])
    assert refused.exit_code == 1
    assert "Excel input runs on the pandas engine" in refused.output
