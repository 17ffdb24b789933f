"""Numerics of the sBG model (:mod:`~bsc_toolkit.models.clv.sbg`): private helpers.

* (log-gamma and digamma differences, stable for large arguments: :mod:`._special`);
* the weighted log-likelihoods with analytic gradients, on compressed rows ``(t, d, w, Z)``: the
  sBG in ``(log alpha, log beta, gamma...)`` and its geometric limit in ``(logit theta, gamma...)``;
* the maximiser (BFGS through a smooth box transform) and the Hessian from the gradient;
* the goodness-of-fit check: the life table (at risk and churners per period), the churners the
  model expects per period, pooling of sparse periods, the binomial deviance and the
  Cochran-Armitage trend test;
* per-customer survival maths: survival, retention, expected residual lifetime (within a horizon
  or not), DERL by the continued fraction of the incomplete beta function, and the cubic
  interpolation in ``log alpha_i`` that evaluates DERL and horizon sums for many parameter draws.

Conventions are those of :class:`~bsc_toolkit.models.clv.sbg.ShiftedBetaGeoFitter`: ``t`` is the
tenure (whole periods completed), ``d`` is 1 for a customer who left at the end of period ``t``,
``n`` the tenure of an active customer; ``a`` is ``alpha_i`` (or ``theta_i`` at the limit),
``bn = beta + n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from bsc_toolkit.models.clv._special import _log_rising, _log_rising_digamma

#: Grid points (in log alpha_i, per draw and tenure) of the cubic interpolation of DERL and horizon sums.
_GRID = 64

_Arrays = tuple[np.ndarray, ...]


# -- log-likelihoods with analytic gradients -------------------------------------------------------


def _lin(Z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``Z @ g`` without BLAS (a few columns: BLAS threads only cost time here)."""
    out = np.zeros(Z.shape[0])
    for j in range(Z.shape[1]):
        out += Z[:, j] * g[j]
    return out


