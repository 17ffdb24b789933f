"""Reading a described data set: files -> the toolkit's tables, every problem collected at once.

:func:`read_dataset_tables` reads each table's file with the description's options (separator,
encoding, sheet, missing-value texts, decimal mark), maps the file's columns onto the toolkit's
names (computed columns such as quantity x unit price included), reads numbers written as text
with the declared decimal comma or thousands separator (a number it cannot read is an error naming
its line, never a misread), turns a churn flag and a tenure into the toolkit's ``churned`` and
``tenure_months``, dates snapshot surveys, leaves out survey rows without any rating (not
responses), settles one customer-id type for all tables (zero-padded ids matched with the same ids
written as numbers), validates each table against its contract with the declared rating scales,
and checks that the tables refer to the same customers, noting orders dated after a customer's
churn or before the acquisition. Problems of every table are reported together.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import ComputedColumn, DatasetDescription, ReadOptions
from bsc_toolkit.data.schemas import DataValidationError, number_hint, row_examples, validate_table

__all__ = ["read_dataset_tables", "read_raw", "read_parquet", "to_number"]

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "churned", "exited", "left"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "active", "stayed", "retained"}
_INT_TEXT = re.compile(r"^-?(0|[1-9]\d{0,17})(\.0*)?$")  # up to 18 digits: fits int64 exactly
_PADDED_TEXT = re.compile(r"^0\d{1,17}$")  # zero-padded digits such as 000123
#: Numeric columns of each table (besides the surveys' ratings), converted from text when mapped.
_NUMERIC = {"customers": (), "surveys": (), "transactions": ("revenue_usd", "cost_usd")}
#: Public names of internal columns, for messages.
_PUBLIC = {"revenue_usd": "revenue", "cost_usd": "cost", "tenure_months": "tenure"}
_KEY_COLUMNS = {
    "customers": ["customer_id"],
    "surveys": ["customer_id", "surveyed_at"],
    "transactions": ["customer_id", "ordered_at", "revenue_usd"],
}


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file with about one copy of the data at a time, in memory the OS gets back.

    ``self_destruct`` frees each Arrow column once converted and ``split_blocks`` skips pandas'
    consolidation copy. Numeric columns converted without a copy would stay in arrow's memory
    pool, which keeps freed memory for reuse: they are copied into numpy's own memory one column
    at a time, and the pool is told to release what it no longer uses.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool = pa.default_memory_pool()
    table = pq.read_table(path)
    try:
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
    finally:
        del table
        pool.release_unused()
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, np.dtype) and dtype.kind != "O":
            frame[name] = frame[name].to_numpy(copy=True)
            pool.release_unused()
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        frame = frame.reset_index(drop=True)
    return frame


def read_raw(path: Path, table: str, options: ReadOptions | None = None) -> pd.DataFrame:
    """Read one file as it is (CSV cells as text), with hints when the likely cause is known.

    Raises
    ------
    DataValidationError
        Naming the file, with a hint for a wrong separator or encoding.
    """
    options = options or ReadOptions()
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            sep = options.sep or ("\t" if suffix == ".tsv" else ",")
            frame = pd.read_csv(
                path,
                dtype=str,
                sep=sep,
                encoding=options.encoding or "utf-8-sig",
                keep_default_na=False,
                na_values=options.na_values,
                skipinitialspace=True,
            )
            _check_separator(frame, path, sep)
        elif suffix == ".parquet":
            frame = read_parquet(path)
        elif suffix in (".xlsx", ".xlsm"):
            frame = _read_excel(path, table, options)
        else:
            raise DataValidationError(f"'{path}': unsupported file type {suffix!r}; use .csv, .parquet or .xlsx")
    except DataValidationError:
        raise
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"could not read {table} file '{path}' as {options.encoding or 'UTF-8'} text ({exc.reason} at byte "
            f"{exc.start}): the file is probably in another encoding, e.g. latin-1 or cp1252 from Excel; declare "
            "it in dataset.yaml: read: {encoding: latin-1}"
        ) from exc
    except Exception as exc:  # parser errors of many kinds: name the file
        raise DataValidationError(f"could not read {table} file '{path}': {exc}") from exc
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return frame


def _read_excel(path: Path, table: str, options: ReadOptions) -> pd.DataFrame:
    """One sheet of a workbook, with the same missing-value texts as a CSV file (``None`` is a value)."""
    sheet = options.sheet if options.sheet is not None else 0
    with pd.ExcelFile(path) as book:
        names = list(book.sheet_names)
        if (isinstance(sheet, str) and sheet not in names) or (isinstance(sheet, int) and not 0 <= sheet < len(names)):
            close = difflib.get_close_matches(str(sheet), names, n=1) if isinstance(sheet, str) else []
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataValidationError(
                f"could not read {table} file '{path}': it has no sheet {sheet!r}{hint}; its sheets: {names}; "
                f"name the sheet in dataset.yaml under tables.{table}.read.sheet"
            )
        return book.parse(sheet, keep_default_na=False, na_values=options.na_values)


def _check_separator(frame: pd.DataFrame, path: Path, sep: str) -> None:
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for candidate, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if candidate != sep and candidate in header:
            raise DataValidationError(
                f"'{path}' has one column named {header[:80]!r}: the fields look {name}-separated; declare "
                f"the separator in dataset.yaml: read: {{sep: {candidate!r}}}"
            )
    first = str(frame.iloc[0, 0]) if len(frame) else ""
    if sep != r"\s+" and len(header.split()) > 1 and len(first.split()) == len(header.split()):
        raise DataValidationError(
            f"'{path}' has one column named {header[:80]!r}: the fields look separated by spaces (aligned "
            "columns); declare the separator in dataset.yaml: read: {sep: '\\s+'}"
        )


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or isinstance(values.dtype, pd.StringDtype)


def to_number(values: pd.Series, options: ReadOptions | None = None) -> tuple[pd.Series, pd.Series]:
    """Numbers written as text, read with the declared decimal mark and thousands separator.

    Parameters
    ----------
    values : pandas.Series
        Text (or numbers, returned as floats).
    options : ReadOptions, optional
        ``decimal`` (``.`` or ``,``) and ``thousands``. With a decimal comma and no thousands
        separator declared, a ``.`` is accepted only in groups of three (``1.234,56``); ``12.5`` is
        then not a number rather than silently twelve and a half or a hundred and twenty-five.

    Returns
    -------
    numbers : pandas.Series of float
        NaN where the cell is empty (or only spaces) or not a number.
    bad : pandas.Series of bool
        Cells with text that is not a number.
    """
    if not _is_text(values):
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
        return numbers, numbers.isna() & values.notna()
    options = options or ReadOptions()
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    decimal = options.decimal or "."
    if options.thousands:
        text = text.str.replace(options.thousands, "", regex=False)
    if decimal == ",":
        if not options.thousands:
            grouped = text.str.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?").fillna(False)
            text = text.where(~grouped, text.str.replace(".", "", regex=False))
        # a "." left over is not part of a decimal-comma number: make it unreadable, never a misread
        text = text.where(~text.str.contains(".", regex=False).fillna(False), text + "?")
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    return numbers, numbers.isna() & text.notna()


def _numbers_problem(raw: pd.Series, bad: pd.Series, label: str, options: ReadOptions, row_offset: int | None) -> str:
    rows = list(zip(raw.index[bad], raw[bad]))
    return (
        f"{label}: {int(bad.sum())} value(s) that are not numbers, e.g. {row_examples(rows, row_offset)}"
        + number_hint(raw[bad], options)
    )


def _maybe_numeric(values: pd.Series, options: ReadOptions) -> pd.Series:
    """A kept text column as numbers when every value is one (codes with leading zeros stay text)."""
    if not _is_text(values) or values.isna().all():
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


def _map_columns(
    raw: pd.DataFrame,
    table: str,
    description: DatasetDescription,
    source: str,
    problems: list[str],
    row_offset: int | None = 2,
) -> pd.DataFrame:
    """The table in the toolkit's column names: mapped columns and those the table says to keep."""
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


