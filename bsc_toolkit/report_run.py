"""Running reports: a run's scratch folder, kernels and signal handling, and the execution of one notebook.

:class:`_ReportRun` is the context of a run (of :func:`bsc_toolkit.report.render_report` or
:func:`bsc_toolkit.report.run_reports`): it works in a scratch folder of its own
(``$TMPDIR/bsc-report-*``: the executed notebooks and the kernels' connection files) that it removes
however the run ends. Several notebooks may run at once (one thread each, each with its own kernel
started in the notebook's folder, with ``BSC_REPORT=1`` in its environment); the run keeps the set
of running kernels. SIGINT and SIGTERM during a run are only recorded and every running kernel is
killed, so no exception lands in the middle of papermill, nbclient or a file write; the previous
signal handlers are restored after the run.

Every report is written atomically: the notebook runs into the scratch folder, is converted to a
self-contained page with its provenance footer (:func:`bsc_toolkit.report_html.export_report`), and
only a complete HTML file replaces the previous report, its key tables written beside it
(:func:`_write_html`). A notebook that fails leaves its previous report untouched; the executed copy
with the error is kept in ``reports/_failed/`` for debugging (atomic writes:
:mod:`bsc_toolkit._atomic`). A report written is read for sections that could not be
computed (:func:`section_errors`), which the run reports without withholding the report.

Internal to :mod:`bsc_toolkit.report`, which holds the public API.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bsc_toolkit._atomic import atomic_copy, atomic_write_text
from bsc_toolkit.report_params import declared_parameters, notebook_parameters
from bsc_toolkit.report_types import ReportError, ReportJob

if TYPE_CHECKING:
    import nbformat


class _Stopped(Exception):
    """Internal: the run's kernel was stopped by a signal."""


class _Written(NamedTuple):
    """Internal: a report written, the sections in it that could not be computed, and its table files."""

    path: Path
    section_errors: tuple[str, ...]
    files: tuple[Path, ...] = ()


def section_errors(page: str) -> tuple[str, ...]:
    """The sections of a report that could not be computed, in page order.

    Read from the hidden markers :class:`bsc_toolkit.capabilities.report_section` leaves
    (:func:`bsc_toolkit.capabilities.section_markers`): the sections whose status is ``error``,
    named ``report.key`` (e.g. ``"satisfaction_retention_value.what_if"``). A page without markers
    (a notebook that does not use ``report_section``) has none.

    Parameters
    ----------
    page : str
        The report's HTML.

    Returns
    -------
    tuple of str
    """
    from bsc_toolkit.capabilities import section_markers

    return tuple(section for section, status in section_markers(page).items() if status == "error")


