"""Simulator of the shifted-beta-geometric (sBG) process of contractual retention (recovery tests).

Its truth is the sBG's own parameters, a logit covariate on the mean churn probability included;
the panel simulator :mod:`bsc_toolkit.data.simulate` has a cloglog hazard truth instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate_sbg"]


def simulate_sbg(
    n: int,
    alpha: float,
    beta: float,
    n_periods: int | Any,
    covariates: pd.DataFrame | None = None,
    gamma: Mapping[str, float] | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Simulate subscribers from the sBG process, observed for a number of periods.

    Customer ``i`` draws a churn probability ``theta_i ~ Beta(alpha_i, beta)`` with
    ``alpha_i = alpha * exp(sum_j gamma_j (z_ij - mean_j))`` (covariates centred on their mean over
    the ``n`` customers, as :class:`~bsc_toolkit.models.clv.sbg.ShiftedBetaGeoFitter` centres them,
    so its ``alpha`` estimates ``alpha``), then renews at the end of every period with probability
    ``1 - theta_i`` until she leaves (a geometric lifetime ``T_i >= 1``). She is observed for
    ``n_periods`` periods (right-censored after them).

    Parameters
    ----------
    n : int
        Number of customers.
    alpha, beta : float
        sBG parameters (positive).
    n_periods : int or array of n ints
        Periods each customer is observed for (>= 1): one number for a single cohort, an array for
        staggered entry (customers acquired at different times, as in a real subscriber base), i.e.
        each customer's largest possible tenure.
    covariates : DataFrame, optional
        ``n`` rows of numeric customer-level covariates (no missing values); copied into the
        result. Its index becomes ``customer_id``.
    gamma : mapping, optional
        Covariate name -> coefficient (the log odds ratio of the mean churn probability per unit);
        covariates without a coefficient have none (0).
    seed : int, optional
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``tenure`` (int: whole periods completed, the lifetime
    if she left, else the periods observed), ``churned`` (bool: left at the end of period ``tenure``),
    the covariate columns and ``theta_`` (the true churn probability).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    n = int(n)
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite, got {value!r}")
    m = (
        np.broadcast_to(np.asarray(n_periods, dtype=float), (n,))
        if np.ndim(n_periods) == 0
        else np.asarray(n_periods, dtype=float)
    )
    if m.shape != (n,):
        raise ValueError(f"n_periods must be one number or one per customer ({n}), got shape {m.shape}")
    if not np.isfinite(m).all() or (m != np.floor(m)).any() or (m < 1).any():
        raise ValueError("n_periods must be whole numbers of periods >= 1")
    gamma = dict(gamma or {})
    eta = np.zeros(n)
    if covariates is not None:
        if not isinstance(covariates, pd.DataFrame) or len(covariates) != n:
            raise ValueError(f"covariates must be a DataFrame with n = {n} rows")
        unknown = sorted(set(gamma) - set(covariates.columns))
        if unknown:
            raise ValueError(f"gamma names {unknown}, which are not columns of covariates {list(covariates.columns)}")
        for c in covariates.columns:
            if not pd.api.types.is_numeric_dtype(covariates[c]) or covariates[c].isna().any():
                raise ValueError(f"covariate {c!r} must be numeric without missing values")
        for c, g in gamma.items():
            z = covariates[c].to_numpy(dtype=float)
            eta += float(g) * (z - z.mean())
        index = pd.Index(covariates.index, name="customer_id")
    else:
        if gamma:
            raise ValueError("gamma given without covariates")
        index = pd.RangeIndex(n, name="customer_id")
    rng = np.random.default_rng(seed)
    a_i = alpha * np.exp(eta)
    theta = rng.beta(a_i, beta)
    u = 1.0 - rng.random(n)  # in (0, 1]
    with np.errstate(divide="ignore"):
        lifetime = np.floor(np.log(u) / np.log1p(-theta)) + 1  # geometric on 1, 2, ... (inf when theta == 0)
    lifetime = np.where(theta >= 1, 1.0, lifetime)
    churned = lifetime <= m
    tenure = np.where(churned, lifetime, m).astype(np.int64)
    out = pd.DataFrame({"tenure": tenure, "churned": churned}, index=index)
    if covariates is not None:
        for c in covariates.columns:
            out[c] = covariates[c].to_numpy()
    out["theta_"] = theta
    return out
