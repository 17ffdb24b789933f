"""Privacy at load time: personal columns never get in, and customer ids can be masked everywhere."""

from __future__ import annotations

import hmac
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data import privacy
from bsc_toolkit.data.description import DescriptionError
from bsc_toolkit.data.io import CustomerData, load_dataset
from bsc_toolkit.data.privacy import MASK_KEY_ENV_VAR, MaskKeyError, mask_key, personal_column_kind, pseudonyms
from bsc_toolkit.data.schemas import DataValidationError
from bsc_toolkit.metrics import kpi_summary

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
PSEUDONYM = re.compile(r"^C-[0-9a-f]{10,}$")


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# ----------------------------------------------------------------------------- personal columns


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Name", "a name"),
        ("first_name", "a name"),
        ("Last Name", "a name"),
        ("FullName", "a name"),
        ("Surname", "a name"),
        ("Customer Name", "a name"),
        ("username", "a name"),
        ("E-Mail", "an e-mail address"),
        ("EmailAddress", "an e-mail address"),
        ("customer_email", "an e-mail address"),
        ("Phone", "a phone number"),
        ("mobile_number", "a phone number"),
        ("Telephone", "a phone number"),
        ("Address", "a postal address"),
        ("street", "a postal address"),
        ("billing_address_line_1", "a postal address"),
        ("BirthDate", "a birth date"),
        ("date_of_birth", "a birth date"),
        ("DOB", "a birth date"),
        ("SSN", "an identity or bank number"),
        ("IBAN", "an identity or bank number"),
        ("credit_card_number", "an identity or bank number"),
        ("phone2", "a phone number"),  # a trailing number is not part of the word
        ("Email 1", "an e-mail address"),
        ("contact_number", "a phone number"),
        ("ip_address", "a network address"),  # personal too, but not a postal address
    ],
)
def test_personal_column_names(name: str, kind: str) -> None:
    assert personal_column_kind(name) == kind


@pytest.mark.parametrize(
    "name",
    [
        "customer_id",
        "CustomerId",
        "segment",
        "product_name",
        "segment_name",
        "Card Type",
        "HasCrCard",
        "Geography",
        "Gender",
        "Age",
        "Tenure",
        "EstimatedSalary",
        "smartphone_user",
        "mobile_app",
        "InvoiceNo",
        "StockCode",
        "Country",
        "plan",
        # counts, flags and categories about personal data are not the data (and may be kept)
        "has_phone",
        "email_opens",
        "emails_sent",
        "n_emails",
        "newsletter_email_opt_in",
        "address_type",
    ],
)
def test_ordinary_column_names_are_not_personal(name: str) -> None:
    assert personal_column_kind(name) is None


def test_personal_columns_of_a_plain_folder_are_left_out_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    _write(
        folder,
        "customers.csv",
        """
        customer_id,First Name,e_mail,Phone,segment,plan_tier
        1,Ann,ann@example.com,+44 1,retail,gold
        2,Bob,bob@example.com,+44 2,retail,silver
        """,
    )
    data = load_dataset(folder)
    assert list(data.customers.columns) == ["customer_id", "segment", "plan_tier"]
    (note,) = [n for n in data.notes if "personal data" in n]
    assert "'First Name' (a name), 'e_mail' (an e-mail address), 'Phone' (a phone number)" in note
    assert "'customers.csv'" in note and "left out" in note
    text = pd.concat([data.customers.astype(str).stack(), pd.Series(data.notes)]).str.cat(sep=" ")
    assert "Ann" not in text and "example.com" not in text


def test_a_description_without_a_mapping_leaves_them_out_too(tmp_path: Path) -> None:
    folder = tmp_path / "nomap"
    _write(folder, "crm.csv", "customer_id,Surname,segment\n1,Smith,retail\n")
    _write(folder, "dataset.yaml", "tables: {customers: crm.csv}\n")
    assert list(load_dataset(folder).customers.columns) == ["customer_id", "segment"]


def _bank(folder: Path, customers: str, extra: str = "") -> Path:
    _write(folder, "bank.csv", "CustomerId,Surname,Email,Card Type,Exited\n15634602,Hargrave,h@example.com,GOLD,1\n")
    _write(folder, "dataset.yaml", f"snapshot_date: 2024-12-31\n{extra}tables:\n  customers:\n{customers}")
    return folder


