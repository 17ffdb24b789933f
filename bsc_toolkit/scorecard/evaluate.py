"""Evaluate a scorecard on a KPI table: actual vs target, variance, trend, RAG status.

The KPI table has one row per period (``bsc_toolkit.metrics.kpi_summary``) and
one column per KPI; measures read the column named by their ``kpi`` or
``column``. Missing is no data: a column missing from the table, a missing (NaN) actual, or a
rating measure whose target is written on another scale than the data's gives the status
``"no data"`` (never red), and the ``note`` column says why.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import RatingScale, default_scales
from bsc_toolkit.scorecard.spec import PERSPECTIVE_TITLES, Measure, Scorecard

__all__ = [
    "STATUS_COLOURS",
    "STATUS_ORDER",
    "STATUS_SYMBOLS",
    "STATUS_WORDS",
    "attention_table",
    "basis_mismatch",
    "rag_status",
    "evaluate_scorecard",
    "render_scorecard_html",
    "scale_mismatch",
    "shortfalls",
    "status_counts",
    "status_label",
    "status_table",
]

#: Background / text colours of the status cells and sparkline end points.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "green": ("#c8e6c9", "#1b5e20"),
    "amber": ("#ffe0b2", "#e65100"),
    "red": ("#ffcdd2", "#b71c1c"),
    "no data": ("#eeeeee", "#616161"),
}

#: What each status means, in words: a status is never shown by colour alone.
STATUS_WORDS: dict[str, str] = {"green": "on target", "amber": "at risk", "red": "off target", "no data": "no data"}
#: A symbol beside the word (readable in black and white and by colour-blind readers).
STATUS_SYMBOLS: dict[str, str] = {"green": "\u2713", "amber": "\u26a0", "red": "\u2717", "no data": "\u2013"}
#: Statuses from best to "no data" (the order of counts and legends).
STATUS_ORDER: tuple[str, ...] = ("green", "amber", "red", "no data")

_EPS = 1e-9


def status_label(status: str, symbol: bool = True) -> str:
    """The status in words, e.g. ``"\u2717 off target"`` for ``"red"`` (unknown statuses pass through)."""
    word = STATUS_WORDS.get(status, str(status))
    return f"{STATUS_SYMBOLS[status]} {word}" if symbol and status in STATUS_SYMBOLS else word


def rag_status(
    actual: float,
    target: float,
    direction: str = "higher",
    amber: float = 0.0,
    red: float = 0.05,
    relative: bool = True,
) -> str:
    """Red/amber/green status of one value.

    The shortfall is how far ``actual`` falls on the bad side of ``target``:
    ``target - actual`` if higher is better, ``actual - target`` if lower is
    better (negative when the target is beaten), divided by ``|target|`` when
    ``relative``. Status is ``"green"`` while the shortfall is at most
    ``amber``, ``"amber"`` while it is at most ``red`` and ``"red"`` beyond;
    boundary values get the better status (with a 1e-9 tolerance for floating
    point). A missing actual (None, NaN, pd.NA, inf) gives ``"no data"``, never red.

    Parameters
    ----------
    actual, target : float
        Measured value and target.
    direction : {"higher", "lower"}
        Whether higher or lower values are better.
    amber, red : float
        Tolerated shortfalls before amber and red (``0 <= amber <= red``).
    relative : bool
        Whether the thresholds are fractions of ``|target|``.

    Returns
    -------
    str
        ``"green"``, ``"amber"``, ``"red"`` or ``"no data"``.

    Raises
    ------
    ValueError
        On a bad ``direction`` or thresholds, a non-finite ``target``, or a zero target with
        relative thresholds.
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', not {direction!r}")
    if amber < 0 or red < amber:
        raise ValueError(f"thresholds must satisfy 0 <= amber <= red, got amber={amber}, red={red}")
    if not _finite(target):
        raise ValueError(f"target must be a finite number, got {target!r}")
    if not _finite(actual):
        return "no data"
    shortfall = (target - actual) if direction == "higher" else (actual - target)
    if relative:
        if target == 0:
            raise ValueError("relative thresholds need a non-zero target; use relative: false")
        shortfall = shortfall / abs(target)
    if shortfall <= amber + _EPS:
        return "green"
    if shortfall <= red + _EPS:
        return "amber"
    return "red"


