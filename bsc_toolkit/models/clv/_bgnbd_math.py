"""The BG/NBD log-likelihood per customer and its analytic gradient.

Fader, Hardie & Lee (2005), eq. 6, written in logs throughout::

    log L = gammaln(r + x) - gammaln(r) + r log(alpha) + betaln(a, b + x) - betaln(a, b)
            + logaddexp(A1, A2)
    A1 = -(r + x) log(alpha + T)
    A2 = log(a) - log(b + x - 1) - (r + x) log(alpha + t_x)      (x > 0 only)

With ``w2 = exp(A2 - logaddexp(A1, A2))`` (the posterior weight of "dropped out after the last
purchase") and ``w1 = 1 - w2``, the derivatives are::

    d/dr     = psi(r + x) - psi(r) + log(alpha) - w1 log(alpha + T) - w2 log(alpha + t_x)
    d/dalpha = r / alpha - (r + x) (w1 / (alpha + T) + w2 / (alpha + t_x))
    d/da     = psi(a + b) - psi(a + b + x) + w2 / a
    d/db     = psi(b + x) - psi(a + b + x) - psi(b) + psi(a + b) - w2 / (b + x - 1)

The parameters broadcast against the data, so a model whose parameters differ by customer
(covariates: ``alpha_i``, ``a_i``, ``b_i``) uses the same functions and the chain rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "bgnbd_loglik",
    "bgnbd_loglik_grad",
    "RFMRows",
    "compress_rfm",
    "family_loglik",
    "GammaRates",
    "PoissonRate",
    "BetaDropout",
    "CommonDropout",
    "SplitDropout",
    "NoDropout",
]


def _terms(r, alpha, a, b, x, t_x, T):
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    repeat = x > 0
    log_alpha_T = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)
    A1 = -(r + x) * log_alpha_T
    with np.errstate(divide="ignore", invalid="ignore"):
        A2 = np.where(repeat, np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * log_alpha_tx, -np.inf)
    mix = np.logaddexp(A1, A2)
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    return x, repeat, log_alpha_T, log_alpha_tx, A2, mix, common


def bgnbd_loglik(r, alpha, a, b, x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood.

    Parameters
    ----------
    r, alpha, a, b : float or array
        Model parameters (positive), scalars or one per customer.
    x, t_x, T : array
        Repeat purchases, recency and age of each customer (the RFM summary).

    Returns
    -------
    ndarray
        ``log L_i`` for every customer.
    """
    *_, mix, common = _terms(r, alpha, a, b, x, t_x, T)
    return common + mix


