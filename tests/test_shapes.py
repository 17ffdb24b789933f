"""The shape matrix: every report renders every section the capability table allows, on every shape.

Shapes are derived from a simulated data set (``tests/shapes.py``): no nps, no cost, no
transactions, no surveys, a snapshot, 1-5 and 0-10 scales, text ids, other driver names; and hostile
but valid data (``bsc validate`` accepts them, so every report must handle them): refunds in a
loss-making business with orders after churn and one in 2099, header-only tables, a single period,
the shortest dated window on few customers. The two real case studies (``examples/``) run the same
checks when the shared data are present.

The fast tests here check the pieces that make hostile data reportable: the hostile variants are
valid and as hostile as they claim, a model these data cannot identify raises
:class:`~bsc_toolkit.models._base.NotEstimableError` and the reports say why in words (the section
guard, the spend models, the chain's baseline, the what-if without money, the CLV's purchases, the
strategy-map links).
"""

from __future__ import annotations

import html
import re
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bsc_toolkit import report_kpis as rk
from bsc_toolkit import report_retention as rr
from bsc_toolkit import report_value as rv
from bsc_toolkit.capabilities import (
    SECTIONS,
    capability_table,
    data_features,
    report_applicability,
    report_section,
    section_markers,
)
from bsc_toolkit.cli import app
from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.data.io import load_dataset
from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.panel import customer_periods
from bsc_toolkit.report import ReportError, ReportJob, render_report
from tests.shapes import ALL_VARIANTS, FAR_FUTURE, HOSTILE_VARIANTS, VARIANT_REPORTS, make_variant

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ("customer_kpis", "satisfaction_retention_value", "service_profit_chain", "customer_value", "scorecard")
#: Small, fast settings where a report has bootstrap or simulation loops (the figures are not checked here).
FAST = {"n_boot": 50, "n_sims": 100}

_PY_WARNING = re.compile(r"\b(User|Runtime|Future|Deprecation|Convergence|PerfectSeparation|SettingWithCopy)Warning\b")
_NONFINITE = re.compile(r"(?<![\w.])(nan|inf|-inf|NaN%|nan%)(?![\w])")


def _render(args: tuple[str, str, str, str]) -> tuple[str, str, str | None]:
    """Run one report (in a worker process): (variant, report, HTML text or None, error)."""
    variant, report, data_dir, out = args
    job = ReportJob(
        ROOT / "notebooks" / f"{report}.ipynb", f"{variant}-{report}", report, 0, {"data_dir": data_dir, **FAST}
    )
    try:
        path = render_report(job, out_dir=out)
    except ReportError as exc:
        return f"{variant}/{report}", "", str(exc)
    return f"{variant}/{report}", path.read_text(), None


