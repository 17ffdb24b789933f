"""Open a data set on an engine: its described tables as lazy Ibis tables in the toolkit's names.

:func:`open_tables` is :func:`bsc_toolkit.data.io.load_dataset` for DuckDB and Spark: it reads the
same data sets (a folder of ``customers``/``surveys``/``transactions`` files, or a ``dataset.yaml``
with files, globs of files or tables of a database connection), applies the same description (column
mapping, computed columns, ``keep``, dates, numbers written as text, the churn flag and tenure,
snapshot survey dates, rating scales, one customer-id type) and the same data checks, but never
loads a table: every table stays an Ibis expression on the backend and every check is a count
query. Problems are raised as :class:`~bsc_toolkit.data.schemas.DataValidationError` naming the
file (or database table), the column, the number of rows and a few example values, like the
pandas pipeline's messages (which name lines; an engine has no line numbers).

What the engines read
    CSV (``.csv``, ``.txt``, ``.tsv``; every cell read as text, as pandas does) and Parquet files,
    and globs of them (the union of the files, which must share their columns). Excel is read by
    the pandas engine only. Tables of a ``connection:``: a DuckDB database file is attached
    (read-only) to the DuckDB engine, so its tables combine with files; any other connection
    (``postgres://``...) is used as the backend itself when every table of the data set comes from
    it (the Ibis expressions then run in that database; tested with DuckDB only), and cannot be
    combined with files or with the Spark engine. Parquet timestamps stored in nanoseconds (pandas'
    default), which Spark reads only as integers, are read on Spark with
    ``spark.sql.legacy.parquet.nanosAsLong`` (set on the session) and converted back.

What differs from the pandas pipeline
    Dates written as text are read as ISO dates (``2024-03-31``, ``2024-03-31 10:15:00``) or with the
    declared ``read.date_format``; other formats pandas recognises (``31/03/2024`` with
    ``read.dayfirst``...) and dates with a UTC offset raise :class:`EngineError` pointing at the
    pandas engine. The plausibility warnings of :func:`~bsc_toolkit.data.io.load_dataset` (dates far
    after the rest of the data, orders after a customer's churn) are not computed; dates outside a
    declared observation window are errors on both. A data set without a customers table has
    ``customers`` None (pandas derives a table of ids: :func:`count_customers` counts them).
    Masked customer ids are not supported on the engines yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bsc_toolkit.data.description import ComputedColumn, DatabaseTable, DatasetDescription, ReadOptions, has_glob
from bsc_toolkit.data.files import file_columns, glob_files
from bsc_toolkit.data.io import TABLES, locate_dataset
from bsc_toolkit.data.mapping import MISSING_CATEGORY, column_label, map_columns, rating_columns
from bsc_toolkit.data.privacy import (
    drop_personal_columns,
    not_personal_problems,
    personal_column_problems,
    personal_id_problem,
)
from bsc_toolkit.data.schemas import _MISSING_HINTS, DATE_COLUMNS, DataValidationError, number_hint
from bsc_toolkit.engine.backends import EngineError, EngineTables, connect

if TYPE_CHECKING:
    import ibis
    from ibis.backends import BaseBackend

__all__ = ["EXCEL_MESSAGE", "count_customers", "open_tables"]

#: Why Excel files are not read on an engine.
EXCEL_MESSAGE = (
    "Excel input runs on the pandas engine (--engine pandas); DuckDB's Excel extension downloads from a host "
    "this machine cannot reach"
)
_CSV = (".csv", ".txt", ".tsv")
_EXCEL = (".xlsx", ".xlsm", ".xls")
_INT_TEXT = r"^-?(0|[1-9]\d{0,17})(\.0*)?$"  # as bsc_toolkit.data.ids: whole numbers that fit int64
_PADDED_TEXT = r"^0\d{1,17}$"
_DIGITS = r"^-?\d{1,18}$"
_ISO_DATE = r"^\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$"
_OFFSET = r"([+-]\d{2}:?\d{2}|Z)$"
_TRUE = ("1", "1.0", "true", "t", "yes", "y", "churned", "exited", "left")
_FALSE = ("0", "0.0", "false", "f", "no", "n", "active", "stayed", "retained")
_CATEGORIES = ("segment", "region", "channel")
_REQUIRED_DATES = ("acquired_at", "surveyed_at", "ordered_at")
_EXAMPLES = 5
_TZ_NAMES = ("UTC", "Etc/UTC", "GMT", "Z", "+00:00")


def open_tables(
    source: str | Path | None = None,
    engine: str = "duckdb",
    *,
    backend: BaseBackend | None = None,
    mask_ids: bool | None = None,
) -> EngineTables:
    """The tables of a data set on an engine, checked, as lazy Ibis tables in the toolkit's names.

    Parameters
    ----------
    source : str or Path, optional
        A data folder (with or without ``dataset.yaml``), a ``dataset.yaml`` file, or None for the
        default data set (generated on first use), as :func:`~bsc_toolkit.data.io.load_dataset`
        takes it.
    engine : {"duckdb", "spark"}
        The engine, when ``backend`` is not given (:func:`~bsc_toolkit.engine.backends.connect`).
    backend : ibis.backends.BaseBackend, optional
        The backend to open the tables on (a DuckDB or PySpark backend); default: a new one for
        ``engine``, or the data set's own connection when every table comes from a database
        other than DuckDB.
    mask_ids : bool, optional
        Pseudonymised customer ids (default: as the description says). Not supported on the
        engines yet: asking for them raises :class:`EngineError`.

    Returns
    -------
    EngineTables
        ``customers``, ``surveys``, ``transactions`` (None for a table the data set lacks) with the
        columns of :class:`~bsc_toolkit.data.io.CustomerData`'s frames, rows without a customer id
        (and survey rows without any rating) left out, and ``notes`` saying what was done.

    Raises
    ------
    FileNotFoundError, DescriptionError
        As :func:`~bsc_toolkit.data.io.load_dataset`: no data set, an invalid description, a
        described file missing or a glob matching no file.
    EngineError
        Excel input, masked ids, dates or options the engine cannot translate (naming the table,
        the column and why; the pandas engine reads them), a connection that cannot be combined
        with the engine.
    DataValidationError
        Every problem of every table: unknown columns, values that are not numbers, dates, flags
        or ids, missing or duplicate customer ids in customers, missing required dates, ratings
        outside their scale, negative costs, dates outside the observation window; then survey
        keys repeated and surveys or orders of unknown customers.
    """
    location = locate_dataset(source)
    description = location.description
    masked = description.privacy.mask_customer_ids if mask_ids is None else bool(mask_ids)
    if masked:
        raise EngineError(
            "masked customer ids (privacy.mask_customer_ids / --mask-ids) are not supported on the engines yet: "
            "run with --engine pandas, or without masking"
        )
    for table, where in location.files.items():
        files = [where] if isinstance(where, DatabaseTable) else _files_of(where)
        excel = [f for f in files if isinstance(f, Path) and f.suffix.lower() in _EXCEL]
        if excel:
            raise EngineError(f"{table} table '{where}': {EXCEL_MESSAGE}")
    backend, engine = _backend_for(location.files, engine, backend)
    reader = _Reader(backend, engine, description)
    notes: list[str] = list(_undescribed_notes(location))
    builders: dict[str, _TableBuilder] = {}
    errors: dict[str, str] = {}
    raws = {table: reader.open(table, where) for table, where in location.files.items()}
    if description.privacy.not_personal:
        columns: dict[str, list[str]] = {}
        for table, where in location.files.items():
            columns.setdefault(where.name, []).extend(raws[table].columns)
        problems = not_personal_problems(description.privacy.not_personal, columns)
        if problems:
            from bsc_toolkit.data.description import DescriptionError

            raise DescriptionError(
                f"Invalid data set description '{location.description_file}':\n"
                + "\n".join(f"  - {p}" for p in problems)
            )
    for table, where in location.files.items():
        builder = _TableBuilder(
            table, raws[table], str(where), where.name, description, engine, notes, aware=reader.aware(raws[table])
        )
        if builder.static_problems:
            errors[table] = builder.error_text(builder.static_problems)
        else:
            builders[table] = builder
    problems = {table: builder.run_checks() for table, builder in builders.items()}
    id_type = _settle_id_type(builders, description, location.files, notes)
    tables: dict[str, Any] = {}
    for table, builder in builders.items():  # whole-table checks (duplicates) listed with the others
        tables[table], more = builder.finish(id_type)
        problems[table] += more
    errors.update({table: builders[table].error_text(found) for table, found in problems.items() if found})
    if errors:
        raise DataValidationError("\n".join(errors[t] for t in TABLES if t in errors))
    _check_references(tables, builders)
    _check_personal_ids(tables, description, location.files, id_type)
    if "customers" not in tables:
        notes.append(
            "no customers table: the customers are those seen in "
            + " and ".join(t for t in ("surveys", "transactions") if t in tables)
            + "; there are no acquisition dates, segments or churn information"
        )
    return EngineTables(
        backend=backend,
        engine=engine,
        description=description,
        customers=tables.get("customers"),
        surveys=tables.get("surveys"),
        transactions=tables.get("transactions"),
        source=str(location.path),
        notes=tuple(notes),
    )


def count_customers(tables: EngineTables) -> int:
    """The number of customers: distinct ids of the customers table, else of the surveys and orders.

    Parameters
    ----------
    tables : EngineTables

    Returns
    -------
    int
    """
    import ibis

    if tables.customers is not None:
        return int(tables.customers.customer_id.nunique().execute())
    parts = [t.select("customer_id") for t in (tables.surveys, tables.transactions) if t is not None]
    if not parts:
        return 0
    ids = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=True)
    return int(ids.customer_id.nunique().execute())


# ---------------------------------------------------------------------------------------------- backends


def _files_of(where: Path) -> list[Path]:
    return glob_files(where) if has_glob(where) and not where.is_file() else [where]


def _engine_name(backend: BaseBackend) -> str:
    return "spark" if backend.name == "pyspark" else backend.name


def _backend_for(files: dict, engine: str, backend: BaseBackend | None) -> tuple[BaseBackend, str]:
    """The backend the tables open on, and the engine's name."""
    databases = {w.url for w in files.values() if isinstance(w, DatabaseTable)}
    foreign = [w for w in files.values() if isinstance(w, DatabaseTable) and w.scheme != "duckdb"]
    if foreign and (backend is not None or len(foreign) < len(files)):
        raise EngineError(
            f"the tables of the connection {foreign[0].shown!r} can be read with --engine pandas, or on that "
            "database itself when every table of the data set comes from it; they cannot be combined with files "
            "or another engine's backend"
        )
    if foreign:
        import ibis

        try:
            own = ibis.connect(foreign[0].url)
        except Exception as exc:  # drivers raise many kinds: name the connection
            raise EngineError(
                f"could not open the connection {foreign[0].shown!r}: {str(exc).replace(foreign[0].url, foreign[0].shown)}"
            ) from exc
        return own, _engine_name(own)
    if backend is None:
        if databases and engine != "duckdb":
            raise EngineError(
                f"tables of a DuckDB database file ({next(iter(databases))}) are read on the duckdb engine "
                f"(--engine duckdb) or the pandas engine, not on {engine}"
            )
        backend = connect(engine)
    engine = _engine_name(backend)
    if databases and engine != "duckdb":
        raise EngineError(
            f"tables of a DuckDB database file are read on the duckdb engine (--engine duckdb) or the pandas "
            f"engine, not on {engine}"
        )
    return backend, engine


