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

import numpy as np
from scipy import special

__all__ = ["bgnbd_loglik", "bgnbd_loglik_grad"]


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
