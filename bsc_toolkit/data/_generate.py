"""The simulator's draws: one chunk of customers, with their surveys, churn and transactions.

The causal model is described in :mod:`bsc_toolkit.data.simulate` and parametrised by
:class:`~bsc_toolkit.data.truth.Truth`. Both entry points use this module:
:func:`~bsc_toolkit.data.simulate.simulate` (in memory) and
:func:`~bsc_toolkit.data.simulate_write.simulate_to_dir` (chunk by chunk to files), so they
draw the same data for the same arguments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS
from bsc_toolkit.data.truth import Truth


def _choice(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    names = np.array(list(shares))
    p = np.array(list(shares.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def _lookup(mapping: dict[str, float], keys: np.ndarray) -> np.ndarray:
    names = list(mapping)
    codes = pd.Categorical(keys, categories=names).codes
    return np.array([mapping[k] for k in names], dtype=float)[codes]


DEFAULT_CHUNK_SIZE = 100_000


def _check_arguments(
    n_customers: int, n_periods: int, response_rate: float, existing_share: float, chunk_size: int
) -> None:
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    if n_periods < 1:
        raise ValueError("n_periods must be at least 1")
    if not 0 < response_rate <= 1:
        raise ValueError("response_rate must be in (0, 1]")
    if not 0 <= existing_share <= 1:
        raise ValueError("existing_share must be in [0, 1]")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")


def _chunks(n_customers: int, seed: int, chunk_size: int):
    """(first customer id - 1, size, generator) of each chunk of customers.

    Chunk 0 draws from ``seed`` itself (so data sets of up to ``chunk_size``
    customers are the same as before chunking existed); chunk ``k > 0`` from
    child ``k - 1`` of ``SeedSequence(seed)`` (an independent stream).
    """
    for k, offset in enumerate(range(0, n_customers, chunk_size)):
        seq = np.random.SeedSequence(seed) if k == 0 else np.random.SeedSequence(seed, spawn_key=(k - 1,))
        yield offset, min(chunk_size, n_customers - offset), np.random.default_rng(seq)


def _simulate_chunk(
    rng: np.random.Generator,
    id_offset: int,
    n: int,
    n_periods: int,
    start: str,
    truth: Truth,
    response_rate: float,
    existing_share: float,
    latent: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Customers ``id_offset + 1 .. id_offset + n``: (customers, surveys, transactions, latent or None)."""
    p = int(n_periods)
    periods = pd.period_range(start=start, periods=p, freq=truth.period_freq)
    p_start = periods.start_time.values.astype("datetime64[s]").astype(np.int64) / 86400.0
    p_end = (periods.end_time + pd.Timedelta(1, "ns")).values.astype("datetime64[s]").astype(np.int64) / 86400.0
    p_len = p_end - p_start  # days per period
    mean_len = float(p_len.mean())

    # --- customers --------------------------------------------------------------
    customer_id = np.arange(id_offset + 1, id_offset + n + 1, dtype=np.int64)
    segment = _choice(rng, truth.segment_shares, n)
    region = _choice(rng, truth.region_shares, n)
    channel = _choice(rng, truth.channel_shares, n)
    existing = rng.random(n) < existing_share
    # acquisition time in days since epoch: existing customers up to 8 periods before start
    acq_day = np.where(
        existing,
        p_start[0] - rng.random(n) * 8 * mean_len,
        p_start[0] + rng.random(n) * (p_end[-1] - p_start[0]),
    )
    # first period index in which the customer is active
    first_period = np.searchsorted(p_end, acq_day, side="right").clip(0, p - 1)
    first_period = np.where(existing, 0, first_period)

    # --- satisfaction ----------------------------------------------------------
    halo = rng.standard_normal(n)
    trait = truth.trait_satisfaction_corr * halo + np.sqrt(1 - truth.trait_satisfaction_corr**2) * rng.standard_normal(
        n
    )
    seg_shift = _lookup(truth.satisfaction_segment_shift, segment)
    ratings = {}
    for name in DRIVERS:
        level = (
            truth.driver_means[name]
            + seg_shift
            + truth.halo_sd * halo
            + truth.driver_customer_sd * rng.standard_normal(n)
        )
        latent_rating = level[:, None] + truth.driver_period_sd * rng.standard_normal((n, p))
        ratings[name] = np.clip(np.rint(latent_rating), 1, 10)
    csat_latent = truth.csat_intercept + truth.csat_noise_sd * rng.standard_normal((n, p))
    for name in DRIVERS:
        csat_latent += truth.driver_weights[name] * (ratings[name] - truth.driver_means[name])
    csat = np.clip(np.rint(csat_latent), 1, 10)
    nps = np.clip(np.rint(csat + truth.nps_shift + truth.nps_noise_sd * rng.standard_normal((n, p))), 0, 10)

    # --- churn, period by period -------------------------------------------------
    seg_churn = _lookup(truth.churn_segment, segment)
    alive = np.ones(n, dtype=bool)
    churn_day = np.full(n, np.nan)
    active = np.zeros((n, p), dtype=bool)
    window_start = np.zeros((n, p))
    window_end = np.zeros((n, p))
    churned = np.zeros((n, p), dtype=bool)
    tenure_years = np.zeros((n, p))
    below, above = truth.csat_spline(csat)
    for t in range(p):
        act = alive & (first_period <= t)
        w0 = np.maximum(p_start[t], acq_day)
        ten = np.maximum(p_start[t] - acq_day, 0.0) / 365.25
        log_h = (
            truth.churn_base_log_hazard
            + truth.churn_csat_below_knot * below[:, t]
            + truth.churn_csat_above_knot * above[:, t]
            + seg_churn
            + truth.churn_tenure_per_year * ten
        )
        rate_per_day = np.exp(log_h) / p_len[t]
        wait = rng.exponential(1.0, n) / rate_per_day
        dies = act & (w0 + wait < p_end[t])
        churn_day[dies] = (w0 + wait)[dies]
        active[:, t] = act
        window_start[:, t] = w0
        window_end[:, t] = np.where(dies, w0 + wait, p_end[t])
        churned[:, t] = dies
        tenure_years[:, t] = ten
        alive &= ~dies

    # --- surveys -----------------------------------------------------------------
    responds = active & (rng.random((n, p)) < response_rate)
    # surveyed at the start of the active window (within 20 days, before churn)
    span = np.minimum(20.0, (window_end - window_start) * 0.5)
    survey_day = window_start + rng.random((n, p)) * span
    ii, tt = np.nonzero(responds)
    surveys = pd.DataFrame(
        {
            "customer_id": customer_id[ii],
            "surveyed_at": _days_to_datetime(survey_day[ii, tt]),
            "csat": csat[ii, tt].astype(np.int64),
            "nps": nps[ii, tt].astype(np.int64),
            **{name: ratings[name][ii, tt].astype(np.int64) for name in DRIVERS},
        }
    )

    # --- transactions --------------------------------------------------------------
    exposure = np.where(active, (window_end - window_start) / p_len[None, :], 0.0)
    base_orders = _lookup(truth.orders_per_period, segment)
    spend_effect = truth.spend_csat_below_knot * below + truth.spend_csat_above_knot * above
    log_mu = np.log(base_orders)[:, None] + spend_effect + truth.spend_heterogeneity_sd * trait[:, None]
    # keep the population mean of orders at base_orders despite the lognormal trait
    log_mu -= 0.5 * truth.spend_heterogeneity_sd**2
    n_orders = rng.poisson(np.exp(log_mu) * exposure)
    ii, tt = np.nonzero(n_orders)
    counts = n_orders[ii, tt]
    oi = np.repeat(ii, counts)
    ot = np.repeat(tt, counts)
    order_day = window_start[oi, ot] + rng.random(oi.size) * (window_end[oi, ot] - window_start[oi, ot])
    value_mean = _lookup(truth.order_value_usd, segment)[oi]
    revenue = rng.gamma(truth.order_value_shape, value_mean / truth.order_value_shape)
    serve = _lookup(truth.serve_cost_per_order_usd, segment) * np.exp(
        truth.serve_cost_sd * rng.standard_normal(n) - 0.5 * truth.serve_cost_sd**2
    )
    cost = _lookup(truth.cogs_ratio, segment)[oi] * revenue + serve[oi]
    transactions = pd.DataFrame(
        {
            "customer_id": customer_id[oi],
            "ordered_at": _days_to_datetime(order_day),
            "revenue_usd": np.round(revenue, 2),
            "cost_usd": np.round(cost, 2),
        }
    ).sort_values(["ordered_at", "customer_id"], kind="stable", ignore_index=True)

    # --- customers table -----------------------------------------------------------
    ever_active = active.any(axis=1)
    customers = pd.DataFrame(
        {
            "customer_id": customer_id,
            "segment": segment,
            "region": region,
            "channel": channel,
            "acquired_at": _days_to_datetime(acq_day),
            "churned_at": _days_to_datetime(churn_day),
        }
    )[ever_active].reset_index(drop=True)

    if not latent:
        return customers, surveys, transactions, None
    ii, tt = np.nonzero(active)
    latent_panel = pd.DataFrame(
        {
            "customer_id": customer_id[ii],
            "period": periods[tt],
            "segment": segment[ii],
            "tenure_years": tenure_years[ii, tt],
            "at_risk_fraction": (p_end[tt] - window_start[ii, tt]) / p_len[tt],
            "active_fraction": exposure[ii, tt],
            "csat": csat[ii, tt].astype(np.int64),
            **{name: ratings[name][ii, tt].astype(np.int64) for name in DRIVERS},
            "trait": trait[ii],
            "surveyed": responds[ii, tt],
            "churned": churned[ii, tt],
            "n_orders": n_orders[ii, tt],
        }
    )
    return customers, surveys, transactions, latent_panel


def _days_to_datetime(days: np.ndarray) -> pd.Series:
    """Days since the epoch (float, NaN allowed) -> datetime64 truncated to the day."""
    days = np.asarray(days, dtype=float)
    out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = np.isfinite(days)
    out[ok] = np.floor(days[ok]).astype("int64").astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[ns]"))
