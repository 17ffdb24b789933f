"""Helpers of the satisfaction -> retention -> money report: what its sections say in words.

The report (``notebooks/satisfaction_retention_value.ipynb``) fits the link models of
:mod:`bsc_toolkit.models.retention`, :mod:`bsc_toolkit.models.financial` and
:mod:`bsc_toolkit.models.whatif`; this module holds the logic around them that a notebook should
not carry:

* :func:`resolve_knot`, :func:`check_driver`, :func:`churn_controls`, :func:`retention_panel` --
  the report's settings taken from the data (the declared csat scale, the data's driver names, the
  controls the customers table can support, the customer-period panel when the data are dated);
* :func:`link_evidence` / :class:`LinkEvidence` -- whether the satisfaction effect on churn or
  spend is distinguishable from 0, and the sentence saying so (a null result is a result: "no
  evidence of a link between satisfaction and churn in these data");
* :func:`estimate_label` -- "Firth-penalised (bias-reduced) estimates because of separation"
  beside a table whose estimates are penalised;
* :func:`imprecise_terms`, :func:`large_se_markdown` -- standard errors over 100 times their
  coefficient, in words;
* :func:`what_if_plan`, :func:`what_if_table`, :func:`what_if_markdown` --
  amounts labelled with the data's currency, and which what-if figures may be shown (money only
  when the links it is built on are supported by the data, margin only with cost data);
  :func:`run_what_if` / :func:`what_if_outputs` -- the what-if and what it shows, for the report's
  section and for :func:`what_if_compute` / :func:`what_if_widget` (the same what-if behind
  JupyterLab controls);
* :func:`start_headline`, :func:`churn_effect_figures`, :func:`what_if_figure`,
  :func:`set_churn_effect`, :func:`set_what_if`, :func:`retention_sentence` -- the headline the
  report opens with: CSAT and
  churn, the churn ratio of +1 CSAT point and its money value, each with its interval and caveat
  ("association, not proof of cause", separation, non-convergence, imprecision), "no data" with
  the reason where the data or a section cannot give a figure;
* :func:`shows_link` -- whether a model figure's interval excludes "no effect" (the one rule of
  both reports' sentences).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.formatting import escape_markdown, money_label
from bsc_toolkit.headline import Headline, HeadlineFigure, _finite, format_figure, format_interval
from bsc_toolkit.models._base import IMPRECISE_SE_RATIO

if TYPE_CHECKING:
    from bsc_toolkit.data.io import CustomerData
    from bsc_toolkit.models.whatif import WhatIfResult

__all__ = [
    "ASSOCIATION",
    "CHURN_EFFECT_KEY",
    "FIRTH_LABEL",
    "NO_CSAT",
    "RATIO_COLUMNS",
    "VALUE_KEY",
    "LinkEvidence",
    "SpendModels",
    "check_driver",
    "churn_controls",
    "add_kpi_figures",
    "churn_effect_figures",
    "imprecise_terms",
    "retention_sentence",
    "run_what_if",
    "scale_what_if",
    "set_churn_effect",
    "set_what_if",
    "shows_link",
    "start_headline",
    "estimate_label",
    "estimate_labels_markdown",
    "has_cost_data",
    "integer_ids",
    "large_se_markdown",
    "link_evidence",
    "logrank_markdown",
    "model_notes_markdown",
    "overview_markdown",
    "require_panel",
    "resolve_knot",
    "retention_panel",
    "satisfaction_terms",
    "spend_markdown",
    "spend_models",
    "time_axis_label",
    "what_if_compute",
    "what_if_figure",
    "what_if_markdown",
    "what_if_outputs",
    "what_if_plan",
    "what_if_table",
    "what_if_widget",
]

#: Label of Firth-penalised estimates fitted because the plain maximum-likelihood fit separated.
FIRTH_LABEL = "Firth-penalised (bias-reduced) estimates because of separation"

_WHAT_IF_METRICS = ("retained_customers", "revenue_usd", "margin_usd")

#: Columns of a churn model's summary shown beside its estimates (``extra`` of
#: :func:`bsc_toolkit.tables.estimates_frame`): ``exp_coef`` is the hazard ratio under cloglog and
#: Cox, the odds ratio under logit.
RATIO_COLUMNS = ("exp_coef", "exp_coef_ci_lower", "exp_coef_ci_upper")

#: Said beside every figure estimated from observational links.
ASSOCIATION = "association, not proof of cause"

#: Headline key of the churn ratio figure(s) (``churn_ratio_below`` / ``churn_ratio_above`` with a spline).
CHURN_EFFECT_KEY = "churn_ratio"

#: The note of a figure that needs surveys on data without them.
NO_CSAT = "no satisfaction surveys (csat) in this data set"

#: Headline key of the money value of the what-if.
VALUE_KEY = "value_of_csat_point"
_SPLINE_TERMS = ("csat_below", "csat_above")


# --------------------------------------------------------------------------- settings from the data
def resolve_knot(knot: float | None, scale: RatingScale) -> float:
    """The csat spline's knot: ``knot`` if given, else ``scale.default_knot()`` (7 on 1-10, 4 on 1-5).

    Parameters
    ----------
    knot : float or None
        The report parameter.
    scale : RatingScale
        The declared csat scale.

    Raises
    ------
    ValueError
        If ``knot`` is not strictly inside the scale (no slope could be estimated on one side).
    """
    if knot is None:
        return float(scale.default_knot())
    value = float(knot)
    if not scale.low < value < scale.high:
        raise ValueError(
            f"csat_knot={value:g} is not inside the csat scale {scale.label}: choose a knot strictly between "
            f"{scale.low:g} and {scale.high:g}, or None for the scale's default ({scale.default_knot():g})"
        )
    return value


def check_driver(driver: str | None, drivers: Sequence[str]) -> str | None:
    """Validate the report's ``driver`` parameter against the data's driver ratings.

    Parameters
    ----------
    driver : str or None
        None (raise csat itself) or the name of a driver rating.
    drivers : sequence of str
        The data set's driver rating columns (``CustomerData.drivers``).

    Returns
    -------
    str or None
        ``driver``.

    Raises
    ------
    ValueError
        Naming the data's drivers when ``driver`` is not one of them.
    """
    if driver is None:
        return None
    if driver in drivers:
        return driver
    if not drivers:
        raise ValueError(f"driver={driver!r}: this data set has no driver ratings; use driver=None (raise csat itself)")
    names = ", ".join(repr(d) for d in drivers)
    raise ValueError(
        f"driver={driver!r} is not a driver rating of this data set; use None (raise csat itself) or one of {names}"
    )


def churn_controls(frame: pd.DataFrame, tenure: str = "tenure_years") -> tuple[str, ...]:
    """Control terms of the churn models that ``frame`` supports.

    ``C(segment)`` when the frame has a ``segment`` column with at least two distinct values, and
    ``tenure`` when it has that column with values. On the simulator's data this is the models'
    default ``("C(segment)", "tenure_years")``.
    """
    controls: list[str] = []
    if "segment" in frame.columns and frame["segment"].dropna().nunique() >= 2:
        controls.append("C(segment)")
    if tenure in frame.columns and frame[tenure].notna().any():
        controls.append(tenure)
    return tuple(controls)


def has_cost_data(data: CustomerData) -> bool:
    """True when the transactions carry costs (``cost_usd`` with at least one value)."""
    t = data.transactions
    return "cost_usd" in t.columns and bool(t["cost_usd"].notna().any())


def retention_panel(data: CustomerData, freq: str) -> tuple[pd.DataFrame | None, str]:
    """The customer-period panel of dated data, or None with the reason it cannot be built.

    Parameters
    ----------
    data : CustomerData
    freq : str
        Period frequency (``"Q"``...).

    Returns
    -------
    panel : pandas.DataFrame or None
        :func:`bsc_toolkit.panel.customer_periods` with every rating column of the data (csat, nps
        and the drivers under their own names).
    reason : str
        Why there is no panel (empty when there is one).
    """
    from bsc_toolkit.panel import customer_periods

    if data.is_snapshot:
        return None, "snapshot data (one row per customer, no dates) have no customer-period panel"
    if not (data.has("surveys") or data.has("transactions")):
        return None, "no dated surveys or transactions: no customer-period panel"
    try:
        panel = customer_periods(
            data.customers, data.surveys, data.transactions, freq=freq, rating_columns=tuple(data.ratings)
        )
    except ValueError as exc:
        return None, f"the customer-period panel could not be built: {exc}"
    return panel, ""


def require_panel(panel: pd.DataFrame | None, reason: str) -> pd.DataFrame:
    """``panel``, or a ValueError stating ``reason`` (for a section that needs the panel)."""
    if panel is None:
        raise ValueError(reason or "no customer-period panel")
    return panel


def overview_markdown(data: CustomerData, panel: pd.DataFrame | None, reason: str = "") -> str:
    """One line on what the report works on: the panel of dated data, or the customers of a snapshot.

    Every number is finite: shares of an empty table are not shown.
    """
    if panel is not None and len(panel):
        return (
            f"{panel['customer_id'].nunique():,} customers, {len(panel):,} customer-periods "
            f"({panel['period'].min()} to {panel['period'].max()}), {panel['surveyed'].mean():.0%} of them surveyed."
        )
    customers = data.customers
    n = len(customers)
    if data.is_snapshot:
        parts = [f"{n:,} customers at the snapshot date"]
        if "churned" in customers.columns and customers["churned"].notna().any():
            flag = customers["churned"].dropna().astype(bool)
            parts.append(f"{int(flag.sum()):,} of them ({flag.mean():.1%}) had churned (churn flag)")
        if "csat" in data.surveys.columns and n:
            answered = data.surveys.loc[data.surveys["csat"].notna(), "customer_id"].nunique()
            parts.append(f"{answered / n:.0%} answered the csat question ({data.scale('csat').label} scale)")
        return ", ".join(parts) + "."
    return f"{n:,} customers; " + (reason or "no customer-period panel") + "."


def time_axis_label(km: Any) -> str:
    """Axis label of a Kaplan-Meier result's time: ``"tenure (months)"`` for ``tenure_months``."""
    unit = str(getattr(km, "time_unit", "years since the first survey"))
    if unit.endswith(("_months", "_years", "_days")):
        stem, _, what = unit.rpartition("_")
        return f"{stem.replace('_', ' ')} ({what})"
    return unit