def _label(table: str, column: str, description: DatasetDescription) -> str:
    """``column 'revenue' (file column 'Amount')``: the toolkit's public name and the file's."""
    public = _PUBLIC.get(column, column)
    source = description.source_name(table, column) or description.source_name(table, public)
    return f"column '{public}'" + (f" (file column '{source}')" if source and source != public else "")


def _customers_extras(
    frame: pd.DataFrame,
    description: DatasetDescription,
    problems: list[str],
    notes: list[str],
    row_offset: int | None = 2,
) -> pd.DataFrame:
    spec = description.tables.get("customers")
    if "churned" in frame.columns:
        flag, unknown = _flag(frame["churned"], spec.churn_values if spec else None)
        if unknown.any():
            rows = list(zip(frame.index[unknown], frame.loc[unknown, "churned"]))
            problems.append(
                f"{_label('customers', 'churned', description)}: {int(unknown.sum())} value(s) that are not a churn "
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
            label = _label("customers", "tenure", description)
            problems.append(_numbers_problem(frame["tenure"], bad, label, options, row_offset))
        frame = frame.drop(columns="tenure").assign(tenure_months=tenure * description.tenure_months_factor())
    return frame


def _surveys_extras(
    frame: pd.DataFrame, description: DatasetDescription, problems: list[str], notes: list[str]
) -> pd.DataFrame:
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


def _drop_missing_ids(frame: pd.DataFrame, table: str, source: str, notes: list[str]) -> pd.DataFrame:
    if "customer_id" not in frame.columns:
        return frame
    ids = frame["customer_id"]
    missing = ids.isna()
    if ids.dtype == object or isinstance(ids.dtype, pd.StringDtype):
        missing |= (ids.astype("string").str.strip() == "").fillna(False)
    if missing.any():
        notes.append(
            f"{table}: {int(missing.sum()):,} of {len(frame):,} row(s) in '{source}' have no customer id and were left out"
        )
        frame = frame.loc[~missing]  # the index keeps the file's row positions for error messages
    return frame


def _id_text(ids: pd.Series) -> pd.Series:
    """Customer ids as text; integral numbers without a trailing ``.0``."""
    if pd.api.types.is_float_dtype(ids.dtype):
        whole = ids.dropna() == np.floor(ids.dropna())
        if bool(whole.all()):
            return ids.astype("Int64").astype("string")
    return ids.astype("string").str.strip()


def _id_kind(ids: pd.Series) -> str:
    """``int`` (whole numbers), ``padded`` (digits with leading zeros, e.g. 000123) or ``str``."""
    if pd.api.types.is_integer_dtype(ids.dtype):
        return "int"
    if pd.api.types.is_float_dtype(ids.dtype):
        values = ids.dropna()
        return "int" if bool((values == np.floor(values)).all()) and bool((values.abs() < 2**53).all()) else "str"
    text = ids.astype("string").str.strip()
    is_int = text.str.fullmatch(_INT_TEXT).fillna(False)
    if bool(is_int.all()):
        return "int"
    padded = text.str.fullmatch(_PADDED_TEXT).fillna(False)
    if bool((is_int | padded).all()):
        return "padded"
    return "str"


def _settle_id_type(
    frames: dict[str, pd.DataFrame], declared: str, files: dict[str, Path] | None = None, notes: list[str] | None = None
) -> str:
    """One customer-id type for every table (``auto``: integers when every id is a whole number).

    Zero-padded ids (``000123``) stay text, unless another table writes the same ids as plain
    numbers (``123``, e.g. after a round trip through Excel): then every table reads them as
    numbers so that they match, if no two ids of a table differ only in their leading zeros.
    """
    if declared != "auto":
        return declared
    kinds = {t: _id_kind(f["customer_id"]) for t, f in frames.items() if "customer_id" in f.columns}
    if not kinds or "str" in kinds.values():
        return "str" if kinds else "int"
    if "padded" not in kinds.values():
        return "int"
    if "int" not in kinds.values():
        return "str"  # zero-padded text everywhere: keep the ids as written
    for table, kind in kinds.items():
        if kind != "padded":
            continue
        text = frames[table]["customer_id"].dropna().astype("string").str.strip().drop_duplicates()
        if pd.to_numeric(text).nunique() != len(text):
            return "str"  # ids differing only in leading zeros are different customers
    if notes is not None:
        files = files or {}
        padded = [t for t, k in kinds.items() if k == "padded"]
        plain = [t for t, k in kinds.items() if k == "int"]
        example = frames[padded[0]]["customer_id"].astype("string").str.strip()
        example = example[example.str.fullmatch(_PADDED_TEXT).fillna(False)].iloc[0]
        notes.append(
            "customer ids are zero-padded text in "
            + ", ".join(f"'{files[t].name}'" if t in files else t for t in padded)
            + f" (e.g. {example!r}) but plain numbers in "
            + ", ".join(f"'{files[t].name}'" if t in files else t for t in plain)
            + f": all are read as numbers ({example!r} = {int(example)}) so that the tables match; declare "
            "id_type: str to keep them as text (then write them the same way in every file)"
        )
    return "int"


def _stripped(values: pd.Series) -> pd.Series:
    """Values as text without surrounding spaces (missing stays missing)."""
    return values.astype("string").str.strip()


def _apply_id_type(frame: pd.DataFrame, id_type: str, row_offset: int | None = 2) -> pd.DataFrame:
    """Customer ids as int64 or text.

    Raises
    ------
    ValueError
        When ``id_type`` is ``int`` and some ids are not whole numbers (naming their lines).
    """
    if "customer_id" not in frame.columns:
        return frame
    ids = frame["customer_id"]
    if id_type == "int":
        if pd.api.types.is_integer_dtype(ids.dtype) and not isinstance(ids.dtype, pd.api.extensions.ExtensionDtype):
            return frame
        values = ids if pd.api.types.is_numeric_dtype(ids.dtype) else pd.to_numeric(_stripped(ids), errors="coerce")
        if pd.api.types.is_integer_dtype(values.dtype) and str(values.dtype) != "uint64":
            bad = values.isna()
        else:  # floats: whole numbers that a float holds exactly (larger ones may have lost digits)
            as_float = values.astype(float)
            bad = as_float.isna() | (as_float != np.floor(as_float)) | (as_float.abs() >= 2**53)
        if bad.any():
            rows = list(zip(ids.index[bad], ids[bad]))
            raise ValueError(
                f"{int(bad.sum())} id(s) that are not whole numbers, e.g. {row_examples(rows, row_offset)}; "
                "declare id_type: str (or auto) in dataset.yaml to keep the ids as text"
            )
        return frame.assign(customer_id=values.astype("int64"))
    return frame.assign(customer_id=_id_text(ids).astype(object))


def _with_source_names(message: str, table: str, description: DatasetDescription) -> str:
    """Name columns as the description does (``revenue``, not ``revenue_usd``) and add the file's name."""
    for col in description.column_map(table):
        internal = "tenure_months" if (table, col) == ("customers", "tenure") else col
        label = _label(table, col, description)
        message = message.replace(f"column '{internal}':", f"{label}:")
    return message


def _empty(table: str) -> pd.DataFrame:
    dtypes = {
        "customer_id": "int64",
        "surveyed_at": "datetime64[ns]",
        "ordered_at": "datetime64[ns]",
        "revenue_usd": "float64",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in _KEY_COLUMNS[table]})


