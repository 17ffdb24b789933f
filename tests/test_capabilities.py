"""The capability table: what each report section needs, what a data set supports, the section guard."""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bsc_toolkit.capabilities import (
    REQUIREMENTS,
    SECTIONS,
    capability_markdown,
    capability_table,
    contractual_data,
    data_features,
    report_applicability,
    report_section,
    section_gap,
    section_markers,
)
from bsc_toolkit.cli import app
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.report import ReportJob, ReportResult, build_index
from tests.shapes import VARIANTS, make_variant

ROOT = Path(__file__).resolve().parents[1]

#: What each shape lacks (the keys of REQUIREMENTS that must be False), and nothing else.
EXPECTED_MISSING = {
    "no_nps": {"nps"},
    "no_cost": set(),
    "no_transactions": {"transactions"},
    "no_surveys": {"csat", "nps", "drivers"},
    "snapshot": {"transactions", "churn_dates", "acquisition", "dated"},
    "scale_1_5": set(),
    "scale_0_10": set(),
    "string_ids": set(),
    "other_drivers": set(),
    "monthly_billing": set(),
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shapes")
    return {name: make_variant(name, small_data_dir, root / name) for name in VARIANTS}


def test_every_requirement_is_used_and_every_section_is_unique() -> None:
    used = {need for s in SECTIONS for need in s.needs}
    assert used == set(REQUIREMENTS)
    keys = [(s.report, s.key) for s in SECTIONS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_features_of_each_shape(shapes: dict[str, Path], variant: str) -> None:
    features = data_features(load_dataset(shapes[variant]))
    assert {k for k, v in features.items() if not v} == EXPECTED_MISSING[variant]


def test_contractual_data_needs_churn_with_tenure(shapes: dict[str, Path]) -> None:
    dated = load_dataset(shapes["no_nps"])  # churn dates with acquisition dates
    assert contractual_data(dated)
    c = dated.customers
    assert not contractual_data(replace(dated, customers=c.assign(acquired_at=pd.NaT)))  # no acquisition date
    assert not contractual_data(replace(dated, customers=c.drop(columns="churned_at")))  # no churn information
    snap = load_dataset(shapes["snapshot"])  # a churn flag with each customer's tenure
    assert "churned_at" not in snap.customers.columns
    assert contractual_data(snap)
    assert not contractual_data(replace(snap, customers=snap.customers.assign(tenure_months=float("nan"))))
    assert not contractual_data(replace(snap, customers=snap.customers.drop(columns="churned")))


def test_capability_table_and_applicability(shapes: dict[str, Path]) -> None:
    snap = load_dataset(shapes["snapshot"])
    table = capability_table(snap).set_index(["report", "section"])
    assert table.loc[("satisfaction_retention_value", "churn_model"), "supported"]
    assert table.loc[("satisfaction_retention_value", "survival"), "supported"]
    assert not table.loc[("satisfaction_retention_value", "cox"), "supported"]
    assert "churn dates" in table.loc[("satisfaction_retention_value", "cox"), "needs"]
    assert report_applicability(snap, "customer_value") == []  # churn flag + tenure: subscribers (sBG)
    assert table.loc[("customer_value", "clv"), "supported"]
    assert not table.loc[("customer_value", "at_risk"), "supported"]
    assert report_applicability(snap, "service_profit_chain") == []  # drivers from one survey wave
    no_surveys = load_dataset(shapes["no_surveys"])
    assert report_applicability(no_surveys, "satisfaction_retention_value") == [REQUIREMENTS["csat"].label]
    assert report_applicability(no_surveys, "01_customer_perspective") == []  # teaching: no data needed


def test_section_gap_names_what_the_data_lack(shapes: dict[str, Path]) -> None:
    snap = data_features(load_dataset(shapes["snapshot"]))
    assert section_gap("satisfaction_retention_value", "churn_model", snap) is None
    gap = section_gap("satisfaction_retention_value", "cox", snap)
    assert gap == f"this data set lacks {REQUIREMENTS['churn_dates'].label}; {REQUIREMENTS['dated'].label}"
    no_surveys = data_features(load_dataset(shapes["no_surveys"]))
    gap = section_gap("service_profit_chain", "drivers", no_surveys)
    assert gap == f"this data set lacks {REQUIREMENTS['csat'].label}; {REQUIREMENTS['drivers'].label}"
    with pytest.raises(KeyError, match="no section satisfaction_retention_value.cocks"):
        section_gap("satisfaction_retention_value", "cocks", snap)
    with pytest.raises(KeyError, match="no section customer_value.cox"):
        report_section(load_dataset(shapes["snapshot"]), "customer_value", "cox")


def test_readme_holds_the_fixed_section_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert capability_markdown() in readme, "README's section table is out of date: paste capability_markdown()"


def test_report_section_guard_states_skips_errors_and_warnings(
    shapes: dict[str, Path], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: print(obj.data))
    data = load_dataset(shapes["no_nps"])
    with report_section(data, "customer_kpis", "nps") as ok:
        assert not ok
    out = capsys.readouterr().out
    assert "Not available for this data set" in out and "likelihood-to-recommend" in out

    with report_section(data, "customer_kpis", "csat") as ok:
        assert ok
        warnings.warn("the interval is wide <b>", UserWarning, stacklevel=1)
        warnings.warn("old keyword", FutureWarning, stacklevel=1)
        raise ZeroDivisionError("boom")
    out = capsys.readouterr().out
    assert "could not be computed" in out and "ZeroDivisionError: boom" in out.replace("\\", "")
    assert "the interval is wide \\<b\\>" in out and "old keyword" not in out  # escaped Markdown
    assert 'data-status="error"' in out

    with report_section(data, "customer_kpis", "csat") as ok:
        pass
    assert section_markers(capsys.readouterr().out) == {"customer_kpis.csat": "rendered"}
    with pytest.raises(KeyError, match="no section customer_kpis.nope"):
        report_section(data, "customer_kpis", "nope")


def test_not_applicable_reports_are_listed_not_failed(tmp_path: Path) -> None:
    job = ReportJob(Path("customer_value.ipynb"), "customer_value", "Customer value")
    build_index(tmp_path, [ReportResult(job, None, 0.0, not_applicable="a transactions table")])
    page = (tmp_path / "index.html").read_text()
    assert "not applicable: needs a transactions table" in page and "failed" not in page


def test_cli_validate_prints_the_capability_table(shapes: dict[str, Path]) -> None:
    res = CliRunner().invoke(app, ["validate", str(shapes["snapshot"])])
    assert res.exit_code == 0, res.output
    assert "transactions: none" in res.output and "valid" in res.output
    assert "satisfaction_retention_value / Churn model" in res.output
    line = next(line for line in res.output.splitlines() if line.startswith("customer_value / Revenue at risk"))
    assert " no " in line and "transactions table" in line
    line = next(line for line in res.output.splitlines() if line.startswith("customer_value / CLV"))
    assert " yes " in line
    res = CliRunner().invoke(app, ["validate", "/nonexistent/folder"])
    assert res.exit_code == 1 and "no such path: '/nonexistent/folder'" in res.output


def test_cli_report_stops_before_any_kernel_on_invalid_data(tmp_path: Path, small_data_dir: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "customers.csv").write_text("customer_id,acquired_at\n1,2024-01-01\n1,2024-02-01\n")
    res = CliRunner().invoke(app, ["report", "--data-dir", str(bad), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "the data set is not valid, no report was run" in res.output
    assert "duplicate values" in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_installed_wheel_ships_the_notebooks_and_runs_outside_a_checkout(tmp_path: Path, small_data_dir: Path) -> None:
    """`pip install` + `bsc report --data-dir DIR` from any directory (the issue: 'notebooks folder not found')."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here (no build backend from the registry?): {build.stderr[-300:]}")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), *wheels.glob("*.whl")],
        check=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PYTHONPATH": str(target),
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    where = subprocess.run(
        [sys.executable, "-c", "from bsc_toolkit.report import packaged_notebooks_dir as p; print(p())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(target)) and (Path(where) / "customer_kpis.ipynb").is_file()
    copy = subprocess.run(
        [sys.executable, "-m", "bsc_toolkit.cli", "notebooks", "mine"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert copy.returncode == 0, copy.stderr
    assert (elsewhere / "mine" / "scorecard.ipynb").is_file()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bsc_toolkit.cli",
            "report",
            str(Path(where) / "scorecard.ipynb"),
            "--data-dir",
            str(small_data_dir),
            "--out",
            "out",
            "-p",
            "estimate_links",
            "false",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (elsewhere / "out" / "scorecard.html").is_file()