def test_mapping_or_keeping_a_personal_column_is_an_error_saying_why(tmp_path: Path) -> None:
    folder = _bank(
        tmp_path / "bank",
        "    path: bank.csv\n    columns: {customer_id: CustomerId, segment: Email, churned: Exited}\n"
        "    keep: [Surname, Card Type]\n",
    )
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert f"Invalid customers table in '{folder / 'bank.csv'}'" in message
    assert "tables.customers.columns.segment: 'Email' looks like an e-mail address" in message
    assert "tables.customers.keep: 'Surname' looks like a name" in message
    assert message.count("reports are mailed around") == 2 and "Card Type" not in message


def test_a_personal_id_column_needs_masked_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASK_KEY_ENV_VAR, KEY)
    folder = _bank(tmp_path / "bank", "    path: bank.csv\n    columns: {customer_id: Email, churned: Exited}\n")
    with pytest.raises(DataValidationError, match=r"columns.customer_id: 'Email'.*mask the ids"):
        load_dataset(folder)
    data = load_dataset(folder, mask_ids=True)
    assert data.customers["customer_id"].tolist() == [
        "C-" + hmac.digest(bytes.fromhex(KEY), b"h@example.com", "sha256").hex()[:10]
    ]


def test_keeping_the_id_column_is_an_error_when_ids_are_masked(tmp_path: Path) -> None:
    folder = _bank(
        tmp_path / "bank",
        "    path: bank.csv\n    columns: {customer_id: CustomerId, churned: Exited}\n    keep: [CustomerId]\n",
    )
    assert load_dataset(folder).customers["CustomerId"].tolist() == [15634602]
    with pytest.raises(DataValidationError, match=r"keep: 'CustomerId' is the customer id column"):
        load_dataset(folder, mask_ids=True)


# ----------------------------------------------------------------------------- masked customer ids


def _shop(tmp_path: Path) -> Path:
    """Distinctive ids, quoted by the notes of loading: zero-padded ids matched with plain ones, an order
    before acquisition, an order after churn (a warning)."""
    folder = tmp_path / "shop"
    _write(
        folder,
        "customers.csv",
        """
        customer_id,acquired_at,churned_at,segment
        000918273,2023-01-10,,retail
        000564738,2023-01-20,2023-04-20,retail
        000747372,2023-02-05,,online
        """,
    )
    _write(
        folder,
        "transactions.csv",
        """
        customer_id,ordered_at,revenue_usd
        918273,2023-01-10,10.00
        564738,2023-05-20,30.00
        747372,2023-01-02,10.00
        747372,2023-03-01,12.00
        """,
    )
    _write(folder, "surveys.csv", "customer_id,surveyed_at,csat\n918273,2023-02-01,8\n564738,2023-02-01,6\n")
    return folder


RAW_IDS = ("918273", "564738", "747372")


def _all_text(data: CustomerData) -> str:
    cells = [data.__getattribute__(t).astype(str).stack() for t in ("customers", "surveys", "transactions")]
    return " ".join([*pd.concat(cells).tolist(), *data.notes, *data.warnings])


def test_masked_data_hold_no_original_id_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASK_KEY_ENV_VAR, KEY)
    folder = _shop(tmp_path)
    plain = load_dataset(folder)
    text = _all_text(plain)
    assert all(raw in text for raw in RAW_IDS)  # the unmasked notes quote the ids ...
    assert any("zero-padded" in n for n in plain.notes) and plain.warnings
    masked = load_dataset(folder, mask_ids=True)
    text = _all_text(masked)
    assert not any(raw in text for raw in RAW_IDS)  # ... the masked ones do not
    assert len(masked.notes) == len(plain.notes) and len(masked.warnings) == len(plain.warnings)
    assert "zero-padded text in 'customers.csv' (e.g. line 2)" in " ".join(masked.notes)
    ((order,),) = [[w for w in masked.warnings if "churned_at" in w]]
    assert f"customer {masked.customers['customer_id'].iloc[1]} on 2023-05-20" in order


def test_pseudonyms_are_text_and_consistent_across_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASK_KEY_ENV_VAR, KEY)
    folder = _shop(tmp_path)
    plain, masked = load_dataset(folder), load_dataset(folder, mask_ids=True)
    assert masked.description.id_type == "str"
    pairs = set()
    for table in ("customers", "surveys", "transactions"):
        ids = getattr(masked, table)["customer_id"]
        assert ids.dtype == object and ids.map(lambda v: bool(PSEUDONYM.match(v))).all()
        pairs |= set(zip(getattr(plain, table)["customer_id"], ids))
    assert len(pairs) == 3  # each customer one pseudonym, the same in every table
    expected = {raw: "C-" + hmac.digest(bytes.fromhex(KEY), str(raw).encode(), "sha256").hex()[:10] for raw, _ in pairs}
    assert dict(pairs) == expected