class _Task:
    """Internal: one notebook being executed: its kernel manager, and whether a signal killed its kernel."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.kernel: Any = None  # the kernel manager of this notebook's kernel (once created)
        self.killed = False


class _ReportRun:
    """One run's scratch folder, its kernels and its handling of SIGINT and SIGTERM.

    Used as a context manager around a run: it creates ``$TMPDIR/bsc-report-*`` (executed notebooks
    and the kernels' connection files go there; the kernels' ``JUPYTER_RUNTIME_DIR`` too) and removes
    it on exit. Several notebooks may run at once, each from its own thread (:meth:`render` is
    thread-safe); the run keeps the set of their kernels. A signal is only recorded, and every
    running kernel killed (with its process group), so no exception lands in the middle of
    papermill, nbclient or a file write; the run checks ``signum`` before each report. Handlers are
    installed only in the main thread, not over a signal that is ignored, and the previous ones are
    restored on exit.

    Kernels start in their notebook's folder with ``BSC_REPORT=1`` in their environment (notebooks
    show static outputs instead of widgets then).
    """

    def __init__(self) -> None:
        self.folder = Path()
        self.signum: int | None = None
        self._tasks: set[_Task] = set()  # the notebooks running now
        self._lock = threading.Lock()
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
            tasks = list(self._tasks)
            for task in tasks:
                self._kill_kernel(task)
            for task in tasks:
                self._reap(task)
            shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
            if self._log_disabled is not None:
                logging.getLogger("papermill").disabled = self._log_disabled

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
            # papermill's logger would report the kernels killed here as deaths ("Kernel died while
            # waiting for execute reply"): silence it for the rest of the run
            papermill_log = logging.getLogger("papermill")
            self._log_disabled = papermill_log.disabled
            papermill_log.disabled = True
        for task in list(self._tasks):  # a copy: worker threads add and remove tasks
            self._kill_kernel(task)

    @staticmethod
    def _process(task: _Task) -> Any:
        provisioner = getattr(task.kernel, "provisioner", None)
        return getattr(provisioner, "process", None)

    def _kill_kernel(self, task: _Task) -> None:
        """Kill a task's kernel and its process group (safe inside a signal handler: no waiting)."""
        process = self._process(task)
        if process is None or process.returncode is not None:
            return
        task.killed = True
        try:
            if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:  # its own group (Jupyter's default)
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except OSError:
            pass  # already gone

    def _reap(self, task: _Task) -> None:
        process = self._process(task)
        if process is not None:
            try:
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - nothing more can be done about a kernel that will not die
                pass

    def kernel_manager_class(self, task: _Task) -> type:
        """A kernel manager class whose kernel the run can find, stop and clean up after."""
        from jupyter_client.manager import AsyncKernelManager

        run = self

        class RunKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                name = f"kernel-{uuid.uuid4().hex}"
                self.connection_file = str(run.folder / f"{name}.json")
                sockets = str(run.folder / f"k{name[-8:]}")  # ipc sockets are "<this>-<n>"
                if os.name == "posix" and len(sockets) + 8 < _UNIX_SOCKET_PATH_MAX:
                    # Unix sockets in the run's scratch folder instead of TCP on localhost: no port is
                    # opened, and ipykernel does not warn "running over TCP without encryption" per kernel
                    # (a scratch folder too deep for a socket path keeps TCP)
                    self.transport = "ipc"
                    self.ip = sockets
                task.kernel = self

            async def start_kernel(self, **kwargs: Any) -> None:
                env = dict(kwargs.pop("env", None) or os.environ)
                env["JUPYTER_RUNTIME_DIR"] = str(run.folder)
                env["BSC_REPORT"] = "1"
                # the notebook's folder, given here and not through papermill's cwd (a chdir of the
                # whole process, which notebooks running in other threads would share)
                kwargs["cwd"] = str(task.cwd)
                await super().start_kernel(env=env, **kwargs)
                if run.signum is not None:  # the signal came while the kernel was starting
                    run._kill_kernel(task)

        return RunKernelManager

    def render(
        self,
        job: ReportJob,
        out: Path,
        hide_code: bool,
        kernel_name: str,
        timeout: int | None,
        provenance: dict[str, Any] | None = None,
    ) -> _Written | None:
        """Execute ``job`` and write its report; None if a signal stopped it (nothing written).

        ``provenance`` holds the fields of :class:`bsc_toolkit.report_html.Provenance` known before
        the run (the start time and duration are added here); None: a footer without hashes.
        """
        job = replace(job, parameters=notebook_parameters(job.parameters, declared_parameters(job.notebook)))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"cannot create the report folder '{out}': {_os_reason(exc)}") from exc
        if self.signum is not None:
            return None
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        try:
            nb = self._execute(job, out, kernel_name, timeout)
        except _Stopped:
            return None
        return _write_html(job, nb, out, hide_code, provenance, started=started, seconds=time.perf_counter() - t0)

    def _execute(self, job: ReportJob, out: Path, kernel_name: str, timeout: int | None) -> nbformat.NotebookNode:
        """Run the notebook with papermill in the scratch folder and return it executed (the copy is removed).

        Raises
        ------
        ReportError
            With the failing cell; the executed copy is kept in ``out/_failed/``.
        _Stopped
            If a signal killed the kernel.
        """
        import nbformat
        import papermill as pm

        executed = self.folder / f"{uuid.uuid4().hex[:8]}-{job.name}.ipynb"
        task = _Task(job.notebook.resolve().parent)
        with self._lock:
            self._tasks.add(task)
        try:
            try:
                for attempt in range(1 + KERNEL_START_RETRIES):
                    try:
                        pm.execute_notebook(
                            str(job.notebook),
                            str(executed),
                            parameters=dict(job.parameters),
                            kernel_name=kernel_name,
                            progress_bar=False,
                            log_output=False,
                            execution_timeout=timeout,
                            kernel_manager_class=self.kernel_manager_class(task),
                        )
                        break
                    except Exception as exc:
                        # a kernel that died before answering its first request ran no cell: start a new one
                        if task.killed or attempt == KERNEL_START_RETRIES or not _kernel_did_not_start(exc):
                            raise
                        self._reap(task)
                        task.kernel = None
                        executed.unlink(missing_ok=True)
            except Exception as exc:
                if task.killed:
                    raise _Stopped from exc
                detail = _describe_execution_error(exc, timeout)
                where = ""
                if executed.exists():
                    kept = out / "_failed" / f"{job.name}.ipynb"
                    try:
                        kept.parent.mkdir(parents=True, exist_ok=True)
                        atomic_copy(executed, kept)
                        where = f"; executed notebook with the error saved to '{kept}'"
                    except OSError as copy_exc:
                        where = f"; the executed notebook could not be saved to '{kept}': {_os_reason(copy_exc)}"
                    executed.unlink(missing_ok=True)
                raise ReportError(f"notebook '{job.notebook}' failed: {detail}{where}") from exc
            finally:
                self._reap(task)
        finally:
            with self._lock:
                self._tasks.discard(task)
        if task.killed:  # stopped after its last cell: a complete run is not certain, write nothing
            raise _Stopped
        try:
            return nbformat.read(executed, as_version=4)
        finally:
            executed.unlink(missing_ok=True)


