"""The report index: ``index.html`` and ``manifest.json`` in the report folder (:func:`build_index`).

``manifest.json`` records every report of the folder (title, order, notebook, parameters, when it was
generated and the sections of it that could not be computed, or its error, or what it would need);
each run updates the entries of its reports and keeps the others whose HTML still exists.
``index.html`` is a page linking them (and the PDF and key tables beside each, when there are),
with their status in words ("ok", "written, but 2 sections could not be computed: ...", "failed
...", "not applicable: needs ...", and "cached" for a report reused from the execution cache).
Both are written atomically. A hand-edited manifest with missing fields still gives an index.
:func:`build_index` is re-exported by :mod:`bsc_toolkit.report`.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bsc_toolkit._atomic import atomic_write_text
from bsc_toolkit.report_run import _os_reason
from bsc_toolkit.report_types import ReportError, ReportResult

__all__ = ["build_index", "section_errors_text"]


def _load_manifest(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The entries of ``out_dir/manifest.json`` by report name (none if it is missing or unreadable)."""
    path = out_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())
    except (ValueError, OSError):
        return {}
    if not isinstance(entries, list):
        return {}
    return {e["name"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)}


def build_index(out_dir: str | Path = "reports", results: Iterable[ReportResult] = ()) -> Path:
    """Write ``index.html`` (and ``manifest.json``) linking every report.

    Entries of earlier runs whose HTML still exists are kept; results of this
    run update their entries (a failed run keeps the previous report and
    marks it stale; a report with sections that could not be computed is
    listed with them).

    Raises
    ------
    ReportError
        If the folder, the index or the manifest cannot be written (naming the file and the cause);
        both are written atomically, so the previous versions stay complete.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot write the report index: {_os_reason(exc, out)}") from exc
    entries = _load_manifest(out)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for res in results:
        job = res.job
        entry = entries.get(job.name, {})
        entry.update(
            name=job.name,
            title=job.title,
            order=job.order,
            notebook=job.notebook.name,
            parameters=dict(job.parameters),
        )
        if res.not_applicable is not None:
            _remove_outputs(out, job.name)
            for stale in ("file", "section_errors", "pdf", "tables", "cached"):
                entry.pop(stale, None)
            entry.update(not_applicable=res.not_applicable, generated=now, error=None)
        elif res.ok:
            entry.pop("not_applicable", None)
            generated = entry.get("generated", now) if res.cached and entry.get("file") else now
            entry.update(
                file=f"{job.name}.html",
                generated=generated,
                seconds=round(res.seconds, 1),
                error=None,
                cached=res.cached,
            )
            if res.section_errors:
                entry["section_errors"] = list(res.section_errors)
            else:
                entry.pop("section_errors", None)
        else:
            entry.update(error=res.error, failed=now)
            if (out / f"{job.name}.html").is_file():
                entry.setdefault("file", f"{job.name}.html")
        entries[job.name] = entry
    entries = {
        k: e
        for k, e in entries.items()
        if e.get("file") and (out / e["file"]).is_file() or e.get("error") or e.get("not_applicable")
    }
    for name, entry in entries.items():  # the PDF and tables beside each report, as they are now
        for field, path in (("pdf", f"{name}.pdf"), ("tables", f"{name}/tables.json")):
            if entry.get("file") and (out / path).is_file():
                entry[field] = path
            else:
                entry.pop(field, None)
    ordered = sorted(entries.values(), key=lambda e: (_order(e), e["name"]))
    page = _index_page(ordered)
    index = out / "index.html"
    try:
        atomic_write_text(out / "manifest.json", json.dumps(ordered, indent=2, default=str))
        atomic_write_text(index, page)
    except OSError as exc:
        raise ReportError(f"cannot write the report index: {_os_reason(exc, index)}") from exc
    return index


def _remove_outputs(out: Path, name: str) -> None:
    """Remove a report's HTML, PDF and key tables (``name/*.csv``, ``name/tables.json``) from ``out``."""
    for path in (out / f"{name}.html", out / f"{name}.pdf"):
        if path.is_file():
            path.unlink()
    tables = out / name
    if tables.is_dir():
        for path in [*tables.glob("*.csv"), tables / "tables.json"]:
            path.unlink(missing_ok=True)
        try:
            tables.rmdir()
        except OSError:
            pass  # something else is in there: leave it


