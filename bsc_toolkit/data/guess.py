"""A starting ``dataset.yaml`` guessed from raw files (``bsc init``).

The guess looks at each file (each sheet of a workbook) -- its column names and a sample of its
values -- decides which toolkit table(s) it can feed and which column is which, and writes a
commented description for the user to check. From the sample it also reads what cannot be
assumed: the separator, encoding and decimal mark of a CSV file, whether dates are written day
first, the scale of each rating, which other columns are driver ratings, and whether a "recommend"
question is on the 0-10 scale of the Net Promoter Score. It never reads a whole file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["SYNONYMS", "guess_description", "guess_columns"]

_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xlsm")
_SAMPLE_BYTES = 4 << 20
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_NA = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "#N/A"]

_ID = (
    "customerid",
    "customerno",
    "customernumber",
    "customer",
    "custid",
    "custno",
    "clientid",
    "clientno",
    "client",
    "accountid",
    "accountno",
    "accountnumber",
    "account",
    "memberid",
    "userid",
    "subscriberid",
)

#: Toolkit column -> normalised source names that usually mean it (first match wins).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": (*_ID, "id"),
        "acquired_at": (
            "acquiredat",
            "acquisitiondate",
            "signupdate",
            "signup",
            "signedupat",
            "registrationdate",
            "registeredat",
            "joindate",
            "joinedat",
            "startdate",
            "activationdate",
            "createdat",
            "customersince",
        ),
        "churned_at": (
            "churnedat",
            "churndate",
            "enddate",
            "canceldate",
            "cancellationdate",
            "cancelledat",
            "canceledat",
            "closedat",
            "closedate",
            "terminationdate",
            "terminatedat",
            "exitdate",
        ),
        "churned": ("churned", "churn", "exited", "attrition", "ischurned", "churnflag", "churnlabel", "left"),
        "tenure": ("tenure", "tenuremonths", "monthsactive", "tenureyears", "years", "months"),
        "segment": ("segment", "customersegment", "plan", "tier", "cardtype", "customertype", "contract"),
        "region": ("region", "geography", "state", "country"),
        "channel": ("channel", "acquisitionchannel", "source"),
    },
    "surveys": {
        "customer_id": (*_ID, "respondentid", "respondent", "id"),
        "surveyed_at": (
            "surveyedat",
            "surveydate",
            "responsedate",
            "respondedat",
            "interviewdate",
            "completedat",
            "submittedat",
            "submissiondate",
            "date",
        ),
        "csat": (
            "csat",
            "satisfaction",
            "satisfactionscore",
            "overallsatisfaction",
            "overallsat",
            "customersatisfaction",
            "csatscore",
            "sat",
        ),
        "nps": ("nps", "recommend", "likelihoodtorecommend", "ltr", "wouldrecommend", "npsscore"),
    },
    "transactions": {
        "customer_id": (*_ID, "id"),
        "ordered_at": (
            "orderedat",
            "orderdate",
            "invoicedate",
            "transactiondate",
            "purchasedate",
            "billingdate",
            "billdate",
            "paymentdate",
            "chargedate",
            "date",
        ),
        "revenue": (
            "revenue",
            "amount",
            "sales",
            "ordervalue",
            "total",
            "totalamount",
            "netamount",
            "grossamount",
            "invoiceamount",
            "billingamount",
            "amountbilled",
            "paymentamount",
            "payment",
            "charge",
            "spend",
            "monetary",
            "value",
        ),
        "cost": ("cost", "cogs", "costusd"),
        "order_id": (
            "orderid",
            "orderno",
            "ordernumber",
            "invoiceno",
            "invoiceid",
            "invoicenumber",
            "invoice",
            "transactionid",
            "billid",
            "paymentid",
            "receiptid",
        ),
    },
}

#: Words in a column name that suggest a rating (for driver ratings in a file that is not only a survey).
_RATING_WORDS = (
    "rating",
    "score",
    "satisf",
    "quality",
    "value",
    "image",
    "expect",
    "service",
    "price",
    "cost",
    "speed",
    "friendl",
    "staff",
    "ease",
    "easy",
    "support",
    "trust",
    "recommend",
    "loyal",
    "reliab",
    "respons",
    "courte",
    "clean",
    "wait",
    "delivery",
    "experience",
    "effort",
    "agree",
)
#: Words in a column name that rule out a rating (counts, ages, codes...).
_NOT_RATING = (
    "age",
    "id",
    "year",
    "month",
    "week",
    "day",
    "count",
    "num",
    "number",
    "qty",
    "quantity",
    "income",
    "salary",
    "balance",
    "zip",
    "code",
    "tenure",
    "duration",
    "minutes",
    "seconds",
    "products",
    "children",
    "dependents",
    "senior",
    "has",
    "is",
)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _words(name: str) -> list[str]:
    """Lower-case words of a column name (``PerceivedQuality`` -> perceived, quality)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _identifier(name: str) -> str:
    """A column name as a driver name: lower-case words joined by ``_``."""
    text = "_".join(_words(name)) or "rating"
    return f"r_{text}" if text[0].isdigit() else text


