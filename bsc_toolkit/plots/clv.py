"""Figures for customer lifetime value (BG/NBD + Gamma-Gamma; the sBG of subscribers).

Every function takes data (or a fitted model) and an optional ``ax`` and returns the
``matplotlib.axes.Axes`` it drew on, in the seaborn style.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

if TYPE_CHECKING:  # pragma: no cover
    from bsc_toolkit.models.clv.bgnbd import BetaGeoFitter

__all__ = [
    "plot_clv_distribution",
    "plot_clv_by_group",
    "plot_probability_alive_matrix",
    "plot_frequency_recency_matrix",
    "plot_calibration_holdout",
    "plot_retention_curve",
    "plot_holdout_survival",
]


#: Symbols written before an amount; other currencies are written after it ("1,234 CHF").
_SYMBOLS = {"USD": "$", "GBP": "\u00a3", "EUR": "\u20ac", "JPY": "\u00a5"}


def _money_label(v: float, currency: str = "USD") -> str:
    """An amount for a tick or legend: ``$1,234``, ``\u00a31,234``, ``1,234 CHF``."""
    number = f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:.2g}"
    symbol = _SYMBOLS.get(currency.upper())
    if symbol is not None:
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    return f"{number} {currency}".rstrip()


def _money_formatter(currency: str = "USD") -> FuncFormatter:
    """A new tick formatter for amounts (formatters hold their axis, so never share one)."""
    return FuncFormatter(lambda v, _pos=None: _money_label(v, currency))


def _amount_name(column: str) -> str:
    """``clv_usd`` -> ``CLV``, ``clv_margin_usd`` -> ``CLV MARGIN`` (the suffix is historic)."""
    return column.removesuffix("_usd").replace("_", " ").upper()


def _ax(ax: Axes | None, figsize: tuple[float, float] = (7, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_clv_distribution(
    clv: pd.Series | pd.DataFrame,
    column: str = "clv_usd",
    hue: str | None = None,
    log_scale: bool = True,
    ax: Axes | None = None,
    currency: str = "USD",
    *,
    title: str | None = None,
    xlabel: str | None = None,
) -> Axes:
    """Histogram of per-customer CLV with mean and median marked.

    Parameters
    ----------
    clv : Series or DataFrame
        CLV per customer (e.g. from ``customer_lifetime_value``) or a frame with
        ``column`` (and optionally ``hue``).
    log_scale : bool, default True
        CLV is heavily right-skewed; a log x-axis is usually more readable.
        Customers with non-positive CLV are dropped from a log-scaled plot.
    currency : str
        Currency of the amounts (the data set's; labels the axis and the ticks).
    title, xlabel : str, optional
        The axes' title and x label (default "Distribution of customer lifetime value" and the
        amount's name with the currency, "CLV (USD)").
    """
    df = clv.to_frame(name=column) if isinstance(clv, pd.Series) else clv
    if column not in df:
        raise ValueError(f"column {column!r} not in data")
    data = df[df[column] > 0] if log_scale else df
    ax = _ax(ax)
    sns.histplot(data=data, x=column, hue=hue, log_scale=log_scale, bins=40, ax=ax, element="step" if hue else "bars")
    vals = df[column]
    for stat, style in (("mean", "--"), ("median", ":")):
        v = float(getattr(vals, stat)())
        if v > 0 or not log_scale:
            ax.axvline(v, color="k", linestyle=style, linewidth=1, label=f"{stat} {_money_label(round(v), currency)}")
    ax.xaxis.set_major_formatter(_money_formatter(currency))
    if log_scale:
        ax.xaxis.set_minor_formatter(NullFormatter())  # no "2 x 10^3" minor labels beside the amounts
    ax.set_xlabel(xlabel if xlabel is not None else f"{_amount_name(column)} ({currency})")
    ax.set_ylabel("customers")
    ax.set_title(title if title is not None else "Distribution of customer lifetime value")
    # keep the groups' legend (seaborn's) beside the mean and median lines
    groups = ax.get_legend()
    handles, labels = ax.get_legend_handles_labels()
    if groups is not None:
        handles = [*groups.legend_handles, *handles]
        labels = [*(t.get_text() for t in groups.get_texts()), *labels]
    ax.legend(handles, labels, loc="upper right", fontsize="small")
    return ax


def plot_clv_by_group(
    value: pd.DataFrame,
    by: str = "segment",
    column: str = "clv_usd",
    ax: Axes | None = None,
    currency: str = "USD",
    *,
    title: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Bars of total CLV per group, largest first.

    Parameters
    ----------
    value : DataFrame
        One row per customer with ``column`` (CLV) and the group column ``by``.
    by : str, default "segment"
        Customer attribute to group by.
    currency : str
        Currency of the amounts (the data set's; labels the axis and the ticks).
    title, ylabel : str, optional
        The axes' title and y label (default "CLV by <by>" and "total CLV (USD)").
    """
    missing = [c for c in (by, column) if c not in value]
    if missing:
        raise ValueError(f"column(s) {missing} not in data; it has {list(value.columns)}")
    totals = value.groupby(by, observed=True)[column].sum().sort_values(ascending=False)
    ax = _ax(ax)
    ax.bar(totals.index.astype(str), totals.to_numpy())
    ax.yaxis.set_major_formatter(_money_formatter(currency))
    ax.set_xlabel(by)
    ax.set_ylabel(ylabel if ylabel is not None else f"total {_amount_name(column)} ({currency})")
    ax.set_title(title if title is not None else f"CLV by {by}")
    return ax


def _heatmap(
    matrix: pd.DataFrame, ax: Axes, cbar_label: str, title: str, cmap: str, vmin: float | None, vmax: float | None
) -> Axes:
    sns.heatmap(matrix, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, cbar_kws={"label": cbar_label})
    ax.invert_yaxis()
    ax.set_xlabel("historical frequency (repeat purchase periods)")
    ax.set_ylabel("recency (periods from first to last purchase)")
    ax.set_title(title)
    # thin out tick labels for large grids (cell centres are at i + 0.5)
    for setter, labels_of, n in (
        (ax.set_xticks, matrix.columns, matrix.shape[1]),
        (ax.set_yticks, matrix.index, matrix.shape[0]),
    ):
        step = max(1, int(np.ceil(n / 15)))
        pos = np.arange(0, n, step)
        setter(pos + 0.5, [str(labels_of[i]) for i in pos], rotation=0)
    return ax


def plot_probability_alive_matrix(
    model: BetaGeoFitter | pd.DataFrame,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of P(alive) by frequency and recency, for customers of age ``max_recency``.

    ``model`` is a fitted ``BetaGeoFitter`` or a matrix from
    ``BetaGeoFitter.probability_alive_matrix``. Grey cells are impossible histories.
    """
    matrix = model if isinstance(model, pd.DataFrame) else model.probability_alive_matrix(max_frequency, max_recency)
    ax = _ax(ax, (7, 5.5))
    return _heatmap(
        matrix,
        ax,
        "P(alive)",
        f"Probability a customer is alive (age {matrix.index.max()} periods)",
        "RdYlGn",
        0.0,
        1.0,
    )


def plot_frequency_recency_matrix(
    model: BetaGeoFitter | pd.DataFrame,
    t: float = 1.0,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of expected purchases in the next ``t`` periods by frequency and recency."""
    matrix = (
        model if isinstance(model, pd.DataFrame) else model.expected_purchases_matrix(t, max_frequency, max_recency)
    )
    ax = _ax(ax, (7, 5.5))
    return _heatmap(
        matrix,
        ax,
        f"expected purchases in next {t:g} periods",
        f"Expected purchases in the next {t:g} periods",
        "viridis",
        0.0,
        None,
    )


def plot_calibration_holdout(
    model: BetaGeoFitter,
    summary: pd.DataFrame,
    max_frequency: int = 7,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",
    frequency_holdout_col: str = "frequency_holdout",
    duration_holdout_col: str = "duration_holdout",
    ax: Axes | None = None,
) -> Axes:
    """Mean actual vs predicted holdout purchases, by calibration-period frequency.

    ``summary`` is ``rfm_summary(..., calibration_end=...)`` (or any frame with the
    calibration and holdout columns); customers with frequency above
    ``max_frequency`` are pooled into the last group.
    """
    missing = [
        c for c in (frequency_col, recency_col, T_col, frequency_holdout_col, duration_holdout_col) if c not in summary
    ]
    if missing:
        raise ValueError(f"summary is missing column(s) {missing}; run rfm_summary with calibration_end")
    pred = model.conditional_expected_number_of_purchases_up_to_time(
        summary[duration_holdout_col].to_numpy(dtype=float),
        summary[frequency_col].to_numpy(dtype=float),
        summary[recency_col].to_numpy(dtype=float),
        summary[T_col].to_numpy(dtype=float),
    )
    grp = summary[frequency_col].clip(upper=max_frequency).astype(int)
    df = pd.DataFrame(
        {"group": grp.to_numpy(), "actual": summary[frequency_holdout_col].to_numpy(), "model": np.asarray(pred)}
    )
    agg = df.groupby("group")[["actual", "model"]].mean()
    long = agg.reset_index().melt(id_vars="group", var_name="series", value_name="purchases")
    ax = _ax(ax)
    sns.lineplot(data=long, x="group", y="purchases", hue="series", style="series", markers=True, ax=ax)
    ticks = list(agg.index)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{g}+" if g == max_frequency else str(g) for g in ticks])
    ax.set_xlabel("purchases in calibration period (repeat purchase periods)")
    ax.set_ylabel("mean purchases in holdout period")
    ax.set_title(f"Calibration vs holdout: actual and {getattr(model, 'model_', 'BG/NBD')}-predicted purchases")
    ax.legend(title=None)
    return ax


def plot_retention_curve(
    curve: pd.DataFrame,
    what: str = "survival",
    period: str = "period",
    ax: Axes | None = None,
) -> Axes:
    """Observed and fitted retention by tenure (the sBG's ``retention_curve()`` table).

    Parameters
    ----------
    curve : DataFrame
        Indexed by tenure (0, 1, 2, ...) with ``observed_survival`` and ``fitted_survival`` (share
        still a customer after t periods) and ``observed_retention`` and ``fitted_retention`` (share
        renewing at the end of period t), e.g. ``ShiftedBetaGeoFitter.retention_curve()``.
    what : {"survival", "retention"}
        Which pair to draw.
    period : str
        The contract period in words, for the axis ("quarter").
    """
    if what not in ("survival", "retention"):
        raise ValueError(f"what must be 'survival' or 'retention', not {what!r}")
    ax = _ax(ax)
    shown = curve if what == "survival" else curve.iloc[1:]
    t = shown.index.to_numpy(dtype=float)
    ax.plot(t, shown[f"observed_{what}"].to_numpy(dtype=float), "-o", markersize=4, label="observed")
    ax.plot(t, shown[f"fitted_{what}"].to_numpy(dtype=float), "--", label="fitted")
    values = shown[[f"observed_{what}", f"fitted_{what}"]].to_numpy(dtype=float)
    low = float(np.nanmin(values, initial=1.0))
    ax.set_ylim(0 if what == "survival" else max(0.0, low - 0.05), 1.005)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlabel(f"tenure ({period}s)")
    if what == "survival":
        ax.set_ylabel("share still a customer")
        ax.set_title("Survival by tenure: observed and fitted")
    else:
        ax.set_ylabel(f"share renewing at the end of the {period}")
        ax.set_title("Retention rate by tenure: observed and fitted")
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_holdout_survival(holdout: pd.DataFrame, period: str = "period", ax: Axes | None = None) -> Axes:
    """Forecast vs actual renewals after the calibration end (the subscriber holdout check).

    Parameters
    ----------
    holdout : DataFrame
        Indexed by k = 1, 2, ... periods after the calibration end, with ``actual_share`` and
        ``expected_share`` (e.g. :func:`bsc_toolkit.report_clv.holdout_survival`).
    period : str
        The contract period in words.
    """
    ax = _ax(ax)
    k = np.concatenate([[0], holdout.index.to_numpy(dtype=float)])
    for col, label, style in (
        ("actual_share", "actual", "-o"),
        ("expected_share", "forecast (calibration fit)", "--s"),
    ):
        ax.plot(k, np.concatenate([[1.0], holdout[col].to_numpy(dtype=float)]), style, label=label, markersize=4)
    low = float(np.nanmin(holdout[["actual_share", "expected_share"]].to_numpy(dtype=float), initial=1.0))
    ax.set_ylim(max(0.0, low - 0.05), 1.005)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xticks(k)
    ax.set_xlabel(f"{period}s after the calibration end")
    ax.set_ylabel("share of the customers active then still renewing")
    ax.set_title("Holdout: forecast vs actual retention")
    ax.legend(loc="lower left", fontsize="small")
    return ax
