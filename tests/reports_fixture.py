"""A session fixture with the whole default report suite built once, for tests that read the reports.

Import it into a test module (pytest finds fixtures by name in the module's namespace)::

    from tests.reports_fixture import built_reports  # noqa: F401

It runs exactly what ``bsc report`` runs (every notebook and variant of ``notebooks/``, then the
index) on the default data set, into a temporary folder, and takes a minute or more: use it only
from tests marked ``slow``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bsc_toolkit.data.io import ensure_default_dataset
from bsc_toolkit.report import plan_reports, run_reports

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with every default report (``<name>.html``) and ``index.html``, built once per session.

    Fails (as an error of each test using it) when a notebook fails, naming the reports and why.
    """
    ensure_default_dataset()
    jobs = plan_reports(notebooks_dir=ROOT / "notebooks")
    out = tmp_path_factory.mktemp("built_reports")
    started = time.perf_counter()
    results = run_reports(jobs, out_dir=out, progress=False)
    failed = [f"{r.job.name}: {r.error}" for r in results if not r.ok]
    if failed:
        pytest.fail("reports failed to build:\n" + "\n".join(failed), pytrace=False)
    print(f"built {len(results)} reports in {time.perf_counter() - started:.1f} s into {out}")
    return out
