"""The CLV report's model choice, subscriber tables and words (bsc_toolkit.report_clv)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import report_clv as rc
from bsc_toolkit import report_clv_headline as rch
from bsc_toolkit.capabilities import data_features
from bsc_toolkit.data.description import load_description
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.models._base import NotEstimableError
from tests.shapes import make_variant
from tests.test_examples import _example

# -- a tiny hand-made subscription data set ----------------------------------------------------------
# Quarters; the data end on 2024-12-31 (declared). The first event (a survey) is on 2024-01-10: the
# data start, so customer 7, acquired in 2023, is left-truncated.
CUSTOMERS = """customer_id,acquired_at,churned_at
1,2024-01-15,
2,2024-01-15,2024-07-15
3,2024-02-10,2024-07-20
4,2024-11-01,
5,2024-03-01,2024-12-20
6,2024-04-01,2024-04-01
7,2023-06-01,
8,2024-02-10,
"""
SURVEYS = """customer_id,surveyed_at,csat
1,2024-01-10,6
1,2024-06-01,8
2,2024-03-01,4
5,2024-05-01,9
8,2024-12-01,2
"""
TRANSACTIONS = """customer_id,ordered_at,revenue_usd
2,2024-01-15,90
1,2024-02-01,100
1,2024-05-01,50
1,2024-05-03,-30
7,2024-12-31,40
"""
#: tenure (renewals on each customer's own quarterly anniversaries), worked out by hand
EXPECTED = {
    1: (3, False, True),  # renewals 15 Apr, 15 Jul, 15 Oct
    2: (2, True, False),  # left on its 2nd anniversary (a period boundary): did not renew at the end of quarter 2
    3: (2, True, False),  # acquired mid-quarter; renewed 10 May, left 20 July during its 2nd quarter
    # 4: acquired 1 Nov, no renewal by 31 Dec: tenure 0, left out
    5: (3, False, False),  # renewed 1 Jun, 1 Sep, 1 Dec; left 20 Dec in its 4th quarter, which ends after the data
    6: (1, True, False),  # left on its acquisition day
    7: (6, False, True),  # 1 Sep 2023 ... 1 Dec 2024
    8: (3, False, True),  # 10 May, 10 Aug, 10 Nov
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "surveys.csv").write_text(SURVEYS)
    (folder / "transactions.csv").write_text(TRANSACTIONS)
    (folder / "dataset.yaml").write_text("name: tiny\nobservation_end: 2024-12-31\n")
    return folder


def _independent_tenure(acquired: str, churned: str | None, end: str = "2024-12-31") -> tuple[int, bool]:
    """Renewals counted one anniversary at a time with pandas' own month offsets."""
    a = pd.Timestamp(acquired)
    renewals_by = lambda day: next(k for k in range(100) if a + pd.DateOffset(months=3 * (k + 1)) > day)  # noqa: E731
    observed = renewals_by(pd.Timestamp(end))
    if churned is None:
        return observed, False
    left_in = renewals_by(pd.Timestamp(churned) - pd.Timedelta(days=1)) + 1
    return (left_in, True) if left_in <= observed else (observed, False)


def test_subscriber_table_counts_renewals_as_worked_out_by_hand_and_independently(tiny: Path) -> None:
    data = load_dataset(tiny)
    table = rc.subscriber_table(data, "Q")
    got = {int(i): (int(r.tenure), bool(r.churned), bool(r.active)) for i, r in table.iterrows()}
    assert got == EXPECTED
    raw = pd.read_csv(tiny / "customers.csv", keep_default_na=True)
    independent = {
        int(r.customer_id): _independent_tenure(r.acquired_at, None if pd.isna(r.churned_at) else r.churned_at)
        for r in raw.itertuples()
    }
    assert {i: v for i, v in independent.items() if v[0] >= 1} == {i: v[:2] for i, v in got.items()}
    assert table["tenure"].min() >= 1 and 4 not in table.index
    assert table["left_truncated"].to_dict() == {i: i == 7 for i in EXPECTED}
    notes = " ".join(table.attrs["notes"])
    assert "1 customer acquired within the last quarter" in notes
    assert "1 customer left during their last, incomplete quarter" in notes
    assert "1 customer acquired before the data start (2024-01-10)" in notes


