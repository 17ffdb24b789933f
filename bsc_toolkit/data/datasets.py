"""Public reference data sets: the CDNOW transaction log (Fader & Hardie).

The CDNOW data set holds the purchases of the 23,570 customers who made their first
purchase at the online music retailer CDNOW in the first quarter of 1997, followed
to the end of June 1998; the "sample" is a 1/10 random sample of 2,357 customers.
It is the standard validation set for BG/NBD and Gamma-Gamma implementations.

The data are *not* shipped with this project. :func:`download_cdnow` fetches them
from Bruce Hardie's site (http://www.brucehardie.com/datasets/) into
``data/cdnow/`` (git-ignored); :func:`find_cdnow` looks for an existing copy; and
:func:`load_cdnow` parses the files into the project's transaction layout.
"""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bsc_toolkit._atomic import atomic_write_bytes

__all__ = [
    "CDNOW_BASE_URL",
    "CDNOW_FILES",
    "CDNOW_CALIBRATION_END",
    "CDNOW_OBSERVATION_END",
    "find_cdnow",
    "load_cdnow",
    "load_cdnow_summary",
    "download_cdnow",
]

#: Public source of the CDNOW files (Bruce Hardie's data sets page).
CDNOW_BASE_URL = "http://www.brucehardie.com/datasets/"
#: Transaction files by ``kind``.
CDNOW_FILES = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}
#: Zip archives on the public site, by ``kind``.
CDNOW_ARCHIVES = {"sample": "CDNOW_sample.zip", "master": "CDNOW_master.zip"}
#: End of the 39-week calibration period used in the published analyses.
CDNOW_CALIBRATION_END = pd.Timestamp("1997-09-30")
#: End of the observation period (78 weeks).
CDNOW_OBSERVATION_END = pd.Timestamp("1998-06-30")

ENV_VAR = "BSC_CDNOW_DIR"
_SUMMARY_FILE = "cdnow_customers_summary_with_transactions.csv"

Kind = Literal["sample", "master"]


