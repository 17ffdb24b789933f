"""Log-gamma and digamma differences without cancellation for large arguments (private helpers).

``log Gamma(x + t) - log Gamma(x)`` and ``digamma(x + t) - digamma(x)`` lose all precision when
``x`` is large and ``t`` is not (scipy subtracts two nearly equal numbers); from
:data:`_STIRLING_SWITCH` on they come from the Stirling series instead. Used by the sBG (large
``beta + t``) and the Gamma-Gamma model (large ``p x`` at the no-variation limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

#: Arguments from this value on use the Stirling series (no cancellation in the differences).
_STIRLING_SWITCH = 10.0

_Arrays = tuple[np.ndarray, ...]


def _lgamma_tail(x: np.ndarray) -> np.ndarray:
    """``lgamma(x) - [(x - 1/2) log x - x + log(2 pi) / 2]`` (Stirling series, x >= 10)."""
    x2 = 1.0 / (x * x)
    return (1 / 12 - x2 * (1 / 360 - x2 * (1 / 1260 - x2 * (1 / 1680 - x2 / 1188)))) / x


def _digamma_tail(x: np.ndarray) -> np.ndarray:
    """``digamma(x) - [log x - 1 / (2 x)]`` (asymptotic series, x >= 10)."""
    x2 = 1.0 / (x * x)
    return -x2 * (1 / 12 - x2 * (1 / 120 - x2 * (1 / 252 - x2 * (1 / 240 - x2 / 132))))


def _stirling(x: np.ndarray, t: np.ndarray) -> _Arrays:
    """``(log Gamma(x + t) - log Gamma(x), digamma(x + t) - digamma(x))`` for large ``x``."""
    y = x + t
    l1 = np.log1p(t / x)
    lr = (x - 0.5) * l1 + t * np.log(y) - t + (_lgamma_tail(y) - _lgamma_tail(x))
    return lr, l1 + t / (2 * x * y) + (_digamma_tail(y) - _digamma_tail(x))


def _exact(x: np.ndarray, t: np.ndarray) -> _Arrays:
    return special.gammaln(x + t) - special.gammaln(x), special.digamma(x + t) - special.digamma(x)


def _by_size(x: Any, t: Any, small: Callable[..., _Arrays], big: Callable[..., _Arrays]) -> _Arrays:
    """``small(x, t)`` where ``x`` is below the Stirling switch, ``big(x, t)`` elsewhere (broadcast)."""
    x, t = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(t, dtype=float))
    is_big = x >= _STIRLING_SWITCH
    if is_big.all():
        return big(x, t)
    outs: list[np.ndarray] = []
    for mask, fun in ((~is_big, small), (is_big, big)):
        if mask.any():
            for k, v in enumerate(fun(x[mask], t[mask])):
                if len(outs) <= k:
                    outs.append(np.empty(x.shape))
                outs[k][mask] = v
    return tuple(outs)


def _log_rising(x: Any, t: Any) -> np.ndarray:
    """``log Gamma(x + t) - log Gamma(x)`` for ``x > 0, t >= 0``, without cancellation for large x."""
    return _by_size(
        x, t, lambda x, t: (special.gammaln(x + t) - special.gammaln(x),), lambda x, t: _stirling(x, t)[:1]
    )[0]


def _digamma_diff(x: Any, t: Any) -> np.ndarray:
    """``digamma(x + t) - digamma(x)`` for ``x > 0, t >= 0``, without cancellation for large x."""
    return _by_size(
        x, t, lambda x, t: (special.digamma(x + t) - special.digamma(x),), lambda x, t: _stirling(x, t)[1:]
    )[0]


def _log_rising_digamma(x: Any, t: Any) -> _Arrays:
    """``(_log_rising(x, t), _digamma_diff(x, t))`` in one pass."""
    return _by_size(x, t, _exact, _stirling)