def _unknown_provenance(job: ReportJob) -> dict[str, Any]:
    """Provenance fields for a report rendered without the run's hashes."""
    from bsc_toolkit import __version__

    return {
        "package_version": __version__,
        "source_hash": "",
        "data_hash": "",
        "data_source": str(job.parameters.get("data_dir") or "the notebook's default"),
        "notebook": job.notebook.name,
        "notebook_hash": "",
        "parameters": dict(job.parameters),
    }


#: Converting to HTML draws math with matplotlib, whose state is not thread-safe: one conversion at a time.
_EXPORT_LOCK = threading.Lock()


def _write_html(
    job: ReportJob,
    nb: Any,
    out: Path,
    hide_code: bool,
    provenance: dict[str, Any] | None = None,
    *,
    started: datetime | None = None,
    seconds: float = float("nan"),
) -> _Written:
    """Convert an executed notebook to a self-contained HTML report with its provenance footer, write
    it atomically with its key tables beside it (``out/<name>/``), and read its sections that failed.

    ``provenance`` holds the fields of :class:`bsc_toolkit.report_html.Provenance` but the run's
    ``started`` and ``seconds`` (given apart; default now, and unknown); None: a footer without
    hashes, from the job's parameters. A PDF of an earlier version of the report
    (``out/<name>.pdf``) is removed: it no longer matches.
    """
    from bsc_toolkit.report_html import Provenance, export_report, write_tables

    fields = dict(provenance) if provenance is not None else _unknown_provenance(job)
    info = Provenance(**fields, started=started or datetime.now(timezone.utc), seconds=seconds)
    try:
        with _EXPORT_LOCK:
            exported = export_report(
                nb, title=job.title, hide_code=hide_code, provenance=info, base_dir=job.notebook.parent
            )
    except Exception as exc:
        detail = str(exc) if isinstance(exc, ReportError) else f"{type(exc).__name__}: {exc}"
        raise ReportError(f"notebook '{job.notebook}' ran but its report could not be made: {detail}") from exc
    target = out / f"{job.name}.html"
    # the tables are written to a staging folder first: a report whose tables cannot be written keeps
    # its previous HTML and tables; then the HTML replaces the old one, then the tables folder is swapped in
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{job.name}.tables-", dir=out))
    except OSError as exc:
        raise ReportError(
            f"notebook '{job.notebook}' ran but its report could not be written: {_os_reason(exc, out)}"
        ) from exc
    try:
        try:
            staged = write_tables(staging, job.name, exported, info)
        except OSError as exc:
            raise ReportError(
                f"notebook '{job.notebook}' ran but its tables could not be written: {_os_reason(exc)}"
            ) from exc
        try:
            atomic_write_text(target, exported.html)
        except OSError as exc:
            raise ReportError(
                f"notebook '{job.notebook}' ran but its report could not be written: {_os_reason(exc, target)}"
            ) from exc
        try:
            (out / f"{job.name}.pdf").unlink(missing_ok=True)
        except OSError:
            pass
        final = out / job.name
        old = staging / ".previous"
        try:
            if final.exists():
                os.replace(final, old)
            os.replace(staging / job.name, final)
        except OSError as exc:
            raise ReportError(
                f"notebook '{job.notebook}' ran and its report was written, but its tables could not be: "
                f"{_os_reason(exc)}"
            ) from exc
        tables = [final / p.relative_to(staging / job.name) for p in staged]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        (out / "_failed" / f"{job.name}.ipynb").unlink(missing_ok=True)
    except OSError:
        pass  # a stale copy of an earlier failure that cannot be removed does not make this report wrong
    return _Written(target, section_errors(exported.html), tuple(tables))


