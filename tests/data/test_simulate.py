"""The simulator: determinism, contracts, and that the data carry the documented truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from bsc_toolkit.data.schemas import validate_table
from bsc_toolkit.data.simulate import DRIVERS, Truth, simulate


def test_same_seed_same_data_and_different_seed_different_data():
    a, b, c = simulate(300, seed=5), simulate(300, seed=5), simulate(300, seed=6)
    for name in ("customers", "surveys", "transactions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.transactions["revenue_usd"].equals(c.transactions["revenue_usd"])


def test_tables_meet_their_contracts(small_sim):
    for name in ("customers", "surveys", "transactions"):
        validate_table(getattr(small_sim, name), name, row_offset=None)
    s = small_sim.surveys
    assert s["csat"].between(1, 10).all() and s["nps"].between(0, 10).all()
    assert set(DRIVERS) <= set(s.columns)
    assert small_sim.customers["customer_id"].is_unique


def test_events_are_consistent_in_time(small_sim):
    c = small_sim.customers.set_index("customer_id")
    s = small_sim.surveys.join(c, on="customer_id")
    t = small_sim.transactions.join(c, on="customer_id")
    assert (s["surveyed_at"] >= s["acquired_at"].dt.floor("D")).all()
    assert (s["churned_at"].isna() | (s["surveyed_at"] <= s["churned_at"])).all()
    assert (t["ordered_at"] >= t["acquired_at"].dt.floor("D")).all()
    assert (t["churned_at"].isna() | (t["ordered_at"] <= t["churned_at"])).all()
    # the panel of latent values counts exactly the events in the tables
    assert small_sim.latent["n_orders"].sum() == len(small_sim.transactions)
    assert small_sim.latent["churned"].sum() == c["churned_at"].notna().sum()
    assert small_sim.latent["surveyed"].sum() == len(small_sim.surveys)


def test_sizes_scale_and_response_rate_holds():
    sim = simulate(5000, seed=3, response_rate=0.6)
    assert 0.57 < sim.latent["surveyed"].mean() < 0.63
    assert len(sim.customers) == 5000


def test_truth_round_trips_through_json(tmp_path, small_sim):
    out = small_sim.to_dir(tmp_path, file_format="parquet")
    assert (out / "customers.parquet").is_file() and (out / "truth.json").is_file()
    assert Truth.from_dict(Truth().to_dict()) == Truth()


@pytest.fixture(scope="module")
def big_latent():
    return simulate(30_000, seed=2).latent


@pytest.mark.slow  # statistical recovery on 30,000 simulated customers
def test_churn_hazard_recovers_truth(big_latent):
    """A cloglog discrete-time hazard on the true panel recovers the documented log hazard ratios."""
    truth = Truth()
    df = big_latent.assign(
        below=np.minimum(big_latent.csat - truth.csat_knot, 0),
        above=np.maximum(big_latent.csat - truth.csat_knot, 0),
        y=big_latent.churned.astype(int),
    )
    fit = smf.glm(
        "y ~ below + above + C(segment) + tenure_years",
        data=df,
        family=sm.families.Binomial(sm.families.links.CLogLog()),
        offset=np.log(df["at_risk_fraction"]),
    ).fit()
    expected = {
        "Intercept": truth.churn_base_log_hazard,
        "below": truth.churn_csat_below_knot,
        "above": truth.churn_csat_above_knot,
        "C(segment)[T.smb]": truth.churn_segment["smb"],
        "C(segment)[T.enterprise]": truth.churn_segment["enterprise"],
        "tenure_years": truth.churn_tenure_per_year,
    }
    for name, value in expected.items():
        assert abs(fit.params[name] - value) < 3.5 * fit.bse[name], (name, fit.params[name], value)


@pytest.mark.slow  # statistical recovery on 30,000 simulated customers
def test_spend_and_drivers_recover_truth(big_latent):
    truth = Truth()
    df = big_latent.assign(
        below=np.minimum(big_latent.csat - truth.csat_knot, 0),
        above=np.maximum(big_latent.csat - truth.csat_knot, 0),
    )
    pois = smf.glm(
        "n_orders ~ below + above + C(segment) + trait",
        data=df,
        family=sm.families.Poisson(),
        offset=np.log(df["active_fraction"]),
    ).fit()
    assert abs(pois.params["below"] - truth.spend_csat_below_knot) < 3.5 * pois.bse["below"]
    assert abs(pois.params["above"] - truth.spend_csat_above_knot) < 3.5 * pois.bse["above"]
    assert abs(pois.params["trait"] - truth.spend_heterogeneity_sd) < 3.5 * pois.bse["trait"]
    ols = smf.ols("csat ~ time + quality + service + cost", data=df).fit()
    for name, w in truth.driver_weights.items():
        assert abs(ols.params[name] - w) < 0.02, (name, ols.params[name], w)


def test_truth_helpers_are_consistent():
    truth = Truth()
    # retention falls with lower csat, flatter above the knot (diminishing returns)
    r = truth.retention_probability(np.array([5, 6, 7, 8, 9]), "consumer", 1.0)
    steps = np.diff(r)
    assert (steps > 0).all() and steps[-1] < steps[0]
    assert truth.spend_log_effect(truth.csat_knot) == 0


@pytest.mark.parametrize("kwargs", [{"n_customers": 0}, {"response_rate": 0}, {"existing_share": 2}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        simulate(**{"n_customers": 10, **kwargs})


# --------------------------------------------------------------------------- chunked simulation
def test_chunks_are_independent_streams_with_consecutive_ids():
    sim = simulate(2500, seed=4, chunk_size=1000)
    ids = sim.customers["customer_id"]
    assert ids.tolist() == list(range(1, 2501))
    # chunk 0 is the unchunked draw of its customers; later chunks come from other streams
    head = simulate(1000, seed=4)
    pd.testing.assert_frame_equal(sim.customers.iloc[:1000], head.customers)
    assert not np.array_equal(sim.customers["segment"].iloc[1000:2000], head.customers["segment"])
    assert sim.latent["n_orders"].sum() == len(sim.transactions)
    assert sim.latent["surveyed"].sum() == len(sim.surveys)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_simulate_to_dir_writes_the_same_data_as_simulate(tmp_path, file_format):
    from bsc_toolkit.data.io import load_dataset, load_truth
    from bsc_toolkit.data.simulate import simulate_to_dir

    out = simulate_to_dir(tmp_path / "chunked", 1300, seed=8, chunk_size=500, file_format=file_format)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.{file_format}" for t in ("customers", "surveys", "transactions")] + ["truth.json"]
    )
    assert load_truth(out) == Truth()
    loaded = load_dataset(out)  # validates the contracts and the customer references
    expected = load_dataset(simulate(1300, seed=8, chunk_size=500).to_dir(tmp_path / "memory", file_format=file_format))
    for name in ("customers", "surveys", "transactions"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(expected, name))
    if file_format == "csv":  # byte for byte
        for name in ("customers", "surveys", "transactions"):
            assert (out / f"{name}.csv").read_bytes() == (tmp_path / "memory" / f"{name}.csv").read_bytes()
    else:
        import pyarrow.parquet as pq

        assert pq.ParquetFile(out / "transactions.parquet").num_row_groups == 3


def test_simulate_to_dir_is_reproducible_and_rejects_bad_arguments(tmp_path):
    from bsc_toolkit.data.simulate import simulate_to_dir

    a = simulate_to_dir(tmp_path / "a", 600, seed=1, chunk_size=250)
    b = simulate_to_dir(tmp_path / "b", 600, seed=1, chunk_size=250)
    assert (a / "transactions.csv").read_bytes() == (b / "transactions.csv").read_bytes()
    with pytest.raises(ValueError, match="file_format"):
        simulate_to_dir(tmp_path / "c", 10, file_format="xlsx")
    with pytest.raises(ValueError, match="chunk_size"):
        simulate_to_dir(tmp_path / "c", 10, chunk_size=0)
    assert not (tmp_path / "c" / "customers.csv").exists()


@pytest.mark.slow
def test_simulate_to_dir_memory_does_not_grow_with_customers(tmp_path):
    import tracemalloc

    from bsc_toolkit.data.simulate import simulate_to_dir

    peaks = []
    for n in (1000, 6000):
        tracemalloc.start()
        simulate_to_dir(tmp_path / str(n), n, seed=0, chunk_size=1000, file_format="parquet")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_old_import_paths_still_resolve_to_the_split_modules():
    import bsc_toolkit.data.simulate as old
    from bsc_toolkit.contracts import DRIVERS as contract_drivers
    from bsc_toolkit.data.simulate_write import simulate_to_dir
    from bsc_toolkit.data.truth import Truth as truth_class

    assert old.Truth is truth_class and old.simulate_to_dir is simulate_to_dir and old.DRIVERS is contract_drivers
    assert {"DEFAULT_CHUNK_SIZE", "SimulatedData", "simulate"} <= set(old.__all__)
