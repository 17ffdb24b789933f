"""Report suite: what to run (planning) and running it, the public API of ``bsc report``.

This module holds the public surface: the records and errors (defined in
:mod:`bsc_toolkit.report_types`, re-exported here), finding the notebooks of the suite
(:func:`packaged_notebooks_dir`, :func:`discover_notebooks`), planning the reports
(:func:`plan_reports`), checking the report folder (:func:`check_output_dir`) and running them
(:func:`render_report`, :func:`run_reports`). The work is done by

- :mod:`bsc_toolkit.report_params`: the parameters each notebook declares, and checking given values;
- :mod:`bsc_toolkit.report_run`: a run's scratch folder, kernels and signal handling, executing one
  notebook and writing its HTML atomically;
- :mod:`bsc_toolkit.report_cache`: the execution cache (what a report depends on, hashed) and the
  cached data checks;
- :mod:`bsc_toolkit.report_index`: ``index.html`` and ``manifest.json`` (:func:`build_index`, re-exported here).

Which notebooks make up the report suite, their titles, order and extra
parameter variants come from each notebook's metadata::

    "bsc": {"title": "Customer KPIs", "order": 0,
            "variants": {"solutions": {"solutions": true}}}

Parameters are checked before any kernel starts (:mod:`bsc_toolkit.report_params`): a name no
selected notebook declares, a value that does not fit the parameter's annotation or default, or one
outside the bounds in the notebook's ``bsc.parameter_bounds`` metadata, is an error.

A report whose sections could not all be computed (a section guarded by
:class:`bsc_toolkit.capabilities.report_section` that raised: its marker says ``error``) is written,
since its other sections are useful, and its :class:`ReportResult` lists them in ``section_errors``
(:func:`section_errors` reads them from a page); the index shows them.

Every report is written atomically: a notebook that fails leaves its previous report untouched; the
executed copy with the error is kept in ``reports/_failed/`` for debugging. Each report is a
self-contained page with a provenance footer (package version and source hash, data hash,
parameters, run time), its key tables written beside it as CSV/JSON (``reports/<name>/``), and, with
``pdf=True``, printed to ``reports/<name>.pdf``.

:func:`run_reports` runs several notebooks at once (``workers``, default :func:`default_workers`),
each with its own kernel, and reuses a report whose notebook, parameters, package source and data
did not change since it was written (:mod:`bsc_toolkit.report_cache`; ``force=True`` runs every one).
A run works in a scratch folder of its own (``$TMPDIR/bsc-report-*``) that it removes however it
ends. SIGINT and SIGTERM during a run stop every running kernel, remove the scratch folder, rebuild
the index from the reports that finished (the interrupted ones keep their previous versions) and
raise :class:`ReportInterrupted`; the previous signal handlers are restored after the run.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from bsc_toolkit.report_cache import ReportCache, RunInputs, Validation
from bsc_toolkit.report_index import build_index
from bsc_toolkit.report_params import (
    check_parameter_names,
    check_scorecards,
    declared_parameters,
    notebook_parameters,
    read_notebook,
)
from bsc_toolkit.report_run import _ReportRun, section_errors
from bsc_toolkit.report_types import (
    ReportError,
    ReportIndexError,
    ReportInterrupted,
    ReportJob,
    ReportResult,
)

__all__ = [
    "ReportError",
    "ReportIndexError",
    "ReportInterrupted",
    "ReportJob",
    "ReportResult",
    "build_index",
    "check_output_dir",
    "default_workers",
    "discover_notebooks",
    "packaged_notebooks_dir",
    "plan_reports",
    "render_report",
    "run_reports",
    "section_errors",
]


def _notebook_meta(path: Path) -> dict[str, Any]:
    """The notebook's ``bsc`` metadata, with a title (else its first heading, else its file name)."""
    nb = read_notebook(path)
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
    """List the reports to produce, in report order, with their parameters checked.

    Parameters
    ----------
    notebooks : list of paths, optional
        Notebooks to run; default: every notebook in ``notebooks_dir``.
    notebooks_dir : str or Path
        Folder of the report suite (also the base of report names).
    parameters : mapping, optional
        Parameters for every notebook that declares them in its ``parameters`` cell. Each name
        must be declared by at least one of the notebooks; each value is converted to the type of
        the declared default, per notebook (see :mod:`bsc_toolkit.report_params`; a
        :class:`~bsc_toolkit.report_params.CommandLineValue` is text from the command line).
    variants : bool
        Also plan the extra parameter variants declared in notebook metadata (checked the same way
        against their own notebook).

    Returns
    -------
    list of ReportJob
        Each job holds only the parameters its notebook declares, converted.

    Raises
    ------
    ReportError
        A notebook that is missing or unreadable; :class:`~bsc_toolkit.report_params.ParameterError`
        (a ReportError) for an unknown name or a value of the wrong type, before anything runs.
    """
    base = Path(notebooks_dir)
    paths = [Path(p) for p in notebooks] if notebooks else discover_notebooks(base)
    declared = {}
    for path in paths:
        if not path.is_file():
            raise ReportError(f"notebook not found: '{path}'")
        declared[path] = declared_parameters(path)
    given = dict(parameters or {})
    check_parameter_names(given, declared)
    jobs: list[ReportJob] = []
    for path in paths:
        meta = _notebook_meta(path)
        name = _report_name(path, base if base.is_dir() else None)
        params = notebook_parameters(given, declared[path])
        order = float(meta.get("order", 100))
        jobs.append(ReportJob(path, name, meta["title"], order, params))
        if variants:
            for variant, extra in (meta.get("variants") or {}).items():
                where = f"variant '{variant}' in the notebook's metadata"
                if not isinstance(extra, Mapping):
                    raise ReportError(f"{where} of '{path}' must map parameter names to values, got {extra!r}")
                extra = notebook_parameters(extra, declared[path], where=where, strict=True)
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


