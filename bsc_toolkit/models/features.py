"""Features of satisfaction shared by the link models: csat bands and the linear spline at a knot.

The retention, financial and what-if models all use them, so they live here rather than in any
one model's module. Ratings stay on their own scale (:class:`~bsc_toolkit.contracts.RatingScale`):
the bands and the default knot follow the scale, never a rescaled score.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import RatingScale

__all__ = ["CSAT_BANDS", "csat_bands", "csat_band", "band_holding", "csat_spline", "add_csat_spline"]

Bands = tuple[tuple[float, str], ...]

#: Default csat bands of the 1-10 scale: (upper edge, label); a band holds csat <= edge.
#: Equal to ``csat_bands(RatingScale(1, 10))``.
CSAT_BANDS: Bands = ((5, "1-5"), (6, "6"), (7, "7"), (8, "8"), (10, "9-10"))

#: Scales with at most this many answer points get one band per point.
MAX_POINTS_FOR_ONE_BAND_PER_POINT = 7


def _label(lo: float, hi: float) -> str:
    return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"


def csat_bands(scale: RatingScale | None = None) -> Bands:
    """Satisfaction bands of a rating scale, as ``(upper edge, label)`` pairs.

    * a scale of at most 7 answer points (1-5, 1-7, 0-6...) gets one band per point;
    * a wider scale gets its top box (the ``top_box`` highest points) as the top band, three bands
      of equal width ``w`` below it and one bottom band pooling the rest of the (sparse) low end,
      with ``w = max(1, (points below the top box) // 5)``, so the bands are of roughly equal
      width on wide scales (0-100 with top-20-box: 0-32, 33-48, 49-64, 65-80, 81-100). On 1-10 with top-2-box this is exactly
      :data:`CSAT_BANDS` (1-5, 6, 7, 8, 9-10); on 0-10, 0-5, 6, 7, 8, 9-10.

    Parameters
    ----------
    scale : RatingScale, optional
        The csat scale (default 1-10, top-2-box).

    Returns
    -------
    tuple of (upper edge, label)
        Increasing upper edges for :func:`csat_band`; the last edge is the scale's top.

    Notes
    -----
    The bands depend on the scale only, not on the data: a band without answers simply stays empty
    (the models drop empty bands and never use one as the reference).
    """
    scale = RatingScale() if scale is None else scale
    low, high = float(scale.low), float(scale.high)
    n_points = int(math.floor(high - low)) + 1
    if n_points <= MAX_POINTS_FOR_ONE_BAND_PER_POINT:
        points = [low + i for i in range(n_points)]
        if points[-1] < high:  # a non-integer width: the top point is the scale's top
            points.append(high)
        return tuple((p, _label(p, p)) for p in points)
    top_min = float(scale.top_box_min)
    below = int(math.floor(top_min - low))  # answer points below the top box
    width = max(1, below // 5)
    edges: list[tuple[float, str]] = []
    hi = top_min - 1
    for _ in range(3):
        lo = hi - width + 1
        if lo <= low:
            break
        edges.append((hi, _label(lo, hi)))
        hi = lo - 1
    edges.append((hi, _label(low, hi)))
    return (*reversed(edges), (high, _label(top_min, high)))


def csat_band(csat: pd.Series | np.ndarray, bands: Bands = CSAT_BANDS) -> pd.Categorical:
    """Cut csat scores into ordered bands.

    Parameters
    ----------
    csat : array-like
        Satisfaction scores (NaN stays NaN).
    bands : tuple of (upper edge, label)
        Increasing upper edges; a score belongs to the first band whose edge it
        does not exceed (:func:`csat_bands` gives them for a scale).

    Returns
    -------
    pandas.Categorical
        Ordered categories labelled by ``bands``.
    """
    edges = [-np.inf] + [float(e) for e, _ in bands[:-1]] + [np.inf]
    labels = [label for _, label in bands]
    return pd.cut(np.asarray(csat, dtype=float), bins=edges, labels=labels, right=True, ordered=True)


def band_holding(value: float, bands: Bands = CSAT_BANDS) -> str:
    """Label of the band that holds ``value`` (e.g. the reference band holding the spline's knot)."""
    return str(csat_band(np.array([value], dtype=float), bands)[0])


def csat_spline(csat: pd.Series | np.ndarray | float, knot: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Linear-spline basis of csat at ``knot``: (points below the knot, points above it).

    Parameters
    ----------
    csat : array-like or float
        Satisfaction scores (NaN stays NaN).
    knot : float
        Knot of the spline (``scale.default_knot()`` of the data's scale: 7 on 1-10, 4 on 1-5).

    Returns
    -------
    below, above : numpy.ndarray
        ``min(csat - knot, 0)`` and ``max(csat - knot, 0)``, so a coefficient on
        each is the effect per scale point on its side of the knot.
    """
    d = np.asarray(csat, dtype=float) - float(knot)
    return np.minimum(d, 0.0), np.maximum(d, 0.0)


def add_csat_spline(
    df: pd.DataFrame,
    knot: float | None = None,
    col: str = "csat",
    *,
    scale: RatingScale | None = None,
    bands: Bands | None = None,
) -> pd.DataFrame:
    """Return a copy with the linear-spline basis of ``col`` at ``knot`` and its band.

    Adds ``csat_below`` and ``csat_above`` (:func:`csat_spline`) and
    ``csat_band`` (:func:`csat_band`).

    Parameters
    ----------
    df : pandas.DataFrame
    knot : float, optional
        Default ``scale.default_knot()`` (7 on the default 1-10 scale).
    col : str
        The satisfaction column.
    scale : RatingScale, optional
        Scale of ``col`` (default 1-10).
    bands : tuple of (upper edge, label), optional
        Default ``csat_bands(scale)``.
    """
    if col not in df.columns:
        raise ValueError(f"panel lacks column {col!r}; it has {list(df.columns)}")
    scale = RatingScale() if scale is None else scale
    knot = scale.default_knot() if knot is None else float(knot)
    bands = csat_bands(scale) if bands is None else bands
    out = df.copy()
    out["csat_below"], out["csat_above"] = csat_spline(out[col], knot)
    out["csat_band"] = csat_band(out[col], bands)
    return out
