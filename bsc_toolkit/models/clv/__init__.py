"""Customer lifetime value: RFM summaries, BG/NBD and Gamma-Gamma models.

Implemented with numpy/scipy only, one job per module:

* :mod:`~bsc_toolkit.models.clv.rfm` -- :func:`rfm_summary`, a vectorised RFM (frequency,
  recency, T, monetary value) summary of a transaction log, optionally split into a
  calibration and a holdout period (``lifetimes`` definitions).
* :mod:`~bsc_toolkit.models.clv.bgnbd` -- :class:`BetaGeoFitter`, the BG/NBD model of
  Fader, Hardie & Lee (2005), *Marketing Science* 24(2), 275-284.
* :mod:`~bsc_toolkit.models.clv.gamma_gamma` -- :class:`GammaGammaFitter`, the Gamma-Gamma
  spend model of Fader, Hardie & Lee (2005), *Journal of Marketing Research* 42(4), 415-430,
  and Fader & Hardie (2013).
* :mod:`~bsc_toolkit.models.clv.value` -- :func:`customer_lifetime_value` (discounted CLV
  combining the two models, the ``lifetimes`` formula), :func:`clv_at_risk` (the share of it
  held by low-satisfaction customers, with bootstrap intervals) and :data:`PERIODS_PER_MONTH`.
* :mod:`~bsc_toolkit.models.clv.simulate` -- :func:`simulate_bgnbd` and
  :func:`simulate_gamma_gamma`, samplers from the two generative processes.
* :mod:`~bsc_toolkit.models.clv._fitting` -- the shared maximum-likelihood machinery
  (log-parameter search, numerical Hessian, delta-method standard errors, Wald intervals on the
  log scale, diagnostics).

Both fitters follow :mod:`bsc_toolkit.models._base`: ``alpha`` sets the interval level,
``summary`` starts with ``coef, se, ci_lower, ci_upper, p_value`` (``p_value`` is NaN: the
parameters are positive by definition), ``cov_params_`` is the covariance, and ``diagnostics_``
says in words when the fit did not converge, sits at a limit of the model, or (Gamma-Gamma)
breaks its independence assumption.
"""

from bsc_toolkit.models.clv.bgnbd import BetaGeoFitter
from bsc_toolkit.models.clv.gamma_gamma import GammaGammaFitter
from bsc_toolkit.models.clv.rfm import rfm_summary
from bsc_toolkit.models.clv.simulate import simulate_bgnbd, simulate_gamma_gamma
from bsc_toolkit.models.clv.value import (
    PERIODS_PER_MONTH,
    ClvPlausibility,
    clv_at_risk,
    clv_plausibility,
    customer_lifetime_value,
    largest_yearly_spend,
)

__all__ = [
    "rfm_summary",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "customer_lifetime_value",
    "clv_at_risk",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "PERIODS_PER_MONTH",
    "ClvPlausibility",
    "clv_plausibility",
    "largest_yearly_spend",
]
