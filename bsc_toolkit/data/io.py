"""Read data sets from CSV / Parquet / Excel, validate them, and locate the default one.

A data set is a directory with ``customers``, ``surveys`` and ``transactions``
files (``.csv``, ``.parquet`` or ``.xlsx``), optionally with ``truth.json``
when it was simulated; or a ``dataset.yaml`` that names the tables' files, globs of
files, or tables of a database connection (:mod:`bsc_toolkit.data.description`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.description import (
    DESCRIPTION_FILE,
    DatabaseTable,
    DatasetDescription,
    default_description,
    has_glob,
    load_description,
)
from bsc_toolkit.data.files import glob_files, line_offset, name_rows
from bsc_toolkit.data.plausibility import check_plausibility, leave_out_after, plausible_date_limit
from bsc_toolkit.data.privacy import IdMask, mask_key, personal_id_problem
from bsc_toolkit.data.reading import read_dataset_tables, read_raw
from bsc_toolkit.data.schemas import DataValidationError, validate_table
from bsc_toolkit.data.simulate import Truth, simulate

__all__ = [
    "CustomerData",
    "DatasetLocation",
    "DEFAULT_N_CUSTOMERS",
    "DEFAULT_SEED",
    "TABLES",
    "default_data_dir",
    "ensure_default_dataset",
    "find_table",
    "load_dataset",
    "load_truth",
    "locate_dataset",
    "read_table",
]

TABLES: tuple[str, ...] = ("customers", "surveys", "transactions")
_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".xlsx")
DEFAULT_SEED = 2024
DEFAULT_N_CUSTOMERS = 2000


@dataclass(frozen=True)
class CustomerData:
    """The validated tables of a data set, in the toolkit's column names, and what they hold.

    Every table may be empty (0 rows with the toolkit's key columns) when the data set does not
    have it; :mod:`bsc_toolkit.capabilities` tells which report sections the data supports.

    Attributes
    ----------
    customers, surveys, transactions : pandas.DataFrame
        Validated tables with parsed dates and numeric dtypes. Amounts (``revenue_usd``,
        ``cost_usd``: the suffix is historic) are in :attr:`currency`.
    source : Path or None
        The directory (or ``dataset.yaml``) the data came from.
    description : DatasetDescription
        The data set description (``dataset.yaml``, or the defaults of a plain folder).
    tables_present : tuple of str
        The tables the data set has (others are empty stand-ins).
    notes : tuple of str
        What loading did that an analyst should know (rows left out, derived tables, time zones,
        table files beside a description that does not describe them).
    warnings : tuple of str
        What looks wrong in the data but did not stop loading (dates far after the rest of the
        data, orders after a customer's churn; :mod:`bsc_toolkit.data.plausibility`): shown
        before the notes, in ``bsc validate`` and at the top of every report.
    date_limit : pandas.Timestamp or None
        When some dates lie far after the rest of the data (a warning), the bound they lie beyond
        (:func:`~bsc_toolkit.data.plausibility.plausible_date_limit`); None otherwise.
        :meth:`up_to_date_limit` gives the data as they stand at it.
    """

    customers: pd.DataFrame
    surveys: pd.DataFrame
    transactions: pd.DataFrame
    source: Path | None = None
    description: DatasetDescription = field(default_factory=default_description)
    tables_present: tuple[str, ...] = TABLES
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    date_limit: pd.Timestamp | None = None

    def up_to_date_limit(self) -> CustomerData:
        """The data as they stand at :attr:`date_limit`, for reports that pick their periods from the data.

        One order dated 2099-01-01 would otherwise make 2099Q1 the headline period and stretch
        every customer's history over 300 quarters. Survey responses and orders after the limit are
        left out, a churn date after it reads as "still a customer at the end", customers acquired
        after it are left out; a note says what and how many. Without a limit (no far dates, or a
        declared ``observation_end``) the data are returned as they are.

        Returns
        -------
        CustomerData
        """
        if self.date_limit is None:
            return self
        frames, note = leave_out_after(
            {"customers": self.customers, "surveys": self.surveys, "transactions": self.transactions}, self.date_limit
        )
        if note is None:
            return self
        return replace(self, **frames, notes=(*self.notes, note))

    @property
    def name(self) -> str:
        """Name of the data set (from its description)."""
        return self.description.name

    @property
    def currency(self) -> str:
        """Currency of every amount."""
        return self.description.currency

    @property
    def freq(self) -> str:
        """Period frequency declared for KPI tables and panel models."""
        return self.description.frequency

    @property
    def is_snapshot(self) -> bool:
        """True for snapshot data (one row per customer, churn as a flag, no dates)."""
        return self.description.is_snapshot

    @property
    def drivers(self) -> tuple[str, ...]:
        """Driver rating columns the surveys hold (declared, or the default four present)."""
        return tuple(d for d in self.description.driver_names(list(self.surveys.columns)) if d in self.surveys)

    @property
    def driver_labels(self) -> dict[str, str]:
        """Display label of each driver."""
        labels = self.description.driver_labels()
        return {d: labels.get(d, d) for d in self.drivers}

    @property
    def ratings(self) -> dict[str, RatingScale]:
        """Scale of every rating column the surveys hold (csat, nps, drivers)."""
        names = [c for c in ("csat", "nps", *self.drivers) if c in self.surveys.columns]
        return self.description.scales(names)

    def scale(self, rating: str = "csat") -> RatingScale:
        """Scale of one rating column."""
        return self.description.scale(rating)

    def has(self, table: str) -> bool:
        """True when the data set has ``table`` with at least one row."""
        return table in self.tables_present and len(getattr(self, table)) > 0


def _project_root() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "bsc_toolkit").is_dir() else None


def default_data_dir() -> Path:
    """Directory of the default (synthetic) data set.

    ``$BSC_DATA_DIR`` if set; else ``data/default`` in a source checkout; else
    ``~/.cache/bsc-toolkit/default``.
    """
    env = os.environ.get("BSC_DATA_DIR")
    if env:
        return Path(env)
    root = _project_root()
    if root is not None:
        return root / "data" / "default"
    return Path.home() / ".cache" / "bsc-toolkit" / "default"


def ensure_default_dataset(
    data_dir: str | Path | None = None,
    n_customers: int = DEFAULT_N_CUSTOMERS,
    seed: int = DEFAULT_SEED,
) -> Path:
    """Create the default synthetic data set if it does not exist yet.

    The directory is written completely in a temporary place and then moved,
    so an interrupted run never leaves half a data set behind.

    Returns
    -------
    Path
        The data set directory.
    """
    target = Path(data_dir) if data_dir is not None else default_data_dir()
    if all(find_table(target, t) is not None for t in TABLES):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        simulate(n_customers=n_customers, seed=seed).to_dir(tmp)
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        tmp.replace(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def find_table(data_dir: str | Path, table: str) -> Path | None:
    """Path of ``table`` in ``data_dir`` with a supported suffix (the first of .csv, .parquet, .xlsx), or None."""
    found = _find_tables(Path(data_dir), table)
    return found[0] if found else None


def read_table(path: str | Path, table: str) -> pd.DataFrame:
    """Read one table file and validate it against its contract.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.xlsx`` file.
    table : {"customers", "surveys", "transactions"}
        The contract to validate against.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataValidationError
        If the file cannot be parsed or breaks the contract.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{table} file not found: '{path}'")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise DataValidationError(f"'{path}': unsupported file type {suffix!r}; use .csv, .parquet or .xlsx")
    # rows are named as the user sees them: file lines for CSV and Excel (header on line 1),
    # 0-based row positions for Parquet
    row_offset: int | None = None if suffix == ".parquet" else 2
    description = default_description(path.parent)
    raw = read_raw(path, table, description.read_options(table))
    return validate_table(raw, table, source=str(path), row_offset=row_offset, dates=description.read_options(table))


def load_dataset(data_dir: str | Path | None = None, mask_ids: bool | None = None) -> CustomerData:
    """Load and validate a data set, check that its dates are plausible, and keep personal data out.

    Parameters
    ----------
    data_dir : str or Path, optional
        A folder with ``dataset.yaml`` (the data set description: which file is which table, the
        column mapping, rating scales, currency, snapshot date...), a ``dataset.yaml`` file, or a
        plain folder with ``customers``, ``surveys`` and/or ``transactions`` files (``.csv``,
        ``.parquet`` or ``.xlsx``) in the toolkit's column names. Every table is optional; at least
        one is needed. ``None`` loads the default synthetic data set, generating it on first use.
    mask_ids : bool, optional
        Replace every customer id by a pseudonym (``C-1a2b3c4d5e``: HMAC-SHA256 of the id with
        the key in ``$BSC_MASK_KEY``, or a random key of this process; :mod:`bsc_toolkit.data.privacy`)
        in every table, note and warning. ``None`` (default): as the data set's description says
        (``privacy: {mask_customer_ids: true}``; default false).

    Returns
    -------
    CustomerData
        With ``warnings`` from the plausibility checks; columns whose names look personal
        (names, e-mail addresses...) are left out of tables read without a column mapping, with a
        note (unless listed under ``privacy.not_personal``). With masked ids, ``customer_id`` is
        text in every table. A note names table files (``surveys.csv``...) in the data root of a
        description that does not describe their table: they are not read.

    Raises
    ------
    FileNotFoundError
        If the path does not exist or holds no table.
    DescriptionError
        If ``dataset.yaml`` is invalid (naming the field), an entry of ``privacy.not_personal`` is
        no column of any table file, or ``$BSC_MASK_KEY`` is not a key
        (:class:`~bsc_toolkit.data.privacy.MaskKeyError`) when the ids are masked.
    DataValidationError
        Listing every problem of every table at once (file, column, example lines): contract
        problems, dates outside the declared ``observation_start``/``observation_end``, personal
        columns mapped or kept in ``dataset.yaml``; or, after those, unmasked customer ids that
        are e-mail addresses or phone numbers
        (:func:`~bsc_toolkit.data.privacy.personal_id_problem`).
    """
    path, description, files, description_file = locate_dataset(data_dir)
    masked = description.privacy.mask_customer_ids if mask_ids is None else bool(mask_ids)
    key = mask_key() if masked else None  # a bad $BSC_MASK_KEY stops here, before any file is read
    rows: dict = {}
    parts: dict = {}
    frames, notes = read_dataset_tables(
        files, description, mask_ids=masked, rows=rows, description_file=description_file, parts=parts
    )
    problem = personal_id_problem(frames["customers"]["customer_id"], description, files, masked)
    if problem is not None:
        raise DataValidationError(f"Invalid data set (customer ids):\n  - {problem}")
    notes = _undescribed_tables(description, files) + notes
    mask = IdMask.of(frames["customers"]["customer_id"], key) if key is not None else None
    # checked on the ids as read (fast lookups); messages quote the pseudonyms when masked
    warnings, more_notes = check_plausibility(frames, description, files, rows, show_id=mask.show if mask else None)
    if parts:  # rows of a glob's table named by their own file
        warnings = [_rows_by_file(w, files, parts) for w in warnings]
        more_notes = [_rows_by_file(n, files, parts) for n in more_notes]
    limit = plausible_date_limit(frames, description) if warnings else None
    if mask is not None:
        frames = mask.apply(frames)
        description = description.model_copy(update={"id_type": "str"})
    return CustomerData(
        source=path,
        description=description,
        tables_present=tuple(t for t in TABLES if t in files),
        notes=tuple(notes + more_notes),
        warnings=tuple(warnings),
        date_limit=limit,
        **frames,
    )


class DatasetLocation(NamedTuple):
    """Where a data set is and what it holds (:func:`locate_dataset`)."""

    #: The folder or ``dataset.yaml`` given.
    path: Path
    description: DatasetDescription
    #: Table name -> its file, glob pattern (a Path with ``*``...) or database table.
    files: dict[str, Path | DatabaseTable]
    #: The ``dataset.yaml`` the description came from (or would be), for messages.
    description_file: Path


def locate_dataset(data_dir: str | Path | None = None) -> DatasetLocation:
    """The description of a data set and where each of its tables is, without reading any table.

    Parameters
    ----------
    data_dir : str or Path, optional
        As :func:`load_dataset` takes it: a folder (with or without ``dataset.yaml``), a
        ``dataset.yaml`` file, or None for the default data set (generated on first use).

    Returns
    -------
    DatasetLocation

    Raises
    ------
    FileNotFoundError
        If the path does not exist, holds no table, a described file is missing or a described glob
        matches no file (naming the field, the pattern and the data root).
    DescriptionError
        If ``dataset.yaml`` is invalid, or its connection needs an environment variable that is not set.
    DataValidationError
        If a plain folder holds several files for one table.
    """
    path = ensure_default_dataset() if data_dir is None else Path(data_dir)
    if not path.exists():
        raise FileNotFoundError(f"no such data set: '{path}' does not exist")
    if path.is_file():
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise FileNotFoundError(
                f"'{path}' is a file: pass the data set's folder or its {DESCRIPTION_FILE} (or use "
                "`bsc validate FILE --table NAME` for one table)"
            )
        description = load_description(path)
    elif (path / DESCRIPTION_FILE).is_file():
        description = load_description(path / DESCRIPTION_FILE)
    else:
        description = default_description(path.resolve())
    folder = path.parent if path.is_file() else path  # where a description without tables finds them
    files = _table_files(folder, description)
    if not files:
        where = description.data_root() if description.tables else folder
        raise FileNotFoundError(
            f"no table found in '{where}': expected customers, surveys and/or transactions files "
            f"(.csv, .parquet or .xlsx), or a {DESCRIPTION_FILE} that names them"
        )
    return DatasetLocation(path, description, files, path if path.is_file() else path / DESCRIPTION_FILE)


def _rows_by_file(message: str, files: dict, parts: dict) -> str:
    """A message about loaded tables with the rows of each glob's table named by their own file."""
    for table, table_parts in parts.items():
        if str(files[table]) in message or f"'{files[table].name}'" in message:
            message = name_rows(message, table_parts, line_offset(files[table]))
    return message


def _table_files(path: Path, description: DatasetDescription) -> dict[str, Path | DatabaseTable]:
    """Where each table the data set has is (missing described files and empty globs are an error)."""
    files: dict[str, Path | DatabaseTable] = {}
    if description.tables:
        missing = []
        for table in TABLES:
            file = description.table_source(table)
            if file is None:
                continue
            if isinstance(file, DatabaseTable):
                pass  # opened when read
            elif has_glob(file) and not file.is_file():
                if not glob_files(file):
                    spec = description.tables[table]  # type: ignore[index]
                    missing.append(f"  - tables.{table}.path: no file matches the pattern {spec.path!r} ('{file}')")
            elif not file.is_file():
                missing.append(f"  - tables.{table}.path: no such file '{file}'")
            files[table] = file
        if missing:
            hint = (
                f" (paths are relative to '{description.data_root()}'; set root: in the description or "
                "$BSC_DATA_ROOT to point elsewhere)"
            )
            raise FileNotFoundError("Data set description points at missing files" + hint + ":\n" + "\n".join(missing))
        return files
    for table in TABLES:
        found = _find_tables(path, table)
        if len(found) > 1:
            raise DataValidationError(
                f"several files for the {table} table in '{path}': {', '.join(p.name for p in found)}; "
                "keep one (or name the one to use in dataset.yaml)"
            )
        if found:
            files[table] = found[0]
    return files


def _undescribed_tables(description: DatasetDescription, files: dict[str, Path]) -> list[str]:
    """Notes on table files in the data root (``surveys.csv``...) whose table the description leaves out."""
    if not description.tables:
        return []  # a plain folder, or a description without tables: every table file there is read
    root = description.data_root()
    read = set()
    for file in files.values():
        if isinstance(file, Path):
            read.update(f.resolve() for f in (glob_files(file) if has_glob(file) and not file.is_file() else [file]))
    beside = description.base_dir is not None and root.resolve() == description.base_dir.resolve()
    where = f"beside {DESCRIPTION_FILE}" if beside else f"in the data root '{root}'"
    notes = []
    for table in TABLES:
        if table in description.tables:
            continue
        found = [file for file in _find_tables(root, table) if file.resolve() not in read]
        if found:
            names = " and ".join(file.name for file in found)
            is_, it_is, it = ("is", "it is", "it") if len(found) == 1 else ("are", "they are", "them")
            notes.append(
                f"{names} {is_} {where} but tables.{table} is not described: {it_is} not read; add "
                f"tables.{table} to {DESCRIPTION_FILE} to use {it}"
            )
    return notes


def _find_tables(data_dir: Path, table: str) -> list[Path]:
    return [data_dir / f"{table}{suffix}" for suffix in _SUFFIXES if (data_dir / f"{table}{suffix}").is_file()]


def load_truth(data_dir: str | Path | None = None) -> Truth | None:
    """The simulation truth stored with a data set, or None for real data."""
    directory = ensure_default_dataset() if data_dir is None else Path(data_dir)
    path = directory / "truth.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    return Truth.from_dict(meta["truth"])
