"""Benchmark: BG/NBD and Gamma-Gamma fits (with standard errors) against lifetimes, same process, same data.

Target (issue 9): fit plus standard errors, best of 5, at least 8x faster than ``lifetimes``
called as its users call it -- ``BetaGeoFitter().fit(frequency, recency, T)`` with one row per
customer, then ``.standard_errors_`` -- on

* the CDNOW master cohort (23,570 customers; calibration to 1997-09-30 at day resolution in
  weeks, ``rfm_summary(tx, freq="D", freq_multiplier=7, ...)``), and
* 1,000,000 customers simulated by :func:`~bsc_toolkit.models.clv.simulate.simulate_bgnbd_days` at the CDNOW
  parameters (r = 0.243, alpha = 4.414, a = 0.793, b = 2.426), T spread over 27-39 weeks and
  recency at day resolution (days / 7; a repeat buyer's recency at least one day).

It also times lifetimes given the same de-duplicated rows through its ``weights`` argument
(the de-duplication itself not timed), so the engine's own speed is visible, and the
Gamma-Gamma model on the CDNOW master repeat buyers. Estimates must agree to 1e-4 relative
(standard errors to 1e-3). Timed: the fit call plus reading the standard errors, from the RFM
summary (the RFM summary itself is not timed). lifetimes is a dev (benchmark/test) dependency.

Usage::

    python benchmarks/bench_clv.py                  # CDNOW master + 1M simulated, best of 5
    python benchmarks/bench_clv.py --quick          # 20k simulated, best of 2 (smoke run, make bench)
    python benchmarks/bench_clv.py --n-customers 200000 --repeats 3 --output results.json

Prints lines like::

    BG/NBD CDNOW master: bsc 0.016 s; lifetimes 0.21 s; ratio 13x; lifetimes(weights) 0.09 s; ratio 5.6x; ...

and, last, one JSON line with every figure (also written to ``--output`` when given). Exit
status 1 when estimates disagree.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.models.clv import BetaGeoFitter, GammaGammaFitter, rfm_summary
from bsc_toolkit.models.clv.simulate import simulate_bgnbd_days

CDNOW_PARAMS = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
TARGET_RATIO = 8.0
PARAM_RTOL = 1e-4
SE_RTOL = 1e-3
#: model -> (our fitter, the lifetimes fitter's name, the columns both are fitted on)
MODELS = {
    "BG/NBD": (BetaGeoFitter, "BetaGeoFitter", ["frequency", "recency", "T"]),
    "Gamma-Gamma": (GammaGammaFitter, "GammaGammaFitter", ["frequency", "monetary_value"]),
}
#: lifetimes' parameter names that differ from ours
LIFETIMES_NAMES = {"v": "gamma"}


def cdnow_master_summary(path: Path | None) -> pd.DataFrame | None:
    """The CDNOW master cohort's calibration summary (day resolution in weeks), or None when absent."""
    from bsc_toolkit.data.datasets import (
        CDNOW_CALIBRATION_END,
        CDNOW_FILES,
        CDNOW_OBSERVATION_END,
        find_cdnow,
        load_cdnow,
    )

    d = path if path is not None else find_cdnow()
    if d is None or not (Path(d) / CDNOW_FILES["master"]).is_file():
        return None
    tx = load_cdnow(d, kind="master")
    return rfm_summary(
        tx,
        freq="D",
        freq_multiplier=7,
        calibration_end=CDNOW_CALIBRATION_END,
        observation_end=CDNOW_OBSERVATION_END,
    )


def _best(fn, repeats: int) -> tuple[object, float]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def _rel(a: pd.Series, b: pd.Series) -> float:
    a, b = a.astype(float), b.reindex(a.index).astype(float)
    return float(np.max(np.abs(a.to_numpy() / b.to_numpy() - 1.0)))


