"""Customer-period panel: the shared table that link models are fitted on.

One row per customer and period in which the customer was active, joining the
customer's attributes, the customer's activity window in the period, the
period's survey answers, the period's spend and whether the customer churned in
the period.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import RATING_SCALES

__all__ = ["customer_periods", "survey_rating_columns"]

#: The simulator's rating columns, in the order the panel lists them when a survey table has them.
_KNOWN_RATINGS = tuple(RATING_SCALES)  # csat, nps and the default driver ratings
#: Columns the panel itself makes: a rating column may not carry one of these names.
_PANEL_COLUMNS = frozenset(
    {
        "customer_id",
        "period",
        "segment",
        "region",
        "channel",
        "tenure_years",
        "at_risk_fraction",
        "active_fraction",
        "active_from",
        "active_to",
        "churned",
        "surveyed",
        "n_orders",
        "revenue_usd",
        "cost_usd",
        "margin_usd",
        "csat_lag1",
    }
)


def survey_rating_columns(surveys: pd.DataFrame, rating_columns: Sequence[str] | None = None) -> list[str]:
    """The rating columns of a surveys table, in the panel's order.

    Parameters
    ----------
    surveys : pandas.DataFrame
    rating_columns : sequence of str, optional
        Given: checked (present and numeric) and returned in this order. Default: every numeric
        column other than ``customer_id``, ``surveyed_at`` and identifiers (names ending in
        ``_id``); booleans are not ratings. ``csat``, ``nps`` and the default drivers come first, in
        the order of :data:`bsc_toolkit.contracts.RATING_SCALES`, then the others in table order.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If a given column is missing or not numeric, or a rating column has the name of a panel column.
    """

    def numeric(col: str) -> bool:
        dtype = surveys[col].dtype
        return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)

    if rating_columns is None:
        candidates = [
            c
            for c in surveys.columns
            if c not in ("customer_id", "surveyed_at") and not str(c).endswith("_id") and numeric(c)
        ]
        cols = [c for c in _KNOWN_RATINGS if c in candidates] + [c for c in candidates if c not in _KNOWN_RATINGS]
    else:
        cols = [rating_columns] if isinstance(rating_columns, str) else list(dict.fromkeys(rating_columns))
        missing = [c for c in cols if c not in surveys.columns]
        if missing:
            raise ValueError(f"surveys table lacks rating column(s) {missing}; it has {list(surveys.columns)}")
        text = [c for c in cols if not numeric(c)]
        if text:
            raise ValueError(f"rating column(s) {text} of the surveys table are not numeric")
    clash = [c for c in cols if c in _PANEL_COLUMNS]
    if clash:
        raise ValueError(
            f"survey rating column(s) {clash} have the name of a panel column; rename them "
            "(or leave them out with rating_columns=...)"
        )
    return cols


def customer_periods(
    customers: pd.DataFrame,
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    rating_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build the tidy customer-period panel.

    Parameters
    ----------
    customers, surveys, transactions : pandas.DataFrame
        Tables following the data contracts (``data/README.md``). ``customer_id`` may be integer
        or text (the same kind in all three tables). The customers table needs ``customer_id``
        only: ``acquired_at`` and ``churned_at`` are optional (see Notes).
    freq : str
        Period frequency (``"Q"`` quarters, ``"M"`` months, ...).
    start, end : str or Period, optional
        First and last period of the panel. By default the first and last
        period with any survey or transaction.
    rating_columns : sequence of str, optional
        Survey columns averaged per customer-period (:func:`survey_rating_columns`). Default:
        every numeric survey column other than ``customer_id``, ``surveyed_at`` and ``*_id``
        columns, ``csat, nps, time, quality, service, cost`` first when present. ``csat`` and
        ``nps`` are optional: a panel without ``csat`` can be built, but the satisfaction link
        models need it.

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
        the rating columns (``csat, nps, time, quality, service, cost`` on the
        default data; float64: the period's survey, mean if several; NaN if
        none), ``surveyed`` (bool), ``n_orders`` (int32),
        ``revenue_usd, cost_usd, margin_usd`` (0 when no orders; ``cost_usd``
        and ``margin_usd`` NaN when the transactions have no ``cost_usd``),
        ``csat_lag1`` (previous period's csat; only with a ``csat`` column).

    Raises
    ------
    ValueError
        If a table lacks a column, ``customer_id`` repeats or is missing in
        the customers table, or the tables' ``customer_id`` are of different
        kinds (numbers in one, text in another).

    Notes
    -----
    **Window start.** A customer's window starts at ``acquired_at``. Where it
    is unknown (no ``acquired_at`` column, e.g. a customers table derived from
    transactions, or NaT) it starts at the customer's first activity (first
    survey or transaction); ``tenure_years`` is then the time since that first
    activity, a lower bound of the true tenure. A customer with neither an
    acquisition date nor any activity has no rows.

    **Churn.** Without a ``churned_at`` column (or where it is NaT) nobody
    churns: the panel's ``churned`` is all False. The churn models need churn
    dates (here) or a churn flag at a snapshot date (the snapshot tools of
    :mod:`bsc_toolkit.models.retention.snapshot`).

    Built with integer arithmetic on the tables' arrays (no merges or sorts of
    the panel; surveys and transactions are mapped to panel rows in slices of
    2M rows): peak memory is about the size of the panel itself, e.g. 0.9 GB
    for 5.3M customer-periods (1M customers over 8 quarters), in about 3 s.
    """
    for name, frame, cols in (
        ("customers", customers, ("customer_id",)),
        ("surveys", surveys, ("customer_id", "surveyed_at")),
        ("transactions", transactions, ("customer_id", "ordered_at", "revenue_usd")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} table lacks column(s) {missing}; it has {list(frame.columns)}")
    survey_cols = survey_rating_columns(surveys, rating_columns)

    first, last = _period_range(surveys["surveyed_at"], transactions["ordered_at"], freq, start, end)
    periods = pd.period_range(first, last, freq=freq)
    n_periods = len(periods)
    # period boundaries in ns: period i is [bounds[i], bounds[i + 1])
    bounds = np.append(periods.start_time.asi8, (periods[-1].end_time + pd.Timedelta(1, "ns")).value)

    # customers in id order; each has one row per period from its first to its last active period
    ids = _customer_ids(customers["customer_id"])
    kind = _id_kind(ids)
    for name, frame in (("surveys", surveys), ("transactions", transactions)):
        other = _id_kind(_table_ids(frame["customer_id"]))
        if len(frame) and other not in (kind, "empty"):
            raise ValueError(
                f"customer_id is {kind} in the customers table but {other} in the {name} table: "
                "convert one so that the ids match"
            )
    order = np.argsort(ids, kind="stable") if kind == "numeric" else _text_order(ids)
    ids_sorted = ids[order]
    if len(ids_sorted) > 1 and (ids_sorted[1:] == ids_sorted[:-1]).any():
        dup = ids_sorted[1:][ids_sorted[1:] == ids_sorted[:-1]][:5].tolist()
        raise ValueError(f"customers table has duplicate customer_id(s), e.g. {dup}")
    lookup = _IdLookup(ids_sorted)
    n_customers = len(ids_sorted)
    acq_ns = _ns(customers["acquired_at"])[order] if "acquired_at" in customers.columns else _nat(n_customers)
    unknown_start = acq_ns == _NAT
    if unknown_start.any():  # window from the first survey or transaction (see Notes)
        first_seen = _first_activity(
            lookup, n_customers, ((surveys, "surveyed_at"), (transactions, "ordered_at")), unknown_start
        )
        acq_ns = np.where(unknown_start, first_seen, acq_ns)
        del first_seen
    churn_ns = _ns(customers["churned_at"])[order] if "churned_at" in customers.columns else _nat(n_customers)
    has_churn = churn_ns != _NAT
    first_i = np.maximum(_period_index(acq_ns, bounds), 0)
    churn_i = np.where(has_churn, _period_index(churn_ns, bounds), n_periods)  # n_periods: after the panel
    last_i = np.minimum(churn_i, n_periods - 1)
    if unknown_start.any():
        last_i = np.where(acq_ns == _NAT, -1, last_i)  # no acquisition date and no activity: no rows
    del unknown_start
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

    def aggregate(table: pd.DataFrame, when: str, value_cols: list[str]):
        """Rows per panel row and, per value column, (sum, count) of its non-missing values."""
        cid, stamp = _table_ids(table["customer_id"]), _ns(table[when])
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


def _nat(n: int) -> np.ndarray:
    return np.full(n, _NAT, dtype=np.int64)


def _customer_ids(values: pd.Series) -> np.ndarray:
    """The customers table's ids as a numpy array (integers stay integers; text as object)."""
    if values.isna().any():
        raise ValueError(f"customers table has {int(values.isna().sum()):,} missing customer_id(s)")
    if isinstance(values.dtype, np.dtype):
        return values.to_numpy()
    if pd.api.types.is_integer_dtype(values.dtype):  # nullable Int64 without missing values
        return values.to_numpy(dtype=np.int64)
    return values.to_numpy(dtype=object)


def _table_ids(values: pd.Series) -> np.ndarray:
    """A table's ``customer_id`` for the lookup: numpy dtypes as they are, nullable numbers as float
    (missing as NaN, never found), anything else as object."""
    if isinstance(values.dtype, np.dtype):
        return values.to_numpy()
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        if not values.isna().any() and pd.api.types.is_integer_dtype(values.dtype):
            return values.to_numpy(dtype=np.int64)
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return values.to_numpy(dtype=object)


def _id_kind(ids: np.ndarray) -> str:
    """``"numeric"``, ``"text"``, ``"mixed"`` or ``"empty"``."""
    if len(ids) == 0:
        return "empty"
    if ids.dtype.kind in "iuf":
        return "numeric"
    if ids.dtype.kind in "US":
        return "text"
    inferred = pd.api.types.infer_dtype(ids, skipna=True)
    if inferred in ("string", "unicode", "bytes"):
        return "text"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    return "mixed"


def _text_order(ids: np.ndarray) -> np.ndarray:
    """Stable sort order of text ids (as fixed-width unicode: C comparisons, not Python ones)."""
    try:
        return np.argsort(ids.astype(str), kind="stable")
    except (TypeError, ValueError):
        raise ValueError("customer_id mixes kinds of values (e.g. numbers and text); use one kind") from None


def _first_activity(
    lookup: _IdLookup, n_customers: int, tables: tuple[tuple[pd.DataFrame, str], ...], wanted: np.ndarray
) -> np.ndarray:
    """Earliest survey or transaction timestamp of each customer (in id order; NaT where none)."""
    first = np.full(n_customers, np.iinfo(np.int64).max, dtype=np.int64)
    for table, when in tables:
        if not len(table):
            continue
        cid, stamp = _table_ids(table["customer_id"]), _ns(table[when])
        for lo in range(0, len(table), _SLICE):
            sl = slice(lo, lo + _SLICE)
            pos, found = lookup(cid[sl])
            ok = found & (stamp[sl] != _NAT)
            ok[ok] = wanted[pos[ok]]
            np.minimum.at(first, pos[ok], stamp[sl][ok])
    first[first == np.iinfo(np.int64).max] = _NAT
    return first


def _numeric(values: pd.Series) -> np.ndarray:
    """A numeric column as a numpy array (no copy for numpy dtypes; missing as NaN otherwise)."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
        return values.to_numpy()
    return values.to_numpy(dtype=float, na_value=np.nan)


class _IdLookup:
    """Position of customer ids in the sorted unique ids: a direct table for dense integer ids, a hash
    index for text ids, a binary search otherwise."""

    def __init__(self, ids_sorted: np.ndarray) -> None:
        self.ids = ids_sorted
        self.table = None
        self.index = pd.Index(ids_sorted) if ids_sorted.dtype.kind not in "iuf" else None
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
        if self.index is not None:
            pos = self.index.get_indexer(cid)
            found = pos >= 0
            return np.where(found, pos, 0), found
        pos = np.searchsorted(self.ids, cid).clip(0, len(self.ids) - 1)
        return pos, self.ids[pos] == cid