@dataclass
class _Source:
    """One table of a raw file: a CSV file or a sheet of a workbook, with a sample and how it reads."""

    path: Path
    sample: pd.DataFrame
    sheet: str | None = None
    read: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.path.name + (f" [sheet {self.sheet}]" if self.sheet is not None else "")


def _decode(raw: bytes) -> tuple[str, str]:
    """(text, encoding) of the start of a file; a character cut at the end is dropped."""
    for encoding in _ENCODINGS:
        try:
            return codecs.getincrementaldecoder(encoding)().decode(raw, final=False), encoding
        except UnicodeDecodeError:
            continue
    raise ValueError("not text in a known encoding")  # latin-1 decodes anything: not reached


def _separator(text: str, suffix: str) -> str:
    """The field separator of a text file: , ; tab | or runs of spaces (columns aligned with blanks)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    default = "\t" if suffix == ".tsv" else ","
    if not lines:
        return default
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {sep: lines[0].count(sep) for sep in (",", ";", "\t", "|")}
        best = max(counts, key=lambda sep: counts[sep])
        if counts[best]:
            return best
        widths = {len(line.split()) for line in lines}
        return r"\s+" if len(widths) == 1 and widths.pop() > 1 else default


def _read_sources(path: Path, rows: int) -> list[_Source]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        return [_Source(path, batch.to_pandas() if batch is not None else pd.DataFrame())]
    if suffix in (".xlsx", ".xlsm"):
        sheets = pd.read_excel(path, sheet_name=None, nrows=rows, keep_default_na=False, na_values=_NA)
        several = len(sheets) > 1
        return [_Source(path, frame, str(name) if several else None) for name, frame in sheets.items()]
    with path.open("rb") as handle:
        raw = handle.read(_SAMPLE_BYTES)
    text, encoding = _decode(raw)
    if len(raw) == _SAMPLE_BYTES:
        text = text[: text.rfind("\n") + 1]  # whole lines only
    sep = _separator(text, suffix)
    sample = pd.read_csv(
        io.StringIO(text), sep=sep, dtype=str, nrows=rows, keep_default_na=False, na_values=_NA, skipinitialspace=True
    )
    sample.columns = [str(c).strip() for c in sample.columns]
    read: dict = {}
    if sep != ("\t" if suffix == ".tsv" else ","):
        read["sep"] = sep
    if encoding != "utf-8-sig":
        read["encoding"] = encoding
    if _decimal_comma(sample):
        read["decimal"] = ","
    return [_Source(path, sample, None, read)]


_COMMA_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")


def _decimal_comma(sample: pd.DataFrame) -> bool:
    """True when some text column holds numbers with a decimal comma (12,50) and none with a decimal point."""
    found = False
    for col in sample.columns:
        values = sample[col].dropna().astype(str).str.strip()
        values = values[values != ""]
        if values.empty or not values.str.match(r"^[+-]?\d").all():
            continue
        if not bool(values.str.fullmatch(_COMMA_NUMBER).all()):
            if values.str.fullmatch(r"[+-]?\d+\.\d+").any():
                return False  # decimal points elsewhere in the file
            continue
        found = found or bool(values.str.contains(",", regex=False).any())
    return found


def guess_columns(columns: list[str], table: str) -> dict[str, str]:
    """Toolkit column -> source column, for the names in ``columns`` that look like ``table``'s."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
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


