"""The columns of the headline KPI table, without importing the KPI code (the scorecard spec checks against them)."""

from __future__ import annotations

from collections.abc import Sequence

from bsc_toolkit.contracts import DRIVERS

__all__ = ["CUSTOMER_KPI_COLUMNS", "KPI_COLUMNS", "MONEY_KPI_COLUMNS", "SURVEY_KPI_COLUMNS", "kpi_columns"]

#: Customer-count KPIs of :func:`~bsc_toolkit.metrics.kpi_summary`.
CUSTOMER_KPI_COLUMNS: tuple[str, ...] = ("n_customers_start", "acquired", "churned", "churn_rate", "retention_rate")

#: Survey KPIs before the driver means (``csat_top_box``: share in the declared top box of the csat scale).
SURVEY_KPI_COLUMNS: tuple[str, ...] = ("csat_mean", "csat_top_box", "nps")

#: Money KPIs (amounts in the data set's currency; the ``_usd`` suffix is the toolkit's name for money).
MONEY_KPI_COLUMNS: tuple[str, ...] = (
    "revenue_usd",
    "cost_usd",
    "profit_usd",
    "revenue_per_customer_usd",
    "profit_per_customer_usd",
)


def kpi_columns(drivers: Sequence[str] = DRIVERS) -> tuple[str, ...]:
    """Columns of :func:`~bsc_toolkit.metrics.kpi_summary` for these driver ratings, in table order.

    The fixed KPIs plus one ``<driver>_mean`` per driver, after the survey KPIs.

    Parameters
    ----------
    drivers : sequence of str
        Driver rating columns (default: the four concerns of :data:`bsc_toolkit.contracts.DRIVERS`).

    Returns
    -------
    tuple of str
    """
    return (*CUSTOMER_KPI_COLUMNS, *SURVEY_KPI_COLUMNS, *(f"{d}_mean" for d in drivers), *MONEY_KPI_COLUMNS)


#: Columns of :func:`~bsc_toolkit.metrics.kpi_summary` on data rated on the default drivers (the
#: measures a scorecard can bind to with ``kpi:``; other drivers' means bind with ``column:``).
KPI_COLUMNS: tuple[str, ...] = kpi_columns(DRIVERS)
