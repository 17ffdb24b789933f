"""Reading a described data set: files -> the toolkit's tables, every problem collected at once.

:func:`read_dataset_tables` reads each table's file with the description's options (separator,
encoding, sheet, missing-value texts), maps the file's columns onto the toolkit's names (computed
columns such as quantity x unit price included), turns a churn flag and a tenure into the
toolkit's ``churned`` and ``tenure_months``, dates snapshot surveys, settles one customer-id type
for all tables, validates each table against its contract with the declared rating scales, and
checks that the tables refer to the same customers. Problems of every table are reported together.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import ComputedColumn, DatasetDescription, ReadOptions
from bsc_toolkit.data.schemas import DataValidationError, validate_table

__all__ = ["read_dataset_tables", "read_raw", "read_parquet"]

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "churned", "exited", "left"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "active", "stayed", "retained"}
_INT_TEXT = re.compile(r"^-?(0|[1-9]\d*)(\.0*)?$")
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
            frame = pd.read_excel(path, sheet_name=options.sheet if options.sheet is not None else 0)
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


def _map_columns(
    raw: pd.DataFrame, table: str, description: DatasetDescription, source: str, problems: list[str]
) -> pd.DataFrame:
    """The table in the toolkit's column names: mapped columns and those the table says to keep."""
    mapping = description.column_map(table)
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
                problems.append(f"tables.{table}.columns.{name}: '{source}' has no column {col!r}{hint}")
            continue
        used.update(sources)
        if isinstance(rule, ComputedColumn):
            numbers = [pd.to_numeric(raw[c], errors="coerce") for c in sources]
            for col, values in zip(sources, numbers):
                bad = values.isna() & raw[col].notna()
                if bad.any():
                    problems.append(
                        f"column {col!r} (for {name}): {int(bad.sum())} value(s) that are not numbers, e.g. "
                        f"{raw.loc[bad, col].head(3).tolist()}"
                    )
            result = numbers[0]
            for values in numbers[1:]:
                result = result * values if rule.product else result + values
            out[name] = result
        else:
            out[name] = raw[rule]
    spec = description.tables.get(table)  # type: ignore[call-overload]
    for col in spec.keep if spec else []:
        if col not in raw.columns:
            problems.append(f"tables.{table}.keep: '{source}' has no column {col!r}")
        elif col not in out:
            out[col] = raw[col]
    return pd.DataFrame(out, index=raw.index)


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


def _customers_extras(
    frame: pd.DataFrame, description: DatasetDescription, problems: list[str], notes: list[str]
) -> pd.DataFrame:
    spec = description.tables.get("customers")
    if "churned" in frame.columns:
        flag, unknown = _flag(frame["churned"], spec.churn_values if spec else None)
        if unknown.any():
            examples = frame.loc[unknown, "churned"].astype(str).drop_duplicates().head(5).tolist()
            problems.append(
                f"column 'churned': {int(unknown.sum())} value(s) that are not a churn flag, e.g. {examples}; use "
                "1/0, true/false or yes/no, or list the values that mean churned under tables.customers.churn_values"
            )
        frame = frame.assign(churned=flag)
        if description.snapshot_date is None and description.observation_end is None:
            problems.append(
                "churn is given as a flag ('churned') but the description has no snapshot_date (or "
                "observation_end): declare the date the flag refers to"
            )
    if "tenure" in frame.columns:
        tenure = pd.to_numeric(frame["tenure"], errors="coerce")
        bad = tenure.isna() & frame["tenure"].notna()
        if bad.any():
            problems.append(
                f"column 'tenure': {int(bad.sum())} value(s) that are not numbers, e.g. "
                f"{frame.loc[bad, 'tenure'].head(3).tolist()}"
            )
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


