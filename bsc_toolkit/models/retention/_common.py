"""Shared pieces of the retention models: satisfaction terms (:class:`CsatTerms`), input checks,
the ratio table, the reference band of ``terms="bands"``, the binomial fit stored on a model with
its spline-versus-line tests, and the wording of units and estimates."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bsc_toolkit.contracts import DRIVERS, RatingScale
from bsc_toolkit.models._base import FittedModel, wald_table
from bsc_toolkit.models.features import CSAT_BANDS, Bands, band_holding, csat_bands
from bsc_toolkit.models.retention._diagnose import Separation, detect_separation, diagnose_fit
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


# --------------------------------------------------------------------------- the models' shared parts
class CsatTerms:
    """What the retention models share about satisfaction: terms, knot, bands and scale.

    Mixed in before :class:`~bsc_toolkit.models._base.FittedModel` (whose ``alpha``,
    ``_diagnose`` and fitted estimates it uses): sets ``terms``, ``scale``, ``knot``, ``drivers``
    and ``bands`` (:meth:`_set_terms`), and gives the reference band, the unit of the csat
    coefficients, the summary table and the words of ``summary_text``.
    """

    terms: str
    scale: RatingScale
    knot: float
    drivers: tuple[str, ...]
    bands: Bands
    formula: str | None

    def _set_terms(
        self,
        terms: str,
        knot: float | None,
        scale: RatingScale | None,
        drivers: Sequence[str] | None,
        bands: Bands | None,
    ) -> None:
        """Check and store ``terms``, ``scale``, ``knot`` (default ``scale.default_knot()``), ``drivers``
        and ``bands`` (default ``csat_bands(scale)``)."""
        self.terms = check_terms(terms)
        self.scale = check_scale(scale)
        self.knot = self.scale.default_knot() if knot is None else float(knot)
        self.drivers = check_drivers(drivers)
        self.bands = csat_bands(self.scale) if bands is None else tuple(bands)

    @property
    def reference_band(self) -> str:
        """Label of the csat band that holds the knot (the default reference of ``terms='bands'``)."""
        return reference_band(self.knot, self.bands)

    @property
    def unit(self) -> str:
        """Unit of the csat coefficients: ``"per scale point (1-10)"`` (the model's scale)."""
        return f"per scale point ({self.scale.label})"

    def _sat_columns(self) -> list[str]:
        """The satisfaction column(s) the terms read: the drivers, or csat."""
        return list(self.drivers) if self.terms == "drivers" else ["csat"]

    def _summary(self) -> pd.DataFrame:
        return ratio_table(self.params_, self.standard_errors_, self.alpha)

    def _satisfaction_text(self) -> str:
        """What the satisfaction coefficients measure, in words (a custom formula says only the scale)."""
        if self.formula is not None:
            return f"custom formula; csat on its {self.scale.label} scale, knot {self.knot:g}"
        return unit_text(self.terms, self.scale, self.knot, self.reference_band_, self.drivers)

    def _bands_and_reference(self, band: pd.Categorical | pd.Series, rows: str) -> tuple[pd.Categorical, str]:
        """The csat bands without their empty categories, and the reference band of the band effects.

        The reference is the band holding the knot or, under ``terms="bands"`` (no formula) when no
        ``rows`` (e.g. "customers") fall in it, the most populated band; an ``empty_reference``
        diagnostic then says so.
        """
        band = pd.Categorical(band)
        reference = self.reference_band
        if self.terms == "bands" and self.formula is None:
            counts = pd.Series(band).value_counts(sort=False)
            if counts.get(reference, 0) == 0:
                fallback = str(counts.idxmax())
                self._diagnose(
                    "empty_reference",
                    f"The reference csat band '{reference}' (the band holding the knot {self.knot:g}) has no "
                    f"{rows}; band effects are relative to the most populated band '{fallback}' instead.",
                )
                reference = fallback
        return band.remove_unused_categories(), reference


def store_estimates(model: FittedModel, params: pd.Series, se: pd.Series, cov: pd.DataFrame) -> None:
    """Store estimates on ``model``: ``params_``, ``standard_errors_``, ``cov_params_`` and the Wald
    ``p_values_`` and ``confidence_intervals_`` (``ci_lower, ci_upper``) at the model's ``alpha``."""
    model.params_ = params
    model.standard_errors_ = se
    model.cov_params_ = cov
    table = ratio_table(params, se, model.alpha)
    model.p_values_ = table["p_value"]
    model.confidence_intervals_ = table[["ci_lower", "ci_upper"]]


def fit_binomial_model(
    model: FittedModel,
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    link: str,
    offset: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    *,
    dropped: dict[str, int],
    n_rows: int,
    model_name: str = "hazard model",
    unit: str = "customer-period",
) -> None:
    """Fit a binomial retention model (hazard or churn flag) and store its results on ``model``.

    The fit follows the model's ``penalty`` option (:func:`fit_with_penalty`). Stored:
    ``penalty_``, ``penalised_llf_``, the estimates (:func:`store_estimates`), ``llf_`` and
    ``nonlinearity_test_`` (spline vs line, :func:`spline_vs_line`, when the model has
    ``terms="spline"``, no formula and ``nonlinearity_test``; else None); then the fit's
    diagnostics (:func:`~._diagnose.diagnose_fit` with ``dropped``, ``n_rows``, ``model_name``
    and ``unit``).

    Raises
    ------
    ValueError
        When the design matrix of ``model.formula_`` is singular.
    """
    try:
        fit, separation = fit_with_penalty(x, y, link, offset, groups, names, model.penalty)
    except np.linalg.LinAlgError:
        raise ValueError(f"the design matrix of {model.formula_!r} is singular (collinear or empty columns)") from None
    model.penalty_ = fit.penalty
    model.penalised_llf_ = fit.penalised_llf
    cov = pd.DataFrame(fit.cov, index=names, columns=names)
    store_estimates(model, pd.Series(fit.params, index=names), pd.Series(np.sqrt(np.diag(fit.cov)), index=names), cov)
    model.llf_ = fit.llf
    model.nonlinearity_test_ = None
    if model.terms == "spline" and model.formula is None and model.nonlinearity_test:
        # the straight line is the spline with equal slopes: the same design with one column fewer,
        # fitted the same way (a penalised LR test when the spline fit is Firth-penalised)
        def refit(x_lin: np.ndarray, start: np.ndarray) -> BinomialFit:
            return fit_binomial(x_lin, y, link, offset=offset, start=start, penalty=fit.penalty, penalty_x=x)

        llf = fit.penalised_llf if fit.penalty is not None else fit.llf
        model.nonlinearity_test_ = spline_vs_line(x, names, model.params_, model.cov_params_, llf, refit)
    diagnose_fit(model, x, y, fit, names, dropped, n_rows, separation=separation, model_name=model_name, unit=unit)


def record_numerical_warnings(model: FittedModel, what: str, fit: Callable[[], None]) -> None:
    """Run ``fit()``; its numerical (Runtime) warnings become one ``numerical`` diagnostic of ``model``
    (``what``: e.g. "hazard"), other warnings are passed on."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always", RuntimeWarning)
        fit()
    numeric = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    for w in caught:
        if w not in numeric:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if numeric:
        text = "; ".join(sorted({str(w.message) for w in numeric}))[:300]
        model._diagnose(
            "numerical",
            f"Numerical warnings during the {what} fit ({text}): check the estimates and their standard "
            "errors for extreme values before using them.",
            "warning",
        )


def binomial_text(model: FittedModel, head: str, estimates_note: str = "") -> str:
    """``summary_text`` of a binomial model: ``head``, the satisfaction and estimates lines, the
    summary table, the nonlinearity tests (if any) and the diagnostics."""
    estimates = (
        "Firth-penalised (bias-reduced) maximum likelihood, Wald intervals"
        if model.penalty_ == "firth"
        else "maximum likelihood"
    )
    text = (
        f"{head}\nSatisfaction: {model._satisfaction_text()}\nEstimates: {estimates}{estimates_note}\n"
        + model.summary.round(4).to_string()
    )
    if model.nonlinearity_test_ is not None:
        text += "\n\nNonlinearity (diminishing returns) tests\n" + model.nonlinearity_test_.round(4).to_string()
    if model.diagnostics_:
        text += "\n\nDiagnostics\n" + "\n".join(f"- {d}" for d in model.diagnostics_)
    return text
