"""`bsc report` under bad input and interruption: parameters, --mask-ids, the output folder,
the scorecard, data warnings and SIGINT/SIGTERM (issue 13)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import bsc_toolkit.data.io as data_io
import bsc_toolkit.report as report_module
from bsc_toolkit.cli import app
from bsc_toolkit.report import (
    ReportError,
    ReportIndexError,
    ReportJob,
    ReportResult,
    build_index,
    check_output_dir,
    plan_reports,
    run_reports,
)
from bsc_toolkit.report_params import (
    CommandLineValue,
    ParameterError,
    check_scorecards,
    convert_parameter,
    declared_parameters,
)
from bsc_toolkit.report_run import _write_html
from bsc_toolkit.scorecard.spec import default_scorecard_path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _notebook(path: Path, parameters: str, body: str = "print('done')", meta: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# {path.stem}"),
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(body),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["bsc"] = {"title": path.stem, "order": 1, **(meta or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


TYPED = """\
data_dir = None  # anything
n = 20
rate = 0.5
flag = False
label = "csat"
names = ["a", "b"]
path = Path("x")  # not a literal
weight: float = 1.0
"""


@pytest.fixture
def typed(tmp_path: Path) -> dict:
    return declared_parameters(_notebook(tmp_path / "typed.ipynb", "from pathlib import Path\n" + TYPED))


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if `bsc report` gets as far as running notebooks."""

    def started(*args, **kwargs):
        raise AssertionError("run_reports was called: a kernel would have started")

    monkeypatch.setattr(report_module, "run_reports", started)


# ------------------------------------------------------------------ parameters: declaration and conversion
def test_declared_parameters_reads_defaults_with_ast(typed):
    assert list(typed) == ["data_dir", "n", "rate", "flag", "label", "names", "path", "weight"]
    assert typed["n"].default == 20 and typed["n"].literal and typed["n"].source == "20"
    assert typed["label"].default == "csat" and typed["label"].source == '"csat"'
    assert not typed["path"].literal and typed["path"].source == 'Path("x")'
    assert typed["weight"].default == 1.0  # annotated assignment
    assert typed["data_dir"].expected is None and typed["n"].expected == "a whole number"


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("n", 3, 3),
        ("n", 3.0, 3),  # an integral float is a whole number
        ("n", CommandLineValue("40"), 40),
        ("rate", 2, 2.0),  # int -> float
        ("rate", CommandLineValue("1"), 1.0),
        ("flag", CommandLineValue("true"), True),
        ("label", CommandLineValue("123"), "123"),  # text stays text, as typed
        ("label", CommandLineValue("0123"), "0123"),  # not YAML's octal 83
        ("label", CommandLineValue("2025-01-01"), "2025-01-01"),  # not a date
        ("label", CommandLineValue("null"), None),  # a text parameter may be switched off
        ("names", CommandLineValue("[x, y]"), ["x", "y"]),
        ("n", CommandLineValue("1e3"), 1000),  # PyYAML reads 1e3 as text; Python as a number
        ("n", CommandLineValue("010"), 10),  # decimal, not YAML 1.1's octal
        ("n", np.int64(5), 5),  # numpy numbers become Python numbers (papermill writes others as text)
        ("rate", CommandLineValue("1e-3"), 0.001),
        ("rate", np.float32(0.5), 0.5),
        ("data_dir", CommandLineValue("12"), 12),  # None default: anything (YAML-parsed)
        ("data_dir", CommandLineValue("0123"), "0123"),  # ... without YAML 1.1's octal, base 60 and dates
        ("data_dir", CommandLineValue("1:30"), "1:30"),
        ("data_dir", CommandLineValue("2024-01-01"), "2024-01-01"),
        ("data_dir", CommandLineValue("2.5e-1"), 0.25),
        ("names", CommandLineValue("[010, 2024-01-01]"), ["010", "2024-01-01"]),
        ("data_dir", {"a": 1}, {"a": 1}),
        ("path", CommandLineValue("abc"), "abc"),  # not a literal default: anything
    ],
)
def test_values_are_converted_to_the_type_of_the_default(typed, name, given, expected):
    value = convert_parameter(given, typed[name])
    assert value == expected and type(value) is type(expected)
    assert not isinstance(value, CommandLineValue)


