"""Figures for the customer KPIs; each draws on ``ax`` (or a new one) and returns it.

Missing is no data: every function draws an empty axes with a short "no data" text instead of
raising when its input is empty, lacks the column, or holds only NaN. Rating axes carry the
scale when one is given ("CSAT mean (1-5)").
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from bsc_toolkit.contracts import RatingScale

__all__ = ["plot_kpi_trend", "plot_nps_trend", "plot_retention", "plot_whale_curve", "plot_score_distribution"]

#: The text an empty plot shows.
NO_DATA = "no data"


def _axes(ax: Axes | None, figsize: tuple[float, float] = (7, 3.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _period_str(data: pd.DataFrame, x: str) -> pd.DataFrame:
    out = data.copy()
    out[x] = out[x].astype(str)
    return out


def _numeric(data: pd.DataFrame, column: str) -> pd.Series:
    """``data[column]`` as floats (NaN where missing or not a number; all NaN when the column is absent)."""
    if column not in data.columns:
        return pd.Series(np.nan, index=data.index, dtype=float)
    return pd.to_numeric(data[column], errors="coerce").astype(float)


def _no_data(ax: Axes, what: str = "", xlabel: str | None = None, ylabel: str | None = None) -> Axes:
    """An empty axes saying "no data" (and for what), with the labels the full plot would have."""
    ax.text(
        0.5,
        0.5,
        f"{NO_DATA}{': ' + what if what else ''}",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="grey",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return ax


def _with_scale(label: str, scale: RatingScale | None) -> str:
    return f"{label} ({scale.label})" if scale is not None else label


def plot_kpi_trend(
    data: pd.DataFrame,
    y: str,
    x: str = "period",
    hue: str | None = None,
    ci: tuple[str, str] | None = None,
    percent: bool = False,
    ylabel: str | None = None,
    ax: Axes | None = None,
    *,
    scale: RatingScale | None = None,
) -> Axes:
    """Line chart of a KPI over periods, with an optional interval band.

    Parameters
    ----------
    data : pandas.DataFrame
        Tidy KPI table (e.g. from :func:`bsc_toolkit.metrics.csat_summary`).
    y : str
        KPI column.
    x : str
        Period column.
    hue : str, optional
        Group column (one line per group).
    ci : (str, str), optional
        Lower and upper interval columns, drawn as a band.
    percent : bool
        Format the y axis as a percentage (for shares in [0, 1]).
    ylabel : str, optional
        Axis label; defaults to ``y``.
    ax : matplotlib Axes, optional
    scale : RatingScale, optional
        The rating scale of ``y``, appended to the label ("CSAT mean (1-5)").

    Returns
    -------
    matplotlib Axes
        With a "no data" text when ``data`` is empty or ``y`` is absent or all NaN.
    """
    ax = _axes(ax)
    label = _with_scale(ylabel or y, scale)
    values = _numeric(data, y)
    if x not in data.columns or values.notna().sum() == 0:
        return _no_data(ax, label, xlabel=x, ylabel=label)
    frame = _period_str(data, x)
    frame[y] = values
    sns.lineplot(data=frame, x=x, y=y, hue=hue, marker="o", ax=ax, errorbar=None)
    if ci is not None and all(c in frame.columns for c in ci):
        groups = frame.groupby(hue, sort=False) if hue else [(None, frame)]
        for _, grp in groups:
            lo, hi = _numeric(grp, ci[0]).to_numpy(), _numeric(grp, ci[1]).to_numpy()
            if np.isfinite(lo).any() and np.isfinite(hi).any():
                ax.fill_between(grp[x].to_numpy(), lo, hi, alpha=0.2)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(label)
    ax.set_xlabel(x)
    ax.tick_params(axis="x", rotation=45)
    return ax


def plot_nps_trend(data: pd.DataFrame, x: str = "period", hue: str | None = None, ax: Axes | None = None) -> Axes:
    """NPS over periods with its confidence interval and the zero line ("no data" when there is none)."""
    ax = plot_kpi_trend(
        data, y="nps", x=x, hue=hue, ci=("nps_ci_lower", "nps_ci_upper"), ylabel="NPS (-100..100)", ax=ax
    )
    if _numeric(data, "nps").notna().any():
        ax.axhline(0, color="grey", lw=0.8, ls="--")
    return ax


def plot_retention(data: pd.DataFrame, x: str = "period", hue: str | None = None, ax: Axes | None = None) -> Axes:
    """Churn rate with Wilson intervals (from :func:`bsc_toolkit.metrics.retention`).

    The label says what the rate is: per period, or (``churn_basis == "by snapshot"``) the
    share of customers who left by the snapshot.
    """
    basis = (
        data["churn_basis"].dropna().iloc[0]
        if "churn_basis" in data.columns and data["churn_basis"].notna().any()
        else None
    )
    ylabel = "share of customers who left by the snapshot" if basis == "by snapshot" else "churn rate per period"
    return plot_kpi_trend(
        data,
        y="churn_rate",
        x=x,
        hue=hue,
        ci=("churn_rate_ci_lower", "churn_rate_ci_upper"),
        percent=True,
        ylabel=ylabel,
        ax=ax,
    )


def plot_whale_curve(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Cumulative profitability curve (from :func:`bsc_toolkit.metrics.whale_curve`).

    Marks the peak: the share of customers that earns the most, and how much of the basis that
    is. Draws whatever the curve is: the classic whale curve (shares of total profit), a loss
    curve (a loss-making business: cumulative profit as a share of total revenue), a revenue
    curve (no cost data, ``measure == "revenue"``), or the cumulative amount in money when no
    basis is positive; "no data" when the curve is empty.
    """
    ax = _axes(ax, (6, 4))
    measure = str(data["measure"].iloc[0]) if "measure" in data.columns and len(data) else "profit"
    basis = str(data["basis"].iloc[0]) if "basis" in data.columns and len(data) else f"total {measure}"
    money_col, share_col = f"cumulative_{measure}_usd", f"cumulative_{measure}_share"
    xlabel = f"customers, highest {measure} first (cumulative share)"
    shares, money = _numeric(data, share_col), _numeric(data, money_col)
    if "customer_share" not in data.columns or (shares.notna().sum() == 0 and money.notna().sum() == 0):
        return _no_data(ax, f"{measure} per customer", xlabel=xlabel, ylabel=f"cumulative {measure}")
    x = _numeric(data, "customer_share")
    use_share = shares.notna().any()
    y = shares if use_share else money
    ax.plot(x, y, color="tab:blue")
    if use_share and basis == f"total {measure}":
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    else:
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    peak = int(np.nanargmax(y.to_numpy()))
    px, py = float(x.iloc[peak]), float(y.iloc[peak])
    if px >= 1 - 1e-9:  # rising to the end (no unprofitable tail): mark the top 20 % instead
        known = y.notna().to_numpy()
        px, py = 0.2, float(np.interp(0.2, x.to_numpy()[known], y.to_numpy()[known]))
    if use_share:
        verb = "bring" if measure == "revenue" else "earn"
        text = f"{px:.0%} of customers {verb} {py:.0%} of {basis}"
        if basis == "total revenue" and measure == "profit":
            text = f"{px:.0%} of customers: profit {py:.1%} of revenue; all: {float(y.iloc[-1]):.1%}"
    else:
        text = f"{px:.0%} of customers: cumulative {measure} {py:,.0f}"
    ax.scatter([px], [py], color="tab:red", zorder=3)
    ax.annotate(
        text, (px, py), xytext=(0.05, 0.1), textcoords="axes fraction", arrowprops={"arrowstyle": "->", "color": "grey"}
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    if use_share:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ylabel = f"cumulative {measure} (share of {basis})"
    else:
        ylabel = f"cumulative {measure} (money)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_score_distribution(
    data: pd.DataFrame,
    column: str = "csat",
    hue: str | None = None,
    ax: Axes | None = None,
    *,
    scale: RatingScale | None = None,
) -> Axes:
    """Distribution of a survey score as shares per scale point.

    With ``scale`` the x axis shows every point of the scale (an unused point shows as a gap)
    and its label carries the scale ("csat (1-5)"); "no data" when there are no answers.
    """
    ax = _axes(ax, (6, 3.5))
    values = _numeric(data, column)
    xlabel = _with_scale(column, scale)
    if values.notna().sum() == 0:
        return _no_data(ax, column, xlabel=xlabel, ylabel="share of responses")
    frame = data.loc[values.notna()].assign(**{column: values[values.notna()]})
    if scale is not None:
        lo, hi = int(np.floor(scale.low)), int(np.ceil(scale.high))
    else:
        lo, hi = int(np.floor(frame[column].min())), int(np.ceil(frame[column].max()))
    sns.histplot(
        data=frame,
        x=column,
        hue=hue,
        discrete=True,
        stat="proportion",
        common_norm=False,
        multiple="dodge" if hue else "layer",
        shrink=0.8,
        ax=ax,
    )
    ax.set_xticks(range(lo, hi + 1))
    if scale is not None:
        ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of responses")
    return ax