def check_output_dir(out_dir: str | Path) -> None:
    """Check that reports can be written to ``out_dir``, without leaving anything behind.

    The folder must be a writable folder, or a path whose nearest existing parent is a writable
    folder (it is created when the first report is written). Writability is tested by creating and
    removing a file (or a folder), so it holds for any user, root included.

    Raises
    ------
    ReportError
        Naming the folder and the cause.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"cannot write reports to '{out}': it is a file, not a folder")
    if out.is_symlink() and not out.exists():
        raise ReportError(
            f"cannot write reports to '{out}': it is a link to '{os.readlink(out)}', which does not exist"
        )
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ReportError(f"cannot create the report folder '{out}': '{existing}' is a file, not a folder")
    try:
        if existing == out:
            fd, probe = tempfile.mkstemp(prefix=".bsc-write-test-", dir=out)
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".bsc-write-test-", dir=existing))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if existing == out:
            raise ReportError(f"cannot write reports to '{out}': the folder is not writable ({reason})") from exc
        raise ReportError(
            f"cannot create the report folder '{out}': cannot create folders in '{existing}' ({reason})"
        ) from exc


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
        What to run. Parameters the notebook does not declare are left out; the others are
        converted to the types of the notebook's defaults.
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
        The HTML file. Sections of it that could not be computed are not an error here:
        :func:`section_errors` of its text lists them (:func:`run_reports` does it for each report).

    Raises
    ------
    ReportError
        With the notebook, the failing cell and the error (or the file that could not be
        written); the previous report (if any) is left untouched.
    ReportInterrupted
        On SIGINT or SIGTERM: the kernel is stopped, nothing is written, the previous report is kept.
    """
    inputs = RunInputs(exclude=[Path(out_dir)])
    provenance = inputs.provenance_fields(job, inputs.for_job(job))
    with _ReportRun() as run:
        written = run.render(job, Path(out_dir), hide_code, kernel_name, timeout, provenance)
    if run.signum is not None:
        finished = (
            [] if written is None else [ReportResult(job, written.path, 0.0, section_errors=written.section_errors)]
        )
        raise ReportInterrupted(run.signum, finished, 1)
    assert written is not None
    return written.path


def default_workers() -> int:
    """How many notebooks run at once by default: ``min(2, os.cpu_count())``."""
    return max(1, min(2, os.cpu_count() or 1))