def bgnbd_loglik_grad(r, alpha, a, b, x, t_x, T) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Per-customer BG/NBD log-likelihood and its derivatives w.r.t. the natural parameters.

    Parameters
    ----------
    r, alpha, a, b : float or array
        Model parameters (positive), scalars or one per customer.
    x, t_x, T : array
        Repeat purchases, recency and age of each customer.

    Returns
    -------
    ll : ndarray
        ``log L_i``.
    grad : tuple of four ndarrays
        ``(d log L_i / d r, d / d alpha, d / d a, d / d b)``, each per customer. Multiply by the
        parameter for derivatives w.r.t. log-parameters.
    """
    x, repeat, log_alpha_T, log_alpha_tx, A2, mix, common = _terms(r, alpha, a, b, x, t_x, T)
    w2 = np.exp(A2 - mix)  # 0 where x == 0
    w1 = 1.0 - w2
    d_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - w1 * log_alpha_T - w2 * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (
        w1 / (alpha + np.asarray(T, dtype=float)) + w2 / (alpha + np.asarray(t_x, dtype=float))
    )
    psi_ab = special.digamma(a + b)
    psi_abx = special.digamma(a + b + x)
    d_a = psi_ab - psi_abx + w2 / a
    d_b = special.digamma(b + x) - psi_abx - special.digamma(b) + psi_ab - w2 / np.where(repeat, b + x - 1, 1.0)
    return common + mix, (d_r, d_alpha, d_a, d_b)


# ---------------------------------------------------------------------------------------------
# The BG/NBD family on compressed data: value, gradient and Hessian of the summed log-likelihood
# ---------------------------------------------------------------------------------------------
#
# The BG/NBD and its limiting models share one structure,
#
#     log L = P(x) + D(x) + logaddexp(R(T), c(x) + R(t_x))          (x > 0)
#     log L = P(0) + R(T)                                          (x = 0)
#
# with a purchase part (P, R: Gamma-distributed rates, or one common Poisson rate) and a drop-out
# part (D, c: Beta-distributed drop-out probabilities, one common probability, or no drop-out,
# where c = -inf). The terms are rearranged to stay exact at the limits (b or r in the 1e10s):
#
#     Gamma(r, alpha):  P(x) = sum_{j<x} log(r + j),  R(t) = -r log1p(t / alpha) - x log(alpha + t)
#     Poisson(lam):     P(x) = x log(lam),            R(t) = -lam t
#     Beta(a, b):       D(x) = -sum_{j<x} log1p(a / (b + j)),  c(x) = log(a) - log(b + x - 1)
#     common p:         D(x) = x log1p(-p),                    c(x) = log(p) - log1p(-p)
#     split pi:         D(x) = log1p(-pi) (x > 0),             c(1) = log(pi) - log1p(-pi), else -inf
#     no drop-out:      D(x) = 0,                              c(x) = -inf
#
# (the Gamma(r, alpha) terms are FHL 2005 eq. 6 with gammaln(r + x) - gammaln(r) written as a sum
# and r log(alpha) moved into R). Derivatives are taken w.r.t. the natural parameters; with
# ``w2 = exp(A2 - mix)`` the posterior weight of "dropped out after the last purchase" and
# ``v = w1 w2``, the Hessian of ``mix = logaddexp(A1, A2)`` is
# ``w1 A1'' + w2 A2'' + v (A1' - A2')(A1' - A2')^T``.

#: Frequencies up to this are summed term by term (exact at any parameter size); above it the
#: digamma/gammaln forms are used.
_MAX_SUMMED_X = 100_000


@dataclass(frozen=True)
class RFMRows:
    """An RFM summary compressed to its distinct ``(x, t_x, T)`` rows, with counts.

    Times are stored as distinct values with per-row indices, so a term that depends on ``T``
    (or ``t_x``) only is computed once per distinct value; a term that depends on ``x`` only is
    computed once per distinct frequency. Customers without repeat purchases depend on ``T`` only.

    Attributes
    ----------
    x_values, x_weight : ndarray
        Distinct frequencies (``x_values[0] == 0`` always) and the number of customers with each.
    T_values, t_values : ndarray
        Distinct ages and distinct recencies (of repeat buyers).
    zero_iT, zero_w : ndarray
        Customers without repeat purchases: index into ``T_values`` and counts.
    ix, x, it, iT, w : ndarray
        Distinct rows of repeat buyers: index into ``x_values``, the frequency, index into
        ``t_values``, index into ``T_values`` and the count.
    n : float
        Number of customers.
    """

    x_values: np.ndarray
    x_weight: np.ndarray
    T_values: np.ndarray
    t_values: np.ndarray
    zero_iT: np.ndarray
    zero_w: np.ndarray
    ix: np.ndarray
    x: np.ndarray
    it: np.ndarray
    iT: np.ndarray
    w: np.ndarray
    n: float

    @property
    def n_rows(self) -> int:
        """Number of distinct rows (customers without repeat purchases: one per distinct T)."""
        return int(self.zero_w.size + self.w.size)

    def rescaled(self, s: float) -> RFMRows:
        """The same rows with time measured in units ``1 / s`` (times multiplied by ``s``)."""
        return replace(self, T_values=self.T_values * s, t_values=self.t_values * s)


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=float)


def compress_rfm(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None) -> RFMRows:
    """Compress validated RFM arrays into their distinct rows (exact: same likelihood).

    Parameters
    ----------
    x, t_x, T : ndarray
        Repeat purchases (whole numbers), recency and age of each customer, already checked.
    weights : ndarray, optional
        Customers per row (default 1 each).

    Returns
    -------
    RFMRows
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    wt = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    cT, T_values = _factorize(T)
    nT = T_values.size
    zero = x == 0
    zero_w_all = np.bincount(cT[zero], weights=wt[zero], minlength=nT)
    zero_iT = np.flatnonzero(zero_w_all)
    pos = ~zero
    xp, tp, cTp, wp = x[pos], t_x[pos], cT[pos], wt[pos]
    cx, xv_pos = _factorize(xp)
    ct, t_values = _factorize(tp)
    key = (cx * t_values.size + ct) * nT + cTp
    ck, ukey = pd.factorize(key, sort=False)
    w = np.bincount(ck, weights=wp)
    ukey = np.asarray(ukey, dtype=np.int64)
    iT = ukey % nT
    rest = ukey // nT
    it = rest % t_values.size
    row_x = xv_pos[rest // t_values.size]
    # distinct frequencies, 0 first, then ascending
    x_values = np.unique(np.concatenate([[0.0], xv_pos]))
    ix = np.searchsorted(x_values, row_x)
    x_weight = np.bincount(ix, weights=w, minlength=x_values.size)
    x_weight[0] = zero_w_all.sum()
    return RFMRows(
        x_values=x_values,
        x_weight=x_weight,
        T_values=T_values,
        t_values=t_values,
        zero_iT=zero_iT,
        zero_w=zero_w_all[zero_iT],
        ix=ix,
        x=row_x,
        it=it,
        iT=iT,
        w=w,
        n=float(wt.sum()),
    )


class _Terms:
    """Value, gradient (k, n) and Hessian (k, k, n) of one part of the log-likelihood."""

    __slots__ = ("val", "grad", "hess")

    def __init__(self, val: np.ndarray, grad: np.ndarray | None = None, hess: np.ndarray | None = None) -> None:
        self.val, self.grad, self.hess = val, grad, hess


def _partial_sums(x_values: np.ndarray, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """``sum_{j < x} term[j]`` at every distinct ``x`` for each ``term`` (evaluated at ``j = 0..xmax-1``)."""
    idx = np.maximum(x_values.astype(np.int64) - 1, 0)
    return [np.where(x_values > 0, np.cumsum(arr)[idx], 0.0) for arr in arrays]


def _j(x_values: np.ndarray) -> np.ndarray:
    return np.arange(max(int(x_values[-1]), 1), dtype=float)


class GammaRates:
    """Purchase rates ``lambda ~ Gamma(r, alpha)`` across customers (parameters ``r, alpha``)."""

    names = ("r", "alpha")

    @staticmethod
    def per_x(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        r = theta[0]
        if xv[-1] <= _MAX_SUMMED_X:
            inv = 1.0 / (r + _j(xv))
            arrays = [-np.log(inv), inv, -inv * inv][: order + 1]
            parts = _partial_sums(xv, arrays) + [None, None]
            val, d1, d2 = parts[:3]
        else:
            val = special.gammaln(r + xv) - special.gammaln(r)
            d1 = special.digamma(r + xv) - special.digamma(r) if order >= 1 else None
            d2 = special.polygamma(1, r + xv) - special.polygamma(1, r) if order >= 2 else None
        if order == 0:
            return _Terms(val)
        zero = np.zeros_like(val)
        grad = np.stack([d1, zero])
        if order == 1:
            return _Terms(val, grad)
        hess = np.stack([np.stack([d2, zero]), np.stack([zero, zero])])
        return _Terms(val, grad, hess)

    @staticmethod
    def rate(theta: np.ndarray, x: np.ndarray | float, tv: np.ndarray, it: np.ndarray, order: int) -> _Terms:
        r, alpha = theta
        lp = np.log1p(tv / alpha)[it]
        lt = np.log(alpha + tv)[it]
        val = -r * lp - x * lt
        if order == 0:
            return _Terms(val)
        q = (1.0 / (alpha + tv))[it]
        rx = r + x
        g_alpha = r / alpha - rx * q
        grad = np.stack([-lp, g_alpha])
        if order == 1:
            return _Terms(val, grad)
        h_ra = 1.0 / alpha - q
        h_aa = -r / alpha**2 + rx * q * q
        hess = np.stack([np.stack([np.zeros_like(lp), h_ra]), np.stack([h_ra, h_aa])])
        return _Terms(val, grad, hess)


class PoissonRate:
    """One purchase rate ``lambda`` shared by every customer (parameter ``lambda``)."""

    names = ("lambda",)

    @staticmethod
    def per_x(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        lam = theta[0]
        val = xv * np.log(lam)
        if order == 0:
            return _Terms(val)
        grad = (xv / lam)[None, :]
        if order == 1:
            return _Terms(val, grad)
        return _Terms(val, grad, (-xv / lam**2)[None, None, :])

    @staticmethod
    def rate(theta: np.ndarray, x: np.ndarray | float, tv: np.ndarray, it: np.ndarray, order: int) -> _Terms:
        t = tv[it]
        val = -theta[0] * t
        if order == 0:
            return _Terms(val)
        grad = (-t)[None, :]
        if order == 1:
            return _Terms(val, grad)
        return _Terms(val, grad, np.zeros((1, 1, t.size)))


class BetaDropout:
    """Drop-out probabilities ``p ~ Beta(a, b)`` across customers (parameters ``a, b``)."""

    names = ("a", "b")

    @staticmethod
    def per_x(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        a, b = theta
        if xv[-1] <= _MAX_SUMMED_X:
            j = _j(xv)
            u = 1.0 / (a + b + j)
            v = 1.0 / (b + j)
            arrays = [
                -np.log1p(a * v),  # log((b + j) / (a + b + j))
                -u,  # d/da
                a * u * v,  # d/db
                u * u,  # d2/da2 = d2/dadb
                u * u - v * v,  # d2/db2
            ]
            parts = _partial_sums(xv, arrays[: (1, 3, 5)[order]]) + [None] * 4
        else:
            ab, abx = a + b, a + b + xv
            parts = [
                special.betaln(a, b + xv) - special.betaln(a, b),
                special.digamma(ab) - special.digamma(abx),
                special.digamma(b + xv) - special.digamma(b) - special.digamma(abx) + special.digamma(ab),
                special.polygamma(1, ab) - special.polygamma(1, abx),
                special.polygamma(1, b + xv)
                - special.polygamma(1, b)
                - special.polygamma(1, abx)
                + special.polygamma(1, ab),
            ]
        val = parts[0]
        if order == 0:
            return _Terms(val)
        grad = np.stack([parts[1], parts[2]])
        if order == 1:
            return _Terms(val, grad)
        hess = np.stack([np.stack([parts[3], parts[3]]), np.stack([parts[3], parts[4]])])
        return _Terms(val, grad, hess)

    @staticmethod
    def odds(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        """``c(x) = log(a / (b + x - 1))`` per distinct x (x = 0: unused, set to 0)."""
        a, b = theta
        bx = b + np.maximum(xv, 1.0) - 1.0
        val = np.log(a) - np.log(bx)
        if order == 0:
            return _Terms(val)
        grad = np.stack([np.full_like(bx, 1.0 / a), -1.0 / bx])
        if order == 1:
            return _Terms(val, grad)
        zero = np.zeros_like(bx)
        hess = np.stack([np.stack([np.full_like(bx, -1.0 / a**2), zero]), np.stack([zero, 1.0 / bx**2])])
        return _Terms(val, grad, hess)


class CommonDropout:
    """One drop-out probability ``p`` after every repeat purchase, shared by every customer."""

    names = ("p",)

    @staticmethod
    def per_x(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        p = theta[0]
        val = xv * np.log1p(-p)
        if order == 0:
            return _Terms(val)
        grad = (-xv / (1.0 - p))[None, :]
        if order == 1:
            return _Terms(val, grad)
        return _Terms(val, grad, (-xv / (1.0 - p) ** 2)[None, None, :])

    @staticmethod
    def odds(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        p = theta[0]
        ones = np.ones_like(xv)
        val = (np.log(p) - np.log1p(-p)) * ones
        if order == 0:
            return _Terms(val)
        grad = ((1.0 / p + 1.0 / (1.0 - p)) * ones)[None, :]
        if order == 1:
            return _Terms(val, grad)
        return _Terms(val, grad, ((-1.0 / p**2 + 1.0 / (1.0 - p) ** 2) * ones)[None, None, :])


class SplitDropout:
    """Drop-out probabilities 0 or 1: a share ``pi`` of the customers leaves right after their first
    repeat purchase, the others never (the limit a, b -> 0 of Beta(a, b) with a / (a + b) = pi)."""

    names = ("pi",)

    @staticmethod
    def per_x(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        pi = theta[0]
        repeat = (xv > 0).astype(float)
        val = repeat * np.log1p(-pi)
        if order == 0:
            return _Terms(val)
        grad = (-repeat / (1.0 - pi))[None, :]
        if order == 1:
            return _Terms(val, grad)
        return _Terms(val, grad, (-repeat / (1.0 - pi) ** 2)[None, None, :])

    @staticmethod
    def odds(theta: np.ndarray, xv: np.ndarray, order: int) -> _Terms:
        """``c(1) = log(pi / (1 - pi))``; -inf for x >= 2 (nobody of that type buys twice)."""
        pi = theta[0]
        one = xv == 1
        val = np.where(one, np.log(pi) - np.log1p(-pi), -np.inf)
        if order == 0:
            return _Terms(val)
        grad = np.where(one, 1.0 / pi + 1.0 / (1.0 - pi), 0.0)[None, :]
        if order == 1:
            return _Terms(val, grad)
        return _Terms(val, grad, np.where(one, -1.0 / pi**2 + 1.0 / (1.0 - pi) ** 2, 0.0)[None, None, :])


class NoDropout:
    """Nobody drops out (no parameters)."""

    names: tuple[str, ...] = ()


def family_loglik(
    purchase, dropout, theta: np.ndarray, rows: RFMRows, order: int = 2
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Summed log-likelihood of a BG/NBD-family model on compressed rows, with derivatives.

    Parameters
    ----------
    purchase : GammaRates or PoissonRate
        The purchase part.
    dropout : BetaDropout, CommonDropout or NoDropout
        The drop-out part.
    theta : ndarray
        Natural parameters, the purchase part's first (e.g. ``r, alpha, a, b``).
    rows : RFMRows
        The data.
    order : {0, 1, 2}
        0: the value only; 1: and the gradient; 2: and the Hessian (natural parameters).

    Returns
    -------
    ll : float
    grad : ndarray or None
    hess : ndarray or None
    """
    kp = len(purchase.names)
    kd = len(dropout.names)
    tp, td = theta[:kp], theta[kp:]
    xv, W = rows.x_values, rows.x_weight
    P = purchase.per_x(tp, xv, order)
    ll = float(W @ P.val)
    # customers without repeat purchases: R(T) with x = 0
    R0 = purchase.rate(tp, 0.0, rows.T_values, rows.zero_iT, order)
    ll += float(rows.zero_w @ R0.val)
    has_rows = rows.w.size > 0
    if has_rows:
        RT = purchase.rate(tp, rows.x, rows.T_values, rows.iT, order)
    if kd == 0:  # no drop-out: log L = P + R(T)
        if has_rows:
            ll += float(rows.w @ RT.val)
        if order == 0:
            return ll, None, None
        g = P.grad @ W + R0.grad @ rows.zero_w + (RT.grad @ rows.w if has_rows else 0.0)
        if order == 1:
            return ll, g, None
        H = P.hess @ W + R0.hess @ rows.zero_w + (RT.hess @ rows.w if has_rows else 0.0)
        return ll, g, H
    D = dropout.per_x(td, xv, order)
    ll += float(W @ D.val)
    if not has_rows:
        if order == 0:
            return ll, None, None
        g = np.concatenate([P.grad @ W + R0.grad @ rows.zero_w, D.grad @ W])
        if order == 1:
            return ll, g, None
        H = np.zeros((kp + kd, kp + kd))
        H[:kp, :kp] = P.hess @ W + R0.hess @ rows.zero_w
        H[kp:, kp:] = D.hess @ W
        return ll, g, H
    C = dropout.odds(td, xv, order)
    Rt = purchase.rate(tp, rows.x, rows.t_values, rows.it, order)
    A1 = RT.val
    A2 = C.val[rows.ix] + Rt.val
    mix = np.logaddexp(A1, A2)
    w = rows.w
    ll += float(w @ mix)
    if order == 0:
        return ll, None, None
    w2 = np.exp(A2 - mix)
    w1 = np.exp(A1 - mix)
    ww1, ww2 = w * w1, w * w2
    S2 = np.bincount(rows.ix, weights=ww2, minlength=xv.size)
    g = np.empty(kp + kd)
    g[:kp] = P.grad @ W + R0.grad @ rows.zero_w + RT.grad @ ww1 + Rt.grad @ ww2
    g[kp:] = D.grad @ W + C.grad @ S2
    if order == 1:
        return ll, g, None
    v = ww1 * w2
    V = np.bincount(rows.ix, weights=v, minlength=xv.size)
    d = RT.grad - Rt.grad  # (kp, n): A1' - A2' in the purchase parameters
    dv = d * v
    H = np.empty((kp + kd, kp + kd))
    H[:kp, :kp] = P.hess @ W + R0.hess @ rows.zero_w + RT.hess @ ww1 + Rt.hess @ ww2 + dv @ d.T
    H[kp:, kp:] = D.hess @ W + C.hess @ S2 + (C.grad * V) @ C.grad.T
    # A1' - A2' in the drop-out parameters is -c'(x)
    dsum = np.stack([np.bincount(rows.ix, weights=dv[k], minlength=xv.size) for k in range(kp)])
    H[:kp, kp:] = -dsum @ C.grad.T
    H[kp:, :kp] = H[:kp, kp:].T
    return ll, g, H
