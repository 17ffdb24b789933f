"""The small full-data inputs of the reports' KPI figures, computed in the engine.

The headline KPI figures (:func:`bsc_toolkit.headline.kpi_figures`: NPS, CSAT mean and top-box
share with their intervals, churn rate, revenue per customer) are statistics of every customer
in a period, not of a model; when a report fits its models on a sample of customers
(:mod:`bsc_toolkit.engine.sample`) they are still computed on the whole data set from these
inputs, each far smaller than the tables they come from:

- :func:`data_span`: the first and last survey or order date;
- :func:`answer_counts`: how many answers of each value a rating column got per day (and group):
  at most days x groups x scale points rows however many answers there are;
  :func:`expand_counts` turns them back into one row per answer (no customer id) for the pandas
  functions that compute the intervals;
- :func:`customer_dates`: the customers table's id, acquisition and churn columns (one row per
  customer: 40 MB for 1M customers);
- :func:`period_revenue`: revenue per customer and period for the periods asked for;
- :func:`refund_lines`: the number and total of the refund lines; :func:`customer_table`: the
  customers table itself (customer-sized), for the retention and acquisition tables by segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from bsc_toolkit.engine.backends import EngineTables

__all__ = [
    "answer_counts",
    "customer_dates",
    "customer_table",
    "data_span",
    "expand_counts",
    "period_revenue",
    "refund_lines",
]

_CUSTOMER_DATES = ("customer_id", "acquired_at", "churned_at", "churned")


def _timestamp(value: object) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_convert(None) if ts.tzinfo is not None else ts


def data_span(tables: EngineTables) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last date of the dated tables (``surveyed_at``, ``ordered_at``), or None.

    The engine's form of :func:`bsc_toolkit.report_kpis.data_span`.
    """
    lows, highs = [], []
    for table, column in ((tables.surveys, "surveyed_at"), (tables.transactions, "ordered_at")):
        if table is None or column not in table.columns:
            continue
        row = table.aggregate(lo=table[column].min(), hi=table[column].max()).to_pandas().iloc[0]
        lo, hi = _timestamp(row["lo"]), _timestamp(row["hi"])
        if lo is not None:
            lows.append(lo)
            highs.append(hi)
    return (min(lows), max(highs)) if lows else None


