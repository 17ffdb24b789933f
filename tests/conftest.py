"""Shared fixtures: small simulated data sets with fixed seeds.

Markers (registered in pyproject.toml; unknown markers are errors):

``slow``
    Any test that takes more than ~2 s on the 2-core CI machine: notebook executions, statistical
    recovery on large simulations, bootstrap loops. ``make test-fast`` (``pytest -m "not slow"``)
    skips them and must stay under a minute; ``make test`` and CI run everything.

Fixtures that simulate or fit are session-scoped so that many tests share one computation; tests
must not mutate what they receive (copy first).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bsc_toolkit.data.simulate import SimulatedData, simulate
from tests.reports_fixture import built_reports  # noqa: F401  (the default suite built once per session)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_sim() -> SimulatedData:
    """1,000 customers over 8 quarters (fast; for shape and contract checks)."""
    return simulate(n_customers=1000, seed=11)


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory, small_sim: SimulatedData) -> Path:
    """``small_sim`` written as CSV files."""
    return small_sim.to_dir(tmp_path_factory.mktemp("small"))
