"""Money KPIs: customer profitability, the whale curve and revenue market share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.metrics._common import _by_list, _optional_frame, _require, _with_period

__all__ = ["WHALE_COLUMNS", "customer_profitability", "market_share", "profitability_notes", "whale_curve"]


def _strict_sum(frame: pd.DataFrame, keys: list[str] | str, column: str) -> pd.Series:
    """Sum of ``column`` per group, NaN where any row of the group lacks it (a partial sum is not the total)."""
    grp = frame.groupby(keys, observed=True)[column]
    total = grp.sum()
    return total.where(grp.count() == grp.size())


def customer_profitability(
    transactions: pd.DataFrame | None,
    customers: pd.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Revenue, cost and profit per customer.

    Missing is no data: without transactions (``None``, no rows or no ``revenue_usd``) revenue
    is NaN, not 0; without ``cost_usd`` cost, profit and margin are NaN (profit is never the
    revenue). A customer whose rows lack some amounts gets NaN for that amount. Customers of
    ``customers`` without orders in a table that has orders have a true 0.

    Parameters
    ----------
    transactions : pandas.DataFrame or None
        ``customer_id`` and any of ``revenue_usd`` (may be negative for refunds), ``cost_usd``.
    customers : pandas.DataFrame, optional
        Customer attributes to attach (needed for ``by`` columns); customers
        without transactions appear with zeros.
    by : str or list of str, optional
        Customer attribute columns to carry along.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, *by, n_orders, revenue_usd, cost_usd, profit_usd,
        margin_rate`` sorted by ``profit_usd`` descending (by ``revenue_usd`` when profit is
        unknown throughout); ``attrs["notes"]`` says why a money column is empty.
    """
    tx = _optional_frame(transactions)
    _require(tx, ["customer_id"], "transactions")
    byl = _by_list(by)
    has_orders = len(tx) > 0
    has_rev = has_orders and "revenue_usd" in tx.columns
    has_cost = has_orders and "cost_usd" in tx.columns
    out = pd.DataFrame(
        {
            "n_orders": tx.groupby("customer_id").size().astype(float),
            "revenue_usd": _strict_sum(tx, "customer_id", "revenue_usd") if has_rev else np.nan,
            "cost_usd": _strict_sum(tx, "customer_id", "cost_usd") if has_cost else np.nan,
        }
    )
    out.index.name = "customer_id"
    if customers is not None:
        _require(customers, ["customer_id", *byl], "customers")
        out = customers.set_index("customer_id")[byl].join(out, how="left")
        if has_orders:  # no orders in a table that has orders: a true zero
            out["n_orders"] = out["n_orders"].fillna(0.0)
            fill = {"revenue_usd": has_rev, "cost_usd": has_cost}
            for col, known in fill.items():
                if known:
                    no_orders = out["n_orders"] == 0
                    out.loc[no_orders, col] = 0.0
    elif byl:
        raise ValueError("pass customers= to group profitability by customer attributes")
    if has_orders:
        out["n_orders"] = out["n_orders"].astype(np.int64)
    out["revenue_usd"] = out["revenue_usd"].astype(float)
    out["cost_usd"] = out["cost_usd"].astype(float)
    out["profit_usd"] = out["revenue_usd"] - out["cost_usd"]
    rev = out["revenue_usd"].to_numpy(dtype=float)
    out["margin_rate"] = np.divide(
        out["profit_usd"].to_numpy(dtype=float), rev, out=np.full_like(rev, np.nan), where=rev != 0
    )
    key = "profit_usd" if out["profit_usd"].notna().any() else "revenue_usd"
    out = out.reset_index().sort_values(key, ascending=False, ignore_index=True)
    out.attrs["notes"] = profitability_notes(has_rev, has_cost)
    return out


def profitability_notes(has_rev: bool, has_cost: bool) -> dict[str, str]:
    """Why a money column of :func:`customer_profitability` is empty (``attrs["notes"]``).

    Parameters
    ----------
    has_rev, has_cost : bool
        Whether the transactions have orders with ``revenue_usd`` / ``cost_usd``.

    Returns
    -------
    dict of str to str
        Column name to the reason, for the columns that are unknown throughout.
    """
    notes = {}
    if not has_rev:
        notes["revenue_usd"] = "no transactions with revenue_usd: revenue unknown"
    if not has_cost:
        notes["cost_usd"] = "no cost_usd in the transactions: cost, profit and margin unknown"
    return notes