def test_subscriber_table_covariate_and_revenue_are_no_data_not_zero(tiny: Path) -> None:
    table = rc.subscriber_table(load_dataset(tiny), "Q")
    assert table.loc[1, "csat"] == 7.0 and table.loc[2, "csat"] == 4.0  # mean of the answers
    assert np.isnan(table.loc[3, "csat"])  # never surveyed: NaN, not a score
    assert np.isnan(table.loc[3, "revenue_per_period"])  # no transaction: no data, never 0
    # customer 1: 100 + 50 - 30 net over their active days inside the log's window (15 Jan - 31 Dec)
    days = (pd.Timestamp("2025-01-01") - pd.Timestamp("2024-01-15")).days
    assert table.loc[1, "revenue_per_period"] == pytest.approx(120 / (days / (3 * 365.2425 / 12)))
    # customer 7 (active since 2023): exposed from the log's first day, not from their acquisition
    window = (pd.Timestamp("2025-01-01") - pd.Timestamp("2024-01-15")).days / (3 * 365.2425 / 12)
    assert table.loc[7, "revenue_per_period"] == pytest.approx(40 / window)
    # no transactions table at all: every revenue is no data
    bare = load_dataset(tiny)
    from dataclasses import replace

    bare = replace(bare, transactions=bare.transactions.iloc[:0], tables_present=("customers", "surveys"))
    assert rc.subscriber_table(bare, "Q")["revenue_per_period"].isna().all()


def test_subscriber_table_at_an_earlier_end_and_the_holdout_check(tiny: Path) -> None:
    data = load_dataset(tiny)
    cal = rc.subscriber_table(data, "Q", end="2024-06-30")
    # by 30 June: 1 renewed 15 Apr; 2 and 3 have not left yet (2: 15 Apr, 3: 10 May renewals); 5 renewed
    # 1 Jun; 7: 4 renewals; 8: 10 May; 4 not yet acquired; 6 left in its first quarter, which ends on
    # 1 July, after the calibration end: censored at 0 renewals, so left out
    assert {int(i): (int(r.tenure), bool(r.churned)) for i, r in cal.iterrows()} == {
        1: (1, False),
        2: (1, False),
        3: (1, False),
        5: (1, False),
        7: (4, False),
        8: (1, False),
    }
    assert cal.loc[5, "csat"] == 9.0 and np.isnan(cal.loc[8, "csat"])  # 8 answered after the calibration end
    full = rc.subscriber_table(data, "Q")
    holdout = rc.SubscriberHoldout(cal, full, pd.Timestamp("2024-06-30"), 2)
    check = rc.holdout_survival(holdout, lambda t: 0.5 ** np.asarray(t, dtype=float))
    words = rc.holdout_markdown(check, holdout, 6, "Q", model="geometric (no heterogeneity)")
    assert "the geometric \\(no heterogeneity\\) model fitted to the 6 subscribers" in words and "sBG" not in words
    # censored at the calibration end: 1, 2, 3, 5, 7, 8
    assert check["n"].tolist() == [6, 6]
    # one more renewal: 1, 5, 7, 8 renewed; 2 left at its 2nd anniversary, 3 during its 2nd quarter
    # two more: 1 (3), 5 (3: its churn in the incomplete 4th quarter is censored), 7 (6), 8 (3)
    assert check["actual"].tolist() == [4.0, 4.0]
    assert check["expected"].tolist() == pytest.approx([3.0, 1.5])  # S(t0+k)/S(t0) = 0.5^k each
    assert check.loc[1, "actual_share"] == pytest.approx(4 / 6)


def test_subscriber_value_money_only_where_there_is_a_value() -> None:
    table = pd.DataFrame(
        {"revenue_per_period": [10.0, np.nan], "balance": [1000.0, 0.0]}, index=pd.Index([1, 2], name="customer_id")
    )
    derl = pd.Series([4.0, 2.0], index=[1, 2])
    revenue = rc.subscriber_value(table, derl, "transactions")
    assert revenue.loc[1, "clv_usd"] == 40.0 and np.isnan(revenue.loc[2, "clv_usd"])
    balance = rc.subscriber_value(table, derl, "balance", period="Y")
    assert "clv_usd" not in balance and balance["balance_derl"].tolist() == [4000.0, 0.0]
    money = rc.subscriber_value(table, derl, "balance", balance_margin=0.02, period="Q")
    assert money.loc[1, "clv_usd"] == pytest.approx(1000 * 0.02 * 3 / 12 * 4)
    assert rc.contract_discount_rate(0.01, "Q") == pytest.approx(1.01**3 - 1)


def _completed_months(start: pd.Timestamp, day: pd.Timestamp) -> int:
    """Whole months from ``start`` to ``day`` (inclusive), one month offset at a time; 0 before ``start``."""
    return next(m for m in range(1000) if start + pd.DateOffset(months=m + 1) > day)


