"""Self-contained HTML reports (bsc_toolkit.report_html): no CDN, math drawn, footer, key tables."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bsc_toolkit.report_html import (
    ExportedReport,
    OutputTable,
    Provenance,
    check_self_contained,
    export_report,
    extract_tables,
    looks_like_tex,
    math_html,
    provenance_footer_html,
    write_tables,
)
from bsc_toolkit.report_types import ReportError
from bsc_toolkit.tables import TABLE_MIMETYPE, table

MARKDOWN = (
    "# Report\n\n"
    "The variance is $\\mathrm{Var} = p(1-p)/n$ per period.\n\n"
    "Plans cost $5 and $10 a month.\n\n"
    "$$\\hat{p} \\pm 1.96\\,\\mathrm{SE}$$\n"
)
EVIL = "<script>x</script>"


def _png_figure() -> str:
    """A real matplotlib figure as base64 PNG (what the inline backend puts in image/png)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([1, 2, 3], [2, 1, 3])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _display(obj: object) -> dict:
    """The output IPython would record for ``display(obj)`` (its real formatter)."""
    from IPython.core.formatters import DisplayFormatter

    data, metadata = DisplayFormatter().format(obj)
    return new_output("display_data", data=data, metadata=metadata)


def _headline_output(rows: list[dict]) -> dict:
    """A headline display as headline.py's keyed mimebundle gives it (key "headline")."""
    frame = pd.DataFrame(rows)
    payload = {"key": "headline", "caption": "Headline", "table": frame.to_json(orient="table")}
    return new_output(
        "display_data", data={"text/html": "<div class='bsc-headline'>NPS</div>", TABLE_MIMETYPE: payload}
    )


def _provenance(**changes: object) -> Provenance:
    values: dict = {
        "package_version": "0.1.0",
        "source_hash": "1a2b3c4d5e6f7a8b9c0d",
        "data_hash": "9f8e7d6c5b4a39281706",
        "data_source": "data/raw & <more>",
        "notebook": "notebooks/customer_kpis.ipynb",
        "notebook_hash": "0a1b2c3d4e5f60718293",
        "parameters": {"title": EVIL, "period": "2025Q4", "freq": None},
        "started": datetime(2026, 11, 30, 7, 40, 12, tzinfo=timezone.utc),
        "seconds": 5.24,
    }
    values.update(changes)
    return Provenance(**values)


@pytest.fixture(scope="module")
def kpis() -> pd.DataFrame:
    return pd.DataFrame(
        {"period": ["2025Q3", "2025Q4"], "nps": [-21.8, -20.7], "customers": [1319, 1365]},
    )


@pytest.fixture(scope="module")
def notebook(kpis: pd.DataFrame) -> nbformat.NotebookNode:
    """An executed notebook built by hand: Markdown with math and dollars, a figure, keyed tables, a headline."""
    figure = new_output("display_data", data={"image/png": _png_figure(), "text/plain": "<Figure size 300x200>"})
    cells = [
        new_markdown_cell(MARKDOWN),
        new_code_cell("hl.show()", outputs=[_headline_output([{"label": "NPS", "value": -20.7}])]),
        new_code_cell("plot()", outputs=[figure]),
        new_code_cell("table(kpis, key='kpis')", outputs=[_display(table(kpis, key="kpis", caption="KPIs by period"))]),
        new_code_cell(
            "table(latest, key='kpis')", outputs=[_display(table(kpis.iloc[[1]].reset_index(drop=True), key="kpis"))]
        ),
    ]
    return new_notebook(cells=cells)


@pytest.fixture(scope="module")
def exported(notebook: nbformat.NotebookNode) -> ExportedReport:
    return export_report(notebook, title=f"KPIs {EVIL}", provenance=_provenance())


# ---------------------------------------------------------------------------------------------- page