#: Columns of :func:`whale_curve` for the profit measure (``profit`` becomes ``revenue`` for a revenue curve).
WHALE_COLUMNS: tuple[str, ...] = (
    "rank",
    "customer_id",
    "profit_usd",
    "customer_share",
    "cumulative_profit_usd",
    "cumulative_profit_share",
    "measure",
    "basis",
    "basis_usd",
)


def whale_curve(profitability: pd.DataFrame, profit_col: str = "profit_usd") -> pd.DataFrame:
    """Cumulative profitability ("whale") curve; a loss curve or a revenue curve when that is what the data gives.

    Customers are ranked from most to least profitable; the curve gives the cumulative profit
    (in money) and as a share of a *basis* against the cumulative share of customers:

    - ``basis == "total profit"`` when total profit is positive: the classic whale curve, which
      typically rises well above 100 % before the unprofitable tail pulls it back to 100 %;
    - ``basis == "total revenue"`` when the business makes a loss (total profit <= 0): the shares
      are cumulative profit / total revenue (a cumulative margin, ending at the overall margin),
      a loss curve rather than an error;
    - ``basis == "none"`` when neither total is positive: shares are NaN, the money column stands.

    Without cost data (``profit_usd`` NaN throughout) the curve is of **revenue**, labelled so:
    the columns are named ``revenue_usd, cumulative_revenue_usd, cumulative_revenue_share`` and
    ``measure == "revenue"`` (revenue is never called profit). Customers whose value is unknown
    are left out (``attrs["n_unknown"]``). No known values (no transactions): an empty frame
    with the columns.

    Parameters
    ----------
    profitability : pandas.DataFrame
        Output of :func:`customer_profitability` (``customer_id``, ``profit_col``, ``revenue_usd``).
    profit_col : str
        The column to rank by.

    Returns
    -------
    pandas.DataFrame
        ``rank, customer_id, <value>, customer_share, cumulative_<measure>_usd,
        cumulative_<measure>_share, measure, basis, basis_usd`` (:data:`WHALE_COLUMNS` for
        profit) with a leading row at (0, 0); ``basis_usd`` is the total the shares divide by.
        ``attrs`` repeats ``measure`` and ``basis``.
    """
    _require(profitability, ["customer_id"], "profitability")
    value_col = profit_col
    unknown = profit_col not in profitability.columns or profitability[profit_col].isna().all()
    if (
        unknown
        and profit_col == "profit_usd"
        and profitability.get("revenue_usd", pd.Series(dtype=float)).notna().any()
    ):
        value_col = "revenue_usd"  # no cost data: the curve of revenue, named so
    _require(profitability, [value_col], "profitability")
    measure = value_col.removesuffix("_usd")
    cum_col, share_col = f"cumulative_{measure}_usd", f"cumulative_{measure}_share"
    columns = ["rank", "customer_id", value_col, "customer_share", cum_col, share_col, "measure", "basis", "basis_usd"]
    known = profitability.loc[profitability[value_col].notna()]
    ranked = known.sort_values(value_col, ascending=False, ignore_index=True)
    n_unknown = len(profitability) - len(known)
    if ranked.empty:
        return empty_whale_curve(columns, measure, n_unknown=n_unknown)
    total = float(ranked[value_col].sum())
    revenue = float(ranked["revenue_usd"].sum()) if "revenue_usd" in ranked.columns else np.nan
    basis, denom = whale_basis(total, revenue, measure)
    n = len(ranked)
    out = whale_frame(
        np.arange(1, n + 1),
        ranked["customer_id"],
        ranked[value_col],
        ranked[value_col].cumsum(),
        n,
        measure,
        basis,
        denom,
    )
    out.attrs.update(measure=measure, basis=basis, n_unknown=n_unknown)
    return out


