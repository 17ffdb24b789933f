"""Customer-count KPIs: customers at the start and end of each period, acquisition, churn, retention."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.metrics._common import _by_list, _require, _resolve_alpha, _wilson

__all__ = ["acquisition", "retention"]


def _period_bounds(customers: pd.DataFrame, freq: str, start, end) -> pd.PeriodIndex:
    acq = pd.to_datetime(customers["acquired_at"])
    churn = pd.to_datetime(customers["churned_at"]) if "churned_at" in customers else pd.Series(dtype="datetime64[ns]")
    first = pd.Period(start, freq) if start is not None else acq.min().to_period(freq)
    if end is not None:
        last = pd.Period(end, freq)
    else:
        last = max(acq.max(), churn.max() if churn.notna().any() else acq.max()).to_period(freq)
    return pd.period_range(first, last, freq=freq)


def retention(
    customers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    alpha: float = 0.05,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Customer counts, churn and retention rates per period.

    A customer is active from ``acquired_at`` until ``churned_at`` (NaT:
    still active). For each period: ``n_customers_start`` active at the start,
    ``acquired`` during it, ``churned`` during it (of any origin),
    ``n_customers_end``; ``churn_rate`` is the share of customers active at
    the start who churned during the period (new customers who also left in
    their first period count in ``churned`` but not in the rate), and
    ``retention_rate = 1 - churn_rate``, with a Wilson interval.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id, acquired_at, churned_at`` and any ``by`` columns.
    by : str or list of str, optional
        Group columns (e.g. ``"segment"``).
    freq : str
        Period frequency.
    start, end : str or Period, optional
        Period range; by default from the first acquisition to the last event.
    alpha : float
        1 - confidence level of the (Wilson) interval on the churn rate.
    confidence : float, optional
        Deprecated: ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        ``period, *by, n_customers_start, acquired, churned, n_customers_end,
        churn_rate, churn_rate_ci_lower, churn_rate_ci_upper, retention_rate``.
    """
    alpha = _resolve_alpha(alpha, confidence, "retention")
    byl = _by_list(by)
    _require(customers, ["acquired_at", *byl], "customers")
    periods = _period_bounds(customers, freq, start, end)
    acq = pd.to_datetime(customers["acquired_at"])
    churn = (
        pd.to_datetime(customers["churned_at"])
        if "churned_at" in customers
        else pd.Series(pd.NaT, index=customers.index)
    )
    starts = periods.start_time
    ends = periods.end_time + pd.Timedelta(1, "ns")
    groups = customers.groupby(byl, observed=True, sort=True) if byl else [((), customers)]
    rows = []
    for key, grp in groups:
        a = acq.loc[grp.index].to_numpy()
        c = churn.loc[grp.index].to_numpy()
        c_filled = np.where(pd.isna(c), np.datetime64("2262-01-01"), c)
        for period, s, e in zip(periods, starts.to_numpy(), ends.to_numpy()):
            active_start = (a < s) & (c_filled >= s)
            acquired = (a >= s) & (a < e)
            churned = (c_filled >= s) & (c_filled < e)
            churned_from_start = active_start & churned
            active_end = (a < e) & (c_filled >= e)
            key_t = key if isinstance(key, tuple) else (key,)
            rows.append(
                (
                    period,
                    *key_t,
                    int(active_start.sum()),
                    int(acquired.sum()),
                    int(churned.sum()),
                    int(active_end.sum()),
                    int(churned_from_start.sum()),
                )
            )
    out = pd.DataFrame(
        rows, columns=["period", *byl, "n_customers_start", "acquired", "churned", "n_customers_end", "_churned_start"]
    )
    n = out["n_customers_start"].to_numpy(dtype=float)
    out["churn_rate"] = np.divide(out["_churned_start"], n, out=np.full_like(n, np.nan), where=n > 0)
    lo, hi = _wilson(out["_churned_start"].to_numpy(dtype=float), n, alpha)
    out["churn_rate_ci_lower"], out["churn_rate_ci_upper"] = lo, hi
    out["retention_rate"] = 1 - out["churn_rate"]
    return out.drop(columns="_churned_start")


def acquisition(
    customers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
) -> pd.DataFrame:
    """New customers per period, and as a share of the customers at the start.

    Returns
    -------
    pandas.DataFrame
        ``period, *by, acquired, n_customers_start, acquisition_rate``.
    """
    ret = retention(customers, by=by, freq=freq, start=start, end=end)
    out = ret[["period", *_by_list(by), "acquired", "n_customers_start"]].copy()
    n = out["n_customers_start"].to_numpy(dtype=float)
    out["acquisition_rate"] = np.divide(out["acquired"], n, out=np.full_like(n, np.nan), where=n > 0)
    return out
