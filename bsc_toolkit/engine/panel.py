"""The customer-period panel as an Ibis expression, and its compressed form for models.

:func:`customer_periods_expr` builds the same rows and columns as :func:`bsc_toolkit.panel.customer_periods`
(the pandas reference) as one expression on the data set's backend: the panel stays in the engine.
:func:`customer_periods` executes it (tests, small data); :func:`panel_patterns` returns what a model
needs from it: the distinct covariate patterns with counts, churn events, exposure and sums, from
which a binomial or Poisson GLM gives exactly the row-level estimates.

Time is computed in whole microseconds (``timestamp - epoch``) and periods as integer keys
(:func:`period_key`): the same arithmetic on DuckDB and Spark, no dialect's date truncation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from bsc_toolkit.engine.backends import EngineTables
from bsc_toolkit.metrics._common import _require
from bsc_toolkit.panel import survey_rating_columns

__all__ = [
    "customer_periods_expr",
    "customer_periods",
    "panel_patterns",
    "period_key",
    "period_key_of",
]

_EPOCH = pd.Timestamp("1970-01-01")
_US_PER_DAY = 86_400 * 10**6
_US_PER_YEAR = 365.25 * 86_400 * 10**6  # pandas' panel: a year is 365.25 days
_RATING_LEFT_OUT = ("customer_id", "surveyed_at")


# ------------------------------------------------------------------------------------------ periods
@dataclass(frozen=True)
class _Freq:
    """A pandas period frequency as integer-key arithmetic (see :func:`period_key`)."""

    kind: str  # "month" (months, quarters, years), "week", "day", "hour"
    step: int = 1  # months per period for "month"
    offset: int = 0  # months (month kind) or weekdays (week kind) the periods are shifted by


@functools.lru_cache(maxsize=64)
def _freq(freq: str) -> _Freq:
    """The integer-key form of a pandas period frequency; ValueError for one the engines do not support."""
    try:
        offset = pd.Period("2000-01-01", freq).freq
    except (TypeError, ValueError) as exc:
        raise ValueError(f"freq {freq!r} is not a pandas period frequency: {exc}") from None
    name = type(offset).__name__
    if offset.n != 1:
        raise ValueError(f"freq {freq!r}: multiples of a period are not supported on the engines")
    if name == "MonthEnd":
        return _Freq("month", 1, 0)
    if name == "QuarterEnd":  # Q-DEC: quarters start in Jan/Apr/Jul/Oct; Q-MAR: Apr/Jul/Oct/Jan...
        return _Freq("month", 3, offset.startingMonth % 3)
    if name == "YearEnd":
        return _Freq("month", 12, offset.month % 12)
    if name == "Week":  # W-SUN: weeks end on Sunday (weekday 6) and start on Monday
        return _Freq("week", 7, (offset.weekday + 1) % 7)
    if name == "Day":
        return _Freq("day")
    if name == "Hour":
        return _Freq("hour")
    raise ValueError(
        f"freq {freq!r} is not supported on the engines: use years, quarters, months, weeks, days or hours"
    )


def period_key(ts: ir.TimestampValue, freq: str) -> ir.IntegerValue:
    """An integer numbering the periods of ``freq``: consecutive periods have consecutive keys.

    Months, quarters and years from the calendar month (``year * 12 + month - 1``, shifted for fiscal
    anchors such as ``Q-MAR``), weeks, days and hours from the whole days since 1970-01-01 (plus the
    hour), so the key is exact on every engine. Weeks are pandas' (``"W"`` = ``"W-SUN"``: Monday to
    Sunday), and for ``"W"``, ``"D"`` and ``"h"`` the keys are those of
    :func:`bsc_toolkit.models.clv.rfm` (``floor((days + 3) / 7)``, days, hours since the epoch).

    Parameters
    ----------
    ts : ibis timestamp expression
    freq : str
        A pandas period frequency: ``"Y"``, ``"Q"`` (any ``Q-<month>``), ``"M"``, ``"W"`` (any
        ``W-<day>``), ``"D"`` or ``"h"``.

    Returns
    -------
    ibis integer expression (NULL where ``ts`` is NULL)
    """
    spec = _freq(freq)
    if spec.kind == "month":
        months = ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1
        return months if spec.step == 1 else (months - spec.offset) // spec.step
    days = ts.date().delta(ibis.date(1970, 1, 1), unit="day").cast("int64")
    if spec.kind == "week":
        return (days + (3 - spec.offset)) // 7  # 1970-01-01 was a Thursday (weekday 3)
    if spec.kind == "day":
        return days
    return days * 24 + ts.hour().cast("int64")


def period_key_of(value: pd.Timestamp | pd.Period, freq: str) -> int:
    """:func:`period_key` of one timestamp (or of a period's start), computed in Python."""
    ts = value.start_time if isinstance(value, pd.Period) else pd.Timestamp(value)
    spec = _freq(freq)
    if spec.kind == "month":
        months = ts.year * 12 + ts.month - 1
        return months if spec.step == 1 else (months - spec.offset) // spec.step
    days = (ts.normalize() - _EPOCH).days
    if spec.kind == "week":
        return (days + 3 - spec.offset) // 7
    if spec.kind == "day":
        return days
    return days * 24 + ts.hour


def _micros(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole microseconds since 1970-01-01 (the same integer on every engine)."""
    return ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond").cast("int64")


def _period_table(first: pd.Period, last: pd.Period) -> tuple[ir.Table, int]:
    """The panel's periods as a small in-memory table: index, start, end and length in days."""
    periods = pd.period_range(first, last, freq=first.freq)
    starts = periods.start_time
    ends = (periods.end_time + pd.Timedelta(1, "ns")).as_unit("ns")
    start_us = starts.as_unit("ns").asi8 // 1000
    end_us = ends.asi8 // 1000
    frame = pd.DataFrame(
        {
            "period_i": np.arange(len(periods), dtype=np.int64),
            "period": starts.as_unit("us"),
            "p_end": ends.as_unit("us"),
            "p_start_us": start_us,
            "p_end_us": end_us,
            "period_days": (end_us - start_us) / _US_PER_DAY,
        }
    )
    return ibis.memtable(frame), len(periods)


# ------------------------------------------------------------------------------------------ checks
def _kind(dtype: Any) -> str:
    """``"numeric"`` or ``"text"`` (or ``"other"``) for an ibis data type."""
    if dtype.is_integer() or dtype.is_floating() or dtype.is_decimal():
        return "numeric"
    if dtype.is_string():
        return "text"
    return "other"


def _empty_like(table: ir.Table) -> pd.DataFrame:
    """An empty pandas frame with the table's columns and dtypes (to reuse the pandas rules on a schema)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in table.schema().to_pandas()})


def _scalar_row(expr: ir.Table, backend) -> dict[str, Any]:
    frame = backend.execute(expr)
    return {k: (None if pd.isna(v) else v) for k, v in frame.iloc[0].items()}


def _check_customers(customers: ir.Table, backend) -> bool:
    """Check ``customer_id`` (no NULL, no repeats); True when some acquisition dates are unknown."""
    has_acq = "acquired_at" in customers.columns
    stats = customers.aggregate(
        n=customers.count(),
        n_ids=customers.customer_id.nunique(),
        n_null=customers.customer_id.isnull().cast("int64").sum(),
        n_acq=(customers.acquired_at.count() if has_acq else ibis.literal(0, "int64")),
    )
    row = _scalar_row(stats, backend)
    n, n_null = int(row["n"] or 0), int(row["n_null"] or 0)
    if n_null:
        raise ValueError(f"customers table has {n_null:,} missing customer_id(s)")
    if int(row["n_ids"] or 0) != n:
        ids = customers.customer_id
        dup = customers.group_by(ids.name("customer_id")).aggregate(k=customers.count()).filter(ibis._.k > 1)
        examples = backend.execute(dup.order_by("customer_id").limit(5))["customer_id"].tolist()
        raise ValueError(f"customers table has duplicate customer_id(s), e.g. {examples}")
    return int(row["n_acq"] or 0) < n


def _period_range(tables: EngineTables, freq: str, start, end) -> tuple[pd.Period, pd.Period]:
    """First and last period: given, or those of the first and last survey or transaction (as pandas)."""
    first = pd.Period(start, freq) if start is not None else None
    last = pd.Period(end, freq) if end is not None else None
    if first is None or last is None:
        parts = []
        for table, col in ((tables.surveys, "surveyed_at"), (tables.transactions, "ordered_at")):
            if table is not None:
                parts.append(
                    table.aggregate(lo=table[col].min().cast("timestamp"), hi=table[col].max().cast("timestamp"))
                )
        row = {"lo": None, "hi": None}
        if parts:
            span = ibis.union(*parts) if len(parts) > 1 else parts[0]
            row = _scalar_row(span.aggregate(lo=span.lo.min(), hi=span.hi.max()), tables.backend)
        if row["lo"] is None:
            raise ValueError("surveys and transactions are empty: give start and end periods")
        first = first if first is not None else pd.Timestamp(row["lo"]).to_period(freq)
        last = last if last is not None else pd.Timestamp(row["hi"]).to_period(freq)
    if last < first:
        raise ValueError(f"end period {last} is before start period {first}")
    return first, last


# ------------------------------------------------------------------------------------------ the panel
def customer_periods_expr(
    tables: EngineTables,
    freq: str | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    rating_columns: Sequence[str] | None = None,
) -> ir.Table:
    """The customer-period panel of :func:`bsc_toolkit.panel.customer_periods` as an Ibis expression.

    Same rows and columns as the pandas function (see its documentation for their meaning); the
    expression is not executed, so the panel can stay in the engine and be aggregated there
    (:func:`panel_patterns`). Building it runs two small queries: checks of the customers table
    (missing or repeated ``customer_id``; unknown acquisition dates) and, unless ``start`` and
    ``end`` are given, the first and last survey or transaction date.

    Parameters
    ----------
    tables : EngineTables
        The data set on a backend (``customers`` needed; ``surveys`` and ``transactions`` may be
        None: no surveys, no orders).
    freq : str, optional
        Period frequency (default the data set's, ``tables.freq``): years, quarters, months,
        weeks, days (see :func:`period_key`).
    start, end : str or Period, optional
        First and last period (default: of the first and last survey or transaction).
    rating_columns : sequence of str, optional
        Survey columns averaged per customer-period (default: as
        :func:`bsc_toolkit.panel.survey_rating_columns`).

    Returns
    -------
    ibis.Table
        Columns as the pandas panel, except ``period``, which is the period's start (a timestamp:
        SQL has no period type; :func:`customer_periods` turns it into pandas Periods), and one more
        column ``period_i`` (0 for the first period of the panel, 1 for the next...). Not ordered.

    Raises
    ------
    ValueError
        As the pandas function: a missing column, missing or repeated ``customer_id``, ids of
        different kinds across tables, no dates and no ``start``/``end``; also a frequency the
        engines do not support.
    """
    freq = freq or tables.freq
    _freq(freq)
    customers, surveys, transactions = tables.customers, tables.surveys, tables.transactions
    if customers is None:
        raise ValueError("the customer-period panel needs a customers table")
    _require(customers, ["customer_id"], "customers")
    if surveys is not None:
        _require(surveys, ["customer_id", "surveyed_at"], "surveys")
    if transactions is not None:
        _require(transactions, ["customer_id", "ordered_at", "revenue_usd"], "transactions")
    ratings = survey_rating_columns(_empty_like(surveys), rating_columns) if surveys is not None else []
    if surveys is None and rating_columns:
        raise ValueError(f"no surveys table: no rating column(s) {list(rating_columns)}")

    kind = _kind(customers.schema()["customer_id"])
    for name, table in (("surveys", surveys), ("transactions", transactions)):
        if table is None:
            continue
        other = _kind(table.schema()["customer_id"])
        if other != kind and tables.backend.execute(table.count()) > 0:
            raise ValueError(
                f"customer_id is {kind} in the customers table but {other} in the {name} table: "
                "convert one so that the ids match"
            )
    unknown_start = _check_customers(customers, tables.backend)
    first, last = _period_range(tables, freq, start, end)
    periods, n_periods = _period_table(first, last)
    k0 = period_key_of(first, freq)

    # customers: window start (acquisition, or first activity where unknown) and churn date
    cust = customers.select(
        "customer_id",
        *[c for c in ("segment", "region", "channel") if c in customers.columns],
        acq=(customers.acquired_at if "acquired_at" in customers.columns else ibis.null("timestamp")).cast("timestamp"),
        churn=(customers.churned_at if "churned_at" in customers.columns else ibis.null("timestamp")).cast("timestamp"),
    )
    if unknown_start:
        acts = [
            table.select(customer_id=table.customer_id, ts=table[col].cast("timestamp"))
            for table, col in ((surveys, "surveyed_at"), (transactions, "ordered_at"))
            if table is not None
        ]
        if acts:
            act = ibis.union(*acts) if len(acts) > 1 else acts[0]
            seen = act.filter(act.ts.notnull()).group_by("customer_id").aggregate(first_seen=act.ts.min())
            joined = cust.left_join(seen, "customer_id")
            cust = joined.select(
                *[c for c in cust.columns if c != "acq"], acq=ibis.coalesce(joined.acq, joined.first_seen)
            )
    cust = cust.filter(cust.acq.notnull())
    acq_i = period_key(cust.acq, freq) - k0
    churn_i = period_key(cust.churn, freq) - k0
    cust = cust.mutate(
        acq_us=_micros(cust.acq),
        churn_us=_micros(cust.churn),
        churn_i=churn_i,
        first_i=ibis.ifelse(acq_i < 0, 0, acq_i),
        last_i=ibis.ifelse(churn_i.isnull() | (churn_i > n_periods - 1), n_periods - 1, churn_i),
    )
    # one row per customer and period: the customer's period indices unnested, then an equi-join with the
    # small periods table (no inequality join: Spark would broadcast the customers for a nested loop)
    cust = cust.filter(cust.first_i <= cust.last_i)
    cust = cust.mutate(period_i=ibis.range(cust.first_i, cust.last_i + 1).unnest())
    rows = cust.join(periods, "period_i")
    churned = (rows.churn_i == rows.period_i).fill_null(False)
    active_from_us = ibis.ifelse(rows.acq_us > rows.p_start_us, rows.acq_us, rows.p_start_us)
    active_to_us = ibis.ifelse(churned, rows.churn_us, rows.p_end_us)
    tenure = (rows.p_start_us - rows.acq_us) / _US_PER_YEAR
    at_risk = ((rows.p_end_us - active_from_us) / _US_PER_DAY) / rows.period_days
    active = ((active_to_us - active_from_us) / _US_PER_DAY) / rows.period_days
    rows = rows.select(
        "customer_id",
        "period",
        "period_i",
        *[c for c in ("segment", "region", "channel") if c in cust.columns],
        tenure_years=ibis.ifelse(tenure > 0, tenure, 0.0),
        at_risk_fraction=at_risk,
        active_fraction=ibis.ifelse(active < 0, 0.0, ibis.ifelse(active > 1, 1.0, active)),
        active_from=ibis.ifelse(rows.acq > rows.period, rows.acq, rows.period),
        active_to=ibis.ifelse(churned, rows.churn, rows.p_end),
        churned=churned,
    )

    def per_row(table: ir.Table, when: str, value_cols: list[str]) -> ir.Table:
        """Rows per (customer, panel period) and, per value column, its sum and count of non-missing values."""
        i = period_key(table[when].cast("timestamp"), freq) - k0
        keyed = table.select("customer_id", *value_cols, period_i=i)
        keyed = keyed.filter(keyed.period_i.between(0, n_periods - 1))
        aggs: dict[str, ir.Value] = {"n_rows_": keyed.count()}
        for col in value_cols:
            aggs[f"{col}__sum"] = keyed[col].cast("float64").sum()
            aggs[f"{col}__n"] = keyed[col].count()
        return keyed.group_by(["customer_id", "period_i"]).aggregate(**aggs)

    out = rows
    rating_values: dict[str, ir.Value] = {}
    surveyed: ir.Value = ibis.literal(False)
    if surveys is not None:
        per_survey = per_row(surveys, "surveyed_at", ratings).rename(n_surveys_="n_rows_")
        out = out.left_join(per_survey, ["customer_id", "period_i"])
        for col in ratings:
            total, count = out[f"{col}__sum"], out[f"{col}__n"]
            rating_values[col] = ibis.ifelse(count > 0, total / count, ibis.null("float64"))
        surveyed = out.n_surveys_.fill_null(0) > 0
    has_cost = transactions is not None and "cost_usd" in transactions.columns
    money: dict[str, ir.Value] = {}
    if transactions is not None:
        per_order = per_row(transactions, "ordered_at", ["revenue_usd", "cost_usd"] if has_cost else ["revenue_usd"])
        out = out.left_join(per_order, ["customer_id", "period_i"])
        money["n_orders"] = out.n_rows_.fill_null(0).cast("int32")
        money["revenue_usd"] = out.revenue_usd__sum.fill_null(0.0)
        money["cost_usd"] = out.cost_usd__sum.fill_null(0.0) if has_cost else ibis.null("float64")
    else:
        money = {
            "n_orders": ibis.literal(0, "int32"),
            "revenue_usd": ibis.literal(0.0, "float64"),
            "cost_usd": ibis.null("float64"),
        }
    out = out.select(
        *rows.columns,
        **rating_values,
        surveyed=surveyed,
        **money,
    )
    out = out.mutate(margin_usd=out.revenue_usd - out.cost_usd)
    if "csat" in ratings:
        out = out.mutate(csat_lag1=out.csat.lag().over(group_by="customer_id", order_by="period_i"))
    return out


def _to_period(values: pd.Series, freq: str) -> pd.Series:
    """Period starts (timestamps) as pandas Periods of ``freq``."""
    stamps = pd.to_datetime(values)
    return pd.Series(pd.PeriodIndex(stamps, freq=freq), index=values.index, name=values.name)


def customer_periods(
    tables: EngineTables,
    freq: str | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    rating_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The customer-period panel computed on the engine and returned as pandas (tests, small data).

    Equal to :func:`bsc_toolkit.panel.customer_periods` on the same tables: same rows (sorted by
    ``customer_id`` and ``period``), columns and dtypes (``period`` as pandas Periods). At scale,
    keep the panel in the engine (:func:`customer_periods_expr`, :func:`panel_patterns`).

    Parameters
    ----------
    tables, freq, start, end, rating_columns
        As :func:`customer_periods_expr`.

    Returns
    -------
    pandas.DataFrame
    """
    freq = freq or tables.freq
    expr = customer_periods_expr(tables, freq, start, end, rating_columns)
    frame = tables.backend.execute(expr.order_by(["customer_id", "period_i"]))
    frame = frame.drop(columns="period_i")
    frame["period"] = _to_period(frame["period"], freq)
    for col in ("active_from", "active_to"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    for col in ("churned", "surveyed"):
        frame[col] = frame[col].astype(bool)
    frame["n_orders"] = frame["n_orders"].astype(np.int32)
    floats = [c for c in frame.columns if c not in ("customer_id", "period", "segment", "region", "channel")]
    for col in floats:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype(float)
    return frame.reset_index(drop=True)


# ------------------------------------------------------------------------------------------ patterns
def _round_half_up(value: ir.NumericValue, digits: int) -> ir.NumericValue:
    """``floor(x * 10**d + 0.5) / 10**d``: the same on every engine (SQL ROUND differs on halves)."""
    scale = float(10**digits)
    return (value * scale + 0.5).floor().cast("float64") / scale


def panel_patterns(
    tables: EngineTables | ir.Table,
    columns: Sequence[str],
    freq: str | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    rating_columns: Sequence[str] | None = None,
    exposure: str | None = "at_risk_fraction",
    values: Sequence[str] = ("revenue_usd", "margin_usd"),
    digits: Mapping[str, int] | None = None,
    dropna: bool = True,
    where: Callable[[ir.Table], ir.BooleanValue] | None = None,
    count_customers: bool = True,
) -> pd.DataFrame:
    """The panel compressed to its distinct covariate patterns, with what a GLM needs from each.

    Grouping the customer-period rows by the model's covariates loses nothing for a binomial or
    Poisson GLM whose covariates are all among ``columns``: the log-likelihood of a pattern is that
    of ``n_rows`` rows with ``n_churned`` events, so

    * a **logit / probit / cloglog churn model** fitted as a binomial GLM on
      ``(n_churned, n_rows - n_churned)`` gives the row-level estimates exactly; an offset or
      covariate from ``at_risk_fraction`` (the cloglog hazard's ``log(at_risk_fraction)``) must then
      be one of ``columns`` (it takes few distinct values: 1 except in the first period);
    * a **Poisson churn-rate model** with offset ``log(exposure)`` (the summed ``at_risk_fraction``)
      gives the row-level Poisson estimates with offset ``log(at_risk_fraction)`` exactly (the
      exposures of a pattern add up);
    * a **pooled linear spend model** is weighted least squares on ``<value>_sum / n_rows`` with
      weights ``n_rows``; ``<value>_sumsq`` gives the residual variance; a Poisson (PPML) spend
      model uses ``<value>_sum`` as the outcome with ``exposure`` as offset (PPML with customer
      fixed effects, or cluster-robust standard errors, need customer-level rows: not from
      patterns).

    Parameters
    ----------
    tables : EngineTables or ibis.Table
        The data set (the panel is :func:`customer_periods_expr` of it), or a panel expression
        already built (and filtered, e.g. without churn periods): then give ``freq`` when
        ``period`` is a pattern column.
    columns : sequence of str
        Pattern columns, e.g. ``["period", "segment", "csat"]``.
    freq, start, end, rating_columns
        As :func:`customer_periods_expr`.
    exposure : str or None
        Column summed into ``exposure`` (``"at_risk_fraction"``: the hazard's; ``"active_fraction"``:
        spend's); None: no exposure column.
    values : sequence of str
        Columns summed into ``<col>_sum`` and ``<col>_sumsq`` (strict sums: NULL when a row of the
        pattern lacks the value, e.g. margin without cost data).
    digits : mapping of str to int, optional
        Pattern columns rounded (half up) to these decimals before grouping, e.g. ``{"csat": 1}``
        for a csat averaged over several surveys. The fit is then exact for the rounded covariate.
    dropna : bool
        Leave out rows with a missing pattern column (as a model fit does: e.g. csat in periods
        without a survey). ``attrs["n_rows_dropped"]`` counts them.
    where : callable, optional
        ``where(panel) -> boolean expression``: rows kept (e.g. ``lambda p: ~p.churned`` for spend).
    count_customers : bool
        Count the distinct customers of the rows kept (``attrs["n_customers"]``; a second pass over
        the panel). False: ``attrs["n_customers"]`` is None.

    Returns
    -------
    pandas.DataFrame
        The pattern columns, ``n_rows`` (int64), ``n_churned`` (int64), ``exposure`` and the sums,
        sorted by the pattern columns. ``attrs``: ``n_rows`` (rows kept), ``n_rows_dropped``,
        ``n_customers`` (distinct customers among the rows kept) and ``n_patterns``. One pass over
        the panel (two with ``count_customers``).
    """
    if isinstance(tables, EngineTables):
        freq = freq or tables.freq
        panel = customer_periods_expr(tables, freq, start, end, rating_columns)
        backend = tables.backend
    else:
        panel = tables
        backend = ibis.get_backend(panel)
        if "period" in columns and freq is None:
            raise ValueError("give freq: the panel expression's period column holds period starts")
    columns = list(dict.fromkeys(columns))
    missing = [c for c in [*columns, *values, *([exposure] if exposure else [])] if c not in panel.columns]
    if missing:
        raise ValueError(f"the panel has no column(s) {missing}; it has {list(panel.columns)}")
    if where is not None:
        panel = panel.filter(where(panel))
    digits = dict(digits or {})
    unknown = [c for c in digits if c not in columns]
    if unknown:
        raise ValueError(f"digits names column(s) {unknown} that are not pattern columns {columns}")
    keyed = panel.mutate(**{c: _round_half_up(panel[c], d) for c, d in digits.items()})
    aggs: dict[str, ir.Value] = {
        "n_rows": keyed.count(),
        "n_churned": keyed.churned.cast("int64").sum(),
    }
    if exposure:
        aggs["exposure"] = keyed[exposure].cast("float64").sum()
    for col in values:
        v = keyed[col].cast("float64")
        aggs[f"{col}__n"] = v.count()
        aggs[f"{col}_sum"] = v.sum()
        aggs[f"{col}_sumsq"] = (v * v).sum()
    grouped = keyed.group_by(columns).aggregate(**aggs)
    strict = {
        f"{col}{part}": ibis.ifelse(
            grouped[f"{col}__n"] == grouped.n_rows, grouped[f"{col}{part}"], ibis.null("float64")
        )
        for col in values
        for part in ("_sum", "_sumsq")
    }
    grouped = grouped.select(*columns, "n_rows", "n_churned", *(["exposure"] if exposure else []), **strict)
    frame = backend.execute(grouped)  # rows with a missing pattern column form groups too: counted, then dropped
    for col in ("n_rows", "n_churned"):
        frame[col] = frame[col].fillna(0).astype(np.int64)
    n_all = int(frame["n_rows"].sum())
    if dropna:
        frame = frame.dropna(subset=columns)
        if count_customers:
            complete = ibis.literal(True)
            for col in columns:
                complete &= keyed[col].notnull()
            keyed = keyed.filter(complete)
    n_customers = int(backend.execute(keyed.customer_id.nunique()) or 0) if count_customers else None
    if "period" in columns:
        frame["period"] = _to_period(frame["period"], freq)
    frame = frame.sort_values(columns, ignore_index=True, na_position="last")
    n_kept = int(frame["n_rows"].sum())
    frame.attrs.update(
        n_rows=n_kept,
        n_rows_dropped=n_all - n_kept,
        n_customers=n_customers,
        n_patterns=len(frame),
    )
    return frame