def shortfalls(evaluation: pd.DataFrame) -> pd.Series:
    """Each scored measure's shortfall against its target as a share of ``|target|`` (``variance_pct``).

    Positive on the bad side (below the target when higher is better, above it when lower is
    better), negative when the target is beaten; the distance :func:`rag_status` grades. Measures
    without a status or a finite relative variance (no data, a zero target) are left out.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`evaluate_scorecard`.

    Returns
    -------
    pandas.Series
        Indexed like ``evaluation``.
    """
    scored = evaluation.loc[evaluation["status"].isin(["green", "amber", "red"])]
    pct = pd.to_numeric(scored.get("variance_pct"), errors="coerce").astype(float)
    shortfall = pct.where(scored["direction"] == "lower", -pct)
    return shortfall[np.isfinite(shortfall)]


def _finite(value: object) -> bool:
    """True for a finite number (False for None, NaN, pd.NA, inf and non-numbers)."""
    try:
        return bool(np.isfinite(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _data_ratings(kpis: pd.DataFrame, ratings: Mapping[str, RatingScale] | None) -> dict[str, RatingScale]:
    """The scales of the data: ``ratings``, else those kpi_summary recorded, else the defaults."""
    if ratings is not None:
        return {**default_scales(), **dict(ratings)}
    recorded = kpis.attrs.get("ratings") if isinstance(kpis.attrs, dict) else None
    if isinstance(recorded, Mapping) and all(isinstance(v, RatingScale) for v in recorded.values()):
        return {**default_scales(), **dict(recorded)}
    return default_scales()


def scale_mismatch(measure: Measure, ratings: Mapping[str, RatingScale]) -> str | None:
    """Why a rating measure's target cannot be compared with the data, or None when it can.

    A measure with ``scale: [low, high]`` summarising a rating whose scale in ``ratings`` is
    another one gives ``"target written for 1-10, data on 1-5: write the target on the data's
    scale"``. Measures without a declared scale, or on a rating ``ratings`` does not know, pass.
    """
    if measure.scale is None or measure.rating is None or measure.rating not in ratings:
        return None
    data = ratings[measure.rating]
    if (float(data.low), float(data.high)) == (float(measure.scale[0]), float(measure.scale[1])):
        return None
    return f"target written for {measure.scale_label}, data on {data.label}: write the target on the data's scale"


#: KPI columns that are rates per period on dated data but shares "by the snapshot" on snapshot data.
_SNAPSHOT_SHARES = {"churn_rate": "had left by", "retention_rate": "were still active at"}


def basis_mismatch(measure: Measure, kpis: pd.DataFrame) -> str | None:
    """Why a churn or retention measure cannot be compared with its per-period target, or None.

    On snapshot data (``kpis.attrs["churn_basis"] == "by snapshot"``, set by
    :func:`bsc_toolkit.metrics.kpi_summary`) ``churn_rate`` and ``retention_rate`` are the shares of
    customers who had left (stayed) by the snapshot, not rates per period: a target per quarter
    cannot be compared with them. The note gives the snapshot figure.
    """
    what = _SNAPSHOT_SHARES.get(measure.source)
    if what is None or kpis.attrs.get("churn_basis") != "by snapshot" or measure.source not in kpis.columns:
        return None
    known = pd.to_numeric(kpis[measure.source], errors="coerce").dropna()
    value = f" ({known.iloc[-1]:.1%})" if len(known) else ""
    return (
        f"the data give the share of customers who {what} the snapshot{value}, not a rate per period: "
        "not comparable with a per-period target"
    )


def _select_periods(kpis: pd.DataFrame, period: str | pd.Period | None) -> tuple[pd.DataFrame, object]:
    frame = kpis.reset_index() if "period" not in kpis.columns and kpis.index.name == "period" else kpis
    if "period" not in frame.columns:
        raise ValueError(f"KPI table needs a 'period' column (or index); it has {list(frame.columns)}")
    if frame.empty:
        if period is not None:
            raise ValueError(f"period {period!r} not in the KPI table: it has no periods")
        return frame, None
    if frame["period"].duplicated().any():
        dup = frame.loc[frame["period"].duplicated(), "period"].iloc[0]
        raise ValueError(
            f"KPI table has several rows for period {dup} (a `by=` breakdown?); "
            "filter it to one group before evaluating the scorecard"
        )
    frame = frame.sort_values("period", ignore_index=True)
    if period is None:
        return frame, frame["period"].iloc[-1]
    values = frame["period"]
    wanted = period
    if isinstance(values.dtype, pd.PeriodDtype) and not isinstance(period, pd.Period):
        wanted = pd.Period(period, freq=values.dtype.freq)
    match = values == wanted
    if not match.any():
        raise ValueError(f"period {period!r} not in the KPI table; available: {[str(v) for v in values]}")
    last = int(np.flatnonzero(match.to_numpy())[-1])
    return frame.iloc[: last + 1].reset_index(drop=True), frame["period"].iloc[last]


def evaluate_scorecard(
    spec: Scorecard,
    kpis_by_period: pd.DataFrame,
    period: str | pd.Period | None = None,
    n_trend: int | None = 8,
    *,
    ratings: Mapping[str, RatingScale] | None = None,
) -> pd.DataFrame:
    """Evaluate every measure of a scorecard for one period.

    Missing is no data: a measure whose column is absent, whose actual is NaN, or whose
    target is written on another rating scale than the data's (see :func:`scale_mismatch`)
    gets the status ``"no data"``, never red, and a ``note`` saying why; so does a churn or retention
    measure on snapshot data, whose figure is a share by the snapshot, not a rate per period (see
    :func:`basis_mismatch`).

    Parameters
    ----------
    spec : Scorecard
        The scorecard (see :func:`bsc_toolkit.scorecard.load_scorecard`).
    kpis_by_period : pandas.DataFrame
        One row per period with a ``period`` column (or index) and one column
        per KPI, e.g. :func:`bsc_toolkit.metrics.kpi_summary`.
    period : str or Period, optional
        Period to evaluate (e.g. ``"2025Q4"``); ``None`` = the latest. A KPI table without
        rows (no dated data) gives every measure "no data" (``period`` "").
    n_trend : int or None
        Number of periods (up to and including ``period``) in the trend;
        ``None`` keeps all earlier periods.
    ratings : mapping of str to RatingScale, optional
        The scales of the data's rating columns (``csat``, ``nps``, drivers); default: those
        :func:`~bsc_toolkit.metrics.kpi_summary` recorded in ``kpis_by_period.attrs["ratings"]``,
        else :func:`bsc_toolkit.contracts.default_scales`.

    Returns
    -------
    pandas.DataFrame
        One row per measure, in scorecard order, with columns ``period,
        perspective, perspective_title, objective_id, objective, measure_id,
        measure, source, unit, direction, actual, target, variance`` (actual -
        target), ``variance_pct`` (variance / |target|), ``status``
        (green/amber/red/no data), ``previous, change`` (vs the previous
        period), ``improving`` (bool; NaN without a previous value),
        ``trend`` (list of values, oldest first), ``trend_periods``,
        ``format, owner, initiatives``, ``note`` (why the status is "no data", or what to
        know when reading the value; "" otherwise).
    """
    scales = _data_ratings(kpis_by_period, ratings)
    table_notes = kpis_by_period.attrs.get("notes", {}) if isinstance(kpis_by_period.attrs, dict) else {}
    frame, chosen = _select_periods(kpis_by_period, period)
    if n_trend is not None:
        if n_trend < 1:
            raise ValueError("n_trend must be at least 1")
        frame = frame.iloc[-n_trend:]
    trend_periods = [str(p) for p in frame["period"]]
    rows = []
    for p, o, m in spec.iter_measures():
        source = m.source
        if source in frame.columns:
            series = pd.to_numeric(frame[source], errors="coerce").astype(float)
            trend = series.tolist()
        else:
            trend = [math.nan] * len(frame)
        actual = trend[-1] if trend else math.nan
        previous = trend[-2] if len(trend) > 1 else math.nan
        t = m.thresholds
        status = rag_status(actual, m.target, m.direction, t.amber, t.red, t.relative)
        mismatch = scale_mismatch(m, scales) or basis_mismatch(m, kpis_by_period)
        note = str(table_notes.get(source, "")) if isinstance(table_notes, Mapping) else ""
        if mismatch is not None:
            status, note = "no data", mismatch
        elif source not in frame.columns:
            note = f"column {source!r} is not in the KPI table"
        elif status == "no data":
            note = note or (f"no value for {chosen}" if chosen is not None else "the KPI table has no periods")
        variance = actual - m.target if mismatch is None else math.nan
        change = actual - previous
        improving = (change > 0 if m.direction == "higher" else change < 0) if np.isfinite(change) else np.nan
        rows.append(
            {
                "period": str(chosen) if chosen is not None else "",
                "perspective": p.perspective,
                "perspective_title": p.display_title,
                "objective_id": o.id,
                "objective": o.name,
                "measure_id": m.key,
                "measure": m.name,
                "source": source,
                "unit": m.unit,
                "direction": m.direction,
                "actual": actual,
                "target": m.target,
                "variance": variance,
                "variance_pct": variance / abs(m.target) if m.target != 0 else math.nan,
                "status": status,
                "previous": previous,
                "change": change,
                "improving": improving,
                "trend": trend,
                "trend_periods": trend_periods,
                "format": m.format,
                "owner": m.owner or o.owner or "",
                "initiatives": list(m.initiatives),
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def status_counts(evaluation: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """How many measures are on target, at risk, off target and without data.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`evaluate_scorecard`.
    by : str, optional
        Column to count within (e.g. ``"perspective_title"``); None gives one row, "all measures".

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by`` (in scorecard order), columns ``on target, at risk, off target, no data,
        measures`` (counts; every status column present, 0 where none).
    """
    words = [STATUS_WORDS[s] for s in STATUS_ORDER]
    frame = evaluation.assign(_all="all measures")
    key = by or "_all"
    counts = (
        frame.assign(_word=frame["status"].map(STATUS_WORDS).fillna("no data"))
        .groupby(key, sort=False)["_word"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=words, fill_value=0)
        .astype(int)
    )
    counts["measures"] = counts.sum(axis=1)
    counts.index.name = by or ""
    counts.columns.name = None
    return counts


def status_table(evaluation: pd.DataFrame) -> pd.DataFrame:
    """The evaluated scorecard as a plain table (the report's ``scorecard_status`` output).

    The status is a word (``on target``, ``at risk``, ``off target``, ``no data``), never a colour;
    the RAG code stays beside it in ``status_code``. Numbers are the raw values.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`evaluate_scorecard`.

    Returns
    -------
    pandas.DataFrame
        ``period, perspective, objective, measure, unit, direction, actual, target, variance,
        variance_pct, status, status_code, previous, change, improving, owner, initiatives, note``
        (initiatives joined with "; "), one row per measure.
    """
    out = evaluation.copy()
    out["perspective"] = out.get("perspective_title", out["perspective"])
    out["status_code"] = out["status"]
    out["status"] = out["status"].map(STATUS_WORDS).fillna(out["status"])
    if "initiatives" in out:
        out["initiatives"] = out["initiatives"].map(lambda v: "; ".join(v) if isinstance(v, (list, tuple)) else v)
    columns = [
        "period",
        "perspective",
        "objective",
        "measure",
        "unit",
        "direction",
        "actual",
        "target",
        "variance",
        "variance_pct",
        "status",
        "status_code",
        "previous",
        "change",
        "improving",
        "owner",
        "initiatives",
        "note",
    ]
    return out[[c for c in columns if c in out.columns]].reset_index(drop=True)


def attention_table(evaluation: pd.DataFrame, statuses: Sequence[str] = ("red", "amber")) -> pd.DataFrame:
    """The measures that need attention, worst first, with values written in each measure's format.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`evaluate_scorecard`.
    statuses : sequence of str
        The statuses to list (default off target and at risk).

    Returns
    -------
    pandas.DataFrame
        Off target before at risk, and within a status the largest shortfall as a share of the target
        first (:func:`shortfalls`; the order of the headline's worst measure).
        ``objective, measure, actual, target, variance, status`` (a word), ``change, improving``
        (only when a previous period has data), ``owner, initiatives``: text, one row per measure
        (values of different measures have different units, so each is formatted by its own
        ``format``; "–" where missing).
    """
    rank = {s: i for i, s in enumerate(statuses)}
    rows = evaluation.loc[evaluation["status"].isin(statuses)]
    # worst first: by status, then by the shortfall as a share of the target (as the headline's worst measure)
    order = pd.DataFrame({"rank": rows["status"].map(rank), "shortfall": -shortfalls(rows).reindex(rows.index)})
    rows = rows.loc[order.sort_values(["rank", "shortfall"], kind="stable", na_position="last").index]
    with_change = "previous" in evaluation and evaluation["previous"].notna().any()
    out = []
    for r in rows.to_dict("records"):
        fmt = str(r.get("format") or ".3g")
        unit = str(r.get("unit") or "")
        row = {
            "objective": str(r["objective"]),
            "measure": str(r["measure"]) + (f" ({unit})" if unit else ""),
            "actual": html.unescape(_fmt(r["actual"], fmt)),
            "target": html.unescape(_fmt(r["target"], fmt)),
            "variance": html.unescape(_fmt_signed(r.get("variance", math.nan), fmt)),
            "status": status_label(str(r["status"])),
        }
        if with_change:
            improving = r.get("improving")
            row["change"] = html.unescape(_fmt_signed(r.get("change", math.nan), fmt))
            row["improving"] = "–" if not isinstance(improving, (bool, np.bool_)) else ("yes" if improving else "no")
        row["owner"] = str(r.get("owner") or "")
        row["initiatives"] = "; ".join(r.get("initiatives") or [])
        out.append(row)
    columns = ["objective", "measure", "actual", "target", "variance", "status"]
    columns += ["change", "improving"] if with_change else []
    return pd.DataFrame(out, columns=[*columns, "owner", "initiatives"])


# ------------------------------------------------------------------ rendering
def _fmt(value: float, spec: str) -> str:
    if value is None or not np.isfinite(value):
        return "&ndash;"
    return html.escape(format(value, spec))


def _fmt_signed(value: float, spec: str) -> str:
    if value is None or not np.isfinite(value):
        return "&ndash;"
    text = format(value, spec)
    return html.escape(text if text.startswith("-") or value == 0 else "+" + text)


def sparkline_svg(
    values: Sequence[float],
    target: float | None = None,
    colour: str = "#455a64",
    width: int = 110,
    height: int = 26,
    title: str = "",
) -> str:
    """Inline SVG sparkline of a short series (NaNs leave gaps), with a dashed target line.

    Parameters
    ----------
    values : sequence of float
        The series, oldest first.
    target : float, optional
        Drawn as a dashed horizontal line if given.
    colour : str
        Colour of the last point.
    width, height : int
        Size in pixels.
    title : str
        Tooltip text.

    Returns
    -------
    str
        An ``<svg>`` element (no external assets).
    """
    vals = np.asarray(list(values), dtype=float)
    pad = 3.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" style="vertical-align:middle">'
    ]
    if title:
        parts.append(f"<title>{html.escape(title)}</title>")
    finite = vals[np.isfinite(vals)]
    if finite.size == 0:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2 + 4}" font-size="10" text-anchor="middle" fill="#9e9e9e">no data</text>'
        )
        parts.append("</svg>")
        return "".join(parts)
    lo, hi = float(finite.min()), float(finite.max())
    if target is not None and np.isfinite(target):
        lo, hi = min(lo, target), max(hi, target)
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    n = len(vals)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = pad + (height - 2 * pad) * (1 - (v - lo) / (hi - lo))
        return x, y

    if target is not None and np.isfinite(target):
        _, ty = xy(0, target)
        parts.append(
            f'<line x1="{pad}" y1="{ty:.1f}" x2="{width - pad}" y2="{ty:.1f}" '
            'stroke="#9e9e9e" stroke-width="1" stroke-dasharray="3,2"/>'
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, v in enumerate(vals):
        if np.isfinite(v):
            x, y = xy(i, v)
            segment.append(f"{x:.1f},{y:.1f}")
        elif segment:
            segments.append(segment)
            segment = []
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="#455a64" stroke-width="1.5" points="{" ".join(seg)}"/>')
    last = int(np.flatnonzero(np.isfinite(vals))[-1])
    x, y = xy(last, float(vals[last]))
    parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.8" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_scorecard_html(evaluation: pd.DataFrame, title: str | None = None) -> str:
    """Render an evaluated scorecard as an HTML table; the status is a word (and a symbol) on its colour.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`evaluate_scorecard`.
    title : str, optional
        Caption of the table (default: "Scorecard, <period>").

    Returns
    -------
    str
        Self-contained HTML (inline styles and inline SVG sparklines, one per
        measure); show it with ``IPython.display.HTML``.
    """
    required = {"perspective", "objective", "measure", "actual", "target", "status", "trend"}
    missing = sorted(required - set(evaluation.columns))
    if missing:
        raise ValueError(f"evaluation lacks column(s) {missing}; pass the output of evaluate_scorecard")
    period = str(evaluation["period"].iloc[0]) if "period" in evaluation.columns and len(evaluation) else ""
    caption = title if title is not None else f"Scorecard{', ' + period if period else ''}"
    cell = "padding:4px 8px;border-bottom:1px solid #e0e0e0;text-align:left;vertical-align:middle"
    num = cell.replace("text-align:left", "text-align:right")
    head = "padding:4px 8px;border-bottom:2px solid #424242;text-align:left;background:#fafafa"
    out = [
        '<table class="bsc-scorecard" style="border-collapse:collapse;font-family:sans-serif;font-size:13px">',
        f'<caption style="caption-side:top;text-align:left;font-weight:bold;font-size:15px;padding:4px 0">'
        f"{html.escape(caption)}</caption>",
        "<thead><tr>"
        + "".join(
            f'<th style="{head}">{h}</th>'
            for h in ("Objective", "Measure", "Actual", "Target", "Variance", "Status", "Trend", "Owner")
        )
        + "</tr></thead><tbody>",
    ]
    current = None
    for row in evaluation.itertuples(index=False):
        r = row._asdict()
        if r["perspective"] != current:
            current = r["perspective"]
            ptitle = r.get("perspective_title") or PERSPECTIVE_TITLES.get(current, str(current))
            out.append(
                f'<tr><td colspan="8" style="padding:6px 8px;background:#37474f;color:#fff;font-weight:bold">'
                f"{html.escape(str(ptitle))}</td></tr>"
            )
        fmt = r.get("format") or ".3g"
        status = r["status"]
        bg, fg = STATUS_COLOURS.get(status, STATUS_COLOURS["no data"])
        arrow = {"higher": "&#8593;", "lower": "&#8595;"}.get(r.get("direction", ""), "")
        unit = html.escape(str(r.get("unit") or ""))
        measure = html.escape(str(r["measure"]))
        initiatives = r.get("initiatives") or []
        extra = (
            f'<div style="color:#757575;font-size:11px">Initiatives: {html.escape("; ".join(initiatives))}</div>'
            if initiatives
            else ""
        )
        note = str(r.get("note") or "")
        if note:
            extra += f'<div style="color:#757575;font-size:11px;font-style:italic">{html.escape(note)}</div>'
        status_title = f' title="{html.escape(note)}"' if note else ""
        var_pct = r.get("variance_pct", math.nan)
        var_text = _fmt_signed(r.get("variance", math.nan), fmt)
        if var_pct is not None and np.isfinite(var_pct) and not fmt.endswith("%"):
            var_text += f' <span style="color:#757575">({var_pct:+.1%})</span>'
        periods = r.get("trend_periods") or []
        spark = sparkline_svg(
            r["trend"],
            target=r["target"],
            colour=fg,
            title=", ".join(f"{p}: {format(v, fmt) if np.isfinite(v) else 'n/a'}" for p, v in zip(periods, r["trend"])),
        )
        out.append(
            "<tr>"
            f'<td style="{cell}">{html.escape(str(r["objective"]))}</td>'
            f'<td style="{cell}">{measure} <span style="color:#757575" title="{r.get("direction", "")} is better">{arrow}</span>'
            f'<div style="color:#757575;font-size:11px">{unit}</div>{extra}</td>'
            f'<td style="{num}">{_fmt(r["actual"], fmt)}</td>'
            f'<td style="{num}">{_fmt(r["target"], fmt)}</td>'
            f'<td style="{num}">{var_text}</td>'
            f'<td style="{cell};background:{bg};color:{fg};font-weight:bold;text-align:center;white-space:nowrap"'
            f"{status_title}>{html.escape(status_label(status))}</td>"
            f'<td style="{cell}">{spark}</td>'
            f'<td style="{cell}">{html.escape(str(r.get("owner") or ""))}</td>'
            "</tr>"
        )
    legend = ", ".join(f"{STATUS_SYMBOLS[k]} {STATUS_WORDS[k]} ({k})" for k in STATUS_ORDER if k != "no data")
    out.append(
        f'</tbody><tfoot><tr><td colspan="8" style="padding:4px 8px;color:#616161;font-size:11px">Status: {legend}; '
        f"{STATUS_SYMBOLS['no data']} no data: the KPI has no value here (the note says why).</td></tr></tfoot></table>"
    )
    return "\n".join(out)
