"""Linear algebra of fixed-effects panel estimators on integer group codes (numpy only).

Group sums by ``np.bincount``, in-place demeaning, cluster-robust (CR1) OLS and block-wise weighted
Gram matrices: the pieces :mod:`bsc_toolkit.models.financial` builds its pooled, within, first-difference
and PPML estimators from, written to avoid n x k temporaries at millions of rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cluster_robust_ols"]


def _group_sum(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Column-wise sums of ``values`` (n x k or n) per integer group code."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    return np.column_stack(
        [np.bincount(codes, weights=values[:, j], minlength=n_groups) for j in range(values.shape[1])]
    )


def cluster_robust_ols(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray, df_absorbed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and cluster-robust covariance (CR1, Stata's small-sample factor).

    Parameters
    ----------
    y : (n,) array
    x : (n, k) array
    groups : (n,) integer codes 0..G-1
    df_absorbed : int
        Parameters absorbed before the regression (not counted when clustering
        by the absorbed groups, as in Stata's ``xtreg, fe vce(cluster id)``).

    Returns
    -------
    beta : (k,) array
    cov : (k, k) array
        ``G/(G-1) * (n-1)/(n-k-df_absorbed)`` times the sandwich.
    """
    xtx = x.T @ x
    beta = np.linalg.solve(xtx, x.T @ y)
    resid = y - x @ beta
    n, k = x.shape
    n_groups = int(groups.max()) + 1
    scores = _group_sum_product(groups, x, resid, n_groups)
    bread = np.linalg.inv(xtx)
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - k - df_absorbed)
    cov = factor * bread @ (scores.T @ scores) @ bread
    return beta, cov


def _group_sum_product(codes: np.ndarray, x: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """``_group_sum(codes, x * weights[:, None], n_groups)`` one column at a time (no n x k temporary)."""
    out = np.empty((n_groups, x.shape[1]))
    for j in range(x.shape[1]):
        out[:, j] = np.bincount(codes, weights=x[:, j] * weights, minlength=n_groups)
    return out


def _demean_(x: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Subtract the group means from each column of ``x`` in place; return the (G, k) means."""
    means = np.empty((len(counts), x.shape[1]))
    for j in range(x.shape[1]):
        col = x[:, j]
        means[:, j] = np.bincount(codes, weights=col, minlength=len(counts)) / counts
        col -= means[codes, j]
    return means


def _column_std(x: np.ndarray) -> np.ndarray:
    return np.array([x[:, j].std() for j in range(x.shape[1])])


def _weighted_gram(x: np.ndarray, w: np.ndarray, block: int = 262_144) -> np.ndarray:
    """``(x * w[:, None]).T @ x`` in row blocks (a bounded temporary instead of an n x k one)."""
    k = x.shape[1]
    out = np.zeros((k, k))
    for start in range(0, x.shape[0], block):
        xb = x[start : start + block]
        out += (xb * w[start : start + block, None]).T @ xb
    return out
