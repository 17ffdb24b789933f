"""Design matrices of the hazard model without patsy on the hot path.

:func:`build_design` evaluates the simple terms of the default specification (numeric columns
and ``C(column)`` / ``C(column, Treatment("level"))`` factors) with numpy, in patsy's column
order and names; the patsy ``DesignInfo`` (for predictions on new rows) is built from a few
rows only. Anything else (a custom formula, transforms like ``np.log(x)``, interactions) goes
through patsy on the full data.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import patsy

__all__ = ["term_columns", "build_design"]

_FACTOR = re.compile(r"""^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*Treatment\(\s*(?:"([^"]*)"|'([^']*)')\s*\)\s*)?\)$""")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse(term: str) -> tuple[str, str, str | None] | None:
    """(kind, column, reference) of a simple term, or None."""
    term = term.strip()
    m = _FACTOR.match(term)
    if m:
        ref = m.group(2) if m.group(2) is not None else m.group(3)
        return "factor", m.group(1), ref
    if _NAME.match(term):
        return "numeric", term, None
    return None


def term_columns(rhs_terms: list[str]) -> list[str] | None:
    """Data columns the terms use, or None when a term is not simple (then patsy decides)."""
    cols = []
    for term in rhs_terms:
        parsed = _parse(term)
        if parsed is None:
            return None
        cols.append(parsed[1])
    return cols


def _lean(df: pd.DataFrame, rhs_terms: list[str]) -> tuple[np.ndarray, list[str]] | None:
    parsed = [(_parse(t), t.strip()) for t in rhs_terms]
    if any(p is None for p, _ in parsed):
        return None
    factors = [(p, t) for p, t in parsed if p[0] == "factor"]
    numerics = [(p, t) for p, t in parsed if p[0] == "numeric"]
    n = len(df)
    columns: list[np.ndarray] = [np.ones(n)]
    names = ["Intercept"]
    for (_, col, ref), term in factors:  # patsy: terms without numeric factors first
        values = df[col]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            return None
        levels = [str(c) if not isinstance(c, str) else c for c in values.cat.categories]
        codes = values.cat.codes.to_numpy()
        ref_i = 0 if ref is None else (levels.index(ref) if ref in levels else -1)
        if ref_i < 0:
            return None
        for i, level in enumerate(levels):
            if i != ref_i:
                columns.append((codes == i).astype(np.float64))
                names.append(f"{term}[T.{level}]")
    for (_, col, _), _term in numerics:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            return None
        columns.append(df[col].to_numpy(dtype=np.float64))
        names.append(col)
    return np.column_stack(columns), names


def build_design(df: pd.DataFrame, rhs: str) -> tuple[np.ndarray, list[str], patsy.DesignInfo, bool]:
    """Design matrix of ``rhs`` on ``df`` (no missing values in the columns used).

    Returns
    -------
    x : ndarray (len(df), k) float64
    names : list of str
        Column names, as patsy names them.
    design_info : patsy.DesignInfo
        For new rows (``patsy.build_design_matrices``).
    lean : bool
        Whether the numpy path built ``x`` (else patsy did).
    """
    rhs_terms = _split(rhs)
    info = patsy.dmatrix(rhs, df.iloc[: min(len(df), 50)], return_type="dataframe", NA_action="raise").design_info
    lean = _lean(df, rhs_terms) if rhs_terms is not None else None
    if lean is not None and lean[1] == list(info.column_names):
        return lean[0], lean[1], info, True
    x = patsy.dmatrix(rhs, df, return_type="dataframe", NA_action="raise")
    return np.ascontiguousarray(x.to_numpy(dtype=np.float64)), list(x.columns), x.design_info, False


def _split(rhs: str) -> list[str] | None:
    """Top-level ``+``-separated terms (None if the formula has other operators)."""
    terms, depth, cur = [], 0, ""
    for ch in rhs:
        depth += ch in "(["
        depth -= ch in ")]"
        if ch == "+" and depth == 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += ch
    terms.append(cur.strip())
    if any(not t or (_parse(t) is None) for t in terms):
        return None
    return [t for t in terms if t not in ("1",)]
