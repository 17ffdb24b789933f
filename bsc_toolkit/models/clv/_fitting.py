"""Maximum-likelihood machinery shared by the CLV fitters.

Both fitters maximise the log-likelihood over log-parameters (``scipy.optimize.minimize``,
BFGS then a Nelder-Mead polish, from several starting points) in rescaled units where the
parameters are of order 1. Standard errors come from the inverse of a Richardson-extrapolated
central-difference Hessian of the log-likelihood in log-parameters (delta method back to the
natural scale), and the intervals are Wald intervals on the log scale (so they stay positive).

The base fitter also writes the diagnostics every fit gets: ``"not_converged"`` when no
search reported convergence, ``"boundary"`` when a parameter ran away towards 0 or infinity
(a limiting case of the model) or the Hessian is not positive definite / standard errors are
not finite.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import optimize

from bsc_toolkit.models._base import FittedModel, z_critical

#: A parameter (in the search units, where the parameters are of order 1) beyond these bounds
#: has run away to a limit of the model.
RUNAWAY_HIGH = 1e6
RUNAWAY_LOW = 1e-6


def _hessian(f, x: np.ndarray, rel_step: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian with one Richardson extrapolation step."""

    def central(h: np.ndarray) -> np.ndarray:
        k = x.size
        H = np.empty((k, k))
        f0 = f(x)
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
            for j in range(i + 1, k):
                ej = np.zeros(k)
                ej[j] = h[j]
                H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4 * h[i] * h[j]
                )
        return H

    h = rel_step * np.maximum(np.abs(x), 1.0)
    return (4 * central(h / 2) - central(h)) / 3


@dataclass(frozen=True)
class _FitResult:
    log_params: np.ndarray
    neg_ll: float
    converged: bool


def _maximise(neg_ll, starts: Iterable[np.ndarray]) -> _FitResult:
    best: _FitResult | None = None
    for x0 in starts:
        with np.errstate(all="ignore"):
            res = optimize.minimize(neg_ll, x0, method="BFGS", options={"gtol": 1e-8, "maxiter": 2000})
            if not np.isfinite(res.fun):
                continue
            # polish: Nelder-Mead is robust to slightly noisy numerical gradients
            res2 = optimize.minimize(
                neg_ll, res.x, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20000}
            )
        cand = res2 if res2.fun <= res.fun else res
        fit = _FitResult(np.asarray(cand.x, dtype=float), float(cand.fun), bool(res.success or res2.success))
        if best is None or fit.neg_ll < best.neg_ll - 1e-9:
            best = fit
    if best is None:
        raise RuntimeError("maximum-likelihood fit failed from every starting point")
    return best


_Fitter = TypeVar("_Fitter", bound="_BaseFitter")


