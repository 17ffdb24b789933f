"""`bsc report` under bad input and interruption: parameters (types, annotations, bounds), --mask-ids,
the output folder, the scorecard, data warnings, sections that could not be computed, the cell
timeout and SIGINT/SIGTERM (issue 13)."""

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
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import bsc_toolkit.data.io as data_io
import bsc_toolkit.report as report_module
import bsc_toolkit.report_cache as report_cache
from bsc_toolkit.capabilities import REQUIREMENTS, report_section
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
from bsc_toolkit.report_run import _write_html, section_errors
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


# ------------------------------------------------------------------ parameters: annotations
ANNOTATED = """\
# ruff: noqa: UP045
from typing import Optional, Union

market: Optional[float] = None  # a number, or None
segment: str | None = None
flag: Optional[bool] = None
count: int | None = None
quoted: "int | None" = None
either: Union[int, str] = 1
whole_or_not: int | float = 2
required: int
names: list[str] | None = None  # not a type the checks read: anything, as without annotation
level = None
level: Optional[int] = None  # annotated later: the last declaration counts
later: Optional[float] = None
later = 0.5  # assigned again without annotation: keeps its annotation
"""


@pytest.fixture
def annotated(tmp_path: Path) -> dict:
    return declared_parameters(_notebook(tmp_path / "annotated.ipynb", ANNOTATED))


def test_annotations_give_the_types_of_none_defaults(annotated):
    none = type(None)
    assert annotated["market"].types == (float, none) and annotated["market"].annotation == "Optional[float]"
    assert annotated["segment"].types == (str, none) and annotated["flag"].types == (bool, none)
    assert annotated["count"].types == (int, none) and annotated["quoted"].types == (int, none)
    assert annotated["either"].types == (int, str) and annotated["required"].types == (int,)
    assert annotated["names"].types is None and annotated["names"].expected is None  # anything
    assert annotated["level"].types == (int, none) and annotated["later"].types == (float, none)
    assert annotated["market"].expected == "a finite number or null"
    assert annotated["whole_or_not"].expected == "a finite number"


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("market", CommandLineValue("2e7"), 2e7),
        ("market", CommandLineValue("20000000"), 20000000.0),  # a float accepts whole numbers
        ("market", 5, 5.0),
        ("market", CommandLineValue("null"), None),
        ("segment", CommandLineValue("0123"), "0123"),  # text as typed
        ("segment", CommandLineValue("1"), "1"),
        ("segment", CommandLineValue("~"), None),
        ("flag", CommandLineValue("true"), True),
        ("flag", None, None),
        ("count", CommandLineValue("010"), 10),
        ("count", 3.0, 3),
        ("quoted", CommandLineValue("7"), 7),
        ("either", CommandLineValue("7"), 7),
        ("either", CommandLineValue("seven"), "seven"),
        ("whole_or_not", CommandLineValue("3"), 3),
        ("whole_or_not", CommandLineValue("2.5"), 2.5),
        ("names", CommandLineValue("abc"), "abc"),
        ("later", CommandLineValue("1"), 1.0),
    ],
)
def test_values_are_converted_to_the_annotated_type(annotated, name, given, expected):
    value = convert_parameter(given, annotated[name])
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "given", "words", "declared"),
    [
        (
            "market",
            CommandLineValue("abc"),
            "a finite number or null",
            "declared as Optional[float], the default is None",
        ),
        ("market", CommandLineValue(".inf"), "a finite number or null", "declared as Optional[float]"),
        ("market", True, "a finite number or null", "the default is None"),
        ("segment", 5, "text or null", "declared as str | None"),
        ("flag", CommandLineValue("1"), "true or false or null", "declared as Optional[bool]"),
        ("count", CommandLineValue("2.5"), "a whole number or null", "declared as int | None"),
        ("quoted", CommandLineValue("x"), "a whole number or null", 'declared as "int | None"'),
        ("either", None, "a whole number or text", "declared as Union[int, str], the default is 1"),
        ("required", CommandLineValue("x"), "a whole number", "declared as int, no default"),
        ("level", CommandLineValue("abc"), "a whole number or null", "declared as Optional[int]"),
    ],
)
def test_a_value_that_does_not_fit_the_annotation_names_it(annotated, name, given, words, declared):
    with pytest.raises(ParameterError) as err:
        convert_parameter(given, annotated[name])
    message = str(err.value)
    assert message.startswith(f"parameter '{name}' of annotated.ipynb: expected {words} (")
    assert declared in message


