"""The one fitted-model convention every model of the toolkit follows.

In the shape of lifelines and scikit-learn:

- the **specification** (formula, knot, link, estimator, ``alpha``...) goes to the constructor;
  the **data** (and only the data, plus column names and bootstrap size/seed) goes to ``fit()``,
  which returns ``self``;
- fitted attributes end in ``_`` (``params_``, ``standard_errors_``, ``cov_params_``,
  ``confidence_intervals_``, ``diagnostics_``...);
- ``alpha`` is always 1 - the confidence level of every interval the model reports;
- ``summary`` is a property returning a tidy DataFrame whose first columns are
  :data:`SUMMARY_COLUMNS` (``coef, se, ci_lower, ci_upper, p_value``), plus model-specific ones;
- using a model before ``fit()`` raises :class:`NotFittedError`;
- data that cannot identify a model (too few rows, an outcome or a regressor without variation, no
  variation within customers, a window too short to split) raise :class:`NotEstimableError`, whose
  message says what the data lack: a report states it in words instead of failing;
- ``diagnostics_`` is a list of :class:`Diagnostic`: what a careful analyst would want said
  beside the figures (no convergence, an estimate at a boundary, separation, dropped rows...).
  :func:`bsc_toolkit.formatting.diagnostics_markdown` renders them in words.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "IMPRECISE_SE_RATIO",
    "SUMMARY_COLUMNS",
    "NotFittedError",
    "NotEstimableError",
    "Diagnostic",
    "FittedModel",
    "check_alpha",
    "resolve_alpha",
    "z_critical",
    "wald_table",
    "deprecated_alias",
]

#: A coefficient whose standard error is more than this many times its size says nothing, not even its
#: sign: the models' ``imprecise`` diagnostics and the reports flag it.
IMPRECISE_SE_RATIO = 100.0

#: The columns every model's ``summary`` starts with, in this order.
SUMMARY_COLUMNS: tuple[str, ...] = ("coef", "se", "ci_lower", "ci_upper", "p_value")

Severity = Literal["info", "warning", "error"]


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit()``.

    Subclasses both ``ValueError`` (scikit-learn's convention) and ``AttributeError`` (so
    ``hasattr(model, "params_")`` is False on an unfitted model).
    """


class NotEstimableError(ValueError):
    """These data cannot identify the model: the message says what they lack, in words.

    Raised by ``fit()`` (and by the tables the models are fitted on) when the data are valid but
    too thin for the model: too few usable rows, no variation in the outcome or in satisfaction,
    no change within customers for a fixed-effects estimator, no repeat purchase, a window too
    short for a baseline and a follow-up. A subclass of ``ValueError``, so callers that caught
    that still do; reports catch this class (and only this class) to say why a figure is missing,
    while any other exception remains a defect.
    """


