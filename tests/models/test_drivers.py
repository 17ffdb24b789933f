"""Tests of the driver-importance analysis: reference checks and recovery of the simulated truth."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.simulate import DRIVERS, Truth, simulate
from bsc_toolkit.models._base import SUMMARY_COLUMNS, NotFittedError
from bsc_toolkit.models.drivers import (
    DriverImportance,
    importance_performance_table,
    lmg_importance,
    relative_weights,
)


@pytest.fixture(scope="module")
def sim():
    return simulate(5000, seed=11)


@pytest.fixture(scope="module")
def fitted(sim):
    return DriverImportance().fit(sim.surveys, n_boot=300, seed=1)


def _random_data(n: int = 400, k: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(n)
    x = 0.7 * common[:, None] + rng.standard_normal((n, k))
    y = x @ np.linspace(0.2, 1.0, k) + rng.standard_normal(n)
    df = pd.DataFrame(x, columns=[f"x{j}" for j in range(k)])
    df["y"] = y
    df["id"] = np.arange(n)
    return df


def test_lmg_matches_brute_force_refits():
    """Reference: average R^2 gain over all k! orders of entry, each R^2 from a statsmodels OLS refit."""
    df = _random_data()
    cols = [c for c in df.columns if c.startswith("x")]
    cache: dict[frozenset, float] = {frozenset(): 0.0}

    def r2(s: frozenset) -> float:
        if s not in cache:
            cache[s] = sm.OLS(df["y"], sm.add_constant(df[sorted(s)])).fit().rsquared
        return cache[s]

    expected = np.zeros(len(cols))
    orders = list(permutations(cols))
    for order in orders:
        seen: frozenset = frozenset()
        for c in order:
            expected[cols.index(c)] += r2(seen | {c}) - r2(seen)
            seen = seen | {c}
    expected /= len(orders)
    got = DriverImportance("shapley").fit(df, target="y", drivers=cols, cluster="id", n_boot=0)
    np.testing.assert_allclose(got.importance_.to_numpy(), expected, atol=1e-10)
    assert got.importance_.sum() == pytest.approx(r2(frozenset(cols)), abs=1e-10)


def test_relative_weights_match_johnson_svd_algorithm():
    """Reference: Johnson (2000) from the data matrix (SVD orthogonalisation), not the correlation matrix."""
    df = _random_data(seed=3)
    cols = [c for c in df.columns if c.startswith("x")]
    x = df[cols].to_numpy()
    x = (x - x.mean(0)) / x.std(0, ddof=1)
    y = (df["y"] - df["y"].mean()) / df["y"].std(ddof=1)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    z = u @ vt * np.sqrt(len(x) - 1)  # best orthogonal approximation of x, unit variance columns
    beta = np.linalg.lstsq(z, y, rcond=None)[0]
    lam = np.linalg.lstsq(z, x, rcond=None)[0]  # x regressed on z
    expected = (lam.T**2) @ beta**2
    got = DriverImportance("relative_weights").fit(df, target="y", drivers=cols, cluster="id", n_boot=0)
    np.testing.assert_allclose(got.importance_.to_numpy(), expected, atol=1e-10)
    assert got.importance_.sum() == pytest.approx(got.r2_, abs=1e-10)


def test_uncorrelated_drivers_give_squared_standardized_betas():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 3))
    x -= x.mean(0)
    q, _ = np.linalg.qr(x)  # exactly uncorrelated, mean-zero columns
    corr = np.eye(4)
    corr[:3, 3] = corr[3, :3] = [0.5, 0.3, 0.1]
    np.testing.assert_allclose(lmg_importance(corr), [0.25, 0.09, 0.01], atol=1e-12)
    np.testing.assert_allclose(relative_weights(corr), [0.25, 0.09, 0.01], atol=1e-12)
    y = q @ np.array([3.0, 2.0, 1.0]) + 0.01 * rng.standard_normal(300)
    df = pd.DataFrame(q, columns=["a", "b", "c"]).assign(y=y)
    m = DriverImportance().fit(df, target="y", drivers=["a", "b", "c"], cluster=None, n_boot=0)
    np.testing.assert_allclose(m.importance_.to_numpy(), m.std_coef_.to_numpy() ** 2, rtol=1e-3)


def test_shares_sum_to_r2_and_match_statsmodels(fitted):
    assert fitted.importance_.sum() == pytest.approx(fitted.r2_, abs=1e-10)
    assert fitted.r2_ == pytest.approx(fitted.ols_.rsquared, abs=1e-10)
    assert fitted.summary["share"].sum() == pytest.approx(1.0)
    assert fitted.r2_ci_[0] < fitted.r2_ < fitted.r2_ci_[1]


def test_recovers_true_weights_and_ranking(fitted):
    truth = Truth().driver_weights
    s = fitted.summary
    for name, w in truth.items():
        # OLS slopes are slightly attenuated (~2-3%) by the clipping of the 1-10 scales;
        # at 5k customers that is about one standard error, so the 95% CIs cover the truth.
        assert s.loc[name, "ci_lower"] <= w <= s.loc[name, "ci_upper"], name
        assert abs(s.loc[name, "coef"] - w) < 0.02
    order = s.sort_values("rank").index.tolist()
    assert order == ["quality", "service", "cost", "time"]
    assert (s["p_rank"] > 0.95).all()
    probs = fitted.rank_probabilities_
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0)
    for col in ("importance", "share"):
        assert (s[f"{col}_ci_lower"] <= s[col]).all() and (s[col] <= s[f"{col}_ci_upper"]).all()


def test_relative_weights_agree_with_lmg_on_simulated_data(fitted):
    diff = (fitted.relative_weights_ - fitted.shapley_).abs() / fitted.shapley_
    assert diff.max() < 0.02


def test_bootstrap_is_seeded_and_resamples_customers(sim):
    a = DriverImportance().fit(sim.surveys, n_boot=50, seed=3)
    b = DriverImportance().fit(sim.surveys, n_boot=50, seed=3)
    pd.testing.assert_frame_equal(a.boot_importance_, b.boot_importance_)
    # resampling customers (clusters) gives wider intervals than resampling answers
    c = DriverImportance().fit(sim.surveys.assign(row=np.arange(len(sim.surveys))), cluster="row", n_boot=200, seed=3)
    d = DriverImportance().fit(sim.surveys, n_boot=200, seed=3)
    assert d.boot_importance_.std().mean() > c.boot_importance_.std().mean()


def test_panel_rows_without_survey_are_dropped(sim):
    from bsc_toolkit.panel import customer_periods

    panel = customer_periods(sim.customers, sim.surveys, sim.transactions)
    m = DriverImportance().fit(panel, n_boot=0)
    assert m.n_obs_ == int(panel["surveyed"].sum())


def test_quadrant_table(fitted):
    q = fitted.quadrant_table()
    assert set(q.columns) == {"importance", "performance", "quadrant", "priority"}
    assert set(q.index) == set(DRIVERS)
    # rows come in priority order: quadrant first, then the importance-performance gap
    order = ["concentrate here", "keep up the good work", "possible overkill", "low priority"]
    assert q["quadrant"].map(order.index).is_monotonic_increasing
    # on the default truth quality and service are the important, well-rated drivers
    assert set(q.index[:2]) == {"quality", "service"}
    assert (q.loc[["quality", "service"], "quadrant"] == "keep up the good work").all()
    toy = pd.DataFrame({"share": [0.4, 0.4, 0.1, 0.1], "mean_rating": [6.0, 8.0, 6.0, 8.0]}, index=list("abcd"))
    t = importance_performance_table(toy)
    assert t.loc["a", "quadrant"] == "concentrate here" and t.loc["a", "priority"] == 1
    assert t.loc["b", "quadrant"] == "keep up the good work"
    assert t.loc["c", "quadrant"] == "low priority"
    assert t.loc["d", "quadrant"] == "possible overkill"
    assert t.index.tolist() == ["a", "b", "d", "c"] and t["priority"].tolist() == [1, 2, 3, 4]
    # within a quadrant, the larger gap (more important, worse rated) comes first
    two = pd.DataFrame({"share": [0.3, 0.5, 0.1, 0.1], "mean_rating": [6.5, 6.0, 8.0, 8.0]}, index=list("abcd"))
    t2 = importance_performance_table(two)
    assert t2.loc[["a", "b"], "quadrant"].eq("concentrate here").all()
    assert t2.index[:2].tolist() == ["b", "a"]


def test_bad_input(sim):
    with pytest.raises(ValueError, match="quality"):
        DriverImportance().fit(sim.surveys.drop(columns="quality"))
    with pytest.raises(ValueError, match="no variation"):
        DriverImportance().fit(sim.surveys.assign(cost=5), n_boot=0)
    with pytest.raises(ValueError, match="method"):
        DriverImportance("ridge")
    with pytest.raises(ValueError, match="complete rows"):
        DriverImportance().fit(sim.surveys.head(5))
    for use in ("summary_text", "quadrant_table"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(DriverImportance(), use)()
    with pytest.raises(NotFittedError):
        DriverImportance().summary  # noqa: B018
    with pytest.raises(ValueError, match="alpha"):
        DriverImportance(alpha=0)


def test_summary_follows_the_model_convention(fitted):
    s = fitted.summary
    assert tuple(s.columns[:5]) == SUMMARY_COLUMNS
    assert list(s.columns[5:11]) == [
        "importance",
        "importance_ci_lower",
        "importance_ci_upper",
        "share",
        "share_ci_lower",
        "share_ci_upper",
    ]
    assert not [c for c in s.columns if c.endswith(("_ci_low", "_ci_high")) or c in ("ci_low", "ci_high")]
    assert s.index.name == "driver" and list(s.index) == list(DRIVERS)
    # the OLS columns are statsmodels' cluster-robust ones
    np.testing.assert_allclose(s["se"], fitted.ols_.bse[list(DRIVERS)])
    np.testing.assert_allclose(s["p_value"], fitted.ols_.pvalues[list(DRIVERS)])
    np.testing.assert_allclose(s[["ci_lower", "ci_upper"]], fitted.ols_.conf_int(alpha=0.05).loc[list(DRIVERS)])
    assert list(fitted.confidence_intervals_.columns) == ["ci_lower", "ci_upper"]
    pd.testing.assert_frame_equal(fitted.cov_params_, fitted.ols_.cov_params())
    assert fitted.standard_errors_["quality"] == pytest.approx(s.loc["quality", "se"])
    assert "share_ci_lower" in fitted.summary_text()
    # surveys are complete and the simulated drivers far from collinear: nothing to say
    assert fitted.diagnostics_ == []


def test_alpha_sets_the_interval_level(sim):
    a = DriverImportance(alpha=0.05).fit(sim.surveys, n_boot=50, seed=1).summary
    b = DriverImportance(alpha=0.5).fit(sim.surveys, n_boot=50, seed=1).summary
    for lo, hi in (("ci_lower", "ci_upper"), ("share_ci_lower", "share_ci_upper")):
        assert ((a[hi] - a[lo]) > (b[hi] - b[lo])).all()


def test_diagnostics_dropped_rows_and_collinearity():
    df = _random_data(n=300)
    holes = df.assign(x1=df["x1"].mask(df.index < 7))
    m = DriverImportance().fit(holes, target="y", drivers=["x0", "x1", "x2", "x3"], cluster="id", n_boot=0)
    codes = {d.code: d for d in m.diagnostics_}
    assert codes["dropped_rows"].severity == "info" and codes["dropped_rows"].message.startswith("7 of 300 rows")
    assert "collinear" not in codes and "no_bootstrap" in codes
    rng = np.random.default_rng(1)
    near = df.assign(x3=df["x0"] + df["x1"] + 0.02 * rng.standard_normal(len(df)))
    c = DriverImportance().fit(near, target="y", drivers=["x0", "x1", "x2", "x3"], cluster="id", n_boot=0)
    assert c.condition_number_ > 30
    assert any(d.code == "collinear" and d.severity == "warning" for d in c.diagnostics_)


def _mixed_scales(n: int = 2000, seed: int = 4) -> tuple[pd.DataFrame, dict[str, RatingScale]]:
    """csat on 1-5 and three drivers rated on 1-10, 0-10 and 1-5, with known coefficients."""
    rng = np.random.default_rng(seed)
    halo = rng.standard_normal(n)
    wait = np.clip(np.round(6 + 1.5 * halo + rng.normal(0, 1.5, n)), 1, 10)
    value = np.clip(np.round(7 + 1.5 * halo + rng.normal(0, 1.5, n)), 0, 10)
    image = np.clip(np.round(2.5 + 0.6 * halo + rng.normal(0, 0.6, n)), 1, 5)
    csat = 0.2 * wait + 0.1 * value + 0.3 * image + rng.normal(0, 0.5, n)
    df = pd.DataFrame({"wait": wait, "value": value, "image": image, "csat": csat, "customer_id": np.arange(n) // 2})
    scales = {
        "csat": RatingScale(1, 5),
        "wait": RatingScale(1, 10),
        "value": RatingScale(0, 10),
        "image": RatingScale(1, 5),
    }
    return df, scales


def test_units_name_the_declared_scales():
    df, scales = _mixed_scales()
    m = DriverImportance(scales=scales).fit(df, drivers=["wait", "value", "image"], n_boot=0)
    s = m.summary
    assert s.loc["wait", "unit"] == "csat points (1-5) per driver point (1-10)"
    assert s.loc["value", "unit"] == "csat points (1-5) per driver point (0-10)"
    assert s.loc["image", "unit"] == "csat points (1-5) per driver point (1-5)"
    # ratings are not rescaled: the coefficients are the slopes on the data's own scales (truth 0.2, 0.1, 0.3)
    truth = pd.Series([0.2, 0.1, 0.3], index=["wait", "value", "image"])
    assert ((s["ci_lower"] <= truth) & (truth <= s["ci_upper"])).all()
    np.testing.assert_allclose(s.loc["image", "mean_normalised"], (df["image"].mean() - 1) / 4)
    assert "coef units:" in m.summary_text() and "driver point (0-10)" in m.summary_text()
    # without scales the units say so, and the normalised mean is unknown (NaN), not guessed
    bare = DriverImportance().fit(df, drivers=["wait", "value", "image"], n_boot=0)
    assert set(bare.summary["unit"]) == {"csat points per driver point"}
    assert bare.summary["mean_normalised"].isna().all()
    with pytest.raises(TypeError, match="RatingScale"):
        DriverImportance(scales={"csat": (1, 5)})


def test_importance_performance_uses_normalised_ratings_when_scales_differ():
    df, scales = _mixed_scales()
    m = DriverImportance(scales=scales).fit(df, drivers=["wait", "value", "image"], n_boot=0)
    assert m.scales_differ_
    q = m.quadrant_table()
    expected = pd.Series({d: scales[d].normalise(df[d].mean()) for d in ("wait", "value", "image")})
    np.testing.assert_allclose(q["performance"], expected[q.index])
    assert q["performance"].between(0, 1).all()
    assert "normalised to 0-1" in q.attrs["performance_label"] and q.attrs["target"] == "csat"
    # raw means would rank the 1-5 driver last only because of its scale
    raw = m.quadrant_table(performance="mean_rating")
    assert raw.loc["image", "performance"] < 5 and raw.attrs["performance_label"] == "performance: mean rating"
    # one common scale: the mean rating on it, labelled with it
    same = DriverImportance(scales={**scales, "value": RatingScale(1, 10), "image": RatingScale(1, 10)})
    q_same = same.fit(df, drivers=["wait", "value", "image"], n_boot=0).quadrant_table()
    assert not same.scales_differ_ and q_same.attrs["performance_label"] == "performance: mean rating (1-10)"
    # a driver without a declared scale cannot be put on 0-1
    partial = DriverImportance(scales={k: v for k, v in scales.items() if k != "image"})
    partial.fit(df, drivers=["wait", "value", "image"], n_boot=0)
    with pytest.raises(ValueError, match="no declared scale"):
        partial.quadrant_table()


def test_plot_importance_performance_reads_labels_and_scale():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.plots.drivers import plot_importance, plot_importance_performance

    df, scales = _mixed_scales()
    m = DriverImportance(scales=scales).fit(df, drivers=["wait", "value", "image"], n_boot=20)
    labels = {"wait": "Waiting time", "image": "Brand image"}
    fig, (ax1, ax2) = plt.subplots(1, 2)
    plot_importance_performance(m, ax=ax1, labels=labels)
    assert "normalised to 0-1" in ax1.get_xlabel()
    assert {t.get_text() for t in ax1.texts} >= {"Waiting time", "Brand image", "value"}
    assert ax1.get_xlim()[1] < 1.5  # a 0-1 axis, not a rating scale
    plot_importance(m, ax=ax2, labels=labels)
    assert {t.get_text() for t in ax2.get_yticklabels()} == {"Waiting time", "Brand image", "value"}
    plt.close(fig)


def test_single_survey_wave_snapshot():
    """One answer per customer (a snapshot): clusters of one, the same estimates as independent rows."""
    df, scales = _mixed_scales()
    one = df.drop_duplicates("customer_id")
    m = DriverImportance(scales=scales).fit(one, drivers=["wait", "value", "image"], n_boot=50, seed=1)
    plain = DriverImportance(scales=scales).fit(one, drivers=["wait", "value", "image"], cluster=None, n_boot=0)
    np.testing.assert_allclose(m.summary["coef"], plain.summary["coef"])
    np.testing.assert_allclose(m.importance_, plain.importance_)
    assert m.n_clusters_ == m.n_obs_ == len(one)
    assert [d.code for d in m.diagnostics_] == ["one_wave"] and m.diagnostics_[0].severity == "info"
    assert m.summary["share_ci_lower"].notna().all()


def test_imprecise_coefficient_is_flagged():
    df = _random_data(n=400, seed=8)
    rng = np.random.default_rng(2)
    # a driver unrelated to y whose estimated coefficient is practically 0
    noise = rng.standard_normal(len(df))
    resid = sm.OLS(noise, sm.add_constant(df[["x0", "x1", "x2", "y"]])).fit().resid  # orthogonal to y and the others
    m = DriverImportance().fit(
        df.assign(x3=resid), target="y", drivers=["x0", "x1", "x2", "x3"], cluster="id", n_boot=0
    )
    assert abs(m.summary.loc["x3", "coef"]) < 1e-6
    flagged = [d for d in m.diagnostics_ if d.code == "imprecise"]
    assert len(flagged) == 1 and "x3" in flagged[0].message and "no evidence of a link" in flagged[0].message
