"""Features of satisfaction shared by the link models: csat bands and the linear spline at a knot.

The retention, financial and what-if models all use them, so they live here rather than in any
one model's module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CSAT_BANDS", "csat_band", "csat_spline", "add_csat_spline"]

#: Default csat bands: (upper edge, label); a band holds csat <= edge.
CSAT_BANDS: tuple[tuple[float, str], ...] = ((5, "1-5"), (6, "6"), (7, "7"), (8, "8"), (10, "9-10"))


def csat_band(csat: pd.Series | np.ndarray, bands: tuple[tuple[float, str], ...] = CSAT_BANDS) -> pd.Categorical:
    """Cut csat scores into ordered bands.

    Parameters
    ----------
    csat : array-like
        Satisfaction scores (NaN stays NaN).
    bands : tuple of (upper edge, label)
        Increasing upper edges; a score belongs to the first band whose edge it
        does not exceed.

    Returns
    -------
    pandas.Categorical
        Ordered categories labelled by ``bands``.
    """
    edges = [-np.inf] + [float(e) for e, _ in bands[:-1]] + [np.inf]
    labels = [label for _, label in bands]
    return pd.cut(np.asarray(csat, dtype=float), bins=edges, labels=labels, right=True, ordered=True)


def csat_spline(csat: pd.Series | np.ndarray | float, knot: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Linear-spline basis of csat at ``knot``: (points below the knot, points above it).

    Parameters
    ----------
    csat : array-like or float
        Satisfaction scores (NaN stays NaN).
    knot : float
        Knot of the spline.

    Returns
    -------
    below, above : numpy.ndarray
        ``min(csat - knot, 0)`` and ``max(csat - knot, 0)``, so a coefficient on
        each is the effect per csat point on its side of the knot.
    """
    d = np.asarray(csat, dtype=float) - float(knot)
    return np.minimum(d, 0.0), np.maximum(d, 0.0)


def add_csat_spline(df: pd.DataFrame, knot: float = 7.0, col: str = "csat") -> pd.DataFrame:
    """Return a copy with the linear-spline basis of ``col`` at ``knot``.

    Adds ``csat_below`` and ``csat_above`` (:func:`csat_spline`) and
    ``csat_band`` (:func:`csat_band`).
    """
    if col not in df.columns:
        raise ValueError(f"panel lacks column {col!r}; it has {list(df.columns)}")
    out = df.copy()
    out["csat_below"], out["csat_above"] = csat_spline(out[col], knot)
    out["csat_band"] = csat_band(out[col])
    return out
