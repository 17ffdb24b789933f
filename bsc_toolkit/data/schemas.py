"""Table contracts (customers, surveys, transactions) as pandera schemas.

:func:`validate_table` runs a schema lazily (all problems at once) and turns
pandera's failure cases into one :class:`DataValidationError` that names the
file, the column, the check and example rows, instead of a traceback deep in
pandas.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from bsc_toolkit.contracts import RATING_SCALES

__all__ = [
    "DataValidationError",
    "CUSTOMERS",
    "SURVEYS",
    "TRANSACTIONS",
    "SCHEMAS",
    "DATE_COLUMNS",
    "validate_table",
]


class DataValidationError(ValueError):
    """A table breaks its contract; the message lists every problem found."""


def _rating(lo: int, hi: int, nullable: bool, required: bool = True) -> pa.Column:
    return pa.Column(
        float,
        checks=pa.Check.in_range(lo, hi),
        nullable=nullable,
        required=required,
        coerce=True,
        title=f"rating {lo}-{hi}",
    )


CUSTOMERS = pa.DataFrameSchema(
    {
        "customer_id": pa.Column("int64", unique=True, coerce=True),
        "segment": pa.Column(str, nullable=False, coerce=True, required=False),
        "region": pa.Column(str, nullable=False, coerce=True, required=False),
        "channel": pa.Column(str, nullable=False, coerce=True, required=False),
        "acquired_at": pa.Column("datetime64[ns]", nullable=False, coerce=True),
        "churned_at": pa.Column("datetime64[ns]", nullable=True, coerce=True, required=False),
    },
    checks=[
        pa.Check(
            lambda df: ~(df["churned_at"] < df["acquired_at"]) if "churned_at" in df else pd.Series(True, df.index),
            name="churned_at >= acquired_at",
            error="churned_at before acquired_at",
        )
    ],
    name="customers",
    strict=False,
)

SURVEYS = pa.DataFrameSchema(
    {
        "customer_id": pa.Column("int64", coerce=True),
        "surveyed_at": pa.Column("datetime64[ns]", nullable=False, coerce=True),
        # csat is required and never missing; nps and the driver ratings are optional
        **{
            name: _rating(lo, hi, nullable=name != "csat", required=name == "csat")
            for name, (lo, hi) in RATING_SCALES.items()
        },
    },
    unique=["customer_id", "surveyed_at"],
    name="surveys",
    strict=False,
)

TRANSACTIONS = pa.DataFrameSchema(
    {
        "customer_id": pa.Column("int64", coerce=True),
        "ordered_at": pa.Column("datetime64[ns]", nullable=False, coerce=True),
        "revenue_usd": pa.Column(float, checks=pa.Check(lambda s: s.abs() < float("inf"), name="finite"), coerce=True),
        "cost_usd": pa.Column(
            float,
            checks=pa.Check.ge(0),
            nullable=True,
            coerce=True,
            required=False,
        ),
    },
    name="transactions",
    strict=False,
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "customers": CUSTOMERS,
    "surveys": SURVEYS,
    "transactions": TRANSACTIONS,
}

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
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(shown) + more


def _parse_dates(
    frame: pd.DataFrame, table: str, problems: list[str], row_offset: int | None, reported: set
) -> pd.DataFrame:
    """Parse the table's date columns, recording unparseable values.

    Returns a shallow copy: parsed columns are replaced, the others are shared with ``frame``.
    """
    out = frame.copy(deep=False)
    for col in DATE_COLUMNS.get(table, ()):
        if col not in out.columns:
            continue
        raw = out[col]
        if pd.api.types.is_datetime64_any_dtype(raw):
            continue
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
        bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            rows = list(zip(out.index[bad], raw[bad]))
            reported.update((col, i) for i in out.index[bad])
            problems.append(
                f"column '{col}': {int(bad.sum())} unparseable date(s), e.g. {_examples(rows, row_offset)}; "
                "use ISO dates such as 2024-03-31"
            )
        out[col] = parsed
    return out


def validate_table(
    frame: pd.DataFrame,
    table: str,
    source: str | None = None,
    row_offset: int | None = 2,
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
    schema = SCHEMAS[table]
    required = [name for name, col in schema.columns.items() if col.required]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"Invalid {where}:\n  - missing required column(s) {missing}; found columns {list(frame.columns)}"
        )
    if row_offset is not None and not _is_default_index(frame.index):
        frame = frame.reset_index(drop=True)
    reported: set = set()
    parsed = _parse_dates(frame, table, problems, row_offset, reported)
    schema = _coerce_safely(parsed, schema)
    try:
        # ``parsed`` is this function's own (shallow) copy: pandera may coerce in place
        validated = schema.validate(parsed, lazy=True, inplace=True)
    except SchemaErrors as err:
        for line in _describe_failures(err.failure_cases, row_offset, reported, schema.unique):
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
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


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


def _describe_failures(cases: pd.DataFrame, row_offset: int | None, reported: set, key: list[str] | None) -> list[str]:
    """Group pandera failure cases into one readable line per column and check."""
    lines: list[str] = []
    cases = cases.copy()
    cases["column"] = cases["column"].astype(object).where(cases["column"].notna(), "<table>")
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
        if check.startswith("coerce_dtype") or check.startswith("dtype"):
            what = f"values that cannot be read as {check.split('(')[-1].rstrip(')')}"
        elif check == "not_nullable":
            what = "missing values (NaN/empty) where a value is required"
            rows = [(i, None) for i, _ in rows]
        elif check in {"field_uniqueness", "multiple_fields_uniqueness"} or check.startswith("unique"):
            what = (
                f"rows repeating the key ({', '.join(key or [])}), which must be unique"
                if column == "<table>"
                else "duplicate values where each must be unique"
            )
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
        lines.append(f"{col_label}: {n} {what}{example}")
    return lines
