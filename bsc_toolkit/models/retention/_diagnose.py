"""Diagnostics of a binomial hazard fit, in words: convergence, separation, events, dropped rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from bsc_toolkit.models.retention._irls import BinomialFit

#: A coefficient this large (in absolute value, log scale) or a standard error this large signals
#: separation: the likelihood keeps rising as the estimate runs off to infinity.
MAX_ABS_COEF = 10.0
MAX_SE = 100.0
#: Events per parameter below which estimates and their standard errors are unreliable.
MIN_EVENTS_PER_PARAMETER = 10


def diagnose_fit(
    model: Any, x: np.ndarray, y: np.ndarray, fit: BinomialFit, names: list[str], dropped: dict[str, int], n_rows: int
) -> None:
    """Record the diagnostics of a fitted hazard model on ``model`` (``model._diagnose``)."""
    if not fit.converged:
        model._diagnose(
            "not_converged",
            f"The hazard model's IRLS fit did not converge in {fit.iterations} iterations: its estimates "
            "and standard errors are unreliable.",
        )
    se = np.sqrt(np.clip(np.diag(fit.cov), 0, None))
    flagged = [
        n
        for n, b, s in zip(names, fit.params, se)
        if (n != "Intercept" and abs(b) > MAX_ABS_COEF) or s > MAX_SE or not np.isfinite(s)
    ]
    # dummy columns whose rows all churned or none did (quasi-complete separation in a category)
    for j, name in enumerate(names):
        col = x[:, j]
        if name == "Intercept" or "[T." not in name:
            continue
        on = col == 1.0
        n_on = int(on.sum())
        if n_on and (y[on].sum() in (0, n_on)) and name not in flagged:
            flagged.append(name)
    extreme = int(((fit.mu <= 1e-10) | (fit.mu >= 1 - 1e-10)).sum())
    if flagged or extreme:
        what = f"term(s) {', '.join(flagged)}" if flagged else "some customer-periods"
        model._diagnose(
            "separation",
            f"Complete or quasi-complete separation in the hazard model: {what} "
            + (
                f"(|coef| > {MAX_ABS_COEF:g}, SE > {MAX_SE:g}, or a category in which every or no "
                "customer-period churned)"
                if flagged
                else ""
            )
            + (f"; {extreme:,} customer-period(s) have a fitted churn probability of 0 or 1" if extreme else "")
            + ". The maximum-likelihood estimate does not exist there: those coefficients, their standard "
            "errors and p-values are meaningless; merge sparse categories or drop the term.",
            "error",
        )
    n_events = int(y.sum())
    k = len(names)
    if n_events < MIN_EVENTS_PER_PARAMETER * k:
        model._diagnose(
            "few_events",
            f"Only {n_events:,} churn events for {k} parameters (fewer than {MIN_EVENTS_PER_PARAMETER} per "
            "parameter): estimates may be biased and intervals too narrow.",
        )
    n_sat = dropped.get("satisfaction", 0)
    if n_sat:
        model._diagnose(
            "dropped_rows",
            f"{n_sat:,} of {n_rows:,} customer-periods ({n_sat / n_rows:.0%}) were left out because their "
            "satisfaction is missing (periods without a survey): the model uses surveyed periods only, "
            "assuming survey response is unrelated to churn given the covariates.",
            "info",
        )
    n_ctl = dropped.get("controls", 0)
    if n_ctl:
        model._diagnose(
            "dropped_rows",
            f"{n_ctl:,} surveyed customer-periods were left out because a control variable is missing.",
        )