def _project_root() -> Path:
    """Directory holding ``pyproject.toml`` above this package (editable install), else cwd."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd()


def _candidate_dirs() -> list[Path]:
    root = _project_root()
    dirs: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(root / "data" / "cdnow")
    dirs.append(root.parent / "shared" / "data" / "cdnow")
    return dirs


def _has_cdnow(d: Path) -> bool:
    return d.is_dir() and any((d / f).is_file() for f in (*CDNOW_FILES.values(), _SUMMARY_FILE))


def find_cdnow() -> Path | None:
    """Locate a local copy of the CDNOW files.

    Looks, in order, in ``$BSC_CDNOW_DIR``, ``<repo>/data/cdnow/`` and
    ``<repo>/../shared/data/cdnow/``.

    Returns
    -------
    Path or None
        The first directory that contains a CDNOW file, or None.
    """
    for d in _candidate_dirs():
        if _has_cdnow(d):
            return d.resolve()
    return None


def _not_found_message(what: str) -> str:
    tried = ", ".join(str(d) for d in _candidate_dirs())
    return (
        f"{what} not found (looked in: {tried}). Download it with "
        f"bsc_toolkit.data.datasets.download_cdnow(), or fetch it manually from "
        f"{CDNOW_BASE_URL} and pass its path or set {ENV_VAR}."
    )


def _resolve_file(path: str | os.PathLike[str] | None, filename: str) -> Path:
    if path is None:
        found = find_cdnow()
        if found is None or not (found / filename).is_file():
            raise FileNotFoundError(_not_found_message(f"CDNOW file {filename}"))
        return found / filename
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / filename
    if not p.is_file():
        raise FileNotFoundError(f"CDNOW file not found: {p}. " + _not_found_message("It was"))
    return p


def load_cdnow(path: str | os.PathLike[str] | None = None, kind: Kind = "sample") -> pd.DataFrame:
    """Load the CDNOW transaction log in the project's transaction layout.

    Parameters
    ----------
    path : path-like, optional
        A directory containing ``CDNOW_sample.txt`` / ``CDNOW_master.txt`` or one of
        those files. Default: :func:`find_cdnow`.
    kind : {"sample", "master"}
        The 1/10 sample (2,357 customers) or the full cohort (23,570 customers).
        Ignored when ``path`` is a file (the layout is detected from the file).

    Returns
    -------
    DataFrame
        One row per transaction: ``customer_id`` (int; the sample's 1..2357 id for
        the sample, matching the published summary files), ``ordered_at``
        (datetime64), ``quantity`` (number of CDs), ``revenue_usd`` (float) and
        ``cost_usd`` (all NaN: costs are unknown for CDNOW). The sample also keeps
        ``master_customer_id``. Sorted by customer and date.
    """
    if kind not in CDNOW_FILES:
        raise ValueError(f"kind must be one of {sorted(CDNOW_FILES)}, got {kind!r}")
    file = _resolve_file(path, CDNOW_FILES[kind])
    raw = pd.read_csv(file, sep=r"\s+", header=None, dtype=str, engine="python")
    # the master file has a header line; detect it by a non-numeric first token
    if not str(raw.iloc[0, 0]).strip().isdigit():
        raw = raw.iloc[1:].reset_index(drop=True)
    ncol = raw.shape[1]
    if ncol == 5:
        raw.columns = ["master_customer_id", "customer_id", "date", "quantity", "revenue_usd"]
    elif ncol == 4:
        raw.columns = ["customer_id", "date", "quantity", "revenue_usd"]
    else:
        raise ValueError(f"{file}: expected 4 (master) or 5 (sample) whitespace-separated columns, found {ncol}")
    out = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(np.int64),
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "quantity": raw["quantity"].astype(np.int64),
            "revenue_usd": raw["revenue_usd"].astype(float),
            "cost_usd": np.nan,
        }
    )
    if "master_customer_id" in raw:
        out["master_customer_id"] = raw["master_customer_id"].astype(np.int64)
    return out.sort_values(["customer_id", "ordered_at"], kind="stable").reset_index(drop=True)


def load_cdnow_summary(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load the published RFM summary of the CDNOW sample (39-week calibration, in weeks).

    Parameters
    ----------
    path : path-like, optional
        Directory containing ``cdnow_customers_summary_with_transactions.csv`` or
        the file itself. Default: :func:`find_cdnow`.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``; columns ``frequency`` (x), ``recency`` (t_x),
        ``T`` and ``monetary_value`` (zbar, mean repeat-transaction value in USD).
    """
    file = _resolve_file(path, _SUMMARY_FILE)
    df = pd.read_csv(file)
    df = df.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    expected = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{file}: missing column(s) {missing}")
    return df[expected].set_index("customer_id").astype(float)


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    """Download ``url`` and return its bytes (separate so tests can replace it)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http(s)/file URLs
        return resp.read()


def download_cdnow(
    dest_dir: str | os.PathLike[str] = "data/cdnow",
    url: str | None = None,
    kind: Kind = "sample",
    overwrite: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download a CDNOW transaction file from its public source.

    Parameters
    ----------
    dest_dir : path-like, default "data/cdnow"
        Target directory; a relative path is taken relative to the project root
        (the directory with ``pyproject.toml``), so ``data/cdnow/`` (git-ignored).
    url : str, optional
        Source URL; default ``CDNOW_BASE_URL + "CDNOW_<kind>.zip"``. A zip archive
        is unpacked (its ``.txt`` member is kept); anything else is saved as is.
        ``file://`` URLs work too.
    kind : {"sample", "master"}
    overwrite : bool, default False
        Re-download even if the file exists.
    timeout : float
        Network timeout in seconds.

    Returns
    -------
    Path
        The path of the written ``CDNOW_<kind>.txt``. The write is atomic (temporary
        file + rename), so an interrupted download never leaves a partial file.

    Raises
    ------
    ConnectionError
        If the download fails, with instructions for a manual download.
    """
    if kind not in CDNOW_FILES:
        raise ValueError(f"kind must be one of {sorted(CDNOW_FILES)}, got {kind!r}")
    dest_dir = Path(dest_dir).expanduser()
    if not dest_dir.is_absolute():
        dest_dir = _project_root() / dest_dir
    dest = dest_dir / CDNOW_FILES[kind]
    if dest.is_file() and not overwrite:
        return dest
    src = url or CDNOW_BASE_URL + CDNOW_ARCHIVES[kind]
    try:
        payload = _fetch(src, timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConnectionError(
            f"could not download the CDNOW data from {src} ({exc}). Download "
            f"{CDNOW_ARCHIVES[kind]} manually from {CDNOW_BASE_URL}, unzip it, and pass the "
            f"folder to load_cdnow(path=...) or set {ENV_VAR}."
        ) from exc
    if payload[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            members = [n for n in zf.namelist() if n.lower().endswith(".txt")]
            if not members:
                raise ValueError(f"the archive from {src} holds no .txt file: {zf.namelist()}")
            wanted = [n for n in members if Path(n).name.lower() == CDNOW_FILES[kind].lower()]
            payload = zf.read((wanted or members)[0])
    if not payload.strip():
        raise ValueError(f"the download from {src} is empty")
    atomic_write_bytes(dest, payload)
    return dest
