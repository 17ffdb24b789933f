"""The columns of the headline KPI table, without importing the KPI code (the scorecard spec checks against them)."""

from __future__ import annotations

__all__ = ["KPI_COLUMNS"]

#: Columns of :func:`~bsc_toolkit.metrics.kpi_summary` (the measures a scorecard can bind to).
KPI_COLUMNS: tuple[str, ...] = (
    "n_customers_start",
    "acquired",
    "churned",
    "churn_rate",
    "retention_rate",
    "csat_mean",
    "csat_top2_box",
    "nps",
    "time_mean",
    "quality_mean",
    "service_mean",
    "cost_mean",
    "revenue_usd",
    "cost_usd",
    "profit_usd",
    "revenue_per_customer_usd",
    "profit_per_customer_usd",
)
