"""The customer-value (CLV) report: which model, the tables it is fitted on, and what it says in words.

The notebook ``customer_value.ipynb`` stays thin; what it decides or says lives here, with tests:

* :func:`clv_model_choice` -- contractual (subscribers: churn is observed, the shifted-beta-geometric
  model, sBG) or non-contractual (purchases: drop-out is inferred from silence, BG/NBD), from the
  data set description (``clv.contractual``) or, when it is silent, from what the data hold; with
  the satisfaction covariate when there are enough survey answers, and where the value of a
  subscriber comes from (revenue in the transactions, or a balance column).
* :func:`subscriber_table` -- one row per subscriber for the sBG: tenure in whole contract
  periods, churned, revenue per active period (or the balance), mean csat; what it left out is
  said in ``attrs["notes"]``. :func:`subscriber_holdout` and :func:`holdout_survival` -- the same
  table at an earlier calibration end and the forecast-vs-actual renewals of the customers active
  at it (the fitted-vs-observed curve by tenure is the sBG's own ``retention_curve``).
* :func:`rfm_with_covariates` -- the RFM summary with the csat covariate for the BG/NBD with covariates.
* :func:`subscriber_value` -- DERL and the residual value of each active subscriber, in money when
  revenue (or a balance and its margin) gives one.
* Words: :func:`choice_markdown`, :func:`fit_status_markdown` (each fitter's ``fit_status_`` in
  words, beside its table), :func:`what_if_markdown` (+X csat points -> retention and CLV with
  intervals, "no evidence of an effect" where an interval includes 0, and the caveat that this is
  an association, not a causal effect), :func:`covariate_effects_markdown` (the covariate's
  coefficients as ratios per point), and the report's paragraphs (:func:`model_markdown`,
  :func:`subscriber_overview_markdown`, :func:`holdout_markdown`, :func:`retention_fit_markdown`,
  :func:`subscriber_value_markdown`, :func:`lack_of_fit_markdown` -- beside the values, what a
  failed goodness-of-fit check of the sBG means for them --, :func:`caveats_markdown`, which
  follow what the data allow: a snapshot has no left truncation and no holdout), :func:`buyer_value_markdown`,
  :func:`at_risk_markdown` and :func:`fit_markdown` (the fit status and the diagnostics of a fit);
  :func:`format_amount` writes a what-if or at-risk number in its unit, for words and tables alike.

Tenure, in whole contract periods
---------------------------------
The sBG (Fader & Hardie 2007) counts renewals: a customer acquired at time 0 renews at the end of
every contract period (every month, quarter or year after *their own* acquisition date, so a
customer acquired mid-calendar-period is counted from that day), or leaves. ``tenure`` is

* for a customer still active at the end of the data: the renewals observed by then, i.e. the
  number of whole periods completed on the last day of the data (a customer acquired on
  1 October with data to 31 December has not reached their first renewal, on 1 January: tenure 0);
* for a churned customer: the period in which they left, i.e. the renewals they made before the
  churn day plus one. A churn *on* an anniversary (a period boundary) is the non-renewal at the end
  of the period just completed (acquired 15 January, left 15 July, quarters: tenure 2); a churn
  during a period counts at the end of that period (contracts run to the end of the period
  begun: left 20 July -> tenure 3); a churn on the acquisition day is tenure 1;
* a churn during a customer's last, *incomplete* period (its renewal date is after the end of the
  data) is not counted as a churn: the customer is censored at their last renewal, like the
  customers who are in that incomplete period and stayed (counting the churns of an incomplete
  period but not its stayers would overstate churn). ``churned`` is what the model sees; ``active``
  says who is still a customer at the end (only they have a residual value);
* on snapshot data (no dates): the tenure column in whole periods of its own unit (``tenure_unit``;
  days and weeks are counted in months), read as whole periods completed (``Tenure: 3`` = three
  full years) at the snapshot for the customers who stayed and at their exit for those who left,
  with the convention of dated data: a stayer with ``k`` whole periods has renewed ``k`` times
  (tenure ``k``, censored there); a leaver with ``k`` whole periods left *during* period ``k + 1``
  (tenure ``k + 1``, churned), as a dated customer who leaves after ``k`` renewals does. So a
  leaver with tenure 0 left in period 1 and a leaver with tenure 1 in period 2. A snapshot cannot
  tell whether a leaver's last period had ended by the snapshot date; a leaver in a period beyond
  the longest tenure of any stayer (a period nobody is seen to complete) is censored at their last
  renewal, as dated data censor a churn in a period that ends after the data.

Customers with tenure 0 (acquired in the last period, no renewal observed) carry no information
for the sBG and are left out, counted in the notes. Dated data whose customers were acquired before
the first dated record (the data's start) are *left-truncated*: they are in the data only because
they survived to its start. The sBG has no left truncation, so they are flagged
(``left_truncated``) and left out of the fit; their expected residual lifetime is still computed,
from the fitted model given their tenure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from bsc_toolkit.capabilities import contractual_data
from bsc_toolkit.formatting import diagnostics_markdown, escape_markdown
from bsc_toolkit.report_value import includes_zero

if TYPE_CHECKING:
    from bsc_toolkit.data.io import CustomerData

__all__ = [
    "BALANCE_COLUMNS",
    "MEASURE_LABELS",
    "MIN_COVARIATE_CUSTOMERS",
    "ClvChoice",
    "SubscriberHoldout",
    "at_risk_markdown",
    "buyer_value_markdown",
    "caveats_markdown",
    "choice_markdown",
    "clv_model_choice",
    "contract_discount_rate",
    "covariate_effects_markdown",
    "data_window",
    "fit_model_name",
    "fit_markdown",
    "fit_status_markdown",
    "format_amount",
    "has_lack_of_fit",
    "holdout_markdown",
    "holdout_survival",
    "lack_of_fit_markdown",
    "mean_csat",
    "model_markdown",
    "months_per_period",
    "points_text",
    "retention_fit_markdown",
    "rfm_with_covariates",
    "subscriber_holdout",
    "subscriber_overview_markdown",
    "subscriber_table",
    "subscriber_value",
    "subscriber_value_markdown",
    "value_per_period",
    "what_if_markdown",
]

#: Months in one contract period.
_MONTHS: dict[str, int] = {"M": 1, "Q": 3, "Y": 12}
_PERIOD_WORDS: dict[str, str] = {"M": "month", "Q": "quarter", "Y": "year"}
#: Contract period of a snapshot's tenure unit (days and weeks are counted in months).
_UNIT_PERIOD: dict[str, str] = {"days": "M", "weeks": "M", "months": "M", "quarters": "Q", "years": "Y"}
#: Mean length of a month in days (for exposure in periods).
_MONTH_DAYS = 365.2425 / 12
#: Customers with a csat answer needed before satisfaction enters the CLV model as a covariate.
MIN_COVARIATE_CUSTOMERS = 100
#: Customer columns read as an account balance (compared in lower case), the value of a
#: subscriber when there are no transactions (keep the column with ``keep: [Balance]``).
BALANCE_COLUMNS: tuple[str, ...] = ("balance", "account_balance")


def months_per_period(period: str) -> int:
    """Months in a contract period: ``"M"`` 1, ``"Q"`` 3, ``"Y"`` 12."""
    key = str(period).upper()[:1]
    if key not in _MONTHS:
        raise ValueError(f"contract period {period!r}: use M (month), Q (quarter) or Y (year)")
    return _MONTHS[key]


def _period_word(period: str) -> str:
    return _PERIOD_WORDS[str(period).upper()[:1]]


def contract_discount_rate(discount_rate_monthly: float, period: str) -> float:
    """The discount rate per contract period equivalent to a monthly one: ``(1 + d)^months - 1``."""
    return float((1.0 + discount_rate_monthly) ** months_per_period(period) - 1.0)


# -- what the data hold ---------------------------------------------------------------------------
def _count(n: int, noun: str) -> str:
    """``"1 customer"``, ``"2,000 customers"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _scaled_count(n: int, noun: str, scale: float = 1.0) -> str:
    """:func:`_count`, or on a sample of customers scaled to the whole base: "about 24,680 customers (1,234 in the sample)"."""
    if scale == 1:
        return _count(n, noun)
    return f"about {n * scale:,.0f} {noun}s ({n:,} in the sample)"


def _scale_words(scale: float) -> str:
    """The sentence after totals of a sample scaled to every customer ("" when not scaled)."""
    if scale == 1:
        return ""
    return (
        f" Totals and counts are those of the random sample of customers scaled to the whole base (x {scale:,.4g}); "
        "their intervals cover the model's and the bootstrap's uncertainty, not the sampling of customers; means, "
        "medians and shares are the sample's."
    )


