"""A starting ``dataset.yaml`` guessed from raw files (``bsc init``).

The guess looks at each file (each sheet of a workbook) -- its column names and a sample of its
values -- decides which toolkit table(s) it can feed and which column is which, and writes a
commented description for the user to check. From the sample it also reads what cannot be
assumed: the separator, encoding and decimal mark of a CSV file, whether dates are written day
first, the scale of each rating, which other columns are driver ratings, and whether a "recommend"
question is on the 0-10 scale of the Net Promoter Score. It never reads a whole file.

This module drafts the YAML (which file feeds which table, reading options, comments); the file
samples are read by :mod:`bsc_toolkit.data.guess_samples`, the columns recognised by
:mod:`bsc_toolkit.data.guess_detectors`.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import yaml

from bsc_toolkit.data.guess_detectors import (
    SYNONYMS,
    ambiguous_dates,
    day_order,
    driver_columns,
    guess_columns,
    match_table,
    rating_scale,
    unique_ids,
)
from bsc_toolkit.data.guess_samples import SampledTable, sample_tables

__all__ = ["SYNONYMS", "guess_description", "guess_columns"]

_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xlsm")


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
    chosen: dict[str, SampledTable] = {}
    comments: list[str] = []
    ratings: dict[str, dict] = {}
    drivers: list[dict] = []
    unused: list[str] = []
    also: list[str] = []
    sources: list[SampledTable] = []
    for path in files:
        try:
            sources.extend(sample_tables(path, rows=2000))
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
            mapping = match_table(table, sample, decimal, used_here, comments if table not in tables else [])
            if mapping is None:
                continue
            if table == "customers" and not unique_ids(sample, mapping["customer_id"]):
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
                        scale = rating_scale(sample[mapping[name]], decimal)
                        if scale:
                            ratings[name] = {"scale": scale, "top_box": 2}
            if table == "customers" and "tenure" in mapping:
                tables[table]["tenure_unit"] = "months"
        if "surveys" in fed:
            survey_only = fed == ["surveys"]
            for name, col, scale in driver_columns(sample, used_here, survey_only, decimal, comments):
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
    tables: dict[str, dict], chosen: dict[str, SampledTable], comments: list[str]
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
                order = day_order(source.sample[col])
                if order is not None:
                    orders.append(order)
                elif ambiguous_dates(source.sample[col]) and not orders:
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
