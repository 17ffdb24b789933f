"""Headline first: the short summary every report opens with.

SKELETON (API fixed, implementation being completed): 3-6 headline figures, each with its interval,
its change against the previous period and whether that change is beyond noise, a plain-words
sentence, and the caveats that matter beside the figure they concern.

A notebook shows the headline at its top and fills it in as its sections compute figures::

    hl = Headline(title, subtitle="2025Q4 against 2025Q3")
    hl.show()                       # displays the box (with a display id) at the top
    ...
    hl.add(HeadlineFigure(...))     # in later sections
    hl.refresh()                    # re-renders the box at the top (update_display_data)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import EllipsisType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Headline",
    "HeadlineFigure",
    "KpiHeadline",
    "change_interval",
    "format_change",
    "format_figure",
    "format_interval",
    "headline_frame",
    "headline_sentence",
    "kpi_figures",
]

Kind = Literal["percent", "count", "money", "score", "points", "ratio", "number"]


@dataclass(frozen=True)
class HeadlineFigure:
    """One headline figure.

    Parameters
    ----------
    label : str
        What it is, in words ("NPS", "CSAT mean", "churn rate", "value of +1 CSAT point").
    value : float or None
        The figure; None is shown as "no data" (never 0).
    kind : str
        How to format it: ``percent`` (a share in 0..1), ``count``, ``money`` (in ``unit``, the
        currency), ``score`` (a rating on the scale named by ``unit``), ``points`` (NPS points,
        percentage points), ``ratio``, ``number``.
    ci : (float, float), optional
        Its interval (95% unless ``note`` says otherwise).
    unit : str, optional
        Currency for money, scale label for a score ("1-5").
    previous : float, optional
        The same figure in the previous period.
    previous_label : str, optional
        The previous period's name ("2025Q3").
    change_ci : (float, float), optional
        Interval of the change (value - previous); see :func:`change_interval`.
    better : {"up", "down", None}
        Which direction is good (churn: down), for the words; None: neither.
    note : str, optional
        The caveat that concerns this figure (confounding, non-convergence, missing data),
        shown beside it. Plain text: escaped when rendered.
    key : str, optional
        Machine name for the CSV/JSON output (default: from the label).
    periodic : bool
        A figure of a period (a KPI such as NPS or churn rate), compared with the previous period
        when there is one: without one its card says "no previous period". Model figures (an effect,
        a value) are not periodic and get no such line.
    """

    label: str
    value: float | None
    kind: Kind = "number"
    ci: tuple[float, float] | None = None
    unit: str | None = None
    previous: float | None = None
    previous_label: str | None = None
    change_ci: tuple[float, float] | None = None
    better: Literal["up", "down"] | None = None
    note: str | None = None
    key: str | None = None
    periodic: bool = False

    @property
    def change(self) -> float | None:
        """value - previous, or None when either is missing."""
        if self.value is None or self.previous is None:
            return None
        if not (math.isfinite(self.value) and math.isfinite(self.previous)):
            return None
        return self.value - self.previous

    @property
    def beyond_noise(self) -> bool | None:
        """Whether the change's interval excludes 0; None when there is no change interval."""
        if self.change_ci is None:
            return None
        low, high = self.change_ci
        return bool(low > 0 or high < 0)


def change_interval(
    value: float | None,
    ci: tuple[float, float] | None,
    previous: float | None,
    previous_ci: tuple[float, float] | None,
    z: float | None = None,
) -> tuple[float, float] | None:
    """Interval of ``value - previous`` from the two (independent, roughly normal) intervals.

    Each standard error is taken as half its interval's width over ``z``; the change's standard
    error is the root of their sum of squares. None when anything is missing.
    """
    if value is None or previous is None or ci is None or previous_ci is None:
        return None
    if z is None:
        from bsc_toolkit.tables import Z95 as z
    numbers = [value, previous, *ci, *previous_ci]
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers):
        return None
    se = math.hypot((ci[1] - ci[0]) / (2 * z), (previous_ci[1] - previous_ci[0]) / (2 * z))
    diff = value - previous
    return (diff - z * se, diff + z * se)


