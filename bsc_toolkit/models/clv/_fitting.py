"""Maximum-likelihood machinery shared by the CLV fitters, and what a fit says about itself.

Search
    Every model is fitted over transformed parameters (``log`` for positive ones, ``logit`` for
    probabilities) with the data rescaled so that the parameters are of order 1 (time so that the
    longest customer age is 10; spend so that the mean is 1). The search is Newton's method with
    the analytic gradient and Hessian of the model's log-likelihood (eigenvalues made positive
    where the Hessian is not, steps capped, backtracking line search), from one start (method of
    moments or a short grid); when it fails, BFGS from further starts, polished by Newton. Standard
    errors come from the inverse of the analytic Hessian at the estimate (delta method back to the
    natural scale); intervals are Wald intervals on the transformed scale (so they stay positive,
    or inside (0, 1)).

Boundaries
    Where the likelihood rises towards a boundary of the parameter space (e.g. the BG/NBD's
    ``b -> infinity``: no drop-out), the estimates run away and mean nothing. A fit whose search
    runs away, does not converge, or ends at extreme or poorly determined parameters is compared
    with the *limiting models* at the boundaries of its model (each :class:`ModelSpec` lists its
    :class:`Limit` s: the NBD without drop-out, ...), fitted by maximum likelihood in their own
    right. When a limiting model reaches the log-likelihood of the model (within
    :data:`LIMIT_TOLERANCE`), the maximum of the likelihood is at that boundary and the limiting
    model is the fit used -- recursively, so a limit of a limit is found too. The fitter then
    says so (``model_``, ``fit_status_``, a ``"limit_model"`` diagnostic); a fit that ran away
    towards a boundary without a limiting model, or did not converge, gets a ``"boundary"`` or
    ``"not_converged"`` diagnostic and ``fit_status_.usable = False``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd
from scipy import optimize, special

from bsc_toolkit.models._base import FittedModel, z_critical

__all__ = ["FitStatus", "ModelFit", "ModelSpec", "Limit", "LIMIT_TOLERANCE"]

#: A limiting model is used when its log-likelihood is at least the model's minus this (the
#: model's maximum is then at, or numerically indistinguishable from, the boundary).
LIMIT_TOLERANCE = 1e-3
#: A transformed parameter (search units, where parameters are of order 1) beyond this in absolute
#: value is extreme: the fit is compared with the limiting models.
EXTREME_ETA = 9.0
#: ... and beyond this the search has run away towards a boundary and stops.
RUNAWAY_ETA = 16.0
#: Newton has converged when its step is below this (transformed scale) at a positive definite Hessian.
STEP_TOLERANCE = 1e-8
MAX_ITERATIONS = 200
MAX_STEP = 3.0


@dataclass(frozen=True)
class FitStatus:
    """What a CLV fit says about itself, for the report beside its table.

    Attributes
    ----------
    model : str
        The model actually used, e.g. ``"BG/NBD"``, ``"NBD (no drop-out)"``, ``"Gamma-Gamma"``.
    converged : bool
        Whether the search for that model reached a maximum of its likelihood.
    boundary : str or None
        None, or the boundary of the parameter space the likelihood rises towards, e.g.
        ``"no-dropout boundary"`` (several joined by " and ").
    message : str
        One or two sentences in words.
    usable : bool
        Whether the predictions are finite and defensible (a limiting model that was fitted is usable;
        a fit that did not converge or ran away without a limiting model is not).
    """

    model: str
    converged: bool
    boundary: str | None
    message: str
    usable: bool


@dataclass(frozen=True)
class ModelFit:
    """One model fitted on the way to the one used (see ``search_path_``).

    Attributes
    ----------
    model : str
    params : Series
        Natural parameters where the search ended (a run-away search ends at huge or tiny values).
    log_likelihood : float
    converged : bool
    ran_away : bool
        The search stopped because parameters ran away towards a boundary.
    """

    model: str
    params: pd.Series
    log_likelihood: float
    converged: bool
    ran_away: bool


@dataclass(frozen=True)
class Limit:
    """A boundary of a model's parameter space and the model the likelihood becomes there.

    Attributes
    ----------
    boundary : str
        Its name, e.g. ``"no-dropout boundary"``.
    target : str
        Key of the limiting model's :class:`ModelSpec`.
    meaning : str
        What happens there, e.g. ``"the drop-out probability tends to 0 (b -> infinity or a -> 0)"``.
    consequence : str
        What predictions of the limiting model assume, e.g. ``"predictions assume nobody leaves"``.
    start : callable
        Parameters of the model (natural, search units) -> start of the limiting model.
    """

    boundary: str
    target: str
    meaning: str
    consequence: str
    start: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ModelSpec:
    """A model of a family: name, parameters, their transforms and units, and its boundaries.

    Attributes
    ----------
    key : str
    name : str
        Shown as ``model_`` / ``fit_status_.model``.
    param_names : tuple of str
    transforms : tuple of {"log", "logit"}
        Search scale of each parameter.
    unit_powers : tuple of int
        ``theta_search = theta * scale ** power``: how a parameter changes when the data are rescaled.
    limits : tuple of Limit
    """

    key: str
    name: str
    param_names: tuple[str, ...]
    transforms: tuple[str, ...]
    unit_powers: tuple[int, ...]
    limits: tuple[Limit, ...] = field(default_factory=tuple)


# -- transforms -----------------------------------------------------------------------------------
def _theta(transforms: Sequence[str], eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Natural parameters and the first and second derivatives of the transform, elementwise.

    ``"log"`` (positive parameters), ``"logit"`` (probabilities) or ``"identity"`` (coefficients).
    """
    theta = np.empty_like(eta)
    d1 = np.empty_like(eta)
    d2 = np.empty_like(eta)
    for i, kind in enumerate(transforms):
        if kind == "log":
            theta[i] = d1[i] = d2[i] = np.exp(eta[i])
        elif kind == "logit":
            p = special.expit(eta[i])
            theta[i] = p
            d1[i] = p * (1.0 - p)
            d2[i] = d1[i] * (1.0 - 2.0 * p)
        elif kind == "identity":
            theta[i], d1[i], d2[i] = eta[i], 1.0, 0.0
        else:
            raise ValueError(f"unknown transform {kind!r}")
    return theta, d1, d2


