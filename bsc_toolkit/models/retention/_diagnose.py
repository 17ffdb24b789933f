"""Diagnostics of a binomial fit, in words: convergence, separation, events, dropped rows.

Used by the discrete-time hazard model (rows are customer-periods) and the snapshot churn-flag
model (rows are customers); :func:`detect_separation` is also what decides, under
``penalty="auto"``, to refit with Firth's penalty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bsc_toolkit.models.retention._irls import BinomialFit

#: A coefficient this large (in absolute value, log scale) or a standard error this large signals
#: separation: the likelihood keeps rising as the estimate runs off to infinity.
MAX_ABS_COEF = 10.0
MAX_SE = 100.0
#: Events per parameter below which estimates and their standard errors are unreliable.
MIN_EVENTS_PER_PARAMETER = 10


@dataclass(frozen=True)
class Separation:
    """What :func:`detect_separation` found: flagged terms and rows fitted at probability 0 or 1."""

    terms: list[str] = field(default_factory=list)
    extreme_rows: int = 0
    by_size: bool = False  # some term flagged by |coef| or SE (not only as an all-or-none category)

    def __bool__(self) -> bool:
        return bool(self.terms) or self.extreme_rows > 0


def _all_or_none_categories(x: np.ndarray, y: np.ndarray, names: list[str], skip: list[str]) -> list[str]:
    """Dummy columns whose rows all churned or none did (quasi-complete separation in a category)."""
    out = []
    for j, name in enumerate(names):
        if name == "Intercept" or "[T." not in name or name in skip:
            continue
        on = x[:, j] == 1.0
        n_on = int(on.sum())
        if n_on and (y[on].sum() in (0, n_on)):
            out.append(name)
    return out


def detect_separation(x: np.ndarray, y: np.ndarray, fit: BinomialFit | None, names: list[str]) -> Separation:
    """Signs of complete or quasi-complete separation.

    With a plain maximum-likelihood ``fit``: a slope with ``|coef| > 10`` or ``SE > 100`` (or a
    non-finite SE), a category in which every or no row churned, and rows fitted at probability 0
    or 1. Without a fit (``None``, e.g. before a penalised fit) only the categories are checked.
    """
    if fit is None:
        return Separation(_all_or_none_categories(x, y, names, []), 0, False)
    se = np.sqrt(np.clip(np.diag(fit.cov), 0, None))
    flagged = [
        n
        for n, b, s in zip(names, fit.params, se)
        if (n != "Intercept" and abs(b) > MAX_ABS_COEF) or s > MAX_SE or not np.isfinite(s)
    ]
    by_size = bool(flagged)
    flagged += _all_or_none_categories(x, y, names, flagged)
    extreme = int(((fit.mu <= 1e-10) | (fit.mu >= 1 - 1e-10)).sum())
    return Separation(flagged, extreme, by_size)


def separation_message(sep: Separation, model_name: str, unit: str, penalised: bool) -> tuple[str, str]:
    """(message, severity) of a separation diagnostic: a warning if the fit is penalised, else an error."""
    what = f"term(s) {', '.join(sep.terms)}" if sep.terms else f"some {unit}s"
    if sep.terms:
        what += f" (|coef| > {MAX_ABS_COEF:g}, SE > {MAX_SE:g}, or a category in which every or no {unit} churned)"
    if sep.extreme_rows:
        what += f"; {sep.extreme_rows:,} {unit}(s) have a fitted churn probability of 0 or 1"
        what += " under plain maximum likelihood" if penalised else ""
    head = f"Complete or quasi-complete separation in the {model_name}: {what}"
    if penalised:
        return (
            head + ": estimates are Firth-penalised (bias-reduced) maximum likelihood (Jeffreys-prior penalty), "
            "since the plain maximum-likelihood estimate does not exist there. They are finite; their intervals "
            "are Wald intervals from the penalised fit (profile-penalised-likelihood intervals would be the "
            "textbook choice), and a separated category's estimate says little more than that its effect is large.",
            "warning",
        )
    return (
        head + ". The maximum-likelihood estimate does not exist there: those coefficients, their standard "
        "errors and p-values are meaningless; merge sparse categories, drop the term or fit with "
        "penalty='firth'.",
        "error",
    )


def diagnose_fit(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    fit: BinomialFit,
    names: list[str],
    dropped: dict[str, int],
    n_rows: int,
    separation: Separation | None = None,
    model_name: str = "hazard model",
    unit: str = "customer-period",
) -> None:
    """Record the diagnostics of a fitted binomial model on ``model`` (``model._diagnose``).

    Parameters
    ----------
    separation : Separation, optional
        Found on the plain fit (default: detected here on ``fit``). When ``fit`` is Firth-penalised
        the separation is reported as a warning (estimates penalised), else as an error.
    model_name, unit : str
        Wording: "hazard model" and "customer-period", or "churn-flag model" and "customer".
    """
    penalised = fit.penalty is not None
    if not fit.converged:
        how = "Firth-penalised Newton fit" if penalised else "IRLS fit"
        model._diagnose(
            "not_converged",
            f"The {model_name}'s {how} did not converge in {fit.iterations} iterations: its estimates "
            "and standard errors are unreliable.",
        )
    sep = detect_separation(x, y, None if penalised else fit, names) if separation is None else separation
    if sep:
        message, severity = separation_message(sep, model_name, unit, penalised)
        model._diagnose("separation", message, severity)
    elif penalised:
        model._diagnose(
            "penalty",
            f"The {model_name}'s estimates are Firth-penalised (bias-reduced) maximum likelihood "
            "(penalty='firth'), with Wald intervals from the penalised fit.",
            "info",
        )
    n_events = int(y.sum())
    n_non_events = len(y) - n_events
    k = len(names)
    if min(n_events, n_non_events) < MIN_EVENTS_PER_PARAMETER * k:
        what = f"{n_events:,} churn events" if n_events <= n_non_events else f"{n_non_events:,} {unit}s without churn"
        model._diagnose(
            "few_events",
            f"Only {what} for {k} parameters (fewer than {MIN_EVENTS_PER_PARAMETER} per "
            "parameter): estimates may be biased and intervals too narrow.",
        )
    n_sat = dropped.get("satisfaction", 0)
    if n_sat:
        if unit == "customer-period":
            why = (
                "(periods without a survey): the model uses surveyed periods only, assuming survey response "
                "is unrelated to churn given the covariates."
            )
        else:
            why = (
                "(customers without a survey answer): the model uses surveyed customers only, assuming "
                "survey response is unrelated to churn given the covariates."
            )
        model._diagnose(
            "dropped_rows",
            f"{n_sat:,} of {n_rows:,} {unit}s ({n_sat / n_rows:.0%}) were left out because their "
            f"satisfaction is missing {why}",
            "info",
        )
    n_ctl = dropped.get("controls", 0)
    if n_ctl:
        surveyed = "surveyed customer-periods" if unit == "customer-period" else "surveyed customers"
        model._diagnose(
            "dropped_rows",
            f"{n_ctl:,} {surveyed} were left out because a control variable is missing.",
        )