def answer_counts(tables: EngineTables, column: str, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """How many answers of each value ``column`` got per day (and group of the customers table).

    Parameters
    ----------
    tables : EngineTables
    column : str
        A rating column of the surveys.
    by : str or list of str, optional
        Columns of the customers table to group by (attached by a left join on ``customer_id``).

    Returns
    -------
    pandas.DataFrame
        ``surveyed_at`` (the day, as a timestamp), ``*by``, ``column`` (float; answers without a
        value are left out), ``n`` (int64); no rows when the surveys lack the column or a date.
    """
    byl = [by] if isinstance(by, str) else list(by or [])
    surveys = tables.surveys
    columns = ["surveyed_at", *byl, column, "n"]
    if surveys is None or column not in surveys.columns or "surveyed_at" not in surveys.columns:
        return pd.DataFrame(columns=columns)
    base = surveys.select(
        _cid=surveys.customer_id, surveyed_at=surveys.surveyed_at.truncate("D").cast("timestamp"), _v=surveys[column]
    )
    base = base.filter(base._v.notnull() & base.surveyed_at.notnull())
    if byl:
        if tables.customers is None:
            raise ValueError(f"no customers table: no {', '.join(byl)} to group the answers by")
        c = tables.customers
        lookup = c.select(_cid2=c.customer_id, **{b: c[b] for b in byl})
        base = base.left_join(lookup, base._cid == lookup._cid2)
    counts = base.aggregate(n=base.count(), by=["surveyed_at", *byl, base._v.cast("float64").name(column)])
    out = counts.to_pandas()
    out["surveyed_at"] = pd.to_datetime(out["surveyed_at"]).dt.tz_localize(None) if len(out) else out["surveyed_at"]
    out["n"] = out["n"].astype("int64")
    sort = ["surveyed_at", *byl, column]
    return out[columns].sort_values(sort, na_position="last").reset_index(drop=True)


def expand_counts(counts: pd.DataFrame, n: str = "n") -> pd.DataFrame:
    """One row per counted item: each row of ``counts`` repeated ``counts[n]`` times (``n`` dropped)."""
    repeats = counts[n].to_numpy(dtype=np.int64)
    out = counts.drop(columns=n).loc[counts.index.repeat(repeats)]
    return out.reset_index(drop=True)


def customer_dates(tables: EngineTables, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The customers table's ``customer_id``, ``acquired_at``, ``churned_at`` and ``churned`` (those it has).

    One row per customer; an empty frame with ``customer_id`` when there is no customers table.
    ``customers``: the table already in pandas (:func:`customer_table`), used instead of a new query
    when it has every one of those columns the engine's table has.
    """
    c = tables.customers
    wanted = [col for col in _CUSTOMER_DATES if c is not None and col in c.columns]
    if c is not None and customers is not None and all(col in customers.columns for col in wanted):
        out = customers[wanted].copy()
    else:
        out = customer_table(tables, _CUSTOMER_DATES)
    for col in ("acquired_at", "churned_at"):
        if col in out.columns:
            out[col] = pd.to_datetime(out[col])
            if getattr(out[col].dt, "tz", None) is not None:
                out[col] = out[col].dt.tz_convert(None)
    return out


def period_revenue(tables: EngineTables, freq: str, periods: Sequence[pd.Period]) -> pd.DataFrame:
    """Revenue per customer in each of ``periods``: one row per customer with orders in the period.

    Parameters
    ----------
    tables : EngineTables
    freq : str
        The periods' frequency.
    periods : sequence of Period

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``ordered_at`` (the period's first day), ``revenue_usd`` (the sum of the
        customer's amounts in the period). An order without an amount is a row of its own with a
        missing amount (so the number of orders without one is kept, as the pandas figures count
        them). Empty without transactions, dates or amounts.
    """
    t = tables.transactions
    columns = ["customer_id", "ordered_at", "revenue_usd"]
    wanted = [pd.Period(p, freq) for p in periods if p is not None]
    if t is None or not wanted or "ordered_at" not in t.columns or "revenue_usd" not in t.columns:
        return pd.DataFrame(columns=columns)
    from bsc_toolkit.engine.kpis import _unit, period_start

    starts = sorted({p.start_time for p in wanted})
    base = t.select(
        customer_id=t.customer_id, ordered_at=period_start(t.ordered_at, _unit(freq)), revenue_usd=t.revenue_usd
    )
    base = base.filter(base.ordered_at.isin(starts))
    agg = base.aggregate(
        revenue_usd=base.revenue_usd.sum(),
        _missing=base.revenue_usd.isnull().cast("int64").sum(),
        by=["customer_id", "ordered_at"],
    ).to_pandas()
    if agg.empty:
        return pd.DataFrame(columns=columns)
    agg["ordered_at"] = pd.to_datetime(agg["ordered_at"])
    if getattr(agg["ordered_at"].dt, "tz", None) is not None:
        agg["ordered_at"] = agg["ordered_at"].dt.tz_convert(None)
    missing = agg.loc[agg["_missing"] > 0]
    known = agg.loc[agg["_missing"] == 0, columns]
    unknown = missing.loc[missing.index.repeat(missing["_missing"].astype(np.int64)), ["customer_id", "ordered_at"]]
    out = pd.concat([known, unknown.assign(revenue_usd=np.nan)], ignore_index=True)
    out["revenue_usd"] = out["revenue_usd"].astype(float)
    return out.sort_values(["ordered_at", "customer_id"]).reset_index(drop=True)


def refund_lines(tables: EngineTables) -> tuple[int, float] | None:
    """How many transaction lines are refunds (a negative ``revenue_usd``) and their total; None without amounts."""
    t = tables.transactions
    if t is None or "revenue_usd" not in t.columns:
        return None
    negative = t.filter(t.revenue_usd < 0)
    row = negative.aggregate(n=negative.count(), total=negative.revenue_usd.sum()).to_pandas().iloc[0]
    n = int(row["n"])
    return n, float(row["total"]) if n else 0.0


def customer_table(tables: EngineTables, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The customers table (``columns`` of it, default all) in pandas: one row per customer.

    For the per-customer KPIs (retention and acquisition counts by segment) of data sets whose
    surveys and transactions stay in the engine; dates as naive timestamps.
    """
    c = tables.customers
    if c is None:
        return pd.DataFrame({"customer_id": pd.Series(dtype="int64")})
    wanted = [col for col in (columns or c.columns) if col in c.columns]
    out = c.select(*wanted).to_pandas()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(None)
    return out
