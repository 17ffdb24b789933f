"""Shared helpers of the KPI functions: grouping keys, column checks, periods, intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from bsc_toolkit.models._base import resolve_alpha


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{table} table lacks column(s) {missing}; it has {list(frame.columns)}")


def _to_datetime(values: pd.Series) -> pd.Series:
    """``pd.to_datetime(values)``, skipped when they are datetimes already (pandas 2 then still samples
    the values one by one to decide on caching: half a second per call on 100k rows)."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values)


def _with_period(frame: pd.DataFrame, date_col: str, freq: str) -> pd.DataFrame:
    out = frame.copy()
    out["period"] = _to_datetime(out[date_col]).dt.to_period(freq)
    return out


def _answered(
    surveys: pd.DataFrame, column: str, by: str | Sequence[str] | None, freq: str | None, date_col: str
) -> tuple[pd.DataFrame, list[str]]:
    """Non-missing answers in ``column`` with their grouping keys (period first)."""
    _require(surveys, [column, *([date_col] if freq else []), *_by_list(by)], "surveys")
    keys = (["period"] if freq else []) + _by_list(by)
    frame = _with_period(surveys, date_col, freq) if freq else surveys
    frame = frame.loc[frame[column].notna(), [*keys, column]]
    if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
        try:
            frame = frame.assign(**{column: pd.to_numeric(frame[column]).astype(float)})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column '{column}' must hold numeric ratings: {exc}") from None
    return frame, keys


def _optional_frame(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The table, or an empty one with only ``customer_id`` when it is absent (``None``)."""
    return pd.DataFrame({"customer_id": pd.Series([], dtype="int64")}) if frame is None else frame


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame[column]`` as datetimes (all NaT when the column is absent)."""
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return _to_datetime(frame[column])


def _known_dates(*series: pd.Series) -> pd.Series:
    """The non-missing dates of several Series, as one (empty when there are none)."""
    parts = [_to_datetime(x).dropna() for x in series]
    parts = [x for x in parts if len(x)]
    return pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype="datetime64[ns]")


def _group(frame: pd.DataFrame, keys: list[str]):
    """Group by ``keys``, or into one group when there are none."""
    return frame.groupby(keys, observed=True, sort=True) if keys else frame.groupby(lambda _: 0)


def _resolve_alpha(alpha: float, confidence: float | None, function: str) -> float:
    """``alpha``, or ``1 - confidence`` from the deprecated keyword (with a FutureWarning)."""
    return resolve_alpha(alpha, confidence, "confidence", function, stacklevel=4)


def _wilson(successes: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (statsmodels' ``proportion_confint``); NaN where n = 0."""
    n = np.asarray(n, dtype=float)
    successes = np.asarray(successes, dtype=float)
    has = n > 0
    lo, hi = np.full_like(n, np.nan), np.full_like(n, np.nan)
    if has.any():
        lo[has], hi[has] = proportion_confint(successes[has], n[has], alpha=alpha, method="wilson")
    return lo, hi
