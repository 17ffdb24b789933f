"""Check cells for the teaching notebooks: compare a student's estimate with the truth.

Used as the last line of an exercise cell::

    check_estimate("weight of quality", my_estimate, truth.driver_weights["quality"], tolerance=0.15)

shows "fill in ..." while the estimate is still ``None`` and otherwise how close
the estimate came (``your estimate 0.33 vs truth 0.35: within 6%``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

__all__ = ["EstimateCheck", "check_estimate", "check_estimates"]


@dataclass(frozen=True)
class EstimateCheck:
    """Result of comparing one estimate with the truth.

    Attributes
    ----------
    name : str
        What was estimated.
    estimate, truth : float or None
        The student's value (None = not filled in) and the true value.
    error : float or None
        ``estimate - truth``.
    relative_error : float or None
        ``|error| / |truth|`` (None if the truth is 0).
    passed : bool or None
        Whether the estimate is within the tolerance (None = not filled in).
    message : str
        One-line verdict.
    """

    name: str
    estimate: float | None
    truth: float
    error: float | None
    relative_error: float | None
    passed: bool | None
    message: str

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour = {True: "#1b5e20", False: "#b71c1c", None: "#e65100"}[self.passed]
        bg = {True: "#e8f5e9", False: "#ffebee", None: "#fff3e0"}[self.passed]
        return (
            f'<div style="padding:6px 10px;border-left:4px solid {colour};background:{bg};'
            f'color:{colour};font-family:sans-serif">{html.escape(self.message)}</div>'
        )


def check_estimate(
    name: str,
    estimate: float | None,
    truth: float,
    tolerance: float = 0.1,
    relative: bool = True,
) -> EstimateCheck:
    """Compare a student's estimate with the true value.

    Parameters
    ----------
    name : str
        What is estimated (shown in the message).
    estimate : float or None
        The student's estimate; ``None`` (the placeholder) asks them to fill it in.
    truth : float
        The true value (e.g. from :class:`bsc_toolkit.data.simulate.Truth`).
    tolerance : float
        Accepted distance: a fraction of ``|truth|`` if ``relative`` (0.1 =
        within 10 %), otherwise in the estimate's units. With a truth of 0 the
        relative tolerance is applied as an absolute one.
    relative : bool
        Whether ``tolerance`` is relative.

    Returns
    -------
    EstimateCheck
        Prints as its message; renders coloured in a notebook.
    """
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    if estimate is None:
        return EstimateCheck(
            name,
            None,
            float(truth),
            None,
            None,
            None,
            f"Fill in your estimate of {name} (replace None) and run this cell again.",
        )
    try:
        value = float(estimate)
    except (TypeError, ValueError):
        raise ValueError(f"the estimate of {name} must be a number, got {estimate!r}") from None
    if not math.isfinite(value):
        return EstimateCheck(
            name, value, float(truth), None, None, False, f"Your estimate of {name} is {value}: check your calculation."
        )
    truth = float(truth)
    error = value - truth
    rel = abs(error) / abs(truth) if truth != 0 else None
    if relative and rel is not None:
        passed = rel <= tolerance + 1e-12
        closeness = f"within {rel:.0%}" if passed else f"off by {rel:.0%}"
        limit = f"tolerance {tolerance:.0%}"
    else:
        passed = abs(error) <= tolerance + 1e-12
        closeness = f"within {abs(error):.3g}" if passed else f"off by {abs(error):.3g}"
        limit = f"tolerance {tolerance:.3g}"
    verdict = "well done" if passed else "not close enough yet -- check your model specification"
    message = f"{name}: your estimate {value:.3g} vs truth {truth:.3g}: {closeness} ({limit}), {verdict}."
    return EstimateCheck(name, value, truth, error, rel, passed, message)


class _ChecksTable(pd.DataFrame):
    """DataFrame of checks whose notebook rendering adds a one-line verdict."""

    @property
    def _constructor(self):  # keep the subclass through pandas operations
        return _ChecksTable

    def _repr_html_(self) -> str:  # type: ignore[override]
        filled = self["passed"].notna()
        if not filled.any():
            head = "Fill in your estimates (replace None) and run this cell again."
        else:
            head = f"{int(self['passed'].eq(True).sum())} of {len(self)} estimates within tolerance."
        return f"<p><b>{html.escape(head)}</b></p>" + super()._repr_html_()


def check_estimates(
    estimates: Mapping[str, float | None] | None,
    truth: Mapping[str, float],
    tolerance: float = 0.1,
    relative: bool = True,
) -> pd.DataFrame:
    """Check several named estimates at once (e.g. the four driver weights).

    Parameters
    ----------
    estimates : mapping or None
        Name -> estimate; ``None`` (or a missing name) means not filled in.
    truth : mapping
        Name -> true value; defines the names checked.
    tolerance, relative
        As in :func:`check_estimate`.

    Returns
    -------
    pandas.DataFrame
        One row per name: ``name, estimate, truth, error, relative_error,
        passed, message``.
    """
    estimates = dict(estimates or {})
    unknown = sorted(set(estimates) - set(truth))
    if unknown:
        raise ValueError(f"no true value for {unknown}; expected names {list(truth)}")
    rows = [check_estimate(k, estimates.get(k), v, tolerance, relative) for k, v in truth.items()]
    return _ChecksTable(
        [
            {
                "name": r.name,
                "estimate": r.estimate,
                "truth": r.truth,
                "error": r.error,
                "relative_error": r.relative_error,
                "passed": r.passed,
                "message": r.message,
            }
            for r in rows
        ]
    )
