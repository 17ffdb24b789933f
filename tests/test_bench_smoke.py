"""The link-model benchmark runs end to end on a tiny data set (so `make bench` does not rot)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_link_models_runs_and_caches_the_simulation(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_link_models", ROOT / "benchmarks" / "bench_link_models.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--sizes", "3000", "--cache-dir", str(tmp_path), "--chunk-size", "1000"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    r = results[0]
    assert r["n_customers"] == 3000 and r["n_customer_periods"] > 3000
    for step in (*bench.STEPS, "churn_baseline_smf_glm"):
        assert r[step]["seconds"] > 0 and r[step]["peak_mib"] > 0
    assert r["churn_max_abs_coef_diff"] < 1e-6  # same estimates as the plain statsmodels GLM
    assert "pipeline peak" in out and "vs target 30 s" in out
    # second run reuses the cached data set
    assert bench.main(args) == 0
    assert "(cached run)" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_clv_runs_and_agrees_with_lifetimes(tmp_path, capsys):
    pytest.importorskip("lifetimes", reason="lifetimes (the dev extra) is not installed")
    spec = importlib.util.spec_from_file_location("bench_clv", ROOT / "benchmarks" / "bench_clv.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out_file = tmp_path / "bench_clv.json"
    assert bench.main(["--quick", "--n-customers", "3000", "--repeats", "1", "--output", str(out_file)]) == 0
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    assert results == json.loads(out_file.read_text())
    sim = next(r for r in results if r["name"] == "simulated 3,000")
    assert sim["n_customers"] == 3000 and sim["bsc_model"] == "BG/NBD"
    for r in results:
        assert r["bsc_seconds"] > 0 and r["lifetimes_seconds"] > 0 and r["lifetimes_weights_seconds"] > 0
        assert r["max_rel_diff_params"] < 1e-4 and r["max_rel_diff_se"] < 1e-3
        assert f"ratio {r['ratio']:.1f}x" in out


@pytest.mark.slow
def test_bench_reports_times_sequential_cold_warm_and_touched_runs(tmp_path, capsys):
    import nbformat

    spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "benchmarks" / "bench_reports.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("one", "two"):  # two tiny notebooks stand in for the suite
        nb = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(f"print('{name}', x)"),
            ]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, suite / f"{name}.ipynb")
    out_file = tmp_path / "bench_reports.json"
    args = ["--notebooks-dir", str(suite), "--touch", "two", "--work-dir", str(tmp_path / "work")]
    assert bench.main([*args, "--snapshot", "--output", str(out_file)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    assert results == json.loads(out_file.read_text())
    assert results["reports"] == 2 and results["problems"] == []
    assert results["statuses"]["warm"] == {"one": "cached", "two": "cached"}
    assert results["statuses"]["touched"] == {"one": "cached", "two": "ok"}
    assert all(s > 0 for s in results["seconds"].values())
    assert "warm" in out and "faster than sequential" in out and "target < 5 s" in out


@pytest.mark.slow
def test_bench_warehouse_runs_duckdb_against_pandas(tmp_path, capsys):
    """The warehouse benchmark: every step on DuckDB and the pandas baseline, the same row counts."""
    spec = importlib.util.spec_from_file_location("bench_warehouse", ROOT / "benchmarks" / "bench_warehouse.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out_file = tmp_path / "bench_warehouse.json"
    args = ["--quick", "--n-customers", "3000", "--cache-dir", str(tmp_path / "cache"), "--output", str(out_file)]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    results = json.loads(out_file.read_text())
    assert results["rows"]["customers"] == 3000 and results["rows"]["transactions"] > 3000
    steps = {(s["engine"], s["step"]): s for s in results["steps"]}
    for step in ("kpis", "panel", "rfm"):
        duck, pandas_ = steps[("duckdb", step)], steps[("pandas", step)]
        assert duck["status"] == "ok" and pandas_["status"] == "ok", (duck, pandas_)
        assert duck["rows_out"] == pandas_["rows_out"] > 0
        assert duck["wall_seconds"] > 0 and duck["peak_mib"] > 0
    assert "spark not run in --quick" in out