def test_cli_none_default_parameters_are_typed_in_the_shipped_notebooks(tmp_path, no_kernel):
    args = ["report", "--notebooks-dir", str(NOTEBOOKS), "--out", str(tmp_path)]
    res = CliRunner().invoke(app, [*args, "-p", "market_size_usd", "abc"])
    assert res.exit_code == 1 and "no report was run" in res.output
    assert (
        "parameter 'market_size_usd' of customer_kpis.ipynb: expected a finite number or null "
        "(declared as Optional[float], the default is None), got 'abc' (text)"
    ) in res.output
    res = CliRunner().invoke(app, [*args, "-p", "mask_ids", "maybe"])
    assert res.exit_code == 1 and "parameter 'mask_ids' of " in res.output and "true or false or null" in res.output


# ------------------------------------------------------------------ parameters: bounds in the notebook's metadata
BOUNDED = "from typing import Optional\nn_boot = 100\nrate = 0.1\nlimit: Optional[int] = None"


def _bounded(path: Path, bounds: object, meta: dict | None = None) -> Path:
    return _notebook(path, BOUNDED, meta={"parameter_bounds": bounds, **(meta or {})})


def test_values_outside_the_declared_bounds_are_refused_before_any_kernel(tmp_path):
    nb = _bounded(tmp_path / "b.ipynb", {"n_boot": [1, None], "rate": [0, 1], "limit": [None, 10]})
    declared = declared_parameters(nb)
    assert declared["n_boot"].bounds == (1, None) and declared["rate"].bounds == (0, 1)
    job = plan_reports([nb], tmp_path, parameters={"n_boot": CommandLineValue("1"), "rate": 1, "limit": None})[0]
    assert job.parameters == {"n_boot": 1, "rate": 1.0, "limit": None}  # inclusive bounds; None is not bounded
    cases = {
        "n_boot": (
            CommandLineValue("0"),
            "must be at least 1 (bsc.parameter_bounds in the notebook's metadata), got 0",
        ),
        "rate": (
            CommandLineValue("1.5"),
            "must be between 0 and 1 (bsc.parameter_bounds in the notebook's metadata), got 1.5",
        ),
        "limit": (11, "must be at most 10 (bsc.parameter_bounds in the notebook's metadata), got 11"),
    }
    for name, (value, words) in cases.items():
        with pytest.raises(ParameterError) as err:
            plan_reports([nb], tmp_path, parameters={name: value})
        assert str(err.value) == f"parameter '{name}' of b.ipynb: {words}"
    _bounded(nb, {"n_boot": [1, None]}, meta={"variants": {"quick": {"n_boot": 0}}})
    with pytest.raises(
        ParameterError, match=r"'n_boot' of b.ipynb \(variant 'quick' in the notebook's metadata\): must be at least 1"
    ):
        plan_reports([nb], tmp_path)  # a variant is checked too


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"n_bot": [1, None]}, "names 'n_bot', which the parameters cell does not declare; did you mean 'n_boot'?"),
        ({"n_boot": [1]}, "the bounds of 'n_boot' must be [low, high]"),
        ({"n_boot": [5, 1]}, "low <= high, got [5, 1]"),
        ({"n_boot": ["1", None]}, "finite numbers or null"),
        ({"n_boot": [True, None]}, "finite numbers or null"),
        ({"n_boot": [1000, None]}, "the default n_boot = 100 is not at least 1000"),
        (["n_boot"], "must map parameter names to [low, high]"),
    ],
)
def test_malformed_bounds_are_an_error_naming_the_notebook(tmp_path, bounds, message):
    nb = _bounded(tmp_path / "b.ipynb", bounds)
    with pytest.raises(ReportError) as err:
        declared_parameters(nb)
    assert f"'{nb}': bsc.parameter_bounds in the notebook's metadata" in str(err.value)
    assert message in str(err.value)


