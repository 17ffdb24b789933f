"""Reading one file as it is: CSV cells as text, Parquet and Excel as stored, numbers from text.

:func:`read_raw` reads a table's file with the description's options (separator, encoding, sheet,
missing-value texts) and, when a file cannot be read, names it with the likely cause (a wrong
separator or encoding, a sheet that does not exist). :func:`to_number` reads numbers written as text
with the declared decimal mark and thousands separator, never misreading one it cannot read.
Nothing here knows the toolkit's column names: that is :mod:`bsc_toolkit.data.mapping`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import ReadOptions
from bsc_toolkit.data.schemas import DataValidationError

__all__ = ["is_text", "line_offset", "read_parquet", "read_raw", "to_number"]


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
    path : Path
        A CSV (.csv, .txt, .tsv), Parquet or Excel (.xlsx, .xlsm) file.
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


def line_offset(path: Path) -> int | None:
    """Added to a 0-based row position to name the file's line (header on line 1); None for Parquet.

    Parameters
    ----------
    path : Path
        The table's file.

    Returns
    -------
    int or None
        2 for a file with a header line (CSV, Excel); None for Parquet, whose rows have no lines.
    """
    return None if path.suffix.lower() == ".parquet" else 2
