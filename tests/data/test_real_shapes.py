"""Real data of other shapes: tiny hand-made files, loaded, guessed and checked against hand-computed values.

Telco-style churn snapshots, multi-item surveys with dd/mm/yyyy dates, Excel workbooks with a
sheet per table, semicolon files with decimal commas in Latin-1, subscription billing with orders
after the churn date, and ids written as numbers in one file and zero-padded text in another.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.description import DescriptionError, load_description
from bsc_toolkit.data.guess import guess_description
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.data.schemas import DataValidationError, validate_table


def _write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(textwrap.dedent(text).lstrip().encode(encoding))
    return path


def _yaml(folder: Path, text: str) -> Path:
    return _write(folder, "dataset.yaml", text)


def _guess(folder: Path) -> dict:
    """The guessed description, written beside the files, as a dict."""
    text = guess_description(folder)
    (folder / "dataset.yaml").write_text(text)
    return yaml.safe_load(text)


# ----------------------------------------------------------------------------- 1. telco snapshot

TELCO = """
customerID,gender,SeniorCitizen,tenure,Contract,MonthlyCharges,TotalCharges,Churn,Satisfaction
7590-VHVEG,Female,0,1,Month-to-month,29.85,29.85,No,3
5575-GNVDE,Male,0,34,One year,56.95,1889.5,No,
3668-QPYBK,Male,0,2,Month-to-month,53.85,108.15,Yes,1
4472-LVYGI,Female,1,0,Two year,52.55, ,No,
3115-CZMZD,Male,0,0,Two year,20.25," ",No,4
"""


def test_telco_snapshot_blank_charges_are_missing_and_unanswered_rows_are_no_responses(tmp_path: Path) -> None:
    folder = tmp_path / "telco"
    _write(folder, "telco.csv", TELCO)
    _yaml(
        folder,
        """
        snapshot_date: 2024-06-30
        tables:
          customers:
            path: telco.csv
            columns: {customer_id: customerID, churned: Churn, tenure: tenure, segment: Contract}
            keep: [MonthlyCharges, TotalCharges, SeniorCitizen]
          surveys: {path: telco.csv, columns: {customer_id: customerID, csat: Satisfaction}}
        ratings:
          csat: {scale: [1, 5]}
        """,
    )
    data = load_dataset(folder)
    c = data.customers.set_index("customer_id")
    assert c["churned"].tolist() == [False, False, True, False, False]
    assert c["tenure_months"].tolist() == [1.0, 34.0, 2.0, 0.0, 0.0]
    # kept columns are numbers (not text); the blank TotalCharges of new customers is missing, never 0
    assert c["MonthlyCharges"].tolist() == [29.85, 56.95, 53.85, 52.55, 20.25]
    assert c.loc["5575-GNVDE", "TotalCharges"] == 1889.5
    assert c[["TotalCharges"]].isna().sum().item() == 2 and c["TotalCharges"].sum() == pytest.approx(2027.5)
    assert c["SeniorCitizen"].dtype == np.int64 and c["SeniorCitizen"].sum() == 1
    # only 3 of the 5 customers answered: the other rows are not survey responses
    s = data.surveys.set_index("customer_id")
    assert s.index.tolist() == ["7590-VHVEG", "3668-QPYBK", "3115-CZMZD"]
    assert s["csat"].tolist() == [3.0, 1.0, 4.0]
    assert any("2 of 5 row(s)" in n and "no rating (csat)" in n for n in data.notes)


def test_telco_guess_maps_customers_and_surveys_of_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "telco"
    _write(folder, "telco.csv", TELCO)
    guess = _guess(folder)
    assert guess["tables"]["customers"]["columns"] == {
        "customer_id": "customerID",
        "churned": "Churn",
        "tenure": "tenure",
        "segment": "Contract",
    }
    assert guess["tables"]["surveys"]["columns"] == {"customer_id": "customerID", "csat": "Satisfaction"}
    assert guess["ratings"]["csat"]["scale"] == [1, 5]
    assert "drivers" not in guess  # SeniorCitizen (0/1) and the charges are not ratings
    assert "snapshot_date" in guess
    data = load_dataset(folder)
    assert data.customers["churned"].sum() == 1 and len(data.surveys) == 3


# ----------------------------------------------------------------------------- 2. multi-item survey

ACSI = """
respondent_id,interview_date,overall_satisfaction,image,expectations,perceived_quality,perceived_value,loyalty_index,recommend,age
R0001,03/02/2024,8,7,8,9,6,75,9,34
R0002,15/02/2024,6,5,6,6,4,40,6,51
R0003,28/02/2024,10,9,9,10,8,95,10,27
R0004,04/03/2024,3,4,5,3,2,10,2,45
R0005,12/03/2024,7,,7,8,7,60,8,38
R0006,01/04/2024,9,8,9,9,9,88,,62
"""


def test_survey_guess_finds_dates_day_first_drivers_and_their_scales(tmp_path: Path) -> None:
    folder = tmp_path / "acsi"
    _write(folder, "wave3.csv", ACSI)
    guess = _guess(folder)
    columns = guess["tables"]["surveys"]["columns"]
    assert columns["customer_id"] == "respondent_id" and columns["surveyed_at"] == "interview_date"
    assert columns["csat"] == "overall_satisfaction" and columns["nps"] == "recommend"
    assert guess["read"] == {"dayfirst": True}  # 15/02/2024 can only be day-first
    assert "snapshot_date" not in guess
    assert {d["name"]: d["scale"] for d in guess["drivers"]} == {
        "image": [1, 10],
        "expectations": [1, 10],
        "perceived_quality": [1, 10],
        "perceived_value": [1, 10],
        "loyalty_index": [0, 100],
    }  # age is not a rating
    assert guess["ratings"]["csat"]["scale"] == [1, 10]
    data = load_dataset(folder)
    s = data.surveys.set_index("customer_id")
    assert s["surveyed_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-02-03",
        "2024-02-15",
        "2024-02-28",
        "2024-03-04",
        "2024-03-12",
        "2024-04-01",
    ]
    assert data.drivers == ("image", "expectations", "perceived_quality", "perceived_value", "loyalty_index")
    assert data.scale("loyalty_index") == RatingScale(0, 100, 2)
    assert np.isnan(s.loc["R0005", "image"]) and np.isnan(s.loc["R0006", "nps"])
    assert s["image"].sum() == 33 and s["loyalty_index"].mean() == pytest.approx(368 / 6)
    assert "age" not in data.surveys.columns


def test_a_recommend_question_on_1_to_5_is_not_read_as_nps(tmp_path: Path) -> None:
    folder = tmp_path / "rec5"
    _write(
        folder,
        "survey.csv",
        """
        customer_id,survey_date,satisfaction,recommend
        1,2024-01-05,4,5
        2,2024-02-05,2,1
        3,2024-03-05,5,3
        """,
    )
    guess = _guess(folder)
    assert "nps" not in guess["tables"]["surveys"]["columns"]
    assert guess["drivers"] == [{"name": "recommend", "scale": [1, 5]}]
    assert "not on the 0-10 scale" in guess_description(folder)
    data = load_dataset(folder)
    assert data.surveys["recommend"].tolist() == [5.0, 1.0, 3.0] and "nps" not in data.surveys.columns


def test_declared_drivers_are_read_or_named_as_missing(tmp_path: Path) -> None:
    folder = tmp_path / "drivers"
    _write(folder, "wave3.csv", ACSI)
    spec = """
        read: {dayfirst: true}
        tables:
          surveys:
            path: wave3.csv
            columns: {customer_id: respondent_id, surveyed_at: interview_date, csat: overall_satisfaction}
        drivers:
          - {name: image}
          - {name: perceived_value}
        """
    _yaml(folder, spec)
    data = load_dataset(folder)  # declared but unmapped: read from the column of the same name
    assert data.drivers == ("image", "perceived_value") and data.surveys["perceived_value"].sum() == 36
    _yaml(folder, spec + "  - {name: value_for_money}\n")
    with pytest.raises(DataValidationError, match=r"drivers: 'value_for_money' is declared but neither mapped"):
        load_dataset(folder)


# ----------------------------------------------------------------------------- 3. Excel workbook


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    folder = tmp_path / "crm"
    folder.mkdir()
    customers = pd.DataFrame(
        {
            "Customer No": [1001.0, 1002.0, np.nan, 1004.0],
            "Name": ["A", "B", "C", "D"],
            "Tier": ["None", "Gold", "Gold", "None"],
            "Signup Date": pd.to_datetime(["2023-01-15", "2023-03-01", "2023-06-30", "2024-01-02"]),
        }
    )
    orders = pd.DataFrame(
        {
            "Order No": [5001, 5002, 5003],
            "Customer No": [1001, 1001, 1004],
            "Order Date": pd.to_datetime(["2023-02-01", "2023-05-10 14:30", "2024-02-29"], format="ISO8601"),
            "Amount": [120.5, 80.0, -20.0],
        }
    )
    with pd.ExcelWriter(folder / "crm.xlsx") as writer:
        customers.to_excel(writer, sheet_name="Customers", index=False)
        orders.to_excel(writer, sheet_name="Orders", index=False)
    return folder


def test_excel_guess_reads_every_sheet_and_names_it(workbook: Path) -> None:
    guess = _guess(workbook)
    assert guess["tables"]["customers"]["read"] == {"sheet": "Customers"}
    assert guess["tables"]["transactions"]["read"] == {"sheet": "Orders"}
    assert guess["tables"]["transactions"]["columns"] == {
        "customer_id": "Customer No",
        "ordered_at": "Order Date",
        "revenue": "Amount",
        "order_id": "Order No",
    }
    data = load_dataset(workbook)
    c = data.customers
    assert c["customer_id"].dtype == np.int64 and c["customer_id"].tolist() == [1001, 1002, 1004]
    assert any("1 of 4 row(s)" in n and "no customer id" in n for n in data.notes)
    tx = data.transactions
    assert tx["ordered_at"].astype(str).tolist() == [
        "2023-02-01 00:00:00",
        "2023-05-10 14:30:00",
        "2024-02-29 00:00:00",
    ]
    assert tx["revenue_usd"].sum() == pytest.approx(180.5)


def test_excel_keeps_a_category_called_none_and_names_the_sheets(workbook: Path) -> None:
    _yaml(
        workbook,
        """
        tables:
          customers:
            path: crm.xlsx
            read: {sheet: Customers}
            columns: {customer_id: Customer No, segment: Tier, acquired_at: Signup Date}
          transactions:
            path: crm.xlsx
            read: {sheet: Order}
            columns: {customer_id: Customer No, ordered_at: Order Date, revenue: Amount}
        """,
    )
    with pytest.raises(DataValidationError) as err:
        load_dataset(workbook)
    assert "no sheet 'Order' (did you mean 'Orders'?); its sheets: ['Customers', 'Orders']" in str(err.value)
    assert "tables.transactions.read.sheet" in str(err.value)
    text = (workbook / "dataset.yaml").read_text().replace("sheet: Order}", "sheet: Orders}")
    (workbook / "dataset.yaml").write_text(text)
    assert load_dataset(workbook).customers["segment"].tolist() == ["None", "Gold", "None"]  # as in a CSV


def test_excel_day_numbers_in_a_date_column_are_named(tmp_path: Path) -> None:
    frame = pd.DataFrame({"customer_id": [1, 2], "ordered_at": [45123, 45200], "revenue_usd": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match=r"look like Excel day numbers \(45123 is 2023-07-16\)"):
        validate_table(frame, "transactions", source="orders.xlsx")


# ----------------------------------------------------------------------------- 4. decimal commas

SHOP = """
Kundennr;Name;Bestelldatum;Betrag;Kosten
1001;Müller;05.01.2024;12,50;4,10
1002;Groß;17.01.2024;1.234,56;300,00
1001;Müller;03.02.2024;-12,50;0
1003;Weiß;28.02.2024;99;20,5
"""
SHOP_TABLES = """
tables:
  transactions:
    path: orders.csv
    columns: {customer_id: Kundennr, ordered_at: Bestelldatum, revenue: Betrag, cost: Kosten}
