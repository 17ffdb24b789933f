"""Survey KPIs: customer satisfaction (mean, top-box share on the declared scale) and Net Promoter Score."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bsc_toolkit.contracts import RatingScale, default_scales
from bsc_toolkit.metrics._common import _answered, _group, _resolve_alpha, _wilson
from bsc_toolkit.models._base import z_critical

__all__ = ["csat_summary", "nps"]


def _resolve_scale(scale: RatingScale | None, scale_max: int | None, top_box: int | None, column: str) -> RatingScale:
    """``scale``, or the scale the deprecated ``scale_max``/``top_box`` keywords describe (FutureWarning)."""
    if scale_max is None and top_box is None:
        return scale if scale is not None else default_scales().get(column, default_scales()["csat"])
    if scale is not None:
        raise ValueError("give scale= (a RatingScale) or the deprecated scale_max=/top_box=, not both")
    warnings.warn(
        "csat_summary(scale_max=..., top_box=...) is deprecated and will be removed in 0.3.0; "
        "pass scale=RatingScale(low, high, top_box) (from bsc_toolkit.contracts)",
        FutureWarning,
        stacklevel=3,
    )
    return RatingScale(1, 10 if scale_max is None else scale_max, 2 if top_box is None else top_box)


def csat_summary(
    surveys: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str | None = "Q",
    column: str = "csat",
    scale_max: int | None = None,
    top_box: int | None = None,
    *,
    scale: RatingScale | None = None,
    alpha: float = 0.05,
    date_col: str = "surveyed_at",
    confidence: float | None = None,
) -> pd.DataFrame:
    """Customer satisfaction: mean score and top-box share with intervals, on the data's own scale.

    Parameters
    ----------
    surveys : pandas.DataFrame
        Survey responses with ``column`` and ``date_col`` (possibly no rows: an empty table).
    by : str or list of str, optional
        Extra grouping columns (e.g. ``"segment"``; join customer attributes first).
    freq : str or None
        Period frequency; ``None`` pools all responses.
    column : str
        The satisfaction score column.
    scale_max, top_box : int, optional
        Deprecated: use ``scale=RatingScale(1, scale_max, top_box)``.
    scale : RatingScale, optional
        The scale the ratings are on and its top-box rule (top-2 of 1-5 is 4-5); default
        the simulator's 1-10 with top-2-box 9-10. Scores are never rescaled; a score outside
        the scale is an error.
    alpha : float
        1 - confidence level of the intervals (t interval for the mean, Wilson
        interval for the top-box share).
    confidence : float, optional
        Deprecated: ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        ``[period,] *by, n_responses, csat_mean, csat_mean_ci_lower,
        csat_mean_ci_upper, csat_top_box, csat_top_box_ci_lower,
        csat_top_box_ci_upper``; ``csat_top_box`` is the share of answers in the top box of
        ``scale`` (``attrs["scale"]`` holds the scale).
    """
    alpha = _resolve_alpha(alpha, confidence, "csat_summary")
    scale = _resolve_scale(scale, scale_max, top_box, column)
    frame, keys = _answered(surveys, column, by, freq, date_col)
    outside = (frame[column] < scale.low) | (frame[column] > scale.high)
    if outside.any():
        rows = frame.index[outside][:5].tolist()
        raise ValueError(
            f"column '{column}' holds scores outside its declared {scale.label} scale (rows {rows}); "
            "declare the scale the data is on (scale=RatingScale(low, high, top_box))"
        )
    frame = frame.assign(_top=(frame[column] >= scale.top_box_min).astype(float))
    g = _group(frame, keys)
    out = g.agg(n_responses=(column, "size"), csat_mean=(column, "mean"), sd=(column, "std"), top=("_top", "sum"))
    n = out["n_responses"].to_numpy(dtype=float)
    tcrit = stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1))
    half = tcrit * out["sd"].to_numpy(dtype=float) / np.sqrt(n)
    out["csat_mean_ci_lower"] = out["csat_mean"] - half
    out["csat_mean_ci_upper"] = out["csat_mean"] + half
    out["csat_top_box"] = out["top"] / n
    lo, hi = _wilson(out["top"].to_numpy(), n, alpha)
    out["csat_top_box_ci_lower"], out["csat_top_box_ci_upper"] = lo, hi
    out = out.drop(columns=["sd", "top"]).reset_index()
    out = out if keys else out.drop(columns=out.columns[0])
    out.attrs["scale"] = scale
    return out


def nps(
    surveys: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str | None = "Q",
    column: str = "nps",
    *,
    alpha: float = 0.05,
    method: str = "analytic",
    n_boot: int = 2000,
    seed: int = 0,
    date_col: str = "surveyed_at",
    confidence: float | None = None,
) -> pd.DataFrame:
    """Net Promoter Score with a confidence interval.

    NPS = 100 x (share of promoters, 9-10 - share of detractors, 0-6).

    Parameters
    ----------
    surveys : pandas.DataFrame
        Survey responses with the 0-10 likelihood-to-recommend ``column``.
    by, freq, date_col
        Grouping as in :func:`csat_summary`.
    alpha : float
        1 - confidence level of the interval.
    method : {"analytic", "bootstrap"}
        ``"analytic"``: normal interval with the multinomial variance of a
        difference of proportions, ``Var = (p_P + p_D - (p_P - p_D)^2) / n``.
        ``"bootstrap"``: percentile interval from ``n_boot`` multinomial
        resamples per group (seeded).

    Returns
    -------
    pandas.DataFrame
        ``[period,] *by, n_responses, promoters_share, passives_share,
        detractors_share, nps, nps_se, nps_ci_lower, nps_ci_upper``.
    """
    alpha = _resolve_alpha(alpha, confidence, "nps")
    if method not in {"analytic", "bootstrap"}:
        raise ValueError(f"method must be 'analytic' or 'bootstrap', not {method!r}")
    frame, keys = _answered(surveys, column, by, freq, date_col)
    score = frame[column]
    if ((score < 0) | (score > 10)).any():
        rows = frame.index[(score < 0) | (score > 10)][:5].tolist()
        raise ValueError(f"column '{column}' must be on the 0-10 scale; rows {rows} are outside it")
    frame = frame.assign(_p=(score >= 9).astype(float), _d=(score <= 6).astype(float))
    g = _group(frame, keys)
    out = g.agg(n_responses=(column, "size"), promoters_share=("_p", "mean"), detractors_share=("_d", "mean"))
    out["passives_share"] = 1 - out["promoters_share"] - out["detractors_share"]
    p, d, n = out["promoters_share"], out["detractors_share"], out["n_responses"].astype(float)
    out["nps"] = 100 * (p - d)
    out["nps_se"] = 100 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0) / n)
    if method == "analytic":
        z = z_critical(alpha)
        out["nps_ci_lower"] = np.maximum(out["nps"] - z * out["nps_se"], -100)
        out["nps_ci_upper"] = np.minimum(out["nps"] + z * out["nps_se"], 100)
    else:
        rng = np.random.default_rng(seed)
        tail = alpha / 2
        lows, highs = [], []
        for pp, dd, nn in zip(p, d, n.astype(int)):
            draws = rng.multinomial(nn, [pp, dd, max(1 - pp - dd, 0.0)], size=n_boot)
            boot = 100 * (draws[:, 0] - draws[:, 1]) / nn
            lows.append(np.quantile(boot, tail))
            highs.append(np.quantile(boot, 1 - tail))
        out["nps_ci_lower"], out["nps_ci_upper"] = lows, highs
    cols = [
        "n_responses",
        "promoters_share",
        "passives_share",
        "detractors_share",
        "nps",
        "nps_se",
        "nps_ci_lower",
        "nps_ci_upper",
    ]
    out = out[cols].reset_index()
    return out if keys else out.drop(columns=out.columns[0])
