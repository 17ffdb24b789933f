"""A documented random sample of customers, drawn where the data are, for the models of the reports.

The models of the analysis reports (churn hazards, the service-profit chain, CLV fits, what-ifs)
need one row per customer or customer-period in memory; on millions of customers they are fitted
on a random sample of customers instead, while the data-sized tables (KPIs per period, the whale
curve) are computed on every customer in the engine. :func:`sample_customers` draws the sample:

1. the distinct customer ids come back from the engine (the customers table's, or those seen in
   the surveys and transactions when the data set has no customers table: 5M int64 ids are 40 MB),
   sorted, so every engine hands over the same array;
2. ``n`` of them are picked with numpy's seeded generator (:func:`pick_ids`): the same ids on
   DuckDB, Spark or pandas for the same data and seed;
3. the three tables, restricted to those customers by a semi-join in the engine, are written as
   Parquet files in the toolkit's column names into a folder with a generated ``dataset.yaml``
   (the original description's name, currency, frequency, ratings, drivers, snapshot date,
   observation window and CLV options; no column mapping), and loaded with
   :func:`bsc_toolkit.data.io.load_dataset`: the sample passes the same validation as any data set.

:class:`Sampling` records what was drawn and says it in one sentence for the reports.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from bsc_toolkit.data.io import CustomerData
    from bsc_toolkit.engine.backends import EngineTables

__all__ = ["DEFAULT_SAMPLE_SEED", "Sampling", "customer_ids", "pick_ids", "sample_customers"]

#: Seed of the customer sample unless a report says otherwise.
DEFAULT_SAMPLE_SEED = 2024

_TABLES = ("customers", "surveys", "transactions")
_DATE_COLUMN = {"customers": None, "surveys": "surveyed_at", "transactions": "ordered_at"}


@dataclass(frozen=True)
class Sampling:
    """What a customer sample is: how many of how many customers, drawn how, on which engine.

    Attributes
    ----------
    n_total : int
        Customers in the data set.
    n_sampled : int
        Customers in the sample.
    seed : int
        Seed of numpy's generator that picked them (:func:`pick_ids`).
    engine : str
        Where the data set was read and the sample drawn (``"duckdb"``, ``"spark"``).
    data : CustomerData or None
        The sample, loaded and validated (None when only the record is kept).
    """

    n_total: int
    n_sampled: int
    seed: int = DEFAULT_SAMPLE_SEED
    engine: str = "duckdb"
    data: CustomerData | None = field(default=None, repr=False, compare=False)

    @property
    def fraction(self) -> float:
        """Share of the customers in the sample (0..1)."""
        return self.n_sampled / self.n_total if self.n_total else float("nan")

    @property
    def factor(self) -> float:
        """``n_total / n_sampled``: what a total over the sample is multiplied by to stand for every customer."""
        return self.n_total / self.n_sampled if self.n_sampled else float("nan")

    @property
    def is_sample(self) -> bool:
        """True when some customers were left out."""
        return self.n_sampled < self.n_total

    def scale_total(self, total: float | None) -> float | None:
        """A total over the sampled customers scaled to every customer (``x N/n``); None stays None."""
        if total is None:
            return None
        value = float(total)
        return value * self.factor if math.isfinite(value) else value

    def percent_text(self) -> str:
        """The sampled share as text: "5.0 %", "0.25 %" (two significant digits below 1 %)."""
        pct = 100 * self.fraction
        return f"{pct:.1f} %" if pct >= 1 or pct == 0 else f"{pct:.2g} %"

    def sentence(self, full_data: str = "KPI tables and the whale curve use every customer") -> str:
        """The sample in one sentence for the top of a report.

        Parameters
        ----------
        full_data : str
            What the report computes on every customer ("" to leave it out).

        Returns
        -------
        str
            E.g. "Models fitted on a random sample of 50,000 of 1,000,000 customers (5.0 %, seed
            2024); KPI tables and the whale curve use every customer."
        """
        text = (
            f"Models fitted on a random sample of {self.n_sampled:,} of {self.n_total:,} customers "
            f"({self.percent_text()}, seed {self.seed})"
        )
        return text + (f"; {full_data}." if full_data else ".")

    def note(self) -> str:
        """The short caveat beside a figure fitted on the sample: "fitted on a random sample of 50,000 of 1,000,000 customers"."""
        return f"fitted on a random sample of {self.n_sampled:,} of {self.n_total:,} customers ({self.percent_text()})"

    def scaled_note(self, with_interval: bool = True) -> str:
        """The caveat beside a total scaled to every customer (``with_interval``: the total shows one)."""
        scaled = f"a total over the {self.n_sampled:,} sampled customers scaled to all {self.n_total:,} (x {self.factor:,.4g})"
        if with_interval:
            return scaled + "; its interval covers the model's uncertainty, not the sampling of customers"
        return scaled + ", rounded to 3 significant digits; no interval (the sampling of customers adds to its error)"


def customer_ids(tables: EngineTables) -> pa.Array:
    """The distinct customer ids of a data set, sorted (the same array on every engine).

    The customers table's ids; without a customers table, the ids seen in the surveys and the
    transactions (as :func:`bsc_toolkit.data.io.load_dataset` derives the customers). Missing ids
    are left out.

    Parameters
    ----------
    tables : EngineTables

    Returns
    -------
    pyarrow.Array
        int64 or string ids, ascending.

    Raises
    ------
    ValueError
        When the data set has no table with customer ids.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if tables.customers is not None:
        sources = [tables.customers]
    else:
        sources = [t for t in (tables.surveys, tables.transactions) if t is not None]
    if not sources:
        raise ValueError("the data set has no table with customer ids: nothing to sample")
    expr = sources[0].select("customer_id")
    for other in sources[1:]:
        expr = expr.union(other.select("customer_id"), distinct=True)
    expr = expr.filter(expr.customer_id.notnull()).distinct()
    column = expr.to_pyarrow().column("customer_id").combine_chunks()
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    return pc.take(column, pc.sort_indices(column))


