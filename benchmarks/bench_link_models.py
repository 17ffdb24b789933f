"""Benchmark: the satisfaction link-model pipeline at 100k and 1M customers.

Targets (issue 11): the churn hazard model (both fits: the csat spline and the
straight line of its linearity test) under 30 s at 1M customers, and the whole
pipeline under 4 GiB peak memory.

For each size the data set is simulated once, in bounded memory, by
:func:`bsc_toolkit.data.simulate.simulate_to_dir` into a Parquet folder under
``benchmarks/results/cache/`` (reused by later runs; ``--fresh`` rebuilds it),
then a fresh subprocess runs the pipeline and reports time and memory of each
step:

* ``load``         -- :func:`bsc_toolkit.data.io.load_dataset` (read + validate)
* ``panel``        -- :func:`bsc_toolkit.panel.customer_periods`
* ``churn``        -- the discrete-time cloglog hazard model with csat spline,
  including its linearity test (a second GLM fit)
* ``revenue_fe``   -- :class:`FinancialPanelModel` within (customer FE)
* ``revenue_ppml`` -- :class:`FinancialPanelModel` PPML with customer FE

Time: wall-clock ``seconds`` and the process's CPU time (``cpu s``; less
sensitive to other load on the machine, but it adds up the threads of a
multi-threaded BLAS). Memory: ``step peak`` is the largest resident set size
(RSS) of the process sampled during the step (every 5 ms), ``+MiB`` its rise
over the RSS at the step start, ``pipeline peak`` the process's maximum
RSS (``ru_maxrss``) after the last step. Baselines measured in the same run,
after the pipeline (so they do not count in its peak):

* ``churn`` vs a plain statsmodels formula GLM (``smf.glm``, default
  settings, one fit) on the same rows (ratio < 1: faster than the baseline);
* every step vs its own time at the smallest size scaled linearly in the
  number of customers (ratio ~1: linear scaling; > 1: worse than linear).

Usage::

    python benchmarks/bench_link_models.py            # 100k and 1M customers
    python benchmarks/bench_link_models.py --quick    # 10k and 50k (smoke run, make bench)
    python benchmarks/bench_link_models.py --sizes 1000000 --fresh
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "benchmarks" / "results" / "cache"
TARGET_CHURN_SECONDS = 30.0
TARGET_PEAK_MIB = 4 * 1024.0
STEPS = ("load", "panel", "churn", "revenue_fe", "revenue_ppml")


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize()
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


class _Sampler:
    """Largest RSS of this process while the block runs (sampled every 5 ms)."""

    def __init__(self) -> None:
        self.peak = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self._stop.wait(0.005)

    def __enter__(self) -> _Sampler:
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def _step(fn):
    with _Sampler() as sampler:
        start = sampler.peak
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return out, {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mib": sampler.peak / 2**20,
        "added_mib": (sampler.peak - start) / 2**20,
    }


def data_dir(cache: Path, n_customers: int, seed: int) -> Path:
    return cache / f"link_models_n{n_customers}_seed{seed}"


def run_simulate(path: Path, n_customers: int, seed: int, chunk_size: int) -> dict:
    """Simulate into ``path`` (call in a fresh process: the peak is the simulator's)."""
    from bsc_toolkit.data.simulate import simulate_to_dir

    t0, c0 = time.perf_counter(), time.process_time()
    simulate_to_dir(path, n_customers, seed=seed, chunk_size=chunk_size, file_format="parquet")
    stats = {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "peak_mib": _max_rss_mib(),
        "chunk_size": chunk_size,
    }
    (path / "simulate_stats.json").write_text(json.dumps(stats))
    return stats


def _hazard_model():
    from bsc_toolkit.models import retention

    return getattr(retention, "DiscreteTimeHazardModel", None) or retention.ChurnLogitModel


def run_pipeline(path: Path) -> dict:
    """Load, build the panel and fit the link models (call in a fresh process)."""
    import numpy as np
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    from bsc_toolkit.data.io import load_dataset
    from bsc_toolkit.models.features import add_csat_spline
    from bsc_toolkit.models.financial import FinancialPanelModel
    from bsc_toolkit.panel import customer_periods

    result: dict = {"start_rss_mib": _max_rss_mib()}
    data, result["load"] = _step(lambda: load_dataset(path))
    result["n_customers"] = len(data.customers)
    result["n_transactions"] = len(data.transactions)
    build_panel = partial(customer_periods, data.customers, data.surveys, data.transactions)
    del data  # the tables live on in build_panel until the panel is built
    panel, result["panel"] = _step(build_panel)
    del build_panel
    result["n_customer_periods"] = len(panel)
    result["panel_mib"] = float(panel.memory_usage(deep=False).sum() / 2**20)  # labels share their strings
    model, result["churn"] = _step(lambda: _hazard_model()().fit(panel))
    result["n_churn_rows"] = int(getattr(model, "n_obs_", 0))
    _, result["revenue_fe"] = _step(lambda: FinancialPanelModel("revenue_usd", "within").fit(panel))
    _, result["revenue_ppml"] = _step(lambda: FinancialPanelModel("revenue_usd", "ppml").fit(panel))
    result["pipeline_peak_mib"] = _max_rss_mib()

    # baseline: today's default specification as one plain statsmodels formula GLM on the same rows
    formula = getattr(model, "formula_", "churned ~ csat_below + csat_above + C(segment) + tenure_years")

    def baseline():
        rows = add_csat_spline(panel[panel["csat"].notna()], 7.0)
        rows["churned"] = rows["churned"].astype(int)
        rows["log_at_risk"] = np.log(rows["at_risk_fraction"].clip(lower=1e-6))
        return smf.glm(
            formula,
            rows,
            family=sm.families.Binomial(link=sm.families.links.CLogLog()),
            offset=rows["log_at_risk"].to_numpy(),
        ).fit()

    ref, result["churn_baseline_smf_glm"] = _step(baseline)
    params = getattr(model, "params_", None)
    if params is not None and set(params.index) == set(ref.params.index):
        result["churn_max_abs_coef_diff"] = float(np.max(np.abs(ref.params - params.reindex(ref.params.index))))
    return result


def _run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(results: list[dict]) -> str:
    base = results[0]
    lines = [
        f"{'customers':>10} {'cust-periods':>12} {'step':>24} {'seconds':>8} {'cpu s':>7} "
        f"{'step peak MiB':>14} {'+MiB':>7} {'vs linear':>10}"
    ]
    for r in results:
        scale = r["n_customers"] / base["n_customers"]
        sim = r["simulate"]
        lines.append(
            f"{r['n_customers']:>10,} {r['n_customer_periods']:>12,} {'simulate (chunked)':>24} "
            f"{sim['seconds']:>8.2f} {sim.get('cpu_seconds', float('nan')):>7.2f} {sim['peak_mib']:>14,.0f}"
            + ("  (cached run)" if sim.get("cached") else "")
        )
        for s in (*STEPS, "churn_baseline_smf_glm"):
            lin = r[s]["seconds"] / (base[s]["seconds"] * scale)
            lines.append(
                f"{r['n_customers']:>10,} {r['n_customer_periods']:>12,} {s:>24} {r[s]['seconds']:>8.2f} "
                f"{r[s]['cpu_seconds']:>7.2f} {r[s]['peak_mib']:>14,.0f} {r[s]['added_mib']:>7,.0f} {lin:>10.2f}"
            )
        churn_s = r["churn"]["seconds"]
        ratio = churn_s / r["churn_baseline_smf_glm"]["seconds"]
        diff = r.get("churn_max_abs_coef_diff")
        lines.append(
            f"{'':>10} churn (both fits) {churn_s:.1f} s vs target {TARGET_CHURN_SECONDS:.0f} s "
            f"[{'ok' if churn_s < TARGET_CHURN_SECONDS else 'MISSED'}]; vs statsmodels smf.glm (one fit) = {ratio:.2f}"
            + (f" (max |coef diff| {diff:.1e})" if diff is not None else "")
        )
        peak = r["pipeline_peak_mib"]
        lines.append(
            f"{'':>10} pipeline peak {peak:,.0f} MiB vs target {TARGET_PEAK_MIB:,.0f} MiB "
            f"[{'ok' if peak < TARGET_PEAK_MIB else 'MISSED'}]; panel frame {r['panel_mib']:,.0f} MiB; "
            f"{r['n_transactions']:,} transactions"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 50k customers instead of 100k and 1M")
    parser.add_argument("--sizes", type=int, nargs="*", help="explicit customer counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=100_000, help="customers per simulator chunk")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where simulated data sets are kept")
    parser.add_argument("--fresh", action="store_true", help="re-simulate even if a cached data set exists")
    parser.add_argument("--simulate-into", type=Path, help=argparse.SUPPRESS)  # internal: one simulation
    parser.add_argument("--pipeline-on", type=Path, help=argparse.SUPPRESS)  # internal: one pipeline run
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.simulate_into:
        print(json.dumps(run_simulate(args.simulate_into, args.n, args.seed, args.chunk_size)))
        return 0
    if args.pipeline_on:
        print(json.dumps(run_pipeline(args.pipeline_on)))
        return 0

    sizes = args.sizes or ([10_000, 50_000] if args.quick else [100_000, 1_000_000])
    results = []
    for n in sizes:
        path = data_dir(args.cache_dir, n, args.seed)
        stats_file = path / "simulate_stats.json"
        if args.fresh or not (stats_file.is_file() and (path / "truth.json").is_file()):
            sim = _run_child(
                "--simulate-into",
                str(path),
                "--n",
                str(n),
                "--seed",
                str(args.seed),
                "--chunk-size",
                str(args.chunk_size),
            )
        else:
            sim = {**json.loads(stats_file.read_text()), "cached": True}
        result = _run_child("--pipeline-on", str(path))
        result["simulate"] = sim
        results.append(result)
    print(report(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
