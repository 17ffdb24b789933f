"""No user-supplied string reaches a report as live HTML (stored script injection).

The hostile strings go into every free-text field of a scorecard YAML, the category labels of the
data, the data folder's name and the ``title`` parameter; and, in a second data set, into every
free-text field of its ``dataset.yaml`` (name, root, file and sheet names, the files' column names,
computed columns, kept columns, missing-value markers, driver and rating labels) and the data's own
text (customer ids, categories, kept values, order ids). Every report that reads user data is
rendered, and none may contain a payload unescaped.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.formatting import escape_markdown, markdown_code
from bsc_toolkit.report import plan_reports, run_reports
from bsc_toolkit.scorecard import default_scorecard_path, load_scorecard

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = '<script>alert("bsc-xss")</script>'
IMG = "<img src=x onerror=alert(2)>"
LINK = "[x](javascript:alert(3))"  # a Markdown link, live if the text reaches Markdown unescaped
# Free-text fields of the scorecard schema (ids and KPI names are validated identifiers).
TEXT_FIELDS = {"name", "description", "title", "owner", "unit", "initiatives"}
USER_NOTEBOOKS = [
    "customer_kpis",
    "scorecard",
    "customer_value",
    "satisfaction_retention_value",
    "service_profit_chain",
]


def _poison(node: object) -> object:
    """Every free-text value of a scorecard definition replaced by a payload."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in TEXT_FIELDS:
                out[key] = [SCRIPT, IMG, LINK] if key == "initiatives" else f"{SCRIPT} {key} {IMG} {LINK}"
            else:
                out[key] = _poison(value)
        return out
    if isinstance(node, list):
        return [_poison(v) for v in node]
    return node


# A payload that reaches a page as markup. nbconvert rewrites the HTML of Markdown and HTML outputs (an ``<img>``
# comes out as ``<img alt="..." onerror="alert(2)" src="x"/>``), so the patterns match the element
# and its attribute in any form, not the payload's spelling.
_LIVE = re.compile(
    r"<script\b[^>]*>\s*alert|<img\b[^>]*\sonerror\s*=|\shref\s*=\s*[\"']?\s*javascript:", flags=re.IGNORECASE
)


def _live_payloads(page: str) -> list[str]:
    """Payloads that appear as markup (not as escaped text) in an HTML page."""
    return _LIVE.findall(page)


