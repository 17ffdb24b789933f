"""Linear algebra of fixed-effects panel estimators on integer group codes (numpy only).

Group sums by ``np.bincount``, in-place demeaning, cluster-robust (CR1) OLS and block-wise weighted
Gram matrices: the pieces :mod:`bsc_toolkit.models.financial` builds its pooled, within, first-difference
and PPML estimators from, written to avoid n x k temporaries at millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["cluster_robust_ols", "independent_columns", "ppml_customer_effects", "PPMLFit"]


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


def independent_columns(xd: np.ndarray, names: list[str], candidates: np.ndarray) -> np.ndarray:
    """Greedy choice of linearly independent columns of ``xd`` among ``candidates`` (a boolean mask).

    Satisfaction terms (names containing ``csat``) are kept first, then the period effects (the
    design's own structure), then the user's controls: a control collinear with the period effects
    is the one dropped. A column is kept when the scaled Gram matrix of the kept columns stays
    non-singular (smallest eigenvalue above 1e-9).
    """
    keep = np.zeros(len(names), dtype=bool)
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return keep
    sub = xd[:, idx]
    gram = sub.T @ sub
    scale = np.sqrt(np.diag(gram))
    corr = gram / np.outer(scale, scale)
    chosen: list[int] = []

    def priority(pos: int) -> int:
        name = names[idx[pos]]
        return 0 if "csat" in name else 1 if name.startswith("period_") else 2

    for pos in sorted(range(idx.size), key=priority):
        trial = [*chosen, pos]
        if np.linalg.eigvalsh(corr[np.ix_(trial, trial)])[0] > 1e-9:
            chosen.append(pos)
    keep[idx[chosen]] = True
    return keep


@dataclass(frozen=True)
class PPMLFit:
    """Result of :func:`ppml_customer_effects`."""

    beta: np.ndarray
    cov: np.ndarray
    effects: np.ndarray
    converged: bool
    last_step: float


def ppml_customer_effects(
    x: np.ndarray,
    xc: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    offset: np.ndarray,
    totals: np.ndarray,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> PPMLFit:
    """Poisson PML with customer fixed effects concentrated out (Hausman-Hall-Griliches), by Newton.

    Parameters
    ----------
    x : (n, k) array
        Regressors of the customers with a positive total outcome.
    xc : (n, k) array
        Work array of the same shape (overwritten with the within-customer centred regressors).
    y, codes, offset : (n,) arrays
        Outcome, customer codes 0..G-1, offset (log exposure).
    totals : (G,) array
        Each customer's total outcome (customers with 0 have no rows here).
    max_iter, tol
        Newton iterations and the convergence tolerance on the largest step.

    Returns
    -------
    PPMLFit
        Coefficients, cluster-robust covariance by customer (G/(G-1) factor), customer effects
        (``-inf`` for customers without outcome), whether it converged and the last step.
    """
    g = len(totals)
    rows_per = np.bincount(codes, minlength=g)
    size = np.maximum(rows_per, 1).astype(float)
    in_order = bool(np.all(codes[1:] >= codes[:-1]))

    def spread(per_customer: np.ndarray) -> np.ndarray:
        """Per-customer values on the customer's rows (``per_customer[codes]``; a cheap repeat when sorted)."""
        return np.repeat(per_customer, rows_per) if in_order else per_customer[codes]

    n_u, size_u = spread(totals), spread(size)

    def concentrated(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected counts, within-customer centred regressors and Hessian at ``beta``."""
        eta = x @ beta + offset
        eta -= spread(_group_sum(codes, eta, g)) / size_u  # stabilise; shares p are shift-invariant
        lam = np.exp(eta, out=eta)
        p = lam / spread(_group_sum(codes, lam, g))
        del eta, lam
        for j in range(x.shape[1]):
            np.subtract(x[:, j], spread(np.bincount(codes, weights=x[:, j] * p, minlength=g)), out=xc[:, j])
        w = p
        w *= n_u
        return w, xc, _weighted_gram(xc, w)

    beta = np.zeros(x.shape[1])
    step = np.full_like(beta, np.inf)
    converged = False
    for _ in range(max_iter):
        w, xc, hess = concentrated(beta)
        step = np.linalg.solve(hess, xc.T @ (y - w))
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    w, xc, hess = concentrated(beta)
    scores = _group_sum(codes, xc * (y - w)[:, None], g)
    g_used = int((totals > 0).sum())
    bread = np.linalg.inv(hess)
    cov = g_used / (g_used - 1) * bread @ (scores.T @ scores) @ bread
    lam = _group_sum(codes, np.exp(x @ beta + offset), g)  # customers without outcome: 0
    with np.errstate(divide="ignore", invalid="ignore"):
        effects = np.where(totals > 0, np.log(totals) - np.log(lam), -np.inf)
    return PPMLFit(beta, cov, effects, converged, float(np.max(np.abs(step))))