def test_page_requests_nothing_from_other_hosts(exported: ExportedReport) -> None:
    assert check_self_contained(exported.html) == []
    lowered = exported.html.lower()
    for cdn in ("cdnjs", "unpkg", "mathjax", "require.min.js", "mermaid.esm", "jsdelivr"):
        assert cdn not in lowered
    assert "<script src" not in lowered and "<link " not in lowered
    assert "jp-RenderedMarkdown" in exported.html and "--jp-" in exported.html  # the lab CSS is kept, inline


def test_math_becomes_an_image_with_its_tex_as_alt(exported: ExportedReport) -> None:
    imgs = re.findall(r"<img [^>]*class=\"bsc-math\"[^>]*>", exported.html)
    alts = {html.unescape(m) for img in imgs for m in re.findall(r'alt="([^"]*)"', img)}
    assert alts == {r"\mathrm{Var} = p(1-p)/n", r"\hat{p} \pm 1.96\,\mathrm{SE}"}
    for img in imgs:
        uri = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', img).group(1)
        assert base64.b64decode(uri).lstrip().startswith(b"<?xml")
    assert "$\\mathrm" not in exported.html and "$$" not in exported.html.split("<main>")[1]


def test_currency_dollars_stay_text(exported: ExportedReport) -> None:
    assert "Plans cost $5 and $10 a month." in exported.html


def test_figures_are_embedded(exported: ExportedReport) -> None:
    assert exported.html.count('src="data:image/png;base64,') == 1


def test_footer_closes_the_page_escaped(exported: ExportedReport) -> None:
    page = exported.html
    assert page.count('<footer class="bsc-provenance">') == 1
    assert page.index("</main>") < page.index("<footer") < page.index("</body>")
    assert EVIL not in page  # not in the title, not in the footer
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "data/raw &amp; &lt;more&gt;" in page
    assert "1a2b3c4d5e6f" in page and "1a2b3c4d5e6f7" not in page
    assert "2026-11-30 07:40 UTC in 5.2 s" in page


def test_code_hidden_unless_asked(notebook: nbformat.NotebookNode) -> None:
    hidden = export_report(notebook, title="t").html
    shown = export_report(notebook, title="t", hide_code=False).html
    assert "table(kpis, key=" not in hidden and "<footer" not in hidden
    assert "kpis" in shown and "jp-InputArea-editor" in shown


# ---------------------------------------------------------------------------------------------- tables


def test_keyed_tables_are_read_back_in_page_order(exported: ExportedReport, kpis: pd.DataFrame) -> None:
    assert [t.key for t in exported.tables] == ["headline", "kpis", "kpis_2"]
    headline, first, second = exported.tables
    assert headline.frame.loc[0, "label"] == "NPS" and headline.frame.loc[0, "value"] == -20.7
    assert first.caption == "KPIs by period"
    pd.testing.assert_frame_equal(first.frame.reset_index(drop=True), kpis, check_dtype=False)
    assert second.frame["period"].tolist() == ["2025Q4"]


def test_write_tables_csv_and_json(tmp_path: Path, exported: ExportedReport, kpis: pd.DataFrame) -> None:
    written = write_tables(tmp_path, "customer_kpis", exported, _provenance())
    folder = tmp_path / "customer_kpis"
    assert [p.name for p in written] == ["headline.csv", "kpis.csv", "kpis_2.csv", "tables.json"]
    back = pd.read_csv(folder / "kpis.csv", encoding="utf-8")
    assert list(back.columns) == ["period", "nps", "customers"]  # no positional index column
    pd.testing.assert_frame_equal(back, kpis)
    doc = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
    assert doc["report"] == "customer_kpis"
    assert set(doc["tables"]) == {"headline", "kpis", "kpis_2"}
    assert doc["tables"]["kpis"] == {
        "caption": "KPIs by period",
        "columns": ["period", "nps", "customers"],
        "rows": [["2025Q3", -21.8, 1319], ["2025Q4", -20.7, 1365]],
    }
    assert doc["provenance"]["parameters"]["title"] == EVIL  # raw data in JSON; escaped only in HTML
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_write_tables_removes_stale_files(tmp_path: Path, kpis: pd.DataFrame) -> None:
    first = ExportedReport("", [OutputTable("kpis", None, kpis), OutputTable("old", None, kpis)])
    write_tables(tmp_path, "r", first)
    (tmp_path / "r" / "notes.txt").write_text("mine")
    write_tables(tmp_path, "r", ExportedReport("", [OutputTable("kpis", None, kpis.head(1))]))
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["kpis.csv", "notes.txt", "tables.json"]
    assert len(pd.read_csv(tmp_path / "r" / "kpis.csv")) == 1
    assert json.loads((tmp_path / "r" / "tables.json").read_text())["provenance"] is None


