"""Benchmark: the hand-written financial panel estimators against pyfixest (feols / fepois).

For each estimator of :class:`~bsc_toolkit.models.financial.FinancialPanelModel` (``pooled``,
``within``, ``fd``, ``ppml``; revenue on the csat linear spline at the knot, period effects,
standard errors clustered by customer) and each backend (``hand``: the toolkit's estimators;
``pyfixest``: the same specification through ``pyfixest.feols`` / ``pyfixest.fepois`` with the
small-sample corrections set to ours), a **fresh Python process** loads the customer-period panel
and times

* ``import``: importing the backend (``bsc_toolkit.models.financial`` or ``pyfixest``);
* ``first``: the first fit in the process (what a report pays: each notebook runs in a fresh
  kernel, so any JIT compilation or lazy import is paid per report);
* ``warm``: the best of the following fits.

It then prints the largest relative difference between the two backends' satisfaction
coefficients and clustered standard errors, and the time ratios pyfixest / hand (< 1: pyfixest
is faster), measured in the same run.

Small-sample corrections matched explicitly:

* pooled, within, fd: CR1 with ``G/(G-1) * (n-1)/(n-k)``, ``k`` the regressors outside the
  customer effects (period dummies count, customer effects do not): pyfixest
  ``ssc(k_adj=True, k_fixef="none", G_adj=True)`` with period effects as ``C(period)`` regressors
  (absorbing them as a second fixed effect would drop them from ``k``);
* ppml: ``G/(G-1)`` only: ``ssc(k_adj=False, G_adj=True)``; both keep singleton customers
  (``fixef_rm="none"``) and drop customers whose revenue is always 0.

Usage::

    python benchmarks/bench_financial.py            # 1M customers (/tmp/sim1m, simulated if absent)
    python benchmarks/bench_financial.py --quick    # 20k customers, simulated in memory
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ESTIMATORS = ("pooled", "within", "fd", "ppml")
BACKENDS = ("hand", "pyfixest")
SIM_DIR = Path("/tmp/sim1m")
WORK_DIR = Path("/tmp/bench_financial")


# ------------------------------------------------------------------------- the pyfixest backend
def fit_pyfixest(model, panel: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The model's specification fitted with pyfixest: (coefficients, clustered covariance).

    Uses the model's own row selection (``prepare``) and spline columns, so that only the
    estimation differs from the hand-written path.
    """
    import pyfixest as pf

    df = model.prepare(panel)
    y = model.outcome
    sat = ["csat_below", "csat_above"] if model.terms == "spline" else [model.csat_col]
    data = df[["customer_id", "period", "segment", "at_risk_fraction", y, *sat]].copy()
    data["period"] = data["period"].astype(str)
    rhs = " + ".join(sat) + (" + C(period)" if model.period_effects else "")
    clustered = {"CRV1": "customer_id"}
    if model.estimator == "pooled":
        fit = pf.feols(
            f"{y} ~ {rhs} + C(segment)", data, vcov=clustered, ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True)
        )
    elif model.estimator == "within":
        fit = pf.feols(
            f"{y} ~ {rhs} | customer_id",
            data,
            vcov=clustered,
            fixef_rm="none",
            ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True),
        )
    elif model.estimator == "ppml":
        data = data[data[y] >= 0]
        data["log_exposure"] = np.log(data["at_risk_fraction"].clip(1e-6))
        fit = pf.fepois(
            f"{y} ~ {rhs} | customer_id",
            data,
            vcov=clustered,
            offset="log_exposure",
            fixef_rm="none",
            ssc=pf.ssc(k_adj=False, G_adj=True),
            iwls_tol=1e-12,
            iwls_maxiter=100,
        )
    else:  # fd: pyfixest has no first-difference estimator; difference as the model does, then OLS
        x = model._design(df)
        codes = pd.factorize(df["customer_id"], sort=True)[0]
        ordinal = pd.PeriodIndex(df["period"]).asi8
        cur = np.flatnonzero(np.r_[False, (codes[1:] == codes[:-1]) & (np.diff(ordinal) == 1)])
        dx = x.to_numpy(float)[cur] - x.to_numpy(float)[cur - 1]
        keep = dx.std(axis=0) > 1e-12
        names = [n for n, k in zip(x.columns, keep) if k]
        d = pd.DataFrame(dx[:, keep], columns=[f"x{i}" for i in range(len(names))])
        yv = df[y].to_numpy(float)
        d["dy"] = yv[cur] - yv[cur - 1]
        d["cl"] = codes[cur]
        fit = pf.feols(
            f"dy ~ {' + '.join(d.columns[: len(names)])} - 1",
            d,
            vcov={"CRV1": "cl"},
            ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True),
        )
        coef = pd.Series(fit.coef().to_numpy(), index=names)
        return coef, pd.DataFrame(fit._vcov, index=names, columns=names)
    coef = fit.coef()
    return coef, pd.DataFrame(fit._vcov, index=coef.index, columns=coef.index)


