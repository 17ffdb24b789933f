"""Check cells of the teaching notebooks."""

from __future__ import annotations

import math

import pytest

from bsc_toolkit.teaching import check_estimate, check_estimates


def test_placeholder_asks_to_fill_in():
    r = check_estimate("effect of csat", None, -0.45)
    assert r.passed is None and "Fill in" in str(r) and "effect of csat" in str(r)
    assert "<div" in r._repr_html_()


def test_relative_check_messages():
    r = check_estimate("weight", 0.33, 0.35, tolerance=0.1)
    assert r.passed is True
    assert "your estimate 0.33 vs truth 0.35: within 6%" in r.message
    assert r.error == pytest.approx(-0.02) and r.relative_error == pytest.approx(0.02 / 0.35)
    bad = check_estimate("weight", 0.25, 0.35, tolerance=0.1)
    assert bad.passed is False and "off by 29%" in bad.message
    assert check_estimate("w", 0.315, 0.35, tolerance=0.1).passed is True  # boundary: exactly 10 %


def test_absolute_and_zero_truth():
    r = check_estimate("nps", -18.0, -20.0, tolerance=2.5, relative=False)
    assert r.passed is True and "within 2" in r.message
    z = check_estimate("zero", 0.05, 0.0, tolerance=0.1)
    assert z.passed is True and z.relative_error is None


def test_bad_estimates():
    with pytest.raises(ValueError, match="must be a number"):
        check_estimate("x", "abc", 1.0)
    assert check_estimate("x", math.nan, 1.0).passed is False
    with pytest.raises(ValueError, match="tolerance"):
        check_estimate("x", 1.0, 1.0, tolerance=-1)


def test_check_estimates_table():
    truth = {"time": 0.15, "quality": 0.35}
    empty = check_estimates(None, truth)
    assert list(empty["name"]) == ["time", "quality"] and empty["passed"].isna().all()
    assert "Fill in" in empty._repr_html_()
    full = check_estimates({"time": 0.16, "quality": 0.2}, truth, tolerance=0.1)
    assert list(full["passed"]) == [True, False]
    assert "1 of 2 estimates" in full._repr_html_()
    with pytest.raises(ValueError, match="no true value"):
        check_estimates({"speed": 1.0}, truth)


def test_check_estimates_html_is_formatted_with_status_words():
    truth = {"time": 0.15, "quality": 0.35}
    html = check_estimates({"time": 0.16, "quality": 0.2}, truth, tolerance=0.1)._repr_html_()
    assert "1 of 2 estimates within tolerance." in html and "Well done" not in html
    assert "within tolerance</td>" in html and "not close enough yet</td>" in html  # words, not colour
    assert "6.7%" in html and "42.9%" in html  # relative errors as percentages
    assert "0.16000" not in html and "0.150" in html  # no raw float repr
    passed = check_estimates({"time": 0.15, "quality": 0.35}, truth)._repr_html_()
    assert "2 of 2 estimates within tolerance. Well done." in passed and "not close enough" not in passed
    empty = check_estimates(None, truth)._repr_html_()
    assert "Fill in your estimate" in empty and "to fill in</td>" in empty and "well done" not in empty.lower()


# ------------------------------------------------------------------------------------------ display glue


@pytest.fixture(scope="module")
def sim():
    from bsc_toolkit.data.simulate import simulate

    return simulate(800, n_periods=6, seed=5)


def test_simulation_headline_is_the_latest_quarter_of_the_data(sim):
    from bsc_toolkit import metrics
    from bsc_toolkit.teaching import simulation_headline

    hl = simulation_headline(sim, "Teaching <1>")
    assert [f.key for f in hl.figures] == ["nps", "csat_mean", "churn_rate"]
    kpis = metrics.kpi_summary(sim.customers, sim.surveys, sim.transactions)
    last = kpis.iloc[-1]
    nps, csat, churn = hl.figures
    assert nps.value == pytest.approx(last["nps"]) and csat.value == pytest.approx(last["csat_mean"])
    assert churn.value == pytest.approx(last["churn_rate"])
    assert nps.previous == pytest.approx(kpis.iloc[-2]["nps"]) and nps.previous_label == str(kpis.iloc[-2]["period"])
    assert nps.ci[0] < nps.value < nps.ci[1]
    assert hl.subtitle == f"{last['period']} against {kpis.iloc[-2]['period']}, the previous period with data"
    assert any("seed 5" in c and "800 customers" in c for c in hl.caveats)
    html = hl._repr_html_()
    assert "Teaching &lt;1&gt;" in html and "NPS" in html and "churn rate" in html


