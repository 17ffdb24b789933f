"""The customer-level table of the service-profit chain: baseline satisfaction, then retention and revenue.

:func:`customer_chain_table` builds the input of
:class:`~bsc_toolkit.models.chain.ServiceProfitChain` (and of
:func:`~bsc_toolkit.scorecard.links.chain_link_strengths`) from the three data
tables; :mod:`bsc_toolkit.models.chain` re-exports it. :func:`chain_baseline_periods` shortens the
baseline of a window too short for the one requested, so that a follow-up remains.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.panel import customer_periods

__all__ = ["chain_baseline_periods", "customer_chain_table"]


def customer_chain_table(
    customers: pd.DataFrame,
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    freq: str = "Q",
    baseline_periods: int = 2,
) -> pd.DataFrame:
    """One row per customer: baseline satisfaction, then retention and revenue in the follow-up.

    The window is split in time so that cause precedes effect: satisfaction is
    measured in the first ``baseline_periods`` periods (the baseline), retention
    and revenue in the remaining periods (the follow-up). The cohort is the
    customers active at the window start, still active at the start of the
    follow-up, with at least one baseline survey.

    The baseline mean of a few surveys is a noisy measure of the customer's
    satisfaction level (period-to-period noise), which would attenuate every
    effect of satisfaction. ``csat_calibrated`` is the regression-calibration
    estimate of the level, E[level | baseline mean, segment]: the baseline mean
    shrunk towards the segment mean by the reliability
    ``var(level) / (var(level) + var(noise) / n_surveys)``, with the noise
    variance estimated from the repeated surveys of the cohort's customers
    (pooled within-customer variance over the whole window). When no customer of the cohort
    answered twice, the noise cannot be estimated: a ``UserWarning`` says so and the baseline mean is
    used as measured (reliability 1).

    Parameters
    ----------
    customers, surveys, transactions : DataFrame
        Tables following the data contracts.
    freq : str
        Period frequency of the panel (quarters by default).
    baseline_periods : int
        Number of periods in the baseline; at least one period must remain
        (:func:`chain_baseline_periods` fits it to a short window).

    Returns
    -------
    DataFrame
        ``customer_id, segment, tenure_years`` (at the follow-up start),
        ``n_surveys`` (baseline), ``csat`` (baseline mean), ``reliability``,
        ``csat_calibrated``, ``periods_retained`` (time active in the follow-up,
        in periods), ``retained`` (active at the window end), ``revenue_usd,
        margin_usd, n_orders`` (follow-up totals). ``attrs`` hold
        ``noise_var``, ``level_var`` and the baseline/follow-up periods.

    Raises
    ------
    NotEstimableError
        When the data cannot give the table: an empty panel, a window no longer than the
        baseline, fewer than 30 customers in the cohort.
    """
    if baseline_periods < 1:
        raise ValueError("baseline_periods must be at least 1")
    panel = customer_periods(customers, surveys, transactions, freq=freq)
    if panel.empty:
        raise NotEstimableError("the customer-period panel is empty (no customer is active in a period with data)")
    periods = pd.PeriodIndex(panel["period"])
    ordinal = periods.asi8
    first, last = ordinal.min(), ordinal.max()
    if last - first + 1 <= baseline_periods:
        raise NotEstimableError(
            f"the window has {last - first + 1} periods; baseline_periods={baseline_periods} leaves no follow-up"
        )
    active = panel["active_fraction"].to_numpy()  # the activity window, as the panel defines it
    work = panel.assign(_active=active, _i=ordinal - first)
    if "segment" not in work:
        work["segment"] = "all"
    starters = work.loc[work["_i"] == 0, "customer_id"]
    followers = work.loc[work["_i"] == baseline_periods, "customer_id"]
    cohort = work[work["customer_id"].isin(starters) & work["customer_id"].isin(followers)]
    base = cohort[cohort["_i"] < baseline_periods].groupby("customer_id")
    follow = cohort[cohort["_i"] >= baseline_periods].groupby("customer_id")
    out = pd.DataFrame(
        {
            "segment": follow["segment"].first(),
            "tenure_years": follow["tenure_years"].first(),
            "n_surveys": base["surveyed"].sum().astype(np.int64),
            "csat": base["csat"].mean(),
            "periods_retained": follow["_active"].sum(),
            "retained": ~follow["churned"].any(),
            "revenue_usd": follow["revenue_usd"].sum(),
            "margin_usd": follow["margin_usd"].sum(),
            "n_orders": follow["n_orders"].sum(),
        }
    )
    out = out[out["n_surveys"] > 0]
    if len(out) < 30:
        raise NotEstimableError(
            f"only {len(out)} customers in the cohort (active at the start of the window and at the start of the "
            "follow-up, surveyed in the baseline); the chain needs at least 30"
        )
    # noise variance: pooled within-customer variance of csat over the window
    rated = cohort.dropna(subset=["csat"])
    dev = rated["csat"] - rated.groupby("customer_id")["csat"].transform("mean")
    dof = (rated.groupby("customer_id")["csat"].count() - 1).clip(lower=0).sum()
    noise_var = float((dev**2).sum() / dof) if dof > 0 else 0.0
    if dof == 0:
        warnings.warn(
            "no customer of the cohort answered more than one survey in the window, so the survey noise cannot be "
            "estimated: baseline satisfaction is used as measured (reliability 1, no regression calibration), and "
            "its effects may be attenuated by that noise",
            UserWarning,
            stacklevel=2,
        )
    seg_mean = out.groupby("segment")["csat"].transform("mean")
    level_var = float(((out["csat"] - seg_mean) ** 2).mean() - (noise_var / out["n_surveys"]).mean())
    level_var = max(level_var, 1e-9)
    out["reliability"] = level_var / (level_var + noise_var / out["n_surveys"])
    out["csat_calibrated"] = seg_mean + out["reliability"] * (out["csat"] - seg_mean)
    out = out.reset_index()
    cols = [
        "customer_id",
        "segment",
        "tenure_years",
        "n_surveys",
        "csat",
        "reliability",
        "csat_calibrated",
        "periods_retained",
        "retained",
        "revenue_usd",
        "margin_usd",
        "n_orders",
    ]
    out = out[cols]
    out.attrs.update(
        noise_var=noise_var,
        level_var=level_var,
        baseline=(
            str(pd.Period(ordinal=first, freq=freq)),
            str(pd.Period(ordinal=first + baseline_periods - 1, freq=freq)),
        ),
        follow_up=(
            str(pd.Period(ordinal=first + baseline_periods, freq=freq)),
            str(pd.Period(ordinal=last, freq=freq)),
        ),
    )
    return out


def chain_baseline_periods(
    surveys: pd.DataFrame, transactions: pd.DataFrame, freq: str = "Q", baseline_periods: int = 2
) -> tuple[int, str]:
    """The baseline length :func:`customer_chain_table` can use on this window, and why it differs.

    The window runs from the period of the first to that of the last survey or transaction (the
    panel's window). A baseline as long as the window leaves no follow-up: it is then shortened to
    the window's length minus one period, so that one period remains for retention and revenue.

    Parameters
    ----------
    surveys, transactions : DataFrame
        With ``surveyed_at`` and ``ordered_at``.
    freq : str
        Period frequency of the panel.
    baseline_periods : int
        The requested baseline length (at least 1).

    Returns
    -------
    (int, str)
        The baseline length to use, and a sentence saying why it was shortened ("" when it was not).

    Raises
    ------
    NotEstimableError
        When the window has fewer than two periods (no baseline and follow-up at all).
    """
    if baseline_periods < 1:
        raise ValueError("baseline_periods must be at least 1")
    bounds = [
        bound
        for frame, col in ((surveys, "surveyed_at"), (transactions, "ordered_at"))
        if col in frame.columns and len(frame)
        for bound in (frame[col].min(), frame[col].max())
        if not pd.isna(bound)
    ]
    if not bounds:
        raise NotEstimableError("no dated survey or transaction: there is no window to split")
    first, last = pd.Timestamp(min(bounds)).to_period(freq), pd.Timestamp(max(bounds)).to_period(freq)
    n = (last - first).n + 1
    if n < 2:
        raise NotEstimableError(
            f"the data cover one period ({first}): the chain needs a baseline and a later follow-up period"
        )
    if n > baseline_periods:
        return baseline_periods, ""
    used = n - 1
    return used, (
        f"The window has {n} periods ({first} to {last}), so the requested baseline of {baseline_periods} "
        f"periods would leave no follow-up: the baseline is shortened to {used} period"
        f"{'' if used == 1 else 's'} ({first}{'' if used == 1 else f' to {first + used - 1}'}), and retention and "
        f"revenue are measured in the {n - used} period{'' if n - used == 1 else 's'} after it. A short baseline "
        "holds few surveys per customer (a noisier satisfaction level) and a short follow-up few churns."
    )
