"""The analytic BG/NBD gradient equals central differences of the log-likelihood."""

from __future__ import annotations

import numpy as np
import pytest

from bsc_toolkit.models.clv._bgnbd_math import bgnbd_loglik, bgnbd_loglik_grad


def _data(n: int = 200, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, n).astype(float)
    T = rng.uniform(20, 40, n)
    t_x = np.where(x > 0, rng.uniform(0.05, 1, n) * T, 0.0)
    return x, t_x, T


@pytest.mark.parametrize("params", [(0.24, 4.4, 0.79, 2.4), (2.0, 0.5, 0.05, 40.0), (0.05, 30.0, 3.0, 0.3)])
def test_gradient_matches_central_differences(params):
    x, t_x, T = _data()
    p = np.array(params)
    ll, grad = bgnbd_loglik_grad(*p, x, t_x, T)
    np.testing.assert_allclose(ll, bgnbd_loglik(*p, x, t_x, T))
    for i in range(4):
        h = 1e-6 * p[i]
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        numeric = (bgnbd_loglik(*up, x, t_x, T) - bgnbd_loglik(*down, x, t_x, T)) / (2 * h)
        np.testing.assert_allclose(grad[i], numeric, rtol=1e-5, atol=1e-7)


def test_parameters_per_customer_broadcast():
    x, t_x, T = _data(50)
    alpha_i = np.linspace(2.0, 6.0, 50)
    ll, grad = bgnbd_loglik_grad(0.3, alpha_i, 0.8, 2.5, x, t_x, T)
    one_by_one = [
        bgnbd_loglik(0.3, alpha_i[k], 0.8, 2.5, x[k : k + 1], t_x[k : k + 1], T[k : k + 1])[0] for k in range(50)
    ]
    np.testing.assert_allclose(ll, one_by_one)
    assert all(g.shape == (50,) for g in grad)


def test_customers_without_repeat_purchases_depend_on_T_only():
    # x = 0: log L = r log(alpha / (alpha + T)), whatever a and b are
    T = np.array([10.0, 30.0])
    ll = bgnbd_loglik(0.5, 3.0, 0.7, 2.0, np.zeros(2), np.zeros(2), T)
    np.testing.assert_allclose(ll, 0.5 * np.log(3.0 / (3.0 + T)))
    _, (d_r, d_alpha, d_a, d_b) = bgnbd_loglik_grad(0.5, 3.0, 0.7, 2.0, np.zeros(2), np.zeros(2), T)
    np.testing.assert_allclose(d_a, 0.0, atol=1e-12)
    np.testing.assert_allclose(d_b, 0.0, atol=1e-12)
