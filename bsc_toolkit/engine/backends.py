"""Where the data-sized steps run: DuckDB in this process (default), Spark (local or a cluster), or pandas.

The heavy aggregations of the toolkit (KPI tables per period and segment, the customer-period panel,
the RFM summary, the whale curve's customer totals) are written once as Ibis expressions
(:mod:`bsc_toolkit.engine`) and run on the backend returned by :func:`connect`. Only aggregated
results come back to pandas. ``"pandas"`` is the toolkit's in-memory implementation
(:mod:`bsc_toolkit.metrics`, :mod:`bsc_toolkit.panel`...), kept as the reference the engines are tested
against and for Excel input.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # imported lazily: the pandas engine needs neither
    import ibis
    from ibis.backends import BaseBackend

    from bsc_toolkit.data.description import DatasetDescription

__all__ = [
    "ENGINES",
    "EngineError",
    "EngineTables",
    "Engine",
    "connect",
    "spark_session",
    "java_problem",
]

Engine = Literal["duckdb", "spark", "pandas"]
#: Engines ``bsc kpis`` / ``bsc report`` accept, the default first.
ENGINES: tuple[str, ...] = ("duckdb", "spark", "pandas")

#: Environment variables read when a Spark session is started here (not when one is active already).
SPARK_MASTER_ENV = "BSC_SPARK_MASTER"  # default local[2]
SPARK_MEMORY_ENV = "BSC_SPARK_DRIVER_MEMORY"  # default 2g
DUCKDB_MEMORY_ENV = "BSC_DUCKDB_MEMORY_LIMIT"  # e.g. 8GB; default: default_duckdb_memory_limit()


class EngineError(RuntimeError):
    """An engine cannot run: not installed, no Java for Spark, or a data set it cannot read."""


def java_problem() -> str | None:
    """Why Spark cannot start here (no ``java`` on PATH nor in ``$JAVA_HOME``), or None."""
    import shutil

    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return None
    if shutil.which("java"):
        return None
    return (
        "Spark needs Java (17 or 21) and none was found (no java on PATH, JAVA_HOME unset): install it "
        "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; `make setup` does so when it can)"
    )


def _cgroup_limit() -> int | None:
    """The smallest memory limit of this process's cgroup and its parents (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``), also read at the cgroup root a container sees; None when none is set."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    files: list[Path] = [Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")]
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            base, name = Path("/sys/fs/cgroup"), "memory.max"
        elif "memory" in controllers.split(","):
            base, name = Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"
        else:
            continue
        folder = base / path.strip("/")
        while True:  # the leaf, then each parent up to the root
            files.append(folder / name)
            if folder == base:
                break
            folder = folder.parent
    limits = []
    for file in dict.fromkeys(files):
        try:
            text = file.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            limits.append(int(text))
    return min(limits) if limits else None


