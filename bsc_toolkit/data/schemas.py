"""Table contracts (customers, surveys, transactions) as pandera schemas.

:func:`validate_table` runs a schema lazily (all problems at once) and turns
pandera's failure cases into one :class:`DataValidationError` that names the
file, the column, the check and example rows, instead of a traceback deep in
pandas.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from bsc_toolkit.contracts import RatingScale, default_scales
from bsc_toolkit.data.description import ReadOptions

__all__ = [
    "DataValidationError",
    "CUSTOMERS",
    "SURVEYS",
    "TRANSACTIONS",
    "SCHEMAS",
    "build_schemas",
    "DATE_COLUMNS",
    "number_hint",
    "row_examples",
    "validate_table",
]


class DataValidationError(ValueError):
    """A table breaks its contract; the message lists every problem found."""


def _rating(scale: RatingScale) -> pa.Column:
    return pa.Column(
        float,
        checks=pa.Check.in_range(scale.low, scale.high),
        nullable=True,
        required=False,
        coerce=True,
        title=f"rating {scale.label}",
    )


def _id_column(id_type: str, unique: bool = False) -> pa.Column:
    return pa.Column("int64" if id_type == "int" else str, unique=unique, coerce=True, nullable=False)


def build_schemas(
    ratings: Mapping[str, RatingScale] | None = None, id_type: str = "int"
) -> dict[str, pa.DataFrameSchema]:
    """The three table contracts for a data set's rating scales and id type.

    Parameters
    ----------
    ratings : mapping of rating column -> RatingScale, optional
        Rating columns of the surveys table and their scales (default: the simulator's, 1-10 and
        nps 0-10). Every rating is optional and may be missing in a row.
    id_type : {"int", "str"}
        Customer ids as integers or text.

    Returns
    -------
    dict of pandera.DataFrameSchema
        ``customers``, ``surveys``, ``transactions``. Only ``customer_id`` (and the date of a survey
        or order, and an order's amount) is required: every other column is optional.
    """
    ratings = dict(default_scales() if ratings is None else ratings)
    customers = pa.DataFrameSchema(
        {
            "customer_id": _id_column(id_type, unique=True),
            "segment": pa.Column(str, nullable=False, coerce=True, required=False),
            "region": pa.Column(str, nullable=False, coerce=True, required=False),
            "channel": pa.Column(str, nullable=False, coerce=True, required=False),
            "acquired_at": pa.Column("datetime64[ns]", nullable=False, coerce=True, required=False),
            "churned_at": pa.Column("datetime64[ns]", nullable=True, coerce=True, required=False),
            "churned": pa.Column(bool, nullable=False, coerce=True, required=False),
            "tenure_months": pa.Column(
                float, checks=pa.Check.ge(0), nullable=True, coerce=True, required=False, title="tenure"
            ),
        },
        checks=[
            pa.Check(
                lambda df: (
                    ~(df["churned_at"] < df["acquired_at"])
                    if {"churned_at", "acquired_at"} <= set(df.columns)
                    else pd.Series(True, df.index)
                ),
                name="churned_at >= acquired_at",
                error="churned_at before acquired_at",
            )
        ],
        name="customers",
        strict=False,
    )
    surveys = pa.DataFrameSchema(
        {
            "customer_id": _id_column(id_type),
            "surveyed_at": pa.Column("datetime64[ns]", nullable=False, coerce=True),
            **{name: _rating(scale) for name, scale in ratings.items()},
        },
        unique=["customer_id", "surveyed_at"],
        name="surveys",
        strict=False,
    )
    transactions = pa.DataFrameSchema(
        {
            "customer_id": _id_column(id_type),
            "ordered_at": pa.Column("datetime64[ns]", nullable=False, coerce=True),
            "revenue_usd": pa.Column(
                float, checks=pa.Check(lambda s: s.abs() < float("inf"), name="finite"), coerce=True
            ),
            "cost_usd": pa.Column(float, checks=pa.Check.ge(0), nullable=True, coerce=True, required=False),
        },
        name="transactions",
        strict=False,
    )
    return {"customers": customers, "surveys": surveys, "transactions": transactions}


SCHEMAS: dict[str, pa.DataFrameSchema] = build_schemas()
CUSTOMERS = SCHEMAS["customers"]
SURVEYS = SCHEMAS["surveys"]
TRANSACTIONS = SCHEMAS["transactions"]

#: Date columns of each table, parsed before validation.
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("acquired_at", "churned_at"),
    "surveys": ("surveyed_at",),
    "transactions": ("ordered_at",),
}


def _row_label(index_value: object, row_offset: int | None) -> str:
    if row_offset is not None:
        try:
            return f"line {int(index_value) + row_offset}"
        except (TypeError, ValueError):
            pass
    return f"row {index_value!r}"


def _examples(rows: list[tuple[object, object]], row_offset: int | None, limit: int = 5) -> str:
    shown = [
        f"{_row_label(i, row_offset)} ({v!r})" if v is not None else _row_label(i, row_offset) for i, v in rows[:limit]
    ]
    more = f" and {len(rows) - limit:,} more" if len(rows) > limit else ""
    return ", ".join(shown) + more


def row_examples(rows: list[tuple[object, object]], row_offset: int | None, limit: int = 5) -> str:
    """``line 4 ('12,50'), line 9 ('n/a') and 3 more``: rows named as the user sees them, with their values.

    Parameters
    ----------
    rows : list of (index label, value)
        The rows (value None: the row only).
    row_offset : int or None
        Added to the index label to give the file's line (2 for a file with a header); None names
        rows by label.
    limit : int
        Rows shown; the rest are counted.
    """
    return _examples(rows, row_offset, limit)


_DECIMAL_COMMA = r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+"
_THOUSANDS_COMMA = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"


def number_hint(values: pd.Series, options: ReadOptions | None = None) -> str:
    """The likely cause of numbers that could not be read, and the setting that fixes it ('' if unknown).

    Parameters
    ----------
    values : pandas.Series
        The cells that are not numbers (as read).
    options : ReadOptions, optional
        The reading options in force (``decimal``, ``thousands``).
    """
    text = values.dropna().astype(str).str.strip()
    if text.empty:
        return ""
    decimal = (options.decimal if options else None) or "."
    if (
        decimal == "."
        and bool(text.str.fullmatch(_DECIMAL_COMMA).all())
        and not text.str.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+").all()
    ):
        return (
            "; these look like numbers with a decimal comma (12,50): declare it in dataset.yaml: "
            "read: {decimal: ','} (with read.sep: ';' for a semicolon-separated file)"
        )
    if decimal == "." and bool(text.str.fullmatch(_THOUSANDS_COMMA).all()):
        return "; these look like numbers with a thousands separator (1,234.50): declare read: {thousands: ','}"
    if decimal == ",":
        return (
            "; with read.decimal ',' a number is written 1234,56 or 1.234,56 (declare read.thousands if another "
            "separator groups the digits)"
        )
    if bool(text.str.contains(r"^[^\d+-]+\s*[\d.,]+$|^[+-]?[\d.,]+\s*[^\d.,\s]+$").all()):
        return "; these carry a unit or currency sign: write the bare number (declare the currency in dataset.yaml)"
    return ""


_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"


def _parse_dates(
    frame: pd.DataFrame,
    table: str,
    problems: list[str],
    row_offset: int | None,
    reported: set,
    policy: ReadOptions | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Parse the table's date columns under the data set's date policy, recording problems.

    The policy: an explicit ``date_format`` if declared; else ISO 8601 (unambiguous); else the
    other formats pandas recognises, read day-first or month-first as declared (``dayfirst``).
    When nothing is declared and a column's values read differently day-first and month-first
    (03/04/2024), that is an error asking to declare it. Values with a UTC offset are converted to
    the declared ``timezone`` (default UTC) before the offset is dropped, and a note says so.

    Returns a shallow copy: parsed columns are replaced, the others are shared with ``frame``.
    """
    policy = policy or ReadOptions()
    out = frame.copy(deep=False)
    for col in DATE_COLUMNS.get(table, ()):
        if col not in out.columns:
            continue
        raw = out[col]
        if pd.api.types.is_datetime64_any_dtype(raw):
            if getattr(raw.dt, "tz", None) is not None:
                out[col] = raw.dt.tz_convert(policy.timezone or "UTC").dt.tz_localize(None)
                if notes is not None:
                    notes.append(f"{table}.{col}: time-zone-aware dates converted to {policy.timezone or 'UTC'}")
            continue
        parsed, problem = _parse_date_column(raw, col, policy, row_offset, notes, table)
        if problem:
            problems.append(problem)
        bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            rows = list(zip(out.index[bad], raw[bad]))
            reported.update((col, i) for i in out.index[bad])
            how = (
                f"the declared format {policy.date_format!r}" if policy.date_format else "ISO dates such as 2024-03-31"
            )
            problems.append(
                f"column '{col}': {int(bad.sum()):,} unparseable date(s), e.g. {_examples(rows, row_offset)}; "
                f"use {how} (or declare read.date_format in dataset.yaml)" + _excel_serial_hint(raw[bad])
            )
        out[col] = parsed
    return out


def _excel_serial_hint(values: pd.Series) -> str:
    """A hint when unparseable dates are Excel's day numbers (45123 is 2023-07-16), else ''."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any() or not bool(numbers.between(20_000, 80_000).all()):
        return ""
    first = pd.Timestamp("1899-12-30") + pd.to_timedelta(float(numbers.iloc[0]), unit="D")
    return (
        f"; these look like Excel day numbers ({numbers.iloc[0]:g} is {first:%Y-%m-%d}): format the column as "
        "dates in Excel (or export the dates as text such as 2024-03-31)"
    )


def _parse_date_column(
    raw: pd.Series, col: str, policy: ReadOptions, row_offset: int | None, notes: list[str] | None, table: str
) -> tuple[pd.Series, str | None]:
    """Parse one column of date texts; returns (parsed, ambiguity problem or None)."""
    text = raw.astype("string").str.strip()
    present = text.notna() & (text != "")
    if policy.date_format:
        return pd.to_datetime(text, format=policy.date_format, errors="coerce"), None
    has_offset = present & text.str.contains(_OFFSET, regex=True, na=False)
    if has_offset.any():
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed", dayfirst=bool(policy.dayfirst))
        zone = policy.timezone or "UTC"
        if notes is not None:
            notes.append(
                f"{table}.{col}: {int(has_offset.sum()):,} date(s) carry a UTC offset; all dates were converted to "
                f"{zone} and the offset dropped (declare read.timezone to choose another zone)"
            )
        return parsed.dt.tz_convert(zone).dt.tz_localize(None), None
    iso = pd.to_datetime(text, errors="coerce", format="ISO8601")
    rest = present & iso.isna()
    if not rest.any():
        return iso, None
    values = text[rest]
    if policy.dayfirst is not None:
        iso[rest] = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=policy.dayfirst)
        return iso, None
    month_first = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=False)
    day_first = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=True)
    differ = month_first.notna() & day_first.notna() & (month_first != day_first)
    # day-first only texts (e.g. 31/01/2024) fail month-first: take them, but only if nothing is ambiguous
    iso[rest] = month_first.fillna(day_first)
    if differ.any():
        rows = list(zip(values.index[differ], values[differ]))
        example = values[differ].iloc[0]
        problem = (
            f"column '{col}': {int(differ.sum()):,} date(s) read differently day-first and month-first, e.g. "
            f"{_examples(rows, row_offset, limit=3)} ({example!r} is "
            f"{day_first[differ].iloc[0]:%d %B %Y} day-first, {month_first[differ].iloc[0]:%d %B %Y} month-first); "
            "declare the order in dataset.yaml: read: {dayfirst: true} (or false), or read.date_format"
        )
        return iso, problem
    return iso, None


def validate_table(
    frame: pd.DataFrame,
    table: str,
    source: str | None = None,
    row_offset: int | None = 2,
    *,
    ratings: Mapping[str, RatingScale] | None = None,
    id_type: str = "int",
    dates: ReadOptions | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Validate (and coerce) one table against its contract.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read (strings are fine; dates and numbers are coerced).
    table : {"customers", "surveys", "transactions"}
        Which contract to apply.
    source : str, optional
        File name for the error message.
    row_offset : int, optional
        Added to the 0-based row position to name rows in the message: 2 for
        a CSV file with a header (its first data row is line 2); ``None``
        names rows by index label.
    ratings : mapping of rating column -> RatingScale, optional
        Scales of the surveys' rating columns (default: the simulator's).
    id_type : {"int", "str"}
        Customer ids as integers or text.
    dates : ReadOptions, optional
        The date policy (``date_format``, ``dayfirst``, ``timezone``); default: ISO or
        unambiguous dates, offsets converted to UTC.
    notes : list of str, optional
        Receives what was done silently otherwise (e.g. a time-zone conversion).

    Returns
    -------
    pandas.DataFrame
        The validated table with coerced dtypes (a copy; the input is unchanged).

    Raises
    ------
    DataValidationError
        Listing every problem: file, column, check and example rows.
    """
    if table not in SCHEMAS:
        raise ValueError(f"unknown table {table!r}; expected one of {sorted(SCHEMAS)}")
    where = f"{table} table" + (f" in '{source}'" if source else "")
    problems: list[str] = []
    schema = SCHEMAS[table] if ratings is None and id_type == "int" else build_schemas(ratings, id_type)[table]
    required = [name for name, col in schema.columns.items() if col.required]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"Invalid {where}:\n  - missing required column(s) {missing}; found columns {list(frame.columns)}"
        )
    if row_offset is not None and not _is_default_index(frame.index):
        frame = frame.reset_index(drop=True)
    reported: set = set()
    parsed = _parse_dates(frame, table, problems, row_offset, reported, dates, notes)
    schema = _coerce_safely(parsed, schema)
    try:
        # ``parsed`` is this function's own (shallow) copy: pandera may coerce in place
        validated = schema.validate(parsed, lazy=True, inplace=True)
    except SchemaErrors as err:
        for line in _describe_failures(err.failure_cases, row_offset, reported, schema.unique, dates):
            if line not in problems:
                problems.append(line)
        validated = None
    if problems:
        raise DataValidationError(f"Invalid {where}:\n" + "\n".join(f"  - {p}" for p in problems))
    # pandera caches its accessor on the frame and the accessor refers back to the frame: a
    # reference cycle that keeps the whole table in memory after its last use until Python's
    # cyclic garbage collector happens to run. Break it, so a dropped table is freed at once.
    validated.__dict__.pop("pandera", None)
    return validated


