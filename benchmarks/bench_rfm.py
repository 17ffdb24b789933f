"""Benchmark: vectorised RFM summary vs a baseline, on the same synthetic data.

Run from the repo root::

    .venv/bin/python benchmarks/bench_rfm.py                 # 10 M transactions
    .venv/bin/python benchmarks/bench_rfm.py --quick         # 200 k transactions
    .venv/bin/python benchmarks/bench_rfm.py --n-transactions 2000000 --freq D

Baseline: ``lifetimes.utils.summary_data_from_transaction_data`` when the
``lifetimes`` package can be imported (it is *not* a project dependency; install it
outside the project venv, e.g. ``pip install --no-deps --target /tmp/lt lifetimes
autograd dill``, and pass ``--lifetimes-path /tmp/lt`` or put it on PYTHONPATH),
otherwise a plain pandas groupby implementation of the same definitions
(``--baseline pandas`` forces that). The script times
``bsc_toolkit.models.clv.rfm.rfm_summary`` and the baseline in the same run, checks that
both summaries are numerically equal (frequency, recency, T, monetary_value), and
prints a line like::

    rfm_summary: 0.8 s; baseline pandas-groupby: 6.1 s; ratio 7.6x
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from bsc_toolkit.models.clv.rfm import rfm_summary


def make_transactions(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` synthetic transactions: ~n/10 customers over two years, hour resolution."""
    rng = np.random.default_rng(seed)
    n_customers = max(n // 10, 1)
    # skewed purchase counts: some customers buy a lot
    weights = rng.gamma(0.5, 1.0, n_customers)
    customer = rng.choice(n_customers, size=n, p=weights / weights.sum()) + 1
    start = np.datetime64("2022-01-01T00:00", "ns")
    offsets = rng.integers(0, 730 * 24, size=n).astype("timedelta64[h]").astype("timedelta64[ns]")
    return pd.DataFrame(
        {
            "customer_id": customer.astype(np.int64),
            "ordered_at": start + offsets,
            "revenue_usd": rng.gamma(2.0, 25.0, size=n).round(2),
        }
    )


def pandas_baseline(tx: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Straightforward pandas implementation (the lifetimes definitions)."""
    period = tx["ordered_at"].dt.to_period(freq).dt.start_time
    per = tx.assign(period=period).groupby(["customer_id", "period"], sort=True)["revenue_usd"].sum().reset_index()
    end = period.max()
    g = per.groupby("customer_id", sort=True)
    first = g["period"].min()
    last = g["period"].max()
    count = g.size()
    first_value = g["revenue_usd"].first()
    total = g["revenue_usd"].sum()
    unit = pd.Timedelta(1, unit=freq)
    out = pd.DataFrame(
        {
            "frequency": (count - 1).astype(float),
            "recency": (last - first) / unit,
            "T": (end - first) / unit,
            "monetary_value": np.where(count > 1, (total - first_value) / (count - 1).clip(lower=1), 0.0),
        }
    )
    return out


def lifetimes_baseline(tx: pd.DataFrame, freq: str) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    return summary_data_from_transaction_data(
        tx, "customer_id", "ordered_at", monetary_value_col="revenue_usd", freq=freq
    )


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-transactions", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="200k transactions")
    ap.add_argument("--freq", default="W", choices=["W", "D"])
    ap.add_argument("--baseline", default="auto", choices=["auto", "lifetimes", "pandas"])
    ap.add_argument("--lifetimes-path", default=None, help="directory to prepend to sys.path for lifetimes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n = 200_000 if args.quick else args.n_transactions
    if args.lifetimes_path:
        sys.path.insert(0, args.lifetimes_path)

    baseline_name, baseline = "pandas-groupby", pandas_baseline
    if args.baseline in ("auto", "lifetimes"):
        try:
            import lifetimes  # noqa: F401

            baseline_name, baseline = f"lifetimes {lifetimes.__version__}", lifetimes_baseline
        except Exception as exc:  # ImportError or a broken install
            if args.baseline == "lifetimes":
                raise SystemExit(f"lifetimes requested but cannot be imported: {exc}") from exc
            print(f"lifetimes not importable ({type(exc).__name__}: {exc}); using a pandas groupby baseline")

    t0 = time.perf_counter()
    tx = make_transactions(n, args.seed)
    print(
        f"generated {n:,} transactions, {tx['customer_id'].nunique():,} customers "
        f"in {time.perf_counter() - t0:.1f} s; freq={args.freq}"
    )

    ours, t_ours = _timed(rfm_summary, tx, "customer_id", "ordered_at", "revenue_usd", args.freq)
    base, t_base = _timed(baseline, tx, args.freq)

    cols = ["frequency", "recency", "T", "monetary_value"]
    base = base[cols].sort_index()
    same_index = ours.index.equals(base.index)
    max_diff = float(np.max(np.abs(ours[cols].to_numpy() - base.to_numpy()))) if same_index else float("nan")
    equal = same_index and np.allclose(ours[cols].to_numpy(), base.to_numpy(), rtol=1e-9, atol=1e-7)
    print(f"summaries equal: {equal} (customers {len(ours):,}; max abs diff {max_diff:.2e})")
    print(f"rfm_summary: {t_ours:.2f} s; baseline {baseline_name}: {t_base:.2f} s; ratio {t_base / t_ours:.1f}x")
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
