"""The data set description: ``dataset.yaml``, the one place a data set says what it holds.

A folder of tables becomes a toolkit data set through a description written beside the tables::

    name: Bank customer churn
    currency: EUR
    frequency: Q                     # period of the KPI tables and panel models
    snapshot_date: 2024-12-31        # snapshot data: one row per customer, no dates
    tables:
      customers:
        path: Customer-Churn-Records.csv
        columns:                     # toolkit name: column in the file
          customer_id: CustomerId
          segment: Card Type
          churned: Exited            # churn as a flag at the snapshot ...
          tenure: Tenure             # ... and tenure instead of an acquisition date
        tenure_unit: years
      surveys:
        path: Customer-Churn-Records.csv   # one file may feed several tables
        columns: {customer_id: CustomerId, csat: Satisfaction Score}
    ratings:
      csat: {scale: [1, 5], top_box: 2}

A table's ``path`` may be a glob (``transactions/*.parquet``, ``parts/**/part-*.csv``): the table is
the union of the matching files, which share their columns. Instead of files, tables may live in a
database or warehouse: a top-level ``connection`` (an Ibis URL such as
``duckdb://warehouse.duckdb`` or ``postgres://analyst:${PGPASSWORD}@db.example.com/shop``;
``${ENV}`` references are expanded when the connection is opened, so passwords stay out of the
file; a relative DuckDB path is relative to the YAML's folder) and ``table:`` (a table or view
name, optionally ``schema.table``) in place of ``path``::

    connection: duckdb://warehouse.duckdb
    tables:
      transactions:
        table: sales.orders
        columns: {customer_id: customer, ordered_at: order_date, revenue: amount}

Paths resolve relative to ``root`` (default: the YAML's folder; a relative ``root`` is relative to
the YAML's folder too); the environment variable ``BSC_DATA_ROOT`` overrides ``root``. Fields are
validated with pydantic and errors name the field path. The schema leaves room for what other
parts of the toolkit read from it: date format and time zone (``read``), separator and encoding
(``read``, per table), the observation window, whether customers are contractual (``clv``), whether
customer ids are masked (``privacy``).
"""

from __future__ import annotations

import difflib
import glob
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bsc_toolkit.contracts import DRIVERS, RatingScale

__all__ = [
    "DESCRIPTION_FILE",
    "ROOT_ENV_VAR",
    "TABLE_COLUMNS",
    "ComputedColumn",
    "DatabaseTable",
    "DatasetDescription",
    "DescriptionError",
    "DriverSpec",
    "PrivacyOptions",
    "RatingSpec",
    "ReadOptions",
    "TableSpec",
    "default_description",
    "has_glob",
    "load_description",
]

#: File name of a data set description inside a data folder.
DESCRIPTION_FILE = "dataset.yaml"
#: Environment variable that overrides the ``root`` of every description.
ROOT_ENV_VAR = "BSC_DATA_ROOT"

#: The toolkit's column names per table (besides rating columns of surveys), with what they hold.
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "customer key (integer or text)",
        "segment": "customer segment (text)",
        "region": "region (text)",
        "channel": "acquisition channel (text)",
        "acquired_at": "first day as a customer (date)",
        "churned_at": "day the customer left (date; empty = active)",
        "churned": "churned by the snapshot date (flag: 1/0, true/false, yes/no)",
        "tenure": "time as a customer at the snapshot (number, in tenure_unit)",
    },
    "surveys": {
        "customer_id": "customer key",
        "surveyed_at": "date of the response (snapshot data: the snapshot date)",
        "csat": "overall satisfaction (declared scale)",
        "nps": "likelihood to recommend, 0-10",
    },
    "transactions": {
        "customer_id": "customer key",
        "ordered_at": "date of the order",
        "revenue": "amount (data set currency; negative for refunds)",
        "cost": "cost of goods and service (data set currency)",
        "order_id": "order or invoice key",
    },
}

#: Public names that map onto the package's internal column names.
_INTERNAL_NAMES = {"revenue": "revenue_usd", "cost": "cost_usd"}

