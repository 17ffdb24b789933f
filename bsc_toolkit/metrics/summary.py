"""The headline KPI table (one row per period) and a period-on-period comparison of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS, RatingScale, default_scales
from bsc_toolkit.metrics._columns import (
    CUSTOMER_KPI_COLUMNS,
    KPI_COLUMNS,
    MONEY_KPI_COLUMNS,
    SURVEY_KPI_COLUMNS,
    kpi_columns,
)
from bsc_toolkit.metrics._common import _by_list, _dates, _known_dates, _optional_frame, _require, _with_period
from bsc_toolkit.metrics.customers import churn_information, retention
from bsc_toolkit.metrics.profitability import _strict_sum
from bsc_toolkit.metrics.satisfaction import csat_summary, nps

__all__ = ["KPI_COLUMNS", "compare_periods", "kpi_columns", "kpi_summary", "resolve_ratings"]

_FIXED = {*CUSTOMER_KPI_COLUMNS, *SURVEY_KPI_COLUMNS, *MONEY_KPI_COLUMNS}


def resolve_ratings(ratings: Mapping[str, RatingScale] | None = None) -> dict[str, RatingScale]:
    """The rating scales to use: :func:`~bsc_toolkit.contracts.default_scales` overridden by ``ratings``.

    Parameters
    ----------
    ratings : mapping of str to RatingScale, optional
        Declared scales by rating column (``csat``, ``nps``, drivers).

    Returns
    -------
    dict of str to RatingScale

    Raises
    ------
    ValueError
        If ``ratings["nps"]`` is not the 0-10 scale (the Net Promoter Score is defined on it), or
        a value is not a :class:`~bsc_toolkit.contracts.RatingScale`.
    """
    scales = default_scales()
    for name, scale in (ratings or {}).items():
        if not isinstance(scale, RatingScale):
            raise ValueError(f"ratings[{name!r}] must be a RatingScale, got {type(scale).__name__}")
        scales[name] = scale
    nps_scale = scales["nps"]
    if (float(nps_scale.low), float(nps_scale.high)) != (0.0, 10.0):
        raise ValueError(
            f"NPS is defined on 0-10 (the 'how likely are you to recommend' question); ratings['nps'] is "
            f"{nps_scale.label}: map a recommend rating on another scale as a driver instead"
        )
    return scales


def _resolve_drivers(drivers: Sequence[str] | None, surveys: pd.DataFrame) -> list[str]:
    if drivers is None:
        return [d for d in DRIVERS if d in surveys.columns]
    names = [drivers] if isinstance(drivers, str) else list(drivers)
    clash = [d for d in names if f"{d}_mean" in _FIXED]
    repeated = sorted({d for d in names if names.count(d) > 1})
    if clash or repeated:
        raise ValueError(f"drivers {clash or repeated}: driver names must be distinct and not csat")
    return names


def _empty_kpis(keys: list[str], columns: Sequence[str], freq: str) -> pd.DataFrame:
    data = {k: pd.Series(dtype=f"period[{freq}]" if k == "period" else object) for k in keys}
    data.update({c: pd.Series(dtype=float) for c in columns})
    return pd.DataFrame(data)


def kpi_summary(
    customers: pd.DataFrame | None,
    surveys: pd.DataFrame | None,
    transactions: pd.DataFrame | None,
    freq: str = "Q",
    by: str | Sequence[str] | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    ratings: Mapping[str, RatingScale] | None = None,
    drivers: Sequence[str] | None = None,
    snapshot: str | pd.Timestamp | pd.Period | None = None,
) -> pd.DataFrame:
    """One row per period (and group) with the headline customer KPIs.

    Missing is no data: any table may have no rows (or be ``None``) and any column beyond
    ``customer_id`` may be absent; a KPI whose input is absent is NaN, never 0 and never taken
    from another measure:

    - no survey dates, or no ``csat`` / ``nps`` / driver column: those KPIs are NaN;
    - no transactions (``None``, no rows, no ``ordered_at`` or ``revenue_usd``): revenue and
      everything built on it are NaN; a period without any order is NaN too, while a group
      without orders in a period that has orders has a true 0;
    - no ``cost_usd``: cost, profit and profit per customer are NaN (profit is not revenue);
      rows lacking an amount make their period's (group's) sum NaN;
    - no churn information (neither ``churned_at`` nor a ``churned`` flag): customer counts,
      churn and retention are NaN (not 0 % churn); no ``acquired_at``: acquisitions are NaN;
    - snapshot data (a ``churned`` flag, no dates): churn is the share of customers who left
      by the snapshot, in the snapshot's period (``snapshot``, else ``end``, else that of the
      last survey, else of the last order), and ``attrs["churn_basis"] == "by snapshot"`` (see
      :func:`~bsc_toolkit.metrics.retention`).

    Parameters
    ----------
    customers, surveys, transactions : pandas.DataFrame or None
        The three tables (``customer_id`` as int or string ids).
    freq : str
        Period frequency.
    by : str or list of str, optional
        Group columns, taken from the customers table.
    start, end : str or Period, optional
        Period range; by default the periods with survey or transaction activity (customer
        events when there is none). No dates at all: an empty table with the columns.
    ratings : mapping of str to RatingScale, optional
        Scales of the rating columns (default :func:`bsc_toolkit.contracts.default_scales`;
        names not given keep the default). ``csat_top_box`` is the share in the top box of
        ``ratings["csat"]`` (top-2 of 1-5 = 4-5); ``ratings["nps"]`` must be 0-10.
    drivers : sequence of str, optional
        Driver rating columns, one ``<driver>_mean`` KPI each (default: the columns of
        :data:`bsc_toolkit.contracts.DRIVERS` the surveys have); a driver absent from the
        surveys gives a NaN column.
    snapshot : str, Timestamp or Period, optional
        Snapshot data only (a ``churned`` flag): the date of the snapshot the flag refers to.

    Returns
    -------
    pandas.DataFrame
        ``period, *by`` and :func:`~bsc_toolkit.metrics.kpi_columns` ``(drivers)``
        (:data:`KPI_COLUMNS` for the default drivers). ``attrs``: ``notes`` (column ->
        sentence on why it is empty or how to read it), ``churn_basis``, ``ratings`` (the
        scales used), ``drivers``.
    """
    byl = _by_list(by)
    scales = resolve_ratings(ratings)
    customers = _optional_frame(customers)
    surveys = _optional_frame(surveys)
    transactions = _optional_frame(transactions)
    _require(customers, ["customer_id", *byl], "customers")
    driver_list = _resolve_drivers(drivers, surveys)
    columns = kpi_columns(driver_list)
    keys = ["period", *byl]
    survey_dates = _dates(surveys, "surveyed_at").dropna()
    order_dates = _dates(transactions, "ordered_at").dropna()
    activity = _known_dates(survey_dates, order_dates)
    if activity.empty:
        activity = _known_dates(_dates(customers, "acquired_at"), _dates(customers, "churned_at"))
    basis = churn_information(customers)
    if basis == "by snapshot":
        dated = survey_dates if len(survey_dates) else order_dates
        if snapshot is None:
            snapshot = end if end is not None else (dated.max() if len(dated) else None)
        if snapshot is not None:  # the snapshot's period is in the range
            activity = _known_dates(activity, pd.Series([pd.Period(snapshot, freq).start_time]))
    else:
        snapshot = None  # dated churn (or none): a snapshot date has nothing to place
    start = start if start is not None else (activity.min().to_period(freq) if len(activity) else None)
    end = end if end is not None else (activity.max().to_period(freq) if len(activity) else None)
    attrs = {"notes": {}, "churn_basis": basis, "ratings": scales, "drivers": tuple(driver_list)}
    if start is None or end is None:
        out = _empty_kpis(keys, columns, freq)
        attrs["notes"] = {c: "no dated data: no periods (pass start= and end=)" for c in columns}
        out.attrs.update(attrs)
        return out
    ret = retention(customers, by=by, freq=freq, start=start, end=end, snapshot=snapshot)
    notes: dict[str, str] = dict(ret.attrs.get("notes", {}))
    out = ret.drop(columns="churn_basis")
    attach = customers[["customer_id", *byl]]

    def _attach(frame: pd.DataFrame) -> pd.DataFrame:
        # group columns always come from the customers table
        return frame.drop(columns=[c for c in byl if c in frame.columns]).merge(attach, on="customer_id", how="left")

    # ---- surveys
    survey_cols = ["csat_mean", "csat_top_box", "nps", *(f"{d}_mean" for d in driver_list)]
    if survey_dates.empty:
        why = "no survey responses" if len(surveys) == 0 else "no survey dates (surveyed_at)"
        notes.update({c: why for c in survey_cols})
    else:
        s = _attach(surveys) if byl else surveys
        if "csat" in s.columns:
            cs = csat_summary(s, by=by, freq=freq, scale=scales["csat"])
            out = out.merge(cs[[*keys, "csat_mean", "csat_top_box"]], on=keys, how="left")
        else:
            notes.update(dict.fromkeys(["csat_mean", "csat_top_box"], "no csat column in the surveys"))
        if "nps" in s.columns:
            out = out.merge(nps(s, by=by, freq=freq)[[*keys, "nps"]], on=keys, how="left")
        else:
            notes["nps"] = "no nps column in the surveys"
        present = [d for d in driver_list if d in s.columns]
        notes.update({f"{d}_mean": f"no {d!r} rating column in the surveys" for d in driver_list if d not in present})
        if present:
            sp = _with_period(s, "surveyed_at", freq)
            sp[present] = sp[present].apply(pd.to_numeric)
            means = sp.groupby(keys, observed=True)[present].mean().add_suffix("_mean").reset_index()
            out = out.merge(means, on=keys, how="left")

    # ---- money
    has_rev = len(order_dates) > 0 and "revenue_usd" in transactions.columns
    has_cost = has_rev and "cost_usd" in transactions.columns
    if has_rev:
        tp = _with_period(_attach(transactions) if byl else transactions, "ordered_at", freq)
        active = set(tp["period"].dropna())
        money = pd.DataFrame({"_n": tp.groupby(keys, observed=True).size()})
        money["revenue_usd"] = _strict_sum(tp, keys, "revenue_usd")
        if has_cost:
            money["cost_usd"] = _strict_sum(tp, keys, "cost_usd")
        out = out.merge(money.reset_index(), on=keys, how="left")
        # a period with orders but none for this group: a true zero; a period without any order: no data
        zero = out["_n"].isna() & out["period"].isin(active)
        out.loc[zero, [c for c in ("revenue_usd", "cost_usd") if c in out.columns]] = 0.0
        out = out.drop(columns="_n")
        if not out["period"].isin(active).all():
            notes.setdefault("revenue_usd", "periods without any order in the transactions have no revenue data")
        for col in ("revenue_usd", "cost_usd"):
            n_missing = int(tp[col].isna().sum()) if col in tp.columns else 0
            if n_missing:
                notes.setdefault(col, f"{n_missing} transaction rows lack {col}: their periods' sums are unknown")
    else:
        why = (
            "no transactions"
            if len(transactions) == 0
            else "no dated revenue (ordered_at, revenue_usd) in the transactions"
        )
        notes.update(dict.fromkeys(MONEY_KPI_COLUMNS, why))
    return finish_kpis(out, notes, attrs, keys, columns, has_rev=has_rev, has_cost=has_cost)


def finish_kpis(
    out: pd.DataFrame,
    notes: dict[str, str],
    attrs: dict,
    keys: list[str],
    columns: Sequence[str],
    *,
    has_rev: bool,
    has_cost: bool,
) -> pd.DataFrame:
    """The last steps of :func:`kpi_summary`, shared with the engines' version (:mod:`bsc_toolkit.engine.kpis`).

    Profit, revenue and profit per average customer, the notes on money columns and columns without
    data, the column order and ``attrs``: one set of rules whichever engine computed the sums.

    Parameters
    ----------
    out : pandas.DataFrame
        ``keys``, the customer counts and the money sums found (others are added as NaN).
    notes : dict
        Column -> why it is empty or how to read it, so far (updated).
    attrs : dict
        The table's ``attrs`` so far; ``notes`` is set here.
    keys : list of str
        ``period`` and the group columns.
    columns : sequence of str
        The KPI columns, in order.
    has_rev, has_cost : bool
        Whether the transactions have dated revenue / cost.

    Returns
    -------
    pandas.DataFrame
    """
    if has_rev and not has_cost:
        why = "no cost_usd in the transactions: cost and profit unknown (profit is not revenue)"
        notes.update(dict.fromkeys(["cost_usd", "profit_usd", "profit_per_customer_usd"], why))
    for col in ("revenue_usd", "cost_usd"):
        if col not in out.columns:
            out[col] = np.nan
    out["profit_usd"] = out["revenue_usd"] - out["cost_usd"]
    # average customers over the period as the denominator of per-customer money
    avg = (out["n_customers_start"].astype(float) + out["n_customers_end"].astype(float)) / 2
    out["revenue_per_customer_usd"] = out["revenue_usd"] / avg.where(avg > 0)
    out["profit_per_customer_usd"] = out["profit_usd"] / avg.where(avg > 0)
    for col, money_col in (("revenue_per_customer_usd", "revenue_usd"), ("profit_per_customer_usd", "profit_usd")):
        cause = notes.get(money_col) or notes.get("n_customers_start")
        if cause and out[col].isna().all():
            notes.setdefault(col, cause)
    for col in columns:
        if col not in out.columns:
            out[col] = np.nan
    out = out[[*keys, *columns]].copy()
    for col in columns:
        if out[col].isna().all() and len(out):
            notes.setdefault(col, "no data in any period")
    attrs["notes"] = {c: notes[c] for c in columns if c in notes}
    out.attrs.update(attrs)
    return out


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns (other than ``period``) whose values are all numbers or missing."""
    cols = []
    for col in frame.columns:
        if col == "period" or pd.api.types.is_bool_dtype(frame[col]):
            continue
        values = frame[col]
        if (
            pd.api.types.is_numeric_dtype(values)
            or pd.to_numeric(values, errors="coerce").notna().sum() == values.notna().sum()
        ):
            cols.append(col)
    return cols


