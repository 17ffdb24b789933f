"""Opening a data set on an engine gives the tables (and the checks) of the pandas pipeline.

Each table of :func:`open_tables` must equal what :func:`load_dataset` gives, on DuckDB and on Spark:
same rows (after sorting), same columns in the same order, same values, dates and ratings.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data.description import load_description
from bsc_toolkit.data.io import CustomerData, load_dataset
from bsc_toolkit.data.schemas import DataValidationError
from bsc_toolkit.engine import EngineError, EngineTables
from bsc_toolkit.engine.sources import EXCEL_MESSAGE, count_customers, open_tables

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("online_retail", "bank_churn")


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def engine_name(request) -> str:
    """Each engine in turn; Spark queries take seconds each on 2 cores, so its tests are slow ones."""
    return request.param


def _yaml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataset.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].astype("datetime64[ns]")
        elif out[col].dtype == object:
            out[col] = out[col].where(out[col].notna(), None)
    return out.sort_values(list(out.columns), na_position="last", kind="stable").reset_index(drop=True)


def assert_same_tables(tables: EngineTables, data: CustomerData) -> None:
    """Every table of the data set the same on the engine as in pandas; absent tables None."""
    for name in ("customers", "surveys", "transactions"):
        expr = tables.table(name)
        if name not in data.tables_present:
            assert expr is None, name
            continue
        got = expr.to_pandas()
        want = getattr(data, name)
        assert list(got.columns) == list(want.columns), name
        for col in want.columns:  # the same kinds of values: ids, numbers, flags, dates, text
            assert got[col].dtype.kind == want[col].dtype.kind, (name, col, got[col].dtype, want[col].dtype)
        pd.testing.assert_frame_equal(_normalised(got), _normalised(want), check_dtype=False, obj=name)
    assert count_customers(tables) == data.customers["customer_id"].nunique()


# ---------------------------------------------------------------------------------------------- equivalence


@pytest.mark.slow
def test_the_default_data_set_is_the_same_on_the_engine(engine_name, backend_for, default_data) -> None:
    tables = open_tables(None, engine_name, backend=backend_for(engine_name))
    assert tables.engine == engine_name and tables.notes == ()
    assert_same_tables(tables, default_data)


def _example(name: str) -> Path:
    path = ROOT / "examples" / name / "dataset.yaml"
    if not path.is_file():
        pytest.skip(f"no examples/{name}/dataset.yaml in this checkout")
    description = load_description(path)
    missing = [t for t in description.tables if not description.table_files(t)]
    if missing:
        pytest.skip(
            f"the {name} data are not here ({description.table_path(missing[0])}); see examples/{name}/README.md"
        )
    return path


_REFERENCE: dict[str, CustomerData] = {}


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_shared_real_data_sets_are_the_same_on_the_engine(example, engine_name, backend_for) -> None:
    path = _example(example)
    if example not in _REFERENCE:
        _REFERENCE[example] = load_dataset(path)
    data = _REFERENCE[example]
    tables = open_tables(path, engine_name, backend=backend_for(engine_name))
    assert_same_tables(tables, data)
    # the same rows left out, the same notes (the derived customers table is counted, not built)
    assert [n for n in tables.notes if "no customers table" not in n] == [
        n for n in data.notes if "no customers table" not in n
    ]


# ---------------------------------------------------------------------------------------------- shapes


def _orders(n: int, start: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cust": [start + i % 3 for i in range(n)],
            "day": pd.date_range("2024-01-01", periods=n, freq="D") + pd.Timedelta(days=start),
            "amount": [10.25 + i for i in range(n)],
            "qty": [1 + i % 2 for i in range(n)],
        }
    )


def test_a_glob_of_three_parquet_parts_is_one_table(tmp_path, engine_name, backend_for) -> None:
    parts = tmp_path / "shop" / "transactions"
    parts.mkdir(parents=True)
    for k in range(3):
        _orders(5, 10 * k).to_parquet(parts / f"part-{k}.parquet", index=False)
    _yaml(
        tmp_path / "shop",
        """
        tables:
          transactions:
            path: transactions/*.parquet
            columns: {customer_id: cust, ordered_at: day, revenue: {product: [amount, qty]}}
        """,
    )
    data = load_dataset(tmp_path / "shop")
    assert len(data.transactions) == 15
    tables = open_tables(tmp_path / "shop", engine_name, backend=backend_for(engine_name))
    assert tables.customers is None and count_customers(tables) == 9
    assert_same_tables(tables, data)


def test_a_snapshot_with_text_ids_flags_and_tenure_is_the_same(tmp_path, engine_name, backend_for) -> None:
    folder = tmp_path / "bank"
    folder.mkdir()
    pd.DataFrame(
        {
            "Client": ["A-01", "A-02", "B-03", "B-04", "C-05", " "],
            "Surname": ["Smith", "Jones", "Brown", "Lee", "Kim", "Roe"],
            "Plan": ["gold", "None", "gold", "", "None", "gold"],
            "Left": ["Yes", "No", "no", "YES", "No", "No"],
            "Years": ["2", "0.5", "10", "3", "1", "1"],
            "Satisfaction": ["1", "5", "4", "2", "", "3"],
            "Code": ["007", "012", "100", "200", "300", "400"],
            "Score": ["1", "2", "3.5", "4", "5", "6"],
        }
    ).to_csv(folder / "export.csv", index=False)
    _yaml(
        folder,
        """
        snapshot_date: 2024-12-31
        tables:
          customers:
            path: export.csv
            columns: {customer_id: Client, segment: Plan, churned: Left, tenure: Years}
            keep: [Code, Score]
            tenure_unit: years
          surveys:
            path: export.csv
            columns: {customer_id: Client, csat: Satisfaction}
        ratings:
          csat: {scale: [1, 5], top_box: 2}
        """,
    )
    data = load_dataset(folder)
    tables = open_tables(folder, engine_name, backend=backend_for(engine_name))
    assert_same_tables(tables, data)
    assert tables.customers.to_pandas()["Code"].tolist()[:1] == ["007"]  # codes with leading zeros stay text
    assert sorted(tables.notes) == sorted(data.notes)  # id-less rows, unanswered surveys, blank segment, snapshot


def test_numbers_with_a_decimal_comma_and_padded_ids_matching_plain_ones(tmp_path, engine_name, backend_for) -> None:
    folder = tmp_path / "eu"
    folder.mkdir()
    (folder / "kunden.csv").write_text("nr;seit\n00017;2023-01-05\n00018;2023-02-01\n")
    (folder / "umsatz.csv").write_text(
        "nr;tag;betrag;kosten\n17;05.03.2024;1.234,50;10\n18;06.03.2024;-12,5;2,25\n17;07.03.2024;3;\n"
    )
    _yaml(
        folder,
        """
        read: {sep: ';', decimal: ',', date_format: '%d.%m.%Y'}
        tables:
          customers: {path: kunden.csv, columns: {customer_id: nr, acquired_at: seit}, read: {date_format: '%Y-%m-%d'}}
          transactions: {path: umsatz.csv, columns: {customer_id: nr, ordered_at: tag, revenue: betrag, cost: kosten}}
        """,
    )
    data = load_dataset(folder)
    assert data.transactions["revenue_usd"].tolist() == [1234.5, -12.5, 3.0]
    tables = open_tables(folder, engine_name, backend=backend_for(engine_name))
    assert_same_tables(tables, data)
    assert any("zero-padded" in n for n in tables.notes)


# ---------------------------------------------------------------------------------------------- connections


def _warehouse(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA sales")
    con.execute(
        "CREATE TABLE sales.orders AS SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-05 10:00', 12.5), "
        "(2, TIMESTAMP '2024-02-01 00:00', 7.0), (NULL, TIMESTAMP '2024-02-03 00:00', 1.0), "
        "(1, TIMESTAMP '2024-03-09 00:00', -2.5)) AS t(cust, day, amount)"
    )
    con.execute(
        "CREATE TABLE clients AS SELECT * FROM (VALUES (1, 'smb', DATE '2023-05-01'), (2, NULL, DATE '2023-07-15'), "
        "(3, 'consumer', DATE '2023-09-30')) AS t(id, seg, since)"
    )
    con.close()


def test_tables_of_a_duckdb_file_combine_with_files(tmp_path, duckdb_backend) -> None:
    folder = tmp_path / "wh"
    folder.mkdir()
    _warehouse(folder / "warehouse.duckdb")
    pd.DataFrame({"customer_id": [1, 3], "surveyed_at": ["2024-01-01", "2024-02-02"], "csat": [7, 9]}).to_csv(
        folder / "answers.csv", index=False
    )
    _yaml(
        folder,
        """
        connection: duckdb://warehouse.duckdb
        tables:
          customers: {table: clients, columns: {customer_id: id, segment: seg, acquired_at: since}}
          surveys: answers.csv
          transactions: {table: sales.orders, columns: {customer_id: cust, ordered_at: day, revenue: amount}}
        """,
    )
    data = load_dataset(folder)
    tables = open_tables(folder, "duckdb", backend=duckdb_backend)
    assert_same_tables(tables, data)
    assert any("sales.orders" in n and "no customer id" in n for n in tables.notes)
    again = open_tables(folder, "duckdb", backend=duckdb_backend)  # attached once, read again
    assert count_customers(again) == 3
    with pytest.raises(EngineError, match="DuckDB database file .* read on the duckdb engine"):
        open_tables(folder, "spark")  # refused before any Spark session starts


def test_when_every_table_is_in_the_duckdb_file_a_new_backend_reads_it(tmp_path) -> None:
    folder = tmp_path / "wh"
    folder.mkdir()
    _warehouse(folder / "w.duckdb")
    _yaml(
        folder,
        f"""
        connection: duckdb://{folder / "w.duckdb"}
        tables:
          transactions: {{table: sales.orders, columns: {{customer_id: cust, ordered_at: day, revenue: amount}}}}
        """,
    )
    tables = open_tables(folder)
    assert tables.engine == "duckdb" and count_customers(tables) == 2
    assert_same_tables(tables, load_dataset(folder))


# ---------------------------------------------------------------------------------------------- errors


def test_a_glob_matching_nothing_names_the_field_and_the_pattern(tmp_path) -> None:
    _yaml(tmp_path / "d", "tables:\n  transactions: {path: 'parts/*.parquet'}\n")
    with pytest.raises(
        FileNotFoundError, match=r"tables.transactions.path: no file matches the pattern 'parts/\*.parquet'"
    ):
        open_tables(tmp_path / "d")


def test_excel_input_runs_on_pandas(tmp_path, small_sim) -> None:
    folder = tmp_path / "xl"
    folder.mkdir()
    small_sim.customers.head(5).to_excel(folder / "customers.xlsx", index=False)
    with pytest.raises(EngineError) as err:
        open_tables(folder)
    assert EXCEL_MESSAGE in str(err.value) and "customers" in str(err.value)


def test_masked_ids_are_not_supported_yet(tmp_path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1, 2]}).to_csv(folder / "customers.csv", index=False)
    with pytest.raises(EngineError, match="masked customer ids"):
        open_tables(folder, mask_ids=True)


def _broken(folder: Path) -> Path:
    folder.mkdir()
    pd.DataFrame(
        {
            "customer_id": ["1", "2", "2", "3", ""],
            "segment": ["a", "b", "b", "c", "d"],
            "acquired_at": ["2023-01-01", "2023-02-30", "2023-03-01", "", "2023-01-01"],
        }
    ).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame(
        {
            "customer_id": ["1", "2", "3", "1"],
            "surveyed_at": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            "csat": ["7", "11", "0", "seven"],
        }
    ).to_csv(folder / "surveys.csv", index=False)
    return folder


def test_data_problems_are_counted_with_examples(tmp_path, engine_name, backend_for) -> None:
    folder = _broken(tmp_path / "bad")
    with pytest.raises(DataValidationError) as err:
        open_tables(folder, engine_name, backend=backend_for(engine_name))
    text = str(err.value)
    assert f"Invalid customers table in '{folder / 'customers.csv'}'" in text
    assert "column 'acquired_at': 1 unparseable date(s), e.g. '2023-02-30'" in text
    assert "column 'acquired_at': 1 missing values" in text and "customer_id '3'" in text
    assert "column 'customer_id': 2 duplicate values where each must be unique (1 id(s) repeated), e.g. 2" in text
    assert f"Invalid surveys table in '{folder / 'surveys.csv'}'" in text
    assert "column 'csat': 1 value(s) that are not numbers, e.g. 'seven'" in text
    assert "column 'csat': 2 values outside the allowed range (1.0, 10.0)" in text
    assert "11.0" in text and "0.0" in text
    with pytest.raises(DataValidationError):  # the pandas pipeline rejects the same files
        load_dataset(folder)


def test_duplicate_customers_and_unknown_references(tmp_path, engine_name, backend_for) -> None:
    folder = tmp_path / "dup"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1, 2, 2, 2], "acquired_at": ["2023-01-01"] * 4}).to_csv(
        folder / "customers.csv", index=False
    )
    backend = backend_for(engine_name)
    with pytest.raises(DataValidationError, match=r"column 'customer_id': 3 duplicate values .*e\.g\. 2"):
        open_tables(folder, engine_name, backend=backend)
    pd.DataFrame({"customer_id": [1, 2], "acquired_at": ["2023-01-01"] * 2}).to_csv(
        folder / "customers.csv", index=False
    )
    pd.DataFrame({"customer_id": [1, 5, 5, 6], "ordered_at": ["2024-01-01"] * 4, "revenue_usd": [1.0] * 4}).to_csv(
        folder / "transactions.csv", index=False
    )
    with pytest.raises(DataValidationError, match=r"3 row\(s\) with a customer_id not in .*\(2 distinct id\(s\)\)"):
        open_tables(folder, engine_name, backend=backend)


def test_dates_the_engine_cannot_read_point_at_the_pandas_engine(tmp_path, duckdb_backend) -> None:
    folder = tmp_path / "us"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1, 2], "acquired_at": ["31/01/2023", "15/02/2023"]}).to_csv(
        folder / "customers.csv", index=False
    )
    assert load_dataset(folder).customers["acquired_at"].tolist() == [
        pd.Timestamp("2023-01-31"),
        pd.Timestamp("2023-02-15"),
    ]
    with pytest.raises(EngineError, match=r"customers table .*column 'acquired_at'.*--engine pandas"):
        open_tables(folder, backend=duckdb_backend)
    _yaml(folder, "read: {date_format: '%d/%m/%Y'}\n")
    tables = open_tables(folder, backend=duckdb_backend)
    assert_same_tables(tables, load_dataset(folder))


def test_observation_window_and_negative_costs_are_errors(tmp_path, duckdb_backend) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "ordered_at": ["2024-01-01", "2025-02-01", "2024-03-01"],
            "revenue_usd": [1, 2, 3],
            "cost_usd": [0.5, -1, np.nan],
        }
    ).to_csv(folder / "transactions.csv", index=False)
    _yaml(folder, "observation_end: 2024-12-31\n")
    with pytest.raises(DataValidationError) as err:
        open_tables(folder, backend=duckdb_backend)
    text = str(err.value)
    assert "column 'ordered_at': 1 date(s) after observation_end 2024-12-31, e.g. '2025-02-01'" in text
    assert "column 'cost': 1 values below the minimum 0, e.g. -1.0" in text


def test_time_zone_aware_dates_are_converted_to_the_declared_zone(tmp_path, engine_name, backend_for) -> None:
    folder = tmp_path / "tz"
    folder.mkdir()
    when = pd.to_datetime(["2024-01-01 23:30", "2024-03-01 10:00"]).tz_localize("UTC")
    pd.DataFrame({"customer_id": [1, 2], "ordered_at": when, "revenue_usd": [1.0, 2.0]}).to_parquet(
        folder / "transactions.parquet"
    )  # nanoseconds with a zone, as pandas writes them
    _yaml(folder, "read: {timezone: Europe/Berlin}\n")
    data = load_dataset(folder)
    assert data.transactions["ordered_at"].tolist() == [
        pd.Timestamp("2024-01-02 00:30"),
        pd.Timestamp("2024-03-01 11:00"),
    ]
    tables = open_tables(folder, engine_name, backend=backend_for(engine_name))
    assert_same_tables(tables, data)
    assert "transactions.ordered_at: time-zone-aware dates converted to Europe/Berlin" in tables.notes
