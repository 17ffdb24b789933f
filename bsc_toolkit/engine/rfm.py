"""The RFM summary of a transaction log computed on an engine, per customer or as distinct triples.

:func:`rfm_summary` equals :func:`bsc_toolkit.models.clv.rfm.rfm_summary` (the pandas reference:
same definitions, index, columns and values). The engine combines the transactions per customer
and period and returns integers per customer (purchase periods, first and last period) and the
sums of values; the durations are then computed in Python with the pandas function's own
arithmetic, so they are identical. :func:`rfm_patterns` returns only the distinct
``(frequency, recency, T)`` triples with their numbers of customers: what the BG/NBD likelihood
depends on (fit them with ``BetaGeoFitter().fit(patterns, weights_col="n_customers")``), a few
thousand rows for millions of customers.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from bsc_toolkit.engine.backends import EngineTables
from bsc_toolkit.engine.panel import period_key
from bsc_toolkit.models.clv.rfm import _NS_PER, _normalise_freq, _period_index, _period_start_ns, _to_timestamp

__all__ = ["rfm_summary", "rfm_patterns"]

#: pandas period frequency of each RFM frequency (weeks are Monday to Sunday, as in lifetimes).
_PANDAS_FREQ = {"W": "W-SUN", "D": "D", "h": "h"}
_EXAMPLES = 5


def _transactions(tables: EngineTables | ir.Table) -> tuple[ir.Table, Any]:
    """The transactions expression and its backend."""
    if isinstance(tables, EngineTables):
        if tables.transactions is None:
            raise ValueError("the data set has no transactions table: no RFM summary")
        return tables.transactions, tables.backend
    return tables, ibis.get_backend(tables)


def _examples(tx: ir.Table, mask: ir.BooleanValue, cols: list[str], backend) -> str:
    """A few rows matching ``mask`` as text (the engine has no row numbers to quote)."""
    rows = backend.execute(tx.filter(mask).select(*cols).limit(_EXAMPLES))
    return "; ".join(", ".join(f"{c}={row[c]}" for c in cols) for _, row in rows.iterrows())


def _check(tx: ir.Table, customer_col: str, date_col: str, value_col: str | None, backend) -> pd.Timestamp | None:
    """The pandas function's checks, counted in the engine: missing columns, missing and negative values.

    Returns the last transaction date (None without transactions), from the same query.
    """
    needed = [customer_col, date_col] + ([value_col] if value_col is not None else [])
    missing = [c for c in needed if c not in tx.columns]
    if missing:
        raise ValueError(f"transactions is missing column(s) {missing}; available: {list(tx.columns)}")
    aggs = {f"null_{i}": tx[c].isnull().cast("int64").sum() for i, c in enumerate(needed)}
    aggs["last"] = tx[date_col].cast("timestamp").max()
    if value_col is not None:
        aggs["negative"] = (tx[value_col] < 0).cast("int64").sum()
    counts = backend.execute(tx.aggregate(**aggs)).iloc[0]
    for i, col in enumerate(needed):
        n = int(counts[f"null_{i}"]) if pd.notna(counts[f"null_{i}"]) else 0
        if n:
            raise ValueError(
                f"column {col!r} has {n} missing value(s), e.g. rows "
                f"[{_examples(tx, tx[col].isnull(), needed, backend)}]"
            )
    if value_col is not None:
        n = int(counts["negative"]) if pd.notna(counts["negative"]) else 0
        if n:
            raise ValueError(
                f"column {value_col!r} has {n} negative value(s), e.g. rows "
                f"[{_examples(tx, tx[value_col] < 0, needed, backend)}]; net out refunds before the RFM summary"
            )
    return None if pd.isna(counts["last"]) else pd.Timestamp(counts["last"])


def _period_of(value: Any, name: str, freq: str) -> int:
    ts = _to_timestamp(value, name)
    return int(_period_index(np.array([ts.value]), freq)[0])


def _customer_expr(
    tables: EngineTables | ir.Table,
    customer_col: str,
    date_col: str,
    value_col: str | None,
    freq: str,
    observation_end: Any,
    calibration_end: Any,
) -> tuple[ir.Table | None, int, int, Any]:
    """Per customer of the calibration period: purchase periods, first and last period, value sums.

    Returns the expression (None without transactions), the observation and calibration end
    periods, and the backend.
    """
    tx, backend = _transactions(tables)
    last = _check(tx, customer_col, date_col, value_col, backend)
    ts = tx[date_col].cast("timestamp")
    keyed = tx.select(
        cid=tx[customer_col],
        ts=ts,
        k=period_key(ts, _PANDAS_FREQ[freq]),
        **({"v": tx[value_col].cast("float64")} if value_col is not None else {}),
    )
    if observation_end is None:
        empty = last is None
        obs_period = 0 if empty else _period_of(last, "last date", freq)  # as pandas: 0 without transactions
    else:
        empty = False
        obs_period = _period_of(observation_end, "observation_end", freq)
    keyed = keyed.filter(keyed.k <= obs_period)
    cal_period = obs_period
    cal, hold = keyed, None
    if calibration_end is not None:
        cal_ts = _to_timestamp(calibration_end, "calibration_end")
        cal_period = _period_of(cal_ts, "calibration_end", freq)
        if cal_period > obs_period:
            raise ValueError("calibration_end must not be after observation_end")
        stamp = ibis.literal(cal_ts.to_pydatetime(), "timestamp")
        cal, hold = keyed.filter(keyed.ts <= stamp), keyed.filter(keyed.ts > stamp)
    if empty:
        return None, obs_period, cal_period, backend
    with_value = value_col is not None

    def per_period(table: ir.Table) -> ir.Table:
        """One purchase per customer and period (values summed)."""
        return table.group_by(["cid", "k"]).aggregate(**({"v": table.v.sum()} if with_value else {"n": table.count()}))

    cp = per_period(cal)
    firsts = cp.group_by("cid").aggregate(first=cp.k.min())
    cp = cp.join(firsts, "cid")  # a hash join: cheaper than a window (a sort) on every engine
    aggs: dict[str, ir.Value] = {"count": cp.count(), "first": cp.first.min(), "last": cp.k.max()}
    if with_value:
        aggs["repeat_sum"] = ibis.ifelse(cp.k > cp.first, cp.v, 0.0).sum()
    per = cp.group_by("cid").aggregate(**aggs)
    if hold is not None:
        hp = per_period(hold)
        hold_aggs: dict[str, ir.Value] = {"hold_count": hp.count()}
        if with_value:
            hold_aggs["hold_total"] = hp.v.sum()
        hold_per = hp.group_by("cid").aggregate(**hold_aggs)
        joined = per.left_join(hold_per, "cid")
        per = joined.select(
            *per.columns,
            hold_count=joined.hold_count.fill_null(0),
            **({"hold_total": joined.hold_total.fill_null(0.0)} if with_value else {}),
        )
    return per, obs_period, cal_period, backend


def _sorted_ids(ids: pd.Series) -> np.ndarray:
    """Sort order of customer ids as the pandas summary's index (``pandas.factorize(sort=True)``)."""
    return np.argsort(ids.to_numpy(), kind="stable")