def _direction(fig: HeadlineFigure) -> str:
    """``improved``/``worsened`` (when ``better`` is set) or ``rose``/``fell``."""
    change = fig.change or 0.0
    if fig.better is None:
        return "rose" if change > 0 else "fell"
    good = (change > 0) == (fig.better == "up")
    return "improved" if good else "worsened"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def headline_sentence(figures: list[HeadlineFigure]) -> str:
    """One or two plain sentences: what rose or fell beyond noise, and that the rest moved within noise.

    Parameters
    ----------
    figures : list of HeadlineFigure

    Returns
    -------
    str
        E.g. "NPS improved (+6.2 points) and churn rate worsened (+1.8 percentage points) beyond noise
        since 2025Q3. CSAT mean moved within noise." Figures without a value or without a previous
        period are named as such.
    """
    moved = [f for f in figures if f.beyond_noise]
    within = [f for f in figures if f.beyond_noise is False]
    no_data = [f for f in figures if f.value is None]
    no_previous = [f for f in figures if f.value is not None and _status_words(f) == "no previous period"]
    since = next((f.previous_label for f in moved + within if f.previous_label), None)
    when = f" since {since}" if since else " since the previous period"
    sentences = []
    if moved:
        parts = [f"{f.label} {_direction(f)} ({format_change(f)})" for f in moved]
        sentences.append(_join(parts) + " beyond noise" + when + ".")
        if within:
            sentences.append(
                ("The rest" if len(within) > 2 else _join([f.label for f in within])) + " moved within noise."
            )
    elif within:
        compared = "The figure" if len(within) == 1 else "None of the figures" if len(within) > 2 else "Neither figure"
        what = f" compared{when}" if len(within) > 1 else f" compared{when} ({within[0].label})"
        verb = " did not change" if len(within) == 1 else " changed"
        sentences.append(f"{compared}{what}{verb} by more than its noise.")
    elif no_previous:
        sentences.append("There is no previous period to compare the headline figures with.")
    if no_data:
        names = _join([f.label for f in no_data])
        sentences.append(f"No data for {names} (the note says why).")
    if not sentences:
        sentences.append("No headline figures yet.")
    return " ".join(sentences[:3])


# ------------------------------------------------------------------ formatting of figures
#: The kind of :func:`bsc_toolkit.tables.format_value` each figure kind is formatted as.
_TABLE_KIND = {"percent": "percent", "count": "count", "money": "money", "score": "score", "points": "points"}


def _se(fig: HeadlineFigure) -> float | None:
    """The standard error behind the figure's interval (half its width over z), None without one."""
    from bsc_toolkit.tables import Z95

    ci = fig.ci
    if ci is None or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in ci) or ci[1] <= ci[0]:
        return None
    return (ci[1] - ci[0]) / (2 * Z95)


def format_figure(fig: HeadlineFigure, value: float | None = None, *, unit: bool = True) -> str:
    """The figure's value (or ``value``) as text by its kind: "31.2", "7.261 on 1-10", "5.8%", "760.94 GBP".

    The digits are those of the report tables (:func:`bsc_toolkit.tables.format_value`): two
    significant digits of the standard error behind the interval.
    """
    from bsc_toolkit.tables import format_value

    x = fig.value if value is None else value
    if x is None or not math.isfinite(x):
        return "no data"
    text = format_value(x, _TABLE_KIND.get(fig.kind, "number"), se=_se(fig))
    if unit and fig.unit:
        if fig.kind == "score":
            return f"{text} on {fig.unit}"
        if fig.kind == "money":
            return f"{text} {fig.unit}"
    return text


def format_interval(fig: HeadlineFigure, ci: tuple[float, float] | None = None) -> str:
    """``"[lo, hi]"`` in the figure's format (no unit), or "" without an interval."""
    ci = fig.ci if ci is None else ci
    if ci is None or not all(math.isfinite(v) for v in ci):
        return ""
    return f"[{format_figure(fig, ci[0], unit=False)}, {format_figure(fig, ci[1], unit=False)}]"


