"""A sample of each raw file for ``bsc init``, and how the file reads.

:func:`sample_tables` reads the start of a file (every sheet of a workbook) and finds what cannot
be assumed about a CSV file: its separator, its encoding and a decimal comma. It never reads a
whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["SampledTable", "sample_tables"]

_SAMPLE_BYTES = 4 << 20
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_NA = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "#N/A"]
_COMMA_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")


@dataclass
class SampledTable:
    """One table of a raw file: a CSV file or a sheet of a workbook, with a sample and how it reads.

    Attributes
    ----------
    path : Path
        The file.
    sample : pandas.DataFrame
        Its first rows (CSV cells as text).
    sheet : str, optional
        The sheet, for a workbook with several.
    read : dict
        Reading options found in a CSV file that differ from the defaults (``sep``, ``encoding``,
        ``decimal``), as in ``dataset.yaml``.
    """

    path: Path
    sample: pd.DataFrame
    sheet: str | None = None
    read: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The file's name, with the sheet's: ``book.xlsx [sheet Orders]``."""
        return self.path.name + (f" [sheet {self.sheet}]" if self.sheet is not None else "")


def sample_tables(path: Path, rows: int) -> list[SampledTable]:
    """The first rows of each table of a file, and how a CSV file reads.

    Parameters
    ----------
    path : Path
        A CSV (or .tsv, .txt), Parquet or Excel file.
    rows : int
        Rows sampled (of a CSV file, at most those in its first 4 MB, whole lines only).

    Returns
    -------
    list of SampledTable
        One per sheet of a workbook, else one; a CSV file's separator, encoding and decimal comma
        are found from its start.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        return [SampledTable(path, batch.to_pandas() if batch is not None else pd.DataFrame())]
    if suffix in (".xlsx", ".xlsm"):
        sheets = pd.read_excel(path, sheet_name=None, nrows=rows, keep_default_na=False, na_values=_NA)
        several = len(sheets) > 1
        return [SampledTable(path, frame, str(name) if several else None) for name, frame in sheets.items()]
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
    return [SampledTable(path, sample, None, read)]


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