def read_dataset_tables(
    files: dict[str, Path], description: DatasetDescription
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Read, map and validate the tables of a data set.

    Parameters
    ----------
    files : dict
        Table name -> file, for the tables the data set has (at least one).
    description : DatasetDescription

    Returns
    -------
    frames : dict
        ``customers``, ``surveys`` and ``transactions`` in the toolkit's names; a table the data set
        lacks is empty (surveys, transactions) or derived from the ids of the others (customers).
    notes : list of str
        What loading did that an analyst should know.

    Raises
    ------
    DataValidationError
        Every problem of every table, each once, grouped by file.
    """
    notes: list[str] = []
    errors: list[str] = []
    raws: dict[tuple, pd.DataFrame] = {}
    mapped: dict[str, pd.DataFrame] = {}
    pending: dict[str, list[str]] = {}  # problems found while mapping a table that is still validated
    for table, path in files.items():
        options = description.read_options(table)
        key = (str(path), options.sep, options.encoding, options.sheet, tuple(options.na_values or ()))
        try:
            if key not in raws:
                raws[key] = read_raw(path, table, options)
        except DataValidationError as exc:
            errors.append(str(exc))
            continue
        problems: list[str] = []
        row_offset = _row_offset(path)
        frame = _map_columns(raws[key], table, description, str(path), problems, row_offset)
        if table == "customers":
            frame = _customers_extras(frame, description, problems, notes, row_offset)
        elif table == "surveys":
            frame = _surveys_extras(frame, description, problems, notes)
        if "customer_id" not in frame.columns:
            problems.append(
                f"no 'customer_id' column (found {list(frame.columns)[:20]}); map the file's id column under "
                f"tables.{table}.columns.customer_id in dataset.yaml"
            )
        if problems:
            errors.append(f"Invalid {table} table in '{path}':\n" + "\n".join(f"  - {p}" for p in problems))
            continue
        frame = _numbers_from_text(frame, table, description, row_offset, pending.setdefault(table, []))
        frame = _drop_missing_ids(frame, table, str(path), notes)
        if table == "surveys":
            frame = _drop_unanswered(frame, description, str(path), notes)
        mapped[table] = frame
    # tables that mapped cleanly are validated too, so that every problem of every table is listed at once
    id_type = _settle_id_type(mapped, description.id_type, files, notes)
    validated: dict[str, pd.DataFrame] = {}
    for table, frame in mapped.items():
        try:
            frame = _apply_id_type(frame, id_type, _row_offset(files[table]))
        except ValueError as exc:
            label = _label(table, "customer_id", description)
            errors.append(f"Invalid {table} table in '{files[table]}':\n  - {label}: {exc}")
            continue
        ratings = None
        if table == "surveys":
            ratings = description.scales(_rating_columns(frame, description))
        try:
            validated[table] = validate_table(
                frame,
                table,
                source=str(files[table]),
                row_offset=_row_offset(files[table]),
                ratings=ratings,
                id_type=id_type,
                dates=description.read_options(table),
                notes=notes,
            )
            if not isinstance(validated[table].index, pd.RangeIndex):  # rows without an id were left out
                validated[table] = validated[table].reset_index(drop=True)
            message = None
        except DataValidationError as exc:
            message = _with_source_names(str(exc), table, description)
        if pending.get(table):
            header, _, rest = (message or f"Invalid {table} table in '{files[table]}':").partition("\n")
            message = "\n".join([header, *(f"  - {p}" for p in pending[table]), *([rest] if rest else [])])
        if message:
            errors.append(message)
    if errors:
        raise DataValidationError("\n".join(errors))
    frames = {t: validated.get(t, _empty(t)) for t in ("surveys", "transactions")}
    if id_type == "str":
        for t in frames:
            frames[t]["customer_id"] = frames[t]["customer_id"].astype(object)
    if "customers" in validated:
        frames["customers"] = validated["customers"]
        _check_references(frames, files, id_type, notes)
    else:
        ids = pd.concat([frames["surveys"]["customer_id"], frames["transactions"]["customer_id"]]).drop_duplicates()
        frames["customers"] = pd.DataFrame({"customer_id": ids.sort_values().to_numpy()})
        if id_type == "int":
            frames["customers"]["customer_id"] = frames["customers"]["customer_id"].astype("int64")
        notes.append(
            f"no customers table: the {len(ids):,} customers are those seen in "
            + " and ".join(t for t in ("surveys", "transactions") if t in files)
            + "; there are no acquisition dates, segments or churn information"
        )
    return {t: frames[t] for t in ("customers", "surveys", "transactions")}, notes


def _row_offset(path: Path) -> int | None:
    """Added to a 0-based row position to name the file's line (header on line 1); None for Parquet."""
    return None if path.suffix.lower() == ".parquet" else 2


def _rating_columns(frame: pd.DataFrame, description: DatasetDescription) -> list[str]:
    """The surveys' rating columns: csat, nps, the drivers and any other column with a declared scale."""
    names = ("csat", "nps", *description.driver_names(list(frame.columns)), *description.ratings)
    return [c for c in dict.fromkeys(names) if c in frame.columns and c != "customer_id"]


def _numbers_from_text(
    frame: pd.DataFrame, table: str, description: DatasetDescription, row_offset: int | None, problems: list[str]
) -> pd.DataFrame:
    """Numeric columns of a described table read from text with the declared decimal mark.

    Runs on mapped tables and wherever ``read.decimal`` or ``read.thousands`` is declared (a folder
    in the toolkit's own names is left to the contracts' coercion). Blank cells (only spaces) are
    missing. Cells that are not numbers are problems naming their lines (with a decimal comma
    declared, ``12.5`` is one, never misread); their rows are left out of the contract check so
    that they are not reported twice.
    """
    options = description.read_options(table)
    if not description.column_map(table) and options.decimal is None and options.thousands is None:
        return frame
    columns = list(_NUMERIC[table]) + (_rating_columns(frame, description) if table == "surveys" else [])
    out = frame
    unreadable = np.zeros(len(frame), dtype=bool)
    for col in columns:
        if col not in frame.columns or not _is_text(frame[col]):
            continue
        numbers, bad = to_number(frame[col], options)
        if bad.any():
            problems.append(_numbers_problem(frame[col], bad, _label(table, col, description), options, row_offset))
            unreadable |= bad.to_numpy()
        if out is frame:
            out = frame.copy(deep=False)
        out[col] = numbers
    return out.loc[~unreadable] if unreadable.any() else out


def _drop_unanswered(
    frame: pd.DataFrame, description: DatasetDescription, source: str, notes: list[str]
) -> pd.DataFrame:
    """Survey rows without any rating are no responses (e.g. a customer file where only some answered)."""
    ratings = _rating_columns(frame, description)
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


def _check_references(frames: dict[str, pd.DataFrame], files: dict[str, Path], id_type: str, notes: list[str]) -> None:
    """Every survey and order must belong to a known customer; orders outside a customer's time are noted."""
    customers = frames["customers"]
    known = pd.Index(customers["customer_id"])
    problems = []
    for name in ("surveys", "transactions"):
        if name not in files:
            continue
        frame = frames[name]
        unknown = ~frame["customer_id"].isin(known)
        if unknown.any():
            missing = frame.loc[unknown, "customer_id"].drop_duplicates()
            problems.append(
                f"  - '{files[name]}': {int(unknown.sum())} row(s) with a customer_id not in '{files['customers']}' "
                f"({len(missing):,} distinct id(s)), e.g. {missing.head(5).tolist()}; "
                + _reference_hint(missing, known, id_type)
            )
        elif name == "transactions" and len(frame):
            _note_orders_outside(frame, customers, known, files["transactions"].name, notes)
    if problems:
        raise DataValidationError("Invalid data set (customer_id references):\n" + "\n".join(problems))


def _reference_hint(missing: pd.Series, known: pd.Index, id_type: str) -> str:
    """How to fix ids that are not in the customers table, with the likely cause when it is visible."""
    if id_type == "str":
        sample = missing.head(1000).astype(str).str.strip()
        known_text = pd.Series(known.astype(str)).str.strip()
        if sample.str.lstrip("0").isin(known_text.str.lstrip("0")).any():
            return (
                "the ids match when leading zeros are ignored (e.g. '000123' and '123'): declare id_type: int "
                "in dataset.yaml to read every id as a number"
            )
        if sample.str.upper().isin(known_text.str.upper()).any():
            return "the ids match when upper and lower case are ignored: write them the same way in every file"
    return (
        "add these customers to the customers file or leave their rows out; if the ids are written "
        "differently in the two files, write them the same way"
    )


def _note_orders_outside(
    transactions: pd.DataFrame, customers: pd.DataFrame, known: pd.Index, source: str, notes: list[str]
) -> None:
    """Note orders dated after the customer's churn date or before the acquisition date (kept as they are).

    Vectorised over slices of 2M orders, so that the customer lookup costs little memory at 1M customers.
    """
    checks = [(c, w) for c, w in (("churned_at", "after"), ("acquired_at", "before")) if c in customers.columns]
    if not checks:
        return
    limits = {c: customers[c].to_numpy() for c, _ in checks}
    found: dict[str, list[pd.DataFrame]] = {c: [] for c, _ in checks}
    day = np.timedelta64(1, "D")
    step = 2_000_000
    for start in range(0, len(transactions), step):
        chunk = transactions.iloc[start : start + step]
        position = known.get_indexer(chunk["customer_id"])
        ordered = chunk["ordered_at"].to_numpy()
        for column, when in checks:
            limit = limits[column][position]
            outside = (limit + day <= ordered) if when == "after" else (ordered < limit)
            if outside.any():
                found[column].append(
                    chunk.loc[outside, ["customer_id", "ordered_at", "revenue_usd"]].assign(_limit=limit[outside])
                )
    for column, when in checks:
        if not found[column]:
            continue
        rows = pd.concat(found[column])
        amounts = rows["revenue_usd"]
        first = rows.iloc[0]
        refunds = int((amounts <= 0).sum())
        what = (
            "churned_at (the day the customer left)" if when == "after" else "acquired_at (the first day as a customer)"
        )
        fix = (
            "if these customers came back, their churned_at should be empty or later; if they are final bills or "
            "refunds, nothing to do"
            if when == "after"
            else "if these customers bought before they signed up, nothing to do; otherwise check acquired_at"
        )
        notes.append(
            f"transactions: {len(rows):,} order(s) of {rows['customer_id'].nunique():,} customer(s) in '{source}' are "
            f"dated {when} the customer's {what}, e.g. customer {first['customer_id']} on "
            f"{first['ordered_at']:%Y-%m-%d} ({when} {pd.Timestamp(first['_limit']):%Y-%m-%d}); "
            f"{len(rows) - refunds:,} with a positive amount ({float(amounts[amounts > 0].sum()):,.2f} in total) and "
            f"{refunds:,} refund(s) or zero amount(s). They are kept in the transactions table; the customer-period "
            f"panel (retention and revenue models) counts only orders in the periods from acquisition to churn; {fix}"
        )
