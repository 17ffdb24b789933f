"""Customer lifetime value: purchase models, subscriber retention, spend, satisfaction inside them.

Implemented with numpy/scipy only, one job per module:

* :mod:`~bsc_toolkit.models.clv.rfm` -- :func:`rfm_summary`, a vectorised RFM (frequency,
  recency, T, monetary value) summary of a transaction log, optionally split into a
  calibration and a holdout period (``lifetimes`` definitions).
* :mod:`~bsc_toolkit.models.clv.bgnbd` -- :class:`BetaGeoFitter`, the BG/NBD model of
  Fader, Hardie & Lee (2005), *Marketing Science* 24(2), 275-284, for non-contractual customers
  (drop-out is never observed), with its limiting models (``bgnbd.MODELS``: the NBD without
  drop-out, BG/Poisson, a common drop-out probability...) fitted when the likelihood rises
  towards a boundary.
* :mod:`~bsc_toolkit.models.clv.gamma_gamma` -- :class:`GammaGammaFitter`, the Gamma-Gamma
  spend model of Fader, Hardie & Lee (2005), *Journal of Marketing Research* 42(4), 415-430,
  and Fader & Hardie (2013), with its limiting models (``gamma_gamma.MODELS``).
* :mod:`~bsc_toolkit.models.clv.sbg` -- :class:`ShiftedBetaGeoFitter`, the shifted-beta-geometric
  model of contractual retention (Fader & Hardie 2007), on individual tenure data or cohort
  survivor counts, optionally with customer covariates on the churn probability; retention
  curve, expected residual lifetime, DERL (Fader & Hardie 2010) and subscriber CLV.
  :func:`sbg_what_if` (:mod:`~bsc_toolkit.models.clv.sbg_whatif`): +X satisfaction points ->
  retention, residual lifetime and subscriber CLV, with intervals.
* :mod:`~bsc_toolkit.models.clv.bgnbd_covariates` -- :class:`BetaGeoCovariatesFitter`, the
  BG/NBD with time-invariant covariates on the purchase rate and the drop-out probability;
  :func:`clv_what_if` (:mod:`~bsc_toolkit.models.clv.clv_whatif`): +X satisfaction points ->
  expected purchases, P(alive) and CLV in money, with intervals.
* :mod:`~bsc_toolkit.models.clv.value` -- :func:`customer_lifetime_value` (discounted CLV
  combining the two models, the ``lifetimes`` formula), :func:`clv_at_risk` (the share of it
  held by low-satisfaction customers, with bootstrap intervals), :func:`clv_plausibility` and
  :data:`PERIODS_PER_MONTH`.
* :mod:`~bsc_toolkit.models.clv.simulate` and :mod:`~bsc_toolkit.models.clv.simulate_contractual`
  -- samplers whose truth is these models' own parameters: :func:`simulate_bgnbd`,
  :func:`simulate_bgnbd_covariates`, :func:`simulate_gamma_gamma`, :func:`simulate_sbg`.
* :mod:`~bsc_toolkit.models.clv._fitting` -- the shared maximum-likelihood machinery: analytic
  gradients and Hessians in log-parameters, one start and Newton steps (quasi-Newton fallbacks),
  delta-method standard errors, Wald intervals on the log scale, the limiting-model search and
  :class:`FitStatus`.

Every fitter follows :mod:`bsc_toolkit.models._base`: ``alpha`` sets the interval level,
``summary`` starts with ``coef, se, ci_lower, ci_upper, p_value`` (``p_value`` is NaN for the
positive model parameters, a real test for covariate coefficients), ``cov_params_`` is the
covariance, ``fit_status_`` says in words which model was used, whether it converged and whether it
sits at a boundary, and ``diagnostics_`` lists what an analyst must know beside the figures.
"""

from bsc_toolkit.models.clv._fitting import FitStatus, ModelFit
from bsc_toolkit.models.clv.bgnbd import BetaGeoFitter
from bsc_toolkit.models.clv.bgnbd_covariates import BetaGeoCovariatesFitter
from bsc_toolkit.models.clv.clv_whatif import clv_what_if
from bsc_toolkit.models.clv.gamma_gamma import GammaGammaFitter
from bsc_toolkit.models.clv.rfm import rfm_summary
from bsc_toolkit.models.clv.sbg import ShiftedBetaGeoFitter
from bsc_toolkit.models.clv.sbg_whatif import sbg_what_if
from bsc_toolkit.models.clv.simulate import simulate_bgnbd, simulate_bgnbd_covariates, simulate_gamma_gamma
from bsc_toolkit.models.clv.simulate_contractual import simulate_sbg
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
    "BetaGeoCovariatesFitter",
    "GammaGammaFitter",
    "ShiftedBetaGeoFitter",
    "FitStatus",
    "ModelFit",
    "customer_lifetime_value",
    "clv_at_risk",
    "clv_what_if",
    "sbg_what_if",
    "simulate_bgnbd",
    "simulate_bgnbd_covariates",
    "simulate_gamma_gamma",
    "simulate_sbg",
    "PERIODS_PER_MONTH",
    "ClvPlausibility",
    "clv_plausibility",
    "largest_yearly_spend",
]
