"""Benchmark: fitting the satisfaction link models at 100k and 1M customers.

For each size a fresh subprocess simulates the customer base (8 quarters) and
times, with the peak memory traced by ``tracemalloc`` per stage:

* ``panel``      -- :func:`bsc_toolkit.panel.customer_periods`
* ``churn``      -- :class:`ChurnLogitModel` (cloglog hazard with csat spline,
  including its nonlinearity test: a second GLM fit)
* ``revenue_fe`` -- :class:`FinancialPanelModel` within (customer FE by demeaning)
* ``revenue_ppml`` -- :class:`FinancialPanelModel` PPML with customer FE

Baselines measured in the same run:

* ``churn`` vs statsmodels' formula GLM (``smf.glm``, default settings, one
  fit) on the same rows (ratio < 1: faster than the baseline);
* every stage vs its own time at the smallest size scaled linearly in the
  number of customers (ratio ~1: linear scaling; > 1: worse than linear).

Usage::

    python benchmarks/bench_link_models.py            # 100k and 1M customers
    python benchmarks/bench_link_models.py --quick    # 10k and 100k (smoke run)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc


def _stage(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, {"seconds": seconds, "peak_mib": peak / 2**20}


def run_one(n_customers: int, seed: int = 0) -> dict:
    """Simulate and fit at one size (call in a fresh process)."""
    import numpy as np
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    from bsc_toolkit.data.simulate import simulate
    from bsc_toolkit.models.financial import FinancialPanelModel
    from bsc_toolkit.models.retention import ChurnLogitModel
    from bsc_toolkit.panel import customer_periods

    t0 = time.perf_counter()
    data = simulate(n_customers, seed=seed)
    result = {"n_customers": n_customers, "simulate_seconds": time.perf_counter() - t0,
              "n_transactions": len(data.transactions)}
    panel, result["panel"] = _stage(lambda: customer_periods(data.customers, data.surveys, data.transactions))
    del data
    result["n_customer_periods"] = len(panel)
    model, result["churn"] = _stage(lambda: ChurnLogitModel().fit(panel))
    result["n_churn_rows"] = model.n_obs_
    rows = model.prepare(panel)

    def baseline():
        return smf.glm(
            model.formula_, rows, family=sm.families.Binomial(link=sm.families.links.CLogLog()),
            offset=rows["log_at_risk"].to_numpy(),
        ).fit()

    ref, result["churn_baseline_smf_glm"] = _stage(baseline)
    result["churn_max_abs_coef_diff"] = float(np.max(np.abs(ref.params.to_numpy() - model.params_.to_numpy())))
    del rows, ref
    _, result["revenue_fe"] = _stage(lambda: FinancialPanelModel(estimator="within").fit(panel))
    _, result["revenue_ppml"] = _stage(lambda: FinancialPanelModel(estimator="ppml").fit(panel))
    result["process_max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k customers instead of 100k and 1M")
    parser.add_argument("--sizes", type=int, nargs="*", help="explicit customer counts")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [100_000, 1_000_000])
    results = []
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    stages = ["panel", "churn", "churn_baseline_smf_glm", "revenue_fe", "revenue_ppml"]
    base = results[0]
    print(f"{'customers':>10} {'cust-periods':>12} {'stage':>24} {'seconds':>9} {'peak MiB':>9} {'vs linear':>10}")
    for r in results:
        scale = r["n_customers"] / base["n_customers"]
        for s in stages:
            lin = r[s]["seconds"] / (base[s]["seconds"] * scale)
            print(f"{r['n_customers']:>10,} {r['n_customer_periods']:>12,} {s:>24} {r[s]['seconds']:>9.2f} "
                  f"{r[s]['peak_mib']:>9.0f} {lin:>10.2f}")
        ratio = r["churn"]["seconds"] / r["churn_baseline_smf_glm"]["seconds"]
        print(f"{'':>10} churn fit / statsmodels smf.glm baseline = {ratio:.2f} "
              f"(max |coef diff| {r['churn_max_abs_coef_diff']:.1e}); simulate {r['simulate_seconds']:.1f}s; "
              f"process max RSS {r['process_max_rss_mib']:,.0f} MiB")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
