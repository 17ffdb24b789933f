"""Execute parameterized notebooks with papermill and render them to HTML.

Every report is written atomically: the notebook runs into a temporary file,
is converted, and only a complete HTML file replaces the previous report. A
notebook that fails leaves its previous report untouched; the executed copy
with the error is kept in ``reports/_failed/`` for debugging.

Which notebooks make up the report suite, their titles, order and extra
parameter variants come from each notebook's metadata::

    "bsc": {"title": "Customer KPIs", "order": 0,
            "variants": {"solutions": {"solutions": true}}}

Parameters are checked before any kernel starts (:mod:`bsc_toolkit.report_params`): a name no
selected notebook declares, or a value that does not fit the notebook's default, is an error.

A run works in a scratch folder of its own (``$TMPDIR/bsc-report-*``: the executed notebooks and the
kernels' connection files) that it removes however it ends. SIGINT and SIGTERM during a run stop the
running kernel, remove the scratch folder, rebuild the index from the reports that finished (the
interrupted one keeps its previous version) and raise :class:`ReportInterrupted`; the previous signal
handlers are restored after the run.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "ReportError",
    "ReportIndexError",
    "ReportInterrupted",
    "ReportJob",
    "ReportResult",
    "build_index",
    "check_output_dir",
    "discover_notebooks",
    "packaged_notebooks_dir",
    "plan_reports",
    "render_report",
    "run_reports",
]


class ReportError(RuntimeError):
    """A notebook could not be executed or rendered."""


class ReportIndexError(ReportError):
    """The reports ran but ``index.html`` could not be written; ``results`` holds their outcomes."""

    def __init__(self, message: str, results: Sequence[ReportResult]) -> None:
        super().__init__(message)
        self.results = list(results)


class ReportInterrupted(KeyboardInterrupt):
    """A report run stopped by SIGINT or SIGTERM, after cleaning up.

    By the time it is raised the running kernel is stopped, the run's scratch folder (executed
    notebooks, kernel connection files) is removed and the index is rebuilt from the reports that
    finished; the interrupted report keeps its previous version. A subclass of
    :class:`KeyboardInterrupt`, so ``except Exception`` does not swallow it.

    Attributes
    ----------
    signum : int
        The signal received.
    results : list of ReportResult
        The reports that finished before the signal.
    total : int
        The reports the run was asked for.
    running : str or None
        The report that was running when the signal came.
    index_path : Path or None
        The rebuilt index (None if it could not be written; see ``index_error``).
    index_error : str or None
    """

    def __init__(
        self,
        signum: int,
        results: Sequence[ReportResult],
        total: int,
        running: str | None = None,
        index_path: Path | None = None,
        index_error: str | None = None,
    ) -> None:
        super().__init__(signum)
        self.signum = signum
        self.results = list(results)
        self.total = total
        self.running = running
        self.index_path = index_path
        self.index_error = index_error

    @property
    def signal_name(self) -> str:
        """``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + int(self.signum)

    def __str__(self) -> str:
        index = (
            f"index rebuilt at {self.index_path}"
            if self.index_path is not None
            else f"index not rebuilt: {self.index_error}"
            if self.index_error
            else "no index written"
        )
        return f"interrupted ({self.signal_name}): {len(self.results)} of {self.total} reports finished; {index}"


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
    from bsc_toolkit.report_params import check_parameter_names, declared_parameters, notebook_parameters

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


def _declared_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell (parsed with ast)."""
    from bsc_toolkit.report_params import declared_parameters

    return set(declared_parameters(path))


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


def _os_reason(exc: OSError, path: Path | None = None) -> str:
    """An OSError in words: the system's reason and the file it concerns."""
    reason = exc.strerror or str(exc)
    where = exc.filename or path
    return f"{reason} ('{where}')" if where else reason


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
        The HTML file.

    Raises
    ------
    ReportError
        With the notebook, the failing cell and the error (or the file that could not be
        written); the previous report (if any) is left untouched.
    ReportInterrupted
        On SIGINT or SIGTERM: the kernel is stopped, nothing is written, the previous report is kept.
    """
    with _ReportRun() as run:
        path = run.render(job, Path(out_dir), hide_code, kernel_name, timeout)
    if run.signum is not None:
        raise ReportInterrupted(run.signum, [] if path is None else [ReportResult(job, path, 0.0)], 1)
    assert path is not None
    return path


class _Stopped(Exception):
    """Internal: the run's kernel was stopped by a signal."""


