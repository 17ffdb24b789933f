"""No user-supplied string reaches a report as live HTML (stored script injection).

The hostile strings go into every free-text field of a scorecard YAML, the category labels of the
data, the data folder's name and the ``title`` parameter; every report that reads user data is
rendered, and none may contain a payload unescaped.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.formatting import escape_markdown, markdown_code
from bsc_toolkit.report import plan_reports, run_reports
from bsc_toolkit.scorecard import default_scorecard_path, load_scorecard

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = '<script>alert("bsc-xss")</script>'
IMG = "<img src=x onerror=alert(2)>"
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
                out[key] = [SCRIPT, IMG] if key == "initiatives" else f"{SCRIPT} {key} {IMG}"
            else:
                out[key] = _poison(value)
        return out
    if isinstance(node, list):
        return [_poison(v) for v in node]
    return node


def _live_payloads(page: str) -> list[str]:
    """Payloads that appear as markup (not as escaped text) in an HTML page."""
    return re.findall(r"<script>alert|<img src=x onerror", page, flags=re.IGNORECASE)


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
