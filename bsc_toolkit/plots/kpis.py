"""Figures for the customer KPIs; each draws on ``ax`` (or a new one) and returns it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

__all__ = ["plot_kpi_trend", "plot_nps_trend", "plot_retention", "plot_whale_curve", "plot_score_distribution"]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (7, 3.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _period_str(data: pd.DataFrame, x: str) -> pd.DataFrame:
    out = data.copy()
    out[x] = out[x].astype(str)
    return out


def plot_kpi_trend(
    data: pd.DataFrame,
    y: str,
    x: str = "period",
    hue: str | None = None,
    ci: tuple[str, str] | None = None,
    percent: bool = False,
    ylabel: str | None = None,
    ax: Axes | None = None,
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

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    frame = _period_str(data, x)
    sns.lineplot(data=frame, x=x, y=y, hue=hue, marker="o", ax=ax, errorbar=None)
    if ci is not None:
        groups = frame.groupby(hue, sort=False) if hue else [(None, frame)]
        for _, grp in groups:
            ax.fill_between(grp[x], grp[ci[0]], grp[ci[1]], alpha=0.2)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(ylabel or y)
    ax.set_xlabel(x)
    ax.tick_params(axis="x", rotation=45)
    return ax


def plot_nps_trend(data: pd.DataFrame, x: str = "period", hue: str | None = None, ax: Axes | None = None) -> Axes:
    """NPS over periods with its confidence interval and the zero line."""
    ax = plot_kpi_trend(
        data, y="nps", x=x, hue=hue, ci=("nps_ci_lower", "nps_ci_upper"), ylabel="NPS (-100..100)", ax=ax
    )
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    return ax


def plot_retention(data: pd.DataFrame, x: str = "period", hue: str | None = None, ax: Axes | None = None) -> Axes:
    """Churn rate per period with Wilson intervals (from :func:`bsc_toolkit.metrics.retention`)."""
    return plot_kpi_trend(
        data,
        y="churn_rate",
        x=x,
        hue=hue,
        ci=("churn_rate_ci_lower", "churn_rate_ci_upper"),
        percent=True,
        ylabel="churn rate per period",
        ax=ax,
    )


def plot_whale_curve(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Cumulative profitability curve (from :func:`bsc_toolkit.metrics.whale_curve`).

    Marks the peak: the share of customers that earns the most profit, and
    how much of total profit that is.
    """
    ax = _axes(ax, (6, 4))
    ax.plot(data["customer_share"], data["cumulative_profit_share"], color="tab:blue")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    peak = data["cumulative_profit_share"].idxmax()
    px, py = data.loc[peak, "customer_share"], data.loc[peak, "cumulative_profit_share"]
    ax.scatter([px], [py], color="tab:red", zorder=3)
    ax.annotate(
        f"{px:.0%} of customers earn {py:.0%} of profit",
        (px, py),
        xytext=(0.05, 0.1),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "->", "color": "grey"},
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("customers, most profitable first (cumulative share)")
    ax.set_ylabel("cumulative profit (share of total)")
    return ax


def plot_score_distribution(
    data: pd.DataFrame, column: str = "csat", hue: str | None = None, ax: Axes | None = None
) -> Axes:
    """Distribution of a survey score as shares per scale point."""
    ax = _axes(ax, (6, 3.5))
    frame = data.loc[data[column].notna()]
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
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of responses")
    return ax
