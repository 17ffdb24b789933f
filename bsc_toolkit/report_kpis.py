"""Helpers of the KPI dashboard and scorecard reports: labels, headline tables and sentences in words.

The reports (``notebooks/customer_kpis.ipynb``, ``notebooks/scorecard.ipynb``) stay thin; what
they need beyond the metrics and the scorecard lives here, as pure functions:

- display names of KPIs on the data's own scales and currency (:func:`kpi_label`), never "USD"
  hard-coded and never a rescaled rating;
- the periods a report headlines and compares, one rule for the headline box, the headline table and
  the scorecard (:func:`headline_periods`, :func:`previous_period`, :func:`periods_with_data`), and the
  periods the data cover only in part (:func:`partial_period_sentences`, :func:`partial_periods_markdown`);
- the headline table of one period, with "no data" and the reason where a KPI has none
  (:func:`headline_table`);
- the segment breakdown that falls back to totals when the data have no such column
  (:func:`segment_breakdown`);
- profitability in words: revenue per customer when there is no cost (never called profit),
  refunds netted per customer, a loss curve for a loss-making business
  (:func:`profitability_by_segment`, :func:`refunds_markdown`, :func:`profitability_markdown`);
- driver-rating means per period on each driver's own scale (:func:`driver_means`);
- strategy-map link estimates only where the data support them, with a sentence on why not
  (:func:`link_estimates`), and what the estimated links do and do not show
  (:func:`link_evidence_markdown`); why scorecard measures have no data
  (:func:`no_data_markdown`);
- the headline boxes: the standard KPI figures with the periods they compare
  (:func:`fill_kpi_headline`), and the scorecard's status counts, the measure furthest from its
  target and a sentence (:func:`scorecard_figures`, :func:`worst_measure`, :func:`scorecard_sentence`,
  :func:`previous_evaluation`).

Every user-supplied string (column names, labels, objective names) is escaped for Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from bsc_toolkit.capabilities import REQUIREMENTS
from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.formatting import escape_markdown, markdown_code, money_label
from bsc_toolkit.headline import HeadlineFigure
from bsc_toolkit.models._base import IMPRECISE_SE_RATIO

if TYPE_CHECKING:
    from bsc_toolkit.headline import Headline, KpiHeadline

__all__ = [
    "CHAIN_LINK_NEEDS",
    "DRIVER_LINK_NEEDS",
    "LINK_NEEDS",
    "HeadlinePeriods",
    "LinkEstimates",
    "data_span",
    "driver_means",
    "fill_kpi_headline",
    "headline_periods",
    "headline_table",
    "kpi_headline_subtitle",
    "kpi_label",
    "link_estimates",
    "link_evidence_markdown",
    "no_data_markdown",
    "partial_period_sentences",
    "partial_periods_markdown",
    "periods_with_data",
    "plot_by_group",
    "previous_evaluation",
    "previous_period",
    "profitability_by_segment",
    "profitability_markdown",
    "refunds_markdown",
    "scorecard_figures",
    "scorecard_sentence",
    "segment_breakdown",
    "top_box_label",
    "worst_measure",
]

#: What the link models behind the strategy-map estimates need (keys of ``capabilities.REQUIREMENTS``).
LINK_NEEDS: tuple[str, ...] = ("csat", "drivers", "churn_dates", "transactions", "dated")
#: What the driver link (drivers -> satisfaction) needs.
DRIVER_LINK_NEEDS: tuple[str, ...] = ("csat", "drivers")
#: What the links of the service-profit chain (satisfaction -> retention -> revenue) need.
CHAIN_LINK_NEEDS: tuple[str, ...] = ("csat", "churn_dates", "transactions", "dated")

_COUNTS = {"n_customers_start", "n_customers_end", "acquired", "churned", "n_responses"}
_RATES = {"churn_rate", "retention_rate", "csat_top_box", "acquisition_rate", "market_share"}
_MONEY = {"revenue_usd", "cost_usd", "profit_usd", "revenue_per_customer_usd", "profit_per_customer_usd"}
_PLAIN = {
    "n_customers_start": "customers at the start of the period",
    "n_customers_end": "customers at the end of the period",
    "acquired": "new customers",
    "churned": "customers lost",
    "churn_rate": "churn rate (per period)",
    "retention_rate": "retention rate (per period)",
    "nps": "Net Promoter Score (-100 to 100)",
}
_SNAPSHOT = {
    "n_customers_start": "customers (all, at the snapshot)",
    "n_customers_end": "customers still active at the snapshot",
    "churned": "customers who had left by the snapshot",
    "churn_rate": "share of customers who left by the snapshot",
    "retention_rate": "share of customers still active at the snapshot",
}
# why a derived KPI can be empty when the KPI table does not say
_DERIVED_WHY = {
    "revenue_per_customer_usd": "needs customer counts (acquisition dates and churn information) as the denominator",
    "profit_per_customer_usd": "needs cost data and customer counts (acquisition dates and churn information)",
    "n_customers_start": "needs acquisition dates and churn information",
    "retention_rate": "needs customer counts and churn information",
    "churn_rate": "needs customer counts and churn information",
}


# ------------------------------------------------------------------ labels
def top_box_label(scale: RatingScale) -> str:
    """The top-box rule of a scale in words: ``"top-2-box (4-5)"`` on 1-5, ``"top box (5)"`` for one point."""
    low, high = scale.top_box_min, scale.high
    points = f"{high:g}" if low == high else f"{low:g}-{high:g}"
    name = "top box" if scale.top_box == 1 else f"top-{scale.top_box}-box"
    return f"{name} ({points})"


def kpi_label(
    column: str,
    *,
    currency: str,
    ratings: Mapping[str, RatingScale] | None = None,
    driver_labels: Mapping[str, str] | None = None,
    churn_basis: str = "per period",
) -> str:
    """Display name of a KPI column, on the data's own scale and in its currency.

    Parameters
    ----------
    column : str
        A column of :func:`bsc_toolkit.metrics.kpi_summary` (or another KPI table).
    currency : str
        The data set's currency (labels every amount).
    ratings : mapping of str to RatingScale, optional
        Scales of the rating columns (``CustomerData.ratings``): ``"CSAT mean (1-5)"``.
    driver_labels : mapping of str to str, optional
        Display label of each driver (``CustomerData.driver_labels``).
    churn_basis : str
        ``"by snapshot"`` names the churn KPIs as shares by the snapshot, not per-period rates.

    Returns
    -------
    str
        Plain text (not escaped: escape it for Markdown with
        :func:`bsc_toolkit.formatting.escape_markdown`).
    """
    ratings = ratings or {}
    driver_labels = driver_labels or {}
    if churn_basis == "by snapshot" and column in _SNAPSHOT:
        return _SNAPSHOT[column]
    if column in _PLAIN:
        return _PLAIN[column]
    if column.endswith("_usd"):
        return money_label(column, currency)
    scale = ratings.get("csat")
    if column == "csat_mean":
        return f"CSAT mean ({scale.label})" if scale else "CSAT mean"
    if column == "csat_top_box":
        return f"CSAT {top_box_label(scale)} share" if scale else "CSAT top-box share"
    if column.endswith("_mean"):
        driver = column.removesuffix("_mean")
        label = driver_labels.get(driver, driver)
        scale = ratings.get(driver)
        return f"{label} mean rating ({scale.label})" if scale else f"{label} mean rating"
    return column


# ------------------------------------------------------------------ periods and the headline
def _kpi_columns(kpis: pd.DataFrame, keys: Sequence[str] = ("period",)) -> list[str]:
    return [c for c in kpis.columns if c not in keys and pd.api.types.is_numeric_dtype(kpis[c])]


def periods_with_data(kpis: pd.DataFrame) -> pd.DataFrame:
    """The rows (periods) of a KPI table in which at least one KPI has a value.

    A report headlines and trends only these: a period with no data at all is not a period of
    the business (a snapshot data set has exactly one).
    """
    cols = _kpi_columns(kpis)
    if not cols:
        return kpis.iloc[0:0]
    return kpis.loc[kpis[cols].notna().any(axis=1)].reset_index(drop=True)


def previous_period(kpis: pd.DataFrame, period: pd.Period | str | None) -> pd.Period | None:
    """The latest period with data (:func:`periods_with_data`) before ``period``, or None.

    The one rule every report compares with: the headline box, the headline table and the scorecard's
    previous evaluation.
    """
    if period is None or period == "" or kpis.empty or "period" not in kpis.columns:
        return None
    values = periods_with_data(kpis)["period"]
    current = pd.Period(period, values.dtype.freq) if isinstance(values.dtype, pd.PeriodDtype) else period
    earlier = values[values < current]
    return earlier.max() if len(earlier) else None


def data_span(surveys: pd.DataFrame, transactions: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last date of the dated tables (``surveyed_at``, ``ordered_at``), or None when nothing is dated."""
    dates = [
        pd.to_datetime(frame[col])
        for frame, col in ((surveys, "surveyed_at"), (transactions, "ordered_at"))
        if col in frame.columns and len(frame)
    ]
    dated = pd.concat(dates).dropna() if dates else pd.Series(dtype="datetime64[ns]")
    return (dated.min(), dated.max()) if len(dated) else None


