"""Formatted report tables: kinds, digits, intervals, labels, escaping, raw data, diagnostics beside them."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.tables import (
    TABLE_MIMETYPE,
    Table,
    column_label,
    estimates_frame,
    format_value,
    infer_kind,
    significant,
    table,
    with_diagnostics,
)


def _cells(html: str) -> list[list[str]]:
    """Body rows of the rendered table as lists of cell texts (HTML entities kept)."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def _headers(html: str) -> list[str]:
    return re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", html)


def test_kinds_are_inferred_from_names_and_values() -> None:
    assert infer_kind("n_customers_start", pd.Series([1365, 1200])) == "count"
    assert infer_kind("churned", pd.Series([83.0, np.nan])) == "count"
    assert infer_kind("churn_rate", pd.Series([0.058, 0.06])) == "percent"
    assert infer_kind("csat_top_box", pd.Series([0.2])) == "percent"
    assert infer_kind("p_alive", pd.Series([0.9])) == "percent"
    assert infer_kind("growth_rate", pd.Series([1.5, -0.2])) == "number"  # not a share: outside 0..1
    assert infer_kind("revenue_usd", pd.Series([1.0])) == "money"
    assert infer_kind("p_value", pd.Series([0.01])) == "p_value"
    assert infer_kind("std_err", pd.Series([0.01])) == "se"
    assert infer_kind("nps", pd.Series([-20.7])) == "points"
    assert infer_kind("csat_mean", pd.Series([7.26])) == "score"
    assert infer_kind("segment", pd.Series(["a"])) == "text"
    assert infer_kind("flag", pd.Series([True, False])) == "text"


def test_each_kind_is_formatted() -> None:
    df = pd.DataFrame(
        {
            "n_customers_start": [1365, 120000],
            "churn_rate": [0.9421, 0.0004],
            "revenue_usd": [1057705.61, 2500.0],
            "p_value": [0.0031, 0.00001],
            "flag": [True, False],
            "drivers": [["time", "cost"], []],
            "period": pd.PeriodIndex(["2025Q4", "2025Q3"], freq="Q"),
            "day": pd.to_datetime(["2025-12-31", None]),
        }
    )
    out = table(df, currency="GBP")
    rows = _cells(out.html)
    assert rows[0] == ["1,365", "94.2%", "1,057,706", "0.003", "yes", "time, cost", "2025Q4", "2025-12-31"]
    assert rows[1] == ["120,000", "0.040%", "2,500", "&lt;0.001", "no", "none", "2025Q3", "no data"]
    assert "revenue (GBP)" in _headers(out.html)


def test_money_without_currency_never_says_usd() -> None:
    assert column_label("revenue_per_customer_usd") == "revenue per customer"
    assert column_label("revenue_per_customer_usd", "EUR") == "revenue per customer (EUR)"
    html = table(pd.DataFrame({"value": [12.5]}), kinds={"value": "money"}, currency="EUR").html
    assert "value (EUR)" in html and "12.50" in html


def test_digits_follow_two_significant_digits_of_the_se() -> None:
    est = pd.DataFrame({"term": ["a", "b"], "coef": [0.123456, 2.5], "se": [0.0123, 0.5]}).set_index("term")
    rows = _cells(table(est).html)
    assert rows[0][:3] == ["a", "0.123", "0.012"]
    assert rows[1][:3] == ["b", "2.50", "0.50"]
    assert format_value(1234.5678, "estimate", se=12.3) == "1,235"
    assert format_value(0.123456, "estimate", se=0.0123) == "0.123"


def test_intervals_are_merged_with_the_same_digits() -> None:
    df = pd.DataFrame(
        {
            "period": pd.PeriodIndex(["2025Q4"], freq="Q"),
            "csat_mean": [7.2614],
            "csat_mean_ci_lower": [7.1813],
            "csat_mean_ci_upper": [7.3415],
            "churn_rate": [0.0579],
            "churn_rate_ci_lower": [0.0467],
            "churn_rate_ci_upper": [0.0716],
        }
    )
    out = table(df)
    assert _cells(out.html)[0] == ["2025Q4", "7.261 [7.181, 7.341]", "5.8% [4.7%, 7.2%]"]
    assert _headers(out.html) == ["period", "CSAT mean [CI]", "churn rate [CI]"]
    assert list(out.data.columns) == list(df.columns)  # the raw data keep the bounds
    est = pd.DataFrame({"estimate": [0.5], "ci_lower": [0.4], "ci_upper": [0.6], "p_value": [0.2]})
    assert _cells(table(est).html)[0] == ["0.500 [0.400, 0.600]", "0.200"]
    low = pd.DataFrame({"effect": [1.0], "effect_ci_low": [0.5], "effect_ci_high": [1.5]})
    assert _cells(table(low).html)[0] == ["1.00 [0.50, 1.50]"]
    separate = _cells(table(df, intervals=False).html)[0]
    assert len(separate) == 7