def bench(model: str, name: str, data: pd.DataFrame, repeats: int) -> dict:
    """Time ``model`` (a key of :data:`MODELS`) here and in lifetimes (per customer, and on weighted rows)."""
    import lifetimes

    ours_cls, theirs_name, cols = MODELS[model]
    theirs_cls = getattr(lifetimes, theirs_name)
    data = data[cols]
    rows = data.groupby(cols, sort=False).size().rename("weights").reset_index()

    def with_se(fitter):
        _ = fitter.standard_errors_
        return fitter

    ours, t_ours = _best(lambda: with_se(ours_cls().fit(data)), repeats)
    theirs, t_lt = _best(lambda: with_se(theirs_cls().fit(*(data[c] for c in cols))), repeats)
    weighted, t_ltw = _best(
        lambda: with_se(theirs_cls().fit(*(rows[c] for c in cols), weights=rows["weights"])), repeats
    )
    return {
        "name": name,
        "model": model,
        "n_customers": int(len(data)),
        "n_distinct_rows": int(len(rows)),
        "bsc_model": ours.model_,
        "bsc_seconds": t_ours,
        "lifetimes_seconds": t_lt,
        "lifetimes_weights_seconds": t_ltw,
        "ratio": t_lt / t_ours,
        "ratio_weights": t_ltw / t_ours,
        "max_rel_diff_params": _rel(ours.params_, theirs.params_.rename(LIFETIMES_NAMES)),
        "max_rel_diff_se": _rel(ours.standard_errors_, theirs.standard_errors_.rename(LIFETIMES_NAMES)),
        "max_rel_diff_params_weights": _rel(ours.params_, weighted.params_.rename(LIFETIMES_NAMES)),
        "params": ours.params_.to_dict(),
    }


def line(r: dict) -> str:
    return (
        f"{r['model']} {r['name']} ({r['n_customers']:,} customers, {r['n_distinct_rows']:,} distinct rows): "
        f"bsc {r['bsc_seconds']:.3g} s; lifetimes {r['lifetimes_seconds']:.3g} s; ratio {r['ratio']:.1f}x; "
        f"lifetimes(weights) {r['lifetimes_weights_seconds']:.3g} s; ratio {r['ratio_weights']:.1f}x; "
        f"max rel diff {r['max_rel_diff_params']:.1e} (se {r['max_rel_diff_se']:.1e})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20k simulated customers, best of 2 (smoke run)")
    ap.add_argument("--n-customers", type=int, default=None, help="simulated customers (default 1M; --quick 20k)")
    ap.add_argument("--repeats", type=int, default=None, help="best of this many runs (default 5; --quick 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cdnow-dir", type=Path, default=None, help="folder with CDNOW_master.txt (default: find_cdnow)")
    ap.add_argument("--output", type=Path, default=None, help="also write the JSON results here")
    args = ap.parse_args(argv)
    n = args.n_customers or (20_000 if args.quick else 1_000_000)
    repeats = args.repeats or (2 if args.quick else 5)
    try:
        import lifetimes
    except ImportError as exc:  # a dev dependency: say so instead of a traceback
        print(
            f"lifetimes is not installed ({exc}); install the dev extra (pip install -e '.[dev]') to run this benchmark"
        )
        return 0
    warnings.filterwarnings("ignore", module="lifetimes")
    warnings.filterwarnings("ignore", category=FutureWarning)
    print(f"lifetimes {lifetimes.__version__}; best of {repeats}; target ratio >= {TARGET_RATIO:g}x")

    results = []
    cdnow = cdnow_master_summary(args.cdnow_dir)
    if cdnow is None:
        print("CDNOW master: skipped (CDNOW_master.txt not found; set BSC_CDNOW_DIR or --cdnow-dir)")
    else:
        results.append(bench("BG/NBD", "CDNOW master", cdnow, repeats))
        print(line(results[-1]))
    t0 = time.perf_counter()
    sim = simulate_bgnbd_days(n, **CDNOW_PARAMS, seed=args.seed)
    print(f"simulated {n:,} customers in {time.perf_counter() - t0:.1f} s (seed {args.seed})")
    results.append(bench("BG/NBD", f"simulated {n:,}", sim, repeats))
    print(line(results[-1]))
    if cdnow is not None:
        repeat_buyers = cdnow[(cdnow["frequency"] > 0) & (cdnow["monetary_value"] > 0)]
        results.append(bench("Gamma-Gamma", "CDNOW master repeat buyers", repeat_buyers, repeats))
        print(line(results[-1]))

    ok = True
    for r in results:
        agree = r["max_rel_diff_params"] <= PARAM_RTOL and r["max_rel_diff_se"] <= SE_RTOL
        fast = r["ratio"] >= TARGET_RATIO
        ok &= agree
        print(
            f"  {r['model']} {r['name']}: estimates {'agree' if agree else 'DISAGREE'}; "
            f"{'meets' if fast else 'misses'} the {TARGET_RATIO:g}x target ({r['ratio']:.1f}x)"
        )
    payload = json.dumps(results)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(payload + "\n")
    print(payload)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
