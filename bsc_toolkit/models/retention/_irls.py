"""A lean binomial GLM (IRLS) for 0/1 outcomes: the hot path of the discrete-time hazard model.

It reproduces statsmodels' ``GLM(..., family=Binomial(link)).fit()`` step for step (same start
values, same clipping of probabilities, same deviance convergence rule, covariance from the last
IRLS weights), so estimates agree with statsmodels to rounding, but it works on a float64 numpy
design matrix with no formula machinery, no pseudo-inverse of the n x k matrix and no result
wrappers: ``X'WX`` is k x k. Cluster-robust covariances follow statsmodels' CRV1 sandwich
(observed Hessian, small-sample correction ``G/(G-1) (N-1)/(N-K)``).

:func:`fit_binomial` with ``penalty="firth"`` maximises instead the Jeffreys-prior penalised
log-likelihood ``l(b) + 0.5 log|I(b)|`` (Firth 1993; Kosmidis & Firth 2009), whose estimates are
finite under complete or quasi-complete separation (Heinze & Schemper 2002).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bsc_toolkit.models._fe_algebra import _weighted_gram

__all__ = ["BinomialFit", "fit_binomial", "fit_firth", "binomial_loglike", "PENALTIES"]

#: Penalties of :func:`fit_binomial` (None: plain maximum likelihood).
PENALTIES = ("firth",)

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


def _inputs(
    x: np.ndarray, y: np.ndarray, link: str, offset: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The link checked; design, outcome and offset (zeros without one) as float64 arrays."""
    if link not in _LINKS:
        raise ValueError(f"link must be one of {_LINKS}, not {link!r}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    off = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=np.float64)
    return x, y, off


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
    penalty: str | None = None
    penalised_llf: float | None = None

    @classmethod
    def at(cls, y: np.ndarray, mu: np.ndarray, **fields) -> BinomialFit:
        """The fit whose fitted probabilities are ``mu``: ``llf`` and ``deviance`` computed from ``y``."""
        return cls(mu=mu, llf=binomial_loglike(y, mu), deviance=_deviance(y, mu), **fields)


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
    penalty: str | None = None,
    penalty_x: np.ndarray | None = None,
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
    penalty : {None, "firth"}
        ``"firth"``: Jeffreys-prior penalised likelihood (:func:`fit_firth`; ``tol`` and
        ``warm_start`` do not apply).
    penalty_x : ndarray, optional
        With ``penalty="firth"``: the design whose information enters the penalty (see
        :func:`fit_firth`); ignored without a penalty.

    Returns
    -------
    BinomialFit
    """
    x, y, off = _inputs(x, y, link, offset)
    if penalty is not None:
        if penalty not in PENALTIES:
            raise ValueError(f"penalty must be None or one of {PENALTIES}, not {penalty!r}")
        return fit_firth(x, y, link, offset=off, start=start, groups=groups, maxiter=maxiter, penalty_x=penalty_x)
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
    return BinomialFit.at(y, mu, params=params, cov=cov, iterations=iteration, converged=converged)


# --------------------------------------------------------------------------- Firth
def _firth_parts(link: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """At the linear predictor ``eta`` (offset included): ``mu``, ``log mu``, ``log(1 - mu)``, the
    score factor ``dl/deta = (y - mu) * s`` 's ``s``, the Fisher weight ``w = mu'^2 / V`` and
    ``d log w / d eta``, all in closed form (no finite differences).

    * logit: ``w = mu (1 - mu)``, ``s = 1``, ``w'/w = 1 - 2 mu``;
    * cloglog (``mu = 1 - exp(-e)``, ``e = exp(eta)``): ``mu' = e exp(-e)``,
      ``w = e^2 exp(-e) / mu``, ``s = e / mu``, ``w'/w = 2 - e / mu``.
    """
    if link == "logit":
        log_mu = -np.logaddexp(0.0, -eta)
        log_q = -np.logaddexp(0.0, eta)
        mu = np.exp(log_mu)
        w = np.exp(log_mu + log_q)
        return mu, log_mu, log_q, np.ones_like(eta), (w, 1.0 - 2.0 * mu)
    e = np.exp(eta)
    mu = -np.expm1(-e)
    log_mu = np.log(mu)
    ratio = e / mu  # -> 1 as e -> 0
    ratio = np.where(e < 1e-300, 1.0, ratio)
    w = e * ratio * np.exp(-e)
    return mu, log_mu, -e, ratio, (w, 2.0 - ratio)


def _firth_state(
    x: np.ndarray, y: np.ndarray, off: np.ndarray, link: str, beta: np.ndarray, xp: np.ndarray | None
) -> dict:
    """Everything Newton's method needs at ``beta``: penalised log-likelihood, weights, information.

    ``xp`` is the design whose information enters the penalty (None: ``x`` itself).
    """
    eta = x @ beta
    eta += off
    mu, log_mu, log_q, s, (w, dlogw) = _firth_parts(link, eta)
    llf = float(np.sum(np.where(y == 1.0, log_mu, log_q)))
    info = _weighted_gram(x, w)
    info_pen = info if xp is None else _weighted_gram(xp, w)
    sign, logdet = np.linalg.slogdet(info_pen)
    pen = llf + 0.5 * logdet if sign > 0 and np.isfinite(llf) else -np.inf
    return {
        "beta": beta,
        "mu": mu,
        "s": s,
        "w": w,
        "dlogw": dlogw,
        "info": info,
        "info_pen": info_pen,
        "llf": llf,
        "pen": pen,
    }


def _firth_score(x: np.ndarray, y: np.ndarray, st: dict, xp: np.ndarray | None) -> np.ndarray:
    """Modified score ``U* = X'((y - mu) s + 0.5 h w'/w)``, ``h`` the hat diagonal of ``W^1/2 Xp``."""
    xp = x if xp is None else xp
    pen_inv = np.linalg.inv(st["info_pen"])
    score = np.zeros(x.shape[1])
    block = 262_144  # rows at a time: a bounded n x k temporary
    for lo in range(0, x.shape[0], block):
        sl = slice(lo, lo + block)
        xpb = xp[sl]
        # x_i' I^-1 x_i (einsum: numpy's matmul is slow for an n x k by k x k product)
        h = np.einsum("ij,ij->i", np.einsum("ij,jk->ik", xpb, pen_inv), xpb)
        h *= st["w"][sl]  # times w_i: the hat diagonal of W^1/2 Xp
        score += x[sl].T @ ((y[sl] - st["mu"][sl]) * st["s"][sl] + 0.5 * h * st["dlogw"][sl])
    return score


def fit_firth(
    x: np.ndarray,
    y: np.ndarray,
    link: str = "logit",
    offset: np.ndarray | None = None,
    start: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    maxiter: int = 200,
    tol: float = 1e-9,
    max_step: float = 5.0,
    penalty_x: np.ndarray | None = None,
) -> BinomialFit:
    """Firth-penalised (Jeffreys-prior) Bernoulli GLM: maximise ``l(b) + 0.5 log|X'W(b)X|``.

    The estimate solves the modified score of Kosmidis & Firth (2009),
    ``U*_r = U_r + 0.5 sum_i h_i (w'_i / w_i) x_ir``, with ``h_i`` the hat diagonal of the weighted
    design and ``w(eta)`` the IRLS weight (for the logit ``w'/w = 1 - 2p``: Firth's classic
    ``h (0.5 - p)`` adjustment; for the cloglog with an exposure offset the derivative is taken
    analytically at ``eta = x'b + offset``). Newton steps use the Fisher information as Jacobian
    (steps longer than ``max_step`` in any coordinate are shortened, as logistf does) and are halved
    until the penalised log-likelihood does not fall. Estimates stay finite under separation.

    Parameters
    ----------
    x, y, link, offset, start, groups
        As :func:`fit_binomial`; the default start is zero slopes and the intercept (a column of
        ones, if any) at the link of the mean outcome.
    maxiter : int
    tol : float
        Converged when the largest Newton step is below ``tol``.
    max_step : float
        Largest change of any coefficient in one step.
    penalty_x : ndarray (n, m), optional
        For a restricted fit ``x = X A`` (e.g. equal slopes): the full design ``X``, whose
        information ``X'WX`` enters the penalty, so that the restricted fit maximises the *full*
        model's penalised likelihood under the restriction and the penalised likelihood-ratio test
        (Heinze & Schemper 2002) is non-negative. Default: ``x``.

    Returns
    -------
    BinomialFit
        ``cov`` is the inverse Fisher information at the estimate (or the CRV1 sandwich with
        ``groups``); ``llf`` the unpenalised log-likelihood, ``penalised_llf`` ``l + 0.5 log|I|``.

    Notes
    -----
    Intervals built from ``cov`` are Wald intervals. Profile-penalised-likelihood intervals are
    the textbook choice for Firth's estimates (Heinze & Schemper 2002), being asymmetric where the
    penalised likelihood is; Wald intervals are used here, which can be too narrow on the side of
    a separated coefficient.
    """
    x, y, off = _inputs(x, y, link, offset)
    xp = None if penalty_x is None else np.ascontiguousarray(penalty_x, dtype=np.float64)
    k = x.shape[1]
    if start is None:
        beta = np.zeros(k)
        ones = np.flatnonzero(np.all(x == 1.0, axis=0))
        if ones.size:
            beta[ones[0]] = float(_link(link, np.array([y.mean()]))[0] - off.mean())
    else:
        beta = np.asarray(start, dtype=np.float64).copy()
    st = _firth_state(x, y, off, link, beta, xp)
    if not np.isfinite(st["pen"]):
        st = _firth_state(x, y, off, link, np.zeros(k), xp)
    converged = False
    iteration = 0
    for iteration in range(1, maxiter + 1):  # noqa: B007 (the count is reported after the loop)
        step = np.linalg.solve(st["info"], _firth_score(x, y, st, xp))
        biggest = float(np.max(np.abs(step)))
        if biggest <= tol:
            converged = True
            break
        if biggest > max_step:
            step *= max_step / biggest
        t = 1.0
        while True:
            trial = _firth_state(x, y, off, link, st["beta"] + t * step, xp)
            if trial["pen"] >= st["pen"] - 1e-12 * abs(st["pen"]):
                break
            t /= 2.0
            if t < 1e-12:
                trial = None
                break
        if trial is None:  # no ascent along the Newton direction: as far as it goes
            break
        st = trial
    cov = np.linalg.inv(st["info"])
    if groups is not None:
        cov = _cluster_cov(x, y, _clip(st["mu"]), link, groups)
    return BinomialFit.at(
        y,
        st["mu"],
        params=st["beta"],
        cov=cov,
        iterations=iteration,
        converged=converged,
        penalty="firth",
        penalised_llf=st["pen"],
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