def _numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
        return pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _scale(values: pd.Series, decimal: str = ".") -> list[int] | None:
    """The rating scale the observed values fit: 1-5, 1-7, 1-10 or 0-10, 0-100."""
    numbers = _numbers(values, decimal).dropna()
    if numbers.empty or numbers.min() < 0:
        return None
    lo, hi = numbers.min(), numbers.max()
    for top in (5, 7, 10, 100):
        if hi <= top:
            return [0 if (lo < 1 or top == 100) else 1, top]
    return None


def _is_rating(values: pd.Series, decimal: str) -> bool:
    """Whole numbers on a small scale (at least three distinct answers, nothing else in the column)."""
    present = values.dropna()
    if present.dtype == object:
        present = present[present.astype(str).str.strip() != ""]
    if len(present) == 0 or pd.api.types.is_bool_dtype(present.dtype):
        return False
    numbers = _numbers(present, decimal)
    if numbers.isna().any():
        return False
    return bool((numbers == np.floor(numbers)).all()) and numbers.nunique() >= 3 and _scale(numbers) is not None


def _looks_dated(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty or text.str.fullmatch(r"[+-]?\d+([.,]\d+)?").mean() > 0.5:
        return False
    parsed = pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=True)
    return bool(parsed.notna().mean() >= 0.9)


def _date_column(sample: pd.DataFrame, used: set[str]) -> str | None:
    """A column whose values are dates (names with date/time first), for a table whose date was not named."""
    candidates = [c for c in sample.columns if c not in used]
    named = [c for c in candidates if re.search(r"date|time|day|_at$|datum", str(c), re.IGNORECASE)]
    for col in named + [c for c in candidates if c not in named]:
        if _looks_dated(sample[col]):
            return col
    return None


def _day_order(values: pd.Series) -> bool | None:
    """True (day first), False (month first) or None (ISO, real dates, or undecided) for a date column."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or values.dtype != object:
        return None
    parts = values.dropna().astype(str).str.extract(r"^\s*(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}")
    parts = parts.dropna().astype(int)
    if parts.empty:
        return None
    if (parts[0] > 12).any():
        return True
    if (parts[1] > 12).any():
        return False
    return None


def _ambiguous_dates(values: pd.Series) -> bool:
    return values.dtype == object and bool(
        values.dropna().astype(str).str.match(r"^\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}").any()
    )


def _unique_ids(sample: pd.DataFrame, column: str) -> bool:
    ids = sample[column].dropna()
    return len(ids) > 0 and ids.is_unique


def _drivers(
    source: _Source, used: set[str], survey_only: bool, decimal: str, comments: list[str]
) -> list[tuple[str, str, list[int]]]:
    """(driver name, file column, scale) for the other rating columns of a survey."""
    found = []
    names: set[str] = {"csat", "nps", "customer_id", "surveyed_at"}
    for col in source.sample.columns:
        if col in used:
            continue
        words = _words(col)
        if any(w in _NOT_RATING for w in words):
            continue
        rating_word = any(r in _norm(col) for r in _RATING_WORDS)
        if not (survey_only or rating_word) or not _is_rating(source.sample[col], decimal):
            continue
        name = _identifier(col)
        while name in names:
            name += "_2"
        names.add(name)
        found.append((name, col, _scale(source.sample[col], decimal)))
    if found:
        comments.append(
            "driver ratings: "
            + ", ".join(f"{n} <- {c} ({s[0]}-{s[1]})" for n, c, s in found)
            + "; remove any that is not a rating of a driver of satisfaction"
        )
    return found


def _match(table: str, sample: pd.DataFrame, decimal: str, used: set[str], comments: list[str]) -> dict | None:
    """The column mapping of ``table`` in a file's sample, or None when the file cannot be that table."""
    cols = list(sample.columns)
    mapping: dict = guess_columns(cols, table)
    if table == "transactions" and "revenue" not in mapping:
        qty = next((c for c in cols if _norm(c) in ("quantity", "qty", "units")), None)
        price = next((c for c in cols if _norm(c) in ("unitprice", "price")), None)
        if qty and price:
            mapping["revenue"] = {"product": [qty, price]}
        else:  # a name that holds an amount word: dollar_value, sales_amount, order_total
            taken = set(mapping.values())
            mapping["revenue"] = next(
                (
                    c
                    for c in cols
                    if c not in taken
                    and any(w in _words(c) for w in ("amount", "revenue", "sales", "value", "total", "spend"))
                    and _numbers(sample[c], decimal).notna().mean() >= 0.9
                ),
                None,
            )
            if mapping["revenue"] is None:
                del mapping["revenue"]
    if table == "surveys" and "nps" in mapping:
        scale = _scale(sample[mapping["nps"]], decimal)
        if scale is None or scale[1] != 10:
            comments.append(
                f"{mapping['nps']} is not on the 0-10 scale of the Net Promoter Score (observed {scale[0]}-"
                f"{scale[1]}): read as a driver rating instead"
                if scale
                else f"{mapping['nps']} does not hold 0-10 answers: not read as nps"
            )
            del mapping["nps"]
    date = {"transactions": "ordered_at", "surveys": "surveyed_at"}.get(table)
    if "customer_id" in mapping and date and date not in mapping:
        has_values = "revenue" in mapping if table == "transactions" else bool({"csat", "nps"} & set(mapping))
        found = _date_column(sample, set(map(str, mapping.values())) | used) if has_values else None
        if found is not None:
            mapping[date] = found
    if "customer_id" not in mapping:
        return None
    if table == "transactions" and not {"ordered_at", "revenue"} <= set(mapping):
        return None
    if table == "surveys" and not ({"csat", "nps"} & set(mapping)):
        return None
    if table == "customers" and not (set(mapping) - {"customer_id"}):
        return None
    return mapping