def test_meaningful_index_is_written_as_a_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"nps": [1.5, None]}, index=pd.Index(["smb", "enterprise"], name="segment"))
    payload = {"key": "../by segment", "caption": None, "table": frame.to_json(orient="table")}
    nb = new_notebook(cells=[new_code_cell("", outputs=[new_output("display_data", data={TABLE_MIMETYPE: payload})])])
    tables = extract_tables(nb)
    assert [t.key for t in tables] == ["by_segment"]  # a safe file name
    write_tables(tmp_path, "r", ExportedReport("", tables))
    back = pd.read_csv(tmp_path / "r" / "by_segment.csv")
    assert back.columns.tolist() == ["segment", "nps"] and back["segment"].tolist() == ["smb", "enterprise"]
    rows = json.loads((tmp_path / "r" / "tables.json").read_text())["tables"]["by_segment"]["rows"]
    assert rows == [["smb", 1.5], ["enterprise", None]]  # missing stays missing, not 0


def test_table_json_pandas_cannot_read_back_is_taken_as_records() -> None:
    frame = pd.DataFrame({"index": [7], "nps": [1.5]})  # a column named "index" beside the index
    payload = {"key": "k", "table": frame.to_json(orient="table")}
    (read,) = extract_tables(
        new_notebook(cells=[new_code_cell("", outputs=[new_output("display_data", data={TABLE_MIMETYPE: payload})])])
    )
    assert read.frame["nps"].tolist() == [1.5]


def test_unreadable_table_payload_is_an_error() -> None:
    bad = new_output("display_data", data={TABLE_MIMETYPE: {"key": "x", "table": "not json"}})
    with pytest.raises(ReportError, match="keyed table"):
        extract_tables(new_notebook(cells=[new_code_cell("", outputs=[bad])]))


# ---------------------------------------------------------------------------------------------- math


@pytest.mark.parametrize(
    ("body", "is_tex"),
    [("\\alpha", True), ("x^2", True), ("p_1", True), ("{a}", True), ("n", True), ("5 and ", False), ("10", False)],
)
def test_dollar_rule(body: str, is_tex: bool) -> None:
    assert looks_like_tex(body) is is_tex


@pytest.mark.parametrize(
    ("markdown", "kept", "n_math"),
    [
        ("It costs $5 and $10.", "It costs $5 and $10.", 0),
        ("From $5 to $7 or $x_1$.", "From $5 to $7 or ", 1),
        ("Price $ 5 $ each", "Price $ 5 $ each", 0),
        ("Also \\\\(x^2\\\\) and \\\\[a = b\\\\]", "Also ", 2),
        # one backslash is Markdown's escape of a parenthesis (escape_markdown's output), never math
        ("Online Retail \\(UCI\\), row\\(s\\) and \\[x\\_1\\]", "Online Retail (UCI), row(s) and [x_1]", 0),
        ("\\begin{equation}E = mc^2\\end{equation}", "", 1),
    ],
)
def test_markdown_math_and_dollars(markdown: str, kept: str, n_math: int) -> None:
    page = export_report(new_notebook(cells=[new_markdown_cell(markdown)]), title="m").html
    assert kept in page
    assert page.count('class="bsc-math"') == n_math