def _memory_bytes() -> int | None:
    """This process's memory: its cgroup's limit when one is set (containers, CI), else the physical RAM."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    known = [m for m in (_cgroup_limit(), ram) if m]
    return min(known) if known else None


def default_duckdb_memory_limit() -> str:
    """DuckDB's memory limit unless ``$BSC_DUCKDB_MEMORY_LIMIT`` says otherwise: 4 GB, or half the memory when less.

    DuckDB's own default (80 % of the RAM) let one customer-period panel of 100M transactions peak at
    10.3 GiB; at 4GB the same step peaked at 4.1 GiB and took 78 s (it spills to disk past the
    limit: ``benchmarks/bench_warehouse.py``). Bounded by default, as a job that runs nightly beside
    others should be; a cgroup's limit (container, CI) counts as the memory.
    """
    memory = _memory_bytes()
    if memory is None or memory >= 8 * 2**30:
        return "4GB"
    return f"{max(memory // 2 // 2**20, 256)}MB"


def _shuffle_partitions(master: str) -> int:
    """Shuffle partitions: twice the cores of a local master (``local[4]``: 8; ``local[*]``: 2 x CPUs), else 200."""
    if not master.startswith("local"):
        return 200
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    first = inside.split(",")[0].strip()
    cores = (os.cpu_count() or 2) if first == "*" else int(first or 1)
    return 2 * max(cores, 1)


def spark_session(master: str | None = None, driver_memory: str | None = None, conf: dict[str, str] | None = None):
    """The active Spark session, or a new one (local mode by default).

    Under ``spark-submit`` or on a managed cluster the session that is already active is used as it
    is: its master and configuration are the cluster's. Otherwise a session is started with master
    ``master`` (default ``$BSC_SPARK_MASTER`` or ``local[2]``), the driver memory ``driver_memory``
    (default ``$BSC_SPARK_DRIVER_MEMORY`` or ``2g``), the session time zone UTC (dates are
    calendar dates: no shift between the machine's zone and the data's), no web UI, and few shuffle
    partitions (``2 x`` the cores in local mode: the aggregates are small).

    Parameters
    ----------
    master : str, optional
    driver_memory : str, optional
    conf : dict, optional
        Further Spark settings (``{"spark.sql.shuffle.partitions": "64"}``...).

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    EngineError
        When pyspark is not installed or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pyspark is the `spark` extra
        raise EngineError(
            "the spark engine needs pyspark: pip install 'bsc-toolkit[spark]' (pyspark 3.5 to 4.0) and Java 17/21"
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    problem = java_problem()
    if problem:
        raise EngineError(problem)
    master = master or os.environ.get(SPARK_MASTER_ENV, "local[2]")
    builder = (
        SparkSession.builder.master(master)
        .appName("bsc-toolkit")
        .config("spark.driver.memory", driver_memory or os.environ.get(SPARK_MEMORY_ENV, "2g"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(_shuffle_partitions(master)))
        .config("spark.sql.ansi.enabled", "false")  # Spark 4 defaults to ANSI: NULL on a bad cast, as DuckDB
        # results come back through Arrow (Ibis calls toPandas(): row by row without it, 3x slower at 1M rows)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(
    engine: str = "duckdb",
    *,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    session: Any = None,
) -> BaseBackend:
    """An Ibis backend for ``engine``.

    Parameters
    ----------
    engine : {"duckdb", "spark"}
        ``"duckdb"``: an in-memory DuckDB database in this process; it streams Parquet and CSV files
        and spills to ``temp_directory`` past ``memory_limit`` (out-of-core). ``"spark"``: the
        active Spark session or a local one (:func:`spark_session`).
    memory_limit : str, optional
        DuckDB only, e.g. ``"8GB"`` (default ``$BSC_DUCKDB_MEMORY_LIMIT``, else
        :func:`default_duckdb_memory_limit`: 4 GB, or half the memory of a smaller machine or cgroup).
    temp_directory : path-like, optional
        DuckDB only: where it spills (default: a folder in the system's temporary directory).
    threads : int, optional
        DuckDB only (default: every core).
    session : pyspark.sql.SparkSession, optional
        Spark only: the session to use.

    Returns
    -------
    ibis.backends.BaseBackend

    Raises
    ------
    EngineError
        For ``"pandas"`` (not an Ibis backend: use the pandas functions), an unknown engine, or
        Spark without Java.
    """
    import ibis

    if engine == "duckdb":
        config: dict[str, Any] = {}
        config["memory_limit"] = memory_limit or os.environ.get(DUCKDB_MEMORY_ENV) or default_duckdb_memory_limit()
        spill = Path(tempfile.gettempdir()) / f"bsc-duckdb-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        config["temp_directory"] = str(temp_directory or spill)
        if threads:
            config["threads"] = int(threads)
        config["preserve_insertion_order"] = False  # lets large scans stream
        backend = ibis.duckdb.connect(**config)
        # no progress bar: in a notebook kernel DuckDB draws it as an ipywidget, which a report shows as
        # "An interactive control is shown here" for every query longer than 2 s
        backend.con.execute("SET enable_progress_bar = false")
        # a float NaN in Parquet is a missing value here: without this DuckDB 2 trusts pyarrow's column
        # statistics that say a column has no NaN, and isnan() comes out false (duckdb issue #25521)
        try:
            backend.con.execute("SET parquet_can_have_nan = true")
        except Exception:  # noqa: BLE001 - DuckDB before 2.0 has no such setting and reads NaN as it is
            pass
        return backend
    if engine == "spark":
        session = session if session is not None else spark_session()  # says what is missing (pyspark, Java)
        return ibis.pyspark.connect(session)
    if engine == "pandas":
        raise EngineError("the pandas engine is the in-memory implementation: it has no Ibis backend")
    raise EngineError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class EngineTables:
    """The tables of a data set as Ibis expressions on one backend, in the toolkit's column names.

    Columns are those of :class:`bsc_toolkit.data.io.CustomerData`'s frames: ``customer_id`` (int64
    or string), dates as timestamps (``acquired_at``, ``churned_at``, ``surveyed_at``,
    ``ordered_at``), ratings as float64, amounts as float64 ``revenue_usd`` / ``cost_usd`` (in the
    data set's currency). A table the data set lacks is None.

    Attributes
    ----------
    backend : ibis.backends.BaseBackend
    engine : {"duckdb", "spark"}
    description : DatasetDescription
    customers, surveys, transactions : ibis.Table or None
    source : str
        Where the tables came from (folder, glob, connection), for reports and errors.
    notes : tuple of str
        What opening the tables did that an analyst should know.
    """

    backend: BaseBackend
    engine: str
    description: DatasetDescription
    customers: ibis.Table | None = None
    surveys: ibis.Table | None = None
    transactions: ibis.Table | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def table(self, name: str) -> ibis.Table | None:
        """One table by name (``"customers"``, ``"surveys"``, ``"transactions"``)."""
        return getattr(self, name)

    @property
    def freq(self) -> str:
        """Period frequency declared for KPI tables and panel models."""
        return self.description.frequency


def tables_from_frames(
    data: Any, backend: BaseBackend, engine: str, folder: str | os.PathLike[str] | None = None
) -> EngineTables:
    """Put the frames of a loaded :class:`~bsc_toolkit.data.io.CustomerData` on a backend.

    The frames are written as Parquet files (timestamps in microseconds, missing values as nulls,
    not NaN) into ``folder`` (default: a new temporary folder) and read back by the backend, so
    DuckDB and Spark see the same typed columns. For tests and for comparing engines on data
    already in memory.

    Parameters
    ----------
    data : CustomerData
    backend : ibis.backends.BaseBackend
    engine : {"duckdb", "spark"}
    folder : path-like, optional

    Returns
    -------
    EngineTables
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="bsc-engine-"))
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = {}
    for name in ("customers", "surveys", "transactions"):
        frame = getattr(data, name)
        if name not in data.tables_present:
            tables[name] = None
            continue
        arrow = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        path = folder / f"{name}.parquet"
        pq.write_table(arrow, path, coerce_timestamps="us", allow_truncated_timestamps=True)
        tables[name] = backend.read_parquet(str(path), table_name=f"bsc_{name}_{abs(hash(str(path))) % 10**8}")
    return EngineTables(backend=backend, engine=engine, description=data.description, source=str(folder), **tables)