def rfm_summary(
    tables: EngineTables | ir.Table,
    freq: str = "W",
    observation_end: Any = None,
    calibration_end: Any = None,
    freq_multiplier: float = 1.0,
    value: bool = True,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    value_col: str = "revenue_usd",
) -> pd.DataFrame:
    """RFM summary per customer, computed on the engine; equal to the pandas ``rfm_summary``.

    Parameters
    ----------
    tables : EngineTables or ibis.Table
        The data set (its ``transactions``), or a transactions expression (e.g. with refunds
        netted out in the engine).
    freq : {"W", "D", "h"}
        Period length; weeks are pandas' ``"W"`` periods (Monday to Sunday).
    observation_end, calibration_end, freq_multiplier
        As :func:`bsc_toolkit.models.clv.rfm.rfm_summary`.
    value : bool
        Add ``monetary_value`` (and ``monetary_value_holdout``) from ``value_col``.
    customer_col, date_col, value_col : str
        Column names of the transactions.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted), ``frequency, recency, T`` [, ``monetary_value``]
        [, ``frequency_holdout``, ``monetary_value_holdout``, ``duration_holdout``]: the pandas
        function's frame. One row per customer: at scale use :func:`rfm_patterns`.

    Raises
    ------
    ValueError
        As the pandas function: missing columns, missing values, negative values (with their count
        and a few of the rows, counted in the engine; "net out refunds before the RFM summary"),
        ``calibration_end`` after ``observation_end``.
    """
    freq = _normalise_freq(freq)
    if freq_multiplier <= 0:
        raise ValueError("freq_multiplier must be positive")
    vcol = value_col if value else None
    per, obs_period, cal_period, backend = _customer_expr(
        tables, customer_col, date_col, vcol, freq, observation_end, calibration_end
    )
    columns = ["frequency", "recency", "T"] + (["monetary_value"] if value else [])
    if calibration_end is not None:
        columns += ["frequency_holdout"] + (["monetary_value_holdout"] if value else []) + ["duration_holdout"]
    if per is None:
        tx, _ = _transactions(tables)
        dtype = tx.schema()[customer_col].to_pandas()
        return pd.DataFrame(
            {c: pd.Series(dtype=float) for c in columns}, index=pd.Index([], dtype=dtype, name=customer_col)
        )
    frame = backend.execute(per)
    frame = frame.iloc[_sorted_ids(frame["cid"])].reset_index(drop=True)
    count = frame["count"].to_numpy(dtype=np.int64)
    first = frame["first"].to_numpy(dtype=np.int64)
    last = frame["last"].to_numpy(dtype=np.int64)
    unit = _NS_PER[freq] * freq_multiplier
    first_ns = _period_start_ns(first, freq)
    end_ns = _period_start_ns(np.int64(cal_period), freq)
    ids = frame["cid"]
    if ids.dtype.kind not in "iuf":
        ids = ids.astype(object)
    out = pd.DataFrame(
        {
            "frequency": (count - 1).astype(float),
            "recency": (_period_start_ns(last, freq) - first_ns) / unit,
            "T": (end_ns - first_ns) / unit,
        },
        index=pd.Index(ids, name=customer_col),
    )
    if value:
        n_rep = count - 1
        rep_sum = frame["repeat_sum"].to_numpy(dtype=float)
        out["monetary_value"] = np.where(n_rep > 0, rep_sum / np.maximum(n_rep, 1), 0.0)
    if calibration_end is not None:
        hold = frame["hold_count"].to_numpy(dtype=np.int64)
        out["frequency_holdout"] = hold.astype(float)
        if value:
            total = frame["hold_total"].to_numpy(dtype=float)
            out["monetary_value_holdout"] = np.where(hold > 0, total / np.maximum(hold, 1), 0.0)
        out["duration_holdout"] = float(obs_period - cal_period) * (_NS_PER[freq] / unit)
    return out


