"""Customer profitability and the whale curve computed on an engine.

:func:`customer_profitability` equals :func:`bsc_toolkit.metrics.customer_profitability` on the same
tables (one row per customer: for moderate sizes). :func:`whale_curve` ranks the customers, sums
and shares with window functions in the engine and returns either every rank (equal to
``metrics.whale_curve(metrics.customer_profitability(...))``) or ``points`` evenly spaced ranks plus
the first, the last and the peak, so millions of customers never come back to pandas.

Ranks are deterministic: by value descending, then ``customer_id`` ascending. Values are compared
and summed in whole millionths of the currency unit (int64), so equal amounts tie on every engine
and the cumulative sums are exact: a float sum's last bits depend on the order of the additions
(117.42 may come out as 117.42000000000007 on one engine and 117.41999999999996 on another). The
pandas functions sort by the float values only (and not stably): customers with equal amounts may
come in another order there, with the same values, cumulative sums and shares to 1e-9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from bsc_toolkit.engine.backends import EngineTables
from bsc_toolkit.metrics._common import _by_list, _require
from bsc_toolkit.metrics.profitability import empty_whale_curve, profitability_notes, whale_basis, whale_frame

__all__ = ["profitability_expr", "customer_profitability", "whale_curve", "whale_ranks"]


@dataclass(frozen=True)
class _Profitability:
    """The per-customer expression and what the pandas function decides from the whole table."""

    table: ir.Table
    has_orders: bool
    has_rev: bool
    has_cost: bool
    by: list[str]


#: Values are ranked and summed in whole millionths of the currency unit (int64): exact, so equal
#: amounts tie on every engine (a float sum's last bits depend on the order of the additions) and the
#: cumulative sums are the same on every engine.
_MICROS = 1_000_000


def _micros(value: ir.NumericValue) -> ir.IntegerValue:
    """An amount in whole millionths of the currency unit (rounded half up)."""
    return (value.cast("float64") * _MICROS + 0.5).floor().cast("int64")


def _profitability(tables: EngineTables, by: str | Sequence[str] | None, with_customers: bool) -> _Profitability:
    byl = _by_list(by)
    tx = tables.transactions
    if tx is not None:
        _require(tx, ["customer_id"], "transactions")
    n_tx = int(tables.backend.execute(tx.count())) if tx is not None else 0
    has_orders = n_tx > 0
    has_rev = has_orders and "revenue_usd" in tx.columns
    has_cost = has_orders and "cost_usd" in tx.columns
    customers = tables.customers if with_customers else None
    if customers is None and byl:
        raise ValueError("pass customers= to group profitability by customer attributes")

    per = None
    if has_orders:
        known = tx.filter(tx.customer_id.notnull())
        aggs: dict[str, ir.Value] = {"n_orders": known.count()}
        for col, present in (("revenue_usd", has_rev), ("cost_usd", has_cost)):
            if present:
                aggs[f"{col}__sum"] = known[col].cast("float64").sum()
                aggs[f"{col}__n"] = known[col].count()
        per = known.group_by("customer_id").aggregate(**aggs)
        # strict sums: one missing amount makes the customer's total unknown
        per = per.select(
            "customer_id",
            "n_orders",
            **{
                col: (
                    ibis.ifelse(per[f"{col}__n"] == per.n_orders, per[f"{col}__sum"], ibis.null("float64"))
                    if present
                    else ibis.null("float64")
                )
                for col, present in (("revenue_usd", has_rev), ("cost_usd", has_cost))
            },
        )
    if customers is not None:
        _require(customers, ["customer_id", *byl], "customers")
        base = customers.select("customer_id", *byl)
        if per is None:
            table = base.mutate(
                n_orders=ibis.null("int64"), revenue_usd=ibis.null("float64"), cost_usd=ibis.null("float64")
            )
        else:
            joined = base.left_join(per, "customer_id")
            n_orders = joined.n_orders.fill_null(0)
            table = joined.select(
                "customer_id",
                *byl,
                n_orders=n_orders,
                # no orders in a table that has orders: a true zero
                revenue_usd=ibis.ifelse(n_orders == 0, 0.0, joined.revenue_usd) if has_rev else joined.revenue_usd,
                cost_usd=ibis.ifelse(n_orders == 0, 0.0, joined.cost_usd) if has_cost else joined.cost_usd,
            )
    elif per is not None:
        table = per
    else:
        empty = pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="int64"),
                "n_orders": pd.Series([], dtype="int64"),
                "revenue_usd": pd.Series([], dtype=float),
                "cost_usd": pd.Series([], dtype=float),
            }
        )
        table = ibis.memtable(empty)
    profit = table.revenue_usd - table.cost_usd
    table = table.mutate(
        profit_usd=profit,
        margin_rate=ibis.ifelse(table.revenue_usd != 0, profit / table.revenue_usd, ibis.null("float64")),
    )
    return _Profitability(table, has_orders, has_rev, has_cost, byl)


def profitability_expr(
    tables: EngineTables, by: str | Sequence[str] | None = None, *, with_customers: bool = True
) -> ir.Table:
    """Revenue, cost and profit per customer as an Ibis expression (not ordered).

    Columns ``customer_id, *by, n_orders, revenue_usd, cost_usd, profit_usd, margin_rate`` with the
    rules of :func:`bsc_toolkit.metrics.customer_profitability`. Building it counts the transactions
    (one query): without any, every amount is unknown (NULL), not 0.

    Parameters
    ----------
    tables : EngineTables
    by : str or list of str, optional
        Customer attribute columns carried along.
    with_customers : bool
        Start from the customers table (customers without orders appear with zeros; orders of
        customers not in it are left out), as ``customer_profitability(transactions, customers)``;
        False: the customers of the transactions only, as ``customer_profitability(transactions)``.

    Returns
    -------
    ibis.Table
    """
    return _profitability(tables, by, with_customers).table


def customer_profitability(
    tables: EngineTables, by: str | Sequence[str] | None = None, *, with_customers: bool = True
) -> pd.DataFrame:
    """Revenue, cost and profit per customer, computed on the engine (equal to the metrics function).

    Parameters
    ----------
    tables, by, with_customers
        As :func:`profitability_expr`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, *by, n_orders, revenue_usd, cost_usd, profit_usd, margin_rate`` sorted by
        ``profit_usd`` descending (``revenue_usd`` when profit is unknown throughout), then by
        ``customer_id``; unknown values last. ``attrs["notes"]`` says why a money column is empty.
        One row per customer: for moderate sizes (the whale curve needs no such frame:
        :func:`whale_curve`).
    """
    prof = _profitability(tables, by, with_customers)
    table = prof.table
    n_profit = int(tables.backend.execute(table.profit_usd.count()) or 0)
    key = "profit_usd" if n_profit else "revenue_usd"
    rank_key = _micros(table[key])
    frame = tables.backend.execute(table.order_by([rank_key.desc(nulls_first=False), table.customer_id]))
    if prof.has_orders:
        frame["n_orders"] = frame["n_orders"].astype(np.int64)
    else:
        frame["n_orders"] = frame["n_orders"].astype(float)
    for col in ("revenue_usd", "cost_usd", "profit_usd", "margin_rate"):
        frame[col] = frame[col].astype(float)
    frame = frame.reset_index(drop=True)
    frame.attrs["notes"] = profitability_notes(prof.has_rev, prof.has_cost)
    return frame


def whale_ranks(n: int, points: int) -> np.ndarray:
    """The ranks (1..n) :func:`whale_curve` returns for ``points``: the first rank of each of ``points``
    equal slices of ``1..n`` (so rank 1 and rank n are always in), or every rank when ``n <= points``.

    Parameters
    ----------
    n : int
        Number of ranked customers.
    points : int

    Returns
    -------
    numpy.ndarray of int64
    """
    ranks = np.arange(1, n + 1, dtype=np.int64)
    if n <= points or n < 2:
        return ranks
    bucket = (ranks - 1) * (points - 1) // (n - 1)
    first = np.ones(n, dtype=bool)
    first[1:] = bucket[1:] != bucket[:-1]
    return ranks[first]


def whale_curve(
    tables: EngineTables,
    points: int | None = None,
    *,
    profit_col: str = "profit_usd",
    with_customers: bool = True,
) -> pd.DataFrame:
    """The whale curve, ranked and summed in the engine.

    The rules are those of :func:`bsc_toolkit.metrics.whale_curve` on
    :func:`customer_profitability`: customers ranked from most to least profitable; the basis is
    total profit when positive, else total revenue (a loss curve), else none (shares NaN); without
    cost data the curve is of revenue, named so; customers whose value is unknown are left out
    (``attrs["n_unknown"]``); a leading row at rank 0.

    Parameters
    ----------
    tables : EngineTables
    points : int, optional
        None: every rank (equal to the pandas curve row for row, ties ordered by ``customer_id``).
        Given (e.g. 1000): the ranks of :func:`whale_ranks` (``points`` evenly spaced ranks,
        including the first and the last) plus the peak (the first rank of the highest cumulative
        value), so the frame has at most ``points + 2`` rows whatever the number of customers.
    profit_col : str
        Column ranked by (``"profit_usd"`` or ``"revenue_usd"``).
    with_customers : bool
        As :func:`profitability_expr` (customers without orders count, with a value of 0).

    Returns
    -------
    pandas.DataFrame
        ``rank, customer_id, <value>, customer_share, cumulative_<measure>_usd,
        cumulative_<measure>_share, measure, basis, basis_usd``; ``attrs``: ``measure``, ``basis``,
        ``n_unknown``, ``n_ranked`` (customers on the curve) and ``points`` (None: every rank).
    """
    if points is not None and (int(points) != points or points < 2):
        raise ValueError(f"points must be a whole number of at least 2, got {points!r}")
    if profit_col not in ("profit_usd", "revenue_usd"):
        raise ValueError(f"profit_col must be 'profit_usd' or 'revenue_usd', not {profit_col!r}")
    prof = _profitability(tables, None, with_customers)
    table = prof.table
    backend = tables.backend
    stats = backend.execute(
        table.aggregate(n=table.count(), n_profit=table[profit_col].count(), n_revenue=table.revenue_usd.count())
    ).iloc[0]
    n_all = int(stats["n"])
    value_col = profit_col
    if int(stats["n_profit"]) == 0 and profit_col == "profit_usd" and int(stats["n_revenue"]) > 0:
        value_col = "revenue_usd"  # no cost data: the curve of revenue, named so
    measure = value_col.removesuffix("_usd")
    cum_col, share_col = f"cumulative_{measure}_usd", f"cumulative_{measure}_share"
    columns = ["rank", "customer_id", value_col, "customer_share", cum_col, share_col, "measure", "basis", "basis_usd"]
    known = table.filter(table[value_col].notnull())
    totals = backend.execute(
        known.aggregate(n=known.count(), total=known[value_col].sum(), revenue=known.revenue_usd.sum())
    ).iloc[0]
    n = int(totals["n"])
    n_unknown = n_all - n
    if n == 0:
        return empty_whale_curve(columns, measure, n_unknown=n_unknown, n_ranked=0, points=points)
    total = float(totals["total"])
    revenue = float(totals["revenue"]) if pd.notna(totals["revenue"]) else np.nan
    basis, denom = whale_basis(total, revenue, measure)

    value = known[value_col]
    micros = _micros(value)
    order = [micros.desc(), known.customer_id.asc()]
    ranked = known.select(
        "customer_id",
        value,
        rank=ibis.row_number().over(order_by=order) + 1,
        cum_micros=micros.sum().over(ibis.window(order_by=order, rows=(None, 0))).cast("int64"),
    )
    if points is not None and n > points:
        peak = ranked.cum_micros.max().over()
        ranked = ranked.mutate(peak_rank=ibis.ifelse(ranked.cum_micros == peak, ranked["rank"], ibis.null("int64")))
        ranked = ranked.mutate(peak_rank=ranked.peak_rank.min().over())
        m = int(points) - 1
        rank = ranked["rank"]
        first_of_slice = ((rank - 1) * m) // (n - 1) != ((rank - 2) * m) // (n - 1)
        ranked = ranked.filter((rank == 1) | first_of_slice | (rank == ranked.peak_rank))
    frame = backend.execute(ranked.select("rank", "customer_id", value_col, "cum_micros").order_by("rank"))
    ranks = frame["rank"].to_numpy(dtype=np.int64)
    cum = frame["cum_micros"].to_numpy(dtype=np.int64) / _MICROS
    out = whale_frame(
        ranks, frame["customer_id"], frame[value_col].to_numpy(dtype=float), cum, n, measure, basis, denom, value_col
    )
    out.attrs.update(measure=measure, basis=basis, n_unknown=n_unknown, n_ranked=n, points=points)
    return out