_DEFAULT_NA = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "#N/A"]
_TENURE_MONTHS = {"days": 12 / 365.25, "weeks": 12 / 52.1775, "months": 1.0, "quarters": 3.0, "years": 12.0}


class DescriptionError(ValueError):
    """A data set description is invalid; the message names the file and the field path."""


_GLOB_CHARS = re.compile(r"[*?\[]")
_ENV_REF = re.compile(r"\$(\w+|\{[^}]*\})")
_PASSWORD = re.compile(r"(//[^/:@]*:)[^@/]*@")


def has_glob(path: str | os.PathLike[str]) -> bool:
    """Whether a table path is a glob pattern (``*``, ``?``, ``[...]``; ``**`` spans folders)."""
    return bool(_GLOB_CHARS.search(str(path)))


def hide_password(url: str) -> str:
    """A connection URL fit for messages: a password written in it shows as ``***``."""
    return _PASSWORD.sub(r"\1***@", url)


@dataclass(frozen=True)
class DatabaseTable:
    """A table (or view) of the description's database connection: where ``tables.<t>.table`` points.

    It stands where a table's file stands elsewhere (messages name it as ``<url>#<table>``).

    Attributes
    ----------
    url : str
        The connection URL to open (``${ENV}`` expanded, a relative DuckDB path resolved): may
        hold a password, never shown.
    shown : str
        The URL as the description writes it (``${PGPASSWORD}`` unexpanded, a literal password
        replaced by ``***``), for messages.
    table : str
        The table or view, optionally ``schema.table``.
    """

    url: str
    shown: str
    table: str

    @property
    def name(self) -> str:
        """The table's name (as a file's name is its last part)."""
        return self.table

    @property
    def suffix(self) -> str:
        """No file suffix."""
        return ""

    @property
    def scheme(self) -> str:
        """The connection's kind: ``duckdb``, ``postgres``..."""
        return self.url.split(":", 1)[0].lower()

    @property
    def schema_and_name(self) -> tuple[str | None, str]:
        """``(schema, table)``; the schema None when the table has none."""
        schema, _, name = self.table.rpartition(".")
        return (schema or None), name

    def resolve(self) -> DatabaseTable:
        """Itself (a table has no file path to resolve)."""
        return self

    def is_file(self) -> bool:
        """False: a database table is no file."""
        return False

    def __str__(self) -> str:
        return f"{self.shown}#{self.table}"

    def __fspath__(self) -> str:  # ``Path(source).name`` in messages names the table
        return str(self)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadOptions(_Strict):
    """How to read files (defaults for every table; each table may override).

    Attributes
    ----------
    sep : str, optional
        CSV field separator (default: ``,``).
    encoding : str, optional
        Text encoding of CSV files (default: ``utf-8``; a byte-order mark is skipped).
    dayfirst : bool, optional
        Read ambiguous dates such as 03/04/2024 as day first (3 April). Without it, a column whose
        values read differently day-first and month-first is an error.
    date_format : str, optional
        An explicit ``strftime`` format for every date column, e.g. ``"%d.%m.%Y"``.
    timezone : str, optional
        Time zone that dates with an offset are converted to before the offset is dropped
        (default UTC); dates without an offset are taken as local dates as written.
    na_values : list of str, optional
        Cell texts that mean "missing". ``None`` is *not* one of them by default: a category may be
        called "None".
    sheet : str or int, optional
        Excel sheet (default: the first).
    decimal : {".", ","}, optional
        Decimal mark of numbers written as text (default ``.``). With ``,`` (``12,50``) a ``.`` is
        only accepted as a thousands separator in groups of three (``1.234,56``).
    thousands : str, optional
        Thousands separator of numbers written as text, removed before reading them (e.g. ``","``
        for ``1,234.56``, ``"."`` for ``1.234,56``, ``" "``); default: none.
    """

    sep: str | None = None
    encoding: str | None = None
    dayfirst: bool | None = None
    date_format: str | None = None
    timezone: str | None = None
    na_values: list[str] | None = None
    sheet: str | int | None = None
    decimal: Literal[".", ","] | None = None
    thousands: str | None = None

    @model_validator(mode="after")
    def _separators(self) -> ReadOptions:
        if self.thousands is not None and (self.thousands == (self.decimal or ".") or len(self.thousands) != 1):
            raise ValueError(
                f"thousands: {self.thousands!r} must be one character other than the decimal mark "
                f"{self.decimal or '.'!r}"
            )
        return self

    def merged(self, override: ReadOptions | None) -> ReadOptions:
        """These options with the fields set in ``override`` replacing them."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


class ComputedColumn(_Strict):
    """A column computed from several source columns, e.g. revenue = quantity x unit price."""

    product: list[str] | None = Field(default=None, min_length=2)
    sum: list[str] | None = Field(default=None, min_length=2)

    @model_validator(mode="after")
    def _one_rule(self) -> ComputedColumn:
        if (self.product is None) == (self.sum is None):
            raise ValueError("give exactly one of product: [A, B] or sum: [A, B]")
        return self

    @property
    def sources(self) -> list[str]:
        """The source columns it reads."""
        return list(self.product or self.sum or [])


class TableSpec(_Strict):
    """One table of the data set: its file and how its columns map onto the toolkit's names.

    Attributes
    ----------
    path : str, optional
        The file (``.csv``, ``.parquet``, ``.xlsx``), relative to the data root; or a glob
        (``transactions/*.parquet``, ``**/part-*.csv``) whose files, read in sorted order, make the
        table together (they must have the same columns).
    table : str, optional
        Instead of ``path``: the table or view (``orders``, ``sales.orders``) in the data set's
        ``connection``.
    columns : dict
        Toolkit name -> the file's column, or a computed column (``{product: [Quantity, UnitPrice]}``).
        With a mapping, only mapped columns and those listed in ``keep`` are read: other columns
        (names, addresses...) never reach a report. Mapping a column whose name looks personal is
        an error when loading (:mod:`bsc_toolkit.data.privacy`).
    keep : list of str
        Further file columns to carry under their own names (e.g. for ``by=`` groupings); not
        personal ones (an error when loading).
    read : ReadOptions, optional
        Overrides of the data set's reading options for this file.
    tenure_unit : str
        Unit of the customers table's ``tenure`` column.
    churn_values : list, optional
        Values of the ``churned`` column that mean "churned" (default: 1, true, yes).
    """

    path: str | None = None
    table: str | None = None
    columns: dict[str, str | ComputedColumn] = Field(default_factory=dict)
    keep: list[str] = Field(default_factory=list)
    read: ReadOptions | None = None
    tenure_unit: Literal["days", "weeks", "months", "quarters", "years"] = "months"
    churn_values: list[str | int | float | bool] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TableSpec:
        if (self.path is None) == (self.table is None):
            raise ValueError(
                "give exactly one of path: (a file or glob, relative to the data root) or table: (a table of the "
                "data set's connection)"
            )
        if self.path is not None and not self.path.strip():
            raise ValueError("path: empty; name the table's file, e.g. customers.csv")
        if self.table is not None and not self.table.strip():
            raise ValueError("table: empty; name the table or view in the connection, e.g. sales.orders")
        return self


class RatingSpec(_Strict):
    """The scale of one rating column and its top-box rule."""

    scale: tuple[float, float] = (1, 10)
    top_box: int = 2
    label: str | None = None

    @model_validator(mode="after")
    def _check(self) -> RatingSpec:
        self.as_scale()  # raises ValueError with the reason
        return self

    def as_scale(self) -> RatingScale:
        """The :class:`~bsc_toolkit.contracts.RatingScale`."""
        return RatingScale(float(self.scale[0]), float(self.scale[1]), int(self.top_box))


class DriverSpec(_Strict):
    """A driver of satisfaction rated in the survey (any name: image, value, waiting time...)."""

    name: str
    label: str | None = None
    scale: tuple[float, float] | None = None
    top_box: int = 2

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(
                f"driver name {value!r} must be a Python identifier (letters, digits, _): it becomes a "
                "column name; map the source column to it under tables.surveys.columns"
            )
        return value


class ClvOptions(_Strict):
    """CLV settings (read by the CLV report)."""

    contractual: bool | None = None


class PrivacyOptions(_Strict):
    """Privacy settings.

    Attributes
    ----------
    mask_customer_ids : bool
        Replace every customer id by a pseudonym (``C-1a2b3c4d5e``, see
        :mod:`bsc_toolkit.data.privacy`) when the data set is loaded, unless the caller decides
        otherwise (``load_dataset(..., mask_ids=...)``). Default false.
    not_personal : list of str
        File columns that are not personal data although their names look so (``phone_plan``,
        say): they are read like any other column, may be mapped or kept, and a customer id
        column listed here is not checked for e-mail addresses or phone numbers. Each must name a
        column of a table file (checked when the data set is loaded).
    """

    mask_customer_ids: bool = False
    not_personal: list[str] = Field(default_factory=list)

    @field_validator("not_personal", mode="before")
    @classmethod
    def _one_name(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # `not_personal: phone_plan`

    @field_validator("not_personal")
    @classmethod
    def _column_names(cls, value: list[str]) -> list[str]:
        names = [str(v).strip() for v in value]
        if any(not n for n in names):
            raise ValueError("an empty column name; list the file's column names, e.g. [phone_plan]")
        return list(dict.fromkeys(names))


class DatasetDescription(_Strict):
    """What a data set holds and how to read it (the parsed ``dataset.yaml``).

    Attributes
    ----------
    name : str
        Shown in reports.
    root : str, optional
        Folder the table paths are relative to (relative to the YAML's folder); overridden by
        ``$BSC_DATA_ROOT``.
    connection : str, optional
        An Ibis connection URL (``duckdb://warehouse.duckdb``, ``postgres://user@host/db``) for the
        tables given as ``table:``; ``${ENV}`` references are expanded when it is opened
        (:meth:`connection_url`), a relative DuckDB path is relative to the YAML's folder.
    currency : str
        Currency of the money columns (ISO code, e.g. USD, GBP, EUR).
    frequency : str
        Period of KPI tables and panel models: ``M``, ``Q`` or ``Y``.
    snapshot_date : date, optional
        For snapshot data (one row per customer, churn as a flag, no dates): the day the snapshot
        was taken. Surveys without a date are dated on it.
    observation_start, observation_end : date, optional
        The window the data cover: any date after ``observation_end``, and survey or order dates
        before ``observation_start``, are errors (:mod:`bsc_toolkit.data.plausibility`). Without
        ``observation_end``, dates far after the rest of the data are warnings.
    id_type : {"auto", "int", "str"}
        Customer ids as integers or text (``auto``: integers when every id is a whole number
        without leading zeros).
    read : ReadOptions
        Defaults for reading every file.
    tables : dict
        ``customers``, ``surveys``, ``transactions``: each optional, at least one needed.
    ratings : dict of RatingSpec
        Scale and top-box rule of ``csat``, ``nps`` (always 0-10) and any driver.
    drivers : list of DriverSpec, optional
        The driver ratings in the survey; default: whichever of time, quality, service and cost
        the surveys hold.
    clv : ClvOptions
    privacy : PrivacyOptions
        ``mask_customer_ids``: show customer ids as pseudonyms only; ``not_personal``: file columns
        wrongly taken for personal data by their names.
    """

    name: str = "data set"
    root: str | None = None
    connection: str | None = None
    currency: str = "USD"
    frequency: Literal["M", "Q", "Y"] = "Q"
    snapshot_date: pd.Timestamp | None = None
    observation_start: pd.Timestamp | None = None
    observation_end: pd.Timestamp | None = None
    id_type: Literal["auto", "int", "str"] = "auto"
    read: ReadOptions = Field(default_factory=ReadOptions)
    tables: dict[Literal["customers", "surveys", "transactions"], TableSpec] = Field(default_factory=dict)
    ratings: dict[str, RatingSpec] = Field(default_factory=dict)
    drivers: list[DriverSpec] | None = None
    clv: ClvOptions = Field(default_factory=ClvOptions)
    privacy: PrivacyOptions = Field(default_factory=PrivacyOptions)
    #: Folder of the YAML file (set by :func:`load_description`; not part of the YAML).
    base_dir: Path | None = Field(default=None, exclude=True)

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @field_validator("snapshot_date", "observation_start", "observation_end", mode="before")
    @classmethod
    def _date(cls, value: Any) -> pd.Timestamp | None:
        if value is None:
            return None
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a date: {value!r}; write it as 2024-12-31") from exc
        if ts is pd.NaT or pd.isna(ts):
            raise ValueError(f"not a date: {value!r}")
        return ts.tz_localize(None) if ts.tzinfo is not None else ts

    @field_validator("connection")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
            raise ValueError(
                f"{hide_password(value)!r} is not a connection URL; write it as duckdb://warehouse.duckdb or "
                "postgres://user@host/database (a password as ${PGPASSWORD}, set in the environment)"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not (value.isalpha() and 2 <= len(value) <= 5):
            raise ValueError(f"currency should be a code such as USD, EUR or GBP, not {value!r}")
        return value.upper()

    @field_validator("ratings")
    @classmethod
    def _nps_scale(cls, value: dict[str, RatingSpec]) -> dict[str, RatingSpec]:
        nps = value.get("nps")
        if nps is not None and tuple(float(v) for v in nps.scale) != (0.0, 10.0):
            raise ValueError(
                "nps: the Net Promoter Score is defined on the 0-10 'how likely are you to recommend' "
                f"scale, not {nps.scale[0]:g}-{nps.scale[1]:g}; map a recommend rating on another scale as "
                "a driver instead"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetDescription:
        if self.observation_start and self.observation_end and self.observation_start > self.observation_end:
            raise ValueError("observation_start is after observation_end")
        names = [d.name for d in self.drivers or []]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"drivers: {repeated} declared more than once")
        clash = [n for n in names if n in ("csat", "nps", "customer_id", "surveyed_at")]
        if clash:
            raise ValueError(f"drivers: {clash} is a reserved column name")
        for table, spec in self.tables.items():
            if spec.table is not None and self.connection is None:
                raise ValueError(
                    f"tables.{table}.table: {spec.table!r} names a database table but the description has no "
                    "connection: add connection: (e.g. duckdb://warehouse.duckdb), or give the file as path:"
                )
            known = set(TABLE_COLUMNS[table])
            if table == "surveys":
                known |= {"csat", "nps", *names, *self.ratings, *DRIVERS}
            unknown = [c for c in spec.columns if c not in known and c not in _INTERNAL_NAMES.values()]
            if unknown:
                hints = []
                for col in unknown:
                    close = difflib.get_close_matches(col, sorted(known), n=1)
                    hints.append(f"{col!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
                extra = " (declare driver ratings under drivers:)" if table == "surveys" else ""
                raise ValueError(
                    f"tables.{table}.columns: unknown toolkit column(s) {', '.join(hints)}; the keys are the "
                    f"toolkit's names ({', '.join(sorted(known))}){extra} and the values the file's columns"
                )
            if "customer_id" not in spec.columns and table != "customers":
                pass  # the file's own customer_id column is used
        return self

    # ------------------------------------------------------------------ resolved views

    @property
    def is_snapshot(self) -> bool:
        """True for snapshot data (a ``snapshot_date`` is declared)."""
        return self.snapshot_date is not None

    def data_root(self) -> Path:
        """The folder table paths are relative to (``$BSC_DATA_ROOT`` > ``root`` > the YAML's folder)."""
        env = os.environ.get(ROOT_ENV_VAR)
        if env:
            return Path(env).expanduser()
        base = self.base_dir or Path.cwd()
        if self.root:
            root = Path(os.path.expandvars(self.root)).expanduser()
            return root if root.is_absolute() else (base / root)
        return base

    def table_path(self, table: str) -> Path | None:
        """Resolved path of ``table``'s file (or glob pattern); None when the description has no such
        table or the table is in the database (``table:``, see :meth:`table_source`)."""
        spec = self.tables.get(table)  # type: ignore[call-overload]
        if spec is None or spec.path is None:
            return None
        path = Path(os.path.expandvars(spec.path)).expanduser()
        return path if path.is_absolute() else (self.data_root() / path).resolve()

    def table_files(self, table: str) -> list[Path]:
        """The files of ``table``: its file, or the files its glob matches (sorted); [] for none.

        A file that does not exist is not listed (:func:`bsc_toolkit.data.io.load_dataset` says so).
        """
        path = self.table_path(table)
        if path is None:
            return []
        if not has_glob(path):
            return [path] if path.is_file() else []
        return sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())

    def table_source(self, table: str) -> Path | DatabaseTable | None:
        """Where ``table`` is: its file or glob pattern (:meth:`table_path`), or its database table
        (:class:`DatabaseTable`); None when the description has no such table.

        Raises
        ------
        DescriptionError
            When the connection refers to an environment variable that is not set.
        """
        spec = self.tables.get(table)  # type: ignore[call-overload]
        if spec is None:
            return None
        if spec.table is None:
            return self.table_path(table)
        return DatabaseTable(url=self.connection_url(), shown=hide_password(self.connection or ""), table=spec.table)

    def connection_url(self) -> str:
        """The connection URL to open: ``${ENV}`` expanded, a relative DuckDB path made absolute.

        A relative DuckDB database path (``duckdb://warehouse.duckdb``) is relative to the YAML's
        folder; ``duckdb:///abs/path.duckdb`` is absolute.

        Raises
        ------
        DescriptionError
            When there is no connection, or it refers to an environment variable that is not set.
        """
        if self.connection is None:
            raise DescriptionError("the data set description has no connection")
        unset = [m.group(1).strip("{}") for m in _ENV_REF.finditer(self.connection)]
        unset = [name for name in unset if name not in os.environ]
        if unset:
            raise DescriptionError(
                f"connection: environment variable(s) {', '.join(dict.fromkeys(unset))} not set; set them before "
                f"opening {hide_password(self.connection)!r}"
            )
        url = os.path.expandvars(self.connection)
        scheme, _, rest = url.partition("://")
        if scheme.lower() == "duckdb":
            path, sep, query = rest.partition("?")
            if path and path != ":memory:" and not path.startswith(("/", "md:", "motherduck:")):
                base = self.base_dir or Path.cwd()
                path = str((base / Path(path).expanduser()).resolve())
                url = f"duckdb://{path}{sep}{query}"
        return url

    def read_options(self, table: str) -> ReadOptions:
        """Reading options of ``table`` (the data set's, overridden by the table's)."""
        spec = self.tables.get(table)  # type: ignore[call-overload]
        options = self.read.merged(spec.read if spec else None)
        if options.na_values is None:
            options = options.model_copy(update={"na_values": list(_DEFAULT_NA)})
        return options

    def column_map(self, table: str) -> dict[str, str | ComputedColumn]:
        """Toolkit (internal) column name -> source column or computed rule."""
        spec = self.tables.get(table)  # type: ignore[call-overload]
        if spec is None:
            return {}
        if table != "transactions":
            return dict(spec.columns)
        return {_INTERNAL_NAMES.get(k, k): v for k, v in spec.columns.items()}

    def source_name(self, table: str, column: str) -> str | None:
        """The file's name for a toolkit column (for error messages), if it was mapped."""
        mapped = self.column_map(table).get(column)
        if isinstance(mapped, str):
            return mapped
        if isinstance(mapped, ComputedColumn):
            op = "x" if mapped.product else "+"
            return f" {op} ".join(mapped.sources)
        return None

    def tenure_months_factor(self) -> float:
        """Months per unit of the customers table's ``tenure`` column."""
        spec = self.tables.get("customers")
        return _TENURE_MONTHS[spec.tenure_unit if spec else "months"]

    def driver_names(self, surveys_columns: Iterator[str] | list[str] | None = None) -> tuple[str, ...]:
        """Declared drivers, or the default four that ``surveys_columns`` holds."""
        if self.drivers is not None:
            return tuple(d.name for d in self.drivers)
        cols = set(surveys_columns or [])
        return tuple(d for d in DRIVERS if d in cols)

    def driver_labels(self) -> dict[str, str]:
        """Display label per driver (the name when no label is given)."""
        labels = {d: d for d in DRIVERS}
        for d in self.drivers or []:
            labels[d.name] = d.label or d.name
        return labels

    def scale(self, rating: str) -> RatingScale:
        """Scale of a rating column: declared, else 0-10 for nps and 1-10 otherwise."""
        for d in self.drivers or []:
            if d.name == rating and d.scale is not None:
                return RatingScale(float(d.scale[0]), float(d.scale[1]), d.top_box)
        spec = self.ratings.get(rating)
        if spec is not None:
            return spec.as_scale()
        return RatingScale(0, 10) if rating == "nps" else RatingScale(1, 10)

    def scales(self, ratings: list[str] | tuple[str, ...]) -> dict[str, RatingScale]:
        """:meth:`scale` for several rating columns."""
        return {r: self.scale(r) for r in ratings}


def default_description(data_dir: str | Path | None = None) -> DatasetDescription:
    """The description of a folder without ``dataset.yaml``: tables named customers/surveys/transactions.

    Every table is optional; columns already carry the toolkit's names, ratings are on 1-10 (nps
    0-10), amounts in USD.
    """
    return DatasetDescription(name=Path(data_dir).name if data_dir else "data set", base_dir=_as_path(data_dir))


def _as_path(value: str | Path | None) -> Path | None:
    return Path(value) if value is not None else None


def _describe_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<top level>"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
            parent = e["loc"][:-1]
            field = str(e["loc"][-1])
            options = _fields_at(parent)
            close = difflib.get_close_matches(field, options, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            elif options:
                msg += f"; allowed: {', '.join(options)}"
        lines.append(f"  - {path}: {msg}")
    return f"Invalid data set description '{source}':\n" + "\n".join(lines)


def _fields_at(loc: tuple) -> list[str]:
    if not loc:
        return sorted(f for f in DatasetDescription.model_fields if f != "base_dir")
    model: type[BaseModel] | None = DatasetDescription
    for part in loc:
        if model is None:
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            if model is DatasetDescription:
                return []
            continue
        ann = field.annotation
        model = None
        for cand in (ReadOptions, TableSpec, RatingSpec, DriverSpec, ClvOptions, PrivacyOptions):
            if cand.__name__ in str(ann):
                model = cand
                break
        if str(part) == "tables":
            model = TableSpec
    return sorted(model.model_fields) if model is not None and model is not DatasetDescription else []


def description_from_dict(raw: Any, source: str = "<dict>", base_dir: Path | None = None) -> DatasetDescription:
    """Validate a parsed YAML mapping into a :class:`DatasetDescription`.

    Raises
    ------
    DescriptionError
        Naming ``source`` and each invalid field path.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DescriptionError(f"Invalid data set description '{source}': expected a mapping of fields at the top")
    if isinstance(raw.get("tables"), dict):
        # a table given as a plain path: `customers: customers.csv`
        raw = {**raw, "tables": {k: {"path": v} if isinstance(v, str) else v for k, v in raw["tables"].items()}}
        raw["tables"] = {k: v for k, v in raw["tables"].items() if v is not None}
    try:
        desc = DatasetDescription.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as err:
        raise DescriptionError(_describe_error(err, source)) from err
    for name in ("snapshot_date", "observation_start", "observation_end"):
        value = getattr(desc, name)
        if value is not None and not math.isfinite(value.value):
            raise DescriptionError(f"Invalid data set description '{source}':\n  - {name}: not a date")
    return desc


def load_description(path: str | Path) -> DatasetDescription:
    """Read and validate a ``dataset.yaml`` file (or the one in a folder).

    Parameters
    ----------
    path : str or Path
        The YAML file, or a folder holding ``dataset.yaml``.

    Returns
    -------
    DatasetDescription

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    DescriptionError
        If the YAML is malformed or a field is invalid (the message names the field path).
    """
    path = Path(path)
    if path.is_dir():
        path = path / DESCRIPTION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no data set description: '{path}' does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise DescriptionError(f"'{path}' is not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DescriptionError(f"'{path}' is not UTF-8 text: {exc}") from exc
    return description_from_dict(raw, source=str(path), base_dir=path.parent.resolve())