def test_same_key_same_pseudonyms_other_key_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _shop(tmp_path)
    monkeypatch.setenv(MASK_KEY_ENV_VAR, KEY)
    first = load_dataset(folder, mask_ids=True).customers["customer_id"].tolist()
    assert load_dataset(folder, mask_ids=True).customers["customer_id"].tolist() == first
    monkeypatch.setenv(MASK_KEY_ENV_VAR, "ff" * 32)
    assert set(load_dataset(folder, mask_ids=True).customers["customer_id"]).isdisjoint(first)
    monkeypatch.delenv(MASK_KEY_ENV_VAR)  # a random key of this process: consistent within it
    random_key = load_dataset(folder, mask_ids=True).customers["customer_id"].tolist()
    assert random_key == load_dataset(folder, mask_ids=True).customers["customer_id"].tolist()
    assert set(random_key).isdisjoint(first)


def test_the_data_set_can_ask_for_masking_and_the_caller_decides(tmp_path: Path) -> None:
    folder = _shop(tmp_path)
    _write(folder, "dataset.yaml", "privacy: {mask_customer_ids: true}\n")
    assert load_dataset(folder).customers["customer_id"].map(lambda v: bool(PSEUDONYM.match(v))).all()
    assert load_dataset(folder, mask_ids=False).customers["customer_id"].tolist() == [918273, 564738, 747372]


def test_a_bad_key_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASK_KEY_ENV_VAR, "not hex")
    with pytest.raises(MaskKeyError, match=r"BSC_MASK_KEY must be a key written in hex, at least 32"):
        load_dataset(_shop(tmp_path), mask_ids=True)
    assert issubclass(MaskKeyError, DescriptionError)  # callers that catch description errors catch it
    with pytest.raises(MaskKeyError):
        mask_key({MASK_KEY_ENV_VAR: "abcd"})  # too short: guessable
    assert mask_key({MASK_KEY_ENV_VAR: KEY}) == bytes.fromhex(KEY)


def test_colliding_prefixes_get_longer_pseudonyms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "PSEUDONYM_LENGTH", 2)  # 256 values for 100 ids: prefixes collide
    names = pseudonyms(range(100), bytes.fromhex(KEY))
    assert len(set(names)) == 100 and len(names[0]) > 4 and len({len(n) for n in names}) == 1
    assert np.array_equal(names, pseudonyms(range(100), bytes.fromhex(KEY)))


def test_kpis_are_the_same_masked_and_unmasked(small_sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASK_KEY_ENV_VAR, KEY)
    folder = small_sim.to_dir(tmp_path / "sim")
    plain, masked = load_dataset(folder), load_dataset(folder, mask_ids=True)
    assert not set(map(str, plain.customers["customer_id"])) & set(masked.customers["customer_id"])

    def kpis(data: CustomerData) -> pd.DataFrame:
        return kpi_summary(
            data.customers, data.surveys, data.transactions, freq=data.freq, ratings=data.ratings, drivers=data.drivers
        )

    pd.testing.assert_frame_equal(kpis(plain), kpis(masked))
    by_segment = [kpi_summary(d.customers, d.surveys, d.transactions, by="segment") for d in (plain, masked)]
    pd.testing.assert_frame_equal(*by_segment)


# ----------------------------------------------------------------------------- ids that are personal data


@pytest.mark.parametrize(
    ("ids", "kind"),
    [
        (["ann@example.com", "bob.smith+shop@mail.example.co.uk", "C-17"], "e-mail addresses"),
        (["+44 20 7946 0958", "+1-555-010-0100", "+4915112345678"], "phone numbers"),
        (["(030) 1234567", "(0221) 987 654", "x"], "phone numbers"),
    ],
)
def test_ids_that_are_email_addresses_or_phone_numbers(ids: list[str], kind: str) -> None:
    assert privacy.personal_id_kind(pd.Series(ids, dtype=object)) == (kind, 2 if "x" in ids or "C-17" in ids else 3, 3)