@pytest.mark.parametrize(
    ("name", "given", "words"),
    [
        ("n", 2.5, "a whole number"),
        ("n", CommandLineValue("abc"), "a whole number"),
        ("n", True, "a whole number"),  # bool is not a number here
        ("n", None, "a whole number"),
        ("rate", CommandLineValue("abc"), "a finite number"),
        ("rate", CommandLineValue(".nan"), "a finite number"),
        ("rate", float("inf"), "a finite number"),
        ("rate", CommandLineValue("1e400"), "a finite number"),
        ("rate", CommandLineValue("9" * 400), "a finite number"),  # no float holds it: an error, not a crash
        ("n", CommandLineValue("0x10"), "a whole number"),
        ("flag", 1, "true or false"),  # strict
        ("flag", CommandLineValue("0"), "true or false"),
        ("label", 5, "text"),
        ("names", "a", "a list"),
    ],
)
def test_a_value_of_the_wrong_type_names_parameter_notebook_type_and_default(typed, name, given, words):
    with pytest.raises(ParameterError) as err:
        convert_parameter(given, typed[name])
    message = str(err.value)
    assert f"parameter '{name}' of typed.ipynb" in message
    assert f"expected {words}" in message and f"the default is {typed[name].source}" in message
    assert len(message) < 200  # a long value is shortened


def test_a_name_declared_with_different_types_is_converted_per_notebook(tmp_path):
    a = _notebook(tmp_path / "a.ipynb", "level = 1")
    b = _notebook(tmp_path / "b.ipynb", 'level = "low"')
    jobs = {j.name: j for j in plan_reports([a, b], tmp_path, parameters={"level": CommandLineValue("2")})}
    assert jobs["a"].parameters == {"level": 2} and jobs["b"].parameters == {"level": "2"}


