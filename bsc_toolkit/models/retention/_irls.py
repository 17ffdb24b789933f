"""A lean binomial GLM (IRLS) for 0/1 outcomes: the hot path of the discrete-time hazard model.

It reproduces statsmodels' ``GLM(..., family=Binomial(link)).fit()`` step for step (same start
values, same clipping of probabilities, same deviance convergence rule, covariance from the last
IRLS weights), so estimates agree with statsmodels to rounding, but it works on a float64 numpy
design matrix with no formula machinery, no pseudo-inverse of the n x k matrix and no result
wrappers: ``X'WX`` is k x k. Cluster-robust covariances follow statsmodels' CRV1 sandwich
(observed Hessian, small-sample correction ``G/(G-1) (N-1)/(N-K)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bsc_toolkit.models._fe_algebra import _weighted_gram

__all__ = ["BinomialFit", "fit_binomial", "binomial_loglike"]

_EPS = np.finfo(float).eps
_LINKS = ("cloglog", "logit")
_WARM_MIN_ROWS = 200_000


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, _EPS, 1.0 - _EPS)


def _inverse(link: str, eta: np.ndarray) -> np.ndarray:
    if link == "cloglog":
        return 1.0 - np.exp(-np.exp(eta))
    return 1.0 / (1.0 + np.exp(-eta))


def _link(link: str, mu: np.ndarray) -> np.ndarray:
    p = _clip(mu)
    if link == "cloglog":
        return np.log(-np.log(1.0 - p))
    return np.log(p / (1.0 - p))


def _deriv(link: str, mu: np.ndarray) -> np.ndarray:
    """d eta / d mu."""
    p = _clip(mu)
    if link == "cloglog":
        return 1.0 / ((p - 1.0) * np.log(1.0 - p))
    return 1.0 / (p * (1.0 - p))


def _deriv2(link: str, mu: np.ndarray) -> np.ndarray:
    p = _clip(mu)
    if link == "cloglog":
        fl = np.log(1.0 - p)
        return -1.0 / ((1.0 - p) ** 2 * fl) * (1.0 + 1.0 / fl)
    v = p * (1.0 - p)
    return (2.0 * p - 1.0) / v**2


def _working(link: str, eta: np.ndarray, mu: np.ndarray, y: np.ndarray, off: np.ndarray):
    """IRLS weights ``1 / (g'(mu)^2 V(mu))`` and working response ``eta - offset + g'(mu) (y - mu)``."""
    p = _clip(mu)
    if link == "cloglog":
        q = 1.0 - p
        lq = np.log(q)
        d = 1.0 / ((p - 1.0) * lq)
        w = q * lq * lq / p  # = 1 / (d**2 p (1 - p))
    else:
        v = p * (1.0 - p)
        d = 1.0 / v
        w = v
    z = y - mu
    z *= d
    z += eta
    z -= off
    return w, z


def _variance(mu: np.ndarray) -> np.ndarray:
    p = _clip(mu)
    return p * (1.0 - p)


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """statsmodels' binomial deviance for 0/1 outcomes: ``-2 sum log(mu or 1 - mu)`` (+1e-20 guards)."""
    if not np.all((y == 0) | (y == 1)):
        a = np.clip(y / (mu + 1e-20), _EPS, np.inf)
        b = np.clip((1.0 - y) / (1.0 - mu + 1e-20), _EPS, np.inf)
        return float(2.0 * np.sum(y * np.log(a) + (1.0 - y) * np.log(b)))
    lik = np.where(y == 1, mu + 1e-20, 1.0 - mu + 1e-20)
    # log(1/lik) clipped below at log(eps) as statsmodels' _clean does (never binds for lik <= 1)
    return float(-2.0 * np.sum(np.log(lik)))


def binomial_loglike(y: np.ndarray, mu: np.ndarray) -> float:
    """Bernoulli log-likelihood (statsmodels' ``Binomial.loglike`` for 0/1 outcomes)."""
    return float(np.sum(y * np.log((mu + 1e-20) / (1.0 - mu + 1e-20)) + np.log(1.0 - mu + 1e-20)))


@dataclass
class BinomialFit:
    """Result of :func:`fit_binomial` (plain arrays)."""

    params: np.ndarray
    cov: np.ndarray
    mu: np.ndarray
    llf: float
    deviance: float
    iterations: int
    converged: bool


def fit_binomial(
    x: np.ndarray,
    y: np.ndarray,
    link: str = "cloglog",
    offset: np.ndarray | None = None,
    start: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    maxiter: int = 100,
    tol: float = 1e-8,
    warm_start: bool = True,
) -> BinomialFit:
    """Fit a Bernoulli GLM by IRLS, as statsmodels' GLM does.

    Parameters
    ----------
    x : ndarray (n, k)
        Design matrix (float64, full column rank).
    y : ndarray (n,)
        0/1 outcomes.
    link : {"cloglog", "logit"}
    offset : ndarray (n,), optional
        Added to the linear predictor.
    start : ndarray (k,), optional
        Start values (default: statsmodels' ``mu = (y + 0.5) / 2``).
    groups : ndarray (n,) of int, optional
        Cluster codes: cluster-robust (CRV1) covariance instead of the model-based one.
    maxiter, tol : int, float
        Stop when the deviance changes by less than ``tol`` (absolute), as statsmodels.
    warm_start : bool
        Without ``start``, on more than 200,000 rows, start from a fit on a regular subsample of
        about 100,000 rows (same optimum, fewer iterations over all rows).

    Returns
    -------
    BinomialFit
    """
    if link not in _LINKS:
        raise ValueError(f"link must be one of {_LINKS}, not {link!r}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    off = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=np.float64)
    n = len(y)
    if start is None and warm_start and n > _WARM_MIN_ROWS:
        # a fit on every k-th row gives start values near the optimum: fewer passes over all rows
        step = n // (_WARM_MIN_ROWS // 2)
        sub = fit_binomial(x[::step], y[::step], link, offset=off[::step], warm_start=False, maxiter=maxiter, tol=tol)
        if sub.converged and np.all(np.isfinite(sub.params)):
            start = sub.params
    if start is None:
        mu = (y + 0.5) / 2.0
        eta = _link(link, mu)
    else:
        eta = x @ np.asarray(start, dtype=np.float64) + off
        mu = _inverse(link, eta)
    dev_old = _deviance(y, mu)
    if np.isnan(dev_old):
        raise ValueError("the deviance at the start values is NaN (a boundary problem)")
    converged = False
    params = np.zeros(x.shape[1]) if start is None else np.asarray(start, dtype=np.float64)
    xtwx = np.eye(x.shape[1])
    iteration = 0
    for iteration in range(1, maxiter + 1):  # noqa: B007 (the count is reported after the loop)
        w, z = _working(link, eta, mu, y, off)
        xtwx = _weighted_gram(x, w)
        z *= w
        params = np.linalg.solve(xtwx, x.T @ z)
        del w, z
        eta = x @ params
        eta += off
        mu = _inverse(link, eta)
        dev = _deviance(y, mu)
        if abs(dev - dev_old) <= tol:
            converged = True
            break
        dev_old = dev
    cov = np.linalg.inv(xtwx)
    if groups is not None:
        cov = _cluster_cov(x, y, mu, link, groups)
    return BinomialFit(
        params=params,
        cov=cov,
        mu=mu,
        llf=binomial_loglike(y, mu),
        deviance=_deviance(y, mu),
        iterations=iteration,
        converged=converged,
    )


def _cluster_cov(x: np.ndarray, y: np.ndarray, mu: np.ndarray, link: str, groups: np.ndarray) -> np.ndarray:
    """statsmodels' ``cov_type="cluster"`` for a GLM: observed-Hessian sandwich, CRV1 correction."""
    d = _deriv(link, mu)
    var = _variance(mu)
    score_factor = (y - mu) / d / var
    eim = 1.0 / (d**2 * var)
    dvar = 1.0 - 2.0 * _clip(mu)
    oim = eim * (1.0 + score_factor * (var * _deriv2(link, mu) + dvar * d))
    hessian = -_weighted_gram(x, oim)
    h_inv = np.linalg.inv(hessian)
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    n_groups = int(codes.max()) + 1
    sums = np.zeros((n_groups, x.shape[1]))
    _group_sum(sums, codes, x, score_factor)
    meat = sums.T @ sums
    n, k = x.shape
    return h_inv @ meat @ h_inv * (n_groups / (n_groups - 1.0) * ((n - 1.0) / (n - k)))


def _group_sum(out: np.ndarray, codes: np.ndarray, x: np.ndarray, weights: np.ndarray) -> None:
    """``out[g, j] = sum of x[i, j] * weights[i] over the rows i of group g`` (column by column)."""
    for j in range(x.shape[1]):
        out[:, j] = np.bincount(codes, weights=x[:, j] * weights, minlength=out.shape[0])