def compare_periods(kpis: pd.DataFrame, period: str | pd.Period | None = None) -> pd.DataFrame:
    """Headline view of a KPI table: each KPI in one period against the one before.

    Works on a table of one period (``previous`` and ``change`` NaN), on an all-NaN table (all
    NaN) and on an empty one (one row per KPI column, all NaN).

    Parameters
    ----------
    kpis : pandas.DataFrame
        Output of :func:`kpi_summary` without ``by`` (one row per period).
    period : str or Period, optional
        The period to report; default the latest.

    Returns
    -------
    pandas.DataFrame
        ``kpi, current, previous, change`` for the period and its predecessor, one row per
        numeric column of the table (the KPIs, in table order).
    """
    if "period" not in kpis.columns:
        raise ValueError(f"compare_periods needs a 'period' column; the table has {list(kpis.columns)}")
    if kpis["period"].duplicated().any():
        raise ValueError("compare_periods needs one row per period: call kpi_summary without by=")
    ordered = kpis.sort_values("period").reset_index(drop=True)
    cols = _numeric_columns(ordered)
    values = ordered[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    nan = pd.Series(np.nan, index=cols)
    if period is None:
        pos = len(ordered) - 1
    else:
        target = period
        if isinstance(ordered["period"].dtype, pd.PeriodDtype):
            target = pd.Period(period, ordered["period"].dtype.freq)
        matches = ordered.index[ordered["period"] == target]
        if len(matches) == 0:
            span = f"{ordered['period'].min()}..{ordered['period'].max()}" if len(ordered) else "no periods"
            raise ValueError(f"period {target} not in the KPI table ({span})")
        pos = int(matches[0])
    current = values.loc[pos] if pos >= 0 else nan
    previous = values.loc[pos - 1] if pos > 0 else nan
    return pd.DataFrame(
        {
            "kpi": cols,
            "current": current.to_numpy(dtype=float),
            "previous": previous.to_numpy(dtype=float),
            "change": (current - previous).to_numpy(dtype=float),
        }
    )
