"""The Gamma-Gamma model of spend per purchase: :class:`GammaGammaFitter`, and its limiting models.

Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base analysis",
*Journal of Marketing Research* 42(4), 415-430, and Fader & Hardie (2013), "The Gamma-Gamma
model of monetary value". Maximum likelihood as described in
:mod:`bsc_toolkit.models.clv._fitting`, with the analytic gradient and Hessian.

Where the likelihood rises towards a boundary, the limiting model there is fitted and used
(:data:`MODELS`):

* ``p -> infinity`` (with ``p * gamma`` fixed): spend does not vary between a customer's purchases;
  each customer's spend ``mu ~ InverseGamma(q, scale)`` is their observed mean. Model
  ``"Inverse-gamma spend (constant within customers)"``, parameters ``q, scale``.
* ``q, gamma -> infinity`` (with ``q / gamma`` fixed): mean spend does not differ across customers;
  every purchase is ``Gamma(p, nu)`` for everyone. Model ``"Gamma spend (common mean)"``,
  parameters ``p, nu``.

``q <= 1`` (infinite mean spend) is no limit of that kind: it stays an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.models.clv._fitting import Limit, ModelSpec, _BaseFitter, _Likelihood
from bsc_toolkit.models.clv._inputs import _as_float_array, _check_columns, _rows_preview, _wrap_like
from bsc_toolkit.models.clv._special import _log_rising_digamma

__all__ = ["GammaGammaFitter", "MODELS"]

#: |corr(frequency, monetary value)| above this among repeat buyers breaks the model's
#: independence assumption badly enough to say so.
MAX_FREQUENCY_MONETARY_CORRELATION = 0.2

#: The Gamma-Gamma model and its limiting models, by key; the first is the full model.
MODELS: dict[str, ModelSpec] = {
    "gg": ModelSpec(
        "gg",
        "Gamma-Gamma",
        ("p", "q", "gamma"),
        ("log", "log", "log"),
        (0, 0, 1),
        (
            Limit(
                "no-variation boundary (spend within customers)",
                "gg_constant",
                "spend stops varying between a customer's purchases (p -> infinity, gamma -> 0 with p * gamma fixed)",
                "each repeat buyer's expected spend per purchase is their observed mean",
                lambda th: [th[1], th[0] * th[2]],
            ),
            Limit(
                "no-heterogeneity boundary (mean spend)",
                "gg_common",
                "mean spend stops differing across customers (q, gamma -> infinity with q / gamma fixed)",
                "every customer has the same expected spend per purchase",
                lambda th: [th[0], th[1] / th[2]],
            ),
        ),
    ),
    "gg_constant": ModelSpec(
        "gg_constant", "Inverse-gamma spend (constant within customers)", ("q", "scale"), ("log", "log"), (0, 1)
    ),
    "gg_common": ModelSpec("gg_common", "Gamma spend (common mean)", ("p", "nu"), ("log", "log"), (0, -1)),
}


class _GGLikelihood(_Likelihood):
    """Repeat buyers' frequencies and mean spends; the search runs with spend rescaled to mean 1."""

    specs = MODELS

    def __init__(self, x: np.ndarray, m: np.ndarray) -> None:
        self.n = float(x.size)
        self.scale = 1.0 / float(np.mean(m))
        self.x_values, self.ix = np.unique(x, return_inverse=True)
        self.x_weight = np.bincount(self.ix).astype(float)
        self.x = x
        self.m = {True: m, False: m * self.scale}
        self.xm = {k: x * v for k, v in self.m.items()}
        self.log_m = {k: np.log(v) for k, v in self.m.items()}

    def loglik(self, spec: ModelSpec, theta: np.ndarray, order: int, natural: bool):
        return getattr(self, "_" + spec.key)(theta, natural, order)

    def _gg(self, theta: np.ndarray, natural: bool, order: int):
        """Sum over repeat buyers of log f(m | x) = G(x) - gammaln(q) - p x log1p(gamma / (x m))
        - q log1p(x m / gamma) - log m, with G(x) = gammaln(p x + q) - gammaln(p x)."""
        p, q, g = theta
        xv, W, x = self.x_values, self.x_weight, self.x
        xm, lm = self.xm[natural], self.log_m[natural]
        px = p * xv
        l1 = np.log1p(g / xm)
        l2 = np.log1p(xm / g)
        rising, psi_diff = _log_rising_digamma(px, q)  # without cancellation when p x is large (p -> infinity)
        ll = float(W @ rising - self.n * special.gammaln(q))
        ll -= float(p * (x @ l1) + q * l2.sum() + lm.sum())
        if order == 0:
            return ll, None, None
        psi_pq = special.digamma(px + q)
        inv = 1.0 / (xm + g)
        grad = np.array(
            [
                W @ (xv * psi_diff) - x @ l1,
                W @ psi_pq - self.n * special.digamma(q) - l2.sum(),
                -p * (x @ inv) + q * (xm @ inv) / g,
            ]
        )
        if order == 1:
            return ll, grad, None
        t_pq, t_p = special.polygamma(1, px + q), special.polygamma(1, px)
        h_pp = W @ (xv * xv * (t_pq - t_p))
        h_pq = W @ (xv * t_pq)
        h_pg = -(x @ inv)
        h_qq = W @ t_pq - self.n * special.polygamma(1, q)
        h_qg = (xm @ inv) / g
        h_gg = p * (x @ (inv * inv)) - q * (xm @ ((2 * g + xm) * inv * inv)) / g**2
        H = np.array([[h_pp, h_pq, h_pg], [h_pq, h_qq, h_qg], [h_pg, h_qg, h_gg]])
        return ll, grad, H

    def _gg_constant(self, theta: np.ndarray, natural: bool, order: int):
        """Spend constant within customers: m ~ InverseGamma(q, scale s)."""
        q, s = theta
        m, lm = self.m[natural], self.log_m[natural]
        n = self.n
        inv_m = (1.0 / m).sum()
        ll = float(n * (q * np.log(s) - special.gammaln(q)) - (q + 1) * lm.sum() - s * inv_m)
        if order == 0:
            return ll, None, None
        grad = np.array([n * (np.log(s) - special.digamma(q)) - lm.sum(), n * q / s - inv_m])
        if order == 1:
            return ll, grad, None
        H = np.array([[-n * special.polygamma(1, q), n / s], [n / s, -n * q / s**2]])
        return ll, grad, H

    def _gg_common(self, theta: np.ndarray, natural: bool, order: int):
        """One mean for everyone: every purchase Gamma(p, nu), so m | x ~ Gamma(p x, nu x)."""
        p, nu = theta
        xv, W, x = self.x_values, self.x_weight, self.x
        xm, lm = self.xm[natural], self.log_m[natural]
        px = p * xv
        sx = float(x.sum())
        ll = float(p * (x @ np.log(nu * x)) - W @ special.gammaln(px) + p * (x @ lm) - lm.sum() - nu * xm.sum())
        if order == 0:
            return ll, None, None
        grad = np.array([x @ (np.log(nu * x) + lm) - W @ (xv * special.digamma(px)), p * sx / nu - xm.sum()])
        if order == 1:
            return ll, grad, None
        h_pp = -(W @ (xv * xv * special.polygamma(1, px)))
        H = np.array([[h_pp, sx / nu], [sx / nu, -p * sx / nu**2]])
        return ll, grad, H

    def starts(self, spec: ModelSpec) -> list[np.ndarray]:
        m = self.m[False]  # mean 1
        if spec.key == "gg_constant":
            cv2 = float(np.var(m))
            q = 2.0 + 1.0 / max(cv2, 1e-3)
            return [np.array([q, q - 1.0]), np.array([3.0, 2.0])]
        if spec.key == "gg_common":
            within = float(np.var(m) * self.x.mean())
            p = float(np.clip(1.0 / max(within, 1e-3), 0.1, 1e3))
            return [np.array([p, p]), np.array([1.0, 1.0])]
        starts = [np.array([p, q, (q - 1.0) / p]) for p in (1.0, 4.0, 10.0) for q in (2.0, 4.0, 10.0)]
        f = [self._gg(s, False, 0)[0] for s in starts]
        return [starts[i] for i in np.argsort([-v if np.isfinite(v) else np.inf for v in f])]


