"""The report pipeline through real papermill + nbconvert, and the CLI."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from bsc_toolkit.cli import _absolute_paths, _split_report_args, app
from bsc_toolkit.report import (
    ReportError,
    ReportJob,
    ReportResult,
    build_index,
    plan_reports,
    render_report,
    run_reports,
)

ROOT = Path(__file__).resolve().parents[1]
KPI_NOTEBOOK = ROOT / "notebooks" / "customer_kpis.ipynb"


def _tiny_notebook(path: Path, body: str, title: str = "Tiny", variants: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# {title}"),
            nbformat.v4.new_code_cell("x = 1\nlabel = 'a'", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(body),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["bsc"] = {"title": title, "order": 1, **({"variants": variants} if variants else {})}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_kpi_report_renders_headings_and_images(tmp_path, small_data_dir):
    jobs = plan_reports([KPI_NOTEBOOK], notebooks_dir=ROOT / "notebooks", parameters={"data_dir": str(small_data_dir)})
    results = run_reports(jobs, out_dir=tmp_path, progress=False)
    assert all(r.ok for r in results), [r.error for r in results]
    page = (tmp_path / "customer_kpis.html").read_text()
    for heading in (
        "Customer KPI dashboard",
        "Satisfaction (CSAT)",
        "Net Promoter Score",
        "Customer profitability",
        "Caveats",
    ):
        assert heading in page
    assert page.count("<img ") >= 4 and page.count("data:image/png;base64") >= 4
    assert 'class="jp-CodeMirrorEditor' not in page and "jp-mod-noInput" in page  # code hidden by default
    assert str(small_data_dir) in page  # the parameter reached the notebook
    footer = page[page.index('<footer class="bsc-provenance">') :]  # provenance: package, data, notebook, run
    assert "bsc-toolkit " in footer and "customer_kpis.ipynb" in footer and str(small_data_dir) in footer
    tables = json.loads((tmp_path / "customer_kpis" / "tables.json").read_text())  # key tables beside the HTML
    assert tables["report"] == "customer_kpis" and tables["provenance"]["parameters"] == {
        "data_dir": str(small_data_dir)
    }
    index = (tmp_path / "index.html").read_text()
    assert 'href="customer_kpis.html"' in index and "Customer KPI dashboard" in index


@pytest.mark.slow
def test_failing_notebook_keeps_previous_report(tmp_path):
    nb = _tiny_notebook(tmp_path / "tiny.ipynb", "print('value', x * 2)")
    out = tmp_path / "reports"
    job = plan_reports([nb], notebooks_dir=tmp_path)[0]
    first = render_report(job, out_dir=out, hide_code=False)
    before = first.read_text()
    assert "value 2" in before and 'class="jp-CodeMirrorEditor' in before  # --show-code keeps the code
    _tiny_notebook(nb, "raise RuntimeError('boom: column csat missing')")
    with pytest.raises(ReportError, match=r"tiny.ipynb' failed: .*RuntimeError: boom: column csat missing"):
        render_report(job, out_dir=out)
    assert first.read_text() == before
    assert (out / "_failed" / "tiny.ipynb").is_file()
    assert not list(out.glob(".*.tmp"))  # no half-written files
    results = run_reports([job], out_dir=out, progress=False)
    assert not results[0].ok
    index = (out / "index.html").read_text()
    assert "failed" in index and "showing the previous report" in index


def test_variants_and_parameter_filtering(tmp_path):
    nb = _tiny_notebook(tmp_path / "lesson.ipynb", "print(x)", title="Lesson", variants={"solutions": {"x": 2}})
    other = _tiny_notebook(tmp_path / "other.ipynb", "print(x)", title="Other")
    nb_other = nbformat.read(other, as_version=4)
    nb_other.cells[1].source = "y = 1.5"
    nbformat.write(nb_other, other)
    jobs = plan_reports([nb, other], notebooks_dir=tmp_path, parameters={"x": 5, "y": 2})
    assert [j.name for j in jobs] == ["lesson", "other", "lesson-solutions"]  # by order, variants after
    by_name = {j.name: j for j in jobs}
    # each job holds the parameters its notebook declares, converted to the type of the default
    assert by_name["lesson"].parameters == {"x": 5} and by_name["lesson-solutions"].parameters == {"x": 2}
    assert by_name["other"].parameters == {"y": 2.0} and isinstance(by_name["other"].parameters["y"], float)
    assert by_name["lesson-solutions"].title == "Lesson (solutions)"
    assert plan_reports(notebooks_dir=tmp_path, variants=False)[0].notebook == nb


def test_plan_reports_errors(tmp_path):
    with pytest.raises(ReportError, match="notebook not found"):
        plan_reports([tmp_path / "missing.ipynb"])
    with pytest.raises(ReportError, match="notebooks folder not found"):
        plan_reports(notebooks_dir=tmp_path / "nowhere")


def test_index_lists_reports_in_order_and_drops_deleted_ones(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.html").write_text(name)
    jobs = [
        ReportJob(tmp_path / f"{n}.ipynb", n, f"Title {n}", order) for n, order in (("a", 30), ("b", 10), ("c", 20))
    ]
    build_index(tmp_path, [ReportResult(j, tmp_path / f"{j.name}.html", 1.0) for j in jobs])
    page = (tmp_path / "index.html").read_text()
    assert page.index("Title b") < page.index("Title c") < page.index("Title a")
    (tmp_path / "c.html").unlink()
    page = build_index(tmp_path).read_text()  # entries of earlier runs are kept while their file exists
    assert "Title a" in page and "Title b" in page and "Title c" not in page


def test_index_survives_a_hand_edited_manifest_and_shortens_errors_without_cutting_entities(tmp_path):
    (tmp_path / "kept.html").write_text("kept")
    manifest = [
        {"name": "kept", "file": "kept.html", "error": "it broke", "order": "first"},  # no failed, title, generated
        {"name": "na", "not_applicable": "churn dates", "parameters": "x"},
        {"title": "no name: dropped"},
        "not an entry",
    ]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    page = build_index(tmp_path).read_text()
    kept = next(line for line in page.splitlines() if 'href="kept.html"' in line)
    assert ">kept</a>" in kept and '<span class="bad">failed: it broke (showing the previous report)</span>' in kept
    assert "not applicable: needs churn dates" in page and "no name" not in page

    job = ReportJob(tmp_path / "long.ipynb", "long", "Long")
    error = "x" * 295 + "<b> & more after the cut"  # the cut falls inside '&lt;' if made after escaping
    page = build_index(tmp_path, [ReportResult(job, None, 1.0, error)]).read_text()
    shown = re.search(r'<span class="bad">failed [^:]+:[^:]+: (.*?)</span>', page).group(1)
    assert shown == "x" * 295 + "&lt;b..." and html.unescape(shown) == error[:297] + "..."


def test_split_report_args():
    notebooks, params = _split_report_args(
        ["a.ipynb", "-p", "delta", "0.5", "-p", "segment", "smb", "--parameter", "driver", "null"]
    )
    assert notebooks == [Path("a.ipynb")]
    assert params == {"delta": "0.5", "segment": "smb", "driver": "null"}  # as typed, until the notebook is known
    assert {k: v.parsed for k, v in params.items()} == {"delta": 0.5, "segment": "smb", "driver": None}


def test_path_parameters_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = _absolute_paths(
        {"scorecard_path": "my.yaml", "cdnow_dir": "data/cdnow", "data_dir": None, "delta": 0.5, "title": "a/b"}
    )
    assert out == {
        "scorecard_path": str(tmp_path / "my.yaml"),
        "cdnow_dir": str(tmp_path / "data" / "cdnow"),
        "data_dir": None,
        "delta": 0.5,
        "title": "a/b",
    }


def test_cli_simulate_validate_and_kpis(tmp_path):
    runner = CliRunner()
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", str(out), "-n", "300", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "300 customers" in res.output and (out / "truth.json").is_file()
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 0 and "valid" in res.output
    res = runner.invoke(app, ["kpis", str(out), "--by", "segment"])
    assert res.exit_code == 0 and "churn_rate" in res.output and "enterprise" in res.output
    surveys = out / "surveys.csv"
    surveys.write_text(surveys.read_text().replace("\n1,", "\nabc,", 1))
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 1
    assert "surveys.csv" in res.output and "customer_id" in res.output
    assert "Traceback" not in res.output


def test_cli_report_rejects_incomplete_parameter(tmp_path):
    res = CliRunner().invoke(app, ["report", "-p", "delta"])
    assert res.exit_code == 1 and "needs a NAME and a VALUE" in res.output
