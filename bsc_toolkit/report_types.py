"""The records and errors every report module shares: :class:`ReportJob`, :class:`ReportResult`,
:class:`ReportError`, :class:`ReportIndexError` and :class:`ReportInterrupted`.

They live apart from :mod:`bsc_toolkit.report` so that the modules it uses (:mod:`bsc_toolkit.report_params`,
:mod:`bsc_toolkit.report_run`, :mod:`bsc_toolkit.report_index`) can import them without an import cycle.
:mod:`bsc_toolkit.report` re-exports all of them: import them from there.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ReportError",
    "ReportIndexError",
    "ReportInterrupted",
    "ReportJob",
    "ReportResult",
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

    By the time it is raised the running kernels are stopped, the run's scratch folder (executed
    notebooks, kernel connection files) is removed and the index is rebuilt from the reports that
    finished; the interrupted reports keep their previous versions. A subclass of
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
        The reports that were running when the signal came (their names, comma-separated).
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
    """Outcome of one :class:`ReportJob`.

    Attributes
    ----------
    job : ReportJob
    html_path : Path or None
        The report written (None if the notebook failed or does not apply to the data).
    seconds : float
    error : str or None
        Why the notebook failed (its previous report, if any, was kept).
    not_applicable : str or None
        What the data lack for the report to run at all (it was not run).
    section_errors : tuple of str
        Sections of a written report that could not be computed (markers of status ``error``
        left by :class:`bsc_toolkit.capabilities.report_section`, e.g.
        ``"satisfaction_retention_value.what_if"``), in page order. The report is written and
        ``ok``, but not ``complete``.
    cached : bool
        The report was not run: its HTML (and tables) from an earlier run with the same notebook,
        parameters, package source and data were reused (:mod:`bsc_toolkit.report_cache`);
        ``seconds`` and ``section_errors`` are those of that run.
    pdf_path : Path or None
        The PDF printed beside the HTML (``bsc report --pdf``), when there is one.
    pdf_error : str or None
        Why no PDF was printed when one was asked for (the report itself is fine).
    """

    job: ReportJob
    html_path: Path | None
    seconds: float
    error: str | None = None
    not_applicable: str | None = None
    section_errors: tuple[str, ...] = ()
    cached: bool = False
    pdf_path: Path | None = None
    pdf_error: str | None = None

    @property
    def ok(self) -> bool:
        """True unless the notebook failed (a report that does not apply to the data is not a failure).

        A report with sections that could not be computed is written, so it is ok; see ``complete``.
        """
        return self.error is None

    @property
    def complete(self) -> bool:
        """True if the notebook did not fail and every section of its report was computed."""
        return self.error is None and not self.section_errors