@pytest.mark.parametrize(
    "ids",
    [
        pd.Series([15634602, 15647311, 4915112345678]),  # numbers are never personal
        pd.Series(["000123", "4915112345678", "2024-000017"], dtype=object),  # plain and padded digits, codes
        pd.Series(["ann@example.com", "C-2", "C-3", None], dtype=object),  # half or less
        pd.Series([], dtype=object),
    ],
)
def test_ordinary_ids_are_not_taken_for_personal_data(ids: pd.Series) -> None:
    assert privacy.personal_id_kind(ids) is None


def test_a_sample_of_the_ids_is_checked_from_start_to_end() -> None:
    ids = pd.Series([f"C-{i}" for i in range(40_000)] + [f"u{i}@example.org" for i in range(60_000)], dtype=object)
    assert privacy.personal_id_kind(ids) == ("e-mail addresses", 600, 1000)  # sorted ids: both ends are seen
    assert privacy.personal_id_kind(ids.iloc[::-1], sample_size=10) == ("e-mail addresses", 6, 10)


def _email_ids(folder: Path) -> Path:
    _write(folder, "customers.csv", "customer_id,segment\nann@example.com,retail\nbob@example.org,online\n")
    _write(folder, "transactions.csv", "customer_id,ordered_at,revenue_usd\nann@example.com,2024-01-05,10\n")
    return folder


def test_email_ids_of_a_plain_folder_need_masking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _email_ids(tmp_path / "emails")
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert "the customer ids look like e-mail addresses (2 of 2 ids checked; column 'customer_id' of " in message
    assert "'customers.csv', column 'customer_id' of 'transactions.csv')" in message
    for fix in ("privacy: {mask_customer_ids: true} in dataset.yaml", "bsc report --mask-ids", "mask_ids=True"):
        assert fix in message
    assert "example.com" not in message and "not_personal" not in message  # e-mail addresses are not waved through
    monkeypatch.setenv(MASK_KEY_ENV_VAR, KEY)
    masked = load_dataset(folder, mask_ids=True)
    assert masked.customers["customer_id"].map(lambda v: bool(PSEUDONYM.match(v))).all()
    assert "@" not in _all_text(masked)
    _write(folder, "dataset.yaml", "privacy: {mask_customer_ids: true}\n")
    assert load_dataset(folder).customers["customer_id"].tolist() == masked.customers["customer_id"].tolist()


def test_phone_number_ids_in_a_mapped_column_are_an_error_unless_declared(tmp_path: Path) -> None:
    folder = tmp_path / "phones"
    _write(folder, "crm.csv", "Account,plan\n+44 20 7946 0958,a\n+44 20 7946 0959,b\n(030) 1234567,c\n")
    _write(folder, "dataset.yaml", "tables:\n  customers: {path: crm.csv, columns: {customer_id: Account}}\n")
    with pytest.raises(DataValidationError, match=r"look like phone numbers \(3 of 3 ids checked; column 'Account' "):
        load_dataset(folder)
    with pytest.raises(DataValidationError, match=r"not phone numbers, declare so in dataset.yaml: .*\[Account\]"):
        load_dataset(folder)
    _write(
        folder,
        "dataset.yaml",
        "privacy: {not_personal: [Account]}\ntables:\n  customers: {path: crm.csv, columns: {customer_id: Account}}\n",
    )
    assert load_dataset(folder).customers["customer_id"].iloc[2] == "(030) 1234567"


# ----------------------------------------------------------------------------- columns declared not personal


def _telecom(folder: Path, privacy_yaml: str, table: str) -> Path:
    _write(folder, "lines.csv", "CustomerId,phone_plan,Email,segment\n1,unlimited,a@example.com,retail\n2,basic,,b\n")
    _write(folder, "dataset.yaml", f"{privacy_yaml}tables:\n  customers:\n{table}")
    return folder


