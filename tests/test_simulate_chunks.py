"""`simulate_to_dir` in chunks: unique ids, row counts, the one-shot writer's schema, a loadable
dataset.yaml, one chunk in memory at a time, and the warehouse-scale knobs."""

from __future__ import annotations

import gc
import json
import shutil
import weakref

import pandas as pd
import pyarrow.parquet as pq
import pytest

import bsc_toolkit.data.simulate_write as simulate_write
from bsc_toolkit.data.io import load_dataset, load_truth
from bsc_toolkit.data.simulate import WAREHOUSE_SCALE, Truth, simulate, simulate_to_dir

TABLES = ("customers", "surveys", "transactions")
N, CHUNK, SEED = 2500, 1000, 4


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    """2,500 customers in chunks of 1,000, Parquet, with dataset.yaml."""
    return simulate_to_dir(
        tmp_path_factory.mktemp("chunked"), N, seed=SEED, chunk_size=CHUNK, file_format="parquet", describe=True
    )


def test_chunks_have_unique_consecutive_ids_and_the_expected_rows(chunked):
    customers = pq.read_table(chunked / "customers.parquet").to_pandas()
    assert customers["customer_id"].tolist() == list(range(1, N + 1))  # every customer is active some time
    latent = simulate(N, seed=SEED, chunk_size=CHUNK).latent  # the same draws, in memory
    rows = {name: pq.ParquetFile(chunked / f"{name}.parquet").metadata.num_rows for name in TABLES}
    assert rows == {"customers": N, "surveys": latent["surveyed"].sum(), "transactions": latent["n_orders"].sum()}
    assert pq.ParquetFile(chunked / "customers.parquet").num_row_groups == 3  # one row group per chunk
    for name in ("surveys", "transactions"):
        ids = pq.read_table(chunked / f"{name}.parquet", columns=["customer_id"]).column(0).to_numpy()
        assert set(ids) <= set(customers["customer_id"])


def test_chunked_files_have_the_one_shot_writers_columns_and_types(chunked, tmp_path):
    one_shot = simulate(N, seed=SEED, chunk_size=N).to_dir(tmp_path / "one_shot", file_format="parquet")
    for name in TABLES:
        assert (
            pq.read_schema(chunked / f"{name}.parquet").remove_metadata()
            == pq.read_schema(one_shot / f"{name}.parquet").remove_metadata()
        ), name
    loaded, reference = load_dataset(chunked), load_dataset(one_shot)
    for name in TABLES:
        assert getattr(loaded, name).dtypes.to_dict() == getattr(reference, name).dtypes.to_dict(), name
    # timestamps in microseconds (Spark reads no nanoseconds); dates are whole days
    assert str(pq.read_schema(chunked / "transactions.parquet").field("ordered_at").type) == "timestamp[us]"
    assert (loaded.transactions["ordered_at"] == loaded.transactions["ordered_at"].dt.floor("D")).all()


def test_dataset_yaml_describes_the_folder_and_loads_like_the_bare_folder(chunked, tmp_path):
    data = load_dataset(chunked)
    assert data.description.name == f"Simulated customer base ({N:,} customers, seed {SEED})"
    assert (data.description.currency, data.description.frequency) == ("USD", "Q")
    assert set(data.tables_present) == set(TABLES)
    bare = tmp_path / "bare"
    shutil.copytree(chunked, bare)
    (bare / "dataset.yaml").unlink()
    without = load_dataset(bare)  # the default description, as for the default data set
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(data, name), getattr(without, name))
    meta = json.loads((chunked / "truth.json").read_text())
    assert meta["seed"] == SEED and meta["design"]["chunk_size"] == CHUNK and meta["design"]["n_customers"] == N
    assert load_truth(chunked) == Truth()  # the population truth does not depend on the chunking


def test_chunks_are_drawn_written_and_released_one_at_a_time(tmp_path, monkeypatch):
    draw = simulate_write._simulate_chunk
    previous: list[weakref.ref] = []
    sizes: list[int] = []
    calls: list[int] = []

    def watched(*args, **kwargs):
        gc.collect()
        # every frame of the previous chunk is gone before the next is drawn ...
        assert all(ref() is None for ref in previous), "a chunk is still in memory when the next is drawn"
        tmp = tmp_path / "out" / "transactions.parquet.tmp"
        sizes.append(tmp.stat().st_size if tmp.exists() else 0)
        out = draw(*args, **kwargs)
        previous[:] = [weakref.ref(frame) for frame in out[:3]]
        calls.append(args[1])
        return out

    monkeypatch.setattr(simulate_write, "_simulate_chunk", watched)
    progress: list[tuple[int, int]] = []
    simulate_to_dir(
        tmp_path / "out", 2200, seed=1, chunk_size=500, file_format="parquet", progress=lambda *a: progress.append(a)
    )
    assert calls == [0, 500, 1000, 1500, 2000]  # id offsets: chunk after chunk
    # ... and the previous chunk's rows are already in the file
    assert sizes[0] < sizes[1] < sizes[2] < sizes[3] < sizes[4]
    assert progress == [(500, 2200), (1000, 2200), (1500, 2200), (2000, 2200), (2200, 2200)]


def test_order_rate_scales_transactions_only_and_is_stored_in_the_truth(tmp_path):
    base, more = simulate(400, seed=5), simulate(400, seed=5, order_rate=2.0)
    pd.testing.assert_frame_equal(base.customers, more.customers)
    pd.testing.assert_frame_equal(base.surveys, more.surveys)
    assert more.truth.orders_per_period == {k: 2 * v for k, v in Truth().orders_per_period.items()}
    assert 1.8 < len(more.transactions) / len(base.transactions) < 2.2
    assert simulate_write.scale_orders(Truth(), 1.0) == Truth()
    out = simulate_to_dir(tmp_path / "x", 50, seed=5, order_rate=2.0)
    assert load_truth(out) == more.truth
    with pytest.raises(ValueError, match="order_rate"):
        simulate_to_dir(tmp_path / "y", 50, order_rate=0)


def test_warehouse_scale_gives_about_20_orders_and_4_surveys_per_customer():
    sim = simulate(20_000, seed=2024, **WAREHOUSE_SCALE)
    assert 19.5 < len(sim.transactions) / 20_000 < 20.5
    assert 3.9 < len(sim.surveys) / 20_000 < 4.1


def test_cli_warehouse_scale_does_not_hide_given_rates(tmp_path):
    """--warehouse-scale with an explicit rate is refused rather than silently overriding it."""
    from typer.testing import CliRunner

    from bsc_toolkit.cli import app

    res = CliRunner().invoke(
        app, ["simulate", str(tmp_path / "d"), "-n", "10", "--warehouse-scale", "--order-rate", "3"]
    )
    assert res.exit_code == 1
    assert "--warehouse-scale sets --order-rate 1.62 and --response-rate 0.76" in res.output
    assert not (tmp_path / "d").exists()
