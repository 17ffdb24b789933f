"""Input checks shared by the CLV fitters and value functions, and array-in/array-out wrapping.

Covariates (the BG/NBD and the sBG with covariates): column names (:func:`_as_names`), the numeric
matrix with missing values kept as NaN (:func:`_covariate_matrix`), and whether their effects can be
estimated at all (:func:`_flat_columns`, :func:`_collinear`).
"""

from __future__ import annotations

import difflib
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


def _non_negative(value: Any, name: str, unit: str) -> float:
    """``value`` as a finite float >= 0, or an error naming ``name`` (e.g. a horizon, a discount rate)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number {unit}, got {value!r}") from None
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a non-negative number {unit}, got {value!r}")
    return v


# -- covariates ------------------------------------------------------------------------------------


def _as_names(value: str | Sequence[str] | None, what: str = "covariates") -> list[str] | None:
    """Column names from one name or a sequence of them (None stays None); duplicates are an error."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(f"{what} must be column names (str); got {bad}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} lists a column twice: {names}")
    return names


def _numeric_column(
    frame: pd.DataFrame, col: str, label: str = "column", what: str = "data", advice: str = ""
) -> np.ndarray:
    """A column as floats (booleans as 0/1, missing as NaN); other values are an error naming the column and rows."""
    raw = frame[col]
    if pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=float, na_value=np.nan)
    vals = pd.to_numeric(raw, errors="coerce")
    bad = vals.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        raise ValueError(
            f"{label} {col!r} must be numeric; {int(bad.sum()):,} row(s) of {what} hold other values ({examples}) "
            f"at rows {_rows_preview(frame.index[bad])}{advice}"
        )
    return vals.to_numpy(dtype=float, na_value=np.nan)


def _weights(frame: pd.DataFrame, col: str) -> np.ndarray:
    """The ``col`` column as weights: the number of customers each row stands for (finite, non-negative)."""
    w = _numeric_column(frame, col)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(
            f"column {col!r} (weights): {int(bad.sum())} row(s) missing, infinite or negative at rows "
            f"{_rows_preview(frame.index[bad])}"
        )
    return w


def _covariate_matrix(frame: pd.DataFrame, names: Sequence[str], what: str = "summary") -> np.ndarray:
    """Float matrix of the covariate columns of ``frame`` (``what`` names it); NaN where missing.

    Unknown columns (with a close match suggested), non-numeric values (booleans count as 0/1) and
    infinite values are errors naming the column and the rows.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame with the covariate columns")
    missing = [c for c in names if c not in frame.columns]
    if missing:
        hints = []
        for c in missing:
            close = difflib.get_close_matches(str(c), [str(k) for k in frame.columns], n=1)
            hints.append(f"{c!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"{what} has no covariate column {', '.join(hints)}; its columns are {list(frame.columns)}")
    cols = []
    for c in names:
        arr = _numeric_column(frame, c, "covariate column", what, "; code it as numbers (e.g. 0/1)")
        inf = np.isinf(arr)
        if inf.any():
            raise ValueError(
                f"covariate column {c!r} of {what} has {int(inf.sum()):,} infinite value(s) at rows "
                f"{_rows_preview(frame.index[inf])}"
            )
        cols.append(arr)
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))


def _standardised(Z: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(Z - mean) / sd`` (weighted by ``w``, default 1), the standard deviations, the weights and their sum."""
    w = np.ones(Z.shape[0]) if w is None else np.asarray(w, dtype=float)
    W = float(w.sum())
    centred = Z - (Z * w[:, None]).sum(axis=0) / W
    sd = np.sqrt((centred**2 * w[:, None]).sum(axis=0) / W)
    with np.errstate(divide="ignore", invalid="ignore"):
        return centred / sd, sd, w, W


def _flat_columns(Z: np.ndarray, w: np.ndarray | None = None) -> list[int]:
    """Columns of ``Z`` (rows = customers, weights ``w``) without variation: their effects cannot be estimated.

    A column is flat when its (weighted) standard deviation is below ``1e-12`` of its largest
    absolute value (what is left of a constant after centring in floating point).
    """
    if Z.shape[1] == 0:
        return []
    _, sd, _, _ = _standardised(Z, w)
    top = np.abs(Z).max(axis=0)
    return [j for j in range(Z.shape[1]) if not sd[j] > 1e-12 * top[j]]


def _collinear(Z: np.ndarray, w: np.ndarray | None = None) -> bool:
    """Whether the columns of ``Z`` (none flat) are linear combinations of each other among the customers.

    The (weighted) correlation matrix is then singular: its smallest eigenvalue below ``1e-10``.
    """
    if Z.shape[1] < 2:
        return False
    Zs, _, w, W = _standardised(Z, w)
    corr = (Zs * w[:, None]).T @ Zs / W
    return bool(float(np.linalg.eigvalsh(corr).min()) < 1e-10)