def test_unknown_parameter_is_refused_with_the_nearest_name_and_the_list(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", "scorecard_path = None\nperiod = None")
    with pytest.raises(ParameterError) as err:
        plan_reports([nb], tmp_path, parameters={"scorcard_path": "x.yaml", "zzz": 1})
    message = str(err.value)
    assert "unknown parameter 'scorcard_path'" in message and "did you mean 'scorecard_path'?" in message
    assert "unknown parameter 'zzz'" in message
    assert "parameters of the selected notebooks (a.ipynb): period, scorecard_path" in message


def test_variants_are_checked_against_their_notebook(tmp_path):
    nb = _notebook(tmp_path / "lesson.ipynb", "solutions = False", meta={"variants": {"solutions": {"solutions": 1}}})
    with pytest.raises(ParameterError, match=r"'solutions' of lesson.ipynb \(variant 'solutions'.*true or false"):
        plan_reports([nb], tmp_path)
    _notebook(nb, "solutions = False", meta={"variants": {"solutions": {"solution": True}}})
    with pytest.raises(ParameterError, match=r"unknown parameter 'solution'.*did you mean 'solutions'"):
        plan_reports([nb], tmp_path)
    assert len(plan_reports([nb], tmp_path, variants=False)) == 1  # variants not planned: not checked


def test_cli_unknown_parameter_stops_before_any_kernel(tmp_path, no_kernel):
    res = CliRunner().invoke(
        app, ["report", "--notebooks-dir", str(NOTEBOOKS), "-p", "scorcard_path", "x.yaml", "--out", str(tmp_path)]
    )
    assert res.exit_code == 1, res.output
    assert "unknown parameter 'scorcard_path'" in res.output and "did you mean 'scorecard_path'?" in res.output
    assert "no report was run" in res.output and "Traceback" not in res.output
    assert "delta" in res.output  # the list of valid names


def test_cli_wrong_type_names_the_notebook(tmp_path, no_kernel):
    res = CliRunner().invoke(
        app, ["report", "--notebooks-dir", str(NOTEBOOKS), "-p", "delta", "abc", "--out", str(tmp_path)]
    )
    assert res.exit_code == 1, res.output
    assert "parameter 'delta' of satisfaction_retention_value.ipynb" in res.output
    assert "expected a finite number (the default is 1.0), got 'abc' (text)" in res.output


def test_cli_data_dir_is_a_parameter_like_any_other(tmp_path, no_kernel):
    nb = _notebook(tmp_path / "nbs" / "sim.ipynb", "seed = 7")
    res = CliRunner().invoke(
        app, ["report", str(nb), "--notebooks-dir", str(nb.parent), "--data-dir", str(tmp_path), "--out", "x"]
    )
    assert res.exit_code == 1 and "unknown parameter 'data_dir'" in res.output
    assert "--data-dir gives the parameter data_dir" in res.output


# ------------------------------------------------------------------ --mask-ids and data warnings
@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Stand-ins for load_dataset (accepting mask_ids, with warnings) and run_reports (recording)."""
    seen: dict = {}

    def load_dataset(path=None, mask_ids=False):
        seen["load"] = (path, mask_ids, os.environ.get("BSC_MASK_KEY"))
        return SimpleNamespace(warnings=("3 customer ids appear twice",))

    def run(jobs, out_dir, hide_code, data):
        seen["jobs"] = {j.name: j.parameters for j in jobs}
        seen["key"] = os.environ.get("BSC_MASK_KEY")
        return [ReportResult(j, None, 0.0, not_applicable="stand-in") for j in jobs]

    monkeypatch.setattr(data_io, "load_dataset", load_dataset)
    monkeypatch.setattr(report_module, "run_reports", run)
    return seen


def _mask_suite(root: Path) -> Path:
    _notebook(root / "kpis.ipynb", "data_dir = None\nmask_ids = None")
    _notebook(root / "value.ipynb", "data_dir = None")  # does not declare mask_ids
    _notebook(root / "lesson.ipynb", "seed = 7")
    return root


def test_mask_ids_goes_to_the_notebooks_that_declare_it_with_one_key_per_run(tmp_path, recorded, monkeypatch):
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    suite = _mask_suite(tmp_path / "nbs")
    args = ["report", "--notebooks-dir", str(suite), "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")]
    res = CliRunner().invoke(app, [*args, "--mask-ids"])
    assert res.exit_code == 0, res.output
    assert recorded["jobs"]["kpis"]["mask_ids"] is True
    assert "mask_ids" not in recorded["jobs"]["value"] and "mask_ids" not in recorded["jobs"]["lesson"]
    assert re.fullmatch(r"[0-9a-f]{64}", recorded["key"])  # a fresh key for the kernels of this run
    assert recorded["load"] == (str(tmp_path.resolve()), True, recorded["key"])  # the pre-kernel load masks too
    assert "BSC_MASK_KEY" not in os.environ  # removed after the run
    assert "warning: --mask-ids: value.ipynb has no mask_ids parameter" in res.output
    assert "lesson.ipynb" not in res.output  # no data, no ids: no warning
    assert "warning: 3 customer ids appear twice" in res.output  # the data set's warnings

    first_key = recorded["key"]
    res = CliRunner().invoke(app, args)  # without the flag: no mask_ids, the description decides
    assert res.exit_code == 0 and "mask_ids" not in recorded["jobs"]["kpis"] and recorded["load"][1] is False
    # still one key per run (a description asking for pseudonyms gets the same ones in every report)
    assert re.fullmatch(r"[0-9a-f]{64}", recorded["key"]) and recorded["key"] != first_key
    assert "BSC_MASK_KEY" not in os.environ

    monkeypatch.setenv("BSC_MASK_KEY", "ab" * 32)  # the user's key is used, and kept
    res = CliRunner().invoke(app, [*args, "--mask-ids"])
    assert res.exit_code == 0 and recorded["key"] == "ab" * 32 and os.environ["BSC_MASK_KEY"] == "ab" * 32

    recorded.clear()
    monkeypatch.setenv("BSC_MASK_KEY", "not-a-key")
    res = CliRunner().invoke(app, [*args, "--mask-ids"])
    assert res.exit_code == 1 and "$BSC_MASK_KEY must be a key written in hex" in res.output
    assert "no report was run" in res.output and not recorded


def test_mask_ids_is_not_passed_to_a_loader_without_it(tmp_path, recorded, monkeypatch):
    def load_dataset(path=None):  # a loader from before mask_ids
        recorded["old"] = path
        return SimpleNamespace()

    monkeypatch.setattr(data_io, "load_dataset", load_dataset)
    suite = _mask_suite(tmp_path / "nbs")
    res = CliRunner().invoke(
        app,
        [
            "report",
            "--notebooks-dir",
            str(suite),
            "--data-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--mask-ids",
        ],
    )
    assert res.exit_code == 0, res.output
    assert recorded["old"] == str(tmp_path.resolve()) and recorded["jobs"]["kpis"]["mask_ids"] is True


# ------------------------------------------------------------------ output folder
def test_output_folder_checks_name_the_folder_and_the_cause(tmp_path):
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(ReportError, match=r"cannot write reports to '.*a-file': it is a file, not a folder"):
        check_output_dir(file)
    with pytest.raises(ReportError, match=r"'.*a-file' is a file, not a folder"):
        check_output_dir(file / "reports")
    # /proc accepts no new folders, whoever runs the tests (root included)
    with pytest.raises(ReportError, match=r"cannot create the report folder '/proc/bsc-reports': cannot create"):
        check_output_dir("/proc/bsc-reports")
    check_output_dir(tmp_path / "new" / "reports")  # can be created: fine, and nothing is left behind
    check_output_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a 0o555 folder anyway")
def test_read_only_output_folder_is_refused(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(ReportError, match=r"cannot write reports to '.*ro': the folder is not writable"):
            check_output_dir(out)
        with pytest.raises(ReportError, match=r"cannot create the report folder"):
            check_output_dir(out / "sub")
    finally:
        out.chmod(0o755)


def test_cli_out_pointing_at_a_file_stops_before_any_kernel(tmp_path, no_kernel):
    target = tmp_path / "reports.html"
    target.write_text("not a folder")
    nb = _notebook(tmp_path / "nbs" / "sim.ipynb", "seed = 7")
    res = CliRunner().invoke(app, ["report", "--notebooks-dir", str(nb.parent), "--out", str(target)])
    assert res.exit_code == 1 and "it is a file, not a folder" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["report", "--notebooks-dir", str(nb.parent), "--out", "/proc/bsc-reports"])
    assert res.exit_code == 1 and "cannot create folders in '/proc'" in res.output


def test_a_report_or_index_that_cannot_be_written_is_a_clear_error(tmp_path):
    out = tmp_path / "out"
    (out / "a.html").mkdir(parents=True)  # a folder where the report goes: no write succeeds, even as root
    job = ReportJob(tmp_path / "a.ipynb", "a", "A")
    with pytest.raises(ReportError, match=r"'.*a.ipynb' ran but its report could not be written: .*a.html"):
        _write_html(job, nbformat.v4.new_notebook(), out, hide_code=True)
    assert not list(out.glob(".*.tmp"))  # no half-written file
    (out / "index.html").mkdir()
    with pytest.raises(ReportError, match=r"cannot write the report index: .*index.html"):
        build_index(out, [])


def test_run_reports_raises_index_error_with_the_results_and_restores_signal_handlers(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def mine(signum, frame):  # a handler of the calling program
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        out = tmp_path / "out"
        (out / "index.html").mkdir(parents=True)
        with pytest.raises(ReportIndexError, match="cannot write the report index") as err:
            run_reports([], out_dir=out, progress=False)
        assert err.value.results == []
        assert signal.getsignal(signal.SIGTERM) is mine  # restored after the run
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not list((tmp_path / "tmp").iterdir())  # the run's scratch folder is gone


# ------------------------------------------------------------------ scorecard before kernels
def _scorecard_with_target(path: Path, target: str) -> Path:
    text = default_scorecard_path().read_text()
    path.write_text(text.replace("target: 1000000", f"target: {target}", 1))
    return path


@pytest.mark.parametrize("target", [".nan", ".inf", "-.inf"])
def test_a_scorecard_with_a_non_finite_target_stops_the_run(tmp_path, no_kernel, target):
    bad = _scorecard_with_target(tmp_path / "bad.yaml", target)
    nb = _notebook(tmp_path / "nbs" / "scorecard.ipynb", "scorecard_path = None")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["report", "--notebooks-dir", str(nb.parent), "-p", "scorecard_path", str(bad), "--out", str(out)]
    )
    assert res.exit_code == 1, res.output
    assert "measures[0].target: Input should be a finite number" in res.output and str(bad) in res.output
    assert "no report was run" in res.output and not out.exists()


def test_scorecards_are_checked_as_the_kernel_will_read_them(tmp_path):
    nb = _notebook(tmp_path / "nbs" / "card.ipynb", 'scorecard_path = "card.yaml"')
    job = plan_reports([nb], nb.parent)[0]
    with pytest.raises(ReportError, match=r"report 'card': scorecard '.*nbs/card.yaml' cannot be used: .*not found"):
        check_scorecards([job])  # the default, relative to the notebook's folder (the kernel's cwd)
    (nb.parent / "card.yaml").write_text(yaml.safe_dump(yaml.safe_load(default_scorecard_path().read_text())))
    check_scorecards([job])
    default = plan_reports([_notebook(tmp_path / "d" / "x.ipynb", "scorecard_path = None")], tmp_path / "d")
    check_scorecards(default)  # None: the packaged default, which is valid
    missing = ReportJob(nb, "card", "Card", parameters={"scorecard_path": str(tmp_path / "none.yaml")})
    with pytest.raises(ReportError, match="scorecard file not found"):
        check_scorecards([missing])
    latin = tmp_path / "latin.yaml"  # saved by an editor in Latin-1: a clear error, not a UnicodeDecodeError
    latin.write_bytes(
        default_scorecard_path().read_text().replace("Customer scorecard", "Kundenzufriedenheit ä", 1).encode("latin-1")
    )
    job = ReportJob(nb, "card", "Card", parameters={"scorecard_path": str(latin)})
    with pytest.raises(ReportError, match=r"report 'card': scorecard '.*latin.yaml' cannot be used: it is not UTF-8"):
        check_scorecards([job])


# ------------------------------------------------------------------ signals
QUICK = "print('quick report')"
SLOW = "import os, pathlib\npathlib.Path(mark).write_text(str(os.getpid()))\nimport time; time.sleep(120)"


def _start(root: Path, data_dir: Path) -> tuple[subprocess.Popen, Path, dict]:
    """`bsc report` on a quick and a slow notebook, with its own TMPDIR and JUPYTER_RUNTIME_DIR."""
    nbs = root / "nbs"
    _notebook(nbs / "a_quick.ipynb", "data_dir = None", QUICK)
    _notebook(nbs / "b_slow.ipynb", 'data_dir = None\nmark = ""', SLOW)
    dirs = {name: root / name for name in ("tmp", "runtime", "out")}
    dirs["tmp"].mkdir()
    dirs["runtime"].mkdir()
    dirs["out"].mkdir()
    (dirs["out"] / "b_slow.html").write_text("<p>the previous slow report</p>")
    mark = root / "kernel.pid"
    env = dict(os.environ, TMPDIR=str(dirs["tmp"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]))
    command = [sys.executable, "-m", "bsc_toolkit.cli", "report", "--notebooks-dir", str(nbs)]
    command += ["--data-dir", str(data_dir), "--out", str(dirs["out"]), "-p", "mark", str(mark)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, mark, dirs


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie is not running


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="checks kernel processes through /proc")
def test_sigint_and_sigterm_stop_the_kernel_clean_up_and_rebuild_the_index(tmp_path, small_data_dir):
    runs = {sig: _start(tmp_path / sig.name, small_data_dir) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sig, (process, mark, _) in runs.items():
            deadline = time.monotonic() + 120
            while not (mark.exists() and mark.read_text()) and process.poll() is None:
                assert time.monotonic() < deadline, "the slow notebook never started"
                time.sleep(0.1)
            assert process.poll() is None, process.communicate()
            process.send_signal(sig)
        for sig, (process, mark, dirs) in runs.items():
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], stderr
            expected = f"interrupted ({sig.name}): 1 of 2 reports finished; index rebuilt at {dirs['out']}/index.html"
            assert expected in stderr.splitlines(), stderr[-2000:]
            assert "Traceback" not in stderr
            kernel = int(mark.read_text())
            deadline = time.monotonic() + 5
            while _running(kernel):
                assert time.monotonic() < deadline, f"kernel {kernel} still running after {sig.name}"
                time.sleep(0.1)
            left = [p for p in dirs["tmp"].rglob("*")] + [p for p in dirs["runtime"].rglob("*")]
            assert not left, left  # no bsc-report-* folder, no kernel connection file (kernel-*.json, tmp*.json)
            out = dirs["out"]
            assert sorted(p.name for p in out.iterdir()) == [
                "a_quick.html",
                "b_slow.html",
                "index.html",
                "manifest.json",
            ]
            assert (out / "b_slow.html").read_text() == "<p>the previous slow report</p>"  # never half-written
            assert "quick report" in (out / "a_quick.html").read_text()
            assert 'href="a_quick.html"' in (out / "index.html").read_text()
            assert [e["name"] for e in json.loads((out / "manifest.json").read_text())] == ["a_quick"]
    finally:
        for process, _, _ in runs.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.mark.slow
def test_unwritable_report_and_index_fail_alone_and_kernels_share_the_mask_key(tmp_path, small_data_dir, monkeypatch):
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    nbs = tmp_path / "nbs"
    show_key = "import os\nprint('key', os.environ['BSC_MASK_KEY'], 'mask_ids', mask_ids)"
    for name in ("a", "b", "c"):
        _notebook(nbs / f"{name}.ipynb", "data_dir = None\nmask_ids = None", show_key)
    out = tmp_path / "out"
    (out / "a.html").mkdir(parents=True)  # a's report cannot be written (even as root)
    (out / "index.html").mkdir()  # nor the index
    res = CliRunner().invoke(
        app, ["report", "--notebooks-dir", str(nbs), "--data-dir", str(small_data_dir), "--out", str(out), "--mask-ids"]
    )
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert re.search(r"FAILED  a .*\n .*a.ipynb' ran but its report could not be written: .*a.html", res.output)
    assert re.search(r"ok      b ", res.output) and re.search(r"ok      c ", res.output)  # the others went on
    assert "cannot write the report index" in res.output
    keys = {re.search(r"key ([0-9a-f]{64}) mask_ids True", (out / f"{n}.html").read_text()).group(1) for n in "bc"}
    assert len(keys) == 1  # one pseudonym key for every kernel of the run
    assert "BSC_MASK_KEY" not in os.environ