def _settle_id_type(frames: dict[str, pd.DataFrame], declared: str) -> str:
    if declared != "auto":
        return declared
    for frame in frames.values():
        if "customer_id" not in frame.columns:
            continue
        ids = frame["customer_id"]
        if pd.api.types.is_integer_dtype(ids.dtype):
            continue
        if pd.api.types.is_float_dtype(ids.dtype):
            if not bool((ids.dropna() == np.floor(ids.dropna())).all()):
                return "str"
            continue
        if not bool(ids.astype("string").str.strip().str.fullmatch(_INT_TEXT).fillna(False).all()):
            return "str"
    return "int"


def _apply_id_type(frame: pd.DataFrame, id_type: str) -> pd.DataFrame:
    if "customer_id" not in frame.columns:
        return frame
    ids = frame["customer_id"]
    if id_type == "int":
        if pd.api.types.is_integer_dtype(ids.dtype) and not isinstance(ids.dtype, pd.api.extensions.ExtensionDtype):
            return frame
        if pd.api.types.is_numeric_dtype(ids.dtype):
            return frame.assign(customer_id=ids.astype("int64"))
        text = ids.astype("string").str.strip().str.replace(r"\.0*$", "", regex=True)
        return frame.assign(customer_id=pd.to_numeric(text).astype("int64"))
    return frame.assign(customer_id=_id_text(ids).astype(object))


def _with_source_names(message: str, table: str, description: DatasetDescription) -> str:
    """Add the file's column names to a validation message that speaks of the toolkit's names."""
    for col in description.column_map(table):
        name = description.source_name(table, col)
        if name and name != col:
            message = message.replace(f"column '{col}':", f"column '{col}' (file column '{name}'):")
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
        frame = _map_columns(raws[key], table, description, str(path), problems)
        if table == "customers":
            frame = _customers_extras(frame, description, problems, notes)
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
        mapped[table] = _drop_missing_ids(frame, table, str(path), notes)
    # tables that mapped cleanly are validated too, so that every problem of every table is listed at once
    id_type = _settle_id_type(mapped, description.id_type)
    validated: dict[str, pd.DataFrame] = {}
    for table, frame in mapped.items():
        frame = _apply_id_type(frame, id_type)
        ratings = None
        if table == "surveys":
            names = [c for c in ("csat", "nps", *description.driver_names(list(frame.columns))) if c in frame.columns]
            ratings = description.scales(names)
        row_offset = None if files[table].suffix.lower() == ".parquet" else 2
        try:
            validated[table] = validate_table(
                frame,
                table,
                source=str(files[table]),
                row_offset=row_offset,
                ratings=ratings,
                id_type=id_type,
                dates=description.read_options(table),
                notes=notes,
            )
            if not isinstance(validated[table].index, pd.RangeIndex):  # rows without an id were left out
                validated[table] = validated[table].reset_index(drop=True)
        except DataValidationError as exc:
            errors.append(_with_source_names(str(exc), table, description))
    if errors:
        raise DataValidationError("\n".join(errors))
    frames = {t: validated.get(t, _empty(t)) for t in ("surveys", "transactions")}
    if id_type == "str":
        for t in frames:
            frames[t]["customer_id"] = frames[t]["customer_id"].astype(object)
    if "customers" in validated:
        frames["customers"] = validated["customers"]
        _check_references(frames, files)
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


def _check_references(frames: dict[str, pd.DataFrame], files: dict[str, Path]) -> None:
    known = frames["customers"]["customer_id"].to_numpy()
    problems = []
    for name in ("surveys", "transactions"):
        if name not in files:
            continue
        frame = frames[name]
        unknown = ~frame["customer_id"].isin(known)
        if unknown.any():
            ids = frame.loc[unknown, "customer_id"].drop_duplicates().head(5).tolist()
            problems.append(
                f"  - '{files[name]}': {int(unknown.sum())} row(s) with a customer_id not in "
                f"'{files['customers']}', e.g. {ids}"
            )
    if problems:
        raise DataValidationError("Invalid data set (customer_id references):\n" + "\n".join(problems))
