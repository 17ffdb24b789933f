"""The engines' settings: what a report or a nightly job relies on."""

from __future__ import annotations

import pytest

from bsc_toolkit.engine import backends
from bsc_toolkit.engine.backends import EngineError, connect


def _setting(backend, name: str):
    return backend.raw_sql(f"select current_setting('{name}')").fetchall()[0][0]


def test_duckdb_settings(monkeypatch):
    monkeypatch.delenv(backends.DUCKDB_MEMORY_ENV, raising=False)
    con = connect("duckdb")
    # no progress bar: in a kernel DuckDB draws it as a widget, which a report would show as a control
    assert _setting(con, "enable_progress_bar") is False
    assert _setting(con, "parquet_can_have_nan") is True  # NaN in Parquet is missing, as in pandas
    expected = backends.default_duckdb_memory_limit()  # 4GB here: DuckDB shows it as 3.7 GiB
    assert _setting(con, "memory_limit") == _setting(connect("duckdb", memory_limit=expected), "memory_limit")
    monkeypatch.setenv(backends.DUCKDB_MEMORY_ENV, "512MB")
    assert _setting(connect("duckdb"), "memory_limit").startswith("488")  # 512 MB = 488.2 MiB


def test_default_memory_limit_is_bounded(monkeypatch):
    monkeypatch.setattr(backends, "_memory_bytes", lambda: 24 * 2**30)
    assert backends.default_duckdb_memory_limit() == "4GB"
    monkeypatch.setattr(backends, "_memory_bytes", lambda: 3 * 2**30)  # a 3 GiB cgroup: half of it
    assert backends.default_duckdb_memory_limit() == "1536MB"
    monkeypatch.setattr(backends, "_memory_bytes", lambda: None)
    assert backends.default_duckdb_memory_limit() == "4GB"


@pytest.mark.parametrize(
    ("master", "partitions"),
    [("local[2]", 4), ("local[8,2]", 16), ("local", 2), ("yarn", 200), ("spark://h:7077", 200)],
)
def test_spark_shuffle_partitions_follow_the_local_cores(master, partitions):
    assert backends._shuffle_partitions(master) == partitions


def test_pandas_and_unknown_engines_have_no_backend():
    with pytest.raises(EngineError, match="in-memory implementation"):
        connect("pandas")
    with pytest.raises(EngineError, match="unknown engine 'polars'"):
        connect("polars")
