"""Reading one file as it is: CSV cells as text, Parquet and Excel as stored, numbers from text.

:func:`read_raw` reads a table's file with the description's options (separator, encoding, sheet,
missing-value texts) and, when a file cannot be read, names it with the likely cause (a wrong
separator or encoding, a sheet that does not exist). :func:`to_number` reads numbers written as text
with the declared decimal mark and thousands separator, never misreading one it cannot read.
A glob path (``transactions/*.parquet``) is read as the concatenation of its files in sorted order
(:func:`glob_files`), and the rows of messages about it are named by file (:func:`name_rows`); a
table of a database connection (:class:`~bsc_toolkit.data.description.DatabaseTable`) is read
through Ibis (:func:`read_database_table`). Nothing here knows the toolkit's column names: that is
:mod:`bsc_toolkit.data.mapping`.
"""

from __future__ import annotations

import difflib
import glob
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import DatabaseTable, ReadOptions, has_glob
from bsc_toolkit.data.schemas import DataValidationError

__all__ = [
    "PARTS_ATTR",
    "file_columns",
    "glob_files",
    "is_text",
    "line_offset",
    "name_rows",
    "read_database_table",
    "read_parquet",
    "read_raw",
    "to_number",
]

#: ``frame.attrs`` key under which :func:`read_raw` records the files of a glob: ``[(file, rows), ...]``.
PARTS_ATTR = "bsc_parts"
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")


def glob_files(pattern: str | Path) -> list[Path]:
    """The files a glob pattern matches, sorted (``**`` spans folders; hidden files are not matched).

    Parameters
    ----------
    pattern : str or Path
        An absolute pattern such as ``/data/transactions/*.parquet``.

    Returns
    -------
    list of Path
        Regular files only, in sorted order (the order their rows are concatenated in).
    """
    return sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())