# ------------------------------------------------------------------------------------ worker
def _worker(backend: str, estimator: str, panel_path: str, repeat: int) -> None:
    """Runs in a fresh process: times import, first and warm fits; prints one JSON line."""
    panel = pd.read_parquet(panel_path)
    t0 = time.perf_counter()
    from bsc_toolkit.models.financial import FinancialPanelModel

    if backend == "pyfixest":
        import pyfixest  # noqa: F401  (lazy: the estimation modules load on first use)
    import_s = time.perf_counter() - t0

    def run():
        model = FinancialPanelModel("revenue_usd", estimator)
        if backend == "hand":
            model.fit(panel)
            return model.params_, model.cov_params_
        return fit_pyfixest(model, panel)

    times = []
    for _ in range(1 + repeat):
        t = time.perf_counter()
        coef, cov = run()
        times.append(time.perf_counter() - t)
    terms = [c for c in ("csat_below", "csat_above") if c in coef.index]
    se = np.sqrt(np.diag(cov.loc[terms, terms]))
    print(
        json.dumps(
            {
                "backend": backend,
                "estimator": estimator,
                "import_s": import_s,
                "first_s": times[0],
                "warm_s": min(times[1:]) if repeat else float("nan"),
                "coef": coef[terms].tolist(),
                "se": se.tolist(),
            }
        )
    )


# ------------------------------------------------------------------------------------ driver
def _panel_file(quick: bool) -> tuple[Path, int, int]:
    from bsc_toolkit.panel import customer_periods

    WORK_DIR.mkdir(exist_ok=True)
    path = WORK_DIR / ("panel_quick.parquet" if quick else "panel_1m.parquet")
    if not path.exists():
        if quick:
            from bsc_toolkit.data.simulate import simulate

            data = simulate(20_000, seed=1)
        else:
            from bsc_toolkit.data.io import load_dataset

            if not (SIM_DIR / "transactions.parquet").exists():
                subprocess.run(
                    [
                        str(Path(sys.executable).parent / "bsc"),
                        "simulate",
                        str(SIM_DIR),
                        "-n",
                        "1000000",
                        "--seed",
                        "1",
                        "--format",
                        "parquet",
                    ],
                    check=True,
                )
            data = load_dataset(SIM_DIR)
        panel = customer_periods(data.customers, data.surveys, data.transactions)
        panel.to_parquet(path)
    meta = pd.read_parquet(path, columns=["customer_id"])
    return path, int(meta["customer_id"].nunique()), len(meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k customers instead of 1M")
    parser.add_argument("--repeat", type=int, default=1, help="warm fits after the first (default 1)")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS))
    parser.add_argument("--worker", nargs=3, metavar=("BACKEND", "ESTIMATOR", "PANEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker, repeat=args.repeat)
        return

    path, n_customers, n_rows = _panel_file(args.quick)
    print(f"panel: {n_customers:,} customers, {n_rows:,} customer-periods ({path})")
    try:
        import importlib.metadata as md

        print(f"pyfixest {md.version('pyfixest')}")
    except Exception:  # noqa: BLE001
        print("pyfixest not installed: `pip install pyfixest`")
        return
    results = {}
    for est in args.estimators.split(","):
        for backend in BACKENDS:
            cmd = [sys.executable, __file__, "--repeat", str(args.repeat), "--worker", backend, est, str(path)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results[backend, est] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[backend, est]
            print(
                f"  {est:7s} {backend:9s} import {r['import_s']:6.2f} s  first fit {r['first_s']:7.2f} s  "
                f"warm fit {r['warm_s']:7.2f} s",
                flush=True,
            )
    print("\nratios pyfixest / hand (< 1: pyfixest faster); first fit includes the import")
    print("estimator  max rel diff coef   max rel diff se   first-fit ratio  warm ratio")
    for est in args.estimators.split(","):
        h, p = results["hand", est], results["pyfixest", est]
        dc = np.max(np.abs(np.array(p["coef"]) / np.array(h["coef"]) - 1))
        ds = np.max(np.abs(np.array(p["se"]) / np.array(h["se"]) - 1))
        first = (p["import_s"] + p["first_s"]) / (h["import_s"] + h["first_s"])
        print(f"{est:9s}  {dc:17.2e}  {ds:16.2e}  {first:15.2f}  {p['warm_s'] / h['warm_s']:10.2f}")


if __name__ == "__main__":
    main()
