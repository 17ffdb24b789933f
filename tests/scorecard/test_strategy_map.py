"""Strategy map: one arrow per link, link strengths matched by id, name or model node."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from bsc_toolkit.scorecard import strategy_map as sm  # noqa: E402
from bsc_toolkit.scorecard.spec import load_scorecard  # noqa: E402

CHAIN = pd.DataFrame(
    {
        "source": ["driver ratings", "customer satisfaction", "customer retention"],
        "target": ["customer satisfaction", "customer retention", "revenue"],
        "estimate": [0.35, 0.012, 520.0],
        "ci_lower": [0.31, -0.002, 300.0],
        "ci_upper": [0.39, 0.026, 740.0],
        "unit": ["csat points per rating point", "retention per csat point", "USD per retained customer"],
        "method": ["ols", "cloglog", "poisson"],
    }
)


def _arrows(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_one_arrow_per_link_without_strengths():
    card = load_scorecard()
    ax = sm.plot_strategy_map(card)
    arrows = _arrows(ax)
    links = card.links()
    assert len(arrows) == len(links) > 0
    assert {a.get_gid() for a in arrows} == {f"link:{s}->{t}" for s, t in links.to_numpy()}
    boxes = [p for p in ax.patches if (p.get_gid() or "").startswith("objective:")]
    assert len(boxes) == sum(1 for _ in card.iter_objectives())
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "Learning &\ngrowth" in texts and "Financial" in texts
    assert "[" not in texts  # no estimate labels


def test_bands_go_from_learning_at_the_bottom_to_financial_at_the_top():
    card = load_scorecard()
    pos, bands, _ = sm._layout(card)
    order = sorted(bands, key=lambda p: bands[p][0])
    assert order == ["learning_growth", "internal_process", "customer", "financial"]
    for p, o in card.iter_objectives():
        lo, hi = bands[p.perspective]
        assert lo < pos[o.id][1] < hi


def test_strengths_matched_by_model_node_and_drawn():
    card = load_scorecard()
    matched = sm.match_link_strengths(card, CHAIN)
    got = matched.dropna(subset=["estimate"]).set_index(["source", "target"])["estimate"]
    assert got.to_dict() == {
        ("customer_value", "customer_satisfaction"): 0.35,
        ("customer_satisfaction", "customer_retention"): 0.012,
        ("customer_retention", "revenue_growth"): 520.0,
    }
    ax = sm.plot_strategy_map(card, CHAIN)
    arrows = {a.get_gid(): a for a in _arrows(ax)}
    assert len(arrows) == len(card.links())
    strong = arrows["link:customer_value->customer_satisfaction"]
    weak = arrows["link:customer_satisfaction->customer_retention"]
    plain = arrows["link:skilled_staff->fast_reliable_delivery"]
    assert strong.get_linewidth() > weak.get_linewidth() and strong.get_linewidth() > plain.get_linewidth()
    assert weak.get_linestyle() != "-"  # CI includes 0 -> dashed
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "0.35 [0.31, 0.39]" in texts and "USD per retained customer" in texts


def test_match_by_id_and_name_and_bad_columns():
    card = load_scorecard()
    by_id = pd.DataFrame({"source": ["skilled_staff"], "target": ["Fast, reliable delivery"], "estimate": [1.0]})
    matched = sm.match_link_strengths(card, by_id)
    assert matched["estimate"].notna().sum() == 1
    with pytest.raises(ValueError, match="estimate"):
        sm.match_link_strengths(card, by_id.drop(columns="estimate"))


def test_old_interval_column_names_still_work_with_a_warning():
    card = load_scorecard()
    old = CHAIN.rename(columns={"ci_lower": "ci_low", "ci_upper": "ci_high"})
    with pytest.warns(FutureWarning, match="ci_low"):
        matched = sm.match_link_strengths(card, old)
    assert list(matched.columns[2:]) == list(sm.LINK_COLUMNS[2:])
    pd.testing.assert_frame_equal(matched, sm.match_link_strengths(card, CHAIN))


def test_interval_level_of_the_labels_follows_alpha():
    card = load_scorecard()
    ax = sm.plot_strategy_map(card, CHAIN)
    assert "[95% CI]" in " ".join(t.get_text() for t in ax.texts)
    ninety = CHAIN.copy()
    ninety.attrs["alpha"] = 0.1
    ax2 = sm.plot_strategy_map(card, ninety)
    assert "[90% CI]" in " ".join(t.get_text() for t in ax2.texts)
    # the same interval read as a 90% one means a larger SE, so a thinner arrow
    gid = "link:customer_satisfaction->customer_retention"  # |estimate|/SE well below the cap of 10
    width = {a.get_gid(): a.get_linewidth() for a in _arrows(ax)}[gid]
    width90 = {a.get_gid(): a.get_linewidth() for a in _arrows(ax2)}[gid]
    assert width90 < width


def test_status_colours_box_edges_and_given_axes():
    card = load_scorecard()
    status = pd.DataFrame({"objective_id": ["customer_loyalty", "customer_loyalty"], "status": ["green", "red"]})
    fig, ax = plt.subplots()
    out = sm.plot_strategy_map(card, status=status, ax=ax)
    assert out is ax
    box = next(p for p in ax.patches if p.get_gid() == "objective:customer_loyalty")
    assert np.allclose(box.get_edgecolor()[:3], matplotlib.colors.to_rgb(sm._STATUS_EDGE["red"]))
    # never by colour alone: the status is written in the box and the legend names it
    words = {t.get_gid(): t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("status:")}
    assert words == {"status:customer_loyalty": "\u2717 off target"}
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["\u2717 off target"]
    assert "status" in legend.get_title().get_text()


def test_no_status_no_status_words():
    ax = sm.plot_strategy_map(load_scorecard())
    assert ax.get_legend() is None and not any((t.get_gid() or "").startswith("status:") for t in ax.texts)


def test_estimated_strengths_label_the_default_scorecard(small_sim):
    card = load_scorecard()
    strengths = sm.estimate_link_strengths(small_sim, n_boot=20)
    matched = sm.match_link_strengths(card, strengths).dropna(subset=["estimate"])
    # the chain's node names match the default scorecard's model nodes
    assert set(zip(matched["source"], matched["target"])) == {
        ("customer_value", "customer_satisfaction"),
        ("customer_satisfaction", "customer_retention"),
        ("customer_retention", "revenue_growth"),
    }
    assert (matched["ci_lower"] <= matched["estimate"]).all() and (matched["estimate"] <= matched["ci_upper"]).all()


def test_estimate_link_strengths_warns_and_returns_none_on_failure():
    with pytest.warns(UserWarning, match="link strengths could not be estimated.*lacks the 'customers' table"):
        assert sm.estimate_link_strengths(object()) is None
