"""Reading a described data set: files -> the toolkit's tables, every problem collected at once.

:func:`read_dataset_tables` reads each table's file with the description's options (separator,
encoding, sheet, missing-value texts, decimal mark; :mod:`bsc_toolkit.data.files`), maps the file's
columns onto the toolkit's names (computed columns such as quantity x unit price included), reads
numbers written as text with the declared decimal comma or thousands separator (a number it cannot
read is an error naming its line, never a misread), turns a churn flag and a tenure into the
toolkit's ``churned`` and ``tenure_months``, dates snapshot surveys, leaves out survey rows without
any rating (not responses; :mod:`bsc_toolkit.data.mapping`), settles one customer-id type for all
tables (zero-padded ids matched with the same ids written as numbers), validates each table against
its contract with the declared rating scales and its dates against a declared observation window
(:mod:`bsc_toolkit.data.plausibility`), and checks that the tables refer to the same customers
(:mod:`bsc_toolkit.data.ids`). Personal columns never get in: a table read without a mapping
leaves them out, a mapping that names one is an error (:mod:`bsc_toolkit.data.privacy`). Problems
of every table are reported together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.description import DatasetDescription, DescriptionError, ReadOptions
from bsc_toolkit.data.files import PARTS_ATTR, line_offset, name_rows, read_parquet, read_raw, to_number
from bsc_toolkit.data.ids import apply_id_type, check_references, drop_missing_ids, settle_id_type
from bsc_toolkit.data.mapping import (
    column_label,
    convert_churn_and_tenure,
    date_snapshot_surveys,
    drop_unanswered,
    label_missing_categories,
    map_columns,
    numbers_from_text,
    rating_columns,
    with_source_names,
)
from bsc_toolkit.data.plausibility import window_problems
from bsc_toolkit.data.privacy import drop_personal_columns, not_personal_problems, personal_column_problems
from bsc_toolkit.data.schemas import DataValidationError, validate_table

__all__ = ["read_dataset_tables", "read_raw", "read_parquet", "to_number"]

_KEY_COLUMNS = {
    "customers": ["customer_id"],
    "surveys": ["customer_id", "surveyed_at"],
    "transactions": ["customer_id", "ordered_at", "revenue_usd"],
}


def read_dataset_tables(
    files: dict[str, Path],
    description: DatasetDescription,
    *,
    mask_ids: bool = False,
    rows: dict[str, np.ndarray] | None = None,
    description_file: str | Path | None = None,
    parts: dict[str, list[tuple[str, int]]] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Read, map and validate the tables of a data set.

    Parameters
    ----------
    files : dict
        Table name -> file, glob pattern (its files read in sorted order and concatenated) or
        database table (:class:`~bsc_toolkit.data.description.DatabaseTable`, read through Ibis),
        for the tables the data set has (at least one).
    description : DatasetDescription
    mask_ids : bool
        Whether the caller masks the customer ids afterwards: notes then quote no id, and a
        personal column (an e-mail address) may be the customer id
        (:func:`bsc_toolkit.data.privacy.personal_column_problems`).
    rows : dict, optional
        Filled with the file row position of each row of the tables whose rows were partly left
        out (rows without an id or a rating), for messages about the loaded tables.
    description_file : str or Path, optional
        The ``dataset.yaml`` the description came from, for messages about it.
    parts : dict, optional
        Filled with the files of each table read from a glob, with their row counts, in the order
        their rows were concatenated (:func:`bsc_toolkit.data.files.name_rows` names a row of the
        table by its file and line). Messages raised here name rows so already.

    Returns
    -------
    frames : dict
        ``customers``, ``surveys`` and ``transactions`` in the toolkit's names; a table the data set
        lacks is empty (surveys, transactions) or derived from the ids of the others (customers).
    notes : list of str
        What loading did that an analyst should know.

    Raises
    ------
    DescriptionError
        When an entry of ``privacy.not_personal`` names no column of the files (checked once every
        file is read, before any is mapped).
    DataValidationError
        Every problem of every table, each once, grouped by file: contract problems, personal
        columns mapped or kept, dates outside a declared observation window
        (:func:`bsc_toolkit.data.plausibility.window_problems`).
    """
    notes: list[str] = []
    errors: list[str] = []
    raws: dict[tuple, pd.DataFrame] = {}
    mapped: dict[str, pd.DataFrame] = {}
    pending: dict[str, list[str]] = {}  # problems found while mapping a table that is still validated
    for table, path in files.items():  # every file first: privacy.not_personal names their columns
        key = _raw_key(path, description.read_options(table))
        if key not in raws:
            try:
                raws[key] = read_raw(path, table, description.read_options(table))
            except DataValidationError as exc:
                errors.append(str(exc))
                raws[key] = None
    table_parts = {
        table: raws[_raw_key(path, description.read_options(table))].attrs.get(PARTS_ATTR)
        for table, path in files.items()
        if raws[_raw_key(path, description.read_options(table))] is not None
    }
    table_parts = {table: found for table, found in table_parts.items() if found}
    if parts is not None:
        parts.update(table_parts)

    def by_file(message: str, table: str) -> str:  # rows of a glob named by their own file
        return name_rows(message, table_parts.get(table), line_offset(files[table]))

    if description.privacy.not_personal and not errors:
        columns: dict[str, list[str]] = {}
        for key, raw in raws.items():
            columns.setdefault(Path(key[0]).name, []).extend(raw.columns)
        problems = not_personal_problems(description.privacy.not_personal, columns)
        if problems:
            raise DescriptionError(
                f"Invalid data set description '{description_file}':\n" + "\n".join(f"  - {p}" for p in problems)
            )
    for table, path in files.items():
        key = _raw_key(path, description.read_options(table))
        if raws[key] is None:
            continue  # could not be read: the error is listed
        problems = personal_column_problems(table, description, mask_ids)
        row_offset = line_offset(path)
        frame = map_columns(raws[key], table, description, str(path), problems, row_offset)
        if frame is raws[key]:  # read as it is (no column mapping): personal columns are left out
            frame = drop_personal_columns(frame, table, path.name, notes, not_personal=description.privacy.not_personal)
        if table == "customers":
            frame = convert_churn_and_tenure(frame, description, problems, row_offset)
        elif table == "surveys":
            frame = date_snapshot_surveys(frame, description, problems, notes)
        if "customer_id" not in frame.columns:
            problems.append(
                f"no 'customer_id' column (found {list(frame.columns)[:20]}); map the file's id column under "
                f"tables.{table}.columns.customer_id in dataset.yaml"
            )
        if problems:
            message = f"Invalid {table} table in '{path}':\n" + "\n".join(f"  - {p}" for p in problems)
            errors.append(by_file(message, table))
            continue
        frame = numbers_from_text(frame, table, description, row_offset, pending.setdefault(table, []))
        frame = drop_missing_ids(frame, table, str(path), notes)
        if table == "surveys":
            frame = drop_unanswered(frame, description, str(path), notes)
        elif table == "customers":
            frame = label_missing_categories(frame, str(path), notes)
        mapped[table] = frame
    # tables that mapped cleanly are validated too, so that every problem of every table is listed at once
    id_type = settle_id_type(mapped, description.id_type, files, notes, quote_ids=not mask_ids)
    validated: dict[str, pd.DataFrame] = {}
    for table, frame in mapped.items():
        try:
            frame = apply_id_type(frame, id_type, line_offset(files[table]))
        except ValueError as exc:
            label = column_label(table, "customer_id", description)
            errors.append(by_file(f"Invalid {table} table in '{files[table]}':\n  - {label}: {exc}", table))
            continue
        ratings = None
        if table == "surveys":
            ratings = description.scales(rating_columns(frame, description))
        try:
            validated[table] = validate_table(
                frame,
                table,
                source=str(files[table]),
                row_offset=line_offset(files[table]),
                ratings=ratings,
                id_type=id_type,
                dates=description.read_options(table),
                notes=notes,
            )
            late = window_problems(validated[table], table, description, line_offset(files[table]))
            if not isinstance(validated[table].index, pd.RangeIndex):  # rows without an id were left out
                if rows is not None:
                    rows[table] = validated[table].index.to_numpy()
                validated[table] = validated[table].reset_index(drop=True)
            message = None
        except DataValidationError as exc:
            message = with_source_names(str(exc), table, description)
            late = []
        if pending.get(table) or late:
            header, _, rest = (message or f"Invalid {table} table in '{files[table]}':").partition("\n")
            message = "\n".join(
                [header, *(f"  - {p}" for p in [*pending.get(table, []), *late]), *([rest] if rest else [])]
            )
        if message:
            errors.append(by_file(message, table))
    if errors:
        raise DataValidationError("\n".join(errors))
    frames = {t: validated.get(t, _empty(t)) for t in ("surveys", "transactions")}
    if id_type == "str":
        for t in frames:
            frames[t]["customer_id"] = frames[t]["customer_id"].astype(object)
    if "customers" in validated:
        frames["customers"] = validated["customers"]
        check_references(frames, files, id_type)
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


def _raw_key(path: Path, options: ReadOptions) -> tuple:
    """What makes two tables' reads of a file the same read (one file may feed several tables)."""
    return (str(path), options.sep, options.encoding, options.sheet, tuple(options.na_values or ()))


def _empty(table: str) -> pd.DataFrame:
    """A table the data set lacks: no rows, the toolkit's key columns."""
    dtypes = {
        "customer_id": "int64",
        "surveyed_at": "datetime64[ns]",
        "ordered_at": "datetime64[ns]",
        "revenue_usd": "float64",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in _KEY_COLUMNS[table]})
