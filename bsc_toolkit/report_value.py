"""Helpers of the service-profit-chain and customer-value reports: refunds, null results, withheld figures.

The two notebooks stay thin; what they decide or say in words lives here, with tests:

* :func:`net_refunds` -- the purchase table of the CLV models: amounts netted within each
  customer-period, so a refund cancels the purchase it belongs to, and a period whose net spend
  is not positive is not a purchase (counted in :class:`RefundNetting`, said by
  :func:`refund_netting_markdown`).
* :func:`default_calibration_end` -- where the calibration period ends when the report is not told;
  :func:`require_purchases` -- the CLV models need purchases before it (else "not estimable", in words).
* :func:`low_csat_threshold` -- the "low satisfaction" cut on the data's own csat scale.
* :func:`clv_withheld_markdown` -- what a report says instead of CLV figures that
  :func:`~bsc_toolkit.models.clv.value.clv_plausibility` rejected.
* :func:`includes_zero`, :func:`with_evidence`, :func:`chain_findings_markdown`,
  :func:`driver_findings_markdown` -- null results stated as results: where an interval of a
  satisfaction effect includes 0 the sentence says "no evidence of a link ... in these data" and no
  money value is claimed.
* :func:`truth_applies` -- whether a simulation truth describes the loaded data (the truth checks
  only run on the simulated data they belong to).
* :func:`estimates_table` -- display: "not usable" in words where a boundary fit has no finite
  standard error (amount columns are named with :func:`bsc_toolkit.formatting.money_names`).
* :func:`start_chain_headline`, :func:`set_driver_figure`, :func:`set_chain_figures`,
  :func:`chain_sentence` -- the service-profit chain's headline: CSAT, the top driver, the chain's
  links (satisfaction -> retention -> money) with intervals and the money value of +1 point, each
  with its caveat (lags, confounding) beside it; :func:`chain_effects_frame`,
  :func:`driver_table` -- the chain's effects and the driver analysis as tidy tables
  (:func:`bsc_toolkit.tables.estimates_frame`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.formatting import diagnostics_markdown, escape_markdown
from bsc_toolkit.headline import Headline, HeadlineFigure

__all__ = [
    "CHAIN_KEYS",
    "RefundNetting",
    "period_name",
    "chain_effects_frame",
    "chain_findings_markdown",
    "chain_models_markdown",
    "chain_sentence",
    "driver_intro_markdown",
    "driver_table",
    "set_chain_figures",
    "set_driver_figure",
    "start_chain_headline",
    "clv_withheld_markdown",
    "default_calibration_end",
    "driver_findings_markdown",
    "estimates_table",
    "includes_zero",
    "low_csat_threshold",
    "net_refunds",
    "refund_netting_markdown",
    "require_purchases",
    "truth_applies",
    "with_evidence",
]

_PERIOD_NAMES = {"W": "week", "D": "day", "h": "hour", "M": "month", "Q": "quarter", "Y": "year"}


def period_name(freq: str) -> str:
    """``"Q"`` -> ``"quarter"``, ``"W"`` -> ``"week"`` (a pandas frequency's unit, in words)."""
    return _PERIOD_NAMES.get(str(freq).upper()[:1] if str(freq) != "h" else "h", f"{freq} period")


# -- refunds -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefundNetting:
    """The purchases of a transaction log after netting refunds within customer-periods.

    Attributes
    ----------
    transactions : DataFrame
        The purchases for :func:`~bsc_toolkit.models.clv.rfm.rfm_summary`: one row per
        customer-period (and side of the calibration end) with positive net spend --
        ``customer_id``, ``ordered_at`` (the period's first transaction) and the net amount in
        ``revenue_usd`` (costs are not carried: margins come from the raw log). A log whose amounts
        are all positive is passed through as it is (its columns ``customer_id, ordered_at,
        revenue_usd``), which the RFM summary combines into the same purchases.
    freq : str
        The period (``"W"``: weeks, Monday to Sunday, as in the RFM summary).
    n_purchases : int
        Customer-periods that are purchases (positive net spend).
    n_lines, n_refund_lines : int
        Transaction lines, and those with a negative amount.
    refund_amount : float
        Sum of the negative lines (a negative number; 0 without refunds).
    n_periods : int
        Customer-periods with any transaction.
    n_negative, n_zero : int
        Customer-periods whose net spend is negative (refunds of purchases made in earlier
        periods) or exactly 0: neither is a purchase.
    negative_amount : float
        Net spend of the negative customer-periods (not deducted anywhere).
    n_customers, n_customers_without_purchase : int
        Customers in the log, and those left with no purchase at all.
    """

    transactions: pd.DataFrame
    freq: str
    n_purchases: int
    n_lines: int
    n_refund_lines: int
    refund_amount: float
    n_periods: int
    n_negative: int
    n_zero: int
    negative_amount: float
    n_customers: int
    n_customers_without_purchase: int


def net_refunds(
    transactions: pd.DataFrame,
    freq: str = "W",
    calibration_end: Any = None,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    value_col: str = "revenue_usd",
) -> RefundNetting:
    """Net refunds within each customer-period; keep the periods with positive net spend as purchases.

    The RFM summary (:func:`~bsc_toolkit.models.clv.rfm.rfm_summary`) combines the transactions of
    a customer in a period into one purchase. With refunds (negative amounts, e.g. cancelled
    invoice lines) the combination must net them: a refund in the week of its purchase reduces
    that purchase, and a week whose net spend is negative (a refund of an earlier week's purchase)
    or zero is no purchase at all. Such weeks are dropped and counted; their refunds are not
    deducted from the earlier purchases (the log does not say which purchase they refund).

    With ``calibration_end`` the netting is done separately on each side of it, so the purchase
    table splits into calibration and holdout exactly like the transaction log. A log whose
    amounts are all positive is returned as it is (every customer-period is a purchase), so its
    RFM summary is exactly the one before netting.

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction line; ``value_col`` may be negative.
    freq : {"W", "D", "h"}
        The RFM period.
    calibration_end : date-like, optional
        End of the calibration period of a calibration/holdout split.
    customer_col, date_col, value_col : str
        Column names.

    Returns
    -------
    RefundNetting
    """
    from bsc_toolkit.models.clv.rfm import _normalise_freq, _period_index, _to_ns, _to_timestamp

    missing = [c for c in (customer_col, date_col, value_col) if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions lack column(s) {missing}; they have {list(transactions.columns)}")
    f = _normalise_freq(freq)
    value = pd.to_numeric(transactions[value_col], errors="raise").to_numpy(dtype=float)
    if np.isnan(value).any():
        raise ValueError(f"column {value_col!r} has {int(np.isnan(value).sum()):,} missing amount(s)")
    ns = _to_ns(transactions[date_col], date_col)
    period = _period_index(ns, f)
    side = np.zeros(len(ns), dtype=np.int8)
    if calibration_end is not None:
        side = (ns > _to_timestamp(calibration_end, "calibration_end").value).astype(np.int8)
    codes, uniques = pd.factorize(transactions[customer_col], sort=True)
    keys = pd.DataFrame({"c": codes, "p": period, "s": side, "t": ns, "v": value})
    grouped = keys.groupby(["c", "p", "s"], sort=True)
    agg = grouped.agg(t=("t", "min"), v=("v", "sum"))
    agg = agg.reset_index()
    net = agg["v"].to_numpy()
    buy = net > 0
    negative = net < 0
    if (value > 0).all():
        out = transactions[[customer_col, date_col, value_col]]
    else:
        out = pd.DataFrame(
            {
                customer_col: np.asarray(uniques)[agg.loc[buy, "c"].to_numpy()],
                date_col: pd.to_datetime(agg.loc[buy, "t"].to_numpy()),
                value_col: net[buy],
            }
        )
    n_customers = len(uniques)
    return RefundNetting(
        transactions=out,
        freq=f,
        n_purchases=int(buy.sum()),
        n_lines=len(transactions),
        n_refund_lines=int((value < 0).sum()),
        refund_amount=float(value[value < 0].sum()),
        n_periods=len(agg),
        n_negative=int(negative.sum()),
        n_zero=int((net == 0).sum()),
        negative_amount=float(net[negative].sum()),
        n_customers=n_customers,
        n_customers_without_purchase=n_customers - len(np.unique(agg.loc[buy, "c"].to_numpy())),
    )


def refund_netting_markdown(netting: RefundNetting, currency: str) -> str:
    """One paragraph saying what netting the refunds did (Markdown, escaped).

    Parameters
    ----------
    netting : RefundNetting
        From :func:`net_refunds`.
    currency : str
        The data set's currency.

    Returns
    -------
    str
    """
    cur = escape_markdown(currency)
    period = _PERIOD_NAMES.get(netting.freq, "period")
    if netting.n_refund_lines == 0 and netting.n_negative == 0 and netting.n_zero == 0:
        return (
            f"No refunds (negative amounts) in the {netting.n_lines:,} transaction lines: every customer-{period} "
            f"with a transaction is a purchase ({netting.n_purchases:,} purchase {period}s)."
        )
    text = (
        f"**Refunds.** {netting.n_refund_lines:,} of {netting.n_lines:,} transaction lines are refunds "
        f"(negative amounts, {netting.refund_amount:,.0f} {cur} in total). Amounts are netted within each "
        f"customer-{period}: of {netting.n_periods:,} customer-{period}s with a transaction, "
        f"**{netting.n_purchases:,} are purchases** (positive net spend); "
        f"{netting.n_negative:,} have negative net spend (refunds of purchases made in earlier {period}s, "
        f"{netting.negative_amount:,.0f} {cur} in total) and {netting.n_zero:,} net to exactly 0. Those "
        f"{netting.n_negative + netting.n_zero:,} customer-{period}s are not counted as purchases, and their "
        f"refunds are not deducted from the earlier purchases, so spend per purchase is somewhat overstated."
    )
    if netting.n_customers_without_purchase:
        text += (
            f" {netting.n_customers_without_purchase:,} of {netting.n_customers:,} customers have no {period} "
            "with positive net spend and are left out of the CLV models."
        )
    return text


def default_calibration_end(
    transactions: pd.DataFrame, holdout_weeks: float = 26, date_col: str = "ordered_at"
) -> pd.Timestamp:
    """End of the calibration period: ``holdout_weeks`` before the last transaction.

    When the log spans less than twice ``holdout_weeks``, the holdout is the second half of it
    instead (so the calibration period is never shorter than the holdout).

    Parameters
    ----------
    transactions : DataFrame
        With ``date_col``; at least one row.
    holdout_weeks : float
        Length of the holdout period in weeks.
    date_col : str
        The transaction date column.

    Returns
    -------
    pandas.Timestamp
    """
    if transactions.empty:
        raise ValueError("no transactions: there is no period to split")
    stamps = pd.to_datetime(transactions[date_col])
    first, last = stamps.min(), stamps.max()
    holdout = pd.Timedelta(weeks=holdout_weeks)
    if last - first < 2 * holdout:
        holdout = (last - first) / 2
    return last - holdout


def require_purchases(
    full: pd.DataFrame, calibration: pd.DataFrame, netting: RefundNetting, calibration_end: Any
) -> None:
    """Check that the CLV models have purchases to fit, on the whole history and before the calibration end.

    Parameters
    ----------
    full, calibration : DataFrame
        The RFM summaries (one row per customer with a purchase) of the whole history and of the
        calibration period.
    netting : RefundNetting
        :func:`net_refunds` of the whole history (for the counts in the message).
    calibration_end : date-like
        End of the calibration period.

    Raises
    ------
    NotEstimableError
        When no customer has a purchase (every customer-period nets to zero or less: a log of
        refunds only), or none before ``calibration_end``; the message says which, with the counts.
    """
    from bsc_toolkit.models._base import NotEstimableError

    period = _PERIOD_NAMES.get(netting.freq, "period")
    if full.empty:
        raise NotEstimableError(
            f"no customer-{period} has a positive net spend ({netting.n_lines:,} transaction lines, "
            f"{netting.n_refund_lines:,} of them refunds; {netting.n_negative:,} customer-{period}s net to less "
            f"than 0 and {netting.n_zero:,} to exactly 0): there are no purchases for the CLV models"
        )
    if calibration.empty:
        raise NotEstimableError(
            f"no purchase on or before the calibration end ({pd.Timestamp(calibration_end):%Y-%m-%d}): the models "
            "have nothing to fit before the holdout; set calibration_end to a later date"
        )


def low_csat_threshold(scale: RatingScale, threshold: float | None = None) -> float:
    """The csat at or below which a customer counts as low-satisfaction, on the data's own scale.

    Parameters
    ----------
    scale : RatingScale
        The declared csat scale.
    threshold : float, optional
        Given: checked to lie on the scale (at least its lowest point, below its highest).
        Default: one point below the scale's :meth:`~RatingScale.default_knot` (6 on 1-10,
        3 on 1-5, 6 on 0-10).

    Returns
    -------
    float
    """
    if threshold is None:
        return scale.default_knot() - 1
    value = float(threshold)
    if not scale.low <= value < scale.high:
        raise ValueError(
            f"the low-satisfaction threshold {value:g} is not on the csat scale {scale.label}: "
            f"give a value from {scale.low:g} to below {scale.high:g}"
        )
    return value


# -- withheld CLV --------------------------------------------------------------------------------
def clv_withheld_markdown(check: Any, what: str = "CLV") -> str:
    """What a report says instead of CLV figures that failed :func:`~bsc_toolkit.models.clv.value.clv_plausibility`.

    Parameters
    ----------
    check : ClvPlausibility
        The failed check.
    what : str
        What is withheld ("CLV", "the holdout forecast"...).

    Returns
    -------
    str
        Markdown: the statement, the reasons and the fits' diagnostics, escaped.
    """
    lines = [
        f"**{escape_markdown(what)} withheld.** "
        + (
            "The purchase model sits at a boundary of its parameter space on these data (e.g. no drop-out: "
            "b -> infinity), where its forecasts are not estimates of anything. "
            if check.at_boundary
            else "The models' forecasts are not plausible on these data. "
        )
        + "What was found:",
        "",
        *(f"- {escape_markdown(r)}" for r in check.reasons),
    ]
    notes = diagnostics_markdown(list(check.diagnostics))
    if notes:
        lines += ["", "Diagnostics of the fits:", "", notes]
    return "\n".join(lines)


# -- null results --------------------------------------------------------------------------------
def includes_zero(lower: Any, upper: Any) -> Any:
    """True where the interval ``[lower, upper]`` includes 0 or is unknown (NaN).

    An interval that cannot be computed is no evidence either.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    with np.errstate(invalid="ignore"):
        out = ~((lo > 0) | (hi < 0))
    return out if out.ndim else bool(out)


def with_evidence(table: pd.DataFrame, lower: str = "ci_lower", upper: str = "ci_upper") -> pd.DataFrame:
    """``table`` with a column ``evidence`` saying in words whether each interval excludes 0.

    Parameters
    ----------
    table : DataFrame
        With interval columns ``lower`` and ``upper``.
    lower, upper : str
        Their names.

    Returns
    -------
    DataFrame
        A copy with ``evidence``: ``"interval excludes 0"`` or ``"no evidence (interval includes 0)"``.
    """
    out = table.copy()
    zero = includes_zero(out[lower], out[upper])
    out["evidence"] = np.where(zero, "no evidence (interval includes 0)", "interval excludes 0")
    return out


def _money_format(reference: float) -> Any:
    """A formatter for amounts of the size of ``reference``: whole units from 100 up, else cents."""
    digits = 0 if abs(reference) >= 100 else 2
    return lambda v: f"{v:,.{digits}f}"


def chain_findings_markdown(chain: Any, period: str = "quarter") -> str:
    """The chain's results in words, saying "no evidence" where an interval includes 0.

    Parameters
    ----------
    chain : ServiceProfitChain
        Fitted.
    period : str
        The chain table's period ("quarter"), for the retention unit.

    Returns
    -------
    str
        Markdown bullets: satisfaction -> retention, satisfaction -> money (total, and its parts
        through retention and direct). A money value of satisfaction is stated only when the
        interval of the total effect excludes 0; otherwise the sentence says there is no evidence
        of a link in these data.
    """
    chain._check_fitted()
    e, ci = chain.effects_, chain.confidence_intervals_
    level = f"{100 * (1 - chain.alpha):.0f}%"
    money = "revenue" if chain.outcome_ == "revenue_usd" else "margin"
    cur = escape_markdown(chain.currency)
    d = chain.delta
    more = f"{'one' if d == 1 else f'{d:g}'} more csat point{'s' if d != 1 else ''}"
    more += f" (on the {escape_markdown(chain.scale.label)} scale)"

    def interval(name: str, unit: str = "") -> str:
        lo, hi = ci.loc[name, "ci_lower"], ci.loc[name, "ci_upper"]
        fmt = _money_format(np.nanmax(np.abs([e[name], lo, hi]))) if unit else (lambda v: f"{v:.2f}")
        return f"{level} CI {fmt(lo)} to {fmt(hi)}{f' {unit}' if unit else ''}"

    def amount(name: str) -> str:
        return f"{_money_format(e[name])(e[name])} {cur}"

    def zero(name: str) -> bool:
        return bool(includes_zero(ci.loc[name, "ci_lower"], ci.loc[name, "ci_upper"]))

    lines = []
    if zero("mediator_effect"):
        lines.append(
            f"- **No evidence of a link between satisfaction and retention in these data**: the {level} interval of "
            f"the effect of {more} on {period}s retained ({interval('mediator_effect')}) includes 0."
        )
    else:
        direction = "more" if e["mediator_effect"] > 0 else "fewer"
        lines.append(
            f"- **Satisfaction and retention:** {more} goes with {abs(e['mediator_effect']):.2f} {direction} "
            f"{period}s retained in the follow-up ({interval('mediator_effect')})."
        )
    if zero("total"):
        lines.append(
            f"- **No evidence of a link between satisfaction and {money} in these data**: the {level} interval of the "
            f"total effect of {more} ({interval('total', cur)}) includes 0, so no money value of satisfaction is "
            "stated."
        )
    else:
        parts = []
        for name, label in (("indirect", "through retention"), ("direct", "directly, through more spend while active")):
            if zero(name):
                parts.append(f"no evidence of a part {label} (its interval, {interval(name, cur)}, includes 0)")
            else:
                parts.append(f"{amount(name)} {label} ({interval(name, cur)})")
        verb = "is worth" if e["total"] > 0 else "goes with a change of"
        lines.append(
            f"- **Satisfaction and {money}:** {more} {verb} {amount('total')} of follow-up {money} per customer "
            f"({interval('total', cur)}): " + "; ".join(parts) + "."
        )
    return "\n".join(lines)


def driver_findings_markdown(drivers: Any, labels: Mapping[str, str] | None = None) -> str:
    """Drivers without evidence of a link to satisfaction, in words ("" when every interval excludes 0).

    Parameters
    ----------
    drivers : DriverImportance
        Fitted.
    labels : mapping, optional
        Display names of the drivers.

    Returns
    -------
    str
        Markdown sentence naming the drivers whose coefficient interval includes 0.
    """
    s = drivers.summary
    zero = s.index[includes_zero(s["ci_lower"], s["ci_upper"])]
    if not len(zero):
        return ""
    labels = labels or {}
    names = ", ".join(escape_markdown(labels.get(d, d)) for d in zero)
    return (
        f"**No evidence of a link between {names} and {escape_markdown(drivers.target_)} in these data**: "
        f"the {100 * (1 - drivers.alpha):.0f}% interval of {'its' if len(zero) == 1 else 'their'} coefficient "
        "includes 0 (its importance share is what it explains alongside the others, not a measured effect)."
    )


# -- truth and display ---------------------------------------------------------------------------
def truth_applies(data: Any, truth: Any) -> bool:
    """Whether a simulation truth describes the loaded data (so its checks are meaningful).

    True only for simulated data as the simulator wrote them: a truth is stored, the drivers are
    the truth's, csat is on the simulator's 1-10 scale and amounts are in USD.
    """
    if truth is None:
        return False
    weights = getattr(truth, "driver_weights", None) or {}
    scale = data.scale("csat")
    return (
        set(data.drivers) == set(weights) and (scale.low, scale.high) == (1, 10) and str(data.currency).upper() == "USD"
    )


def estimates_table(table: pd.DataFrame, missing: str = "not usable") -> Any:
    """A table of estimates for display, with non-finite numbers written as ``missing`` in words.

    A fit at a boundary has standard errors and intervals that are not finite; a report shows
    "not usable" there instead of NaN or inf. A table whose numbers are all finite is returned
    unchanged.

    Parameters
    ----------
    table : DataFrame
        E.g. a fitter's ``summary``.
    missing : str
        What to write instead of a non-finite number.

    Returns
    -------
    DataFrame or pandas.io.formats.style.Styler
    """
    numeric = table.select_dtypes("number")
    if np.isfinite(numeric.to_numpy(dtype=float)).all():
        return table
    shown = table.copy()
    for col in numeric.columns:
        values = shown[col].astype(float)
        shown[col] = [f"{v:,.4g}" if np.isfinite(v) else missing for v in values]
    return shown


# -- the service-profit chain's headline ------------------------------------------------------------
#: Headline keys of the chain's figures: satisfaction -> retention, retention -> money, the value of +1 point.
CHAIN_KEYS = ("chain_retention", "chain_retention_value", "chain_value")

_TOP_DRIVER_KEY = "top_driver"
_CHAIN_CAVEAT = "satisfaction is measured before retention and spend, which removes reverse timing but not confounding"


def _money_word(outcome: str) -> str:
    return "revenue" if outcome == "revenue_usd" else "margin"


def _chain_placeholders(period: str, money: str, currency: str, note: str, delta: float = 1.0) -> list[HeadlineFigure]:
    point = f"+{delta:g} CSAT point{'s' if delta != 1 else ''}"
    return [
        HeadlineFigure(f"{period}s retained per {point}", None, "number", note=note, key=CHAIN_KEYS[0]),
        HeadlineFigure(f"{money} per {period} retained", None, "money", unit=currency, note=note, key=CHAIN_KEYS[1]),
        HeadlineFigure(
            f"value of {point} ({money} per customer)", None, "money", unit=currency, note=note, key=CHAIN_KEYS[2]
        ),
    ]


def start_chain_headline(
    data: Any,
    title: str,
    *,
    features: Mapping[str, bool],
    outcome: str = "revenue_usd",
    report: str = "service_profit_chain",
    source: Any = None,
) -> Headline:
    """The chain report's headline before its models run: CSAT now, and the figures its sections will fill.

    The top driver and the chain's three figures start as "no data" with the reason (what the data
    set lacks for their section, or that the section did not produce them); :func:`set_driver_figure`
    and :func:`set_chain_figures` replace them. The sentence is :func:`chain_sentence` of the
    figures, made when the box is shown.

    Parameters
    ----------
    data : CustomerData
    title : str
        The report's title (escaped when rendered).
    features : mapping
        :func:`bsc_toolkit.capabilities.data_features` of ``data``.
    outcome : {"revenue_usd", "margin_usd"}
        The chain's money outcome.
    report : str
        The report's name in :data:`bsc_toolkit.capabilities.SECTIONS`.
    source : ReportData, optional
        Where the CSAT figure comes from (:func:`bsc_toolkit.report_retention.add_kpi_figures`):
        every customer when the models use a sample.

    Returns
    -------
    Headline
    """
    from bsc_toolkit.capabilities import section_gap
    from bsc_toolkit.report_retention import NO_CSAT, add_kpi_figures

    hl = add_kpi_figures(Headline(title, sentence_fn=chain_sentence), data, data.freq, ("csat_mean",), source=source)
    no_csat = NO_CSAT if not features.get("csat") else None
    driver_note = no_csat or section_gap(report, "drivers", features) or "not computed: see the driver section for why"
    chain_note = no_csat or section_gap(report, "chain", features) or "not computed: see the chain section for why"
    return hl.add(
        HeadlineFigure("top driver of CSAT", None, "percent", note=driver_note, key=_TOP_DRIVER_KEY),
        *_chain_placeholders(period_name(data.freq), _money_word(outcome), data.currency, chain_note),
    )


def set_driver_figure(hl: Headline, drivers: Any, labels: Mapping[str, str] | None = None) -> Headline:
    """Put the most important driver (its share of the explained variance, with interval) into the headline.

    Parameters
    ----------
    hl : Headline
    drivers : DriverImportance
        Fitted (with bootstrap intervals of the shares and rank probabilities).
    labels : mapping, optional
        Display names of the drivers.
    """
    from bsc_toolkit.report_retention import diagnostic_words

    s = drivers.summary
    top = str(s["share"].astype(float).idxmax())
    row = s.loc[top]
    lo, hi = row.get("share_ci_lower"), row.get("share_ci_upper")
    ci = (float(lo), float(hi)) if lo is not None and hi is not None and np.isfinite([lo, hi]).all() else None
    notes = [f"share of the explained variance of {drivers.target_} (R² {drivers.r2_:.2f})"]
    probs = getattr(drivers, "rank_probabilities_", None)
    if probs is not None and top in probs.index and 1 in probs.columns:
        notes.append(f"ranked first in {float(probs.loc[top, 1]):.0%} of bootstrap draws")
    notes.append("derived importance: how ratings move together, not proof of cause")
    notes += diagnostic_words([drivers])
    name = (labels or {}).get(top, top)
    figure = HeadlineFigure(
        f"top driver of CSAT: {name}", float(row["share"]), "percent", ci=ci, note="; ".join(notes), key=_TOP_DRIVER_KEY
    )
    hl.set(figure)
    hl.refresh()
    return hl


def set_chain_figures(
    hl: Headline, chain: Any, cohort: pd.DataFrame | None = None, period: str = "quarter"
) -> Headline:
    """Put the chain's links into the headline: periods retained and money per +1 CSAT point, money per period retained.

    Each figure has its interval and its caveat beside it: when satisfaction and the outcomes were
    measured (the lag), "association, not proof of cause", the confounding of the direct part, and
    the chain's diagnostics. A money value of satisfaction whose interval includes 0 is not stated
    ("no data" with the reason), as in :func:`chain_findings_markdown`.

    Parameters
    ----------
    hl : Headline
    chain : ServiceProfitChain
        Fitted.
    cohort : DataFrame, optional
        The chain table (its ``attrs`` name the baseline and follow-up periods).
    period : str
        The chain table's period in words.
    """
    from bsc_toolkit.report_retention import ASSOCIATION, diagnostic_words

    chain._check_fitted()
    e, ci = chain.effects_, chain.confidence_intervals_
    money = _money_word(chain.outcome_)
    cur = chain.currency
    level = f"{100 * (1 - chain.alpha):.0f}%"
    lag = ""
    if cohort is not None and "baseline" in cohort.attrs and "follow_up" in cohort.attrs:
        b, f = cohort.attrs["baseline"], cohort.attrs["follow_up"]
        lag = f"CSAT measured in {b[0]}-{b[1]}, retention and {money} in {f[0]}-{f[1]}"
    problems = diagnostic_words([chain])
    # the chain's "assumption" warnings concern the direct path (confounding) and the measurement of csat:
    # beside the money value, not beside the retention link
    retention_problems = [p for p in problems if "assumption" not in p]
    placeholders = _chain_placeholders(period, money, cur, "", chain.delta)

    def interval(name: str) -> tuple[float, float] | None:
        lo, hi = float(ci.loc[name, "ci_lower"]), float(ci.loc[name, "ci_upper"])
        return (lo, hi) if np.isfinite([lo, hi]).all() else None

    def null(name: str, what: str) -> list[str]:
        if interval(name) is None:
            return [f"no evidence of a link between {what} in these data: its {level} interval could not be computed"]
        if includes_zero(ci.loc[name, "ci_lower"], ci.loc[name, "ci_upper"]):
            return [f"no evidence of a link between {what} in these data: the {level} interval includes 0"]
        return []

    def note(*parts: str) -> str:
        return "; ".join(p for p in parts if p)

    retention = HeadlineFigure(
        placeholders[0].label,
        float(e["mediator_effect"]),
        "number",
        ci=interval("mediator_effect"),
        note=note(*null("mediator_effect", "satisfaction and retention"), lag, ASSOCIATION, *retention_problems),
        key=CHAIN_KEYS[0],
    )
    per_period = HeadlineFigure(
        placeholders[1].label,
        float(e["mediator_to_outcome"]),
        "money",
        ci=interval("mediator_to_outcome"),
        unit=cur,
        note=note(
            *null("mediator_to_outcome", f"retention and {money}"),
            f"customers who stay longer may differ in size: {ASSOCIATION}",
        ),
        key=CHAIN_KEYS[1],
    )
    total_null = null("total", f"satisfaction and {money}")
    if total_null:
        bounds = interval("total")
        where = f" ({bounds[0]:,.0f} to {bounds[1]:,.0f} {cur})" if bounds is not None else ""
        value = HeadlineFigure(
            placeholders[2].label,
            None,
            "money",
            unit=cur,
            note=note(f"not stated: {total_null[0]}{where}, so no money value of satisfaction", lag),
            key=CHAIN_KEYS[2],
        )
    else:
        ind_lo, ind_hi = ci.loc["indirect", "ci_lower"], ci.loc["indirect", "ci_upper"]
        value = HeadlineFigure(
            placeholders[2].label,
            float(e["total"]),
            "money",
            ci=interval("total"),
            unit=cur,
            note=note(
                f"{e['indirect']:,.0f} {cur} [{ind_lo:,.0f}, {ind_hi:,.0f}] of it through retention",
                lag or f"follow-up {money}",
                f"{ASSOCIATION}: a customer trait that raises both satisfaction and spend inflates the direct part",
                *problems,
            ),
            key=CHAIN_KEYS[2],
        )
    hl.set(retention, per_period, value)
    hl.refresh()
    return hl


def chain_sentence(figures: Sequence[HeadlineFigure]) -> str:
    """The chain headline's sentence in plain words: the links found, the value of +1 point, the caveat.

    A link is stated only when its interval excludes 0
    (:func:`bsc_toolkit.report_retention.shows_link`); otherwise, or when no interval could be
    computed, the sentence says there is no evidence. A money value is stated only when the figure
    has one. Numbers are written as the cards write them. The KPI figures' change follows
    (:func:`bsc_toolkit.headline.headline_sentence`).
    """
    from bsc_toolkit.headline import format_figure, format_interval, headline_sentence
    from bsc_toolkit.report_retention import ASSOCIATION, NO_CSAT, shows_link

    def with_interval(fig: HeadlineFigure) -> str:
        interval = format_interval(fig)
        return f"{format_figure(fig)} {interval}" if interval else format_figure(fig)

    by_key = {f.key: f for f in figures}
    retention, value = by_key.get(CHAIN_KEYS[0]), by_key.get(CHAIN_KEYS[2])
    top = by_key.get(_TOP_DRIVER_KEY)
    retention_link = retention is not None and shows_link(retention, 0.0)
    parts = []
    if any(f.note == NO_CSAT for f in figures):
        parts.append(
            "This data set has no satisfaction surveys, so neither the drivers nor the chain can be estimated."
        )
    if top is not None and top.value is not None:
        parts.append(
            f"The {top.label.replace(' of CSAT: ', ' of CSAT is ')} ({format_figure(top)} of the explained variance)."
        )
    if retention is not None and retention.value is not None:
        if retention_link:
            sign = "+" if retention.value > 0 else ""
            unit = retention.label.split(" retained")[0]
            parts.append(f"One CSAT point more goes with {sign}{with_interval(retention)} {unit} retained.")
        else:
            parts.append("There is no evidence of a link between satisfaction and retention in these data.")
    if value is not None:
        if value.value is not None:
            money = "margin" if "(margin" in value.label else "revenue"
            parts.append(f"It is worth {with_interval(value)} of follow-up {money} per customer.")
        elif (value.note or "").startswith("not stated"):
            parts.append("There is no evidence of a link between satisfaction and money in these data.")
    if (value is not None and value.value is not None) or retention_link:
        parts.append(f"This is an {ASSOCIATION}.")
    kpis = [f for f in figures if f.key not in (*CHAIN_KEYS, _TOP_DRIVER_KEY)]
    if kpis:
        parts.append(headline_sentence(kpis))
    return " ".join(parts)


def chain_effects_frame(chain: Any) -> pd.DataFrame:
    """The chain's effects as a tidy table: ``effect, estimate, se, estimate_ci_lower, estimate_ci_upper, p_value, unit``.

    :func:`bsc_toolkit.tables.estimates_frame` of the chain's summary. The proportion mediated is a
    ratio whose "= 0" is not its question: its p-value stays missing.
    """
    from bsc_toolkit.tables import estimates_frame

    return estimates_frame(chain.summary, label="effect", extra=("unit",))


def driver_intro_markdown(drivers: Any) -> str:
    """One line above the driver table: target, method, answers, respondents and R² with its interval (Markdown)."""
    drivers._check_fitted()
    level = f"{100 * (1 - drivers.alpha):.0f}%"
    name = "Shapley/LMG" if drivers.method == "shapley" else "Johnson's relative weights"
    lo, hi = drivers.r2_ci_
    return (
        f"Driver importance for {escape_markdown(drivers.target_)} ({name}): {drivers.n_obs_:,} answers from "
        f"{drivers.n_clusters_:,} respondents; R² = {drivers.r2_:.3f} ({level} CI {lo:.3f} to {hi:.3f})."
    )


def driver_table(drivers: Any, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The driver analysis as a tidy table: ``driver, share`` (+ interval), ``rank, p_rank``, then the coefficient
    (``estimate, se`` + interval, ``p_value``) and its ``unit``.

    :func:`bsc_toolkit.tables.estimates_frame` of the drivers' summary, the drivers under their
    display names, the importance first. ``share`` is the driver's share of the explained variance
    (0-1), ``p_rank`` the share of bootstrap draws giving it its rank, ``estimate`` csat points per
    rating point (``unit``).
    """
    from bsc_toolkit.tables import estimates_frame

    first = ["share", "share_ci_lower", "share_ci_upper", "rank", "p_rank"]
    out = estimates_frame(drivers.summary, label="driver", extra=(*first, "unit"))
    out["driver"] = [str((labels or {}).get(d, d)) for d in out["driver"]]
    return out[["driver", *first, *(c for c in out.columns if c not in ("driver", *first))]]


def chain_models_markdown(chain: Any) -> str:
    """The chain's two models in words above its effects table (Markdown; formulas in code font)."""
    chain._check_fitted()
    level = f"{100 * (1 - chain.alpha):.0f}%"

    def code(formula: str) -> str:  # the package's own formulas (fixed column names): a code span, unless odd
        return f"`{formula}`" if "`" not in formula and "<" not in formula else escape_markdown(formula)

    return (
        f"Service-profit chain {escape_markdown(chain.treatment_)} -> {escape_markdown(chain.mediator_)} -> "
        f"{escape_markdown(chain.outcome_)}: {chain.n_obs_:,} customers, {level} bootstrap intervals. Mediator model "
        f"{code(chain.formulas_['mediator'])}; outcome model {code(chain.formulas_['outcome'])}. "
        "The proportion mediated has no p-value: it is a ratio, and '= 0' is not its question."
    )