def _has_values(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _balance_column(customers: pd.DataFrame) -> str | None:
    for col in customers.columns:
        if str(col).strip().lower().replace(" ", "_") in BALANCE_COLUMNS and pd.api.types.is_numeric_dtype(
            customers[col]
        ):
            return str(col)
    return None


def data_window(data: CustomerData) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last day the data cover (``None, None`` on snapshot data or without any date).

    The start is ``observation_start`` when declared; else the earliest churn, survey or order date:
    the first day the data record anything happening to customers. Customers acquired before it
    are the installed base, in the data because they were still customers then (left-truncated):
    a customers table that lists leavers from its first years on starts early, one that holds only
    the customers alive when the records began starts when they began. Without any of those dates,
    the first acquisition. The end is ``observation_end`` when declared, else the last date of any
    kind (acquisition, churn, survey, order). Both are days (times dropped); the end counts in full.
    """
    if data.is_snapshot:
        return None, None
    desc = data.description
    c = data.customers
    columns = ((data.surveys, "surveyed_at"), (data.transactions, "ordered_at"), (c, "churned_at"))
    events = [s for s in (frame[col].dropna() for frame, col in columns if col in frame.columns) if len(s)]
    acquired = [s for s in (c["acquired_at"].dropna(),) if len(s)] if "acquired_at" in c.columns else []
    if not events and not acquired:
        return None, None
    if desc.observation_start is not None:
        start = desc.observation_start
    else:
        start = min(s.min() for s in (events or acquired))
    end = desc.observation_end if desc.observation_end is not None else max(s.max() for s in (*events, *acquired))
    return pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()


def _dated_churn(customers: pd.DataFrame) -> bool:
    """Whether churn and tenure are observed as dates (else, for subscribers, as a churn flag with a tenure)."""
    return "churned_at" in customers.columns and _has_values(customers, "acquired_at")


def mean_csat(data: CustomerData, end: pd.Timestamp | None = None, column: str = "csat") -> pd.Series:
    """Each customer's mean ``column`` rating over their survey answers up to ``end`` (inclusive).

    The covariate of the CLV models with satisfaction: one static value per customer. The mean of
    all answers (not the latest) is the steadier measure of a customer's satisfaction level; a
    latest answer given just before leaving would put the outcome into the covariate. Customers
    never surveyed are absent (NaN after a join: no data, never a score).

    Parameters
    ----------
    data : CustomerData
    end : Timestamp, optional
        Last day whose answers count (a calibration end); default all answers.
    column : str
        The rating.

    Returns
    -------
    Series
        Indexed by ``customer_id``, named ``column``.
    """
    s = data.surveys
    if column not in s.columns or s.empty:
        return pd.Series(dtype=float, name=column, index=pd.Index([], name="customer_id"))
    s = s[["customer_id", "surveyed_at", column]].dropna(subset=[column])
    if end is not None and "surveyed_at" in s.columns:
        s = s[s["surveyed_at"].isna() | (s["surveyed_at"] < pd.Timestamp(end).normalize() + pd.Timedelta(days=1))]
    out = s.groupby("customer_id")[column].mean().astype(float)
    out.name = column
    return out


# -- the model choice -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClvChoice:
    """Which CLV model the report fits, and why.

    Attributes
    ----------
    contractual : bool
        True: subscribers, churn observed (sBG). False: purchases, drop-out inferred (BG/NBD + Gamma-Gamma).
    reason : str
        One sentence for the report (plain text: escape it for Markdown).
    covariates : list of str
        ``["csat"]`` when enough customers (:data:`MIN_COVARIATE_CUSTOMERS`) have a csat answer
        that varies, else ``[]``.
    value_source : {"transactions", "balance"} or None
        Where a customer's money value comes from: revenue in the transactions, a balance column
        of the customers table (contractual only), or nothing (DERL only).
    period : str
        The contract period tenure is counted in (``"M"``, ``"Q"``, ``"Y"``): a snapshot's tenure
        unit, else the data set's frequency. Meaningful for the contractual model only.
    balance_column : str or None
        The customers column read as a balance (user text: escape it).
    covariate_reason : str
        Why satisfaction is or is not a covariate (one sentence, plain text).
    """

    contractual: bool
    reason: str
    covariates: list[str] = field(default_factory=list)
    value_source: Literal["transactions", "balance"] | None = None
    period: str = "Q"
    balance_column: str | None = None
    covariate_reason: str = ""

    @property
    def model(self) -> str:
        """``"sBG"`` or ``"BG/NBD"``."""
        return "sBG" if self.contractual else "BG/NBD"

    @property
    def period_name(self) -> str:
        """The contract period in words (``"quarter"``)."""
        return _period_word(self.period)


def clv_model_choice(data: CustomerData, contractual: bool | None = None, period: str | None = None) -> ClvChoice:
    """Choose the CLV model: contractual (sBG) or non-contractual (BG/NBD), covariates, value source.

    The rule, in order:

    1. ``contractual`` given (the report's override), else ``clv.contractual`` of the data set
       description when set (true/false): it wins, whatever the data hold.
    2. Otherwise from the data: churn observed (churn dates or a churn flag) together with tenure
       (acquisition dates or a tenure column) -> contractual: a subscription business, where a
       customer's leaving is recorded rather than inferred.
    3. Transactions without that -> non-contractual: drop-out is never observed and the BG/NBD
       infers it from silence.
    4. Neither: non-contractual by default (the report then says which data it needs).

    Parameters
    ----------
    data : CustomerData
    contractual : bool, optional
        Override of the description's ``clv.contractual``.
    period : {"M", "Q", "Y"}, optional
        The contract period for tenure; default a snapshot's tenure unit, else the data's frequency.

    Returns
    -------
    ClvChoice
    """
    desc = data.description
    has_tx = data.has("transactions")
    subscription = contractual_data(data)
    how = (
        "churn dates and acquisition dates"
        if _dated_churn(data.customers)
        else "a churn flag and each customer's tenure"
    )
    balance = _balance_column(data.customers)
    if contractual is not None or desc.clv.contractual is not None:
        is_contractual = bool(contractual if contractual is not None else desc.clv.contractual)
        source = "the report's parameter" if contractual is not None else "the data set description"
        setting = (
            f"contractual={is_contractual}"
            if contractual is not None
            else (f"clv.contractual: {str(is_contractual).lower()}")
        )
        if is_contractual:
            reason = (
                f"Customers are contractual because {source} says so ({setting}): churn is observed, so retention "
                "is modelled with the shifted-beta-geometric (sBG) model of contract renewals."
            )
        else:
            reason = (
                f"Customers are non-contractual because {source} says so ({setting}): drop-out is not observed, so "
                "the BG/NBD model infers it from the purchase history."
            )
    elif subscription:
        is_contractual = True
        reason = (
            f"Customers are contractual: the data record {how}, so churn is observed, as in a subscription "
            "business; retention is modelled with the shifted-beta-geometric (sBG) model of contract renewals "
            "(set clv.contractual: false in dataset.yaml to use the BG/NBD purchase model instead)."
        )
    elif has_tx:
        is_contractual = False
        why = (
            "churn is recorded but tenure is not (no acquisition dates or tenure column)"
            if ("churned_at" in data.customers.columns or "churned" in data.customers.columns)
            else "there is no observed churn"
        )
        reason = (
            f"Customers are non-contractual: the data hold transactions and {why}, so drop-out is inferred from "
            "silence with the BG/NBD model (set clv.contractual: true in dataset.yaml for subscribers)."
        )
    else:
        is_contractual = False
        reason = (
            "The data hold neither transactions nor churn with tenure, so neither CLV model (BG/NBD for "
            "purchases, sBG for subscribers) can be fitted."
        )

    if is_contractual:
        value_source: Literal["transactions", "balance"] | None = (
            "transactions" if has_tx else ("balance" if balance is not None else None)
        )
    else:
        value_source = "transactions" if has_tx else None
    if period is None:
        if data.is_snapshot and "customers" in desc.tables:
            period = _UNIT_PERIOD[desc.tables["customers"].tenure_unit]
        else:
            period = data.freq
    months_per_period(period)  # checks it

    csat = mean_csat(data)
    n_csat = int(csat.notna().sum())
    varies = csat.nunique() > 1
    if n_csat >= MIN_COVARIATE_CUSTOMERS and varies:
        covariates = ["csat"]
        covariate_reason = f"{_count(n_csat, 'customer')} {'has' if n_csat == 1 else 'have'} a csat answer: satisfaction enters the CLV model as a covariate."
    elif n_csat == 0:
        covariates = []
        covariate_reason = "No csat answers: satisfaction cannot enter the CLV model."
    else:
        covariates = []
        covariate_reason = (
            f"Only {_count(n_csat, 'customer')} {'has' if n_csat == 1 else 'have'} a csat answer"
            + ("" if varies else ", all the same score")
            + f": satisfaction enters the CLV model as a covariate from {MIN_COVARIATE_CUSTOMERS:,} customers with "
            "varying answers."
        )
    return ClvChoice(
        contractual=is_contractual,
        reason=reason,
        covariates=covariates,
        value_source=value_source,
        period=str(period).upper()[:1],
        balance_column=balance,
        covariate_reason=covariate_reason,
    )


def choice_markdown(choice: ClvChoice, currency: str) -> str:
    """The model choice in words (Markdown, escaped): which model, why, the value and the covariate."""
    lines = [f"**Model: {escape_markdown(choice.model)}.** {escape_markdown(choice.reason)}"]
    cur = escape_markdown(currency)
    if choice.contractual:
        value = {
            "transactions": f"a subscriber's value is their mean revenue per active {choice.period_name} in the "
            f"transactions (refunds netted), in {cur}",
            "balance": f"there are no transactions: a subscriber's value is weighted by their balance (column "
            f"{escape_markdown(choice.balance_column)}, {cur}); a balance is not profit",
            None: "there are no transactions and no balance column: the report shows expected lifetimes, not "
            "money (keep a balance column with keep: [Balance] under tables.customers, or add transactions)",
        }[choice.value_source]
        lines.append(f"Tenure is counted in contract {choice.period_name}s; {value}.")
    lines.append(escape_markdown(choice.covariate_reason))
    return " ".join(lines)


# -- tenure in whole periods ----------------------------------------------------------------------
def _renewals(start: pd.Series, stop: pd.Series, months: int) -> np.ndarray:
    """Number of k >= 1 with ``start + k * months`` months on or before ``stop`` (days; vectorised).

    ``start + n months`` is the same day of the month, or the month's last day when it is shorter
    (31 January + 1 month = 28/29 February). NaT anywhere gives -1.
    """
    a = _as_dates(start)
    b = _as_dates(stop)
    ok = (a.notna() & b.notna()).to_numpy()
    out = np.full(len(a), -1, dtype=np.int64)
    if not ok.any():
        return out
    a, b = a[ok], b[ok]
    diff = (b.dt.year - a.dt.year) * 12 + (b.dt.month - a.dt.month)
    day = np.minimum(a.dt.day.to_numpy(), b.dt.days_in_month.to_numpy())
    completed_months = diff.to_numpy() - (b.dt.day.to_numpy() < day)
    out[ok] = np.maximum(completed_months, 0) // months
    return out


def _as_dates(values: pd.Series) -> pd.Series:
    """Timestamps as days (times dropped), without re-parsing columns that are dates already."""
    values = values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values, cache=False)
    return values.dt.normalize()


def _days(a: pd.Series, b: pd.Series) -> np.ndarray:
    return ((_as_dates(b) - _as_dates(a)) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def subscriber_table(
    data: CustomerData,
    period: str | None = None,
    end: Any = None,
    balance_column: str | None = None,
    covariate: str = "csat",
) -> pd.DataFrame:
    """One row per subscriber for the sBG: tenure in whole periods, churned, value per period, csat.

    See the module docstring for how tenure is counted (renewals on each customer's own
    anniversaries; a churn on a boundary, during a period, on snapshot data).

    Parameters
    ----------
    data : CustomerData
        Dated data with ``acquired_at`` (and ``churned_at``), or snapshot data with ``churned`` and
        ``tenure_months``.
    period : {"M", "Q", "Y"}, optional
        The contract period; default as :func:`clv_model_choice` chooses it.
    end : date-like, optional
        Last day of the data (inclusive) for this table, e.g. a calibration end: churns after it
        have not happened yet, customers acquired after it are not there, only revenue and survey
        answers up to it count. Default :func:`data_window`'s end. Dated data only.
    balance_column : str, optional
        A customers column with a balance; default the one :func:`clv_model_choice` finds.
    covariate : str
        The rating averaged per customer into the covariate column.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (customers with tenure >= 1 only): ``tenure`` (int >= 1),
        ``churned`` (bool: left at the end of period ``tenure``; False: renewed ``tenure`` times,
        censored there), ``active`` (bool: still a customer on the last day), ``left_truncated`` (bool: acquired before the data's start, not fit
        by the sBG), ``revenue_per_period`` (net revenue per active period over the days the
        transaction log covers inside the data window, refunds netted; an active time of less than
        one period counts as one, as a period begun is billed; NaN when the data set has no
        transactions or the customer has none there: no data, never 0), ``balance``
        (when a balance column exists) and ``covariate`` (:func:`mean_csat` up to ``end``; NaN:
        never surveyed). ``attrs``: ``notes`` (list of str: customers left out and why, counted),
        ``period``, ``start``, ``end``.

    Raises
    ------
    NotEstimableError
        When the data have no churn information with tenure, or no customer is left.
    """
    from bsc_toolkit.models._base import NotEstimableError

    c = data.customers
    if period is None:
        period = clv_model_choice(data).period
    months = months_per_period(period)
    word = _period_word(period)
    balance_column = balance_column if balance_column is not None else _balance_column(c)
    notes: list[str] = []
    dated = _dated_churn(c) and not data.is_snapshot
    snapshot = "churned" in c.columns and _has_values(c, "tenure_months")
    start, data_end = data_window(data)
    if dated:
        stop = pd.Timestamp(end).normalize() if end is not None else data_end
        assert start is not None and stop is not None
        acquired = c["acquired_at"]
        churned_at = c["churned_at"]
        no_date = acquired.isna()
        later = acquired.notna() & (acquired.dt.normalize() > stop)
        if no_date.any():
            notes.append(
                f"{_count(int(no_date.sum()), 'customer')} without an acquisition date are left out (no tenure)."
            )
        keep = ~(no_date | later).to_numpy()
        c = c[keep]
        acquired, churned_at = c["acquired_at"], c["churned_at"]
        gone = (churned_at.notna() & (churned_at.dt.normalize() <= stop)).to_numpy()
        # renewals observed by the end, for everyone; the period a churner left in
        observed = _renewals(acquired, pd.Series(stop, index=acquired.index), months)
        left_in = np.maximum(_renewals(acquired, churned_at.dt.normalize() - pd.Timedelta(days=1), months), 0) + 1
        # a churn in the last, incomplete period counts as censored at the last renewal (see the docstring)
        churn_seen = gone & (left_in <= observed)
        partial = gone & ~churn_seen
        tenure = np.where(churn_seen, left_in, observed)
        truncated = (acquired.dt.normalize() < start).to_numpy()
    elif snapshot:
        if end is not None:
            raise ValueError("a snapshot has no dates: a table at an earlier end needs dated data")
        stop = None
        unit_periods = c["tenure_months"].to_numpy(dtype=float) / months
        missing = np.isnan(unit_periods) | c["churned"].isna().to_numpy()
        if missing.any():
            notes.append(f"{_count(int(missing.sum()), 'customer')} without a tenure or churn flag are left out.")
        c = c[~missing]
        whole = np.floor(unit_periods[~missing] + 1e-9).astype(np.int64)
        gone = c["churned"].astype(bool).to_numpy()
        # a leaver in a period no stayer has completed (beyond the longest stayer's tenure) cannot be weighed
        # against the stayers of that period: censored at their last renewal, as dated data censor a churn in an
        # incomplete period (else that period shows 100% churn)
        longest = int(whole[~gone].max()) if (~gone).any() else -1
        partial = gone & (whole + 1 > longest)
        churn_seen = gone & ~partial
        # as dated data count it: a leaver after `whole` renewals left in period whole + 1; a stayer renewed `whole` times
        tenure = np.where(churn_seen, whole + 1, whole)
        truncated = np.zeros(len(c), dtype=bool)
        exposure = np.maximum(unit_periods[~missing], 1.0)  # the whole tenure: snapshot transactions are undated
    else:
        raise NotEstimableError(
            "the customers table has no churn with tenure (churn and acquisition dates, or a churn flag with a "
            "tenure column): the contractual (sBG) model needs both"
        )

    zero = tenure < 1
    if zero.any():
        notes.append(
            f"{_count(int(zero.sum()), 'customer')} "
            + (
                f"still active with a tenure under one {word} at the snapshot"
                if stop is None
                else f"acquired within the last {word}"
            )
            + " (no renewal observed yet, tenure 0) are left out: they carry no information on retention."
        )
    if partial[~zero].any() and stop is None:
        notes.append(
            f"{_count(int(partial[~zero].sum()), 'customer')} left during {word} {longest + 1}, which no customer who stayed "
            f"has completed (the longest tenure of a stayer is {longest} {word}s): for the model they renewed until their "
            f"last renewal and are censored there (counting the churns of a {word} that no stayer is seen to complete "
            f"would show it as 100% churn); they have no residual value."
        )
    elif partial[~zero].any():
        notes.append(
            f"{_count(int(partial[~zero].sum()), 'customer')} left during their last, incomplete {word} (its renewal date is "
            f"after the end of the data): for the model they renewed until their last renewal date and are censored "
            f"there, as the customers who stayed are (counting the churns of an incomplete {word} but not its stayers "
            "would overstate churn); they have no residual value."
        )
    if truncated[~zero].any():
        notes.append(
            f"{_count(int(truncated[~zero].sum()), 'customer')} acquired before the data start ({start:%Y-%m-%d}) are "
            "left-truncated (in the data because they survived to it): they are left out of the sBG fit, and their "
            "expected residual lifetime comes from the fitted model given their tenure."
        )
    index = pd.Index(c["customer_id"].to_numpy(), name="customer_id")
    out = pd.DataFrame(
        {
            "tenure": tenure.astype(np.int64),
            "churned": churn_seen.astype(bool),
            "active": ~gone.astype(bool),
            "left_truncated": truncated.astype(bool),
        },
        index=index,
    )
    if dated:
        out["acquired_at"] = c["acquired_at"].to_numpy()
    # revenue per active period (refunds netted: the sum of all lines, negative ones included)
    revenue = pd.Series(np.nan, index=index)
    tx = data.transactions
    if data.has("transactions"):
        if dated:
            # the revenue window: the days the transaction log covers, inside the data window
            tx = tx[(tx["ordered_at"] >= start) & (tx["ordered_at"] < stop + pd.Timedelta(days=1))]
            first = max(start, tx["ordered_at"].min().normalize()) if len(tx) else start
            last_day = min(stop, tx["ordered_at"].max().normalize()) if len(tx) else stop
            t0 = acquired.where(acquired >= first, first)
            left = pd.Series(gone, index=c.index) & (churned_at <= last_day)
            t1 = churned_at.where(left, last_day + pd.Timedelta(days=1))
            exposure = np.maximum(_days(t0, t1) / (months * _MONTH_DAYS), 1.0)
        net = tx.groupby("customer_id")["revenue_usd"].sum()
        revenue = net.reindex(index) / pd.Series(exposure, index=index)
        n_none = int(revenue[~zero].isna().sum())
        if n_none:
            notes.append(
                f"{_count(n_none, 'customer')} {'has' if n_none == 1 else 'have'} no transaction in the data: their revenue per {word} is no data (not 0), "
                "so they get no money value."
            )
    out["revenue_per_period"] = revenue.to_numpy(dtype=float)
    if balance_column is not None:
        out["balance"] = pd.to_numeric(c[balance_column], errors="coerce").to_numpy(dtype=float)
    out[covariate] = mean_csat(data, end=stop, column=covariate).reindex(index).to_numpy(dtype=float)
    out = out[~zero]
    if out.empty:
        raise NotEstimableError(f"no customer has completed a contract {word}: there is no tenure to model")
    out.attrs["notes"] = notes
    out.attrs["period"] = str(period).upper()[:1]
    out.attrs["start"] = start
    out.attrs["end"] = stop
    return out


# -- calibration / holdout for subscribers --------------------------------------------------------
@dataclass(frozen=True)
class SubscriberHoldout:
    """The subscriber table at a calibration end and at the data end, for a forecast check.

    Attributes
    ----------
    calibration, full : DataFrame
        :func:`subscriber_table` at ``calibration_end`` and at the data end.
    calibration_end : Timestamp
        The last day of the calibration period (``holdout_periods`` contract periods before the end).
    holdout_periods : int
    """

    calibration: pd.DataFrame
    full: pd.DataFrame
    calibration_end: pd.Timestamp
    holdout_periods: int


def subscriber_holdout(
    data: CustomerData, period: str, holdout_periods: int | None = None, full: pd.DataFrame | None = None
) -> SubscriberHoldout:
    """Split dated subscriber data at a calibration end ``holdout_periods`` periods before the data end.

    Parameters
    ----------
    data : CustomerData
        Dated data (a snapshot has no later period to forecast).
    period : {"M", "Q", "Y"}
    holdout_periods : int, optional
        Default a quarter of the data window in whole periods, at least 1 and at most 4: the
        calibration keeps most of the history, as the retention curve needs several periods (a
        calibration of one year of customers fits heterogeneity to noise and overstates retention).
    full : DataFrame, optional
        :func:`subscriber_table` at the data end, if already computed.

    Returns
    -------
    SubscriberHoldout

    Raises
    ------
    NotEstimableError
        On snapshot data, or when the window is shorter than two periods.
    """
    from bsc_toolkit.models._base import NotEstimableError

    start, end = data_window(data)
    if data.is_snapshot or start is None or end is None:
        raise NotEstimableError("a snapshot has no dates, so there is no later period to check a forecast against")
    months = months_per_period(period)
    window = int(_renewals(pd.Series([start]), pd.Series([end + pd.Timedelta(days=1)]), months)[0])
    if holdout_periods is None:
        holdout_periods = max(1, min(4, window // 4))
    if window < holdout_periods + 1:
        raise NotEstimableError(
            f"the data cover {window} whole {_period_word(period)}(s): too short for a calibration period and a "
            f"holdout of {holdout_periods}"
        )
    calibration_end = end - pd.DateOffset(months=months * holdout_periods)
    full = full if full is not None else subscriber_table(data, period)
    calibration = subscriber_table(data, period, end=calibration_end)
    return SubscriberHoldout(calibration, full, pd.Timestamp(calibration_end), int(holdout_periods))


def holdout_survival(holdout: SubscriberHoldout, survival: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """Forecast vs actual: of the customers active at the calibration end, how many renew k more times.

    A customer active at the calibration end with tenure ``t0`` there is forecast to make ``k`` more
    renewals with probability ``S(t0 + k) / S(t0)`` (the sBG fitted on the calibration period);
    actually they did when their tenure at the data end says so. Every customer active at the
    calibration end is counted, the left-truncated ones included (their forecast extrapolates the
    fitted curve to their longer tenure, as their residual value does).

    Parameters
    ----------
    holdout : SubscriberHoldout
    survival : callable
        ``S(t)`` of the fitted model, vectorised over an array of tenures.

    Returns
    -------
    DataFrame
        Indexed by ``k`` = 1..``holdout_periods`` (periods after the calibration end): ``n``
        (customers whose k-th renewal is observed), ``actual`` and ``expected`` (numbers renewing),
        ``actual_share``, ``expected_share``.
    """
    cal = holdout.calibration
    active = cal[~cal["churned"]]
    full = holdout.full.reindex(active.index)
    t0 = active["tenure"].to_numpy(dtype=float)
    t_full = full["tenure"].to_numpy(dtype=float)
    gone = full["churned"].fillna(False).to_numpy(dtype=bool)
    known = ~np.isnan(t_full)
    s0 = np.asarray(survival(t0), dtype=float)
    rows = []
    for k in range(1, holdout.holdout_periods + 1):
        target = t0 + k
        observed = known & (gone | (t_full >= target))
        renewed = observed & np.where(gone, t_full > target, t_full >= target)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.asarray(survival(target), dtype=float) / s0
        rows.append(
            {
                "k": k,
                "n": int(observed.sum()),
                "actual": float(renewed.sum()),
                "expected": float(np.nansum(p[observed])),
            }
        )
    out = pd.DataFrame(rows).set_index("k")
    out["actual_share"] = out["actual"] / out["n"].where(out["n"] > 0)
    out["expected_share"] = out["expected"] / out["n"].where(out["n"] > 0)
    return out


# -- subscriber value -----------------------------------------------------------------------------
def subscriber_value(
    table: pd.DataFrame,
    derl: pd.Series,
    value_source: str | None,
    balance_margin: float | None = None,
    period: str = "Q",
) -> pd.DataFrame:
    """The residual value of each active subscriber: DERL times their value per period.

    Parameters
    ----------
    table : DataFrame
        :func:`subscriber_table` rows of the active customers.
    derl : Series
        Discounted expected residual lifetime per customer (in periods), from the fitted sBG.
    value_source : {"transactions", "balance"} or None
        ``"transactions"``: ``clv_usd`` = revenue per period x DERL (NaN where the revenue is no
        data). ``"balance"``: ``balance_derl`` = balance x DERL (balance-periods, not money) and,
        with ``balance_margin``, ``clv_usd`` = balance x margin per period x DERL.
    balance_margin : float, optional
        Yearly margin earned on a balance (e.g. 0.015), pro rata per period.
    period : {"M", "Q", "Y"}

    Returns
    -------
    DataFrame
        ``table``'s rows with ``derl`` and, as available, ``clv_usd`` (money, data set currency;
        the suffix is historic) and ``balance_derl``.
    """
    out = table.copy()
    out["derl"] = derl.reindex(out.index).to_numpy(dtype=float)
    if value_source == "balance":
        out["balance_derl"] = out["balance"] * out["derl"]
    per_period = value_per_period(out, value_source, balance_margin, period)
    if per_period is not None:
        out["clv_usd"] = per_period * out["derl"]
    return out


def value_per_period(
    table: pd.DataFrame, value_source: str | None, balance_margin: float | None = None, period: str = "Q"
) -> pd.Series | None:
    """Each subscriber's value per contract period in money, or None when there is none.

    ``"transactions"``: their revenue per period, net of refunds (:func:`subscriber_table`): a
    customer whose refunds exceed their purchases has a negative value, kept as it is (the refunds
    are money lost), and no transactions is NaN (no data). ``"balance"`` with ``balance_margin``:
    the balance times the yearly margin, pro rata per period. Otherwise (a balance without a
    margin, or nothing) None: a balance is not money earned.

    The residual value (:func:`subscriber_value`) and the csat what-if
    (:func:`bsc_toolkit.report_clv_headline.sbg_what_if_compute`) both value a period by it.
    """
    if value_source == "transactions":
        return table["revenue_per_period"].astype(float)
    if value_source == "balance" and balance_margin is not None:
        return table["balance"].astype(float) * float(balance_margin) * months_per_period(period) / 12
    return None


# -- the BG/NBD with covariates -------------------------------------------------------------------
def rfm_with_covariates(
    summary: pd.DataFrame, data: CustomerData, covariates: Sequence[str] = ("csat",), end: Any = None
) -> pd.DataFrame:
    """The RFM summary joined with each customer's mean rating(s) for the BG/NBD with covariates.

    Parameters
    ----------
    summary : DataFrame
        :func:`~bsc_toolkit.models.clv.rfm.rfm_summary`, indexed by ``customer_id``.
    data : CustomerData
    covariates : sequence of str
        Rating columns averaged per customer (:func:`mean_csat`).
    end : date-like, optional
        Last day whose answers count (the calibration end of a calibration summary).

    Returns
    -------
    DataFrame
        ``summary`` with one column per covariate: NaN for customers never surveyed (no data).
    """
    out = summary.copy()
    for name in covariates:
        out[name] = mean_csat(data, end=end, column=name).reindex(out.index).to_numpy(dtype=float)
    return out


# -- words ----------------------------------------------------------------------------------------
def fit_status_markdown(*fitters: Any, labels: Mapping[int, str] | None = None) -> str:
    """Each fitter's fit status in words, for beside its table (Markdown bullets, escaped).

    Parameters
    ----------
    *fitters
        Fitted CLV models with ``fit_status_`` (model used, converged, boundary, message, usable).
    labels : mapping, optional
        Position -> a label naming the fit (e.g. ``{0: "calibration period"}``).

    Returns
    -------
    str
        One bullet per fitter: the model used; converged or not; at a boundary and what that
        means; whether its figures are shown.
    """
    lines = []
    for i, fitter in enumerate(fitters):
        s = fitter.fit_status_
        label = f" ({escape_markdown(labels[i])})" if labels and i in labels else ""
        parts = [f"**{escape_markdown(s.model)}**{label}:"]
        if not s.converged:
            parts.append("the maximum-likelihood search **did not converge**;")
        elif s.boundary:
            parts.append(f"at the {escape_markdown(s.boundary)};")
        else:
            parts.append("converged, inside the parameter space;")
        if s.usable:
            parts.append("its figures are shown.")
        else:
            parts.append("**its figures are withheld** (they would not be estimates of anything).")
        message = str(getattr(s, "message", "") or "").strip()
        if message:
            parts.append(escape_markdown(message))
        lines.append("- " + " ".join(parts))
    return "\n".join(lines)


def fit_markdown(*fitters: Any) -> str:
    """How each fit ended (**Fit status**, :func:`fit_status_markdown`), then what else the fits say (Markdown).

    The **Diagnostics** part lists the fits' diagnostics that the status does not already say (not the
    limit-model note, nor a message the status repeats); it is left out when there are none.
    """
    said = [str(f.fit_status_.message or "") for f in fitters]
    rest = [
        d
        for f in fitters
        for d in getattr(f, "diagnostics_", None) or []
        if d.code != "limit_model" and not any(text and text in d.message for text in said)
    ]
    notes = diagnostics_markdown(rest)
    return "**Fit status**\n\n" + fit_status_markdown(*fitters) + (f"\n\n**Diagnostics**\n\n{notes}" if notes else "")


#: The what-if measures of ``sbg_what_if`` and ``clv_what_if``, in words for a sentence.
MEASURE_LABELS: dict[str, str] = {
    "retention_rate_next_period": "retention at the next renewal",
    "churn_probability_next_period": "churn at the next renewal",
    "expected_periods_within_horizon": "expected periods as a customer within the horizon",
    "derl": "discounted expected residual lifetime (DERL)",
    "clv_total": "total residual value",
    "expected_purchases": "expected purchases over the horizon (total)",
    "mean_p_alive_now": "mean probability of being alive now",
    "mean_p_alive_horizon": "mean probability of being alive at the end of the horizon",
    "mean_dropout_probability": "mean drop-out probability after a purchase",
    "clv": "total CLV",
}


def _row_unit(name: str) -> str:
    low = str(name).lower()
    if "periods" in low:
        return "periods"
    if any(w in low for w in ("retention", "alive", "probability", "churn")):
        return "pp"
    if any(w in low for w in ("clv", "value", "money", "revenue")) and "derl" not in low:
        return "money"
    if "purchase" in low:
        return "purchases"
    if any(w in low for w in ("lifetime", "derl")):
        return "periods"
    return ""


def format_amount(
    value: float,
    unit: str,
    currency: str = "",
    *,
    change: bool = False,
    signed: bool | None = None,
    size: float | None = None,
    with_unit: bool = True,
) -> str:
    """A what-if or at-risk number in its unit, as plain text: for the words and the tables alike.

    Parameters
    ----------
    value : float
    unit : str
        ``"pp"`` (a probability: a level in percent, a change in percentage points), ``"share"`` (in
        percent), ``"money"`` (in ``currency``), another unit word ("quarters", "purchases"), or ``""``
        (three significant digits).
    currency : str
        Escape it (and a unit word) for Markdown before passing it.
    change : bool
        A change (probabilities in pp) rather than a level (in percent).
    signed : bool, optional
        "+" on positive numbers; default ``change`` (an interval bound in words is written unsigned).
    size : float, optional
        The largest number of its row (value and interval): money and unit words get no decimals
        from 100 up, else 2 (more for a small non-zero number, never "+0.00"). Default ``|value|``.
    with_unit : bool
        False: the number alone (an interval bound in a table, whose value says the unit).

    Returns
    -------
    str
        "+1.3 pp", "90.0%", "1,045,208 USD", "+0.004 USD", "2.35 quarters"; "no data" when not finite.
    """
    if not np.isfinite(value):
        return "no data"
    sign = "+" if (change if signed is None else signed) else ""

    def fixed(x: float, places: int) -> str:
        # more places for a small non-zero number than would round it to 0 ("-0.0")
        while places < 4 and x != 0 and abs(x) < 0.5 * 10.0**-places:
            places += 1
        return f"{x:{sign},.{places}f}"

    if unit == "pp" and change:
        return fixed(100 * value, 1) + (" pp" if with_unit else "")
    if unit in ("pp", "share"):
        return fixed(100 * value, 1) + ("%" if with_unit else "")
    if not unit:
        return f"{value:{sign},.3g}"
    places = 0 if (abs(value) if size is None else size) >= 100 else 2
    word = currency if unit == "money" else unit
    return f"{fixed(value, places)} {word}".strip() if with_unit else fixed(value, places)


def points_text(delta: float, covariate: str = "csat") -> str:
    """The what-if's change in words: ``"+1 csat point"``, ``"-0.5 csat points"`` (plain text)."""
    return f"{float(delta):+g} {covariate} point{'' if abs(float(delta)) == 1 else 's'}"