def logrank_markdown(km: Any, outcome: str = "retention") -> str:
    """The log-rank test across csat bands in words, with the result's notes.

    A p-value at or above the result's ``alpha`` says "no evidence that {outcome} differs between
    satisfaction bands in these data"; a test that could not be run (one band only) says so.
    """
    lr = km.logrank
    alpha = float(getattr(km, "alpha", 0.05))
    stat, p = float(lr["test_statistic"]), float(lr["p_value"])
    if np.isfinite(stat) and np.isfinite(p):
        text = f"Log-rank test across bands: chi2 = {stat:.1f}, df = {int(lr['df'])}, p = {p:.2g}."
        if p >= alpha:
            text += f" No evidence that {outcome} differs between satisfaction bands in these data."
    else:
        text = "No log-rank test: fewer than two bands have customers."
    notes = "".join(f"\n- {escape_markdown(n)}" for n in getattr(km, "notes", ()))
    return text + ("\n" + notes if notes else "")


def integer_ids(panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` with text ``customer_id`` replaced by integer codes in the same (sorted) order.

    The spend models (:mod:`bsc_toolkit.models.financial`) and the what-if need integer ids; the
    codes keep the panel's order, so the fits are those of the original ids. Integer ids are left
    as they are (no copy).
    """
    ids = panel["customer_id"]
    if pd.api.types.is_integer_dtype(ids.dtype):
        return panel
    codes, _ = pd.factorize(ids, sort=True)
    return panel.assign(customer_id=codes.astype(np.int64))


# --------------------------------------------------------------------------- evidence of a link
def satisfaction_terms(model: Any) -> list[str]:
    """The satisfaction terms of a fitted link model (rows of its summary).

    ``sat_terms_`` when the model has it (financial models); else the csat spline terms, linear
    ``csat``, csat band dummies or the driver terms present among its coefficients.
    """
    params = model.params_
    names = list(getattr(model, "sat_terms_", None) or [])
    if names:
        return names
    terms = getattr(model, "terms", None)
    if terms == "drivers":
        return [d for d in getattr(model, "drivers", ()) if d in params.index]
    found = [t for t in params.index if t in _SPLINE_TERMS or t == "csat" or str(t).startswith("C(csat_band")]
    if not found:
        raise ValueError(f"no satisfaction term among the coefficients {list(params.index)}")
    return found


@dataclass(frozen=True)
class LinkEvidence:
    """Whether satisfaction's effect on an outcome is distinguishable from 0.

    The effect counts as shown when the satisfaction terms are jointly different from 0 (Wald
    test at the model's ``alpha``) *and* at least one term's interval excludes 0; otherwise the
    report says "no evidence of a link between satisfaction and {outcome} in these data" and builds
    no money figure on it.

    Attributes
    ----------
    outcome : str
        ``"churn"`` or ``"spend"``.
    table : pandas.DataFrame
        Per satisfaction term: ``coef, ci_lower, ci_upper, excludes_zero``.
    statistic, df, p_value : float, int, float
        Joint Wald test that every satisfaction term is 0.
    alpha : float
        1 - confidence level of the intervals and level of the test.
    unit : str
        What a coefficient is measured per (``"per scale point (1-5)"``).
    """

    outcome: str
    table: pd.DataFrame
    statistic: float
    df: int
    p_value: float
    alpha: float
    unit: str = ""

    @property
    def evident(self) -> bool:
        """True when the data show a link (joint test significant and some interval excluding 0)."""
        return bool(np.isfinite(self.p_value) and self.p_value < self.alpha and self.table["excludes_zero"].any())

    def sentence(self) -> str:
        """The result in words (Markdown), naming the test and the intervals."""
        level = f"{100 * (1 - self.alpha):g}%"
        terms = "; ".join(
            f"{escape_markdown(t)} {r['coef']:+.3g} ({level} CI {r['ci_lower']:+.3g} to {r['ci_upper']:+.3g})"
            for t, r in self.table.iterrows()
        )
        unit = f" {escape_markdown(self.unit)}" if self.unit else ""
        test = f"joint Wald test chi2 = {self.statistic:.2f}, df = {self.df}, p = {self.p_value:.2g}"
        if self.evident:
            return (
                f"**Evidence of a link between satisfaction and {self.outcome} in these data** ({test}). "
                f"Satisfaction coefficients{unit}: {terms}."
            )
        if not self.table["excludes_zero"].any():
            why = f"every {level} interval of the satisfaction effect includes 0"
        else:
            why = f"the satisfaction terms are not jointly different from 0 at the {self.alpha:g} level"
        return (
            f"**Result: no evidence of a link between satisfaction and {self.outcome} in these data**: {why} "
            f"({test}). Satisfaction coefficients{unit}: {terms}."
        )


def link_evidence(model: Any, outcome: str, terms: Sequence[str] | None = None, unit: str = "") -> LinkEvidence:
    """Test whether a fitted model's satisfaction effect is distinguishable from 0.

    Parameters
    ----------
    model : fitted model
        With ``params_``, ``cov_params_`` and ``alpha`` (the hazard, churn-flag, Cox and financial
        models).
    outcome : str
        The outcome in words (``"churn"``, ``"spend"``).
    terms : sequence of str, optional
        The satisfaction terms (default :func:`satisfaction_terms`).
    unit : str
        What the coefficients are per, for the sentence (``"per scale point (1-5)"``).

    Returns
    -------
    LinkEvidence
        A joint Wald test whose covariance is singular or not finite gives ``p_value`` NaN (no
        evidence).
    """
    names = list(satisfaction_terms(model) if terms is None else terms)
    alpha = float(model.alpha)
    b = model.params_.reindex(names).to_numpy(dtype=float)
    v = model.cov_params_.reindex(index=names, columns=names).to_numpy(dtype=float)
    se = np.sqrt(np.clip(np.diag(v), 0, None))
    z = stats.norm.ppf(1 - alpha / 2)
    lower, upper = b - z * se, b + z * se
    table = pd.DataFrame(
        {
            "coef": b,
            "ci_lower": lower,
            "ci_upper": upper,
            "excludes_zero": np.isfinite(lower) & np.isfinite(upper) & ((lower > 0) | (upper < 0)),
        },
        index=pd.Index(names, name="term"),
    )
    statistic, p_value = np.nan, np.nan
    if np.isfinite(b).all() and np.isfinite(v).all():
        try:
            statistic = float(b @ np.linalg.solve(v, b))
            p_value = float(stats.chi2.sf(statistic, len(names)))
        except np.linalg.LinAlgError:
            pass
    return LinkEvidence(outcome, table, statistic, len(names), p_value, alpha, unit)


def estimate_label(model: Any) -> str:
    """How a model's estimates were obtained, when it is not plain maximum likelihood.

    Returns :data:`FIRTH_LABEL` when ``model.penalty_ == "firth"`` after a separation diagnostic
    (``penalty="auto"``), "Firth-penalised (bias-reduced) estimates" when the penalty was asked
    for, and ``""`` for plain maximum likelihood (or a model without a penalty option).
    """
    if getattr(model, "penalty_", None) != "firth":
        return ""
    if any(d.code == "separation" for d in getattr(model, "diagnostics_", [])):
        return FIRTH_LABEL
    return "Firth-penalised (bias-reduced) estimates"


def estimate_labels_markdown(models: Mapping[str, Any]) -> str:
    """How each labelled model's estimates were obtained, when not plain maximum likelihood (Markdown).

    One line per model whose :func:`estimate_label` is not empty, e.g. "*cloglog hazard model:
    Firth-penalised (bias-reduced) estimates because of separation.*"; empty when none is.
    """
    lines = [
        f"*{escape_markdown(label)}: {estimate_label(model)}.*"
        for label, model in models.items()
        if estimate_label(model)
    ]
    return "\n\n".join(lines)


def model_notes_markdown(models: Mapping[str, Any]) -> str:
    """Everything to say beside a table of labelled models: their diagnostics and imprecise terms.

    :func:`bsc_toolkit.formatting.diagnostics_markdown` of the models followed by
    :func:`large_se_markdown`; empty when there is nothing to say.
    """
    from bsc_toolkit.formatting import diagnostics_markdown

    parts = [diagnostics_markdown(dict(models)), large_se_markdown(models)]
    return "\n".join(p for p in parts if p)


def imprecise_terms(summary: pd.DataFrame, ratio: float = IMPRECISE_SE_RATIO) -> pd.Index:
    """The terms of a summary (``coef``, ``se`` columns) whose standard error is over ``ratio`` times their coefficient.

    A standard error that could not be computed (NaN, inf) counts as imprecise too: such an
    estimate says nothing, not even its sign.
    """
    coef = summary["coef"].astype(float)
    se = summary["se"].astype(float)
    return summary.index[(~np.isfinite(se) | (se > ratio * coef.abs())).to_numpy()]


def large_se_markdown(models: Mapping[str, Any], ratio: float = IMPRECISE_SE_RATIO) -> str:
    """Terms whose standard error is over ``ratio`` times their coefficient, as Markdown bullets.

    Parameters
    ----------
    models : mapping of label -> fitted model or summary DataFrame
        Anything with a ``summary`` (``coef``, ``se`` columns), or such a table itself.
    ratio : float
        Threshold of ``se / |coef|`` (default 100).

    Returns
    -------
    str
        One bullet per model with flagged terms (empty when none): such an estimate says nothing,
        not even its sign. A standard error that could not be computed is flagged too.
    """
    lines = []
    for label, model in models.items():
        table = model if isinstance(model, pd.DataFrame) else model.summary
        bad = imprecise_terms(table, ratio)
        if not len(bad):
            continue
        coef, se = table["coef"].astype(float), table["se"].astype(float)
        terms = ", ".join(
            f"{escape_markdown(t)} (coef {coef[t]:.3g}, SE {se[t]:.3g})"
            if np.isfinite(se[t])
            else f"{escape_markdown(t)} (SE not computable)"
            for t in bad
        )
        lines.append(
            f"- **Warning:** {escape_markdown(label)}: standard error over {ratio:g} times the coefficient for "
            f"{terms}: these estimates are too imprecise to say anything, not even their sign."
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- money and the what-if
@dataclass(frozen=True)
class SpendModels:
    """The report's spend regressions: those the data identify, and why the others are not shown.

    Attributes
    ----------
    models : dict
        Display label (``"pooled, revenue (EUR)"``) -> fitted ``FinancialPanelModel``, in display order.
    not_estimable : dict
        Display label -> why these data cannot identify that model, in words
        (:class:`~bsc_toolkit.models._base.NotEstimableError`: e.g. no customer surveyed in two periods
        for the within-customer estimators).
    """

    models: dict[str, Any]
    not_estimable: dict[str, str]

    @property
    def ppml(self) -> Any | None:
        """The PPML model (the what-if's spend model), or None when the data cannot identify it."""
        return next((m for m in self.models.values() if m.estimator == "ppml"), None)

    def summary(self) -> pd.DataFrame:
        """The satisfaction terms of the fitted models, one block per model (``coef, se, ci_lower, ci_upper, p_value``)."""
        return pd.concat(
            {k: m.summary[["coef", "se", "ci_lower", "ci_upper", "p_value"]] for k, m in self.models.items()}
        )

    def not_estimable_markdown(self) -> str:
        """The models these data cannot identify, one bullet each with the reason; empty when all were fitted."""
        if not self.not_estimable:
            return ""
        lines = [f"- {escape_markdown(label)}: {escape_markdown(why)}." for label, why in self.not_estimable.items()]
        shown = (
            "The table shows the models that could be fitted."
            if self.models
            else "No spend model can be fitted on these data."
        )
        caveat = ""
        if self.models and all(m.estimator == "pooled" for m in self.models.values()):
            caveat = (
                " Without a within-customer estimate, the only comparison left is between different customers "
                "(pooled), which a customer trait driving both satisfaction and spend confounds; no money figure "
                "is built on it."
            )
        elif self.models and self.ppml is None:
            caveat = " The what-if turns satisfaction into money with the PPML model only, so it shows no money figure."
        return "**Not estimable on these data:**\n\n" + "\n".join(lines) + f"\n\n{shown}{caveat}"


def spend_models(panel: pd.DataFrame, knot: float, currency: str, has_cost: bool) -> SpendModels:
    """The report's spend regressions, fitted on ``panel``, labelled with the currency.

    Pooled, within (customer fixed effects) and first-difference OLS of revenue, within OLS of
    margin (only with cost data: margin is never revenue), and PPML with customer fixed effects
    (the what-if's spend model, last). A model the data cannot identify (too few usable rows, no
    change of satisfaction within customers, only negative revenue for PPML...) is left out with
    the reason; any other error propagates.

    Returns
    -------
    SpendModels
        ``models`` (label -> fitted model, in display order) and ``not_estimable`` (label -> reason).
    """
    from bsc_toolkit.models._base import NotEstimableError
    from bsc_toolkit.models.financial import FinancialPanelModel

    revenue, margin = money_label("revenue_usd", currency), money_label("margin_usd", currency)
    specs = [
        (f"pooled, {revenue}", "revenue_usd", "pooled"),
        (f"within (FE), {revenue}", "revenue_usd", "within"),
        (f"first differences, {revenue}", "revenue_usd", "fd"),
    ]
    if has_cost:
        specs.append((f"within (FE), {margin}", "margin_usd", "within"))
    specs.append((f"PPML (FE), {revenue}", "revenue_usd", "ppml"))
    models: dict[str, Any] = {}
    not_estimable: dict[str, str] = {}
    for label, outcome, estimator in specs:
        try:
            models[label] = FinancialPanelModel(outcome, estimator, knot=knot).fit(panel)
        except NotEstimableError as exc:
            not_estimable[label] = str(exc)
    return SpendModels(models, not_estimable)


def spend_markdown(ppml: Any, evidence: LinkEvidence, scale: RatingScale) -> str:
    """The PPML spend effect in percent of revenue, in words; a null result when ``evidence`` shows none.

    Parameters
    ----------
    ppml : FinancialPanelModel
        Fitted with ``estimator="ppml"`` (summary columns ``pct_effect, pct_ci_lower, pct_ci_upper``).
    evidence : LinkEvidence
        :func:`link_evidence` of ``ppml``.
    scale : RatingScale
        The csat scale (for the unit).
    """
    s = ppml.summary
    level = f"{100 * (1 - ppml.alpha):g}%"
    where = {"csat_below": "below the knot", "csat_above": "above the knot"}
    parts = [
        f"{where.get(t, escape_markdown(t))} **{s.loc[t, 'pct_effect']:.1f}%** ({level} CI "
        f"{s.loc[t, 'pct_ci_lower']:.1f}% to {s.loc[t, 'pct_ci_upper']:.1f}%)"
        for t in evidence.table.index
        if t in s.index
    ]
    effects = ", ".join(parts)
    point = f"one csat point more (on its {scale.label} scale)"
    if evidence.evident:
        return f"Within a customer, {point} goes with more revenue by: {effects}.\n\n" + evidence.sentence()
    return (
        evidence.sentence()
        + f"\n\nFor the record, the estimates per {point} are {effects}: not an effect the data distinguish "
        "from none, so no money figure is built on them."
    )


def what_if_plan(churn: LinkEvidence | None, spend: LinkEvidence | None, has_cost: bool) -> dict[str, str | None]:
    """Which what-if figures may be shown: metric -> None (show it) or the reason it is not shown.

    * ``retained_customers`` is built on the churn link;
    * ``revenue_usd`` on the churn and the spend links;
    * ``margin_usd`` on both links and the transactions' costs.

    A figure built on a link the data do not support (no evidence, or not estimated) is not shown
    as if it were an effect.
    """

    def missing(e: LinkEvidence | None, outcome: str) -> str | None:
        if e is None:
            return f"the satisfaction -> {outcome} model could not be estimated"
        if not e.evident:
            return f"there is no evidence of a link between satisfaction and {outcome} in these data"
        return None

    churn_gap, spend_gap = missing(churn, "churn"), missing(spend, "spend")
    money_gap = "; ".join(g for g in (churn_gap, spend_gap) if g) or None
    margin_gap = money_gap
    if not has_cost:
        margin_gap = "no cost data (the transactions have no cost column), so no margin" + (
            f"; besides, {money_gap}" if money_gap else ""
        )
    return {"retained_customers": churn_gap, "revenue_usd": money_gap, "margin_usd": margin_gap}


def _metric_label(metric: str, currency: str) -> str:
    return (
        "retained customers at the horizon's end" if metric == "retained_customers" else money_label(metric, currency)
    )


def what_if_table(result: WhatIfResult, currency: str, plan: Mapping[str, str | None]) -> pd.DataFrame:
    """The what-if summary restricted to the figures :func:`what_if_plan` allows, amounts labelled.

    Returns
    -------
    pandas.DataFrame
        ``result.summary`` rows of the shown metrics, indexed by their display label
        (``"revenue (EUR)"``); the interval of ``change`` is named ``change_ci_lower``,
        ``change_ci_upper`` (so a formatted table shows it beside the change).
    """
    shown = [m for m in _WHAT_IF_METRICS if m in result.summary.index and plan.get(m) is None]
    table = result.summary.loc[shown].rename(columns={"ci_lower": "change_ci_lower", "ci_upper": "change_ci_upper"})
    table.index = pd.Index([_metric_label(m, currency) for m in shown], name="metric")
    return table


def what_if_markdown(result: WhatIfResult, currency: str, plan: Mapping[str, str | None], scale: RatingScale) -> str:
    """The what-if in words: the scenario, each shown figure with its interval, and what is not shown and why.

    Parameters
    ----------
    result : WhatIfResult
    currency : str
        Currency of the amounts.
    plan : mapping
        :func:`what_if_plan`.
    scale : RatingScale
        Scale of the shifted rating (csat, or the driver's), for the wording.
    """
    s = result.settings
    level = f"{100 * (1 - s['alpha']):g}%"
    if s["driver"] is None:
        what = f"csat by {s['delta']:+g} point(s) on its {scale.label} scale"
    else:
        what = (
            f"the {escape_markdown(s['driver'])} rating by {s['delta']:+g} point(s) on its {scale.label} scale "
            f"(= {s['csat_shift_mean']:+.2f} csat points on average)"
        )
    who = "all segments" if s["segment"] is None else f"segment {escape_markdown(s['segment'])}"
    lines = [
        f"Raising {what} for {_customers_words(s)} ({who}), over {s['horizon_periods']} "
        f"period(s) ({escape_markdown(s['freq'])}):",
        "",
    ]
    for metric in _WHAT_IF_METRICS:
        label = escape_markdown(_metric_label(metric, currency))
        reason = plan.get(metric)
        if reason is not None:
            lines.append(f"- {label}: *not shown*: {escape_markdown(reason)}.")
            continue
        if metric not in result.summary.index:  # not simulated (no spend model: retention only)
            continue
        r = result.summary.loc[metric]
        digits = 1
        lines.append(
            f"- {label}: {r['baseline']:,.{digits}f} -> {r['scenario']:,.{digits}f}, change **{r['change']:+,.1f}** "
            f"({level} interval {r['ci_lower']:+,.1f} to {r['ci_upper']:+,.1f}; per customer "
            f"{r['change_per_customer']:+,.3f})"
        )
    lines += ["", f"Intervals: {s['n_sims']} parametric draws of the fitted coefficients (seed {s['seed']})."]
    if s.get("scaled_by"):
        lines[-1] += (
            f" The totals are those of the {s['n_customers_sampled']:,} sampled active customers scaled to the whole "
            f"base (x {s['scaled_by']:,.4g}); their intervals cover the models' uncertainty, not the sampling of "
            "customers. The changes per customer are the sample's."
        )
    return "\n".join(lines)


def _customers_words(settings: Mapping[str, Any]) -> str:
    """ "1,234 active customers", or "about 24,680 active customers (1,234 in the sample)" for a scaled what-if."""
    if settings.get("scaled_by"):
        return (
            f"about {settings['n_customers']:,.0f} active customers ({settings['n_customers_sampled']:,} of them "
            "in the sample)"
        )
    return f"{settings['n_customers']:,} active customers"


def scale_what_if(result: WhatIfResult, factor: float) -> WhatIfResult:
    """The what-if of a random sample of customers scaled to the whole base: its totals times ``factor`` (N/n).

    ``baseline``, ``scenario``, ``change`` and its interval, the simulated draws and the number of
    active customers are multiplied by ``factor``; the changes per customer and the per-customer
    table are kept. ``settings`` records ``scaled_by`` and ``n_customers_sampled`` (the words and the
    headline figure say so). The interval covers the models' uncertainty only, not the sampling of
    customers.

    Parameters
    ----------
    result : WhatIfResult
        :func:`run_what_if` on the sample's panel.
    factor : float
        Customers in the data set over customers in the sample (1: returned as it is).
    """
    from dataclasses import replace as _replace

    if factor == 1:
        return result
    summary = result.summary.copy()
    totals = [c for c in ("baseline", "scenario", "change", "ci_lower", "ci_upper") if c in summary.columns]
    summary[totals] = summary[totals] * factor
    settings = {
        **result.settings,
        "scaled_by": float(factor),
        "n_customers_sampled": result.settings["n_customers"],
        "n_customers": result.settings["n_customers"] * factor,
    }
    return _replace(result, summary=summary, draws=result.draws * factor, settings=settings)


def run_what_if(
    panel: pd.DataFrame,
    data: CustomerData,
    fixed: Mapping[str, Any],
    *,
    delta: float,
    driver: str | None = None,
    segment: str | None = None,
    horizon: int = 4,
) -> WhatIfResult:
    """The report's what-if: :func:`~bsc_toolkit.models.whatif.what_if` of ``panel`` with the data's rating scales.

    Parameters
    ----------
    panel : pandas.DataFrame
        The customer-period panel (integer ids).
    data : CustomerData
        For the scale of a shifted driver rating.
    fixed : mapping
        The other keyword arguments of ``what_if`` (models, knot, scale, draws, seed, drivers,
        currency, money), shared by the report's section and its interactive controls.
    delta, driver, segment, horizon : float, str or None, str or None, int
        The scenario: points added to csat (or to ``driver``), for ``segment`` (None: all), over
        ``horizon`` periods.
    """
    from bsc_toolkit.models.whatif import what_if

    return what_if(
        panel,
        delta=float(delta),
        driver=driver,
        segment=segment,
        horizon_periods=int(horizon),
        driver_scale=data.ratings.get(driver) if driver is not None else None,
        **fixed,
    )


def what_if_outputs(
    result: WhatIfResult,
    data: CustomerData,
    plan: Mapping[str, str | None],
    driver: str | None = None,
    key: str | None = None,
) -> list[Any]:
    """What the what-if shows: its words (:func:`what_if_markdown`) and its table (:func:`what_if_table`).

    Parameters
    ----------
    result : WhatIfResult
        :func:`run_what_if`.
    data : CustomerData
        For the currency and the scale of the shifted rating (csat, or ``driver``'s).
    plan : mapping
        :func:`what_if_plan`.
    driver : str, optional
        The shifted driver rating (None: csat).
    key : str, optional
        The table's name in the report's CSV/JSON outputs (None: not written out).

    Returns
    -------
    list
        ``[IPython Markdown, bsc_toolkit.tables.Table]``, to display in this order.
    """
    from IPython.display import Markdown

    from bsc_toolkit.tables import table

    csat_scale = data.scale("csat")
    shifted = csat_scale if driver is None else data.ratings.get(driver, csat_scale)
    return [
        Markdown(what_if_markdown(result, data.currency, plan, shifted)),
        table(what_if_table(result, data.currency, plan), currency=data.currency, key=key, caption="What-if"),
    ]


def what_if_compute(
    panel: pd.DataFrame,
    data: CustomerData,
    plan: Mapping[str, str | None],
    fixed: Mapping[str, Any],
) -> Callable[..., list[Any]]:
    """The what-if of the report as a function of its controls, for :func:`bsc_toolkit.widgets.what_if_controls`.

    Parameters
    ----------
    panel : pandas.DataFrame
        The panel the static what-if runs on (integer ids).
    data : CustomerData
        For the currency and the rating scales.
    plan : mapping
        :func:`what_if_plan` (which figures may be shown).
    fixed : mapping
        The other keyword arguments of :func:`bsc_toolkit.models.whatif.what_if`, exactly as the
        static what-if passes them (models, knot, scale, draws, seed, drivers, currency, money).

    Returns
    -------
    callable
        ``compute(delta, driver=None, segment=None, horizon=4)`` running the same
        :func:`run_what_if` and returning what the static section shows (:func:`what_if_outputs`):
        the words (Markdown) and the formatted table.
    """

    def compute(*, delta: float, driver: str | None = None, segment: str | None = None, horizon: int = 4) -> list[Any]:
        result = run_what_if(panel, data, fixed, delta=delta, driver=driver, segment=segment, horizon=horizon)
        return what_if_outputs(result, data, plan, driver)

    return compute


def what_if_widget(
    panel: pd.DataFrame,
    data: CustomerData,
    plan: Mapping[str, str | None],
    fixed: Mapping[str, Any],
    *,
    delta: float = 1.0,
    horizon: int = 4,
) -> Any:
    """In JupyterLab, controls (change, rating, segment, horizon) that rerun the report's what-if.

    Shows nothing under ``bsc report`` or outside a kernel (:func:`bsc_toolkit.widgets.interactive`),
    so the HTML report keeps its static what-if. The change slider spans a third of the csat scale
    each way; the horizon runs from 1 to 12 periods (the report's horizon first).

    Returns
    -------
    ipywidgets.VBox or None
    """
    from bsc_toolkit.widgets import what_if_controls

    scale = data.scale("csat")
    reach = max(1.0, round((scale.high - scale.low) / 3))
    step = 0.5 if scale.high - scale.low >= 6 else 0.25
    labels = getattr(data, "driver_labels", {}) or {}
    drivers = [("overall satisfaction (csat)", None)] + [(str(labels.get(d, d)), d) for d in data.drivers]
    segments = sorted(panel["segment"].dropna().astype(str).unique()) if "segment" in panel.columns else None
    horizons = [horizon] + [h for h in range(1, 13) if h != horizon]
    return what_if_controls(
        what_if_compute(panel, data, plan, fixed),
        deltas=(-reach, reach, step),
        drivers=drivers if len(drivers) > 1 else None,
        segments=segments if segments and len(segments) > 1 else None,
        horizons=horizons,
        title="What-if: change satisfaction and compute again",
        value=delta,
    )


# --------------------------------------------------------------------------- the headline
#: Short words for the diagnostics that matter beside a headline figure.
_DIAGNOSTIC_WORDS = {
    "separation": "separation in the data: Firth-penalised (bias-reduced) estimate",
    "not_converged": "the model did not converge: do not rely on this figure",
    "boundary": "the fit sits at a boundary of its parameter space",
    "near_boundary": "the fit is near a boundary of its parameter space",
    "few_events": "few events per model parameter: imprecise",
    "imprecise": "too imprecise to say anything",
    "numerical": "numerical warnings in the fit",
    "collinear": "collinear terms in the model",
    "assumption": "a model assumption is in doubt: see the warning in its section",
    "few_customers": "few customers: imprecise",
}


def diagnostic_words(models: Iterable[Any]) -> list[str]:
    """Short phrases for the warnings and errors among the models' diagnostics (each once, in order).

    Diagnostics of severity ``info`` (rows left out as designed...) are not repeated in a headline.
    A code without a short phrase is named with its words ("lack of fit: see the diagnostics").
    """
    out: list[str] = []
    for model in models:
        for d in getattr(model, "diagnostics_", None) or getattr(model, "diagnostics", None) or []:
            if getattr(d, "severity", "info") == "info" or d.code in ("penalty",):
                continue
            words = _DIAGNOSTIC_WORDS.get(d.code, f"{d.code.replace('_', ' ')}: see the model's diagnostics")
            if words not in out:
                out.append(words)
    return out


def add_kpi_figures(
    hl: Headline, data: CustomerData, freq: str | None, keys: Sequence[str], *, source: Any = None
) -> Headline:
    """Add the standard KPI figures named by ``keys`` (:func:`bsc_toolkit.headline.kpi_figures`), in that order.

    :func:`bsc_toolkit.report_kpis.fill_kpi_headline` of those figures: the subtitle names the
    periods compared, a KPI the data cannot give is "no data" with the reason, and the KPI
    headline's notes that no figure carries become caveats. When the KPI figures cannot be
    computed at all, each is "no data" with the error in words (the report goes on).

    ``source``: the report's :class:`~bsc_toolkit.report_data.ReportData` (anything with a
    ``kpi_headline(freq)`` method); when the report's models use a sample of the customers, its
    figures are computed on every customer. Default: ``kpi_figures(data, freq=freq)``.

    Returns
    -------
    Headline
        ``hl``.
    """
    from dataclasses import replace

    from bsc_toolkit.headline import kpi_figures
    from bsc_toolkit.report_kpis import fill_kpi_headline

    try:
        kpi = source.kpi_headline(freq) if source is not None else kpi_figures(data, freq=freq)
    except Exception as exc:  # noqa: BLE001 - the headline says why instead of losing the report
        why = f"the KPI figures could not be computed: {exc}"
        return hl.add(*(HeadlineFigure(k.replace("_", " "), None, note=why, key=k) for k in keys))
    by_key = {f.key: f for f in kpi.figures}
    snapshot = data.description.snapshot_date if data.is_snapshot else None
    return fill_kpi_headline(hl, replace(kpi, figures=[by_key[k] for k in keys if k in by_key]), snapshot=snapshot)


def _point_words(delta: float, driver: str | None, labels: Mapping[str, str] | None = None) -> str:
    what = "CSAT" if driver is None else str((labels or {}).get(driver, driver))
    return f"{delta:+g} {what} point{'' if abs(delta) == 1 else 's'}"


def _ratio_name(snapshot: bool) -> str:
    return "odds ratio" if snapshot else "hazard ratio"


def _term_words(term: str, knot: float) -> str:
    return {"csat_below": f" (CSAT below {knot:g})", "csat_above": f" (CSAT above {knot:g})", "csat": ""}.get(
        term, f" ({term})"
    )


def _churn_placeholder(snapshot: bool, note: str) -> HeadlineFigure:
    label = f"churn {_ratio_name(snapshot)} per +1 CSAT point"
    return HeadlineFigure(label, None, "ratio", note=note, key=CHURN_EFFECT_KEY)


def _value_label(delta: float, driver: str | None, horizon: int, period: str, labels: Mapping[str, str] | None) -> str:
    return f"revenue from {_point_words(delta, driver, labels)} over {horizon} {period}{'s' if horizon != 1 else ''}"


def start_headline(
    data: CustomerData,
    title: str,
    *,
    freq: str,
    features: Mapping[str, bool],
    delta: float = 1.0,
    driver: str | None = None,
    horizon: int = 4,
    report: str = "satisfaction_retention_value",
    source: Any = None,
) -> Headline:
    """The report's headline before its models run: CSAT and churn, and the figures the sections will fill.

    The churn ratio and the money value start as "no data" with the reason: what the data set
    lacks for their section, or (when the data support it) that the section did not produce the
    figure; :func:`set_churn_effect` and :func:`set_what_if` replace them when the sections compute
    them. The sentence is :func:`retention_sentence` of the figures, made when the box is shown.

    Parameters
    ----------
    data : CustomerData
    title : str
        The report's title (escaped when rendered).
    freq : str
        Period frequency of the KPI figures.
    features : mapping
        :func:`bsc_toolkit.capabilities.data_features` of ``data``.
    delta, driver, horizon : float, str or None, int
        The what-if's settings (for the label of the money figure).
    report : str
        The report's name in :data:`bsc_toolkit.capabilities.SECTIONS`.
    source : ReportData, optional
        Where the KPI figures come from (:func:`add_kpi_figures`): every customer when the models
        use a sample.

    Returns
    -------
    Headline
    """
    from bsc_toolkit.capabilities import section_gap
    from bsc_toolkit.report_value import period_name

    hl = add_kpi_figures(
        Headline(title, sentence_fn=retention_sentence), data, freq, ("csat_mean", "churn_rate"), source=source
    )
    snapshot = bool(data.is_snapshot)
    no_csat = NO_CSAT if not features.get("csat") else None
    churn_gap = no_csat or section_gap(report, "churn_model", features)
    churn_note = churn_gap or "not computed: see the churn model section for why"
    if snapshot:
        value_gap = no_csat or (
            "snapshot data: no what-if in money (satisfaction was measured at the snapshot, possibly after "
            "churning, and there are no dated periods to project)"
        )
    else:
        value_gap = no_csat or section_gap(report, "what_if", features)
    value_note = value_gap or "not computed: see the what-if section for why"
    labels = getattr(data, "driver_labels", None)
    value = HeadlineFigure(
        _value_label(delta, driver, horizon, period_name(freq), labels),
        None,
        "money",
        unit=data.currency,
        note=value_note,
        key=VALUE_KEY,
    )
    return hl.add(_churn_placeholder(snapshot, churn_note), value)


def churn_effect_figures(model: Any, evidence: LinkEvidence, *, knot: float, snapshot: bool) -> list[HeadlineFigure]:
    """The churn ratio of +1 CSAT point, one figure per satisfaction term, with interval and caveats.

    Parameters
    ----------
    model : fitted churn model
        The report's churn link (cloglog hazard model, or the churn-flag logit of snapshot data),
        with ``summary`` (``exp_coef, exp_coef_ci_lower, exp_coef_ci_upper``) and diagnostics.
    evidence : LinkEvidence
        :func:`link_evidence` of ``model`` (for the terms and "no evidence").
    knot : float
        The spline's knot (in the labels).
    snapshot : bool
        Snapshot data: an odds ratio of a churn flag, measured after the fact.

    Returns
    -------
    list of HeadlineFigure
        ``kind="ratio"``, keys ``churn_ratio_below`` / ``churn_ratio_above`` (``churn_ratio`` for a
        linear term). Each note says "association, not proof of cause", whether the interval
        includes 1 (no evidence), and the diagnostics that matter (separation, non-convergence,
        imprecision: :func:`imprecise_terms`).
    """
    ratio = _ratio_name(snapshot)
    level = f"{100 * (1 - evidence.alpha):g}%"
    common = [ASSOCIATION]
    if snapshot:
        common.append("satisfaction was measured at the snapshot, so the link may run from churn to satisfaction")
    common += diagnostic_words([model])
    summary = model.summary
    imprecise = set(imprecise_terms(summary))
    out = []
    for term, row in evidence.table.iterrows():
        term = str(term)
        value = _finite(summary.loc[term, "exp_coef"]) if term in summary.index else None
        lo = _finite(summary.loc[term, "exp_coef_ci_lower"]) if term in summary.index else None
        hi = _finite(summary.loc[term, "exp_coef_ci_upper"]) if term in summary.index else None
        ci = (lo, hi) if lo is not None and hi is not None else None
        notes = list(common)
        if term not in summary.index or term in imprecise:
            notes.append(_DIAGNOSTIC_WORDS["imprecise"])
        # no interval, or one that includes 1: no evidence (the sentence's rule, :func:`shows_link`)
        if ci is None:
            notes.insert(0, f"no evidence of a link between satisfaction and churn here: no {level} interval")
        elif not bool(row["excludes_zero"]):
            notes.insert(
                0, f"no evidence of a link between satisfaction and churn here: the {level} interval includes 1"
            )
        key = {"csat_below": f"{CHURN_EFFECT_KEY}_below", "csat_above": f"{CHURN_EFFECT_KEY}_above"}.get(
            term, CHURN_EFFECT_KEY
        )
        out.append(
            HeadlineFigure(
                f"churn {ratio} per +1 CSAT point{_term_words(term, knot)}",
                value,
                "ratio",
                ci=ci,
                better="down",
                note="; ".join(notes),
                key=key,
            )
        )
    return out


def what_if_figure(
    result: WhatIfResult | None,
    plan: Mapping[str, str | None],
    currency: str,
    *,
    label: str,
    reason: str | None = None,
) -> HeadlineFigure:
    """The what-if's money value (revenue over the horizon) as a headline figure.

    Parameters
    ----------
    result : WhatIfResult or None
        None when the what-if was not run (``reason`` says why).
    plan : mapping
        :func:`what_if_plan`: a revenue figure the links do not support is "no data" with the reason.
    currency : str
    label : str
        The figure's label (``"revenue from +1 CSAT point over 4 quarters"``).
    reason : str, optional
        Why there is no result.

    Returns
    -------
    HeadlineFigure
        ``kind="money"``, key :data:`VALUE_KEY`: the total change of revenue over the horizon for the
        active customers, with its interval; the note says "association, not proof of cause", the
        customers and per-customer value, the margin when shown, and the models' diagnostics.
    """
    gap = plan.get("revenue_usd")
    if result is None or gap is not None or "revenue_usd" not in result.summary.index:
        why = reason or gap or "no spend model: retention only"
        return HeadlineFigure(label, None, "money", unit=currency, note=f"not shown: {why}", key=VALUE_KEY)
    s = result.settings
    row = result.summary.loc["revenue_usd"]
    lo, hi = _finite(row["ci_lower"]), _finite(row["ci_upper"])
    who = "active customers" if s.get("segment") is None else f"active customers of segment {s['segment']}"
    notes = [
        ASSOCIATION,
        f"{_customers_words(s).replace('active customers', who)}, {row['change_per_customer']:+,.0f} {currency} each",
    ]
    if "margin_usd" in result.summary.index and plan.get("margin_usd") is None:
        m = result.summary.loc["margin_usd"]
        notes.append(f"margin {m['change']:+,.0f} {currency} [{m['ci_lower']:+,.0f}, {m['ci_upper']:+,.0f}]")
    notes += diagnostic_words([result])
    return HeadlineFigure(
        label,
        _finite(row["change"]),
        "money",
        ci=(lo, hi) if lo is not None and hi is not None else None,
        unit=currency,
        better="up",
        note="; ".join(notes),
        key=VALUE_KEY,
    )


def shows_link(figure: HeadlineFigure, null: float) -> bool:
    """Whether a model figure shows a link: it has a value and an interval, and the interval excludes ``null``.

    ``null`` is the figure's "no effect": 1 for a ratio, 0 for an effect. A figure whose interval
    could not be computed (``ci`` None: its note says "no evidence") shows none. The one rule of
    :func:`retention_sentence` and :func:`bsc_toolkit.report_value.chain_sentence`.
    """
    return figure.value is not None and figure.ci is not None and not (figure.ci[0] <= null <= figure.ci[1])


def _with_interval(fig: HeadlineFigure) -> str:
    """The figure and its interval as its card shows them: "0.68 [0.61, 0.75]", "217,760 USD [91,234, 351,234]"."""
    interval = format_interval(fig)
    return f"{format_figure(fig)} {interval}" if interval else format_figure(fig)


def retention_sentence(figures: Sequence[HeadlineFigure]) -> str:
    """The headline's sentence in plain words: the churn link, its money value, and what changed.

    The model figures come first ("One CSAT point more goes with a churn hazard ratio of 0.68
    [0.61, 0.75] below 7 ..."; "no evidence of a link" when no interval excludes 1, or none could
    be computed: :func:`shows_link`), then the money value with "association, not proof of cause",
    then :func:`bsc_toolkit.headline.headline_sentence` of the KPI figures. Numbers are written as
    the cards write them (:func:`bsc_toolkit.headline.format_figure`).
    """
    from bsc_toolkit.headline import headline_sentence

    ratios = [f for f in figures if (f.key or "").startswith(CHURN_EFFECT_KEY) and f.value is not None]
    value = next((f for f in figures if f.key == VALUE_KEY and f.value is not None), None)
    kpis = [f for f in figures if not (f.key or "").startswith(CHURN_EFFECT_KEY) and f.key != VALUE_KEY]
    parts = []
    if any(f.note == NO_CSAT for f in figures):
        parts.append("This data set has no satisfaction surveys, so satisfaction cannot be linked to churn or money.")
    shown = [f for f in ratios if shows_link(f, 1.0)]
    if ratios:
        if not shown:
            parts.append("There is no evidence of a link between satisfaction and churn in these data.")
        else:
            name = "hazard ratio" if "hazard" in ratios[0].label else "odds ratio"
            bits = []
            for f in shown:
                where = f.label.rpartition("(")[2].rstrip(")").replace("CSAT ", "") if "(" in f.label else ""
                bits.append(_with_interval(f) + (f" {where}" if where else ""))
            parts.append(f"One CSAT point more goes with a churn {name} of " + " and ".join(bits) + ".")
    if value is not None:
        parts.append(f"The what-if puts the {value.label} at {_with_interval(value)}.")
    if shown or value is not None:
        parts.append(f"This is an {ASSOCIATION}.")
    if kpis:
        parts.append(headline_sentence(list(kpis)))
    return " ".join(parts)


def set_churn_effect(hl: Headline, model: Any, evidence: LinkEvidence, *, knot: float, snapshot: bool) -> Headline:
    """Put :func:`churn_effect_figures` into the headline in place of its placeholder, and refresh it."""
    hl.set(*churn_effect_figures(model, evidence, knot=knot, snapshot=snapshot), replace=[CHURN_EFFECT_KEY])
    hl.refresh()
    return hl


def set_what_if(
    hl: Headline,
    result: WhatIfResult | None,
    plan: Mapping[str, str | None],
    currency: str,
    reason: str | None = None,
) -> Headline:
    """Put :func:`what_if_figure` into the headline in place of its placeholder (same label), and refresh it."""
    current = next((f for f in hl.figures if f.key == VALUE_KEY), None)
    label = current.label if current is not None else "revenue from +1 CSAT point"
    hl.set(what_if_figure(result, plan, currency, label=label, reason=reason))
    hl.refresh()
    return hl