def partial_period_sentences(
    span: tuple[pd.Timestamp, pd.Timestamp] | None,
    periods: Sequence[pd.Period | None],
    freq: str | None = None,
    *,
    min_gap_days: int = 7,
) -> list[str]:
    """The periods only partly covered by the data, in words (the rule of :func:`partial_periods_markdown`).

    Parameters
    ----------
    span : (Timestamp, Timestamp) or None
        First and last date of the data (:func:`data_span`); None: nothing is dated, nothing is partial.
    periods : sequence of Period or None
        The periods shown side by side (None entries are skipped, repeats said once).
    freq : str, optional
        Period frequency of entries given as text.
    min_gap_days : int
        Data ending (starting) more than this many days before the end (after the start) of a
        period make it partial.

    Returns
    -------
    list of str
        E.g. ``["the data end on 2025-10-21, before the end of 2025Q4"]``; empty when all are whole.
    """
    if span is None:
        return []
    first, last = span[0].normalize(), span[1].normalize()
    sentences = []
    for p in dict.fromkeys(p for p in periods if p is not None):
        p = pd.Period(p, freq) if freq is not None else pd.Period(p)
        start, end = p.start_time.normalize(), p.end_time.normalize()
        if start <= last <= end and (end - last).days > min_gap_days:
            sentences.append(f"the data end on {last:%Y-%m-%d}, before the end of {p}")
        if start <= first <= end and (first - start).days > min_gap_days:
            sentences.append(f"the data start on {first:%Y-%m-%d}, after the start of {p}")
    return sentences


class HeadlinePeriods(NamedTuple):
    """The periods a KPI headline compares (:func:`headline_periods`)."""

    period: pd.Period | None  #: the period headlined (None: no period has data)
    previous: pd.Period | None  #: the previous period with data (None: none, or snapshot data)
    skipped: pd.Period | None  #: the latest period, left out because the data end in its first half
    skipped_why: str | None  #: why, in words ("the data end on ..., before the end of ...")


def headline_periods(
    kpis: pd.DataFrame,
    period: str | pd.Period | None = None,
    *,
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    snapshot: bool = False,
) -> HeadlinePeriods:
    """The period a KPI headline shows and the one it compares with: the one rule of every KPI report.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Output of :func:`bsc_toolkit.metrics.kpi_summary` without ``by``.
    period : str or Period, optional
        The period asked for: used as it is. Default: the latest period with data
        (:func:`periods_with_data`), unless the data (``span``) end in its first half: its churn and
        revenue are then not like for like with a full period, and the latest complete period is
        headlined instead (``skipped`` says which was left out, ``skipped_why`` why).
    span : (Timestamp, Timestamp), optional
        First and last date of the data (:func:`data_span`); without it no period is skipped.
    snapshot : bool
        Snapshot data: one period, nothing to compare with.

    Returns
    -------
    HeadlinePeriods

    Raises
    ------
    ValueError
        When ``period`` is not in the KPI table.
    """
    with_data = periods_with_data(kpis)
    skipped = skipped_why = None
    if period is not None:
        values = kpis["period"]
        chosen = pd.Period(period, values.dtype.freq) if isinstance(values.dtype, pd.PeriodDtype) else period
        if not (values == chosen).any():
            span_text = f"{values.min()} to {values.max()}" if len(kpis) else "none"
            raise ValueError(f"period {chosen} is not in the KPI table (periods: {span_text})")
    else:
        chosen = with_data["period"].iloc[-1] if len(with_data) else None
        if chosen is not None and span is not None and not snapshot and len(with_data) > 1:
            start, end, last = chosen.start_time, chosen.end_time, span[1]
            ends = [t for t in partial_period_sentences(span, [chosen]) if t.startswith("the data end")]
            if ends and (last - start).total_seconds() < 0.5 * (end - start).total_seconds():
                skipped, skipped_why = chosen, ends[0]
                chosen = previous_period(kpis, chosen)
    previous = None if snapshot else previous_period(kpis, chosen)
    return HeadlinePeriods(chosen, previous, skipped, skipped_why)