def whale_basis(total: float, revenue: float, measure: str) -> tuple[str, float]:
    """The basis of a whale curve's shares: total profit when positive, else total revenue (a loss curve), else none.

    Parameters
    ----------
    total : float
        Total of the measure over the ranked customers.
    revenue : float
        Their total revenue (NaN when unknown).
    measure : {"profit", "revenue"}

    Returns
    -------
    (str, float)
        The basis (``"total profit"``, ``"total revenue"`` or ``"none"``) and its amount (NaN for none).
    """
    if total > 0:
        return f"total {measure}", total
    if measure != "revenue" and revenue > 0:
        return "total revenue", revenue
    return "none", np.nan


def whale_frame(
    ranks: np.ndarray,
    customer_ids: Sequence,
    values: Sequence[float],
    cumulative: Sequence[float],
    n: int,
    measure: str,
    basis: str,
    denom: float,
    value_col: str | None = None,
) -> pd.DataFrame:
    """The rows of a whale curve (rank 0 first) from ranked values and their running totals.

    Shared by :func:`whale_curve` and the engines' :func:`bsc_toolkit.engine.whale.whale_curve`,
    which may pass only some ranks (``n`` is the number of customers ranked). ``value_col``: the
    column of the values (default ``<measure>_usd``).

    Returns
    -------
    pandas.DataFrame
        :data:`WHALE_COLUMNS` (with ``revenue`` for ``profit`` on a revenue curve).
    """
    value_col = value_col or f"{measure}_usd"
    cum_col, share_col = f"cumulative_{measure}_usd", f"cumulative_{measure}_share"
    ranks = np.asarray(ranks)
    cum = np.asarray(cumulative, dtype=float)
    body = pd.DataFrame(
        {
            "rank": ranks,
            "customer_id": customer_ids,
            value_col: values,
            "customer_share": ranks / n,
            cum_col: cum,
            share_col: cum / denom,
        }
    )
    head = pd.DataFrame(
        {
            "rank": [0],
            "customer_id": [pd.NA],
            value_col: [0.0],
            "customer_share": [0.0],
            cum_col: [0.0],
            share_col: [0.0 if basis != "none" else np.nan],
        }
    )
    out = pd.concat([head, body.reset_index(drop=True)], ignore_index=True)
    out["measure"], out["basis"], out["basis_usd"] = measure, basis, denom
    return out


def empty_whale_curve(columns: Sequence[str], measure: str, **attrs: object) -> pd.DataFrame:
    """A whale curve without customers: the columns, no rows, ``attrs`` with basis "none"."""
    out = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    out["customer_id"] = out["customer_id"].astype(object)
    out["measure"] = out["basis"] = out["measure"].astype(object)
    out.attrs.update(measure=measure, basis="none", **attrs)
    return out


def market_share(
    transactions: pd.DataFrame,
    market_size_usd: float | pd.Series | pd.DataFrame,
    freq: str = "Q",
    date_col: str = "ordered_at",
) -> pd.DataFrame:
    """Revenue market share per period.

    Parameters
    ----------
    transactions : pandas.DataFrame or None
        ``ordered_at, revenue_usd``; without them (or without rows) there is no revenue data
        and the result is an empty table. A period whose rows lack some revenue has NaN.
    market_size_usd : float, Series or DataFrame
        Total market revenue per period: a constant, a Series indexed by
        period (Periods or strings such as ``"2024Q1"``), or a DataFrame with
        ``period`` and ``market_size_usd`` columns.

    Returns
    -------
    pandas.DataFrame
        ``period, revenue_usd, market_size_usd, market_share``.
    """
    tx = _optional_frame(transactions)
    if tx.empty or date_col not in tx.columns or "revenue_usd" not in tx.columns:
        return pd.DataFrame(
            {
                "period": pd.Series(dtype=f"period[{freq}]"),
                "revenue_usd": pd.Series(dtype=float),
                "market_size_usd": pd.Series(dtype=float),
                "market_share": pd.Series(dtype=float),
            }
        )
    rev = _strict_sum(_with_period(tx, date_col, freq), "period", "revenue_usd").rename("revenue_usd")
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
