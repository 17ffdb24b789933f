"""Domain constants and the toolkit's column names: the one place they are defined.

Everything else (the simulator, the schemas, the panel, the models) imports these; nothing here
imports from the rest of the package. The drivers are a *default*: a data set may rate other
concerns, and the models take the driver columns as an argument.
"""

from __future__ import annotations

__all__ = [
    "DRIVERS",
    "DRIVER_LABELS",
    "RATING_SCALES",
    "CUSTOMER_COLUMNS",
    "SURVEY_COLUMNS",
    "TRANSACTION_COLUMNS",
    "DEFAULT_FREQ",
]

#: The four customer concerns of the Balanced Scorecard (Kaplan & Norton), as survey columns.
DRIVERS: tuple[str, ...] = ("time", "quality", "service", "cost")

#: Readable labels of the default drivers.
DRIVER_LABELS: dict[str, str] = {
    "time": "Time",
    "quality": "Quality",
    "service": "Performance & service",
    "cost": "Cost",
}

#: Scale (lowest, highest) of each rating column of the surveys table.
RATING_SCALES: dict[str, tuple[int, int]] = {"csat": (1, 10), "nps": (0, 10), **{d: (1, 10) for d in DRIVERS}}

#: Column names of the three tables (see data/README.md); optional columns included.
CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id", "segment", "region", "channel", "acquired_at", "churned_at")
SURVEY_COLUMNS: tuple[str, ...] = ("customer_id", "surveyed_at", "csat", "nps", *DRIVERS)
TRANSACTION_COLUMNS: tuple[str, ...] = ("customer_id", "ordered_at", "revenue_usd", "cost_usd")

#: Default period frequency of KPIs and panels (pandas offset alias: quarters).
DEFAULT_FREQ = "Q"
