"""The shape matrix: every report renders every section the capability table allows, on every shape.

Shapes are derived from a simulated data set (``tests/shapes.py``): no nps, no cost, no
transactions, no surveys, a snapshot, 1-5 and 0-10 scales, text ids, other driver names. The two
real case studies (``examples/``) run the same checks when the shared data are present.
"""

from __future__ import annotations

import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bsc_toolkit.capabilities import SECTIONS, capability_table, report_applicability, section_markers
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.report import ReportError, ReportJob, render_report
from tests.shapes import VARIANTS, make_variant

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ("customer_kpis", "satisfaction_retention_value", "service_profit_chain", "customer_value", "scorecard")
#: Small, fast settings where a report has bootstrap or simulation loops (the figures are not checked here).
FAST = {"n_boot": 50, "n_sims": 100}

_PY_WARNING = re.compile(r"\b(User|Runtime|Future|Deprecation|Convergence|PerfectSeparation|SettingWithCopy)Warning\b")
_NONFINITE = re.compile(r"(?<![\w.])(nan|inf|-inf|NaN%|nan%)(?![\w])")


def _render(args: tuple[str, str, str, str]) -> tuple[str, str, str | None]:
    """Run one report (in a worker process): (variant, report, HTML text or None, error)."""
    variant, report, data_dir, out = args
    job = ReportJob(
        ROOT / "notebooks" / f"{report}.ipynb", f"{variant}-{report}", report, 0, {"data_dir": data_dir, **FAST}
    )
    try:
        path = render_report(job, out_dir=out)
    except ReportError as exc:
        return f"{variant}/{report}", "", str(exc)
    return f"{variant}/{report}", path.read_text(), None


def _text_outside_tables(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    page = re.sub(r"<table\b.*?</table>", "", page, flags=re.S)
    page = re.sub(r"<img\b[^>]*>", "", page)
    return re.sub(r"<[^>]+>", " ", page)


def check_report(name: str, page: str, error: str | None, expected: dict[str, str]) -> list[str]:
    """Problems of one rendered report against the sections expected (section -> status)."""
    if error:
        return [f"{name}: failed: {error[:500]}"]
    problems = []
    markers = section_markers(page)
    for section, status in expected.items():
        if markers.get(section) != status:
            problems.append(f"{name}: section {section} is {markers.get(section)!r}, expected {status!r}")
    if "Traceback" in page:
        problems.append(f"{name}: a traceback in the HTML")
    if m := _PY_WARNING.search(page):
        problems.append(f"{name}: a Python warning in the HTML ({m.group(0)})")
    text = _text_outside_tables(page)
    if m := _NONFINITE.search(text):
        problems.append(f"{name}: a non-finite number in the text: ...{text[max(0, m.start() - 80) : m.end() + 40]}...")
    return problems


def expected_sections(data_dir: Path) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Per report: section -> expected marker status; and the reports that are not applicable."""
    data = load_dataset(data_dir)
    table = capability_table(data)
    expected: dict[str, dict[str, str]] = {}
    not_applicable = {}
    for report in REPORTS:
        missing = report_applicability(data, report)
        if missing:
            not_applicable[report] = missing
            continue
        rows = table[table["report"] == report]
        expected[report] = {
            f"{report}.{r.section}": "rendered" if r.supported else "not_applicable" for r in rows.itertuples()
        }
    return expected, not_applicable


def run_matrix(data_dirs: dict[str, Path], out: Path) -> tuple[list[str], dict]:
    jobs, plans = [], {}
    for variant, data_dir in data_dirs.items():
        expected, not_applicable = expected_sections(data_dir)
        plans[variant] = (expected, not_applicable)
        jobs += [(variant, report, str(data_dir), str(out / variant)) for report in expected]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_render, jobs))
    problems = []
    pages = {}
    for (variant, report, _, _), (name, page, error) in zip(jobs, results):
        problems += check_report(name, page, error, plans[variant][0][report])
        pages[name] = page
    return problems, pages


def test_sections_table_covers_the_reports() -> None:
    assert {s.report for s in SECTIONS} == set(REPORTS)


@pytest.mark.slow
def test_every_report_renders_every_supported_section_on_every_shape(
    tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path
) -> None:
    root = tmp_path_factory.mktemp("shape-matrix")
    dirs = {name: make_variant(name, small_data_dir, root / "data" / name) for name in VARIANTS}
    problems, _ = run_matrix(dirs, root / "reports")
    assert not problems, "\n".join(problems)