def format_change(fig: HeadlineFigure) -> str:
    """The change with its unit: "+2.1 points", "-0.5 percentage points", "+0.03", "+36.36 GBP"."""
    change = fig.change
    if change is None:
        return ""
    if fig.kind == "percent":  # a change of shares is in percentage points, with the share's one decimal
        from bsc_toolkit.tables import format_value

        text = format_value(100 * change, "points", decimals=1)
        return f"{text if text.startswith('-') else '+' + text} percentage points"
    text = format_figure(fig, change, unit=False)
    text = text if text.startswith("-") else f"+{text}"
    if fig.kind == "points":
        return f"{text} points"
    if fig.kind == "money" and fig.unit:
        return f"{text} {fig.unit}"
    return text


#: How "beyond noise" is decided, shown under every headline box that compares periods.
NOISE_RULE = (
    "Beyond noise: the 95% interval of the change excludes 0. The interval treats the two periods as "
    "independent samples; many of the same customers answer and buy in both, which makes the true "
    'interval narrower, so a change read "within noise" may still be real, while one read "beyond '
    'noise" is not overstated.'
)


def _status_words(fig: HeadlineFigure) -> str:
    if fig.value is None:
        return ""
    if fig.previous is None:
        if fig.previous_label is not None:  # a previous period exists but is not comparable (the note says why)
            return f"not compared with {fig.previous_label}"
        return "no previous period" if fig.periodic else ""
    if fig.beyond_noise is None:
        # a count of measures or customers is exact: it has no sampling interval to miss
        return "" if fig.kind == "count" else "no interval for the change"
    if fig.beyond_noise:
        return f"beyond noise, {_direction(fig)}" if fig.better else "beyond noise"
    return "within noise"


def _arrow(fig: HeadlineFigure) -> str:
    change = fig.change
    if change is None:
        return ""
    return "▲" if change > 0 else "▼" if change < 0 else "▶"


_CARD = (
    "flex:1 1 12em;min-width:11em;max-width:19em;border:1px solid #c8ccd2;border-radius:6px;"
    "padding:0.5em 0.75em;background:#fff"
)
_BOX = (
    "border:1px solid #9aa3ad;border-radius:8px;padding:0.8em 1em;margin:0.5em 0 1.2em 0;background:#f6f8fa;"
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1f2328"
)
_MARK = {
    "beyond": "border-left:5px solid #1f6feb",
    "within": "border-left:5px solid #c8ccd2",
}


def _card_html(fig: HeadlineFigure) -> str:
    from bsc_toolkit.formatting import escape_html

    value = format_figure(fig)
    interval = format_interval(fig)
    status = _status_words(fig)
    mark = _MARK["beyond"] if fig.beyond_noise else _MARK["within"]
    parts = [
        f'<div style="font-size:0.85em;color:#444">{escape_html(fig.label)}</div>',
        f'<div style="font-size:1.45em;font-weight:600;font-variant-numeric:tabular-nums">{escape_html(value)}</div>',
    ]
    if interval:
        parts.append(
            f'<div style="font-size:0.8em;color:#555;font-variant-numeric:tabular-nums">95% interval '
            f"{escape_html(interval)}</div>"
        )
    if fig.change is not None:
        words = f"{format_change(fig)} vs {fig.previous_label or 'the previous period'}"
        parts.append(
            f'<div style="font-size:0.85em;margin-top:0.25em;font-variant-numeric:tabular-nums">'
            f'<span aria-hidden="true">{_arrow(fig)}</span> {escape_html(words)}</div>'
        )
    if status:
        weight = "600" if fig.beyond_noise else "400"
        parts.append(f'<div style="font-size:0.8em;font-weight:{weight}">{escape_html(status)}</div>')
    if fig.note:
        parts.append(
            f'<div style="font-size:0.78em;color:#444;margin-top:0.3em;font-style:italic">'
            f"Note: {escape_html(fig.note)}</div>"
        )
    return f'<div class="bsc-headline-figure" style="{_CARD};{mark}">{"".join(parts)}</div>'


