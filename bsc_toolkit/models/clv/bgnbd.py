"""The BG/NBD model of repeat purchasing: :class:`BetaGeoFitter`, and its limiting models.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", *Marketing Science* 24(2), 275-284. Maximum likelihood as described in
:mod:`bsc_toolkit.models.clv._fitting`, on the distinct ``(x, t_x, T)`` rows of the data with the
analytic gradient and Hessian of :func:`~bsc_toolkit.models.clv._bgnbd_math.family_loglik`.

Where the BG/NBD likelihood rises towards a boundary of its parameter space, the limiting model
there is fitted and used instead (:data:`MODELS`):

=================================  ====================  ==========================================
model                              parameters            boundary of the BG/NBD
=================================  ====================  ==========================================
BG/NBD                             r, alpha, a, b        --
NBD (no drop-out)                  r, alpha              b -> inf or a -> 0 (no-dropout boundary)
BG/Poisson                         lambda, a, b          r, alpha -> inf, r / alpha fixed
BG/NBD (common drop-out            r, alpha, p           a, b -> inf, a / (a + b) fixed
probability)
BG/NBD (split drop-out)            r, alpha, pi          a, b -> 0, a / (a + b) fixed
Poisson (no drop-out)              lambda                no drop-out and one purchase rate
Poisson (common drop-out           lambda, p             common drop-out and one purchase rate
probability)
Poisson (split drop-out)           lambda, pi            split drop-out and one purchase rate
=================================  ====================  ==========================================

(In the split drop-out model a share ``pi`` of the customers leaves right after their first repeat
purchase and the others never leave: the Beta(a, b) distribution of drop-out probabilities has
piled up at 0 and 1.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.models.clv._bgnbd_math import (
    BetaDropout,
    CommonDropout,
    GammaRates,
    NoDropout,
    PoissonRate,
    RFMRows,
    SplitDropout,
    compress_rfm,
    family_loglik,
)
from bsc_toolkit.models.clv._fitting import Limit, ModelSpec, _BaseFitter, _Likelihood
from bsc_toolkit.models.clv._inputs import _as_float_array, _rfm_arrays, _weights, _wrap_like

__all__ = ["BetaGeoFitter", "MODELS"]

#: A fitted BG/NBD that puts more than this share of the customers still alive has found
#: practically no drop-out in the data (close to its no-drop-out limit, the NBD model).
NO_DROPOUT_ALIVE_SHARE = 0.99

_NO_DROPOUT = (
    "the drop-out probability is practically zero (the no-drop-out limit, where the model "
    "becomes the NBD model: the data show no sign of customers leaving, so P(alive) is close to 1 "
    "for everyone and long-horizon forecasts assume nobody leaves)"
)

# -- the model family ------------------------------------------------------------------------------
_NONE_MEANING = "the drop-out probability tends to 0 for every customer (b -> infinity or a -> 0)"
_NONE_CONSEQUENCE = "predictions assume nobody leaves (P(alive) = 1 for every customer)"
_RATES_BOUNDARY = "no-heterogeneity boundary (purchase rates)"
_RATES_MEANING = "purchase rates stop differing across customers (r, alpha -> infinity with r / alpha fixed)"
_RATES_CONSEQUENCE = "every customer buys at the same rate while alive"
_COMMON_BOUNDARY = "no-heterogeneity boundary (drop-out probabilities)"
_COMMON_MEANING = "drop-out probabilities stop differing across customers (a, b -> infinity with a / (a + b) fixed)"
_COMMON_CONSEQUENCE = "every customer has the same drop-out probability after each repeat purchase"
_P_ZERO_MEANING = "the common drop-out probability p tends to 0"
_SPLIT_BOUNDARY = "split drop-out boundary"
_SPLIT_MEANING = (
    "drop-out probabilities split between 0 and 1 (a, b -> 0 with a / (a + b) fixed): customers either never "
    "leave or leave right after their first repeat purchase"
)
_SPLIT_CONSEQUENCE = "a share pi of the customers leaves right after their first repeat purchase, the others never"
_PI_ZERO_MEANING = "the share pi of customers who leave after their first repeat purchase tends to 0"


def _spec(key: str, name: str, names: tuple[str, ...], limits: tuple[Limit, ...] = ()) -> ModelSpec:
    powers = {"alpha": 1, "lambda": -1}
    return ModelSpec(
        key=key,
        name=name,
        param_names=names,
        transforms=tuple("logit" if n in ("p", "pi") else "log" for n in names),
        unit_powers=tuple(powers.get(n, 0) for n in names),
        limits=limits,
    )


def _no_dropout(target: str, meaning: str, start) -> Limit:
    return Limit("no-dropout boundary", target, meaning, _NONE_CONSEQUENCE, start)


#: The BG/NBD and its limiting models, by key; the first is the full model.
MODELS: dict[str, ModelSpec] = {
    s.key: s
    for s in (
        _spec(
            "bgnbd",
            "BG/NBD",
            ("r", "alpha", "a", "b"),
            (
                _no_dropout("nbd", _NONE_MEANING, lambda th: th[:2]),
                Limit(_RATES_BOUNDARY, "bgp", _RATES_MEANING, _RATES_CONSEQUENCE, lambda th: [th[0] / th[1], *th[2:]]),
                Limit(
                    _COMMON_BOUNDARY,
                    "bg_common",
                    _COMMON_MEANING,
                    _COMMON_CONSEQUENCE,
                    lambda th: [th[0], th[1], th[2] / (th[2] + th[3])],
                ),
                Limit(
                    _SPLIT_BOUNDARY,
                    "bg_split",
                    _SPLIT_MEANING,
                    _SPLIT_CONSEQUENCE,
                    lambda th: [th[0], th[1], th[2] / (th[2] + th[3])],
                ),
            ),
        ),
        _spec(
            "nbd",
            "NBD (no drop-out)",
            ("r", "alpha"),
            (Limit(_RATES_BOUNDARY, "poisson", _RATES_MEANING, _RATES_CONSEQUENCE, lambda th: [th[0] / th[1]]),),
        ),
        _spec(
            "bgp",
            "BG/Poisson",
            ("lambda", "a", "b"),
            (
                _no_dropout("poisson", _NONE_MEANING, lambda th: th[:1]),
                Limit(
                    _COMMON_BOUNDARY,
                    "poisson_common",
                    _COMMON_MEANING,
                    _COMMON_CONSEQUENCE,
                    lambda th: [th[0], th[1] / (th[1] + th[2])],
                ),
                Limit(
                    _SPLIT_BOUNDARY,
                    "poisson_split",
                    _SPLIT_MEANING,
                    _SPLIT_CONSEQUENCE,
                    lambda th: [th[0], th[1] / (th[1] + th[2])],
                ),
            ),
        ),
        _spec(
            "bg_common",
            "BG/NBD (common drop-out probability)",
            ("r", "alpha", "p"),
            (
                _no_dropout("nbd", _P_ZERO_MEANING, lambda th: th[:2]),
                Limit(
                    _RATES_BOUNDARY,
                    "poisson_common",
                    _RATES_MEANING,
                    _RATES_CONSEQUENCE,
                    lambda th: [th[0] / th[1], th[2]],
                ),
            ),
        ),
        _spec(
            "bg_split",
            "BG/NBD (split drop-out)",
            ("r", "alpha", "pi"),
            (
                _no_dropout("nbd", _PI_ZERO_MEANING, lambda th: th[:2]),
                Limit(
                    _RATES_BOUNDARY,
                    "poisson_split",
                    _RATES_MEANING,
                    _RATES_CONSEQUENCE,
                    lambda th: [th[0] / th[1], th[2]],
                ),
            ),
        ),
        _spec("poisson", "Poisson (no drop-out)", ("lambda",)),
        _spec(
            "poisson_common",
            "Poisson (common drop-out probability)",
            ("lambda", "p"),
            (_no_dropout("poisson", _P_ZERO_MEANING, lambda th: th[:1]),),
        ),
        _spec(
            "poisson_split",
            "Poisson (split drop-out)",
            ("lambda", "pi"),
            (_no_dropout("poisson", _PI_ZERO_MEANING, lambda th: th[:1]),),
        ),
    )
}

_PARTS = {
    "bgnbd": (GammaRates, BetaDropout),
    "nbd": (GammaRates, NoDropout),
    "bgp": (PoissonRate, BetaDropout),
    "bg_common": (GammaRates, CommonDropout),
    "poisson": (PoissonRate, NoDropout),
    "poisson_common": (PoissonRate, CommonDropout),
    "bg_split": (GammaRates, SplitDropout),
    "poisson_split": (PoissonRate, SplitDropout),
}


def _gamma_timing(r, alpha, x, t_x, T):
    """``(r + x) log(1 + (T - t_x) / (alpha + t_x))``: Gamma(r, alpha) purchase rates' part of the log odds of dead.

    log1p: exact also where alpha dwarfs T (r and alpha in the millions, near the BG/Poisson).
    """
    return (r + x) * np.log1p((T - t_x) / (alpha + t_x))


def _beta_log_odds_dead(a, b, x, timing):
    """log P(dropped out after the last purchase) / P(alive) with Beta(a, b) drop-out, for x > 0.

    ``timing``: the purchase rates' part (:func:`_gamma_timing`, or ``lambda (T - t_x)``). Fader,
    Hardie & Lee (2008), note 021; parameters broadcast (per-customer ``a`` with covariates).
    """
    return np.log(a) - np.log(b + np.maximum(x, 1) - 1) + timing


class _BGLikelihood(_Likelihood):
    """Compressed RFM rows at the natural time scale and rescaled so that the longest age is 10."""

    specs = MODELS

    def __init__(self, rows: RFMRows) -> None:
        self.rows = rows
        self.n = rows.n
        self.scale = 10.0 / max(float(rows.T_values.max()), 1e-12)
        self.search_rows = rows.rescaled(self.scale)

    def loglik(self, spec: ModelSpec, theta: np.ndarray, order: int, natural: bool):
        purchase, dropout = _PARTS[spec.key]
        return family_loglik(purchase, dropout, theta, self.rows if natural else self.search_rows, order)

    def starts(self, spec: ModelSpec) -> list[np.ndarray]:
        """Method-of-moments purchase rates (NBD on x / T), a short grid over the drop-out part."""
        rows = self.search_rows
        T0 = rows.T_values[rows.zero_iT]
        TT = np.concatenate([T0, rows.T_values[rows.iT]])
        xx = np.concatenate([np.zeros(T0.size), rows.x])
        ww = np.concatenate([rows.zero_w, rows.w])
        keep = TT > 0
        TT, xx, ww = TT[keep], xx[keep], ww[keep]
        rate = xx / TT
        m = max(float(np.average(rate, weights=ww)), 1e-6)
        between = float(np.average((rate - m) ** 2, weights=ww) - m * np.average(1.0 / TT, weights=ww))
        r = float(np.clip(m * m / between, 0.05, 50.0)) if between > 0 else 50.0
        gamma, lam = [r, r / m], [m]
        purchase = gamma if _PARTS[spec.key][0] is GammaRates else lam
        dropout = {
            "bgnbd": [(1.0, 3.0), (0.5, 1.0), (0.5, 5.0), (2.0, 10.0), (1.0, 1.0)],
            "bgp": [(1.0, 3.0), (0.5, 1.0), (0.5, 5.0), (2.0, 10.0)],
            "bg_common": [(0.2,), (0.05,), (0.5,)],
            "poisson_common": [(0.2,), (0.05,), (0.5,)],
            "bg_split": [(0.2,), (0.05,), (0.5,)],
            "poisson_split": [(0.2,), (0.05,), (0.5,)],
        }.get(spec.key, [()])
        starts = [np.array([*purchase, *d], dtype=float) for d in dropout]
        if len(starts) > 1:
            f = [self.loglik(spec, s, 0, False)[0] for s in starts]
            starts = [starts[i] for i in np.argsort([-v if np.isfinite(v) else np.inf for v in f])]
        return starts


# -- expectations of a customer alive now ----------------------------------------------------------
#
# A customer alive at T with x repeat purchases has the posterior purchase rate lambda ~ Gamma(R, beta),
# R = r + x, beta = alpha + T, and drop-out probability p ~ Beta(a, B), B = b + x (a new customer:
# x = T = 0). Buying at rate lambda and leaving with probability p after each purchase, they make on
# average (1 - exp(-lambda p t)) / p purchases in the next t periods and are still alive at the end
# with probability exp(-lambda p t). Averaged over lambda, with s = t / beta and c = a + B - 1:
#
#     E = E_p[(1 - (1 + p s)^-R) / p] = c / (a - 1) (1 - 2F1(R, a - 1; c; -s))     (FHL 2005 eq. 9, 10)
#     S = E_p[(1 + p s)^-R]           = 2F1(R, a; a + B; -s)
#
# Averaged over p first, they are the BG/Poisson's f(lambda t) and g(lambda t), averaged over Gamma(R, beta):
#
#     f(y) = E_p[(1 - exp(-y p)) / p] = c / (a - 1) (1 - 1F1(a - 1; c; -y)),    g(y) = 1F1(a; a + B; -y).
#
# scipy's hyp2f1 fails on these for large R (NaN from r ~ 1e5 on, inaccurate before) and in corners of
# (a, B, s), so they are evaluated by
#
# * the power series in s where its terms at least halve (alternating: free of the cancellation in
#   1 - 2F1 at small s);
# * for R >= _EXPANSION_SHAPE, the expansion around the BG/Poisson at the mean rate m = R / beta in
#   the central moments mu_k of Gamma(R, beta): sum_k f^(k)(m) mu_k / k!, where
#   m^k f^(k)(m) = -E_p[(y p)^k exp(-y p) / p] = -(-y)^k (a)_{k-1} / (a + B)_{k-1} 1F1(a - 1 + k; c + k; -y),
#   y = m t (likewise for g). As (y p)^k exp(-y p) <= (k / e)^k and mu_k / m^k = O(R^(-k/2)), the
#   terms beyond the tenth change E by less than 1e-10 of itself, and S by less than 1e-10, from R = 1000 on;
# * otherwise scipy's hyp2f1 after Pfaff's transformations (z = s / (1 + s) in (0, 1)), accepted where
#   finite, within the bounds 0 <= E <= R s, 0 <= S <= 1, and not lost to the cancellation in 1 - 2F1;
#   elsewhere the trapezoidal rule over log(lambda) on the average of f or g over Gamma(R, beta).
#
# E has a removable 0/0 at a = 1: within _A_NEAR_ONE of it, it is interpolated linearly in a.

#: From this shape ``r + x`` of a customer's Gamma distribution of purchase rates on, their
#: expectations are evaluated by the expansion around the BG/Poisson model at their mean rate.
_EXPANSION_SHAPE = 1e3
#: Terms of that expansion (central moments of the Gamma distribution up to this order).
_EXPANSION_ORDER = 10
#: Within this distance of a = 1 the expected purchases (a removable 0/0) are interpolated linearly in a.
_A_NEAR_ONE = 1e-4
#: Terms of the power series (each at most half the one before).
_SERIES_TERMS = 60
#: A value of E from hyp2f1 is refused where 1 - 2F1 cancels by more than this factor (c / |a - 1| / E).
_MAX_CANCELLATION = 1e5
#: Grid points times elements per block of the quadrature.
_QUADRATURE_BLOCK = 2_000_000


def _interpolate_near_one(fun, a, *args) -> np.ndarray:
    """``fun(a, *args)`` elementwise, linearly interpolated in ``a`` across ``|a - 1| < _A_NEAR_ONE``.

    The BG/NBD expectations have a removable 0/0 at ``a = 1``; near it they lose precision.
    """
    a, *args = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, *args)))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(fun(a, *args), dtype=float)
        near = np.abs(a - 1.0) < _A_NEAR_ONE
        if near.any():
            lo, hi = 1.0 - _A_NEAR_ONE, 1.0 + _A_NEAR_ONE
            sub = [v[near] for v in args]
            f_lo = fun(np.full(int(near.sum()), lo), *sub)
            f_hi = fun(np.full(int(near.sum()), hi), *sub)
            out[near] = f_lo + (a[near] - lo) / (hi - lo) * (f_hi - f_lo)
    return out


def _hyp1f1_neg(A, C, y) -> np.ndarray:
    """``1F1(A; C; -y)`` for ``y >= 0`` and ``C > A``, by scipy.

    Where scipy returns no finite value (in narrow bands of ``y``, e.g. near 1418, or near ``y = C``
    for large ``C``), by Kummer's transformation ``exp(-y) 1F1(C - A; C; y)``, a series of positive
    terms summed in logs (up to ``y + 15 sqrt(y) + 100`` terms).
    """
    A, C, y = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (A, C, y)))
    shape = A.shape
    out = np.array(special.hyp1f1(A, C, -y), dtype=float).reshape(-1)
    A, C, y = A.ravel(), C.ravel(), y.ravel()
    for i in np.flatnonzero(~np.isfinite(out)):
        a_, c_, y_ = A[i], C[i], y[i]
        n_terms = int(np.ceil(y_ + 15.0 * np.sqrt(y_) + 100.0))
        if c_ - a_ <= 0 or n_terms > 10_000_000:
            continue
        n = np.arange(n_terms - 1, dtype=float)
        log_terms = np.concatenate([[0.0], np.cumsum(np.log(c_ - a_ + n) - np.log(c_ + n) + np.log(y_) - np.log1p(n))])
        top = log_terms.max()
        out[i] = np.exp(top - y_ + np.log(np.exp(log_terms - top).sum()))
    return out.reshape(shape)


def _bgp_expected(y, a, B) -> np.ndarray:
    """``f(y) = E[(1 - exp(-y p)) / p]`` for ``p ~ Beta(a, B)``: the BG/Poisson's purchases in time ``y / lambda``.

    The power series where its terms at least halve (no cancellation), ``c / (a - 1) (1 - 1F1(a - 1; c; -y))``
    elsewhere; where ``c = a + B - 1 <= 0``, ``f = B / (a + B) f_(B + 1) + 1 - g`` (from ``1 / p = (1 - p) / p + 1``).
    """
    y, a, B = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (y, a, B)))
    out = np.empty(y.shape)
    c = a + B - 1.0
    n_terms = _SERIES_TERMS
    # ratio of terms m + 1 and m: y (a + m - 1) / ((c + m) (m + 1)), (a + m - 1) / (c + m) increasing to 1
    small = (y * (a + n_terms) / (c + n_terms + 1) <= 1.0) & (y <= n_terms / 2)
    if small.any():
        ys, As, Cs = y[small], a[small], c[small]
        term, total = ys.copy(), ys.copy()
        for m in range(1, n_terms):  # term_m = (a)_m / (c + 1)_m (-1)^m y^(m + 1) / (m + 1)!
            term = term * (-ys) * (As + m - 1.0) / ((Cs + m) * (m + 1.0))
            total += term
            if not (np.abs(term) > 1e-17 * np.abs(total)).any():  # the rest is smaller still
                break
        out[small] = total
    big = ~small & (c > 0)
    if big.any():
        ratio = c[big] / (a[big] - 1.0)
        out[big] = ratio - ratio * _hyp1f1_neg(a[big] - 1.0, c[big], y[big])
    low = ~small & (c <= 0)
    if low.any():
        yl, al, bl = y[low], a[low], B[low]
        out[low] = bl / (al + bl) * _bgp_expected(yl, al, bl + 1.0) + 1.0 - _hyp1f1_neg(al, al + bl, yl)
    return out


def _gamma_relative_moments(R: np.ndarray, order: int) -> list[np.ndarray]:
    """``E[(lambda / m - 1)^k]``, k = 0..order, for ``lambda ~ Gamma(R, beta)`` with mean ``m``.

    From the cumulants ``(k - 1)! R^(1 - k)`` of ``lambda / m`` by the moment-cumulant recursion.
    """
    kappa = [0.0, 0.0] + [math.factorial(j - 1) * R ** (1.0 - j) for j in range(2, order + 1)]
    mu = [np.ones_like(R), np.zeros_like(R)]
    for n in range(2, order + 1):
        mu.append(sum(math.comb(n - 1, j - 1) * kappa[j] * mu[n - j] for j in range(2, n + 1)))
    return mu


def _series_converges(s, R, a, B) -> np.ndarray:
    """Where every term of the power series in ``s`` (of E or S) is at most half the one before."""
    n = _SERIES_TERMS
    # ratio of terms n + 1 and n: s (R + n) / (n + 1) times (a + n - 1) / (a + B - 1 + n) for E,
    # (a + n) / (a + B + n) for S; the first factor lies between max(R, 1) and 1, the second increases
    # to 1 and is at most (a + N) / (a + B + N) up to term N
    head = s * np.maximum(R, 1.0) * (a + n) / (a + B + n) <= 0.5
    tail = s * np.maximum(1.0, (R + n) / (n + 1.0)) <= 0.5
    return head & tail


def _series(kind: str, s, R, a, B) -> np.ndarray:
    """``E`` (kind ``"expected"``) or ``S`` by the power series in ``s`` (where it converges fast)."""
    if kind == "expected":  # term_n = (R)_n (a)_{n-1} / ((a + B)_{n-1} n!) (-1)^(n + 1) s^n, n >= 1
        term, first, bottom = R * s, 1, a + B - 1.0
    else:  # term_n = (R)_n (a)_n / ((a + B)_n n!) (-s)^n, n >= 0
        term, first, bottom = np.ones_like(s), 0, a + B
    total = term.copy()
    for n in range(first, first + _SERIES_TERMS):
        term = term * (-s) * (R + n) * (a + n - first) / ((bottom + n) * (n + 1.0))
        total += term
        if not (np.abs(term) > 1e-17 * np.abs(total)).any():  # the rest is smaller still
            break
    return total


def _expansion(kind: str, s, R, a, B) -> np.ndarray:
    """``E`` or ``S`` by the expansion around the BG/Poisson at the mean rate (for large ``R``)."""
    y = R * s
    mu = _gamma_relative_moments(R, _EXPANSION_ORDER)
    expected = kind == "expected"
    total = _bgp_expected(y, a, B) if expected else _hyp1f1_neg(a, a + B, y)
    coef = np.ones_like(y)  # (a)_{k-1} / (a + B)_{k-1} for E, (a)_k / (a + B)_k for S
    for k in range(1, _EXPANSION_ORDER + 1):
        j = k - 1 if expected else k
        if j >= 1:
            coef = coef * (a + j - 1.0) / (a + B + j - 1.0)
        if k >= 2:  # mu_1 = 0
            deriv = (-y) ** k * coef * _hyp1f1_neg(a + j, a + B + j, y)
            total = total + (-deriv if expected else deriv) * mu[k] / math.factorial(k)
    return total


def _gamma_quadrature(kind: str, s, R, a, B) -> np.ndarray:
    """``E`` or ``S`` as the Gamma(R) average of the BG/Poisson's ``f`` or ``g``, trapezoidal in ``log lambda``.

    With ``u = lambda beta ~ Gamma(R, 1)`` and ``w = log u``, the integrand
    ``exp(R w - e^w) / Gamma(R) f(s e^w)`` is analytic in the strip ``|Im w| < pi / 2`` and vanishes
    fast on both sides (``S = 1 - E[1 - g]``, so that both integrands vanish like ``u^(R + 1)`` at 0):
    the rule converges geometrically. The grid (step at most 0.1 and a quarter of the standard
    deviation of ``w``) runs from 40 e-folds below both the peak and ``-log s`` to where ``u`` exceeds
    ``R`` by 60 or 12 standard deviations.
    """
    sd = np.minimum(1.0, 1.0 / np.sqrt(R))
    step = np.minimum(0.1, 0.25 * sd)
    peak = np.log(R)
    lo = np.minimum(peak, -np.log(s)) - 40.0 / (R + 1.0) - 12.0 * sd
    hi = peak + np.maximum(12.0 * sd, np.log1p(60.0 / R))
    n = int(np.ceil(np.max((hi - lo) / step))) + 1
    weights = np.ones(n)
    weights[[0, -1]] = 0.5
    out = np.empty(s.shape)
    per_block = max(1, _QUADRATURE_BLOCK // n)
    for start in range(0, s.size, per_block):
        i = slice(start, start + per_block)
        h = ((hi[i] - lo[i]) / (n - 1))[:, None]
        w = lo[i][:, None] + h * np.arange(n)
        dens = np.exp(R[i][:, None] * w - np.exp(w) - special.gammaln(R[i])[:, None])
        y = s[i][:, None] * np.exp(w)
        A, BB = a[i][:, None], B[i][:, None]
        vals = _bgp_expected(y, A, BB) if kind == "expected" else 1.0 - _hyp1f1_neg(A, A + BB, y)
        out[i] = (dens * vals * h) @ weights
    return out if kind == "expected" else 1.0 - out


def _hypergeometric(kind: str, s, R, a, B) -> np.ndarray:
    """``E`` or ``S`` by scipy's hyp2f1 after Pfaff's transformations; NaN where not trustworthy.

    ``2F1(R, a + j; C; -s) = (1 + s)^-(a + j) 2F1(a + j, C - R; C; z) = (1 + s)^-R 2F1(R, C - a - j; C; z)``
    with ``z = s / (1 + s)``, ``j = -1, C = c`` for E and ``j = 0, C = a + B`` for S: the first where
    finite and within bounds (and, for E, where ``1 - 2F1`` loses less than a factor
    ``_MAX_CANCELLATION``), else the second (a factor ten stricter), else NaN.
    """
    z = s / (1.0 + s)
    j = -1.0 if kind == "expected" else 0.0
    C = a + B + j
    log_1s = np.log1p(s)
    out = np.full(s.shape, np.nan)
    for variant, limit in ((0, _MAX_CANCELLATION), (1, _MAX_CANCELLATION / 10)):
        i = np.flatnonzero(np.isnan(out))
        if not i.size:
            break
        si, Ri, ai, Ci = s[i], R[i], a[i], C[i]
        if variant == 0:
            log_g = np.log(special.hyp2f1(ai + j, Ci - Ri, Ci, z[i])) - (ai + j) * log_1s[i]
        else:
            log_g = np.log(special.hyp2f1(Ri, Ci - ai - j, Ci, z[i])) - Ri * log_1s[i]
        if kind == "survival":
            val = np.exp(log_g)
            ok = (val >= 0) & (val <= 1)
        else:
            ratio = Ci / (ai - 1.0)
            val = -ratio * np.expm1(log_g)
            ok = (Ci > 0) & (val >= 0) & (val <= Ri * si * (1.0 + 1e-12)) & (np.abs(ratio) <= limit * val)
        out[i[ok]] = val[ok]
    return out


def _alive_quantity(kind: str, t, R, beta, a, B) -> np.ndarray:
    """``E`` (kind ``"expected"``) or ``S`` (``"survival"``), broadcast, each element by the method above that fits it."""
    t, R, beta, a, B = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, R, beta, a, B)))
    shape = t.shape
    t, R, beta, a, B = (v.ravel() for v in (t, R, beta, a, B))
    out = np.full(t.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        s = t / beta
        series = _series_converges(s, R, a, B)
        large = ~series & (R >= _EXPANSION_SHAPE)
        small = ~series & ~large
        for mask, method in ((series, _series), (large, _expansion), (small, _hypergeometric)):
            if mask.any():
                out[mask] = method(kind, s[mask], R[mask], a[mask], B[mask])
        failed = small & ~np.isfinite(out)
        if failed.any():
            out[failed] = _gamma_quadrature(kind, s[failed], R[failed], a[failed], B[failed])
    return out.reshape(shape)


def _alive_expected_purchases(t, R, beta, a, B) -> np.ndarray:
    """Expected purchases in the next ``t`` periods of a customer alive now (FHL 2005 eq. 9 and 10).

    Parameters
    ----------
    t : float or array
        Horizon (non-negative).
    R, beta : float or array
        Shape and rate of the customer's Gamma distribution of purchase rates (``r + x``, ``alpha + T``).
    a, B : float or array
        Parameters of their Beta distribution of drop-out probabilities (``a``, ``b + x``).

    Returns
    -------
    ndarray
        Broadcast over the arguments; finite for positive parameters and finite ``t``.
    """

    def fun(a_, t_, R_, beta_, B_):
        return _alive_quantity("expected", t_, R_, beta_, a_, B_)

    return _interpolate_near_one(fun, a, t, R, beta, B)


def _alive_survival(t, R, beta, a, B) -> np.ndarray:
    """P(still alive in ``t`` periods) of a customer alive now; arguments as :func:`_alive_expected_purchases`."""
    return _alive_quantity("survival", t, R, beta, a, B)


class BetaGeoFitter(_BaseFitter):
    """BG/NBD model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    While alive, a customer buys according to a Poisson process with rate
    ``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate ``alpha``); after every repeat
    purchase they become inactive for good with probability ``p ~ Beta(a, b)``.

    When the likelihood rises towards a boundary of the parameter space, the limiting model there
    is fitted and used (see :data:`MODELS`): e.g. on data without any sign of customers leaving,
    ``b`` runs to infinity and the fitter uses the NBD model without drop-out (``model_ ==
    "NBD (no drop-out)"``, ``fit_status_.boundary == "no-dropout boundary"``). ``params_``,
    ``summary`` and the covariance then hold *that model's* parameters: ``r, alpha`` (NBD),
    ``lambda, a, b`` (BG/Poisson: one purchase rate for everyone), ``r, alpha, p`` (one drop-out
    probability ``p`` for everyone), ``r, alpha, pi`` (a share ``pi`` leaves right after the first
    repeat purchase, the others never), ``lambda``, ``lambda, p`` or ``lambda, pi`` (one purchase
    rate as well), and every prediction
    is that model's (finite; ``conditional_probability_alive`` is 1 without drop-out).

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level of the intervals in ``summary`` and ``confidence_intervals_``
        (not the model parameter ``alpha``, which is ``params_["alpha"]``).

    Attributes
    ----------
    model_ : str
        The model used: ``"BG/NBD"`` or a limiting model's name (``fit_status_.model``).
    fit_status_ : FitStatus
        Model used, convergence, boundary, a message in words and whether the predictions are usable.
    params_, standard_errors_ : Series
        Estimates of the model's parameters (``r, alpha, a, b`` for the BG/NBD) and their
        delta-method standard errors.
    confidence_intervals_ : DataFrame
        ``ci_lower``, ``ci_upper``: Wald intervals on the log scale (logit scale for ``p``).
    cov_params_ : DataFrame
        Covariance matrix of the estimates (``variance_matrix_`` is a deprecated alias).
    log_likelihood_ : float
    n_customers_ : int
    converged_ : bool
        Whether the search for the model used reached a maximum.
    search_path_ : list of ModelFit
        Every model fitted on the way (the BG/NBD first, where its search ended, then the limits used).
    diagnostics_ : list of Diagnostic
        ``"limit_model"`` when a limiting model was used (why, in words); ``"not_converged"``;
        ``"boundary"`` when parameters ran away towards a boundary without a limiting model, the
        Hessian is not positive definite or a standard error is not finite (predictions withheld);
        ``"near_boundary"`` when a BG/NBD fit puts more than 99% of the customers still alive.

    Examples
    --------
    >>> bgf = BetaGeoFitter().fit(summary)            # doctest: +SKIP
    >>> bgf.summary                                   # doctest: +SKIP
    """

    _specs = MODELS
    _label = "BG/NBD"
    _limits = {
        "r": (
            "purchase rates hardly differ across customers (the no-heterogeneity limit of the "
            "Gamma(r, alpha) distribution of purchase rates)",
            "purchase rates are extremely dispersed across customers",
        ),
        "alpha": (
            "purchase rates hardly differ across customers (the no-heterogeneity limit of the "
            "Gamma(r, alpha) distribution of purchase rates)",
            "purchase rates are extremely dispersed across customers",
        ),
        "lambda": ("customers buy extremely often", "customers practically never buy again"),
        "a": ("the drop-out probability is close to 1 after every repeat purchase", _NO_DROPOUT),
        "b": (
            _NO_DROPOUT,
            "drop-out probabilities pile up at 1: most customers leave after their first repeat purchase",
        ),
        "p": ("every customer leaves after their first repeat purchase", _NO_DROPOUT),
        "pi": ("every customer leaves after their first repeat purchase", _NO_DROPOUT),
    }

    def fit(
        self,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        recency_col: str = "recency",
        T_col: str = "T",
        initial_params: Sequence[float] | None = None,
        weights_col: str | None = None,
    ) -> BetaGeoFitter:
        """Fit on an RFM summary (one row per customer); returns ``self``.

        ``initial_params`` (``r, alpha, a, b`` in the data's time unit) is tried first; by default
        the search starts from method-of-moments values. ``weights_col`` names a column with the
        number of customers each row stands for (non-negative), e.g. the ``n_customers`` of the
        distinct (frequency, recency, T) rows an engine returns
        (:func:`bsc_toolkit.engine.rfm.rfm_patterns`): the fit is the same as on one row per customer.
        """
        self._start_fit()
        x, t_x, T = _rfm_arrays(summary, frequency_col, recency_col, T_col, (weights_col,) if weights_col else ())
        weights = None
        if weights_col is not None:
            weights = _weights(summary, weights_col)
            keep = weights > 0
            x, t_x, T, weights = x[keep], t_x[keep], T[keep], weights[keep]
        if x.size == 0:
            raise NotEstimableError("BG/NBD: no customers in the summary (it has no rows): nothing to fit")
        if not (x > 0).any():
            raise NotEstimableError("no customer has a repeat purchase; the BG/NBD model is not identified")
        if not (T > 0).any():
            raise NotEstimableError("every customer has age T = 0: the BG/NBD model has no time to fit")
        rows = compress_rfm(x, t_x, T, weights)
        self._fit_family(_BGLikelihood(rows), initial_params)
        self.n_customers_ = int(round(weights.sum())) if weights is not None else int(x.size)
        self._max_frequency = int(x.max())
        self._max_T = float(T.max())
        if self._spec.key == "bgnbd" and self.fit_status_.usable:
            self._diagnose_no_dropout(rows)
        return self

    def _runaway_meanings(self, runaway: dict[str, bool]) -> list[tuple[list[str], bool, str]]:
        # a and b running away together describe one limit of the Beta(a, b) drop-out distribution
        if not {"a", "b"} <= set(runaway) or runaway["a"] != runaway["b"]:
            return super()._runaway_meanings(runaway)
        rest = super()._runaway_meanings({k: v for k, v in runaway.items() if k not in ("a", "b")})
        a, b = float(self.params_["a"]), float(self.params_["b"])
        if runaway["a"]:
            mean = a / (a + b)
            meaning = (
                f"every customer has the same drop-out probability, {mean:.3g} after each repeat purchase "
                "(no heterogeneity in drop-out)"
                + ("; that is practically no drop-out (the no-drop-out limit, the NBD model)" if mean < 1e-3 else "")
            )
        else:
            meaning = (
                "drop-out probabilities split between 0 and 1: customers either never drop out or leave "
                f"after their first repeat purchase (a share a / (a + b) = {a / (a + b):.1%} of them)"
            )
        return [*rest, (["a", "b"], runaway["a"], meaning)]

    def _diagnose_no_dropout(self, rows: RFMRows) -> None:
        """Say so when a BG/NBD fit puts more than 99% of the customers alive (close to the NBD limit)."""
        x = np.concatenate([np.zeros(rows.zero_w.size), rows.x])
        t_x = np.concatenate([np.zeros(rows.zero_w.size), rows.t_values[rows.it]])
        T = np.concatenate([rows.T_values[rows.zero_iT], rows.T_values[rows.iT]])
        w = np.concatenate([rows.zero_w, rows.w])
        alive = float(np.dot(w, self.conditional_probability_alive(x, t_x, T)) / w.sum())
        if alive > NO_DROPOUT_ALIVE_SHARE:
            text = (
                f"BG/NBD: the fit puts {alive:.1%} of the customers still alive at the end of the data: "
                "the data show little drop-out, so the drop-out parameters a and b are poorly determined and "
                "the model is close to its no-drop-out limit (the NBD model), although the BG/NBD still fits "
                "better. P(alive) and long-horizon forecasts rest on that."
            )
            self._diagnose("near_boundary", text)
            status = self.__dict__.get("fit_status_")
            if status is not None:
                self.fit_status_ = replace(status, message=f"{status.message} {text.split(': ', 1)[1]}")

    # -- predictions ---------------------------------------------------------

    def _parts(self) -> tuple[str, str, dict[str, float]]:
        """(purchase kind, drop-out kind, parameters) of the model used."""
        self._check_fitted()
        purchase, dropout = _PARTS[self._spec.key]
        params = {k: float(v) for k, v in self.params_.items()}
        return purchase.__name__, dropout.__name__, params

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """E[X(t)]: expected repeat purchases in (0, t] of a new customer (FHL eq. 9 for the BG/NBD)."""
        tt = _as_float_array(t, "t")
        if (tt < 0).any():
            raise ValueError("t must be non-negative")
        zero = np.zeros_like(tt)
        res = self._expected_while_alive(tt, zero, zero)
        return _wrap_like(res, t)

    def _expected_while_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Expected purchases in (T, T + t] of a customer alive at T with x repeat purchases."""
        purchase, dropout, p = self._parts()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if dropout == "SplitDropout":
                # alive with x >= 1: never leaves; x = 0: a share pi leaves after one more purchase
                if purchase == "GammaRates":
                    r, alpha = p["r"], p["alpha"]
                    never = (r + x) * t / (alpha + T)
                    once = -np.expm1(-r * np.log1p(t / (alpha + T)))
                else:
                    never = p["lambda"] * t + 0.0 * x
                    once = -np.expm1(-p["lambda"] * t) + 0.0 * x
                return np.where(x == 0, p["pi"] * once + (1.0 - p["pi"]) * never, never)
            if purchase == "GammaRates":
                r, alpha = p["r"], p["alpha"]
                if dropout == "NoDropout":
                    return (r + x) * t / (alpha + T)
                if dropout == "CommonDropout":
                    q = p["p"]
                    return -np.expm1(-(r + x) * np.log1p(q * t / (alpha + T))) / q
                return _alive_expected_purchases(t, r + x, alpha + T, p["a"], p["b"] + x)
            lam = p["lambda"]
            if dropout == "NoDropout":
                return lam * t + 0.0 * x
            if dropout == "CommonDropout":
                return -np.expm1(-p["p"] * lam * t) / p["p"] + 0.0 * x
            # the BG/Poisson's f(lambda t) (see "expectations of a customer alive now")
            return _interpolate_near_one(lambda a_, y_, B_: _bgp_expected(y_, a_, B_), p["a"], lam * t, p["b"] + x)

    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log P(dropped out after the last purchase) / P(alive), for x > 0 (-inf without drop-out)."""
        purchase, dropout, p = self._parts()
        with np.errstate(divide="ignore", invalid="ignore"):
            if purchase == "GammaRates":
                timing = _gamma_timing(p["r"], p["alpha"], x, t_x, T)
            else:
                timing = p["lambda"] * (T - t_x)
            if dropout == "NoDropout":
                return np.full(np.broadcast(x, t_x, T).shape, -np.inf)
            if dropout == "CommonDropout":
                return special.logit(p["p"]) + timing
            if dropout == "SplitDropout":
                return np.where(x == 1, special.logit(p["pi"]) + timing, -np.inf)
            return _beta_log_odds_dead(p["a"], p["b"], x, timing)

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2008 note 021 for the BG/NBD).

        Equals 1 for customers without repeat purchases (the model lets customers drop out only
        after a repeat purchase), and for everyone in a model without drop-out.
        """
        x = _as_float_array(frequency, "frequency")
        t_x = _as_float_array(recency, "recency")
        TT = _as_float_array(T, "T")
        res = np.where(x > 0, special.expit(-self._log_odds_dead(x, t_x, TT)), 1.0)
        return _wrap_like(res, frequency, recency, T)

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL eq. 10 for the BG/NBD)."""
        tt = _as_float_array(t, "t")
        x = _as_float_array(frequency, "frequency")
        TT = _as_float_array(T, "T")
        if (np.asarray(tt) < 0).any():
            raise ValueError("t must be non-negative")
        p_alive = np.asarray(self.conditional_probability_alive(x, recency, TT), dtype=float)
        res = self._expected_while_alive(tt, x, TT) * p_alive
        return _wrap_like(res, frequency, recency, T, t)

    # alias used by customer_lifetime_value and for lifetimes familiarity
    predict = conditional_expected_number_of_purchases_up_to_time

    def probability_alive_matrix(
        self, max_frequency: int | None = None, max_recency: int | None = None, T: float | None = None
    ) -> pd.DataFrame:
        """P(alive) on a grid: rows recency 0..max_recency, columns frequency 0..max_frequency.

        Evaluated for customers of age ``T`` (default ``max_recency``). Impossible
        cells (frequency 0 with positive recency, or positive frequency with recency
        0) are NaN.
        """
        return self._matrix(
            lambda x, tx, TT: self.conditional_probability_alive(x, tx, TT), max_frequency, max_recency, T
        )

    def expected_purchases_matrix(
        self,
        t: float = 1.0,
        max_frequency: int | None = None,
        max_recency: int | None = None,
        T: float | None = None,
    ) -> pd.DataFrame:
        """Expected purchases in the next ``t`` periods on the frequency-recency grid."""
        return self._matrix(
            lambda x, tx, TT: self.conditional_expected_number_of_purchases_up_to_time(t, x, tx, TT),
            max_frequency,
            max_recency,
            T,
        )

    def _matrix(self, fun, max_frequency, max_recency, T) -> pd.DataFrame:
        self._check_fitted()
        if (max_frequency is None or max_recency is None) and not hasattr(self, "_max_frequency"):
            raise ValueError("max_frequency and max_recency are required for a fitter built from_params")
        mf = int(max_frequency if max_frequency is not None else self._max_frequency)
        mr = int(max_recency if max_recency is not None else np.ceil(self._max_T))
        TT = float(T if T is not None else mr)
        if TT < mr:
            raise ValueError("T must be at least max_recency")
        xs, rs = np.meshgrid(np.arange(mf + 1, dtype=float), np.arange(mr + 1, dtype=float))
        vals = np.asarray(fun(xs.ravel(), rs.ravel(), np.full(xs.size, TT)), dtype=float).reshape(xs.shape)
        vals[(xs == 0) & (rs > 0)] = np.nan
        vals[(xs > 0) & (rs == 0)] = np.nan
        return pd.DataFrame(
            vals,
            index=pd.Index(np.arange(mr + 1), name="recency"),
            columns=pd.Index(np.arange(mf + 1), name="frequency"),
        )