def _tdot(Z: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``Z.T @ v`` without BLAS."""
    return np.array([(Z[:, j] * v).sum() for j in range(Z.shape[1])], dtype=float)


def _sbg_loglik_grad(
    x: np.ndarray, t: np.ndarray, d: np.ndarray, w: np.ndarray, Z: np.ndarray
) -> tuple[float, np.ndarray]:
    """Weighted sBG log-likelihood and its gradient in ``x = (log alpha, log beta, gamma...)``.

    Churned at the end of period t: ``log alpha_i + lrise(beta, t - 1) - lrise(alpha_i + beta, t)``;
    still a customer after t periods: ``lrise(beta, t) - lrise(alpha_i + beta, t)``, where
    ``lrise(x, t) = log Gamma(x + t) - log Gamma(x)`` (derivative: a digamma difference).
    """
    eta = x[0] + _lin(Z, x[2:])
    a = np.exp(eta)
    b = float(np.exp(x[1]))
    lk, dk = _log_rising_digamma(a + b, t)
    # the beta terms depend on t - d only (few values): weight them by their totals
    tb = (t - d).astype(np.int64)
    w_tb = np.bincount(tb, weights=w)
    u = np.flatnonzero(w_tb)
    w_tb = w_tb[u]
    lb, db = _log_rising_digamma(np.full(u.size, b), u.astype(float))
    g_eta = d - a * dk  # d ll_i / d eta_i
    wg = w * g_eta
    ll = float((w * (d * eta - lk)).sum() + (w_tb * lb).sum())
    g_lb = b * ((w_tb * db).sum() - (w * dk).sum())  # d ll / d log beta
    grad = np.concatenate([[wg.sum(), g_lb], _tdot(Z, wg)])
    return ll, grad


def _geo_loglik_grad(
    x: np.ndarray, t: np.ndarray, d: np.ndarray, w: np.ndarray, Z: np.ndarray
) -> tuple[float, np.ndarray]:
    """Geometric (no-heterogeneity) log-likelihood and gradient in ``x = (logit theta, gamma...)``."""
    eta = x[0] + _lin(Z, x[1:])
    ll = float((w * (d * special.log_expit(eta) + (t - d) * special.log_expit(-eta))).sum())
    s = w * (d - t * special.expit(eta))
    return ll, np.concatenate([[s.sum()], _tdot(Z, s)])


def _geo_hessian(x: np.ndarray, t: np.ndarray, d: np.ndarray, w: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Hessian of :func:`_geo_loglik_grad`'s log-likelihood: ``-sum w t theta (1 - theta) x x'``."""
    th = special.expit(x[0] + _lin(Z, x[1:]))
    X = np.column_stack([np.ones_like(t), Z])
    v = w * t * th * (1 - th)
    k = X.shape[1]
    return -np.array([[(X[:, i] * X[:, j] * v).sum() for j in range(k)] for i in range(k)])


# -- maximisation -----------------------------------------------------------------------------------


def _maximise(
    fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    bounds: Sequence[tuple[float | None, float | None]],
    scale: float,
) -> tuple[np.ndarray, bool, str]:
    """Maximise ``fun_grad(x) -> (ll, grad)``: BFGS with the analytic gradient, objective per customer.

    Bounded coordinates are searched through ``x = mid + half * tanh((u - mid) / half)`` (the
    identity near the middle, smooth, never beyond the bounds); BFGS rather than L-BFGS-B because
    scipy's L-BFGS-B calls multithreaded BLAS on tiny matrices, which costs milliseconds per step
    on a busy machine. Returns ``(x, converged, message)``; converged when BFGS says so or the
    gradient is below 1e-5 per customer (coordinates pinned at a bound excepted).
    """
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds], dtype=float)
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds], dtype=float)
    box = np.isfinite(lo) & np.isfinite(hi)
    mid = np.where(box, (np.where(box, lo, 0.0) + np.where(box, hi, 0.0)) / 2, 0.0)
    half = np.where(box, (np.where(box, hi, 2.0) - np.where(box, lo, 0.0)) / 2, 1.0)

    def to_x(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th = np.tanh((u - mid) / half)
        return np.where(box, mid + half * th, u), np.where(box, 1 - th**2, 1.0)

    def neg(u: np.ndarray) -> tuple[float, np.ndarray]:
        x, dx = to_x(u)
        ll, g = fun_grad(x)
        if not (np.isfinite(ll) and np.isfinite(g).all()):
            return np.inf, np.zeros_like(u)
        return -ll / scale, -g * dx / scale

    x0 = np.clip(x0, lo + 1e-9 * half, hi - 1e-9 * half)
    u0 = np.where(box, mid + half * np.arctanh(np.clip((x0 - mid) / half, -1 + 1e-15, 1 - 1e-15)), x0)
    with np.errstate(all="ignore"):
        res = optimize.minimize(neg, u0, jac=True, method="BFGS", options={"maxiter": 5000, "gtol": 1e-10})
    x, _ = to_x(np.asarray(res.x, dtype=float))
    ll, g = fun_grad(x)
    g = g / scale
    pinned = (x <= lo + 1e-6 * half) & (g < 0) | (x >= hi - 1e-6 * half) & (g > 0)
    small_grad = bool(np.isfinite(ll) and np.all(np.abs(g[~pinned]) < 1e-5))
    return x, bool(res.success) or small_grad, str(res.message)


# -- per-customer survival maths --------------------------------------------------------------------


@dataclass(frozen=True)
class _Churn:
    """Per-customer parameters: sBG ``(a, b)`` or, at the limit, the churn probability ``theta``."""

    limit: bool
    a: np.ndarray  # alpha_i (sBG) or theta_i (limit)
    b: float  # beta (sBG); unused at the limit

    @property
    def theta(self) -> np.ndarray:
        return self.a


def _churn_params(x: np.ndarray, limit: bool, Zc: np.ndarray) -> _Churn:
    """Per-customer parameters at internal parameters ``x`` for centred covariates ``Zc`` (n x p)."""
    if limit:
        return _Churn(True, special.expit(x[0] + _lin(Zc, x[1:])), np.nan)
    eta = x[0] + _lin(Zc, x[2:])
    return _Churn(False, np.exp(eta), float(np.exp(x[1])))


def _survival(P: _Churn, t: np.ndarray) -> np.ndarray:
    if P.limit:
        return np.exp(t * np.log1p(-P.theta))
    return np.exp(_log_rising(P.b, t) - _log_rising(P.a + P.b, t))


def _retention(P: _Churn, t: np.ndarray) -> np.ndarray:
    if P.limit:
        return np.broadcast_to(1 - P.theta, np.broadcast_shapes(P.a.shape, t.shape)).copy()
    return (P.b + t - 1) / (P.a + P.b + t - 1)


def _horizon_geometric(theta: np.ndarray, horizon: int) -> np.ndarray:
    """Expected periods as a customer within the next ``horizon`` at the geometric limit."""
    return (1 - np.exp(horizon * np.log1p(-theta))) / theta


def _derl_geometric(theta: np.ndarray, d: float) -> np.ndarray:
    """DERL at the geometric limit: ``(1 - theta) (1 + d) / (d + theta)``."""
    return (1 - theta) * (1 + d) / (d + theta)


def _expected_residual(P: _Churn, n: np.ndarray, horizon: int | None) -> np.ndarray:
    """E[T - n | T > n] (periods, the current one included), or within the next ``horizon`` periods."""
    shape = np.broadcast_shapes(P.a.shape, n.shape)
    a = np.broadcast_to(P.a, shape).ravel()
    nn = np.broadcast_to(n, shape).ravel()
    if horizon is None:
        if P.limit:
            out = 1.0 / a
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.where(a > 1, (a + P.b + nn - 1) / (a - 1), np.inf)
            out[np.isnan(a)] = np.nan
        return out.reshape(shape)
    if P.limit:
        return _horizon_geometric(a, horizon).reshape(shape)
    a, bn, back = _distinct(a, P.b + nn)
    return _horizon_sum(a, bn, horizon)[back].reshape(shape)


def _horizon_sum(a: np.ndarray, bn: np.ndarray, horizon: int) -> np.ndarray:
    """``sum_{j < horizon} S(n + j) / S(n)`` for flat arrays ``a`` (alpha_i) and ``bn = beta + n``.

    ``S(n + j) / S(n) = prod_{i < j} (bn + i) / (a + bn + i)``: cumulative products, in chunks.
    """
    out = np.empty(a.size)
    j = np.arange(max(horizon - 1, 0), dtype=float)
    step = max(1, int(4_000_000 // max(horizon, 1)))
    for s in range(0, a.size, step):
        sl = slice(s, s + step)
        b = bn[sl, None]
        out[sl] = 1.0 + np.cumprod((b + j) / (a[sl, None] + b + j), axis=1).sum(axis=1)
    return out


def _hyp2f1_derl(a: np.ndarray, bn: np.ndarray, v: float) -> np.ndarray:
    """``2F1(1, bn + 1; a + bn + 1; v)`` for ``0 < v < 1``: the sum behind DERL.

    Evaluated by the continued fraction of the incomplete beta function (the same function:
    ``2F1(p + q, 1; p + 1; v)`` with ``p = a + bn``, ``q = 1 - a``; modified Lentz, vectorised), which
    converges in about ``7 / sqrt(d)`` steps for ``v = 1 / (1 + d)`` and, unlike scipy's ``hyp2f1``,
    also where ``a`` is an integer. Elements that do not converge fall back to scipy's ``hyp2f1``.
    """
    shape = a.shape
    a, bn = a.ravel(), bn.ravel()
    out = np.full(a.size, np.nan)
    ok = np.isfinite(a) & np.isfinite(bn)
    idx = np.flatnonzero(ok)
    p, q = a[idx] + bn[idx], 1.0 - a[idx]
    tiny = 1e-300

    def clip(z: np.ndarray) -> np.ndarray:
        return np.where(np.abs(z) < tiny, tiny, z)

    c = np.ones(idx.size)
    dd = 1.0 / clip(1.0 - (p + q) * v / (p + 1.0))
    h = dd.copy()
    max_iter = int(min(200_000, 50 + 20 / np.sqrt(max(1.0 / v - 1.0, 1e-12))))
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        aa = m * (q - m) * v / ((p - 1.0 + m2) * (p + m2))
        dd = 1.0 / clip(1.0 + aa * dd)
        c = clip(1.0 + aa / c)
        h *= dd * c
        aa = -(p + m) * (p + q + m) * v / ((p + m2) * (p + 1.0 + m2))
        dd = 1.0 / clip(1.0 + aa * dd)
        c = clip(1.0 + aa / c)
        step = dd * c
        h *= step
        done = np.abs(step - 1.0) < 1e-14
        if done.any():
            out[idx[done]] = h[done]
            keep = ~done
            idx, p, q, c, dd, h = idx[keep], p[keep], q[keep], c[keep], dd[keep], h[keep]
            if not idx.size:
                break
    if idx.size:  # not converged: scipy's hyp2f1 (averaged at alpha (1 -+ 1e-6) where it fails at integers)
        ab, bb = a[idx], bn[idx]
        with np.errstate(all="ignore"):
            f = special.hyp2f1(1.0, bb + 1, ab + bb + 1, v)
            bad = ~np.isfinite(f) | (f < 1)
            h6 = 1e-6 * ab[bad]
            f[bad] = 0.5 * (
                special.hyp2f1(1.0, bb[bad] + 1, ab[bad] - h6 + bb[bad] + 1, v)
                + special.hyp2f1(1.0, bb[bad] + 1, ab[bad] + h6 + bb[bad] + 1, v)
            )
        out[idx] = np.where(np.isfinite(f) & (f >= 1), f, np.nan)
    return out.reshape(shape)


def _derl_sbg(a: np.ndarray, bn: np.ndarray, d: float) -> np.ndarray:
    """sBG DERL for same-shape arrays ``a`` (alpha_i) and ``bn`` (beta + n), discount rate ``d > 0``."""
    return bn / (a + bn) * _hyp2f1_derl(a, bn, 1.0 / (1.0 + d))


def _derl(P: _Churn, n: np.ndarray, discount_rate: float) -> np.ndarray:
    """FH (2010) DERL of a customer who has made ``n`` renewals (see :meth:`ShiftedBetaGeoFitter.derl`)."""
    d = discount_rate
    if P.limit:
        return _derl_geometric(np.broadcast_to(P.theta, np.broadcast_shapes(P.a.shape, n.shape)), d)
    if d == 0:
        return _expected_residual(P, n, None) - 1
    shape = np.broadcast_shapes(P.a.shape, n.shape)
    a, bn, back = _distinct(np.broadcast_to(P.a, shape).ravel(), P.b + np.broadcast_to(n, shape).ravel())
    return _derl_sbg(a, bn, d)[back].reshape(shape)


def _distinct(a: np.ndarray, bn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(a, bn)`` pairs and the index mapping them back (many customers share a tenure)."""
    if a.size < 1000:
        return a, bn, np.arange(a.size)
    codes = pd.DataFrame({"a": a, "bn": bn}).groupby(["a", "bn"], sort=False, dropna=False).ngroup().to_numpy()
    member = np.empty(int(codes.max()) + 1, dtype=np.int64)
    member[codes] = np.arange(codes.size)
    return a[member], bn[member], codes


# -- DERL and horizon sums for many parameter draws --------------------------------------------------


def _grid_interp(xq: np.ndarray, lo: np.ndarray, h: np.ndarray, F: np.ndarray, n_idx: np.ndarray) -> np.ndarray:
    """Cubic (4-point Lagrange) interpolation on a uniform grid.

    ``F`` (B, U, G) holds the values at ``lo + h * g`` for draw b and tenure u; query ``xq`` (B, m) of
    customers with tenure index ``n_idx`` (m,). Error O(h^4).
    """
    B, U, G = F.shape
    u = (xq - lo[:, None]) / h[:, None]
    i = np.clip(np.floor(u).astype(np.int64) - 1, 0, G - 4)
    s = u - i
    base = ((np.arange(B)[:, None] * U + n_idx[None, :]) * G) + i
    flat = F.ravel()
    f0, f1, f2, f3 = flat[base], flat[base + 1], flat[base + 2], flat[base + 3]
    s1, s2, s3 = s - 1, s - 2, s - 3
    return (-f0 * s1 * s2 * s3 + 3 * f1 * s * s2 * s3 - 3 * f2 * s * s1 * s3 + f3 * s * s1 * s2) / 6


def _interpolated_lifetimes(
    alphas: Sequence[np.ndarray], b: np.ndarray, n_g: np.ndarray, d: float, horizon: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(horizon sum, DERL)`` for each array of ``alphas`` (``alpha_i``, B draws x m customers).

    ``b`` (B,) is beta per draw, ``n_g`` (m,) the customers' tenures. Both measures are evaluated
    exactly on ``_GRID`` points in ``log alpha_i`` per draw and distinct tenure (spanning every
    array) and interpolated (cubic, relative error ~1e-8), so that the cost grows with customers +
    draws x tenures instead of customers x draws.
    """
    B = len(b)
    n_u, n_idx = np.unique(n_g, return_inverse=True)
    logs = [np.log(a) for a in alphas]
    lo = np.minimum.reduce([la.min(axis=1) for la in logs])
    hi = np.maximum.reduce([la.max(axis=1) for la in logs])
    h = np.maximum(hi - lo, 1e-6) / (_GRID - 1)
    nodes = lo[:, None] + h[:, None] * np.arange(_GRID)
    a_nodes = np.broadcast_to(np.exp(nodes)[:, None, :], (B, n_u.size, _GRID)).ravel()
    bn_nodes = np.broadcast_to((b[:, None] + n_u[None, :])[:, :, None], (B, n_u.size, _GRID)).ravel()
    derl_nodes = _derl_sbg(a_nodes, bn_nodes, d).reshape(B, n_u.size, _GRID)
    hor_nodes = _horizon_sum(a_nodes, bn_nodes, horizon).reshape(B, n_u.size, _GRID)
    return [(_grid_interp(la, lo, h, hor_nodes, n_idx), _grid_interp(la, lo, h, derl_nodes, n_idx)) for la in logs]


# -- goodness of fit: the fitted model against the life table --------------------------------------


def _life_table(t: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(at_risk, churned)`` for periods ``1 .. max t``: customers active in the period, leaving at its end.

    A customer with tenure ``t`` is at risk in periods ``1 .. t`` (she renewed at the end of each
    earlier one); she churned in period ``t`` if ``d`` is 1, else she is censored after it.
    """
    K = int(t.max())
    ti = t.astype(np.int64)
    total = np.bincount(ti, weights=w, minlength=K + 1)
    churned = np.bincount(ti, weights=w * d, minlength=K + 1)
    at_risk = total[::-1].cumsum()[::-1]
    return at_risk[1:], churned[1:]


def _expected_churn(x: np.ndarray, limit: bool, t: np.ndarray, w: np.ndarray, Zc: np.ndarray) -> np.ndarray:
    """Expected churners per period ``1 .. max t`` under the model, given who was at risk.

    Period ``s``: the sum over the customers at risk in it (tenure ``>= s``) of their churn
    probability in ``s`` given that they reached it, ``alpha_i / (alpha_i + beta + s - 1)``
    (``theta_i`` at the geometric limit).
    """
    P = _churn_params(x, limit, Zc)
    order = np.argsort(-t, kind="stable")
    ts, ws, a = t[order], w[order], np.broadcast_to(P.a, t.shape)[order]
    K = int(t.max())
    periods = np.arange(1, K + 1, dtype=float)
    n_at = np.searchsorted(-ts, -periods, side="right")  # rows with tenure >= s form a prefix
    out = np.empty(K)
    for k, (s, m) in enumerate(zip(periods, n_at)):
        h = a[:m] if limit else a[:m] / (a[:m] + P.b + s - 1)
        out[k] = float((ws[:m] * h).sum())
    return out


def _pool_periods(expected: np.ndarray, at_risk: np.ndarray, minimum: float = 5.0) -> np.ndarray:
    """Group labels of adjacent periods, pooled so each group expects ``>= minimum`` churners and renewals.

    Periods are taken in order; a group is closed once both expected counts reach ``minimum``; a
    last group that does not is merged into the one before it (the sparse tail).
    """
    groups = np.empty(expected.size, dtype=np.int64)
    g, e_churn, e_renew = 0, 0.0, 0.0
    for k in range(expected.size):
        groups[k] = g
        e_churn += expected[k]
        e_renew += at_risk[k] - expected[k]
        if e_churn >= minimum and e_renew >= minimum:
            g, e_churn, e_renew = g + 1, 0.0, 0.0
    if groups[-1] == g and g > 0:  # an unfinished last group: merge it into the previous one
        groups[groups == g] = g - 1
    return groups


def _binomial_deviance(observed: np.ndarray, expected: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``2 [O log(O / E) + (n - O) log((n - O) / (n - E))]`` per cell (``0 log 0 = 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2 * (
            special.xlogy(observed, observed)
            - special.xlogy(observed, expected)
            + special.xlogy(n - observed, n - observed)
            - special.xlogy(n - observed, n - expected)
        )
    return np.maximum(dev, 0.0)


def _trend_test(at_risk: np.ndarray, churned: np.ndarray) -> tuple[float, float]:
    """Cochran-Armitage test of a trend in the churn share per period with the period: ``(z, p)``.

    ``z > 0``: churn rises (retention falls) with tenure; ``p`` is one-sided, for a rise. NaN when
    there is a single period or no variation.
    """
    periods = np.arange(1, at_risk.size + 1, dtype=float)
    N = at_risk.sum()
    p_bar = churned.sum() / N
    t_bar = (at_risk * periods).sum() / N
    var = p_bar * (1 - p_bar) * (at_risk * (periods - t_bar) ** 2).sum()
    if not var > 0:
        return np.nan, np.nan
    z = float((churned * (periods - t_bar)).sum() / np.sqrt(var))
    return z, float(special.ndtr(-z))
