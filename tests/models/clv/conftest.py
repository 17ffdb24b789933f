"""Fixtures of the CLV tests: a BG/NBD fit to simulated data with known truth, the CDNOW data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.datasets import find_cdnow
from bsc_toolkit.models.clv import BetaGeoFitter, simulate_bgnbd
from tests.models.clv import TRUE_BG


def cdnow_dir() -> Path:
    d = find_cdnow()
    needed = ("CDNOW_sample.txt", "cdnow_customers_summary_with_transactions.csv")
    if d is None or not all((d / f).is_file() for f in needed):
        pytest.skip(f"CDNOW files {list(needed)} not found (see find_cdnow); set BSC_CDNOW_DIR")
    return d


@pytest.fixture(scope="session")
def sim_fit() -> tuple[pd.DataFrame, BetaGeoFitter]:
    """8,000 simulated customers from TRUE_BG and the BG/NBD fitted to them (about 1 s)."""
    rng = np.random.default_rng(1)
    T = rng.uniform(27.0, 39.0, size=8000)
    sim = simulate_bgnbd(8000, T=T, seed=42, **TRUE_BG)
    return sim, BetaGeoFitter().fit(sim)


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    from bsc_toolkit.data.datasets import load_cdnow_summary

    return load_cdnow_summary(cdnow_dir())
