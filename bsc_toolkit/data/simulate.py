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

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bsc_toolkit.contracts import DRIVERS
from bsc_toolkit.data._generate import DEFAULT_CHUNK_SIZE, _check_arguments, _chunks, _simulate_chunk
from bsc_toolkit.data.simulate_write import WAREHOUSE_SCALE, scale_orders, simulate_to_dir, write_tables
from bsc_toolkit.data.truth import Truth

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DRIVERS",
    "WAREHOUSE_SCALE",
    "Truth",
    "SimulatedData",
    "simulate",
    "simulate_to_dir",
]


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
        tables = (self.customers, self.surveys, self.transactions)
        return write_tables(path, [tables], file_format, {"seed": self.seed, "truth": self.truth.to_dict()})


def simulate(
    n_customers: int = 2000,
    n_periods: int = 8,
    start: str = "2024Q1",
    seed: int = 0,
    truth: Truth | None = None,
    response_rate: float = 0.8,
    existing_share: float = 0.5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    order_rate: float = 1.0,
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
    order_rate : float
        Multiplier of every segment's expected orders per period (the returned ``truth`` is the
        scaled one). At the defaults a customer gives about 12.3 transactions and 4.2 survey
        responses over 8 quarters; ``order_rate=1.62, response_rate=0.76``
        (:data:`WAREHOUSE_SCALE`) about 20 and 4.

    Returns
    -------
    SimulatedData
        The tables, the truth and the latent customer-period panel.
    """
    _check_arguments(n_customers, n_periods, response_rate, existing_share, chunk_size)
    truth = scale_orders(truth or Truth(), order_rate)
    parts = [
        _simulate_chunk(rng, offset, size, n_periods, start, truth, response_rate, existing_share, latent=True)
        for offset, size, rng in _chunks(int(n_customers), seed, int(chunk_size))
    ]
    if len(parts) == 1:
        return SimulatedData(*parts[0][:3], truth, parts[0][3], int(seed))
    tables = [pd.concat([part[i] for part in parts], ignore_index=True) for i in range(4)]
    return SimulatedData(*tables[:3], truth, tables[3], int(seed))
