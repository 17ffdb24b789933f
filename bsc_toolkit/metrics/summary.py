"""The headline KPI table (one row per period) and a period-on-period comparison of it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS
from bsc_toolkit.metrics._columns import KPI_COLUMNS
from bsc_toolkit.metrics._common import _by_list, _with_period
from bsc_toolkit.metrics.customers import retention
from bsc_toolkit.metrics.satisfaction import csat_summary, nps

__all__ = ["KPI_COLUMNS", "compare_periods", "kpi_summary"]


def kpi_summary(
    customers: pd.DataFrame,
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    freq: str = "Q",
    by: str | Sequence[str] | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
) -> pd.DataFrame:
    """One row per period (and group) with the headline customer KPIs.

    The period range defaults to the periods with survey or transaction
    activity. Columns are :data:`KPI_COLUMNS` after ``period`` and ``by``.
    ``by`` columns are taken from the customers table.
    """
    byl = _by_list(by)
    activity = pd.concat([pd.to_datetime(surveys["surveyed_at"]), pd.to_datetime(transactions["ordered_at"])])
    start = start if start is not None else activity.min().to_period(freq)
    end = end if end is not None else activity.max().to_period(freq)
    keys = ["period", *byl]
    ret = retention(customers, by=by, freq=freq, start=start, end=end)
    attrs = customers[["customer_id", *byl]]

    def _attach(frame: pd.DataFrame) -> pd.DataFrame:
        # group columns always come from the customers table
        return frame.drop(columns=[c for c in byl if c in frame.columns]).merge(attrs, on="customer_id", how="left")

    s = _attach(surveys) if byl else surveys
    cs = csat_summary(s, by=by, freq=freq)[[*keys, "csat_mean", "csat_top2_box"]]
    npsd = nps(s, by=by, freq=freq)[[*keys, "nps"]]
    s = _with_period(s, "surveyed_at", freq)
    drivers = [d for d in DRIVERS if d in s.columns]
    dm = s.groupby(keys, observed=True)[drivers].mean().add_suffix("_mean").reset_index()
    t = _with_period(_attach(transactions) if byl else transactions, "ordered_at", freq)
    money = t.groupby(keys, observed=True)[["revenue_usd", "cost_usd"]].sum().reset_index()
    out = ret.merge(cs, on=keys, how="left").merge(npsd, on=keys, how="left").merge(dm, on=keys, how="left")
    out = out.merge(money, on=keys, how="left")
    out[["revenue_usd", "cost_usd"]] = out[["revenue_usd", "cost_usd"]].fillna(0.0)
    out["profit_usd"] = out["revenue_usd"] - out["cost_usd"]
    # average customers over the period as the denominator of per-customer money
    avg = (out["n_customers_start"] + out["n_customers_end"]) / 2
    out["revenue_per_customer_usd"] = out["revenue_usd"] / avg.where(avg > 0)
    out["profit_per_customer_usd"] = out["profit_usd"] / avg.where(avg > 0)
    for col in KPI_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    return out[[*keys, *KPI_COLUMNS]]


def compare_periods(kpis: pd.DataFrame, period: str | pd.Period | None = None) -> pd.DataFrame:
    """Headline view of a KPI table: each KPI in one period against the one before.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Output of :func:`kpi_summary` without ``by`` (one row per period).
    period : str or Period, optional
        The period to report; default the latest.

    Returns
    -------
    pandas.DataFrame
        ``kpi, current, previous, change`` for the period and its predecessor.
    """
    if kpis["period"].duplicated().any():
        raise ValueError("compare_periods needs one row per period: call kpi_summary without by=")
    ordered = kpis.sort_values("period").reset_index(drop=True)
    if period is None:
        pos = len(ordered) - 1
    else:
        target = pd.Period(period, ordered["period"].iloc[0].freq)
        matches = ordered.index[ordered["period"] == target]
        if len(matches) == 0:
            raise ValueError(
                f"period {target} not in the KPI table ({ordered['period'].min()}..{ordered['period'].max()})"
            )
        pos = int(matches[0])
    cols = [c for c in KPI_COLUMNS if c in ordered.columns]
    current = ordered.loc[pos, cols].astype(float)
    previous = ordered.loc[pos - 1, cols].astype(float) if pos > 0 else pd.Series(np.nan, index=cols)
    return pd.DataFrame(
        {
            "kpi": cols,
            "current": current.to_numpy(),
            "previous": previous.to_numpy(),
            "change": (current - previous).to_numpy(),
        }
    )
