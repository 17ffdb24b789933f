"""Customer-count KPIs: customers at the start and end of each period, acquisition, churn, retention.

Two kinds of churn information are understood:

- **dated** (``churned_at``: the day a customer left, NaT = still active): counts and a churn
  rate *per period* (``churn_basis == "per period"``);
- **snapshot** (a boolean ``churned`` flag and no ``churned_at``): the flag says who had left by
  the snapshot date, so the rate is the *share of customers who left by the snapshot*, reported
  in the period holding the snapshot only, and is not a per-period rate
  (``churn_basis == "by snapshot"``).

Without either the churn KPIs are NaN ("no data"), never 0 % churn; without ``acquired_at`` the
acquisitions are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bsc_toolkit.metrics._common import _by_list, _dates, _known_dates, _require, _resolve_alpha, _wilson

__all__ = ["CHURN_BASES", "acquisition", "churn_information", "retention"]

#: Values of the ``churn_basis`` column of :func:`retention`.
CHURN_BASES: dict[str, str] = {
    "per period": "share of the customers active at the start of the period who left during it",
    "by snapshot": "share of customers who left by the snapshot date (a churn flag): not a per-period rate",
    "no churn data": "no churn dates or churn flag in the customers table",
}

_COUNTS = ["n_customers_start", "acquired", "churned", "n_customers_end"]
_COLUMNS = [
    *_COUNTS,
    "churn_rate",
    "churn_rate_ci_lower",
    "churn_rate_ci_upper",
    "retention_rate",
    "churn_basis",
]


def churn_information(customers: pd.DataFrame) -> str:
    """What the customers table says about churn.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customers table.

    Returns
    -------
    str
        ``"per period"`` (``churned_at`` dates; they win over a flag when a table has both),
        ``"by snapshot"`` (a ``churned`` flag only) or ``"no churn data"`` (a key of :data:`CHURN_BASES`).
    """
    if "churned_at" in customers.columns:
        return "per period"
    if "churned" in customers.columns:
        return "by snapshot"
    return "no churn data"


def _churn_flag(values: pd.Series) -> np.ndarray:
    """The ``churned`` flag as 1.0 / 0.0 / NaN (unknown)."""
    try:
        return values.astype("boolean").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        sample = values.dropna().unique()[:5].tolist()
        raise ValueError(
            f"customers.churned must be a churn flag (True/False or 1/0), got values such as {sample}"
        ) from None


def _period(value, freq: str) -> pd.Period:
    return pd.Period(value, freq)


def _range(
    customers: pd.DataFrame, basis: str, freq: str, start, end, snapshot
) -> tuple[pd.PeriodIndex, pd.Period | None]:
    """The periods to report and the snapshot period (snapshot data only)."""
    if basis == "by snapshot":
        point = snapshot if snapshot is not None else end
        if point is None:
            raise ValueError(
                "the customers table has a churn flag (`churned`) but no churn dates: pass snapshot= (or end=), "
                "the date or period of the snapshot the flag refers to"
            )
        snap = _period(point, freq)
        first = _period(start, freq) if start is not None else snap
        last = _period(end, freq) if end is not None else snap
        return pd.period_range(first, last, freq=freq), snap
    events = _known_dates(_dates(customers, "acquired_at"), _dates(customers, "churned_at"))
    if start is None and events.empty or end is None and events.empty:
        return pd.PeriodIndex([], freq=freq), None
    first = _period(start, freq) if start is not None else events.min().to_period(freq)
    last = _period(end, freq) if end is not None else events.max().to_period(freq)
    return pd.period_range(first, last, freq=freq), None


def _as_counts(out: pd.DataFrame) -> pd.DataFrame:
    """Count columns as int64 where every value is known, float with NaN otherwise."""
    for col in _COUNTS:
        if out[col].notna().all():
            out[col] = out[col].astype(np.int64)
    return out


def retention(
    customers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    snapshot: str | pd.Timestamp | pd.Period | None = None,
    alpha: float = 0.05,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Customer counts, churn and retention rates per period.

    **Dated churn** (``churned_at``): a customer is active from ``acquired_at`` until
    ``churned_at`` (NaT: still active). For each period: ``n_customers_start`` active at the
    start, ``acquired`` during it, ``churned`` during it (of any origin), ``n_customers_end``;
    ``churn_rate`` is the share of customers active at the start who churned during the period
    (new customers who also left in their first period count in ``churned`` but not in the
    rate), and ``retention_rate = 1 - churn_rate``, with a Wilson interval. Without
    ``acquired_at`` the acquisitions and customer counts are NaN (who was a customer when is
    unknown), ``churned`` is still counted.

    **Snapshot churn** (a boolean ``churned`` flag, no ``churned_at``): only the period holding
    the snapshot has figures: ``n_customers_start`` = all customers, ``churned`` = customers
    flagged, ``n_customers_end`` = customers not flagged, and ``churn_rate`` = the *share of
    customers who left by the snapshot* (of those with a known flag), with a Wilson interval.
    It is not a per-period rate: ``churn_basis`` says ``"by snapshot"`` so reports can say so.
    Other periods are NaN.

    **No churn information**: counts, churn and retention are NaN ("no data"), never 0 % churn.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id`` (int or string ids) and any of ``acquired_at``, ``churned_at``,
        ``churned`` and the ``by`` columns; possibly no rows.
    by : str or list of str, optional
        Group columns (e.g. ``"segment"``).
    freq : str
        Period frequency.
    start, end : str or Period, optional
        Period range; by default from the first acquisition to the last event (dated data) or
        the snapshot period (snapshot data). No dates and no range: an empty table.
    snapshot : str, Timestamp or Period, optional
        Snapshot data only: the date (or period) the churn flag refers to; default ``end``.
    alpha : float
        1 - confidence level of the (Wilson) interval on the churn rate.
    confidence : float, optional
        Deprecated: ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        ``period, *by, n_customers_start, acquired, churned, n_customers_end,
        churn_rate, churn_rate_ci_lower, churn_rate_ci_upper, retention_rate, churn_basis``
        (counts are int64 when all known, float with NaN otherwise; ``churn_basis`` is one of
        :data:`CHURN_BASES`). ``attrs["churn_basis"]`` repeats the basis and
        ``attrs["notes"]`` maps columns to a sentence on what they mean or why they are empty.
    """
    alpha = _resolve_alpha(alpha, confidence, "retention")
    byl = _by_list(by)
    _require(customers, ["customer_id", *byl], "customers")
    basis = churn_information(customers)
    customers = customers.reset_index(drop=True)  # group indices are then positions
    periods, snap = _range(customers, basis, freq, start, end, snapshot)
    has_acq = "acquired_at" in customers.columns
    acq = _dates(customers, "acquired_at")
    churn = _dates(customers, "churned_at")
    flag = _churn_flag(customers["churned"]) if basis == "by snapshot" else None
    starts = periods.start_time.to_numpy()
    ends = (periods.end_time + pd.Timedelta(1, "ns")).to_numpy()
    groups = customers.groupby(byl, observed=True, sort=True) if byl else [((), customers)]
    nan = np.nan
    rows = []
    for key, grp in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        pos = grp.index.to_numpy()
        a = acq.to_numpy()[pos]
        c = churn.to_numpy()[pos]
        c_filled = np.where(pd.isna(c), np.datetime64("2262-01-01"), c)
        for period, s, e in zip(periods, starts, ends):
            acquired = float(((a >= s) & (a < e)).sum()) if has_acq else nan
            if basis == "per period":
                active_start = (a < s) & (c_filled >= s)
                churned = float(((c_filled >= s) & (c_filled < e)).sum())
                if has_acq:
                    n_start, n_end = float(active_start.sum()), float(((a < e) & (c_filled >= e)).sum())
                    num = float((active_start & (c_filled < e)).sum())
                    den = n_start
                else:
                    n_start = n_end = num = den = nan
            elif basis == "by snapshot" and period == snap:
                f = flag[pos]
                n_start, churned, n_end = float(len(f)), float(np.nansum(f)), float((f == 0).sum())
                num, den = churned, float(np.isfinite(f).sum())
            else:
                n_start = churned = n_end = num = den = nan
            rows.append((period, *key_t, n_start, acquired, churned, n_end, num, den))
    out = pd.DataFrame(rows, columns=["period", *byl, *_COUNTS, "_num", "_den"])
    out["period"] = pd.PeriodIndex(list(out["period"]), freq=periods.freq)
    num, den = out["_num"].to_numpy(dtype=float), out["_den"].to_numpy(dtype=float)
    out["churn_rate"] = np.divide(num, den, out=np.full_like(den, np.nan), where=den > 0)
    lo, hi = _wilson(np.nan_to_num(num), np.nan_to_num(den), alpha)
    out["churn_rate_ci_lower"], out["churn_rate_ci_upper"] = lo, hi
    out["retention_rate"] = 1 - out["churn_rate"]
    out["churn_basis"] = basis
    out = _as_counts(out.drop(columns=["_num", "_den"]))
    out = out[["period", *byl, *_COLUMNS]]
    notes = {}
    if basis == "by snapshot":
        notes["churn_rate"] = f"share of customers who left by the snapshot ({snap}), not a per-period rate"
        notes["retention_rate"] = f"share of customers still active at the snapshot ({snap}), not a per-period rate"
    elif basis == "no churn data":
        for col in ("n_customers_start", "churned", "churn_rate", "retention_rate"):
            notes[col] = "no churn dates (churned_at) or churn flag (churned) in the customers table"
    elif not has_acq:
        notes["n_customers_start"] = "no acquisition dates (acquired_at): who was a customer when is unknown"
        notes["churn_rate"] = notes["retention_rate"] = notes["n_customers_start"]
    if not has_acq:
        notes["acquired"] = "no acquisition dates (acquired_at) in the customers table"
    out.attrs["churn_basis"] = basis
    out.attrs["notes"] = notes
    return out


def acquisition(
    customers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    snapshot: str | pd.Timestamp | pd.Period | None = None,
) -> pd.DataFrame:
    """New customers per period, and as a share of the customers at the start.

    Without ``acquired_at`` both are NaN ("no data"); without customer counts (see
    :func:`retention`) the rate is NaN.

    Returns
    -------
    pandas.DataFrame
        ``period, *by, acquired, n_customers_start, acquisition_rate``.
    """
    ret = retention(customers, by=by, freq=freq, start=start, end=end, snapshot=snapshot)
    out = ret[["period", *_by_list(by), "acquired", "n_customers_start"]].copy()
    n = out["n_customers_start"].to_numpy(dtype=float)
    acquired = out["acquired"].to_numpy(dtype=float)
    out["acquisition_rate"] = np.divide(acquired, n, out=np.full_like(n, np.nan), where=n > 0)
    return out
