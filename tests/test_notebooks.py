"""Every notebook of the report suite follows the conventions and runs under papermill.

The execution test runs exactly the jobs ``bsc report`` (and so ``make reports``)
runs, on the default data set, so a green test run means the main job works.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from bsc_toolkit.report import discover_notebooks, plan_reports
from bsc_toolkit.report_params import declared_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = discover_notebooks(ROOT / "notebooks")


def test_there_is_a_report_suite():
    names = {p.stem for p in NOTEBOOKS}
    assert {"customer_kpis", "scorecard", "customer_value"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert tagged[0].cell_type == "code"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "store notebooks without outputs"
    assert nb.metadata["bsc"]["title"]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("#")
    # papermill must parse every parameter line (it drops lines with a second '=')
    assert set(pm.inspect_notebook(str(path))) == set(declared_parameters(path))


#: Counts and rates each notebook must bound in its metadata where it declares them.
BOUNDED = {
    "n_boot": (1, None),
    "horizon_periods": (1, None),
    "n_sims": (1, None),
    "top_n": (1, None),
    "horizon_months": (1, None),
    "baseline_periods": (1, None),
    "n_trend": (1, None),
    "discount_rate_monthly": (0, 1),
    "max_customers": (1, None),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_typed_and_counts_bounded(path):
    """A None default says its type (else any value would reach the kernel); counts have bounds."""
    declared = declared_parameters(path)  # also checks the bounds: declared names, defaults inside
    untyped = [p.name for p in declared.values() if p.literal and p.default is None and p.types is None]
    assert not untyped, f"annotate these None defaults, e.g. 'name: Optional[str] = None': {untyped}"
    bounds = {name: p.bounds for name, p in declared.items() if p.bounds is not None}
    assert bounds == {name: bound for name, bound in BOUNDED.items() if name in declared}


JOBS = plan_reports(notebooks_dir=ROOT / "notebooks")


@pytest.mark.slow
@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_notebook_runs_top_to_bottom(job, built_reports):
    """Every job of the suite ran (``built_reports`` runs exactly what ``bsc report`` runs, once per session)."""
    page = (built_reports / f"{job.name}.html").read_text(encoding="utf-8")
    assert "Traceback" not in page and "could not be computed" not in page
    assert page.count('src="data:image/png;base64,') >= 1, "each report shows at least one figure"
    assert 'class="bsc-headline"' in page, "each report opens with its headline"
    assert page.index('class="bsc-headline"') < page.index('src="data:image/png'), "the headline comes first"
    assert 'class="bsc-provenance"' in page, "each report ends with its provenance footer"
    assert (built_reports / job.name / "tables.json").is_file()
    if "solutions" in declared_parameters(job.notebook):
        _assert_teaching_checks(page, job.notebook, solutions=bool(job.parameters.get("solutions", False)))


def _assert_teaching_checks(page: str, notebook: Path, solutions: bool) -> None:
    """Every check cell shows its verdict: asking for the answers in the exercise version, all passed in
    the solutions version (one ", well done." per ``check_estimate``, one "N of N estimates within
    tolerance" per ``check_estimates``)."""
    nb = nbformat.read(notebook, as_version=4)
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith("check_estimate")]
    assert len(checks) >= 2, "a teaching notebook has at least two check cells"
    if solutions:
        verdicts = page.count(", well done.") + len(re.findall(r"(\d+) of \1 estimates within tolerance", page))
        assert verdicts == len(checks), f"{verdicts} passed verdicts for {len(checks)} check cells"
        assert "not close enough" not in page and "Fill in your estimate" not in page
    else:
        assert page.count("Fill in your estimate") == len(checks), "each check cell asks for its estimate"
        assert "well done" not in page.lower() and "within tolerance" not in page