class _ReportRun:
    """One run's scratch folder, its kernels and its handling of SIGINT and SIGTERM.

    Used as a context manager around a run: it creates ``$TMPDIR/bsc-report-*`` (executed notebooks
    and the kernels' connection files go there; the kernels' ``JUPYTER_RUNTIME_DIR`` too) and removes
    it on exit. A signal is only recorded, and the running kernel killed (with its process group), so
    no exception lands in the middle of papermill, nbclient or a file write; the run checks
    ``signum`` between reports. Handlers are installed only in the main thread, not over a signal
    that is ignored, and the previous ones are restored on exit.
    """

    def __init__(self) -> None:
        self.folder = Path()
        self.signum: int | None = None
        self.kernel: Any = None  # the kernel manager of the notebook running now
        self.killed = False  # the running kernel was killed on a signal
        self._previous: dict[int, Any] = {}
        self._log_disabled: bool | None = None

    def __enter__(self) -> _ReportRun:
        self.folder = Path(tempfile.mkdtemp(prefix="bsc-report-"))
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(signum)
                if previous is None or previous == signal.SIG_IGN:
                    continue
                self._previous[signum] = previous
                signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._kill_kernel()
            self._reap()
            shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
            if self._log_disabled is not None:
                logging.getLogger("papermill").disabled = self._log_disabled

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
            # papermill's logger would report the kernel killed here as a death ("Kernel died while
            # waiting for execute reply"): silence it for the rest of the run
            papermill_log = logging.getLogger("papermill")
            self._log_disabled = papermill_log.disabled
            papermill_log.disabled = True
        self._kill_kernel()

    def _process(self) -> Any:
        provisioner = getattr(self.kernel, "provisioner", None)
        return getattr(provisioner, "process", None)

    def _kill_kernel(self) -> None:
        """Kill the running kernel and its process group (safe inside a signal handler: no waiting)."""
        process = self._process()
        if process is None or process.returncode is not None:
            return
        self.killed = True
        try:
            if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:  # its own group (Jupyter's default)
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except OSError:
            pass  # already gone

    def _reap(self) -> None:
        process = self._process()
        if process is not None:
            try:
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - nothing more can be done about a kernel that will not die
                pass

    def kernel_manager_class(self) -> type:
        """A kernel manager class whose kernels the run can find, stop and clean up after."""
        from jupyter_client.manager import AsyncKernelManager

        run = self

        class RunKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.connection_file = str(run.folder / f"kernel-{uuid.uuid4().hex}.json")
                run.kernel = self

            async def start_kernel(self, **kwargs: Any) -> None:
                env = dict(kwargs.pop("env", None) or os.environ)
                env["JUPYTER_RUNTIME_DIR"] = str(run.folder)
                await super().start_kernel(env=env, **kwargs)
                if run.signum is not None:  # the signal came while the kernel was starting
                    run._kill_kernel()

        return RunKernelManager

    def render(self, job: ReportJob, out: Path, hide_code: bool, kernel_name: str, timeout: int | None) -> Path | None:
        """Execute ``job`` and write its report; None if a signal stopped it (nothing written)."""
        from bsc_toolkit.report_params import declared_parameters, notebook_parameters

        params = notebook_parameters(job.parameters, declared_parameters(job.notebook))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"cannot create the report folder '{out}': {_os_reason(exc)}") from exc
        if self.signum is not None:
            return None
        try:
            nb = self._execute(job, params, out, kernel_name, timeout)
        except _Stopped:
            return None
        return _write_html(job, nb, out, hide_code)

    def _execute(self, job: ReportJob, params: dict[str, Any], out: Path, kernel_name: str, timeout: int | None):
        import papermill as pm

        executed = self.folder / f"{uuid.uuid4().hex[:8]}-{job.name}.ipynb"
        self.killed = False
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
                kernel_manager_class=self.kernel_manager_class(),
            )
        except Exception as exc:
            if self.killed:
                raise _Stopped from exc
            detail = _describe_execution_error(exc)
            where = ""
            if executed.exists():
                kept = out / "_failed" / f"{job.name}.ipynb"
                try:
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    _atomic_copy(executed, kept)
                    where = f"; executed notebook with the error saved to '{kept}'"
                except OSError as copy_exc:
                    where = f"; the executed notebook could not be saved to '{kept}': {_os_reason(copy_exc)}"
                executed.unlink(missing_ok=True)
            raise ReportError(f"notebook '{job.notebook}' failed: {detail}{where}") from exc
        finally:
            self._reap()
            self.kernel = None
        if self.killed:  # stopped after its last cell: a complete run is not certain, write nothing
            raise _Stopped
        try:
            return nbformat.read(executed, as_version=4)
        finally:
            executed.unlink(missing_ok=True)


