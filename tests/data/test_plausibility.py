"""Plausibility checks: dates outside the declared window are errors, dates far after the data and
orders after churn are warnings; `bsc validate` and the reports' data notes show the warnings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bsc_toolkit.cli import app
from bsc_toolkit.data.io import CustomerData, load_dataset
from bsc_toolkit.data.plausibility import _percentile_lower, plausible_date_limit
from bsc_toolkit.data.schemas import DataValidationError
from bsc_toolkit.formatting import data_notes_markdown


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture()
def sim_dir(tmp_path: Path, small_sim) -> Path:
    """The small simulation as CSV files in a folder of this test's own."""
    return small_sim.to_dir(tmp_path / "sim")


def _set_cell(path: Path, row: int, column: str, value: str) -> int:
    """Set one cell of a CSV table; returns the file line of the row (header on line 1)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return row + 2


# ----------------------------------------------------------------------------- warnings without observation_end


def _tables(data: CustomerData) -> dict[str, pd.DataFrame]:
    return {"customers": data.customers, "surveys": data.surveys, "transactions": data.transactions}


def test_clean_simulated_data_have_no_warnings(sim_dir: Path) -> None:
    data = load_dataset(sim_dir)
    assert data.warnings == ()
    assert plausible_date_limit(_tables(data), data.description) is None  # no date to stop before


def test_one_order_in_2099_is_a_warning_naming_it(sim_dir: Path) -> None:
    line = _set_cell(sim_dir / "transactions.csv", 40, "ordered_at", "2099-01-01")
    data = load_dataset(sim_dir)  # loads: a warning, not an error
    late = [w for w in data.warnings if "column 'ordered_at'" in w]
    assert len(late) == 1
    (warning,) = late
    assert warning.startswith("transactions: column 'ordered_at': 1 date(s) in 'transactions.csv' after ")
    assert f"line {line} ('2099-01-01')" in warning
    assert "more than one quarter after the 99.9th percentile of the survey, order and acquisition dates" in warning
    assert "declare observation_end in dataset.yaml" in warning and "to make dates after it an error" in warning
    assert "placeholder" not in warning
    # the order is kept, as every warned-about row is
    assert (data.transactions["ordered_at"] == pd.Timestamp("2099-01-01")).sum() == 1
    # the bound the warning names, for a report to end its window at (not in 2099Q1)
    limit = plausible_date_limit(_tables(data), data.description)
    assert limit is not None and f"after {limit:%Y-%m-%d}, more than one quarter" in warning
    assert data.surveys["surveyed_at"].max() <= limit < pd.Timestamp("2099-01-01")


def test_the_bound_is_one_period_after_the_percentile(sim_dir: Path) -> None:
    """With monthly frequency the bound is a month after the last activity, so a date two months later is flagged."""
    last = pd.read_csv(sim_dir / "transactions.csv", usecols=["ordered_at"], parse_dates=["ordered_at"]).max().iloc[0]
    _set_cell(sim_dir / "transactions.csv", 3, "ordered_at", f"{last + pd.DateOffset(months=2):%Y-%m-%d}")
    _write(sim_dir, "dataset.yaml", "frequency: Q\n")
    assert not [w for w in load_dataset(sim_dir).warnings if "ordered_at" in w]  # within a quarter of the rest
    _write(sim_dir, "dataset.yaml", "frequency: M\n")
    (warning,) = [w for w in load_dataset(sim_dir).warnings if "ordered_at" in w]
    assert "more than one month after the 99.9th percentile" in warning


def test_many_churn_dates_on_one_far_day_look_like_a_placeholder(tmp_path: Path) -> None:
    folder = tmp_path / "placeholder"
    rows = ["customer_id,acquired_at,churned_at"]
    rows += [f"{i},2023-0{1 + i % 9}-15,{'2099-12-31' if i % 3 else '2024-03-01'}" for i in range(1, 31)]
    _write(folder, "customers.csv", "\n".join(rows) + "\n")
    orders = "".join(f"{i},2023-{1 + i % 12:02d}-20,10\n" for i in range(1, 31))
    _write(folder, "transactions.csv", "customer_id,ordered_at,revenue_usd\n" + orders)
    data = load_dataset(folder)
    (warning,) = [w for w in data.warnings if "churned_at" in w]
    assert "customers: column 'churned_at': 20 date(s) in 'customers.csv'" in warning
    assert "e.g. line 2 ('2099-12-31'), line 3 ('2099-12-31'), line 5 ('2099-12-31') and 17 more" in warning
    assert "20 of them are the same date 2099-12-31, which looks like a placeholder for 'no date'" in warning
    assert "leave those cells empty" in warning


def test_customers_only_placeholders_are_found_against_the_acquisition_dates(tmp_path: Path) -> None:
    """Without surveys or orders the bound comes from the acquisition dates, not from the placeholders themselves."""
    folder = tmp_path / "crm"
    rows = ["customer_id,acquired_at,churned_at"]
    rows += [f"{i},2023-{1 + i % 12:02d}-10,{'2099-12-31' if i % 2 else ''}" for i in range(1, 41)]
    _write(folder, "customers.csv", "\n".join(rows) + "\n")
    (warning,) = load_dataset(folder).warnings
    assert "20 date(s)" in warning and "percentile of the acquisition dates" in warning and "placeholder" in warning


def test_customers_who_come_and_go_after_a_single_survey_wave_are_not_warned_about(tmp_path: Path) -> None:
    """Acquisitions are activity: churns over the two years after a single survey wave are plausible."""
    folder = tmp_path / "wave"
    days = [*pd.date_range("2023-01-01", "2024-12-01", periods=58), *[pd.Timestamp("2024-12-31")] * 2]
    rows = ["customer_id,acquired_at,churned_at"]
    rows += [f"{i},{days[i]:%Y-%m-%d},{f'{days[i + 20]:%Y-%m-%d}' if i % 3 == 0 and i < 40 else ''}" for i in range(60)]
    _write(folder, "customers.csv", "\n".join(rows) + "\n")
    _write(folder, "surveys.csv", "customer_id,surveyed_at,csat\n" + "".join(f"{i},2023-02-15,7\n" for i in range(60)))
    assert load_dataset(folder).warnings == ()
    # a far date is still found against the pooled survey and acquisition dates
    rows[5] = "4,2023-03-01,2099-12-31"
    _write(folder, "customers.csv", "\n".join(rows) + "\n")
    (warning,) = load_dataset(folder).warnings
    assert warning.startswith("customers: column 'churned_at': 1 date(s) in 'customers.csv' after 2025-03-31")
    assert (
        "percentile of the survey and acquisition dates (2024-12-31)" in warning and "line 6 ('2099-12-31')" in warning
    )


def test_percentile_matches_numpy_lower_without_concatenating() -> None:
    rng = np.random.default_rng(3)
    for sizes in ([10], [1, 9], [1000, 20], [5, 5, 5], [3, 0, 2000]):
        pool = [rng.integers(0, 10**15, size=n) for n in sizes]
        pool[0][:1] = np.iinfo(np.int64).min  # NaT is left out
        values = np.concatenate([a[a != np.iinfo(np.int64).min] for a in pool])
        assert _percentile_lower(pool, 0.999) == np.quantile(values, 0.999, method="lower")


# ----------------------------------------------------------------------------- errors with a declared window


def _window_dir(tmp_path: Path, window: str) -> Path:
    folder = tmp_path / "window"
    _write(
        folder,
        "crm.csv",
        """
        Id,Since,Left
        1,2022-05-01,
        2,2023-01-10,2025-02-01
        3,2023-02-01,
        """,
    )
    _write(
        folder,
        "orders.csv",
        """
        Id,OrderDate,Amount
        1,2023-03-01,10
        2,2025-01-15,20
        3,2022-12-31,5
        3,2023-06-01,5
        """,
    )
    _write(folder, "surveys.csv", "customer_id,surveyed_at,csat\n1,2023-04-01,8\n2,2024-12-31 18:30,7\n")
    tables = """
        tables:
          customers: {path: crm.csv, columns: {customer_id: Id, acquired_at: Since, churned_at: Left}}
          transactions: {path: orders.csv, columns: {customer_id: Id, ordered_at: OrderDate, revenue: Amount}}
          surveys: surveys.csv
        """
    _write(folder, "dataset.yaml", window + "\n" + textwrap.dedent(tables).lstrip())
    return folder


def test_dates_outside_the_declared_window_are_errors_listed_at_once(tmp_path: Path) -> None:
    folder = _window_dir(tmp_path, "observation_start: 2023-01-01\nobservation_end: 2024-12-31")
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert f"Invalid customers table in '{folder / 'crm.csv'}':" in message
    assert (
        "column 'churned_at' (file column 'Left'): 1 date(s) after observation_end 2024-12-31, e.g. line 3 "
        "('2025-02-01'); leave these cells empty if the customers had not left by then, or move observation_end"
    ) in message
    assert f"Invalid transactions table in '{folder / 'orders.csv'}':" in message
    assert (
        "column 'ordered_at' (file column 'OrderDate'): 1 date(s) after observation_end 2024-12-31, e.g. line 3"
        in message
    )
    assert (
        "column 'ordered_at' (file column 'OrderDate'): 1 date(s) before observation_start 2023-01-01, e.g. line 4 "
        "('2022-12-31'); leave these rows out of the file, or move observation_start"
    ) in message
    # the last day counts in full (18:30 on observation_end is inside); acquisition before the start is fine
    assert "surveys" not in message and "acquired_at" not in message
    # each problem once
    assert message.count("after observation_end") == 2 and message.count("before observation_start") == 1


def test_window_errors_come_with_contract_errors(tmp_path: Path) -> None:
    folder = _window_dir(tmp_path, "observation_end: 2024-12-31")
    _write(folder, "crm.csv", "Id,Since,Left\n1,2022-05-01,\n1,2023-01-10,\n3,2023-02-01,\n")  # duplicate id
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert "duplicate values where each must be unique" in message and "after observation_end" in message


def test_a_declared_end_replaces_the_warning_and_dates_inside_it_load(tmp_path: Path) -> None:
    folder = _window_dir(tmp_path, "observation_end: 2025-03-31")
    data = load_dataset(folder)
    assert not [w for w in data.warnings if "percentile" in w]
    assert plausible_date_limit(_tables(data), data.description) is None  # later dates would be errors


# ----------------------------------------------------------------------------- orders outside a customer's time


def test_positive_orders_after_churn_are_warnings_refunds_and_early_orders_notes(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    _write(
        folder,
        "customers.csv",
        """
        customer_id,acquired_at,churned_at
        1,2023-01-10,
        2,2023-01-20,2023-04-20
        3,2023-02-05,2023-03-05
        """,
    )
    _write(
        folder,
        "transactions.csv",
        """
        customer_id,ordered_at,revenue_usd
        1,2023-01-10,10.00
        2,2023-01-20,30.00
        3,2023-03-05 18:00,10.00
        2,2023-05-20,30.00
        3,2023-06-05,-10.00
        1,2023-01-02,10.00
        """,
    )
    data = load_dataset(folder)
    assert len(data.transactions) == 6  # all kept
    (after,) = [w for w in data.warnings if "churned_at" in w]
    assert after.startswith(
        "transactions: 1 order(s) with a positive amount (30.00 in total) of 1 customer(s) in 'transactions.csv' "
        "are dated after the customer's churned_at"
    )
    assert "e.g. customer 2 on 2023-05-20 (after 2023-04-20), line 5" in after
    refund = next(n for n in data.notes if "after the customer's churned_at" in n)
    assert "1 refund(s) or zero amount(s) of 1 customer(s)" in refund and "customer 3 on 2023-06-05" in refund
    before = next(n for n in data.notes if "before the customer's acquired_at" in n)
    assert "customer 1 on 2023-01-02 (before 2023-01-10), line 7" in before
    assert not [w for w in data.warnings if "acquired_at" in w]  # orders before acquisition stay a note


# ----------------------------------------------------------------------------- several files for one table


@pytest.mark.parametrize("table", ["surveys", "transactions"])
def test_several_files_for_one_table_are_an_error(sim_dir: Path, table: str) -> None:
    pd.read_csv(sim_dir / f"{table}.csv").head(3).to_parquet(sim_dir / f"{table}.parquet")
    with pytest.raises(
        DataValidationError, match=rf"several files for the {table} table.*{table}.csv, {table}.parquet"
    ):
        load_dataset(sim_dir)


# ----------------------------------------------------------------------------- bsc validate and the reports


def test_validate_prints_warnings_between_counts_and_notes(sim_dir: Path) -> None:
    _set_cell(sim_dir / "transactions.csv", 7, "ordered_at", "2099-01-01")
    _set_cell(sim_dir / "surveys.csv", 2, "customer_id", "")  # a note: a row without a customer id
    result = CliRunner().invoke(app, ["validate", str(sim_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith("warning: "))
    note = next(i for i, line in enumerate(lines) if line.startswith("note: "))
    counts = max(i for i, line in enumerate(lines) if line.endswith("rows ok"))
    assert counts < warning < note
    assert "2099-01-01" in lines[warning]
    count = len(load_dataset(sim_dir).warnings)  # the late order, and maybe an order after its customer's churn
    assert f"valid ({count} warning{'s' if count > 1 else ''})" in lines
    assert sum(line.startswith("warning: ") for line in lines) == count


def test_validate_exits_1_listing_every_error(tmp_path: Path) -> None:
    folder = _window_dir(tmp_path, "observation_start: 2023-01-01\nobservation_end: 2024-12-31")
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert result.output.count("after observation_end") == 2 and "before observation_start" in result.output


def test_data_notes_show_warnings_first_escaped(small_sim) -> None:
    data = CustomerData(
        small_sim.customers,
        small_sim.surveys,
        small_sim.transactions,
        notes=("a note",),
        warnings=("<script>alert(1)</script> in *orders*",),
    )
    text = data_notes_markdown(data)
    assert text.index("Warnings from checking the data:") < text.index("Notes from loading the data:")
    assert "- \\<script\\>alert\\(1\\)\\<\\/script\\> in \\*orders\\*" in text
    assert "<script>" not in text
    assert "Warnings" not in data_notes_markdown(
        CustomerData(small_sim.customers, small_sim.surveys, small_sim.transactions)
    )


def test_a_churn_column_saying_nobody_left_is_a_warning(sim_dir: Path) -> None:
    customers = pd.read_csv(sim_dir / "customers.csv", dtype=str, keep_default_na=False)
    customers["churned_at"] = ""
    customers.to_csv(sim_dir / "customers.csv", index=False)
    data = load_dataset(sim_dir)
    (warning,) = [w for w in data.warnings if "churned_at column is empty" in w]
    assert f"of {len(customers):,} in 'customers.csv'" in warning and "churn shows as 0%" in warning
    assert "leave churned_at out of the file or its mapping" in warning
    # a churn column with at least one churn is not warned about
    customers.loc[3, "churned_at"] = "2099-03-01"
    customers.to_csv(sim_dir / "customers.csv", index=False)
    assert not any("churned_at column is empty" in w for w in load_dataset(sim_dir).warnings)  # (a far date: warned)


def test_reports_see_the_data_as_they_stand_at_the_date_limit(sim_dir: Path) -> None:
    _set_cell(sim_dir / "transactions.csv", 40, "ordered_at", "2099-01-01")
    customers = pd.read_csv(sim_dir / "customers.csv", dtype=str, keep_default_na=False)
    churned = customers.index[customers["churned_at"] != ""][:3]
    customers.loc[churned, "churned_at"] = "2099-12-31"
    customers.loc[customers.index[-1], ["acquired_at", "churned_at"]] = ["2099-06-01", ""]
    customers.to_csv(sim_dir / "customers.csv", index=False)
    data = load_dataset(sim_dir)
    limit = data.date_limit
    assert limit is not None and pd.Timestamp("2025-12-31") < limit < pd.Timestamp("2027-01-01")
    trimmed = data.up_to_date_limit()
    # the 2099 order and the customer acquired in 2099 (with their rows) are left out; churns in 2099 are open
    assert trimmed.transactions["ordered_at"].max() <= limit and trimmed.surveys["surveyed_at"].max() <= limit
    assert len(trimmed.customers) == len(data.customers) - 1
    last = data.customers["customer_id"].iloc[-1]
    assert last not in set(trimmed.transactions["customer_id"]) and last not in set(trimmed.surveys["customer_id"])
    late_orders = int((data.transactions["customer_id"] == last).sum()) + 1
    assert len(trimmed.transactions) == len(data.transactions) - late_orders
    assert (trimmed.customers["churned_at"].dropna() <= limit).all()
    assert trimmed.customers["churned_at"].notna().sum() == data.customers["churned_at"].notna().sum() - 3
    note = trimmed.notes[-1]
    assert note.startswith(f"dates after {limit:%Y-%m-%d} (flagged in the warnings) are left out of this report:")
    assert "1 customer(s) acquired after it, with their rows" in note and "3 churn date(s)" in note
    assert trimmed.warnings == data.warnings  # the warnings still say what was found


def test_no_limit_without_far_dates(sim_dir: Path) -> None:
    data = load_dataset(sim_dir)
    assert data.date_limit is None and data.up_to_date_limit() is data