def _undescribed_notes(location) -> list[str]:
    from bsc_toolkit.data.io import _undescribed_tables

    return _undescribed_tables(location.description, location.files)


class _Reader:
    """Opens the described sources on a backend, once per file and reading options."""

    def __init__(self, backend: BaseBackend, engine: str, description: DatasetDescription) -> None:
        self.backend = backend
        self.engine = engine
        self.description = description
        self._opened: dict[tuple, ibis.Table] = {}
        self._attached: dict[str, str] = {}
        self._aware: dict[int, frozenset[str]] = {}

    def aware(self, raw: ibis.Table) -> frozenset[str]:
        """Columns of a Parquet table opened on Spark that hold time-zone-aware timestamps."""
        return self._aware.get(id(raw), frozenset())

    def open(self, table: str, where: Path | DatabaseTable) -> ibis.Table:
        options = self.description.read_options(table)
        key = (str(where), options.sep, options.encoding, tuple(options.na_values or ()))
        if key not in self._opened:
            if isinstance(where, DatabaseTable):
                raw = self._database_table(table, where)
            else:
                raw = self._files(table, where, options)
            self._opened[key] = raw
        return self._opened[key]

    def _database_table(self, table: str, where: DatabaseTable) -> ibis.Table:
        schema, name = where.schema_and_name
        try:
            if where.scheme == "duckdb" and self.backend.name == "duckdb":
                alias = self._attach(where)
                database: Any = (alias, schema or "main")
            else:
                database = schema
            raw = self.backend.table(name, database=database) if database else self.backend.table(name)
        except EngineError:
            raise
        except Exception as exc:
            raise DataValidationError(
                f"could not read {table} table {where.table!r} from {where.shown!r}: "
                f"{str(exc).replace(where.url, where.shown)}"
            ) from exc
        return _clean_names(raw)

    def _attach(self, where: DatabaseTable) -> str:
        path = where.url.split("://", 1)[1].split("?", 1)[0]
        if path not in self._attached:
            if not Path(path).is_file():
                raise DataValidationError(f"connection {where.shown!r}: no DuckDB database file '{path}'")
            alias = "bsc_db_" + hashlib.sha1(path.encode()).hexdigest()[:12]
            quoted = path.replace("'", "''")
            self.backend.raw_sql(f"ATTACH IF NOT EXISTS '{quoted}' AS {alias} (READ_ONLY)")
            self._attached[path] = alias
        return self._attached[path]

    def _files(self, table: str, where: Path, options: ReadOptions) -> ibis.Table:
        import ibis

        files = _files_of(where)
        kinds = {".parquet" if f.suffix.lower() == ".parquet" else f.suffix.lower() for f in files}
        if len(kinds) > 1:
            raise DataValidationError(
                f"the files of the {table} pattern '{where}' are of several types ({', '.join(sorted(kinds))}): "
                "a pattern must match files of one type"
            )
        suffix = kinds.pop()
        if suffix not in (".parquet", *_CSV):
            raise DataValidationError(f"'{where}': unsupported file type {suffix!r}; use .csv, .parquet or .xlsx")
        if len(files) > 1:
            _check_same_columns(files, table, where, options)
        name = ibis.util.gen_name(f"bsc_{table}")
        paths = [str(f) for f in files]
        try:
            if suffix == ".parquet":
                raw = self._parquet(paths, name)
            else:
                raw = self._csv(paths, name, table, where, options, suffix)
        except (EngineError, DataValidationError):
            raise
        except Exception as exc:
            raise DataValidationError(f"could not read {table} file '{where}' on {self.engine}: {exc}") from exc
        raw = _clean_names(raw)
        if suffix != ".parquet":
            raw = _text_cells(raw, options)
        return raw

    def _parquet(self, paths: list[str], name: str) -> ibis.Table:
        if self.engine != "spark":
            return self.backend.read_parquet(paths, table_name=name)
        session = self.backend._session
        nanos, aware = _timestamp_columns(paths[0])
        if nanos:  # pandas writes nanoseconds, which Spark reads only as integers
            session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
        frame = session.read.parquet(*paths)
        frame.createOrReplaceTempView(name)
        raw = self.backend.table(name)
        if nanos:
            import ibis.expr.datatypes as dt

            micros = _builtin("timestamp_micros", (dt.int64,), dt.timestamp)
            raw = raw.mutate(**{c: micros(raw[c] // 1000).cast(dt.Timestamp()) for c in nanos if c in raw.columns})
        self._aware[id(raw)] = frozenset(aware)
        return raw

    def _csv(
        self, paths: list[str], name: str, table: str, where: Path, options: ReadOptions, suffix: str
    ) -> ibis.Table:
        sep = options.sep or ("\t" if suffix == ".tsv" else ",")
        if len(sep) != 1:
            raise EngineError(
                f"{table} file '{where}': the separator {sep!r} is a pattern, which the {self.engine} engine does not "
                "read; the pandas engine does (--engine pandas)"
            )
        encoding = _encoding(options.encoding, self.engine, table, where)
        if self.engine == "spark":
            frame = self.backend._session.read.csv(
                paths, header=True, inferSchema=False, sep=sep, encoding=encoding, escape='"', mode="FAILFAST"
            )
            frame.createOrReplaceTempView(name)
            return self.backend.table(name)
        return self.backend.read_csv(
            paths, table_name=name, all_varchar=True, header=True, delim=sep, quote='"', escape='"', encoding=encoding
        )


def _timestamp_columns(path: str) -> tuple[list[str], list[str]]:
    """Timestamp columns a Parquet file stores in nanoseconds (pandas' default), and those with a time zone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = [f for f in pq.read_schema(path) if pa.types.is_timestamp(f.type)]
    return [f.name for f in stamps if f.type.unit == "ns"], [f.name for f in stamps if f.type.tz is not None]


def _encoding(declared: str | None, engine: str, table: str, where: Path) -> str:
    """The declared encoding as the engine names it (DuckDB reads UTF-8, UTF-16 and Latin-1 only)."""
    name = (declared or "utf-8").lower().replace("_", "-")
    if engine == "spark":
        return "UTF-8" if name in ("utf-8", "utf-8-sig", "utf8") else (declared or "UTF-8")
    known = {
        "utf-8": "utf-8",
        "utf8": "utf-8",
        "utf-8-sig": "utf-8",
        "utf-16": "utf-16",
        "utf16": "utf-16",
        "latin-1": "latin-1",
        "latin1": "latin-1",
        "iso-8859-1": "latin-1",
        "iso8859-1": "latin-1",
    }
    if name not in known:
        raise EngineError(
            f"{table} file '{where}': DuckDB reads UTF-8, UTF-16 and Latin-1 text; its extension for encoding "
            f"{declared!r} downloads from a host this machine cannot reach: run with --engine pandas, or save the "
            "file as UTF-8"
        )
    return known[name]


def _check_same_columns(files: list[Path], table: str, where: Path, options: ReadOptions) -> None:
    first = file_columns(files[0], options)
    for file in files[1:]:
        columns = file_columns(file, options)
        if columns != first:
            raise DataValidationError(
                f"the files of the {table} pattern '{where}' differ in their columns: '{file}' has {columns[:20]}, "
                f"'{files[0]}' has {first[:20]}; the files of one table must have the same columns"
            )


def _clean_names(raw: ibis.Table) -> ibis.Table:
    """Column names without surrounding spaces or a byte-order mark, as :func:`read_raw` gives them."""
    renames = {str(c).strip().lstrip("\ufeff"): c for c in raw.columns if str(c).strip().lstrip("\ufeff") != c}
    return raw.rename(renames) if renames else raw


def _text_cells(raw: ibis.Table, options: ReadOptions) -> ibis.Table:
    """CSV cells as pandas reads them: leading spaces skipped, the missing-value texts missing."""
    import ibis

    na = list(options.na_values or [])
    cells = {}
    for name in raw.columns:
        value = raw[name].lstrip()
        cells[name] = ibis.ifelse(value.isin(na), ibis.null(), value) if na else value
    return raw.mutate(**cells)


# ---------------------------------------------------------------------------------------------- expressions


def _count(condition: Any) -> Any:
    return condition.fill_null(False).cast("int64").sum()


def _blank_to_null(text: Any) -> Any:
    import ibis

    text = text.strip()
    return ibis.ifelse(text == "", ibis.null(), text)


def _number(value: Any, options: ReadOptions) -> tuple[Any, Any]:
    """(float64 value, not-a-number flag) of a column: text read as :func:`~bsc_toolkit.data.files.to_number` does.

    The flag is None for a column stored as numbers (every value is one; NaN becomes missing).
    """
    import ibis

    dtype = value.type()
    if dtype.is_floating() or dtype.is_decimal():
        number = value.cast("float64")
        return ibis.ifelse(number.isnan(), ibis.null(), number), None
    if dtype.is_numeric() or dtype.is_boolean():
        return value.cast("float64"), None
    text = _blank_to_null(value if dtype.is_string() else value.cast("string"))
    decimal = options.decimal or "."
    if options.thousands:
        text = text.replace(options.thousands, "")
    if decimal == ",":
        if not options.thousands:
            grouped = text.re_search(r"^[+-]?\d{1,3}(\.\d{3})+(,\d*)?$")
            text = ibis.ifelse(grouped, text.replace(".", ""), text)
        text = ibis.ifelse(text.contains("."), text.concat("?"), text)  # unreadable, never misread
        text = text.replace(",", ".")
    number = text.re_search(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    number = ibis.ifelse(number, text, ibis.null()).try_cast("float64")
    return number, text.notnull() & number.isnull()


@dataclass
class _Check:
    """A data check: a count of rows meeting ``condition`` and how to say so when there are any."""

    name: str
    condition: Any
    example: Any  # value shown for a failing row
    message: Callable[[int, str], str]  # (rows, examples) -> problem text
    engine_error: bool = False  # raise EngineError rather than list a data problem


@dataclass
class _TableBuilder:
    """One table's expressions, checks and statistics, from its raw source to the toolkit's names."""

    table: str
    raw: Any
    source: str
    source_name: str
    description: DatasetDescription
    engine: str
    notes: list[str]
    aware: frozenset[str] = frozenset()  # columns stored as UTC instants (Spark shows them without a zone)
    static_problems: list[str] = field(default_factory=list)
    exprs: dict[str, Any] = field(default_factory=dict)
    checks: list[_Check] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)
    keep: Any = None
    numeric_keep: dict[str, Any] = field(default_factory=dict)
    note_makers: list[Callable[[], str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.options = self.description.read_options(self.table)
        self._map()
        if not self.static_problems:
            self._convert()

    # -------------------------------------------------------------- mapping

    def _map(self) -> None:
        table, description, raw = self.table, self.description, self.raw
        problems = personal_column_problems(table, description, False)
        probe = pd.DataFrame(columns=list(raw.columns))
        mapped = map_columns(probe, table, description, self.source, problems, None)
        mapping = description.column_map(table)
        if mapped is probe:  # read as it is: personal columns are left out, with a note
            mapped = drop_personal_columns(
                probe, table, self.source_name, self.notes, not_personal=description.privacy.not_personal
            )
        for name in mapped.columns:
            rule = mapping.get(name)
            if isinstance(rule, ComputedColumn):
                self.exprs[name] = self._computed(name, rule)
            elif isinstance(rule, str):
                self.exprs[name] = raw[rule]
            elif mapping and name in self._spec_keep():
                self.exprs[name] = raw[name]
                if raw[name].type().is_string():
                    self.numeric_keep[name] = raw[name]
            else:
                self.exprs[name] = raw[name]
        if table == "customers":
            self._churn_and_tenure(problems)
        elif table == "surveys" and "surveyed_at" not in self.exprs:
            if description.snapshot_date is not None:
                import ibis

                self.notes.append(
                    "surveys have no date: every response is dated on the snapshot date "
                    f"{description.snapshot_date:%Y-%m-%d}"
                )
                self.exprs["surveyed_at"] = ibis.literal(description.snapshot_date.to_pydatetime(), type="timestamp")
                self.snapshot_dated = True
            else:
                problems.append(
                    "surveys: no 'surveyed_at' column: map the response date under tables.surveys.columns, or "
                    "declare snapshot_date for a snapshot (one survey per customer)"
                )
        if "customer_id" not in self.exprs:
            problems.append(
                f"no 'customer_id' column (found {list(raw.columns)[:20]}); map the file's id column under "
                f"tables.{table}.columns.customer_id in dataset.yaml"
            )
        self.static_problems = problems

    def _spec_keep(self) -> list[str]:
        spec = self.description.tables.get(self.table)  # type: ignore[call-overload]
        return list(spec.keep) if spec else []

    def _computed(self, name: str, rule: ComputedColumn) -> Any:
        public = {"revenue_usd": "revenue", "cost_usd": "cost"}.get(name, name)
        result = None
        for col in rule.sources:
            number, bad = _number(self.raw[col], self.options)
            self._add_number_check(f"column {col!r} (for {public})", bad, self.raw[col])
            result = number if result is None else (result * number if rule.product else result + number)
        return result

    def _add_number_check(self, label: str, bad: Any, shown: Any) -> None:
        if bad is None:
            return
        options = self.options

        def message(n: int, examples: list, label: str = label) -> str:
            hint = number_hint(pd.Series(examples, dtype=object), options)
            return f"{label}: {n:,} value(s) that are not numbers, e.g. {_shown(examples, n)}{hint}"

        self.checks.append(_Check(f"bad_number_{len(self.checks)}", bad, shown, message))

    def _churn_and_tenure(self, problems: list[str]) -> None:
        import ibis

        description = self.description
        spec = description.tables.get("customers")
        if "churned" in self.exprs:
            raw = self.exprs["churned"]
            text = _blank_to_null(raw if raw.type().is_string() else raw.cast("string")).lower()
            truthy = spec.churn_values if spec else None
            if truthy is not None:
                wanted = sorted({str(v).strip().lower() for v in truthy})
                numbers = sorted(
                    {float(v) for v in truthy if isinstance(v, (int, float)) and not isinstance(v, bool)}
                    | {float(t) for t in wanted if _is_float(t)}
                )
                is_true = text.isin(wanted)
                if numbers:
                    as_number = ibis.ifelse(
                        text.re_search(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), text, ibis.null()
                    )
                    is_true = is_true | as_number.try_cast("float64").isin(numbers)
                unknown = text.isnull()
                flag = is_true.fill_null(False)
            else:
                flag = text.isin(list(_TRUE)).fill_null(False)
                unknown = ~(text.isin(list(_TRUE)) | text.isin(list(_FALSE))).fill_null(False)
            label = column_label("customers", "churned", description)
            self.checks.append(
                _Check(
                    "churn_flag",
                    unknown,
                    raw,
                    lambda n, ex, label=label: (
                        f"{label}: {n:,} value(s) that are not a churn flag, e.g. {_shown(ex, n)}; use 1/0, "
                        "true/false or yes/no, or list the values that mean churned under tables.customers.churn_values"
                    ),
                )
            )
            self.exprs["churned"] = flag
            if description.snapshot_date is None and description.observation_end is None:
                problems.append(
                    "churn is given as a flag ('churned') but the description has no snapshot_date (or "
                    "observation_end): declare the date the flag refers to"
                )
        if "tenure" in self.exprs:
            raw = self.exprs.pop("tenure")
            number, bad = _number(raw, description.read_options("customers"))
            self._add_number_check(column_label("customers", "tenure", description), bad, raw)
            self.exprs["tenure_months"] = number * description.tenure_months_factor()

    # -------------------------------------------------------------- conversion and checks

    def _convert(self) -> None:
        table, description = self.table, self.description
        exprs = self.exprs
        numeric = [c for c in ("revenue_usd", "cost_usd") if table == "transactions" and c in exprs]
        ratings = rating_columns(pd.DataFrame(columns=list(exprs)), description) if table == "surveys" else []
        for col in [*numeric, *ratings]:
            shown = exprs[col]
            number, bad = _number(shown, self.options)
            self._add_number_check(column_label(table, col, description), bad, shown)
            exprs[col] = number
        ids = exprs["customer_id"]
        present = ids.notnull()
        if ids.type().is_string():
            present = present & (ids.strip() != "")
        elif ids.type().is_floating():
            present = present & ~ids.isnan()
        present = present.fill_null(False)
        self.keep = present
        self.stats["rows"] = self.raw.count()
        self.stats["no_id"] = _count(~present)
        self.note_makers.append(self._no_id_note)
        if table == "surveys" and ratings:
            unanswered = None
            for col in ratings:
                unanswered = exprs[col].isnull() if unanswered is None else unanswered & exprs[col].isnull()
            unanswered = unanswered.fill_null(True)
            self.stats["unanswered"] = _count(present & unanswered)
            self.ratings = ratings
            self.keep = present & ~unanswered
            self.note_makers.append(self._unanswered_note)
        if table == "customers":
            for col in _CATEGORIES:
                if col in exprs:
                    self._category(col)
        self._dates()
        self._value_checks(ratings)
        self._id_stats()
        for name, value in self.numeric_keep.items():
            self._keep_stats(name, value)

    def _no_id_note(self) -> str | None:
        n = self.values["no_id"]
        if not n:
            return None
        return (
            f"{self.table}: {n:,} of {self.values['rows']:,} row(s) in '{self.source}' have no customer id and were "
            "left out"
        )

    def _unanswered_note(self) -> str | None:
        n = self.values["unanswered"]
        if not n:
            return None
        total = self.values["rows"] - self.values["no_id"]
        return (
            f"surveys: {n:,} of {total:,} row(s) in '{self.source}' have no rating ({', '.join(self.ratings)}) and "
            "were left out: they are not survey responses"
        )

    def _category(self, col: str) -> None:
        import ibis

        value = self.exprs[col]
        text = value if value.type().is_string() else value.cast("string")
        blank = (text.isnull() | (text.strip() == "")).fill_null(True)
        self.stats[f"blank_{col}"] = _count(self.keep & blank)
        self.exprs[col] = ibis.ifelse(blank, ibis.literal(MISSING_CATEGORY), text)

        def note(col: str = col) -> str | None:
            n = self.values[f"blank_{col}"]
            if not n:
                return None
            return (
                f"customers: {n:,} customer(s) in '{self.source}' have no {col}; they are shown as the group "
                f"'{MISSING_CATEGORY}' in breakdowns by {col}"
            )

        self.note_makers.append(note)

    def _dates(self) -> None:
        import ibis
        import ibis.expr.datatypes as dt

        table, description, policy = self.table, self.description, self.options
        for col in DATE_COLUMNS.get(table, ()):
            if col not in self.exprs or (col == "surveyed_at" and getattr(self, "snapshot_dated", False)):
                continue
            value = self.exprs[col]
            dtype = value.type()
            if dtype.is_unknown() and "TIMESTAMPTZ" in repr(dtype).upper():  # e.g. DuckDB's TIMESTAMPTZ_NS
                value = value.cast(dt.Timestamp(timezone="UTC"))
                dtype = value.type()
            label = column_label(table, col, description)
            bad = None
            if dtype.is_timestamp():
                parsed = value
                if dtype.timezone is not None or col in self.aware:
                    zone = policy.timezone or "UTC"
                    parsed = _to_zone(value, zone, self.engine)
                    self.notes.append(f"{table}.{col}: time-zone-aware dates converted to {zone}")
                parsed = parsed.cast(dt.Timestamp())
            elif dtype.is_date():
                parsed = value.cast(dt.Timestamp())
            else:
                text = _blank_to_null(value if dtype.is_string() else value.cast("string"))
                if policy.date_format:
                    if "%z" in policy.date_format or "%Z" in policy.date_format:
                        raise EngineError(
                            f"{table} table '{self.source}', {label}: the date format {policy.date_format!r} reads a "
                            f"time zone, which the {self.engine} engine does not translate; the pandas engine reads it "
                            "(--engine pandas)"
                        )
                    parsed = _strptime(text, policy.date_format, self.engine)
                else:
                    self.checks.append(
                        _Check(
                            f"offset_{col}",
                            text.re_search(_OFFSET),
                            text,
                            lambda n, ex, label=label: (
                                f"{table} table '{self.source}', {label}: {n:,} date(s) carry a UTC offset, e.g. "
                                f"{_shown(ex, n)}; the {self.engine} engine does not convert offsets: the pandas engine "
                                "does (--engine pandas), or write the dates without one"
                            ),
                            engine_error=True,
                        )
                    )
                    parsed = ibis.ifelse(text.re_search(_ISO_DATE), text, ibis.null()).try_cast(dt.Timestamp())
                bad = text.notnull() & parsed.isnull()
                how = (
                    f"the declared format {policy.date_format!r}"
                    if policy.date_format
                    else "ISO dates such as 2024-03-31"
                )
                self.checks.append(
                    _Check(
                        f"bad_date_{col}",
                        self.keep & bad,
                        text,
                        lambda n, ex, label=label, how=how: _date_problem(
                            label, n, ex, how, policy, self.engine, table, self.source
                        ),
                    )
                )
            self.exprs[col] = parsed
            if col in _REQUIRED_DATES:
                hint = _MISSING_HINTS.get(col, "")
                self.checks.append(
                    _Check(
                        f"missing_{col}",
                        self.keep & parsed.isnull() & (~bad.fill_null(False) if bad is not None else True),
                        self.exprs["customer_id"],
                        lambda n, ex, label=label, hint=hint: (
                            f"{label}: {n:,} missing values (NaN/empty) where a value is required, e.g. in the rows "
                            f"of customer_id {_shown(ex, n)}{hint}"
                        ),
                    )
                )
            self._window(col, parsed, label)

    def _window(self, col: str, parsed: Any, label: str) -> None:
        start, end = self.description.observation_start, self.description.observation_end
        if end is not None:
            after = end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(microseconds=1)
            fix = (
                "leave these cells empty if the customers had not left by then"
                if col == "churned_at"
                else "leave these rows out of the file"
            )
            self.checks.append(
                _Check(
                    f"late_{col}",
                    self.keep & (parsed >= after.to_pydatetime()),
                    parsed,
                    lambda n, ex, label=label, fix=fix: (
                        f"{label}: {n:,} date(s) after observation_end {end:%Y-%m-%d}, e.g. {_shown(_days(ex), n)}; "
                        f"{fix}, or move observation_end in dataset.yaml to the last day the data cover"
                    ),
                )
            )
        if start is not None and col in ("surveyed_at", "ordered_at"):
            self.checks.append(
                _Check(
                    f"early_{col}",
                    self.keep & (parsed < start.to_pydatetime()),
                    parsed,
                    lambda n, ex, label=label: (
                        f"{label}: {n:,} date(s) before observation_start {start:%Y-%m-%d}, e.g. {_shown(_days(ex), n)}; "
                        "leave these rows out of the file, or move observation_start in dataset.yaml to the first day "
                        "the data cover"
                    ),
                )
            )

    def _value_checks(self, ratings: list[str]) -> None:
        table, description, exprs, keep = self.table, self.description, self.exprs, self.keep
        for col in ratings:
            scale = description.scale(col)
            label = column_label(table, col, description)
            value = exprs[col]
            self.checks.append(
                _Check(
                    f"range_{col}",
                    keep & ((value < scale.low) | (value > scale.high)),
                    value,
                    lambda n, ex, label=label, scale=scale: (
                        f"{label}: {n:,} values outside the allowed range ({float(scale.low)}, {float(scale.high)}), e.g. "
                        f"{_shown(ex, n)}"
                    ),
                )
            )
        if table == "transactions":
            label = column_label(table, "revenue_usd", description)
            revenue = exprs["revenue_usd"] if "revenue_usd" in exprs else None
            if revenue is None:
                self.static_problems.append(f"missing required column(s) ['revenue_usd']; found columns {list(exprs)}")
            else:
                self.checks.append(
                    _Check(
                        "missing_revenue",
                        keep & revenue.isnull(),
                        exprs["customer_id"],
                        lambda n, ex, label=label: (
                            f"{label}: {n:,} missing values (NaN/empty) where a value is required, e.g. in the rows of "
                            f"customer_id {_shown(ex, n)}{_MISSING_HINTS['revenue_usd']}"
                        ),
                    )
                )
                self.checks.append(
                    _Check(
                        "infinite_revenue",
                        keep & revenue.isinf(),
                        revenue,
                        lambda n, ex, label=label: f"{label}: {n:,} rows failing check 'finite', e.g. {_shown(ex, n)}",
                    )
                )
            if "cost_usd" in exprs:
                label = column_label(table, "cost_usd", description)
                self.checks.append(
                    _Check(
                        "negative_cost",
                        keep & (exprs["cost_usd"] < 0),
                        exprs["cost_usd"],
                        lambda n, ex, label=label: f"{label}: {n:,} values below the minimum 0, e.g. {_shown(ex, n)}",
                    )
                )
        if table == "customers":
            if "tenure_months" in exprs:
                label = column_label(table, "tenure_months", description)
                self.checks.append(
                    _Check(
                        "negative_tenure",
                        keep & (exprs["tenure_months"] < 0),
                        exprs["tenure_months"],
                        lambda n, ex, label=label: f"{label}: {n:,} values below the minimum 0, e.g. {_shown(ex, n)}",
                    )
                )
            if "churned_at" in exprs and "acquired_at" in exprs:
                self.checks.append(
                    _Check(
                        "churn_before_acquisition",
                        keep & (exprs["churned_at"] < exprs["acquired_at"]),
                        exprs["customer_id"],
                        lambda n, ex: (
                            f"table: {n:,} rows failing check 'churned_at >= acquired_at', e.g. customer_id "
                            f"{_shown(ex, n)}"
                        ),
                    )
                )

    def _id_stats(self) -> None:
        ids, keep = self.exprs["customer_id"], self.keep
        dtype = ids.type()
        if dtype.is_integer():
            self.id_kind = "int"
        elif dtype.is_floating() or dtype.is_decimal():
            number = ids.cast("float64")
            self.id_kind = "float"
            self.stats["id_not_whole"] = _count(keep & ((number != number.floor()) | (number.abs() >= 2.0**53)))
        else:
            text = ids.strip() if dtype.is_string() else ids.cast("string").strip()
            self.id_kind = "text"
            self.id_text = text
            is_int = text.re_search(_INT_TEXT)
            self.stats["id_rows"] = _count(keep)
            self.stats["id_int"] = _count(keep & is_int)
            self.stats["id_padded"] = _count(keep & (is_int | text.re_search(_PADDED_TEXT)))
        if self.table == "customers":  # repeated ids, counted in the same scan (the rows are listed only if any)
            self.stats["kept"] = _count(keep)
            key = self.id_text if self.id_kind == "text" else ids
            self.stats["distinct_ids"] = key.nunique(where=keep)
            if self.id_kind == "text":
                self.stats["distinct_int_ids"] = _int_id(self.id_text).nunique(where=keep)

    def _keep_stats(self, name: str, value: Any) -> None:
        number, bad = _number(value, self.options)
        text = value.strip()
        self.stats[f"keep_{name}_present"] = _count(value.notnull())
        self.stats[f"keep_{name}_bad"] = _count(bad)
        self.stats[f"keep_{name}_numbers"] = _count(number.notnull())
        self.stats[f"keep_{name}_zero"] = _count(text.re_search(r"^[+-]?0\d"))
        self.stats[f"keep_{name}_missing"] = _count(number.isnull())
        self.stats[f"keep_{name}_fraction"] = _count(number != number.floor())
        self.numeric_keep[name] = number

    # -------------------------------------------------------------- running

    def run_checks(self) -> list[str]:
        """Count every check and statistic in one query; the problems found, with examples."""
        metrics = dict(self.stats)
        for check in self.checks:
            metrics[check.name] = _count(check.condition)
        try:
            row = self.raw.aggregate(**metrics).to_pandas().iloc[0]
        except Exception as exc:  # a file the engine cannot parse: name it
            raise DataValidationError(
                f"could not read {self.table} file '{self.source}' on {self.engine}: {exc}"
            ) from exc
        self.values = {k: int(v) if pd.notna(v) else 0 for k, v in row.items()}
        problems = []
        for check in self.checks:
            n = self.values[check.name]
            if not n:
                continue
            examples = self._examples(check.condition, check.example)
            text = check.message(n, examples)
            if check.engine_error:
                raise EngineError(text)
            problems.append(text)
        for make in self.note_makers:
            note = make()
            if note:
                self.notes.append(note)
        self._decide_keep_types()
        return problems

    def _examples(self, condition: Any, value: Any) -> list:
        frame = self.raw.filter(condition.fill_null(False)).select(example=value).limit(_EXAMPLES).to_pandas()
        return frame["example"].tolist()

    def _decide_keep_types(self) -> None:
        for name, number in list(self.numeric_keep.items()):
            v = {
                k: self.values[f"keep_{name}_{k}"] for k in ("present", "bad", "numbers", "zero", "missing", "fraction")
            }
            if not v["present"] or v["bad"] or not v["numbers"] or v["zero"]:
                continue  # text, as _maybe_numeric leaves it
            whole = not v["fraction"] and not v["missing"]
            self.exprs[name] = number.cast("int64") if whole else number

    def error_text(self, problems: list[str]) -> str:
        return f"Invalid {self.table} table in '{self.source}':\n" + "\n".join(f"  - {p}" for p in problems)

    def id_kind_settled(self) -> str:
        """``int``, ``padded`` or ``str``, as :func:`bsc_toolkit.data.ids._id_kind` says of the kept ids."""
        if self.id_kind == "int":
            return "int"
        if self.id_kind == "float":
            return "int" if not self.values["id_not_whole"] else "str"
        if self.values["id_int"] == self.values["id_rows"]:
            return "int"
        if self.values["id_padded"] == self.values["id_rows"]:
            return "padded"
        return "str"

    def finish(self, id_type: str) -> tuple[Any, list[str]]:
        """The table with ids of ``id_type``, and the problems of the whole-table checks (duplicates, ids)."""

        problems: list[str] = []
        ids = self.exprs["customer_id"]
        label = column_label(self.table, "customer_id", self.description)
        if id_type == "int":
            if self.id_kind == "int":
                converted = ids.cast("int64")
            elif self.id_kind == "float":
                converted = ids.cast("float64").cast("int64")
                not_whole = self.values["id_not_whole"]
            else:
                converted = _int_id(self.id_text)
                not_whole = self.values["id_rows"] - self.values["id_padded"]
            if self.id_kind != "int" and not_whole:
                bad = self.keep & converted.isnull() if self.id_kind == "text" else self.keep
                if self.id_kind == "float":
                    number = ids.cast("float64")
                    bad = self.keep & ((number != number.floor()) | (number.abs() >= 2.0**53))
                examples = self._examples(bad, ids)
                problems.append(
                    f"{label}: {not_whole:,} id(s) that are not whole numbers, e.g. {_shown(examples, not_whole)}; "
                    "declare id_type: str (or auto) in dataset.yaml to keep the ids as text"
                )
                return None, problems
        elif self.id_kind == "int":
            converted = ids.cast("string")
        elif self.id_kind == "float":
            whole = not self.values["id_not_whole"]
            converted = ids.cast("int64").cast("string") if whole else ids.cast("string")
        else:
            converted = self.id_text
        self.exprs["customer_id"] = converted
        result = self.raw.filter(self.keep).select(**self.exprs)
        if self.table == "customers":
            distinct = self.values[
                "distinct_int_ids" if id_type == "int" and self.id_kind == "text" else "distinct_ids"
            ]
            if self.values["kept"] > distinct:
                problems += _duplicates(result, ["customer_id"], label, self.engine)
        elif self.table == "surveys":
            problems += _duplicates(result, ["customer_id", "surveyed_at"], "table", self.engine)
        return result, problems


def _int_id(text: Any) -> Any:
    """Text ids as int64 (digits exactly; ``12.0`` as 12); missing where the text is no whole number."""
    import ibis

    return ibis.ifelse(
        text.re_search(_DIGITS),
        text.try_cast("int64"),
        ibis.ifelse(text.re_search(_INT_TEXT), text.try_cast("float64"), ibis.null()).cast("int64"),
    )


def _duplicates(result: Any, key: list[str], label: str, engine: str) -> list[str]:
    """Rows repeating ``key`` (every row of a repeated key counted, as pandera does)."""
    import ibis

    groups = result.group_by(key).aggregate(n=ibis._.count()).filter(ibis._.n > 1)
    row = groups.aggregate(rows=groups.n.sum(), keys=groups.count()).to_pandas().iloc[0]
    rows = int(row["rows"]) if pd.notna(row["rows"]) else 0
    if not rows:
        return []
    examples = groups.limit(_EXAMPLES).to_pandas()
    if key == ["customer_id"]:
        shown = _shown(examples["customer_id"].tolist(), int(row["keys"]))
        return [
            f"{label}: {rows:,} duplicate values where each must be unique ({int(row['keys']):,} id(s) repeated), e.g. "
            f"{shown}; the customers table has one row per customer: if this file has a row per order or response, "
            "map it as transactions or surveys (and the customers from another file)"
        ]
    pairs = [f"({r.customer_id!r}, {pd.Timestamp(r.surveyed_at):%Y-%m-%d %H:%M})" for r in examples.itertuples()]
    return [
        f"table: {rows:,} rows repeating the key (customer_id, surveyed_at), which must be unique, e.g. "
        f"{', '.join(pairs)}; keep one response per customer and day (or map the response time, not only the day)"
    ]


# ---------------------------------------------------------------------------------------------- across tables


def _settle_id_type(
    builders: dict[str, _TableBuilder], description: DatasetDescription, files: dict, notes: list
) -> str:
    """One customer-id type for every table, as :func:`bsc_toolkit.data.ids.settle_id_type` settles it."""
    if description.id_type != "auto":
        return description.id_type
    kinds = {t: b.id_kind_settled() for t, b in builders.items()}
    if not kinds or "str" in kinds.values():
        return "str" if kinds else "int"
    if "padded" not in kinds.values():
        return "int"
    if "int" not in kinds.values():
        return "str"
    for table, kind in kinds.items():
        if kind != "padded":
            continue
        builder = builders[table]
        text = builder.id_text
        kept = builder.raw.filter(builder.keep)
        distinct = kept.aggregate(text=text.nunique(), number=text.try_cast("float64").nunique()).to_pandas().iloc[0]
        if int(distinct["number"]) != int(distinct["text"]):
            return "str"
    padded = [t for t, k in kinds.items() if k == "padded"]
    plain = [t for t, k in kinds.items() if k == "int"]
    builder = builders[padded[0]]
    example = builder._examples(builder.keep & builder.id_text.re_search(_PADDED_TEXT), builder.id_text)[0]
    notes.append(
        "customer ids are zero-padded text in "
        + ", ".join(f"'{Path(str(files[t])).name}'" for t in padded)
        + f" (e.g. {example!r}) but plain numbers in "
        + ", ".join(f"'{Path(str(files[t])).name}'" for t in plain)
        + f": all are read as numbers ({example!r} = {int(example)}) so that the tables match; declare "
        "id_type: str to keep them as text (then write them the same way in every file)"
    )
    return "int"


def _check_references(tables: dict[str, Any], builders: dict[str, _TableBuilder]) -> None:
    """Every survey and order belongs to a known customer (when there is a customers table)."""
    customers = tables.get("customers")
    if customers is None:
        return
    known = customers.select("customer_id")
    problems = []
    for name in ("surveys", "transactions"):
        if name not in tables:
            continue
        unknown = tables[name].anti_join(known, "customer_id")
        row = unknown.aggregate(rows=unknown.count(), ids=unknown.customer_id.nunique()).to_pandas().iloc[0]
        if int(row["rows"]):
            examples = unknown.select("customer_id").distinct().limit(_EXAMPLES).to_pandas()["customer_id"].tolist()
            problems.append(
                f"  - '{builders[name].source}': {int(row['rows']):,} row(s) with a customer_id not in "
                f"'{builders['customers'].source}' ({int(row['ids']):,} distinct id(s)), e.g. {examples}; add these "
                "customers to the customers file or leave their rows out; if the ids are written differently in the "
                "two files, write them the same way"
            )
    if problems:
        raise DataValidationError("Invalid data set (customer_id references):\n" + "\n".join(problems))


def _check_personal_ids(tables: dict[str, Any], description: DatasetDescription, files: dict, id_type: str) -> None:
    """Text customer ids that are e-mail addresses or phone numbers cannot be read unmasked (a sample is looked at)."""
    if id_type != "str":
        return
    table = next((t for t in TABLES if t in tables), None)
    if table is None:
        return
    sample = tables[table].select("customer_id").limit(1000).to_pandas()["customer_id"]
    problem = personal_id_problem(sample.astype(object), description, files, False)
    if problem is not None:
        raise DataValidationError(f"Invalid data set (customer ids):\n  - {problem}")


# ---------------------------------------------------------------------------------------------- helpers


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shown(examples: list, n: int) -> str:
    """``'12,50', 'n/a' and 3 more``."""
    shown = ", ".join(repr(_plain(v)) for v in examples[:_EXAMPLES])
    more = n - min(len(examples), _EXAMPLES)
    return shown + (f" and {more:,} more" if more > 0 else "")


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (AttributeError, ValueError):
            return value
    return value


def _days(values: list) -> list[str]:
    out = []
    for v in values:
        ts = pd.Timestamp(v)
        out.append(f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}")
    return out


def _date_problem(
    label: str, n: int, examples: list, how: str, policy: ReadOptions, engine: str, table: str, source: str
) -> str:
    """Unparseable dates; an :class:`EngineError` when pandas would read them (only the engine cannot)."""
    sample = pd.Series([str(v) for v in examples], dtype=object)
    if not policy.date_format and len(sample):
        readable = pd.to_datetime(sample, errors="coerce", format="mixed", dayfirst=bool(policy.dayfirst))
        if readable.notna().all():
            raise EngineError(
                f"{table} table '{source}', {label}: {n:,} date(s) such as {_shown(examples, n)} are not ISO dates "
                f"(2024-03-31); the {engine} engine reads ISO dates or the declared read.date_format only, the pandas "
                "engine reads these (--engine pandas); or declare read.date_format (e.g. '%d/%m/%Y') in dataset.yaml"
            )
    return (
        f"{label}: {n:,} unparseable date(s), e.g. {_shown(examples, n)}; use {how} (or declare read.date_format in "
        "dataset.yaml)"
    )


def _strptime(text: Any, fmt: str, engine: str) -> Any:
    """Text read with a ``strftime`` format; missing where it does not fit."""
    import ibis.expr.datatypes as dt

    if engine == "duckdb":
        return _builtin("try_strptime", (dt.string, dt.string), dt.timestamp)(text, fmt).cast(dt.Timestamp())
    return text.as_timestamp(fmt).cast(dt.Timestamp())  # Spark (ANSI off): NULL where it does not fit


def _builtin(name: str, arguments: tuple, returns: Any) -> Callable[..., Any]:
    """A function of one or two arguments of the backend's SQL, called from Ibis."""
    import ibis

    if len(arguments) == 1:

        def function(first: Any) -> Any: ...

    else:

        def function(first: Any, second: Any) -> Any: ...

    function.__name__ = name
    return ibis.udf.scalar.builtin(function, name=name, signature=(arguments, returns))


def _to_zone(value: Any, zone: str, engine: str) -> Any:
    """A time-zone-aware timestamp as the wall-clock time in ``zone``, without its zone."""
    import ibis.expr.datatypes as dt

    if engine == "duckdb":
        return _builtin("timezone", (dt.string, value.type()), dt.timestamp)(zone, value)
    if zone in _TZ_NAMES:
        return value.cast(dt.Timestamp())  # Spark's session zone is UTC
    return _builtin("from_utc_timestamp", (value.type(), dt.string), dt.timestamp)(value, zone)
