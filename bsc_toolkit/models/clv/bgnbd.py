"""The BG/NBD model of repeat purchasing: :class:`BetaGeoFitter`.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", *Marketing Science* 24(2), 275-284. Maximum likelihood as described in
:mod:`bsc_toolkit.models.clv._fitting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.models.clv._fitting import _BaseFitter
from bsc_toolkit.models.clv._inputs import _as_float_array, _rfm_arrays, _wrap_like

__all__ = ["BetaGeoFitter"]

#: A fitted BG/NBD that puts more than this share of the customers still alive has found
#: practically no drop-out in the data (its no-drop-out limit, the NBD model).
NO_DROPOUT_ALIVE_SHARE = 0.99

_NO_DROPOUT = (
    "the drop-out probability is practically zero (the no-drop-out limit, where the model "
    "becomes the NBD model: the data show no sign of customers leaving, so P(alive) is close to 1 "
    "for everyone and long-horizon forecasts assume nobody leaves)"
)


def _bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6), in logs throughout."""
    r, alpha, a, b = params
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    term_alive = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_dead = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(term_alive, term_dead)


class BetaGeoFitter(_BaseFitter):
    """BG/NBD model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    While alive, a customer buys according to a Poisson process with rate
    ``lambda ~ Gamma(r, alpha)`` (shape ``r``, rate ``alpha``); after every repeat
    purchase they become inactive for good with probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level of the intervals in ``summary`` and ``confidence_intervals_``
        (not the model parameter ``alpha``, which is ``params_["alpha"]``).

    Attributes
    ----------
    params_, standard_errors_ : Series
        Estimates of ``r, alpha, a, b`` and their delta-method standard errors.
    confidence_intervals_ : DataFrame
        ``ci_lower``, ``ci_upper``: Wald intervals on the log scale.
    cov_params_ : DataFrame
        Covariance matrix of the estimates (``variance_matrix_`` is a deprecated alias).
    log_likelihood_ : float
    n_customers_ : int
    converged_ : bool
        Whether the best search reported convergence.
    diagnostics_ : list of Diagnostic
        ``"not_converged"``; ``"boundary"`` when a parameter ran away to a limit of the model
        (e.g. ``b`` to infinity or ``a`` to zero: no drop-out), the Hessian is not positive
        definite or a standard error is not finite, or the fit puts more than 99% of the
        customers still alive (the data show practically no drop-out).

    Examples
    --------
    >>> bgf = BetaGeoFitter().fit(summary)            # doctest: +SKIP
    >>> bgf.summary                                   # doctest: +SKIP
    """

    _param_names = ("r", "alpha", "a", "b")
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
        "a": ("the drop-out probability is close to 1 after every repeat purchase", _NO_DROPOUT),
        "b": (
            _NO_DROPOUT,
            "drop-out probabilities pile up at 1: most customers leave after their first repeat purchase",
        ),
    }

    def fit(
        self,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        recency_col: str = "recency",
        T_col: str = "T",
        initial_params: Sequence[float] | None = None,
    ) -> BetaGeoFitter:
        """Fit on an RFM summary (one row per customer); returns ``self``."""
        self._start_fit()
        x, t_x, T = _rfm_arrays(summary, frequency_col, recency_col, T_col)
        if x.size == 0:
            raise NotEstimableError("no customer has a purchase: the BG/NBD model has nothing to fit")
        if not (x > 0).any():
            raise NotEstimableError("no customer has a repeat purchase; the BG/NBD model is not identified")
        # collapse identical (x, t_x, T) rows: same likelihood, much faster
        keys = pd.DataFrame({"x": x, "t_x": t_x, "T": T})
        grouped = keys.groupby(["x", "t_x", "T"], sort=False).size().reset_index(name="w")
        gx, gt, gT, w = (grouped[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "w"))

        def neg_ll(eta: np.ndarray, s: float) -> float:  # time rescaled by s: alpha -> alpha * s
            return -np.dot(w, _bgnbd_loglik(np.exp(eta), gx, gt * s, gT * s))

        starts = [np.log([1.0, 1.0, 1.0, 1.0]), np.log([0.5, 1.0, 0.5, 2.0]), np.log([0.2, 0.3, 1.0, 5.0])]
        # search with time rescaled so that alpha is O(1)
        self._fit_ml(neg_ll, starts, initial_params, scaled=1, scale=10.0 / max(gT.max(), 1e-12))
        self.n_customers_ = int(x.size)
        self._max_frequency = int(x.max())
        self._max_T = float(T.max())
        self._diagnose_no_dropout(gx, gt, gT, w)
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

    def _diagnose_no_dropout(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        """Say so when the fit sees practically no drop-out (unless a or b already ran away)."""
        if {"a", "b"} & set(self.__dict__.get("_runaway", {})) or not np.isfinite(self.params_.to_numpy()).all():
            return
        alive = float(np.dot(w, self.conditional_probability_alive(x, t_x, T)) / w.sum())
        if alive > NO_DROPOUT_ALIVE_SHARE:
            self._diagnose(
                "boundary",
                f"BG/NBD: the fit puts {alive:.1%} of the customers still alive at the end of the data: "
                "the data show practically no drop-out, so the drop-out parameters a and b are hardly "
                "determined and the model is close to its no-drop-out limit (the NBD model). P(alive) "
                "and long-horizon forecasts rest on that.",
            )

    # -- predictions ---------------------------------------------------------

    def _p(self) -> tuple[float, float, float, float]:
        self._check_fitted()
        return tuple(float(v) for v in self.params_[list(self._param_names)])  # type: ignore[return-value]

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """E[X(t)]: expected repeat purchases in (0, t] of a new customer (FHL eq. 9)."""
        r, alpha, a, b = self._p()
        tt = _as_float_array(t, "t")
        if (tt < 0).any():
            raise ValueError("t must be non-negative")
        z = tt / (alpha + tt)
        hyp = special.hyp2f1(r, b, a + b - 1, z)
        res = (a + b - 1) / (a - 1) * (1 - np.exp(r * np.log(alpha / (alpha + tt))) * hyp)
        return _wrap_like(res, t)

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2008 note 021).

        Equals 1 for customers without repeat purchases (the model lets customers
        drop out only after a repeat purchase).
        """
        r, alpha, a, b = self._p()
        x = _as_float_array(frequency, "frequency")
        t_x = _as_float_array(recency, "recency")
        TT = _as_float_array(T, "T")
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds_dead = (
                np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * (np.log(alpha + TT) - np.log(alpha + t_x))
            )
        res = np.where(x > 0, special.expit(-log_odds_dead), 1.0)
        return _wrap_like(res, frequency, recency, T)

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL eq. 10)."""
        r, alpha, a, b = self._p()
        tt = _as_float_array(t, "t")
        x = _as_float_array(frequency, "frequency")
        TT = _as_float_array(T, "T")
        if (np.asarray(tt) < 0).any():
            raise ValueError("t must be non-negative")
        z = tt / (alpha + TT + tt)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - np.exp((r + x) * np.log((alpha + TT) / (alpha + TT + tt))) * hyp
        p_alive = np.asarray(self.conditional_probability_alive(x, recency, TT), dtype=float)
        res = first * second * p_alive
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
