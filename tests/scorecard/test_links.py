"""Link strengths of the service-profit chain for the strategy map (bsc_toolkit.scorecard.links)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models._base import NotFittedError
from bsc_toolkit.models.chain import ServiceProfitChain, customer_chain_table
from bsc_toolkit.models.drivers import DriverImportance
from bsc_toolkit.scorecard import chain_link_strengths, link_strengths_table
from bsc_toolkit.scorecard.links import LINK_COLUMNS


@pytest.fixture(scope="module")
def table(small_sim):
    return customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions)


def test_chain_link_strengths(small_sim, table):
    links = chain_link_strengths(small_sim, n_boot=50)
    # the same table as from models fitted beforehand (what the notebook does)
    drivers = DriverImportance().fit(small_sim.surveys, n_boot=50, seed=0)
    chain = ServiceProfitChain().fit(table, n_boot=50, seed=0)
    pd.testing.assert_frame_equal(link_strengths_table(drivers, chain), links)
    assert list(links.columns) == list(LINK_COLUMNS)
    assert list(links.columns) == ["source", "target", "estimate", "ci_lower", "ci_upper", "unit", "method"]
    assert links.attrs["alpha"] == 0.05
    main = links[~links["source"].str.startswith("driver ratings:")]
    pairs = list(zip(main["source"], main["target"]))
    for pair in [
        ("driver ratings", "customer satisfaction"),
        ("customer satisfaction", "customer retention"),
        ("customer retention", "revenue"),
        ("customer satisfaction", "revenue"),
    ]:
        assert pair in pairs
    assert (links["ci_lower"] <= links["estimate"]).all() and (links["estimate"] <= links["ci_upper"]).all()
    assert (links.loc[links["source"].str.startswith("driver ratings:"), "estimate"] > 0).all()
    # the rows carry the models' own estimates and intervals
    row = links[(links["source"] == "customer satisfaction") & (links["target"] == "customer retention")].iloc[0]
    assert row["estimate"] == chain.summary.loc["mediator_effect", "coef"]
    assert row["ci_lower"] == chain.summary.loc["mediator_effect", "ci_lower"]
    quality = links.set_index("source").loc["driver ratings: quality"]
    assert quality["ci_upper"] == drivers.summary.loc["quality", "ci_upper"]


def test_margin_outcome_and_not_fitted(small_sim, table):
    drivers = DriverImportance().fit(small_sim.surveys, n_boot=0)
    chain = ServiceProfitChain(alpha=0.1).fit(table, outcome="margin_usd", n_boot=20)
    links = link_strengths_table(drivers, chain, freq="M")
    assert "margin" in set(links["target"]) and links.attrs["alpha"] == 0.1
    assert links["unit"].str.contains("months").any()
    with pytest.raises(NotFittedError, match="chain is not fitted"):
        link_strengths_table(drivers, ServiceProfitChain())
    with pytest.raises(NotFittedError, match="drivers is not fitted"):
        link_strengths_table(DriverImportance(), chain)
    with pytest.raises(ValueError, match="lacks the 'customers' table"):
        chain_link_strengths(object())


@pytest.mark.slow  # a fresh interpreter: ~2-3 s
def test_importing_the_scorecard_does_not_load_the_models():
    code = (
        "import sys, bsc_toolkit.scorecard; "
        "print(any(m.startswith(('bsc_toolkit.models', 'statsmodels', 'bsc_toolkit.data.simulate')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_units_name_scales_and_currency(small_sim, table):
    from bsc_toolkit.contracts import default_scales

    scales = default_scales()
    drivers = DriverImportance(scales=scales).fit(small_sim.surveys, n_boot=0)
    chain = ServiceProfitChain(scale=scales["csat"], currency="GBP").fit(table, n_boot=20)
    links = link_strengths_table(drivers, chain).set_index("source")
    assert links.loc["driver ratings: quality", "unit"] == "csat points (1-10) per rating point (1-10)"
    assert links.loc["customer retention", "unit"] == "GBP revenue per quarter retained"
    money = links[links["target"] == "revenue"]["unit"]
    assert money.str.startswith("GBP").all() and not links["unit"].str.contains("USD").any()
    assert (links.loc["customer satisfaction", "unit"].str.contains(r"csat point \(1-10\)")).all()


def test_one_model_alone(small_sim, table):
    drivers = DriverImportance(alpha=0.1).fit(small_sim.surveys, n_boot=0)
    only_drivers = link_strengths_table(drivers, None)
    assert set(only_drivers["target"]) == {"customer satisfaction"} and only_drivers.attrs["alpha"] == 0.1
    chain = ServiceProfitChain().fit(table, n_boot=20)
    only_chain = link_strengths_table(None, chain)
    assert not only_chain["source"].str.startswith("driver ratings").any()
    assert len(only_chain) == 5 and list(only_chain.columns) == list(LINK_COLUMNS)
    with pytest.raises(ValueError, match="both"):
        link_strengths_table(None, None)


def test_chain_link_strengths_uses_the_data_sets_drivers_scales_and_currency(small_sim):
    from types import SimpleNamespace

    from bsc_toolkit.contracts import RatingScale

    renamed = {"time": "waiting", "quality": "expectations", "service": "image", "cost": "value"}
    surveys = small_sim.surveys.rename(columns=renamed)
    scales = {"csat": RatingScale(1, 10), **{d: RatingScale(1, 10) for d in renamed.values()}}
    data = SimpleNamespace(
        customers=small_sim.customers,
        surveys=surveys,
        transactions=small_sim.transactions,
        drivers=tuple(renamed.values()),
        ratings=scales,
        currency="EUR",
    )
    links = chain_link_strengths(data, n_boot=10)
    assert {f"driver ratings: {d}" for d in renamed.values()} <= set(links["source"])
    assert links.loc[links["target"] == "revenue", "unit"].str.startswith("EUR").all()
    # the same estimates as on the default names: only the labels follow the data set
    default = chain_link_strengths(small_sim, n_boot=10)
    np.testing.assert_allclose(links["estimate"], default["estimate"])