def what_if_markdown(
    table: pd.DataFrame,
    covariate: str,
    delta: float,
    currency: str,
    horizon: str | None = None,
    level: float = 0.95,
    periods: str = "periods",
    labels: Mapping[str, str] | None = None,
) -> str:
    """ "+1 csat point -> retention +x pp (95% CI ...), CLV +... (CI ...)" in words, with the caveat.

    Parameters
    ----------
    table : DataFrame
        From ``sbg_what_if`` or ``clv_what_if``: one row per measure (index: its name), columns
        ``baseline, scenario, change, change_ci_lower, change_ci_upper``. A measure's unit is
        read from its name: retention / P(alive) / churn probability in percentage points, CLV /
        value in money, purchases, lifetime / DERL in ``periods``.
    covariate : str
        The covariate moved (user-facing name, escaped).
    delta : float
        By how much (in its points).
    currency : str
    horizon : str, optional
        What the money figures cover, e.g. ``"12 months"`` or ``"the remaining lifetime"``.
    level : float
        Confidence level of the intervals.
    periods : str
        The unit of lifetimes ("quarters").
    labels : mapping, optional
        Measure -> its words, over :data:`MEASURE_LABELS`.

    Returns
    -------
    str
        Markdown: one sentence per measure with its interval; "no evidence of an effect" where the
        interval includes 0 (or is unknown), and no change is claimed there; then the caveat.
    """
    pct = f"{100 * level:.0f}%"
    points = points_text(delta, escape_markdown(covariate))
    cur = escape_markdown(currency)
    names = {**MEASURE_LABELS, **(labels or {})}
    effects, nulls = [], []
    for name, row in table.iterrows():
        unit = _row_unit(str(name))
        word = escape_markdown(periods) if unit == "periods" else unit
        label = escape_markdown(names.get(str(name), str(name).replace("_", " ")))
        if unit == "money" and horizon:
            label += f" over {escape_markdown(horizon)}"
        lo, hi = float(row["change_ci_lower"]), float(row["change_ci_upper"])
        finite = [abs(v) for v in (row["change"], lo, hi) if np.isfinite(v)]
        size = max(finite) if finite else 0.0

        def fmt(v: float, kind: str = "change", u: str = word, n: float = size) -> str:
            return format_amount(v, u, cur, change=kind != "level", signed=kind == "change", size=n)

        if not np.isfinite([lo, hi]).all():
            nulls.append(f"{label} (no interval could be computed)")
        elif includes_zero(lo, hi):
            nulls.append(f"{label} ({pct} CI {fmt(lo, 'bound')} to {fmt(hi, 'bound')} includes 0)")
        else:
            interval = f"{pct} CI {fmt(lo, 'bound')} to {fmt(hi, 'bound')}"
            effects.append(f"{label} {fmt(row['change'])} ({interval}; from {fmt(row['baseline'], 'level')})")
    lines = []
    if effects:
        lines.append(f"**{points}** goes with: " + "; ".join(effects) + ".")
    if nulls:
        lead = "Otherwise" if effects else f"**{points}**:"
        lines.append(f"{lead} **no evidence of an effect** on " + "; ".join(nulls) + ", so no change is claimed there.")
    lines.append(
        "This is an association estimated in observational data, not a causal effect: customers who rate higher "
        "may differ in other ways (needs, tenure, segment, price) that also keep them; raising satisfaction by "
        "policy need not move retention or value by this much. The hazard models of the retention report ask the "
        "same question period by period with controls; this model asks it of the whole customer lifetime."
    )
    return "\n\n".join(lines)


