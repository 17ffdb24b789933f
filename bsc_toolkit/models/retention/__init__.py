"""Satisfaction -> retention link models.

Views of how satisfaction (csat, or the driver ratings) relates to churn. On the customer-period
panel of :func:`bsc_toolkit.panel.customer_periods` (data with churn dates):

* :func:`kaplan_meier_by_band` (:mod:`.survival`) -- Kaplan-Meier survival curves by csat band
  (band of the customer's first surveyed csat) with a log-rank test.
* :class:`DiscreteTimeHazardModel` (:mod:`.hazard`) -- a discrete-time hazard model (binomial GLM
  on the surveyed customer-periods, cloglog or logit link) with a csat spline and a test of
  diminishing returns above the knot. ``ChurnLogitModel`` is its deprecated former name.
* :class:`CoxChurnModel` (:mod:`.survival`) -- a Cox proportional-hazards model with time-varying
  csat on start/stop episodes (:func:`survival_episodes`), checked against statsmodels' ``PHReg``.

On snapshot data (one row per customer with a churn flag, tenure and one survey; no dates),
:mod:`.snapshot`:

* :class:`ChurnFlagModel` -- logistic regression of the churn flag on satisfaction and controls;
* :func:`kaplan_meier_snapshot` -- Kaplan-Meier curves over tenure by csat band.

Ratings stay on their own scale: every model takes ``scale`` (a
:class:`~bsc_toolkit.contracts.RatingScale`, default 1-10), which sets the default knot
(``scale.default_knot()``), the bands (:func:`csat_bands`) and the unit of the coefficients. Under
complete or quasi-complete separation the binomial models refit with Firth's penalty
(``penalty="auto"``) and say so.

Only surveyed customer-periods carry csat; the models use those periods (survey response is
assumed missing at random given the covariates). The csat features (:data:`CSAT_BANDS`,
:func:`csat_bands`, :func:`csat_band`, :func:`csat_spline`, :func:`add_csat_spline`) live in
:mod:`bsc_toolkit.models.features` and are re-exported here.
"""

from bsc_toolkit.models.features import CSAT_BANDS, add_csat_spline, csat_band, csat_bands, csat_spline
from bsc_toolkit.models.retention.hazard import ChurnLogitModel, DiscreteTimeHazardModel
from bsc_toolkit.models.retention.snapshot import ChurnFlagModel, kaplan_meier_snapshot
from bsc_toolkit.models.retention.survival import (
    CoxChurnModel,
    KaplanMeierByBand,
    kaplan_meier_by_band,
    survival_episodes,
)

__all__ = [
    "CSAT_BANDS",
    "csat_bands",
    "csat_band",
    "csat_spline",
    "add_csat_spline",
    "DiscreteTimeHazardModel",
    "ChurnLogitModel",
    "KaplanMeierByBand",
    "kaplan_meier_by_band",
    "survival_episodes",
    "CoxChurnModel",
    "ChurnFlagModel",
    "kaplan_meier_snapshot",
]
