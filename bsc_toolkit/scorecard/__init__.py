"""The Balanced Scorecard frame: definitions (YAML), evaluation (RAG status), link strengths and the strategy map."""

from bsc_toolkit.scorecard.evaluate import evaluate_scorecard, rag_status, render_scorecard_html
from bsc_toolkit.scorecard.links import LINK_COLUMNS, chain_link_strengths, link_strengths_table
from bsc_toolkit.scorecard.spec import (
    KNOWN_KPIS,
    PERSPECTIVES,
    Measure,
    Objective,
    Perspective,
    Scorecard,
    ScorecardError,
    Thresholds,
    default_scorecard_path,
    load_scorecard,
    scorecard_from_dict,
)
from bsc_toolkit.scorecard.strategy_map import estimate_link_strengths, match_link_strengths, plot_strategy_map

__all__ = [
    "KNOWN_KPIS",
    "LINK_COLUMNS",
    "PERSPECTIVES",
    "Measure",
    "Objective",
    "Perspective",
    "Scorecard",
    "ScorecardError",
    "Thresholds",
    "chain_link_strengths",
    "default_scorecard_path",
    "estimate_link_strengths",
    "evaluate_scorecard",
    "link_strengths_table",
    "load_scorecard",
    "match_link_strengths",
    "plot_strategy_map",
    "rag_status",
    "render_scorecard_html",
    "scorecard_from_dict",
]
