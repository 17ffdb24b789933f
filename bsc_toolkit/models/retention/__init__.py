"""Satisfaction -> retention link models.

Three views of how satisfaction (csat, or the four driver ratings) relates to churn, all fitted on
the customer-period panel of :func:`bsc_toolkit.panel.customer_periods`:

* :func:`kaplan_meier_by_band` (:mod:`.survival`) -- Kaplan-Meier survival curves by csat band
  (band of the customer's first surveyed csat) with a log-rank test.
* :class:`DiscreteTimeHazardModel` (:mod:`.hazard`) -- a discrete-time hazard model (binomial GLM
  on the surveyed customer-periods, cloglog or logit link) with a csat spline and a test of
  diminishing returns above the knot. ``ChurnLogitModel`` is its deprecated former name.
* :class:`CoxChurnModel` (:mod:`.survival`) -- a Cox proportional-hazards model with time-varying
  csat on start/stop episodes (:func:`survival_episodes`), checked against statsmodels' ``PHReg``.

Only surveyed customer-periods carry csat; the models use those periods (survey response is
assumed missing at random given the covariates). The csat features (:data:`CSAT_BANDS`,
:func:`csat_band`, :func:`csat_spline`, :func:`add_csat_spline`) live in
:mod:`bsc_toolkit.models.features` and are re-exported here.
"""

from bsc_toolkit.models.features import CSAT_BANDS, add_csat_spline, csat_band, csat_spline
from bsc_toolkit.models.retention.hazard import ChurnLogitModel, DiscreteTimeHazardModel
from bsc_toolkit.models.retention.survival import (
    CoxChurnModel,
    KaplanMeierByBand,
    kaplan_meier_by_band,
    survival_episodes,
)

__all__ = [
    "CSAT_BANDS",
    "csat_band",
    "csat_spline",
    "add_csat_spline",
    "DiscreteTimeHazardModel",
    "ChurnLogitModel",
    "KaplanMeierByBand",
    "kaplan_meier_by_band",
    "survival_episodes",
    "CoxChurnModel",
]
