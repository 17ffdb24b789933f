"""Engine fixtures: the default data set on DuckDB and on Spark (local mode), one backend per session.

Spark needs Java. Without it the Spark tests are skipped with the reason, unless
``BSC_REQUIRE_SPARK=1`` (set by ``.ci/run``): then they fail, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import signal

import pytest

from bsc_toolkit.data.io import CustomerData, default_data_dir, load_dataset
from bsc_toolkit.engine import EngineTables, connect, tables_from_frames
from bsc_toolkit.engine.backends import java_problem
from tests.shapes import make_variant

ENGINE_NAMES = ("duckdb", "spark")


@pytest.fixture(scope="session")
def default_data() -> CustomerData:
    """The default synthetic data set, loaded by the pandas pipeline (the reference)."""
    return load_dataset()


@pytest.fixture(scope="session")
def shape_data(tmp_path_factory):
    """``shape_data(name)`` -> the shape ``name`` of tests/shapes.py made from the default data and loaded
    by the pandas pipeline (built once per session)."""
    cache: dict[str, CustomerData] = {}
    root = tmp_path_factory.mktemp("shapes")

    def get(name: str) -> CustomerData:
        if name not in cache:
            cache[name] = load_dataset(make_variant(name, default_data_dir(), root / name))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def duckdb_backend():
    """An in-memory DuckDB backend."""
    return connect("duckdb")


@pytest.fixture(scope="session")
def spark_backend():
    """A local Spark backend (skipped without Java unless BSC_REQUIRE_SPARK=1)."""
    problem = java_problem()
    if problem:
        if os.environ.get("BSC_REQUIRE_SPARK") == "1":
            pytest.fail(f"BSC_REQUIRE_SPARK=1 but {problem}")
        pytest.skip(problem)
    # SparkContext installs its own SIGINT handler (cancel jobs, then KeyboardInterrupt); the other tests
    # of this process expect Python's, so it is put back
    sigint = signal.getsignal(signal.SIGINT)
    try:
        return connect("spark")
    finally:
        signal.signal(signal.SIGINT, sigint)


@pytest.fixture(scope="session", params=[pytest.param("duckdb"), pytest.param("spark", marks=pytest.mark.slow)])
def engine_name(request) -> str:
    """Each engine in turn."""
    return request.param


@pytest.fixture(scope="session")
def backend_for(request):
    """``backend_for("duckdb")`` -> the session's backend of that engine."""

    def get(engine: str):
        return request.getfixturevalue(f"{engine}_backend")

    return get


@pytest.fixture(scope="session")
def default_tables(default_data, backend_for, engine_name, tmp_path_factory) -> EngineTables:
    """The default data set's tables on each engine in turn."""
    backend = backend_for(engine_name)
    return tables_from_frames(default_data, backend, engine_name, tmp_path_factory.mktemp(f"default-{engine_name}"))