def _format(value: float, column: str, change: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "no data"
    if column in _RATES:
        return f"{100 * value:+.1f} pp" if change else f"{value:.1%}"
    if column in _COUNTS:
        return f"{value:+,.0f}" if change else f"{value:,.0f}"
    if column in _MONEY:
        spec = ",.2f" if "per_customer" in column else ",.0f"
        return format(value, "+" + spec if change else spec)
    if column == "nps":
        return f"{value:+.1f}" if change else f"{value:.1f}"
    if column.endswith("_mean"):  # mean ratings, on their own scale
        return f"{value:+.3f}" if change else f"{value:.2f}"
    return f"{value:+.3g}" if change else f"{value:.3g}"


def headline_table(
    kpis: pd.DataFrame,
    period: str | pd.Period | None = None,
    *,
    currency: str,
    ratings: Mapping[str, RatingScale] | None = None,
    driver_labels: Mapping[str, str] | None = None,
    raw: bool = False,
) -> tuple[pd.DataFrame, pd.Period | None]:
    """The KPIs of one period against the period before, as text, with "no data" and why.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Output of :func:`bsc_toolkit.metrics.kpi_summary` without ``by`` (its ``attrs["notes"]``
        say why a KPI is empty or how to read it).
    period : str or Period, optional
        Period to headline; default the latest period with data (see :func:`periods_with_data`).
        A single period (snapshot data) is fine: there is then no previous period. A report with a
        headline box passes the box's period (``kpi_figures(...).period``, :func:`headline_periods`)
        so that box and table show the same periods.
    currency, ratings, driver_labels
        As in :func:`kpi_label`.
    raw : bool
        Also return the numbers behind the text: columns ``kpi`` (the KPI column's name),
        ``current_value``, ``previous_value``, ``change_value`` (NaN where missing), for the
        report's CSV/JSON output.

    Returns
    -------
    (pandas.DataFrame, Period or None)
        A table ``KPI, current, previous, change, note`` of display strings ("no data" where a
        value is missing: never NaN or inf; the change of a rate in percentage points), and the
        period shown (None when no period has data: every row is then "no data").
    """
    from bsc_toolkit.metrics import compare_periods

    notes: dict[str, str] = dict(kpis.attrs.get("notes", {}))
    basis = kpis.attrs.get("churn_basis", "per period")
    with_data = periods_with_data(kpis)
    chosen = headline_periods(kpis, period).period
    # a period with data is compared with the previous period with data (:func:`previous_period`)
    table = with_data if chosen is None or (with_data["period"] == chosen).any() else kpis
    compared = compare_periods(table, chosen) if chosen is not None else compare_periods(kpis.iloc[0:0])
    rows = []
    for r in compared.itertuples(index=False):
        note = notes.get(r.kpi, "")
        if not note and not np.isfinite(r.current):
            note = _DERIVED_WHY.get(r.kpi, "no value in this period")
        rows.append(
            {
                "KPI": kpi_label(
                    r.kpi, currency=currency, ratings=ratings, driver_labels=driver_labels, churn_basis=basis
                ),
                "current": _format(r.current, r.kpi),
                "previous": _format(r.previous, r.kpi) if np.isfinite(r.previous) else "–",
                "change": _format(r.change, r.kpi, change=True) if np.isfinite(r.change) else "–",
                "note": note,
                "kpi": r.kpi,
                "current_value": r.current if np.isfinite(r.current) else np.nan,
                "previous_value": r.previous if np.isfinite(r.previous) else np.nan,
                "change_value": r.change if np.isfinite(r.change) else np.nan,
            }
        )
    columns = ["KPI", "current", "previous", "change", "note"]
    if raw:
        columns += ["kpi", "current_value", "previous_value", "change_value"]
    return pd.DataFrame(rows, columns=columns), chosen


def partial_periods_markdown(
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    periods: Sequence[pd.Period | None],
    freq: str,
    *,
    min_gap_days: int = 7,
    span: tuple[pd.Timestamp, pd.Timestamp] | None | EllipsisType = ...,
) -> str:
    """Say so when a reported period is only partly covered by the data (they start or end inside it).

    A quarter whose data end on its tenth week has fewer orders than a full one: its counts and
    amounts, and their change against the previous period, are not like for like.

    Parameters
    ----------
    surveys, transactions : pandas.DataFrame
        The dated tables (``surveyed_at``, ``ordered_at``); either may be empty.
    periods : sequence of Period or None
        The periods the report shows side by side (e.g. the headline period and the previous one).
    freq : str
        Period frequency.
    min_gap_days : int
        Data ending (starting) more than this many days before the end (after the start) of a
        period make it partial.
    span : (Timestamp, Timestamp) or None, optional
        The data's first and last date when the tables given do not hold every date (a report whose
        tables stay in an engine); default: :func:`data_span` of ``surveys`` and ``transactions``.

    Returns
    -------
    str
        A Markdown sentence, or "" when every period is fully covered (or nothing is dated).
    """
    if span is ...:
        span = data_span(surveys, transactions)
    sentences = partial_period_sentences(span, periods, freq, min_gap_days=min_gap_days)
    if not sentences:
        return ""
    text = "; ".join(sentences)
    return (
        f"**Partial period:** {text}. Counts and amounts of a partly covered period are smaller than those of a "
        "full one, so its change against a full period is not like for like (rates and means are less affected)."
    )


# ------------------------------------------------------------------ segments
def segment_breakdown(customers: pd.DataFrame, segment_col: str | None) -> tuple[str | None, str]:
    """The customer column to break KPIs down by, or None with a sentence on why there is none.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table.
    segment_col : str or None
        The requested column (a notebook parameter: user text).

    Returns
    -------
    (str or None, str)
        The column when the customers table has it with values; otherwise None and a Markdown
        sentence saying the KPIs are shown as totals (empty when the breakdown is available).
    """
    if not segment_col:
        return None, "No segment column chosen: the KPIs are shown as totals, without a breakdown."
    if segment_col not in customers.columns:
        return None, (
            f"The customers table has no {markdown_code(segment_col)} column: the KPIs are shown as totals, "
            "without the breakdown by segment."
        )
    if customers[segment_col].notna().sum() == 0:
        return None, (
            f"The {markdown_code(segment_col)} column of the customers table is empty: the KPIs are shown as "
            "totals, without the breakdown by segment."
        )
    return segment_col, ""


# ------------------------------------------------------------------ profitability
def profitability_by_segment(prof: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Customers, revenue and (with cost data) profit per segment.

    Parameters
    ----------
    prof : pandas.DataFrame
        Output of :func:`bsc_toolkit.metrics.customer_profitability` (revenue net of refunds).
    by : str or None
        Segment column of ``prof``; None gives one row, "all customers".

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``customers``, ``revenue_usd``, ``revenue_per_customer_usd`` and, only
        when profit is known, ``profit_usd``, ``profit_per_customer_usd`` and ``unprofitable share``.
        Without cost data there is no profit column at all (revenue is not profit). The amounts keep
        their ``_usd`` names: :func:`bsc_toolkit.tables.table` (``currency=``) formats them as money
        and names the data set's currency in their labels.
    """
    frame = prof.assign(_all="all customers")
    key = by if by is not None else "_all"
    has_profit = bool(frame["profit_usd"].notna().any())
    grp = frame.groupby(key, observed=True, sort=True)
    out = pd.DataFrame({"customers": grp.size(), "revenue_usd": grp["revenue_usd"].sum(min_count=1)})
    out["revenue_per_customer_usd"] = out["revenue_usd"] / out["customers"]
    if has_profit:
        out["profit_usd"] = grp["profit_usd"].sum(min_count=1)
        out["profit_per_customer_usd"] = out["profit_usd"] / out["customers"]
        known = frame["profit_usd"].notna()
        out["unprofitable share"] = (
            frame.loc[known].groupby(key, observed=True)["profit_usd"].apply(lambda s: (s < 0).mean())
        )
    out.index.name = by if by is not None else ""
    return out


def refunds_markdown(
    transactions: pd.DataFrame | None,
    prof: pd.DataFrame,
    currency: str,
    *,
    refunds: tuple[int, float] | None = None,
) -> str:
    """How refunds (negative amounts) enter the customer figures, in words.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Lines with ``revenue_usd`` (negative for refunds).
    prof : pandas.DataFrame
        Output of :func:`bsc_toolkit.metrics.customer_profitability` (revenue summed per customer,
        so refunds are netted against purchases).
    currency : str
        Labels the amounts.
    refunds : (int, float), optional
        The number of refund lines and their total, when the transactions are not in memory
        (``transactions`` is then not read; :func:`bsc_toolkit.engine.report_inputs.refund_lines`).
    """
    if refunds is None:
        if transactions is None or "revenue_usd" not in transactions.columns or transactions.empty:
            return ""
        negative = transactions["revenue_usd"] < 0
        refunds = (int(negative.sum()), float(transactions.loc[negative, "revenue_usd"].sum()))
    n_refunds, total = refunds
    if not n_refunds:
        return "There are no refunds (negative amounts) in the transactions."
    cur = escape_markdown(currency)
    net_nonpositive = int((prof["revenue_usd"] <= 0).sum()) if "revenue_usd" in prof else 0
    buyers = int((prof.get("n_orders", pd.Series(dtype=float)) > 0).sum()) if "n_orders" in prof else len(prof)
    return (
        f"**{n_refunds:,}** transaction lines are refunds (negative amounts, {total:,.0f} {cur} in all). "
        "They are netted against each customer's purchases, so every figure below is revenue *net of refunds*; "
        f"{net_nonpositive:,} of {buyers:,} customers with orders have net revenue of zero or less."
    )


def _share_of_top(whale: pd.DataFrame, share_col: str, top: float) -> float:
    """Cumulative share reached by the top ``top`` share of customers (linear interpolation)."""
    x = whale["customer_share"].to_numpy(dtype=float)
    y = whale[share_col].to_numpy(dtype=float)
    return float(np.interp(top, x, y))


def profitability_markdown(prof: pd.DataFrame, whale: pd.DataFrame, currency: str) -> str:
    """What the cumulative ("whale") curve shows, in words, for profit, loss or revenue.

    Parameters
    ----------
    prof : pandas.DataFrame
        Output of :func:`bsc_toolkit.metrics.customer_profitability`: the totals, the customers
        counted and the unprofitable share are read from it.
    whale : pandas.DataFrame
        Output of :func:`bsc_toolkit.metrics.whale_curve` on ``prof`` (its ``attrs`` say whether
        it is a profit curve, a loss curve on revenue, or a revenue curve without cost data), or
        the engine's curve at evenly spaced ranks (:func:`bsc_toolkit.engine.whale.whale_curve`
        with ``points``): the shares and the peak are read from it.
    currency : str
        Labels the amounts.

    Returns
    -------
    str
        Markdown. Without cost data the text speaks of revenue only (never of profit); for a
        loss-making business it says so and reads the curve as a cumulative margin.
    """
    cur = escape_markdown(currency)
    measure = whale.attrs.get("measure", "profit")
    basis = whale.attrs.get("basis", "none")
    body = whale.iloc[1:]
    if body.empty:
        return "No customer has a known amount: there is no curve to show."
    n_unknown = int(whale.attrs.get("n_unknown", 0))
    unknown = f" {n_unknown:,} customers with an unknown amount are left out." if n_unknown else ""
    if measure == "revenue":
        revenues = prof["revenue_usd"].dropna()  # the customers on the curve: those with a known amount
        total = float(revenues.sum())
        share20 = _share_of_top(whale, "cumulative_revenue_share", 0.2) if basis != "none" else np.nan
        text = (
            "There are no costs in the transactions, so **profit is unknown**: the figures are **revenue** "
            f"(net of refunds) per customer, in {cur}, not profit. Total revenue is {total:,.0f} {cur} from "
            f"{len(revenues):,} customers ({total / len(revenues):,.2f} {cur} per customer)."
        )
        if np.isfinite(share20):
            text += f" The top 20% of customers by revenue bring **{share20:.0%}** of it."
        return text + unknown
    profit = prof["profit_usd"].dropna()  # the customers on the curve
    unprofitable = float((profit < 0).mean())
    total = float(profit.sum())
    if basis == "total profit":
        peak = whale.loc[whale["cumulative_profit_share"].idxmax()]
        return (
            f"The most profitable **{peak.customer_share:.0%}** of customers earn **{peak.cumulative_profit_share:.0%}** "
            f"of total profit ({total:,.0f} {cur}); **{unprofitable:.0%}** of customers are unprofitable." + unknown
        )
    known = prof["profit_usd"].notna()
    revenue = float(prof.loc[known, "revenue_usd"].sum())
    peak = whale.loc[whale["cumulative_profit_usd"].idxmax()]
    if basis == "total revenue":
        if peak.cumulative_profit_usd > 0:
            best = (
                f"The most profitable **{peak.customer_share:.0%}** of customers earn "
                f"{peak.cumulative_profit_usd:,.0f} {cur}; the other customers lose more than that."
            )
        else:
            best = "No customer earns a profit."
        return (
            f"**The business made a loss** over the window: total profit is {total:,.0f} {cur} on {revenue:,.0f} {cur} "
            f"of revenue (a margin of {total / revenue:.1%}). The curve is therefore a *loss curve*: cumulative profit "
            "as a share of total revenue (a cumulative margin, ending at the overall margin) rather than of total "
            f"profit. {best} **{unprofitable:.0%}** of customers are unprofitable." + unknown
        )
    return (
        f"Neither total profit ({total:,.0f} {cur}) nor total revenue is positive, so no shares can be formed: "
        f"the curve shows amounts only. **{unprofitable:.0%}** of customers are unprofitable." + unknown
    )


# ------------------------------------------------------------------ drivers
def driver_means(
    surveys: pd.DataFrame,
    drivers: Sequence[str],
    freq: str,
    *,
    labels: Mapping[str, str] | None = None,
    ratings: Mapping[str, RatingScale] | None = None,
    date_col: str = "surveyed_at",
) -> pd.DataFrame:
    """Mean driver ratings per period, each on its own declared scale (never rescaled).

    Parameters
    ----------
    surveys : pandas.DataFrame
        Responses with ``date_col`` and the driver rating columns (any names).
    drivers : sequence of str
        Driver rating columns (``CustomerData.drivers``); absent or empty ones are left out.
    freq : str
        Period frequency.
    labels : mapping, optional
        Display label of each driver (``CustomerData.driver_labels``).
    ratings : mapping, optional
        Scale of each driver (``CustomerData.ratings``); its label goes into ``scale``.

    Returns
    -------
    pandas.DataFrame
        ``period, driver, label, scale, n_responses, mean_rating, ci_lower, ci_upper`` (95% t
        interval), one row per period and driver with answers.
    """
    from scipy import stats

    labels = labels or {}
    ratings = ratings or {}
    present = [d for d in drivers if d in surveys.columns and surveys[d].notna().any()]
    columns = ["period", "driver", "label", "scale", "n_responses", "mean_rating", "ci_lower", "ci_upper"]
    if not present or surveys.empty:
        return pd.DataFrame(columns=columns)
    periods = pd.to_datetime(surveys[date_col]).dt.to_period(freq)
    frames = []
    for d in present:
        values = pd.to_numeric(surveys[d], errors="coerce")
        g = values.groupby(periods, observed=True)
        out = pd.DataFrame({"n_responses": g.count(), "mean_rating": g.mean(), "sd": g.std()})
        out = out.loc[out["n_responses"] > 0]
        n = out["n_responses"].to_numpy(dtype=float)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * out["sd"].to_numpy(dtype=float) / np.sqrt(n)
        out["ci_lower"], out["ci_upper"] = out["mean_rating"] - half, out["mean_rating"] + half
        scale = ratings.get(d)
        out = out.drop(columns="sd").rename_axis("period").reset_index()
        out.insert(1, "driver", d)
        out.insert(2, "label", labels.get(d, d))
        out.insert(3, "scale", scale.label if scale is not None else "scale not declared")
        frames.append(out)
    return pd.concat(frames, ignore_index=True)[columns]


def plot_by_group(
    frame: pd.DataFrame,
    group: str,
    y: str,
    ci: tuple[str, str] | None = None,
    *,
    ylabel: str,
    percent: bool = False,
    ax: Any = None,
) -> Any:
    """Estimates with their intervals side by side, one per group (for one period, e.g. a snapshot).

    A trend line through a single period says nothing; this draws each group's value as a point
    with its interval as a bar. "no data" when there is no value.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per group.
    group : str
        Column naming the groups (the x axis).
    y : str
        The estimate column.
    ci : (str, str), optional
        Lower and upper interval columns.
    ylabel : str
        Axis label (with the scale or unit).
    percent : bool
        Format the axis as a percentage (shares in [0, 1]).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    known = frame.loc[pd.to_numeric(frame[y], errors="coerce").notna()] if y in frame.columns else frame.iloc[0:0]
    if known.empty:
        ax.text(0.5, 0.5, f"no data: {ylabel}", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(ylabel)
        return ax
    x = np.arange(len(known))
    values = known[y].to_numpy(dtype=float)
    yerr = None
    if ci is not None and all(c in known.columns for c in ci):
        lo, hi = known[ci[0]].to_numpy(dtype=float), known[ci[1]].to_numpy(dtype=float)
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            yerr = np.vstack([values - lo, hi - values])
    ax.errorbar(x, values, yerr=yerr, fmt="o", capsize=4, color="tab:blue")
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in known[group]], rotation=30, ha="right")
    ax.set_xlabel(group)
    ax.set_ylabel(ylabel)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