def pick_ids(ids: pa.Array | np.ndarray | list[Any], n: int, seed: int = DEFAULT_SAMPLE_SEED) -> np.ndarray:
    """``n`` of ``ids`` uniformly at random without replacement, reproducibly: positions drawn by
    ``numpy.random.default_rng(seed).choice``, in ascending order of position.

    Parameters
    ----------
    ids : array-like
        Distinct ids in a fixed order (:func:`customer_ids` sorts them).
    n : int
        How many; all of them when ``n >= len(ids)``.
    seed : int

    Returns
    -------
    numpy.ndarray
        The picked ids (int64 or object for text ids).
    """
    values = ids.to_numpy(zero_copy_only=False) if hasattr(ids, "to_numpy") else np.asarray(ids)
    if n < 0:
        raise ValueError(f"n must be 0 or more, not {n}")
    if n >= len(values):
        return values.copy()
    positions = np.random.default_rng(seed).choice(len(values), size=n, replace=False)
    positions.sort()
    return values[positions]


def _description_yaml(description: Any, present: dict[str, list[str]], id_type: str, masked: bool) -> dict[str, Any]:
    """The generated ``dataset.yaml`` of a sample: the original's meaning, the sample's files, no mapping."""
    keep = {
        "name": description.name,
        "currency": description.currency,
        "frequency": description.frequency,
        "id_type": id_type,
    }
    for name in ("snapshot_date", "observation_start", "observation_end"):
        value = getattr(description, name)
        if value is not None:
            keep[name] = value.strftime("%Y-%m-%d")
    if description.ratings:
        keep["ratings"] = {
            k: {kk: (list(vv) if isinstance(vv, tuple) else vv) for kk, vv in v.model_dump(exclude_none=True).items()}
            for k, v in description.ratings.items()
        }
    if description.drivers is not None:
        keep["drivers"] = [
            {kk: (list(vv) if isinstance(vv, tuple) else vv) for kk, vv in d.model_dump(exclude_none=True).items()}
            for d in description.drivers
        ]
    clv = description.clv.model_dump(exclude_none=True)
    if clv:
        keep["clv"] = clv
    columns = {c for cols in present.values() for c in cols}
    not_personal = [c for c in description.privacy.not_personal if c in columns]
    keep["privacy"] = {"mask_customer_ids": bool(masked), "not_personal": not_personal}
    keep["tables"] = {name: {"path": f"{name}.parquet"} for name in present}
    return keep


def _sorted_arrow(table: pa.Table, name: str) -> pa.Table:
    """The sample's rows in a fixed order (customer, then date), timestamps as naive microseconds, no metadata."""
    import pyarrow as pa

    fields = []
    columns = []
    for f, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(f.type):
            column = column.cast(pa.timestamp("us", tz=f.type.tz)) if f.type.unit != "us" else column
            if f.type.tz is not None:  # an engine in UTC: the wall-clock dates of the data, without zone
                import pyarrow.compute as pc

                column = pc.local_timestamp(column)
            f = pa.field(f.name, pa.timestamp("us"))
        elif pa.types.is_large_string(f.type):
            column, f = column.cast(pa.string()), pa.field(f.name, pa.string())
        fields.append(pa.field(f.name, f.type))
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=pa.schema(fields))
    keys = [("customer_id", "ascending")]
    date = _DATE_COLUMN[name]
    if date is not None and date in table.column_names:
        keys.append((date, "ascending"))
    rest = [(c, "ascending") for c in table.column_names if c not in {k for k, _ in keys}]
    return table.sort_by(keys + rest)


