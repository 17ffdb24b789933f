"""Seeded simulator of a customer base with known ground truth.

The simulator draws customers, quarterly satisfaction surveys, churn and
transactions from a documented causal model, so that every model in the toolkit
can be checked for recovering the effects that generated the data.

The causal model (all effects are stored in :class:`Truth`)
-----------------------------------------------------------
* **Driver ratings** (1-10) for the four customer concerns of the Balanced
  Scorecard -- ``time``, ``quality``, ``service`` (performance & service) and
  ``cost`` -- share a customer-level "halo" factor, so they are correlated,
  plus customer- and period-level noise.
* **Overall satisfaction** ``csat`` (1-10) is a weighted sum of the driver
  ratings (``Truth.driver_weights``, points of csat per point of driver rating)
  plus noise, rounded and clipped to the scale.
* **NPS likelihood** (0-10) is csat plus noise.
* **Churn**: within period *t* a customer's churn hazard is constant with
  ``log(hazard per period) = base + f(csat_t) + segment + tenure_per_year * tenure_years``
  where ``f`` is a linear spline with a knot at ``Truth.csat_knot``: steep below
  the knot, flat above it (diminishing returns at the top, as in Ittner &
  Larcker 1998). Churn times are exact (continuous time), so a Cox model with
  time-varying csat recovers the log hazard ratios exactly, and a discrete-time
  complementary log-log model on customer-periods does too.
* **Spend**: orders per period are Poisson with
  ``log(mean) = log(orders_per_period[segment]) + g(csat_t) + spend_heterogeneity * u``
  where ``g`` is a linear spline with the same knot and ``u`` an unobserved
  customer trait that is mildly correlated with satisfaction (so pooled
  regressions are confounded and within-customer/fixed-effects ones are not).
  Order values are gamma distributed with a segment mean; costs are cost of
  goods (``cogs_ratio``) plus a customer-specific cost to serve per order.
* Satisfaction in period *t* is surveyed at the start of the period, before the
  churn and spend it drives, so "lagged satisfaction" is the period's survey.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS

__all__ = ["DEFAULT_CHUNK_SIZE", "DRIVERS", "Truth", "SimulatedData", "simulate", "simulate_to_dir"]


@dataclass(frozen=True)
class Truth:
    """Ground-truth parameters of the simulated customer base.

    All rates are per period (a quarter by default); money is in USD.
    """

    period_freq: str = "Q"
    # --- satisfaction -------------------------------------------------------
    driver_means: dict[str, float] = field(
        default_factory=lambda: {"time": 7.0, "quality": 7.4, "service": 7.1, "cost": 6.6}
    )
    driver_weights: dict[str, float] = field(
        default_factory=lambda: {"time": 0.15, "quality": 0.35, "service": 0.30, "cost": 0.20}
    )
    csat_intercept: float = 7.2  # latent csat at mean driver ratings
    csat_noise_sd: float = 0.8
    halo_sd: float = 1.0  # shared customer-level factor of all drivers
    driver_customer_sd: float = 0.7  # driver-specific customer-level deviation
    driver_period_sd: float = 0.9  # period-to-period noise of a rating
    satisfaction_segment_shift: dict[str, float] = field(
        default_factory=lambda: {"consumer": 0.1, "smb": 0.0, "enterprise": -0.3}
    )
    nps_shift: float = -0.3
    nps_noise_sd: float = 1.0
    # --- churn (log hazard per period) -----------------------------------------
    csat_knot: float = 7.0
    churn_base_log_hazard: float = -2.8  # consumer, csat at knot, tenure 0
    churn_csat_below_knot: float = -0.45  # per csat point below the knot
    churn_csat_above_knot: float = -0.15  # per csat point above the knot
    churn_segment: dict[str, float] = field(default_factory=lambda: {"consumer": 0.0, "smb": -0.2, "enterprise": -0.5})
    churn_tenure_per_year: float = -0.10
    # --- spend ---------------------------------------------------------------
    orders_per_period: dict[str, float] = field(
        default_factory=lambda: {"consumer": 2.0, "smb": 3.0, "enterprise": 4.0}
    )
    spend_csat_below_knot: float = 0.08  # log expected orders per csat point below knot
    spend_csat_above_knot: float = 0.03  # ... above the knot
    spend_heterogeneity_sd: float = 0.5  # sd of the unobserved customer trait's effect
    trait_satisfaction_corr: float = 0.3  # corr(unobserved trait, halo)
    order_value_usd: dict[str, float] = field(
        default_factory=lambda: {"consumer": 60.0, "smb": 250.0, "enterprise": 900.0}
    )
    order_value_shape: float = 2.0
    cogs_ratio: dict[str, float] = field(default_factory=lambda: {"consumer": 0.62, "smb": 0.58, "enterprise": 0.55})
    serve_cost_per_order_usd: dict[str, float] = field(
        default_factory=lambda: {"consumer": 15.0, "smb": 50.0, "enterprise": 200.0}
    )
    serve_cost_sd: float = 1.0  # lognormal sd of the customer-specific cost to serve
    # --- composition ------------------------------------------------------------
    segment_shares: dict[str, float] = field(default_factory=lambda: {"consumer": 0.6, "smb": 0.3, "enterprise": 0.1})
    region_shares: dict[str, float] = field(
        default_factory=lambda: {"north": 0.25, "south": 0.25, "east": 0.25, "west": 0.25}
    )
    channel_shares: dict[str, float] = field(default_factory=lambda: {"web": 0.5, "store": 0.3, "partner": 0.2})

    @property
    def segments(self) -> list[str]:
        """Segment names in a fixed order."""
        return list(self.segment_shares)

    def csat_spline(self, csat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Split csat into (points below the knot, points above the knot).

        ``below = min(csat - knot, 0)`` and ``above = max(csat - knot, 0)``; the
        churn and spend effects are linear in each part.
        """
        d = np.asarray(csat, dtype=float) - self.csat_knot
        return np.minimum(d, 0.0), np.maximum(d, 0.0)

    def churn_log_hazard(
        self, csat: np.ndarray | float, segment: np.ndarray | str, tenure_years: np.ndarray | float
    ) -> np.ndarray:
        """True log churn hazard per period."""
        below, above = self.csat_spline(csat)
        seg = np.vectorize(self.churn_segment.__getitem__, otypes=[float])(segment)
        return (
            self.churn_base_log_hazard
            + self.churn_csat_below_knot * below
            + self.churn_csat_above_knot * above
            + seg
            + self.churn_tenure_per_year * np.asarray(tenure_years, dtype=float)
        )

    def retention_probability(
        self, csat: np.ndarray | float, segment: np.ndarray | str, tenure_years: np.ndarray | float
    ) -> np.ndarray:
        """True probability of staying a whole period."""
        return np.exp(-np.exp(self.churn_log_hazard(csat, segment, tenure_years)))

    def spend_log_effect(self, csat: np.ndarray | float) -> np.ndarray:
        """True effect of csat on log expected revenue (0 at the knot)."""
        below, above = self.csat_spline(csat)
        return self.spend_csat_below_knot * below + self.spend_csat_above_knot * above

    def to_dict(self) -> dict:
        """Plain-dict form (JSON serialisable)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Truth:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class SimulatedData:
    """Tables of a simulated customer base plus the truth that generated them.

    Attributes
    ----------
    customers, surveys, transactions : pandas.DataFrame
        Tables following the project's data contracts (see ``data/README.md``).
    truth : Truth
        Parameters of the generating model.
    latent : pandas.DataFrame
        One row per customer-period while active, with the true (also
        unsurveyed) ratings, ``at_risk_fraction`` (share of the period from the
        window start to the period end: the exposure of a discrete-time hazard
        model), ``active_fraction`` (share actually active, shorter for
        churners: the exposure of spend), the unobserved ``trait``, the churn
        indicator and the number of orders; for checking models.
    seed : int
        The seed used.
    """

    customers: pd.DataFrame
    surveys: pd.DataFrame
    transactions: pd.DataFrame
    truth: Truth
    latent: pd.DataFrame
    seed: int

    def to_dir(self, path: str | Path, file_format: str = "csv") -> Path:
        """Write the three tables (and ``truth.json``) to a directory.

        Parameters
        ----------
        path : str or Path
            Target directory, created if needed.
        file_format : {"csv", "parquet"}
            File format of the tables.

        Returns
        -------
        Path
            The directory written.
        """
        if file_format not in {"csv", "parquet"}:
            raise ValueError(f"file_format must be 'csv' or 'parquet', not {file_format!r}")
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("customers", "surveys", "transactions"):
            frame = getattr(self, name)
            target = out / f"{name}.{file_format}"
            tmp = target.with_name(target.name + ".tmp")
            if file_format == "csv":
                frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
            else:
                frame.to_parquet(tmp, index=False)
            tmp.replace(target)
        meta = {"seed": self.seed, "truth": self.truth.to_dict()}
        (out / "truth.json").write_text(json.dumps(meta, indent=2))
        return out


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


def simulate(
    n_customers: int = 2000,
    n_periods: int = 8,
    start: str = "2024Q1",
    seed: int = 0,
    truth: Truth | None = None,
    response_rate: float = 0.8,
    existing_share: float = 0.5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> SimulatedData:
    """Simulate a customer base with surveys, churn and transactions.

    Parameters
    ----------
    n_customers : int
        Number of customers ever observed (1k to 1M+ is practical; for
        millions prefer :func:`simulate_to_dir`, which writes the same data in
        bounded memory).
    n_periods : int
        Number of periods (quarters by default) in the study window.
    start : str
        First period of the study window, e.g. ``"2024Q1"``.
    seed : int
        Seed of the random generator; equal seeds give identical data.
    truth : Truth, optional
        Generating parameters; defaults to ``Truth()``.
    response_rate : float
        Probability that an active customer answers the period's survey
        (missing completely at random).
    existing_share : float
        Share of customers acquired before the study window (the installed
        base); the rest are acquired uniformly over the window.
    chunk_size : int
        Customers are drawn in chunks of this many, each from its own random
        stream (chunk 0 from ``seed``, chunk ``k`` from child ``k - 1`` of
        ``numpy.random.SeedSequence(seed)``); the tables are the chunks
        concatenated, so transactions are sorted by date within each chunk.
        Part of the random design, like ``seed``: :func:`simulate_to_dir` with
        the same arguments writes the same tables.

    Returns
    -------
    SimulatedData
        The tables, the truth and the latent customer-period panel.
    """
    _check_arguments(n_customers, n_periods, response_rate, existing_share, chunk_size)
    truth = truth or Truth()
    parts = [
        _simulate_chunk(rng, offset, size, n_periods, start, truth, response_rate, existing_share, latent=True)
        for offset, size, rng in _chunks(int(n_customers), seed, int(chunk_size))
    ]
    if len(parts) == 1:
        return SimulatedData(*parts[0][:3], truth, parts[0][3], int(seed))
    tables = [pd.concat([part[i] for part in parts], ignore_index=True) for i in range(4)]
    return SimulatedData(*tables[:3], truth, tables[3], int(seed))


def simulate_to_dir(
    path: str | Path,
    n_customers: int = 2000,
    n_periods: int = 8,
    start: str = "2024Q1",
    seed: int = 0,
    truth: Truth | None = None,
    response_rate: float = 0.8,
    existing_share: float = 0.5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    file_format: str = "csv",
) -> Path:
    """Simulate a customer base straight to a data set folder, in bounded memory.

    Writes the tables :func:`simulate` returns for the same arguments (same
    rows, same order) plus ``truth.json``, one chunk of ``chunk_size``
    customers at a time: peak memory depends on ``chunk_size``, not on
    ``n_customers`` (a process peak of about 0.65 GB with the default 100,000
    customers per chunk over 8 periods; 1M customers take about 8 s of CPU).
    Parquet files get one row group per chunk; CSV files are appended to.
    Files are written under temporary names and renamed when complete.

    Parameters
    ----------
    path : str or Path
        Target directory, created if needed.
    n_customers, n_periods, start, seed, truth, response_rate, existing_share, chunk_size
        As for :func:`simulate`.
    file_format : {"csv", "parquet"}
        File format of the tables.

    Returns
    -------
    Path
        The directory written.
    """
    if file_format not in {"csv", "parquet"}:
        raise ValueError(f"file_format must be 'csv' or 'parquet', not {file_format!r}")
    _check_arguments(n_customers, n_periods, response_rate, existing_share, chunk_size)
    truth = truth or Truth()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    names = ("customers", "surveys", "transactions")
    targets = {name: out / f"{name}.{file_format}" for name in names}
    tmps = {name: target.with_name(target.name + ".tmp") for name, target in targets.items()}
    writers: dict = {}
    try:
        for offset, size, rng in _chunks(int(n_customers), seed, int(chunk_size)):
            frames = _simulate_chunk(rng, offset, size, n_periods, start, truth, response_rate, existing_share)
            for name, frame in zip(names, frames[:3]):
                if file_format == "csv":
                    frame.to_csv(
                        tmps[name],
                        mode="w" if offset == 0 else "a",
                        header=offset == 0,
                        index=False,
                        date_format="%Y-%m-%d",
                    )
                else:
                    _append_parquet(writers, name, tmps[name], frame)
            del frames
        for writer in writers.values():
            writer.close()
        for name in names:
            tmps[name].replace(targets[name])
    finally:
        for writer in writers.values():
            writer.close()
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
    meta = {"seed": int(seed), "truth": truth.to_dict()}
    (out / "truth.json").write_text(json.dumps(meta, indent=2))
    return out


def _append_parquet(writers: dict, name: str, path: Path, frame: pd.DataFrame) -> None:
    """Append ``frame`` as a row group to the Parquet file of ``name`` (opened on first use)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if name not in writers:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writers[name] = pq.ParquetWriter(path, table.schema)
    else:
        table = pa.Table.from_pandas(frame, schema=writers[name].schema, preserve_index=False)
    writers[name].write_table(table)


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
