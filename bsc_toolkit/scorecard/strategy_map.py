"""Strategy map: the cause-and-effect links between a scorecard's objectives.

Perspectives are horizontal bands, learning & growth at the bottom and
financial at the top; objectives are boxes and their ``drives`` links arrows.
Links can be annotated with strengths estimated by the link models
(:func:`bsc_toolkit.scorecard.links.chain_link_strengths`): a table with columns
``source, target, estimate, ci_lower, ci_upper, unit, method`` whose source and
target name objectives by id, name or ``model_node``.
"""

from __future__ import annotations

import textwrap
import warnings
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch, Rectangle

from bsc_toolkit.scorecard.evaluate import STATUS_ORDER, status_label
from bsc_toolkit.scorecard.links import LINK_COLUMNS
from bsc_toolkit.scorecard.spec import PERSPECTIVE_TITLES, PERSPECTIVES, Scorecard

__all__ = ["LINK_COLUMNS", "estimate_link_strengths", "match_link_strengths", "plot_strategy_map"]

# Interval columns of link-strength tables before 0.2 (accepted with a FutureWarning).
_OLD_INTERVAL_COLUMNS = {"ci_low": "ci_lower", "ci_high": "ci_upper"}

_BAND_COLOURS = {
    "financial": "#e3f2fd",
    "customer": "#e8f5e9",
    "internal_process": "#fff8e1",
    "learning_growth": "#f3e5f5",
}
_STATUS_EDGE = {"green": "#2e7d32", "amber": "#ef6c00", "red": "#c62828", "no data": "#9e9e9e"}
# darker shades for the status words inside the boxes (readable on white)
_STATUS_TEXT = {"green": "#1b5e20", "amber": "#bf360c", "red": "#b71c1c", "no data": "#616161"}