"""


def test_decimal_commas_stop_with_the_setting_that_reads_them(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    _write(folder, "orders.csv", SHOP, encoding="latin-1")
    _yaml(folder, "read: {sep: ';', encoding: latin-1, dayfirst: true}\n" + SHOP_TABLES)
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder)
    text = str(err.value)
    assert "orders.csv" in text and "column 'revenue' (file column 'Betrag')" in text
    assert "line 2 ('12,50'), line 3 ('1.234,56')" in text and "read: {decimal: ','}" in text
    assert "column 'cost' (file column 'Kosten')" in text
    assert "failing check" not in text  # no follow-on noise from comparing text with numbers


def test_decimal_commas_are_read_when_declared(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    _write(folder, "orders.csv", SHOP, encoding="latin-1")
    _yaml(folder, "read: {sep: ';', encoding: latin-1, dayfirst: true, decimal: ','}\n" + SHOP_TABLES)
    tx = load_dataset(folder).transactions
    assert tx["revenue_usd"].tolist() == [12.5, 1234.56, -12.5, 99.0]
    assert tx["cost_usd"].tolist() == [4.1, 300.0, 0.0, 20.5]
    assert tx["ordered_at"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05", "2024-01-17", "2024-02-03", "2024-02-28"]


def test_a_decimal_point_under_a_declared_decimal_comma_is_an_error_not_a_misread(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    _write(
        folder,
        "orders.csv",
        """
        Kundennr;Bestelldatum;Betrag;Kosten
        1;05.01.2024;12.5;1
        2;06.01.2024;1.234;1
        3;07.01.2024;2,5;1
        """,
    )
    _yaml(folder, "read: {sep: ';', dayfirst: true, decimal: ','}\n" + SHOP_TABLES)
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder)
    text = str(err.value)
    # 12.5 is neither 12,5 nor 125 here: named with its line; 1.234 is a thousands group (1234)
    assert "column 'revenue' (file column 'Betrag'): 1 value(s) that are not numbers, e.g. line 2 ('12.5')" in text
    assert "line 3" not in text


def test_thousands_separator_and_computed_columns_with_decimal_commas(tmp_path: Path) -> None:
    folder = tmp_path / "lines"
    _write(
        folder,
        "lines.csv",
        """
        id;day;qty;price
        1;2024-01-05;2;1 250,50
        2;2024-01-06;-1;3,20
        """,
    )
    _yaml(
        folder,
        """
        read: {sep: ';', decimal: ',', thousands: ' '}
        tables:
          transactions: {path: lines.csv, columns: {customer_id: id, ordered_at: day, revenue: {product: [qty, price]}}}
        """,
    )
    assert load_dataset(folder).transactions["revenue_usd"].tolist() == pytest.approx([2501.0, -3.2])


def test_thousands_must_differ_from_the_decimal_mark(tmp_path: Path) -> None:
    path = _yaml(tmp_path / "d", "read: {decimal: ',', thousands: ','}")
    with pytest.raises(DescriptionError, match=r"read: thousands: ',' must be one character other than"):
        load_description(path)


def test_guess_finds_separator_encoding_decimal_comma_and_day_first(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    _write(
        folder,
        "orders.csv",
        SHOP.replace("Kundennr", "CustomerNo")
        .replace("Bestelldatum", "OrderDate")
        .replace("Betrag", "Amount")
        .replace("Kosten", "Cost"),
        encoding="latin-1",
    )
    guess = _guess(folder)
    assert guess["read"] == {"dayfirst": True, "decimal": ",", "encoding": "cp1252", "sep": ";"}
    assert guess["tables"]["transactions"]["columns"] == {
        "customer_id": "CustomerNo",
        "ordered_at": "OrderDate",
        "revenue": "Amount",
        "cost": "Cost",
    }
    data = load_dataset(folder)
    assert data.transactions["revenue_usd"].sum() == pytest.approx(1333.56)


# ----------------------------------------------------------------------------- 5. subscription billing


def test_orders_after_churn_are_kept_and_noted(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    _write(
        folder,
        "customers.csv",
        """
        account_id,plan,signup_date,cancel_date
        1,basic,2023-01-10,
        2,pro,2023-01-20,2023-04-20
        3,basic,2023-02-05,2023-03-05
        """,
    )
    _write(
        folder,
        "billing.csv",
        """
        invoice_id,account_id,billing_date,amount
        9001,1,2023-01-10,10.00
        9002,2,2023-01-20,30.00
        9003,3,2023-02-05,10.00
        9004,2,2023-02-20,30.00
        9005,3,2023-03-05 18:00,10.00
        9006,2,2023-05-20,30.00
        9007,3,2023-06-05,-10.00
        9008,1,2023-01-02,10.00
        """,
    )
    guess = _guess(folder)
    assert guess["tables"]["customers"]["columns"]["churned_at"] == "cancel_date"
    assert guess["tables"]["transactions"]["columns"]["ordered_at"] == "billing_date"
    data = load_dataset(folder)
    assert len(data.transactions) == 8 and data.transactions["revenue_usd"].sum() == 120.0  # all kept
    # 9006 (30.00, customer 2) is a warning, the refund 9007 (customer 3) a note; 9005 is on the churn day itself
    after = next(w for w in data.warnings if "after the customer's churned_at" in w)
    assert "1 order(s) with a positive amount (30.00 in total) of 1 customer(s) in 'billing.csv'" in after
    assert "customer 2 on 2023-05-20 (after 2023-04-20)" in after
    refund = next(n for n in data.notes if "after the customer's churned_at" in n)
    assert "1 refund(s) or zero amount(s) of 1 customer(s)" in refund and "customer 3 on 2023-06-05" in refund
    before = next(n for n in data.notes if "before the customer's acquired_at" in n)
    assert "1 order(s) of 1 customer(s)" in before and "customer 1 on 2023-01-02 (before 2023-01-10)" in before


# ----------------------------------------------------------------------------- 6. ids


def _ids_dir(tmp_path: Path, customer_ids: list[str], order_ids: list[str], extra: str = "") -> Path:
    folder = tmp_path / "ids"
    pd.DataFrame({"cust_id": customer_ids, "segment": "retail"}).to_csv(_mk(folder) / "customers.csv", index=False)
    pd.DataFrame({"cust_id": order_ids, "order_date": "2023-01-05", "revenue": 10}).to_csv(
        folder / "orders.csv", index=False
    )
    tables = """
        tables:
          customers: {path: customers.csv, columns: {customer_id: cust_id, segment: segment}}
          transactions: {path: orders.csv, columns: {customer_id: cust_id, ordered_at: order_date, revenue: revenue}}
        """
    _yaml(folder, extra + textwrap.dedent(tables))
    return folder


def _mk(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_numbers_and_zero_padded_ids_are_matched_as_numbers_and_said(tmp_path: Path) -> None:
    folder = _ids_dir(tmp_path, ["123", "4567", "89"], ["000123", "004567", "000089", "000123"])
    data = load_dataset(folder)
    assert data.customers["customer_id"].tolist() == [123, 4567, 89]
    assert data.transactions["customer_id"].tolist() == [123, 4567, 89, 123]
    assert any("zero-padded text in 'orders.csv'" in n and "'000123' = 123" in n for n in data.notes)


def test_zero_padded_ids_alone_stay_text(tmp_path: Path) -> None:
    data = load_dataset(_ids_dir(tmp_path, ["000123", "000089"], ["000123", "000089"]))
    assert data.customers["customer_id"].tolist() == ["000123", "000089"]


def test_ids_padded_to_different_widths_get_a_hint(tmp_path: Path) -> None:
    folder = _ids_dir(tmp_path, ["0123", "0089"], ["000123", "000089"])
    with pytest.raises(DataValidationError, match=r"match when leading zeros are ignored.*declare id_type: int"):
        load_dataset(folder)
    folder = _ids_dir(tmp_path, ["0123", "0089"], ["000123", "000089"], extra="id_type: int\n")
    assert load_dataset(folder).transactions["customer_id"].tolist() == [123, 89]


def test_ids_that_differ_only_in_leading_zeros_are_not_merged(tmp_path: Path) -> None:
    folder = _ids_dir(tmp_path, ["123", "0123"], ["0123"])
    data = load_dataset(folder)
    assert sorted(data.customers["customer_id"]) == ["0123", "123"]
    assert data.transactions["customer_id"].tolist() == ["0123"]


def test_declared_integer_ids_that_are_text_name_their_lines(tmp_path: Path) -> None:
    folder = _ids_dir(tmp_path, ["123", "A-7"], ["123"], extra="id_type: int\n")
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder)
    text = str(err.value)
    assert (
        "column 'customer_id' (file column 'cust_id'): 1 id(s) that are not whole numbers, e.g. line 3 ('A-7')" in text
    )
    assert "declare id_type: str" in text


# ----------------------------------------------------------------------------- aligned text columns (CDNOW)

CDNOW_LIKE = """
 customer_id  date number_of_cds  dollar_value
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00003 19970102  2   20.76
"""


def test_space_aligned_files_are_guessed_and_read(tmp_path: Path) -> None:
    folder = tmp_path / "cdnow"
    _write(folder, "master.txt", CDNOW_LIKE)
    _yaml(folder, "tables: {transactions: {path: master.txt, columns: {customer_id: customer_id}}}")
    with pytest.raises(DataValidationError, match=r"separated by spaces.*read: \{sep: '\\s\+'\}"):
        load_dataset(folder)
    guess = _guess(folder)
    assert guess["read"] == {"sep": r"\s+"}
    assert guess["tables"]["transactions"]["columns"] == {
        "customer_id": "customer_id",
        "ordered_at": "date",
        "revenue": "dollar_value",  # an amount word in the name
    }
    tx = load_dataset(folder).transactions
    assert tx["customer_id"].tolist() == ["00001", "00002", "00002", "00003"]  # zero-padded everywhere: text
    assert tx["ordered_at"].dt.strftime("%Y-%m-%d").tolist() == ["1997-01-01", "1997-01-12", "1997-01-12", "1997-01-02"]
    assert tx["revenue_usd"].sum() == pytest.approx(121.53)


def test_missing_and_repeated_customer_fields_say_how_to_fix_them(tmp_path: Path) -> None:
    folder = tmp_path / "crm"
    _write(
        folder,
        "customers.csv",
        """
        account_id,plan,signup_date
        1,basic,
        2,,2023-01-20
        2,pro,2023-02-01
        """,
    )
    _yaml(
        folder,
        """
        tables:
          customers: {path: customers.csv, columns: {customer_id: account_id, segment: plan, acquired_at: signup_date}}
        """,
    )
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder)
    text = str(err.value)
    assert "column 'segment'" not in text  # a blank segment is a group of its own, not an error
    assert "column 'acquired_at' (file column 'signup_date'): 1 missing values" in text
    assert "leave acquired_at out of the mapping" in text
    assert "column 'customer_id' (file column 'account_id'): 2 duplicate values" in text
    assert "one row per customer" in text


def test_ids_that_differ_in_case_get_a_hint(tmp_path: Path) -> None:
    folder = _ids_dir(tmp_path, ["ab-1", "ab-2"], ["AB-1"])
    with pytest.raises(DataValidationError, match=r"orders.csv.*1 row\(s\) with a customer_id not in.*upper and lower"):
        load_dataset(folder)


def test_blank_segments_are_a_group_of_their_own(tmp_path: Path) -> None:
    folder = tmp_path / "blank_segments"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1, 2, 3], "segment": ["smb", "", "smb"], "region": ["n", "s", None]}).to_csv(
        folder / "customers.csv", index=False
    )
    data = load_dataset(folder)
    assert data.customers["segment"].tolist() == ["smb", "(not recorded)", "smb"]
    assert data.customers["region"].tolist() == ["n", "s", "(not recorded)"]
    assert any("1 customer(s)" in n and "no segment" in n for n in data.notes)
