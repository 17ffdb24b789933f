"""The two real-data case studies in examples/, end to end, against figures computed here from the raw files.

The data are not in the repository: they are read from ``../shared/data`` (the examples' ``root``)
or ``$BSC_DATA_ROOT``; the tests skip, saying why, when they are absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from bsc_toolkit.capabilities import capability_table
from bsc_toolkit.data.description import load_description
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.report import plan_reports, run_reports
from tests.test_shapes import REPORTS, check_report, expected_sections

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _example(name: str) -> Path:
    folder = EXAMPLES / name
    description = load_description(folder)
    missing = [t for t in description.tables if not description.table_path(t).is_file()]
    if missing:
        pytest.skip(
            f"the {name} data are not here ({description.table_path(missing[0])}); see examples/{name}/README.md"
        )
    return folder


def _run(folder: Path, out: Path) -> tuple[dict[str, str], dict]:
    data = load_dataset(folder)
    jobs = plan_reports(
        [ROOT / "notebooks" / f"{r}.ipynb" for r in REPORTS],
        notebooks_dir=ROOT / "notebooks",
        parameters={"data_dir": str(folder), "n_boot": 200},
        variants=False,
    )
    results = run_reports(jobs, out_dir=out, progress=False, data=data)
    failed = [f"{r.job.name}: {r.error}" for r in results if not r.ok]
    assert not failed, failed
    expected, not_applicable = expected_sections(folder)
    problems = []
    pages = {}
    for res in results:
        if res.not_applicable is not None:
            assert res.job.name in not_applicable, f"{res.job.name} skipped but the data support it"
            continue
        page = res.html_path.read_text()
        pages[res.job.name] = page
        problems += check_report(res.job.name, page, None, expected[res.job.name])
    assert not problems, "\n".join(problems)
    manifest = {e["name"]: e for e in json.loads((out / "manifest.json").read_text())}
    assert not any(e.get("error") for e in manifest.values())
    return pages, manifest


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.mark.slow
def test_bank_churn_case_study(tmp_path: Path) -> None:
    folder = _example("bank_churn")
    raw = pd.read_csv(load_description(folder).table_path("customers"), encoding="utf-8-sig")
    churned, n = int(raw["Exited"].sum()), len(raw)
    assert (churned, n) == (2038, 10000)
    csat = raw["Satisfaction Score"]
    pages, manifest = _run(folder, tmp_path)
    value = _text(pages["customer_value"])  # subscribers: churn flag + tenure in years -> the sBG
    assert "Model: sBG" in value and "a churn flag and each customer's tenure" in value
    stayed_0 = int(((raw["Tenure"] == 0) & (raw["Exited"] == 0)).sum())  # no renewal observed: left out
    # leavers in year 11, which no stayer has completed (the longest stayer's tenure is 10), are censored, not churns
    beyond = int(((raw["Exited"] == 1) & (raw["Tenure"] >= raw.loc[raw["Exited"] == 0, "Tenure"].max())).sum())
    counted = churned - beyond
    assert f"{n - stayed_0:,} subscribers" in value and f"{counted:,} left at the end of a completed year" in value
    assert f"{beyond:,} customers left during year 11, which no customer who stayed has completed" in value
    assert "overstated for the long-tenure customers" in value  # retention falls with tenure: the sBG cannot follow
    assert "no evidence of an effect" in value  # csat does not move churn here (as the retention report finds)
    kpis = _text(pages["customer_kpis"])
    assert f"{churned / n:.1%}" in kpis and f"{churned:,}" in kpis  # 20.4%, 2,038 of 10,000
    assert f"{csat.mean():.2f}" in kpis  # CSAT mean on its own 1-5 scale, not rescaled
    assert f"{(csat >= 4).mean():.1%}" in kpis  # top-2-box of 1-5 is 4-5
    assert "Surname" not in " ".join(pages.values())  # unmapped personal columns never reach a report
    retention = _text(pages["satisfaction_retention_value"])
    assert "per scale point (1-5)" in retention or "(1-5)" in retention
    # the score does not separate churners here: the report says there is no evidence of a link
    assert "no evidence of a link between satisfaction and churn" in retention


@pytest.mark.slow
def test_online_retail_case_study(tmp_path: Path) -> None:
    folder = _example("online_retail")
    raw = pd.read_parquet(load_description(folder).table_path("transactions"))
    known = raw[raw["CustomerID"].notna()]
    q4 = known[known["InvoiceDate"].dt.to_period("Q") == pd.Period("2011Q4")]
    revenue_q4 = (q4["Quantity"] * q4["UnitPrice"]).sum()
    pages, manifest = _run(folder, tmp_path)
    for report in ("satisfaction_retention_value", "service_profit_chain"):
        assert "overall satisfaction ratings" in manifest[report]["not_applicable"]
    kpis = _text(pages["customer_kpis"])
    assert f"{revenue_q4:,.0f}" in kpis and "GBP" in kpis and "USD" not in kpis
    assert f"{raw['CustomerID'].isna().sum():,}" in kpis  # lines without a customer id, counted
    table = capability_table(load_dataset(folder)).set_index(["report", "section"])
    assert table.loc[("customer_value", "clv"), "supported"]
    value = _text(pages["customer_value"])
    # at weekly resolution the likelihood runs to the no-dropout boundary: the limiting NBD model is fitted, said
    assert "Model: BG/NBD" in value and "NBD (no drop-out)" in value and "no-dropout boundary" in value
    assert "Total 12-month CLV" in value and "CLV withheld" not in value
