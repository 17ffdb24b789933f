"""A starting ``dataset.yaml`` guessed from raw files (``bsc init``).

The guess looks at each file's column names (and a sample of its values, for rating scales and
churn flags), decides which toolkit table(s) the file can feed and which column is which, and
writes a commented description for the user to check. It never reads the whole file.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

import pandas as pd
import yaml

__all__ = ["guess_description", "guess_columns"]

_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")

#: Toolkit column -> normalised source names that usually mean it (first match wins).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": ("customerid", "customer", "clientid", "client", "custid", "accountid", "customerno", "id"),
        "acquired_at": ("acquiredat", "signupdate", "joindate", "startdate", "createdat", "customersince"),
        "churned_at": ("churnedat", "churndate", "enddate", "canceldate", "cancelledat", "closedat"),
        "churned": ("churned", "churn", "exited", "attrition", "ischurned", "cancelled", "left"),
        "tenure": ("tenure", "tenuremonths", "monthsactive", "tenureyears", "years", "months"),
        "segment": ("segment", "plan", "tier", "cardtype", "customertype", "contract"),
        "region": ("region", "geography", "state"),
        "channel": ("channel", "acquisitionchannel", "source"),
    },
    "surveys": {
        "customer_id": ("customerid", "customer", "clientid", "client", "custid", "accountid", "respondentid", "id"),
        "surveyed_at": ("surveyedat", "surveydate", "responsedate", "respondedat"),
        "csat": ("csat", "satisfaction", "satisfactionscore", "overallsatisfaction", "sat"),
        "nps": ("nps", "recommend", "likelihoodtorecommend", "ltr"),
    },
    "transactions": {
        "customer_id": ("customerid", "customer", "clientid", "client", "custid", "accountid"),
        "ordered_at": ("orderedat", "orderdate", "invoicedate", "transactiondate", "purchasedate", "date"),
        "revenue": ("revenue", "amount", "sales", "ordervalue", "total", "monetary", "value"),
        "cost": ("cost", "cogs", "costusd"),
        "order_id": ("orderid", "invoiceno", "invoice", "transactionid", "orderno"),
    },
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _sample(path: Path, rows: int = 2000) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        return batch.to_pandas() if batch is not None else pd.DataFrame()
    if suffix == ".xlsx":
        return pd.read_excel(path, nrows=rows)
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            frame = pd.read_csv(path, nrows=rows, sep=None, engine="python", encoding=encoding)
            frame.attrs["encoding"] = encoding
            return frame
        except UnicodeDecodeError:
            continue
    raise ValueError(f"could not read '{path}' as text")


def guess_columns(columns: list[str], table: str) -> dict[str, str]:
    """Toolkit column -> source column, for the names in ``columns`` that look like ``table``'s."""
    by_norm = {_norm(c): c for c in columns}
    found: dict[str, str] = {}
    used: set[str] = set()
    for target, names in SYNONYMS[table].items():
        for name in names:
            source = by_norm.get(name)
            if source is not None and source not in used:
                found[target] = source
                used.add(source)
                break
    return found


def _scale(values: pd.Series) -> list[int] | None:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty:
        return None
    lo, hi = numbers.min(), numbers.max()
    for top in (5, 7, 10, 100):
        if hi <= top:
            return [0 if lo < 1 else 1, top]
    return None


def guess_description(raw_dir: str | Path, relative_to: str | Path | None = None) -> str:
    """A commented ``dataset.yaml`` for the files in ``raw_dir``.

    Parameters
    ----------
    raw_dir : str or Path
        Folder with the raw files.
    relative_to : str or Path, optional
        Folder the description will be written to (``root`` is made relative to it).

    Returns
    -------
    str
        YAML text: tables with guessed column mappings, rating scales from the observed values, a
        snapshot date placeholder when nothing is dated, and comments on what to check.

    Raises
    ------
    ValueError
        When the folder holds no readable table file or nothing looks like a customer table,
        survey or transaction log.
    """
    raw_dir = Path(raw_dir)
    files = sorted(p for p in raw_dir.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no CSV, Parquet or Excel file in '{raw_dir}'")
    tables: dict[str, dict] = {}
    comments: list[str] = []
    ratings: dict[str, dict] = {}
    dated = False
    encodings = set()
    for path in files:
        try:
            sample = _sample(path)
        except Exception as exc:  # a file we cannot read is reported, not fatal
            comments.append(f"could not read {path.name}: {exc}")
            continue
        if "encoding" in sample.attrs:
            encodings.add(sample.attrs["encoding"])
        cols = [str(c) for c in sample.columns]
        for table in ("transactions", "surveys", "customers"):
            if table in tables:
                continue
            mapping = guess_columns(cols, table)
            if table == "transactions" and "revenue" not in mapping:
                qty = next((c for c in cols if _norm(c) in ("quantity", "qty", "units")), None)
                price = next((c for c in cols if _norm(c) in ("unitprice", "price")), None)
                if qty and price:
                    mapping["revenue"] = {"product": [qty, price]}
            core = {
                "transactions": {"customer_id", "ordered_at", "revenue"},
                "surveys": {"customer_id", "csat"},
                "customers": {"customer_id"},
            }[table]
            if table == "customers" and not (set(mapping) - {"customer_id"}):
                continue
            if not core <= set(mapping):
                continue
            tables[table] = {"path": path.name, "columns": mapping}
            comments.append(
                f"{table}: {path.name}; " + ", ".join(f"{k} <- {v}" for k, v in mapping.items() if isinstance(v, str))
            )
            if table in ("transactions",) or "surveyed_at" in mapping or "acquired_at" in mapping:
                dated = True
            if table == "surveys":
                for name in ("csat", "nps"):
                    if name in mapping:
                        scale = _scale(sample[mapping[name]])
                        if scale and name == "csat":
                            ratings[name] = {"scale": scale, "top_box": 2}
            if table == "customers" and "tenure" in mapping:
                tables[table]["tenure_unit"] = "months"
    if not tables:
        raise ValueError(
            f"nothing in '{raw_dir}' looks like a customer table, survey or transaction log (no customer id "
            "column with dates, ratings or amounts); write dataset.yaml by hand (see the README)"
        )
    target = Path(relative_to) if relative_to is not None else raw_dir
    root = os.path.relpath(raw_dir.resolve(), target.resolve())
    description: dict = {"name": raw_dir.resolve().name, "currency": "USD", "frequency": "Q"}
    if root != ".":
        description["root"] = root
    if not dated:
        description["snapshot_date"] = _dt.date.today().isoformat()
    if encodings - {"utf-8-sig"}:
        description["read"] = {"encoding": sorted(encodings - {"utf-8-sig"})[0]}
    description["tables"] = tables
    if ratings:
        description["ratings"] = ratings
    header = [
        "# Data set description guessed by `bsc init` -- a draft: check every line.",
        "# Keys under columns are the toolkit's names, values the columns of your file.",
        "# Declare the currency, the rating scales (ratings:) and, for snapshot data, the day the",
        "# snapshot was taken (snapshot_date). Then run: bsc validate <this folder>",
        *(f"# guessed: {c}" for c in comments),
    ]
    if not dated:
        header.append("# no dates found: treated as a snapshot; set snapshot_date to the day the data were taken")
    if "customers" in tables and "tenure" in tables["customers"]["columns"]:
        header.append("# tenure_unit is a guess (months): set days, weeks, months, quarters or years")
    return "\n".join(header) + "\n" + yaml.safe_dump(description, sort_keys=False, allow_unicode=True)
