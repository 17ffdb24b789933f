"""The Gamma-Gamma model of spend per purchase: :class:`GammaGammaFitter`.

Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base analysis",
*Journal of Marketing Research* 42(4), 415-430, and Fader & Hardie (2013), "The Gamma-Gamma
model of monetary value". Maximum likelihood as described in
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
from bsc_toolkit.models.clv._inputs import _as_float_array, _check_columns, _rows_preview, _wrap_like

__all__ = ["GammaGammaFitter"]

#: |corr(frequency, monetary value)| above this among repeat buyers breaks the model's
#: independence assumption badly enough to say so.
MAX_FREQUENCY_MONETARY_CORRELATION = 0.2


def _gg_loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log density of the mean spend m over x transactions (Fader & Hardie 2013)."""
    p, q, v = params
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m)
    )


class GammaGammaFitter(_BaseFitter):
    """Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005).

    Each transaction value is ``Gamma(p, nu)`` (shape ``p``, rate ``nu``) and
    ``nu ~ Gamma(q, gamma)`` across customers. Fitted on customers with at least one
    repeat purchase (others are ignored); assumes spend is independent of
    purchase frequency (``frequency_monetary_correlation_`` is stored to check).

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level of the intervals in ``summary`` and ``confidence_intervals_``.

    Attributes
    ----------
    params_, standard_errors_, confidence_intervals_, cov_params_, log_likelihood_, converged_
        As for :class:`~bsc_toolkit.models.clv.BetaGeoFitter` (``variance_matrix_`` is a
        deprecated alias of ``cov_params_``).
    n_customers_ : int
        Customers with at least one repeat purchase (those the model is fitted on).
    frequency_monetary_correlation_ : float
        Pearson correlation of frequency and mean spend among them.
    diagnostics_ : list of Diagnostic
        ``"not_converged"``; ``"boundary"`` when a parameter ran away to a limit of the model,
        the Hessian is not positive definite, a standard error is not finite, or ``q <= 1``
        (infinite mean spend); ``"assumption"`` when
        ``|frequency_monetary_correlation_| > 0.2`` (spend is not independent of frequency).
    """

    _param_names = ("p", "q", "gamma")
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
    }

    def fit(
        self,
        summary: pd.DataFrame,
        frequency_col: str = "frequency",
        monetary_value_col: str = "monetary_value",
        initial_params: Sequence[float] | None = None,
    ) -> GammaGammaFitter:
        """Fit on an RFM summary; rows with frequency 0 are dropped. Returns ``self``."""
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

        def neg_ll(eta: np.ndarray, s: float) -> float:  # spend rescaled by s: gamma -> gamma * s
            return -np.sum(_gg_loglik(np.exp(eta), x, m * s))

        starts = [np.log([1.0, 1.0, 1.0]), np.log([5.0, 3.0, 2.0]), np.log([2.0, 5.0, 5.0])]
        # search in units where the mean spend is 1
        self._fit_ml(neg_ll, starts, initial_params, scaled=2, scale=1.0 / np.mean(m))
        self.n_customers_ = int(x.size)
        self.frequency_monetary_correlation_ = float(np.corrcoef(x, m)[0, 1])
        self._diagnose_gamma_gamma()
        return self

    def _diagnose_gamma_gamma(self) -> None:
        q = float(self.params_["q"])
        if q <= 1:
            self._diagnose(
                "boundary",
                f"Gamma-Gamma: q = {q:.3g} <= 1, so the implied mean spend per purchase is infinite: "
                "expected average values and CLV cannot be computed from this fit.",
                "error",
            )
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
        customer's observed mean; customers with frequency 0 get the population mean.
        """
        self._check_fitted()
        p, q, v = (float(self.params_[k]) for k in self._param_names)
        x = _as_float_array(frequency, "frequency")
        m = _as_float_array(monetary_value, "monetary_value")
        if q <= 1:
            raise ValueError(f"fitted q = {q:.3g} <= 1: the population mean spend is infinite")
        res = p * (v + x * m) / (p * x + q - 1)
        return _wrap_like(res, frequency, monetary_value)

    def population_mean_spend(self) -> float:
        """Mean transaction value in the population, ``p * gamma / (q - 1)``."""
        self._check_fitted()
        p, q, v = (float(self.params_[k]) for k in self._param_names)
        return p * v / (q - 1) if q > 1 else float("inf")