# -- the report's words ---------------------------------------------------------------------------
def model_markdown(choice: ClvChoice) -> str:
    """What the chosen model assumes, in words (Markdown)."""
    if choice.contractual:
        p = choice.period_name
        return (
            f"**The sBG model** (shifted-beta-geometric; Fader & Hardie 2007). Subscribers renew their contract at the "
            f"end of every {p} (counted from their own acquisition date) or leave. Each has their own churn "
            f"probability θ, the same in every {p}; θ varies across customers as Beta(α, β). Churn is *observed*: a "
            f"customer who left is known to have left. Because the customers most likely to leave leave first, the "
            f"retention rate of a cohort rises with tenure although no one's churn probability changes.\n\n"
            f"**DERL** (discounted expected residual lifetime; Fader & Hardie 2010): the expected number of future "
            f"renewals of an active subscriber, each discounted to today, given their tenure; their **residual value** "
            f"is DERL times their value per {p}. It counts the renewals from the next one on (the {p} in progress is "
            "paid) and has no horizon: it sums every future renewal, discounted."
        )
    return (
        "**BG/NBD.** While a customer is *alive* they buy at a constant rate λ per week (a Poisson process); rates "
        "differ across customers following a Gamma(r, α) distribution. After each repeat purchase a customer may "
        "*drop out* for good with probability p, which varies across customers as Beta(a, b). Drop-out is never "
        "observed: a customer who has not bought for a long time is either slow or gone, and the model weighs the "
        "two using their frequency (x, repeat purchase weeks), recency (t_x, weeks from first to last purchase) and "
        "age (T, weeks since first purchase). Purchases in the same week count once.\n\n"
        "**Gamma-Gamma.** A customer's purchase values vary around their own mean, which varies across customers. "
        "Their expected average value shrinks the observed mean toward the population mean, less so the more "
        "purchases we have seen. It assumes spend per purchase is independent of how often a customer buys.\n\n"
        "**CLV** = Σ over months i ≤ horizon of E[purchases in month i] × E[average value] / (1 + d)^i."
    )