def test_dated_and_snapshot_data_give_the_same_subscriber_table(tmp_path: Path) -> None:
    """The same customers, once with dates and once as a snapshot of whole months: one tenure convention."""
    rng = np.random.default_rng(11)
    end = pd.Timestamp("2024-12-31")
    n = 300
    acquired = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 6 * 365 - 100, n), unit="D")
    # leavers leave at least 100 days before the end, so their last quarter is complete in the dated data
    room = (end - pd.Timedelta(days=100) - acquired).days.to_numpy()
    leaves = rng.random(n) < 0.5
    churned = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    churned[leaves] = acquired[leaves] + pd.to_timedelta(rng.integers(0, room[leaves] + 1), unit="D")
    # and the cases a convention gets wrong: leaving on the acquisition day, in the first and second
    # quarters, on an anniversary; staying for less than a quarter
    edge = pd.DataFrame(
        {
            "acquired_at": pd.to_datetime(
                ["2023-03-10", "2023-03-10", "2023-03-10", "2023-03-10", "2024-11-01", "2023-03-10"]
            ),
            "churned_at": pd.to_datetime(["2023-03-10", "2023-04-20", "2023-06-10", "2023-10-01", None, None]),
        }
    )
    customers = pd.concat(
        [pd.DataFrame({"acquired_at": acquired, "churned_at": churned.to_numpy()}), edge], ignore_index=True
    )
    customers.insert(0, "customer_id", np.arange(1, len(customers) + 1))
    dated = tmp_path / "dated"
    dated.mkdir()
    customers.to_csv(dated / "customers.csv", index=False, date_format="%Y-%m-%d")
    (dated / "dataset.yaml").write_text(
        f"name: dated\nobservation_start: {acquired.min():%Y-%m-%d}\nobservation_end: {end:%Y-%m-%d}\n"
    )
    # the snapshot: whole months as a customer, through the last day as one (a leaver's is the day before
    # they left) or through the snapshot date
    last_day = customers["churned_at"].sub(pd.Timedelta(days=1)).fillna(end)
    months = [_completed_months(a, b) for a, b in zip(customers["acquired_at"], last_day)]
    snap = tmp_path / "snapshot"
    snap.mkdir()
    pd.DataFrame(
        {"ID": customers["customer_id"], "Left": customers["churned_at"].notna().astype(int), "Months": months}
    ).to_csv(snap / "snapshot.csv", index=False)
    (snap / "dataset.yaml").write_text(
        "name: snapshot\nsnapshot_date: 2024-12-31\ntables:\n  customers:\n    path: snapshot.csv\n"
        "    columns: {customer_id: ID, churned: Left, tenure: Months}\n    tenure_unit: months\n"
    )
    from_dates = rc.subscriber_table(load_dataset(dated), "Q")
    from_snapshot = rc.subscriber_table(load_dataset(snap), "Q")
    cols = ["tenure", "churned"]
    pd.testing.assert_frame_equal(from_snapshot[cols].sort_index(), from_dates[cols].sort_index(), check_names=False)
    # nobody left-truncated, no churn censored in an incomplete quarter: the dated table is the full story
    assert not from_dates["left_truncated"].any() and (from_dates["churned"] == ~from_dates["active"]).all()
    # the edge cases, by hand: left on acquisition (1), during quarter 1 (1), on the 1st anniversary (1: did not
    # renew), during quarter 3 (3); acquired 1 Nov 2024 and staying: tenure 0, left out of both; staying since
    # 10 March 2023: 7 renewals
    ids = customers["customer_id"].iloc[-6:].tolist()
    assert from_snapshot.loc[ids[:4], "tenure"].tolist() == [1, 1, 1, 3]
    assert from_snapshot.loc[ids[:4], "churned"].all() and ids[4] not in from_snapshot.index
    assert from_snapshot.loc[ids[5], "tenure"] == 7 and not from_snapshot.loc[ids[5], "churned"]
    # every leaver counts as a churn in both; none is left out
    assert int(from_snapshot["churned"].sum()) == int(customers["churned_at"].notna().sum())


# -- the model choice -------------------------------------------------------------------------------
def test_choice_on_the_bundled_simulated_data_is_contractual_with_csat() -> None:
    data = load_dataset(None)  # the bundled synthetic data: acquisition and churn dates, transactions, surveys
    choice = rc.clv_model_choice(data)
    assert choice.contractual and choice.model == "sBG"
    assert "churn dates and acquisition dates" in choice.reason
    assert choice.covariates == ["csat"] and choice.value_source == "transactions"
    assert choice.period == "Q" and choice.period_name == "quarter"
    table = rc.subscriber_table(data, choice.period)
    customers = data.customers.set_index("customer_id")
    # every customer who churned with a completed period is a churn; nobody still active is one
    assert not table.loc[table["churned"]].index.difference(customers.index[customers["churned_at"].notna()]).size
    assert (table["active"] == customers.loc[table.index, "churned_at"].isna()).all()