def test_math_mathtext_cannot_draw_is_shown_as_code() -> None:
    out = math_html(r"\begin{aligned} a &= b \\ c &= d \end{aligned}")
    assert out.startswith("<code") and "<img" not in out
    assert "&amp;= b" in out  # escaped source
    page = export_report(new_notebook(cells=[new_markdown_cell("See $\\unknowncommand{x}$ here.")]), title="m").html
    assert '<code class="bsc-math-source"' in page and "\\unknowncommand{x}" in page
    assert check_self_contained(page) == []


def test_math_alt_text_is_escaped() -> None:
    out = math_html(r"a < b")
    assert 'alt="a &lt; b"' in out


def test_text_latex_output_comes_last() -> None:
    with_png = new_output("display_data", data={"text/latex": "$x^2$", "image/png": _png_figure()})
    with_text = new_output("display_data", data={"text/latex": "$\\displaystyle y^2$", "text/plain": "y**2"})
    alone = new_output("execute_result", data={"text/latex": "$\\displaystyle z^2$"}, execution_count=1)
    nb = new_notebook(cells=[new_code_cell("", outputs=[with_png, with_text, alone])])
    page = export_report(nb, title="m").html
    body = page.split("<main>")[1]
    assert body.count("data:image/png;base64,") == 1 and "<pre>y**2</pre>" in body
    assert 'alt="\\displaystyle z^2"' in page  # drawn (mathtext has no \displaystyle: dropped)
    assert "$" not in body


# ---------------------------------------------------------------------------------------------- CDN-free


def test_widgets_and_mermaid_load_nothing() -> None:
    view = new_output(
        "display_data",
        data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0}},
    )
    nb = new_notebook(cells=[new_markdown_cell("```mermaid\ngraph TD; A-->B\n```"), new_code_cell("", outputs=[view])])
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"abc": {"model_name": "IntSliderModel"}},
            "version_major": 2,
        }
    }
    page = export_report(nb, title="w").html
    assert "widget-state" not in page and "unpkg" not in page and "html-manager" not in page
    assert "import(" not in page and check_self_contained(page) == []
    assert "interactive control" in page


@pytest.mark.parametrize(
    "cell",
    [
        new_markdown_cell("![logo](https://example.com/logo.png)"),
        new_code_cell(
            "", outputs=[new_output("display_data", data={"text/html": '<script src="https://cdn.x/p.js"></script>'})]
        ),
    ],
)
def test_export_refuses_a_page_that_loads_from_outside(cell: nbformat.NotebookNode) -> None:
    with pytest.raises(ReportError, match="self-contained"):
        export_report(new_notebook(cells=[cell]), title="x")


