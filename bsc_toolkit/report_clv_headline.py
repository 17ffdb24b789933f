"""The customer-value report's headline and key tables (the words and numbers live in :mod:`report_clv`).

The notebook ``customer_value.ipynb`` opens with a headline box (:class:`~bsc_toolkit.headline.Headline`)
and fills it in as its sections compute the figures. This module builds those figures, as pure
functions of what the sections computed:

* :func:`model_subtitle` -- the model used, in words (sBG for subscribers; BG/NBD and Gamma-Gamma
  for buyers), with the limiting model when a fit ran to a boundary of its model;
* :func:`pending_figures` -- the report's own figures before its sections run: "no data" with why,
  replaced (``Headline.set``) by :func:`subscriber_figures` / :func:`buyer_figures` (the value of
  the active customers, the retention at the next renewal or the expected purchases) and
  :func:`what_if_figure` (the value of +1 csat point with its interval);
* :func:`fit_note` -- a fit's status in words (limit model, boundary, not converged, lack of fit),
  the ``note`` of the figures it concerns; :func:`what_if_sentence` -- the headline's sentence;
* key tables: :func:`estimates_table` (parameters with intervals), :func:`segment_frame` (value per
  segment), :func:`measures_frame` (what-if and at-risk measures, each in its unit), :func:`at_risk_table`,
  :func:`reference_table` (a reference check against published estimates);
* :func:`sbg_what_if_compute` / :func:`clv_what_if_compute` -- the what-if (:class:`WhatIfCompute`): the
  static section shows its :meth:`~WhatIfCompute.result`, the interactive form
  (:func:`bsc_toolkit.widgets.what_if_controls`) calls it with the reader's choices: one path for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bsc_toolkit.headline import HeadlineFigure, format_figure, format_interval, kpi_figures
from bsc_toolkit.models.clv import clv_what_if, sbg_what_if
from bsc_toolkit.report_clv import (
    MEASURE_LABELS,
    _row_unit,
    fit_model_name,
    format_amount,
    has_lack_of_fit,
    points_text,
    what_if_markdown,
)
from bsc_toolkit.tables import estimates_frame, format_value, significant
from bsc_toolkit.tables import table as make_table

__all__ = [
    "KEYS",
    "WhatIfCompute",
    "WhatIfResult",
    "at_risk_table",
    "buyer_figures",
    "clv_what_if_compute",
    "estimates_table",
    "fit_note",
    "headline_kpis",
    "kpi_context",
    "measures_frame",
    "model_subtitle",
    "pending_figures",
    "reference_frame",
    "reference_table",
    "sbg_what_if_compute",
    "scale_at_risk",
    "scale_totals",
    "segment_choices",
    "segment_frame",
    "subscriber_figures",
    "what_if_figure",
    "value_sentence",
    "what_if_sentence",
    "what_if_table",
    "what_if_units",
]

#: Keys of the report's own headline figures (CSV/JSON names).
KEYS: dict[str, str] = {
    "value": "clv_value",
    "retention": "clv_retention_next_period",
    "purchases": "clv_expected_purchases",
    "csat_point": "clv_value_of_csat_point",
}

_WITHHELD = "not computed: the customer-value section stopped before it (see below)"


# -- words -------------------------------------------------------------------------------------------
def model_subtitle(choice: Any, *fitters: Any) -> str:
    """The model used, in words, for the headline's subtitle.

    Parameters
    ----------
    choice : ClvChoice
        :func:`bsc_toolkit.report_clv.clv_model_choice`.
    *fitters
        The fitted models of the full history, when there are any: a fit that ran to a limit of its
        model is named by the model actually used ("geometric (no heterogeneity)").

    Returns
    -------
    str
        E.g. ``"Subscribers (contractual): sBG model of contract renewals, quarters"``.
    """
    used = [fit_model_name(f) for f in fitters if f is not None]
    if choice.contractual:
        base = f"Subscribers (contractual): sBG model of contract renewals, {choice.period_name}s"
        default = ("sBG",)
    else:
        base = "Buyers (non-contractual): BG/NBD model of repeat purchases with Gamma-Gamma spend per purchase"
        default = ("BG/NBD", "Gamma-Gamma")
    limits = [m for m in used if m not in default]
    if limits:
        base += " (fitted as the limiting " + " and ".join(limits) + " model)"
    return base


def fit_note(*fitters: Any, lack_of_fit: bool | None = None) -> str | None:
    """The fits' status in words for the ``note`` of the figures built on them; None when all is well.

    Parameters
    ----------
    *fitters
        Fitted CLV models (``fit_status_``, ``diagnostics_``). None is skipped.
    lack_of_fit : bool, optional
        Whether the (first) model fails its goodness-of-fit check; default: read from its diagnostics.

    Returns
    -------
    str or None
        E.g. "geometric (no heterogeneity): at the no-heterogeneity boundary, a limit of the sBG
        (retention constant over tenure)."; "BG/NBD did not converge: figures withheld."
    """
    parts = []
    for fitter in fitters:
        if fitter is None:
            continue
        s = fitter.fit_status_
        if not s.converged:
            parts.append(f"{s.model} did not converge: its figures are withheld")
        elif not s.usable:
            where = f" at the {s.boundary}" if s.boundary else ""
            parts.append(f"{s.model} ran to a boundary{where} without a limiting model: its figures are withheld")
        elif s.boundary:
            parts.append(f"limit model: {s.model}, at the {s.boundary}")
    first = next((f for f in fitters if f is not None), None)
    if lack_of_fit is None:
        lack_of_fit = first is not None and has_lack_of_fit(first)
    if lack_of_fit:
        parts.append("lack of fit: the model does not fit the retention by tenure of these data")
    return "; ".join(parts) + "." if parts else None


def _join(*notes: str | None) -> str | None:
    kept = [n.strip() for n in notes if n and n.strip()]
    return " ".join(n if n.endswith(".") else n + "." for n in kept) or None


# -- the figures -------------------------------------------------------------------------------------
def pending_figures(
    choice: Any,
    currency: str,
    *,
    horizon_months: int | None = None,
    delta: float = 1.0,
    csat: bool = True,
    reason: str = _WITHHELD,
) -> list[HeadlineFigure]:
    """The report's own figures before its sections run: each "no data", with ``reason`` as its note.

    The sections replace them (``Headline.set``) as they compute them; a figure a section could
    not compute stays "no data" and says why.

    Parameters
    ----------
    choice : ClvChoice
    currency : str
    horizon_months : int, optional
        The buyers' CLV horizon (named in the labels).
    delta : float
        The what-if's csat change.
    csat : bool
        Whether the csat what-if figure is expected (False: it says why not from the start).
    reason : str
        The note of the figures not computed yet.
    """
    figures = [_value_figure(None, choice.contractual, currency, note=reason, horizon_months=horizon_months)]
    if choice.contractual:
        figures.append(_retention_figure(None, note=reason))
    else:
        figures.append(_purchases_figure(None, horizon_months, note=reason))
    csat_note = reason if csat else (getattr(choice, "covariate_reason", "") or "no csat covariate in the model")
    figures.append(what_if_figure(None, currency, delta, withheld=csat_note))
    return figures


def _value_figure(
    total: float | None,
    contractual: bool,
    currency: str,
    *,
    note: str | None,
    horizon_months: int | None,
) -> HeadlineFigure:
    if contractual:
        label = "residual value of the active subscribers"
    else:
        label = f"{horizon_months}-month CLV of all customers" if horizon_months else "CLV of all customers"
    return HeadlineFigure(label, total, kind="money", unit=currency, better="up", note=note, key=KEYS["value"])


def _retention_figure(value: float | None, *, note: str | None) -> HeadlineFigure:
    return HeadlineFigure(
        "expected retention at the next renewal", value, kind="percent", better="up", note=note, key=KEYS["retention"]
    )


def _purchases_figure(value: float | None, horizon_months: int | None, *, note: str | None) -> HeadlineFigure:
    label = f"expected purchases in the next {horizon_months} months" if horizon_months else "expected purchases"
    return HeadlineFigure(label, value, kind="count", better="up", note=note, key=KEYS["purchases"])


def subscriber_figures(
    value: pd.DataFrame | None,
    fitter: Any,
    choice: Any,
    currency: str,
    *,
    withheld: str | None = None,
    scale: float = 1.0,
) -> list[HeadlineFigure]:
    """The subscribers' headline figures: total residual value of the active ones, retention at the next renewal.

    Parameters
    ----------
    value : DataFrame or None
        :func:`~bsc_toolkit.report_clv.subscriber_value` of the active subscribers (``tenure``,
        ``derl``, ``clv_usd`` when a value in money exists); None when the values were withheld.
    fitter : ShiftedBetaGeoFitter or None
        The sBG fitted on the full history (its fit status and lack of fit go into the notes).
    choice : ClvChoice
    currency : str
    withheld : str, optional
        Why the values were withheld (the note of both figures when ``value`` is None).
    scale : float
        On a random sample of customers, the whole base over the sample (N/n): the total (and the
        count of subscribers without revenue) is scaled to every customer.

    Returns
    -------
    list of HeadlineFigure
        The residual value (money; "no data" without revenue or a balance margin, with why) and the
        mean probability that an active subscriber renews at their next renewal (percent), both
        from the fitted model: point estimates.
    """
    status = fit_note(fitter) if fitter is not None else None
    if value is None or fitter is None:
        why = withheld or "not computed: the sBG fit is not usable (see its fit status)"
        return [
            _value_figure(None, True, currency, note=_join(why, status), horizon_months=None),
            _retention_figure(None, note=_join(why, status)),
        ]
    if "clv_usd" in value.columns and value["clv_usd"].notna().any():
        known = value["clv_usd"].dropna()
        total: float | None = _scaled_total(float(known.sum()), scale)
        missing = len(value) - len(known)
        money_note = (
            f"{missing * scale:,.0f} of {len(value) * scale:,.0f} active subscribers have no revenue data: left out "
            "(no data, not 0)"
            if missing
            else None
        )
    else:
        total = None
        if "balance_derl" in value.columns:
            money_note = "no data: a balance is not money earned; set balance_margin to value it"
        else:
            money_note = "no data: no revenue (transactions) or balance to value the subscribers by"
    retention = fitter.retention_rate(value["tenure"].to_numpy(dtype=float) + 1)
    mean_retention = float(np.mean(retention)) if len(value) else None
    return [
        _value_figure(total, True, currency, note=_join(money_note, status), horizon_months=None),
        _retention_figure(mean_retention, note=status),
    ]


def buyer_figures(
    value: pd.DataFrame | None,
    fitters: Sequence[Any],
    currency: str,
    horizon_months: int,
    *,
    withheld: str | None = None,
    scale: float = 1.0,
) -> list[HeadlineFigure]:
    """The buyers' headline figures: total CLV over the horizon and the expected purchases in it.

    ``scale``: on a random sample of customers, the whole base over the sample (N/n): both totals are
    scaled to every customer.

    Parameters
    ----------
    value : DataFrame or None
        One row per customer with ``clv_usd`` and ``expected_purchases`` (the report's CLV table);
        None when the CLV was withheld.
    fitters : sequence
        The BG/NBD and Gamma-Gamma fits (their status goes into the notes).
    currency : str
    horizon_months : int
    withheld : str, optional
        Why the CLV was withheld (the note of both figures when ``value`` is None).
    """
    status = fit_note(*fitters)
    if value is None:
        why = withheld or "CLV withheld: the purchase model's forecasts are not usable (see below)"
        return [
            _value_figure(None, False, currency, note=_join(why, status), horizon_months=horizon_months),
            _purchases_figure(None, horizon_months, note=_join(why, status)),
        ]
    clv = value["clv_usd"].dropna()
    purchases = value["expected_purchases"].dropna()
    week_note = "purchase weeks: several purchases in one week count once"
    return [
        _value_figure(
            _scaled_total(float(clv.sum()), scale) if len(clv) else None,
            False,
            currency,
            note=status,
            horizon_months=horizon_months,
        ),
        _purchases_figure(
            _scaled_total(float(purchases.sum()), scale) if len(purchases) else None,
            horizon_months,
            note=_join(week_note, status),
        ),
    ]


def what_if_figure(
    table: pd.DataFrame | None,
    currency: str,
    delta: float = 1.0,
    *,
    fitter: Any = None,
    withheld: str | None = None,
    covariate: str = "csat",
) -> HeadlineFigure:
    """The value of +``delta`` csat point(s), in money with its interval, from the what-if table.

    Parameters
    ----------
    table : DataFrame or None
        ``sbg_what_if`` (row ``clv_total``) or ``clv_what_if`` (row ``clv``): ``change``,
        ``change_ci_lower``, ``change_ci_upper``. None: not computed (``withheld`` says why).
    currency : str
    delta : float
        The what-if's csat change.
    fitter : optional
        The model with the covariate (its status goes into the note).
    withheld : str, optional
        Why there is no what-if.
    covariate : str

    Returns
    -------
    HeadlineFigure
        The change in value (money) with its interval; "no data" with why when the what-if has no
        money row; the note says it is an association, and "no evidence of an effect" where the
        interval includes 0.
    """
    label = f"value of {points_text(delta, covariate)}"
    status = fit_note(fitter) if fitter is not None else None
    if table is None:
        return HeadlineFigure(
            label,
            None,
            kind="money",
            unit=currency,
            better="up",
            note=_join(withheld or "not computed", status),
            key=KEYS["csat_point"],
        )
    row = next((r for r in ("clv_total", "clv") if r in table.index), None)
    if row is None or not np.isfinite(float(table.loc[row, "change"])):
        return HeadlineFigure(
            label,
            None,
            kind="money",
            unit=currency,
            better="up",
            note=_join(f"no data: no revenue to value the change by{_retention_words(table)}", status),
            key=KEYS["csat_point"],
        )
    change = float(table.loc[row, "change"])
    lo, hi = float(table.loc[row, "change_ci_lower"]), float(table.loc[row, "change_ci_upper"])
    ci = (lo, hi) if np.isfinite([lo, hi]).all() else None
    words = "an association, not proof of cause"
    if ci is None:
        words = "no interval could be computed; " + words
    elif lo <= 0 <= hi:
        words = "no evidence of an effect: the interval includes 0; " + words
    horizon = "the remaining lifetime" if row == "clv_total" else "the CLV horizon"
    return HeadlineFigure(
        label,
        change,
        kind="money",
        ci=ci,
        unit=currency,
        better="up",
        note=_join(f"total over {horizon}; {words}", status),
        key=KEYS["csat_point"],
    )


def _retention_words(table: pd.DataFrame) -> str:
    """ "; retention at the next renewal +1.3 pp [+0.8, +1.8]" (or "no evidence of an effect") from a what-if table."""
    row = next((r for r in ("retention_rate_next_period", "mean_p_alive_horizon") if r in table.index), None)
    if row is None:
        return ""
    change, lo, hi = (float(table.loc[row, c]) for c in ("change", "change_ci_lower", "change_ci_upper"))
    if not np.isfinite([change, lo, hi]).all():
        return ""
    what = "retention at the next renewal" if row == "retention_rate_next_period" else "P(alive) at the horizon"
    text = f"; {what} {100 * change:+.1f} pp [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    return text + (" (no evidence of an effect)" if lo <= 0 <= hi else "")


def value_sentence(figures: Sequence[HeadlineFigure]) -> str:
    """The headline's sentence while it has no what-if sentence: the value figure, then why +1 point is missing.

    Used as the headline's ``sentence_fn``: a report whose data have no csat answers (or whose what-if
    could not run) opens with what it did estimate, not with what it could not.
    """
    from bsc_toolkit.headline import format_figure, format_interval, headline_sentence

    by_key = {f.key: f for f in figures}
    value, point = by_key.get(KEYS["value"]), by_key.get(KEYS["csat_point"])
    parts = []
    if value is not None and value.value is not None:
        interval = f" {format_interval(value)}" if value.ci else ""
        parts.append(f"{value.label[:1].upper()}{value.label[1:]}: {format_figure(value)}{interval}.")
    if point is not None and point.value is None and point.note:
        parts.append(f"{point.label[:1].upper()}{point.label[1:]}: no data ({point.note.rstrip('.')}).")
    return " ".join(parts) if parts else headline_sentence(list(figures))


def what_if_sentence(figure: HeadlineFigure, what: str, delta: float = 1.0, covariate: str = "csat") -> str | None:
    """The headline sentence from the csat what-if figure; None when it has no value.

    The amounts are written as on the figure's card (:func:`~bsc_toolkit.headline.format_figure`,
    :func:`~bsc_toolkit.headline.format_interval`), so the sentence and the card agree.

    Parameters
    ----------
    figure : HeadlineFigure
        :func:`what_if_figure`.
    what : str
        The value ("residual value", "12-month CLV").
    delta : float
        The what-if's change in ``covariate`` points.
    covariate : str
    """
    if figure.value is None:
        return None
    points = points_text(delta, covariate)
    amount = format_figure(figure)
    if figure.ci is None:
        return f"{points} goes with {amount} of {what} (no interval); this is an association, not proof of cause."
    lo, hi = figure.ci
    interval = format_interval(figure)
    if lo <= 0 <= hi:
        unit = f" {figure.unit}" if figure.unit else ""
        return f"No evidence that {points} changes {what}: the 95% interval {interval}{unit} includes 0."
    return f"{points} goes with {amount} {interval} of {what}; this is an association, not proof of cause."


def kpi_context(figures: Sequence[HeadlineFigure], contractual: bool, limit: int = 2) -> list[HeadlineFigure]:
    """The KPI figures that give the model's figures context: the csat mean, then churn or revenue per customer.

    Picked by key (``csat_mean``, then ``churn_rate`` or ``revenue_per_customer``); figures without a
    value are left out (they are context, not the report's own figures).

    Parameters
    ----------
    figures : sequence of HeadlineFigure
        ``headline.kpi_figures(...).figures``.
    contractual : bool
        Subscribers: the churn rate; buyers: the revenue per customer.
    limit : int
        At most this many.
    """

    wanted = ("csat_mean", "churn_rate" if contractual else "revenue_per_customer")
    by_key = {f.key: f for f in figures if f.value is not None}
    return [by_key[k] for k in wanted if k in by_key][:limit]


# -- key tables ------------------------------------------------------------------------------------
def estimates_table(
    summaries: Mapping[str, pd.DataFrame] | pd.DataFrame, *, key: str | None = None, caption: str | None = None
) -> Any:
    """A fit's estimates as a formatted table: "estimate [CI]", SE, and p-values where a parameter has one.

    The rows are :func:`bsc_toolkit.tables.estimates_frame` of ``summaries`` (a summary, or model name
    -> summary), parameter names with spaces ("churn probability"). The positive parameters (``alpha``,
    ``r``...) are not tested (testing "= 0" is meaningless): their p-value reads "not tested", not "no
    data". The raw numbers are the keyed data.
    """
    frame = estimates_frame(summaries)
    frame["parameter"] = frame["parameter"].str.replace("_", " ")
    hide: tuple[str, ...] = ()
    labels = {"estimate": "estimate", "se": "SE"}
    if "p_value" in frame.columns:
        frame["p_value_shown"] = [
            format_value(p, "p_value") if np.isfinite(p) else "not tested" for p in frame["p_value"]
        ]
        hide = ("p_value",)
        labels["p_value_shown"] = "p-value"
    return make_table(frame, key=key, caption=caption, hide=hide, labels=labels, kinds={"p_value_shown": "text"})


def segment_frame(value: pd.DataFrame, by: str, column: str = "clv_usd", *, scale: float = 1.0) -> pd.DataFrame:
    """Value per segment (key ``clv_segments``): customers, with a value, total, mean, share of the total.

    Customers without a value (no data) are counted but left out of the sums; customers without a
    segment form the group "no data". ``scale``: on a random sample of customers, the whole base
    over the sample (N/n): counts and totals are scaled to every customer (means and shares are the
    sample's).
    """
    groups = value[by].astype(object).where(value[by].notna(), "no data")
    v = value[column].astype(float)
    out = pd.DataFrame(
        {
            "customers": groups.groupby(groups).size(),
            "with_value": v.notna().groupby(groups).sum().astype(int),
            "total_value": v.groupby(groups).sum(min_count=1),
            "mean_value": v.groupby(groups).mean(),
        }
    )
    total = float(v.sum())
    out["share_of_value"] = out["total_value"] / total if total > 0 else np.nan
    if scale != 1:
        out[["customers", "with_value"]] = out[["customers", "with_value"]] * scale
        out["total_value"] = out["total_value"] * scale
    out.index.name = by
    return out.sort_values("total_value", ascending=False).reset_index()


def reference_frame(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A reference check (``published``, ``this_package``, ``se``, ``rel_diff``) with text columns to show.

    Parameters on different scales share the columns, so each value is written with ``digits``
    significant digits (``published_shown``, ``this_package_shown``, ``se_shown``; plain notation,
    :func:`bsc_toolkit.tables.significant`, trailing zeros dropped as a published "0.243" is) and the relative difference as a signed percentage with
    two significant digits (``rel_diff_shown``: "-0.17%", "+0.0090%"); pass the raw columns as ``hide=``.
    """
    out = frame.copy()
    for col in ("published", "this_package", "se"):
        if col in out.columns:
            out[f"{col}_shown"] = [_digits(v, digits) for v in out[col].astype(float)]
    if "rel_diff" in out.columns:
        out["rel_diff_shown"] = [_percent_diff(v) for v in out["rel_diff"].astype(float)]
    return out


def _digits(v: float, digits: int) -> str:
    """``v`` with at most ``digits`` significant digits, trailing zeros dropped ("0.243", "12,350", never "1.2e+04")."""
    text = significant(v, digits)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent_diff(v: float) -> str:
    """A relative difference as a signed percentage with two significant digits ("-0.17%", "+0.0090%")."""
    if not np.isfinite(v):
        return "no data"
    if v == 0:
        return "0%"
    return ("+" if v > 0 else "") + significant(100 * v, 2) + "%"


def reference_table(frame: pd.DataFrame, key: str, caption: str | None = None) -> Any:
    """A reference check as a table: published, this package, SE and the relative difference, as text.

    Parameters
    ----------
    frame : DataFrame
        One row per parameter (the label columns first), with ``published``, ``this_package``, ``se``;
        ``rel_diff`` is added when absent (``this_package / published - 1``).
    key, caption : str
        As in :func:`bsc_toolkit.tables.table` (the raw numbers are the keyed data).
    """
    raw = ("published", "this_package", "se", "rel_diff")
    if "rel_diff" not in frame.columns:
        frame = frame.assign(rel_diff=frame["this_package"] / frame["published"] - 1)
    shown = reference_frame(frame)
    names = {"published": "published", "this_package": "this package", "se": "SE", "rel_diff": "relative difference"}
    return make_table(
        shown,
        key=key,
        caption=caption,
        hide=raw,
        kinds={f"{c}_shown": "text" for c in raw},
        labels={f"{c}_shown": name for c, name in names.items()},
    )


def measures_frame(
    frame: pd.DataFrame,
    labels: Mapping[str, str],
    units: Mapping[str, str],
    currency: str,
    *,
    columns: Sequence[str] = ("baseline", "scenario", "change"),
) -> pd.DataFrame:
    """Measures with different units as one readable table, the raw numbers kept beside.

    Parameters
    ----------
    frame : DataFrame
        One row per measure (index its name), with ``columns`` and, for each of them that has one,
        an interval ``<col>_ci_lower``/``<col>_ci_upper`` (``ci_lower``/``ci_upper`` for ``estimate``).
    labels : mapping
        Measure -> its words.
    units : mapping
        Measure -> ``"pp"`` (a probability: levels in %, changes in pp), ``"share"``, ``"money"``,
        another unit word ("quarters", "purchases"), or ``""``.
    currency : str
    columns : sequence of str
        The numeric columns to write as text (``change`` is signed).

    Returns
    -------
    DataFrame
        ``measure_id`` (the index), ``measure`` (words), the raw numeric columns, and ``<col>_shown`` text columns
        ("+1.3 pp [+0.8, +1.8]"); pass ``measure_id`` and the raw ones as ``hide=`` to ``tables.table``.
    """
    out = frame.copy()
    out.index = pd.RangeIndex(len(out))
    out.insert(0, "measure_id", [str(i) for i in frame.index])
    out.insert(1, "measure", [labels.get(str(i), str(i).replace("_", " ")) for i in frame.index])
    for col in columns:
        lo_col, hi_col = (f"{col}_ci_lower", f"{col}_ci_upper")
        if col == "estimate" and lo_col not in frame.columns:
            lo_col, hi_col = "ci_lower", "ci_upper"
        shown = []
        change = col == "change"
        for name, row in frame.iterrows():
            unit = units.get(str(name), "")
            has_ci = lo_col in frame.columns and hi_col in frame.columns
            lo, hi = (float(row[lo_col]), float(row[hi_col])) if has_ci else (np.nan, np.nan)
            finite = [abs(x) for x in (float(row[col]), lo, hi) if np.isfinite(x)]
            size = max(finite) if finite else 0.0
            text = format_amount(float(row[col]), unit, currency, change=change, size=size)
            if has_ci:
                if np.isfinite([lo, hi]).all():
                    lo_text, hi_text = (
                        format_amount(x, unit, change=change, size=size, with_unit=False) for x in (lo, hi)
                    )
                    text += f" [{lo_text}, {hi_text}]"
                elif np.isfinite(float(row[col])):
                    text += " [no interval]"
            shown.append(text)
        out[f"{col}_shown"] = shown
    return out.reset_index(drop=True)


def at_risk_table(risk: pd.DataFrame, value_label: str, currency: str, rule: str, key: str = "clv_at_risk") -> Any:
    """The value held by low-satisfaction customers as a table (``clv_at_risk``: estimate, 95% interval).

    Parameters
    ----------
    risk : DataFrame
        ``clv_at_risk`` (rows ``clv_at_risk_usd``, ``share_of_clv``, ``mean_clv_gap_low_minus_rest_usd``).
    value_label : str
        The value ("residual value", "12-month CLV").
    currency : str
    rule : str
        What "low" means, for the caption.
    key : str
    """
    names = {
        "clv_at_risk_usd": f"{value_label} at risk",
        "share_of_clv": f"share of {value_label}",
        "mean_clv_gap_low_minus_rest_usd": f"mean {value_label} gap, low minus rest",
    }
    units = {"clv_at_risk_usd": "money", "share_of_clv": "share", "mean_clv_gap_low_minus_rest_usd": "money"}
    return make_table(
        measures_frame(risk, names, units, currency, columns=("estimate",)),
        key=key,
        hide=("measure_id", "estimate", "ci_lower", "ci_upper"),
        labels={"estimate_shown": "estimate [95% CI]"},
        kinds={"measure": "text", "estimate_shown": "text"},
        caption=f"Value held by customers with {rule} (bootstrap over customers)",
    )


#: Rows of the what-if tables that are totals over customers (the others are means, shares, probabilities).
WHAT_IF_TOTALS = ("expected_purchases", "clv", "clv_total")


def scale_totals(
    frame: pd.DataFrame, rows: Sequence[str], factor: float, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """``frame`` with the numeric ``columns`` (default all) of ``rows`` multiplied by ``factor`` (totals of a
    sample of customers scaled to the whole base, N/n); the others unchanged. A copy; ``factor`` 1 returns ``frame``."""
    if factor == 1:
        return frame
    out = frame.copy()
    present = [r for r in rows if r in out.index]
    cols = [c for c in (columns or out.columns) if c in out.columns and pd.api.types.is_numeric_dtype(out[c])]
    if present and cols:
        out.loc[present, cols] = out.loc[present, cols].astype(float) * factor
    out.attrs = dict(frame.attrs, scaled_by=float(factor))
    return out


def scale_at_risk(risk: pd.DataFrame | None, factor: float) -> pd.DataFrame | None:
    """``clv_at_risk`` of a sample of customers for the whole base: the value at risk times ``factor`` (N/n);
    the share and the mean gap are kept."""
    return None if risk is None else scale_totals(risk, ["clv_at_risk_usd"], factor)


def _scaled_total(total: float, scale: float) -> float:
    """A total over the customers, scaled from a sample to the whole base (N/n) when ``scale`` is not 1.

    A scaled total has no interval here and carries the sampling error of the sample: it is rounded to
    three significant digits (6,310,000,000, not 6,309,816,242), so it claims no more than it knows.
    """
    if scale == 1 or total == 0 or not np.isfinite(total):
        return total * scale
    scaled = total * scale
    digits = 2 - int(np.floor(np.log10(abs(scaled))))
    return float(round(scaled, digits))


def _scaled_words(scale: float) -> str:
    if scale == 1:
        return ""
    return (
        f"\n\nThe totals (expected purchases, value) are those of the random sample of customers scaled to the "
        f"whole base (x {scale:,.4g}); their intervals cover the model's uncertainty, not the sampling of customers."
    )


def what_if_units(index: Sequence[str], period_name: str | None = None) -> dict[str, str]:
    """Unit of each what-if measure, for :func:`measures_frame`."""
    units = {}
    for name in index:
        unit = _row_unit(str(name))
        if unit == "periods":
            unit = f"{period_name}s" if period_name else "periods"
        units[str(name)] = unit
    return units


# -- the interactive what-if ------------------------------------------------------------------------
def what_if_table(
    table: pd.DataFrame,
    currency: str,
    *,
    labels: Mapping[str, str] | None = None,
    period_name: str | None = None,
    key: str | None = None,
    caption: str | None = None,
) -> Any:
    """The what-if measures as a formatted table: each in its unit, the change with its 95% interval.

    Parameters
    ----------
    table : DataFrame
        ``sbg_what_if`` / ``clv_what_if`` (``baseline, scenario, change, change_ci_lower, change_ci_upper``).
    currency : str
    labels : mapping, optional
        Measure -> words, over :data:`bsc_toolkit.report_clv.MEASURE_LABELS`.
    period_name : str, optional
        The contract period ("quarter") of lifetimes.
    key, caption : str, optional
        As in :func:`bsc_toolkit.tables.table` (the raw numbers are the keyed data).

    Returns
    -------
    Table
    """
    raw = ["measure_id"] + [
        c for c in ("baseline", "scenario", "change", "change_ci_lower", "change_ci_upper") if c in table.columns
    ]
    frame = measures_frame(
        table, {**MEASURE_LABELS, **(labels or {})}, what_if_units(table.index, period_name), currency
    )
    shown = ("measure", "baseline_shown", "scenario_shown", "change_shown")
    return make_table(
        frame,
        hide=raw,
        key=key,
        caption=caption,
        labels={"baseline_shown": "baseline", "scenario_shown": "scenario", "change_shown": "change [95% CI]"},
        kinds=dict.fromkeys(shown, "text"),
    )


def segment_choices(customers: pd.DataFrame, column: str = "segment") -> tuple[pd.Series | None, list[str] | None]:
    """Segment by customer id and the segment names, for the interactive what-if; (None, None) without segments."""
    if column not in customers.columns or "customer_id" not in customers.columns:
        return None, None
    seg = customers.set_index("customer_id")[column]
    names = sorted({str(v) for v in seg.dropna()})
    if len(names) < 2:
        return None, None
    return seg.astype(object).where(seg.notna(), None).map(lambda v: None if v is None else str(v)), names


def headline_kpis(data: Any, contractual: bool, *, source: Any = None) -> tuple[list[HeadlineFigure], list[str]]:
    """The KPI figures of :func:`kpi_context` from :func:`bsc_toolkit.headline.kpi_figures`, and its notes.

    A data set the KPI figures cannot be computed on gives no figures and a note saying why (the
    report's own figures do not depend on them). ``source``: the report's
    :class:`~bsc_toolkit.report_data.ReportData` (anything with a ``kpi_headline(freq)`` method),
    whose figures are those of every customer when the models use a sample.
    """
    try:
        kpi = source.kpi_headline(data.freq) if source is not None else kpi_figures(data)
    except (ValueError, KeyError, TypeError) as exc:
        return [], [f"The period KPI figures could not be computed on these data: {exc}"]
    figures = kpi_context(kpi.figures, contractual)
    # the periods compared are on each KPI card ("vs 2025Q3"); a note a card already carries is not repeated
    notes = [n for n in kpi.notes if not any(f.note and n in f.note for f in figures)]
    return figures, notes


def _segment_rows(frame: pd.DataFrame, segments: pd.Series | None, segment: str | None) -> pd.DataFrame:
    if segment in (None, "", "all") or segments is None:
        return frame
    keep = segments.reindex(frame.index).astype(object) == segment
    return frame[keep.to_numpy()]


@dataclass(frozen=True)
class WhatIfResult:
    """One what-if as the report shows it.

    Attributes
    ----------
    raw : DataFrame
        ``sbg_what_if`` / ``clv_what_if`` as returned: every row and column (:func:`what_if_figure` reads it).
    shown : DataFrame
        The measures shown (sBG: without the churn row, the retention row's complement, and over a
        horizon of one period without the expected periods within it, 1 for every active customer;
        BG/NBD: without ``change_pct``).
    markdown : str
        :func:`~bsc_toolkit.report_clv.what_if_markdown` of ``shown``.
    table : Table
        :func:`what_if_table` of ``shown``.
    """

    raw: pd.DataFrame
    shown: pd.DataFrame
    markdown: str
    table: Any


class WhatIfCompute:
    """The csat what-if on a fitted model: one path for the report's static section and its interactive form.

    :meth:`result` runs it (``delta``, ``driver``, ``segment``, ``horizon`` in months, and the run's
    options) and returns a :class:`WhatIfResult`; calling the object, as
    :func:`bsc_toolkit.widgets.what_if_controls` does, returns its words and table.
    """

    def __init__(self, run: Callable[..., WhatIfResult]) -> None:
        self._run = run

    def result(
        self,
        delta: float = 1.0,
        driver: str | None = None,
        segment: str | None = None,
        horizon: Any = None,
        **options: Any,
    ) -> WhatIfResult:
        """The what-if of ``delta`` points of ``driver`` for the customers of ``segment`` (None: all).

        ``options``: ``key`` and ``caption`` of the table; ``n_draws`` (subscribers: parameter draws).
        """
        return self._run(float(delta), driver, segment, horizon, **options)

    def __call__(
        self, delta: float = 1.0, driver: str | None = None, segment: str | None = None, horizon: Any = None
    ) -> tuple[str, Any]:
        r = self.result(delta, driver, segment, horizon)
        return r.markdown, r.table


def sbg_what_if_compute(
    fitter: Any,
    subscribers: pd.DataFrame,
    *,
    covariate: str = "csat",
    revenue: pd.Series | None,
    discount_rate: float,
    scale: tuple[float, float] | None,
    currency: str,
    period_name: str,
    months_per_period: int,
    segments: pd.Series | None = None,
    horizon_months: int = 12,
    n_draws: int = 500,
    seed: int = 0,
    total_scale: float = 1.0,
) -> WhatIfCompute:
    """The subscribers' what-if: :func:`~bsc_toolkit.models.clv.sbg_what_if` on the active subscribers.

    It runs on the subscribers of ``segment`` (None or "all": everyone), with ``horizon`` in months
    (turned into whole contract periods, at least one), and gives the what-if in words (Markdown)
    and as a table.

    Parameters
    ----------
    fitter : ShiftedBetaGeoFitter
        Fitted with ``covariate``.
    subscribers : DataFrame
        :func:`~bsc_toolkit.report_clv.subscriber_table` (``active`` marks who is still a customer).
    revenue : Series or None
        Value per period by customer (:func:`~bsc_toolkit.report_clv.value_per_period`; None: no
        money row). ``sbg_what_if`` values non-negative payments only, so a customer whose refunds
        exceed their purchases (a negative net revenue) is left out of the money row, as a customer
        without revenue is (no data).
    segments : Series, optional
        Segment by customer, for ``segment``.
    n_draws : int
        Parameter draws of the intervals of the interactive form (fewer than the report's, for
        speed); the report passes its own to :meth:`WhatIfCompute.result`.
    total_scale : float
        On a random sample of customers, the whole base over the sample (N/n): the total rows
        (:data:`WHAT_IF_TOTALS`) are scaled to every customer and the words say so.
    """
    payment = None if revenue is None else revenue.where(revenue >= 0)

    def run(
        delta: float,
        driver: str | None,
        segment: str | None,
        horizon: Any,
        *,
        n_draws: int = n_draws,
        key: str | None = None,
        caption: str | None = None,
    ) -> WhatIfResult:
        name = driver or covariate
        months = int(horizon) if horizon else horizon_months
        periods = max(1, round(months / months_per_period))
        rows = _segment_rows(subscribers, segments, segment)
        raw = sbg_what_if(
            fitter,
            rows.assign(left=~rows["active"]),
            name,
            delta,
            revenue_per_period=payment,
            discount_rate=discount_rate,
            churned_col="left",
            n_draws=n_draws,
            seed=seed,
            horizon=periods,
            scale=scale,
        )
        raw = scale_totals(
            raw, WHAT_IF_TOTALS, total_scale, ("baseline", "scenario", "change", "change_ci_lower", "change_ci_upper")
        )
        # the churn row is the retention row's complement; within one period an active customer is certainly active
        drop = ["churn_probability_next_period", *(["expected_periods_within_horizon"] if periods == 1 else [])]
        shown = raw.drop(index=drop, errors="ignore")
        labels = {"expected_periods_within_horizon": f"expected {period_name}s as a customer in the next {periods}"}
        who = "all active subscribers" if segment in (None, "", "all") else f"the active subscribers in {segment}"
        words = what_if_markdown(
            shown,
            name,
            delta,
            currency,
            horizon="the remaining lifetime",
            periods=f"{period_name}s",
            labels=labels,
        ) + _scaled_words(total_scale)
        shown_table = what_if_table(
            shown,
            currency,
            labels=labels,
            period_name=period_name,
            key=key,
            caption=caption or f"What if csat changed: {points_text(delta, name)} for {who}",
        )
        return WhatIfResult(raw, shown, words, shown_table)

    return WhatIfCompute(run)


def clv_what_if_compute(
    fitter: Any,
    summary: pd.DataFrame,
    *,
    covariate: str = "csat",
    spend_model: Any,
    discount_rate_monthly: float,
    freq: str,
    bounds: tuple[float, float] | None,
    currency: str,
    segments: pd.Series | None = None,
    horizon_months: int = 12,
    total_scale: float = 1.0,
) -> WhatIfCompute:
    """The buyers' what-if: :func:`~bsc_toolkit.models.clv.clv_what_if` (delta-method intervals).

    It runs on the customers of ``segment`` over ``horizon`` months and gives the what-if in words
    (Markdown) and as a table. ``total_scale``: on a random sample of customers, N/n: the total rows
    (:data:`WHAT_IF_TOTALS`) are scaled to every customer and the words say so.
    """

    def run(
        delta: float,
        driver: str | None,
        segment: str | None,
        horizon: Any,
        *,
        key: str | None = None,
        caption: str | None = None,
    ) -> WhatIfResult:
        name = driver or covariate
        months = int(horizon) if horizon else horizon_months
        rows = _segment_rows(summary, segments, segment)
        raw = clv_what_if(
            fitter,
            rows,
            name,
            delta,
            spend_model=spend_model,
            time_months=months,
            discount_rate_monthly=discount_rate_monthly,
            freq=freq,
            interval="delta",
            bounds=bounds,
        )
        raw = scale_totals(
            raw, WHAT_IF_TOTALS, total_scale, ("baseline", "scenario", "change", "change_ci_lower", "change_ci_upper")
        )
        shown = raw.drop(columns="change_pct", errors="ignore")
        who = "all surveyed customers" if segment in (None, "", "all") else f"the surveyed customers in {segment}"
        words = what_if_markdown(shown, name, delta, currency, horizon=f"{months} months") + _scaled_words(total_scale)
        default = f"What if csat changed: {points_text(delta, name)} for {who}, over {months} months"
        return WhatIfResult(raw, shown, words, what_if_table(shown, currency, key=key, caption=caption or default))

    return WhatIfCompute(run)