def test_choice_follows_the_description_and_the_override(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "described"
    folder.mkdir()
    for name in ("customers.csv", "surveys.csv", "transactions.csv"):
        (folder / name).write_text((tiny / name).read_text())
    (folder / "dataset.yaml").write_text("name: d\nobservation_end: 2024-12-31\nclv: {contractual: false}\n")
    data = load_dataset(folder)
    choice = rc.clv_model_choice(data)
    assert not choice.contractual and "clv.contractual: false" in choice.reason
    assert rc.clv_model_choice(data, contractual=True).contractual  # the report's parameter wins
    assert data_features(data)["clv_history"]  # transactions: the BG/NBD can run
    # transactions only, described as contractual: the sBG is chosen, and the section needs churn with tenure
    (folder / "customers.csv").unlink()
    (folder / "dataset.yaml").write_text("name: d\nobservation_end: 2024-12-31\nclv: {contractual: true}\n")
    data = load_dataset(folder)
    choice = rc.clv_model_choice(data)
    assert choice.contractual and "clv.contractual: true" in choice.reason
    assert not data_features(data)["clv_history"]
    with pytest.raises(NotEstimableError, match="churn with tenure"):
        rc.subscriber_table(data, "Q")


def test_choice_on_a_snapshot_counts_tenure_in_its_own_unit(tmp_path: Path, small_data_dir: Path) -> None:
    folder = make_variant("snapshot", small_data_dir, tmp_path / "snapshot")
    data = load_dataset(folder)
    choice = rc.clv_model_choice(data)
    assert choice.contractual and choice.period == "M" and choice.value_source is None
    assert "churn flag" in choice.reason
    raw = pd.read_csv(folder / "snapshot.csv")
    months = np.floor(raw["TenureMonths"] + 1e-9).astype(int)
    left = raw["Exited"].eq("Yes")
    # a leaver after k whole months left during month k + 1; a stayer has renewed k times
    expected = pd.Series(np.where(left, months + 1, months), index=raw["ID"])
    expected = expected[expected >= 1]
    table = rc.subscriber_table(data, choice.period)
    assert table["tenure"].sort_index().to_dict() == expected.sort_index().to_dict()
    assert int(table["churned"].sum()) == int(left.sum())


def test_choice_on_the_bank_churn_example(tmp_path: Path) -> None:
    folder = _example("bank_churn")
    raw = pd.read_csv(load_description(folder).table_path("customers"), encoding="utf-8-sig")
    data = load_dataset(folder)
    choice = rc.clv_model_choice(data)
    assert choice.contractual and choice.period == "Y" and choice.covariates == ["csat"]
    kept = [c.lower() for c in load_description(folder).tables["customers"].keep]
    assert choice.value_source == ("balance" if "balance" in kept else None)  # no transactions: a balance, if kept
    table = rc.subscriber_table(data, "Y")
    stayed0 = int(((raw["Tenure"] == 0) & (raw["Exited"] == 0)).sum())
    # Tenure: whole years completed; a leaver with k of them left during year k + 1, unless no stayer has
    # completed year k + 1 (beyond the longest stayer's tenure): then censored at k, not a churn
    longest = int(raw.loc[raw["Exited"] == 0, "Tenure"].max())
    beyond = (raw["Exited"] == 1) & (raw["Tenure"] + 1 > longest)
    assert beyond.sum() > 0  # the bank's leavers with the longest tenure
    assert len(table) == len(raw) - stayed0
    assert int(table["churned"].sum()) == int(raw["Exited"].sum()) - int(beyond.sum())
    expected = (raw["Tenure"] + ((raw["Exited"] == 1) & ~beyond).astype(int)).set_axis(raw["CustomerId"])
    assert (table["tenure"] == expected.reindex(table.index)).all()
    assert table.groupby("tenure")["churned"].mean().max() < 0.5  # no period of 100% churn
    assert any("which no customer who stayed has completed" in n for n in table.attrs["notes"])
    by_year = table.groupby("tenure")["churned"].sum()
    assert by_year[1] == ((raw["Tenure"] == 0) & (raw["Exited"] == 1)).sum()  # not folded with Tenure 1 leavers
    assert by_year[2] == ((raw["Tenure"] == 1) & (raw["Exited"] == 1)).sum()
    assert (table["csat"] == raw.set_index("CustomerId")["Satisfaction Score"].reindex(table.index)).all()
    # the same data with the balance kept: subscribers are valued by their balance
    text = (folder / "dataset.yaml").read_text()
    root = (folder / load_description(folder).root).resolve()
    text = text.replace("keep: [Gender, Age, Complain]", "keep: [Gender, Age, Complain, Balance]")
    text = text.replace("root: ../../../shared/data/bank_churn", f"root: {root}")
    (tmp_path / "dataset.yaml").write_text(text)
    kept = load_dataset(tmp_path)
    choice = rc.clv_model_choice(kept)
    assert choice.value_source == "balance" and choice.balance_column == "Balance"
    balance = rc.subscriber_table(kept, "Y")["balance"]
    assert (balance == raw.set_index("CustomerId")["Balance"].reindex(balance.index)).all()


def test_choice_on_online_retail_is_non_contractual() -> None:
    data = load_dataset(_example("online_retail"))
    choice = rc.clv_model_choice(data)
    assert not choice.contractual and choice.model == "BG/NBD"
    assert "no observed churn" in choice.reason
    assert choice.covariates == [] and choice.value_source == "transactions"
    assert "No csat answers" in choice.covariate_reason
    markdown = rc.choice_markdown(choice, "GBP")
    assert markdown.startswith("**Model: BG\\/NBD.**")


def test_covariate_needs_enough_surveyed_customers(tiny: Path) -> None:
    choice = rc.clv_model_choice(load_dataset(tiny))
    assert choice.covariates == [] and "Only 4 customers have a csat answer" in choice.covariate_reason


def test_rfm_with_covariates_leaves_the_never_surveyed_as_no_data(tiny: Path) -> None:
    summary = pd.DataFrame({"frequency": [1, 0, 2]}, index=pd.Index([1, 3, 2], name="customer_id"))
    out = rc.rfm_with_covariates(summary, load_dataset(tiny))
    assert out.loc[1, "csat"] == 7.0 and out.loc[2, "csat"] == 4.0 and np.isnan(out.loc[3, "csat"])
    early = rc.rfm_with_covariates(summary, load_dataset(tiny), end="2024-05-31")
    assert early.loc[1, "csat"] == 6.0  # the June answer is after the end


# -- words ------------------------------------------------------------------------------------------
def _fitter(**status: object) -> SimpleNamespace:
    base = {"model": "sBG", "converged": True, "boundary": None, "message": "", "usable": True}
    return SimpleNamespace(fit_status_=SimpleNamespace(**{**base, **status}))


def test_fit_status_in_words() -> None:
    text = rc.fit_status_markdown(
        _fitter(),
        _fitter(
            model="NBD (no drop-out)",
            boundary="no-dropout boundary",
            message="The likelihood rises towards b -> infinity <b>",
        ),
        _fitter(model="BG/NBD", converged=False, usable=False),
    )
    lines = text.splitlines()
    assert len(lines) == 3
    assert "**sBG**: converged, inside the parameter space; its figures are shown." in lines[0]
    assert "at the no\\-dropout boundary" in lines[1] and "its figures are shown" in lines[1]
    assert "\\<b\\>" in lines[1] and "<b>" not in lines[1]  # user text escaped
    assert "did not converge" in lines[2] and "withheld" in lines[2]


def _what_if(lo: float, hi: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "baseline": [0.90, 1000.0],
            "scenario": [0.92, 1100.0],
            "change": [0.02, 100.0],
            "change_ci_lower": [0.01, lo],
            "change_ci_upper": [0.03, hi],
        },
        index=["retention rate next period", "CLV total"],
    )


