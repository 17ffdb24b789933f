"""Customer-period panel: the shared table that link models are fitted on.

One row per customer and period in which the customer was active, joining the
customer's attributes, the period's survey answers, the period's spend and
whether the customer churned in the period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS

__all__ = ["customer_periods"]

_SURVEY_COLUMNS = ("csat", "nps", *DRIVERS)


def customer_periods(
    customers: pd.DataFrame,
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
) -> pd.DataFrame:
    """Build the tidy customer-period panel.

    Parameters
    ----------
    customers, surveys, transactions : pandas.DataFrame
        Tables following the data contracts (``data/README.md``).
    freq : str
        Period frequency (``"Q"`` quarters, ``"M"`` months, ...).
    start, end : str or Period, optional
        First and last period of the panel. By default the first and last
        period with any survey or transaction.

    Returns
    -------
    pandas.DataFrame
        Columns: ``customer_id, period, segment, region, channel,
        tenure_years`` (at the start of the customer's window in the period),
        ``at_risk_fraction`` (share of the period from the window start to the
        period end: the exposure of a discrete-time hazard model),
        ``churned`` (bool), ``surveyed`` (bool), ``csat, nps, time, quality,
        service, cost`` (the period's survey, mean if several; NaN if none),
        ``csat_lag1`` (previous period's csat), ``n_orders, revenue_usd,
        cost_usd, margin_usd`` (0 when no orders).
    """
    for name, frame, cols in (
        ("customers", customers, ("customer_id", "acquired_at", "churned_at")),
        ("surveys", surveys, ("customer_id", "surveyed_at")),
        ("transactions", transactions, ("customer_id", "ordered_at", "revenue_usd")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} table lacks column(s) {missing}; it has {list(frame.columns)}")

    activity = pd.concat([surveys["surveyed_at"], transactions["ordered_at"]])
    if activity.empty and (start is None or end is None):
        raise ValueError("surveys and transactions are empty: give start and end periods")
    first = pd.Period(start, freq) if start is not None else activity.min().to_period(freq)
    last = pd.Period(end, freq) if end is not None else activity.max().to_period(freq)
    if last < first:
        raise ValueError(f"end period {last} is before start period {first}")

    acquired = pd.to_datetime(customers["acquired_at"])
    churned_at = pd.to_datetime(customers["churned_at"])
    acq_ord = pd.PeriodIndex(acquired.dt.to_period(freq)).asi8
    churn_ord = pd.PeriodIndex(churned_at.dt.to_period(freq)).asi8
    first_i = np.maximum(acq_ord - first.ordinal, 0).astype(float)
    last_i = np.where(churned_at.notna().to_numpy(), churn_ord - first.ordinal, np.inf)
    last_i = np.minimum(last_i, last.ordinal - first.ordinal)
    keep = last_i >= first_i
    n_rows = np.where(keep, last_i - first_i + 1, 0).astype(np.int64)

    idx = np.repeat(np.arange(len(customers)), n_rows)
    offset = np.arange(n_rows.sum()) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    period_i = first_i[idx].astype(np.int64) + offset
    periods = pd.period_range(first, last, freq=freq)
    p_start = periods.start_time[period_i]
    p_end = periods.end_time[period_i] + pd.Timedelta(1, "ns")
    acq = pd.DatetimeIndex(acquired.to_numpy()[idx])
    window_start = acq.where(acq > p_start, p_start)
    period_days = (p_end - p_start) / pd.Timedelta(1, "D")

    panel = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[idx],
            "period": periods[period_i],
        }
    )
    for col in ("segment", "region", "channel"):
        if col in customers.columns:
            panel[col] = customers[col].to_numpy()[idx]
    panel["tenure_years"] = np.maximum(((p_start - acq) / pd.Timedelta(365.25, "D")).to_numpy(), 0.0)
    panel["at_risk_fraction"] = ((p_end - window_start) / pd.Timedelta(1, "D")).to_numpy() / period_days.to_numpy()
    churn_i = last_i[idx]
    panel["churned"] = churned_at.notna().to_numpy()[idx] & (period_i == churn_i)

    survey_cols = [c for c in _SURVEY_COLUMNS if c in surveys.columns]
    s = surveys[["customer_id", *survey_cols]].copy()
    s["period"] = pd.to_datetime(surveys["surveyed_at"]).dt.to_period(freq)
    s = s.groupby(["customer_id", "period"], as_index=False)[survey_cols].mean()
    s["surveyed"] = True
    panel = panel.merge(s, on=["customer_id", "period"], how="left")
    panel["surveyed"] = panel["surveyed"].eq(True)

    t = transactions[["customer_id", "revenue_usd"]].copy()
    has_cost = "cost_usd" in transactions.columns
    t["cost_usd"] = transactions["cost_usd"] if has_cost else np.nan
    t["period"] = pd.to_datetime(transactions["ordered_at"]).dt.to_period(freq)
    t["n_orders"] = 1
    t = t.groupby(["customer_id", "period"], as_index=False)[["n_orders", "revenue_usd", "cost_usd"]].sum(min_count=1)
    panel = panel.merge(t, on=["customer_id", "period"], how="left")
    panel["n_orders"] = panel["n_orders"].fillna(0).astype(np.int64)
    panel["revenue_usd"] = panel["revenue_usd"].fillna(0.0)
    panel["cost_usd"] = panel["cost_usd"].fillna(0.0) if has_cost else np.nan
    panel["margin_usd"] = panel["revenue_usd"] - panel["cost_usd"]

    panel = panel.sort_values(["customer_id", "period"], ignore_index=True)
    if "csat" in panel.columns:
        prev = panel.groupby("customer_id")["csat"].shift(1)
        ordinal = pd.PeriodIndex(panel["period"]).asi8
        consecutive = pd.Series(ordinal).groupby(panel["customer_id"].to_numpy()).diff().to_numpy() == 1
        panel["csat_lag1"] = prev.where(consecutive)
    return panel
