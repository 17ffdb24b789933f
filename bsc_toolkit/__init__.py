"""bsc-toolkit: the customer perspective of the Balanced Scorecard.

Public API (re-exported names only; the modules hold the code):

- data: :func:`simulate`, :class:`Truth`, :func:`load_dataset`, :func:`load_truth`,
  :class:`CustomerData`, :class:`DataValidationError`, :func:`load_cdnow`,
  :func:`load_description` (``dataset.yaml``), :class:`RatingScale`, :func:`capability_table`
- KPIs: the :mod:`bsc_toolkit.metrics` module, :func:`customer_periods`
- link models: :class:`DiscreteTimeHazardModel`, :class:`CoxChurnModel`, :func:`kaplan_meier_by_band`,
  :class:`ChurnFlagModel`, :func:`kaplan_meier_snapshot` (snapshot data),
  :class:`FinancialPanelModel`, :func:`what_if`, :class:`DriverImportance`,
  :class:`ServiceProfitChain`
- customer value: :func:`rfm_summary`, :class:`BetaGeoFitter`, :class:`GammaGammaFitter`,
  :func:`customer_lifetime_value`, :func:`clv_at_risk`
- scorecard: :func:`load_scorecard`, :func:`evaluate_scorecard`, :func:`render_scorecard_html`,
  :func:`plot_strategy_map`
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Re-exported names and the module that holds each. Imported lazily (PEP 562) so that
# `import bsc_toolkit` and the `bsc` command start fast without loading every model library.
_EXPORTS: dict[str, str] = {
    "metrics": "bsc_toolkit.metrics",
    "DRIVERS": "bsc_toolkit.contracts",
    "RatingScale": "bsc_toolkit.contracts",
    "load_description": "bsc_toolkit.data.description",
    "DescriptionError": "bsc_toolkit.data.description",
    "capability_table": "bsc_toolkit.capabilities",
    "SimulatedData": "bsc_toolkit.data.simulate",
    "Truth": "bsc_toolkit.data.simulate",
    "simulate": "bsc_toolkit.data.simulate",
    "CustomerData": "bsc_toolkit.data.io",
    "load_dataset": "bsc_toolkit.data.io",
    "load_truth": "bsc_toolkit.data.io",
    "DataValidationError": "bsc_toolkit.data.schemas",
    "load_cdnow": "bsc_toolkit.data.datasets",
    "customer_periods": "bsc_toolkit.panel",
    "DiscreteTimeHazardModel": "bsc_toolkit.models.retention",
    "ChurnLogitModel": "bsc_toolkit.models.retention",  # deprecated alias, removed in 0.3.0
    "CoxChurnModel": "bsc_toolkit.models.retention",
    "kaplan_meier_by_band": "bsc_toolkit.models.retention",
    "ChurnFlagModel": "bsc_toolkit.models.retention",
    "kaplan_meier_snapshot": "bsc_toolkit.models.retention",
    "FinancialPanelModel": "bsc_toolkit.models.financial",
    "what_if": "bsc_toolkit.models.whatif",
    "DriverImportance": "bsc_toolkit.models.drivers",
    "ServiceProfitChain": "bsc_toolkit.models.chain",
    "BetaGeoFitter": "bsc_toolkit.models.clv",
    "GammaGammaFitter": "bsc_toolkit.models.clv",
    "customer_lifetime_value": "bsc_toolkit.models.clv",
    "rfm_summary": "bsc_toolkit.models.clv",
    "clv_at_risk": "bsc_toolkit.models.clv",
    "evaluate_scorecard": "bsc_toolkit.scorecard",
    "load_scorecard": "bsc_toolkit.scorecard",
    "plot_strategy_map": "bsc_toolkit.scorecard",
    "render_scorecard_html": "bsc_toolkit.scorecard",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bsc_toolkit' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if module.__name__.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