def _write_html(job: ReportJob, nb: Any, out: Path, hide_code: bool) -> Path:
    """Convert an executed notebook to HTML and write it atomically."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", exclude_input=hide_code, exclude_input_prompt=True, exclude_output_prompt=True
    )
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": job.title}})
    except Exception as exc:
        raise ReportError(f"notebook '{job.notebook}' ran but could not be converted to HTML: {exc}") from exc
    target = out / f"{job.name}.html"
    try:
        _atomic_write_text(target, body)
    except OSError as exc:
        raise ReportError(
            f"notebook '{job.notebook}' ran but its report could not be written: {_os_reason(exc, target)}"
        ) from exc
    try:
        (out / "_failed" / f"{job.name}.ipynb").unlink(missing_ok=True)
    except OSError:
        pass  # a stale copy of an earlier failure that cannot be removed does not make this report wrong
    return target


def _atomic_copy(source: Path, target: Path) -> None:
    """Copy a file so that ``target`` is either its old version or the complete copy."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    except (ValueError, KeyError, TypeError, OSError):
        return {}


def build_index(out_dir: str | Path = "reports", results: Iterable[ReportResult] = ()) -> Path:
    """Write ``index.html`` (and ``manifest.json``) linking every report.

    Entries of earlier runs whose HTML still exists are kept; results of this
    run update their entries (a failed run keeps the previous report and
    marks it stale).

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
    index = out / "index.html"
    try:
        _atomic_write_text(out / "manifest.json", json.dumps(ordered, indent=2, default=str))
        _atomic_write_text(index, page)
    except OSError as exc:
        raise ReportError(f"cannot write the report index: {_os_reason(exc, index)}") from exc
    return index


def run_reports(
    jobs: Sequence[ReportJob],
    out_dir: str | Path = "reports",
    hide_code: bool = True,
    progress: bool = True,
    data: Any = None,
) -> list[ReportResult]:
    """Run every job (continuing past failures), then rebuild the index.

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
    data : CustomerData, optional
        The data set the jobs run on, loaded (and so validated) once: a report none of whose
        sections this data supports is not run and is listed as "not applicable: needs ...".

    Returns
    -------
    list of ReportResult
        One per job, in order; check ``.ok``.

    Raises
    ------
    ReportError
        Before any kernel starts: the report folder is not writable, or a scorecard is invalid.
    ReportIndexError
        After every job ran, if ``index.html`` could not be written (``.results`` has the outcomes).
    ReportInterrupted
        On SIGINT or SIGTERM: the running kernel is stopped, the scratch folder removed, the index
        rebuilt from the reports that finished (``.results``); the interrupted report keeps its
        previous version. The previous signal handlers are restored.
    """
    from tqdm.auto import tqdm

    from bsc_toolkit.report_params import check_scorecards

    check_output_dir(out_dir)
    check_scorecards(jobs)
    out = Path(out_dir)
    results: list[ReportResult] = []
    features = None
    if data is not None:
        from bsc_toolkit.capabilities import data_features, report_applicability

        features = data_features(data)
    running: str | None = None
    index: Path | None = None
    index_error: str | None = None
    with _ReportRun() as run:
        bar = tqdm(jobs, desc="reports", unit="notebook", disable=not progress)
        try:
            for job in bar:
                if run.signum is not None:
                    break
                bar.set_postfix_str(job.name)
                t0 = time.perf_counter()
                missing = report_applicability(data, job.notebook.stem, features) if data is not None else []
                if missing:
                    results.append(ReportResult(job, None, 0.0, not_applicable="; ".join(missing)))
                    continue
                running = job.name
                try:
                    path = run.render(job, out, hide_code, "python3", 600)
                except ReportError as exc:
                    path, error = None, str(exc)
                else:
                    error = None
                if path is None and error is None:  # stopped by a signal: nothing written
                    break
                results.append(ReportResult(job, path, time.perf_counter() - t0, error))
                running = None
        finally:
            bar.close()
        try:
            index = build_index(out, results)
        except ReportError as exc:
            index_error = str(exc)
    if run.signum is not None:
        raise ReportInterrupted(run.signum, results, len(jobs), running, index, index_error)
    if index_error is not None:
        raise ReportIndexError(index_error, results)
    return results
