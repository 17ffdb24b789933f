"""Parallel report runs, the execution cache (issue 10) and `bsc report --pdf`."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

import bsc_toolkit.data.io as data_io
import bsc_toolkit.report_cache as report_cache
from bsc_toolkit.cli import app
from bsc_toolkit.report import ReportJob, ReportResult, plan_reports, run_reports
from bsc_toolkit.report_cache import (
    CACHE_FOLDER,
    ReportCache,
    RunInputs,
    canonical_json,
    input_hash,
    source_hash,
    validate_for_reports,
)


def _notebook(path: Path, parameters: str = "x = 1", body: str = "print('value', x)", order: int = 1) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# {path.stem}"),
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(body),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["bsc"] = {"title": path.stem.capitalize(), "order": order}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fixed_source(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A package source hash the test controls (others may edit the package while tests run)."""
    state = {"hash": "source-1"}
    monkeypatch.setattr(report_cache, "source_hash", lambda root=None: state["hash"])
    return state


# ------------------------------------------------------------------------------------ hashing
def test_source_hash_covers_every_file_but_compiled_ones(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "spec.yaml").write_text("a: 1\n")
    first = source_hash(pkg)
    assert re.fullmatch(r"[0-9a-f]{64}", first) and source_hash(pkg) == first
    (pkg / "sub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0compiled")
    assert source_hash(pkg) == first  # compiled files do not count
    (pkg / "sub" / "spec.yaml").write_text("a: 2\n")
    second = source_hash(pkg)
    assert second != first
    (pkg / "b.ipynb").write_text("{}")  # a shipped notebook added
    assert source_hash(pkg) not in (first, second)
    (pkg / "b.ipynb").unlink()
    (pkg / "sub" / "spec.yaml").rename(pkg / "spec.yaml")  # same bytes, another place
    assert source_hash(pkg) != second
    assert source_hash() == source_hash(report_cache.package_folder())  # default: the installed package


def test_input_hash_reads_paths_sizes_and_bytes_of_the_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("customer_id\n1\n")
    (data / "surveys.csv").write_text("customer_id,csat\n1,5\n")
    first = input_hash(data, dataset=True)
    (data / "surveys.csv").write_text("customer_id,csat\n1,4\n")  # same size, other bytes
    second = input_hash(data, dataset=True)
    assert second != first
    (data / "reports").mkdir()
    (data / "reports" / "x.html").write_text("a report written inside the data folder")
    assert input_hash(data, exclude=[data / "reports"], dataset=True) == second  # the report folder is left out
    assert input_hash(data, dataset=True) != second
    assert input_hash(tmp_path / "none") != input_hash(tmp_path / "other")  # missing inputs differ by path
    assert input_hash(None) == input_hash(None)

    # tables a dataset.yaml names outside its folder count; a yaml without tables brings its folder
    elsewhere = tmp_path / "raw"
    elsewhere.mkdir()
    (elsewhere / "orders.csv").write_text("customer_id,ordered_at,revenue\n1,2024-01-01,5\n")
    described = tmp_path / "described"
    described.mkdir()
    (described / "dataset.yaml").write_text(
        "name: test\ntables:\n  transactions:\n    path: ../raw/orders.csv\n"
        "    columns: {customer_id: customer_id, ordered_at: ordered_at, revenue_usd: revenue}\n"
    )
    before = input_hash(described, dataset=True)
    (elsewhere / "orders.csv").write_text("customer_id,ordered_at,revenue\n1,2024-01-01,6\n")
    assert input_hash(described, dataset=True) != before
    assert input_hash(described / "dataset.yaml", dataset=True) != input_hash(described / "dataset.yaml")


def test_canonical_json_is_order_free_and_takes_paths():
    assert canonical_json({"b": 1, "a": [Path("/x"), 2.5]}) == canonical_json({"a": ["/x", 2.5], "b": 1})
    assert canonical_json({"a": 1}) != canonical_json({"a": 1.5})