def test_cli_counts_of_zero_stop_the_run_naming_parameter_notebook_bound_and_value(tmp_path, no_kernel):
    args = ["report", "--notebooks-dir", str(NOTEBOOKS), "--out", str(tmp_path)]
    res = CliRunner().invoke(app, [*args, "-p", "n_boot", "0", "-p", "horizon_periods", "0"])
    assert res.exit_code == 1 and "no report was run" in res.output and "Traceback" not in res.output
    assert re.search(r"parameter '(n_boot|horizon_periods)' of \w+\.ipynb: must be at least 1 .*got 0", res.output)
    res = CliRunner().invoke(app, [*args, "-p", "discount_rate_monthly", "1.2"])
    assert res.exit_code == 1
    assert "parameter 'discount_rate_monthly' of customer_value.ipynb: must be between 0 and 1" in res.output
    assert "got 1.2" in res.output


# ------------------------------------------------------------------ --mask-ids and data warnings
@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Stand-ins for load_dataset (accepting mask_ids, with warnings) and run_reports (recording)."""
    seen: dict = {}

    def load_dataset(path=None, mask_ids=False):
        seen["load"] = (path, mask_ids, os.environ.get("BSC_MASK_KEY"))
        return SimpleNamespace(warnings=("3 customer ids appear twice",))

    def run(jobs, out_dir, hide_code, data, cell_timeout, **options):
        seen["jobs"] = {j.name: j.parameters for j in jobs}
        seen["key"] = os.environ.get("BSC_MASK_KEY")
        seen["cell_timeout"] = cell_timeout
        seen["options"] = options
        return [ReportResult(j, None, 0.0, not_applicable="stand-in") for j in jobs]

    monkeypatch.setattr(data_io, "load_dataset", load_dataset)
    monkeypatch.setattr(report_cache, "_not_applicable", lambda data, reports: {})  # the stand-in data have no tables
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
    assert res.exit_code == 0 and "mask_ids" not in recorded["jobs"]["kpis"] and recorded["load"][1] is None
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


def test_mask_ids_masks_the_data_set_loaded_before_the_kernels(tmp_path, small_data_dir, monkeypatch):
    """The real load_dataset: --mask-ids gives pseudonyms, without it the description decides (ids as they are)."""
    monkeypatch.delenv("BSC_MASK_KEY", raising=False)
    seen: dict = {}
    real_load = data_io.load_dataset

    def load(path=None, mask_ids=None):
        data = real_load(path, mask_ids=mask_ids)
        seen["ids"] = data.customers["customer_id"].astype(str).tolist()
        return data

    def run(jobs, out_dir, hide_code, data, cell_timeout, **options):
        return [ReportResult(j, None, 0.0, not_applicable="stand-in") for j in jobs]

    monkeypatch.setattr(data_io, "load_dataset", load)
    monkeypatch.setattr(report_module, "run_reports", run)
    suite = _mask_suite(tmp_path / "nbs")
    args = ["report", "--notebooks-dir", str(suite), "--data-dir", str(small_data_dir), "--out", str(tmp_path / "o")]
    raw = sorted(pd.read_csv(small_data_dir / "customers.csv")["customer_id"].astype(str))
    res = CliRunner().invoke(app, [*args, "--mask-ids"])
    assert res.exit_code == 0, res.output
    assert len(seen["ids"]) == len(raw) and all(re.fullmatch(r"C-[0-9a-f]{10}", i) for i in seen["ids"])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert sorted(seen["ids"]) == raw


def test_cell_timeout_goes_to_the_run_and_must_be_positive(tmp_path, recorded):
    suite = _mask_suite(tmp_path / "nbs")
    args = ["report", "--notebooks-dir", str(suite), "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")]
    assert CliRunner().invoke(app, args).exit_code == 0 and recorded["cell_timeout"] == 600  # the default
    res = CliRunner().invoke(app, [*args, "--cell-timeout", "45"])
    assert res.exit_code == 0 and recorded["cell_timeout"] == 45
    recorded.clear()
    res = CliRunner().invoke(app, [*args, "--cell-timeout", "0"])
    assert res.exit_code == 2 and "--cell-timeout" in res.output and not recorded  # refused by the option parser


# ------------------------------------------------------------------ sections that could not be computed
def test_section_errors_are_read_from_the_markers_of_a_page(capsys, monkeypatch):
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: print(obj.data))
    features = dict.fromkeys(REQUIREMENTS, True)  # the data have everything: nothing is read from a data set
    with report_section(None, "customer_kpis", "overview", features) as ok:
        assert ok
        raise ValueError("horizon_periods must be at least 1")
    with report_section(None, "customer_kpis", "overview", features):
        pass  # a later cell of the same section that renders does not hide the failure
    with report_section(None, "customer_kpis", "csat", features):
        pass
    with report_section(None, "customer_kpis", "profitability", features) as ok:
        raise KeyError("revenue_usd")
    page = capsys.readouterr().out
    assert section_errors(page) == ("customer_kpis.overview", "customer_kpis.profitability")
    assert section_errors("<p>a notebook without report_section</p>") == ()


def _partial_results(suite: Path, out: Path) -> list[ReportResult]:
    jobs = {j.name: j for j in plan_reports(notebooks_dir=suite)}
    return [
        ReportResult(jobs["kpis"], out / "kpis.html", 1.0, section_errors=("kpis.nps", "kpis.csat")),
        ReportResult(jobs["value"], out / "value.html", 2.0),
        ReportResult(jobs["lesson"], None, 0.0, not_applicable="stand-in"),
    ]


def test_cli_lists_reports_with_section_errors_and_exits_1(tmp_path, monkeypatch):
    suite = _mask_suite(tmp_path / "nbs")
    out = tmp_path / "out"
    results = _partial_results(suite, out)
    monkeypatch.setattr(data_io, "load_dataset", lambda path, mask_ids: SimpleNamespace(warnings=()))
    monkeypatch.setattr(report_cache, "_not_applicable", lambda data, reports: {})
    monkeypatch.setattr(report_module, "run_reports", lambda jobs, **kwargs: results)
    res = CliRunner().invoke(app, ["report", "--notebooks-dir", str(suite), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert re.search(r"^ok\*     kpis +1\.0 s", res.stdout, re.M) and re.search(r"^ok      value ", res.stdout, re.M)
    assert "        written, but 2 sections could not be computed: kpis.nps, kpis.csat\n" in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last == (
        "error: 1 of 3 report(s) written with sections that could not be computed: kpis (2)"
    )  # one line a nightly job can log
    assert "Traceback" not in res.output

    failed = ReportResult(results[1].job, None, 3.0, "notebook 'value.ipynb' failed: cell 4: ValueError: boom")
    monkeypatch.setattr(report_module, "run_reports", lambda jobs, **kwargs: [results[0], failed, results[2]])
    res = CliRunner().invoke(app, ["report", "--notebooks-dir", str(suite), "--out", str(out)])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1] == (
        "error: 1 of 3 report(s) failed; previous versions were kept; "
        "1 of 3 report(s) written with sections that could not be computed: kpis (2)"
    )

    complete = [results[1], results[2]]
    monkeypatch.setattr(report_module, "run_reports", lambda jobs, **kwargs: complete)
    res = CliRunner().invoke(app, ["report", "--notebooks-dir", str(suite), "--out", str(out)])
    assert res.exit_code == 0 and "error" not in res.output and "ok*" not in res.output


def test_index_and_manifest_show_section_errors_in_words(tmp_path):
    suite = _mask_suite(tmp_path / "nbs")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("kpis", "value"):
        (out / f"{name}.html").write_text(name)
    results = _partial_results(suite, out)
    assert not results[0].complete and results[0].ok and results[1].complete
    page = build_index(out, results).read_text()
    row = next(line for line in page.splitlines() if 'href="kpis.html"' in line)
    assert '<span class="warn">written, but 2 sections could not be computed: kpis.nps, kpis.csat</span>' in row
    assert '<span class="ok">ok</span>' in next(line for line in page.splitlines() if 'href="value.html"' in line)
    manifest = {e["name"]: e for e in json.loads((out / "manifest.json").read_text())}
    assert manifest["kpis"]["section_errors"] == ["kpis.nps", "kpis.csat"] and "section_errors" not in manifest["value"]

    failed = ReportResult(results[0].job, None, 1.0, "notebook 'kpis.ipynb' failed: boom")
    page = build_index(out, [failed]).read_text()  # the previous report stays, with its sections in words
    row = next(line for line in page.splitlines() if 'href="kpis.html"' in line)
    assert "(showing the previous report, written, but 2 sections could not be computed: kpis.nps, kpis.csat)" in row

    page = build_index(out, [ReportResult(results[0].job, out / "kpis.html", 1.0)]).read_text()
    assert '<span class="ok">ok</span>' in next(line for line in page.splitlines() if 'href="kpis.html"' in line)
    manifest = {e["name"]: e for e in json.loads((out / "manifest.json").read_text())}
    assert "section_errors" not in manifest["kpis"]  # a complete run clears them


SECTION_ERROR = """\
from bsc_toolkit.capabilities import REQUIREMENTS, report_section

