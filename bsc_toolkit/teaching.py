"""Helpers of the teaching notebooks: check cells, the headline box and the tables they show.

Check cells compare a student's estimate with the truth. Used as the last line of an exercise cell::

    check_estimate("weight of quality", my_estimate, truth.driver_weights["quality"], tolerance=0.15)

shows "fill in ..." while the estimate is still ``None`` and otherwise how close
the estimate came (``your estimate 0.33 vs truth 0.35: within 6%``).

The rest is display glue: :func:`simulation_headline` (the headline box: NPS, CSAT and churn of the
simulated customer base's latest quarter), :func:`kpi_tables` and :func:`segment_means` (the KPI tables of
Teaching 1) and :func:`estimates_frame` / :func:`fit_note` (a statsmodels fit's estimates with intervals, and
whether it converged, for Teaching 2).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "EstimateCheck",
    "check_estimate",
    "check_estimates",
    "simulation_headline",
    "HEADLINE_KEYS",
    "kpi_tables",
    "segment_means",
    "estimates_frame",
    "readable_term",
    "fit_note",
]


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


#: Words for a check's ``passed`` (status never shown by colour alone).
_STATUS = {True: "within tolerance", False: "not close enough yet", None: "to fill in"}


class _ChecksTable(pd.DataFrame):
    """DataFrame of checks whose notebook rendering adds a one-line verdict and formats the table."""

    @property
    def _constructor(self):  # keep the subclass through pandas operations
        return _ChecksTable

    def _repr_html_(self) -> str:  # type: ignore[override]
        from bsc_toolkit.tables import table

        filled = self["passed"].notna()
        if not filled.any():
            head = "Fill in your estimates (replace None) and run this cell again."
        else:
            head = f"{int(self['passed'].eq(True).sum())} of {len(self)} estimates within tolerance."
            if self["passed"].eq(True).all():
                head += " Well done."
        frame = pd.DataFrame(self).assign(status=[_STATUS[None if pd.isna(p) else bool(p)] for p in self["passed"]])
        shown = table(
            frame[["name", "estimate", "truth", "error", "relative_error", "status"]],
            kinds={
                "name": "text",
                "estimate": "number",
                "truth": "number",
                "error": "number",
                "relative_error": "percent",
                "status": "text",
            },
            labels={
                "name": "estimate of",
                "estimate": "your estimate",
                "truth": "truth",
                "error": "error (yours - truth)",
                "relative_error": "relative error",
                "status": "status",
            },
            index=False,
        )
        return f"<p><b>{html.escape(head)}</b></p>" + shown._repr_html_()


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


# ------------------------------------------------------------------------------------ display glue
#: The headline figures of the teaching notebooks (keys of :func:`bsc_toolkit.headline.kpi_figures`).
HEADLINE_KEYS: tuple[str, ...] = ("nps", "csat_mean", "churn_rate")


def simulation_headline(
    sim: Any,
    title: str,
    *,
    subtitle: str | None = None,
    keys: Sequence[str] = HEADLINE_KEYS,
    freq: str | None = None,
) -> Any:
    """The headline box of a teaching notebook: the simulated customer base's latest-quarter KPIs.

    Parameters
    ----------
    sim : SimulatedData or CustomerData
        The simulated customer base (:func:`bsc_toolkit.data.simulate.simulate`) or a loaded data set.
    title : str
        Title of the box.
    subtitle : str, optional
        Default: the periods compared (:func:`bsc_toolkit.report_kpis.kpi_headline_subtitle`).
    keys : sequence of str
        The figures of :func:`bsc_toolkit.headline.kpi_figures` to show, in order (default NPS, CSAT mean,
        churn rate).
    freq : str, optional
        Period frequency (default: the data's, quarters for a simulation).

    Returns
    -------
    Headline
        Not yet shown: call ``.show()``. Filled by :func:`bsc_toolkit.report_kpis.fill_kpi_headline`
        (notes no figure carries are caveats of the box); a simulation adds one saying the data are
        simulated (seed and size).
    """
    from dataclasses import replace

    from bsc_toolkit.data.io import CustomerData
    from bsc_toolkit.headline import Headline, kpi_figures
    from bsc_toolkit.report_kpis import fill_kpi_headline

    data = sim if isinstance(sim, CustomerData) else CustomerData(sim.customers, sim.surveys, sim.transactions)
    kpi = kpi_figures(data, freq=freq)
    by_key = {f.key: f for f in kpi.figures}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ValueError(f"no headline figure {unknown}; kpi_figures gives {list(by_key)}")
    snapshot = data.description.snapshot_date if data.is_snapshot else None
    hl = fill_kpi_headline(Headline(title), replace(kpi, figures=[by_key[k] for k in keys]), snapshot=snapshot)
    if subtitle is not None:
        hl.subtitle = subtitle
    seed = getattr(sim, "seed", None)
    if seed is not None:
        hl.caveat(
            f"Simulated data ({data.customers['customer_id'].nunique():,} customers, seed {seed}): the true "
            "effects behind these figures are known, which is what the exercises check your estimates against."
        )
    return hl


#: Columns of :func:`bsc_toolkit.metrics.kpi_summary` in the two tables of :func:`kpi_tables`.
_KPI_OUTCOMES = (
    "n_customers_start",
    "acquired",
    "churned",
    "churn_rate",
    "retention_rate",
    "csat_mean",
    "csat_top_box",
    "nps",
)
_KPI_DRIVERS_MONEY = (
    "time_mean",
    "quality_mean",
    "service_mean",
    "cost_mean",
    "revenue_per_customer_usd",
    "profit_per_customer_usd",
)
#: Labels of the driver means in :func:`kpi_tables` (the other columns keep :func:`bsc_toolkit.tables.table`'s).
_KPI_LABELS = {
    "time_mean": "time rating",
    "quality_mean": "quality rating",
    "service_mean": "service rating",
    "cost_mean": "cost rating",
}


def kpi_tables(kpis: pd.DataFrame, *, currency: str = "USD", key: str | None = "kpis") -> list[Any]:
    """The KPI table of :func:`bsc_toolkit.metrics.kpi_summary` as two readable tables.

    Parameters
    ----------
    kpis : pandas.DataFrame
        One row per period (``period`` column).
    currency : str
        Currency of the amounts.
    key : str, optional
        Key of the first table (it carries the whole KPI table into the report's CSV/JSON outputs).

    Returns
    -------
    list of Table
        Customers and satisfaction per period (churn, retention, CSAT, top-2-box, NPS), then the four
        concerns' mean ratings and revenue and profit per customer per period (the totals stay in the
        first table's data).
    """
    from bsc_toolkit.tables import table

    def hidden(keep: Sequence[str]) -> list[str]:
        return [c for c in kpis.columns if c not in ("period", "segment", *keep)]

    from bsc_toolkit.report_kpis import kpi_label

    top_box = kpi_label("csat_top_box", currency=currency, ratings=kpis.attrs.get("ratings"))
    labels = {**_KPI_LABELS, "csat_top_box": top_box}
    return [
        table(
            kpis,
            currency=currency,
            key=key,
            caption="Customers and satisfaction per quarter",
            labels=labels,
            hide=hidden(_KPI_OUTCOMES),
            index=False,
        ),
        table(
            kpis,
            currency=currency,
            caption="Mean rating of the four concerns, and revenue and profit per customer, per quarter",
            labels=labels,
            hide=hidden(_KPI_DRIVERS_MONEY),
            index=False,
        ),
    ]


def segment_means(by_segment: pd.DataFrame) -> pd.DataFrame:
    """Average quarter of each segment, from :func:`bsc_toolkit.metrics.kpi_summary` with ``by="segment"``.

    Returns
    -------
    pandas.DataFrame
        One row per segment (a ``segment`` column) with the mean over periods of the CSAT mean, NPS, churn
        rate and revenue and profit per customer; a quantity a segment never has is NaN ("no data").
    """
    cols = ["csat_mean", "nps", "churn_rate", "revenue_per_customer_usd", "profit_per_customer_usd"]
    cols = [c for c in cols if c in by_segment.columns]
    return by_segment.groupby("segment", observed=True)[cols].mean().reset_index()


_CATEGORY_TERM = re.compile(r"^C\((?P<var>[^,()]+)(?:,\s*Treatment\((?P<ref>[^)]*)\))?\)\[T\.(?P<level>.+)\]$")


def readable_term(term: str) -> str:
    """A patsy term in words: ``C(segment, Treatment('consumer'))[T.smb]`` -> ``segment = smb (vs consumer)``.

    Other terms are returned as they are.
    """
    m = _CATEGORY_TERM.match(term)
    if m is None:
        return term
    ref = m.group("ref")
    ref = ref.strip().strip("'\"") if ref else None
    return f"{m.group('var').strip()} = {m.group('level')}" + (f" (vs {ref})" if ref else "")


def estimates_frame(
    fit: Any, terms: Sequence[str] | None = None, alpha: float = 0.05, readable: bool = True
) -> pd.DataFrame:
    """A statsmodels fit's estimates: ``term, estimate, se, ci_lower, ci_upper, p_value``.

    Parameters
    ----------
    fit : statsmodels results
        Any results object with ``params``, ``bse``, ``pvalues`` and ``conf_int``.
    terms : sequence of str, optional
        The terms to keep, in order (default: all), as the fit names them.
    alpha : float
        1 - level of the intervals (default 95%).
    readable : bool
        Write category terms in words (:func:`readable_term`).
    """
    ci = fit.conf_int(alpha=alpha)
    frame = pd.DataFrame(
        {
            "term": list(fit.params.index),
            "estimate": fit.params.to_numpy(dtype=float),
            "se": fit.bse.to_numpy(dtype=float),
            "ci_lower": ci.iloc[:, 0].to_numpy(dtype=float),
            "ci_upper": ci.iloc[:, 1].to_numpy(dtype=float),
            "p_value": fit.pvalues.to_numpy(dtype=float),
        }
    )
    if terms is not None:
        missing = [t for t in terms if t not in set(frame["term"])]
        if missing:
            raise ValueError(f"terms {missing} are not in the fit; it has {list(frame['term'])}")
        frame = frame.set_index("term").loc[list(terms)].reset_index()
    if readable:
        frame["term"] = [readable_term(t) for t in frame["term"]]
    return frame


def fit_note(fit: Any) -> str:
    """One plain sentence on a statsmodels fit: observations, and convergence where the fit iterates.

    Says so in words when an iterative fit (a GLM) did not converge: its estimates are not to be read then.
    """
    n = int(getattr(fit, "nobs", 0))
    text = f"{n:,} observations"
    converged = getattr(fit, "converged", None)
    if converged is None:
        return text + "."
    if not converged:
        return text + "; the fit did NOT converge: do not read these estimates."
    iterations = getattr(fit, "fit_history", {}).get("iteration")
    return text + (f"; converged in {iterations} iterations." if iterations else "; converged.")
