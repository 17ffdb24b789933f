"""RFM summaries (frequency, recency, T, monetary value) of a transaction log.

Definitions follow the ``lifetimes`` package (``summary_data_from_transaction_data``):
transactions are first floored to periods (``freq``) and all transactions of a customer in the
same period are combined into one (their values summed); ``frequency`` is the number of
*repeat* purchase periods, ``recency`` the time between the first and the last purchase
period, ``T`` the time between the first purchase period and the end of the observation
period, and ``monetary_value`` the mean value of the repeat purchase periods (0 when there are
none). Optionally split into a calibration and a holdout period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bsc_toolkit.models.clv._inputs import _rows_preview

__all__ = ["rfm_summary"]

_NS_PER = {
    "D": 86_400 * 10**9,
    "W": 7 * 86_400 * 10**9,
    "h": 3_600 * 10**9,
}


def _normalise_freq(freq: str) -> str:
    f = {"H": "h", "d": "D", "w": "W", "W-SUN": "W"}.get(freq, freq)
    if f not in _NS_PER:
        raise ValueError(f"freq must be one of 'D', 'W' (weeks starting Monday) or 'h'; got {freq!r}")
    return f


def _period_index(ns: np.ndarray, freq: str) -> np.ndarray:
    """Integer period number of int64 nanosecond timestamps (floor).

    Weeks are pandas' ``'W'`` (= ``'W-SUN'``) periods, i.e. Monday to Sunday, so the
    period start is a Monday (1970-01-01 was a Thursday, hence the 3-day shift).
    """
    if freq == "W":
        days = np.floor_divide(ns, _NS_PER["D"])
        return np.floor_divide(days + 3, 7)
    return np.floor_divide(ns, _NS_PER[freq])


def _period_start_ns(period: np.ndarray, freq: str) -> np.ndarray:
    if freq == "W":
        return (period * 7 - 3) * _NS_PER["D"]
    return period * _NS_PER[freq]


def _to_ns(values: pd.Series, name: str) -> np.ndarray:
    try:
        ts = pd.to_datetime(values)
    except (TypeError, ValueError) as exc:  # pragma: no cover - message only
        raise ValueError(f"column {name!r} could not be converted to datetimes: {exc}") from exc
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _to_timestamp(value: Any, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError(f"{name} must be a valid date, got {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _customer_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Dense integer codes 0..k-1 for customer ids, and the sorted unique ids.

    Integer ids in a compact range are coded by offset (O(n), no hashing); anything
    else goes through ``pandas.factorize``.
    """
    arr = ids.to_numpy()
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo <= 2 * arr.size + 1_000_000:
            offset = (arr - lo).astype(np.int64)
            present = np.bincount(offset, minlength=hi - lo + 1) > 0
            remap = np.cumsum(present) - 1
            uniques = (np.flatnonzero(present) + lo).astype(arr.dtype)
            return remap[offset], uniques
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _summarise_periods(
    cust_codes: np.ndarray,
    period: np.ndarray,
    values: np.ndarray | None,
    n_customers: int,
) -> dict[str, np.ndarray]:
    """Combine transactions per (customer, period) and summarise per customer.

    Returns arrays of length ``n_customers``: ``count`` (distinct purchase periods,
    0 for customers without transactions), ``first``/``last`` period, and with
    values ``repeat_value`` (mean value of the non-first purchase periods, 0 if
    none) and ``total_value``. O(n) except for one sort of int64 keys.
    """
    out: dict[str, np.ndarray] = {}
    if cust_codes.size == 0:
        zeros = np.zeros(n_customers)
        out = {"count": zeros.astype(np.int64), "first": zeros.astype(np.int64), "last": zeros.astype(np.int64)}
        if values is not None:
            out["repeat_value"] = zeros
            out["total_value"] = zeros
        return out
    first = np.full(n_customers, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cust_codes, period)
    last = np.full(n_customers, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, cust_codes, period)
    # distinct (customer, period) pairs: sort the combined key once
    pmin = period.min()
    span = int(period.max() - pmin) + 1
    key = np.sort(cust_codes * span + (period - pmin))
    new = np.empty(key.size, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    count = np.bincount(key[new] // span, minlength=n_customers)
    has = count > 0
    first[~has] = 0
    last[~has] = 0
    out = {"count": count, "first": first, "last": last}
    if values is not None:
        is_first = period == first[cust_codes]
        rep_sum = np.bincount(cust_codes, weights=np.where(is_first, 0.0, values), minlength=n_customers)
        n_rep = count - 1
        out["repeat_value"] = np.where(n_rep > 0, rep_sum / np.maximum(n_rep, 1), 0.0)
        out["total_value"] = np.bincount(cust_codes, weights=values, minlength=n_customers)
    return out


def rfm_summary(
    transactions: pd.DataFrame,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    value_col: str | None = "revenue_usd",
    freq: str = "W",
    observation_end: Any = None,
    calibration_end: Any = None,
    freq_multiplier: float = 1.0,
) -> pd.DataFrame:
    """RFM summary (frequency, recency, T, monetary value) of a transaction log.

    Vectorised (integer coding of customers, one sort of int64 customer-period
    keys, ``bincount`` reductions), so ten million transactions take about a second.

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction. Not modified.
    customer_col, date_col, value_col : str
        Column names. ``value_col=None`` skips the monetary columns.
    freq : {"W", "D", "h"}
        Period length. Weeks are pandas' ``"W"`` periods (Monday to Sunday), as in
        ``lifetimes``. Transactions of the same customer in the same period are
        combined into one purchase whose value is their sum.
    observation_end : date-like, optional
        End of the observation period; later transactions are dropped. Default: the
        last transaction date. It is floored to its period, like ``lifetimes``.
    calibration_end : date-like, optional
        If given, ``frequency``, ``recency``, ``T`` and ``monetary_value`` describe the
        calibration period (transactions on or before ``calibration_end``; customers
        whose first purchase is later are excluded) and the columns
        ``frequency_holdout`` (number of purchase periods in the holdout),
        ``monetary_value_holdout`` (mean value of those purchase periods, 0 if none)
        and ``duration_holdout`` (length of the holdout in periods) are added.
        Note: ``lifetimes`` averages the *raw* holdout transactions for
        ``monetary_value_holdout``; here the holdout is treated like the calibration
        period (same-period transactions combined), which is what the Gamma-Gamma
        model predicts.
    freq_multiplier : float, default 1
        Divide durations by this; e.g. ``freq="D", freq_multiplier=7`` measures time
        in weeks at day resolution (as in the published CDNOW analyses).

    Returns
    -------
    DataFrame
        Indexed by customer id (index name ``customer_col``), sorted, float columns
        ``frequency``, ``recency``, ``T`` [, ``monetary_value``] [, holdout columns].

    Raises
    ------
    ValueError
        On missing columns, missing values, negative values or invalid dates.
    """
    if not isinstance(transactions, pd.DataFrame):
        raise TypeError("transactions must be a pandas DataFrame")
    freq = _normalise_freq(freq)
    if freq_multiplier <= 0:
        raise ValueError("freq_multiplier must be positive")
    needed = [customer_col, date_col] + ([value_col] if value_col is not None else [])
    missing = [c for c in needed if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions is missing column(s) {missing}; available: {list(transactions.columns)}")
    for col in needed:
        na = transactions[col].isna().to_numpy()
        if na.any():
            raise ValueError(
                f"column {col!r} has {int(na.sum())} missing value(s) at rows {_rows_preview(transactions.index[na])}"
            )
    values: np.ndarray | None = None
    if value_col is not None:
        values = pd.to_numeric(transactions[value_col], errors="raise").to_numpy(dtype=float)
        neg = values < 0
        if neg.any():
            raise ValueError(
                f"column {value_col!r} has {int(neg.sum())} negative value(s) at rows "
                f"{_rows_preview(transactions.index[neg])}; net out refunds before the RFM summary"
            )
    ns = _to_ns(transactions[date_col], date_col)
    period = _period_index(ns, freq)

    if observation_end is None:
        obs_period = period.max() if period.size else 0
    else:
        obs_ns = _to_timestamp(observation_end, "observation_end").value
        obs_period = _period_index(np.array([obs_ns]), freq)[0]
    keep = period <= obs_period
    cal_period = obs_period
    if calibration_end is not None:
        cal_ts = _to_timestamp(calibration_end, "calibration_end")
        cal_ns = cal_ts.value
        cal_period = _period_index(np.array([cal_ns]), freq)[0]
        if cal_period > obs_period:
            raise ValueError("calibration_end must not be after observation_end")
        in_cal = keep & (ns <= cal_ns)
    else:
        in_cal = keep

    cust_codes_all, cust_uniques = _customer_codes(transactions[customer_col])
    n_all = len(cust_uniques)
    cal = _summarise_periods(cust_codes_all[in_cal], period[in_cal], None if values is None else values[in_cal], n_all)
    present = cal["count"] > 0
    unit = _NS_PER[freq] * freq_multiplier
    first_ns = _period_start_ns(cal["first"], freq)
    last_ns = _period_start_ns(cal["last"], freq)
    end_ns = _period_start_ns(np.int64(cal_period), freq)
    out = pd.DataFrame(
        {
            "frequency": (cal["count"] - 1).astype(float),
            "recency": (last_ns - first_ns) / unit,
            "T": (end_ns - first_ns) / unit,
        },
        index=pd.Index(cust_uniques, name=customer_col),
    )
    if values is not None:
        out["monetary_value"] = cal["repeat_value"]
    if calibration_end is not None:
        in_hold = keep & ~in_cal
        hold = _summarise_periods(
            cust_codes_all[in_hold], period[in_hold], None if values is None else values[in_hold], n_all
        )
        out["frequency_holdout"] = hold["count"].astype(float)
        if values is not None:
            # mean over all holdout purchase periods (none is a "first" purchase here)
            out["monetary_value_holdout"] = np.where(
                hold["count"] > 0, hold["total_value"] / np.maximum(hold["count"], 1), 0.0
            )
        out["duration_holdout"] = float(obs_period - cal_period) * (_NS_PER[freq] / unit)
    return out.loc[present]