def guess_description(raw_dir: str | Path, relative_to: str | Path | None = None) -> str:
    """A commented ``dataset.yaml`` for the files in ``raw_dir``.

    Parameters
    ----------
    raw_dir : str or Path
        Folder with the raw files (CSV, Parquet, Excel; every sheet of a workbook is looked at).
    relative_to : str or Path, optional
        Folder the description will be written to (``root`` is made relative to it).

    Returns
    -------
    str
        YAML text: tables with guessed column mappings (and the sheet of a workbook), reading
        options found in the files (separator, encoding, decimal comma, day-first dates), rating
        scales and driver ratings from the observed values, a snapshot date when nothing is dated,
        and comments on what was guessed and what to check.

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
    chosen: dict[str, _Source] = {}
    comments: list[str] = []
    ratings: dict[str, dict] = {}
    drivers: list[dict] = []
    unused: list[str] = []
    also: list[str] = []
    sources: list[_Source] = []
    for path in files:
        try:
            sources.extend(_read_sources(path, rows=2000))
        except Exception as exc:  # a file we cannot read is reported, not fatal
            comments.append(f"could not read {path.name}: {exc}")
    for source in sources:
        sample = source.sample
        decimal = source.read.get("decimal", ".")
        cols = [str(c) for c in sample.columns]
        sample.columns = cols
        fed: list[str] = []
        used_here: set[str] = set()
        for table in ("transactions", "surveys", "customers"):
            mapping = _match(table, sample, decimal, used_here, comments if table not in tables else [])
            if mapping is None:
                continue
            if table == "customers" and not _unique_ids(sample, mapping["customer_id"]):
                if table not in tables:
                    comments.append(
                        f"{source.label} has customer columns but repeats customer ids: not used as the customers table"
                    )
                continue
            if table in tables:
                also.append(f"{source.label} also looks like the {table} table, read from {chosen[table].label}")
                continue
            tables[table] = {"path": source.path.name, "columns": mapping}
            chosen[table] = source
            fed.append(table)
            for value in mapping.values():
                used_here.update(value["product"] if isinstance(value, dict) else [value])
            comments.append(
                f"{table}: {source.label}; "
                + ", ".join(
                    f"{k} <- {v if isinstance(v, str) else ' x '.join(v['product'])}" for k, v in mapping.items()
                )
            )
            if table == "surveys":
                for name in ("csat",):
                    if name in mapping:
                        scale = _scale(sample[mapping[name]], decimal)
                        if scale:
                            ratings[name] = {"scale": scale, "top_box": 2}
            if table == "customers" and "tenure" in mapping:
                tables[table]["tenure_unit"] = "months"
        if "surveys" in fed:
            survey_only = fed == ["surveys"]
            for name, col, scale in _drivers(source, used_here, survey_only, decimal, comments):
                tables["surveys"]["columns"][name] = col
                drivers.append({"name": name, **({"label": col} if col != name else {}), "scale": scale})
        if not fed and not any(a.startswith(f"{source.label} also") for a in also):
            unused.append(source.label)
    if not tables:
        raise ValueError(
            f"nothing in '{raw_dir}' looks like a customer table, survey or transaction log (no customer id "
            "column with dates, ratings or amounts); write dataset.yaml by hand (see the README)"
        )
    dated = any(
        k in spec["columns"]
        for spec in tables.values()
        for k in ("ordered_at", "surveyed_at", "acquired_at", "churned_at")
    )
    read_common, per_table = _read_options(tables, chosen, comments)
    for table, options in per_table.items():
        if options:
            tables[table]["read"] = options
    target = Path(relative_to) if relative_to is not None else raw_dir
    root = os.path.relpath(raw_dir.resolve(), target.resolve())
    description: dict = {"name": raw_dir.resolve().name, "currency": "USD", "frequency": "Q"}
    if root != ".":
        description["root"] = root
    if not dated:
        stamp = max(chosen[t].path.stat().st_mtime for t in tables)
        description["snapshot_date"] = _dt.date.fromtimestamp(stamp).isoformat()
    if read_common:
        description["read"] = read_common
    description["tables"] = tables
    if ratings:
        description["ratings"] = ratings
    if drivers:
        description["drivers"] = drivers
    header = [
        "# Data set description guessed by `bsc init` -- a draft: check every line.",
        "# Keys under columns are the toolkit's names, values the columns of your file.",
        "# Declare the currency, the rating scales (ratings:) and, for snapshot data, the day the",
        "# snapshot was taken (snapshot_date). Then run: bsc validate <this folder>",
        *(f"# guessed: {c}" for c in comments),
        *(f"# not used: {a} (one file per table: combine them, or point the table at the other)" for a in also),
        *(f"# not used: {u} (no customer id with dates, ratings or amounts recognised)" for u in unused),
    ]
    if not dated:
        header.append(
            "# no dates found: treated as a snapshot; snapshot_date is the date of the file: set it to the day "
            "the data were taken"
        )
    if "customers" in tables and "tenure" in tables["customers"]["columns"]:
        header.append("# tenure_unit is a guess (months): set days, weeks, months, quarters or years")
    return "\n".join(header) + "\n" + yaml.safe_dump(description, sort_keys=False, allow_unicode=True)


def _read_options(
    tables: dict[str, dict], chosen: dict[str, _Source], comments: list[str]
) -> tuple[dict, dict[str, dict]]:
    """Reading options shared by every table's file, and each table's own (sheet, or options that differ)."""
    options: dict[str, dict] = {}
    for table, source in chosen.items():
        found = dict(source.read)
        if source.sheet is not None:
            found["sheet"] = source.sheet
        orders = []
        for key in ("ordered_at", "surveyed_at", "acquired_at", "churned_at"):
            col = tables[table]["columns"].get(key)
            if isinstance(col, str) and col in source.sample.columns:
                order = _day_order(source.sample[col])
                if order is not None:
                    orders.append(order)
                elif _ambiguous_dates(source.sample[col]) and not orders:
                    comments.append(
                        f"{table}.{key} ({col}): dates such as 03/04/2024 could be day-first or month-first; "
                        "declare read.dayfirst (true or false)"
                    )
        if orders:
            found["dayfirst"] = bool(orders[0]) if len(set(orders)) == 1 else None
            if found["dayfirst"] is None:
                del found["dayfirst"]
                comments.append(f"{table}: dates are written both day-first and month-first: check them")
        options[table] = found
    common = {}
    keys = {k for found in options.values() for k in found if k != "sheet"}
    for key in sorted(keys):
        values = [found.get(key) for found in options.values()]
        if all(v is not None and v == values[0] for v in values):
            common[key] = values[0]
    per_table = {t: {k: v for k, v in found.items() if k not in common} for t, found in options.items()}
    return common, per_table