def test_simulation_headline_says_no_data(sim):
    from bsc_toolkit.data.io import CustomerData
    from bsc_toolkit.teaching import simulation_headline

    data = CustomerData(sim.customers, sim.surveys.iloc[:0], sim.transactions)
    hl = simulation_headline(data, "No surveys")
    nps, csat, churn = hl.figures
    assert nps.value is None and csat.value is None and "no surveys" in nps.note
    assert churn.value is not None
    assert "no data" in hl._repr_html_()
    with pytest.raises(ValueError, match="no headline figure"):
        simulation_headline(sim, "x", keys=("nps", "speed"))


def test_kpi_tables_and_segment_means(sim):
    from bsc_toolkit import metrics
    from bsc_toolkit.teaching import kpi_tables, segment_means

    kpis = metrics.kpi_summary(sim.customers, sim.surveys, sim.transactions)
    first, second = kpi_tables(kpis, currency="EUR")
    assert first.key == "kpis" and first.data.equals(kpis)  # the whole KPI table goes to the CSV
    h1, h2 = first._repr_html_(), second._repr_html_()
    assert "churn rate" in h1 and "NPS" in h1 and "quality rating" not in h1
    assert "new customers</th>" in h1 and "customers lost</th>" in h1  # the tables' labels
    assert "quality rating" in h2 and "EUR" in h2 and "churn rate" not in h2
    assert f"{int(kpis['n_customers_start'].iloc[-1]):,}" in h1  # thousands separators
    by_segment = metrics.kpi_summary(sim.customers, sim.surveys, sim.transactions, by="segment")
    means = segment_means(by_segment)
    assert sorted(means["segment"]) == sorted(sim.customers["segment"].unique())
    smb = by_segment[by_segment["segment"] == "smb"]
    assert means.set_index("segment").loc["smb", "nps"] == pytest.approx(smb["nps"].mean())


def test_estimates_frame_and_fit_note(sim):
    import numpy as np
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    from bsc_toolkit.teaching import estimates_frame, fit_note, readable_term

    ols = smf.ols("csat ~ time + quality + C(segment, Treatment('consumer'))", data=sim.surveys.merge(
        sim.customers[["customer_id", "segment"]], on="customer_id")).fit()  # fmt: skip
    frame = estimates_frame(ols)
    assert list(frame.columns) == ["term", "estimate", "se", "ci_lower", "ci_upper", "p_value"]
    assert "segment = smb (vs consumer)" in list(frame["term"])
    row = frame.set_index("term").loc["quality"]
    assert row["estimate"] == pytest.approx(ols.params["quality"]) and row["se"] == pytest.approx(ols.bse["quality"])
    assert row["ci_lower"] == pytest.approx(ols.conf_int().loc["quality", 0])
    assert list(estimates_frame(ols, terms=["quality", "time"])["term"]) == ["quality", "time"]
    with pytest.raises(ValueError, match="not in the fit"):
        estimates_frame(ols, terms=["speed"])
    assert fit_note(ols) == f"{int(ols.nobs):,} observations."
    assert readable_term("C(segment)[T.smb]") == "segment = smb" and readable_term("below") == "below"
    # an iterative fit that stops early says so in words
    y = (sim.surveys["csat"] >= 8).astype(int)
    X = sm.add_constant(sim.surveys[["time", "quality"]].astype(float))
    glm = sm.GLM(y, X, family=sm.families.Binomial()).fit(maxiter=1)
    assert not glm.converged and "did NOT converge" in fit_note(glm)
    good = sm.GLM(y, X, family=sm.families.Binomial()).fit()
    assert good.converged and "converged in" in fit_note(good) and np.isfinite(good.params).all()
