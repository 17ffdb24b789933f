"""Shared pieces of the retention models: satisfaction terms, input checks, the ratio table, the
spline-versus-line tests and the wording of units."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bsc_toolkit.contracts import DRIVERS, RatingScale
from bsc_toolkit.models._base import wald_table
from bsc_toolkit.models.features import CSAT_BANDS, Bands, band_holding
from bsc_toolkit.models.retention._diagnose import Separation, detect_separation
from bsc_toolkit.models.retention._irls import BinomialFit, fit_binomial

TERMS = ("spline", "linear", "bands", "drivers")
PENALTY_OPTIONS = ("auto", "firth", None)


def require(df: pd.DataFrame, cols: list[str] | tuple[str, ...], table: str = "panel") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing}; it has {list(df.columns)}")


def check_terms(terms: str, allowed: tuple[str, ...] = TERMS) -> str:
    if terms not in allowed:
        raise ValueError(f"terms must be one of {allowed}, not {terms!r}")
    return terms


def check_penalty(penalty: str | None) -> str | None:
    if penalty not in PENALTY_OPTIONS:
        raise ValueError(f"penalty must be one of {PENALTY_OPTIONS}, not {penalty!r}")
    return penalty


def check_scale(scale: RatingScale | None) -> RatingScale:
    if scale is None:
        return RatingScale()
    if not isinstance(scale, RatingScale):
        raise TypeError(f"scale must be a bsc_toolkit.contracts.RatingScale, not {type(scale).__name__}")
    return scale


def check_drivers(drivers: Sequence[str] | None) -> tuple[str, ...]:
    out = tuple(DRIVERS if drivers is None else ([drivers] if isinstance(drivers, str) else drivers))
    if not out:
        raise ValueError("drivers must name at least one driver rating column")
    return out


def reference_band(knot: float, bands: Bands = CSAT_BANDS) -> str:
    """Label of the csat band that holds the knot (reference of ``terms='bands'``)."""
    return band_holding(knot, bands)


def csat_term(terms: str, reference: str, drivers: Sequence[str] = DRIVERS) -> str:
    """Formula term(s) of satisfaction."""
    if terms == "spline":
        return "csat_below + csat_above"
    if terms == "linear":
        return "csat"
    if terms == "bands":
        return f'C(csat_band, Treatment("{reference}"))'
    if terms == "drivers":
        return " + ".join(drivers)
    raise ValueError(f"terms must be one of {TERMS}, not {terms!r}")


def unit_text(terms: str, scale: RatingScale, knot: float, reference: str | None, drivers: Sequence[str]) -> str:
    """What the satisfaction coefficients measure, in words (for ``summary_text``)."""
    if terms == "spline":
        return (
            f"csat on its {scale.label} scale: coefficients per scale point ({scale.label}) below and above "
            f"the knot at {knot:g}"
        )
    if terms == "linear":
        return f"csat on its {scale.label} scale: coefficient per scale point ({scale.label})"
    if terms == "bands":
        return f"csat bands of the {scale.label} scale, relative to band '{reference}'"
    return f"driver ratings {', '.join(drivers)}: coefficients per rating point of each driver (on its own scale)"


def ratio_table(coef: pd.Series, se: pd.Series, alpha: float, p_value: pd.Series | None = None) -> pd.DataFrame:
    """Summary: ``coef, se, ci_lower, ci_upper, p_value, exp_coef, exp_coef_ci_lower, exp_coef_ci_upper, z``.

    ``exp_coef`` is the hazard ratio of a log-hazard coefficient (cloglog, Cox) or the odds ratio
    of a log-odds coefficient (logit).
    """
    out = wald_table(coef, se, alpha)
    if p_value is not None:
        out["p_value"] = pd.Series(p_value, dtype=float).reindex(out.index).to_numpy()
    with np.errstate(over="ignore"):
        out["exp_coef"] = np.exp(out["coef"])
        out["exp_coef_ci_lower"] = np.exp(out["ci_lower"])
        out["exp_coef_ci_upper"] = np.exp(out["ci_upper"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["z"] = out["coef"] / out["se"]
    out.index.name = "term"
    return out


def spline_vs_line(
    x: np.ndarray,
    names: list[str],
    params: pd.Series,
    cov: pd.DataFrame,
    llf: float,
    refit: Callable[[np.ndarray, np.ndarray], BinomialFit],
) -> pd.DataFrame:
    """Likelihood-ratio and Wald tests of equal slopes below and above the knot, and a one-sided
    test of diminishing returns.

    Parameters
    ----------
    x, names : the spline fit's design and column names (``csat_below``, ``csat_above`` among them)
    params, cov : its estimates and covariance
    llf : float
        Its log-likelihood (the penalised one for a Firth fit: the LR test is then the penalised
        likelihood-ratio test of Heinze & Schemper 2002).
    refit : callable
        ``refit(x_line, start)`` fits the straight line (the spline with equal slopes) the same way
        and returns its fit; its ``penalised_llf`` (if any) or ``llf`` enters the LR statistic. A
        Firth refit must penalise with the spline design's information (``penalty_x=x``): it then
        maximises the same penalised likelihood under the restriction.
    """
    i_below, i_above = names.index("csat_below"), names.index("csat_above")
    keep = [j for j in range(len(names)) if j != i_above]
    x_lin = x[:, keep]
    x_lin[:, keep.index(i_below)] = x[:, i_below] + x[:, i_above]
    line = refit(x_lin, params.drop("csat_above").to_numpy())
    line_llf = line.penalised_llf if line.penalised_llf is not None else line.llf
    lr = 2.0 * (llf - line_llf)
    b, v = params, cov
    diff = b["csat_above"] - b["csat_below"]
    se = float(
        np.sqrt(
            v.loc["csat_above", "csat_above"]
            + v.loc["csat_below", "csat_below"]
            - 2 * v.loc["csat_above", "csat_below"]
        )
    )
    z = diff / se
    # diminishing returns: csat protects less above the knot, i.e. the (negative) slope
    # below is steeper: below < above  <=>  diff > 0
    sign = 1.0 if b["csat_below"] <= 0 else -1.0
    return pd.DataFrame(
        {
            "statistic": [lr, z**2, sign * z],
            "df": [1, 1, np.nan],
            "p_value": [stats.chi2.sf(lr, 1), stats.chi2.sf(z**2, 1), stats.norm.sf(sign * z)],
            "estimate": [np.nan, diff, diff],
            "se": [np.nan, se, se],
        },
        index=pd.Index(
            [
                "LR: spline vs linear",
                "Wald: slope above = slope below",
                "one-sided: diminishing returns above knot",
            ],
            name="test",
        ),
    )


def fit_with_penalty(
    x: np.ndarray,
    y: np.ndarray,
    link: str,
    offset: np.ndarray | None,
    groups: np.ndarray | None,
    names: list[str],
    penalty: str | None,
) -> tuple[BinomialFit, Separation]:
    """The binomial fit under a model's ``penalty`` option, and the separation found.

    ``"firth"``: Firth-penalised fit (only all-or-none categories are checked for separation);
    ``None``: plain maximum likelihood; ``"auto"``: plain maximum likelihood, refitted with Firth's
    penalty when :func:`~._diagnose.detect_separation` finds separation.
    """
    if penalty == "firth":
        fit = fit_binomial(x, y, link, offset=offset, groups=groups, penalty="firth")
        return fit, detect_separation(x, y, None, names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        fit = fit_binomial(x, y, link, offset=offset, groups=groups)
    separation = detect_separation(x, y, fit, names)
    if separation and penalty == "auto":
        # the plain fit's numerical warnings (overflow as estimates run off) concern a fit now replaced
        return fit_binomial(x, y, link, offset=offset, groups=groups, penalty="firth"), separation
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fit, separation


def grid_of(scale: RatingScale) -> np.ndarray:
    """The scale from low to high in 36 steps (1 to 10 by 0.25)."""
    return np.linspace(float(scale.low), float(scale.high), 37)


def check_on_scale(csat: np.ndarray, scale: RatingScale, knot: float, spline: bool) -> None:
    """csat within its declared scale and, for a spline, rows on both sides of the knot (else ValueError)."""
    lo, hi = float(np.nanmin(csat)), float(np.nanmax(csat))
    if lo < scale.low or hi > scale.high:
        raise ValueError(
            f"csat ranges from {lo:g} to {hi:g}, outside its declared {scale.label} scale: declare the data's "
            "scale with scale=RatingScale(low, high) (ratings are never rescaled)"
        )
    if spline and not (lo < knot < hi):
        raise ValueError(
            f"the csat spline's knot {knot:g} is not inside the observed csat range {lo:g}-{hi:g} ({scale.label} "
            "scale): no slope can be estimated on one side of it; choose another knot or terms='linear'"
        )


def take(values: pd.Series, keep: np.ndarray) -> pd.Series | np.ndarray:
    """Rows ``keep`` of a column; text columns become pandas categoricals (patsy's sorted levels)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values[keep].reset_index(drop=True)
    arr = values.to_numpy()[keep]
    if arr.dtype == object and values.name != "customer_id":
        return pd.Categorical(arr)
    return arr