def file_columns(path: Path, options: ReadOptions | None = None) -> list[str]:
    """The column names of a CSV or Parquet file, from its header or schema alone (as :func:`read_raw` names them).

    Parameters
    ----------
    path : Path
    options : ReadOptions, optional
        Separator and encoding of a CSV file.

    Returns
    -------
    list of str
    """
    options = options or ReadOptions()
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        names = [n for n in names if not n.startswith("__index_level_")]
    else:
        sep = options.sep or ("\t" if suffix == ".tsv" else ",")
        names = list(pd.read_csv(path, nrows=0, sep=sep, encoding=options.encoding or "utf-8-sig").columns)
    return [str(c).strip().lstrip("\ufeff") for c in names]


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file with about one copy of the data at a time, in memory the OS gets back.

    ``self_destruct`` frees each Arrow column once converted and ``split_blocks`` skips pandas'
    consolidation copy. Numeric columns converted without a copy would stay in arrow's memory
    pool, which keeps freed memory for reuse: they are copied into numpy's own memory one column
    at a time, and the pool is told to release what it no longer uses.

    Parameters
    ----------
    path : Path
        The Parquet file.

    Returns
    -------
    pandas.DataFrame
        Its columns with the dtypes pyarrow gives them, on a 0-based RangeIndex.
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

    Parameters
    ----------
    path : Path or DatabaseTable
        A CSV (.csv, .txt, .tsv), Parquet or Excel (.xlsx, .xlsm) file; a glob pattern whose files
        are read in sorted order and concatenated (they must have the same columns; the frame's
        ``attrs[PARTS_ATTR]`` lists each file and its row count, for :func:`name_rows`); or a
        table of a database connection (:func:`read_database_table`).
    table : str
        The table it feeds, for messages.
    options : ReadOptions, optional
        Separator, encoding, sheet and missing-value texts (defaults: comma, or tab for .tsv;
        UTF-8; the first sheet).

    Returns
    -------
    pandas.DataFrame
        The file's columns under their names without surrounding spaces (or a byte-order mark);
        the cells of a CSV file as text.

    Raises
    ------
    DataValidationError
        Naming the file, with a hint for a wrong separator or encoding.
    """
    options = options or ReadOptions()
    if isinstance(path, DatabaseTable):
        return read_database_table(path, table)
    if has_glob(path) and not path.is_file():
        return _read_glob(path, table, options)
    return _read_file(path, table, options)


def _read_file(path: Path, table: str, options: ReadOptions) -> pd.DataFrame:
    """One file as it is (:func:`read_raw`)."""
    suffix = path.suffix.lower()
    try:
        if suffix in _CSV_SUFFIXES:
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
            _check_separator(frame, path, sep, table, declared=options.sep is not None)
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
            f"{exc.start}): the file is probably in another encoding, e.g. latin-1 or cp1252 from Excel; "
            + _declare(table, "encoding", "latin-1", options.encoding is not None)
        ) from exc
    except Exception as exc:  # parser errors of many kinds: name the file
        raise DataValidationError(f"could not read {table} file '{path}': {exc}") from exc
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return frame


def _read_glob(pattern: Path, table: str, options: ReadOptions) -> pd.DataFrame:
    """The files of a glob, concatenated in sorted order; ``attrs[PARTS_ATTR]`` lists (file, rows)."""
    files = glob_files(pattern)
    if not files:
        raise DataValidationError(f"no file matches the {table} pattern '{pattern}'")
    frames, parts = [], []
    for file in files:
        frame = _read_file(file, table, options)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise DataValidationError(
                f"the files of the {table} pattern '{pattern}' differ in their columns: '{file}' has "
                f"{list(frame.columns)[:20]}, '{files[0]}' has {list(frames[0].columns)[:20]}; the files of one "
                "table must have the same columns"
            )
        frames.append(frame)
        parts.append((_part_name(file, pattern), len(frame)))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, copy=False)
    frame.attrs[PARTS_ATTR] = parts
    return frame


def _part_name(file: Path, pattern: Path) -> str:
    """A glob's file as messages name it: its path below the pattern's fixed folder (``2024/q2/orders.csv``)."""
    fixed = Path(*[part for part in _fixed_parts(pattern)])
    try:
        return file.relative_to(fixed).as_posix()
    except ValueError:
        return str(file)


def _fixed_parts(pattern: Path) -> list[str]:
    parts = []
    for part in pattern.parts:
        if has_glob(part):
            break
        parts.append(part)
    return parts


def read_database_table(source: DatabaseTable, table: str) -> pd.DataFrame:
    """A table (or view) of a database connection, read through Ibis into pandas as stored.

    DuckDB files are opened read-only. Ibis (and the database's driver) is imported only here.

    Parameters
    ----------
    source : DatabaseTable
        The connection and the table (``schema.table`` allowed).
    table : str
        The toolkit table it feeds, for messages.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataValidationError
        Naming the connection (without its password) and the table, when either cannot be opened.
    """
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - ibis is a dependency
        raise DataValidationError(f"reading {table} from '{source}' needs ibis-framework") from exc
    kwargs = {"read_only": True} if source.scheme == "duckdb" else {}
    try:
        con = ibis.connect(source.url, **kwargs)
    except Exception as exc:  # drivers raise many kinds: name the connection
        raise DataValidationError(
            f"could not open the connection {source.shown!r} for the {table} table: {_without_url(exc, source)}"
        ) from exc
    try:
        schema, name = source.schema_and_name
        try:
            expr = con.table(name, database=schema) if schema else con.table(name)
        except Exception as exc:
            raise DataValidationError(
                f"could not read {table} table {source.table!r} from {source.shown!r}: {_without_url(exc, source)}"
            ) from exc
        frame = expr.to_pandas()
    finally:
        try:
            con.disconnect()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _without_url(exc: Exception, source: DatabaseTable) -> str:
    """An exception's message without the connection URL (it may hold a password)."""
    return str(exc).replace(source.url, source.shown)


_ROW_NAME = re.compile(r"\b(line|row) (\d+)\b")


def name_rows(message: str, parts: list[tuple[str, int]] | None, row_offset: int | None) -> str:
    """A message about a glob's concatenated rows, naming each row by its own file.

    ``line 27`` (or ``row 25`` for Parquet) of the concatenation becomes ``line 5 of 'part-2.csv'``.

    Parameters
    ----------
    message : str
        Names rows as ``line N`` (``row_offset`` given) or ``row N`` (positions).
    parts : list of (file, rows), optional
        The glob's files (named below the pattern's fixed folder) in concatenation order with their
        row counts (``frame.attrs[PARTS_ATTR]``);
        None or one file: ``message`` is returned unchanged.
    row_offset : int or None
        What was added to a 0-based position to name its line (None: rows by position).

    Returns
    -------
    str
    """
    if not parts or len(parts) < 2:
        return message
    starts = np.cumsum([0] + [n for _, n in parts])
    word = "row" if row_offset is None else "line"
    offset = row_offset or 0

    def rename(match: re.Match) -> str:
        if match.group(1) != word:
            return match.group(0)
        position = int(match.group(2)) - offset
        k = int(np.searchsorted(starts, position, side="right")) - 1
        if not 0 <= k < len(parts):
            return match.group(0)
        return f"{word} {position - starts[k] + offset} of '{parts[k][0]}'"

    return _ROW_NAME.sub(rename, message)


def _read_excel(path: Path, table: str, options: ReadOptions) -> pd.DataFrame:
    """One sheet of a workbook, with the same missing-value texts as a CSV file
    (``None`` is a value)."""
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


def _declare(table: str, name: str, value: str, declared: bool) -> str:
    """Where to declare a reading option in ``dataset.yaml``, as the end of a hint.

    A table's own ``read`` overrides the data set's (:meth:`ReadOptions.merged`): when a value is
    declared already and does not fit this file, only the table's own declaration fixes it without
    breaking the others.
    """
    table_form = f"tables.{table}.read.{name}: {value}"
    if declared:
        return (
            f"declare this file's own in dataset.yaml: {table_form} (a table's read options override the data "
            "set's read)"
        )
    return f"declare it in dataset.yaml: read: {{{name}: {value}}} for every file, or {table_form} for this one"


def _check_separator(frame: pd.DataFrame, path: Path, sep: str, table: str, declared: bool = False) -> None:
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for candidate, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if candidate != sep and candidate in header:
            raise DataValidationError(
                f"'{path}' has one column named {header[:80]!r}: the fields look {name}-separated; "
                + _declare(table, "sep", repr(candidate), declared)
            )
    first = str(frame.iloc[0, 0]) if len(frame) else ""
    if sep != r"\s+" and len(header.split()) > 1 and len(first.split()) == len(header.split()):
        raise DataValidationError(
            f"'{path}' has one column named {header[:80]!r}: the fields look separated by spaces (aligned "
            "columns); " + _declare(table, "sep", r"'\s+'", declared)
        )


def is_text(values: pd.Series) -> bool:
    """Whether a column holds text (object or string dtype) rather than numbers, dates or flags.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    bool
    """
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
    if not is_text(values):
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


def line_offset(path: Path | DatabaseTable) -> int | None:
    """Added to a 0-based row position to name the file's line (header on line 1); None for Parquet.

    Parameters
    ----------
    path : Path or DatabaseTable
        The table's file (or glob pattern), or its database table.

    Returns
    -------
    int or None
        2 for a file with a header line (CSV, Excel); None for Parquet and database tables, whose
        rows have no lines.
    """
    if isinstance(path, DatabaseTable):
        return None
    return None if path.suffix.lower() == ".parquet" else 2