class _BaseFitter(FittedModel):
    """Shared machinery: parameters, standard errors, summary table, diagnostics.

    Subclasses set ``_param_names``, ``_label`` (the model's name in diagnostics) and
    ``_limits`` (what a parameter running away to infinity / to zero means for that model).
    """

    _param_names: tuple[str, ...] = ()
    _label: str = "model"
    #: name -> (meaning when it runs to infinity, meaning when it runs to zero)
    _limits: dict[str, tuple[str, str]] = {}

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__(alpha=alpha)

    # -- fitting ------------------------------------------------------------------------------
    def _fit_ml(
        self,
        neg_ll: Callable[[np.ndarray, float], float],
        starts: list[np.ndarray],
        initial_params: Sequence[float] | None,
        scaled: int,
        scale: float,
    ) -> None:
        """Maximise the likelihood in rescaled units, then store the natural-unit fit.

        ``neg_ll(eta, s)`` is the negative log-likelihood at log-parameters ``eta``
        with the data rescaled by ``s``; rescaling the data by ``s`` multiplies
        parameter ``scaled`` (a rate/scale parameter) by ``s``. The search runs at
        ``s = scale`` (parameters of order 1, from ``starts`` and, first, the
        user's ``initial_params`` in natural units); the estimates are mapped
        back and the standard errors computed at ``s = 1``.
        """
        if initial_params is not None:
            ip = np.asarray(initial_params, dtype=float).copy()
            ip[scaled] *= scale
            starts = [np.log(ip), *starts]

        def neg_ll_search(eta: np.ndarray) -> float:
            v = neg_ll(eta, scale)
            return v if np.isfinite(v) else 1e300

        res = _maximise(neg_ll_search, starts)
        log_params = res.log_params.copy()
        log_params[scaled] -= np.log(scale)  # back to the original units

        def neg_ll_natural(eta: np.ndarray) -> float:
            return neg_ll(eta, 1.0)

        H_log = self._finish_fit(
            neg_ll_natural, _FitResult(log_params, float(neg_ll_natural(log_params)), res.converged)
        )
        self._diagnose_fit(np.exp(res.log_params), H_log)

    def _finish_fit(self, neg_ll_log, result: _FitResult) -> np.ndarray:
        """Store estimates, covariance, standard errors and intervals; return the log-scale Hessian."""
        theta = np.exp(result.log_params)
        self.params_ = pd.Series(theta, index=list(self._param_names), name="coef")
        self.log_likelihood_ = -result.neg_ll
        self.converged_ = result.converged
        H_log = _hessian(neg_ll_log, result.log_params)
        try:
            cov_log = np.linalg.inv(H_log)
        except np.linalg.LinAlgError:
            cov_log = np.full_like(H_log, np.nan)
        # delta method: theta = exp(eta)  =>  cov_theta = D cov_eta D, D = diag(theta)
        cov = cov_log * np.outer(theta, theta)
        names = list(self._param_names)
        self.cov_params_ = pd.DataFrame(cov, index=names, columns=names)
        with np.errstate(invalid="ignore"):
            se_log = np.sqrt(np.diag(cov_log))
        self.standard_errors_ = pd.Series(se_log * theta, index=names, name="se")
        z = z_critical(self.alpha)
        with np.errstate(over="ignore"):  # a run-away parameter's interval may overflow to inf
            self.confidence_intervals_ = pd.DataFrame(
                {"ci_lower": theta * np.exp(-z * se_log), "ci_upper": theta * np.exp(z * se_log)},
                index=names,
            )
        return H_log

    # -- diagnostics --------------------------------------------------------------------------
    def _diagnose_fit(self, search_theta: np.ndarray, H_log: np.ndarray) -> None:
        """Record not-converged and boundary diagnostics of a maximum-likelihood fit."""
        label = self._label
        if not self.converged_:
            self._diagnose(
                "not_converged",
                f"{label}: the maximum-likelihood search did not report convergence from any starting "
                "point; the estimates and standard errors may not be the maximum and should not be used "
                "as they are.",
            )
        self._runaway: dict[str, bool] = {  # name -> ran to infinity (True) or to zero (False)
            name: bool(not np.isfinite(v) or v > RUNAWAY_HIGH)
            for name, v in zip(self._param_names, search_theta)
            if not np.isfinite(v) or v > RUNAWAY_HIGH or v < RUNAWAY_LOW
        }
        for names, large, meaning in self._runaway_meanings(self._runaway):
            values = ", ".join(f"{n} = {float(self.params_[n]):.3g}" for n in names)
            these = "these estimates mean" if len(names) > 1 else "the estimate means"
            self._diagnose(
                "boundary",
                f"{label}: {values} ran away towards {'infinity' if large else 'zero'}, a limit of the "
                f"model: {meaning}. {these.capitalize()} only that the data sit at this limit; "
                + (
                    "their standard errors and intervals are"
                    if len(names) > 1
                    else "its standard error and interval are"
                )
                + " not usable.",
            )
        se = self.standard_errors_.to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            try:
                pos_def = bool(np.all(np.isfinite(H_log))) and float(np.linalg.eigvalsh(H_log).min()) > 0
            except np.linalg.LinAlgError:
                pos_def = False
        bad_se = [n for n, s in zip(self._param_names, se) if not (np.isfinite(s) and s > 0)]
        if not pos_def or bad_se:
            which = f" (not finite for {', '.join(bad_se)})" if bad_se else ""
            self._diagnose(
                "boundary",
                f"{label}: the log-likelihood is not strictly curved at the estimate (Hessian not positive "
                f"definite) or the standard errors are not finite{which}. The estimate is at or near a "
                "boundary of the parameter space, so the standard errors and confidence intervals are not "
                "usable.",
            )

    def _runaway_meanings(self, runaway: dict[str, bool]) -> list[tuple[list[str], bool, str]]:
        """Group run-away parameters that mean the same limit: ``[(names, to_infinity, meaning)]``."""
        groups: dict[tuple[bool, str], list[str]] = {}
        for name, large in runaway.items():
            to_infinity, to_zero = self._limits.get(name, ("a limiting case of the model",) * 2)
            groups.setdefault((large, to_infinity if large else to_zero), []).append(name)
        return [(names, large, meaning) for (large, meaning), names in groups.items()]

    # -- construction without data ------------------------------------------------------------
    @classmethod
    def from_params(cls: type[_Fitter], **params: float) -> _Fitter:
        """A fitter with given parameters (no data; standard errors are NaN).

        Useful for what-if analyses and for testing predictions against
        simulations with known truth. Counts as fitted (predictions work) and has no
        diagnostics.
        """
        names = list(cls._param_names)
        if sorted(params) != sorted(names):
            raise ValueError(f"expected parameters {names}, got {sorted(params)}")
        theta = np.array([float(params[k]) for k in names])
        if not (np.isfinite(theta).all() and (theta > 0).all()):
            raise ValueError("all parameters must be positive and finite")
        self = cls()
        self._start_fit()
        self.params_ = pd.Series(theta, index=names, name="coef")
        self.standard_errors_ = pd.Series(np.nan, index=names, name="se")
        self.confidence_intervals_ = pd.DataFrame({"ci_lower": np.nan, "ci_upper": np.nan}, index=names)
        self.cov_params_ = pd.DataFrame(np.nan, index=names, columns=names)
        self.log_likelihood_ = np.nan
        self.n_customers_ = 0
        self.converged_ = True
        return self

    # -- results ------------------------------------------------------------------------------
    @property
    def variance_matrix_(self) -> pd.DataFrame:
        """Deprecated alias of ``cov_params_`` (removed in 0.3.0)."""
        self._check_fitted()
        warnings.warn("variance_matrix_ is deprecated; use cov_params_", FutureWarning, stacklevel=2)
        return self.cov_params_

    def _summary(self) -> pd.DataFrame:
        out = pd.DataFrame({"coef": self.params_, "se": self.standard_errors_})
        out = out.join(self.confidence_intervals_)
        # the parameters are positive by definition: a test of "= 0" is meaningless
        out["p_value"] = np.nan
        out.index.name = "param"
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table, one row per parameter: ``coef, se, ci_lower, ci_upper, p_value``.

        ``se`` is the delta-method standard error and ``ci_lower``/``ci_upper`` the Wald
        interval on the log scale at level ``1 - alpha`` (so it stays positive). ``p_value`` is
        NaN: every parameter of these models is positive by definition, so a test of
        "parameter = 0" is meaningless.
        """
        return super().summary

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"<{type(self).__name__}: not fitted>"
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: fitted with {self.n_customers_} customers, {p}>"