def run_reports(
    jobs: Sequence[ReportJob],
    out_dir: str | Path = "reports",
    hide_code: bool = True,
    progress: bool = True,
    data: Any = None,
    cell_timeout: int | None = 600,
    *,
    workers: int | None = None,
    cache: bool = True,
    force: bool = False,
    pdf: bool = False,
    inputs: RunInputs | None = None,
) -> list[ReportResult]:
    """Run every job (continuing past failures), several at once, then rebuild the index.

    Before any kernel starts, the report folder must be writable (:func:`check_output_dir`) and the
    scorecard of every job that uses one must load
    (:func:`bsc_toolkit.report_params.check_scorecards`).

    Parameters
    ----------
    jobs : sequence of ReportJob
    out_dir : str or Path
    hide_code : bool
    progress : bool
        Show a progress bar.
    data : CustomerData or Validation, optional
        The data set the jobs run on, loaded (and so validated) once, or the result of
        :func:`bsc_toolkit.report_cache.validate_for_reports`: a report none of whose sections this
        data supports is not run and is listed as "not applicable: needs ...".
    cell_timeout : int, optional
        Seconds allowed per notebook cell (None: no limit); a cell that takes longer fails its
        notebook.
    workers : int, optional
        Notebooks run at once, each with its own kernel (default :func:`default_workers`).
    cache : bool
        Reuse a report whose notebook, parameters, package source and data are those of the run
        that wrote it, and whose HTML and tables are unchanged (:mod:`bsc_toolkit.report_cache`;
        entries in ``out_dir/.cache``).
    force : bool
        Run every report, whatever the cache holds (the new results are recorded).
    pdf : bool
        Also print each report to ``out_dir/<name>.pdf`` with headless Chromium (one browser for the
        run, started at the first PDF: :class:`bsc_toolkit.browser.Browser`); a reused report gets
        one only if it has none. Without Chromium the reports are written and ``pdf_error`` says why
        there is no PDF.
    inputs : RunInputs, optional
        The run's hashes of the package source and data, when the caller has them already (e.g.
        from :func:`bsc_toolkit.report_cache.validate_for_reports`); default: new ones, excluding
        ``out_dir``.

    Returns
    -------
    list of ReportResult
        One per job, in job order; check ``.ok`` (the notebook ran, or was reused, and its report
        was written) and ``.section_errors`` (sections of the written report that could not be
        computed; ``.complete`` is both); ``.cached`` for a reused report.

    Raises
    ------
    ReportError
        Before any kernel starts: the report folder is not writable, a scorecard is invalid, or
        ``workers`` is less than 1.
    ReportIndexError
        After every job ran, if ``index.html`` could not be written (``.results`` has the outcomes).
    ReportInterrupted
        On SIGINT or SIGTERM: every running kernel is stopped, the scratch folder removed, the index
        rebuilt from the reports that finished (``.results``); the interrupted reports keep their
        previous versions. The previous signal handlers are restored.
    """
    from tqdm.auto import tqdm

    n_workers = default_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise ReportError(f"the number of notebooks run at once must be at least 1, got {workers}")
    check_output_dir(out_dir)
    check_scorecards(jobs)
    out = Path(out_dir)
    not_applicable = _not_applicable(data, jobs)
    inputs = inputs if inputs is not None else RunInputs(exclude=[out])
    store = ReportCache(out, inputs, hide_code, enabled=cache, force=force)
    printer = _PdfPrinter() if pdf else None
    slots: list[ReportResult | None] = [None] * len(jobs)
    running: set[str] = set()
    interrupted: list[str] = []
    index: Path | None = None
    index_error: str | None = None

    def one(job: ReportJob) -> ReportResult | None:
        """Reuse or run one report (in a worker thread); None if a signal stopped it."""
        if run.signum is not None:
            return None
        t0 = time.perf_counter()
        try:
            try:
                job_inputs = inputs.for_job(job)
                key = store.key(job, job_inputs)
            except OSError:  # an input that cannot be read now: run the report (it says what is wrong), uncached
                job_inputs, key = None, None
            hit = store.lookup(job, key)
            if hit is not None:
                result = ReportResult(
                    job, out / f"{job.name}.html", hit.seconds, section_errors=hit.section_errors, cached=True
                )
            else:
                running.add(job.name)
                try:
                    provenance = inputs.provenance_fields(job, job_inputs) if job_inputs is not None else None
                    written = run.render(job, out, hide_code, "python3", cell_timeout, provenance)
                finally:
                    running.discard(job.name)
                if written is None:  # stopped by a signal: nothing written
                    interrupted.append(job.name)
                    return None
                result = ReportResult(
                    job, written.path, time.perf_counter() - t0, section_errors=written.section_errors
                )
                store.store(job, key, result, written.files)
        except ReportError as exc:
            return ReportResult(job, None, time.perf_counter() - t0, str(exc))
        except Exception as exc:  # noqa: BLE001 - a fault of one report must not stop the others
            error = f"report '{job.name}' could not be produced: {type(exc).__name__}: {exc}"
            return ReportResult(job, None, time.perf_counter() - t0, error)
        if printer is not None and run.signum is None:
            result = printer.add_pdf(result, out)
        return result

    with _ReportRun() as run:
        bar = tqdm(total=len(jobs), desc="reports", unit="notebook", disable=not progress)
        try:
            todo = []
            for i, job in enumerate(jobs):
                if job.name in not_applicable:
                    slots[i] = ReportResult(job, None, 0.0, not_applicable=not_applicable[job.name])
                    bar.update(1)
                else:
                    todo.append((i, job))
            with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="bsc-report") as pool:
                pending = {pool.submit(one, job): i for i, job in todo}
                shown = ""
                while pending:
                    done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        slots[pending.pop(future)] = future.result()
                        bar.update(1)
                    cached = sum(1 for r in slots if r is not None and r.cached)
                    now = f"running: {', '.join(sorted(running)) or '-'}" + (f"; {cached} cached" if cached else "")
                    if now != shown:  # the notebooks running now, and how many were reused
                        bar.set_postfix_str(now)
                        shown = now
        finally:
            bar.close()
            if printer is not None:
                printer.close()
        results = [r for r in slots if r is not None]
        try:
            index = build_index(out, results)
        except ReportError as exc:
            index_error = str(exc)
    if run.signum is not None:
        raise ReportInterrupted(
            run.signum, results, len(jobs), ", ".join(sorted(interrupted)) or None, index, index_error
        )
    if index_error is not None:
        raise ReportIndexError(index_error, results)
    return results