def write_sample(tables: EngineTables, ids: np.ndarray, folder: str | Path, *, masked: bool = False) -> Path:
    """Write the tables restricted to ``ids`` (semi-join in the engine) and their ``dataset.yaml`` into ``folder``.

    Parameters
    ----------
    tables : EngineTables
    ids : numpy.ndarray
        The customers to keep (:func:`pick_ids`).
    folder : path-like
        Created if missing; its ``dataset.yaml`` and table files are replaced.
    masked : bool
        Whether the generated description asks for masked ids (the caller's choice).

    Returns
    -------
    Path
        The folder.
    """
    import ibis
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    id_type = "str" if ids.dtype.kind in "OUS" else "int"
    arrow_ids = pa.table({"customer_id": pa.array(ids, type=pa.string() if id_type == "str" else pa.int64())})
    chosen = ibis.memtable(arrow_ids)
    present: dict[str, list[str]] = {}
    for name in _TABLES:
        table = tables.table(name)
        if table is None:
            continue
        if id_type == "str" and not table.customer_id.type().is_string():
            chosen_t = chosen.mutate(customer_id=chosen.customer_id.cast(table.customer_id.type()))
        else:
            chosen_t = chosen
        picked = table.semi_join(chosen_t, "customer_id")
        arrow = _sorted_arrow(picked.to_pyarrow(), name)
        pq.write_table(arrow, folder / f"{name}.parquet")
        present[name] = list(arrow.column_names)
    description = _description_yaml(tables.description, present, id_type, masked)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(description, sort_keys=False), encoding="utf-8")
    return folder


def sample_customers(
    tables: EngineTables,
    n: int,
    seed: int = DEFAULT_SAMPLE_SEED,
    *,
    mask_ids: bool | None = None,
    folder: str | Path | None = None,
    n_total: int | None = None,
) -> Sampling:
    """Draw ``n`` customers at random in the engine, and load their data as a validated data set.

    Parameters
    ----------
    tables : EngineTables
        The data set on DuckDB or Spark (:func:`bsc_toolkit.engine.sources.open_tables`).
    n : int
        Customers to draw (every customer when the data set has no more).
    seed : int
        Seed of numpy's generator (:func:`pick_ids`): the same seed gives the same customers on
        every engine.
    mask_ids : bool, optional
        Load the sample with pseudonyms (None: as the original description says).
    folder : path-like, optional
        Where the sample's Parquet files and ``dataset.yaml`` are written and kept; default: a
        temporary folder removed once the sample is loaded.
    n_total : int, optional
        The number of customers when already counted (saves a query); counted from the ids otherwise.

    Returns
    -------
    Sampling
        With ``data``: the sample as :func:`~bsc_toolkit.data.io.load_dataset` returns it, with the
        original data set's ``source`` and description (``id_type`` as loaded) and the notes of
        opening it (``tables.notes``) first.

    Raises
    ------
    ValueError
        When ``n`` is not positive or the data set has no customer ids.
    """
    from bsc_toolkit.data.io import load_dataset

    if n < 1:
        raise ValueError(f"the sample needs at least one customer, not {n}")
    ids = customer_ids(tables)
    total = len(ids) if n_total is None else int(n_total)
    picked = pick_ids(ids, n, seed)
    masked = tables.description.privacy.mask_customer_ids if mask_ids is None else bool(mask_ids)
    where = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="bsc-sample-"))
    try:
        write_sample(tables, picked, where, masked=masked)
        data = load_dataset(where, mask_ids=masked)
    finally:
        if folder is None:
            shutil.rmtree(where, ignore_errors=True)
    # the notes of opening the whole data set; a note of loading the sample on the same subject (the text
    # before its first colon, e.g. "no customers table") would only repeat it for the sampled customers
    subjects = {note.split(":", 1)[0] for note in tables.notes}
    own = (note for note in data.notes if note.split(":", 1)[0] not in subjects)
    notes = tuple(dict.fromkeys((*tables.notes, *own)))
    source = Path(tables.source) if tables.source else data.source
    # the original description (its tenure unit, labels...); ids as the sample was loaded
    description = tables.description.model_copy(update={"id_type": data.description.id_type})
    data = replace(data, source=source, notes=notes, description=description)
    return Sampling(n_total=total, n_sampled=len(picked), seed=seed, engine=tables.engine, data=data)