def headline_frame(figures: list[HeadlineFigure]) -> pd.DataFrame:
    """One row per figure: ``key, label, value, ci_lower, ci_upper, previous, change, change_ci_lower,
    change_ci_upper, beyond_noise, unit, kind, note`` (raw numbers; NaN/None where missing)."""
    import pandas as pd

    nan = float("nan")
    rows = []
    for f in figures:
        rows.append(
            {
                "key": f.key or f.label.lower().replace(" ", "_"),
                "label": f.label,
                "value": nan if f.value is None else float(f.value),
                "ci_lower": f.ci[0] if f.ci else nan,
                "ci_upper": f.ci[1] if f.ci else nan,
                "previous": nan if f.previous is None else float(f.previous),
                "previous_label": f.previous_label,
                "change": nan if f.change is None else float(f.change),
                "change_ci_lower": f.change_ci[0] if f.change_ci else nan,
                "change_ci_upper": f.change_ci[1] if f.change_ci else nan,
                "beyond_noise": f.beyond_noise,
                "unit": f.unit,
                "kind": f.kind,
                "note": f.note,
            }
        )
    columns = ["key", "label", "value", "ci_lower", "ci_upper", "previous", "previous_label", "change",
               "change_ci_lower", "change_ci_upper", "beyond_noise", "unit", "kind", "note"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    frame["beyond_noise"] = frame["beyond_noise"].astype(object)
    return frame


@dataclass(repr=False)
class Headline:
    """The headline box of a report: figures, a sentence and caveats, shown at the top and refreshed."""

    title: str
    subtitle: str | None = None
    figures: list[HeadlineFigure] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    sentence: str | None = None  # None: sentence_fn(figures)
    sentence_fn: Callable[[list[HeadlineFigure]], str] | None = None  # None: headline_sentence
    _handle: Any = field(default=None, repr=False)

    def _sentence(self) -> str:
        """``sentence``, else ``sentence_fn(figures)`` (default :func:`headline_sentence`) at render time."""
        if self.sentence:
            return self.sentence
        return (self.sentence_fn or headline_sentence)(self.figures)

    def add(self, *figures: HeadlineFigure) -> Headline:
        """Add figures (in order); returns self."""
        self.figures.extend(figures)
        return self

    def set(self, *figures: HeadlineFigure, replace: Sequence[str] = ()) -> Headline:
        """Put ``figures`` in place of the figures with their keys (or with the keys in ``replace``).

        The new figures take the position of the first figure they replace (appended when none):
        a section fills in the placeholder ("no data") its figure had at the top. Returns self;
        call :meth:`refresh` to update the box where it was shown.
        """
        keys = {f.key for f in figures if f.key is not None} | set(replace)
        positions = [i for i, f in enumerate(self.figures) if f.key in keys]
        kept = [f for f in self.figures if f.key not in keys]
        at = min(positions[0], len(kept)) if positions else len(kept)
        self.figures[:] = kept[:at] + list(figures) + kept[at:]
        return self

    def caveat(self, text: str) -> Headline:
        """Add a caveat that concerns the whole report (plain text, escaped when rendered)."""
        self.caveats.append(text)
        return self

    def show(self) -> None:
        """Display the box with a display id, so :meth:`refresh` can update it in place.

        Outside IPython (plain python) the box is printed as text.
        """
        try:
            from IPython.display import display
        except ImportError:  # pragma: no cover - IPython is a dependency of the reports
            print(repr(self))
            return
        self._handle = display(self, display_id=True)

    def refresh(self) -> None:
        """Re-render the box where :meth:`show` displayed it (nothing outside IPython)."""
        if self._handle is not None:
            self._handle.update(self)

    def data(self) -> pd.DataFrame:
        """The figures as a raw table (see :func:`headline_frame`)."""
        return headline_frame(self.figures)

    def __repr__(self) -> str:
        lines = [self.title + (f" ({self.subtitle})" if self.subtitle else "")]
        lines.append(self._sentence())
        for f in self.figures:
            line = f"- {f.label}: {format_figure(f)}"
            if format_interval(f):
                line += f" {format_interval(f)}"
            if f.change is not None:
                line += f"; {format_change(f)} vs {f.previous_label or 'the previous period'}"
            status = _status_words(f)
            line += f" ({status})" if status else ""
            line += f". Note: {f.note}" if f.note else ""
            lines.append(line)
        lines.extend(f"Caveat: {c}" for c in self.caveats)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from bsc_toolkit.formatting import escape_html

        sentence = self._sentence()
        subtitle = (
            f'<div style="color:#444;font-size:0.9em;margin-top:0.1em">{escape_html(self.subtitle)}</div>'
            if self.subtitle
            else ""
        )
        cards = "".join(_card_html(f) for f in self.figures)
        caveats = ""
        if any(f.change_ci is not None for f in self.figures):
            caveats += f'<div style="margin-top:0.6em;font-size:0.8em;color:#333">{escape_html(NOISE_RULE)}</div>'
        if self.caveats:
            items = "".join(f'<li style="margin:0.15em 0">{escape_html(c)}</li>' for c in self.caveats)
            caveats = (
                '<div style="margin-top:0.7em;font-size:0.85em"><strong>Caveats:</strong>'
                f'<ul style="margin:0.2em 0;padding-left:1.3em">{items}</ul></div>'
            ) + caveats
        return (
            f'<div class="bsc-headline" style="{_BOX}">'
            f'<div style="font-size:1.3em;font-weight:700">{escape_html(self.title)}</div>{subtitle}'
            f'<p style="margin:0.5em 0 0.7em 0">{escape_html(sentence)}</p>'
            f'<div style="display:flex;flex-wrap:wrap;gap:0.6em">{cards}</div>{caveats}</div>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from bsc_toolkit.tables import TABLE_MIMETYPE

        frame = headline_frame(self.figures)
        return {
            "text/html": self._repr_html_(),
            "text/plain": repr(self),
            TABLE_MIMETYPE: {
                "key": "headline",
                "caption": self.title,
                "table": frame.to_json(orient="table", date_format="iso", default_handler=str),
            },
        }


# ------------------------------------------------------------------ the standard KPI figures
@dataclass(frozen=True)
class KpiHeadline:
    """The standard KPI headline figures of one period against the previous period with data.

    Attributes
    ----------
    figures : list of HeadlineFigure
        NPS, CSAT mean, CSAT top-box share, churn rate, revenue per customer (in that order); a
        figure the data cannot give has ``value=None`` and a ``note`` saying why.
    period : Period or None
        The period headlined (None when no period has data).
    previous_period : Period or None
        The previous period with data (None for a single period or a snapshot).
    notes : list of str
        Plain-text caveats that concern the whole headline (a partly covered period...).
    """

    figures: list[HeadlineFigure]
    period: pd.Period | None
    previous_period: pd.Period | None
    notes: list[str]


def _finite(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _row(frame: pd.DataFrame, period: pd.Period | None) -> dict[str, Any] | None:
    """The row of ``frame`` (with a ``period`` column) for ``period``, or None."""
    if period is None or frame is None or frame.empty or "period" not in frame.columns:
        return None
    rows = frame.loc[frame["period"] == period]
    return rows.iloc[0].to_dict() if len(rows) else None


def _figure(
    label: str,
    current: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    column: str,
    ci: tuple[str, str] | None,
    *,
    previous_label: str | None,
    missing: str,
    keep_previous_label: bool = False,
    **kw: Any,
) -> HeadlineFigure:
    """A figure from the current and previous rows of a metrics table (``column`` and its interval columns).

    ``keep_previous_label``: name the previous period even without a previous value (it exists but is
    not compared: the figure reads "not compared with <previous>").
    """

    def pick(row: dict[str, Any] | None) -> tuple[float | None, tuple[float, float] | None]:
        if row is None:
            return None, None
        value = _finite(row.get(column))
        if value is None or ci is None:
            return value, None
        lo, hi = _finite(row.get(ci[0])), _finite(row.get(ci[1]))
        return value, (lo, hi) if lo is not None and hi is not None else None

    value, value_ci = pick(current)
    prev, prev_ci = pick(previous)
    note = kw.pop("note", None)
    if value is None:
        return HeadlineFigure(label, None, ci=None, note=missing, **kw)
    return HeadlineFigure(
        label,
        value,
        ci=value_ci,
        previous=prev,
        previous_label=previous_label if prev is not None or keep_previous_label else None,
        change_ci=change_interval(value, value_ci, prev, prev_ci),
        note=note,
        **kw,
    )


def _revenue_per_customer(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    kpis: pd.DataFrame,
    period: pd.Period,
    alpha: float = 0.05,
) -> tuple[str, float | None, tuple[float, float] | None, str | None]:
    """Revenue per customer in ``period`` with a t-interval from customer-to-customer variation.

    With customer counts (the KPI table's ``revenue_per_customer_usd``: revenue over the average
    number of customers in the period) the value is the KPI's, and its standard error is
    ``sqrt(n) * sd(r_i) / N`` with ``r_i`` the revenue of each of the ``n`` customers active (or
    ordering) in the period, zeros included, and ``N`` the KPI's denominator. Without customer
    counts (no churn information) it is the mean revenue of the customers who ordered in the
    period ("revenue per ordering customer") with its t-interval.

    Returns
    -------
    (label, value, ci, note)
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    label = "revenue per customer"
    if "ordered_at" not in transactions.columns or "revenue_usd" not in transactions.columns:
        return label, None, None, "no dated revenue (ordered_at, revenue_usd) in the transactions"
    orders = transactions.loc[pd.to_datetime(transactions["ordered_at"]).dt.to_period(period.freqstr) == period]
    if orders.empty:
        return label, None, None, f"no orders in {period}"
    if orders["revenue_usd"].isna().any():
        n_missing = int(orders["revenue_usd"].isna().sum())
        return label, None, None, f"{n_missing} orders in {period} lack a revenue amount: the total is unknown"
    per = orders.groupby("customer_id")["revenue_usd"].sum()
    row = _row(kpis, period) or {}
    kpi_value = _finite(row.get("revenue_per_customer_usd"))
    revenue = _finite(row.get("revenue_usd"))
    if kpi_value and revenue and "acquired_at" in customers.columns:
        start, end = period.start_time, period.end_time
        acq = pd.to_datetime(customers["acquired_at"])
        churn = (
            pd.to_datetime(customers["churned_at"])
            if "churned_at" in customers.columns
            else pd.Series(pd.NaT, index=customers.index)
        )
        active = customers.loc[(acq <= end) & (churn.isna() | (churn >= start)), "customer_id"]
        ids = pd.Index(active).union(per.index)
        r = per.reindex(ids, fill_value=0.0).to_numpy(dtype=float)
        denominator = revenue / kpi_value  # the KPI's average number of customers in the period
        if len(r) < 2 or denominator <= 0:
            return label, kpi_value, None, None
        se = math.sqrt(len(r)) * float(np.std(r, ddof=1)) / denominator
        half = float(stats.t.ppf(1 - alpha / 2, len(r) - 1)) * se
        return label, kpi_value, (kpi_value - half, kpi_value + half), None
    label = "revenue per ordering customer"
    r = per.to_numpy(dtype=float)
    value = float(r.mean())
    note = "per customer who ordered in the period: without churn information the customers cannot be counted"
    if len(r) < 2:
        return label, value, None, note
    half = float(stats.t.ppf(1 - alpha / 2, len(r) - 1)) * float(np.std(r, ddof=1)) / math.sqrt(len(r))
    return label, value, (value - half, value + half), note


def kpi_figures(
    data: Any,
    freq: str | None = None,
    period: str | pd.Period | None = None,
    *,
    kpis: pd.DataFrame | None = None,
    span: tuple[pd.Timestamp, pd.Timestamp] | None | EllipsisType = ...,
) -> KpiHeadline:
    """The standard KPI headline figures of the latest (or given) period against the previous period with data.

    Figures, each with its 95% interval, its value in the previous period with data, and the
    interval of the change (:func:`change_interval`):

    - **NPS** (points, -100..100; :func:`bsc_toolkit.metrics.nps`);
    - **CSAT mean** on the data set's declared scale (t-interval) and the **CSAT top-box share**
      (Wilson interval; :func:`bsc_toolkit.metrics.csat_summary`);
    - **churn rate** per period (Wilson interval; better down); for snapshot data the share of
      customers who left by the snapshot, labelled so, with no previous period;
    - **revenue per customer** in the data set's currency (see :func:`_revenue_per_customer` for the
      interval; without churn information, per customer who ordered).

    A figure the data cannot give is ``value=None`` with a note saying why ("no surveys in this
    data set"), never 0.

    Parameters
    ----------
    data : CustomerData
        The loaded data set (:func:`bsc_toolkit.data.io.load_dataset`).
    freq : str, optional
        Period frequency (default: the data set's declared one).
    period : str or Period, optional
        Period to headline (default: the latest period with data, unless the data end in its first
        half: then the latest complete period, with a note; a given period is used as it is, with a
        note when partial). The rule is :func:`bsc_toolkit.report_kpis.headline_periods`; a report
        passes ``.period`` to :func:`bsc_toolkit.report_kpis.headline_table` so both show the same.
    kpis : DataFrame, optional
        The data's :func:`bsc_toolkit.metrics.kpi_summary` at ``freq`` (without ``by``), when the
        report has already computed it; computed here when None.
    span : (Timestamp, Timestamp) or None, optional
        The first and last survey or order date of the data set
        (:func:`bsc_toolkit.report_kpis.data_span`), when the tables of ``data`` do not hold every
        date: a report on millions of customers passes the span computed in its engine and tables
        reduced to what these figures read (:func:`bsc_toolkit.report_data.kpi_headline`). Default:
        from ``data``.

    A partly covered period (:func:`bsc_toolkit.report_kpis.partial_period_sentences`, headline or
    previous period) is said in ``notes`` and beside the churn rate and revenue per customer, which are
    then not compared with the previous period (their totals are not like for like; means of answers
    are not biased by it).

    Returns
    -------
    KpiHeadline
    """

    from bsc_toolkit import metrics
    from bsc_toolkit import report_kpis as rk

    freq = freq or data.freq
    snapshot = data.description.snapshot_date if data.is_snapshot else None
    ratings = data.ratings
    if kpis is None:
        kpis = metrics.kpi_summary(
            data.customers, data.surveys, data.transactions, freq=freq, ratings=ratings, drivers=[], snapshot=snapshot
        )
    kpi_notes: dict[str, str] = dict(kpis.attrs.get("notes", {}))
    basis = kpis.attrs.get("churn_basis", "per period")
    if span is ...:
        span = rk.data_span(data.surveys, data.transactions)  # the dates, gathered once
    chosen, prev, skipped, skipped_why = rk.headline_periods(kpis, period, span=span, snapshot=snapshot is not None)
    prev_label = str(prev) if prev is not None else None
    partial = [] if snapshot is not None else rk.partial_period_sentences(span, [chosen, prev])
    notes: list[str] = []
    if chosen is None:
        notes.append("no period has a KPI value in this data set")
    if skipped is not None:
        notes.append(
            f"{skipped} is left out of the headline ({skipped_why}): the figures are for {chosen}, "
            "the latest complete period"
        )
    notes.extend(partial)
    # a churn rate or revenue per customer of part of a period is not like for like with a whole period:
    # beside them the partial period is said, and they are not compared (previous_label kept)
    totals_note = None
    if partial:
        totals_note = "; ".join(partial) + ": totals cover part of the period"
        totals_note += f", not compared with {prev_label}" if prev is not None else ""
    uncompared = bool(partial) and prev is not None

    def why(column: str, fallback: str) -> str:
        text = kpi_notes.get(column) or fallback
        return "no surveys in this data set" if text == "no survey responses" else text

    no_period = "no period with data"
    periods = [p for p in (chosen, prev) if p is not None]
    surveys = data.surveys
    survey_dated = "surveyed_at" in surveys.columns and surveys["surveyed_at"].notna().any()
    fig_nps = fig_mean = fig_top = None
    # ---- NPS
    if survey_dated and "nps" in surveys.columns and periods:
        table = metrics.nps(surveys, freq=freq)
        fig_nps = _figure(
            "NPS", _row(table, chosen), _row(table, prev), "nps", ("nps_ci_lower", "nps_ci_upper"),
            previous_label=prev_label, missing=f"no NPS answers in {chosen}", kind="points", better="up", key="nps",
        )  # fmt: skip
    if fig_nps is None:
        fig_nps = HeadlineFigure("NPS", None, "points", note=why("nps", no_period), key="nps")
    # ---- CSAT
    scale = ratings.get("csat")
    top_label = rk.kpi_label("csat_top_box", currency=data.currency, ratings=ratings)
    if survey_dated and "csat" in surveys.columns and periods:
        table = metrics.csat_summary(surveys, freq=freq, scale=scale)
        current, before = _row(table, chosen), _row(table, prev)
        missing = f"no CSAT answers in {chosen}"
        fig_mean = _figure(
            "CSAT mean", current, before, "csat_mean", ("csat_mean_ci_lower", "csat_mean_ci_upper"),
            previous_label=prev_label, missing=missing, kind="score", unit=scale.label if scale else None,
            better="up", key="csat_mean",
        )  # fmt: skip
        fig_top = _figure(
            top_label, current, before, "csat_top_box", ("csat_top_box_ci_lower", "csat_top_box_ci_upper"),
            previous_label=prev_label, missing=missing, kind="percent", better="up", key="csat_top_box",
        )  # fmt: skip
    if fig_mean is None:
        unit = scale.label if scale else None
        fig_mean = HeadlineFigure(
            "CSAT mean", None, "score", unit=unit, note=why("csat_mean", no_period), key="csat_mean"
        )
        fig_top = HeadlineFigure(top_label, None, "percent", note=why("csat_top_box", no_period), key="csat_top_box")
    # ---- churn
    fig_churn = None
    if basis != "no churn data" and periods:
        first = min(periods)
        try:
            table = metrics.retention(data.customers, freq=freq, start=first, end=chosen, snapshot=snapshot or chosen)
        except ValueError as exc:  # a churn flag without a snapshot date
            fig_churn = HeadlineFigure("churn rate", None, "percent", better="down", note=str(exc), key="churn_rate")
        else:
            if basis == "by snapshot":
                when = f"{snapshot:%Y-%m-%d}" if snapshot is not None else str(chosen)
                fig_churn = _figure(
                    "share who left by the snapshot", _row(table, chosen), None, "churn_rate",
                    ("churn_rate_ci_lower", "churn_rate_ci_upper"), previous_label=None,
                    missing=why("churn_rate", f"no churn flags in {chosen}"), kind="percent", better="down",
                    key="churn_rate",
                    note=f"share of customers who left by the snapshot ({when}), not a per-period rate; "
                    "a snapshot has no previous period",
                )  # fmt: skip
            else:
                fig_churn = _figure(
                    "churn rate", _row(table, chosen), None if uncompared else _row(table, prev), "churn_rate",
                    ("churn_rate_ci_lower", "churn_rate_ci_upper"), previous_label=prev_label,
                    missing=why("churn_rate", f"no customers at the start of {chosen}"), kind="percent",
                    better="down", key="churn_rate", note=totals_note, keep_previous_label=uncompared,
                )  # fmt: skip
    if fig_churn is None:
        fig_churn = HeadlineFigure(
            "churn rate", None, "percent", better="down", note=why("churn_rate", no_period), key="churn_rate"
        )
    # ---- revenue per customer
    currency = data.currency
    fig_rev = None
    if data.has("transactions") and periods:
        label, value, ci, note = _revenue_per_customer(data.customers, data.transactions, kpis, chosen)
        if value is None:
            fig_rev = HeadlineFigure(label, None, "money", unit=currency, note=note, key="revenue_per_customer")
        else:
            prev_value = prev_ci = None
            if prev is not None and not uncompared:
                prev_label2, prev_value, prev_ci, _ = _revenue_per_customer(
                    data.customers, data.transactions, kpis, prev
                )
                if prev_label2 != label:
                    prev_value = prev_ci = None
            fig_rev = HeadlineFigure(
                label, value, "money", ci=ci, unit=currency, previous=prev_value,
                previous_label=prev_label if prev_value is not None or uncompared else None,
                change_ci=change_interval(value, ci, prev_value, prev_ci), better="up",
                note="; ".join(n for n in (note, totals_note) if n) or None, key="revenue_per_customer",
            )  # fmt: skip
    if fig_rev is None:
        why_rev = "no transactions in this data set" if not data.has("transactions") else no_period
        fig_rev = HeadlineFigure(
            "revenue per customer", None, "money", unit=currency, note=why_rev, key="revenue_per_customer"
        )
    figures = [replace(f, periodic=True) for f in (fig_nps, fig_mean, fig_top, fig_churn, fig_rev)]
    return KpiHeadline(figures=figures, period=chosen, previous_period=prev, notes=notes)
