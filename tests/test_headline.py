"""Headline figures: the standard KPI figures, change intervals, the sentence and the rendered box."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit import metrics
from bsc_toolkit.data.io import CustomerData, load_dataset
from bsc_toolkit.headline import (
    Headline,
    HeadlineFigure,
    KpiHeadline,
    change_interval,
    headline_sentence,
    kpi_figures,
)
from bsc_toolkit.tables import TABLE_MIMETYPE
from tests.shapes import make_variant

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ simulated truth
def _known_change_data(seed: int = 0, n: int = 4000) -> CustomerData:
    """Two quarters of surveys with known NPS (0 then +15) and known CSAT means, churn dates and orders."""
    rng = np.random.default_rng(seed)
    rows = []
    # 2025Q3: promoters 30%, detractors 30% (NPS 0), CSAT mean 7.0; 2025Q4: 40% / 25% (NPS 15), CSAT mean 7.5
    csat_q3, csat_q4 = [0.2] * 5, [0.1, 0.15, 0.2, 0.25, 0.3]
    for quarter, (p, d), csat in (("2025-08-15", (0.30, 0.30), csat_q3), ("2025-11-15", (0.40, 0.25), csat_q4)):
        kind = rng.choice(3, size=n, p=[p, d, 1 - p - d])
        score = np.where(kind == 0, rng.integers(9, 11, n), np.where(kind == 1, rng.integers(0, 7, n), 7 + (n % 2)))
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": np.arange(n),
                    "surveyed_at": pd.Timestamp(quarter),
                    "nps": score.astype(float),
                    "csat": rng.choice([5.0, 6.0, 7.0, 8.0, 9.0], size=n, p=csat),
                }
            )
        )
    surveys = pd.concat(rows, ignore_index=True)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "acquired_at": pd.Timestamp("2024-01-01"),
            "churned_at": pd.to_datetime(
                np.where(rng.random(n) < 0.05, "2025-12-01", np.where(rng.random(n) < 0.05, "2025-09-01", None))
            ),
        }
    )
    transactions = pd.DataFrame(
        {
            "customer_id": np.concatenate([np.arange(n), np.arange(n)]),
            "ordered_at": np.repeat(pd.to_datetime(["2025-08-10", "2025-12-20"]), n),
            "revenue_usd": rng.gamma(2.0, 50.0, 2 * n),
        }
    )
    return CustomerData(customers, surveys, transactions)


def test_kpi_figures_match_metrics_and_contain_the_simulated_change() -> None:
    data = _known_change_data()
    hl = kpi_figures(data, freq="Q")
    assert isinstance(hl, KpiHeadline)
    assert str(hl.period) == "2025Q4" and str(hl.previous_period) == "2025Q3"
    figures = {f.key: f for f in hl.figures}
    table = metrics.nps(data.surveys, freq="Q").set_index("period")
    nps = figures["nps"]
    assert nps.value == pytest.approx(table.loc[pd.Period("2025Q4"), "nps"])
    assert nps.previous == pytest.approx(table.loc[pd.Period("2025Q3"), "nps"])
    assert nps.ci == pytest.approx(tuple(table.loc[pd.Period("2025Q4"), ["nps_ci_lower", "nps_ci_upper"]]))
    assert nps.previous_label == "2025Q3" and nps.kind == "points" and nps.better == "up"
    low, high = nps.change_ci
    assert low < 15 < high  # the simulated change
    assert nps.beyond_noise is True
    csat = figures["csat_mean"]
    assert csat.unit == "1-10" and csat.kind == "score"
    assert csat.change_ci[0] < 0.5 < csat.change_ci[1]
    churn = figures["churn_rate"]
    assert churn.better == "down" and churn.kind == "percent"
    ret = metrics.retention(data.customers, freq="Q", start="2025Q3", end="2025Q4").set_index("period")
    assert churn.value == pytest.approx(ret.loc[pd.Period("2025Q4"), "churn_rate"])
    revenue = figures["revenue_per_customer"]
    assert revenue.kind == "money" and revenue.unit == "USD"
    assert revenue.ci[0] < revenue.value < revenue.ci[1]
    kpis = metrics.kpi_summary(data.customers, data.surveys, data.transactions, freq="Q").set_index("period")
    assert revenue.value == pytest.approx(kpis.loc[pd.Period("2025Q4"), "revenue_per_customer_usd"])


def test_change_interval_covers_the_true_change() -> None:
    rng = np.random.default_rng(1)
    n, p0, p1, reps = 500, 0.3, 0.35, 2000
    a, b = rng.binomial(n, p0, reps) / n, rng.binomial(n, p1, reps) / n
    hits = 0
    for x0, x1 in zip(a, b):
        half0, half1 = 1.96 * math.sqrt(x0 * (1 - x0) / n), 1.96 * math.sqrt(x1 * (1 - x1) / n)
        low, high = change_interval(x1, (x1 - half1, x1 + half1), x0, (x0 - half0, x0 + half0))
        hits += low <= p1 - p0 <= high
    assert 0.93 < hits / reps < 0.97
    assert change_interval(1.0, None, 0.5, (0.4, 0.6)) is None
    assert change_interval(1.0, (0.9, 1.1), None, None) is None


@pytest.mark.slow
def test_kpi_figures_on_the_default_data() -> None:
    from bsc_toolkit.data.io import ensure_default_dataset

    ensure_default_dataset()
    hl = kpi_figures(load_dataset(None))
    assert hl.period is not None and hl.previous_period is not None
    assert [f.key for f in hl.figures] == ["nps", "csat_mean", "csat_top_box", "churn_rate", "revenue_per_customer"]
    for f in hl.figures:
        assert f.value is not None and f.ci is not None and f.change_ci is not None, f
        assert f.ci[0] <= f.value <= f.ci[1]


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bsc_toolkit.data.simulate import simulate

    return simulate(n_customers=400, n_periods=4, seed=5).to_dir(tmp_path_factory.mktemp("hl_small"))


def test_kpi_figures_say_why_a_figure_is_missing(small_dir: Path, tmp_path: Path) -> None:
    hl = kpi_figures(load_dataset(make_variant("no_surveys", small_dir, tmp_path / "no_surveys")))
    figures = {f.key: f for f in hl.figures}
    for key in ("nps", "csat_mean", "csat_top_box"):
        assert figures[key].value is None
        assert figures[key].note == "no surveys in this data set"
    assert figures["churn_rate"].value is not None
    hl = kpi_figures(load_dataset(make_variant("no_transactions", small_dir, tmp_path / "no_tx")))
    revenue = {f.key: f for f in hl.figures}["revenue_per_customer"]
    assert revenue.value is None and "no transactions" in revenue.note


def test_kpi_figures_on_snapshot_data(small_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(make_variant("snapshot", small_dir, tmp_path / "snapshot"))
    hl = kpi_figures(data)
    assert hl.previous_period is None
    churn = {f.key: f for f in hl.figures}["churn_rate"]
    assert churn.label == "share who left by the snapshot"
    assert churn.previous is None and churn.change_ci is None and churn.beyond_noise is None
    flag = data.customers["churned"].astype(float)
    assert churn.value == pytest.approx(flag.mean())
    assert "snapshot" in churn.note


@pytest.mark.slow
@pytest.mark.parametrize("name", ["online_retail", "bank_churn"])
def test_kpi_figures_on_shared_real_data(name: str) -> None:
    path = ROOT / "examples" / name / "dataset.yaml"
    try:
        data = load_dataset(path)
    except FileNotFoundError as exc:
        pytest.skip(f"shared data set not available: {exc}")
    hl = kpi_figures(data.up_to_date_limit())
    figures = {f.key: f for f in hl.figures}
    if name == "online_retail":
        assert figures["nps"].note == "no surveys in this data set"
        assert figures["revenue_per_customer"].unit == "GBP" and figures["revenue_per_customer"].value is not None
        assert figures["churn_rate"].value is None and figures["churn_rate"].note
    else:
        assert figures["nps"].value is None and figures["csat_mean"].unit == "1-5"
        assert figures["churn_rate"].label == "share who left by the snapshot"
        assert figures["revenue_per_customer"].value is None


# ------------------------------------------------------------------ sentence and rendering
FIGS = [
    HeadlineFigure(
        "NPS",
        31.2,
        "points",
        (28.0, 34.4),
        previous=25.0,
        previous_label="2025Q3",
        change_ci=(1.5, 10.9),
        better="up",
        key="nps",
    ),  # fmt: skip
    HeadlineFigure(
        "churn rate",
        0.058,
        "percent",
        (0.047, 0.072),
        previous=0.040,
        previous_label="2025Q3",
        change_ci=(0.002, 0.034),
        better="down",
        key="churn_rate",
    ),  # fmt: skip
    HeadlineFigure(
        "CSAT mean",
        7.26,
        "score",
        (7.18, 7.34),
        unit="1-10",
        previous=7.29,
        previous_label="2025Q3",
        change_ci=(-0.14, 0.09),
        better="up",
        key="csat_mean",
    ),  # fmt: skip
    HeadlineFigure("revenue per customer", None, "money", unit="GBP", note="no transactions <b>here</b>"),
]


def test_headline_sentence_names_what_moved_beyond_noise() -> None:
    text = headline_sentence(FIGS)
    assert "NPS improved" in text and "churn rate worsened" in text
    assert "CSAT mean" in text and "within noise" in text
    assert "revenue per customer" in text  # no data
    one = headline_sentence(FIGS[2:3])
    assert one.startswith("The figure compared since 2025Q3 (CSAT mean) did not change by more than its noise")
    assert headline_sentence(FIGS[:3]).count("beyond noise") == 1
    model = HeadlineFigure("value of +1 CSAT point", 2.0e6, "money", (1.1e6, 2.9e6), unit="USD")
    assert "no previous period" not in Headline("x").add(model)._repr_html_()  # a model figure has no periods
    share = HeadlineFigure("top driver of CSAT: quality", 0.35, "percent", (0.33, 0.36))
    assert "no previous period" not in Headline("x").add(share)._repr_html_()  # a model share is not a KPI
    periodic = HeadlineFigure("NPS", 3.0, "points", periodic=True)
    assert "no previous period" in Headline("x").add(periodic)._repr_html_()


def test_headline_html_has_words_escapes_and_a_keyed_bundle() -> None:
    snap = HeadlineFigure(
        "share who left by the snapshot", 0.2038, "percent", (0.196, 0.212), better="down", periodic=True
    )
    hl = Headline("KPIs <script>alert(1)</script>", subtitle="2025Q4 against 2025Q3").add(*FIGS, snap)
    hl.caveat("Orders after churn <i>left out</i>.")
    html = hl._repr_html_()
    assert 'class="bsc-headline"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>here</b>" not in html
    assert "NPS" in html and "31.2" in html and "[28.0, 34.4]" in html
    assert "+6.2 points vs 2025Q3" in html and "beyond noise" in html and "within noise" in html
    assert "5.8%" in html and "7.26" in html and "1-10" in html
    assert "no data" in html and "no previous period" in html
    assert "&lt;i&gt;left out&lt;/i&gt;" in html
    bundle = hl._repr_mimebundle_()
    payload = bundle[TABLE_MIMETYPE]
    assert payload["key"] == "headline"
    frame = pd.read_json(__import__("io").StringIO(payload["table"]), orient="table")
    assert list(frame["label"]) == [f.label for f in [*FIGS, snap]]
    assert frame.loc[0, "beyond_noise"] == True  # noqa: E712
    assert pd.isna(frame.loc[3, "value"]) and frame.loc[3, "note"] == "no transactions <b>here</b>"
    json.dumps(bundle[TABLE_MIMETYPE])


def test_headline_show_then_refresh_updates_the_box_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[tuple[object, dict]] = []
    updates: list[str] = []

    class Handle:
        def update(self, obj: Headline) -> None:
            updates.append(obj._repr_html_())

    def display(obj: object, **kw: object) -> Handle:
        shown.append((obj, kw))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    hl = Headline("KPIs").add(FIGS[0])
    hl.refresh()  # before show: nothing to update
    assert updates == []
    hl.show()
    assert len(shown) == 1 and shown[0][0] is hl and shown[0][1] == {"display_id": True}
    hl.add(FIGS[1])
    hl.refresh()
    assert len(updates) == 1 and len(shown) == 1  # updated in place, not displayed again
    assert "NPS" in updates[0] and "churn rate" in updates[0] and "+1.8 percentage points vs 2025Q3" in updates[0]


def test_a_partial_latest_period_is_not_the_headline(small_sim, tmp_path):
    """Data that end 3 weeks into a quarter: the headline is the quarter before, and says why."""
    from bsc_toolkit.data.io import load_dataset

    folder = small_sim.to_dir(tmp_path / "d")
    full = kpi_figures(load_dataset(folder))
    last = full.period
    cut = last.start_time + pd.Timedelta(days=20)
    for name, col in (("surveys", "surveyed_at"), ("transactions", "ordered_at")):
        path = folder / f"{name}.csv"
        frame = pd.read_csv(path, parse_dates=[col])
        frame[frame[col] < cut].to_csv(path, index=False)
    cut_data = load_dataset(folder)
    kpis = kpi_figures(cut_data)
    assert kpis.period == last - 1
    assert any(f"{last} is left out of the headline" in n for n in kpis.notes)
    # a period asked for is used as it is, with the partial note
    asked = kpi_figures(cut_data, period=str(last))
    assert asked.period == last
    assert any("before the end of" in n for n in asked.notes)
    # its churn rate and revenue per customer are not compared (totals of part of a period), beside them
    # the reason; the means of answers (NPS, CSAT) are compared as usual
    shown = {f.key: f for f in asked.figures}
    for key in ("churn_rate", "revenue_per_customer"):
        fig = shown[key]
        assert fig.value is not None and fig.previous is None and fig.change_ci is None
        assert fig.previous_label == str(last - 1) and f"before the end of {last}" in fig.note
        assert f"not compared with {last - 1}" in repr(Headline("x").add(fig))
    assert shown["nps"].previous is not None and shown["nps"].change_ci is not None
    assert not any(
        "before the end of" in (f.note or "")
        for k, f in shown.items()
        if k not in {"churn_rate", "revenue_per_customer"}
    )
    # the box and the "Headline KPIs" table show the same periods (the notebook passes the box's period)
    from bsc_toolkit import report_kpis as rk

    table_kpis = metrics.kpi_summary(
        cut_data.customers, cut_data.surveys, cut_data.transactions, freq=cut_data.freq, ratings=cut_data.ratings
    )
    assert rk.headline_table(table_kpis, kpis.period, currency="USD")[1] == kpis.period == last - 1
    span = rk.data_span(cut_data.surveys, cut_data.transactions)
    assert span[1] < cut <= span[1] + pd.Timedelta(days=7)
    assert rk.headline_periods(table_kpis, span=span) == (
        last - 1, last - 2, last, f"the data end on {span[1]:%Y-%m-%d}, before the end of {last}"
    )  # fmt: skip
    assert rk.headline_periods(table_kpis)[:3] == (last, last - 1, None)  # without dates nothing is skipped
    # the KPI table a report already has is used as it is (same figures)
    again = kpi_figures(cut_data, kpis=table_kpis)
    assert again.period == kpis.period and again.previous_period == kpis.previous_period
    assert [f.value for f in again.figures] == [f.value for f in kpis.figures]


def test_sentence_fn_writes_the_sentence_at_render_time() -> None:
    hl = Headline("x", sentence_fn=lambda figs: f"{len(figs)} figures <b>so far</b>.").add(FIGS[0])
    assert "1 figures &lt;b&gt;so far&lt;/b&gt;." in hl._repr_html_()
    hl.add(FIGS[1])
    assert "2 figures" in hl._repr_html_() and "2 figures" in repr(hl)
    assert "2 figures" in hl._repr_mimebundle_()["text/plain"]
    hl.sentence = "Fixed."
    assert "Fixed." in hl._repr_html_() and "2 figures" not in hl._repr_html_()
    assert headline_sentence(FIGS[:2]) in repr(Headline("y").add(*FIGS[:2]))  # default


def test_set_replaces_figures_by_key_in_place() -> None:
    hl = Headline("x").add(
        HeadlineFigure("a", None, key="a"), HeadlineFigure("b", None, key="b"), HeadlineFigure("c", 1.0, key="c")
    )
    hl.set(HeadlineFigure("b", 2.0, key="b"), HeadlineFigure("d", 3.0, key="d"))
    assert [(f.key, f.value) for f in hl.figures] == [("a", None), ("b", 2.0), ("d", 3.0), ("c", 1.0)]
    hl.set(HeadlineFigure("e", 4.0, key="e"), replace=("a", "c"))  # the first replaced position
    assert [f.key for f in hl.figures] == ["e", "b", "d"]
    hl.set(HeadlineFigure("f", 5.0, key="f"))  # nothing to replace: appended
    assert [f.key for f in hl.figures] == ["e", "b", "d", "f"]