def _is_default_index(index: pd.Index) -> bool:
    """True for row positions: a 0-based RangeIndex, or increasing integer positions (rows left out)."""
    if isinstance(index, pd.RangeIndex):
        return index.start == 0 and index.step == 1
    return pd.api.types.is_integer_dtype(index.dtype) and index.is_monotonic_increasing and index.is_unique


def _coerce_safely(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """Coerce the numeric and date columns that convert without loss, in place, one at a time.

    pandera's own coercion copies every column (also those that already have the right dtype)
    and keeps the whole input alive meanwhile; here a column is converted only when its dtype
    differs, and the schema returned skips coercion of every column that now has its target
    dtype. Columns that may fail to convert (text) are left to pandera, whose failure cases
    name the offending rows.
    """
    done = {}
    for name, col in schema.columns.items():
        if not col.coerce or name not in frame.columns:
            continue
        target = str(col.dtype)
        if target not in ("int64", "float64", "datetime64[ns]"):
            continue
        values = frame[name]
        if str(values.dtype) != target:
            convertible = (
                target == "float64"
                and (pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype))
                and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
            ) or (target == "datetime64[ns]" and pd.api.types.is_datetime64_dtype(values.dtype))
            if not convertible:
                continue
            try:
                frame[name] = values.astype(target)
            except (TypeError, ValueError, OverflowError):  # e.g. dates out of the ns range
                continue
        done[name] = {"coerce": False}
    return schema.update_columns(done) if done else schema