def _eta(transforms: Sequence[str], theta: np.ndarray) -> np.ndarray:
    theta = np.asarray(theta, dtype=float)
    inverse = {"log": np.log, "logit": special.logit, "identity": float}
    with np.errstate(divide="ignore"):
        return np.array([inverse[k](v) for k, v in zip(transforms, theta)])


class _Wald(NamedTuple):
    """Estimates with delta-method standard errors, Wald intervals, covariance and p-values (natural scale)."""

    params: pd.Series
    se: pd.Series
    ci: pd.DataFrame
    cov: pd.DataFrame
    p_value: pd.Series


def _wald_natural(
    transforms: Sequence[str], eta: np.ndarray, cov_eta: np.ndarray, alpha: float, names: Sequence[str]
) -> _Wald:
    """Natural-scale estimates, standard errors, intervals, covariance and p-values from a transformed fit.

    ``eta`` are the estimates on the scale of ``transforms`` (see :func:`_theta`) and ``cov_eta``
    their covariance (NaN where unknown). Standard errors and covariance by the delta method;
    intervals are Wald intervals on the transformed scale (so they stay positive, or inside
    (0, 1)); the p-value tests "= 0" for ``"identity"`` parameters and is NaN for the others
    (positive by definition, or probabilities: a test of "= 0" is meaningless).
    """
    eta = np.asarray(eta, dtype=float)
    cov_eta = np.asarray(cov_eta, dtype=float)
    names = list(names)
    theta, d1, _ = _theta(transforms, eta)
    z = z_critical(alpha)
    identity = np.array([k == "identity" for k in transforms], dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        se_eta = np.sqrt(np.diag(cov_eta))
        lower = _theta(transforms, eta - z * se_eta)[0]
        upper = _theta(transforms, eta + z * se_eta)[0]
        p_value = np.where(identity, 2 * special.ndtr(-np.abs(eta / se_eta)), np.nan)
    return _Wald(
        params=pd.Series(theta, index=names, name="coef"),
        se=pd.Series(se_eta * d1, index=names, name="se"),
        ci=pd.DataFrame({"ci_lower": lower, "ci_upper": upper}, index=names),
        cov=pd.DataFrame(cov_eta * np.outer(d1, d1), index=names, columns=names),
        p_value=pd.Series(p_value, index=names, name="p_value"),
    )


def _fd_hessian(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rel_step: float = 1e-5) -> np.ndarray:
    """Hessian from central differences of an analytic gradient (symmetrised)."""
    k = x.size
    H = np.empty((k, k))
    for j in range(k):
        h = rel_step * max(1.0, abs(x[j]))
        e = np.zeros(k)
        e[j] = h
        H[:, j] = (grad(x + e) - grad(x - e)) / (2 * h)
    return (H + H.T) / 2


def _to_search(spec: ModelSpec, theta: np.ndarray, scale: float) -> np.ndarray:
    return np.asarray(theta, dtype=float) * scale ** np.asarray(spec.unit_powers, dtype=float)


def _from_search(spec: ModelSpec, theta: np.ndarray, scale: float) -> np.ndarray:
    return np.asarray(theta, dtype=float) * scale ** -np.asarray(spec.unit_powers, dtype=float)


class _Likelihood:
    """The data side of a fit: the log-likelihood of each model and its starting values.

    Subclasses set ``n`` (customers), ``scale`` (data multiplied by ``scale`` in the search),
    ``specs`` and implement :meth:`loglik` and :meth:`starts`.
    """

    n: float
    scale: float
    specs: Mapping[str, ModelSpec]

    def loglik(
        self, spec: ModelSpec, theta: np.ndarray, order: int, natural: bool
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Summed log-likelihood (and gradient, Hessian w.r.t. the natural parameters)."""
        raise NotImplementedError

    def starts(self, spec: ModelSpec) -> list[np.ndarray]:
        """Starting values (natural parameters, search units), best first."""
        raise NotImplementedError

    def objective(self, spec: ModelSpec, natural: bool = False):
        """``f(eta, order)``: mean negative log-likelihood and derivatives in the transformed parameters."""
        n = self.n

        def f(eta: np.ndarray, order: int = 2):
            theta, d1, d2 = _theta(spec.transforms, eta)
            with np.errstate(all="ignore"):
                ll, g, H = self.loglik(spec, theta, order, natural)
            if not np.isfinite(ll):
                return np.inf, None, None
            if order == 0:
                return -ll / n, None, None
            g_eta = -(d1 * g) / n
            if order == 1:
                return -ll / n, g_eta, None
            H_eta = -(d1[:, None] * H * d1[None, :] + np.diag(d2 * g)) / n
            return -ll / n, g_eta, H_eta

        return f


def _p_text(p: float) -> str:
    """A p-value for a sentence: ``"p = 0.031"``, or ``"p < 0.0001"`` below that."""
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


# -- the search -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Search:
    eta: np.ndarray
    f: float
    converged: bool
    ran_away: bool
    n_iter: int = 0
    H: np.ndarray | None = None  # Hessian of the objective at eta, when known

    @property
    def extreme(self) -> bool:
        return bool(not np.all(np.isfinite(self.eta)) or np.abs(self.eta).max() > EXTREME_ETA)


def _newton(fun, eta0: np.ndarray, max_iter: int = MAX_ITERATIONS) -> _Search:
    """Newton's method with positive eigenvalues, capped steps and backtracking (minimises ``fun``)."""
    eta = np.asarray(eta0, dtype=float).copy()
    f, g, H = fun(eta, 2)
    if not np.isfinite(f):
        return _Search(eta, np.inf, False, False)
    for it in range(max_iter):
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            return _Search(eta, f, False, False, it)
        lam, V = np.linalg.eigh(H)
        top = max(float(np.abs(lam).max()), 1e-300)
        positive = lam.min() > 1e-12 * top
        lam_abs = np.maximum(np.abs(lam), 1e-10 * top)
        step = -V @ ((V.T @ g) / lam_abs)
        if positive and np.abs(step).max() < STEP_TOLERANCE:
            return _Search(eta, f, True, False, it, H)
        norm = float(np.linalg.norm(step))
        if norm > MAX_STEP:
            step *= MAX_STEP / norm
        slope = float(g @ step)
        local = positive and np.abs(step).max() < 1e-3  # quadratic region: take the Newton step
        t = 1.0
        while True:
            f_new = fun(eta + t * step, 0)[0]
            if np.isfinite(f_new) and (
                f_new <= f + 1e-4 * t * slope or (local and t == 1.0 and f_new <= f + 1e-13 * abs(f))
            ):
                break
            t *= 0.5
            if t < 1e-12:
                # no decrease possible: at the noise floor of the objective if the Newton step is tiny
                done = positive and np.abs(step).max() < 1e-6
                return _Search(eta, f, bool(done), False, it, H)
        eta = eta + t * step
        f, g, H = fun(eta, 2)
        if not np.isfinite(f):
            return _Search(eta, np.inf, False, False, it)
        if np.abs(eta).max() > RUNAWAY_ETA:
            return _Search(eta, f, False, True, it)
    return _Search(eta, f, False, False, max_iter)


def _bfgs(fun, eta0: np.ndarray) -> _Search:
    def fg(eta):
        f, g, _ = fun(eta, 1)
        return (1e300, np.zeros_like(eta)) if not np.isfinite(f) else (f, g)

    with np.errstate(all="ignore"):
        res = optimize.minimize(fg, eta0, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 1000})
    eta = np.asarray(res.x, dtype=float)
    f = fun(eta, 0)[0]
    return _Search(eta, f, False, bool(np.abs(eta).max() > RUNAWAY_ETA), int(res.nit))


def _search_model(problem: _Likelihood, spec: ModelSpec, starts: Sequence[np.ndarray]) -> _Search:
    """Maximise one model's likelihood: Newton from the first start; BFGS + Newton from the others if that fails."""
    fun = problem.objective(spec)
    etas = []
    for theta in starts:
        eta = _eta(spec.transforms, theta)
        if np.all(np.isfinite(eta)):
            etas.append(np.clip(eta, -RUNAWAY_ETA + 1, RUNAWAY_ETA - 1))
    if not etas:
        raise ValueError(f"no valid starting values for the {spec.name} model")
    best = _newton(fun, etas[0])
    if best.converged or best.ran_away:
        return best
    for eta0 in [best.eta if np.all(np.isfinite(best.eta)) else etas[0], *etas[1:]]:
        res = _bfgs(fun, eta0)
        if not res.ran_away and np.isfinite(res.f):
            res = _newton(fun, res.eta)
        if res.converged or res.ran_away:
            return res
        if res.f < best.f:
            best = res
    return best


@dataclass(frozen=True)
class _Step:
    limit: Limit
    source: ModelSpec
    source_ll: float
    target_ll: float


@dataclass(frozen=True)
class _Outcome:
    spec: ModelSpec
    search: _Search
    steps: tuple[_Step, ...]
    path: tuple[tuple[ModelSpec, _Search], ...]


def _needs_limits(problem: _Likelihood, spec: ModelSpec, res: _Search) -> bool:
    if not spec.limits:
        return False
    if res.ran_away or not res.converged or res.extreme:
        return True
    H = res.H if res.H is not None else problem.objective(spec)(res.eta, 2)[2]
    try:
        return bool(H is None or np.linalg.eigvalsh(H).min() <= 0)
    except np.linalg.LinAlgError:
        return True


def _fit_family(problem: _Likelihood, spec: ModelSpec, starts: Sequence[np.ndarray]) -> _Outcome:
    """Fit ``spec``; where its likelihood rises towards a boundary, fit the limiting models and use the best."""
    res = _search_model(problem, spec, starts)
    steps: list[_Step] = []
    path = [(spec, res)]
    n = problem.n
    while _needs_limits(problem, spec, res):
        theta = _theta(spec.transforms, res.eta)[0]
        candidates = []
        for limit in spec.limits:
            target = problem.specs[limit.target]
            with np.errstate(all="ignore"):
                start = np.asarray(limit.start(theta), dtype=float)
            lim_starts = [start] if np.all(np.isfinite(start)) and np.all(start > 0) else []
            fit = _search_model(problem, target, [*lim_starts, *problem.starts(target)])
            candidates.append((limit, target, fit))
        finite = [c for c in candidates if np.isfinite(c[2].f)]
        if not finite:
            break
        best_ll = max(-c[2].f * n for c in finite)
        tied = [c for c in finite if -c[2].f * n >= best_ll - LIMIT_TOLERANCE]
        limit, target, fit = min(tied, key=lambda c: len(c[1].param_names))
        ll_now, ll_limit = -res.f * n, -fit.f * n
        if not (ll_limit >= ll_now - LIMIT_TOLERANCE):
            break
        steps.append(_Step(limit, spec, ll_now, ll_limit))
        spec, res = target, fit
        path.append((spec, res))
    return _Outcome(spec, res, tuple(steps), tuple(path))


# -- the base fitter ------------------------------------------------------------------------------
_Fitter = TypeVar("_Fitter", bound="_BaseFitter")


class _BaseFitter(FittedModel):
    """Shared machinery: the search with its limiting models, standard errors, summary, status.

    Subclasses set ``_specs`` (their model family, first the full model), ``_label`` (the full
    model's name) and ``_limits`` (what a parameter running away to infinity / to zero means, for a
    boundary without a limiting model), and call :meth:`_fit_family` from ``fit``.
    """

    _specs: Mapping[str, ModelSpec] = {}
    _label: str = "model"
    #: name -> (meaning when it runs to infinity, meaning when it runs to zero)
    _limits: dict[str, tuple[str, str]] = {}

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__(alpha=alpha)

    @property
    def converged(self) -> bool:
        """Whether the search for the model used reached a maximum of its likelihood (``converged_``)."""
        self._check_fitted()
        return bool(self.converged_)

    @property
    def _full_spec(self) -> ModelSpec:
        return next(iter(self._specs.values()))

    # -- fitting ------------------------------------------------------------------------------
    def _fit_family(self, problem: _Likelihood, initial_params: Sequence[float] | None) -> None:
        """Fit the full model (and its limits where needed); store estimates, status and diagnostics."""
        full = self._full_spec
        starts = problem.starts(full)
        if initial_params is not None:
            ip = np.asarray(initial_params, dtype=float)
            if ip.shape != (len(full.param_names),) or not (np.isfinite(ip).all() and (ip > 0).all()):
                raise ValueError(
                    f"initial_params must be {len(full.param_names)} positive numbers "
                    f"({', '.join(full.param_names)}), got {initial_params!r}"
                )
            starts = [_to_search(full, ip, problem.scale), *starts]
        outcome = _fit_family(problem, full, starts)
        self._store(problem, outcome)

    def _store(self, problem: _Likelihood, outcome: _Outcome) -> None:
        spec, res = outcome.spec, outcome.search
        self._spec = spec
        self.model_ = spec.name
        theta = _from_search(spec, _theta(spec.transforms, res.eta)[0], problem.scale)
        ll, g, H = problem.loglik(spec, theta, 2, True) if np.all(np.isfinite(theta)) else (np.nan, None, None)
        # log-likelihoods of the search (rescaled data) differ from the natural ones by a constant
        # (the Jacobian of the rescaling, the same for every model of the family)
        theta_search = _theta(spec.transforms, res.eta)[0]
        offset = float(ll - problem.loglik(spec, theta_search, 0, False)[0]) if np.isfinite(ll) else 0.0
        self._ll_offset = offset
        self.search_path_ = [
            ModelFit(
                model=s.name,
                params=pd.Series(
                    _from_search(s, _theta(s.transforms, r.eta)[0], problem.scale), index=list(s.param_names)
                ),
                log_likelihood=float(-r.f * problem.n + offset),
                converged=r.converged,
                ran_away=r.ran_away,
            )
            for s, r in outcome.path
        ]
        eta = _eta(spec.transforms, theta)
        self.log_likelihood_ = float(ll)
        self.converged_ = bool(res.converged)
        H_eta = None
        cov_eta = np.full((eta.size, eta.size), np.nan)
        if H is not None and np.all(np.isfinite(H)) and np.all(np.isfinite(g)):
            _, d1, d2 = _theta(spec.transforms, eta)
            H_eta = -(d1[:, None] * H * d1[None, :] + np.diag(d2 * g))
            try:
                cov_eta = np.linalg.inv(H_eta)
            except np.linalg.LinAlgError:
                pass
        wald = _wald_natural(spec.transforms, eta, cov_eta, self.alpha, spec.param_names)
        self.params_, self.standard_errors_, self.confidence_intervals_, self.cov_params_ = wald[:4]
        self._conclude(outcome, H_eta)

    # -- status and diagnostics -----------------------------------------------------------------
    def _conclude(self, outcome: _Outcome, H_eta: np.ndarray | None) -> None:
        """Set ``fit_status_`` and the diagnostics from how the search ended."""
        spec, res = outcome.spec, outcome.search
        name = spec.name
        boundaries = [s.limit.boundary for s in outcome.steps]
        limit_text = " ".join(self._limit_sentence(s, i == len(outcome.steps) - 1) for i, s in enumerate(outcome.steps))
        se = self.standard_errors_.to_numpy(dtype=float)
        try:
            pos_def = H_eta is not None and float(np.linalg.eigvalsh(H_eta).min()) > 0
        except np.linalg.LinAlgError:
            pos_def = False
        bad_se = [n for n, s in zip(spec.param_names, se) if not (np.isfinite(s) and s > 0)]
        runaway = self._runaway(spec, res)
        usable = True
        problems: list[str] = []
        if outcome.steps:
            self._diagnose("limit_model", limit_text)
        if res.ran_away or (runaway and not pos_def):
            usable = False
            groups = self._runaway_meanings(runaway)
            logit = {n for n, k in zip(spec.param_names, spec.transforms) if k == "logit"}
            for names, large, meaning in groups:
                values = ", ".join(f"{n} = {float(self.params_[n]):.3g}" for n in names)
                these = "these estimates mean" if len(names) > 1 else "the estimate means"
                towards = ("1" if set(names) <= logit else "infinity") if large else "zero"
                text = (
                    f"{name}: {values} ran away towards {towards}, a limit of the model "
                    f"without a limiting model fitted here: {meaning}. {these.capitalize()} only that the data sit "
                    "at this limit; "
                    + (
                        "their standard errors and intervals are"
                        if len(names) > 1
                        else "its standard error and interval are"
                    )
                    + " not usable, nor are the predictions."
                )
                self._diagnose("boundary", text)
                problems.append(text.split(": ", 1)[1])
            where = ", ".join(
                f"{n} -> {('1' if n in logit else 'infinity') if up else '0'}" for n, up in runaway.items()
            )
            boundaries.append(f"{where} (no limiting model)" if where else "a boundary (no limiting model)")
        elif not res.converged:
            usable = False
            text = (
                f"{name}: the maximum-likelihood search did not converge from any starting point; the estimates "
                "and standard errors may not be the maximum and should not be used as they are."
            )
            self._diagnose("not_converged", text)
            problems.append(text.split(": ", 1)[1])
        elif not pos_def or bad_se:
            usable = False
            which = f" (not finite for {', '.join(bad_se)})" if bad_se else ""
            text = (
                f"{name}: the log-likelihood is not strictly curved at the estimate (Hessian not positive definite) "
                f"or the standard errors are not finite{which}. The estimate is at or near a boundary of the parameter "
                "space, so the standard errors and confidence intervals are not usable."
            )
            self._diagnose("boundary", text)
            problems.append(text.split(": ", 1)[1])
            boundaries.append("flat likelihood (Hessian not positive definite)")
        extra_ok, extra = self._model_checks()
        usable = usable and extra_ok
        problems += extra
        if problems:
            message = (limit_text + " " if limit_text else "") + " ".join(problems)
        elif outcome.steps:
            message = limit_text
        else:
            message = (
                f"The {name} search converged to an interior maximum of the likelihood; the standard errors are finite."
            )
        self.fit_status_ = FitStatus(
            model=name,
            converged=bool(res.converged),
            boundary=" and ".join(boundaries) if boundaries else None,
            message=message.strip(),
            usable=bool(usable),
        )

    def _limit_sentence(self, step: _Step, last: bool) -> str:
        target = self._specs[step.limit.target].name
        return (
            f"The {step.source.name} likelihood rises towards the {step.limit.boundary}: {step.limit.meaning}. "
            f"The limiting {target} model was fitted instead (log-likelihood {step.target_ll + self._ll_offset:,.2f}; "
            f"the {step.source.name} search reached {step.source_ll + self._ll_offset:,.2f})"
            + (f": {step.limit.consequence}." if step.limit.consequence else ".")
        )

    def _model_checks(self) -> tuple[bool, list[str]]:
        """Model-specific checks after the fit: (usable, problems in words). Default: none."""
        return True, []

    def _runaway(self, spec: ModelSpec, res: _Search) -> dict[str, bool]:
        """Parameters at extreme values: name -> ran to infinity (True) or to zero (False)."""
        out = {}
        for name, kind, e in zip(spec.param_names, spec.transforms, res.eta):
            if not np.isfinite(e) or abs(e) > EXTREME_ETA:
                # a logit parameter running to +inf is a probability going to 1
                out[name] = bool(not np.isfinite(e) or e > 0) if kind == "log" else bool(e > 0)
        return out

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

        The parameters of the full model, or of one of its limiting models (e.g. ``r`` and
        ``alpha`` alone: the NBD without drop-out). Useful for what-if analyses and for testing
        predictions against simulations with known truth. Counts as fitted (predictions work) and
        has no diagnostics.
        """
        specs = [s for s in cls._specs.values() if sorted(s.param_names) == sorted(params)]
        if not specs:
            names = list(next(iter(cls._specs.values())).param_names)
            raise ValueError(f"expected parameters {names}, got {sorted(params)}")
        spec = specs[0]
        names = list(spec.param_names)
        theta = np.array([float(params[k]) for k in names])
        if not (np.isfinite(theta).all() and (theta > 0).all()):
            raise ValueError("all parameters must be positive and finite")
        if any(k == "logit" and v >= 1 for k, v in zip(spec.transforms, theta)):
            raise ValueError("probabilities must be below 1")
        self = cls()
        self._start_fit()
        self._spec = spec
        self.model_ = spec.name
        self.params_ = pd.Series(theta, index=names, name="coef")
        self.standard_errors_ = pd.Series(np.nan, index=names, name="se")
        self.confidence_intervals_ = pd.DataFrame({"ci_lower": np.nan, "ci_upper": np.nan}, index=names)
        self.cov_params_ = pd.DataFrame(np.nan, index=names, columns=names)
        self.log_likelihood_ = np.nan
        self.n_customers_ = 0
        self.converged_ = True
        self.search_path_ = []
        ok, problems = self._model_checks()
        self.fit_status_ = FitStatus(
            model=spec.name,
            converged=True,
            boundary=None,
            message=" ".join([f"The {spec.name} parameters were given (from_params), not estimated.", *problems]),
            usable=ok,
        )
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
        # the parameters are positive (or probabilities) by definition: a test of "= 0" is meaningless
        out["p_value"] = np.nan
        out.index.name = "param"
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table, one row per parameter of the model used: ``coef, se, ci_lower, ci_upper, p_value``.

        ``se`` is the delta-method standard error and ``ci_lower``/``ci_upper`` the Wald
        interval on the log scale (logit scale for a probability) at level ``1 - alpha``, so it
        stays positive (inside (0, 1)). ``p_value`` is NaN: every parameter of these models is
        positive by definition, so a test of "parameter = 0" is meaningless. When a limiting
        model was used (``model_``), the rows are that model's parameters.
        """
        return super().summary

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"<{type(self).__name__}: not fitted>"
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {self.model_} fitted with {self.n_customers_} customers, {p}>"