class GammaGammaFitter(_BaseFitter):
    """Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005).

    Each transaction value is ``Gamma(p, nu)`` (shape ``p``, rate ``nu``) and
    ``nu ~ Gamma(q, gamma)`` across customers. Fitted on customers with at least one
    repeat purchase (others are ignored); assumes spend is independent of
    purchase frequency (``frequency_monetary_correlation_`` is stored to check).

    When the likelihood rises towards a boundary, the limiting model there is fitted and used
    (see :data:`MODELS`): ``params_`` and ``summary`` then hold ``q, scale`` (spend constant within
    customers, inverse-gamma across them) or ``p, nu`` (one mean spend ``p / nu`` for everyone),
    and the predictions are that model's.

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level of the intervals in ``summary`` and ``confidence_intervals_``.

    Attributes
    ----------
    model_, fit_status_, search_path_
        As for :class:`~bsc_toolkit.models.clv.BetaGeoFitter`.
    params_, standard_errors_, confidence_intervals_, cov_params_, log_likelihood_, converged_
        As for :class:`~bsc_toolkit.models.clv.BetaGeoFitter` (``variance_matrix_`` is a
        deprecated alias of ``cov_params_``).
    n_customers_ : int
        Customers with at least one repeat purchase (those the model is fitted on).
    frequency_monetary_correlation_ : float
        Pearson correlation of frequency and mean spend among them.
    diagnostics_ : list of Diagnostic
        ``"limit_model"``, ``"not_converged"`` and ``"boundary"`` as for the BG/NBD; ``"boundary"``
        (severity error) also when ``q <= 1`` (infinite mean spend); ``"assumption"`` when
        ``|frequency_monetary_correlation_| > 0.2`` (spend is not independent of frequency).
    """

    _specs = MODELS
    _label = "Gamma-Gamma"
    _limits = {
        "p": (
            "spend hardly varies between a customer's purchases",
            "spend varies extremely between a customer's purchases",
        ),
        "q": (
            "mean spend hardly differs across customers (the no-heterogeneity limit)",
            "mean spend is extremely dispersed across customers",
        ),
        "gamma": (
            "mean spend hardly differs across customers (the no-heterogeneity limit)",
            "mean spend is extremely dispersed across customers",
        ),
        "scale": ("customers spend extremely much", "customers spend practically nothing"),
        "nu": ("customers spend practically nothing", "customers spend extremely much"),
    }

    def fit(
        self,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        monetary_value_col: str = "monetary_value",
        initial_params: Sequence[float] | None = None,
    ) -> GammaGammaFitter:
        """Fit on an RFM summary; rows with frequency 0 are dropped. Returns ``self``.

        ``initial_params`` (``p, q, gamma``) is tried first; by default the search starts from the
        best point of a short grid with the observed mean spend.
        """
        self._start_fit()
        _check_columns(summary, [frequency_col, monetary_value_col])
        x = summary[frequency_col].to_numpy(dtype=float)
        m = summary[monetary_value_col].to_numpy(dtype=float)
        neg = x < 0
        if neg.any():
            raise ValueError(f"negative {frequency_col!r} at rows {_rows_preview(summary.index[neg])}")
        rep = x > 0
        bad = rep & (m <= 0)
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} customer(s) with repeat purchases but non-positive "
                f"{monetary_value_col!r} (the Gamma-Gamma model needs positive spend): rows "
                f"{_rows_preview(summary.index[bad])}"
            )
        x, m = x[rep], m[rep]
        if x.size < 3:
            raise NotEstimableError(
                f"{x.size} customer(s) with repeat purchases; the Gamma-Gamma model needs at least 3"
            )
        self.n_customers_ = int(x.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.frequency_monetary_correlation_ = float(np.corrcoef(x, m)[0, 1])
        self._fit_family(_GGLikelihood(x, m), initial_params)
        self._diagnose_correlation()
        return self

    def _model_checks(self) -> tuple[bool, list[str]]:
        """``q <= 1``: infinite mean spend, no CLV (an error-severity ``"boundary"`` diagnostic)."""
        if "q" not in self.params_.index:
            return True, []
        q = float(self.params_["q"])
        if q > 1:
            return True, []
        text = (
            f"{self.model_}: q = {q:.3g} <= 1, so the implied mean spend per purchase is infinite: "
            "expected average values and CLV cannot be computed from this fit."
        )
        self._diagnose("boundary", text, "error")
        return False, [text.split(": ", 1)[1]]

    def _diagnose_correlation(self) -> None:
        corr = self.frequency_monetary_correlation_
        if abs(corr) > MAX_FREQUENCY_MONETARY_CORRELATION:
            self._diagnose(
                "assumption",
                f"Gamma-Gamma: the correlation between purchase frequency and mean spend among the "
                f"{self.n_customers_:,} repeat buyers is {corr:+.2f}; the model assumes it is about 0 "
                f"(|r| <= {MAX_FREQUENCY_MONETARY_CORRELATION}). Expected values of frequent buyers are "
                "biased, so treat CLV levels and rankings as rough.",
            )

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> Any:
        """E[Z | x, zbar]: expected average transaction value (FHL 2005 eq. 5).

        A weighted average of the population mean ``p * gamma / (q - 1)`` and the
        customer's observed mean; customers with frequency 0 get the population mean. In the
        limiting models: the observed mean (spend constant within customers; the population mean
        without repeat purchases), or the common mean ``p / nu`` for everyone.
        """
        self._check_fitted()
        x = _as_float_array(frequency, "frequency")
        m = _as_float_array(monetary_value, "monetary_value")
        params = {k: float(v) for k, v in self.params_.items()}
        if self._spec.key == "gg_common":
            res = np.broadcast_to(params["p"] / params["nu"], np.broadcast(x, m).shape).copy()
            return _wrap_like(res, frequency, monetary_value)
        q = params["q"]
        if q <= 1:
            raise ValueError(f"fitted q = {q:.3g} <= 1: the population mean spend is infinite")
        if self._spec.key == "gg_constant":
            res = np.where(x > 0, m, params["scale"] / (q - 1))
        else:
            p, v = params["p"], params["gamma"]
            res = p * (v + x * m) / (p * x + q - 1)
        return _wrap_like(res, frequency, monetary_value)

    def population_mean_spend(self) -> float:
        """Mean transaction value in the population (``p * gamma / (q - 1)`` in the Gamma-Gamma model)."""
        self._check_fitted()
        params = {k: float(v) for k, v in self.params_.items()}
        if self._spec.key == "gg_common":
            return params["p"] / params["nu"]
        q = params["q"]
        top = params["scale"] if self._spec.key == "gg_constant" else params["p"] * params["gamma"]
        return top / (q - 1) if q > 1 else float("inf")
