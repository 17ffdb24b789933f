"""Domain constants of the toolkit: the one place they are defined.

Everything else (the simulator, the schemas, the panel, the models) imports these; nothing here
imports from the rest of the package. The drivers and scales are *defaults*: a data set declares
its own in ``dataset.yaml`` (:mod:`bsc_toolkit.data.description`), and the metrics and models take
the driver columns and rating scales as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DRIVERS", "RATING_SCALES", "RatingScale", "default_scales"]

#: The four customer concerns of the Balanced Scorecard (Kaplan & Norton), as survey columns.
DRIVERS: tuple[str, ...] = ("time", "quality", "service", "cost")

#: Rating columns of the simulated surveys table and their scales (lowest, highest).
RATING_SCALES: dict[str, tuple[int, int]] = {"csat": (1, 10), "nps": (0, 10), **{d: (1, 10) for d in DRIVERS}}


@dataclass(frozen=True)
class RatingScale:
    """A rating scale as the data holds it (never rescaled), with its top-box rule.

    Parameters
    ----------
    low, high : float
        Lowest and highest possible answer (1-5, 0-10, 1-7, 0-100...).
    top_box : int
        How many of the top scale points count as "satisfied" (top-2-box of 1-5 is 4-5).
    """

    low: float = 1
    high: float = 10
    top_box: int = 2

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise ValueError(f"a rating scale needs high > low, got {self.low}-{self.high}")
        if not 1 <= self.top_box <= self.high - self.low:
            raise ValueError(f"top_box must be between 1 and {self.high - self.low:g}, got {self.top_box}")

    @property
    def top_box_min(self) -> float:
        """Lowest score counted in the top box (9 for top-2 of 1-10, 4 for top-2 of 1-5)."""
        return self.high - self.top_box + 1

    @property
    def label(self) -> str:
        """``"1-5"``, ``"0-10"``..."""
        return f"{self.low:g}-{self.high:g}"

    @property
    def points(self) -> float:
        """Width of the scale in points (4 for 1-5)."""
        return self.high - self.low

    def normalise(self, values):
        """The 0-1 score ``(value - low) / (high - low)``, for comparing ratings across scales."""
        return (values - self.low) / (self.high - self.low)

    def default_knot(self) -> float:
        """Knot of the satisfaction spline: two thirds up the scale, rounded (7 on 1-10, 4 on 1-5)."""
        return float(round(self.low + 2 * (self.high - self.low) / 3))


def default_scales() -> dict[str, RatingScale]:
    """The simulator's scales: csat and drivers 1-10 (top-2-box 9-10), nps 0-10."""
    return {name: RatingScale(lo, hi) for name, (lo, hi) in RATING_SCALES.items()}