def _text_outside_tables(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    page = re.sub(r"<table\b.*?</table>", "", page, flags=re.S)
    page = re.sub(r"<img\b[^>]*>", "", page)
    return re.sub(r"<[^>]+>", " ", page)


def check_report(name: str, page: str, error: str | None, expected: dict[str, str]) -> list[str]:
    """Problems of one rendered report against the sections expected (section -> status)."""
    if error:
        return [f"{name}: failed: {error[:500]}"]
    problems = []
    markers = section_markers(page)
    for section, status in expected.items():
        if markers.get(section) != status:
            problems.append(f"{name}: section {section} is {markers.get(section)!r}, expected {status!r}")
    if "Traceback" in page:
        problems.append(f"{name}: a traceback in the HTML")
    if m := _PY_WARNING.search(page):
        problems.append(f"{name}: a Python warning in the HTML ({m.group(0)})")
    text = _text_outside_tables(page)
    if m := _NONFINITE.search(text):
        problems.append(f"{name}: a non-finite number in the text: ...{text[max(0, m.start() - 80) : m.end() + 40]}...")
    return problems


def expected_sections(data_dir: Path) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Per report: section -> expected marker status; and the reports that are not applicable."""
    data = load_dataset(data_dir)
    table = capability_table(data)
    expected: dict[str, dict[str, str]] = {}
    not_applicable = {}
    for report in REPORTS:
        missing = report_applicability(data, report)
        if missing:
            not_applicable[report] = missing
            continue
        rows = table[table["report"] == report]
        expected[report] = {
            f"{report}.{r.section}": "rendered" if r.supported else "not_applicable" for r in rows.itertuples()
        }
    return expected, not_applicable


def run_matrix(data_dirs: dict[str, Path], out: Path) -> tuple[list[str], dict]:
    """Render the reports each variant supports (only :data:`VARIANT_REPORTS` where it names some) and check them."""
    jobs, plans = [], {}
    for variant, data_dir in data_dirs.items():
        expected, not_applicable = expected_sections(data_dir)
        plans[variant] = (expected, not_applicable)
        reports = VARIANT_REPORTS.get(variant, tuple(expected))
        jobs += [(variant, report, str(data_dir), str(out / variant)) for report in expected if report in reports]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_render, jobs))
    problems = []
    pages = {}
    for (variant, report, _, _), (name, page, error) in zip(jobs, results):
        problems += check_report(name, page, error, plans[variant][0][report])
        pages[name] = page
    return problems, pages


def test_sections_table_covers_the_reports() -> None:
    assert {s.report for s in SECTIONS} == set(REPORTS)


def test_variants_limited_to_some_reports_keep_every_expectation() -> None:
    # a variant rendered for some reports only: those reports exist, and every expectation names one of them
    for variant, reports in VARIANT_REPORTS.items():
        assert variant in ALL_VARIANTS and set(reports) <= set(REPORTS)
        for expectations in (HOSTILE_SAYS, HOSTILE_NEVER_SAYS):
            named = {k.split("/")[1] for k in expectations if k.split("/")[0] == variant}
            assert named <= set(reports), f"{variant}: expectations on {named - set(reports)} would not be rendered"


#: What each report says on a hostile shape (page text, HTML-unescaped): the honest answer, not a failure.
HOSTILE_SAYS: dict[str, tuple[str, ...]] = {
    # refunds netted per customer, the loss curve of a loss-making business
    "refunds_loss_late_orders/customer_kpis": (
        "loss curve",
        "are refunds",
        "net of refunds",
        r"\(flagged in the warnings\) are left out of this report: 1 order",  # the 2099 order
    ),
    # customer-periods with a negative net revenue left out of the PPML fit, with their count
    "refunds_loss_late_orders/satisfaction_retention_value": (
        r"PPML needs a non-negative outcome: [\d,]+ customer-periods of [\d,]+ customers with a negative",
    ),
    # orders after churn kept and said
    "refunds_loss_late_orders/scorecard": ("dated after the customer's churned_at",),
    # header-only tables are "no data": sections needing them are not applicable, with the reason
    "header_only/customer_kpis": (r"This section needs overall satisfaction ratings \(surveys.csat\)",),
    "header_only/scorecard": ("no survey responses", "no transactions"),
    # trend, change and panel sections need two periods: not applicable with the reason
    "single_period/satisfaction_retention_value": ("dated surveys or transactions over two or more periods",),
    "single_period/service_profit_chain": ("dated surveys or transactions over two or more periods",),
    # the within-customer spend models are not identified; the pooled one is shown with the caveat
    "short_window/satisfaction_retention_value": (
        "Not estimable on these data",
        "changes within customers only",
        "no money figure is built on it",
    ),
    # the chain's two-period baseline is shortened to leave a follow-up, in words
    "short_window/service_profit_chain": ("the baseline is shortened to 1 period",),
    "short_window/scorecard": ("the baseline is shortened to 1 period",),
    # monthly bills declared as purchases: the BG/NBD runs to a boundary; the limiting model is fitted and said
    "monthly_billing_as_purchases/customer_value": (
        "no-heterogeneity boundary",
        r"The limiting [^.]+ model was fitted instead",
        r"Total 12-month CLV\s+[\d,]+\s+USD",
    ),
}


#: What the reports on hostile shapes must never say: one order dated 2099-01-01 does not make
#: 2099Q1 the headline period, nor move the CLV calibration window to 2098.
HOSTILE_NEVER_SAYS: dict[str, tuple[str, ...]] = {
    f"refunds_loss_late_orders/{report}": (r"209\dQ\d", r"2098-")
    for report in ("customer_kpis", "scorecard", "customer_value", "satisfaction_retention_value")
} | {"monthly_billing_as_purchases/customer_value": ("CLV withheld",)}


def hostile_problems(pages: dict[str, str]) -> list[str]:
    """What the reports on hostile shapes fail to say (:data:`HOSTILE_SAYS`) or say wrongly (:data:`HOSTILE_NEVER_SAYS`)."""
    problems = []
    for name, patterns in HOSTILE_SAYS.items():
        text = html.unescape(_text_outside_tables(pages.get(name, "")))
        problems += [f"{name}: does not say {p!r}" for p in patterns if not re.search(p, text)]
    for name, patterns in HOSTILE_NEVER_SAYS.items():
        page = html.unescape(pages.get(name, ""))
        problems += [f"{name}: says {m.group(0)!r}" for p in patterns if (m := re.search(p, page))]
    return problems


@pytest.mark.slow
def test_every_report_renders_every_supported_section_on_every_shape(
    tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path
) -> None:
    root = tmp_path_factory.mktemp("shape-matrix")
    dirs = {name: make_variant(name, small_data_dir, root / "data" / name) for name in ALL_VARIANTS}
    problems, pages = run_matrix(dirs, root / "reports")
    problems += hostile_problems(pages)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- hostile but valid data
#: What each hostile shape lacks (the keys of REQUIREMENTS that must be False), and nothing else.
HOSTILE_MISSING = {
    "refunds_loss_late_orders": set(),
    "header_only": {"csat", "nps", "drivers", "transactions", "churn_timing", "churn_dates", "dated"},
    "single_period": {"churn_timing", "churn_dates", "dated"},
    "short_window": set(),
    "monthly_billing_as_purchases": set(),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    return {name: make_variant(name, small_data_dir, root / name) for name in HOSTILE_VARIANTS}


@pytest.mark.parametrize("name", sorted(HOSTILE_VARIANTS))
def test_hostile_variants_are_valid_and_as_hostile_as_they_claim(hostile: dict[str, Path], name: str) -> None:
    res = CliRunner().invoke(app, ["validate", str(hostile[name])])
    assert res.exit_code == 0 and "valid" in res.output, res.output
    data = load_dataset(hostile[name])
    assert {k for k, v in data_features(data).items() if not v} == HOSTILE_MISSING[name]
    if name == "refunds_loss_late_orders":
        tx = data.transactions.merge(data.customers[["customer_id", "churned_at"]], on="customer_id")
        assert (tx["revenue_usd"] < 0).any() and tx["cost_usd"].sum() > tx["revenue_usd"].sum()
        assert ((tx["ordered_at"] > tx["churned_at"]) & (tx["revenue_usd"] > 0)).any()
        assert (tx["ordered_at"] == pd.Timestamp(FAR_FUTURE)).sum() == 1
    elif name == "header_only":
        assert data.surveys.empty and data.transactions.empty and len(data.customers) > 0
        assert (hostile[name] / "surveys.csv").read_text().startswith("customer_id,")
    elif name == "single_period":
        assert data.surveys["surveyed_at"].dt.to_period("Q").nunique() == 1
        assert data.transactions["ordered_at"].dt.to_period("Q").nunique() == 1
    elif name == "monthly_billing_as_purchases":
        assert data.description.clv.contractual is False
        bills = data.transactions.groupby("customer_id")["ordered_at"].agg(["size", "nunique"])
        assert (bills["size"] == bills["nunique"]).all() and data.transactions["revenue_usd"].nunique() <= 4
    else:
        assert len(data.customers) == 300 and data.surveys["surveyed_at"].dt.to_period("Q").nunique() == 1
        assert data.transactions["ordered_at"].dt.to_period("Q").nunique() == 2


def test_every_hostile_variant_has_its_expectations() -> None:
    assert set(HOSTILE_MISSING) == set(HOSTILE_VARIANTS)
    assert {name.split("/")[0] for name in HOSTILE_SAYS} == set(HOSTILE_VARIANTS)


def test_the_guard_states_a_model_the_data_cannot_identify(hostile: dict[str, Path], capsys, monkeypatch) -> None:
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: print(obj.data))
    data = load_dataset(hostile["short_window"])
    with report_section(data, "satisfaction_retention_value", "cox") as ok:
        assert ok
        raise NotEstimableError("nobody churned in a surveyed period <b>")
    out = capsys.readouterr().out
    assert "Not estimable on this data set" in out and "nobody churned in a surveyed period \\<b\\>" in out
    assert "could not be computed" not in out
    assert section_markers(out) == {"satisfaction_retention_value.cox": "not_estimable"}
    with report_section(data, "satisfaction_retention_value", "cox") as ok:
        raise ValueError("a defect")
    assert section_markers(capsys.readouterr().out) == {"satisfaction_retention_value.cox": "error"}
    # a section run in several cells keeps its worst status: a later cell that renders hides nothing
    page = out + out.replace("not_estimable", "rendered")
    assert section_markers(page) == {"satisfaction_retention_value.cox": "not_estimable"}


def test_a_short_window_gets_a_shorter_chain_baseline_said_in_words(hostile: dict[str, Path]) -> None:
    from bsc_toolkit.models.chain import chain_baseline_periods, customer_chain_table

    data = load_dataset(hostile["short_window"])
    baseline, said = chain_baseline_periods(data.surveys, data.transactions, "Q", baseline_periods=2)
    assert baseline == 1 and "the baseline is shortened to 1 period" in said and "2 periods" in said
    assert chain_baseline_periods(data.surveys, data.transactions, "M", baseline_periods=2) == (2, "")
    with pytest.raises(NotEstimableError, match="leaves no follow-up"):
        customer_chain_table(data.customers, data.surveys, data.transactions, baseline_periods=2)
    with pytest.warns(UserWarning, match="survey noise cannot be estimated"):
        table = customer_chain_table(data.customers, data.surveys, data.transactions, baseline_periods=baseline)
    last = data.transactions["ordered_at"].max().to_period("Q")
    assert table.attrs["baseline"] == (str(last - 1),) * 2 and table.attrs["follow_up"] == (str(last),) * 2
    one = load_dataset(hostile["single_period"])
    with pytest.raises(NotEstimableError, match="one period"):
        chain_baseline_periods(one.surveys, one.transactions, "Q")


def test_spend_models_fit_what_the_data_identify_and_say_why_not_the_rest(hostile: dict[str, Path]) -> None:
    data = load_dataset(hostile["short_window"])
    panel, _ = rr.retention_panel(data, "Q")
    fin = rr.spend_models(rr.integer_ids(panel), 7.0, "EUR", has_cost=True)
    assert list(fin.models) == ["pooled, revenue (EUR)"] and fin.ppml is None
    assert set(fin.not_estimable) == {
        "within (FE), revenue (EUR)",
        "first differences, revenue (EUR)",
        "within (FE), margin (EUR)",
        "PPML (FE), revenue (EUR)",
    }
    text = fin.not_estimable_markdown()
    assert "changes within customers only" in text and "no money figure is built on it" in text
    assert list(fin.summary().index.get_level_values(0).unique()) == ["pooled, revenue (EUR)"]
    plan = rr.what_if_plan(None, None, True)
    assert "could not be estimated" in plan["revenue_usd"]


def test_what_if_without_a_spend_model_projects_retention_only(small_sim) -> None:
    from bsc_toolkit.models.retention import DiscreteTimeHazardModel
    from bsc_toolkit.models.whatif import what_if

    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    churn = DiscreteTimeHazardModel(link="cloglog", nonlinearity_test=False).fit(panel)
    retention_only = what_if(panel, churn_model=churn, n_sims=40, seed=3, money=False)
    assert list(retention_only.summary.index) == ["retained_customers"]
    assert list(retention_only.draws.columns) == ["retained_customers"]
    assert not [c for c in retention_only.customers.columns if c.endswith("_usd")]  # unknown, not 0
    full = what_if(panel, churn_model=churn, n_sims=40, seed=3)
    pd.testing.assert_series_equal(
        full.summary.loc["retained_customers"], retention_only.summary.loc["retained_customers"]
    )
    plan = rr.what_if_plan(rr.link_evidence(churn, "churn"), None, True)
    text = rr.what_if_markdown(retention_only, "EUR", plan, RatingScale(1, 10))
    retained, revenue, margin = [line for line in text.splitlines() if line.startswith("- ")]
    assert "retained customers" in retained and "change **" in retained
    assert "*not shown*" in revenue and "spend model could not be estimated" in revenue and "EUR" in revenue
    assert "*not shown*" in margin and "EUR" in margin


def test_the_clv_models_need_purchases_before_the_calibration_end() -> None:
    refunds = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "revenue_usd": [-10.0, -5.0, -1.0],
        }
    )
    netting = rv.net_refunds(refunds)
    empty = pd.DataFrame()
    with pytest.raises(NotEstimableError, match="no customer-week has a positive net spend .*3 of them refunds"):
        rv.require_purchases(empty, empty, netting, "2024-02-01")
    with pytest.raises(NotEstimableError, match="no purchase on or before the calibration end \\(2024-02-01\\)"):
        rv.require_purchases(pd.DataFrame({"frequency": [0.0]}), empty, netting, "2024-02-01")
    rv.require_purchases(pd.DataFrame({"frequency": [0.0]}), pd.DataFrame({"frequency": [0.0]}), netting, "2024-02-01")


def test_thin_data_raise_not_estimable_naming_what_they_lack(hostile: dict[str, Path]) -> None:
    from bsc_toolkit.models.clv import BetaGeoFitter
    from bsc_toolkit.models.retention import DiscreteTimeHazardModel

    one_purchase_each = pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [5.0, 8.0]})
    with pytest.raises(NotEstimableError, match="no customer has a repeat purchase"):
        BetaGeoFitter().fit(one_purchase_each)
    data = load_dataset(hostile["short_window"])
    panel = customer_periods(data.customers.assign(churned_at=pd.NaT), data.surveys, data.transactions)
    with pytest.raises(NotEstimableError, match="nobody churned") as caught:
        DiscreteTimeHazardModel().fit(panel)
    assert isinstance(caught.value, ValueError)  # callers that caught ValueError still do


def test_link_estimates_say_why_the_chain_is_not_estimable(hostile: dict[str, Path]) -> None:
    data = load_dataset(hostile["short_window"])
    nobody_left = SimpleNamespace(
        customers=data.customers.assign(churned_at=pd.NaT),
        surveys=data.surveys,
        transactions=data.transactions,
        drivers=data.drivers,
        ratings=data.ratings,
        currency="EUR",
    )
    features = dict.fromkeys(rk.LINK_NEEDS, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the noise warning of the one-survey cohort
        links, note, models = rk.link_estimates(nobody_left, features, "Q", n_boot=20)
    assert "not estimable" in note and "nobody churned" in note and "shortened" not in note
    assert set(models) == {"driver analysis"}
    assert set(links["target"]) == {"customer satisfaction"}  # the driver link only
    assert np.isfinite(links["estimate"]).all()