def test_what_if_says_no_evidence_when_the_interval_includes_zero() -> None:
    text = rc.what_if_markdown(_what_if(-50.0, 250.0), "csat", 1.0, "EUR", horizon="the remaining lifetime")
    assert "**+1 csat point** goes with: retention rate next period +2.0 pp (95% CI 1.0 pp to 3.0 pp" in text
    assert "**no evidence of an effect** on CLV total over the remaining lifetime (95% CI -50 EUR to 250 EUR" in text
    assert "from 90.0%)" in text
    assert "+100" not in text  # no money change claimed
    assert "not a causal effect" in text
    clear = rc.what_if_markdown(_what_if(20.0, 180.0), "csat", 2.0, "EUR")
    assert (
        "no evidence" not in clear
        and "CLV total +100 EUR (95% CI 20 EUR to 180 EUR; from 1,000 EUR)" in clear
        and "+2 csat points" in clear
    )
    unknown = rc.what_if_markdown(_what_if(np.nan, np.nan), "csat", 1.0, "EUR")
    assert "no evidence of an effect" in unknown and "CLV total (no interval could be computed)" in unknown


def test_amounts_in_words_and_in_tables_are_written_alike() -> None:
    """One formatter: a small change keeps its digits in the words and in the table ("+0.004", never "+0.00")."""
    table = pd.DataFrame(
        {
            "baseline": [2.5],
            "scenario": [2.504],
            "change": [0.004],
            "change_ci_lower": [0.001],
            "change_ci_upper": [0.01],
        },
        index=["clv_total"],
    )
    words = rc.what_if_markdown(table, "csat", 1.0, "USD")
    assert "total residual value +0.004 USD (95% CI 0.001 USD to 0.01 USD; from 2.50 USD)" in words
    shown = rch.measures_frame(table, {}, rch.what_if_units(table.index), "USD")
    assert shown["change_shown"].tolist() == ["+0.004 USD [+0.001, +0.01]"]
    assert rc.format_amount(0.0213, "pp", change=True) == "+2.1 pp" and rc.format_amount(0.9, "pp") == "90.0%"
    assert rc.format_amount(-1234.5, "money", "EUR", size=2000) == "-1,234 EUR"  # no decimals from 100 up
    assert rc.format_amount(2.345, "quarters") == "2.35 quarters" and rc.format_amount(np.nan, "pp") == "no data"
    assert rc.points_text(1.0) == "+1 csat point" and rc.points_text(-0.5, "nps") == "-0.5 nps points"


