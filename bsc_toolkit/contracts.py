"""Domain constants of the toolkit: the one place they are defined.

Everything else (the simulator, the schemas, the panel, the models) imports these; nothing here
imports from the rest of the package. The drivers are a *default*: a data set may rate other
concerns, and the models take the driver columns as an argument.
"""

from __future__ import annotations

__all__ = ["DRIVERS", "RATING_SCALES"]

#: The four customer concerns of the Balanced Scorecard (Kaplan & Norton), as survey columns.
DRIVERS: tuple[str, ...] = ("time", "quality", "service", "cost")

#: Rating columns of the surveys table and their scales (lowest, highest).
RATING_SCALES: dict[str, tuple[int, int]] = {"csat": (1, 10), "nps": (0, 10), **{d: (1, 10) for d in DRIVERS}}
