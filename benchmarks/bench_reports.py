"""Benchmark: the report suite (`bsc report`) sequential, in parallel, warm from the cache, and after one edit.

Target (issue 10): on the default data, the whole suite in under 60 s cold (notebooks run two at a
time) and under 5 s warm (nothing changed: every report reused from the execution cache, the data
not even loaded). Each step runs ``bsc report`` as a subprocess, the way a user runs it, and is
timed from start to exit:

1. ``sequential``: ``--jobs 1 --force`` (the baseline: one notebook after the other, as before);
2. ``cold``: ``--jobs 2 --force`` into a fresh report folder;
3. ``warm``: the same command again, nothing changed;
4. ``touched``: after editing one notebook (its bytes: a metadata field; ``customer_kpis``), only
   that report runs again.

The notebooks are a copy of the shipped ones (as ``bsc notebooks`` makes), so the edit leaves the package
alone. The package source hash is read before and after: when someone edits the package during the
benchmark, the warm figures are not valid and the output says so. ``--snapshot`` runs a copy of the
package instead (``PYTHONPATH``; the same default data and CDNOW folder), for a checkout that is
being edited while the benchmark runs.

Usage::

    python benchmarks/bench_reports.py            # the whole suite (variants included)
    python benchmarks/bench_reports.py --quick    # customer_kpis and one teaching notebook, no variants (make bench)
    python benchmarks/bench_reports.py --output results.json
    python benchmarks/bench_reports.py --snapshot # a copy of the package (others editing the checkout)

Prints one line per step with its seconds and ratio to the sequential baseline, then one JSON line
with every figure (also written to ``--output``, default ``benchmarks/results/bench_reports[-quick].json``).
Exit status 1 when a step fails or the cache does not do what it should (warm: every report cached;
touched: only the edited one run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from bsc_toolkit.report import packaged_notebooks_dir
from bsc_toolkit.report_cache import source_hash

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_COLD = 60.0
TARGET_WARM = 5.0
TOUCHED = "customer_kpis"
QUICK_NOTEBOOKS = ("customer_kpis.ipynb", "teaching/01_customer_perspective.ipynb")
_LINE = re.compile(r"^(ok\*?|cached\*?|n/a|FAILED)\s+(\S+)", re.M)


def bsc_report(args: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run ``bsc report ARGS`` as a subprocess; its seconds, exit code and the status of each report."""
    command = [sys.executable, "-m", "bsc_toolkit.cli", "report", *args]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - t0
    statuses = {name: status for status, name in _LINE.findall(done.stdout + "\n" + done.stderr)}
    return {"seconds": round(seconds, 2), "exit_code": done.returncode, "statuses": statuses, "stderr": done.stderr}


