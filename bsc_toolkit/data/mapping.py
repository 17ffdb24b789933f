"""Mapping a file's columns onto the toolkit's names, and what the mapped tables need next.

:func:`map_columns` renames the mapped columns, computes those built from several (quantity x unit
price), reads the declared drivers and keeps the columns the table says to keep;
:func:`convert_churn_and_tenure` turns a churn flag and a tenure into ``churned`` and
``tenure_months``; :func:`date_snapshot_surveys` dates snapshot surveys; :func:`numbers_from_text`
reads numeric columns written as text with the declared decimal mark; :func:`drop_unanswered`
leaves out survey rows without any rating. Problems are collected in lists, to be reported
together; messages name columns as the description does (:func:`column_label`,
:func:`with_source_names`).
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import ComputedColumn, DatasetDescription, ReadOptions
from bsc_toolkit.data.files import is_text, to_number
from bsc_toolkit.data.schemas import number_hint, row_examples

__all__ = [
    "MISSING_CATEGORY",
    "label_missing_categories",
    "column_label",
    "convert_churn_and_tenure",
    "date_snapshot_surveys",
    "drop_unanswered",
    "map_columns",
    "numbers_from_text",
    "rating_columns",
    "with_source_names",
]

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "churned", "exited", "left"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "active", "stayed", "retained"}
#: Numeric columns of each table (besides the surveys' ratings), converted from text when mapped.
_NUMERIC = {"customers": (), "surveys": (), "transactions": ("revenue_usd", "cost_usd")}
#: Public names of internal columns, for messages.
_PUBLIC = {"revenue_usd": "revenue", "cost_usd": "cost", "tenure_months": "tenure"}


def map_columns(
    raw: pd.DataFrame,
    table: str,
    description: DatasetDescription,
    source: str,
    problems: list[str],
    row_offset: int | None = 2,
) -> pd.DataFrame:
    """The table in the toolkit's column names: mapped columns and those the table says to keep.

    Parameters
    ----------
    raw : pandas.DataFrame
        The file as read (:func:`bsc_toolkit.data.files.read_raw`).
    table : str
        ``customers``, ``surveys`` or ``transactions``.
    description : DatasetDescription
        The column mapping (``tables.<table>.columns``), kept columns, declared drivers and
        reading options (for computed columns and kept numbers written as text).
    source : str
        The file, for messages.
    problems : list of str
        Appended to: mapped or kept columns the file lacks (with the closest name), declared
        drivers neither mapped nor in the file, cells of a computed column's sources that are
        not numbers.
    row_offset : int or None
        Added to a row position to name the file's line (None: rows by position).

    Returns
    -------
    pandas.DataFrame
        The mapped columns under the toolkit's names (a computed column as the sum or product of
        its sources, as numbers) and the kept columns under their own (as numbers when every
        value is one, codes with leading zeros as text), on the file's row index; ``raw`` itself
        when the table has no mapping.
    """
    mapping = description.column_map(table)
    options = description.read_options(table)
    if table == "surveys":
        mapping = _with_declared_ratings(raw, mapping, description, source, problems)
    if not mapping:
        return raw
    out = {}
    used: set[str] = set()
    for name, rule in mapping.items():
        sources = rule.sources if isinstance(rule, ComputedColumn) else [rule]
        absent = [c for c in sources if c not in raw.columns]
        if absent:
            for col in absent:
                close = difflib.get_close_matches(col, list(raw.columns), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; its columns: {list(raw.columns)[:30]}"
                problems.append(
                    f"tables.{table}.columns.{_PUBLIC.get(name, name)}: '{source}' has no column {col!r}{hint}"
                )
            continue
        used.update(sources)
        if isinstance(rule, ComputedColumn):
            converted = [to_number(raw[c], options) for c in sources]
            for col, (_, bad) in zip(sources, converted):
                if bad.any():
                    label = f"column {col!r} (for {_PUBLIC.get(name, name)})"
                    problems.append(_numbers_problem(raw[col], bad, label, options, row_offset))
            result = converted[0][0]
            for values, _ in converted[1:]:
                result = result * values if rule.product else result + values
            out[name] = result
        else:
            out[name] = raw[rule]
    spec = description.tables.get(table)  # type: ignore[call-overload]
    for col in spec.keep if spec else []:
        if col not in raw.columns:
            close = difflib.get_close_matches(col, list(raw.columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"tables.{table}.keep: '{source}' has no column {col!r}{hint}")
        elif col not in out:
            out[col] = _maybe_numeric(raw[col], options)
    return pd.DataFrame(out, index=raw.index)


def _with_declared_ratings(
    raw: pd.DataFrame,
    mapping: dict[str, str | ComputedColumn],
    description: DatasetDescription,
    source: str,
    problems: list[str],
) -> dict[str, str | ComputedColumn]:
    """The surveys mapping plus declared drivers (and rated columns) it leaves out.

    A driver declared under ``drivers:`` (or a rating with a scale under ``ratings:``) that the
    mapping does not name is read from the file column of the same name. A declared driver the file
    does not have is an error, never a driver silently missing from the reports (a scale declared
    for a rating the data lack is harmless: the capability table says the rating is missing).
    """
    if not mapping:
        return mapping
    drivers = [d.name for d in description.drivers or []]
    mapping = dict(mapping)
    for name in dict.fromkeys([*drivers, *description.ratings]):
        if name in mapping:
            continue
        if name in raw.columns:
            mapping[name] = name
            continue
        if name not in drivers:
            continue
        close = difflib.get_close_matches(name, [str(c) for c in raw.columns], n=1)
        hint = f" (the file has {close[0]!r})" if close else ""
        problems.append(
            f"drivers: {name!r} is declared but neither mapped under tables.surveys.columns nor a column of "
            f"'{source}'{hint}; map it ({name}: <file column>) or remove it from drivers"
        )
    return mapping


def _maybe_numeric(values: pd.Series, options: ReadOptions) -> pd.Series:
    """A kept text column as numbers when every value is one (codes with leading zeros stay text)."""
    if not is_text(values) or values.isna().all():
        return values
    numbers, bad = to_number(values, options)
    if bad.any() or numbers.isna().all():
        return values
    text = values.astype("string").str.strip()
    if bool(text.str.match(r"^[+-]?0\d").fillna(False).any()):
        return values
    if bool((numbers.dropna() == np.floor(numbers.dropna())).all()) and not numbers.isna().any():
        return numbers.astype("int64")
    return numbers


def _numbers_problem(raw: pd.Series, bad: pd.Series, label: str, options: ReadOptions, row_offset: int | None) -> str:
    rows = list(zip(raw.index[bad], raw[bad]))
    return (
        f"{label}: {int(bad.sum()):,} value(s) that are not numbers, e.g. {row_examples(rows, row_offset)}"
        + number_hint(raw[bad], options)
    )


def convert_churn_and_tenure(
    frame: pd.DataFrame,
    description: DatasetDescription,
    problems: list[str],
    row_offset: int | None = 2,
) -> pd.DataFrame:
    """A mapped customers table with its churn flag as ``churned`` and its tenure as ``tenure_months``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The customers table in the toolkit's names (:func:`map_columns`).
    description : DatasetDescription
        The values that mean churned (``tables.customers.churn_values``; default 1/0, true/false,
        yes/no...), the tenure's unit and the snapshot date the flag refers to.
    problems : list of str
        Appended to: values that are not a churn flag, a flag without a snapshot date (or
        observation end), tenures that are not numbers -- each naming its lines.
    row_offset : int or None
        Added to a row position to name the file's line (None: rows by position).

    Returns
    -------
    pandas.DataFrame
        ``churned`` as bool and ``tenure`` replaced by ``tenure_months`` (float); the table as it
        is when it has neither.
    """
    spec = description.tables.get("customers")
    if "churned" in frame.columns:
        flag, unknown = _flag(frame["churned"], spec.churn_values if spec else None)
        if unknown.any():
            rows = list(zip(frame.index[unknown], frame.loc[unknown, "churned"]))
            problems.append(
                f"{column_label('customers', 'churned', description)}: {int(unknown.sum()):,} value(s) that are not a churn "
                f"flag, e.g. {row_examples(rows, row_offset)}; use 1/0, true/false or yes/no, or list the values that "
                "mean churned under tables.customers.churn_values"
            )
        frame = frame.assign(churned=flag)
        if description.snapshot_date is None and description.observation_end is None:
            problems.append(
                "churn is given as a flag ('churned') but the description has no snapshot_date (or "
                "observation_end): declare the date the flag refers to"
            )
    if "tenure" in frame.columns:
        options = description.read_options("customers")
        tenure, bad = to_number(frame["tenure"], options)
        if bad.any():
            label = column_label("customers", "tenure", description)
            problems.append(_numbers_problem(frame["tenure"], bad, label, options, row_offset))
        frame = frame.drop(columns="tenure").assign(tenure_months=tenure * description.tenure_months_factor())
    return frame


def _flag(values: pd.Series, truthy: list | None) -> tuple[pd.Series, pd.Series]:
    """(flag as bool, rows that are neither true nor false)."""
    text = values.astype("string").str.strip().str.lower()
    if truthy is not None:
        wanted = {str(v).strip().lower() for v in truthy}
        wanted |= {f"{float(v):g}" for v in truthy if isinstance(v, (int, float)) and not isinstance(v, bool)}
        is_true = text.isin(wanted) | text.map(lambda t: _number_text(t) in wanted, na_action="ignore").fillna(False)
        return is_true.astype(bool), text.isna()
    is_true = text.isin(_TRUE)
    is_false = text.isin(_FALSE)
    return is_true.fillna(False).astype(bool), ~(is_true | is_false).fillna(False) | text.isna()


def _number_text(text: str) -> str:
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def date_snapshot_surveys(
    frame: pd.DataFrame, description: DatasetDescription, problems: list[str], notes: list[str]
) -> pd.DataFrame:
    """A mapped surveys table with a response date: the snapshot date when the file has none.

    Parameters
    ----------
    frame : pandas.DataFrame
        The surveys table in the toolkit's names (:func:`map_columns`).
    description : DatasetDescription
        Its ``snapshot_date``, if any.
    problems : list of str
        Appended to: no response date and no snapshot date.
    notes : list of str
        Appended to: every response dated on the snapshot date.

    Returns
    -------
    pandas.DataFrame
        The table, with ``surveyed_at`` set to the snapshot date when it had no ``surveyed_at``.
    """
    if "surveyed_at" not in frame.columns:
        if description.snapshot_date is not None:
            notes.append(
                f"surveys have no date: every response is dated on the snapshot date {description.snapshot_date:%Y-%m-%d}"
            )
            return frame.assign(surveyed_at=description.snapshot_date)
        problems.append(
            "surveys: no 'surveyed_at' column: map the response date under tables.surveys.columns, or declare "
            "snapshot_date for a snapshot (one survey per customer)"
        )
    return frame


def numbers_from_text(
    frame: pd.DataFrame, table: str, description: DatasetDescription, row_offset: int | None, problems: list[str]
) -> pd.DataFrame:
    """Numeric columns of a described table read from text with the declared decimal mark.

    Runs on mapped tables and wherever ``read.decimal`` or ``read.thousands`` is declared (a folder
    in the toolkit's own names is left to the contracts' coercion). Blank cells (only spaces) are
    missing. Cells that are not numbers are problems naming their lines (with a decimal comma
    declared, ``12.5`` is one, never misread); their rows are left out of the contract check so
    that they are not reported twice.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table in the toolkit's names.
    table : str
        ``customers``, ``surveys`` or ``transactions``: the numeric columns are the amounts of
        transactions and the ratings of surveys (:func:`rating_columns`).
    description : DatasetDescription
        The column mapping and reading options (``decimal``, ``thousands``).
    row_offset : int or None
        Added to a row position to name the file's line (None: rows by position).
    problems : list of str
        Appended to: the cells of each column that are not numbers, with the likely cause.

    Returns
    -------
    pandas.DataFrame
        The table with its numeric text columns as floats, without the rows that hold a cell that
        is not a number (``frame`` itself when nothing was converted).
    """
    options = description.read_options(table)
    if not description.column_map(table) and options.decimal is None and options.thousands is None:
        return frame
    columns = list(_NUMERIC[table]) + (rating_columns(frame, description) if table == "surveys" else [])
    out = frame
    unreadable = np.zeros(len(frame), dtype=bool)
    for col in columns:
        if col not in frame.columns or not is_text(frame[col]):
            continue
        numbers, bad = to_number(frame[col], options)
        if bad.any():
            problems.append(
                _numbers_problem(frame[col], bad, column_label(table, col, description), options, row_offset)
            )
            unreadable |= bad.to_numpy()
        if out is frame:
            out = frame.copy(deep=False)
        out[col] = numbers
    return out.loc[~unreadable] if unreadable.any() else out


def drop_unanswered(
    frame: pd.DataFrame, description: DatasetDescription, source: str, notes: list[str]
) -> pd.DataFrame:
    """Survey rows without any rating are no responses (e.g. a customer file where only some answered).

    Parameters
    ----------
    frame : pandas.DataFrame
        The surveys table, ratings as numbers.
    description : DatasetDescription
        The declared drivers and rated columns (:func:`rating_columns`).
    source : str
        The file, for the note.
    notes : list of str
        Appended to: how many rows were left out.

    Returns
    -------
    pandas.DataFrame
        The rows with at least one rating (``frame`` itself when every row has one, or when the
        table has no rating column).
    """
    ratings = rating_columns(frame, description)
    if not ratings or not len(frame):
        return frame
    unanswered = np.ones(len(frame), dtype=bool)
    for col in ratings:  # column by column: no copy of the rating columns
        unanswered &= frame[col].isna().to_numpy()
        if not unanswered.any():
            return frame
    if unanswered.any():
        notes.append(
            f"surveys: {int(unanswered.sum()):,} of {len(frame):,} row(s) in '{source}' have no rating "
            f"({', '.join(ratings)}) and were left out: they are not survey responses"
        )
        frame = frame.loc[~unanswered]
    return frame


def rating_columns(frame: pd.DataFrame, description: DatasetDescription) -> list[str]:
    """The surveys' rating columns: csat, nps, the drivers and any other column with a declared scale.

    Parameters
    ----------
    frame : pandas.DataFrame
        The surveys table in the toolkit's names.
    description : DatasetDescription
        The declared drivers (or the default ones) and rating scales.

    Returns
    -------
    list of str
        The rating columns ``frame`` has, each once, in that order.
    """
    names = ("csat", "nps", *description.driver_names(list(frame.columns)), *description.ratings)
    return [c for c in dict.fromkeys(names) if c in frame.columns and c != "customer_id"]


def column_label(table: str, column: str, description: DatasetDescription) -> str:
    """``column 'revenue' (file column 'Amount')``: the toolkit's public name and the file's.

    Parameters
    ----------
    table : str
        ``customers``, ``surveys`` or ``transactions``.
    column : str
        A column in the toolkit's names (``revenue_usd`` is named ``revenue``).
    description : DatasetDescription
        The column mapping, for the file's name of the column.

    Returns
    -------
    str
        The label for messages; the file's name only when it differs.
    """
    public = _PUBLIC.get(column, column)
    source = description.source_name(table, column) or description.source_name(table, public)
    return f"column '{public}'" + (f" (file column '{source}')" if source and source != public else "")


def with_source_names(message: str, table: str, description: DatasetDescription) -> str:
    """Name columns as the description does (``revenue``, not ``revenue_usd``) and add the file's name.

    Parameters
    ----------
    message : str
        A contract check's message, naming columns ``column 'revenue_usd':``.
    table : str
        The table checked.
    description : DatasetDescription
        The column mapping.

    Returns
    -------
    str
        The message with each mapped column named by :func:`column_label`.
    """
    for col in description.column_map(table):
        internal = "tenure_months" if (table, col) == ("customers", "tenure") else col
        label = column_label(table, col, description)
        message = message.replace(f"column '{internal}':", f"{label}:")
    return message


#: Label of a customer whose segment, region or channel is not recorded.
MISSING_CATEGORY = "(not recorded)"


def label_missing_categories(frame: pd.DataFrame, source: str, notes: list[str]) -> pd.DataFrame:
    """Blank ``segment`` / ``region`` / ``channel`` cells become a group of their own, with a note.

    A customer without a recorded segment is still a customer: breakdowns show them as
    :data:`MISSING_CATEGORY` instead of the whole table being rejected or the rows silently dropped.

    Parameters
    ----------
    frame : pandas.DataFrame
        The customers table in the toolkit's names.
    source : str
        The file, for the note.
    notes : list of str
        Receives one note per column with blanks (how many customers).

    Returns
    -------
    pandas.DataFrame
        ``frame`` with the blanks labelled (the same object when there are none).
    """
    for col in ("segment", "region", "channel"):
        if col not in frame.columns:
            continue
        values = frame[col]
        blank = values.isna()
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            blank |= (values.astype("string").str.strip() == "").fillna(False)
        if blank.any():
            frame = frame.assign(**{col: values.where(~blank, MISSING_CATEGORY)})
            notes.append(
                f"customers: {int(blank.sum()):,} customer(s) in '{source}' have no {col}; they are shown as the "
                f"group '{MISSING_CATEGORY}' in breakdowns by {col}"
            )
    return frame
