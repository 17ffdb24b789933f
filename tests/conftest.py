"""Shared fixtures: small simulated data sets with fixed seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bsc_toolkit.data.simulate import SimulatedData, simulate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_sim() -> SimulatedData:
    """1,000 customers over 8 quarters (fast; for shape and contract checks)."""
    return simulate(n_customers=1000, seed=11)


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory, small_sim: SimulatedData) -> Path:
    """``small_sim`` written as CSV files."""
    return small_sim.to_dir(tmp_path_factory.mktemp("small"))
