"""bsc_toolkit.plots.clv: smoke tests and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import BetaGeoFitter, simulate_bgnbd
from tests.models.clv import TRUE_BG


def test_plots_smoke():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.plots.clv import (
        plot_calibration_holdout,
        plot_clv_distribution,
        plot_frequency_recency_matrix,
        plot_probability_alive_matrix,
    )

    sim = simulate_bgnbd(2000, T=30.0, seed=3, holdout=10.0, **TRUE_BG)
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    fig, axes = plt.subplots(2, 2)
    assert plot_clv_distribution(pd.Series(np.exp(np.linspace(0, 5, 50)), name="clv_usd"), ax=axes[0, 0]) is axes[0, 0]
    assert "USD" in axes[0, 0].get_xlabel()
    plot_probability_alive_matrix(bgf, max_frequency=10, max_recency=20, ax=axes[0, 1])
    plot_frequency_recency_matrix(bgf, t=5, max_frequency=10, max_recency=20, ax=axes[1, 0])
    plot_calibration_holdout(bgf, sim, ax=axes[1, 1])
    assert len(axes[1, 1].get_lines()) >= 2
    plt.close(fig)


def test_plot_clv_by_group_bars_largest_first():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.plots.clv import plot_clv_by_group, plot_clv_distribution

    value = pd.DataFrame({"segment": ["smb", "ent", "smb", "mid"], "clv_usd": [100.0, 5000.0, 250.0, 20.0]})
    fig, (ax1, ax2) = plt.subplots(1, 2)
    assert plot_clv_by_group(value, ax=ax1) is ax1
    assert [t.get_text() for t in ax1.get_xticklabels()] == ["ent", "smb", "mid"]
    assert [p.get_height() for p in ax1.patches] == [5000.0, 350.0, 20.0]
    assert ax1.get_ylabel() == "total CLV (USD)"  # the default currency
    # each axis gets its own USD formatter (a shared one would be bound to the last axis)
    plot_clv_distribution(value, log_scale=False, ax=ax2)
    assert ax1.yaxis.get_major_formatter() is not ax2.xaxis.get_major_formatter()
    assert ax1.yaxis.get_major_formatter()(1234.0) == "$1,234"
    with pytest.raises(ValueError, match="region"):
        plot_clv_by_group(value, by="region")
    plt.close(fig)


def test_plots_label_amounts_with_the_data_currency():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.plots.clv import plot_clv_by_group, plot_clv_distribution

    value = pd.DataFrame({"segment": ["a", "b", "a"], "clv_usd": [1234.0, 50.0, 20.0]})
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3)
    plot_clv_by_group(value, ax=ax1, currency="GBP")
    assert ax1.get_ylabel() == "total CLV (GBP)" and "USD" not in ax1.get_ylabel()
    assert ax1.yaxis.get_major_formatter()(1254.0) == "\u00a31,254"
    plot_clv_distribution(value, ax=ax2, currency="EUR")
    assert ax2.get_xlabel() == "CLV (EUR)"
    legend = [t.get_text() for t in ax2.get_legend().get_texts()]
    assert legend == ["mean \u20ac435", "median \u20ac50"] and not any("$" in t for t in legend)
    plot_clv_distribution(value, ax=ax3, currency="CHF", log_scale=False)
    assert ax3.xaxis.get_major_formatter()(-2500.0) == "-2,500 CHF"
    plt.close(fig)


def test_calibration_holdout_title_names_the_model_used():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.models.clv import BetaGeoFitter, simulate_bgnbd
    from bsc_toolkit.plots.clv import plot_calibration_holdout

    # no drop-out in the truth: the fit uses the limiting NBD model, and the title says so
    sim = simulate_bgnbd(3000, r=0.5, alpha=2.0, a=0.05, b=5000.0, T=40.0, seed=5, holdout=20.0)
    bgf = BetaGeoFitter().fit(sim)
    ax = plot_calibration_holdout(bgf, sim)
    assert bgf.model_ != "BG/NBD" and bgf.model_ in ax.get_title()
    plt.close(ax.figure)
