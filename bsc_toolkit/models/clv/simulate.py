"""Simulators of the BG/NBD (with or without covariates) and Gamma-Gamma generative processes.

For parameter recovery tests: the truth of :func:`simulate_bgnbd_covariates` is the parameters of
:class:`~bsc_toolkit.models.clv.bgnbd_covariates.BetaGeoCovariatesFitter` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_bgnbd_covariates", "simulate_bgnbd_days", "simulate_gamma_gamma"]


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
    sim = simulate_bgnbd_covariates(
        n, r, alpha, a, b, covariates=pd.DataFrame(index=range(n)), T=T, seed=seed, holdout=holdout
    )
    columns = ["frequency", "recency", "T", "frequency_holdout", "duration_holdout", "alive", "lambda_", "p_"]
    return sim[columns]


def simulate_bgnbd_days(
    n: int, r: float, alpha: float, a: float, b: float, seed: int = 0, weeks: tuple[int, int] = (27, 39)
) -> pd.DataFrame:
    """A BG/NBD RFM summary in weeks at day resolution, shaped like CDNOW's calibration summary.

    Ages ``T`` are whole days between ``weeks[0]`` and ``weeks[1]`` weeks (drawn with
    ``default_rng(seed)``); the purchases come from :func:`simulate_bgnbd` (seed ``seed + 1``)
    with recency rounded to the day, a repeat buyer's at least one day.

    Returns
    -------
    DataFrame with columns frequency, recency, T (weeks); index ``customer_id`` 0..n-1.
    """
    rng = np.random.default_rng(seed)
    T = rng.integers(weeks[0] * 7, weeks[1] * 7 + 1, size=n) / 7.0
    sim = simulate_bgnbd(n, r, alpha, a, b, T=T, seed=seed + 1)
    days = np.round(sim["recency"].to_numpy() * 7.0)
    days = np.where(sim["frequency"].to_numpy() > 0, np.maximum(days, 1.0), 0.0)
    return sim[["frequency"]].assign(recency=days / 7.0, T=T)


def simulate_bgnbd_covariates(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    gamma_purchase: Mapping[str, float] | None = None,
    gamma_dropout: Mapping[str, float] | None = None,
    covariates: pd.DataFrame | None = None,
    T: float | np.ndarray = 52.0,
    seed: int | None = None,
    holdout: float = 0.0,
) -> pd.DataFrame:
    """Simulate RFM summaries from the BG/NBD model with time-invariant customer covariates.

    The truth is the model of
    :class:`~bsc_toolkit.models.clv.bgnbd_covariates.BetaGeoCovariatesFitter`: with ``z_i`` the
    customer's covariates **centred at their sample means** (as the fitter centres them, so that
    ``alpha, a, b`` are the parameters of the average customer and the fitter recovers them
    together with the coefficients),

    * purchase rate ``lambda_i ~ Gamma(r, rate=alpha_i)``, ``alpha_i = alpha * exp(-gamma_purchase' z_i)``
      (a positive coefficient means more purchases: ``E[lambda_i] = r / alpha_i``);
    * drop-out probability ``p_i ~ Beta(a_i, b)``, ``a_i = a * exp(gamma_dropout' z_i)`` (a positive
      coefficient means more drop-out: it adds to the logit of ``E[p_i] = a_i / (a_i + b)``).

    The purchases then follow the BG/NBD process (:func:`simulate_bgnbd` is this simulator without
    covariates).

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        BG/NBD parameters of the average customer (covariates at their means).
    gamma_purchase, gamma_dropout : mapping of str to float, optional
        Coefficients by covariate name (a covariate left out has coefficient 0).
    covariates : DataFrame, optional
        ``n`` rows of numeric covariates without missing values (row order = customer order).
        Default: one standard-normal column ``"csat"`` (a satisfaction-like score in standard
        deviations), drawn from a stream of its own so the purchase draws do not depend on it.
    T : float or array of length n, default 52
        Calibration age of each customer.
    seed : int, optional
        Seed for ``numpy.random.default_rng``.
    holdout : float, default 0
        Length of an additional period after ``T``; its purchases are counted in
        ``frequency_holdout``.

    Returns
    -------
    DataFrame
        Index ``customer_id`` 0..n-1; columns frequency, recency, T, frequency_holdout,
        duration_holdout, alive (at T), alive_holdout (at T + holdout), the latent truths lambda_,
        p_, alpha_i_, a_i_, then the covariate columns (as given, not centred).
    """
    if min(r, alpha, a, b) <= 0:
        raise ValueError("all BG/NBD parameters must be positive")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    if covariates is None:
        covariates = pd.DataFrame({"csat": rng.spawn(1)[0].standard_normal(n)})
    if not isinstance(covariates, pd.DataFrame):
        raise TypeError("covariates must be a pandas DataFrame with one row per customer")
    if len(covariates) != n:
        raise ValueError(f"covariates has {len(covariates):,} rows; expected n = {n:,}")
    reserved = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout", "alive", "alive_holdout"}
    clash = sorted(reserved.intersection(covariates.columns) | {c for c in covariates.columns if str(c).endswith("_")})
    if clash:
        raise ValueError(f"covariate column(s) {clash} would overwrite output columns; rename them")
    gp = dict(gamma_purchase or {})
    gd = dict(gamma_dropout or {})
    unknown = sorted((set(gp) | set(gd)) - set(covariates.columns))
    if unknown:
        raise ValueError(f"coefficient(s) for {unknown} but covariates has columns {list(covariates.columns)}")
    Z = covariates.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(Z).all():
        raise ValueError("covariates must be numeric and without missing values in a simulation")
    Zc = Z - Z.mean(axis=0)
    cols = list(covariates.columns)
    eta_p = Zc @ np.array([float(gp.get(c, 0.0)) for c in cols])
    eta_d = Zc @ np.array([float(gd.get(c, 0.0)) for c in cols])
    alpha_i = alpha * np.exp(-eta_p)
    a_i = a * np.exp(eta_d)
    TT = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if (TT <= 0).any():
        raise ValueError("T must be positive")
    lam = rng.gamma(r, 1.0 / alpha_i, size=n)
    p = rng.beta(a_i, b, size=n)
    freq_cal, recency, freq_hold, n_until_dropout = _bgnbd_purchases(rng, lam, p, TT, holdout)
    out = pd.DataFrame(
        {
            "frequency": freq_cal.astype(float),
            "recency": recency,
            "T": TT,
            "frequency_holdout": freq_hold.astype(float),
            "duration_holdout": float(holdout),
            "alive": n_until_dropout > freq_cal,
            "alive_holdout": n_until_dropout > freq_cal + freq_hold,
            "lambda_": lam,
            "p_": p,
            "alpha_i_": alpha_i,
            "a_i_": a_i,
        },
        index=pd.Index(np.arange(n), name="customer_id"),
    )
    for c in cols:
        out[c] = covariates[c].to_numpy()
    return out


def _bgnbd_purchases(
    rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, TT: np.ndarray, holdout: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Purchases of customers with purchase rates ``lam`` and drop-out probabilities ``p`` (one each).

    Returns repeat purchases in ``(0, T]``, recency, repeat purchases in ``(T, T + holdout]`` and the
    number of repeat purchases each customer makes before dropping out (>= 1).
    """
    n = lam.size
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
    return freq_cal, recency, freq_hold, n_until_dropout


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
