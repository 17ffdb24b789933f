"""Execute parameterized notebooks with papermill and render them to HTML.

Every report is written atomically: the notebook runs into a temporary file,
is converted, and only a complete HTML file replaces the previous report. A
notebook that fails leaves its previous report untouched; the executed copy
with the error is kept in ``reports/_failed/`` for debugging.

Which notebooks make up the report suite, their titles, order and extra
parameter variants come from each notebook's metadata::

    "bsc": {"title": "Customer KPIs", "order": 0,
            "variants": {"solutions": {"solutions": true}}}
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "ReportError",
    "ReportJob",
    "ReportResult",
    "build_index",
    "discover_notebooks",
    "packaged_notebooks_dir",
    "plan_reports",
    "render_report",
    "run_reports",
]


class ReportError(RuntimeError):
    """A notebook could not be executed or rendered."""


@dataclass(frozen=True)
class ReportJob:
    """One report to produce: a notebook, an output name and parameters."""

    notebook: Path
    name: str
    title: str
    order: float = 100.0
    parameters: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None


@dataclass(frozen=True)
class ReportResult:
    """Outcome of one :class:`ReportJob`."""

    job: ReportJob
    html_path: Path | None
    seconds: float
    error: str | None = None
    not_applicable: str | None = None

    @property
    def ok(self) -> bool:
        """True unless the notebook failed (a report that does not apply to the data is not a failure)."""
        return self.error is None


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _notebook_meta(path: Path) -> dict[str, Any]:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise ReportError(f"'{path}' is not a readable notebook: {exc}") from exc
    meta = dict(nb.metadata.get("bsc", {}))
    if "title" not in meta:
        heading = next(
            (
                line.lstrip("# ").strip()
                for cell in nb.cells
                if cell.cell_type == "markdown"
                for line in cell.source.splitlines()
                if line.startswith("#")
            ),
            None,
        )
        meta["title"] = heading or path.stem.replace("_", " ").capitalize()
    return meta


def packaged_notebooks_dir() -> Path:
    """The report notebooks that ship with the package.

    An installed package carries them in ``bsc_toolkit/notebooks/`` (copied there when the wheel is
    built); a source checkout has them in ``notebooks/`` at the top of the project.
    """
    inside = Path(__file__).resolve().parent / "notebooks"
    if inside.is_dir():
        return inside
    checkout = Path(__file__).resolve().parents[1] / "notebooks"
    if checkout.is_dir():
        return checkout
    raise ReportError("the report notebooks are missing from this installation (bsc_toolkit/notebooks)")


def discover_notebooks(notebooks_dir: str | Path) -> list[Path]:
    """All notebooks below ``notebooks_dir`` (checkpoints excluded), sorted."""
    root = Path(notebooks_dir)
    if not root.is_dir():
        raise ReportError(f"notebooks folder not found: '{root}'")
    return sorted(
        p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and not p.name.startswith(".")
    )


def _report_name(notebook: Path, notebooks_dir: Path | None) -> str:
    try:
        rel = notebook.resolve().relative_to(notebooks_dir.resolve()) if notebooks_dir else Path(notebook.name)
    except ValueError:
        rel = Path(notebook.name)
    return "-".join(rel.with_suffix("").parts)


def plan_reports(
    notebooks: Sequence[str | Path] | None = None,
    notebooks_dir: str | Path = "notebooks",
    parameters: Mapping[str, Any] | None = None,
    variants: bool = True,
) -> list[ReportJob]:
    """List the reports to produce, in report order.

    Parameters
    ----------
    notebooks : list of paths, optional
        Notebooks to run; default: every notebook in ``notebooks_dir``.
    notebooks_dir : str or Path
        Folder of the report suite (also the base of report names).
    parameters : mapping, optional
        Parameters applied to every notebook that declares them in its
        ``parameters`` cell (others are ignored for that notebook).
    variants : bool
        Also plan the extra parameter variants declared in notebook metadata.

    Returns
    -------
    list of ReportJob
    """
    base = Path(notebooks_dir)
    paths = [Path(p) for p in notebooks] if notebooks else discover_notebooks(base)
    jobs: list[ReportJob] = []
    for path in paths:
        if not path.is_file():
            raise ReportError(f"notebook not found: '{path}'")
        meta = _notebook_meta(path)
        name = _report_name(path, base if base.is_dir() else None)
        params = dict(parameters or {})
        order = float(meta.get("order", 100))
        jobs.append(ReportJob(path, name, meta["title"], order, params))
        if variants:
            for variant, extra in (meta.get("variants") or {}).items():
                jobs.append(
                    ReportJob(
                        path,
                        f"{name}-{variant}",
                        f"{meta['title']} ({variant})",
                        order + 0.1,
                        {**params, **extra},
                        variant,
                    )
                )
    return sorted(jobs, key=lambda j: (j.order, j.name))


def _declared_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell (parsed with ast)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return set()
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as exc:
        raise ReportError(f"the parameters cell of '{path}' is not valid Python: {exc}") from exc
    names: set[str] = set()
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def render_report(
    job: ReportJob,
    out_dir: str | Path = "reports",
    hide_code: bool = True,
    kernel_name: str = "python3",
    timeout: int | None = 600,
) -> Path:
    """Execute one notebook and write its HTML report atomically.

    Parameters
    ----------
    job : ReportJob
        What to run.
    out_dir : str or Path
        Report folder; the report is ``out_dir/<job.name>.html``.
    hide_code : bool
        Leave code cells out of the HTML (outputs and narrative only).
    kernel_name : str
        Jupyter kernel to execute with.
    timeout : int, optional
        Seconds allowed per cell.

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    ReportError
        With the notebook, the failing cell and the error; the previous
        report (if any) is left untouched.
    """
    import papermill as pm
    from nbconvert import HTMLExporter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    declared = _declared_parameters(job.notebook)
    params = {k: v for k, v in job.parameters.items() if k in declared}
    with tempfile.TemporaryDirectory(prefix="bsc-report-") as tmp:
        executed = Path(tmp) / f"{job.name}.ipynb"
        try:
            pm.execute_notebook(
                str(job.notebook),
                str(executed),
                parameters=params,
                kernel_name=kernel_name,
                cwd=str(job.notebook.parent),
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout,
            )
        except Exception as exc:
            kept = None
            if executed.exists():
                kept = out / "_failed" / f"{job.name}.ipynb"
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(executed, kept)
            detail = _describe_execution_error(exc)
            where = f"; executed notebook with the error saved to '{kept}'" if kept else ""
            raise ReportError(f"notebook '{job.notebook}' failed: {detail}{where}") from exc
        nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(
        template_name="lab", exclude_input=hide_code, exclude_input_prompt=True, exclude_output_prompt=True
    )
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": job.title}})
    except Exception as exc:
        raise ReportError(f"notebook '{job.notebook}' ran but could not be converted to HTML: {exc}") from exc
    target = out / f"{job.name}.html"
    _atomic_write_text(target, body)
    (out / "_failed" / f"{job.name}.ipynb").unlink(missing_ok=True)
    return target


def _describe_execution_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", None)
    if ename:
        text = f"{ename}: {evalue}"
        return f"cell {cell}: {text}" if cell is not None else text
    return f"{type(exc).__name__}: {exc}"


def _load_manifest(out_dir: Path) -> dict[str, dict[str, Any]]:
    path = out_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return {e["name"]: e for e in json.loads(path.read_text())}
    except (ValueError, KeyError, TypeError):
        return {}


def build_index(out_dir: str | Path = "reports", results: Iterable[ReportResult] = ()) -> Path:
    """Write ``index.html`` (and ``manifest.json``) linking every report.

    Entries of earlier runs whose HTML still exists are kept; results of this
    run update their entries (a failed run keeps the previous report and
    marks it stale).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
            if (out / f"{job.name}.html").is_file():
                (out / f"{job.name}.html").unlink()
            entry.pop("file", None)
            entry.update(not_applicable=res.not_applicable, generated=now, error=None)
        elif res.ok:
            entry.pop("not_applicable", None)
            entry.update(file=f"{job.name}.html", generated=now, seconds=round(res.seconds, 1), error=None)
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
    ordered = sorted(entries.values(), key=lambda e: (e.get("order", 100), e["name"]))
    rows = []
    for e in ordered:
        title = html.escape(e["title"])
        link = f'<a href="{html.escape(e["file"])}">{title}</a>' if e.get("file") else title
        params = ", ".join(f"{k}={v!r}" for k, v in (e.get("parameters") or {}).items()) or "defaults"
        status = (
            f'<span class="na">not applicable: needs {html.escape(e["not_applicable"])}</span>'
            if e.get("not_applicable")
            else f'<span class="bad">failed {html.escape(e["failed"])}: {html.escape(str(e["error"]))[:300]}'
            + (" (showing the previous report)" if e.get("file") else "")
            + "</span>"
            if e.get("error")
            else '<span class="ok">ok</span>'
        )
        rows.append(
            f"<tr><td>{link}</td><td>{html.escape(e.get('generated', '-'))}</td>"
            f"<td>{html.escape(params)}</td><td>{status}</td></tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bsc-toolkit reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ background: #f4f4f4; }} .ok {{ color: #1a7f37; }} .bad {{ color: #b42318; }} .na {{ color: #666; }}
</style></head><body>
<h1>Balanced Scorecard: customer perspective</h1>
<p>Reports generated by <code>bsc report</code> from the notebooks in <code>notebooks/</code>.</p>
<table><thead><tr><th>Report</th><th>Generated</th><th>Parameters</th><th>Status</th></tr></thead>
<tbody>
{os.linesep.join(rows)}
</tbody></table></body></html>
"""
    _atomic_write_text(out / "manifest.json", json.dumps(ordered, indent=2, default=str))
    index = out / "index.html"
    _atomic_write_text(index, page)
    return index


def run_reports(
    jobs: Sequence[ReportJob],
    out_dir: str | Path = "reports",
    hide_code: bool = True,
    progress: bool = True,
    data: Any = None,
) -> list[ReportResult]:
    """Run every job (continuing past failures), then rebuild the index.

    Parameters
    ----------
    jobs : sequence of ReportJob
    out_dir : str or Path
    hide_code : bool
    progress : bool
        Show a progress bar.
    data : CustomerData, optional
        The data set the jobs run on, loaded (and so validated) once: a report none of whose
        sections this data supports is not run and is listed as "not applicable: needs ...".

    Returns
    -------
    list of ReportResult
        One per job, in order; check ``.ok``.
    """
    from tqdm.auto import tqdm

    results: list[ReportResult] = []
    bar = tqdm(jobs, desc="reports", unit="notebook", disable=not progress)
    features = None
    if data is not None:
        from bsc_toolkit.capabilities import data_features, report_applicability

        features = data_features(data)
    for job in bar:
        bar.set_postfix_str(job.name)
        t0 = time.perf_counter()
        if data is not None:
            missing = report_applicability(data, job.notebook.stem, features)
            if missing:
                results.append(ReportResult(job, None, 0.0, not_applicable="; ".join(missing)))
                continue
        try:
            path = render_report(job, out_dir=out_dir, hide_code=hide_code)
            results.append(ReportResult(job, path, time.perf_counter() - t0))
        except ReportError as exc:
            results.append(ReportResult(job, None, time.perf_counter() - t0, str(exc)))
    build_index(out_dir, results)
    return results
