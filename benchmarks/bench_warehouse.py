"""Benchmark: KPI table, customer-period panel and RFM summary at warehouse scale, per engine.

Target (issue 12): **100M transactions / 5M customers / 20M survey responses in Parquet -> KPI
table, panel and RFM summary in < 5 minutes with < 6 GiB peak memory on DuckDB**; the same on Spark
local with its time reported; the pandas engine as the named baseline (it is expected to run out
of memory at this size: it runs under an address-space cap and the failure is recorded as such).

The data set is simulated once, in bounded memory, by :func:`bsc_toolkit.data.simulate.simulate_to_dir`
with :data:`~bsc_toolkit.data.simulate.WAREHOUSE_SCALE` (about 20 transactions and 4 survey responses
per customer over 8 quarters) into ``benchmarks/results/cache/warehouse_n{N}_seed{S}/`` (Parquet, one
file per table, ``dataset.yaml`` beside; reused by later runs, ``--fresh`` rebuilds it; ``--data-dir``
uses another folder, generating it there when it holds no data set). Then every (engine, step) runs
in a fresh subprocess:

* ``kpis``  -- the KPI table per quarter and segment: :func:`bsc_toolkit.engine.kpis.kpi_summary`
  (pandas: :func:`bsc_toolkit.metrics.kpi_summary`);
* ``panel`` -- the customer-period panel computed in the engine and written to Parquet, never
  collected: :func:`bsc_toolkit.engine.panel.customer_periods_expr` (pandas:
  :func:`bsc_toolkit.panel.customer_periods` then ``to_parquet``);
* ``rfm``   -- the RFM summary as distinct (frequency, recency, T) patterns with counts:
  :func:`bsc_toolkit.engine.rfm.rfm_patterns` (pandas: :func:`bsc_toolkit.models.clv.rfm.rfm_summary`
  then the same grouping).

Each step opens the data set itself (:func:`bsc_toolkit.engine.sources.open_tables`; pandas:
:func:`bsc_toolkit.data.io.load_dataset`), as a nightly job would. Time: ``wall s`` from the start
of the subprocess to its exit (interpreter, imports and, for Spark, the session start included) and
``step s`` measured inside it (open + compute + write). Memory: ``peak MiB`` is the largest summed
resident set size of the subprocess and all its descendants (Spark's JVM included), sampled every
50 ms from this process; ``self MiB`` the Python process's own ``ru_maxrss``. The pandas steps run
under ``RLIMIT_AS`` = ``--pandas-cap-gib`` (default 6 GiB, the target): a step that needs more fails
with "out of memory at the 6 GiB cap".

Usage::

    python benchmarks/bench_warehouse.py                       # 5M customers, ~100M transactions
    python benchmarks/bench_warehouse.py --quick               # 20k customers, DuckDB and pandas (make bench)
    python benchmarks/bench_warehouse.py --quick --engines duckdb spark pandas
    python benchmarks/bench_warehouse.py --data-dir /data/warehouse --engines duckdb

Prints a table (one line per engine and step, then the target lines), then one JSON line with every
figure (also written to ``--output``, default ``benchmarks/results/bench_warehouse[-quick].json``).
Exit status 1 when a DuckDB or Spark step fails (a pandas failure is the expected baseline result,
not a benchmark failure).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bsc_toolkit.engine.backends import DUCKDB_MEMORY_ENV, SPARK_MEMORY_ENV, default_duckdb_memory_limit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CACHE = RESULTS / "cache"
TARGET_SECONDS = 300.0
TARGET_PEAK_GIB = 6.0
STEPS = ("kpis", "panel", "rfm")
ENGINES = ("duckdb", "spark", "pandas")
QUICK_ENGINES = ("duckdb", "pandas")  # a Spark session alone takes 15-30 s to start here
RFM_FREQ = "W"
_TABLES = ("customers", "surveys", "transactions")
_OPENED = "bench_warehouse: data opened"  # a step's stderr line once it has its tables
_PY_ERROR = re.compile(r"^[\w.]+(Error|Exception)\b.*:")
_OOM_SIGNS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "ArrowMemoryError", "OutOfMemory")


# --------------------------------------------------------------------------- helpers
def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _tree_usage(pid: int) -> tuple[int, float]:
    """Summed RSS (bytes) and CPU seconds of ``pid`` and its descendants (Linux /proc; 0 once gone).

    CPU counts each process's own time and that of the children it waited for (``cutime``).
    """
    page, tick = resource.getpagesize(), os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    usage: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])  # fields after "(comm)": state, ppid, ...
        cpu = sum(int(f) for f in fields[11:15]) / tick  # utime, stime, cutime, cstime
        usage[int(entry)] = (int(fields[21]) * page, cpu)  # rss in pages
    tree, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current and p not in tree]
        tree.update(children)
        frontier.extend(children)
    mine = [usage[p] for p in tree if p in usage]
    return sum(u[0] for u in mine), sum(u[1] for u in mine)


class _TreeSampler:
    """Largest summed RSS and CPU time of a process tree while it runs (sampled every 50 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.cpu = pid, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, cpu = _tree_usage(self.pid)
            self.peak, self.cpu = max(self.peak, rss), max(self.cpu, cpu)
            self._stop.wait(0.05)

    def __enter__(self) -> _TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def data_dir(cache: Path, n_customers: int, seed: int) -> Path:
    return cache / f"warehouse_n{n_customers}_seed{seed}"


def has_dataset(path: Path) -> bool:
    """A described data set (``dataset.yaml``) or the three Parquet tables the simulator writes."""
    return (path / "dataset.yaml").is_file() or all((path / f"{t}.parquet").exists() for t in _TABLES)


def table_rows(path: Path) -> dict[str, int | None]:
    """Rows per table from the Parquet metadata (nothing loaded); None for a table in another form."""
    import pyarrow.parquet as pq

    return {t: pq.ParquetFile(path / f"{t}.parquet").metadata.num_rows if (path / f"{t}.parquet").is_file() else None
            for t in _TABLES}  # fmt: skip


def _parquet_rows(path: Path) -> int:
    """Rows of a Parquet file or of a folder of part files (as Spark writes)."""
    import pyarrow.parquet as pq

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


# --------------------------------------------------------------------------- children
def run_simulate(path: Path, n_customers: int, seed: int, chunk_size: int) -> dict:
    """Simulate into ``path`` (call in a fresh process: the peak is the simulator's)."""
    from bsc_toolkit.data.simulate import WAREHOUSE_SCALE, simulate_to_dir

    t0, c0 = time.perf_counter(), time.process_time()
    simulate_to_dir(
        path, n_customers, seed=seed, chunk_size=chunk_size, file_format="parquet", describe=True, **WAREHOUSE_SCALE
    )
    stats = {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "peak_mib": _max_rss_mib(),
        "chunk_size": chunk_size,
        **WAREHOUSE_SCALE,
    }
    (path / "simulate_stats.json").write_text(json.dumps(stats))
    return stats


def _engine_step(engine: str, step: str, path: Path, work: Path) -> dict:
    from bsc_toolkit.engine.sources import open_tables

    t0 = time.perf_counter()
    tables = open_tables(str(path), engine)
    opened = time.perf_counter() - t0
    print(f"{_OPENED} in {opened:.1f} s", file=sys.stderr, flush=True)
    freq = tables.freq
    if step == "kpis":
        from bsc_toolkit.engine.kpis import kpi_summary

        rows = len(kpi_summary(tables, freq=freq, by="segment"))
    elif step == "panel":
        from bsc_toolkit.engine.panel import customer_periods_expr

        out = work / "panel.parquet"
        tables.backend.to_parquet(customer_periods_expr(tables, freq), out)
        rows = _parquet_rows(out)
    else:
        from bsc_toolkit.engine.rfm import rfm_patterns

        rows = len(rfm_patterns(tables, freq=RFM_FREQ, value=True))
    seconds = time.perf_counter() - t0
    if engine == "spark":
        from bsc_toolkit.engine.backends import spark_session

        spark_session().stop()
    return {"step_seconds": seconds, "open_seconds": opened, "rows_out": int(rows)}


def _pandas_step(step: str, path: Path, work: Path) -> dict:
    from bsc_toolkit.data.io import load_dataset

    t0 = time.perf_counter()
    data = load_dataset(path)
    opened = time.perf_counter() - t0
    print(f"{_OPENED} in {opened:.1f} s", file=sys.stderr, flush=True)
    freq = data.description.frequency
    if step == "kpis":
        from bsc_toolkit.metrics import kpi_summary

        rows = len(kpi_summary(data.customers, data.surveys, data.transactions, freq=freq, by="segment"))
    elif step == "panel":
        from bsc_toolkit.panel import customer_periods

        panel = customer_periods(data.customers, data.surveys, data.transactions, freq=freq)
        del data
        panel.to_parquet(work / "panel.parquet", index=False)
        rows = len(panel)
    else:
        from bsc_toolkit.models.clv.rfm import rfm_summary

        transactions = data.transactions
        del data
        summary = rfm_summary(transactions, "customer_id", "ordered_at", "revenue_usd", freq=RFM_FREQ)
        rows = len(summary.groupby(["frequency", "recency", "T"], sort=False).size())
    return {"step_seconds": time.perf_counter() - t0, "open_seconds": opened, "rows_out": int(rows)}


def run_step(engine: str, step: str, path: Path) -> dict:
    """One step on one engine (call in a fresh process); its times and output rows."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-warehouse-{engine}-{step}-"))
    try:
        result = _pandas_step(step, path, work) if engine == "pandas" else _engine_step(engine, step, path, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["self_peak_mib"] = _max_rss_mib()
    return result


# --------------------------------------------------------------------------- parent
def _cap(gib: float):
    limit = int(gib * 2**30)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _child(
    args: list[str],
    cap_gib: float | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> dict:
    """Run this script with ``args`` in a new process group; wall time, tree peak, its JSON or error."""
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_cap(cap_gib) if cap_gib else None,
    )
    timed_out = False
    with _TreeSampler(proc.pid) as sampler:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, 9)  # the group this call started (Spark's JVM included)
            stdout, stderr = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out: dict = {
        "wall_seconds": time.perf_counter() - t0,
        "cpu_seconds": max(waited, sampler.cpu),
        "peak_mib": sampler.peak / 2**20,
    }
    if proc.returncode == 0:
        sampled = dict(out)
        out.update(json.loads(stdout.strip().splitlines()[-1]))
        out["peak_mib"] = max(sampled["peak_mib"], out["peak_mib"], out.get("self_peak_mib", 0.0))
        out["cpu_seconds"] = max(sampled["cpu_seconds"], out["cpu_seconds"])
        out["status"] = "ok"
        return out
    last = _error_line(stderr) or f"exit code {proc.returncode}"
    if timed_out:
        out["status"] = f"timed out after {timeout:.0f} s"
    elif cap_gib and (proc.returncode == -9 or any(sign in stderr for sign in _OOM_SIGNS)):
        out["status"] = f"failed: out of memory at the {cap_gib:g} GiB address-space cap"
    elif any(sign in stderr for sign in (*_OOM_SIGNS, "Java heap space")):
        out["status"] = "failed: out of memory"
    else:
        out["status"] = "failed"
    if not timed_out and args and args[0] == "--run-step":
        out["status"] += " after opening the data" if _OPENED in stderr else " while opening the data"
    out["error"] = last.strip()[:300]
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(stderr)
        out["log"] = str(log)
    return out


def _error_line(stderr: str) -> str | None:
    """The line of a failed step's stderr that says what went wrong (Python's or Java's), or its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    python = [line for line in lines if _PY_ERROR.match(line)]
    if python:
        return python[-1]
    java = [line for line in lines if ("Error" in line or "Exception" in line) and not line.startswith("at ")]
    for line in java:  # the root cause: an out-of-memory error first, else the first exception
        if "OutOfMemory" in line or "Java heap space" in line:
            return line
    return java[0] if java else (lines[-1] if lines else None)


def report(result: dict) -> str:
    rows = {name: "?" if count is None else f"{count:,}" for name, count in result["rows"].items()}
    lines = [
        f"data: {rows['customers']} customers, {rows['transactions']} transactions, "
        f"{rows['surveys']} survey responses ({result['data_dir']})",
        f"{'engine':<8} {'step':<6} {'wall s':>8} {'step s':>8} {'cpu s':>8} {'peak MiB':>9} {'self MiB':>9} "
        f"{'rows out':>12}  status",
    ]
    sim = result.get("simulate")
    if sim:
        lines.insert(
            1,
            f"simulate (chunks of {sim['chunk_size']:,}): {sim['seconds']:.1f} s, peak {sim['peak_mib']:,.0f} MiB"
            + ("  (cached run)" if sim.get("cached") else ""),
        )
    for r in result["steps"]:
        step_s = f"{r['step_seconds']:8.2f}" if "step_seconds" in r else f"{'-':>8}"
        self_mib = f"{r['self_peak_mib']:9,.0f}" if "self_peak_mib" in r else f"{'-':>9}"
        rows_out = f"{r['rows_out']:12,}" if "rows_out" in r else f"{'-':>12}"
        status = r["status"] + (f" ({r['error']})" if r.get("error") else "")
        lines.append(
            f"{r['engine']:<8} {r['step']:<6} {r['wall_seconds']:8.2f} {step_s} {r['cpu_seconds']:8.1f} "
            f"{r['peak_mib']:9,.0f} {self_mib} "
            f"{rows_out}  {status}"
        )
    for engine, total in result["totals"].items():
        if total is None:
            continue
        verdict = ""
        if engine == "duckdb" and total["complete"]:
            ok = total["wall_seconds"] < TARGET_SECONDS and total["peak_mib"] < TARGET_PEAK_GIB * 1024
            verdict = f" vs target < {TARGET_SECONDS:.0f} s and < {TARGET_PEAK_GIB:g} GiB [{'ok' if ok else 'MISSED'}]"
        done = "" if total["complete"] else f" ({total['failed']} step(s) did not finish)"
        lines.append(
            f"{engine}: {' + '.join(total['steps'])} {total['wall_seconds']:.1f} s wall "
            f"({total['step_seconds']:.1f} s in the steps, {total['cpu_seconds']:.0f} CPU s), "
            f"peak {total['peak_mib']:,.0f} MiB{done}{verdict}"
        )
    busy = result["load_average_1min"] > (result["cpu_count"] or 1)
    lines.append(
        f"machine: {result['cpu_count']} cores, 1-min load average {result['load_average_1min']} at the end"
        + (" (more than the cores: other work slowed the steps)" if busy else "")
        + "; DuckDB memory_limit "
        f"{result['duckdb_memory_limit'] or 'default'}, Spark driver memory {result['spark_driver_memory'] or 'default'}"
    )
    for note in result["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _totals(steps: list[dict], engine: str) -> dict | None:
    mine = [s for s in steps if s["engine"] == engine]
    if not mine:
        return None
    return {
        "steps": [s["step"] for s in mine],
        "wall_seconds": sum(s["wall_seconds"] for s in mine),
        "step_seconds": sum(s.get("step_seconds", 0.0) for s in mine),
        "cpu_seconds": sum(s["cpu_seconds"] for s in mine),
        "peak_mib": max(s["peak_mib"] for s in mine),
        "complete": all(s["status"] == "ok" for s in mine),
        "failed": sum(s["status"] != "ok" for s in mine),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20k customers, DuckDB and pandas (smoke run)")
    parser.add_argument("--n-customers", type=int, help="customers to simulate (default 5M; --quick: 20k)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--chunk-size", type=int, default=100_000, help="customers per simulator chunk")
    parser.add_argument("--data-dir", type=Path, help="data set folder to use (generated there when empty)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where simulated data sets are kept")
    parser.add_argument("--fresh", action="store_true", help="re-simulate even if the data set exists")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, help="default: all (--quick: duckdb pandas)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--pandas-cap-gib", type=float, default=TARGET_PEAK_GIB, help="RLIMIT_AS of pandas steps")
    parser.add_argument(
        "--duckdb-memory-limit",
        help="DuckDB's memory_limit, e.g. 4GB ($BSC_DUCKDB_MEMORY_LIMIT; default: the engine's)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per step before it is stopped")
    parser.add_argument("--output", type=Path, help="JSON results (default benchmarks/results/...)")
    parser.add_argument("--simulate-into", type=Path, help=argparse.SUPPRESS)  # internal: one simulation
    parser.add_argument("--run-step", nargs=3, metavar=("ENGINE", "STEP", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.simulate_into:
        print(json.dumps(run_simulate(args.simulate_into, args.n_customers, args.seed, args.chunk_size)))
        return 0
    if args.run_step:
        engine, step, path = args.run_step
        print(json.dumps(run_step(engine, step, Path(path))))
        return 0

    engines = args.engines or list(QUICK_ENGINES if args.quick else ENGINES)
    n = args.n_customers or (20_000 if args.quick else 5_000_000)
    path = (args.data_dir or data_dir(args.cache_dir, n, args.seed)).resolve()
    stats_file = path / "simulate_stats.json"
    if args.data_dir and not has_dataset(path) and path.is_dir() and any(path.iterdir()):
        print(f"--data-dir {path} holds no data set (no dataset.yaml, no <table>.parquet files) and is not empty: "
              "give an empty or new folder to simulate into", file=sys.stderr)  # fmt: skip
        return 1
    if args.fresh or not has_dataset(path):
        sim = _child(["--simulate-into", str(path), "--n-customers", str(n), "--seed", str(args.seed),
                      "--chunk-size", str(args.chunk_size)])  # fmt: skip
        if sim["status"] != "ok":
            print(f"simulation failed: {sim.get('error')}", file=sys.stderr)
            return 1
    elif stats_file.is_file():
        sim = {**json.loads(stats_file.read_text()), "cached": True}
    else:
        sim = None  # a data set from elsewhere

    output = args.output or RESULTS / f"bench_warehouse{'-quick' if args.quick else ''}.json"
    notes = []
    if args.quick and args.engines is None:
        notes.append("spark not run in --quick (its session alone takes 15-30 s here): add --engines ... spark")
    steps = []
    for engine in engines:
        for step in args.steps:
            cap = args.pandas_cap_gib if engine == "pandas" else None
            env = (
                {DUCKDB_MEMORY_ENV: args.duckdb_memory_limit} if engine == "duckdb" and args.duckdb_memory_limit else {}
            )
            log = output.with_name(f"{output.stem}-{engine}-{step}.log")  # stderr of a failed step
            r = _child(["--run-step", engine, step, str(path)], cap_gib=cap, timeout=args.timeout, env=env, log=log)
            steps.append({"engine": engine, "step": step, **r})
    result = {
        "quick": args.quick,
        "data_dir": str(path),
        "rows": table_rows(path),
        "simulate": sim,
        "steps": steps,
        "totals": {engine: _totals(steps, engine) for engine in engines},
        "targets": {"seconds": TARGET_SECONDS, "peak_gib": TARGET_PEAK_GIB, "pandas_cap_gib": args.pandas_cap_gib},
        "duckdb_memory_limit": args.duckdb_memory_limit
        or os.environ.get(DUCKDB_MEMORY_ENV)
        or default_duckdb_memory_limit(),
        "spark_driver_memory": os.environ.get(SPARK_MEMORY_ENV) or "2g",
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "notes": notes,
    }
    print(report(result))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    failed = [s for s in steps if s["engine"] != "pandas" and s["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
