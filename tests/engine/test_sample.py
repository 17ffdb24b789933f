"""The customer sample: reproducible, identical on DuckDB and Spark, exact in size, and a valid data set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.engine import tables_from_frames
from bsc_toolkit.engine.sample import Sampling, customer_ids, pick_ids, sample_customers

N_SAMPLE = 300


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["customer_id", *[c for c in ("surveyed_at", "ordered_at") if c in frame.columns]]
    return frame.sort_values([*keys, *[c for c in frame.columns if c not in keys]]).reset_index(drop=True)


@pytest.fixture(scope="module")
def samples(default_tables) -> tuple[Sampling, Sampling]:
    """Two draws with the same seed on one engine."""
    return sample_customers(default_tables, N_SAMPLE, seed=7), sample_customers(default_tables, N_SAMPLE, seed=7)


def test_pick_ids_is_seeded_exact_and_without_repeats():
    ids = np.arange(10_000, 20_000, dtype=np.int64)
    a, b = pick_ids(ids, 500, seed=3), pick_ids(ids, 500, seed=3)
    assert len(a) == 500 and len(np.unique(a)) == 500
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, pick_ids(ids, 500, seed=4))
    assert np.isin(a, ids).all()
    np.testing.assert_array_equal(pick_ids(ids, 20_000), ids)  # asking for more gives everyone


def test_pick_ids_is_uniform():
    """Each id is picked with probability n/N: over many seeds the counts per decile are even."""
    ids = np.arange(1000)
    counts = np.zeros(10)
    for seed in range(200):
        counts += np.bincount(pick_ids(ids, 100, seed=seed) // 100, minlength=10)
    expected = 200 * 100 / 10
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_sample_is_exact_reproducible_and_complete(samples, default_data):
    first, again = samples
    assert first.n_sampled == N_SAMPLE == len(first.data.customers)
    assert first.n_total == len(default_data.customers)
    ids = set(first.data.customers["customer_id"])
    pd.testing.assert_frame_equal(first.data.customers, again.data.customers)
    # every survey and order of a sampled customer, and no other
    for name in ("surveys", "transactions"):
        full = getattr(default_data, name)
        expected = _sorted(full[full["customer_id"].isin(ids)])
        pd.testing.assert_frame_equal(_sorted(getattr(first.data, name)), expected)


def test_sample_keeps_the_description(samples, default_data):
    data = samples[0].data
    assert data.description.name == default_data.description.name
    assert data.currency == default_data.currency and data.freq == default_data.freq
    assert data.drivers == default_data.drivers and data.ratings == default_data.ratings
    assert data.tables_present == default_data.tables_present


def test_same_customers_on_every_engine(default_data, backend_for, tmp_path_factory):
    """DuckDB and Spark draw the same customers and give the same sample for the same seed."""
    drawn = {}
    for engine in ("duckdb", "spark"):
        tables = tables_from_frames(default_data, backend_for(engine), engine, tmp_path_factory.mktemp(engine))
        np.testing.assert_array_equal(
            customer_ids(tables).to_numpy(), np.sort(default_data.customers["customer_id"].unique())
        )
        drawn[engine] = sample_customers(tables, N_SAMPLE, seed=11).data
    for name in ("customers", "surveys", "transactions"):
        pd.testing.assert_frame_equal(getattr(drawn["duckdb"], name), getattr(drawn["spark"], name))


def test_sample_of_text_ids_and_without_customers_table(duckdb_backend, default_data, tmp_path):
    """Text ids stay text; without a customers table the ids come from the surveys and transactions."""
    from dataclasses import replace

    data = replace(
        default_data,
        customers=default_data.customers[["customer_id"]].iloc[:0],
        surveys=default_data.surveys.assign(customer_id="c" + default_data.surveys["customer_id"].astype(str)),
        transactions=default_data.transactions.assign(
            customer_id="c" + default_data.transactions["customer_id"].astype(str)
        ),
        tables_present=("surveys", "transactions"),
    )
    tables = tables_from_frames(data, duckdb_backend, "duckdb", tmp_path / "t")
    assert tables.customers is None
    s = sample_customers(tables, 50, seed=1)
    assert s.n_total == pd.concat([data.surveys, data.transactions])["customer_id"].nunique()
    assert s.data.customers["customer_id"].map(type).eq(str).all() and len(s.data.customers) == 50
    assert set(s.data.transactions["customer_id"]) <= set(s.data.customers["customer_id"])
    # the whole data set's note says it once; loading the sample does not repeat it for the 50 customers
    whole = "no customers table: the customers are those seen in surveys and transactions"
    s = sample_customers(replace(tables, notes=(whole,)), 50, seed=1)
    assert [n for n in s.data.notes if n.startswith("no customers table")] == [whole]


def test_masked_sample_has_pseudonyms(default_tables, monkeypatch):
    monkeypatch.setenv("BSC_MASK_KEY", "ab" * 16)
    s = sample_customers(default_tables, 40, seed=5, mask_ids=True)
    assert s.data.customers["customer_id"].str.startswith("C-").all()
    assert s.data.surveys["customer_id"].str.startswith("C-").all()


def test_sampling_sentence_and_scaling():
    s = Sampling(n_total=1_000_000, n_sampled=50_000, seed=2024, engine="duckdb")
    assert s.sentence() == (
        "Models fitted on a random sample of 50,000 of 1,000,000 customers (5.0 %, seed 2024); "
        "KPI tables and the whale curve use every customer."
    )
    assert s.factor == 20 and s.scale_total(1.5) == 30.0 and s.scale_total(None) is None
    assert s.is_sample and not Sampling(10, 10).is_sample
    assert Sampling(5_000_000, 10_000).percent_text() == "0.2 %"
    assert "50,000 of 1,000,000" in s.note() and "x 20" in s.scaled_note()


def test_a_sample_needs_a_customer(default_tables):
    with pytest.raises(ValueError, match="at least one"):
        sample_customers(default_tables, 0)