def test_value_per_period_is_one_rule_for_the_value_and_the_what_if() -> None:
    table = pd.DataFrame(
        {"revenue_per_period": [100.0, -20.0, np.nan], "balance": [4000.0, 0.0, 1000.0], "tenure": [1, 2, 3]},
        index=pd.Index([1, 2, 3], name="customer_id"),
    )
    revenue = rc.value_per_period(table, "transactions")
    assert revenue.tolist()[:2] == [100.0, -20.0] and np.isnan(revenue.iloc[2])  # refunds netted, kept negative
    # 1.5% a year on the balance, a quarter of it per quarter
    assert rc.value_per_period(table, "balance", 0.015, "Q").tolist() == pytest.approx([15.0, 0.0, 3.75])
    assert rc.value_per_period(table, "balance", None) is None and rc.value_per_period(table, None) is None
    derl = pd.Series([2.0, 3.0, 4.0], index=table.index)
    value = rc.subscriber_value(table, derl, "balance", 0.015, "Q")
    assert value["clv_usd"].tolist() == pytest.approx([30.0, 0.0, 15.0])
    assert value["balance_derl"].tolist() == [8000.0, 0.0, 4000.0]
    sub = rc.subscriber_value(table, derl, "transactions")
    assert sub["clv_usd"].tolist()[:2] == [200.0, -60.0]


def test_buyer_value_and_at_risk_in_words() -> None:
    value = pd.DataFrame({"clv_usd": [100.0, 300.0, 50.0, 25.0, 25.0], "clv_margin_usd": [np.nan] * 5})
    text = rc.buyer_value_markdown(value, 12, "GBP")
    assert text.startswith("Total 12-month CLV **500 GBP** of revenue (gross margin: no cost data)")
    assert "median per customer 50 GBP, mean 100 GBP. The top 20% of customers carry 60% of it." in text
    with_cost = rc.buyer_value_markdown(value.assign(clv_margin_usd=[10.0, 30.0, 5.0, 2.5, 2.5]), 6, "GBP")
    assert "**50 GBP** of gross margin" in with_cost
    low = pd.Series([True, False, False, False])
    risk = pd.DataFrame(
        {"estimate": [1200.0, 0.3, -286.0], "ci_lower": [900.0, 0.25, -592.0], "ci_upper": [1500.0, 0.35, 58.8]},
        index=["clv_at_risk_usd", "share_of_clv", "mean_clv_gap_low_minus_rest_usd"],
    )
    words = rc.at_risk_markdown(risk, low, 10, "latest csat <= 6 on its 1-10 scale", "residual value", "USD")
    assert words.startswith(r"1 of 4 surveyed customers (25%) have latest csat \<\= 6 on its 1\-10 scale")
    assert "**1,200 USD** of residual value (95% CI 900 to 1,500 USD), 30%" in words
    assert "6 customers with a value have no survey" in words and "**No evidence of a difference" in words
    none = rc.at_risk_markdown(None, low & False, 10, "latest csat <= 6", "residual value", "USD")
    assert none.startswith("0 of 4 surveyed customers") and "no comparison" in none


def test_fit_markdown_says_the_status_then_the_other_diagnostics() -> None:
    diag = SimpleNamespace(code="lack_of_fit", message="The retention departs from the data.", severity="warning")
    fitter = _fitter()
    fitter.diagnostics_ = [diag, SimpleNamespace(code="limit_model", message="limit", severity="info")]
    text = rc.fit_markdown(fitter)
    assert text.startswith("**Fit status**\n\n- **sBG**: converged") and "**Diagnostics**" in text
    assert "The retention departs from the data" in text and "limit" not in text.split("**Diagnostics**")[1]
    fitter.diagnostics_ = []
    assert "**Diagnostics**" not in rc.fit_markdown(fitter)


def test_tenure_rules_recover_a_known_churn_probability(tmp_path: Path) -> None:
    """Customers leave during period T ~ geometric(0.1), at a uniform day within it: no bias from the last period."""
    rng = np.random.default_rng(7)
    n, theta, end = 4000, 0.1, pd.Timestamp("2024-12-31")
    acquired = end - pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    periods = rng.geometric(theta, n)  # the period in which each customer leaves
    start_of_last = pd.DatetimeIndex([a + pd.DateOffset(months=3 * (t - 1)) for a, t in zip(acquired, periods)])
    churned = start_of_last + pd.to_timedelta(rng.integers(1, 91, n), unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "acquired_at": acquired.strftime("%Y-%m-%d"),
            "churned_at": np.where(churned <= end, churned.strftime("%Y-%m-%d"), ""),
        }
    )
    customers.to_csv(tmp_path / "customers.csv", index=False)
    first = acquired.min().strftime("%Y-%m-%d")
    (tmp_path / "dataset.yaml").write_text(f"name: geo\nobservation_start: {first}\nobservation_end: 2024-12-31\n")
    table = rc.subscriber_table(load_dataset(tmp_path), "Q")
    assert not table["left_truncated"].any()
    # maximum likelihood of the geometric model: churns / periods at risk
    estimate = table["churned"].sum() / table["tenure"].sum()
    se = np.sqrt(estimate * (1 - estimate) / table["tenure"].sum())
    assert abs(estimate - theta) < 3 * se, (estimate, se)
    # counting the churns of the last, incomplete period as churns overstates churn
    biased = (table["churned"].sum() + (~table["churned"] & ~table["active"]).sum()) / table["tenure"].sum()
    assert biased - theta > 3 * se