def subscriber_overview_markdown(table: pd.DataFrame, choice: ClvChoice) -> str:
    """What the subscriber table holds, in words, with its notes (Markdown, escaped)."""
    p = choice.period_name
    n = len(table)
    churned = int(table["churned"].sum())
    active = int(table["active"].sum())
    partial = n - churned - active
    fitted = int((~table["left_truncated"]).sum())
    end = table.attrs.get("end")
    when = f"at the end of the data ({end:%Y-%m-%d})" if end is not None else "at the snapshot"
    t = table["tenure"]
    text = (
        f"**{_count(n, 'subscriber')}** with at least one renewal observed or a churn: {churned:,} left at the end "
        f"of a completed {p}, "
        + (f"{partial:,} left during their last, incomplete {p} (censored, see below), " if partial else "")
        + f"{active:,} are still customers {when}; tenure {int(t.min())} to "
        f"{int(t.max())} {p}s (median {t.median():g}). The sBG is fitted to {fitted:,} of them"
        + (" (the left-truncated ones are not)." if fitted < n else ".")
    )
    notes = table.attrs.get("notes") or []
    if notes:
        text += "\n\n" + "\n".join(f"- {escape_markdown(note)}" for note in notes)
    return text


def holdout_markdown(
    check: pd.DataFrame, holdout: SubscriberHoldout, n_fitted: int, period: str, model: str = "sBG"
) -> str:
    """The subscriber holdout check in words: forecast vs actual renewals after the calibration end.

    ``model`` names the calibration fit (:func:`fit_model_name`: ``"sBG"``, or its geometric limit).
    """
    word = _period_word(period)
    last = check.iloc[-1]
    k = int(check.index[-1])
    mae = float((check["expected_share"] - check["actual_share"]).abs().mean())
    return (
        f"Calibration ends on {holdout.calibration_end:%Y-%m-%d}; the {escape_markdown(model)} model fitted to the "
        f"{n_fitted:,} subscribers "
        f"known by then (left-truncated ones excepted) forecasts the renewals of the {int(check['n'].iloc[0]):,} "
        f"customers active on that day over the next {k} {word}{'s' if k != 1 else ''}. After {k} "
        f"{word}{'s' if k != 1 else ''}: forecast **{last['expected_share']:.1%}** still customers, actual "
        f"**{last['actual_share']:.1%}** ({100 * (last['expected_share'] - last['actual_share']):+.1f} pp); mean "
        f"absolute error over the {word}s {100 * mae:.1f} pp. This is an out-of-sample check: nothing after the "
        "calibration end went into the forecast."
    )


