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