# ------------------------------------------------------------------ strategy map links
class LinkEstimates(NamedTuple):
    """Link strengths for a strategy map, what they come from, and why some are missing.

    Attributes
    ----------
    links : pandas.DataFrame or None
        Link-strength table (:data:`bsc_toolkit.scorecard.LINK_COLUMNS`), or None.
    note : str
        Markdown: why there are no (or only some) estimates; "" when every link model ran.
    models : dict
        Label -> fitted model, for its diagnostics (:func:`bsc_toolkit.formatting.diagnostics_markdown`),
        where the models are available (the driver analysis fitted here on partial data).
    """

    links: pd.DataFrame | None
    note: str
    models: dict[str, Any]


def link_estimates(
    data: Any,
    features: Mapping[str, bool],
    freq: str,
    *,
    estimate: bool = True,
    n_boot: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> LinkEstimates:
    """Link strengths for the strategy map where the data support the link models, else why not.

    - The driver link (drivers -> satisfaction) where the data have satisfaction and driver
      ratings (:data:`DRIVER_LINK_NEEDS`): :class:`~bsc_toolkit.models.drivers.DriverImportance` on
      the data's drivers and scales.
    - The links of the service-profit chain (satisfaction -> retention -> revenue) where the data
      have what the chain needs (:data:`CHAIN_LINK_NEEDS`: satisfaction, churn dates and
      transactions over several periods): :class:`~bsc_toolkit.models.chain.ServiceProfitChain` on
      :func:`~bsc_toolkit.models.chain.customer_chain_table`, with the baseline shortened to leave a
      follow-up in a short window (:func:`~bsc_toolkit.models.chain.chain_baseline_periods`).
    - A model that these data cannot identify (:class:`~bsc_toolkit.models._base.NotEstimableError`:
      nobody churned in the follow-up, too few customers...) is left out and the note says why; any
      other error propagates (a report section states it as a failure).

    Parameters
    ----------
    data : CustomerData
        The loaded data set.
    features : mapping
        :func:`bsc_toolkit.capabilities.data_features` of ``data``.
    freq : str
        Period frequency of the chain table.
    estimate : bool
        False skips the estimation (the notebook's ``estimate_links`` parameter).
    n_boot, seed, alpha
        Bootstrap settings and 1 - confidence level of the link models.

    Returns
    -------
    LinkEstimates
        ``(links, note, models)``: the link-strength table (None when no link could be estimated),
        Markdown saying which links are not estimated and why ("" when all were), and the fitted
        models by label (``"driver analysis"``, ``"service-profit chain"``) for their diagnostics.
    """
    if not estimate:
        note = (
            "Link strengths were not estimated (`estimate_links = False`): the arrows are the scorecard's hypotheses."
        )
        return LinkEstimates(None, note, {})
    from bsc_toolkit.models._base import NotEstimableError

    def labels(needs: Sequence[str]) -> str:
        return escape_markdown("; ".join(REQUIREMENTS[n].label for n in needs))

    missing = [n for n in LINK_NEEDS if not features.get(n, False)]
    driver_gap = [n for n in DRIVER_LINK_NEEDS if not features.get(n, False)]
    chain_gap = [n for n in CHAIN_LINK_NEEDS if not features.get(n, False)]
    if driver_gap and chain_gap:
        note = (
            "The strategy map is drawn **without link estimates**: the link models (driver analysis and "
            "service-profit chain) need " + labels(missing) + ", which this data set does not have."
        )
        return LinkEstimates(None, note, {})
    ratings = dict(getattr(data, "ratings", None) or {})
    models: dict[str, Any] = {}
    notes: list[str] = []
    drivers = chain = None
    if not driver_gap:
        from bsc_toolkit.models.drivers import DriverImportance

        try:
            drivers = DriverImportance(alpha=alpha, scales=ratings).fit(
                data.surveys, drivers=list(data.drivers), n_boot=n_boot, seed=seed
            )
            models["driver analysis"] = drivers
        except NotEstimableError as exc:
            notes.append(
                "The link from the driver ratings to satisfaction is **not estimable** on this data set: "
                + escape_markdown(str(exc))
                + "."
            )
    else:
        notes.append(
            "The link from the driver ratings to satisfaction needs "
            + labels(driver_gap)
            + ", which this data set does not have: those arrows are drawn without estimates."
        )
    if not chain_gap:
        from bsc_toolkit.models.chain import ServiceProfitChain, chain_baseline_periods, customer_chain_table

        try:
            baseline, shortened = chain_baseline_periods(data.surveys, data.transactions, freq)
            table = customer_chain_table(
                data.customers, data.surveys, data.transactions, freq=freq, baseline_periods=baseline
            )
            chain = ServiceProfitChain(
                alpha=alpha, scale=ratings.get("csat"), currency=str(getattr(data, "currency", "USD"))
            ).fit(table, outcome="revenue_usd", n_boot=n_boot, seed=seed)
            models["service-profit chain"] = chain
            if shortened:
                notes.append(escape_markdown(shortened))
        except NotEstimableError as exc:
            notes.append(
                "The links of the service-profit chain (satisfaction -> retention -> revenue) are **not estimable** "
                "on this data set: " + escape_markdown(str(exc)) + "; those arrows are drawn without estimates."
            )
    else:
        lead = (
            "Only the link from the driver ratings to satisfaction is estimated (driver analysis). " if drivers else ""
        )
        notes.append(
            lead
            + "The links of the service-profit chain (satisfaction -> retention -> revenue) need "
            + labels(chain_gap)
            + ", which this data set does not have: those arrows are drawn without estimates."
        )
    if drivers is None and chain is None:
        return LinkEstimates(None, "The strategy map is drawn **without link estimates**. " + " ".join(notes), models)
    from bsc_toolkit.scorecard import link_strengths_table

    return LinkEstimates(link_strengths_table(drivers, chain, freq=freq), " ".join(notes), models)


def link_evidence_markdown(matched: pd.DataFrame, spec: Any, alpha: float = 0.05) -> str:
    """What the estimated links of a strategy map show, in words: null results and imprecise estimates.

    Parameters
    ----------
    matched : pandas.DataFrame
        Output of :func:`bsc_toolkit.scorecard.match_link_strengths` (``source, target`` objective
        ids, ``estimate, ci_lower, ci_upper, unit``).
    spec : Scorecard
        The scorecard (names the objectives).
    alpha : float
        1 - confidence level of the intervals.

    Returns
    -------
    str
        Markdown list: each link whose interval includes 0 gets "no evidence of a link between
        A and B in these data" (its money figure is not an effect); a standard error over 100
        times its estimate is flagged. Empty when no link was estimated.
    """
    from bsc_toolkit.models._base import z_critical

    z = z_critical(alpha)
    names = {}
    for _, o in spec.iter_objectives():
        names[o.id] = o.model_node or o.name
    lines = []
    for r in matched.itertuples(index=False):
        est, lo, hi = float(r.estimate), float(r.ci_lower), float(r.ci_upper)
        if not np.isfinite(est):
            continue
        src, tgt = escape_markdown(names.get(r.source, r.source)), escape_markdown(names.get(r.target, r.target))
        unit = str(r.unit or "")
        if unit.startswith("R^2"):  # a share of variance: never below 0, so read its size, not its sign
            text = (
                f"- **{src} → {tgt}**: together the ratings explain {est:.1%} of the variance "
                f"({1 - alpha:.0%} interval {lo:.1%} to {hi:.1%})"
            )
            if np.isfinite(hi) and hi < 0.02:
                text += f": practically none, **no evidence of a link between {src} and {tgt} in these data**"
            lines.append(text + ".")
        elif np.isfinite(lo) and np.isfinite(hi) and lo <= 0 <= hi:
            text = (
                f"- **{src} → {tgt}**: the {1 - alpha:.0%} interval [{lo:.3g}, {hi:.3g}] includes 0: "
                f"**no evidence of a link between {src} and {tgt} in these data**"
            )
            if any(word in unit for word in ("revenue", "margin", "profit")):
                text += "; the amount on this arrow is not an effect that can be counted on"
            lines.append(text + ".")
        elif np.isfinite(lo) and np.isfinite(hi):
            se = (hi - lo) / (2 * z)
            if se > IMPRECISE_SE_RATIO * abs(est):
                lines.append(
                    f"- **{src} → {tgt}**: the standard error is over 100 times the estimate: too imprecise to read."
                )
            else:
                lines.append(
                    f"- **{src} → {tgt}**: {est:.3g} {escape_markdown(unit)} "
                    f"({1 - alpha:.0%} interval {lo:.3g} to {hi:.3g}): an association in these data."
                )
    return "\n".join(lines)


# ------------------------------------------------------------------ scorecard
def no_data_markdown(evaluation: pd.DataFrame, kpis: pd.DataFrame) -> str:
    """Why the measures of an evaluated scorecard that show "no data" have none, grouped by reason.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`bsc_toolkit.scorecard.evaluate_scorecard` (a ``note`` column, when
        present, gives the reason per measure, e.g. a scale mismatch).
    kpis : pandas.DataFrame
        The KPI table evaluated (``attrs["notes"]`` says why a KPI is empty).

    Returns
    -------
    str
        Markdown list ``- measure, measure: reason``; empty when every measure has data.
    """
    notes: dict[str, str] = dict(kpis.attrs.get("notes", {}))
    rows = evaluation.loc[evaluation["status"] == "no data"]
    reasons: dict[str, list[str]] = {}
    for r in rows.to_dict("records"):
        source = str(r.get("source", ""))
        note = r.get("note")
        if not (isinstance(note, str) and note):
            if source not in kpis.columns:
                note = f"the KPI table has no column '{source}' (this data set does not provide it)"
            else:
                note = notes.get(source) or _DERIVED_WHY.get(source) or f"no value of '{source}' in this period"
        reasons.setdefault(note, []).append(str(r["measure"]))
    return "\n".join(
        f"- {', '.join(escape_markdown(m) for m in measures)}: {escape_markdown(reason)}"
        for reason, measures in reasons.items()
    )


# ------------------------------------------------------------------ headline boxes
def kpi_headline_subtitle(
    period: pd.Period | None, previous: pd.Period | None, snapshot: pd.Timestamp | None = None
) -> str:
    """What a KPI headline compares, in words: ``"2025Q4 against 2025Q3, the previous period with data"``."""
    if period is None:
        return "no period has a KPI value in this data set"
    if snapshot is not None:
        return f"snapshot of {snapshot:%Y-%m-%d} ({period}): one period, no change to show"
    if previous is None:
        return f"{period}: the only period with data, no change to show"
    return f"{period} against {previous}, the previous period with data"


def fill_kpi_headline(hl: Headline, kh: KpiHeadline, *, snapshot: pd.Timestamp | None = None) -> Headline:
    """Put the standard KPI figures (:func:`bsc_toolkit.headline.kpi_figures`) in a headline box.

    Sets the subtitle to the periods compared (:func:`kpi_headline_subtitle`), adds the figures (a
    figure the data cannot give stays "no data" with its reason) and, as caveats, the headline's
    notes that no figure already carries.

    Parameters
    ----------
    hl : Headline
        The report's headline box (shown at the top; call ``hl.refresh()`` afterwards).
    kh : KpiHeadline
        Output of :func:`bsc_toolkit.headline.kpi_figures`.
    snapshot : Timestamp, optional
        The snapshot date of snapshot data (one period, no change).

    Returns
    -------
    Headline
        ``hl``.
    """
    hl.subtitle = kpi_headline_subtitle(kh.period, kh.previous_period, snapshot)
    hl.add(*kh.figures)
    carried = " ".join(f.note or "" for f in kh.figures)
    for note in kh.notes:
        if note not in carried and note not in hl.caveats:
            hl.caveat(note)
    return hl


def previous_evaluation(
    spec: Any,
    kpis: pd.DataFrame,
    period: pd.Period | str | None,
    *,
    ratings: Mapping[str, RatingScale] | None = None,
) -> pd.DataFrame | None:
    """The scorecard evaluated on the period with data before ``period`` (None when there is none).

    Parameters
    ----------
    spec : Scorecard
        The scorecard.
    kpis : pandas.DataFrame
        The KPI table evaluated (one row per period).
    period : Period or str
        The evaluated period (``evaluation["period"]``).
    ratings : mapping, optional
        The data's rating scales (as for :func:`bsc_toolkit.scorecard.evaluate_scorecard`).
    """
    from bsc_toolkit.scorecard import evaluate_scorecard

    previous = previous_period(kpis, period)
    if previous is None:
        return None
    return evaluate_scorecard(spec, periods_with_data(kpis), period=previous, n_trend=1, ratings=ratings)


def _ranked(evaluation: pd.DataFrame, unranked_units: Sequence[str]) -> pd.DataFrame:
    """The measures whose unit names none of ``unranked_units`` (e.g. money targets in another currency)."""
    if not unranked_units or "unit" not in evaluation:
        return evaluation
    units = evaluation["unit"].fillna("").astype(str)
    keep = ~units.apply(lambda u: any(token in u for token in unranked_units))
    return evaluation.loc[keep]


def _worst(evaluation: pd.DataFrame, unranked_units: Sequence[str] = ()) -> tuple[pd.Series, float, str] | None:
    """(row, shortfall, "actual against a target of target unit") of the worst measure (see :func:`worst_measure`)."""
    from bsc_toolkit.scorecard.evaluate import shortfalls

    shortfall = shortfalls(_ranked(evaluation, unranked_units))
    if shortfall.empty:
        return None
    severity = evaluation.loc[shortfall.index, "status"].map({"red": 2, "amber": 1, "green": 0})
    i = pd.DataFrame({"severity": severity, "shortfall": shortfall}).sort_values(["severity", "shortfall"]).index[-1]
    row = evaluation.loc[i]
    fmt = str(row.get("format") or ".3g")
    unit = str(row.get("unit") or "")
    text = f"{format(float(row['actual']), fmt)} against a target of {format(float(row['target']), fmt)}"
    return row, float(shortfall.loc[i]), text + (f" {unit}" if unit else "")


def worst_measure(
    evaluation: pd.DataFrame, previous: pd.DataFrame | None = None, unranked_units: Sequence[str] = ()
) -> HeadlineFigure | None:
    """The measure furthest from its target, as a headline figure (None when no measure is scored).

    The worst status comes first (off target, then at risk), and within it the largest distance:
    the shortfall as a share of the target (``variance / |target|``, on the bad side: below the
    target when higher is better). Measures without data or with a zero target are not ranked. When
    every scored measure meets its target, the one with the smallest margin is given instead,
    labelled so.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`bsc_toolkit.scorecard.evaluate_scorecard`.
    previous : pandas.DataFrame, optional
        The scorecard evaluated on the previous period with data (:func:`previous_evaluation`): the
        same measure's shortfall there is the figure's previous value.
    unranked_units : sequence of str
        Measures whose unit contains one of these (e.g. ``("USD",)`` when the scorecard's money targets
        are in USD and the data in another currency) are not ranked: their distance to target means
        nothing.

    Returns
    -------
    HeadlineFigure or None
        ``kind="percent"``: the shortfall as a share of the target (key ``worst_measure_shortfall``)
        or, when every scored measure meets its target, the smallest margin over it (key
        ``smallest_margin``); the note gives the actual, the target and the status in words.
    """
    from bsc_toolkit.scorecard.evaluate import status_label

    found = _worst(evaluation, unranked_units)
    if found is None:
        return None
    row, gap, text = found
    status = status_label(str(row["status"]), symbol=False)
    missed = gap > 0
    if missed:
        label = f"Furthest from target: {row['measure']}"
        side = "below" if row["direction"] == "higher" else "above"
        note = f"{text}: {gap:.1%} {side} it ({status}); shortfall as a share of the target"
    else:
        label = f"Smallest margin over target: {row['measure']}"
        note = f"{text} ({status}); every scored measure meets its target; margin as a share of the target"
    if unranked_units:
        note += f"; measures in {', '.join(unranked_units)} are not ranked (their targets are in another currency)"
    before = None
    if previous is not None and "measure_id" in previous and "measure_id" in row:
        from bsc_toolkit.scorecard.evaluate import shortfalls

        earlier = shortfalls(previous)
        same = previous.loc[earlier.index, "measure_id"] == row["measure_id"]
        before = float(earlier[same].iloc[0]) if same.any() else None
    sign = 1.0 if missed else -1.0  # a shortfall, or a margin over the target
    return HeadlineFigure(
        label,
        sign * gap,
        "percent",
        previous=sign * before if before is not None else None,
        previous_label=str(previous["period"].iloc[0]) if before is not None else None,
        better="down" if missed else "up",
        periodic=True,
        note=note,
        key="worst_measure_shortfall" if missed else "smallest_margin",
    )


def scorecard_figures(
    evaluation: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    kpi: Sequence[HeadlineFigure] = (),
    *,
    max_figures: int = 6,
    unranked_units: Sequence[str] = (),
) -> list[HeadlineFigure]:
    """The scorecard's headline figures: status counts, the worst measure, then KPI figures.

    Parameters
    ----------
    evaluation : pandas.DataFrame
        Output of :func:`bsc_toolkit.scorecard.evaluate_scorecard`.
    previous : pandas.DataFrame, optional
        The same scorecard evaluated on the previous period with data (:func:`previous_evaluation`):
        its counts are the figures' previous values.
    kpi : sequence of HeadlineFigure
        Candidate KPI figures (e.g. :func:`bsc_toolkit.headline.kpi_figures`); those with a value
        fill the remaining places, in order.
    max_figures : int
        At most this many figures (the four counts and the worst measure come first).
    unranked_units : sequence of str
        Units whose measures the worst-measure figure leaves out (see :func:`worst_measure`).

    Returns
    -------
    list of HeadlineFigure
        ``measures on target (of N)``, ``at risk``, ``off target``, ``no data`` (counts), the measure
        furthest from its target (:func:`worst_measure`, when any measure is scored), then KPI
        figures.
    """
    from bsc_toolkit.scorecard.evaluate import STATUS_ORDER, STATUS_WORDS, status_counts

    counts = status_counts(evaluation).iloc[0]
    before = status_counts(previous).iloc[0] if previous is not None and len(previous) else None
    before_label = str(previous["period"].iloc[0]) if before is not None else None
    total = int(counts["measures"])
    better = {"green": "up", "amber": "down", "red": "down", "no data": None}
    figures = []
    for code in STATUS_ORDER:
        word = STATUS_WORDS[code]
        n = int(counts[word])
        what = "with no data" if code == "no data" else word
        note = None
        if code == "no data" and n:
            note = "their KPI has no value here, or the target is on another scale: the notes under the table say why"
        figures.append(
            HeadlineFigure(
                f"measures {what} (of {total})",
                float(n),
                "count",
                previous=float(before[word]) if before is not None else None,
                previous_label=before_label,
                better=better[code],  # type: ignore[arg-type]
                periodic=True,
                note=note,
                key=f"measures_{word.replace(' ', '_')}",
            )
        )
    worst = worst_measure(evaluation, previous, unranked_units)
    if worst is not None:
        figures.append(worst)
    room = max(0, max_figures - len(figures))
    figures += [f for f in kpi if f.value is not None][:room]
    return figures


def scorecard_sentence(evaluation: pd.DataFrame, unranked_units: Sequence[str] = ()) -> str:
    """The scorecard in one plain sentence: the status counts and the measure furthest from target."""
    from bsc_toolkit.scorecard.evaluate import status_counts

    counts = status_counts(evaluation).iloc[0]
    total = int(counts["measures"])
    if total == 0:
        return "The scorecard has no measures."
    text = (
        f"Of {total} measures: {counts['on target']} on target, {counts['at risk']} at risk, "
        f"{counts['off target']} off target, {counts['no data']} without data."
    )
    found = _worst(evaluation, unranked_units)
    if found is None and unranked_units:
        units = ", ".join(unranked_units)
        return (
            text
            + f" No measure can be ranked by its distance to target: those in {units} have targets in another currency."
        )
    if found is None:
        return text + " No measure can be scored against its target on these data."
    row, gap, what = found
    if gap > 0:
        worst = "Furthest from its target" if row["status"] == "red" else "Worst"
        return text + f" {worst}: {row['measure']}, {what}."
    return text + f" Every scored measure meets its target; the smallest margin: {row['measure']}, {what}."
