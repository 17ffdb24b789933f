"""Money KPIs: customer profitability, the whale curve and revenue market share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.metrics._common import _by_list, _require, _with_period

__all__ = ["customer_profitability", "market_share", "whale_curve"]


def customer_profitability(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Revenue, cost and profit per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``customer_id, revenue_usd, cost_usd``.
    customers : pandas.DataFrame, optional
        Customer attributes to attach (needed for ``by`` columns); customers
        without transactions appear with zeros.
    by : str or list of str, optional
        Customer attribute columns to carry along.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, *by, n_orders, revenue_usd, cost_usd, profit_usd,
        margin_rate`` sorted by ``profit_usd`` descending.
    """
    _require(transactions, ["customer_id", "revenue_usd", "cost_usd"], "transactions")
    byl = _by_list(by)
    out = transactions.groupby("customer_id").agg(
        n_orders=("revenue_usd", "size"), revenue_usd=("revenue_usd", "sum"), cost_usd=("cost_usd", "sum")
    )
    if customers is not None:
        _require(customers, ["customer_id", *byl], "customers")
        out = customers.set_index("customer_id")[byl].join(out, how="left")
        out[["n_orders", "revenue_usd", "cost_usd"]] = out[["n_orders", "revenue_usd", "cost_usd"]].fillna(0)
        out["n_orders"] = out["n_orders"].astype(np.int64)
    elif byl:
        raise ValueError("pass customers= to group profitability by customer attributes")
    out["profit_usd"] = out["revenue_usd"] - out["cost_usd"]
    rev = out["revenue_usd"].to_numpy(dtype=float)
    out["margin_rate"] = np.divide(
        out["profit_usd"].to_numpy(dtype=float), rev, out=np.full_like(rev, np.nan), where=rev != 0
    )
    return out.reset_index().sort_values("profit_usd", ascending=False, ignore_index=True)


def whale_curve(profitability: pd.DataFrame, profit_col: str = "profit_usd") -> pd.DataFrame:
    """Cumulative profitability ("whale") curve.

    Customers are ranked from most to least profitable; the curve gives the
    cumulative profit as a share of total profit against the cumulative share
    of customers. It typically rises well above 100% (the profitable
    customers earn more than the total) before the unprofitable tail pulls
    it back to 100%.

    Returns
    -------
    pandas.DataFrame
        ``rank, customer_id, profit_usd, customer_share, cumulative_profit_usd,
        cumulative_profit_share`` with a leading row at (0, 0).
    """
    _require(profitability, ["customer_id", profit_col], "profitability")
    ranked = profitability.sort_values(profit_col, ascending=False, ignore_index=True)
    total = ranked[profit_col].sum()
    if len(ranked) == 0:
        raise ValueError("profitability table is empty")
    if total <= 0:
        raise ValueError(f"total {profit_col} is {total:.2f} <= 0: a whale curve needs positive total profit")
    cum = ranked[profit_col].cumsum()
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(ranked) + 1),
            "customer_id": ranked["customer_id"],
            profit_col: ranked[profit_col],
            "customer_share": np.arange(1, len(ranked) + 1) / len(ranked),
            "cumulative_profit_usd": cum,
            "cumulative_profit_share": cum / total,
        }
    )
    head = pd.DataFrame(
        {
            "rank": [0],
            "customer_id": [pd.NA],
            profit_col: [0.0],
            "customer_share": [0.0],
            "cumulative_profit_usd": [0.0],
            "cumulative_profit_share": [0.0],
        }
    )
    return pd.concat([head, out], ignore_index=True)


def market_share(
    transactions: pd.DataFrame,
    market_size_usd: float | pd.Series | pd.DataFrame,
    freq: str = "Q",
    date_col: str = "ordered_at",
) -> pd.DataFrame:
    """Revenue market share per period.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``ordered_at, revenue_usd``.
    market_size_usd : float, Series or DataFrame
        Total market revenue per period: a constant, a Series indexed by
        period (Periods or strings such as ``"2024Q1"``), or a DataFrame with
        ``period`` and ``market_size_usd`` columns.

    Returns
    -------
    pandas.DataFrame
        ``period, revenue_usd, market_size_usd, market_share``.
    """
    _require(transactions, [date_col, "revenue_usd"], "transactions")
    rev = _with_period(transactions, date_col, freq).groupby("period")["revenue_usd"].sum().rename("revenue_usd")
    if isinstance(market_size_usd, pd.DataFrame):
        _require(market_size_usd, ["period", "market_size_usd"], "market size")
        size = market_size_usd.set_index("period")["market_size_usd"]
    elif isinstance(market_size_usd, pd.Series):
        size = market_size_usd
    else:
        size = pd.Series(float(market_size_usd), index=rev.index)
    size = size.copy()
    size.index = pd.PeriodIndex([pd.Period(p, freq) for p in size.index])
    missing = rev.index.difference(size.index)
    if len(missing):
        raise ValueError(f"market size missing for period(s) {[str(p) for p in missing[:5]]}")
    if (size <= 0).any():
        raise ValueError("market size must be positive in every period")
    out = rev.to_frame().join(size.rename("market_size_usd"), how="left")
    out["market_share"] = out["revenue_usd"] / out["market_size_usd"]
    return out.reset_index()