def estimate_link_strengths(data: Any, **kwargs: Any) -> pd.DataFrame | None:
    """Estimate link strengths with the link models, or ``None`` if that fails.

    Calls :func:`bsc_toolkit.scorecard.links.chain_link_strengths` ``(data, **kwargs)``
    (which imports the models lazily, so importing the scorecard does not load them).
    When the estimation fails it warns with the reason and returns ``None``,
    so a strategy map can still be drawn with unlabelled arrows.

    Parameters
    ----------
    data : object
        Whatever ``chain_link_strengths`` accepts (a loaded data set).
    **kwargs
        Passed on.

    Returns
    -------
    pandas.DataFrame or None
        Columns ``source, target, estimate, ci_lower, ci_upper, unit, method``.
    """
    from bsc_toolkit.scorecard.links import chain_link_strengths

    try:
        return chain_link_strengths(data, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a report should still draw the map
        warnings.warn(
            f"link strengths could not be estimated ({type(exc).__name__}: {exc}); "
            "drawing the strategy map without them",
            stacklevel=2,
        )
        return None


def _norm(text: Any) -> str:
    return " ".join(str(text).lower().replace("_", " ").replace("-", " ").split())


def match_link_strengths(spec: Scorecard, link_strengths: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scorecard's links with their estimated strengths where available.

    Parameters
    ----------
    spec : Scorecard
        The scorecard.
    link_strengths : pandas.DataFrame, optional
        Table with columns ``source, target, estimate`` (and optionally
        ``ci_lower, ci_upper, unit, method``); source and target are matched to an
        objective's ``id``, ``name`` or ``model_node`` (case-insensitive,
        ``_``/``-`` = space). The former interval names ``ci_low, ci_high`` are
        accepted for one release (FutureWarning).

    Returns
    -------
    pandas.DataFrame
        One row per scorecard link: ``source, target`` (objective ids),
        ``estimate, ci_lower, ci_upper, unit, method`` (NaN/empty if unmatched).
    """
    links = spec.links()
    out = links.copy()
    for col in LINK_COLUMNS[2:]:
        out[col] = np.nan if col in ("estimate", "ci_lower", "ci_upper") else ""
    if link_strengths is None or link_strengths.empty or links.empty:
        return out
    old = [c for c in _OLD_INTERVAL_COLUMNS if c in link_strengths.columns]
    if old:
        warnings.warn(
            f"link_strengths columns {old} are deprecated; name them "
            f"{[_OLD_INTERVAL_COLUMNS[c] for c in old]} (they will not be read from 0.3.0 on)",
            FutureWarning,
            stacklevel=2,
        )
        link_strengths = link_strengths.rename(columns=_OLD_INTERVAL_COLUMNS)
    missing = [c for c in ("source", "target", "estimate") if c not in link_strengths.columns]
    if missing:
        raise ValueError(f"link_strengths lacks column(s) {missing}; it has {list(link_strengths.columns)}")
    keys: dict[str, set[str]] = {}
    for _, o in spec.iter_objectives():
        keys[o.id] = {_norm(o.id), _norm(o.name)} | ({_norm(o.model_node)} if o.model_node else set())
    for i, (src, tgt) in enumerate(zip(links["source"], links["target"])):
        for _, row in link_strengths.iterrows():
            if _norm(row["source"]) in keys[src] and _norm(row["target"]) in keys[tgt]:
                for col in LINK_COLUMNS[2:]:
                    if col in link_strengths.columns:
                        out.loc[i, col] = row[col]
                break
    return out


def _layout(spec: Scorecard) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]], float]:
    """Positions of objectives and the (bottom, top) of each perspective band."""
    persp_of = {o.id: p.perspective for p, o in spec.iter_objectives()}
    preds: dict[str, list[str]] = {oid: [] for oid in persp_of}
    for _, o in spec.iter_objectives():
        for t in o.drives:
            preds[t].append(o.id)

    # level inside a band: longest chain of same-band predecessors (cycles ignored)
    level: dict[str, int] = {}

    def lvl(oid: str, stack: frozenset[str]) -> int:
        if oid in level:
            return level[oid]
        same = [s for s in preds[oid] if persp_of[s] == persp_of[oid] and s not in stack]
        value = 1 + max((lvl(s, stack | {oid}) for s in same), default=-1)
        level[oid] = value
        return value

    for oid in persp_of:
        lvl(oid, frozenset())

    bands: dict[str, tuple[float, float]] = {}
    pos: dict[str, tuple[float, float]] = {}
    y = 0.0
    for persp in reversed(PERSPECTIVES):  # bottom to top, one row per perspective
        bands[persp] = (y, y + 1.0)
        members = [oid for oid, p in persp_of.items() if p == persp]

        # left to right: causes before effects inside the band, then by the
        # mean x of the causes already placed below (fewer crossings)
        def key(item: tuple[int, str]) -> tuple[int, float, int]:
            k, m = item
            xs = [pos[s][0] for s in preds[m] if s in pos]
            return level[m], float(np.mean(xs)) if xs else 0.5, k

        row = [m for _, m in sorted(enumerate(members), key=key)]
        for k, m in enumerate(row):
            pos[m] = ((k + 0.5) / len(row), y + 0.5)
        y += 1.0
    return pos, bands, y


def plot_strategy_map(
    spec: Scorecard,
    link_strengths: pd.DataFrame | None = None,
    status: pd.DataFrame | None = None,
    ax: Axes | None = None,
    wrap: int = 20,
) -> Axes:
    """Draw the scorecard's strategy map.

    Parameters
    ----------
    spec : Scorecard
        The scorecard; objectives' ``drives`` links become arrows.
    link_strengths : pandas.DataFrame, optional
        Estimated link strengths (see :func:`match_link_strengths`). Matched
        arrows are labelled ``estimate [ci_lower, ci_upper] unit`` and their width
        grows with ``|estimate| / SE`` (SE from the interval, whose confidence level
        is ``1 - link_strengths.attrs["alpha"]``, 95 % if not given); arrows whose
        interval includes 0 are dashed. Unmatched links are thin and unlabelled.
    status : pandas.DataFrame, optional
        Output of :func:`bsc_toolkit.scorecard.evaluate_scorecard`; each box's
        edge is coloured by the worst status of its measures, and the status is written in
        words in the box (``"\u2717 off target"``) and in a legend: never shown by colour alone.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is created if omitted.
    wrap : int
        Characters per line of objective names.

    Returns
    -------
    matplotlib.axes.Axes
        Arrows are ``FancyArrowPatch`` es with ``gid`` ``"link:<source>-><target>"``,
        boxes ``FancyBboxPatch`` es with ``gid`` ``"objective:<id>"``.
    """
    pos, bands, height = _layout(spec)
    if ax is None:
        _, ax = plt.subplots(figsize=(13, 1.7 * height))
    links = match_link_strengths(spec, link_strengths)
    from bsc_toolkit.models._base import z_critical  # lazily: scipy is not needed to import the scorecard

    alpha = float(link_strengths.attrs.get("alpha", 0.05)) if link_strengths is not None else 0.05
    z = z_critical(alpha)
    worst: dict[str, str] = {}
    if status is not None and {"objective_id", "status"} <= set(status.columns):
        rank = {"red": 3, "amber": 2, "green": 1, "no data": 0}
        for oid, grp in status.groupby("objective_id"):
            worst[oid] = max(grp["status"], key=lambda s: rank.get(s, 0))

    x0 = -0.22
    titles = {p.perspective: p.display_title for p in spec.perspectives}
    for persp, (lo, hi) in bands.items():
        ax.add_patch(
            Rectangle((x0, lo), 1 - x0, hi - lo, facecolor=_BAND_COLOURS[persp], edgecolor="white", lw=2, zorder=0)
        )
        ax.text(
            x0 + 0.01,
            (lo + hi) / 2,
            textwrap.fill(titles.get(persp, PERSPECTIVE_TITLES[persp]), 12),
            va="center",
            ha="left",
            fontsize=11,
            fontweight="bold",
            color="#37474f",
            zorder=1,
        )

    n_max = max((sum(1 for q in pos.values() if abs(q[1] - y) < 1e-9) for _, y in pos.values()), default=1)
    box_w = min(0.2, 0.72 / n_max)
    box_h = 0.5
    boxes: dict[str, FancyBboxPatch] = {}
    for _, o in spec.iter_objectives():
        x, y = pos[o.id]
        edge = _STATUS_EDGE.get(worst.get(o.id, ""), "#546e7a")
        box = FancyBboxPatch(
            (x - box_w / 2, y - box_h / 2),
            box_w,
            box_h,
            boxstyle="round,pad=0.01,rounding_size=0.03",
            facecolor="white",
            edgecolor=edge,
            lw=2.5 if o.id in worst else 1.2,
            zorder=3,
            gid=f"objective:{o.id}",
        )
        ax.add_patch(box)
        boxes[o.id] = box
        state = worst.get(o.id)
        ax.text(
            x,
            y + (0.07 if state else 0.0),
            textwrap.fill(o.name, wrap),
            ha="center",
            va="center",
            fontsize=8.5,
            zorder=4,
        )
        if state:  # the status in words, never by the edge colour alone
            ax.text(
                x,
                y - box_h / 2 + 0.025,
                status_label(state),
                ha="center",
                va="bottom",
                fontsize=7.5,
                fontweight="bold",
                color=_STATUS_TEXT.get(state, "#37474f"),
                zorder=4,
                gid=f"status:{o.id}",
            )

    ax.set_xlim(x0, 1.0)
    ax.set_ylim(0, height)
    to_disp, to_data = ax.transData, ax.transData.inverted()
    for row in links.itertuples(index=False):
        src, tgt = pos[row.source], pos[row.target]
        est = row.estimate
        has_est = est is not None and np.isfinite(est)
        lw, style, colour = 1.2, "solid", "#78909c"
        label = None
        if has_est:
            colour = "#263238"
            lo, hi = row.ci_lower, row.ci_upper
            if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
                t_ratio = abs(est) / ((hi - lo) / (2 * z))
                lw = 1.0 + 3.5 * min(t_ratio, 10.0) / 10.0
                if lo <= 0 <= hi:
                    style = "dashed"
                label = f"{est:.3g} [{lo:.3g}, {hi:.3g}]"
            else:
                lw = 2.0
                label = f"{est:.3g}"
            if isinstance(row.unit, str) and row.unit:
                label += "\n" + textwrap.fill(row.unit, 28)
        same_row = abs(src[1] - tgt[1]) < 1e-9
        if same_row:
            # inside a band: an arc from the top edge of one box to the top edge of the other
            step = np.sign(tgt[0] - src[0]) * box_w * 0.2
            src = (src[0] + step, src[1] + box_h / 2)
            tgt = (tgt[0] - step, tgt[1] + box_h / 2)
            (x1, _), (x2, _) = to_disp.transform([src, tgt])
            rad = float(np.sign(src[0] - tgt[0]) * min(0.6, 2 * 30.0 / max(abs(x2 - x1), 1.0)))
            patches = {}
        else:
            rad = 0.08
            patches = {"patchA": boxes[row.source], "patchB": boxes[row.target]}
        arrow = FancyArrowPatch(
            posA=src,
            posB=tgt,
            arrowstyle="-|>",
            mutation_scale=14,
            lw=lw,
            linestyle=style,
            color=colour,
            connectionstyle=f"arc3,rad={rad}",
            zorder=2,
            gid=f"link:{row.source}->{row.target}",
            **patches,
        )
        ax.add_patch(arrow)
        if label:
            # the label sits at the peak of the arc (computed in display space)
            (x1, y1), (x2, y2) = to_disp.transform([src, tgt])
            cx, cy = (x1 + x2) / 2 + rad * (y2 - y1) / 2, (y1 + y2) / 2 - rad * (x2 - x1) / 2
            lx, ly = to_data.transform((cx, cy + (18.0 if same_row else 0.0)))
            ax.text(
                lx,
                ly,
                label,
                ha="center",
                va="center",
                fontsize=7.5,
                color="#263238",
                zorder=5,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#b0bec5", "alpha": 0.9},
            )

    ax.set_axis_off()
    ax.set_title(spec.name + ": strategy map", loc="left", fontsize=13)
    if worst:
        handles = [
            Patch(facecolor="white", edgecolor=_STATUS_EDGE[k], lw=2, label=status_label(k))
            for k in STATUS_ORDER
            if k in set(worst.values())
        ]
        ax.legend(
            handles=handles,
            title="objective status (its worst measure)",
            title_fontsize=8,
            fontsize=8,
            ncol=len(handles),
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
        )
    if links["estimate"].notna().any():
        ax.text(
            1.0,
            -0.02,
            f"labels: estimated effect [{100 * (1 - alpha):g}% CI]; arrow width grows with |estimate|/SE; "
            "dashed = CI includes 0. Estimates are associations under the link models' assumptions.",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7.5,
            color="#546e7a",
        )
    return ax
