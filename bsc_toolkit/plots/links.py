"""Plots of the satisfaction -> retention -> money link models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

if TYPE_CHECKING:
    from bsc_toolkit.models.whatif import WhatIfResult

__all__ = ["plot_km_by_band", "plot_hazard_ratios", "plot_csat_effect", "plot_what_if"]


def _pct(level: float) -> str:
    value = round(100 * level, 1)
    return f"{int(value) if float(value).is_integer() else value}%"


def _ax(ax: Axes | None, size: tuple[float, float] = (7, 4)) -> Axes:
    if ax is None:
        # a local style: no change to the caller's global matplotlib settings
        with sns.axes_style("whitegrid"):
            _, ax = plt.subplots(figsize=size)
    return ax


def plot_km_by_band(table: pd.DataFrame, ax: Axes | None = None, ci: bool = True) -> Axes:
    """Kaplan-Meier survival curves by csat band.

    Parameters
    ----------
    table : pandas.DataFrame
        ``KaplanMeierByBand.table`` (``band, time, survival, ci_lower, ci_upper``).
    ax : Axes, optional
    ci : bool
        Shade the pointwise confidence bands (level ``1 - alpha`` of :func:`kaplan_meier_by_band`).
    """
    ax = _ax(ax)
    bands = [b for b in pd.Categorical(table["band"]).categories if (table["band"] == b).any()]
    colors = sns.color_palette("RdYlGn", len(bands))
    for band, color in zip(bands, colors):
        sub = table[table["band"] == band]
        ax.step(sub["time"], sub["survival"], where="post", color=color, label=f"csat {band}")
        if ci:
            ax.fill_between(sub["time"], sub["ci_lower"], sub["ci_upper"], step="post", color=color, alpha=0.15)
    ax.set_xlabel("years since first survey")
    ax.set_ylabel("share of customers retained")
    ax.set_title("Kaplan-Meier retention by first csat band")
    ax.legend(title="band", fontsize="small")
    return ax


def plot_hazard_ratios(
    summary: pd.DataFrame, ax: Axes | None = None, ratio: str = "hazard_ratio", alpha: float = 0.05
) -> Axes:
    """Forest plot of hazard (or odds) ratios with their intervals, log scale.

    Parameters
    ----------
    summary : pandas.DataFrame
        A model's ``summary`` (``exp_coef``, ``exp_coef_ci_lower``, ``exp_coef_ci_upper``
        columns; the intercept is left out).
    ratio : str
        What ``exp_coef`` is, for the labels: ``"hazard_ratio"`` or ``"odds_ratio"``.
    alpha : float
        1 - confidence level of the intervals in ``summary`` (the model's ``alpha``; for the title).
    """
    s = summary.drop(index="Intercept", errors="ignore")
    ax = _ax(ax, (7, 0.45 * len(s) + 1.2))
    y = np.arange(len(s))[::-1]
    ax.errorbar(
        s["exp_coef"],
        y,
        xerr=[s["exp_coef"] - s["exp_coef_ci_lower"], s["exp_coef_ci_upper"] - s["exp_coef"]],
        fmt="o",
        color="C0",
        capsize=3,
    )
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y, [str(i) for i in s.index])
    ax.set_xlabel(f"{ratio.replace('_', ' ')} (per unit; log scale)")
    ax.set_title("Churn " + ratio.replace("_", " ") + f"s with {_pct(1 - alpha)} CI")
    return ax


def plot_csat_effect(
    spline: pd.DataFrame, bands: pd.DataFrame | None = None, ax: Axes | None = None, exponentiate: bool = True
) -> Axes:
    """Spline effect of csat on churn (with CI), optionally with banded estimates.

    Parameters
    ----------
    spline : pandas.DataFrame
        ``DiscreteTimeHazardModel(terms="spline").csat_effect()`` (``csat, effect, ci_lower, ci_upper``).
    bands : pandas.DataFrame, optional
        ``DiscreteTimeHazardModel(terms="bands").csat_effect()``; plotted at the band's
        mean observed csat (``csat_mean``) or else its mid score.
    exponentiate : bool
        Show hazard ratios (relative to csat at the knot) instead of log ratios.
    """
    ax = _ax(ax)
    f = np.exp if exponentiate else (lambda v: v)
    ax.plot(spline["csat"], f(spline["effect"]), color="C0", label="linear spline")
    ax.fill_between(spline["csat"], f(spline["ci_lower"]), f(spline["ci_upper"]), color="C0", alpha=0.2)
    if bands is not None:
        if "csat_mean" in bands.columns:  # plot each band at its mean observed score
            mids = bands["csat_mean"].to_numpy(dtype=float)
        else:
            mids = np.array([np.mean([float(v) for v in label.split("-")]) for label in bands["band"].astype(str)])
        eff = f(bands["effect"].to_numpy(dtype=float))
        lo = f(bands["ci_lower"].to_numpy(dtype=float))
        hi = f(bands["ci_upper"].to_numpy(dtype=float))
        ax.errorbar(mids, eff, yerr=[eff - lo, hi - eff], fmt="s", color="C3", capsize=3, label="bands")
    ax.axhline(f(0.0), color="grey", lw=1, ls="--")
    if exponentiate:
        ax.set_yscale("log")
    ax.set_xlabel("csat (1-10)")
    ax.set_ylabel("churn hazard ratio vs knot" if exponentiate else "log hazard ratio vs knot")
    ax.set_title("Diminishing returns: churn by satisfaction")
    ax.legend(fontsize="small")
    return ax


def plot_what_if(result: WhatIfResult, metric: str = "revenue_usd", ax: Axes | None = None) -> Axes:
    """Distribution of the simulated change in one what-if metric.

    Parameters
    ----------
    result : WhatIfResult
        Output of :func:`bsc_toolkit.models.whatif.what_if`.
    metric : {"retained_customers", "revenue_usd", "margin_usd"}
    """
    if metric not in result.draws.columns:
        raise ValueError(f"metric must be one of {list(result.draws.columns)}, not {metric!r}")
    ax = _ax(ax)
    sns.histplot(result.draws[metric], ax=ax, bins=40, color="C2", stat="density")
    row = result.summary.loc[metric]
    ax.axvline(row["change"], color="black", lw=2, label="point estimate")
    for edge in ("ci_lower", "ci_upper"):
        ax.axvline(row[edge], color="black", lw=1, ls="--")
    unit = "customers" if metric == "retained_customers" else "USD"
    ax.set_xlabel(f"change in {metric} over the horizon ({unit})")
    ax.set_title(f"What-if: simulated change in {metric} (dashed: {_pct(1 - result.settings['alpha'])} interval)")
    ax.legend(fontsize="small")
    return ax