#: How to fix missing values in a column that needs one in every row.
_MISSING_HINTS = {
    "segment": "; fill them in the file (e.g. 'unknown') or leave segment out of the mapping",
    "region": "; fill them in the file (e.g. 'unknown') or leave region out of the mapping",
    "channel": "; fill them in the file (e.g. 'unknown') or leave channel out of the mapping",
    "acquired_at": (
        "; every customer needs an acquisition date when acquired_at is mapped: fill them, or leave acquired_at "
        "out of the mapping (each customer's time then starts at the first survey or order)"
    ),
    "surveyed_at": "; a response needs its date (snapshot data: leave surveyed_at unmapped and declare snapshot_date)",
    "ordered_at": "; an order needs its date: fill them or leave these rows out of the file",
    "revenue_usd": "; an order needs its amount: leave rows without one out of the file (an unknown amount is not 0)",
}


def _describe_failures(
    cases: pd.DataFrame,
    row_offset: int | None,
    reported: set,
    key: list[str] | None,
    options: ReadOptions | None = None,
) -> list[str]:
    """Group pandera failure cases into one readable line per column and check."""
    lines: list[str] = []
    cases = cases.copy()
    cases["column"] = cases["column"].astype(object).where(cases["column"].notna(), "<table>")
    # a column that could not be converted is named once: the checks that then fail on its text
    # (comparing text with numbers) say nothing more
    check_text = cases["check"].astype(str)
    unconverted = set(cases.loc[check_text.str.match(r"(coerce_)?dtype\("), "column"])
    follow_on = cases["column"].isin(unconverted) & cases["index"].isna() & ~check_text.str.match(r"(coerce_)?dtype\(")
    cases = cases.loc[~follow_on]
    # table-wide checks are reported by pandera once per column: fold them into one line
    wide = (
        ~cases["check"]
        .astype(str)
        .str.match(
            r"(coerce_dtype|dtype|not_nullable|field_uniqueness|in_range|greater_than|column_in_dataframe|finite)"
        )
        & cases["check"].notna()
    )
    cases.loc[wide, "column"] = "<table>"
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        check = str(check)
        rows = [
            (i, v)
            for i, v in zip(group["index"], group["failure_case"])
            if i is not None and not pd.isna(i) and (column, i) not in reported
        ]
        rows = list(dict((i, v) for i, v in rows).items())  # one entry per row
        if "column_in_dataframe" in check:
            lines.append(f"missing required column {group['failure_case'].iloc[0]!r}")
            continue
        hint = ""
        if check.startswith("coerce_dtype") or check.startswith("dtype"):
            if check.startswith("dtype") and any(line.startswith(f"column '{column}': ") for line in lines):
                continue  # the same values as the failed conversion
            target = check.split("(")[-1].rstrip(")").strip("'")
            what = f"values that cannot be read as {'numbers' if target in ('float64', 'int64') else target}"
            if target == "float64":
                hint = number_hint(pd.Series([v for _, v in rows], dtype=object), options)
        elif check == "not_nullable":
            what = "missing values (NaN/empty) where a value is required"
            rows = [(i, None) for i, _ in rows]
            hint = _MISSING_HINTS.get(str(column), "")
        elif check in {"field_uniqueness", "multiple_fields_uniqueness"} or check.startswith("unique"):
            what = (
                f"rows repeating the key ({', '.join(key or [])}), which must be unique"
                if column == "<table>"
                else "duplicate values where each must be unique"
            )
            if column == "customer_id":
                hint = (
                    "; the customers table has one row per customer: if this file has a row per order or "
                    "response, map it as transactions or surveys (and the customers from another file)"
                )
            elif column == "<table>" and key and "surveyed_at" in key:
                hint = "; keep one response per customer and day (or map the response time, not only the day)"
        elif check.startswith("in_range"):
            what = f"values outside the allowed range {check.removeprefix('in_range')}"
        elif check.startswith("greater_than_or_equal_to"):
            what = f"values below the minimum {check.removeprefix('greater_than_or_equal_to')}"
        else:
            what = f"rows failing check '{check}'"
            rows = [(i, None) for i, _ in rows]
        if not rows and check == "not_nullable":
            continue  # all already reported as unparseable
        n = len(rows) if rows else len(group)
        example = f", e.g. {_examples(rows, row_offset)}" if rows else ""
        col_label = f"column '{column}'" if column != "<table>" else "table"
        lines.append(f"{col_label}: {n:,} {what}{example}{hint}")
    return lines
