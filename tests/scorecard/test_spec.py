"""Scorecard definitions: loading, validation errors naming the YAML path."""

from __future__ import annotations

import copy
import warnings

import pytest
import yaml

from bsc_toolkit.scorecard.spec import (
    KNOWN_KPIS,
    PERSPECTIVES,
    Scorecard,
    ScorecardError,
    default_scorecard_path,
    load_scorecard,
    scorecard_from_dict,
)

BASE = {
    "name": "Test",
    "perspectives": [
        {
            "perspective": "financial",
            "objectives": [
                {"id": "rev", "name": "Revenue", "measures": [{"name": "Revenue", "kpi": "revenue_usd", "target": 100}]}
            ],
        },
        {
            "perspective": "customer",
            "objectives": [
                {
                    "id": "sat",
                    "name": "Satisfaction",
                    "drives": ["ret"],
                    "measures": [
                        {"name": "CSAT", "kpi": "csat_mean", "target": 7.5},
                        {"name": "NPS", "kpi": "nps", "target": 10},
                        {"name": "Top box", "kpi": "csat_top_box", "target": 0.3, "scale": [1, 10]},
                    ],
                },
                {"id": "ret", "name": "Retention", "causes": ["rev"], "measures": []},
            ],
        },
    ],
}


def _write(tmp_path, data):
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_known_kpis_are_columns_of_the_kpi_table(small_sim):
    from bsc_toolkit.metrics import KPI_COLUMNS, kpi_summary

    assert KNOWN_KPIS is KPI_COLUMNS  # one list of KPI names
    table = kpi_summary(small_sim.customers, small_sim.surveys, small_sim.transactions)
    # every KPI a measure can bind to is computed (kpi_summary fills absent ones with NaN)
    assert table[list(KNOWN_KPIS)].notna().all().all()


def test_default_scorecard_loads_with_four_perspectives():
    card = load_scorecard()
    assert default_scorecard_path().name == "default_customer_scorecard.yaml"
    assert [p.perspective for p in card.perspectives] == list(PERSPECTIVES)
    kpis = {m.kpi for _, _, m in card.iter_measures() if m.kpi}
    # the customer perspective in detail: the four concerns and the core outcome measures
    assert {
        "time_mean",
        "quality_mean",
        "service_mean",
        "cost_mean",
        "csat_mean",
        "csat_top_box",
        "nps",
        "retention_rate",
        "churn_rate",
        "acquired",
        "profit_per_customer_usd",
    } <= kpis
    nodes = {o.model_node for _, o in card.iter_objectives()}
    assert {"driver ratings", "customer satisfaction", "customer retention", "revenue"} <= nodes


def test_load_roundtrip_and_links(tmp_path):
    card = load_scorecard(_write(tmp_path, BASE))
    assert isinstance(card, Scorecard)
    links = card.links()
    assert list(map(tuple, links.to_numpy())) == [("sat", "ret"), ("ret", "rev")]  # `causes` = `drives`
    m = card.objective("sat").measures[0]
    assert (m.direction, m.thresholds.amber, m.thresholds.red, m.thresholds.relative) == ("higher", 0.0, 0.05, True)
    assert m.key == "csat_mean" and m.source == "csat_mean"
    assert list(card.measures_table()["measure_id"]) == ["revenue_usd", "csat_mean", "nps", "csat_top_box"]
    assert list(card.measures_table()["scale"]) == [None, None, None, "1-10"]


def test_missing_target_names_file_and_yaml_path(tmp_path):
    data = copy.deepcopy(BASE)
    del data["perspectives"][1]["objectives"][0]["measures"][2]["target"]
    path = _write(tmp_path, data)
    with pytest.raises(ScorecardError) as err:
        load_scorecard(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "perspectives[1].objectives[0].measures[2].target: Field required" in msg


def test_unknown_kpi_lists_valid_names():
    data = copy.deepcopy(BASE)
    data["perspectives"][1]["objectives"][0]["measures"][1]["kpi"] = "npss"
    with pytest.raises(ScorecardError) as err:
        scorecard_from_dict(data)
    msg = str(err.value)
    assert "perspectives[1].objectives[0].measures[1].kpi" in msg
    assert "did you mean 'nps'" in msg
    assert all(k in msg for k in KNOWN_KPIS)


def test_custom_column_allowed_but_not_both_sources():
    data = copy.deepcopy(BASE)
    data["perspectives"][0]["objectives"][0]["measures"][0] = {"name": "x", "column": "my_kpi", "target": 1}
    assert scorecard_from_dict(data).objective("rev").measures[0].source == "my_kpi"
    data["perspectives"][0]["objectives"][0]["measures"][0]["kpi"] = "nps"
    with pytest.raises(ScorecardError, match=r"perspectives\[0\]\.objectives\[0\]\.measures\[0\]: give exactly one"):
        scorecard_from_dict(data)


def test_unknown_objective_link_is_an_error():
    data = copy.deepcopy(BASE)
    data["perspectives"][1]["objectives"][0]["drives"] = ["retx"]
    with pytest.raises(ScorecardError) as err:
        scorecard_from_dict(data)
    msg = str(err.value)
    assert "perspectives[1].objectives[0].drives[0]: unknown objective id 'retx'" in msg
    assert "did you mean 'ret'" in msg


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["perspectives"][0].update(perspective="marketing"), "perspectives[0].perspective"),
        (lambda d: d["perspectives"][1].update(perspective="Financial"), "already defined"),
        (lambda d: d["perspectives"][1]["objectives"][1].update(id="rev"), "duplicate objective id 'rev'"),
        (
            lambda d: d["perspectives"][0]["objectives"][0]["measures"][0].update(direction="up"),
            "perspectives[0].objectives[0].measures[0].direction",
        ),
        (
            lambda d: d["perspectives"][0]["objectives"][0]["measures"][0].update(
                thresholds={"amber": 0.2, "red": 0.1}
            ),
            "red (0.1) must be >= amber (0.2)",
        ),
        (
            lambda d: d["perspectives"][0]["objectives"][0]["measures"][0].update(colour="red"),
            "perspectives[0].objectives[0].measures[0].colour: Extra inputs are not permitted",
        ),
        (
            lambda d: d["perspectives"][0]["objectives"][0]["measures"][0].update(target="high"),
            "perspectives[0].objectives[0].measures[0].target",
        ),
        (
            lambda d: d["perspectives"][0]["objectives"][0]["measures"][0].update(target=0),
            "perspectives[0].objectives[0].measures[0]: relative thresholds need a non-zero target",
        ),
        (lambda d: d["perspectives"][1]["objectives"][1].update(causes=["ret"]), "links to itself"),
    ],
)
def test_validation_errors_name_the_field(mutate, expected):
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ScorecardError) as err:
        scorecard_from_dict(data, source="card.yaml")
    assert expected in str(err.value)
    assert "card.yaml" in str(err.value)


