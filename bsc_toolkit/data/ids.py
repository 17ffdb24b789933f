"""Customer ids: rows without one, one id type for every table, and references between tables.

:func:`drop_missing_ids` leaves out rows without a customer id; :func:`settle_id_type` chooses one
type for all tables (zero-padded ids matched with the same ids written as numbers) and
:func:`apply_id_type` converts a table to it; :func:`check_references` checks that surveys and
orders belong to known customers (orders dated outside a customer's time are checked in
:mod:`bsc_toolkit.data.plausibility`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.files import line_offset
from bsc_toolkit.data.schemas import DataValidationError, row_examples

__all__ = ["apply_id_type", "check_references", "customer_positions", "drop_missing_ids", "settle_id_type"]

_INT_TEXT = re.compile(r"^-?(0|[1-9]\d{0,17})(\.0*)?$")  # up to 18 digits: fits int64 exactly
_PADDED_TEXT = re.compile(r"^0\d{1,17}$")  # zero-padded digits such as 000123


def drop_missing_ids(frame: pd.DataFrame, table: str, source: str, notes: list[str]) -> pd.DataFrame:
    """Rows without a customer id (missing, or only spaces) left out, and counted.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table in the toolkit's names.
    table : str
        Its name, for the note.
    source : str
        Its file, for the note.
    notes : list of str
        Appended to: how many rows were left out.

    Returns
    -------
    pandas.DataFrame
        The rows with an id; the index keeps the file's row positions, for messages.
    """
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


def settle_id_type(
    frames: dict[str, pd.DataFrame],
    declared: str,
    files: dict[str, Path] | None = None,
    notes: list[str] | None = None,
    quote_ids: bool = True,
) -> str:
    """One customer-id type for every table (``auto``: integers when every id is a whole number).

    Zero-padded ids (``000123``) stay text, unless another table writes the same ids as plain
    numbers (``123``, e.g. after a round trip through Excel): then every table reads them as
    numbers so that they match, if no two ids of a table differ only in their leading zeros.

    Parameters
    ----------
    frames : dict
        Table name -> table in the toolkit's names (with ``customer_id`` as read).
    declared : str
        ``id_type`` of the description: ``int``, ``str`` or ``auto``.
    files : dict, optional
        Table name -> file, to name the files in the note.
    notes : list of str, optional
        Appended to: zero-padded ids read as numbers to match another table's.
    quote_ids : bool
        Quote an example id in the note (False when ids are masked: the note then names the
        example's line instead).

    Returns
    -------
    str
        ``int`` or ``str`` (the declared type, unless ``auto``).
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
        text = frames[padded[0]]["customer_id"].astype("string").str.strip()
        text = text[text.str.fullmatch(_PADDED_TEXT).fillna(False)]
        example, equal = f"e.g. {text.iloc[0]!r}", f" ({text.iloc[0]!r} = {int(text.iloc[0])})"
        if not quote_ids:
            where = files[padded[0]] if padded[0] in files else None
            offset = line_offset(where) if where is not None else None
            example, equal = f"e.g. {row_examples([(text.index[0], None)], offset)}", ""
        notes.append(
            "customer ids are zero-padded text in "
            + ", ".join(f"'{files[t].name}'" if t in files else t for t in padded)
            + f" ({example}) but plain numbers in "
            + ", ".join(f"'{files[t].name}'" if t in files else t for t in plain)
            + f": all are read as numbers{equal} so that the tables match; declare "
            "id_type: str to keep them as text (then write them the same way in every file)"
        )
    return "int"


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


def apply_id_type(frame: pd.DataFrame, id_type: str, row_offset: int | None = 2) -> pd.DataFrame:
    """Customer ids as int64 or text.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table in the toolkit's names.
    id_type : str
        ``int`` or ``str`` (:func:`settle_id_type`).
    row_offset : int or None
        Added to a row position to name the file's line (None: rows by position).

    Returns
    -------
    pandas.DataFrame
        The table with ``customer_id`` as int64, or as text (object; whole floats without a
        trailing ``.0``, surrounding spaces removed).

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
                f"{int(bad.sum()):,} id(s) that are not whole numbers, e.g. {row_examples(rows, row_offset)}; "
                "declare id_type: str (or auto) in dataset.yaml to keep the ids as text"
            )
        return frame.assign(customer_id=values.astype("int64"))
    return frame.assign(customer_id=_id_text(ids).astype(object))


def _id_text(ids: pd.Series) -> pd.Series:
    """Customer ids as text; integral numbers without a trailing ``.0``."""
    if pd.api.types.is_float_dtype(ids.dtype):
        whole = ids.dropna() == np.floor(ids.dropna())
        if bool(whole.all()):
            return ids.astype("Int64").astype("string")
    return ids.astype("string").str.strip()


def _stripped(values: pd.Series) -> pd.Series:
    """Values as text without surrounding spaces (missing stays missing)."""
    return values.astype("string").str.strip()


def check_references(frames: dict[str, pd.DataFrame], files: dict[str, Path], id_type: str) -> None:
    """Every survey and order must belong to a known customer.

    Parameters
    ----------
    frames : dict
        ``customers``, ``surveys`` and ``transactions``, validated, ids of one type.
    files : dict
        Table name -> file, for the tables the data set has.
    id_type : str
        ``int`` or ``str``: with text ids, the hint says whether ids match when leading zeros or
        case are ignored.

    Raises
    ------
    DataValidationError
        Naming, per file, the rows whose customer_id is not in the customers table, with a hint.
    """
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
                f"  - '{files[name]}': {int(unknown.sum()):,} row(s) with a customer_id not in '{files['customers']}' "
                f"({len(missing):,} distinct id(s)), e.g. {missing.head(5).tolist()}; "
                + _reference_hint(missing, known, id_type)
            )
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


def customer_positions(known: pd.Series | pd.Index, ids: pd.Series) -> np.ndarray:
    """Row of each id in the customers table (-1 for an id it does not hold).

    Integer ids that span a range not much wider than the number of customers are looked up in
    a table indexed by the id (a tenth of the time of a hash lookup for 12M orders); other ids
    with :meth:`pandas.Index.get_indexer`.

    Parameters
    ----------
    known : pandas.Series or pandas.Index
        The customers' ids, each once.
    ids : pandas.Series
        The ids to look up (e.g. the transactions' ``customer_id``).

    Returns
    -------
    numpy.ndarray of int64
    """
    known_values = np.asarray(known)
    values = ids.to_numpy()
    if known_values.dtype.kind == "i" and values.dtype.kind == "i" and len(known_values) and len(values):
        lo, hi = int(known_values.min()), int(known_values.max())
        if hi - lo < 4 * len(known_values) + 1_000_000:
            table = np.full(hi - lo + 1, -1, dtype=np.int64)
            table[known_values - lo] = np.arange(len(known_values))
            inside = (values >= lo) & (values <= hi)
            if bool(inside.all()):
                return table[values - lo]
            position = np.full(len(values), -1, dtype=np.int64)
            position[inside] = table[values[inside] - lo]
            return position
    return pd.Index(known_values).get_indexer(values)
