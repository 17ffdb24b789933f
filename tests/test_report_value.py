"""Helpers of the service-profit-chain and customer-value reports (bsc_toolkit.report_value)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import report_value as rv
from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.headline import format_figure, format_interval
from bsc_toolkit.models.clv import rfm_summary


def _log(rows: list[tuple[int | str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at", "revenue_usd"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


# weeks are Monday to Sunday: 2024-01-01 was a Monday
REFUNDS = _log(
    [
        (1, "2024-01-01 10:00", 100.0),
        (1, "2024-01-03 10:00", -30.0),  # refund in the same week: the purchase is 70
        (1, "2024-01-10 10:00", 50.0),
        (1, "2024-01-17 10:00", -50.0),  # a week with only a refund (of an earlier week): no purchase
        (1, "2024-01-24 10:00", 20.0),
        (1, "2024-01-25 10:00", -20.0),  # nets to exactly 0: no purchase
        (2, "2024-01-02 09:00", 40.0),
        (2, "2024-01-16 09:00", 60.0),
        (3, "2024-01-05 12:00", -10.0),  # a customer with nothing but a refund
    ]
)


def test_net_refunds_nets_within_customer_weeks_and_counts_what_is_dropped():
    before = REFUNDS.copy()
    n = rv.net_refunds(REFUNDS)
    pd.testing.assert_frame_equal(REFUNDS, before)  # not modified
    purchases = n.transactions.set_index(["customer_id", "ordered_at"])["revenue_usd"]
    expected = pd.Series(
        [70.0, 50.0, 40.0, 60.0],
        index=pd.MultiIndex.from_tuples(
            [
                (1, pd.Timestamp("2024-01-01 10:00")),  # the week's first transaction
                (1, pd.Timestamp("2024-01-10 10:00")),
                (2, pd.Timestamp("2024-01-02 09:00")),
                (2, pd.Timestamp("2024-01-16 09:00")),
            ],
            names=["customer_id", "ordered_at"],
        ),
        name="revenue_usd",
    )
    pd.testing.assert_series_equal(purchases, expected)
    assert (n.n_lines, n.n_refund_lines, n.refund_amount) == (9, 4, -110.0)
    assert (n.n_periods, n.n_purchases, n.n_negative, n.n_zero) == (7, 4, 2, 1)
    assert n.negative_amount == -60.0
    assert (n.n_customers, n.n_customers_without_purchase) == (3, 1)
    # the RFM summary accepts the netted log (it refuses negative amounts)
    with pytest.raises(ValueError, match="negative"):
        rfm_summary(REFUNDS)
    rfm = rfm_summary(n.transactions)
    assert list(rfm.index) == [1, 2]
    assert rfm.loc[1, "frequency"] == 1 and rfm.loc[1, "monetary_value"] == 50.0
    text = rv.refund_netting_markdown(n, "GBP")
    assert "4 of 9 transaction lines are refunds" in text and "-110 GBP" in text
    assert "**4 are purchases**" in text and "2 have negative net spend" in text and "1 net to exactly 0" in text
    assert "1 of 3 customers have no week" in text


def test_net_refunds_splits_at_the_calibration_end():
    log = _log([(1, "2024-01-01", 100.0), (1, "2024-01-04", -100.0), (1, "2024-01-10", 10.0)])
    whole = rv.net_refunds(log)
    assert whole.n_purchases == 1  # the first week nets to 0
    split = rv.net_refunds(log, calibration_end="2024-01-02")
    # the refund falls after the calibration end: the calibration purchase stands, the holdout refund week
    # (negative on its side) is no purchase -- exactly what the RFM summary sees on each side
    assert split.n_purchases == 2 and split.n_negative == 1
    cal = rfm_summary(split.transactions, calibration_end="2024-01-02", observation_end="2024-01-14")
    assert cal.loc[1, "frequency"] == 0 and cal.loc[1, "frequency_holdout"] == 1


def test_positive_log_passes_through_unchanged(small_sim):
    tx = small_sim.transactions
    assert (tx["revenue_usd"] > 0).all()
    n = rv.net_refunds(tx)
    end = tx["ordered_at"].max()
    pd.testing.assert_frame_equal(
        rfm_summary(n.transactions, observation_end=end), rfm_summary(tx, observation_end=end)
    )
    cal_end = rv.default_calibration_end(tx)
    nc = rv.net_refunds(tx, calibration_end=cal_end)
    pd.testing.assert_frame_equal(
        rfm_summary(nc.transactions, calibration_end=cal_end, observation_end=end),
        rfm_summary(tx, calibration_end=cal_end, observation_end=end),
    )
    # the counts agree with the customer-weeks of the log
    weeks = tx.groupby(["customer_id", tx["ordered_at"].dt.to_period("W")]).ngroups
    assert n.n_purchases == n.n_periods == weeks and n.n_refund_lines == 0
    assert rv.refund_netting_markdown(n, "USD").startswith("No refunds")


def test_net_refunds_with_text_ids_and_bad_input():
    log = REFUNDS.assign(customer_id=REFUNDS["customer_id"].map({1: "C-1", 2: "C-2", 3: "C-3"}))
    n = rv.net_refunds(log)
    assert sorted(n.transactions["customer_id"].unique()) == ["C-1", "C-2"]
    with pytest.raises(ValueError, match="revenue_usd"):
        rv.net_refunds(log.drop(columns="revenue_usd"))
    with pytest.raises(ValueError, match="missing amount"):
        rv.net_refunds(log.assign(revenue_usd=np.nan))


def test_default_calibration_end():
    two_years = _log([(1, "2024-01-01", 1.0), (1, "2025-12-31", 1.0)])
    assert rv.default_calibration_end(two_years) == pd.Timestamp("2025-12-31") - pd.Timedelta(weeks=26)
    short = _log([(1, "2024-01-01", 1.0), (1, "2024-03-01", 1.0)])  # 60 days: the second half is the holdout
    assert rv.default_calibration_end(short) == pd.Timestamp("2024-01-31")
    with pytest.raises(ValueError, match="no transactions"):
        rv.default_calibration_end(short.iloc[:0])


def test_low_csat_threshold_on_the_declared_scale():
    assert rv.low_csat_threshold(RatingScale(1, 10)) == 6
    assert rv.low_csat_threshold(RatingScale(1, 5)) == 3
    assert rv.low_csat_threshold(RatingScale(0, 10)) == 6
    assert rv.low_csat_threshold(RatingScale(1, 5), 2) == 2
    with pytest.raises(ValueError, match="not on the csat scale 1-5"):
        rv.low_csat_threshold(RatingScale(1, 5), 6)


def test_includes_zero_and_evidence_column():
    assert rv.includes_zero(-1, 2) and not rv.includes_zero(0.5, 2) and not rv.includes_zero(-3, -1)
    assert rv.includes_zero(np.nan, 2)  # no interval is no evidence
    np.testing.assert_array_equal(rv.includes_zero([-1, 1, np.nan], [1, 2, 3]), [True, False, True])
    table = pd.DataFrame({"ci_lower": [-1.0, 0.2], "ci_upper": [1.0, 0.4]})
    out = rv.with_evidence(table)
    assert list(out["evidence"]) == ["no evidence (interval includes 0)", "interval excludes 0"]
    assert "evidence" not in table


ONE_TO_FIVE = RatingScale(1, 5)
ONE_TO_TEN = RatingScale(1, 10)


def _chain(total, indirect, direct, a_path, currency="GBP", scale=ONE_TO_FIVE):
    effects = {"total": total, "indirect": indirect, "direct": direct, "mediator_effect": a_path}
    e = pd.Series({k: v[0] for k, v in effects.items()})
    ci = pd.DataFrame(
        {"ci_lower": {k: v[1] for k, v in effects.items()}, "ci_upper": {k: v[2] for k, v in effects.items()}}
    )
    return SimpleNamespace(
        effects_=e,
        confidence_intervals_=ci,
        alpha=0.05,
        outcome_="revenue_usd",
        currency=currency,
        delta=1.0,
        scale=scale,
        _check_fitted=lambda: None,
    )


def test_chain_findings_state_null_results_and_no_money_value():
    null = rv.chain_findings_markdown(_chain((50, -20, 120), (5, -1, 11), (45, -30, 110), (0.1, -0.05, 0.25)))
    assert "No evidence of a link between satisfaction and retention in these data" in null
    assert "No evidence of a link between satisfaction and revenue in these data" in null
    assert "no money value of satisfaction is stated" in null
    assert "worth" not in null
    assert "1\\-5" in null and "GBP" in null and "USD" not in null
    found = rv.chain_findings_markdown(
        _chain((600, 200, 1100), (150, 20, 310), (450, -10, 900), (0.2, 0.06, 0.33)), period="month"
    )
    assert "one more csat point (on the 1\\-5 scale) goes with 0.20 more months retained" in found
    assert "is worth 600 GBP of follow-up revenue" in found and "95% CI 200 to 1,100 GBP" in found
    assert "150 GBP through retention" in found
    assert "no evidence of a part directly" in found  # the direct part's interval includes 0


def test_driver_findings_name_the_drivers_without_evidence():
    summary = pd.DataFrame(
        {"ci_lower": [0.1, -0.02, 0.3], "ci_upper": [0.3, 0.05, 0.5]}, index=pd.Index(["wait", "image", "value"])
    )
    drivers = SimpleNamespace(summary=summary, target_="csat", alpha=0.05)
    text = rv.driver_findings_markdown(drivers, {"image": "Brand <image>"})
    assert "No evidence of a link between Brand \\<image\\> and csat in these data" in text
    assert "wait" not in text
    drivers.summary = summary.assign(ci_lower=0.01)
    assert rv.driver_findings_markdown(drivers) == ""


def test_truth_applies_only_to_the_simulated_shape():
    truth = SimpleNamespace(driver_weights={"time": 0.15, "quality": 0.35, "service": 0.3, "cost": 0.2})

    def data(drivers=("time", "quality", "service", "cost"), scale=ONE_TO_TEN, currency="USD"):
        return SimpleNamespace(drivers=drivers, scale=lambda name: scale, currency=currency)

    assert rv.truth_applies(data(), truth)
    assert not rv.truth_applies(data(), None)
    assert not rv.truth_applies(data(drivers=("waiting", "image", "value", "expectations")), truth)
    assert not rv.truth_applies(data(scale=RatingScale(1, 5)), truth)
    assert not rv.truth_applies(data(currency="GBP"), truth)


def test_estimates_table():
    finite = pd.DataFrame({"coef": [1.0, 2.0], "se": [0.1, 0.2]})
    assert rv.estimates_table(finite) is finite
    boundary = pd.DataFrame({"coef": [0.92, 1.4e15], "se": [np.nan, np.inf]}, index=["r", "b"])
    shown = rv.estimates_table(boundary)
    assert list(shown["se"]) == ["not usable", "not usable"] and shown.loc["b", "coef"] == "1.4e+15"


def test_period_name():
    assert [rv.period_name(f) for f in ("Q", "M", "W", "D", "h", "Y")] == [
        "quarter",
        "month",
        "week",
        "day",
        "hour",
        "year",
    ]


def test_clv_withheld_markdown_states_the_boundary_and_reasons():
    from bsc_toolkit.models._base import Diagnostic
    from bsc_toolkit.models.clv.value import ClvPlausibility

    check = ClvPlausibility(
        plausible=False,
        reasons=("The BG/NBD fit is at a boundary of the model (no drop-out: b -> infinity, the NBD limit).",),
        diagnostics=(Diagnostic("boundary", "BG/NBD: b = 1.4e+15 ran away towards infinity"),),
        at_boundary=True,
    )
    text = rv.clv_withheld_markdown(check)
    assert text.startswith("**CLV withheld.**") and "b \\-\\> infinity" in text
    assert "- **Warning:** BG\\/NBD\\: b \\= 1\\.4e\\+15" in text
    other = rv.clv_withheld_markdown(ClvPlausibility(plausible=False, reasons=("3 of 9 CLVs are not finite.",)))
    assert "not plausible" in other and "Diagnostics" not in other


# -- the chain's headline ------------------------------------------------------------------------
def _fitted_chain(total, indirect, direct, a_path, b_path, diagnostics=()):
    chain = _chain(total, indirect, direct, a_path, currency="EUR")
    effects = {"total": total, "indirect": indirect, "direct": direct, "mediator_effect": a_path}
    effects["mediator_to_outcome"] = b_path
    chain.effects_ = pd.Series({k: v[0] for k, v in effects.items()})
    chain.confidence_intervals_ = pd.DataFrame(
        {"ci_lower": {k: v[1] for k, v in effects.items()}, "ci_upper": {k: v[2] for k, v in effects.items()}}
    )
    chain.diagnostics_ = list(diagnostics)
    return chain


def _headline(*figures):
    from bsc_toolkit.headline import Headline

    return Headline("chain", sentence_fn=rv.chain_sentence).add(*figures)


def _shown_sentence(hl):
    """The sentence the headline box shows (the line under its title)."""
    return repr(hl).splitlines()[1]


def test_chain_figures_are_the_chain_effects_with_lag_and_confounding_caveats():
    from bsc_toolkit.models._base import Diagnostic

    warn = Diagnostic("assumption", "the direct effect is 77% of the total", "warning")
    chain = _fitted_chain((600, 200, 1100), (150, 20, 310), (450, 10, 900), (0.2, 0.06, 0.33), (750, 640, 870), [warn])
    cohort = pd.DataFrame({"x": [1]})
    cohort.attrs.update(baseline=("2024Q1", "2024Q2"), follow_up=("2024Q3", "2025Q4"))
    hl = rv.set_chain_figures(_headline(), chain, cohort, period="quarter")
    by_key = {f.key: f for f in hl.figures}
    assert list(by_key) == list(rv.CHAIN_KEYS)
    retention, per_period, value = (by_key[k] for k in rv.CHAIN_KEYS)
    assert retention.value == 0.2 and retention.ci == (0.06, 0.33) and retention.label.startswith("quarters retained")
    assert "CSAT measured in 2024Q1-2024Q2, retention and revenue in 2024Q3-2025Q4" in retention.note
    assert "association, not proof of cause" in retention.note and "assumption" not in retention.note
    assert per_period.value == 750 and per_period.unit == "EUR" and per_period.ci == (640, 870)
    assert value.value == 600 and value.ci == (200, 1100) and value.unit == "EUR"
    assert value.note.startswith("150 EUR [20, 310] of it through retention")
    assert "inflates the direct part" in value.note and "assumption is in doubt" in value.note
    sentence = _shown_sentence(hl)
    assert "+0.200 [0.060, 0.330] quarters retained" in sentence  # as the card shows it
    assert f"{format_figure(retention)} {format_interval(retention)}" in sentence
    assert "worth 600 EUR [200, 1,100] of follow-up revenue" in sentence
    assert "association, not proof of cause" in sentence


def test_chain_figures_state_no_money_value_without_evidence():
    chain = _fitted_chain((50, -20, 120), (5, -1, 11), (45, -30, 110), (0.1, -0.05, 0.25), (700, 600, 800))
    hl = rv.set_chain_figures(_headline(), chain)
    by_key = {f.key: f for f in hl.figures}
    assert by_key["chain_value"].value is None  # no money value of satisfaction is stated
    assert by_key["chain_value"].note.startswith("not stated: no evidence of a link between satisfaction and revenue")
    assert "the 95% interval includes 0 (-20 to 120 EUR)" in by_key["chain_value"].note
    assert by_key["chain_retention"].value == 0.1  # not money: shown, with the null result beside it
    assert by_key["chain_retention"].note.startswith("no evidence of a link between satisfaction and retention")
    sentence = _shown_sentence(hl)
    assert "no evidence of a link between satisfaction and retention in these data" in sentence
    assert "no evidence of a link between satisfaction and money" in sentence and "worth" not in sentence
    assert "association" not in sentence  # no link is stated


def test_a_chain_interval_that_could_not_be_computed_is_no_link():
    nan = float("nan")
    chain = _fitted_chain((50, nan, nan), (5, -1, 11), (45, -30, 110), (0.3, nan, nan), (700, 600, 800))
    hl = rv.set_chain_figures(_headline(), chain)
    by_key = {f.key: f for f in hl.figures}
    retention = by_key["chain_retention"]
    assert retention.value == 0.3 and retention.ci is None
    assert retention.note.startswith("no evidence of a link between satisfaction and retention")  # the card
    assert "its 95% interval could not be computed" in retention.note
    assert by_key["chain_value"].value is None and "nan" not in by_key["chain_value"].note
    sentence = _shown_sentence(hl)
    assert "no evidence of a link between satisfaction and retention in these data" in sentence  # the sentence
    assert "goes with" not in sentence and "association" not in sentence


def test_driver_figure_is_the_largest_share():
    summary = pd.DataFrame(
        {"share": [0.2, 0.5, 0.3], "share_ci_lower": [0.1, 0.4, 0.2], "share_ci_upper": [0.3, 0.6, 0.4]},
        index=["time", "quality", "cost"],
    )
    probs = pd.DataFrame({1: [0.0, 0.9, 0.1], 2: [0.2, 0.1, 0.7]}, index=summary.index)
    drivers = SimpleNamespace(summary=summary, target_="csat", r2_=0.63, rank_probabilities_=probs, diagnostics_=[])
    hl = rv.set_driver_figure(_headline(), drivers, {"quality": "Product <quality>"})
    (fig,) = hl.figures
    assert fig.label == "top driver of CSAT: Product <quality>" and fig.value == 0.5 and fig.ci == (0.4, 0.6)
    assert "ranked first in 90% of bootstrap draws" in fig.note and "not proof of cause" in fig.note
    assert _shown_sentence(hl).startswith(
        "The top driver of CSAT is Product <quality> (50.0% of the explained variance)."
    )


@pytest.mark.slow
def test_chain_headline_placeholders_say_why(small_sim):
    from bsc_toolkit.capabilities import data_features
    from bsc_toolkit.data.io import CustomerData

    data = CustomerData(small_sim.customers, small_sim.surveys.iloc[:0], small_sim.transactions)
    hl = rv.start_chain_headline(data, "T", features=data_features(data))
    assert [f.key for f in hl.figures] == ["csat_mean", "top_driver", *rv.CHAIN_KEYS]
    assert all(f.value is None for f in hl.figures)
    assert hl.figures[1].note == "no satisfaction surveys (csat) in this data set"
    assert hl.sentence is None and hl.sentence_fn is rv.chain_sentence
    assert _shown_sentence(hl).startswith("This data set has no satisfaction surveys")
    data = CustomerData(small_sim.customers, small_sim.surveys, small_sim.transactions)
    hl = rv.start_chain_headline(data, "T", features=data_features(data), outcome="margin_usd")
    assert hl.figures[0].value is not None and "not computed" in hl.figures[1].note
    assert [f.label for f in hl.figures[2:]] == [
        "quarters retained per +1 CSAT point",
        "margin per quarter retained",
        "value of +1 CSAT point (margin per customer)",
    ]


def test_chain_effects_and_driver_tables_are_tidy():
    chain = SimpleNamespace(
        summary=pd.DataFrame(
            {"coef": [1.0], "se": [0.5], "ci_lower": [0.1], "ci_upper": [2.0], "p_value": [0.04], "unit": ["EUR"]},
            index=pd.Index(["total"], name="effect"),
        )
    )
    out = rv.chain_effects_frame(chain)
    assert out.to_dict("records") == [
        {
            "effect": "total",
            "estimate": 1.0,
            "se": 0.5,
            "estimate_ci_lower": 0.1,
            "estimate_ci_upper": 2.0,
            "p_value": 0.04,
            "unit": "EUR",
        }
    ]
    summary = pd.DataFrame(
        {
            "coef": [0.4, 0.1],
            "se": [0.05, 0.04],
            "ci_lower": [0.3, 0.02],
            "ci_upper": [0.5, 0.18],
            "p_value": [0.001, 0.01],
            "share": [0.7, 0.3],
            "share_ci_lower": [0.6, 0.2],
            "share_ci_upper": [0.8, 0.4],
            "rank": [1, 2],
            "p_rank": [0.95, 0.95],
            "std_coef": [0.5, 0.1],
            "unit": ["csat points per driver point"] * 2,
        },
        index=pd.Index(["quality", "time"], name="driver"),
    )
    out = rv.driver_table(SimpleNamespace(summary=summary), {"quality": "Product <quality>"})
    assert list(out.columns) == [
        "driver", "share", "share_ci_lower", "share_ci_upper", "rank", "p_rank",
        "estimate", "se", "estimate_ci_lower", "estimate_ci_upper", "p_value", "unit",
    ]  # fmt: skip
    assert out["driver"].tolist() == ["Product <quality>", "time"]  # display names, in the summary's order
    assert out["estimate"].tolist() == [0.4, 0.1] and out["estimate_ci_upper"].tolist() == [0.5, 0.18]
    assert out["share"].tolist() == [0.7, 0.3] and out["rank"].tolist() == [1, 2]
    assert list(out.index) == [0, 1]


def test_tables_keep_small_rows_readable_and_never_use_exponents():
    import re

    from bsc_toolkit.tables import significant, table

    frame = pd.DataFrame({"truth": [309.483, 0.446, np.nan], "name": ["a", "b", "c"]})
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table(frame).html)
    assert cells == ["309", "a", "0.45", "b", "no data", "c"]  # a 0.446 below a 309 is not "0"
    assert frame["truth"].iloc[1] == 0.446  # the input is not changed
    assert significant(12_345.6, 3) == "12,300"
    assert significant(0.000446, 3) == "0.000446"
    assert significant(-1.04, 3) == "-1.04"
