"""Loading and validating data sets: clear errors naming file, column and rows."""

from __future__ import annotations

import gc
import shutil
import weakref

import pandas as pd
import pytest

from bsc_toolkit.data.io import load_dataset, load_truth, read_table
from bsc_toolkit.data.schemas import DataValidationError, validate_table


@pytest.fixture()
def data_copy(tmp_path, small_data_dir):
    target = tmp_path / "ds"
    shutil.copytree(small_data_dir, target)
    return target


def _edit(path, func):
    frame = pd.read_csv(path, dtype=str)
    func(frame)
    frame.to_csv(path, index=False)


def test_load_dataset_parses_types_and_truth(small_data_dir):
    data = load_dataset(small_data_dir)
    assert pd.api.types.is_datetime64_any_dtype(data.surveys["surveyed_at"])
    assert pd.api.types.is_float_dtype(data.transactions["revenue_usd"])
    assert data.customers["churned_at"].isna().any()
    assert load_truth(small_data_dir).csat_knot == 7.0


def test_parquet_and_csv_give_the_same_tables(tmp_path, small_sim, small_data_dir):
    pq = small_sim.to_dir(tmp_path / "pq", file_format="parquet")
    a, b = load_dataset(small_data_dir), load_dataset(pq)
    pd.testing.assert_frame_equal(a.surveys, b.surveys, check_dtype=False)
    pd.testing.assert_frame_equal(a.customers, b.customers, check_dtype=False)


def test_nps_out_of_range_names_file_column_and_lines(data_copy):
    path = data_copy / "surveys.csv"

    def bad(f):
        f.loc[3, "nps"] = "11"
        f.loc[7, "nps"] = "-1"

    _edit(path, bad)
    with pytest.raises(DataValidationError) as err:
        load_dataset(data_copy)
    msg = str(err.value)
    assert "surveys.csv" in msg and "'nps'" in msg and "(0, 10)" in msg
    assert "line 5" in msg and "line 9" in msg  # header is line 1, row 0 is line 2


def test_missing_column_lists_what_was_found(data_copy):
    _edit(data_copy / "transactions.csv", lambda f: f.pop("revenue_usd"))
    with pytest.raises(DataValidationError, match=r"missing required column\(s\) \['revenue_usd'\]; found columns"):
        load_dataset(data_copy)


def test_duplicate_ids_unparseable_dates_and_nan(data_copy):
    def bad(f):
        f.loc[1, "customer_id"] = f.loc[0, "customer_id"]
        f.loc[2, "acquired_at"] = "31/31/2024"
        f.loc[4, "acquired_at"] = None

    _edit(data_copy / "customers.csv", bad)
    with pytest.raises(DataValidationError) as err:
        read_table(data_copy / "customers.csv", "customers")
    msg = str(err.value)
    assert "customers.csv" in msg
    assert "column 'customer_id'" in msg and "duplicate" in msg and "line 2" in msg and "line 3" in msg
    assert "column 'acquired_at': 1 unparseable date" in msg and "'31/31/2024'" in msg
    assert "missing values" in msg and "line 6" in msg


def test_non_numeric_score_and_empty_csat():
    frame = pd.DataFrame({"customer_id": ["1", "2", "3"], "surveyed_at": ["2024-01-05"] * 3, "csat": ["7", "", "good"]})
    with pytest.raises(DataValidationError) as err:
        validate_table(frame, "surveys", source="s.csv")
    msg = str(err.value)
    assert "'csat'" in msg and "line 4 ('good')" in msg and "line 3" in msg


def test_unknown_customer_references_are_reported(data_copy):
    _edit(
        data_copy / "transactions.csv",
        lambda f: f.__setitem__("customer_id", f["customer_id"].where(f.index > 0, "999999")),
    )
    with pytest.raises(DataValidationError, match=r"transactions.csv'.*customer_id not in .*customers.csv'.*999999"):
        load_dataset(data_copy)


def test_missing_files_and_folders(tmp_path, data_copy):
    with pytest.raises(FileNotFoundError, match="no such data set: .*nope' does not exist"):
        load_dataset(tmp_path / "nope")
    # every table is optional: without surveys the data set loads with an empty surveys table
    (data_copy / "surveys.csv").unlink()
    data = load_dataset(data_copy)
    assert data.tables_present == ("customers", "transactions")
    assert len(data.surveys) == 0 and not data.has("surveys") and data.has("transactions")
    for name in ("customers", "transactions"):
        (data_copy / f"{name}.csv").unlink()
    with pytest.raises(FileNotFoundError, match="no table found in"):
        load_dataset(data_copy)


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "customers.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataValidationError, match="could not read customers file"):
        read_table(bad, "customers")