def _not_applicable(data: Any, jobs: Sequence[ReportJob]) -> dict[str, str]:
    """For each job that cannot run on ``data``: what it needs, in words (none when ``data`` is None)."""
    if data is None:
        return {}
    if not isinstance(data, Validation):
        from bsc_toolkit import report_cache

        data = Validation(not_applicable=report_cache._not_applicable(data, (job.notebook.stem for job in jobs)))
    found = {job.name: data.not_applicable.get(job.notebook.stem) for job in jobs}
    return {name: needs for name, needs in found.items() if needs}


class _PdfPrinter:
    """The PDFs of a run, printed by one headless Chromium started at the first PDF (one page at a time).

    Chromium that is missing or cannot start is found out once: every report then gets
    ``pdf_error`` "PDFs skipped: <why>". A browser that fails on a page is closed, and the next
    page starts a new one.
    """

    def __init__(self) -> None:
        self._browser: Any = None
        self._unavailable: str | None = None
        self._lock = threading.Lock()

    def add_pdf(self, result: ReportResult, out: Path) -> ReportResult:
        """``result`` with its PDF printed beside the HTML (kept when a reused report has an up-to-date one)."""
        from bsc_toolkit.browser import Browser, BrowserUnavailable

        if not result.ok or result.html_path is None:
            return result
        target = out / f"{result.job.name}.pdf"
        html = Path(result.html_path)
        with self._lock:
            if self._unavailable is not None:
                return replace(result, pdf_error=self._unavailable)
            try:
                if not (result.cached and target.is_file() and target.stat().st_mtime >= html.stat().st_mtime):
                    if self._browser is None:
                        browser = Browser()
                        browser.start()
                        self._browser = browser
                    self._browser.print_pdf(html, target)
            except BrowserUnavailable as exc:
                self._unavailable = f"PDFs skipped: {exc}"
                return replace(result, pdf_error=self._unavailable)
            except Exception as exc:  # noqa: BLE001 - the browser fails in many ways; the report itself is fine
                self._close()
                return replace(result, pdf_error=f"the PDF of '{result.job.name}' could not be printed: {exc}")
        return replace(result, pdf_path=target)

    def _close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None

    def close(self) -> None:
        """Stop the browser, if one was started."""
        with self._lock:
            self._close()
