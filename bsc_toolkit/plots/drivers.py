"""Plots of the driver analysis and the service-profit chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

__all__ = ["plot_importance", "plot_importance_performance", "plot_mediation_effects"]


def _ax(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        # a local style: no change to the caller's global matplotlib settings
        with sns.axes_style("whitegrid"):
            _, ax = plt.subplots(figsize=size)
    return ax


def _summary(data: Any) -> pd.DataFrame:
    return data.summary if hasattr(data, "summary") and isinstance(data.summary, pd.DataFrame) else data


def _labelled(index: pd.Index, labels: Mapping[str, str] | None) -> list[str]:
    """Display names of drivers: ``labels[name]`` where given, else the column name."""
    labels = labels or {}
    return [str(labels.get(name, name)) for name in index]


def plot_importance(
    data: Any, column: str = "share", ax: Axes | None = None, labels: Mapping[str, str] | None = None
) -> Axes:
    """Horizontal bars of driver importance with bootstrap CI error bars.

    Parameters
    ----------
    data : DriverImportance or DataFrame
        A fitted model or its ``summary`` (needs ``column``, ``column_ci_lower``,
        ``column_ci_upper``).
    column : {"share", "importance"}
        Share of R^2 (sums to 1) or importance in R^2 units.
    ax : Axes, optional
        Axes to draw on.
    labels : mapping, optional
        Display name of each driver (``CustomerData.driver_labels``); default the column names.

    Returns
    -------
    Axes
    """
    s = _summary(data)
    for col in (column, f"{column}_ci_lower", f"{column}_ci_upper"):
        if col not in s.columns:
            raise ValueError(f"summary lacks column {col!r}")
    s = s.sort_values(column)
    ax = _ax(ax, (6, 0.5 * len(s) + 1.5))
    err = np.vstack([s[column] - s[f"{column}_ci_lower"], s[f"{column}_ci_upper"] - s[column]])
    ax.barh(_labelled(s.index, labels), s[column], xerr=err, color="#4c72b0", capsize=4)
    target = getattr(data, "target_", "csat")
    label = f"share of explained {target} variance" if column == "share" else "importance (R\u00b2 units)"
    ax.set_xlabel(label)
    ax.set_ylabel("driver")
    r2 = getattr(data, "r2_", None)
    title = "Relative importance of satisfaction drivers"
    ax.set_title(title + (f" (R\u00b2 = {r2:.2f})" if r2 is not None else ""))
    ax.set_xlim(left=0)
    return ax


def plot_importance_performance(
    data: Any, ax: Axes | None = None, labels: Mapping[str, str] | None = None, **kwargs: float
) -> Axes:
    """Importance-performance (action priority) matrix.

    Parameters
    ----------
    data : DriverImportance or DataFrame
        A fitted model (its :meth:`~bsc_toolkit.models.drivers.DriverImportance.quadrant_table`:
        normalised 0-1 performance when the drivers' scales differ), its ``summary``, or the
        table of :func:`~bsc_toolkit.models.drivers.importance_performance_table`. The x-axis
        label is the table's ``attrs["performance_label"]`` when it has one.
    ax : Axes, optional
        Axes to draw on.
    labels : mapping, optional
        Display name of each driver (``CustomerData.driver_labels``); default the column names.
    **kwargs
        Passed to ``importance_performance_table`` (cut points).

    Returns
    -------
    Axes
    """
    from bsc_toolkit.models.drivers import importance_performance_table

    if hasattr(data, "quadrant_table") and getattr(data, "is_fitted", False):
        table = data.quadrant_table(**kwargs)
    else:
        s = _summary(data)
        table = (
            s
            if {"importance", "performance", "quadrant"} <= set(s.columns)
            else importance_performance_table(s, **kwargs)
        )
    ax = _ax(ax, (6, 5))
    ax.scatter(table["performance"], table["importance"], s=60, color="#4c72b0", zorder=3)
    for name, row in zip(_labelled(table.index, labels), table.itertuples()):
        ax.annotate(name, (row.performance, row.importance), xytext=(5, 5), textcoords="offset points")
    i_cut = table.attrs.get("importance_cut", float(table["importance"].mean()))
    p_cut = table.attrs.get("performance_cut", float(table["performance"].mean()))
    ax.axhline(i_cut, color="grey", lw=1, ls="--")
    ax.axvline(p_cut, color="grey", lw=1, ls="--")
    spread = float(np.ptp(table["performance"]))
    # a small pad on a 0-1 (normalised) axis, a rating-sized one on a rating scale
    xpad = max(0.15 if table["performance"].abs().max() > 1 else 0.02, 0.25 * spread)
    ypad = max(0.02, 0.25 * np.ptp(table["importance"]))
    ax.set_xlim(table["performance"].min() - xpad, table["performance"].max() + xpad)
    ax.set_ylim(table["importance"].min() - ypad, table["importance"].max() + ypad)
    corners = {
        "concentrate here": (0.02, 0.98, "left", "top"),
        "keep up the good work": (0.98, 0.98, "right", "top"),
        "low priority": (0.02, 0.02, "left", "bottom"),
        "possible overkill": (0.98, 0.02, "right", "bottom"),
    }
    for text, (x, y, ha, va) in corners.items():
        ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, color="grey", fontsize=9, style="italic")
    ax.set_xlabel(str(table.attrs.get("performance_label", "performance: mean rating")))
    target = table.attrs.get("target", getattr(data, "target_", "csat"))
    ax.set_ylabel(f"derived importance (share of explained {target} variance)")
    ax.set_title("Importance-performance matrix")
    return ax


def plot_mediation_effects(
    data: Any,
    truth: pd.Series | dict | None = None,
    effects: tuple[str, ...] = ("total", "direct", "indirect"),
    ax: Axes | None = None,
) -> Axes:
    """Point estimates and intervals of the direct, indirect and total effects.

    Parameters
    ----------
    data : ServiceProfitChain or DataFrame
        A fitted chain model or its ``summary`` (index or column ``effect``; columns
        ``coef, ci_lower, ci_upper`` and optionally ``unit``).
    truth : Series or dict, optional
        True effects (e.g. from :func:`bsc_toolkit.data.oracles.simulated_chain_effects`),
        drawn as crosses.
    effects : tuple of str
        Effects to show, top to bottom.
    ax : Axes, optional
        Axes to draw on.

    Returns
    -------
    Axes
    """
    s = _summary(data)
    if "effect" in s.columns:
        s = s.set_index("effect")
    elif s.index.name != "effect":
        raise ValueError("summary lacks an 'effect' index or column")
    missing = [c for c in ("coef", "ci_lower", "ci_upper") if c not in s.columns]
    if missing:
        raise ValueError(f"summary lacks column(s) {missing}")
    s = s.loc[list(effects)]
    ax = _ax(ax, (6, 0.6 * len(s) + 1.5))
    y = np.arange(len(s))[::-1]
    err = np.vstack([s["coef"] - s["ci_lower"], s["ci_upper"] - s["coef"]])
    ax.errorbar(s["coef"], y, xerr=err, fmt="o", color="#4c72b0", capsize=4, label="estimate (CI)")
    if truth is not None:
        t = pd.Series(truth)
        ax.scatter([t.get(e, np.nan) for e in s.index], y, marker="x", color="#c44e52", s=60, zorder=3, label="truth")
        ax.legend(loc="best")
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, [f"{e} effect" for e in s.index])
    unit = str(s["unit"].iloc[0]) if "unit" in s.columns else ""
    ax.set_xlabel(unit)
    outcome = str(getattr(data, "outcome_", "revenue_usd")).removesuffix("_usd")
    ax.set_title(f"Satisfaction -> retention -> {outcome}: mediation effects")
    return ax
