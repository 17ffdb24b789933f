"""Input checks shared by the CLV fitters and value functions, and array-in/array-out wrapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _rows_preview(index: pd.Index, limit: int = 5) -> str:
    shown = ", ".join(map(str, list(index[:limit])))
    more = f" (and {len(index) - limit} more)" if len(index) > limit else ""
    return f"[{shown}]{more}"


def _as_float_array(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if np.isnan(arr).any():
        rows = np.flatnonzero(np.isnan(np.atleast_1d(arr)))
        raise ValueError(f"{name} contains NaN at positions {rows[:5].tolist()}")
    return arr


def _check_columns(df: pd.DataFrame, cols: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError("expected a pandas DataFrame (e.g. the output of rfm_summary)")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"summary is missing column(s) {missing}; available: {list(df.columns)}")
    for c in cols:
        vals = pd.to_numeric(df[c], errors="coerce")
        bad = vals.isna().to_numpy() | ~np.isfinite(vals.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            raise ValueError(
                f"column {c!r} has {int(bad.sum())} missing/non-finite value(s) at rows {_rows_preview(df.index[bad])}"
            )


def _rfm_arrays(
    summary: pd.DataFrame, frequency_col: str, recency_col: str, T_col: str, other_cols: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float arrays of frequency, recency and T from an RFM summary.

    ``other_cols`` are checked for presence and finiteness in the same pass (one
    error listing every missing column).
    """
    _check_columns(summary, [frequency_col, recency_col, T_col, *other_cols])
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in (frequency_col, recency_col, T_col))
    _check_rfm(x, t_x, T, summary.index, (frequency_col, recency_col, T_col))
    return x, t_x, T


def _check_rfm(
    frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, index: pd.Index, names: tuple[str, str, str]
) -> None:
    fcol, rcol, tcol = names

    def fail(mask: np.ndarray, what: str) -> None:
        if mask.any():
            raise ValueError(f"{int(mask.sum())} row(s) with {what}: rows {_rows_preview(index[mask])}")

    fail(frequency < 0, f"negative {fcol!r}")
    fail(recency < 0, f"negative {rcol!r}")
    fail(T < 0, f"negative {tcol!r}")
    fail(frequency != np.round(frequency), f"non-integer {fcol!r} (repeat purchase counts)")
    fail(recency > T * (1 + 1e-12), f"{rcol!r} greater than {tcol!r}")
    fail((frequency > 0) & (recency == 0), f"{fcol!r} > 0 but {rcol!r} == 0 (repeat purchases need a positive recency)")
    fail((frequency == 0) & (recency > 0), f"{fcol!r} == 0 but {rcol!r} > 0")


def _wrap_like(result: np.ndarray, *inputs: Any) -> Any:
    for x in inputs:
        if isinstance(x, pd.Series) and np.ndim(result) == 1 and len(x) == len(result):
            return pd.Series(result, index=x.index)
    if np.ndim(result) == 0:
        return float(result)
    return result
