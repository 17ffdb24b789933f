"""Self-contained HTML reports: conversion of an executed notebook, provenance footer and key tables.

A report is mailed and opened anywhere, offline included, so the page requests nothing from any
other host (:func:`export_report`):

- nbconvert's ``lab`` template, with the blocks that load require.js, MathJax, mermaid and the
  Jupyter widgets manager from a CDN overridden to nothing (an extra jinja2 template, no regex on
  the output); the lab CSS is inline already; images are embedded as ``data:`` URIs (Markdown
  images too: ``embed_images``).
- Math is drawn by :mod:`matplotlib.mathtext` into inline SVG images (``data:`` URIs), with the TeX
  source as the image's ``alt`` text. **Which dollars are math**: ``$$...$$``, ``\\[...\\]``,
  ``\\(...\\)`` and ``\\begin{env}...\\end{env}`` always are; ``$...$`` is math only when the
  opening ``$`` is followed by a non-space, the closing ``$`` is preceded by a non-space and not
  followed by a digit (pandoc's rule), *and* the text between looks like TeX: it contains a
  backslash, ``^``, ``_``, ``{`` or ``}``, or is a single letter (``$n$``). So "$5 and $10" and
  "between $5 and $7" stay text. Math that mathtext cannot draw (environments such as ``aligned``,
  ``\\\\`` line breaks, unknown commands) is shown as its source in code font.
  ``text/latex`` outputs come after every other mimetype (PNG, plain text...) and, when alone, are
  drawn the same way.
- The provenance footer (:class:`Provenance`, :func:`provenance_footer_html`) closes the page.
- :func:`check_self_contained` lists what a page would request; :func:`export_report` raises if its
  own output is not self-contained, so a CDN cannot come back with an nbconvert update.

The key tables (outputs of mimetype :data:`bsc_toolkit.tables.TABLE_MIMETYPE`: tables made with
``tables.table(..., key=...)`` and the headline) are read back from the executed notebook
(:attr:`ExportedReport.tables`) and written beside the HTML by :func:`write_tables`.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd

from bsc_toolkit._atomic import atomic_write_text
from bsc_toolkit.formatting import escape_html
from bsc_toolkit.report_types import ReportError
from bsc_toolkit.tables import TABLE_MIMETYPE

__all__ = [
    "ExportedReport",
    "OutputTable",
    "Provenance",
    "check_self_contained",
    "export_report",
    "extract_tables",
    "math_html",
    "provenance_footer_html",
    "write_tables",
]

# --------------------------------------------------------------------------------------------------
# provenance


@dataclass(frozen=True)
class Provenance:
    """Where a report comes from: package, data, notebook, parameters and run.

    Parameters
    ----------
    package_version : str
        ``bsc_toolkit.__version__``.
    source_hash : str
        Hex digest of the package's source files.
    data_hash : str
        Hex digest of the input data.
    data_source : str
        The data's path or name (user text: escaped when shown).
    notebook : str
        The notebook's path or name.
    notebook_hash : str
        Hex digest of the notebook file.
    parameters : dict
        The parameters the notebook ran with.
    started : datetime
        When the run started; timezone-aware (shown in UTC).
    seconds : float
        How long the run took.
    """

    package_version: str
    source_hash: str
    data_hash: str
    data_source: str
    notebook: str
    notebook_hash: str
    parameters: dict[str, Any]
    started: datetime
    seconds: float

    def __post_init__(self) -> None:
        if self.started.tzinfo is None or self.started.utcoffset() is None:
            raise ValueError("Provenance.started must be timezone-aware (UTC)")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``started`` in ISO 8601 UTC; parameter values JSON-able or as text)."""
        return {
            "package_version": self.package_version,
            "source_hash": self.source_hash,
            "data_hash": self.data_hash,
            "data_source": str(self.data_source),
            "notebook": str(self.notebook),
            "notebook_hash": self.notebook_hash,
            "parameters": json.loads(json.dumps(dict(self.parameters), default=str)),
            "started": self.started.astimezone(timezone.utc).isoformat(),
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        """The inverse of :meth:`to_dict` (e.g. the ``provenance`` of a report's ``tables.json``)."""
        values = dict(data)
        values["started"] = datetime.fromisoformat(values["started"])
        return cls(**values)


#: How many hex digits of a hash the footer shows.
SHORT_HASH = 12
#: Longest parameter value shown in full in the footer (longer ones are cut with an ellipsis).
PARAMETER_WIDTH = 80


def _short(digest: str) -> str:
    return digest[:SHORT_HASH] if digest else "unknown"


def _parameter_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= PARAMETER_WIDTH else text[: PARAMETER_WIDTH - 1] + "\u2026"


def _duration_text(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "an unknown time"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def provenance_footer_html(p: Provenance) -> str:
    """The provenance footer of a report: ``<footer class="bsc-provenance">``.

    Reads, e.g., "bsc-toolkit 0.1.0 (source 1a2b3c4d5e6f), data 9f8e7d6c5b4a (data/raw), notebook
    customer_kpis.ipynb (0a1b2c3d4e5f), parameters: data_dir = data/raw, run 2026-11-30 07:40 UTC in
    5.2 s". Every value is escaped (paths and parameters are user text).

    Parameters
    ----------
    p : Provenance

    Returns
    -------
    str
    """
    if p.parameters:
        params = ", ".join(
            f"<code>{escape_html(k)}</code> = <code>{escape_html(_parameter_text(v))}</code>"
            for k, v in p.parameters.items()
        )
    else:
        params = "none (the notebook's defaults)"
    started = p.started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<footer class="bsc-provenance"><p>'
        f"bsc-toolkit {escape_html(p.package_version)} (source <code>{escape_html(_short(p.source_hash))}</code>), "
        f"data <code>{escape_html(_short(p.data_hash))}</code> ({escape_html(p.data_source)}), "
        f"notebook {escape_html(p.notebook)} (<code>{escape_html(_short(p.notebook_hash))}</code>), "
        f"parameters: {params}, "
        f"run {escape_html(started)} in {escape_html(_duration_text(p.seconds))}"
        "</p></footer>"
    )


# --------------------------------------------------------------------------------------------------
# math

#: TeX commands mathtext lacks, mapped to ones it has (or to nothing).
_TEX_ALIASES = {
    r"\le": r"\leq",
    r"\ge": r"\geq",
    r"\ne": r"\neq",
    r"\tfrac": r"\frac",
    r"\textrm": r"\mathrm",
    r"\lvert": "|",
    r"\rvert": "|",
    r"\lVert": r"\Vert",
    r"\rVert": r"\Vert",
    r"\displaystyle": "",
    r"\textstyle": "",
}
_TEX_ALIAS_RE = re.compile("|".join(re.escape(k) + r"(?![A-Za-z])" for k in sorted(_TEX_ALIASES, key=len)[::-1]))

#: Font size (px) of inline and display math (the lab template's body text is 14 px; TeX's letters are smaller).
MATH_SIZE = {False: 15.0, True: 17.0}


def looks_like_tex(body: str) -> bool:
    """Whether the text between two single dollars is math (see the module docstring for the rule)."""
    return bool(re.search(r"[\\^_{}]", body)) or bool(re.fullmatch(r"[A-Za-z]", body))


@functools.lru_cache(maxsize=1024)
def _math_svg(tex: str, display: bool) -> tuple[str, float, float, float] | None:
    """``(svg data URI, width, height, depth)`` in px of ``tex`` drawn by mathtext; None if it cannot."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    source = f"${tex}$"
    prop = FontProperties(size=MATH_SIZE[display], math_fontfamily="cm")
    try:
        width, height, depth, _, _ = MathTextParser("path").parse(source, dpi=72, prop=prop)
    except Exception:  # noqa: BLE001 - pyparsing and mathtext raise several types for TeX they cannot draw
        return None
    if not (width > 0 and height > 0):
        return None
    with rc_context({"svg.hashsalt": "bsc-math", "svg.fonttype": "path"}):
        fig = Figure(figsize=(width / 72, height / 72))
        fig.patch.set_alpha(0)
        fig.text(0, depth / height, source, fontproperties=prop, color="#212121")
        buf = io.BytesIO()
        try:
            fig.savefig(buf, dpi=72, format="svg", metadata={"Date": None}, transparent=True)
        except Exception:  # noqa: BLE001 - as above, drawing can fail where parsing did not
            return None
    uri = "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return uri, float(width), float(height), float(depth)


def math_html(tex: str, *, display: bool = False) -> str:
    """HTML for the TeX math ``tex`` (without delimiters): an ``<img>`` of it, or its source as code.

    Parameters
    ----------
    tex : str
        The math, e.g. ``\\mathrm{Var} = p(1-p)/n``.
    display : bool
        Display math (centred on a line of its own) rather than inline.

    Returns
    -------
    str
        ``<img class="bsc-math" alt="TeX source" src="data:image/svg+xml;...">`` (inside a
        block ``<span>`` for display math), or ``<code class="bsc-math-source">`` with the source
        when mathtext cannot draw it.
    """
    source = " ".join(tex.split())
    drawn = _math_svg(_TEX_ALIAS_RE.sub(lambda m: _TEX_ALIASES[m.group(0)], source), display) if source else None
    if drawn is None:
        code = f'<code class="bsc-math-source" title="math shown as its TeX source">{escape_html(source)}</code>'
        return f'<span class="bsc-math-display">{code}</span>' if display else code
    uri, width, height, depth = drawn
    img = (
        f'<img class="bsc-math" src="{uri}" alt="{escape_html(source)}" width="{width:g}" height="{height:g}"'
        f' style="vertical-align: {-depth:g}px">'
    )
    return f'<span class="bsc-math-display">{img}</span>' if display else img


def _math_markdown_classes() -> tuple[type, type, type]:
    """nbconvert's Markdown renderer with math drawn by :func:`math_html` (built lazily: nbconvert is slow to import)."""
    from mistune.renderers.html import HTMLRenderer
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MathBlockParser, MathInlineParser

    # \\( and \\[ (two backslashes in the source, as nbconvert and JupyterLab read them) are math; one
    # backslash is Markdown's escape of a parenthesis (escape_markdown writes "\\(" for user text), never math
    class _MathBlockParser(MathBlockParser):  # type: ignore[misc, valid-type]
        pass

    class _MathInlineParser(MathInlineParser):  # type: ignore[misc, valid-type]
        def parse_inline_math_tex(self, m: re.Match[str], state: Any) -> int | None:
            body = m.group("math_inline_tex")
            after = state.src[m.end() : m.end() + 1]
            if body[:1].isspace() or body[-1:].isspace() or after.isdigit() or not looks_like_tex(body):
                return None  # not math: the parser emits this "$" as text and goes on after it
            return super().parse_inline_math_tex(m, state)

    class _MathRenderer(IPythonRenderer):  # type: ignore[misc, valid-type]
        # nbconvert re-parses every inline HTML tag with BeautifulSoup to embed images, which turns an
        # opening "<code>" into "<code></code>": only fragments with an <img> go through it
        def inline_html(self, html: str) -> str:
            if self.embed_images and "<img" in html.lower():
                html = self._html_embed_images(html)
            return HTMLRenderer.inline_html(self, html)

        def block_html(self, html: str) -> str:
            if self.embed_images and "<img" in html.lower():
                html = self._html_embed_images(html)
            return HTMLRenderer.block_html(self, html)

        def block_math(self, body: str) -> str:
            return math_html(body, display=True)

        def inline_math(self, body: str) -> str:
            return math_html(body)

        def latex_environment(self, name: str, body: str) -> str:
            if name.rstrip("*") in ("equation", "displaymath", "math"):
                return math_html(re.sub(r"\\(label|tag)\{[^}]*\}", "", body), display=True)
            source = f"\\begin{{{name}}}{body}\\end{{{name}}}"
            return f'<pre class="bsc-math-source" title="math shown as its TeX source">{escape_html(source)}</pre>'

    return _MathBlockParser, _MathInlineParser, _MathRenderer  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------
# self-containment check

#: ``rel`` values of ``<link>`` that make no request (anything else, e.g. stylesheet, preload,
#: modulepreload, prefetch, icon, manifest, preconnect, counts as one).
_LINK_NO_REQUEST = {
    "alternate",
    "author",
    "bookmark",
    "canonical",
    "external",
    "help",
    "license",
    "me",
    "next",
    "nofollow",
    "noopener",
    "noreferrer",
    "prev",
    "search",
    "tag",
}
#: Attributes that make the browser fetch their URL, by element.
_REQUEST_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
    "feimage": ("href", "xlink:href"),
    "body": ("background",),
    "table": ("background",),
    "td": ("background",),
}
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""", re.I)
_JS_IMPORT = re.compile(
    r"""\bimport\s*(?:\(\s*|[\w$*{}\s,]+?\s*from\s*)["'`]([^"'`]+)["'`]"""
    r"""|\bimport\s*["'`]([^"'`]+)["'`]"""
    r"""|\bimportScripts\s*\(\s*["'`]([^"'`]+)["'`]""",
)
_JS_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript"}


def _is_local(url: str) -> bool:
    """Whether ``url`` needs no request: a data:/blob:/about: URI, a fragment or nothing."""
    url = url.strip()
    return not url or url.startswith("#") or url.lower().startswith(("data:", "blob:", "about:", "javascript:"))


def _css_urls(css: str) -> list[str]:
    found = [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(css)]
    found += [m.group(1) for m in _CSS_IMPORT.finditer(css) if not m.group(1).lower().startswith("url(")]
    return found


class _RequestFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in: str | None = None  # "style" or "script" when inside one whose text is read

    def _add(self, *urls: str) -> None:
        self.urls.extend(u.strip() for u in urls if not _is_local(u))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        for name in _REQUEST_ATTRS.get(tag, ()):
            if name in values:
                if name == "srcset":
                    self._add(*(part.split()[0] for part in values[name].split(",") if part.strip()))
                else:
                    self._add(values[name])
        if tag == "link" and "href" in values:
            rels = set(values.get("rel", "").lower().split())
            if not rels or not rels <= _LINK_NO_REQUEST:
                self._add(values["href"])
        if "style" in values:
            self._add(*_css_urls(values["style"]))
        if tag == "style":
            self._in = "style"
        elif tag == "script" and "src" not in values and values.get("type", "").lower() in _JS_TYPES:
            self._in = "script"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self._add(*_css_urls(data))
        elif self._in == "script":
            self._add(*(next(g for g in m.groups() if g) for m in _JS_IMPORT.finditer(data)))


def check_self_contained(html: str) -> list[str]:
    """The URLs a page would request when opened, in page order (empty: self-contained).

    Requests are: ``<script src>``, ``<link href>`` (stylesheets, preloads, icons...; not
    ``rel="canonical"``/``alternate``/...), ``src``/``srcset``/``poster``/``data`` of images,
    frames, media, embeds and objects, SVG ``<image>``/``<use>`` ``href``, CSS ``url(...)`` and
    ``@import`` (in ``<style>`` and ``style=""``), and JavaScript ``import ... from "..."``,
    ``import("...")`` and ``importScripts(...)`` in inline scripts. ``data:``, ``blob:`` and
    fragment URLs request nothing; anything else, a relative path included, counts (a report is
    mailed alone, so a relative file is missing too). Ordinary ``<a href>`` links are not
    requests and are allowed.

    Parameters
    ----------
    html : str

    Returns
    -------
    list of str
    """
    finder = _RequestFinder()
    finder.feed(html)
    finder.close()
    return finder.urls


# --------------------------------------------------------------------------------------------------
# tables


@dataclass(frozen=True, eq=False)
class OutputTable:
    """A keyed table of a report: its key (a safe file name), caption and raw data."""

    key: str
    caption: str | None
    frame: pd.DataFrame


@dataclass(frozen=True, eq=False)
class ExportedReport:
    """A report converted: the self-contained page and its key tables in page order."""

    html: str
    tables: list[OutputTable] = field(default_factory=list)


def _safe_key(key: object) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(key)).strip("._")
    return text[:100] or "table"


def extract_tables(nb: Any) -> list[OutputTable]:
    """The outputs of mimetype ``TABLE_MIMETYPE`` of an executed notebook, in page order.

    Keys become safe file names (letters, digits, ``_ . -``); a key seen again gets ``_2``,
    ``_3``... in page order.

    Raises
    ------
    ReportError
        If a table's payload cannot be read.
    """
    from io import StringIO

    found: list[OutputTable] = []
    seen: dict[str, int] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(TABLE_MIMETYPE)
            if payload is None:
                continue
            try:
                if isinstance(payload, str):
                    payload = json.loads(payload)
                table = payload["table"]
                text = table if isinstance(table, str) else json.dumps(table)
                try:
                    frame = pd.read_json(StringIO(text), orient="table")
                except ValueError:
                    # pandas cannot read its own table JSON back in some cases (a column named "index"
                    # beside the index, MultiIndex columns): take the records as they are
                    frame = pd.DataFrame.from_records(json.loads(text)["data"])
            except Exception as exc:
                raise ReportError(f"a keyed table in the notebook could not be read: {exc}") from exc
            key = _safe_key(payload.get("key") or "table")
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key = f"{key}_{seen[key]}"
            caption = payload.get("caption")
            found.append(OutputTable(key, None if caption is None else str(caption), frame))
    return found


def _flat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a meaningful index as column(s), no positional index, and text column names."""
    index = frame.index
    positional = (isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1) or (
        index.nlevels == 1 and index.name is None and index.equals(pd.RangeIndex(len(frame)))
    )
    flat = frame if positional else frame.reset_index()
    flat = flat.reset_index(drop=True)
    flat.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in flat.columns]
    return flat


def write_tables(
    out_dir: Path | str, name: str, exported: ExportedReport, provenance: Provenance | None = None
) -> list[Path]:
    """Write a report's key tables beside its HTML: ``out_dir/name/<key>.csv`` and ``tables.json``.

    The CSVs are UTF-8 with a header and no positional index; ``tables.json`` is
    ``{"report": name, "provenance": ..., "tables": {key: {"caption", "columns", "rows"}}}``
    (``tables.json`` is written even when there is no table). Each file is written atomically;
    CSV files of an earlier run of the report that this run did not write are removed.

    Parameters
    ----------
    out_dir : Path or str
        The folder of the report's HTML.
    name : str
        The report's name (its HTML is ``out_dir/name.html``).
    exported : ExportedReport
    provenance : Provenance, optional

    Returns
    -------
    list of Path
        The files written, the CSVs in page order then ``tables.json``.
    """
    folder = Path(out_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    summary: dict[str, Any] = {}
    for table in exported.tables:
        flat = _flat_frame(table.frame)
        path = folder / f"{table.key}.csv"
        atomic_write_text(path, flat.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S"))
        written.append(path)
        split = json.loads(flat.to_json(orient="split", index=False, date_format="iso", default_handler=str))
        summary[table.key] = {"caption": table.caption, "columns": split["columns"], "rows": split["data"]}
    document = {
        "report": name,
        "provenance": provenance.to_dict() if provenance is not None else None,
        "tables": summary,
    }
    path = folder / "tables.json"
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    written.append(path)
    keep = set(written)
    for stale in folder.glob("*.csv"):
        if stale not in keep:
            stale.unlink(missing_ok=True)
    return written


# --------------------------------------------------------------------------------------------------
# export

#: The template every report is converted with: nbconvert's lab template minus what it loads from
#: CDNs (require.js, MathJax, mermaid, the widgets manager and widget state), plus the page's own CSS
#: and the provenance footer (``resources["bsc_footer"]``). Math is drawn while Markdown is rendered.
_TEMPLATE_NAME = "bsc_report.html.j2"
_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
.bsc-math { display: inline; margin: 0 0.1em; }
.bsc-math-display { display: block; text-align: center; margin: 0.6em 0; }
.bsc-provenance { margin: 2em 0 1em; padding: 0.6em 1em; border-top: 1px solid #bdbdbd; color: #616161;
  font-family: var(--jp-content-font-family); font-size: 12px; line-height: 1.5; }
.bsc-provenance code { font-family: var(--jp-code-font-family); font-size: 11px; }
</style>
{%- endblock extra_css -%}
{%- block data_latex scoped -%}
<div class="jp-RenderedLatex jp-OutputArea-output {{ extra_class }}" data-mime-type="text/latex">
{{ output.data['text/latex'] | bsc_latex }}
</div>
{%- endblock data_latex -%}
{%- block data_widget_view scoped -%}
<div class="jp-OutputArea-output {{ extra_class }}"><p><em>An interactive control is shown here in
JupyterLab; this page shows the static result.</em></p></div>
{%- endblock data_widget_view -%}
{%- block body_footer -%}
</main>
{{ resources.bsc_footer }}
</body>
{%- endblock body_footer -%}
{%- block footer -%}
</html>
{%- endblock footer -%}
"""

#: Display order of mimetypes: nbconvert's HTML order with text/latex last (drawn by mathtext only
#: when nothing else is there).
_DISPLAY_PRIORITY = [
    "application/vnd.jupyter.widget-view+json",
    "application/javascript",
    "text/html",
    "text/markdown",
    "image/svg+xml",
    "text/vnd.mermaid",
    "image/png",
    "image/jpeg",
    "text/plain",
    "text/latex",
]


def _exporter(hide_code: bool, base_dir: str) -> Any:
    from jinja2 import DictLoader, pass_context
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    block_parser, inline_parser, renderer_class = _math_markdown_classes()

    class _ReportExporter(HTMLExporter):  # type: ignore[misc, valid-type]
        @pass_context
        def markdown2html(self, context: Any, source: str) -> str:
            from nbconvert.filters.markdown_mistune import MarkdownWithMath

            cell = context.get("cell", {})
            renderer = renderer_class(
                escape=False,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=base_dir,
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options,
            )
            return MarkdownWithMath(
                renderer=renderer, block=block_parser(), inline=inline_parser(hard_wrap=False)
            ).render(source)

        def default_filters(self) -> Any:
            yield from super().default_filters()
            yield ("markdown2html", self.markdown2html)
            yield ("bsc_latex", self.latex_output)

        def latex_output(self, source: str) -> str:
            from nbconvert.filters.markdown_mistune import MarkdownWithMath

            text = source.strip()
            if re.fullmatch(r"\$[^$]+\$", text):  # a text/latex output is math: no currency rule
                return math_html(text[1:-1])
            renderer = renderer_class(escape=True, path=base_dir)
            return MarkdownWithMath(
                renderer=renderer, block=block_parser(), inline=inline_parser(hard_wrap=False)
            ).render(text)

    config = Config({"NbConvertBase": {"display_data_priority": _DISPLAY_PRIORITY}})
    return _ReportExporter(
        config=config,
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=hide_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )


def export_report(
    nb: Any,
    *,
    title: str,
    hide_code: bool = True,
    provenance: Provenance | None = None,
    base_dir: Path | str | None = None,
) -> ExportedReport:
    """Convert an executed notebook to a self-contained HTML report and read its key tables.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook (not modified).
    title : str
        The page title (unless the notebook's metadata has one); escaped.
    hide_code : bool
        Leave code cells' inputs out.
    provenance : Provenance, optional
        Appended as the page's footer.
    base_dir : Path or str, optional
        Folder that relative Markdown image paths are read from to embed them (the notebook's
        folder); default: the working directory.

    Returns
    -------
    ExportedReport

    Raises
    ------
    ReportError
        If the notebook cannot be converted, a keyed table cannot be read, or the page would
        request anything (:func:`check_self_contained`), e.g. a Markdown image from the web or an
        output that loads a script from a CDN.
    """
    base = str(base_dir) if base_dir is not None else ""
    resources: dict[str, Any] = {
        "metadata": {"name": title, "path": base},
        "bsc_footer": provenance_footer_html(provenance) if provenance is not None else "",
    }
    try:
        body, _ = _exporter(hide_code, base).from_notebook_node(nb, resources=resources)
    except Exception as exc:
        raise ReportError(f"the notebook could not be converted to HTML: {exc}") from exc
    requests = check_self_contained(body)
    if requests:
        shown = ", ".join(repr(u[:100]) for u in requests[:5]) + (" ..." if len(requests) > 5 else "")
        raise ReportError(
            f"the report would load {len(requests)} resource(s) from outside the page ({shown}); reports must be "
            "self-contained: embed images (data: URIs) and do not display outputs that load scripts from the web"
        )
    return ExportedReport(body, extract_tables(nb))