def test_a_bare_interval_pair_attaches_to_a_numeric_column_only() -> None:
    """A summary with a text index (a chain model's "effect" names): the interval goes to ``coef``."""
    summary = pd.DataFrame(
        {"coef": [650.0, 120.0], "se": [230.0, 40.0], "ci_lower": [200.0, 41.6], "ci_upper": [1100.0, 198.4]},
        index=pd.Index(["total", "direct"], name="effect"),
    )
    t = table(summary)
    assert _cells(t.html)[0] == ["total", "650 [200, 1,100]", "230"]
    assert _headers(t.html) == ["effect", "coefficient [CI]", "SE"]
    assert "[200.0" not in t.html and "total [" not in t.html


def test_significant_digits_in_plain_notation() -> None:
    assert significant(12345.6, 3) == "12,300"
    assert significant(0.0012345, 3) == "0.00123"
    assert significant(7.2614, 3) == "7.26"
    assert significant(-0.049999, 2) == "-0.050"
    assert significant(0, 3) == "0"
    assert significant(float("nan"), 3) == "no data"
    assert significant(None, 2) == "no data"
    assert "e" not in significant(1.23e12, 2) and significant(1.23e12, 2) == "1,200,000,000,000"


def test_estimates_frame_from_one_summary_and_several() -> None:
    one = pd.DataFrame(
        {"coef": [0.5, 2.0], "se": [0.1, 0.3], "ci_lower": [0.3, 1.4], "ci_upper": [0.7, 2.6],
         "p_value": [0.001, np.nan], "exp_coef": [1.65, 7.39]},
        index=pd.Index(["alpha", "r"], name="param"),
    )  # fmt: skip
    frame = estimates_frame(one, extra=("exp_coef", "absent"))
    assert list(frame.columns) == [
        "parameter", "estimate", "se", "estimate_ci_lower", "estimate_ci_upper", "p_value", "exp_coef", "absent"
    ]  # fmt: skip
    assert list(frame["parameter"]) == ["alpha", "r"]
    assert frame["estimate"].tolist() == [0.5, 2.0] and frame["estimate_ci_upper"].tolist() == [0.7, 2.6]
    assert frame["absent"].isna().all() and frame.index.equals(pd.RangeIndex(2))
    no_p = one.drop(columns="p_value")
    both = estimates_frame({"BG/NBD": one, "Pareto/NBD": no_p}, label="term")
    assert list(both.columns[:2]) == ["model", "term"] and "p_value" in both.columns
    assert both["model"].tolist() == ["BG/NBD", "BG/NBD", "Pareto/NBD", "Pareto/NBD"]
    assert both["p_value"].iloc[2:].isna().all()
    assert "p_value" not in estimates_frame(no_p).columns
    cells = _cells(table(frame).html)
    assert cells[0][:3] == ["alpha", "0.50 [0.30, 0.70]", "0.10"]


def test_missing_values_show_no_data() -> None:
    df = pd.DataFrame(
        {"segment": ["a", None], "nps": [np.nan, 12.0], "nps_ci_lower": [np.nan, 8.0], "nps_ci_upper": [np.nan, 16.0]}
    )
    rows = _cells(table(df).html)
    assert rows[0] == ["a", "no data"]
    assert rows[1] == ["no data", "12.0 [8.0, 16.0]"]
    assert "no data" in table(pd.DataFrame({"x": []})).html


def test_user_text_is_escaped_in_cells_labels_and_caption() -> None:
    df = pd.DataFrame({"segment": ["<script>alert(1)</script>"], "<script>bad()</script>": [1]})
    out = table(df, caption="KPIs <img src=x onerror=alert(1)>", labels={"segment": "<b>segment</b>"})
    assert "<script>" not in out.html and "<img" not in out.html and "<b>" not in out.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "&lt;script&gt;bad()&lt;/script&gt;" in out.html
    assert "&lt;b&gt;segment&lt;/b&gt;" in out.html


def test_labels_index_and_multiindex_columns() -> None:
    assert column_label("n_customers_start") == "customers at start"
    assert column_label("clv_mean_ci_lower") == "CLV mean CI lower"
    assert column_label("rfm_segment_id") == "RFM segment ID"
    assert column_label("Gender") == "Gender"
    positional = table(pd.DataFrame({"a": [1, 2]}))
    assert _headers(positional.html) == ["a"] and _cells(positional.html)[0] == ["1"]
    tail = table(pd.DataFrame({"a": [1, 2, 3]}).tail(2))  # row numbers left by tail: still positional
    assert _headers(tail.html) == ["a"] and list(tail.data.index) == [0, 1]
    named = table(pd.DataFrame({"n_responses": [5]}, index=pd.Index(["smb"], name="segment")))
    assert _headers(named.html) == ["segment", "responses"]
    assert list(named.data.columns) == ["segment", "n_responses"]
    wide = pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("revenue_usd", "mean"), ("nps", "mean")]))
    out = table(wide, currency="GBP")
    assert _headers(out.html) == ["revenue (GBP) mean", "NPS mean"]
    assert list(out.data.columns) == ["revenue_usd_mean", "nps_mean"]
    hidden = table(pd.DataFrame({"a": [1], "b": [2]}), hide=["b"])
    assert _headers(hidden.html) == ["a"] and "b" in hidden.data.columns


