"""The Balanced Scorecard frame: definitions (YAML), evaluation (RAG status) and the strategy map."""

from bsc_toolkit.scorecard.evaluate import evaluate_scorecard, rag_status, render_scorecard_html
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
    "PERSPECTIVES",
    "Measure",
    "Objective",
    "Perspective",
    "Scorecard",
    "ScorecardError",
    "Thresholds",
    "default_scorecard_path",
    "estimate_link_strengths",
    "evaluate_scorecard",
    "load_scorecard",
    "match_link_strengths",
    "plot_strategy_map",
    "rag_status",
    "render_scorecard_html",
    "scorecard_from_dict",
]