# ------------------------------------------------------------------------------------ the key
@pytest.fixture
def tiny(tmp_path: Path) -> dict:
    """A notebook reading data_dir, its data folder, and a report folder."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("customer_id\n1\n")
    nb = _notebook(tmp_path / "nbs" / "tiny.ipynb", "data_dir = None\nmask_ids = None\nx = 1")
    job = plan_reports([nb], nb.parent, parameters={"data_dir": str(data)})[0]
    return {"nb": nb, "job": job, "data": data, "out": tmp_path / "out"}


def _key(job: ReportJob, out: Path, source: str = "s1", hide_code: bool = True) -> str | None:
    inputs = RunInputs(exclude=[out], source=source)
    return ReportCache(out, inputs, hide_code).key(job, inputs.for_job(job))


def test_the_key_changes_with_each_input(tiny, monkeypatch):
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    job, out = tiny["job"], tiny["out"]
    base = _key(job, out)
    assert base is not None and base == _key(job, out)  # deterministic
    changes = {
        "source": _key(job, out, source="s2"),
        "hide_code": _key(job, out, hide_code=False),
        "parameters": _key(ReportJob(job.notebook, job.name, job.title, parameters={**job.parameters, "x": 2}), out),
        "title": _key(ReportJob(job.notebook, job.name, "Other", parameters=job.parameters), out),
    }
    (tiny["data"] / "customers.csv").write_text("customer_id\n2\n")
    changes["data"] = _key(job, out)
    (tiny["data"] / "customers.csv").write_text("customer_id\n1\n")
    assert _key(job, out) == base  # the same bytes again: the same key
    _notebook(tiny["nb"], "data_dir = None\nmask_ids = None\nx = 1", body="print('edited', x)")
    changes["notebook"] = _key(job, out)
    assert len({base, *changes.values()}) == len(changes) + 1, changes  # each change gives a key of its own


def test_files_named_by_path_parameters_and_defaults_are_inputs(tmp_path, monkeypatch):
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    nb = _notebook(tmp_path / "nbs" / "card.ipynb", 'scorecard_path = "card.yaml"\nnotes_dir = None')
    (nb.parent / "card.yaml").write_text("measures: []\n")  # the default, relative to the notebook's folder
    job = plan_reports([nb], nb.parent)[0]
    out = tmp_path / "out"
    first = _key(job, out)
    (nb.parent / "card.yaml").write_text("measures: [1]\n")
    second = _key(job, out)
    assert second != first
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("a")
    given = plan_reports([nb], nb.parent, parameters={"notes_dir": str(notes)})[0]
    third = _key(given, out)
    (notes / "a.txt").write_text("b")
    assert _key(given, out) not in (third, second)


def test_masked_reports_are_keyed_by_the_mask_key_and_not_cached_without_one(tiny, monkeypatch):
    job, out = tiny["job"], tiny["out"]
    masked = ReportJob(job.notebook, job.name, job.title, parameters={**job.parameters, "mask_ids": True})
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    assert _key(job, out) is not None
    assert _key(masked, out) is None  # pseudonyms of a random key: never reused
    monkeypatch.setenv("BSC_MASK_KEY", "ab" * 32)
    first = _key(masked, out)
    monkeypatch.setenv("BSC_MASK_KEY", "cd" * 32)
    assert first is not None and _key(masked, out) not in (None, first)
    unmasked = _key(job, out)
    monkeypatch.setenv("BSC_MASK_KEY", "ab" * 32)
    assert _key(job, out) == unmasked  # the key does not matter when ids are not masked
    # a data set whose description asks for pseudonyms is masked without the parameter
    (tiny["data"] / "dataset.yaml").write_text("name: t\nprivacy: {mask_customer_ids: true}\n")
    monkeypatch.delenv("BSC_MASK_KEY")
    assert _key(job, out) is None


# ------------------------------------------------------------------------------------ entries
def _written(out: Path, job: ReportJob, text: str = "<p>report</p>") -> ReportResult:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{job.name}.html").write_text(text)
    (out / job.name).mkdir(exist_ok=True)
    (out / job.name / "tables.json").write_text("{}")
    return ReportResult(job, out / f"{job.name}.html", 4.2, section_errors=("tiny.kpis",))


def test_an_entry_is_reused_only_while_key_html_and_tables_are_unchanged(tiny):
    job, out = tiny["job"], tiny["out"]
    inputs = RunInputs(exclude=[out], source="s1")
    cache = ReportCache(out, inputs, hide_code=True)
    key = cache.key(job, inputs.for_job(job))
    assert cache.lookup(job, key) is None  # nothing recorded yet
    cache.store(job, key, _written(out, job), [out / job.name / "tables.json"])
    hit = cache.lookup(job, key)
    assert hit is not None and hit.seconds == 4.2 and hit.section_errors == ("tiny.kpis",)
    entry = json.loads((out / CACHE_FOLDER / f"{job.name}.json").read_text())
    assert set(entry["files"]) == {"tiny.html", "tiny/tables.json"} and entry["key"] == key
    assert cache.lookup(job, "another key") is None
    assert ReportCache(out, inputs, hide_code=True, force=True).lookup(job, key) is None  # --force
    assert ReportCache(out, inputs, hide_code=True, enabled=False).lookup(job, key) is None

    (out / job.name / "tables.json").write_text('{"edited": 1}')  # a table edited by hand
    assert cache.lookup(job, key) is None
    (out / job.name / "tables.json").write_text("{}")
    assert cache.lookup(job, key) is not None
    (out / "tiny.html").write_text("<p>edited by hand</p>")
    assert cache.lookup(job, key) is None
    (out / "tiny.html").unlink()  # missing HTML: the report runs again
    assert cache.lookup(job, key) is None

    # a failed or unwritten report is not recorded
    cache.store(job, "k2", ReportResult(job, None, 1.0, "boom"))
    assert json.loads((out / CACHE_FOLDER / f"{job.name}.json").read_text())["key"] == key


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        "null",
        '{"format": 1, "key": "K"}',  # no files
        '{"format": 1, "key": "K", "files": {"../../etc/passwd": "x"}, "result": {"seconds": 1}}',
        '{"format": 1, "key": "K", "files": {"tiny.html": "x"}, "result": {"seconds": "fast"}}',
        '{"format": 1, "key": "K", "files": ["tiny.html"], "result": {}}',
        '{"format": 99, "key": "K", "files": {}, "result": {}}',
    ],
)
def test_a_corrupt_entry_is_a_miss_not_a_crash(tiny, text):
    job, out = tiny["job"], tiny["out"]
    _written(out, job)
    (out / CACHE_FOLDER).mkdir()
    (out / CACHE_FOLDER / "tiny.json").write_text(text)
    cache = ReportCache(out, RunInputs(source="s1"), hide_code=True)
    assert cache.lookup(job, "K") is None


# ------------------------------------------------------------------------------------ validation
@pytest.mark.slow
def test_the_data_checks_are_cached_and_redone_when_the_data_change(
    tmp_path, small_data_dir, monkeypatch, fixed_source
):
    data = tmp_path / "data"
    data.mkdir()
    for f in small_data_dir.iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    loads: list = []
    real = data_io.load_dataset

    def load(path=None, mask_ids=None):
        loads.append(path)
        return real(path, mask_ids=mask_ids)

    monkeypatch.setattr(data_io, "load_dataset", load)
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    cache = tmp_path / "out" / CACHE_FOLDER
    reports = ["customer_kpis", "customer_value", "teaching_x"]
    first = validate_for_reports(str(data), reports, cache_dir=cache)
    assert not first.cached and len(loads) == 1
    again = validate_for_reports(str(data), reports, cache_dir=cache)
    assert again.cached and len(loads) == 1  # not loaded
    assert again.warnings == first.warnings and dict(again.not_applicable) == dict(first.not_applicable)
    assert validate_for_reports(str(data), reports, cache_dir=cache, force=True).cached is False and len(loads) == 2
    assert validate_for_reports(str(data), reports[:1], cache_dir=cache).cached is False  # other reports
    fixed_source["hash"] = "source-2"
    assert validate_for_reports(str(data), reports, cache_dir=cache).cached is False  # other package source
    fixed_source["hash"] = "source-1"
    os.utime(data / "surveys.csv")  # touching alone changes nothing
    assert validate_for_reports(str(data), reports, cache_dir=cache).cached is True
    (data / "customers.csv").write_text((data / "customers.csv").read_text().rstrip("\n") + "\n\n")
    assert validate_for_reports(str(data), reports, cache_dir=cache).cached is False  # other bytes
    for entry in cache.glob("validation-*.json"):
        entry.write_text("{corrupt")
    n = len(loads)
    assert validate_for_reports(str(data), reports, cache_dir=cache).cached is False and len(loads) == n + 1
    # without a cache folder nothing is cached
    assert validate_for_reports(str(data), reports).cached is False


def test_the_data_checks_of_masked_ids_are_cached_only_under_the_same_key(small_data_dir, tmp_path, monkeypatch):
    cache = tmp_path / CACHE_FOLDER
    monkeypatch.setenv("BSC_MASK_KEY", "ab" * 32)
    assert not validate_for_reports(str(small_data_dir), ["customer_kpis"], mask_ids=True, cache_dir=cache).cached
    assert validate_for_reports(str(small_data_dir), ["customer_kpis"], mask_ids=True, cache_dir=cache).cached
    monkeypatch.setenv("BSC_MASK_KEY", "cd" * 32)  # pseudonyms in the warnings would differ
    assert not validate_for_reports(str(small_data_dir), ["customer_kpis"], mask_ids=True, cache_dir=cache).cached


# ------------------------------------------------------------------------------------ runs with kernels
STAMPED = (
    "import os, time\n"
    "start = time.time()\n"
    "time.sleep(pause)\n"
    "print('stamp', x, start, time.time(), os.environ.get('BSC_REPORT'), os.getcwd())"
)


def _stamps(page: str) -> tuple[float, float, str, str]:
    found = re.search(r"stamp \S+ ([\d.]+) ([\d.]+) (\S+) (\S+)", page)
    assert found, page[-500:]
    return float(found.group(1)), float(found.group(2)), found.group(3), found.group(4)


@pytest.mark.slow
def test_parallel_run_writes_every_report_in_job_order_then_reuses_them(tmp_path, fixed_source):
    nbs = tmp_path / "nbs"
    for name, pause, order in (("a_slow", 4, 1), ("b", 0, 2), ("c", 0, 3)):
        _notebook(nbs / f"{name}.ipynb", f"x = 1\npause = {pause}", STAMPED, order=order)
    jobs = plan_reports(notebooks_dir=nbs, parameters={"x": 7})
    out = tmp_path / "out"
    results = run_reports(jobs, out_dir=out, progress=False, workers=2)
    assert [r.job.name for r in results] == ["a_slow", "b", "c"]  # job order, though a_slow finished last
    assert all(r.ok and not r.cached and r.html_path == out / f"{r.job.name}.html" for r in results), results
    stamps = {r.job.name: _stamps(r.html_path.read_text()) for r in results}
    assert stamps["b"][0] < stamps["a_slow"][1]  # b ran while a_slow was running: two kernels at once
    for _start, _end, flag, cwd in stamps.values():
        assert flag == "1" and cwd == str(nbs.resolve())  # BSC_REPORT=1, the notebook's folder
    assert all(re.search(r"stamp 7 ", r.html_path.read_text()) for r in results)  # the parameter reached each

    # nothing changed: every report is reused, in no time, with the seconds of the run that wrote it
    t0 = time.monotonic()
    again = run_reports(jobs, out_dir=out, progress=False, workers=2)
    assert time.monotonic() - t0 < 5
    assert [r.cached for r in again] == [True, True, True]
    assert [r.seconds for r in again] == pytest.approx([r.seconds for r in results], abs=1e-3)
    manifest = {e["name"]: e for e in json.loads((out / "manifest.json").read_text())}
    assert all(e["cached"] is True for e in manifest.values())
    assert (out / "index.html").read_text().count("cached (nothing it depends on changed") == 3

    # an edited notebook, a corrupt entry and a missing HTML: those three reports run again, alone
    _notebook(nbs / "b.ipynb", "x = 1\npause = 0", STAMPED + "\nprint('edited')", order=2)
    (out / CACHE_FOLDER / "c.json").write_text("{corrupt")
    page_a = (out / "a_slow.html").read_text()
    third = run_reports(jobs, out_dir=out, progress=False, workers=2)
    assert [r.cached for r in third] == [True, False, False]
    assert "edited" in (out / "b.html").read_text() and (out / "a_slow.html").read_text() == page_a
    (out / "c.html").unlink()
    fourth = run_reports(jobs, out_dir=out, progress=False)
    assert [r.cached for r in fourth] == [True, True, False] and (out / "c.html").is_file()

    # another parameter value, another package source, or --force: run again
    changed = plan_reports([nbs / "c.ipynb"], nbs, parameters={"x": 8})
    assert [r.cached for r in run_reports(changed, out_dir=out, progress=False)] == [False]
    assert [r.cached for r in run_reports(changed, out_dir=out, progress=False)] == [True]
    fixed_source["hash"] = "source-2"
    assert [r.cached for r in run_reports(changed, out_dir=out, progress=False)] == [False]
    assert [r.cached for r in run_reports(changed, out_dir=out, progress=False, force=True)] == [False]
    assert [r.cached for r in run_reports(changed, out_dir=out, progress=False, cache=False)] == [False]


@pytest.mark.slow
def test_cli_reuses_reports_and_data_checks_and_prints_pdfs(tmp_path, small_data_dir, monkeypatch, fixed_source):
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    nbs = tmp_path / "nbs"
    _notebook(nbs / "one.ipynb", "data_dir = None\nx = 1", "print('report one', x)", order=1)
    _notebook(nbs / "two.ipynb", "data_dir = None\nx = 2", "print('report two', x)", order=2)
    out = tmp_path / "out"
    args = ["report", "--notebooks-dir", str(nbs), "--data-dir", str(small_data_dir), "--out", str(out)]
    loads: list = []
    real = data_io.load_dataset
    monkeypatch.setattr(
        data_io, "load_dataset", lambda path=None, mask_ids=None: loads.append(1) or real(path, mask_ids)
    )

    res = CliRunner().invoke(app, [*args, "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert re.search(r"^ok      one ", res.stdout, re.M) and re.search(r"^ok      two ", res.stdout, re.M)
    assert len(loads) == 1 and "cached" not in res.stdout

    monkeypatch.setenv("BSC_CHROMIUM", str(tmp_path / "no-such-chromium"))
    res = CliRunner().invoke(app, [*args, "--pdf"])
    assert res.exit_code == 0, res.output  # no Chromium: reports still fine
    assert re.search(r"^cached  one ", res.stdout, re.M) and re.search(r"^cached  two ", res.stdout, re.M)
    assert "2 of 2 report(s) cached" in res.stdout
    assert len(loads) == 1  # the data were not loaded again
    skipped = [line for line in res.stderr.splitlines() if "PDFs skipped" in line]
    assert len(skipped) == 1 and "no-such-chromium" in skipped[0] and skipped[0].startswith("warning: ")
    assert not list(out.glob("*.pdf"))

    res = CliRunner().invoke(app, [*args, "--force"])
    assert res.exit_code == 0 and "cached" not in res.stdout and len(loads) == 2  # --force: all of it again

    monkeypatch.delenv("BSC_CHROMIUM")
    try:
        from bsc_toolkit.browser import BrowserUnavailable, find_chromium

        find_chromium()
    except (ImportError, BrowserUnavailable) as exc:
        pytest.skip(f"no Chromium for the PDF half: {exc}")
    res = CliRunner().invoke(app, [*args, "--pdf"])
    assert res.exit_code == 0, res.output
    pdfs = {name: out / f"{name}.pdf" for name in ("one", "two")}
    for pdf in pdfs.values():
        if not pdf.is_file():
            pytest.skip(f"Chromium could not print here: {res.stderr[-500:]}")
        assert pdf.read_bytes()[:5] == b"%PDF-"
    index = (out / "index.html").read_text()
    assert 'href="one.pdf"' in index and 'href="two.pdf"' in index
    before = {name: pdf.stat().st_mtime_ns for name, pdf in pdfs.items()}
    res = CliRunner().invoke(app, [*args, "--pdf"])
    assert res.exit_code == 0 and "2 of 2 report(s) cached" in res.stdout
    assert {name: pdf.stat().st_mtime_ns for name, pdf in pdfs.items()} == before  # cached with its PDF: kept
    res = CliRunner().invoke(app, [*args, "--force"])  # rewritten without --pdf: the old PDFs no longer match
    assert (
        res.exit_code == 0 and not list(out.glob("*.pdf")) and 'href="one.pdf"' not in (out / "index.html").read_text()
    )
