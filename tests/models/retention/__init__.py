"""Tests for bsc_toolkit.models.retention; data shared by them."""

from __future__ import annotations

import numpy as np
import pandas as pd


def separated_panel(n: int = 400, seed: int = 0, *, varying_exposure: bool = False) -> pd.DataFrame:
    """A customer-period panel with separation: csat 1-2 always churns, 4-5 never (3: either).

    ``at_risk_fraction`` is 1 (a full period each), or drawn from 0.3-1 with ``varying_exposure``.
    """
    rng = np.random.default_rng(seed)
    csat = rng.integers(1, 6, n).astype(float)
    churned = np.where(csat <= 2, True, np.where(csat >= 4, False, rng.uniform(size=n) < 0.5))
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "churned": churned,
            "at_risk_fraction": rng.uniform(0.3, 1.0, n) if varying_exposure else 1.0,
            "csat": csat,
            "segment": rng.choice(["consumer", "smb"], n),
            "tenure_years": rng.uniform(0, 5, n),
        }
    )