def test_words_of_the_subscriber_report(tiny: Path) -> None:
    data = load_dataset(tiny)
    choice = rc.clv_model_choice(data, contractual=True)
    table = rc.subscriber_table(data, "Q")
    overview = rc.subscriber_overview_markdown(table, choice)
    assert "**7 subscribers**" in overview and "3 left at the end of a completed quarter" in overview
    assert "1 left during their last, incomplete quarter" in overview and "3 are still customers" in overview
    active = table[table["active"]].assign(balance=[25.0, 12.5, 0.0])  # customers 1, 7, 8
    value = rc.subscriber_value(active, pd.Series(4.0, index=table.index), "balance", period="Q")
    balance_choice = rc.ClvChoice(True, "r", value_source="balance", period="Q", balance_column="Balance")
    text = rc.subscriber_value_markdown(value, balance_choice, "EUR", 0.03)
    assert "Balance-weighted DERL: 150 EUR-quarters" in text and "A balance is not profit" in text
    assert "Renewals per quarter" in rc.caveats_markdown(choice)
    assert "Left truncation" in rc.caveats_markdown(rc.clv_model_choice(data, contractual=False))


def test_caveats_say_what_the_data_allow(tiny: Path) -> None:
    choice = rc.clv_model_choice(load_dataset(tiny), contractual=True)
    n = int(rc.subscriber_table(load_dataset(tiny), "Q")["left_truncated"].sum())
    dated = rc.caveats_markdown(choice, left_truncated=n)
    assert "1 customer acquired before the data start is in the data because they survived" in dated
    assert "left out of the fit" in dated and "The holdout check, where the data are long enough" in dated
    none = rc.caveats_markdown(choice, left_truncated=0)
    assert "Left truncation" not in none and "Renewals per quarter" in none
    assert "if any" in rc.caveats_markdown(choice)  # not known: said conditionally
    # a snapshot: nobody left out for having survived to a data start, and no holdout
    snap = rc.caveats_markdown(rc.ClvChoice(True, "r", period="Y"), snapshot=True, left_truncated=0)
    assert "left out of the fit" not in snap and "holdout check is" not in snap and "Left truncation" not in snap
    assert "there is no holdout check" in snap and "Tenure in whole years" in snap
    assert "one who left with k left during year k + 1" in snap and "anniversaries" not in snap


def _cohort(retention: list[float], size: int = 2000) -> pd.DataFrame:
    """One cohort observed for ``len(retention)`` periods: churners per period and the survivors, as weights."""
    rows, alive = [], size
    for t, r in enumerate(retention, start=1):
        stay = round(alive * r)
        rows.append((t, True, alive - stay))
        alive = stay
    rows.append((len(retention), False, alive))
    return pd.DataFrame(rows, columns=["tenure", "churned", "n"])


