"""Simulators of the BG/NBD and Gamma-Gamma generative processes (for parameter recovery tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_gamma_gamma"]


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray,
    seed: int | None = None,
    holdout: float = 0.0,
) -> pd.DataFrame:
    """Simulate RFM summaries from the BG/NBD generative process.

    Each customer makes a first purchase at time 0, then repeat purchases at the
    events of a Poisson process with rate ``lambda ~ Gamma(r, rate=alpha)``; after
    each repeat purchase they drop out with probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        BG/NBD parameters.
    T : float or array of length n
        Calibration age of each customer.
    seed : int, optional
        Seed for ``numpy.random.default_rng``.
    holdout : float, default 0
        Length of an additional period after ``T``; its purchases are counted in
        ``frequency_holdout``.

    Returns
    -------
    DataFrame with columns frequency, recency, T, frequency_holdout,
    duration_holdout, alive (at T), lambda_, p_ (the latent truths); index
    ``customer_id`` 0..n-1.
    """
    if min(r, alpha, a, b) <= 0:
        raise ValueError("all BG/NBD parameters must be positive")
    rng = np.random.default_rng(seed)
    TT = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if (TT <= 0).any():
        raise ValueError("T must be positive")
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    n_until_dropout = rng.geometric(p)  # repeat purchases made before dropping out (>= 1)
    horizon = TT + holdout
    n_events = rng.poisson(lam * horizon)
    cust = np.repeat(np.arange(n), n_events)
    times = rng.uniform(0.0, 1.0, size=cust.size) * horizon[cust]
    order = np.lexsort((times, cust))
    cust, times = cust[order], times[order]
    starts = np.cumsum(n_events) - n_events
    rank = np.arange(cust.size) - starts[cust]
    kept = rank < n_until_dropout[cust]
    cust, times = cust[kept], times[kept]
    in_cal = times <= TT[cust]
    freq_cal = np.bincount(cust[in_cal], minlength=n)
    recency = np.zeros(n)
    np.maximum.at(recency, cust[in_cal], times[in_cal])
    freq_hold = np.bincount(cust[~in_cal], minlength=n)
    return pd.DataFrame(
        {
            "frequency": freq_cal.astype(float),
            "recency": recency,
            "T": TT,
            "frequency_holdout": freq_hold.astype(float),
            "duration_holdout": float(holdout),
            "alive": n_until_dropout > freq_cal,
            "lambda_": lam,
            "p_": p,
        },
        index=pd.Index(np.arange(n), name="customer_id"),
    )


def simulate_gamma_gamma(frequency: Any, p: float, q: float, gamma: float, seed: int | None = None) -> pd.DataFrame:
    """Simulate mean repeat-transaction values from the Gamma-Gamma process.

    For a customer with ``x`` transactions, ``nu ~ Gamma(q, rate=gamma)`` and each
    value ``z ~ Gamma(p, rate=nu)``, so the mean is ``Gamma(p x, rate=nu x)``.

    Returns
    -------
    DataFrame with columns frequency, monetary_value (0 where frequency is 0) and
    the latent ``nu_``; index like ``frequency`` if it is a Series.
    """
    if min(p, q, gamma) <= 0:
        raise ValueError("all Gamma-Gamma parameters must be positive")
    x = np.asarray(frequency, dtype=float)
    if (x < 0).any() or np.isnan(x).any():
        raise ValueError("frequency must be non-negative and not NaN")
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1.0 / gamma, size=x.size)
    pos = x > 0
    m = np.zeros(x.size)
    m[pos] = rng.gamma(p * x[pos], 1.0 / (nu[pos] * x[pos]))
    index = frequency.index if isinstance(frequency, pd.Series) else pd.RangeIndex(x.size, name="customer_id")
    return pd.DataFrame({"frequency": x, "monetary_value": m, "nu_": nu}, index=index)
