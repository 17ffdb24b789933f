"""Read data sets from CSV / Parquet / Excel, validate them, and locate the default one.

A data set is a directory with ``customers``, ``surveys`` and ``transactions``
files (``.csv``, ``.parquet`` or ``.xlsx``), optionally with ``truth.json``
when it was simulated.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.data.schemas import DataValidationError, validate_table
from bsc_toolkit.data.simulate import Truth, simulate

__all__ = [
    "CustomerData",
    "DEFAULT_N_CUSTOMERS",
    "DEFAULT_SEED",
    "TABLES",
    "default_data_dir",
    "ensure_default_dataset",
    "find_table",
    "load_dataset",
    "load_truth",
    "read_table",
]

TABLES: tuple[str, ...] = ("customers", "surveys", "transactions")
_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".xlsx")
DEFAULT_SEED = 2024
DEFAULT_N_CUSTOMERS = 2000


@dataclass(frozen=True)
class CustomerData:
    """The three validated tables of a data set.

    Attributes
    ----------
    customers, surveys, transactions : pandas.DataFrame
        Validated tables with parsed dates and numeric dtypes.
    source : Path or None
        The directory the data came from.
    """

    customers: pd.DataFrame
    surveys: pd.DataFrame
    transactions: pd.DataFrame
    source: Path | None = None


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
    """Path of ``table`` in ``data_dir`` with a supported suffix, or None."""
    for suffix in _SUFFIXES:
        path = Path(data_dir) / f"{table}{suffix}"
        if path.is_file():
            return path
    return None


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
    try:
        if suffix == ".csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)
        elif suffix == ".parquet":
            raw = _read_parquet(path)
        else:
            raw = pd.read_excel(path)
    except Exception as exc:  # parser errors of many kinds: name the file
        raise DataValidationError(f"could not read {table} file '{path}': {exc}") from exc
    return validate_table(raw, table, source=str(path), row_offset=row_offset)


def _read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file with about one copy of the data at a time, in memory the OS gets back.

    ``self_destruct`` frees each Arrow column once converted and ``split_blocks`` skips pandas'
    consolidation copy. Numeric columns converted without a copy would stay in arrow's memory
    pool, which keeps freed memory for reuse: when the tables are dropped later (e.g. once the
    panel is built) hundreds of MB would stay resident. They are copied into numpy's own memory
    one column at a time, and the pool is told to release what it no longer uses.
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


def _check_references(data: CustomerData, files: dict[str, Path]) -> None:
    known = data.customers["customer_id"].to_numpy()
    problems = []
    for name in ("surveys", "transactions"):
        frame = getattr(data, name)
        unknown = ~frame["customer_id"].isin(known)
        if unknown.any():
            ids = frame.loc[unknown, "customer_id"].drop_duplicates().head(5).tolist()
            problems.append(
                f"  - '{files[name]}': {int(unknown.sum())} row(s) with a customer_id not in "
                f"'{files['customers']}', e.g. {ids}"
            )
    if problems:
        raise DataValidationError("Invalid data set (customer_id references):\n" + "\n".join(problems))


def load_dataset(data_dir: str | Path | None = None) -> CustomerData:
    """Load and validate a data set directory.

    Parameters
    ----------
    data_dir : str or Path, optional
        Directory with ``customers``, ``surveys`` and ``transactions`` files
        (``.csv``, ``.parquet`` or ``.xlsx``). ``None`` loads the default
        synthetic data set, generating it on first use.

    Returns
    -------
    CustomerData

    Raises
    ------
    FileNotFoundError
        If the directory or one of the tables is missing.
    DataValidationError
        If a table breaks its contract or references unknown customers.
    """
    directory = ensure_default_dataset() if data_dir is None else Path(data_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory not found: '{directory}'")
    files: dict[str, Path] = {}
    for table in TABLES:
        found = find_table(directory, table)
        if found is None:
            raise FileNotFoundError(
                f"no {table} table in '{directory}': expected {table}.csv, {table}.parquet or {table}.xlsx"
            )
        files[table] = found
    frames = {table: read_table(path, table) for table, path in files.items()}
    data = CustomerData(source=directory, **frames)
    _check_references(data, files)
    return data


def load_truth(data_dir: str | Path | None = None) -> Truth | None:
    """The simulation truth stored with a data set, or None for real data."""
    directory = ensure_default_dataset() if data_dir is None else Path(data_dir)
    path = directory / "truth.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    return Truth.from_dict(meta["truth"])
