"""Plausibility checks of loaded tables: dates outside the data's time, orders outside a customer's.

Two levels. **Errors** stop loading and are listed with the contract errors, every problem at once
(:func:`window_problems`, run on each validated table): with ``observation_end`` declared in
``dataset.yaml``, any date after it; with ``observation_start`` declared, surveys and orders before
it. **Warnings** are kept on :class:`~bsc_toolkit.data.io.CustomerData` and shown first in every
report (:func:`check_plausibility`): without a declared ``observation_end``, dates more than one
period (the data set's frequency) after the 99.9th percentile of the activity dates (survey, order
and acquisition dates pooled; the churn dates only without any of them), with the pattern of a placeholder
for "no date" (many rows on one far date such as 2099-12-31) named as such; and orders with a
positive amount dated after the customer's churn. Refunds after churn and orders before the
acquisition are notes. Messages name the file, the file's own column name and example lines.

The checks are vectorised: well under a second at a million customers and twelve million orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import DatasetDescription
from bsc_toolkit.data.files import line_offset
from bsc_toolkit.data.ids import customer_positions
from bsc_toolkit.data.mapping import column_label
from bsc_toolkit.data.schemas import DATE_COLUMNS, row_examples

__all__ = [
    "ACTIVITY_QUANTILE",
    "check_plausibility",
    "date_outlier_warnings",
    "empty_churn_warnings",
    "leave_out_after",
    "orders_outside",
    "plausible_date_limit",
    "window_problems",
]

#: Percentile of the activity dates that, plus one period, bounds plausible dates when no
#: observation_end is declared (numpy's ``method="lower"``: one outlier among ten is still found).
ACTIVITY_QUANTILE = 0.999
_PERIOD_MONTHS = {"M": 1, "Q": 3, "Y": 12}
_PERIOD_WORD = {"M": "month", "Q": "quarter", "Y": "year"}
_NAT = np.iinfo(np.int64).min
_BASIS = {"surveyed_at": "survey", "ordered_at": "order", "acquired_at": "acquisition", "churned_at": "churn"}
_EXAMPLES = 3
#: Rows on one far date (at least half of those after the bound) that make it look like a placeholder.
_PLACEHOLDER_ROWS = 3


def _day(value: object) -> str:
    """A date as ``2024-03-31`` (with the time when it has one)."""
    ts = pd.Timestamp(value)
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"


def _after_day(end: pd.Timestamp) -> pd.Timestamp:
    """The first instant after ``end`` (a whole day: the next midnight)."""
    return end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(nanoseconds=1)


def _examples(where: np.ndarray, values: np.ndarray, positions: np.ndarray | None, row_offset: int | None) -> str:
    """``line 5 ('2099-01-01'), line 9 ('2099-12-31') and 12 more``: the first rows of ``where``, as the file names them."""
    hits = np.flatnonzero(where)
    first = hits[:_EXAMPLES]
    labels = positions[first] if positions is not None else first
    rows = [(int(label), _day(values[i])) for label, i in zip(labels, first)]
    more = f" and {len(hits) - len(first):,} more" if len(hits) > len(first) else ""
    return row_examples(rows, row_offset, limit=_EXAMPLES) + more


def window_problems(
    frame: pd.DataFrame, table: str, description: DatasetDescription, row_offset: int | None = 2
) -> list[str]:
    """Dates outside the declared observation window of one validated table, as errors.

    Any date after ``observation_end``; survey and order dates before ``observation_start``
    (acquisition and churn dates may lie before the window: the installed base).

    Parameters
    ----------
    frame : pandas.DataFrame
        The validated table, on the file's row positions (rows left out skipped).
    table : str
        ``customers``, ``surveys`` or ``transactions``.
    description : DatasetDescription
        ``observation_start`` and ``observation_end``, and the column mapping (for the file's
        column names).
    row_offset : int or None
        Added to a row position to name the file's line (None: rows by position).

    Returns
    -------
    list of str
        One problem per column and bound: count, example lines and how to fix it.
    """
    start, end = description.observation_start, description.observation_end
    if start is None and end is None:
        return []
    problems = []
    positions = frame.index.to_numpy()
    for col in DATE_COLUMNS.get(table, ()):
        if col not in frame.columns:
            continue
        values = frame[col].to_numpy()
        label = column_label(table, col, description)
        if end is not None:
            late = values >= _after_day(end).to_datetime64()
            if late.any():
                fix = (
                    "leave these cells empty if the customers had not left by then"
                    if col == "churned_at"
                    else "leave these rows out of the file"
                )
                problems.append(
                    f"{label}: {int(late.sum()):,} date(s) after observation_end {_day(end)}, e.g. "
                    f"{_examples(late, values, positions, row_offset)}; {fix}, or move observation_end in "
                    "dataset.yaml to the last day the data cover"
                )
        if start is not None and col in ("surveyed_at", "ordered_at"):
            early = (values < start.to_datetime64()) & ~np.isnat(values)
            if early.any():
                problems.append(
                    f"{label}: {int(early.sum()):,} date(s) before observation_start {_day(start)}, e.g. "
                    f"{_examples(early, values, positions, row_offset)}; leave these rows out of the file, or move "
                    "observation_start in dataset.yaml to the first day the data cover"
                )
    return problems


def _nanoseconds(values: pd.Series) -> np.ndarray:
    """Dates as int64 nanoseconds (NaT as the minimum int64), without a copy."""
    return values.to_numpy(dtype="datetime64[ns]").view(np.int64)


class _Bound(NamedTuple):
    """The bound of plausible dates (:func:`_late_bound`)."""

    values: dict[tuple[str, str], np.ndarray]  # (table, column) -> dates as int64 ns
    basis: str  # what the percentile is of, in words ("survey, order and acquisition dates")
    percentile: pd.Timestamp
    limit: pd.Timestamp  # one period after the percentile


def _late_bound(
    frames: Mapping[str, pd.DataFrame], description: DatasetDescription, tables: Iterable[str]
) -> _Bound | None:
    """The bound of :func:`date_outlier_warnings`, or None when no date of ``tables`` lies beyond it."""
    if description.observation_end is not None:
        return None
    columns = [
        (table, col)
        for table in ("customers", "surveys", "transactions")
        if table in tables and table in frames
        for col in DATE_COLUMNS[table]
        if col in frames[table].columns and len(frames[table])
    ]
    if not columns:
        return None
    values = {key: _nanoseconds(frames[key[0]][key[1]]) for key in columns}
    # the pool: what customers did (surveys, orders) and when they came (customers keep arriving and
    # leaving after a single survey wave); the churn dates, where placeholders for "never" live, only
    # when there is nothing else
    basis_keys = [key for key in columns if key[1] != "churned_at"] or columns
    pool = [values[key] for key in basis_keys]
    latest = max(int(v.max()) for v in values.values())
    step = pd.DateOffset(months=_PERIOD_MONTHS[description.frequency])
    if latest == _NAT:
        return None
    # fast path, one pass over the dates: when at least as many pool dates as lie at or above the
    # percentile are within one period of the latest date, the percentile is too, and no date can be
    # more than one period after it
    recent = pd.Timestamp(latest) - step
    while recent + step < pd.Timestamp(latest):  # month ends: 2025-09-30 + 3 months is 2025-12-30
        recent += pd.Timedelta(days=1)
    present = sum(int((v != _NAT).sum()) for v in pool)
    needed = present - math.floor(ACTIVITY_QUANTILE * (present - 1))
    if not present or sum(int((v >= recent.value).sum()) for v in pool) >= needed:
        return None
    percentile = pd.Timestamp(_percentile_lower(pool, ACTIVITY_QUANTILE))
    try:
        limit = percentile + step
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return None
    if latest <= limit.value:
        return None
    kinds = [_BASIS[col] for col in _BASIS if any(c == col for _, c in basis_keys)]
    basis = (", ".join(kinds[:-1]) + " and " if len(kinds) > 1 else "") + kinds[-1] + " dates"
    return _Bound(values, basis, percentile, limit)


def plausible_date_limit(frames: Mapping[str, pd.DataFrame], description: DatasetDescription) -> pd.Timestamp | None:
    """The bound the far dates of :func:`date_outlier_warnings` lie beyond, for a report to stop at.

    A report that picks its period from the data (the KPI dashboard's headline quarter, a CLV
    calibration window) should not pick 2099Q1 because of one order dated 2099-01-01: it can end at
    this bound instead, and say why.

    Parameters
    ----------
    frames : mapping
        ``customers``, ``surveys`` and/or ``transactions``, as loaded (e.g. the tables of a
        :class:`~bsc_toolkit.data.io.CustomerData`).
    description : DatasetDescription
        ``observation_end`` and ``frequency``.

    Returns
    -------
    pandas.Timestamp or None
        One period after the 99.9th percentile of the activity dates, when some date lies after it;
        None when none does, or when ``observation_end`` is declared (later dates are errors then).
    """
    bound = _late_bound(frames, description, frames)
    return None if bound is None else bound.limit


def leave_out_after(
    frames: Mapping[str, pd.DataFrame], limit: pd.Timestamp
) -> tuple[dict[str, pd.DataFrame], str | None]:
    """The tables as they stand at ``limit``: what is dated after it is left out, and said so.

    For reports that must not be taken over by a few implausible dates (a quarter 2099Q1 holding one
    order as the headline period; a panel of 300 quarters): survey responses and orders after
    ``limit`` are left out, a churn date after it becomes "still a customer at the end" (as a churn
    after the end of any observation window is: right-censored), and customers acquired after it
    are left out with their rows.

    Parameters
    ----------
    frames : mapping
        ``customers``, ``surveys`` and ``transactions``.
    limit : pandas.Timestamp
        The last plausible moment, e.g. from :func:`plausible_date_limit`.

    Returns
    -------
    frames : dict
        The three tables, new objects where rows or cells changed.
    note : str or None
        What was left out, in words; None when nothing was dated after ``limit``.
    """
    out = dict(frames)
    counts: list[str] = []
    customers = frames["customers"]
    if "acquired_at" in customers.columns:
        late = (customers["acquired_at"] > limit).to_numpy()
        if late.any():
            gone = customers.loc[late, "customer_id"]
            out["customers"] = customers = customers.loc[~late].reset_index(drop=True)
            for table in ("surveys", "transactions"):
                out[table] = out[table].loc[~out[table]["customer_id"].isin(gone)].reset_index(drop=True)
            counts.append(f"{int(late.sum()):,} customer(s) acquired after it, with their rows")
    for table, column, what in (
        ("surveys", "surveyed_at", "survey response(s)"),
        ("transactions", "ordered_at", "order(s)"),
    ):
        frame = out[table]
        late = (frame[column] > limit).to_numpy()
        if late.any():
            out[table] = frame.loc[~late].reset_index(drop=True)
            counts.append(f"{int(late.sum()):,} {what}")
    if "churned_at" in customers.columns:
        late = (customers["churned_at"] > limit).to_numpy()
        if late.any():
            customers = customers.copy()
            customers.loc[late, "churned_at"] = pd.NaT
            out["customers"] = customers
            counts.append(f"{int(late.sum()):,} churn date(s), read as still a customer at the end")
    if not counts:
        return out, None
    note = (
        f"dates after {limit:%Y-%m-%d} (flagged in the warnings) are left out of this report: "
        + ", ".join(counts)
        + "; declare observation_end in dataset.yaml to set where the data end"
    )
    return out, note


def date_outlier_warnings(
    frames: dict[str, pd.DataFrame],
    description: DatasetDescription,
    files: dict[str, Path],
    rows: dict[str, np.ndarray] | None = None,
) -> list[str]:
    """Dates far after the rest of the data, when no ``observation_end`` says where the data end.

    The bound is one period (the data set's frequency) after the 99.9th percentile of the activity
    dates: survey, order and acquisition dates pooled (customers keep arriving and leaving after a
    single survey wave); churn dates, where placeholders for "never" live, only when there is
    nothing else (:func:`plausible_date_limit`). Every date column is checked against it; many rows
    on one far date (2099-12-31 for "never") are named as a placeholder.

    Parameters
    ----------
    frames : dict
        ``customers``, ``surveys`` and ``transactions``, validated, on a 0-based RangeIndex.
    description : DatasetDescription
        ``observation_end`` (nothing to do when declared), ``frequency``, the column mapping.
    files : dict
        Table name -> file, for the tables the data set has.
    rows : dict, optional
        Table name -> file row position of each row, for tables whose rows were left out while
        reading (others: a row's position is its file row).

    Returns
    -------
    list of str
        One warning per column with such dates: count, example lines, the bound, what to do.
    """
    bound = _late_bound(frames, description, files)
    if bound is None:
        return []
    rows = rows or {}
    limit, period = bound.limit, _PERIOD_WORD[description.frequency]
    warnings = []
    for (table, col), ns in bound.values.items():
        late = ns > limit.value
        n_late = int(late.sum())
        if not n_late:
            continue
        dates = frames[table][col].to_numpy()
        source = files[table]
        placeholder = ""
        counts = pd.Series(ns[late]).value_counts()
        if counts.iloc[0] >= _PLACEHOLDER_ROWS and counts.iloc[0] * 2 >= n_late:
            fix = (
                "leave those cells empty (an empty churned_at means the customer has not left)"
                if col == "churned_at"
                else "leave those rows out of the file"
            )
            placeholder = (
                f"; {int(counts.iloc[0]):,} of them are the same date {_day(pd.Timestamp(counts.index[0]))}, which "
                f"looks like a placeholder for 'no date': {fix}"
            )
        warnings.append(
            f"{table}: {column_label(table, col, description)}: {n_late:,} date(s) in '{source.name}' after "
            f"{_day(limit)}, more than one {period} after the {ACTIVITY_QUANTILE * 100:g}th percentile of the "
            f"{bound.basis} ({_day(bound.percentile)}), e.g. "
            f"{_examples(late, dates, rows.get(table), line_offset(source))}{placeholder}; check these dates, and "
            "declare observation_end in dataset.yaml (the last day the data cover) to make dates after it an error"
        )
    return warnings


def _percentile_lower(pool: list[np.ndarray], q: float) -> int:
    """numpy's ``quantile(method="lower")`` of the pooled dates (ns, NaT left out), without concatenating the pool.

    The percentile is the ``k``-th largest date for ``k = n - floor(q (n - 1))``: it is among the
    ``k`` largest of each array, so only those tails are pooled.
    """
    pool = [a[a != _NAT] for a in pool]
    n = sum(a.size for a in pool)
    k = n - math.floor(q * (n - 1))
    tails = [np.partition(a, a.size - min(k, a.size))[a.size - min(k, a.size) :] for a in pool if a.size]
    tail = np.concatenate(tails)
    return int(np.partition(tail, tail.size - k)[tail.size - k])


def orders_outside(
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    source: Path,
    positions: np.ndarray | None = None,
    show_id: Callable[[object], object] | None = None,
) -> tuple[list[str], list[str]]:
    """Orders dated after the customer's churn or before the acquisition (all kept as they are).

    Orders with a positive amount after the churn day are warnings (a customer who left does not
    buy: the churn date or the order is likely wrong); refunds and zero amounts after it (final
    settlements), and orders before the acquisition day, are notes. Vectorised over slices of 2M
    orders, so that the customer lookup costs little memory at a million customers.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Validated, on a 0-based RangeIndex; every order refers to a known customer.
    customers : pandas.DataFrame
        Validated, with ``churned_at`` and/or ``acquired_at`` (nothing to check otherwise).
    source : Path
        The transactions file, for the messages (its name) and its line numbers.
    positions : numpy.ndarray, optional
        File row position of each order, when rows were left out while reading.
    show_id : callable, optional
        How a customer id is quoted (e.g. its pseudonym, :meth:`bsc_toolkit.data.privacy.IdMask.show`);
        default: as it is.

    Returns
    -------
    warnings, notes : list of str
    """
    checks = [(c, w) for c, w in (("churned_at", "after"), ("acquired_at", "before")) if c in customers.columns]
    if not checks or not len(transactions):
        return [], []
    limits = {c: customers[c].to_numpy() for c, _ in checks}
    found: dict[str, list[np.ndarray]] = {c: [] for c, _ in checks}
    bounds: dict[str, list[np.ndarray]] = {c: [] for c, _ in checks}
    day = np.timedelta64(1, "D")
    step = 2_000_000
    for start in range(0, len(transactions), step):
        chunk = transactions.iloc[start : start + step]
        position = customer_positions(customers["customer_id"], chunk["customer_id"])
        ordered = chunk["ordered_at"].to_numpy()
        for column, when in checks:
            limit = limits[column][position]
            outside = (limit + day <= ordered) if when == "after" else (ordered < limit)
            if outside.any():
                found[column].append(np.flatnonzero(outside) + start)
                bounds[column].append(limit[outside])
    warnings: list[str] = []
    notes: list[str] = []
    offset = line_offset(source)
    for column, when in checks:
        if not found[column]:
            continue
        where = np.concatenate(found[column])
        limit = np.concatenate(bounds[column])
        rows = transactions.iloc[where]
        positive = rows["revenue_usd"].to_numpy() > 0
        if when == "after":
            parts = [(positive, warnings), (~positive, notes)]
        else:
            parts = [(np.ones(len(rows), dtype=bool), notes)]
        for part, target in parts:
            if part.any():
                target.append(
                    _outside_message(rows[part], limit[part], where[part], when, source, positions, offset, show_id)
                )
    return warnings, notes


def _outside_message(
    rows: pd.DataFrame,
    limit: np.ndarray,
    where: np.ndarray,
    when: str,
    source: Path,
    positions: np.ndarray | None,
    offset: int | None,
    show_id: Callable[[object], object] | None,
) -> str:
    """The message for orders after churn (positive amounts, or refunds) or before acquisition."""
    amounts = rows["revenue_usd"]
    first = rows.iloc[0]
    customers = rows["customer_id"].nunique()
    line = int(positions[where[0]] if positions is not None else where[0])
    customer = show_id(first["customer_id"]) if show_id is not None else first["customer_id"]
    example = (
        f"e.g. customer {customer} on {first['ordered_at']:%Y-%m-%d} ({when} {pd.Timestamp(limit[0]):%Y-%m-%d}), "
        f"{row_examples([(line, None)], offset)}"
    )
    kept = (
        "They are kept in the transactions table; the customer-period panel (retention and revenue models) counts "
        "only orders in the periods from acquisition to churn"
    )
    if when == "before":
        return (
            f"transactions: {len(rows):,} order(s) of {customers:,} customer(s) in '{source.name}' are dated before the "
            f"customer's acquired_at (the first day as a customer), {example}. {kept}; if these customers bought "
            "before they signed up, nothing to do; otherwise check acquired_at"
        )
    if bool((amounts > 0).all()):
        return (
            f"transactions: {len(rows):,} order(s) with a positive amount ({float(amounts.sum()):,.2f} in total) of "
            f"{customers:,} customer(s) in '{source.name}' are dated after the customer's churned_at (the day the "
            f"customer left), {example}. {kept}; if these customers came back, their churned_at should be empty or "
            "later; if the orders are misdated, correct them; final bills after the churn day need nothing"
        )
    return (
        f"transactions: {len(rows):,} refund(s) or zero amount(s) of {customers:,} customer(s) in '{source.name}' are "
        f"dated after the customer's churned_at (the day the customer left), {example}: final settlements. {kept}"
    )


def empty_churn_warnings(customers: pd.DataFrame, source: str | Path) -> list[str]:
    """Warn when a churn column is present but says nobody ever left.

    A ``churned_at`` column empty for every customer (or a churn flag false for every customer)
    reads as "nobody churned", so churn shows as 0% and retention as 100%. A column nobody filled in
    cannot be told apart from a period in which nobody left: the analyst must say which.

    Parameters
    ----------
    customers : pandas.DataFrame
        The validated customers table.
    source : str or Path
        Its file, for the message.

    Returns
    -------
    list of str
        One warning, or none.
    """
    n = len(customers)
    if n < 2:
        return []
    if "churned_at" in customers.columns and customers["churned_at"].isna().all():
        what = "the churned_at column is empty for every customer"
        unmap = "churned_at"
    elif "churned" in customers.columns and not customers["churned"].fillna(False).astype(bool).any():
        what = "the churn flag is false for every customer"
        unmap = "churned (the flag)"
    else:
        return []
    return [
        f"customers: {what} of {n:,} in '{Path(source).name}': churn shows as 0% and retention as 100%, and the churn "
        f"models cannot be estimated. If nobody left in these data, nothing to do; if churn is not recorded, "
        f"leave {unmap} out of the file or its mapping so that churn is reported as no data"
    ]


def check_plausibility(
    frames: dict[str, pd.DataFrame],
    description: DatasetDescription,
    files: dict[str, Path],
    rows: dict[str, np.ndarray] | None = None,
    show_id: Callable[[object], object] | None = None,
) -> tuple[list[str], list[str]]:
    """The warnings and notes of the checks across tables, run once the tables are loaded.

    Dates far after the rest of the data (:func:`date_outlier_warnings`) and orders outside a
    customer's time (:func:`orders_outside`). The errors of a declared observation window are
    found with the contract errors, table by table (:func:`window_problems`).

    Parameters
    ----------
    frames : dict
        ``customers``, ``surveys`` and ``transactions``, validated, on a 0-based RangeIndex.
    description : DatasetDescription
    files : dict
        Table name -> file, for the tables the data set has.
    rows : dict, optional
        Table name -> file row position of each row, for tables whose rows were left out while reading.
    show_id : callable, optional
        How a customer id is quoted in a message (its pseudonym when the ids are masked); messages
        quote no other id.

    Returns
    -------
    warnings, notes : list of str
    """
    rows = rows or {}
    warnings = date_outlier_warnings(frames, description, files, rows)
    if "customers" in files:
        warnings += empty_churn_warnings(frames["customers"], files["customers"])
    notes: list[str] = []
    if "customers" in files and "transactions" in files:
        more_warnings, notes = orders_outside(
            frames["transactions"], frames["customers"], files["transactions"], rows.get("transactions"), show_id
        )
        warnings += more_warnings
    return warnings, notes