def touch_notebook(path: Path) -> None:
    """Change a notebook's bytes without changing what it computes (a metadata field; cell ids kept)."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.setdefault("bsc", {})["benchmark_touch"] = time.time()
    nbformat.write(nb, path)


def snapshot_env(work: Path) -> tuple[dict[str, str], Path]:
    """An environment that runs a copy of the package (made in ``work/src``), and that copy's folder."""
    from bsc_toolkit.data.datasets import find_cdnow
    from bsc_toolkit.data.io import ensure_default_dataset
    from bsc_toolkit.report_cache import package_folder

    copy = work / "src" / "bsc_toolkit"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(package_folder(), copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = dict(os.environ, BSC_DATA_DIR=str(ensure_default_dataset()))
    env["PYTHONPATH"] = os.pathsep.join([str(copy.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    cdnow = find_cdnow()
    if cdnow is not None:
        env["BSC_CDNOW_DIR"] = str(cdnow)
    return env, copy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two notebooks, no variants (smoke run)")
    ap.add_argument("--notebooks-dir", type=Path, default=None, help="another suite (default: the shipped one)")
    ap.add_argument("--touch", default=TOUCHED, help=f"the notebook edited in the last step (default {TOUCHED})")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks at once in the parallel steps (default 2)")
    ap.add_argument("--work-dir", type=Path, default=None, help="where notebooks and reports go (default: a temp dir)")
    ap.add_argument("--output", type=Path, default=None, help="JSON results (default benchmarks/results/...)")
    ap.add_argument("--snapshot", action="store_true", help="run a copy of the package (a checkout being edited)")
    args = ap.parse_args(argv)

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-reports-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env, package = snapshot_env(work) if args.snapshot else (dict(os.environ), None)
    notebooks = work / "notebooks"
    shutil.rmtree(notebooks, ignore_errors=True)
    source = args.notebooks_dir or packaged_notebooks_dir()
    shutil.copytree(source, notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    selection = [str(notebooks / n) for n in QUICK_NOTEBOOKS] if args.quick and args.notebooks_dir is None else []
    common = [*selection, "--notebooks-dir", str(notebooks), *(["--no-variants"] if args.quick else [])]
    source_before = source_hash(package)

    steps: dict[str, dict] = {}
    steps["sequential"] = bsc_report([*common, "--out", str(work / "sequential"), "--jobs", "1", "--force"], env, work)
    steps["cold"] = bsc_report(
        [*common, "--out", str(work / "parallel"), "--jobs", str(args.jobs), "--force"], env, work
    )
    steps["warm"] = bsc_report([*common, "--out", str(work / "parallel"), "--jobs", str(args.jobs)], env, work)
    touch_notebook(notebooks / f"{args.touch}.ipynb")
    steps["touched"] = bsc_report([*common, "--out", str(work / "parallel"), "--jobs", str(args.jobs)], env, work)
    source_changed = source_hash(package) != source_before

    base = steps["sequential"]["seconds"]
    problems = [f"{name}: exit code {s['exit_code']}" for name, s in steps.items() if s["exit_code"] != 0]
    warm_run = sorted(n for n, st in steps["warm"]["statuses"].items() if not st.startswith(("cached", "n/a")))
    touched_run = sorted(n for n, st in steps["touched"]["statuses"].items() if not st.startswith(("cached", "n/a")))
    if warm_run:
        problems.append(f"warm: reports ran again though nothing changed: {', '.join(warm_run)}")
    if touched_run != [args.touch]:
        problems.append(f"touched: expected only {args.touch} to run again, ran: {', '.join(touched_run) or 'none'}")
    if source_changed:
        problems.append("the package source changed during the benchmark (another edit): warm figures not valid")

    for name, step in steps.items():
        ran = sum(not st.startswith(("cached", "n/a")) for st in step["statuses"].values())
        cached = sum(st.startswith("cached") for st in step["statuses"].values())
        ratio = base / step["seconds"] if step["seconds"] else float("nan")
        target = {"cold": TARGET_COLD, "warm": TARGET_WARM}.get(name)
        verdict = f"; target < {target:g} s: {'met' if step['seconds'] < target else 'MISSED'}" if target else ""
        print(
            f"{name:<10} {step['seconds']:7.2f} s  {ran} run, {cached} cached  "
            f"{ratio:5.1f}x faster than sequential{verdict}"
        )
    for problem in problems:
        print(f"problem: {problem}")

    results = {
        "quick": args.quick,
        "snapshot": args.snapshot,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "jobs": args.jobs,
        "cpu_count": os.cpu_count(),
        "reports": len(steps["sequential"]["statuses"]),
        "seconds": {name: s["seconds"] for name, s in steps.items()},
        "ratio_to_sequential": {name: round(base / s["seconds"], 2) for name, s in steps.items() if s["seconds"]},
        "statuses": {name: s["statuses"] for name, s in steps.items()},
        "targets": {"cold_seconds": TARGET_COLD, "warm_seconds": TARGET_WARM},
        "cold_met": steps["cold"]["seconds"] < TARGET_COLD,
        "warm_met": steps["warm"]["seconds"] < TARGET_WARM,
        "source_changed_during_run": source_changed,
        "problems": problems,
    }
    payload = json.dumps(results)
    output = args.output or RESULTS / f"bench_reports{'-quick' if args.quick else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    for name, step in steps.items():
        if step["exit_code"] != 0:
            print(
                f"--- {name} stderr (last lines) ---\n" + "\n".join(step["stderr"].splitlines()[-15:]), file=sys.stderr
            )
    print(payload)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