def test_lack_of_fit_is_said_beside_the_values() -> None:
    from bsc_toolkit.models.clv import ShiftedBetaGeoFitter

    # retention falls with tenure (contracts ending): no sBG can follow it
    falls = [0.95, 0.93, 0.90, 0.85, 0.80, 0.75, 0.70, 0.65]
    fitter = ShiftedBetaGeoFitter().fit(_cohort(falls), weights_col="n")
    assert rc.has_lack_of_fit(fitter)
    curve = fitter.retention_curve()
    text = rc.lack_of_fit_markdown(fitter, curve, "Q")
    assert text.startswith(f"**The fitted {rc.escape_markdown(rc.fit_model_name(fitter))} model does not fit")
    assert "goodness-of-fit test against the observed retention per quarter: G = " in text and "p < 0.001" in text
    assert "the observed retention falls with tenure, from 95.0% in the first quarter" in text
    pooled = 1 - curve.loc[5:8, "churned"].sum() / curve.loc[5:8, "at_risk"].sum()
    assert f"to {pooled:.1%} in quarters 5 to 8 (pooled)" in text
    obs, fit = curve.loc[8, ["observed_survival", "fitted_survival"]]
    assert f"after 8 quarters the model keeps **{fit:.1%}** of customers, the data **{obs:.1%}**" in text
    assert "are **overstated for the long-tenure customers**" in text and fit > obs
    # the constant rate sits between: below the observed retention of the first quarters
    short = 1 - curve.loc[1:4, "churned"].sum() / curve.loc[1:4, "at_risk"].sum()
    assert f"for the short-tenure customers it is the other way round (observed {short:.1%} in quarters 1 to 4" in text
    assert "so theirs are understated" in text
    # the same gap as the in-sample sentence beside the retention curve
    assert f"observed **{obs:.1%}** still customers, fitted **{fit:.1%}**" in rc.retention_fit_markdown(curve, "Q")
    # retention rising faster than the sBG allows: the long-tenure values are understated
    rises = [0.60, 0.75, 0.90, 0.97, 0.99, 0.995, 0.998, 0.999]
    rising = ShiftedBetaGeoFitter().fit(_cohort(rises, 20000), weights_col="n")
    assert rc.has_lack_of_fit(rising)
    assert "**understated for the long-tenure customers**" in rc.lack_of_fit_markdown(
        rising, rising.retention_curve(), "Q"
    )
    # Fader & Hardie's "regular" cohort: the sBG fits, nothing is said
    survivors = [1000, 631, 468, 382, 326, 289, 262, 241]
    fits = ShiftedBetaGeoFitter().fit(_cohort([b / a for a, b in zip(survivors, survivors[1:])], 1000), weights_col="n")
    assert not rc.has_lack_of_fit(fits) and rc.lack_of_fit_markdown(fits, fits.retention_curve(), "Q") == ""


def test_retention_fit_stops_where_nobody_is_observed_to_complete_a_period() -> None:
    curve = pd.DataFrame(
        {
            "at_risk": [np.nan, 100.0, 80.0, 10.0],
            "churned": [np.nan, 20.0, 8.0, 10.0],
            "observed_survival": [1.0, 0.8, 0.72, 0.0],
            "fitted_survival": [1.0, 0.82, 0.70, 0.6],
            "observed_retention": [np.nan, 0.8, 0.9, 0.0],
            "fitted_retention": [np.nan, 0.82, 0.854, 0.857],
        },
        index=pd.RangeIndex(4, name="period"),
    )
    text = rc.retention_fit_markdown(curve, "Y")
    assert text.startswith("After 2 years: observed **72.0%** still customers, fitted **70.0%**")
    assert "largest gap over the tenures 2.0 pp" in text and "**0.0%**" not in text
    assert "In year 3 all 10 customers at risk left" in text and "compared up to year 2" in text


def test_covariate_effects_and_estimates_in_words() -> None:
    summary = pd.DataFrame(
        {
            "coef": [0.5, -0.2, 0.01],
            "se": [0.1, 0.05, 0.02],
            "ci_lower": [0.3, -0.3, -0.03],
            "ci_upper": [0.7, -0.1, 0.05],
            "exp_coef": [np.nan, np.exp(-0.2), np.exp(0.01)],
            "p_value": [np.nan, 1e-4, 0.6],
        },
        index=["alpha", "churn:csat", "purchase:csat"],
    )
    text = rc.covariate_effects_markdown(summary, "csat")
    assert (
        "odds of the mean churn probability by **0.819 (95% CI 0.741 to 0.905)**: more satisfied customers churn less"
        in text
    )
    assert "**No evidence of a link between csat and purchase in these data:**" in text


def test_plots_of_the_subscriber_report() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.plots.clv import plot_holdout_survival, plot_retention_curve

    curve = pd.DataFrame(
        {
            "observed_survival": [1.0, 0.9, 0.8],
            "fitted_survival": [1.0, 0.88, 0.79],
            "observed_retention": [np.nan, 0.9, 0.889],
            "fitted_retention": [np.nan, 0.88, 0.9],
        },
        index=pd.RangeIndex(3, name="period"),
    )
    fig, axes = plt.subplots(1, 3)
    assert plot_retention_curve(curve, "survival", "quarter", ax=axes[0]) is axes[0]
    assert axes[0].get_xlabel() == "tenure (quarters)" and len(axes[0].lines) == 2
    plot_retention_curve(curve, "retention", "quarter", ax=axes[1])
    assert list(axes[1].lines[0].get_xdata()) == [1.0, 2.0]  # retention starts at period 1
    hold = pd.DataFrame({"actual_share": [0.95, 0.9], "expected_share": [0.96, 0.91]}, index=pd.Index([1, 2], name="k"))
    plot_holdout_survival(hold, "quarter", ax=axes[2])
    assert axes[2].get_xlabel() == "quarters after the calibration end"
    assert list(axes[2].lines[0].get_ydata()) == [1.0, 0.95, 0.9]
    with pytest.raises(ValueError, match="survival"):
        plot_retention_curve(curve, "hazard")
    plt.close(fig)