def rfm_patterns(
    tables: EngineTables | ir.Table,
    freq: str = "W",
    observation_end: Any = None,
    calibration_end: Any = None,
    freq_multiplier: float = 1.0,
    value: bool = False,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    value_col: str = "revenue_usd",
) -> pd.DataFrame:
    """The distinct ``(frequency, recency, T)`` triples of the RFM summary and their numbers of customers.

    The BG/NBD (and Pareto/NBD) likelihood of a customer depends on the triple only, so a fit on the
    triples weighted by ``n_customers`` is the fit on the per-customer summary
    (``BetaGeoFitter().fit(patterns, weights_col="n_customers")``). Computed in the engine: with weekly periods there are a
    few thousand triples whatever the number of customers.

    Parameters
    ----------
    tables, freq, observation_end, calibration_end, freq_multiplier, customer_col, date_col, value_col
        As :func:`rfm_summary` (with ``calibration_end``: the triples of the calibration period).
    value : bool
        Add ``monetary_value_sum`` and ``monetary_value_sumsq``: sums over the pattern's customers
        of their mean repeat purchase value and of its square (0 for customers without repeat
        purchases), for the mean and variance of spend. The Gamma-Gamma likelihood is not a
        function of these sums: it needs each repeat buyer's ``(frequency, monetary_value)``
        (:func:`rfm_summary`, or a sample of it).

    Returns
    -------
    pandas.DataFrame
        ``frequency, recency, T, n_customers`` [, ``monetary_value_sum``, ``monetary_value_sumsq``],
        sorted by the triple; ``attrs["n_customers"]`` is the total.
    """
    freq = _normalise_freq(freq)
    if freq_multiplier <= 0:
        raise ValueError("freq_multiplier must be positive")
    vcol = value_col if value else None
    per, _, cal_period, backend = _customer_expr(
        tables, customer_col, date_col, vcol, freq, observation_end, calibration_end
    )
    columns = ["frequency", "recency", "T", "n_customers"] + (
        ["monetary_value_sum", "monetary_value_sumsq"] if value else []
    )
    if per is None:
        out = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        out["n_customers"] = out["n_customers"].astype(np.int64)
        out.attrs["n_customers"] = 0
        return out
    triples = per.mutate(span=per["last"] - per["first"], age=cal_period - per["first"])
    aggs: dict[str, ir.Value] = {"n_customers": triples.count()}
    if value:
        mean = ibis.ifelse(triples["count"] > 1, triples.repeat_sum / (triples["count"] - 1), 0.0)
        aggs["monetary_value_sum"] = mean.sum()
        aggs["monetary_value_sumsq"] = (mean * mean).sum()
    frame = backend.execute(triples.group_by(["count", "span", "age"]).aggregate(**aggs))
    frame = frame.sort_values(["count", "span", "age"], ignore_index=True)
    unit = _NS_PER[freq] * freq_multiplier
    out = pd.DataFrame(
        {
            "frequency": (frame["count"].to_numpy(dtype=np.int64) - 1).astype(float),
            # start(last) - start(first) = span periods: the same integer nanoseconds as the pandas summary
            "recency": (frame["span"].to_numpy(dtype=np.int64) * _NS_PER[freq]) / unit,
            "T": (frame["age"].to_numpy(dtype=np.int64) * _NS_PER[freq]) / unit,
            "n_customers": frame["n_customers"].to_numpy(dtype=np.int64),
        }
    )
    if value:
        out["monetary_value_sum"] = frame["monetary_value_sum"].to_numpy(dtype=float)
        out["monetary_value_sumsq"] = frame["monetary_value_sumsq"].to_numpy(dtype=float)
    out.attrs["n_customers"] = int(out["n_customers"].sum())
    return out
