"""dataset.yaml: the data set description, the mapping of real files onto the toolkit's tables."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.description import DescriptionError, load_description
from bsc_toolkit.data.guess import guess_description
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.data.schemas import DataValidationError


def _yaml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataset.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def snapshot_dir(tmp_path: Path) -> Path:
    """A bank-churn-like snapshot: one row per customer, 1-5 satisfaction, a Yes/No flag, years of tenure."""
    folder = tmp_path / "bank"
    folder.mkdir()
    pd.DataFrame(
        {
            "Client": ["A-01", "A-02", "B-03", "B-04", "C-05"],
            "Surname": ["Smith", "Jones", "Brown", "Lee", "Kim"],
            "Plan": ["gold", "None", "gold", "silver", "None"],
            "Left": ["Yes", "No", "no", "YES", "No"],
            "Years": ["2", "0.5", "10", "3", "1"],
            "Satisfaction": ["1", "5", "4", "2", ""],
        }
    ).to_csv(folder / "export.csv", index=False)
    _yaml(
        folder,
        """
        name: Bank
        currency: eur
        snapshot_date: 2024-12-31
        tables:
          customers:
            path: export.csv
            columns: {customer_id: Client, segment: Plan, churned: Left, tenure: Years}
            tenure_unit: years
          surveys:
            path: export.csv
            columns: {customer_id: Client, csat: Satisfaction}
        ratings:
          csat: {scale: [1, 5], top_box: 2}
        """,
    )
    return folder


def test_snapshot_shape_loads_on_its_own_scale_with_text_ids(snapshot_dir: Path) -> None:
    data = load_dataset(snapshot_dir)
    c = data.customers.set_index("customer_id")
    assert list(c.index) == ["A-01", "A-02", "B-03", "B-04", "C-05"]  # text ids kept
    assert c.loc["A-02", "segment"] == "None"  # a category named "None" is not missing
    assert c["churned"].tolist() == [True, False, False, True, False]
    np.testing.assert_allclose(c["tenure_months"], [24, 6, 120, 36, 12])
    assert "Surname" not in data.customers.columns  # unmapped columns (names) are not read
    assert data.scale("csat") == RatingScale(1, 5, 2)
    assert data.currency == "EUR" and data.is_snapshot
    s = data.surveys.set_index("customer_id")
    assert (s["surveyed_at"] == pd.Timestamp("2024-12-31")).all()
    assert "C-05" not in s.index and s.loc["A-02", "csat"] == 5  # a row without a rating is no response
    assert any("snapshot date" in n for n in data.notes)
    assert any("1 of 5 row(s)" in n and "no rating" in n for n in data.notes)
    assert data.tables_present == ("customers", "surveys") and not data.has("transactions")


def test_values_outside_the_declared_scale_name_the_file_column(snapshot_dir: Path) -> None:
    frame = pd.read_csv(snapshot_dir / "export.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "Satisfaction"] = "7"
    frame.loc[2, "Left"] = "maybe"
    frame.to_csv(snapshot_dir / "export.csv", index=False)
    with pytest.raises(DataValidationError) as err:
        load_dataset(snapshot_dir)
    text = str(err.value)
    # every problem of every table at once
    assert "column 'churned'" in text and "'maybe'" in text
    assert "column 'csat' (file column 'Satisfaction')" in text and "(1.0, 5.0)" in text


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("currncy: USD", r"currncy: unknown field \(did you mean 'currency'\?\)"),
        ("frequency: W", r"frequency: Input should be 'M', 'Q' or 'Y'"),
        ("ratings: {nps: {scale: [1, 5]}}", r"ratings: nps: the Net Promoter Score is defined on the 0-10"),
        ("ratings: {csat: {scale: [5, 1]}}", r"ratings.csat: a rating scale needs high > low"),
        (
            "tables: {surveys: {path: s.csv, columns: {csatt: Sat}}}",
            r"unknown toolkit column\(s\) 'csatt' \(did you mean 'csat'\?\)",
        ),
        ("snapshot_date: yesterday", r"snapshot_date: not a date"),
        (
            "drivers: [{name: 'waiting time'}]",
            r"drivers.0.name: driver name 'waiting time' must be a Python identifier",
        ),
        (
            "tables: {surveys: {path: s.csv, colums: {}}}",
            r"tables.surveys.colums: unknown field \(did you mean 'columns'\?\)",
        ),
    ],
)
def test_description_errors_name_the_field(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = _yaml(tmp_path / "d", yaml_text)
    with pytest.raises(DescriptionError, match=expected) as err:
        load_description(path)
    assert str(path) in str(err.value)


def test_paths_resolve_from_the_yaml_folder_root_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "raw"
    data.mkdir()
    pd.DataFrame({"id": [1, 2], "day": ["2024-01-05", "2024-04-02"], "amt": ["10.5", "-2"]}).to_csv(
        data / "tx.csv", index=False
    )
    spec = """
        root: ../raw
        tables:
          transactions: {path: tx.csv, columns: {customer_id: id, ordered_at: day, revenue: amt}}
        """
    _yaml(tmp_path / "desc", spec)
    loaded = load_dataset(tmp_path / "desc")
    assert loaded.transactions["revenue_usd"].tolist() == [10.5, -2.0]  # refunds kept as negative amounts
    assert len(loaded.customers) == 2 and any("no customers table" in n for n in loaded.notes)
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("BSC_DATA_ROOT", str(other))
    with pytest.raises(FileNotFoundError, match=r"tables.transactions.path: no such file .*elsewhere/tx.csv"):
        load_dataset(tmp_path / "desc")


def test_computed_revenue_and_missing_ids_are_counted(tmp_path: Path) -> None:
    folder = tmp_path / "retail"
    folder.mkdir()
    pd.DataFrame(
        {
            "CustomerID": [17850.0, np.nan, 17850.0, 13047.0],
            "InvoiceDate": pd.to_datetime(
                ["2011-01-03 10:00", "2011-01-03 11:00", "2011-02-01 09:00", "2011-03-01 08:00"]
            ),
            "Quantity": [6, 1, -2, 3],
            "UnitPrice": [2.55, 1.0, 2.55, 1.5],
        }
    ).to_parquet(folder / "lines.parquet")
    _yaml(
        folder,
        """
        currency: GBP
        tables:
          transactions:
            path: lines.parquet
            columns: {customer_id: CustomerID, ordered_at: InvoiceDate, revenue: {product: [Quantity, UnitPrice]}}
        """,
    )
    data = load_dataset(folder)
    tx = data.transactions
    assert tx["customer_id"].dtype == np.int64 and tx["customer_id"].tolist() == [17850, 17850, 13047]
    np.testing.assert_allclose(tx["revenue_usd"], [15.3, -5.1, 4.5])
    assert any("1 of 4 row(s)" in n and "no customer id" in n for n in data.notes)


def _dates_dir(tmp_path: Path, dates: list[str], read: str = "") -> Path:
    folder = tmp_path / "dates"
    folder.mkdir(exist_ok=True)
    pd.DataFrame({"customer_id": range(1, len(dates) + 1), "ordered_at": dates, "revenue": 1.0}).to_csv(
        folder / "orders.csv", index=False
    )
    _yaml(
        folder,
        f"""
        {read}
        tables:
          transactions: {{path: orders.csv, columns: {{customer_id: customer_id, ordered_at: ordered_at, revenue: revenue}}}}
        """,
    )
    return folder


def test_day_month_ambiguity_stops_until_declared(tmp_path: Path) -> None:
    dates = ["03/04/2024", "13/04/2024", "01/02/2024"]
    with pytest.raises(DataValidationError, match=r"read differently day-first and month-first.*dayfirst: true"):
        load_dataset(_dates_dir(tmp_path, dates))
    data = load_dataset(_dates_dir(tmp_path, dates, "read: {dayfirst: true}"))
    assert data.transactions["ordered_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-04-03",
        "2024-04-13",
        "2024-02-01",
    ]
    data = load_dataset(_dates_dir(tmp_path, ["03.04.2024", "13.04.2024"], "read: {date_format: '%d.%m.%Y'}"))
    assert data.transactions["ordered_at"].dt.month.tolist() == [4, 4]


def test_utc_offsets_are_converted_and_said(tmp_path: Path) -> None:
    stamps = ["2024-03-31T23:30:00+02:00", "2024-03-31T23:30:00-05:00"]
    data = load_dataset(_dates_dir(tmp_path, stamps))
    assert data.transactions["ordered_at"].astype(str).tolist() == ["2024-03-31 21:30:00", "2024-04-01 04:30:00"]
    assert any("converted to UTC" in n for n in data.notes)
    data = load_dataset(_dates_dir(tmp_path, stamps, "read: {timezone: Europe/Berlin}"))
    assert data.transactions["ordered_at"].astype(str).tolist()[0] == "2024-03-31 23:30:00"


def test_separator_and_encoding_hints(tmp_path: Path) -> None:
    folder = tmp_path / "semi"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id;segment\n1;a\n")
    with pytest.raises(DataValidationError, match=r"semicolon-separated.*read: \{sep: ';'\}"):
        load_dataset(folder)
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "customers.csv").write_bytes("customer_id,segment\n1,Bäckerei\n".encode("latin-1"))
    with pytest.raises(DataValidationError, match=r"another encoding, e.g. latin-1.*read: \{encoding: latin-1\}"):
        load_dataset(latin)
    _yaml(latin, "read: {encoding: latin-1}\ntables: {customers: customers.csv}")
    assert load_dataset(latin).customers["segment"].tolist() == ["Bäckerei"]


def test_two_files_for_one_table_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1]}).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": [1]}).to_parquet(folder / "customers.parquet")
    with pytest.raises(
        DataValidationError, match=r"several files for the customers table.*customers.csv, customers.parquet"
    ):
        load_dataset(folder)


def test_undated_surveys_need_a_snapshot_date(tmp_path: Path) -> None:
    folder = tmp_path / "nodate"
    folder.mkdir()
    pd.DataFrame({"id": [1, 2], "sat": [3, 4]}).to_csv(folder / "s.csv", index=False)
    _yaml(folder, "tables: {surveys: {path: s.csv, columns: {customer_id: id, csat: sat}}}")
    with pytest.raises(DataValidationError, match=r"no 'surveyed_at' column.*snapshot_date"):
        load_dataset(folder)


def test_churn_flag_needs_the_date_it_refers_to(tmp_path: Path) -> None:
    folder = tmp_path / "flag"
    folder.mkdir()
    pd.DataFrame({"id": [1, 2], "gone": [1, 0]}).to_csv(folder / "c.csv", index=False)
    _yaml(folder, "tables: {customers: {path: c.csv, columns: {customer_id: id, churned: gone}}}")
    with pytest.raises(DataValidationError, match="no snapshot_date"):
        load_dataset(folder)


def test_guess_drafts_a_description_that_validates(tmp_path: Path, snapshot_dir: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "export.csv").write_bytes((snapshot_dir / "export.csv").read_bytes())
    text = guess_description(raw)
    assert "customer_id: Client" in text and "csat: Satisfaction" in text and "churned: Left" in text
    assert "snapshot_date" in text and "scale:\n    - 1\n    - 5" in text
    (raw / "dataset.yaml").write_text(text)
    data = load_dataset(raw)
    assert data.customers["churned"].sum() == 2 and data.scale("csat").label == "1-5"


def test_table_files_the_description_leaves_out_are_named_in_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id;segment\n1;a\n2;b\n")
    (folder / "surveys.csv").write_text("customer_id,surveyed_at,csat\n1,2024-01-05,7\n")
    pd.DataFrame({"customer_id": [1], "ordered_at": ["2024-01-05"], "revenue_usd": [3.0]}).to_parquet(
        folder / "transactions.parquet"
    )
    (folder / "transactions.csv").write_text("customer_id,ordered_at,revenue_usd\n1,2024-01-05,3\n")
    _yaml(folder, "tables: {customers: {path: customers.csv, read: {sep: ';'}}}")
    data = load_dataset(folder)
    assert data.tables_present == ("customers",) and data.surveys.empty
    assert data.notes[:2] == (
        "surveys.csv is beside dataset.yaml but tables.surveys is not described: it is not read; add "
        "tables.surveys to dataset.yaml to use it",
        "transactions.csv and transactions.parquet are beside dataset.yaml but tables.transactions is not "
        "described: they are not read; add tables.transactions to dataset.yaml to use them",
    )
    # a file that feeds a described table, or a root elsewhere, is said as it is
    _yaml(folder, "tables: {customers: {path: customers.csv, read: {sep: ';'}}, surveys: surveys.csv}")
    assert not [n for n in load_dataset(folder).notes if "surveys" in n]
    other = tmp_path / "elsewhere"
    _yaml(other, f"root: {folder}\ntables: {{customers: {{path: customers.csv, read: {{sep: ';'}}}}}}")
    assert load_dataset(other).notes[0].startswith(f"surveys.csv is in the data root '{folder}' but tables.surveys")
    # without tables: every table file there is read
    _yaml(folder, "read: {sep: ','}\n")
    (folder / "customers.csv").write_text("customer_id,segment\n1,a\n2,b\n")
    (folder / "transactions.parquet").unlink()
    data = load_dataset(folder / "dataset.yaml")  # the YAML itself: its folder is searched
    assert data.tables_present == ("customers", "surveys", "transactions")
    assert not [n for n in data.notes if "not described" in n]


def test_separator_hints_fit_where_the_separator_is_declared(tmp_path: Path) -> None:
    folder = tmp_path / "seps"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id;segment\n1;a\n")
    (folder / "surveys.csv").write_text("customer_id,surveyed_at,csat\n1,2024-01-05,7\n")
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)  # nothing declared: either form fits
    assert (
        "semicolon-separated; declare it in dataset.yaml: read: {sep: ';'} for every file, or "
        "tables.customers.read.sep: ';' for this one"
    ) in str(info.value)
    _yaml(folder, "read: {sep: ','}\ntables: {customers: customers.csv, surveys: surveys.csv}")
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)  # a declared separator is overridden only by the table's own
    message = str(info.value)
    assert "declare this file's own in dataset.yaml: tables.customers.read.sep: ';'" in message
    assert "read: {sep" not in message
    _yaml(
        folder, "read: {sep: ','}\ntables: {customers: {path: customers.csv, read: {sep: ';'}}, surveys: surveys.csv}"
    )
    assert load_dataset(folder).tables_present == ("customers", "surveys")
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "customers.csv").write_bytes("customer_id,segment\n1,Bäckerei\n".encode("latin-1"))
    _yaml(latin, "read: {encoding: utf-8}\ntables: {customers: customers.csv}")
    with pytest.raises(DataValidationError, match=r"declare this file's own in dataset.yaml: tables.customers.read"):
        load_dataset(latin)


# ------------------------------------------------------------------ globs and database connections


def _orders(n: int, start: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cust": [start + i % 3 for i in range(n)],
            "day": pd.date_range("2024-01-01", periods=n, freq="D") + pd.Timedelta(days=start),
            "amount": [10.0 + i for i in range(n)],
        }
    )


def test_a_glob_path_reads_the_union_of_its_files_in_sorted_order(tmp_path: Path) -> None:
    parts = tmp_path / "shop" / "transactions"
    parts.mkdir(parents=True)
    for k in (2, 0, 1):  # written out of order: read in sorted file order
        _orders(4, 10 * k).to_parquet(parts / f"part-{k}.parquet", index=False)
    (parts / "notes.txt").write_text("not a part")
    _yaml(
        tmp_path / "shop",
        """
        tables:
          transactions:
            path: transactions/part-*.parquet
            columns: {customer_id: cust, ordered_at: day, revenue: amount}
        """,
    )
    data = load_dataset(tmp_path / "shop")
    expected = pd.concat([_orders(4, 0), _orders(4, 10), _orders(4, 20)], ignore_index=True)
    assert data.transactions["customer_id"].tolist() == expected["cust"].tolist()
    assert data.transactions["ordered_at"].tolist() == expected["day"].tolist()
    assert data.transactions["revenue_usd"].sum() == expected["amount"].sum()
    assert load_description(tmp_path / "shop").table_files("transactions") == sorted(parts.glob("part-*.parquet"))


def test_a_bad_row_of_a_glob_is_named_by_its_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "csvs"
    (folder / "2024" / "q1").mkdir(parents=True)
    (folder / "2024" / "q2").mkdir(parents=True)
    _orders(3, 0).to_csv(folder / "2024" / "q1" / "orders.csv", index=False)
    bad = _orders(3, 5).astype(str)
    bad.loc[1, "amount"] = "twelve"
    bad.to_csv(folder / "2024" / "q2" / "orders.csv", index=False)
    _yaml(
        folder,
        """
        tables:
          transactions:
            path: "**/orders.csv"
            columns: {customer_id: cust, ordered_at: day, revenue: amount}
        """,
    )
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder)
    assert "line 3 of '2024/q2/orders.csv'" in str(err.value) and "'twelve'" in str(err.value)
    assert "line 5" not in str(err.value)  # not the line of the concatenation


def test_a_glob_matching_nothing_names_the_field_the_pattern_and_the_root(tmp_path: Path) -> None:
    _yaml(
        tmp_path / "d",
        """
        tables:
          transactions: {path: "parts/*.parquet", columns: {customer_id: c, ordered_at: d, revenue: r}}
        """,
    )
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(tmp_path / "d")
    text = str(err.value)
    assert "tables.transactions.path" in text and "'parts/*.parquet'" in text and str(tmp_path / "d") in text


def test_glob_files_with_other_columns_are_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    _orders(2, 0).to_csv(folder / "a.csv", index=False)
    _orders(2, 0).rename(columns={"amount": "value"}).to_csv(folder / "b.csv", index=False)
    _yaml(
        folder,
        "tables:\n  transactions: {path: '*.csv', columns: {customer_id: cust, ordered_at: day, revenue: amount}}\n",
    )
    with pytest.raises(DataValidationError, match=r"differ in their columns.*b\.csv"):
        load_dataset(folder)


def _warehouse(path: Path) -> Path:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA sales")
    con.execute(
        "CREATE TABLE sales.orders AS SELECT * FROM (VALUES (1, DATE '2024-01-05', 12.5), (2, DATE '2024-02-01', 7.0),"
        " (NULL, DATE '2024-02-03', 1.0), (1, DATE '2024-03-09', -2.5)) AS t(cust, day, amount)"
    )
    con.execute(
        "CREATE TABLE clients AS SELECT * FROM (VALUES (1, 'smb', '2023-05-01'), (2, 'consumer', '2023-07-15')) AS t(id, seg, since)"
    )
    con.close()
    return path


def test_a_duckdb_connection_table_is_read_and_mapped_like_a_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "wh"
    folder.mkdir()
    _warehouse(folder / "warehouse.duckdb")
    monkeypatch.setenv("WAREHOUSE_FILE", "warehouse.duckdb")
    _yaml(
        folder,
        """
        connection: duckdb://${WAREHOUSE_FILE}
        tables:
          customers: {table: clients, columns: {customer_id: id, segment: seg, acquired_at: since}}
          transactions: {table: sales.orders, columns: {customer_id: cust, ordered_at: day, revenue: amount}}
        """,
    )
    description = load_description(folder)
    assert description.connection_url() == f"duckdb://{folder / 'warehouse.duckdb'}"  # relative to the YAML
    data = load_dataset(folder)
    assert data.customers["segment"].tolist() == ["smb", "consumer"]
    assert data.customers["acquired_at"].tolist() == [pd.Timestamp("2023-05-01"), pd.Timestamp("2023-07-15")]
    assert data.transactions["revenue_usd"].tolist() == [12.5, 7.0, -2.5]
    assert any("1 of 4 row(s)" in n and "sales.orders" in n for n in data.notes)  # no id: left out, counted
    monkeypatch.delenv("WAREHOUSE_FILE")
    with pytest.raises(DescriptionError, match="WAREHOUSE_FILE not set"):
        load_dataset(folder)


def test_a_missing_database_table_names_the_connection_without_its_password(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "wh"
    folder.mkdir()
    _warehouse(folder / "w.duckdb")
    _yaml(folder, "connection: duckdb://w.duckdb\ntables:\n  surveys: {table: sales.responses}\n")
    with pytest.raises(DataValidationError, match=r"surveys table 'sales.responses' from 'duckdb://w.duckdb'"):
        load_dataset(folder)
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    spec = load_description(
        _yaml(
            tmp_path / "pg",
            "connection: postgres://bob:${PGPASSWORD}@db.example.com/shop\ntables:\n  surveys: {table: s}\n",
        )
    )
    source = spec.table_source("surveys")
    assert "s3cret" in source.url and "s3cret" not in str(source) and str(source).startswith("postgres://bob:***@")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables:\n  surveys: {path: s.csv, table: s}\n", "tables.surveys: give exactly one of path"),
        ("tables:\n  surveys: {columns: {csat: x}}\n", "tables.surveys: give exactly one of path"),
        (
            "tables:\n  surveys: {table: s}\n",
            "tables.surveys.table: 's' names a database table but the description has no connection",
        ),
        (
            "connection: warehouse.duckdb\ntables:\n  surveys: {table: s}\n",
            "connection: 'warehouse.duckdb' is not a connection URL",
        ),
    ],
)
def test_path_or_table_and_the_connection_are_checked(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DescriptionError, match=message):
        load_description(_yaml(tmp_path, text))