def test_perspective_aliases():
    data = copy.deepcopy(BASE)
    data["perspectives"][0]["perspective"] = "Learning & Growth"
    data["perspectives"][1]["perspective"] = "internal process"
    card = scorecard_from_dict(data)
    assert [p.perspective for p in card.perspectives] == ["learning_growth", "internal_process"]


def test_zero_target_with_absolute_thresholds():
    data = copy.deepcopy(BASE)
    data["perspectives"][1]["objectives"][0]["measures"][1].update(target=0, thresholds={"red": 5, "relative": False})
    assert scorecard_from_dict(data).objective("sat").measures[1].target == 0


def test_bad_yaml_and_missing_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("perspectives: [\n  - : :")
    with pytest.raises(ScorecardError, match="bad.yaml: not valid YAML"):
        load_scorecard(path)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_scorecard(tmp_path / "nope.yaml")
    path.write_text("- just a list")
    with pytest.raises(ScorecardError, match="must be a mapping"):
        load_scorecard(path)


def test_csat_top2_box_is_a_deprecated_alias(tmp_path):
    data = copy.deepcopy(BASE)
    data["perspectives"][1]["objectives"][0]["measures"][2]["kpi"] = "csat_top2_box"
    with pytest.warns(FutureWarning, match="csat_top2_box.*kpi: csat_top_box"):
        card = load_scorecard(_write(tmp_path, data))
    measure = card.objective("sat").measures[2]
    assert measure.kpi == "csat_top_box" and measure.source == "csat_top_box" and measure.key == "csat_top_box"


def test_default_scorecard_uses_the_new_names_and_declares_rating_scales():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated name in the packaged file
        card = load_scorecard()
    scales = {m.source: m.scale for _, _, m in card.iter_measures() if m.scale is not None}
    ratings = ["csat_mean", "csat_top_box", "time_mean", "quality_mean", "service_mean", "cost_mean"]
    assert {k: scales[k] for k in ratings} == dict.fromkeys(ratings, (1.0, 10.0))
    assert scales["nps"] == (0.0, 10.0)
    assert "csat_top2_box" not in default_scorecard_path().read_text()
    assert {m.rating for _, _, m in card.iter_measures() if m.scale} == {
        "csat",
        "nps",
        "time",
        "quality",
        "service",
        "cost",
    }


@pytest.mark.parametrize("bad", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_targets_are_rejected_with_the_field_path(tmp_path, bad):
    path = tmp_path / "card.yaml"
    text = yaml.safe_dump(BASE).replace("target: 7.5", f"target: {bad}")
    assert bad in text
    path.write_text(text)
    with pytest.raises(ScorecardError) as err:
        load_scorecard(path)
    assert "perspectives[1].objectives[0].measures[0].target: Input should be a finite number" in str(err.value)


@pytest.mark.parametrize(
    "scale, expected",
    [([10, 1], "finite low < high"), ([1, 1], "finite low < high"), ([1, ".inf"], "finite"), ([1, 5, 7], "scale")],
)
def test_bad_rating_scales_are_rejected(scale, expected):
    data = copy.deepcopy(BASE)
    data["perspectives"][1]["objectives"][0]["measures"][0]["scale"] = [
        float("inf") if v == ".inf" else v for v in scale
    ]
    with pytest.raises(ScorecardError) as err:
        scorecard_from_dict(data)
    assert "perspectives[1].objectives[0].measures[0].scale" in str(err.value) and expected in str(err.value)


def test_measure_rating_names_the_rating_column():
    data = copy.deepcopy(BASE)
    data["perspectives"][1]["objectives"][0]["measures"].append({"name": "Speed", "column": "speed_mean", "target": 3})
    card = scorecard_from_dict(data)
    assert [m.rating for m in card.objective("sat").measures] == ["csat", "nps", "csat", "speed"]
    assert card.objective("rev").measures[0].rating is None


def test_a_scorecard_that_is_not_utf8_is_a_scorecard_error(tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(default_scorecard_path().read_text().replace("Customer", "Kunden ä", 1).encode("latin-1"))
    with pytest.raises(ScorecardError, match=r"latin.yaml: it is not UTF-8 text \(byte \d+: .*\); save it as UTF-8"):
        load_scorecard(latin)
