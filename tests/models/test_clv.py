"""Tests for bsc_toolkit.models.clv (RFM summary, BG/NBD, Gamma-Gamma, CLV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.datasets import find_cdnow
from bsc_toolkit.models.clv import (
    BetaGeoFitter,
    GammaGammaFitter,
    clv_at_risk,
    customer_lifetime_value,
    rfm_summary,
    simulate_bgnbd,
    simulate_gamma_gamma,
)


def _cdnow_dir() -> Path:
    d = find_cdnow()
    needed = ("CDNOW_sample.txt", "cdnow_customers_summary_with_transactions.csv")
    if d is None or not all((d / f).is_file() for f in needed):
        pytest.skip(f"CDNOW files {list(needed)} not found (see find_cdnow); set BSC_CDNOW_DIR")
    return d


# ---------------------------------------------------------------------------
# RFM summary
# ---------------------------------------------------------------------------


@pytest.fixture()
def tiny_log() -> pd.DataFrame:
    # 2024-01-01 is a Monday
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2, 3, 3],
            "ordered_at": pd.to_datetime(
                ["2024-01-01 09:00", "2024-01-01 17:30", "2024-01-04", "2024-01-10",
                 "2024-01-03", "2024-01-08", "2024-01-12"],
                format="mixed",
            ),
            "revenue_usd": [10.0, 5.0, 20.0, 30.0, 7.0, 4.0, 6.0],
            "cost_usd": [1.0] * 7,
        }
    )


def test_rfm_summary_daily_hand_computed(tiny_log):
    before = tiny_log.copy()
    s = rfm_summary(tiny_log, freq="D", observation_end="2024-01-15")
    pd.testing.assert_frame_equal(tiny_log, before)  # input untouched
    expected = pd.DataFrame(
        {
            "frequency": [2.0, 0.0, 1.0],
            "recency": [9.0, 0.0, 4.0],
            "T": [14.0, 12.0, 7.0],
            # same-day purchases (10 + 5) form one first purchase; repeats 20, 30
            "monetary_value": [25.0, 0.0, 6.0],
        },
        index=pd.Index([1, 2, 3], name="customer_id"),
    )
    pd.testing.assert_frame_equal(s, expected)


def test_rfm_summary_weekly_combines_same_week(tiny_log):
    s = rfm_summary(tiny_log, freq="W", observation_end="2024-01-15")
    # weeks start Monday: c1 buys in weeks of 01-01 (15 + 20) and 01-08 (30);
    # c3's two purchases fall in the same week
    assert s.loc[1].tolist() == [1.0, 1.0, 2.0, 30.0]
    assert s.loc[2].tolist() == [0.0, 0.0, 2.0, 0.0]
    assert s.loc[3].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_rfm_summary_default_observation_end_and_no_value(tiny_log):
    s = rfm_summary(tiny_log, freq="D", value_col=None)
    assert list(s.columns) == ["frequency", "recency", "T"]
    assert s.loc[1, "T"] == 11.0  # last transaction 2024-01-12


def test_rfm_summary_calibration_holdout(tiny_log):
    s = rfm_summary(tiny_log, freq="D", calibration_end="2024-01-05", observation_end="2024-01-15")
    assert list(s.index) == [1, 2]  # customer 3 first bought after calibration_end
    assert s.loc[1, ["frequency", "recency", "T", "monetary_value"]].tolist() == [1.0, 3.0, 4.0, 20.0]
    assert s.loc[2, ["frequency", "recency", "T", "monetary_value"]].tolist() == [0.0, 0.0, 2.0, 0.0]
    assert s["frequency_holdout"].tolist() == [1.0, 0.0]
    assert s["monetary_value_holdout"].tolist() == [30.0, 0.0]
    assert s["duration_holdout"].tolist() == [10.0, 10.0]


def test_rfm_summary_freq_multiplier_matches_weeks(tiny_log):
    d = rfm_summary(tiny_log, freq="D", observation_end="2024-01-15")
    w = rfm_summary(tiny_log, freq="D", freq_multiplier=7, observation_end="2024-01-15")
    np.testing.assert_allclose(w[["recency", "T"]].to_numpy() * 7, d[["recency", "T"]].to_numpy())


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda df: df.drop(columns="revenue_usd"), "missing column"),
        (lambda df: df.assign(revenue_usd=[1.0, np.nan, 1, 1, 1, 1, 1]), "'revenue_usd' has 1 missing"),
        (lambda df: df.assign(revenue_usd=[1.0, -2, 1, 1, 1, 1, 1]), "negative"),
        (lambda df: df.assign(ordered_at=df["ordered_at"].where(df.index != 3)), "'ordered_at' has 1 missing"),
    ],
)
def test_rfm_summary_bad_input(tiny_log, mutate, match):
    with pytest.raises(ValueError, match=match):
        rfm_summary(mutate(tiny_log), freq="D")


def test_rfm_summary_bad_freq_and_dates(tiny_log):
    with pytest.raises(ValueError, match="freq"):
        rfm_summary(tiny_log, freq="Q")
    with pytest.raises(ValueError, match="calibration_end"):
        rfm_summary(tiny_log, freq="D", calibration_end="2024-02-01", observation_end="2024-01-15")


def test_rfm_summary_matches_loop_reference():
    """Random log: vectorised summary equals a naive per-customer computation."""
    rng = np.random.default_rng(7)
    n = 3000
    df = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 300, n),
            "ordered_at": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 400 * 24, n), unit="h"),
            "revenue_usd": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    s = rfm_summary(df, freq="W")
    end = df["ordered_at"].max().to_period("W").start_time
    for cid, g in list(df.groupby("customer_id"))[:60]:
        per = g.assign(p=g["ordered_at"].dt.to_period("W").dt.start_time).groupby("p")["revenue_usd"].sum()
        row = s.loc[cid]
        assert row["frequency"] == len(per) - 1
        assert row["recency"] == (per.index.max() - per.index.min()).days / 7
        assert row["T"] == (end - per.index.min()).days / 7
        exp_m = per.iloc[1:].mean() if len(per) > 1 else 0.0
        assert row["monetary_value"] == pytest.approx(exp_m)


# ---------------------------------------------------------------------------
# BG/NBD: recovery, closed forms, Monte Carlo
# ---------------------------------------------------------------------------

TRUE_BG = dict(r=0.25, alpha=4.0, a=0.8, b=2.5)
TRUE_GG = dict(p=6.0, q=3.8, gamma=15.0)


@pytest.fixture(scope="module")
def sim_fit():
    rng = np.random.default_rng(1)
    T = rng.uniform(27.0, 39.0, size=8000)
    sim = simulate_bgnbd(8000, T=T, seed=42, **TRUE_BG)
    return sim, BetaGeoFitter().fit(sim)


def test_bgnbd_recovers_simulated_truth(sim_fit):
    _, bgf = sim_fit
    truth = pd.Series(TRUE_BG)
    est, se = bgf.params_, bgf.standard_errors_
    # within 3 standard errors, and the 95% intervals cover the truth
    assert ((est - truth).abs() < 3 * se).all(), bgf.summary
    ci = bgf.confidence_intervals_
    assert ((ci["ci_lower"] < truth) & (truth < ci["ci_upper"])).all(), bgf.summary
    # r and alpha are well determined: within 15 %
    assert abs(est["r"] / truth["r"] - 1) < 0.15
    assert abs(est["alpha"] / truth["alpha"] - 1) < 0.15
    assert list(bgf.summary.columns) == ["coef", "se", "ci_lower", "ci_upper"]
    assert bgf.converged_


def test_bgnbd_closed_forms():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    # P(alive) = 1 without repeat purchases; < 1 otherwise, decreasing in T - t_x
    assert np.all(bgf.conditional_probability_alive(np.zeros(3), np.zeros(3), np.array([1.0, 10, 50])) == 1.0)
    pa = bgf.conditional_probability_alive(np.array([3.0, 3.0]), np.array([10.0, 10.0]), np.array([10.0, 40.0]))
    assert 0 < pa[1] < pa[0] < 1
    # hand formula for one customer
    r, al, a, b = TRUE_BG.values()
    x, tx, T = 2.0, 5.0, 20.0
    hand = 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x))
    assert bgf.conditional_probability_alive(x, tx, T) == pytest.approx(hand, rel=1e-12)
    # no information (x = 0, T = 0): conditional expectation = unconditional E[X(t)]
    for t in (1.0, 10.0, 52.0):
        assert bgf.conditional_expected_number_of_purchases_up_to_time(t, 0.0, 0.0, 0.0) == pytest.approx(
            bgf.expected_number_of_purchases_up_to_time(t), rel=1e-10
        )
    assert bgf.conditional_expected_number_of_purchases_up_to_time(0.0, 2.0, 5.0, 20.0) == 0.0
    # Series in, Series out (index preserved)
    s = pd.Series([0.0, 1.0], index=["u", "v"])
    out = bgf.conditional_probability_alive(s, pd.Series([0.0, 3.0], index=s.index), pd.Series([9.0, 9.0], index=s.index))
    assert list(out.index) == ["u", "v"]


def test_bgnbd_matches_monte_carlo():
    n, T, t = 200_000, 30.0, 20.0
    sim = simulate_bgnbd(n, T=T, seed=3, holdout=t, **TRUE_BG)
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    # unconditional E[X(T)]
    se = sim["frequency"].std() / np.sqrt(n)
    assert abs(sim["frequency"].mean() - bgf.expected_number_of_purchases_up_to_time(T)) < 4 * se
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(t, sim["frequency"], sim["recency"], sim["T"])
    palive = bgf.conditional_probability_alive(sim["frequency"], sim["recency"], sim["T"])
    for x in (0, 1, 2, 4):
        g = sim["frequency"] == x if x < 4 else sim["frequency"] >= x
        actual = sim.loc[g, "frequency_holdout"]
        se = actual.std() / np.sqrt(g.sum())
        assert abs(actual.mean() - pred[g].mean()) < 4 * se, (x, actual.mean(), pred[g].mean())
        alive = sim.loc[g, "alive"].astype(float)
        se_a = max(alive.std() / np.sqrt(g.sum()), 1e-3)
        assert abs(alive.mean() - palive[g].mean()) < 4 * se_a


def test_bgnbd_matrices():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    m = bgf.probability_alive_matrix(max_frequency=5, max_recency=10)
    assert m.shape == (11, 6) and m.index.name == "recency" and m.columns.name == "frequency"
    assert m.loc[0, 0] == 1.0 and np.isnan(m.loc[3, 0]) and np.isnan(m.loc[0, 3])
    # more recent last purchase -> more likely alive
    assert m.loc[10, 3] > m.loc[5, 3]
    e = bgf.expected_purchases_matrix(t=4, max_frequency=5, max_recency=10)
    assert (e.stack() >= 0).all()
    with pytest.raises(ValueError, match="max_frequency"):
        bgf.probability_alive_matrix()


@pytest.mark.parametrize(
    "frame, match",
    [
        (pd.DataFrame({"frequency": [1.0, 0], "recency": [2.0, 0]}), r"missing column\(s\) \['T'\]"),
        (pd.DataFrame({"frequency": [1.0, -1], "recency": [2.0, 0], "T": [5.0, 5]}), "negative 'frequency'"),
        (pd.DataFrame({"frequency": [1.0, 2], "recency": [2.0, 0], "T": [5.0, 5]}), "recency' == 0"),
        (pd.DataFrame({"frequency": [1.0, 2], "recency": [2.0, 6], "T": [5.0, 5]}), "greater than 'T'"),
        (pd.DataFrame({"frequency": [1.0, np.nan], "recency": [2.0, 1], "T": [5.0, 5]}), "'frequency' has 1 missing"),
        (pd.DataFrame({"frequency": [1.5, 1], "recency": [2.0, 1], "T": [5.0, 5]}), "non-integer"),
    ],
)
def test_bgnbd_bad_input(frame, match):
    with pytest.raises(ValueError, match=match):
        BetaGeoFitter().fit(frame)


def test_unfitted_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoFitter().conditional_probability_alive(1, 1, 2)
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = GammaGammaFitter().summary


# ---------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------


def test_gamma_gamma_recovers_simulated_truth():
    rng = np.random.default_rng(5)
    freq = pd.Series(rng.poisson(2.0, size=6000).astype(float))
    sim = simulate_gamma_gamma(freq, seed=11, **TRUE_GG)
    ggf = GammaGammaFitter().fit(sim)
    truth = pd.Series(TRUE_GG)
    assert ggf.n_customers_ == int((freq > 0).sum())
    assert ((ggf.params_ - truth).abs() < 3 * ggf.standard_errors_).all(), ggf.summary
    ci = ggf.confidence_intervals_
    assert ((ci["ci_lower"] < truth) & (truth < ci["ci_upper"])).all(), ggf.summary
    assert abs(ggf.population_mean_spend() / (6.0 * 15.0 / 2.8) - 1) < 0.05


def test_gamma_gamma_conditional_mean_monte_carlo():
    freq = pd.Series(np.tile([1.0, 3.0, 10.0], 40_000))
    sim = simulate_gamma_gamma(freq, seed=2, **TRUE_GG)
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    pred = ggf.conditional_expected_average_profit(sim["frequency"], sim["monetary_value"])
    true_mean = TRUE_GG["p"] / sim["nu_"]  # E[z | nu]
    for x in (1.0, 3.0, 10.0):
        g = sim["frequency"] == x
        se = (true_mean[g] - pred[g]).std() / np.sqrt(g.sum())
        assert abs(true_mean[g].mean() - pred[g].mean()) < 4 * se
    # frequency 0 -> population mean
    assert ggf.conditional_expected_average_profit(0.0, 0.0) == pytest.approx(6.0 * 15.0 / 2.8)


def test_gamma_gamma_bad_input():
    bad = pd.DataFrame({"frequency": [1.0, 2.0, 3.0, 1.0], "monetary_value": [10.0, 0.0, 5.0, 3.0]})
    with pytest.raises(ValueError, match="non-positive 'monetary_value'.*rows \\[1\\]"):
        GammaGammaFitter().fit(bad)
    with pytest.raises(ValueError, match="missing column"):
        GammaGammaFitter().fit(bad.drop(columns="monetary_value"))


# ---------------------------------------------------------------------------
# CLV
# ---------------------------------------------------------------------------


def test_customer_lifetime_value_formula():
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    ggf = GammaGammaFitter.from_params(**TRUE_GG)
    summary = pd.DataFrame(
        {"frequency": [0.0, 2.0, 5.0], "recency": [0.0, 10.0, 30.0], "T": [30.0, 30.0, 30.0],
         "monetary_value": [0.0, 20.0, 40.0]},
        index=pd.Index([7, 8, 9], name="customer_id"),
    )
    clv0 = customer_lifetime_value(bgf, ggf, summary, time_months=12, discount_rate_monthly=0.0)
    assert clv0.name == "clv_usd" and list(clv0.index) == [7, 8, 9]
    undiscounted = bgf.conditional_expected_number_of_purchases_up_to_time(
        12 * 4.345, summary["frequency"], summary["recency"], summary["T"]
    ) * ggf.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    np.testing.assert_allclose(clv0, undiscounted, rtol=1e-10)
    clv1 = customer_lifetime_value(bgf, ggf, summary, time_months=12, discount_rate_monthly=0.01)
    assert (clv1 < clv0).all() and (clv1 > clv0 / 1.01**12).all()
    assert clv1.loc[9] > clv1.loc[8]


# ---------------------------------------------------------------------------
# CDNOW: published estimates (reference implementation check)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_summary():
    from bsc_toolkit.data.datasets import load_cdnow_summary

    return load_cdnow_summary(_cdnow_dir())


def test_cdnow_bgnbd_matches_published(cdnow_summary):
    bgf = BetaGeoFitter().fit(cdnow_summary)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert bgf.params_[k] == pytest.approx(v, rel=2.5e-3), (k, bgf.params_[k])
    assert bgf.log_likelihood_ == pytest.approx(-9582.4, abs=0.5)
    # standard errors as reported by the lifetimes documentation for the same data
    for k, v in {"r": 0.013, "alpha": 0.378, "a": 0.186, "b": 0.705}.items():
        assert bgf.standard_errors_[k] == pytest.approx(v, abs=0.0015 if k == "r" else 0.01)


def test_cdnow_gamma_gamma_matches_published(cdnow_summary):
    ggf = GammaGammaFitter().fit(cdnow_summary)
    assert ggf.n_customers_ == 946
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert ggf.params_[k] == pytest.approx(v, rel=0.01), (k, ggf.params_[k])


def test_cdnow_raw_transactions_reproduce_summary(cdnow_summary):
    from bsc_toolkit.data.datasets import CDNOW_CALIBRATION_END, CDNOW_OBSERVATION_END, load_cdnow

    tx = load_cdnow(_cdnow_dir(), kind="sample")
    s = rfm_summary(
        tx, freq="D", freq_multiplier=7,
        calibration_end=CDNOW_CALIBRATION_END, observation_end=CDNOW_OBSERVATION_END,
    )
    assert len(s) == 2357
    ref = cdnow_summary.loc[s.index]
    assert (s["frequency"] == ref["frequency"]).all()
    # the published file is rounded to 2 decimals
    for c in ("recency", "T", "monetary_value"):
        np.testing.assert_allclose(s[c], ref[c], atol=0.0051)
    assert (s["duration_holdout"] == 39.0).all()
    bgf = BetaGeoFitter().fit(s)
    assert bgf.params_["r"] == pytest.approx(0.243, rel=5e-3)
    assert bgf.log_likelihood_ == pytest.approx(-9582.4, abs=1.0)
    # aggregate holdout forecast: right order of magnitude (the BG/NBD is known to
    # under-forecast the CDNOW holdout somewhat; this is a sanity check, not a reference)
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(39.0, s["frequency"], s["recency"], s["T"])
    assert 0.8 < pred.sum() / s["frequency_holdout"].sum() < 1.2


def test_rfm_summary_string_ids_and_sparse_int_ids(tiny_log):
    ref = rfm_summary(tiny_log, freq="D", observation_end="2024-01-15")
    as_str = tiny_log.assign(customer_id=tiny_log["customer_id"].map({1: "c1", 2: "c2", 3: "c3"}))
    s = rfm_summary(as_str, freq="D", observation_end="2024-01-15")
    assert list(s.index) == ["c1", "c2", "c3"]
    np.testing.assert_array_equal(s.to_numpy(), ref.to_numpy())
    sparse = tiny_log.assign(customer_id=tiny_log["customer_id"] * 10**12)  # hash-coded path
    s2 = rfm_summary(sparse, freq="D", observation_end="2024-01-15")
    np.testing.assert_array_equal(s2.to_numpy(), ref.to_numpy())
    assert list(s2.index) == [10**12, 2 * 10**12, 3 * 10**12]


def test_t_zero_allowed_and_negative_t_rejected():
    ok = pd.DataFrame({"frequency": [0.0, 2.0, 1.0], "recency": [0.0, 5.0, 3.0], "T": [0.0, 9.0, 4.0]})
    bgf = BetaGeoFitter.from_params(**TRUE_BG)
    assert bgf.conditional_probability_alive(ok["frequency"], ok["recency"], ok["T"]).iloc[0] == 1.0
    with pytest.raises(ValueError, match="negative 'T'"):
        BetaGeoFitter().fit(ok.assign(T=[-1.0, 9.0, 4.0]))


def test_plots_smoke(sim_fit):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.plots.clv import (
        plot_calibration_holdout, plot_clv_by_group, plot_clv_distribution, plot_frequency_recency_matrix,
        plot_probability_alive_matrix,
    )

    sim, bgf = sim_fit
    sim = sim.assign(duration_holdout=10.0)
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
    assert ax1.get_ylabel() == "total CLV (USD)"
    # each axis gets its own USD formatter (a shared one would be bound to the last axis)
    plot_clv_distribution(value, log_scale=False, ax=ax2)
    assert ax1.yaxis.get_major_formatter() is not ax2.xaxis.get_major_formatter()
    assert ax1.yaxis.get_major_formatter()(1234.0) == "$1,234"
    with pytest.raises(ValueError, match="region"):
        plot_clv_by_group(value, by="region")
    plt.close(fig)


def test_clv_at_risk_estimates_and_bootstrap():
    clv = pd.Series([100.0, 300.0, 50.0, 550.0, 30.0, 999.0], index=[1, 2, 3, 4, 5, 6])
    csat = pd.Series([3.0, 6.0, 9.0, 10.0, 7.0, np.nan, 2.0], index=[1, 2, 3, 4, 5, 6, 7])
    # customer 6 has no score and 7 no CLV: both left out
    before = (clv.copy(), csat.copy())
    out = clv_at_risk(clv, csat, threshold=6, n_boot=500, seed=3)
    pd.testing.assert_series_equal(clv, before[0])
    pd.testing.assert_series_equal(csat, before[1])
    assert list(out.index) == ["clv_at_risk_usd", "share_of_clv", "mean_clv_gap_low_minus_rest_usd"]
    np.testing.assert_allclose(out["estimate"], [400.0, 400.0 / 1030.0, 200.0 - 210.0])
    # the bootstrap is the plain percentile bootstrap over customers
    v, low = np.array([100.0, 300.0, 50.0, 550.0, 30.0]), np.array([True, True, False, False, False])
    idx = np.random.default_rng(3).integers(0, 5, size=(500, 5))
    risk = (v[idx] * low[idx]).sum(1)
    share = risk / v[idx].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = risk / low[idx].sum(1) - (v[idx] * ~low[idx]).sum(1) / (~low[idx]).sum(1)
    ref = np.array([np.nanpercentile(a, [2.5, 97.5]) for a in (risk, share, gap)])
    np.testing.assert_allclose(out[["ci_lower", "ci_upper"]].to_numpy(), ref, rtol=1e-12)
    assert (out["ci_lower"] <= out["estimate"]).all() and (out["estimate"] <= out["ci_upper"]).all()
    with pytest.raises(ValueError, match="customer ids"):
        clv_at_risk(clv, csat.set_axis(range(100, 107)), threshold=6)
