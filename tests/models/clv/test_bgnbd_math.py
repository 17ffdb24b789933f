"""The analytic BG/NBD gradient equals central differences; the compressed BG/NBD family is exact."""

from __future__ import annotations

import numpy as np
import pytest

from bsc_toolkit.models.clv._bgnbd_math import (
    BetaDropout,
    CommonDropout,
    GammaRates,
    NoDropout,
    PoissonRate,
    SplitDropout,
    bgnbd_loglik,
    bgnbd_loglik_grad,
    compress_rfm,
    family_loglik,
)


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


# ---------------------------------------------------------------------------------------------
# the compressed BG/NBD family
# ---------------------------------------------------------------------------------------------

FAMILY = [
    (GammaRates, BetaDropout, (0.24, 4.4, 0.79, 2.4)),
    (GammaRates, NoDropout, (0.5, 3.0)),
    (GammaRates, CommonDropout, (0.4, 3.0, 0.2)),
    (GammaRates, SplitDropout, (0.4, 3.0, 0.2)),
    (PoissonRate, BetaDropout, (0.1, 0.8, 3.0)),
    (PoissonRate, NoDropout, (0.1,)),
    (PoissonRate, CommonDropout, (0.1, 0.2)),
    (PoissonRate, SplitDropout, (0.1, 0.3)),
]


def _day_data(n: int = 600, seed: int = 2):
    """Ages in whole days and recency to the day, in weeks: many repeated rows."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n).astype(float)
    T = rng.integers(140, 200, n) / 7.0
    t_x = np.where(x > 0, np.maximum(np.round(rng.uniform(0.05, 1, n) * T * 7), 1) / 7.0, 0.0)
    return x, t_x, T


def test_compression_is_exact():
    x, t_x, T = _day_data()
    rows = compress_rfm(x, t_x, T)
    assert rows.n == x.size and rows.n_rows < x.size
    assert rows.zero_w.sum() == (x == 0).sum() and rows.zero_w.size == np.unique(T[x == 0]).size
    assert rows.x_weight.sum() == x.size and rows.x_values[0] == 0.0
    p = (0.24, 4.4, 0.79, 2.4)
    ll, g, _ = family_loglik(GammaRates, BetaDropout, np.array(p), rows, order=1)
    per_customer, grads = bgnbd_loglik_grad(*p, x, t_x, T)
    assert ll == pytest.approx(per_customer.sum(), rel=1e-12)
    np.testing.assert_allclose(g, [d.sum() for d in grads], rtol=1e-10)
    # weights: the same rows given once with their counts
    w = compress_rfm(rows.x, rows.t_values[rows.it], rows.T_values[rows.iT], weights=rows.w)
    assert w.n == rows.w.sum() and w.n_rows == rows.w.size


@pytest.mark.parametrize("purchase, dropout, params", FAMILY)
def test_family_gradient_and_hessian_match_central_differences(purchase, dropout, params):
    rows = compress_rfm(*_day_data())
    p = np.array(params)
    ll, g, H = family_loglik(purchase, dropout, p, rows, order=2)
    assert family_loglik(purchase, dropout, p, rows, order=0)[0] == ll
    np.testing.assert_allclose(H, H.T, rtol=1e-12)
    for i in range(p.size):
        h = 1e-6 * p[i]
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        f_up, g_up, _ = family_loglik(purchase, dropout, up, rows, order=1)
        f_down, g_down, _ = family_loglik(purchase, dropout, down, rows, order=1)
        assert g[i] == pytest.approx((f_up - f_down) / (2 * h), rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(H[i], (g_up - g_down) / (2 * h), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "full, limit, purchase, dropout, params",
    [
        ((0.5, 3.0, 0.8, 1e12), (0.5, 3.0), GammaRates, NoDropout, "no drop-out: b -> inf"),
        ((0.5, 3.0, 1e-12, 2.0), (0.5, 3.0), GammaRates, NoDropout, "no drop-out: a -> 0"),
        ((0.5e9, 3e9, 0.8, 2.0), (0.5 / 3.0, 0.8, 2.0), PoissonRate, BetaDropout, "one purchase rate"),
        ((0.5, 3.0, 0.2e9, 0.8e9), (0.5, 3.0, 0.2), GammaRates, CommonDropout, "one drop-out probability"),
        ((0.5, 3.0, 0.2e-12, 0.8e-12), (0.5, 3.0, 0.2), GammaRates, SplitDropout, "split drop-out"),
    ],
)
def test_family_is_continuous_at_the_limits_and_exact_for_huge_parameters(full, limit, purchase, dropout, params):
    """The BG/NBD log-likelihood near a boundary equals the limiting model's (no cancellation error)."""
    rows = compress_rfm(*_day_data())
    at_full = family_loglik(GammaRates, BetaDropout, np.array(full), rows, order=0)[0]
    at_limit = family_loglik(purchase, dropout, np.array(limit), rows, order=0)[0]
    assert np.isfinite(at_full) and at_full == pytest.approx(at_limit, rel=1e-6), params
