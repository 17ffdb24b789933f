"""Which report sections a data set supports, and the guard each notebook section runs under.

One fixed table, :data:`SECTIONS`, says what every report section needs (:data:`REQUIREMENTS`);
:func:`data_features` tells what a loaded data set has. From the two:

* :func:`capability_table` -- each section, whether this data supports it and, if not, what it
  would need (printed by ``bsc validate``);
* :func:`report_applicability` -- whether a report can run at all (``bsc report`` lists the others
  as "not applicable: needs ..." instead of running them);
* :class:`report_section` -- the context manager a notebook section runs in: it says in words
  what is missing instead of running a section the data cannot support, states in words why a
  model is not estimable on data that are valid but too thin for it
  (:class:`~bsc_toolkit.models._base.NotEstimableError`: nobody churned, no repeat purchase...),
  turns an unexpected error into a stated "could not be computed" (the report keeps its other
  sections; the tests treat it as a defect), turns Python warnings into stated notes, and leaves a
  hidden marker the tests read to check that every supported section was rendered.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from bsc_toolkit.formatting import escape_markdown

if TYPE_CHECKING:
    from bsc_toolkit.data.io import CustomerData

__all__ = [
    "MARKER_STATUSES",
    "REQUIREMENTS",
    "SECTIONS",
    "Requirement",
    "Section",
    "capability_markdown",
    "capability_table",
    "contractual_data",
    "data_features",
    "report_applicability",
    "report_section",
    "section_gap",
    "section_markers",
]


@dataclass(frozen=True)
class Requirement:
    """Something a report section needs from the data, and how to provide it."""

    label: str
    how: str


#: What sections need, in words, with how to add it to a data set.
REQUIREMENTS: dict[str, Requirement] = {
    "csat": Requirement(
        "overall satisfaction ratings (surveys.csat)",
        "map the satisfaction column to csat under tables.surveys.columns and declare its scale under ratings",
    ),
    "nps": Requirement(
        "0-10 likelihood-to-recommend answers (surveys.nps)", "map the recommend question to nps under tables.surveys"
    ),
    "drivers": Requirement(
        "two or more driver ratings (e.g. time, quality, service, cost)",
        "map each driver rating under tables.surveys.columns and list them under drivers",
    ),
    "transactions": Requirement(
        "a transactions table (customer, date, amount)", "add a transactions file under tables.transactions"
    ),
    "churn": Requirement(
        "churn information: a churn date (customers.churned_at) or a churn flag at a snapshot (customers.churned)",
        "map churned_at, or churned with snapshot_date, under tables.customers",
    ),
    "churn_timing": Requirement(
        "when customers left: churn and acquisition dates, or a churn flag with tenure",
        "map churned_at and acquired_at, or churned and tenure, under tables.customers",
    ),
    "churn_dates": Requirement(
        "churn dates (customers.churned_at) on dated data",
        "map churned_at under tables.customers (a snapshot flag cannot be followed over time)",
    ),
    "acquisition": Requirement("acquisition dates (customers.acquired_at)", "map acquired_at under tables.customers"),
    "dated": Requirement(
        "dated surveys or transactions over two or more periods (not a one-day snapshot)",
        "add surveyed_at / ordered_at dates covering several periods",
    ),
    "clv_history": Requirement(
        "a purchase history (transactions) for the non-contractual BG/NBD, or subscribers' churn with tenure "
        "(churn and acquisition dates, or a churn flag with tenure) for the contractual sBG; clv.contractual in "
        "dataset.yaml, when set, says which one",
        "add a transactions file under tables.transactions, or map churned_at and acquired_at (or churned and "
        "tenure) under tables.customers",
    ),
}


@dataclass(frozen=True)
class Section:
    """One section of a report and the requirements (keys of :data:`REQUIREMENTS`) it needs."""

    report: str
    key: str
    title: str
    needs: tuple[str, ...] = ()


#: The fixed table: report section -> the inputs it needs. The README shows it
#: (:func:`capability_markdown`) and the tests check every section it allows is rendered.
SECTIONS: tuple[Section, ...] = (
    Section("customer_kpis", "overview", "Headline KPIs"),
    Section("customer_kpis", "csat", "Satisfaction (CSAT)", ("csat",)),
    Section("customer_kpis", "nps", "Net Promoter Score", ("nps",)),
    Section("customer_kpis", "retention", "Retention and churn", ("churn",)),
    Section("customer_kpis", "acquisition", "Acquisition", ("acquisition",)),
    Section("customer_kpis", "profitability", "Customer profitability", ("transactions",)),
    Section("customer_kpis", "drivers", "Driver ratings", ("drivers",)),
    Section("customer_kpis", "market_share", "Market share", ("transactions",)),
    Section("satisfaction_retention_value", "survival", "Retention by satisfaction band", ("csat", "churn_timing")),
    Section("satisfaction_retention_value", "churn_model", "Churn model", ("csat", "churn")),
    Section("satisfaction_retention_value", "cox", "Cox model", ("csat", "churn_dates", "dated")),
    Section("satisfaction_retention_value", "spend", "Satisfaction and spend", ("csat", "transactions", "dated")),
    Section(
        "satisfaction_retention_value",
        "what_if",
        "What-if in money",
        ("csat", "churn_dates", "transactions", "dated"),
    ),
    Section("service_profit_chain", "drivers", "Driver importance", ("csat", "drivers")),
    Section(
        "service_profit_chain",
        "chain",
        "Satisfaction -> retention -> revenue",
        ("csat", "churn_dates", "transactions", "dated"),
    ),
    Section("customer_value", "clv", "CLV models and values", ("clv_history",)),
    Section("customer_value", "clv_covariates", "Satisfaction inside the CLV model", ("clv_history", "csat")),
    Section("customer_value", "at_risk", "Revenue at risk from low satisfaction", ("transactions", "csat")),
    Section("scorecard", "scorecard", "Scorecard"),
    Section("scorecard", "strategy_map", "Strategy map"),
)

#: Reports that do not read a data set (the teaching track simulates its own).
DATA_FREE_REPORTS: tuple[str, ...] = ("teaching",)


def _has_values(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def contractual_data(data: CustomerData) -> bool:
    """Whether ``data`` observe subscribers: when each customer left and how long they stayed.

    Churn dates with acquisition dates, or a churn flag with each customer's tenure: what the
    contractual (sBG) CLV model and the ``clv_history`` requirement read for "subscribers".
    """
    customers = data.customers
    return ("churned_at" in customers.columns and _has_values(customers, "acquired_at")) or (
        "churned" in customers.columns and _has_values(customers, "tenure_months")
    )


def data_features(data: CustomerData) -> dict[str, bool]:
    """What the data set has, for each key of :data:`REQUIREMENTS`."""
    customers, surveys, transactions = data.customers, data.surveys, data.transactions
    churn_dates = "churned_at" in customers.columns
    flag = "churned" in customers.columns
    # two or more periods with activity: the first and last dated activity fall in different periods
    # (min/max of each column, no copy of the data-sized date columns)
    bounds = [
        bound
        for frame, col in ((surveys, "surveyed_at"), (transactions, "ordered_at"))
        if len(frame)
        for bound in (frame[col].min(), frame[col].max())
        if not pd.isna(bound)
    ]
    dated = (
        not data.is_snapshot and bool(bounds) and min(bounds).to_period(data.freq) != max(bounds).to_period(data.freq)
    )
    # CLV: purchases (BG/NBD) or subscribers (sBG); the description's clv.contractual, when set, picks one
    purchases = len(transactions) > 0
    subscribers = contractual_data(data)
    contractual = data.description.clv.contractual
    clv_history = purchases if contractual is False else subscribers if contractual else (purchases or subscribers)
    return {
        "csat": _has_values(surveys, "csat"),
        "nps": _has_values(surveys, "nps"),
        "drivers": sum(_has_values(surveys, d) for d in data.drivers) >= 2,
        "transactions": len(transactions) > 0,
        "churn": churn_dates or flag,
        "churn_timing": (churn_dates and dated) or (flag and _has_values(customers, "tenure_months")),
        "churn_dates": churn_dates and dated,
        "acquisition": _has_values(customers, "acquired_at"),
        "dated": dated,
        "clv_history": clv_history,
    }


def _missing(section: Section, features: Mapping[str, bool]) -> list[str]:
    return [need for need in section.needs if not features[need]]


def _section(report: str, key: str) -> Section:
    """The section ``report.key`` of :data:`SECTIONS` (KeyError naming it when there is none)."""
    for s in SECTIONS:
        if s.report == report and s.key == key:
            return s
    raise KeyError(f"no section {report}.{key} in bsc_toolkit.capabilities.SECTIONS")


def section_gap(report: str, key: str, features: Mapping[str, bool]) -> str | None:
    """What section ``report.key`` needs that the data lack, in words; None when the data support it.

    Parameters
    ----------
    report, key : str
        The section in :data:`SECTIONS` (KeyError when there is no such section).
    features : mapping
        :func:`data_features` of the data.

    Returns
    -------
    str or None
        ``"this data set lacks <requirement>; <requirement>"`` (the :data:`REQUIREMENTS` labels).
    """
    missing = _missing(_section(report, key), features)
    return "this data set lacks " + "; ".join(REQUIREMENTS[m].label for m in missing) if missing else None


def capability_table(data: CustomerData, features: dict[str, bool] | None = None) -> pd.DataFrame:
    """Each report section, whether ``data`` supports it and, if not, what it needs.

    Returns
    -------
    pandas.DataFrame
        ``report, section, title, supported, needs`` (``needs`` in words; empty when supported).
    """
    features = features or data_features(data)
    rows = []
    for s in SECTIONS:
        missing = _missing(s, features)
        rows.append(
            {
                "report": s.report,
                "section": s.key,
                "title": s.title,
                "supported": not missing,
                "needs": "; ".join(REQUIREMENTS[m].label for m in missing),
            }
        )
    return pd.DataFrame(rows)


def report_applicability(data: CustomerData, report: str, features: dict[str, bool] | None = None) -> list[str]:
    """Why ``report`` cannot run on ``data``: an empty list when it can.

    A report can run when at least one of its sections is supported. Reports without sections in
    :data:`SECTIONS` (the teaching track) always can.
    """
    sections = [s for s in SECTIONS if s.report == report]
    if not sections:
        return []
    features = features or data_features(data)
    missing_per_section = [_missing(s, features) for s in sections]
    if any(not m for m in missing_per_section):
        return []
    # the smallest set of missing inputs that would enable some section
    best = min(missing_per_section, key=len)
    return [REQUIREMENTS[m].label for m in best]


def capability_markdown() -> str:
    """The fixed section table as Markdown (the README's copy is checked against it)."""
    lines = ["| report | section | needs |", "|---|---|---|"]
    for s in SECTIONS:
        needs = ", ".join(f"`{n}`" for n in s.needs) or "any data"
        lines.append(f"| {s.report} | {s.title} | {needs} |")
    lines += ["", "| input | what it is | how to add it |", "|---|---|---|"]
    for key, req in REQUIREMENTS.items():
        lines.append(f"| `{key}` | {req.label} | {req.how} |")
    return "\n".join(lines)


def _marker(report: str, key: str, status: str) -> str:
    return f'<div class="bsc-section" data-section="{html.escape(report)}.{html.escape(key)}" data-status="{status}"></div>'


#: Marker statuses from best to worst: a section run in several cells reports its worst one.
MARKER_STATUSES: tuple[str, ...] = ("rendered", "not_applicable", "not_estimable", "error")


def section_markers(page: str) -> dict[str, str]:
    """Section -> status (one of :data:`MARKER_STATUSES`) from the markers in a report's HTML.

    A section run in several cells (each under its own guard) has the worst status of its
    markers, so a later cell that renders does not hide an earlier one that failed.
    """
    import re

    rank = {status: i for i, status in enumerate(MARKER_STATUSES)}
    out: dict[str, str] = {}
    for section, status in re.findall(r'class="bsc-section" data-section="([^"]+)" data-status="([^"]+)"', page):
        if section not in out or rank.get(status, len(rank)) > rank.get(out[section], len(rank)):
            out[section] = status
    return out


class report_section:  # noqa: N801 - used like a function: ``with report_section(...) as ok:``
    """Run one report section: skip it with a reason, or keep an error from losing the report.

    Use in a notebook cell::

        with report_section(data, "customer_kpis", "nps") as ok:
            if ok:
                ...  # the section's code

    On entry, if the data lack what the section needs, a sentence says what is missing and how to
    add it, and ``ok`` is False. A :class:`~bsc_toolkit.models._base.NotEstimableError` inside the
    block (valid data too thin for the section's model: nobody churned, no repeat purchase, no change
    within customers...) is stated as "not estimable on this data set" with its reason, and
    suppressed. Any other exception is shown as "this section could not be computed: ..." and
    suppressed, so the report keeps its other sections (the tests treat it as a failure). Warnings
    raised inside are shown once each as notes in words (deprecation notices, which are for
    developers, are dropped). A hidden marker records the outcome: ``rendered``,
    ``not_applicable``, ``not_estimable`` or ``error``.

    Parameters
    ----------
    data : CustomerData
        The loaded data set.
    report : str
        Report name (the notebook's file name without ``.ipynb``).
    key : str
        Section key in :data:`SECTIONS`.
    features : dict, optional
        Precomputed :func:`data_features` (computed on entry otherwise).
    """

    def __init__(self, data: CustomerData, report: str, key: str, features: dict[str, bool] | None = None) -> None:
        self.section = _section(report, key)
        self.data = data
        self.features = features
        self.ok = False
        self._caught: warnings.catch_warnings | None = None
        self._records: list[Any] = []

    def __enter__(self) -> bool:
        from IPython.display import HTML, Markdown, display

        features = self.features or data_features(self.data)
        missing = _missing(self.section, features)
        if missing:
            needs = "; ".join(f"{REQUIREMENTS[m].label} ({REQUIREMENTS[m].how})" for m in missing)
            display(Markdown(f"*Not available for this data set.* This section needs {needs}."))
            display(HTML(_marker(self.section.report, self.section.key, "not_applicable")))
            return False
        self.ok = True
        self._caught = warnings.catch_warnings(record=True)
        self._records = self._caught.__enter__()
        warnings.simplefilter("always")
        return True

    def __exit__(self, exc_type, exc, tb) -> bool:
        from IPython.display import HTML, Markdown, display

        if not self.ok:
            return False
        assert self._caught is not None
        self._caught.__exit__(None, None, None)
        notes = []
        for record in self._records:
            if issubclass(record.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
                continue
            text = str(record.message).strip()
            if text and text not in notes:
                notes.append(text)
        if notes:
            display(
                Markdown("**Notes from the computation**\n\n" + "\n".join(f"- {escape_markdown(n)}" for n in notes))
            )
        if exc_type is None:
            display(HTML(_marker(self.section.report, self.section.key, "rendered")))
            return False
        if issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            return False
        from bsc_toolkit.models._base import NotEstimableError

        if issubclass(exc_type, NotEstimableError):
            display(
                Markdown(
                    f"**Not estimable on this data set:** {escape_markdown(str(exc).rstrip('.'))}. The data are "
                    "valid, but they do not hold what this model needs to be identified; the figures of this "
                    "section are therefore not shown."
                )
            )
            display(HTML(_marker(self.section.report, self.section.key, "not_estimable")))
            return True
        display(
            Markdown(
                f"**This section could not be computed** on this data set: {exc_type.__name__}: {escape_markdown(exc)}"
            )
        )
        display(HTML(_marker(self.section.report, self.section.key, "error")))
        return True
