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
from bsc_toolkit.models.clv._inputs import _as_float_array, _rfm_arrays, _wrap_like

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
    ) -> BetaGeoFitter:
        """Fit on an RFM summary (one row per customer); returns ``self``.

        ``initial_params`` (``r, alpha, a, b`` in the data's time unit) is tried first; by default
        the search starts from method-of-moments values.
        """
        self._start_fit()
        x, t_x, T = _rfm_arrays(summary, frequency_col, recency_col, T_col)
        if x.size == 0:
            raise NotEstimableError("no customer has a purchase: the BG/NBD model has nothing to fit")
        if not (x > 0).any():
            raise NotEstimableError("no customer has a repeat purchase; the BG/NBD model is not identified")
        if not (T > 0).any():
            raise NotEstimableError("every customer has age T = 0: the BG/NBD model has no time to fit")
        rows = compress_rfm(x, t_x, T)
        self._fit_family(_BGLikelihood(rows), initial_params)
        self.n_customers_ = int(x.size)
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

    def _p(self) -> tuple[float, ...]:
        """The parameters of the model used, in order."""
        self._check_fitted()
        return tuple(float(v) for v in self.params_)

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
                a, b = p["a"], p["b"]
                z = t / (alpha + T + t)
                c = a + b + x - 1
                hyp = special.hyp2f1(r + x, b + x, c, z)
                log_hyp = np.log(hyp)
                # Euler's transformation where the series overflows (as lifetimes does)
                alt = np.log(special.hyp2f1(c - r - x, c - b - x, c, z)) + (c - r - x - b - x) * np.log1p(-z)
                log_hyp = np.where(np.isfinite(log_hyp), log_hyp, alt)
                first = c / (a - 1)
                second = -np.expm1(log_hyp + (r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
                return first * second
            lam = p["lambda"]
            if dropout == "NoDropout":
                return lam * t + 0.0 * x
            if dropout == "CommonDropout":
                return -np.expm1(-p["p"] * lam * t) / p["p"] + 0.0 * x
            a, b = p["a"], p["b"]
            c = a + b + x - 1
            # e^{-z} 1F1(b + x; c; z) = 1F1(a - 1; c; -z) (Kummer), z = lambda t
            return c / (a - 1) * (1.0 - special.hyp1f1(a - 1, c, -lam * t))

    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log P(dropped out after the last purchase) / P(alive), for x > 0 (-inf without drop-out)."""
        purchase, dropout, p = self._parts()
        with np.errstate(divide="ignore", invalid="ignore"):
            if purchase == "GammaRates":
                timing = (p["r"] + x) * (np.log(p["alpha"] + T) - np.log(p["alpha"] + t_x))
            else:
                timing = p["lambda"] * (T - t_x)
            if dropout == "NoDropout":
                return np.full(np.broadcast(x, t_x, T).shape, -np.inf)
            if dropout == "CommonDropout":
                return special.logit(p["p"]) + timing
            if dropout == "SplitDropout":
                return np.where(x == 1, special.logit(p["pi"]) + timing, -np.inf)
            return np.log(p["a"]) - np.log(p["b"] + np.maximum(x, 1) - 1) + timing

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