def test_a_misflagged_column_can_be_declared_not_personal(tmp_path: Path) -> None:
    assert personal_column_kind("phone_plan") == "a phone number"  # a telecom's plan is not a phone number
    keep = "    path: lines.csv\n    columns: {customer_id: CustomerId}\n    keep: [phone_plan]\n"
    folder = _telecom(tmp_path / "keep", "", keep)
    with pytest.raises(DataValidationError, match=r"keep: 'phone_plan' looks like a phone number.*not_personal"):
        load_dataset(folder)
    _telecom(folder, "privacy: {not_personal: [phone_plan]}\n", keep)
    assert load_dataset(folder).customers["phone_plan"].tolist() == ["unlimited", "basic"]
    mapped = "    path: lines.csv\n    columns: {customer_id: CustomerId, segment: phone_plan}\n"
    folder = _telecom(tmp_path / "map", "privacy: {not_personal: [phone_plan]}\n", mapped)
    assert load_dataset(folder).customers["segment"].tolist() == ["unlimited", "basic"]
    _telecom(folder, "privacy: {not_personal: [phone_plan]}\n", mapped.replace("phone_plan", "Email"))
    with pytest.raises(DataValidationError, match=r"columns.segment: 'Email' looks like an e-mail address"):
        load_dataset(folder)  # only the listed columns


def test_drop_personal_columns_keeps_those_declared_not_personal() -> None:
    frame = pd.DataFrame({"customer_id": [1], "phone_plan": ["basic"], "Phone": ["+44 1"]})
    notes: list[str] = []
    kept = privacy.drop_personal_columns(frame, "customers", "lines.csv", notes, not_personal=["phone_plan"])
    assert list(kept.columns) == ["customer_id", "phone_plan"]
    assert "'Phone' (a phone number)" in notes[0] and "phone_plan" not in notes[0]


def test_a_table_without_a_mapping_keeps_columns_declared_not_personal(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    _write(folder, "customers.csv", "customer_id,phone_plan,Phone\n1,basic,+44 1\n")
    _write(folder, "dataset.yaml", "privacy: {not_personal: [phone_plan]}\n")
    assert list(load_dataset(folder).customers.columns) == ["customer_id", "phone_plan"]


def test_an_entry_that_names_no_column_is_an_error_with_the_closest_name(tmp_path: Path) -> None:
    keep = "    path: lines.csv\n    columns: {customer_id: CustomerId}\n    keep: [phone_plan]\n"
    folder = _telecom(tmp_path / "typo", "privacy: {not_personal: [Phone Plan, Adress]}\n", keep)
    with pytest.raises(DescriptionError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert message.startswith(f"Invalid data set description '{folder / 'dataset.yaml'}':")
    assert (
        "privacy.not_personal: 'Phone Plan' is not a column of any table file ('lines.csv') (did you mean " in message
    )
    assert "'phone_plan'?)" in message
    assert "'Adress' is not a column of any table file ('lines.csv'); the columns that look personal: " in message
    assert "'phone_plan', 'Email'" in message
    with pytest.raises(DescriptionError, match=r"privacy.not_personnal: unknown field \(did you mean 'not_personal'"):
        _telecom(tmp_path / "field", "privacy: {not_personnal: [phone_plan]}\n", keep)
        load_dataset(tmp_path / "field")
    _telecom(tmp_path / "one", "privacy: {not_personal: phone_plan}\n", keep)  # one name without brackets
    assert load_dataset(tmp_path / "one").customers["phone_plan"].tolist() == ["unlimited", "basic"]
    with pytest.raises(DescriptionError, match=r"privacy.not_personal: an empty column name"):
        _telecom(tmp_path / "empty", "privacy: {not_personal: [' ']}\n", keep)
        load_dataset(tmp_path / "empty")


def test_not_personal_names_columns_of_excel_and_parquet_files(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1, 2], "phone_plan": ["a", "b"]}).to_excel(folder / "customers.xlsx", index=False)
    pd.DataFrame({"customer_id": [1], "ordered_at": ["2024-01-05"], "revenue": [1.0], "fax_opt": ["y"]}).to_parquet(
        folder / "orders.parquet"
    )
    tables = (
        "tables:\n  customers: {path: customers.xlsx, columns: {customer_id: customer_id}, keep: [phone_plan]}\n"
        "  transactions: {path: orders.parquet, columns: {customer_id: customer_id, ordered_at: ordered_at, "
        "revenue: revenue}, keep: [fax_opt]}\n"
    )
    _write(folder, "dataset.yaml", "privacy: {not_personal: [phone_plan, fax_opt]}\n" + tables)
    data = load_dataset(folder)
    assert data.customers["phone_plan"].tolist() == ["a", "b"] and data.transactions["fax_opt"].tolist() == ["y"]
    _write(folder, "dataset.yaml", "privacy: {not_personal: [phone_plan, fax_opts]}\n" + tables)
    with pytest.raises(DescriptionError, match=r"'fax_opts' is not a column of any table file \('customers.xlsx', "):
        load_dataset(folder)