def subscriber_value_markdown(
    value: pd.DataFrame,
    choice: ClvChoice,
    currency: str,
    discount_rate: float,
    balance_margin: float | None = None,
    *,
    scale: float = 1.0,
) -> str:
    """The residual value of the active subscribers in words (Markdown, escaped).

    ``scale``: on a random sample of customers, the whole base over the sample (N/n): totals and
    counts are scaled to every customer, and the words say so.
    """
    cur = escape_markdown(currency)
    p = choice.period_name
    n = len(value)
    derl = value["derl"]
    lines = [
        f"{_scaled_count(n, 'active subscriber', scale)}; discount rate {discount_rate:.2%} per {p}. Mean DERL "
        f"**{derl.mean():.2f} {p}s** of future renewals (median {derl.median():.2f})."
    ]
    if "clv_usd" in value.columns:
        known = value["clv_usd"].dropna()
        total = float(known.sum())
        top = known.nlargest(max(1, len(known) // 5)).sum() / total if total > 0 else float("nan")
        total *= scale
        if choice.value_source == "transactions":
            what = f"revenue per {p} (net of refunds) times DERL"
        else:
            what = (
                f"balance × {balance_margin:.2%} a year × DERL (the balance assumed to stay as it is and to earn "
                "that margin)"
            )
        lines.append(
            f"Expected residual value ({what}): **{total:,.0f} {cur}** in total over "
            f"{_scaled_count(len(known), 'subscriber', scale)}; "
            f"median {known.median():,.0f} {cur}, mean {known.mean():,.0f} {cur}"
            + (f"; the top 20% carry {top:.0%} of it." if np.isfinite(top) else ".")
        )
        if len(known) < n:
            lines.append(
                f"{_scaled_count(n - len(known), 'active subscriber', scale)} have no value data (no transactions): "
                "no value, not 0."
            )
        negative = int((known < 0).sum())
        if negative:
            lines.append(
                f"{_scaled_count(negative, 'subscriber', scale)} have a negative value: their refunds exceeded their "
                "purchases."
            )
    elif "balance_derl" in value.columns:
        bd = value["balance_derl"].dropna()
        lines.append(
            f"**Balance-weighted DERL: {scale * bd.sum():,.0f} {cur}-{p}s** (each active customer's balance times their "
            f"DERL, summed): how much balance the base is expected to keep holding, discounted. **A balance is not "
            f"profit**, so this is not a CLV in money; give the report a balance_margin (the yearly margin earned "
            f"on a balance, e.g. 0.015) to value it."
        )
    else:
        lines.append(
            "There are no transactions and no balance column, so no money value: the figures are expected lifetimes."
        )
    return " ".join(lines) + _scale_words(scale)


def buyer_value_markdown(value: pd.DataFrame, horizon_months: int, currency: str, *, scale: float = 1.0) -> str:
    """The buyers' CLV in words (Markdown, escaped): total, gross margin, median, mean, the top 20%'s share.

    ``value`` holds ``clv_usd`` per customer and ``clv_margin_usd`` (NaN without cost data). ``scale``:
    on a random sample of customers, the whole base over the sample (N/n): the totals are scaled to
    every customer, and the words say so.
    """
    cur = escape_markdown(currency)
    clv = value["clv_usd"].dropna()
    total = float(clv.sum())
    margin = value["clv_margin_usd"].dropna() if "clv_margin_usd" in value.columns else pd.Series(dtype=float)
    margin_text = (
        f"**{scale * margin.sum():,.0f} {cur}** of gross margin" if len(margin) else "gross margin: no cost data"
    )
    top = clv.nlargest(max(1, len(clv) // 5)).sum() / total if total > 0 else float("nan")
    return (
        f"Total {horizon_months}-month CLV **{scale * total:,.0f} {cur}** of revenue ({margin_text}); median per "
        f"customer {clv.median():,.0f} {cur}, mean {clv.mean():,.0f} {cur}."
        + (f" The top 20% of customers carry {top:.0%} of it." if np.isfinite(top) else "")
        + _scale_words(scale)
    )


def at_risk_markdown(
    risk: pd.DataFrame | None,
    low: pd.Series,
    n_valued: int,
    rule: str,
    value_label: str,
    currency: str,
    level: float = 0.95,
    *,
    scale: float = 1.0,
) -> str:
    """The value held by low-satisfaction customers, in words (Markdown, escaped).

    Parameters
    ----------
    risk : DataFrame or None
        ``clv_at_risk`` (rows ``clv_at_risk_usd``, ``share_of_clv``, ``mean_clv_gap_low_minus_rest_usd``;
        columns ``estimate, ci_lower, ci_upper``); None when there is no comparison (nobody, or everybody,
        surveyed is low).
    low : Series of bool
        Per surveyed customer with a value: whether their latest csat is low.
    n_valued : int
        Customers with a value, surveyed or not.
    rule : str
        What "low" means ("latest csat <= 6 on its 1-10 scale"; plain text).
    value_label : str
        The value ("residual value", "12-month CLV").
    currency : str
    level : float
        Confidence level of the intervals.
    scale : float
        On a random sample of customers, the whole base over the sample (N/n): counts are scaled to
        every customer and the words say so; ``risk`` is already scaled
        (:func:`bsc_toolkit.report_clv_headline.scale_at_risk`).
    """
    cur = escape_markdown(currency)
    rule_md, what = escape_markdown(rule), escape_markdown(value_label)
    n_low, n = int(low.sum()), len(low)
    if risk is None:
        who = f"{n_low:,} of {n:,} surveyed customers"
        if scale != 1:
            who = (
                f"About {n_low * scale:,.0f} of {n * scale:,.0f} surveyed customers ({n_low:,} of {n:,} in the sample)"
            )
        return (
            f"{who} with a value have {rule_md}: no comparison of low- and higher-satisfaction customers is possible."
        )
    pct = f"{100 * level:.0f}%"
    at_risk, gap = risk.loc["clv_at_risk_usd"], risk.loc["mean_clv_gap_low_minus_rest_usd"]
    if includes_zero(gap["ci_lower"], gap["ci_upper"]):
        gap_text = (
            "**No evidence of a difference in mean value between low-satisfaction customers and the others in these "
            f"data** ({pct} CI of the gap {gap['ci_lower']:,.0f} to {gap['ci_upper']:,.0f} {cur})."
        )
    else:
        gap_text = (
            f"On average a low-satisfaction customer holds {abs(gap['estimate']):,.0f} {cur} "
            f"{'less' if gap['estimate'] < 0 else 'more'} {what} than the others "
            f"({pct} CI {gap['ci_lower']:,.0f} to {gap['ci_upper']:,.0f} {cur})."
        )
    if scale == 1:
        who = f"{n_low:,} of {n:,} surveyed customers ({n_low / n:.0%})"
        unsurveyed = f"{n_valued - n:,} customers"
    else:
        who = (
            f"About {n_low * scale:,.0f} of {n * scale:,.0f} surveyed customers ({n_low / n:.0%}; {n_low:,} of "
            f"{n:,} in the sample)"
        )
        unsurveyed = _scaled_count(n_valued - n, "customer", scale).capitalize()
    return (
        f"{who} have {rule_md}; they hold "
        f"**{at_risk['estimate']:,.0f} {cur}** of {what} ({pct} CI {at_risk['ci_lower']:,.0f} to "
        f"{at_risk['ci_upper']:,.0f} {cur}), {risk.loc['share_of_clv', 'estimate']:.0%} of the surveyed customers' "
        f"{what}. {unsurveyed} with a value have no survey. " + gap_text + _scale_words(scale)
    )


def caveats_markdown(choice: ClvChoice, *, snapshot: bool = False, left_truncated: int | None = None) -> str:
    """The caveats of the chosen model (Markdown bullets).

    Parameters
    ----------
    choice : ClvChoice
    snapshot : bool
        Snapshot data (``data.is_snapshot``): no dates, so nobody is left-truncated and there is no
        holdout check; the caveats say what a snapshot cannot show instead.
    left_truncated : int, optional
        Subscribers acquired before the data start (``subscriber_table(...)["left_truncated"].sum()``);
        0: the left-truncation caveat is left out; None (not known, e.g. the table was not built):
        it is stated conditionally. Dated contractual data only.
    """
    common = [
        "**Association, not causation.** Satisfaction inside the CLV model is an association in observational "
        "data: more satisfied customers may differ in other ways that also keep them; the what-if is not the "
        "effect of raising satisfaction.",
        "**Uncertainty.** Values per customer are point estimates; the what-if intervals carry the parameter "
        "uncertainty, the revenue-at-risk interval only the sampling of customers.",
    ]
    if choice.contractual:
        p = choice.period_name
        value = (
            "**Value per period.** Revenue per period is the customer's mean so far (or a balance, which is not "
            "profit); it is assumed to stay as it is."
        )
        if snapshot:
            specific = [
                f"**Tenure in whole {p}s.** The snapshot's tenure is read as whole {p}s completed: a customer who "
                f"stayed with k has renewed k times; one who left with k left during {p} k + 1, as dated data count "
                f"it. Without dates it is not known whether a leaver's last {p} had ended by the snapshot date, so "
                f"every leaver counts as a churn in that {p}. Where many left recently this overstates churn: the "
                f"customers who stay in the same, unfinished {p} are not counted in it until they complete it (dated "
                "data censor such a churn instead). Where contracts are not really periodic, the period is an "
                "approximation.",
                "**Who is in the snapshot.** Every customer with a renewal or a churn is fitted: a snapshot has no "
                "data start before which customers could have been acquired. The sBG reads it as whole cohorts, "
                "each customer from their acquisition to the snapshot or to their exit. If the snapshot holds only "
                "customers still there at some earlier date (earlier leavers dropped), the early leavers are "
                "missing and the retention of the first periods is overstated; the data cannot show which.",
                "**Stationarity, and no out-of-sample check.** Each customer's churn probability is assumed "
                "constant over their lifetime and the same across acquisition cohorts. A snapshot has no dates, "
                "so there is no holdout check: nothing here tests the forecasts out of sample. The fitted against "
                "the observed retention by tenure is an in-sample check, and in a snapshot tenure and acquisition "
                "cohort go together (the longest tenures are the oldest cohorts), so it cannot tell a change with "
                "tenure from a change across cohorts.",
                value,
            ]
        else:
            specific = [
                f"**Renewals per {p}.** The sBG counts renewals on each customer's own anniversaries; a churn during "
                "a period counts at its end, and a churn in a customer's last, incomplete period is censored at the "
                "last renewal. Where contracts are not really periodic (cancellation any day), the period is an "
                "approximation.",
            ]
            if left_truncated is None or left_truncated > 0:
                who = (
                    "Customers acquired before the data start, if any, are"
                    if left_truncated is None
                    else f"{_count(left_truncated, 'customer')} acquired before the data start "
                    f"{'is' if left_truncated == 1 else 'are'}"
                )
                specific.append(
                    f"**Left truncation.** {who} in the data because they survived to it; they are left out of the "
                    "fit (their residual value uses the fitted curve at their tenure, an extrapolation when they are "
                    "older than anyone fitted)."
                )
            specific += [
                "**Stationarity.** Each customer's churn probability is assumed constant over their lifetime and "
                "the same across acquisition cohorts; price changes or a new competitor break this. The holdout "
                "check, where the data are long enough for one, is the guard.",
                value,
            ]
    else:
        specific = [
            "**Left truncation.** Customers acquired before the transaction log starts enter the model at their "
            "first *observed* purchase, so their age T and frequency are understated; their P(alive) and CLV are "
            "rough.",
            "**Non-contractual view.** BG/NBD infers drop-out from silence; where churn is recorded, the sBG (set "
            "clv.contractual: true) uses it directly.",
            "**No drop-out in the data.** When customers keep buying until the end of the log, the likelihood runs "
            "to the no-drop-out limit; the limiting NBD model (nobody leaves) is then fitted and said so, and its "
            "forecasts assume nobody leaves.",
            "**Refunds.** Refunds of purchases made in earlier weeks cannot be matched to them: those weeks are not "
            "purchases, and spend per purchase is somewhat overstated.",
            "**Stationarity.** Purchase rates, drop-out propensities and spend are assumed constant over time. "
            "The holdout check is the guard. Weekly resolution merges purchases in the same week; the CLV month is "
            "4.345 weeks.",
            "**Margins.** Profit CLV uses historical gross margin ratios, which are noisy for customers with few "
            "purchases, and needs cost data.",
        ]
    return "\n".join(f"* {line}" for line in (*specific, *common))


def _observed_periods(curve: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The periods of a ``retention_curve()`` table the data observe, and the trailing ones left aside.

    Period 0 and the periods with an observed survival, without the trailing periods in which
    every customer at risk left: nobody is observed to complete them (the customers still active
    at that tenure have not reached their end), so the observed survival would drop to 0 there,
    an artefact of the censoring rather than a retention of 0.
    """
    seen = curve.dropna(subset=["observed_survival"])
    cut = len(seen)
    while cut > 2 and float(seen["observed_retention"].iloc[cut - 1]) == 0.0:
        cut -= 1
    return seen.iloc[:cut], seen.iloc[cut:]


def _trailing_sentence(aside: pd.DataFrame, last: int, word: str) -> str:
    if aside.empty:
        return ""
    first, final = int(aside.index[0]), int(aside.index[-1])
    span = f"{word} {first}" if first == final else f"{word}s {first} to {final}"
    n = int(aside["at_risk"].iloc[0])
    return (
        f" In {span} all {_count(n, 'customer')} at risk left: none is observed to complete "
        f"{'it' if first == final else 'them'}, as the customers still active there have not reached the end. The observed "
        f"curve, which would fall to 0 there, is compared up to {word} {last}."
    )


def retention_fit_markdown(curve: pd.DataFrame, period: str) -> str:
    """The fitted against the observed retention by tenure, in words (``retention_curve()`` table).

    The comparison ends at the last period someone is observed to complete (see
    :func:`_observed_periods`); the largest gap is over the periods compared.
    """
    word = _period_word(period)
    seen, aside = _observed_periods(curve)
    last = int(seen.index.max())
    obs, fit = float(seen["observed_survival"].iloc[-1]), float(seen["fitted_survival"].iloc[-1])
    rates = curve["fitted_retention"].loc[1:last]
    gap = (seen["fitted_survival"] - seen["observed_survival"]).abs().max()
    trend = (
        f"constant at {rates.iloc[0]:.1%}"
        if np.isclose(rates.iloc[0], rates.iloc[-1], atol=5e-4)
        else f"from {rates.iloc[0]:.1%} in the first {word} to {rates.iloc[-1]:.1%} in {word} {last}"
    )
    return (
        f"After {last} {word}{'s' if last != 1 else ''}: observed **{obs:.1%}** still customers, fitted "
        f"**{fit:.1%}** (largest gap over the tenures {100 * gap:.1f} pp). The fitted retention rate is {trend}."
        + _trailing_sentence(aside, last, word)
        + " This compares the model with the data it was fitted on (in sample)."
    )


def has_lack_of_fit(fitter: Any) -> bool:
    """Whether a fitted model carries a ``"lack_of_fit"`` diagnostic (its retention departs from the data's)."""
    return any(getattr(d, "code", None) == "lack_of_fit" for d in getattr(fitter, "diagnostics_", None) or [])


def _lack_of_fit_test(fitter: Any, word: str) -> str:
    """``" (goodness-of-fit test ...: G = 123.4 on 9 df, p < 0.001)"`` from ``lack_of_fit_``, or ``""``."""
    test = getattr(fitter, "lack_of_fit_", None)
    if test is None:
        return ""
    if isinstance(test, (Mapping, pd.Series)):
        values = [test.get(k) for k in ("statistic", "df", "p_value")]
    elif all(hasattr(test, k) for k in ("statistic", "df", "p_value")):
        values = [getattr(test, k) for k in ("statistic", "df", "p_value")]
    else:
        try:
            values = list(test)[:3]
        except TypeError:
            return ""
    try:
        stat, df, p = (float(v) for v in values)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite([stat, df, p]).all():
        return ""
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return f" (goodness-of-fit test against the observed retention per {word}: G = {stat:,.1f} on {df:g} df, {p_text})"


def lack_of_fit_markdown(fitter: Any, curve: pd.DataFrame, period: str) -> str:
    """What a lack of fit of the sBG means for the DERL and residual values, for beside them (Markdown).

    Empty when the fitted model carries no ``"lack_of_fit"`` diagnostic. Otherwise: the model
    used; the observed against the fitted retention at the long tenures (the upper half of the
    periods observed, pooled: churns over customers at risk); the in-sample survival gap at the
    last period observed (as :func:`retention_fit_markdown`); and which way the residual
    lifetimes and values of the long-tenure customers are off: overstated when the observed
    retention there is below the fitted one (retention falls with tenure, or rises less than the
    model's sorting of the customers says), understated when it is above.

    Parameters
    ----------
    fitter : ShiftedBetaGeoFitter
        The full-history fit the values come from (``diagnostics_``, ``model_``, ``lack_of_fit_``).
    curve : DataFrame
        Its ``retention_curve()``.
    period : {"M", "Q", "Y"}
    """
    if not has_lack_of_fit(fitter):
        return ""
    word = _period_word(period)
    model = escape_markdown(fit_model_name(fitter))
    seen, _ = _observed_periods(curve)
    last = int(seen.index.max())
    obs, fit = float(seen["observed_survival"].iloc[-1]), float(seen["fitted_survival"].iloc[-1])

    def pooled(rows: pd.DataFrame) -> tuple[float, float, str]:
        """Observed and fitted retention over ``rows`` (churns over customers at risk), and the span."""
        at_risk = rows["at_risk"].to_numpy(dtype=float)
        observed = 1.0 - float(rows["churned"].sum()) / float(at_risk.sum())
        fitted = float(np.average(rows["fitted_retention"].to_numpy(dtype=float), weights=at_risk))
        first, final = int(rows.index[0]), int(rows.index[-1])
        span = f"{word}s {first} to {final} (pooled)" if final > first else f"{word} {first}"
        return observed, fitted, span

    obs_long, fit_long, span = pooled(seen.loc[max(1, last // 2 + 1) : last])
    first_obs = float(seen["observed_retention"].iloc[1])
    over = obs_long < fit_long
    observed_trend = (
        "falls" if first_obs - obs_long > 0.005 else ("rises" if obs_long - first_obs > 0.005 else "hardly changes")
    )
    why = (
        f"the observed retention {observed_trend} with tenure, from {first_obs:.1%} in the first {word} to "
        f"{obs_long:.1%} in {span}, where the model has {fit_long:.1%}"
    )
    effect = (
        "**overstated for the long-tenure customers**: the model expects them to stay longer than customers "
        "of their tenure did in these data"
        if over
        else "**understated for the long-tenure customers**: customers of their tenure stayed longer in these "
        "data than the model expects"
    )
    short = ""
    if last >= 2:
        obs_short, fit_short, span_short = pooled(seen.loc[1 : last // 2])
        if (obs_short > fit_short + 0.005) if over else (obs_short < fit_short - 0.005):
            short = (
                f"; for the short-tenure customers it is the other way round (observed {obs_short:.1%} in "
                f"{span_short}, model {fit_short:.1%}), so theirs are {'understated' if over else 'overstated'}"
            )
    return (
        f"**The fitted {model} model does not fit the retention by tenure of these data**"
        f"{_lack_of_fit_test(fitter, word)}: {why}. In sample, after {last} {word}{'s' if last != 1 else ''} the "
        f"model keeps **{fit:.1%}** of customers, the data **{obs:.1%}** ({100 * (fit - obs):+.1f} pp). So the DERL "
        f"above, and every value built on it, are {effect}{short}."
    )


def covariate_effects_markdown(summary: pd.DataFrame, covariate: str = "csat", level: float = 0.95) -> str:
    """The covariate's coefficients of a CLV model in words, as ratios per point (Markdown, escaped).

    Reads the rows ``churn:<covariate>`` (sBG: log odds ratio of the mean churn probability),
    ``purchase:<covariate>`` (BG/NBD: log ratio of the purchase rate) and ``dropout:<covariate>``
    (BG/NBD: log odds ratio of the mean drop-out probability) of ``summary`` (``coef, ci_lower,
    ci_upper``). Where an interval includes 0 (a ratio of 1) it says there is no evidence of a link.
    """
    pct = f"{100 * level:.0f}%"
    name = escape_markdown(covariate)
    what = {
        "churn": ("the odds of the mean churn probability", "churn less", "churn more"),
        "purchase": ("the purchase rate", "buy more often", "buy less often"),
        "dropout": ("the odds of the mean drop-out probability after a purchase", "drop out less", "drop out more"),
    }
    lines = []
    for part, (quantity, lower, higher) in what.items():
        row = f"{part}:{covariate}"
        if row not in summary.index:
            continue
        coef, lo, hi = (float(summary.loc[row, c]) for c in ("coef", "ci_lower", "ci_upper"))
        ratio = f"{np.exp(coef):.3f} ({pct} CI {np.exp(lo):.3f} to {np.exp(hi):.3f})"
        if includes_zero(lo, hi):
            lines.append(
                f"- **No evidence of a link between {name} and {part.replace('dropout', 'drop-out')} in these data:** "
                f"each {name} point multiplies {quantity} by {ratio}, an interval that includes 1."
            )
        else:
            sign = -1 if part == "purchase" else 1
            direction = lower if sign * coef < 0 else higher
            lines.append(
                f"- Each {name} point multiplies {quantity} by **{ratio}**: more satisfied customers {direction}."
            )
    return "\n".join(lines)


def fit_model_name(fitter: Any) -> str:
    """The model a fitter actually used (``fit_status_.model``: "sBG", or a limit such as "geometric")."""
    return str(fitter.fit_status_.model)
