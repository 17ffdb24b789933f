"""rfm_summary: hand-computed cases, a loop reference, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv import rfm_summary


@pytest.fixture()
def tiny_log() -> pd.DataFrame:
    # 2024-01-01 is a Monday
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2, 3, 3],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:30",
                    "2024-01-04",
                    "2024-01-10",
                    "2024-01-03",
                    "2024-01-08",
                    "2024-01-12",
                ],
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