@dataclass(frozen=True)
class Diagnostic:
    """One thing an analyst must know about a fit, in words.

    Attributes
    ----------
    code : str
        Stable machine-readable kind: ``"not_converged"``, ``"boundary"``, ``"separation"``,
        ``"dropped_rows"``, ``"few_events"``, ``"collinear"``, ``"assumption"``...
    message : str
        A sentence for the report, naming the figure it concerns and what follows from it.
    severity : {"info", "warning", "error"}
        ``"error"``: the estimates should not be used; ``"warning"``: use with the stated
        caveat; ``"info"``: a fact worth stating (e.g. rows dropped as designed).
    """

    code: str
    message: str
    severity: Severity = "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def check_alpha(alpha: float) -> float:
    """Validate ``alpha`` (1 - confidence level) and return it as a float.

    Raises
    ------
    ValueError
        If ``alpha`` is not strictly between 0 and 1.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1), e.g. 0.05 for 95% intervals; got {alpha!r}") from None
    if not 0 < value < 1:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for 95% intervals; got {alpha!r}")
    return value


def resolve_alpha(alpha: float, deprecated: float | None, keyword: str, function: str, stacklevel: int = 3) -> float:
    """``alpha``, or ``1 - deprecated`` when a caller still passes the old confidence-level keyword.

    Parameters
    ----------
    alpha : float
        The new argument (1 - confidence level).
    deprecated : float or None
        The value of the old keyword (``level`` or ``confidence``: a confidence level such as 0.95).
    keyword, function : str
        Their names, for the FutureWarning.
    stacklevel : int
        Of the warning: 3 points at the caller of the function that calls this.

    Returns
    -------
    float
        The validated alpha.
    """
    if deprecated is not None:
        warnings.warn(
            f"{function}({keyword}=...) is deprecated and will be removed in 0.3.0; use alpha = 1 - {keyword}",
            FutureWarning,
            stacklevel=stacklevel,
        )
        alpha = 1.0 - float(deprecated)
    return check_alpha(alpha)


def z_critical(alpha: float) -> float:
    """Two-sided standard-normal critical value: 1.959964 for ``alpha = 0.05``."""
    return float(stats.norm.ppf(1 - check_alpha(alpha) / 2))


def wald_table(coef: pd.Series, se: pd.Series, alpha: float = 0.05) -> pd.DataFrame:
    """Summary columns from estimates and standard errors (normal-theory Wald intervals and tests).

    Parameters
    ----------
    coef, se : pandas.Series
        Estimates and their standard errors, indexed by term.
    alpha : float
        1 - confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, indexed like ``coef``; the p-value tests ``coef = 0``.
    """
    coef = pd.Series(coef, dtype=float)
    se = pd.Series(se, dtype=float).reindex(coef.index)
    z = z_critical(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(coef / se))
    return pd.DataFrame(
        {"coef": coef, "se": se, "ci_lower": coef - z * se, "ci_upper": coef + z * se, "p_value": p},
        index=coef.index,
    )


class FittedModel:
    """Base class: ``alpha``, the not-fitted check, ``summary`` and ``diagnostics_``.

    Subclasses call ``super().__init__(alpha=alpha)``, implement ``fit(...)`` (which calls
    :meth:`_start_fit` first and returns ``self``) and ``_summary()``; they set
    ``_fitted_attribute`` to an attribute that exists only after a fit.
    """

    _fitted_attribute: str = "params_"

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = check_alpha(alpha)

    # -- state -------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit()`` has run."""
        return self._fitted_attribute in self.__dict__

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call .fit(...) first")

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails. A property that raised AttributeError (e.g.
        # NotFittedError from `summary`) lands here too: run it again so its own error shows.
        prop = getattr(type(self), name, None)
        if isinstance(prop, property) and prop.fget is not None:
            return prop.fget(self)
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(f"{type(self).__name__}.{name} does not exist before .fit(...) is called")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- diagnostics ------------------------------------------------------------------------
    def _start_fit(self) -> None:
        """Forget everything a previous fit left (call first thing in ``fit``).

        Every fitted attribute (name ending in ``_``) is removed, so a fit that fails half-way leaves
        an unfitted model, never the previous estimates without their diagnostics.
        """
        for name in [k for k in self.__dict__ if k.endswith("_") and not k.startswith("__")]:
            del self.__dict__[name]
        self.diagnostics_: list[Diagnostic] = []

    def _diagnose(self, code: str, message: str, severity: Severity = "warning") -> None:
        """Record a diagnostic (and nothing else: reports render them beside the figures)."""
        self.__dict__.setdefault("diagnostics_", []).append(Diagnostic(code, message, severity))

    @property
    def converged(self) -> bool:
        """False when a diagnostic says the fit did not converge."""
        self._check_fitted()
        return not any(d.code == "not_converged" for d in self.diagnostics_)

    # -- summary ----------------------------------------------------------------------------
    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table of the estimates: ``coef, se, ci_lower, ci_upper, p_value`` first."""
        self._check_fitted()
        table = self._summary()
        missing = [c for c in SUMMARY_COLUMNS if c not in table.columns]
        if missing:  # a programming error in a subclass, not a user error
            raise TypeError(f"{type(self).__name__}._summary() lacks column(s) {missing}")
        rest = [c for c in table.columns if c not in SUMMARY_COLUMNS]
        return table[[*SUMMARY_COLUMNS, *rest]]

    def _summary(self) -> pd.DataFrame:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "not fitted"
        return f"<{type(self).__name__} alpha={self.alpha} ({state})>"


def deprecated_alias(cls: type, old_name: str, removed_in: str) -> type:
    """A subclass of ``cls`` named ``old_name`` that warns (FutureWarning) when instantiated.

    Parameters
    ----------
    cls : type
        The class under its new name.
    old_name : str
        The former name, kept for one release.
    removed_in : str
        The version that drops the old name.
    """

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            f"{old_name} is deprecated and will be removed in {removed_in}; use {cls.__name__}",
            FutureWarning,
            stacklevel=2,
        )
        cls.__init__(self, *args, **kwargs)

    return type(old_name, (cls,), {"__init__": __init__, "__doc__": f"Deprecated alias of :class:`{cls.__name__}`."})