def test_excel_tables_load_and_errors_name_excel_rows(tmp_path, small_sim):
    out = tmp_path / "xl"
    out.mkdir()
    small_sim.customers.to_excel(out / "customers.xlsx", index=False)
    small_sim.surveys.head(50).to_excel(out / "surveys.xlsx", index=False)
    small_sim.transactions.head(50).to_excel(out / "transactions.xlsx", index=False)
    data = load_dataset(out)
    assert len(data.customers) == len(small_sim.customers)
    assert pd.api.types.is_datetime64_any_dtype(data.surveys["surveyed_at"])
    bad = small_sim.surveys.head(5).copy()
    bad.loc[2, "csat"] = 12
    bad.to_excel(out / "surveys.xlsx", index=False)
    with pytest.raises(DataValidationError, match=r"surveys.xlsx'.*\n.*'csat'.*line 4 \(12.0\)"):
        load_dataset(out)


def test_parquet_errors_name_row_positions_and_bad_suffix(tmp_path, small_sim):
    bad = small_sim.surveys.head(5).copy()
    bad.loc[3, "nps"] = 11
    bad.to_parquet(tmp_path / "surveys.parquet", index=False)
    with pytest.raises(DataValidationError, match=r"surveys.parquet'.*\n.*'nps'.*row 3 \(11.0\)"):
        read_table(tmp_path / "surveys.parquet", "surveys")
    (tmp_path / "surveys.json").write_text("{}")
    with pytest.raises(DataValidationError, match="unsupported file type '.json'"):
        read_table(tmp_path / "surveys.json", "surveys")


def test_validation_coerces_without_touching_the_input():
    frame = pd.DataFrame(
        {"customer_id": [1, 2, 3], "surveyed_at": pd.to_datetime(["2024-01-05"] * 3), "csat": [7, 3, 10]}
    )
    before = frame.copy()
    out = validate_table(frame, "surveys", row_offset=None)
    pd.testing.assert_frame_equal(frame, before)  # the int column of the input stays int
    assert out["csat"].dtype == "float64" and out["csat"].tolist() == [7.0, 3.0, 10.0]


def test_loaded_tables_are_freed_as_soon_as_they_are_dropped(tmp_path, small_sim):
    """No reference cycle (pandera's accessor) keeps a table alive until the next garbage collection."""
    pq_dir = small_sim.to_dir(tmp_path / "pq", file_format="parquet")
    data = load_dataset(pq_dir)
    assert data.surveys["csat"].dtype == "float64"
    refs = [weakref.ref(getattr(data, t)) for t in ("customers", "surveys", "transactions")]
    gc.disable()
    try:
        del data
        assert [r() for r in refs] == [None, None, None]
    finally:
        gc.enable()


def test_counts_in_messages_have_thousands_separators(tmp_path):
    dates = pd.Series(["03/04/2024"] * 3425 + ["2024-01-05"])
    frame = pd.DataFrame({"customer_id": range(len(dates)), "ordered_at": dates, "revenue_usd": 1.0})
    with pytest.raises(DataValidationError, match=r"'ordered_at': 3,425 date\(s\) read differently day-first"):
        validate_table(frame, "transactions")
    frame["ordered_at"] = "soon"
    with pytest.raises(DataValidationError, match=r"3,426 unparseable date\(s\), e.g. .* and 3,421 more"):
        validate_table(frame, "transactions")
    frame = pd.DataFrame({"customer_id": [1] * 1200 + [2], "acquired_at": "2024-01-01"})
    with pytest.raises(DataValidationError, match=r"column 'customer_id': 1,200 duplicate values.* and 1,195 more"):
        validate_table(frame, "customers")


def test_unknown_customers_are_counted_with_separators(tmp_path):
    from bsc_toolkit.data.ids import check_references

    frames = {
        "customers": pd.DataFrame({"customer_id": [1, 2]}),
        "surveys": pd.DataFrame({"customer_id": [1]}),
        "transactions": pd.DataFrame({"customer_id": [3] * 1500 + [1]}),
    }
    files = {t: tmp_path / f"{t}.csv" for t in frames}
    with pytest.raises(DataValidationError, match=r"1,500 row\(s\) with a customer_id not in .*\(1 distinct id\(s\)\)"):
        check_references(frames, files, "int")
