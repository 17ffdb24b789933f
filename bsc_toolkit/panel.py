"""Customer-period panel: the shared table that link models are fitted on.

One row per customer and period in which the customer was active, joining the
customer's attributes, the customer's activity window in the period, the
period's survey answers, the period's spend and whether the customer churned in
the period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import RATING_SCALES

__all__ = ["customer_periods"]

_SURVEY_COLUMNS = tuple(RATING_SCALES)  # csat, nps and the driver ratings


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
        One row per customer and period from the customer's first to last
        active period, sorted by ``customer_id`` and ``period``. Columns:
        ``customer_id, period, segment, region, channel`` (as in the customers
        table), ``tenure_years`` (at the start of the customer's window in the
        period); the activity window, computed here once for every model:
        ``at_risk_fraction`` (share of the period from the window start to the
        period end: the exposure of a discrete-time hazard model),
        ``active_fraction`` (share of the period actually active, shorter in
        the churn period: the exposure of spend), ``active_from`` (window
        start: the period start, or acquisition if later) and ``active_to``
        (window end: the churn date in the churn period, else the period end,
        exclusive, i.e. the next period's start); ``churned`` (bool: churned
        in this period; a churn after the last panel period is not one),
        ``csat, nps, time, quality, service, cost`` (float64: the period's
        survey, mean if several; NaN if none), ``surveyed`` (bool),
        ``n_orders`` (int32), ``revenue_usd, cost_usd, margin_usd`` (0 when no
        orders; ``cost_usd`` and ``margin_usd`` NaN when the transactions have
        no ``cost_usd``), ``csat_lag1`` (previous period's csat).

    Raises
    ------
    ValueError
        If a table lacks a column, ``customer_id`` repeats in the customers
        table or ``acquired_at`` is missing.

    Notes
    -----
    Built with integer arithmetic on the tables' arrays (no merges or sorts of
    the panel; surveys and transactions are mapped to panel rows in slices of
    2M rows): peak memory is about the size of the panel itself, e.g. 0.9 GB
    for 5.3M customer-periods (1M customers over 8 quarters), in about 3 s.
    """
    for name, frame, cols in (
        ("customers", customers, ("customer_id", "acquired_at", "churned_at")),
        ("surveys", surveys, ("customer_id", "surveyed_at")),
        ("transactions", transactions, ("customer_id", "ordered_at", "revenue_usd")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} table lacks column(s) {missing}; it has {list(frame.columns)}")

    first, last = _period_range(surveys["surveyed_at"], transactions["ordered_at"], freq, start, end)
    periods = pd.period_range(first, last, freq=freq)
    n_periods = len(periods)
    # period boundaries in ns: period i is [bounds[i], bounds[i + 1])
    bounds = np.append(periods.start_time.asi8, (periods[-1].end_time + pd.Timedelta(1, "ns")).value)

    # customers in id order; each has one row per period from its first to its last active period
    ids = customers["customer_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    ids_sorted = ids[order]
    if len(ids_sorted) > 1 and (ids_sorted[1:] == ids_sorted[:-1]).any():
        dup = ids_sorted[1:][ids_sorted[1:] == ids_sorted[:-1]][:5].tolist()
        raise ValueError(f"customers table has duplicate customer_id(s), e.g. {dup}")
    acq_ns = _ns(customers["acquired_at"])[order]
    if (acq_ns == _NAT).any():
        bad = ids_sorted[acq_ns == _NAT][:5].tolist()
        raise ValueError(f"customers table has missing acquired_at, e.g. customer_id(s) {bad}")
    churn_ns = _ns(customers["churned_at"])[order]
    has_churn = churn_ns != _NAT
    first_i = np.maximum(_period_index(acq_ns, bounds), 0)
    churn_i = np.where(has_churn, _period_index(churn_ns, bounds), n_periods)  # n_periods: after the panel
    last_i = np.minimum(churn_i, n_periods - 1)
    n_rows = np.maximum(last_i - first_i + 1, 0)
    row_start = np.cumsum(n_rows) - n_rows
    k = np.repeat(np.arange(len(ids_sorted)), n_rows)  # customer (in id order) of each row
    period_i = np.arange(len(k)) - row_start[k] + first_i[k]
    del n_rows

    p_start = bounds[:-1][period_i]
    p_end = bounds[1:][period_i]
    acq = acq_ns[k]
    active_from = np.maximum(p_start, acq)
    churned = churn_i[k] == period_i
    active_to = np.where(churned, churn_ns[k], p_end)
    period_days = (p_end - p_start) / _DAY
    cols: dict[str, object] = {
        "customer_id": ids_sorted[k],
        "period": pd.PeriodIndex.from_ordinals(first.ordinal + period_i, freq=freq),
    }
    for col in ("segment", "region", "channel"):
        if col in customers.columns:
            labels = customers[col]
            if isinstance(labels.dtype, pd.CategoricalDtype):
                cols[col] = pd.Categorical.from_codes(labels.cat.codes.to_numpy()[order][k], dtype=labels.dtype)
            else:
                cols[col] = labels.to_numpy()[order][k]
    cols["tenure_years"] = np.maximum((p_start - acq) / _YEAR, 0.0)
    del acq
    cols["at_risk_fraction"] = ((p_end - active_from) / _DAY) / period_days
    cols["active_fraction"] = np.clip(((active_to - active_from) / _DAY) / period_days, 0.0, 1.0)
    cols["active_from"] = active_from.view("datetime64[ns]")
    cols["active_to"] = active_to.view("datetime64[ns]")
    cols["churned"] = churned
    del p_start, p_end, period_days, active_from, active_to, churned

    # surveys and transactions: each row's panel row, aggregated slice by slice (bounded memory)
    n = len(k)
    del k, period_i
    lookup = _IdLookup(ids_sorted)

    def aggregate(table: pd.DataFrame, when: str, value_cols: list[str]):
        """Rows per panel row and, per value column, (sum, count) of its non-missing values."""
        cid, stamp = table["customer_id"].to_numpy(), _ns(table[when])
        raw = {col: _numeric(table[col]) for col in value_cols}
        rows = np.zeros(n, dtype=np.int32)
        sums = {col: (np.zeros(n), np.zeros(n, dtype=np.int32)) for col in value_cols}
        for lo in range(0, len(table), _SLICE):
            sl = slice(lo, lo + _SLICE)
            pos, found = lookup(cid[sl])
            pi = _period_index(stamp[sl], bounds)
            ok = found & (pi >= first_i[pos]) & (pi <= last_i[pos])
            row = (row_start[pos] + pi - first_i[pos])[ok]
            rows += np.bincount(row, minlength=n)
            for col in value_cols:
                v = raw[col][sl][ok].astype(float, copy=False)
                good = ~np.isnan(v)
                total, count = sums[col]
                total += np.bincount(row[good], weights=v[good], minlength=n)
                count += np.bincount(row[good], minlength=n)
        return rows, sums

    survey_cols = [c for c in _SURVEY_COLUMNS if c in surveys.columns]
    n_surveys, sums = aggregate(surveys, "surveyed_at", survey_cols)
    for col in survey_cols:
        total, count = sums.pop(col)
        np.divide(total, count, out=total, where=count > 0)
        total[count == 0] = np.nan
        cols[col] = total
        del total, count
    cols["surveyed"] = n_surveys > 0
    del n_surveys

    has_cost = "cost_usd" in transactions.columns
    n_orders, sums = aggregate(transactions, "ordered_at", ["revenue_usd", "cost_usd"] if has_cost else ["revenue_usd"])
    cols["n_orders"] = n_orders
    del n_orders
    cols["revenue_usd"] = sums.pop("revenue_usd")[0]
    cols["cost_usd"] = sums.pop("cost_usd")[0] if has_cost else np.full(n, np.nan)
    cols["margin_usd"] = cols["revenue_usd"] - cols["cost_usd"]

    if "csat" in cols:
        lag = np.empty(n)
        lag[1:] = cols["csat"][:-1]
        lag[row_start[last_i >= first_i]] = np.nan  # first row of each customer
        cols["csat_lag1"] = lag
    return pd.DataFrame(cols, copy=False)


_NAT = np.iinfo(np.int64).min
_SLICE = 1 << 21  # survey/transaction rows mapped to panel rows at a time
_DAY = pd.Timedelta(1, "D").value
_YEAR = pd.Timedelta(365.25, "D").value


def _ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (NaT as the minimum int64)."""
    if values.dtype == "datetime64[ns]":
        return values.to_numpy().view(np.int64)
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)  # wall time, as Period conversion does
    return stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _period_index(ns: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Index of the panel period holding each timestamp (-1 before, len(bounds) - 1 after the panel)."""
    return np.searchsorted(bounds, ns, side="right") - 1


def _period_range(surveyed_at: pd.Series, ordered_at: pd.Series, freq: str, start, end) -> tuple[pd.Period, pd.Period]:
    """First and last period: given, or those of the first and last survey or transaction."""
    stamps = [ns[ns != _NAT] for ns in (_ns(surveyed_at), _ns(ordered_at))]
    stamps = [ns for ns in stamps if len(ns)]
    if not stamps and (start is None or end is None):
        raise ValueError("surveys and transactions are empty: give start and end periods")
    first = (
        pd.Period(start, freq) if start is not None else pd.Timestamp(min(ns.min() for ns in stamps)).to_period(freq)
    )
    last = pd.Period(end, freq) if end is not None else pd.Timestamp(max(ns.max() for ns in stamps)).to_period(freq)
    if last < first:
        raise ValueError(f"end period {last} is before start period {first}")
    return first, last


def _numeric(values: pd.Series) -> np.ndarray:
    """A numeric column as a numpy array (no copy for numpy dtypes; missing as NaN otherwise)."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
        return values.to_numpy()
    return values.to_numpy(dtype=float, na_value=np.nan)


class _IdLookup:
    """Position of customer ids in the sorted unique ids: a direct table for dense integer ids."""

    def __init__(self, ids_sorted: np.ndarray) -> None:
        self.ids = ids_sorted
        self.table = None
        if len(ids_sorted) and ids_sorted.dtype.kind in "iu":
            lo, hi = int(ids_sorted[0]), int(ids_sorted[-1])
            if hi - lo < 4 * len(ids_sorted) + 1024:
                self.lo = lo
                self.table = np.full(hi - lo + 1, -1, dtype=np.int64)
                self.table[ids_sorted - lo] = np.arange(len(ids_sorted))

    def __call__(self, cid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position, found) of each id; position 0 where not found."""
        if len(self.ids) == 0:
            return np.zeros(len(cid), dtype=np.int64), np.zeros(len(cid), dtype=bool)
        if self.table is not None and cid.dtype.kind in "iu":
            offset = cid - self.lo
            inside = (offset >= 0) & (offset < len(self.table))
            pos = self.table[np.where(inside, offset, 0)]
            found = inside & (pos >= 0)
            return np.where(found, pos, 0), found
        pos = np.searchsorted(self.ids, cid).clip(0, len(self.ids) - 1)
        return pos, self.ids[pos] == cid