#: The longest path of a Unix socket (sun_path holds 108 bytes on Linux, 104 on macOS, with the final NUL).
_UNIX_SOCKET_PATH_MAX = 103

#: How many times a kernel that died before answering its first request is replaced (it ran no cell:
#: a busy machine or a slow start, not the notebook).
KERNEL_START_RETRIES = 2


def _kernel_did_not_start(exc: BaseException) -> bool:
    """Whether ``exc`` says the kernel died before replying to its first (``kernel_info``) request."""
    return "died before replying to kernel_info" in str(exc)


def _describe_execution_error(exc: Exception, timeout: int | None = None) -> str:
    """A failed execution in words: the cell, the error's name and value; for a cell that timed out,
    the timeout, how to change it and the cell's first line."""
    # nbclient's CellTimeoutError (a TimeoutError), known by name: nbclient comes with papermill
    if isinstance(exc, TimeoutError) and any(c.__name__ == "CellTimeoutError" for c in type(exc).__mro__):
        # nbclient's message shows the cell between two rules of dashes: keep its first line
        parts = re.split(r"^-{5,}$", str(exc), flags=re.M)
        first = parts[1].strip().splitlines()[0] if len(parts) >= 3 and parts[1].strip() else None
        cell = f" (the cell starting {first!r})" if first else ""
        limit = f"the cell timeout of {timeout} s" if timeout is not None else "the cell timeout"
        return f"a cell ran longer than {limit}{cell}; bsc report --cell-timeout SECONDS allows more"
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", None)
    if ename:
        text = f"{ename}: {evalue}"
        return f"cell {cell}: {text}" if cell is not None else text
    return f"{type(exc).__name__}: {exc}"


def _os_reason(exc: OSError, path: Path | None = None) -> str:
    """An OSError in words: the system's reason and the file it concerns."""
    reason = exc.strerror or str(exc)
    where = exc.filename or path
    return f"{reason} ('{where}')" if where else reason