def _order(entry: dict[str, Any]) -> float:
    """The entry's order (100, as for a notebook without one, if a hand edit left no number)."""
    order = entry.get("order", 100)
    return float(order) if isinstance(order, (int, float)) and not isinstance(order, bool) else 100.0


def _shown(value: Any, limit: int = 300) -> str:
    """Text for the page: shortened to ``limit`` characters, then escaped (no entity cut in half)."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return html.escape(text)


def section_errors_text(sections: Sequence[str]) -> str:
    """``written, but 2 sections could not be computed: a, b`` (the words of the CLI and the index)."""
    noun = "section" if len(sections) == 1 else "sections"
    return f"written, but {len(sections)} {noun} could not be computed: {', '.join(sections)}"


def _index_row(entry: dict[str, Any]) -> str:
    """One table row of the index: the report (linked if its HTML exists), when, parameters, status."""
    title = _shown(entry.get("title") or entry["name"])
    link = f'<a href="{html.escape(str(entry["file"]))}">{title}</a>' if entry.get("file") else title
    extras = [
        f'<a href="{html.escape(str(entry[field]))}">{label}</a>'
        for field, label in (("pdf", "PDF"), ("tables", "tables"))
        if isinstance(entry.get(field), str)
    ]
    if extras:
        link += f' <span class="files">({", ".join(extras)})</span>'
    parameters = entry.get("parameters")
    params = ", ".join(f"{k}={v!r}" for k, v in parameters.items()) if isinstance(parameters, dict) else ""
    sections = entry.get("section_errors")
    sections = [str(s) for s in sections] if isinstance(sections, list) else []
    if entry.get("not_applicable"):
        status = f'<span class="na">not applicable: needs {_shown(entry["not_applicable"])}</span>'
    elif entry.get("error"):
        when = f" {_shown(entry['failed'])}" if entry.get("failed") else ""
        previous = ""
        if entry.get("file"):
            partial = f", {section_errors_text(sections)}" if sections else ""
            previous = html.escape(f" (showing the previous report{partial})")
        status = f'<span class="bad">failed{when}: {_shown(entry["error"])}{previous}</span>'
    elif sections:
        status = f'<span class="warn">{_shown(section_errors_text(sections), 600)}</span>'
    else:
        status = '<span class="ok">ok</span>'
    if entry.get("cached") is True and entry.get("file") and not entry.get("error"):
        status += ' <span class="na">cached (nothing it depends on changed: not run again)</span>'
    return (
        f"<tr><td>{link}</td><td>{_shown(entry.get('generated', '-'))}</td>"
        f"<td>{html.escape(params or 'defaults')}</td><td>{status}</td></tr>"
    )


def _index_page(entries: Sequence[dict[str, Any]]) -> str:
    """The whole ``index.html``: a table of the manifest's entries, in order."""
    rows = [_index_row(entry) for entry in entries]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bsc-toolkit reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ background: #f4f4f4; }} .ok {{ color: #1a7f37; }} .bad {{ color: #b42318; }} .na {{ color: #666; }}
.warn {{ color: #9a6700; }} .files {{ font-size: .9em; }}
</style></head><body>
<h1>Balanced Scorecard: customer perspective</h1>
<p>Reports generated by <code>bsc report</code> from the notebooks in <code>notebooks/</code>.</p>
<table><thead><tr><th>Report</th><th>Generated</th><th>Parameters</th><th>Status</th></tr></thead>
<tbody>
{os.linesep.join(rows)}
</tbody></table></body></html>
"""
