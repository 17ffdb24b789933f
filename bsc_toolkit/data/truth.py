"""The ground truth of the simulator: the parameters of its causal model and the effects they imply.

The causal model itself is described in :mod:`bsc_toolkit.data.simulate`;
:mod:`bsc_toolkit.data.simulate` re-exports :class:`Truth`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Truth"]


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