def test_local_markdown_image_is_embedded(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.savefig(tmp_path / "pic.png")
    nb = new_notebook(cells=[new_markdown_cell('![pic](pic.png) and <img src="pic.png" alt="again">')])
    page = export_report(nb, title="x", base_dir=tmp_path).html
    body = page.split("<main>")[1]  # (the lab CSS has a data: PNG of its own)
    assert body.count('src="data:image/png;base64,') == 2 and check_self_contained(page) == []


@pytest.mark.parametrize(
    ("snippet", "url"),
    [
        ('<script src="https://cdnjs.cloudflare.com/require.js"></script>', "https://cdnjs.cloudflare.com/require.js"),
        ('<link rel="stylesheet" href="//fonts.example.com/a.css">', "//fonts.example.com/a.css"),
        ('<link rel="preload" href="https://x.org/f.woff2" as="font">', "https://x.org/f.woff2"),
        ('<link rel="icon" href="favicon.ico">', "favicon.ico"),
        ('<img src="http://x.org/a.png">', "http://x.org/a.png"),
        ('<img srcset="data:image/png;base64,AA 1x, https://x.org/b.png 2x">', "https://x.org/b.png"),
        ('<iframe src="https://x.org/embed"></iframe>', "https://x.org/embed"),
        ('<video><source src="https://x.org/v.mp4"></video>', "https://x.org/v.mp4"),
        ('<video src="a.mp4" poster="https://x.org/p.jpg"></video>', "a.mp4"),
        ('<style>@import "https://x.org/s.css";</style>', "https://x.org/s.css"),
        ("<style>@import url(https://x.org/t.css);</style>", "https://x.org/t.css"),
        ("<style>body { background: url('https://x.org/bg.png') }</style>", "https://x.org/bg.png"),
        ('<div style="background-image: url(https://x.org/d.png)"></div>', "https://x.org/d.png"),
        ('<script type="module">import mermaid from "https://cdn.x/m.mjs";</script>', "https://cdn.x/m.mjs"),
        ('<script>const m = await import("https://cdn.x/e.mjs");</script>', "https://cdn.x/e.mjs"),
        ('<svg><image href="https://x.org/i.svg"/></svg>', "https://x.org/i.svg"),
        ('<object data="https://x.org/o.pdf"></object>', "https://x.org/o.pdf"),
    ],
)
def test_check_self_contained_catches(snippet: str, url: str) -> None:
    assert url in check_self_contained(f"<html><body>{snippet}</body></html>")


@pytest.mark.parametrize(
    "snippet",
    [
        '<a href="https://example.com/docs">docs</a>',
        '<link rel="canonical" href="https://example.com/r">',
        '<img src="data:image/png;base64,AAAA">',
        "<style>.a { background: url(data:image/svg+xml;base64,AAAA) }</style>",
        '<script type="application/json">{"import": "https://x.org"}</script>',
        "<p>import x from 'https://x.org' is only text here</p>",
        '<a href="#section">jump</a>',
    ],
)
def test_check_self_contained_allows(snippet: str) -> None:
    assert check_self_contained(snippet) == []


# ---------------------------------------------------------------------------------------------- provenance


def test_provenance_dict_round_trips_through_json() -> None:
    p = _provenance(parameters={"when": datetime(2025, 1, 1), "n": 3})
    d = json.loads(json.dumps(p.to_dict()))
    assert d["started"] == "2026-11-30T07:40:12+00:00" and d["seconds"] == p.seconds
    assert d["parameters"] == {"when": "2025-01-01 00:00:00", "n": 3}
    back = Provenance.from_dict(_provenance().to_dict())
    assert back == _provenance()


def test_provenance_footer_text() -> None:
    local = datetime(2026, 11, 30, 8, 40, tzinfo=timezone(timedelta(hours=1)))
    footer = provenance_footer_html(_provenance(started=local, seconds=125.0, parameters={}))
    text = re.sub(r"<[^>]+>", "", footer)
    assert text.startswith("bsc-toolkit 0.1.0 (source 1a2b3c4d5e6f), data 9f8e7d6c5b4a (data/raw &amp; &lt;more&gt;)")
    assert text.endswith("run 2026-11-30 07:40 UTC in 2 min 5 s")  # shown in UTC
    assert "parameters: none" in text


def test_provenance_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone"):
        _provenance(started=datetime(2026, 1, 1))


# ---------------------------------------------------------------------------------------------- real kernel


@pytest.mark.slow
def test_executed_notebook_end_to_end(tmp_path: Path) -> None:
    """A notebook run by nbclient: inline matplotlib figure, a keyed table and Markdown math."""
    from nbclient import NotebookClient

    code = (
        "import matplotlib.pyplot as plt, pandas as pd\n"
        "from bsc_toolkit.tables import table\n"
        "plt.plot([1, 2], [3, 4]); plt.show()\n"
        "table(pd.DataFrame({'segment': ['a', 'b'], 'n': [1200, 30]}), key='counts', caption='Counts')"
    )
    nb = new_notebook(cells=[new_markdown_cell(MARKDOWN), new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = export_report(nb, title="run", provenance=_provenance())
    assert check_self_contained(out.html) == []
    assert "data:image/png;base64," in out.html and 'class="bsc-math"' in out.html
    assert [t.key for t in out.tables] == ["counts"]
    write_tables(tmp_path, "run", out)
    assert pd.read_csv(tmp_path / "run" / "counts.csv")["n"].tolist() == [1200, 30]
