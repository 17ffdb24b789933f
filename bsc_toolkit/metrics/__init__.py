"""Customer KPIs of the Balanced Scorecard's customer perspective.

Pure functions ``DataFrame -> DataFrame``: each returns a tidy table with one
row per period (and per group when ``by`` is given). Periods are pandas
Periods; rates are shares in [0, 1]; NPS is on the usual -100..100 scale;
money columns end in ``_usd``.

One module per job, all re-exported here (``from bsc_toolkit import metrics;
metrics.nps(...)``):

- :mod:`~bsc_toolkit.metrics.satisfaction`: survey KPIs, :func:`csat_summary`, :func:`nps`;
- :mod:`~bsc_toolkit.metrics.customers`: customer counts, :func:`retention`, :func:`acquisition`;
- :mod:`~bsc_toolkit.metrics.profitability`: money, :func:`customer_profitability`,
  :func:`whale_curve`, :func:`market_share`;
- :mod:`~bsc_toolkit.metrics.summary`: the headline table :func:`kpi_summary`
  (columns :func:`kpi_columns`, :data:`KPI_COLUMNS` for the default drivers) and :func:`compare_periods`.

Missing is no data: every function takes tables with no rows and without optional columns,
and a KPI whose input is absent is NaN, never 0 and never derived from another measure.
Ratings stay on their own scale (:class:`bsc_toolkit.contracts.RatingScale`).

The functions are imported on first use (PEP 562), so ``KPI_COLUMNS`` (which the
scorecard spec checks measures against) comes without loading statsmodels or the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bsc_toolkit.metrics._columns import KPI_COLUMNS, kpi_columns

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from bsc_toolkit.metrics.customers import CHURN_BASES, acquisition, churn_information, retention
    from bsc_toolkit.metrics.profitability import WHALE_COLUMNS, customer_profitability, market_share, whale_curve
    from bsc_toolkit.metrics.satisfaction import csat_summary, nps
    from bsc_toolkit.metrics.summary import compare_periods, kpi_summary, resolve_ratings

# Each function and the module (of this package) that holds it.
_HOMES: dict[str, str] = {
    "csat_summary": "satisfaction",
    "nps": "satisfaction",
    "acquisition": "customers",
    "retention": "customers",
    "churn_information": "customers",
    "CHURN_BASES": "customers",
    "customer_profitability": "profitability",
    "WHALE_COLUMNS": "profitability",
    "market_share": "profitability",
    "whale_curve": "profitability",
    "compare_periods": "summary",
    "kpi_summary": "summary",
    "resolve_ratings": "summary",
}

__all__ = [
    "CHURN_BASES",
    "KPI_COLUMNS",
    "WHALE_COLUMNS",
    "acquisition",
    "churn_information",
    "compare_periods",
    "csat_summary",
    "customer_profitability",
    "kpi_columns",
    "kpi_summary",
    "market_share",
    "nps",
    "resolve_ratings",
    "retention",
    "whale_curve",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