def _shown_text(page: str) -> str:
    """The text of an HTML page as a reader sees it (tags dropped, character references decoded)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


#: Toolkit driver name -> the simulator's column it is read from (declared drivers, not the default four).
HOSTILE_DRIVERS = {"wait_time": "time", "product_quality": "quality", "staff_service": "service", "value": "cost"}


def _hostile(text: str, payload: str = IMG) -> str:
    return f"{text} {payload}"


def _hostile_dataset(folder: Path) -> tuple[Path, dict[str, str]]:
    """A simulated data set whose ``dataset.yaml`` and files carry payloads in every free-text field.

    Returns the folder holding ``dataset.yaml`` and the hostile texts the reports should show
    (as text): the data set's name, a driver label, a kept column's name, a customer id prefix and
    a file name.
    """
    sim = simulate(n_customers=1200, seed=5)
    tables = folder / _hostile("tables")  # the description's `root`
    tables.mkdir(parents=True)
    ids = {i: f"{IMG}{i:05d}" for i in sim.customers["customer_id"]}  # text ids (id_type: str)

    kept_text, kept_number = _hostile("Note", SCRIPT), _hostile("Score")
    customer_cols = {
        "customer_id": _hostile("Kunde", SCRIPT),
        "segment": _hostile("Segment"),
        "region": _hostile("Region", SCRIPT),
        "channel": _hostile("Channel"),
        "acquired_at": _hostile("Since", SCRIPT),
        "churned_at": _hostile("Left"),
    }
    customers = sim.customers.assign(
        customer_id=sim.customers["customer_id"].map(ids),
        segment=sim.customers["segment"] + f" {SCRIPT}",
        note=np.where(np.arange(len(sim.customers)) % 2, SCRIPT, f"{IMG} {LINK}"),
        score=np.arange(len(sim.customers)) % 7,
    ).rename(columns={**customer_cols, "note": kept_text, "score": kept_number})

    missing = _hostile("missing", SCRIPT)  # a declared missing-value marker
    survey_cols = {
        "customer_id": _hostile("Kunde"),
        "surveyed_at": _hostile("Date", SCRIPT),
        "csat": _hostile("Overall", SCRIPT),
        "nps": _hostile("Recommend"),
        **{name: _hostile(f"Q {name}", SCRIPT) for name in HOSTILE_DRIVERS},
    }
    surveys = sim.surveys.assign(customer_id=sim.surveys["customer_id"].map(ids))
    surveys = surveys.rename(columns={sim_col: name for name, sim_col in HOSTILE_DRIVERS.items()})
    surveys["nps"] = surveys["nps"].astype(object).where(np.arange(len(surveys)) % 20 > 0, missing)
    surveys = surveys.rename(columns=survey_cols)

    tx = sim.transactions
    quantity, price = _hostile("Qty", SCRIPT), _hostile("Price")
    transactions = pd.DataFrame(
        {
            _hostile("Buyer", SCRIPT): tx["customer_id"].map(ids).where(tx.index >= 3),  # 3 rows without id: a note
            _hostile("When"): tx["ordered_at"],
            quantity: 2,
            price: tx["revenue_usd"] / 2,
            _hostile("Cost", SCRIPT): tx["cost_usd"],
            _hostile("Invoice"): [f"{SCRIPT}{i}" for i in range(len(tx))],
        }
    )
    files = {t: _hostile(t) + suffix for t, suffix in [("customers", ".xlsx"), ("surveys", ".csv"), ("orders", ".csv")]}
    customers.to_excel(tables / files["customers"], index=False, sheet_name=IMG)
    surveys.to_csv(tables / files["surveys"], index=False)
    transactions.to_csv(tables / files["orders"], index=False)

    name = f"Shop {SCRIPT} {IMG} {LINK}"
    labels = [_hostile(n, SCRIPT if i % 2 == 0 else f"{IMG} {LINK}") for i, n in enumerate(HOSTILE_DRIVERS)]
    description = {
        "name": name,
        "root": tables.name,
        "currency": "EUR",  # validated as a code: no free text
        "id_type": "str",
        "read": {"na_values": ["", "NA", missing]},
        "tables": {
            "customers": {
                "path": files["customers"],
                "columns": customer_cols,
                "keep": [kept_text, kept_number],
                "read": {"sheet": IMG},
            },
            "surveys": {"path": files["surveys"], "columns": survey_cols},
            "transactions": {
                "path": files["orders"],
                "columns": {
                    "customer_id": _hostile("Buyer", SCRIPT),
                    "ordered_at": _hostile("When"),
                    "revenue": {"product": [quantity, price]},
                    "cost": _hostile("Cost", SCRIPT),
                    "order_id": _hostile("Invoice"),
                },
            },
        },
        "ratings": {"csat": {"scale": [1, 10], "top_box": 2, "label": _hostile("Overall satisfaction", SCRIPT)}},
        "drivers": [{"name": n, "label": label} for n, label in zip(HOSTILE_DRIVERS, labels)],
    }
    (folder / "dataset.yaml").write_text(yaml.safe_dump(description, sort_keys=False), encoding="utf-8")
    shown = {"name": name, "driver label": labels[0], "kept column": kept_text, "customer id": f"{IMG}0"}
    shown["file name"] = files["orders"]
    return folder, shown


@pytest.mark.parametrize("text", [SCRIPT, IMG, "[x](javascript:alert(1))", "*a* _b_ `c` # d\n# e", "a\\b & c"])
def test_markdown_escape_renders_the_original_text(text):
    from nbconvert.filters.markdown import markdown2html

    rendered = markdown2html(f"## Title {escape_markdown(text)}\n\nData: {markdown_code(text)}.")
    assert not _live_payloads(rendered)
    assert "<a " not in rendered.replace('<a class="anchor-link"', "")  # no link was created
    assert "<em>" not in rendered and "<h1" not in rendered
    shown = html.unescape(re.sub(r"<[^>]+>", "", rendered))  # the text a reader sees
    assert shown.count(" ".join(text.splitlines())) == 2


@pytest.mark.slow
def test_no_user_string_reaches_a_report_unescaped(tmp_path):
    sim = simulate(n_customers=1200, seed=5)
    labels = {}
    for column in ("segment", "region", "channel"):
        values = sorted(sim.customers[column].dropna().unique())
        labels[column] = {v: f"{v} {SCRIPT}" if i == 0 else f"{v} {IMG}" for i, v in enumerate(values)}
        sim.customers[column] = sim.customers[column].map(labels[column])
    data_dir = sim.to_dir(tmp_path / f"data {IMG}")

    spec = yaml.safe_load(default_scorecard_path().read_text())
    scorecard = tmp_path / "hostile.yaml"
    scorecard.write_text(yaml.safe_dump(_poison(spec)))
    load_scorecard(scorecard)  # still a valid scorecard: only text changed

    notebooks = [ROOT / "notebooks" / f"{name}.ipynb" for name in USER_NOTEBOOKS]
    params = {
        "data_dir": str(data_dir),
        "scorecard_path": str(scorecard),
        "title": f"Report {SCRIPT}",
        "n_boot": 50,
        "n_sims": 50,
        "estimate_links": False,
    }
    jobs = plan_reports(notebooks, notebooks_dir=ROOT / "notebooks", parameters=params)
    out = tmp_path / "reports"
    results = run_reports(jobs, out_dir=out, progress=False)
    assert all(r.ok for r in results), [r.error for r in results]

    pages = {p.name: p.read_text() for p in out.glob("*.html")}
    assert set(pages) >= {f"{name}.html" for name in USER_NOTEBOOKS} | {"index.html"}
    for name, page in pages.items():
        assert not _live_payloads(page), f"{name}: user text rendered as markup"
    # the hostile text did reach the reports, as text
    for name in USER_NOTEBOOKS:
        assert "&lt;script&gt;alert(" in pages[f"{name}.html"], f"{name}: title not shown"
    assert "&lt;img src=x onerror=alert(2)&gt;" in pages["customer_kpis.html"]  # the data folder's name
    assert pages["scorecard.html"].count("&lt;script&gt;alert(") > 10  # names, owners, initiatives, units


@pytest.mark.slow
def test_no_dataset_description_or_data_text_reaches_a_report_unescaped(tmp_path):
    """Every free-text field of dataset.yaml and the data's text, through all five data reports."""
    from bsc_toolkit.capabilities import section_markers
    from bsc_toolkit.data.io import load_dataset

    data_dir, shown = _hostile_dataset(tmp_path / _hostile("shop"))
    data = load_dataset(data_dir)  # loads: only text changed
    assert data.name == shown["name"] and data.driver_labels["wait_time"] == shown["driver label"]
    assert data.surveys["nps"].isna().sum() > 0  # the hostile missing-value marker was read as missing

    segment = sorted(data.customers["segment"].unique())[-1]  # not the reference level
    notebooks = [ROOT / "notebooks" / f"{name}.ipynb" for name in USER_NOTEBOOKS]
    params = {
        "data_dir": str(data_dir),
        "n_boot": 50,
        "n_sims": 50,
        "estimate_links": False,
        "segment_col": shown["kept column"],  # KPIs broken down by a kept column: hostile name and values
        "segment": segment,  # the what-if for one (hostile) segment
        "driver": "wait_time",  # the what-if raises a declared driver (its hostile label is shown)
    }
    jobs = plan_reports(notebooks, notebooks_dir=ROOT / "notebooks", parameters=params)
    out = tmp_path / "reports"
    results = run_reports(jobs, out_dir=out, progress=False)
    assert all(r.ok for r in results), [r.error for r in results]

    pages = {p.name: p.read_text() for p in out.glob("*.html")}
    assert set(pages) >= {f"{name}.html" for name in USER_NOTEBOOKS} | {"index.html"}
    for name, page in pages.items():
        assert not _live_payloads(page), f"{name}: user text rendered as markup"
    for name in USER_NOTEBOOKS:  # every section ran (a section that failed would hide its text)
        markers = section_markers(pages[f"{name}.html"])
        assert markers and "error" not in markers.values(), f"{name}: {markers}"
    # the hostile text did reach the reports, as text
    text = {name: _shown_text(page) for name, page in pages.items()}
    for name in USER_NOTEBOOKS:
        assert shown["name"] in text[f"{name}.html"], f"{name}: data set name not shown"
        assert shown["file name"] in text[f"{name}.html"], f"{name}: the loading note naming the file not shown"
    kpis = text["customer_kpis.html"]
    assert f"Drivers: {shown['driver label']} (1-10)" in kpis and f"{shown['driver label']} mean rating" in kpis
    assert shown["kept column"] in kpis and f"{IMG} {LINK}" in kpis  # the breakdown's column and its values
    assert text["customer_value.html"].count(shown["customer id"]) >= 10  # the top customers
    assert f"segment {segment}" in text["satisfaction_retention_value.html"]  # the what-if's segment
    assert f"C(segment)[T.{segment}]" in text["satisfaction_retention_value.html"]  # model terms
    assert _hostile("shop") in text["index.html"]  # the data folder, in the parameters column


def test_diagnostics_markdown_labels_and_escapes():
    from bsc_toolkit.formatting import diagnostics_markdown
    from bsc_toolkit.models._base import Diagnostic

    class Fitted:
        diagnostics_ = [Diagnostic("boundary", f"b ran away {SCRIPT}", "error")]

    text = diagnostics_markdown({"BG/NBD <model>": Fitted()}, [Diagnostic("dropped_rows", "3 rows", "info")])
    assert text.splitlines()[0].startswith("- **Error:** BG\\/NBD \\<model\\>: b ran away \\<script\\>")
    assert text.splitlines()[1] == "- **Info:** 3 rows"
    assert diagnostics_markdown(object(), [], empty="none") == "none"  # nothing to say


def test_diagnostics_shared_by_models_are_listed_once_with_their_labels():
    from bsc_toolkit.formatting import diagnostics_markdown
    from bsc_toolkit.models._base import Diagnostic

    same, other = Diagnostic("dropped_rows", "20 rows left out", "info"), Diagnostic("separation", "x", "error")
    text = diagnostics_markdown({"pooled": [same], "within": [same, other]})
    assert text.splitlines() == ["- **Info:** pooled, within: 20 rows left out", "- **Error:** within: x"]