def test_html_structure_is_self_contained() -> None:
    html = table(pd.DataFrame({"n": [1]}), caption="c").html
    assert '<table class="bsc-table">' in html and "<style>" in html and "<caption>c</caption>" in html
    assert "tabular-nums" in html and "http" not in html and "@import" not in html


def test_large_frames_are_cut_with_a_note() -> None:
    df = pd.DataFrame({"n_orders": np.arange(100)})
    out = table(df, key="orders", max_rows=60)
    assert len(_cells(out.html)) == 60
    assert "... 40 more rows (all in the CSV)" in out.html
    assert len(out.data) == 100


def test_keyed_mimebundle_round_trips() -> None:
    df = pd.DataFrame(
        {
            "period": pd.PeriodIndex(["2025Q3", "2025Q4"], freq="Q"),
            "segment": ["<script>x</script>", "smb"],
            "churn_rate": [0.05, np.nan],
            "n_customers_start": [1365, 1200],
        },
        index=[0, 1],
    )
    out = table(df, key="kpis", caption="KPIs")
    assert isinstance(out, Table)
    bundle = out._repr_mimebundle_()
    payload = bundle[TABLE_MIMETYPE]
    assert payload["key"] == "kpis" and payload["caption"] == "KPIs"
    back = pd.read_json(io.StringIO(payload["table"]), orient="table")
    assert list(back.columns) == list(df.columns)
    assert list(back["segment"]) == ["<script>x</script>", "smb"]
    assert back["churn_rate"].iloc[0] == 0.05 and pd.isna(back["churn_rate"].iloc[1])
    assert list(back["n_customers_start"]) == [1365, 1200]
    assert [str(p) for p in back["period"]] == ["2025Q3", "2025Q4"]
    assert TABLE_MIMETYPE not in table(df)._repr_mimebundle_()


# ------------------------------------------------------------------ diagnostics
@pytest.fixture(scope="module")
def separated_hazard():
    from bsc_toolkit.models.retention import DiscreteTimeHazardModel
    from tests.models.retention import separated_panel

    return DiscreteTimeHazardModel(terms="linear", link="logit").fit(separated_panel(varying_exposure=True))


@pytest.mark.slow
def test_with_diagnostics_lists_real_model_problems_in_words(separated_hazard) -> None:
    from bsc_toolkit.models.clv import BetaGeoFitter, simulate_bgnbd

    shown = with_diagnostics(table(separated_hazard.summary[["coef", "se", "p_value"]], key="hazard"), separated_hazard)
    html = shown._repr_html_()
    assert "Warning:" in html and "separation" in html
    assert 'class="bsc-diagnostics"' in html and "coefficient" in html
    assert TABLE_MIMETYPE in shown._repr_mimebundle_()  # the keyed table keeps its raw data
    T = np.random.default_rng(1).uniform(20.0, 40.0, size=600)
    near = BetaGeoFitter().fit(simulate_bgnbd(600, T=T, seed=3, r=0.5, alpha=2.0, a=0.05, b=5000.0))
    clean = BetaGeoFitter().fit(simulate_bgnbd(600, T=T, seed=3, r=0.5, alpha=2.0, a=0.8, b=3.0))
    html = with_diagnostics(pd.DataFrame({"x": [1]}), {"BG/NBD <near>": near})._repr_html_()
    assert "Warning:" in html and "BG/NBD &lt;near&gt;:" in html and "drop-out" in html
    assert not clean.diagnostics_
    assert "No fitting problems found." in with_diagnostics(pd.DataFrame({"x": [1]}), clean)._repr_html_()


def test_with_diagnostics_severity_is_a_word_and_figures_are_embedded() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bsc_toolkit.models._base import Diagnostic

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    problems = [Diagnostic("not_converged", "did not converge <b>", "error"), Diagnostic("few", "few events")]
    html = with_diagnostics(fig, problems, title="Fit")._repr_html_()
    assert '<img src="data:image/png;base64,' in html
    assert "Error:" in html and "Warning:" in html and "&lt;b&gt;" in html
    assert html.index("Error:") < html.index("Warning:")
    assert "No fitting problems found." in with_diagnostics("<p>ok</p>")._repr_html_()


def test_large_amounts_keep_two_significant_digits_of_their_se():
    assert format_value(2_021_948, "money", se=470_000) == "2,020,000"
    assert format_value(217_760, "money", se=62_000) == "218,000"
    assert format_value(760.94, "money", se=42) == "761"
    assert format_value(7.2614, "score", se=0.041) == "7.261"  # below 10 the decimals rule is unchanged
    assert format_value(12_345, "money", se=1_200_000) == "12,000"  # a bound near 0 is not shown as 0
    assert format_value(0.0, "money", se=1_200_000) == "0"


def test_expected_counts_above_100_show_whole_numbers():
    assert format_value(17_758.7, "count") == "17,759"
    assert format_value(12.5, "count") == "12.5"