features = dict.fromkeys(REQUIREMENTS, True)
with report_section(None, "customer_kpis", "overview", features) as ok:
    if ok:
        raise ValueError(f"horizon_periods must be at least 1, got {horizon_periods}")
with report_section(None, "customer_kpis", "csat", features) as ok:
    if ok:
        print("the csat section rendered")
"""


@pytest.mark.slow
def test_cli_writes_a_report_with_a_failed_section_and_exits_1(tmp_path):
    nb = _notebook(tmp_path / "nbs" / "partial.ipynb", "horizon_periods = 0", SECTION_ERROR)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["report", "--notebooks-dir", str(nb.parent), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert re.search(r"^ok\*     partial ", res.stdout, re.M)
    assert "written, but 1 section could not be computed: customer_kpis.overview" in res.stderr
    assert res.stderr.strip().splitlines()[-1] == (
        "error: 1 of 1 report(s) written with sections that could not be computed: partial (1)"
    )
    page = (out / "partial.html").read_text()  # written: its other sections are useful
    assert "the csat section rendered" in page and "horizon_periods must be at least 1, got 0" in page
    assert "written, but 1 section could not be computed: customer_kpis.overview" in (out / "index.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest[0]["section_errors"] == ["customer_kpis.overview"]


@pytest.mark.slow
def test_cell_timeout_fails_a_slow_notebook_and_keeps_its_previous_report(tmp_path):
    nb = _notebook(tmp_path / "nbs" / "sleepy.ipynb", "seconds = 60", "import time\ntime.sleep(seconds)")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sleepy.html").write_text("<p>previous</p>")
    t0 = time.monotonic()
    results = run_reports(plan_reports([nb], nb.parent), out_dir=out, progress=False, cell_timeout=1)
    assert time.monotonic() - t0 < 30  # not the 60 s of the cell
    assert not results[0].ok, results
    assert "a cell ran longer than the cell timeout of 1 s (the cell starting 'import time')" in results[0].error
    assert "--cell-timeout SECONDS allows more" in results[0].error
    assert (out / "sleepy.html").read_text() == "<p>previous</p>"


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


def test_a_report_that_cannot_be_made_says_which_notebook_and_why(tmp_path):
    out = tmp_path / "out"
    job = ReportJob(tmp_path / "a.ipynb", "a", "A")
    remote = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("![logo](https://example.com/logo.png)")])
    with pytest.raises(ReportError) as caught:
        _write_html(job, remote, out, hide_code=True)
    assert re.fullmatch(
        rf"notebook '{re.escape(str(job.notebook))}' ran but its report could not be made: the report would load "
        r"1 resource\(s\) from outside the page \('https://example.com/logo.png'\); reports must be self-contained: .*",
        str(caught.value),
    )
    assert not out.exists() or not list(out.iterdir())  # nothing written


def test_tables_that_cannot_be_written_leave_the_previous_report_and_tables(tmp_path, monkeypatch):
    from bsc_toolkit import report_html

    out = tmp_path / "out"
    job = ReportJob(tmp_path / "a.ipynb", "a", "A")
    _write_html(job, nbformat.v4.new_notebook(), out, hide_code=True)
    before = (out / "a.html").read_bytes(), (out / "a" / "tables.json").read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_html, "write_tables", full_disk)
    with pytest.raises(ReportError, match=r"ran but its tables could not be written: No space left on device"):
        _write_html(job, nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# new")]), out, True)
    assert ((out / "a.html").read_bytes(), (out / "a" / "tables.json").read_bytes()) == before
    assert sorted(p.name for p in out.iterdir()) == ["a", "a.html"]  # no staging folder left


def test_run_reports_raises_index_error_with_the_results_and_restores_signal_handlers(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def mine(signum, frame):  # a handler of the calling program
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    # the SIGINT handler found before the run (Python's default, or e.g. the one a Spark session in this
    # process installed: the engine tests start one)
    sigint_before = signal.getsignal(signal.SIGINT)
    try:
        out = tmp_path / "out"
        (out / "index.html").mkdir(parents=True)
        with pytest.raises(ReportIndexError, match="cannot write the report index") as err:
            run_reports([], out_dir=out, progress=False)
        assert err.value.results == []
        assert signal.getsignal(signal.SIGTERM) is mine  # restored after the run
        assert signal.getsignal(signal.SIGINT) is sigint_before
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
    with pytest.raises(
        ReportError, match=r"report 'card': scorecard '.*latin.yaml' cannot be used: .*latin.yaml: it is not UTF-8 text"
    ):
        check_scorecards([job])


# ------------------------------------------------------------------ signals
QUICK = "print('quick report')"
SLOW = "import os, pathlib\npathlib.Path(mark + '.{name}').write_text(str(os.getpid()))\nimport time; time.sleep(120)"


def _start(root: Path, data_dir: Path) -> tuple[subprocess.Popen, dict, dict]:
    """`bsc report --jobs 2` on a quick and two slow notebooks, with its own TMPDIR and JUPYTER_RUNTIME_DIR.

    The quick one runs beside the first slow one, then the second slow one starts: a signal sent once
    both slow kernels have written their pid finds two kernels running and one report finished.
    """
    nbs = root / "nbs"
    _notebook(nbs / "a_quick.ipynb", "data_dir = None", QUICK)
    for name in ("b_slow", "c_slow"):
        _notebook(nbs / f"{name}.ipynb", 'data_dir = None\nmark = ""', SLOW.format(name=name))
    dirs = {name: root / name for name in ("tmp", "runtime", "out")}
    dirs["tmp"].mkdir()
    dirs["runtime"].mkdir()
    dirs["out"].mkdir()
    for name in ("b_slow", "c_slow"):
        (dirs["out"] / f"{name}.html").write_text(f"<p>the previous {name} report</p>")
    mark = root / "kernel.pid"
    marks = {name: Path(f"{mark}.{name}") for name in ("b_slow", "c_slow")}
    env = dict(os.environ, TMPDIR=str(dirs["tmp"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]))
    command = [sys.executable, "-m", "bsc_toolkit.cli", "report", "--notebooks-dir", str(nbs), "--jobs", "2"]
    command += ["--data-dir", str(data_dir), "--out", str(dirs["out"]), "-p", "mark", str(mark)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, marks, dirs


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie is not running


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="checks kernel processes through /proc")
def test_sigint_and_sigterm_stop_every_kernel_clean_up_and_rebuild_the_index(tmp_path, small_data_dir):
    runs = {sig: _start(tmp_path / sig.name, small_data_dir) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sig, (process, marks, dirs) in runs.items():
            deadline = time.monotonic() + 180
            quick = dirs["out"] / "a_quick.html"
            while not (all(m.exists() and m.read_text() for m in marks.values()) and quick.exists()):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the slow notebooks never started"
                time.sleep(0.1)
            kernels = {int(m.read_text()) for m in marks.values()}
            assert len(kernels) == 2 and all(_running(k) for k in kernels)  # two kernels running at once
            process.send_signal(sig)
        for sig, (process, marks, dirs) in runs.items():
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], stderr
            expected = f"interrupted ({sig.name}): 1 of 3 reports finished; index rebuilt at {dirs['out']}/index.html"
            assert expected in stderr.splitlines(), stderr[-2000:]
            assert "Traceback" not in stderr
            for kernel in (int(m.read_text()) for m in marks.values()):
                deadline = time.monotonic() + 5
                while _running(kernel):
                    assert time.monotonic() < deadline, f"kernel {kernel} still running after {sig.name}"
                    time.sleep(0.1)
            left = [p for p in dirs["tmp"].rglob("*")] + [p for p in dirs["runtime"].rglob("*")]
            assert not left, left  # no bsc-report-* folder, no kernel connection file (kernel-*.json, tmp*.json)
            out = dirs["out"]
            assert sorted(p.name for p in out.iterdir()) == [
                ".cache",  # the execution cache: the finished report and the data checks
                "a_quick",  # its key tables
                "a_quick.html",
                "b_slow.html",
                "c_slow.html",
                "index.html",
                "manifest.json",
            ]
            assert sorted(p.name for p in (out / ".cache").iterdir() if not p.name.startswith("validation-")) == [
                "a_quick.json"
            ]
            assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.tmp"))  # no half-written file
            for name in ("b_slow", "c_slow"):  # never half-written
                assert (out / f"{name}.html").read_text() == f"<p>the previous {name} report</p>"
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


# -- a kernel that dies before it starts -------------------------------------------------------------
def _flaky_kernel_start(monkeypatch, failures: int) -> list[int]:
    """Make papermill's first ``failures`` runs die as a kernel that never answered kernel_info."""
    import papermill

    real = papermill.execute_notebook
    calls: list[int] = []

    def execute(*args, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    return calls


@pytest.mark.slow
def test_a_kernel_that_died_before_starting_is_replaced(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "nb" / "tiny.ipynb", "x = 1", "print('value', x * 2)")
    job = plan_reports([nb], notebooks_dir=nb.parent)[0]
    calls = _flaky_kernel_start(monkeypatch, failures=2)
    results = run_reports([job], out_dir=tmp_path / "out", progress=False)
    assert results[0].ok, results[0].error
    assert len(calls) == 3 and "value 2" in (tmp_path / "out" / "tiny.html").read_text()


def test_a_kernel_that_never_starts_fails_the_report_with_the_cause(tmp_path, monkeypatch):
    from bsc_toolkit.report_run import KERNEL_START_RETRIES

    nb = _notebook(tmp_path / "nb" / "tiny.ipynb", "x = 1")
    job = plan_reports([nb], notebooks_dir=nb.parent)[0]
    calls = _flaky_kernel_start(monkeypatch, failures=99)
    results = run_reports([job], out_dir=tmp_path / "out", progress=False)
    assert not results[0].ok and "Kernel died before replying to kernel_info" in results[0].error
    assert len(calls) == 1 + KERNEL_START_RETRIES  # retried, then the cause is reported
