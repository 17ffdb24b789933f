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
