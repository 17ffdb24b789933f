"""Every public model follows the one convention of ``bsc_toolkit.models._base``.

The test walks the ``bsc_toolkit.models`` package, finds every public class with a ``fit`` method and
checks it: a FittedModel subclass, ``alpha`` in the constructor, NotFittedError before ``fit``,
``fit`` returns self, fitted attributes end in ``_``, ``summary`` starts with the core columns and
names intervals ``ci_lower``/``ci_upper``, ``diagnostics_`` is a list of Diagnostic, and ``alpha``
changes the interval width. A new model without a recipe below fails the test until one is added.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bsc_toolkit.models as models_pkg
from bsc_toolkit.models._base import SUMMARY_COLUMNS, Diagnostic, FittedModel, NotFittedError
from bsc_toolkit.models.clv import simulate_bgnbd_covariates, simulate_sbg


def _public_model_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(models_pkg.__path__, prefix="bsc_toolkit.models."):
        if any(part.startswith("_") for part in info.name.split(".")[2:]):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and not name.startswith("_")
                and obj.__module__.startswith("bsc_toolkit.models")
                and callable(getattr(obj, "fit", None))
                and not (obj.__doc__ or "").startswith("Deprecated alias")
            ):
                found[name] = obj
    return found


MODELS = _public_model_classes()


@pytest.fixture(scope="module")
def inputs(small_sim) -> dict[str, Any]:
    from bsc_toolkit.models.chain import customer_chain_table
    from bsc_toolkit.models.clv import rfm_summary
    from bsc_toolkit.models.retention import survival_episodes
    from bsc_toolkit.panel import customer_periods

    panel = customer_periods(small_sim.customers, small_sim.surveys, small_sim.transactions)
    return {
        "sim": small_sim,
        "panel": panel,
        "episodes": survival_episodes(panel),
        "chain_table": customer_chain_table(small_sim.customers, small_sim.surveys, small_sim.transactions),
        "rfm": rfm_summary(small_sim.transactions, freq="W"),
    }


# name -> (constructor keyword arguments, fit(model, inputs) -> model)
RECIPES: dict[str, tuple[dict[str, Any], Callable[[Any, dict[str, Any]], Any]]] = {
    "DiscreteTimeHazardModel": ({}, lambda m, d: m.fit(d["panel"])),
    "CoxChurnModel": ({}, lambda m, d: m.fit(d["episodes"])),
    "ChurnFlagModel": (
        {},
        lambda m, d: m.fit(
            d["sim"].customers.assign(churned=d["sim"].customers["churned_at"].notna()), d["sim"].surveys
        ),
    ),
    "FinancialPanelModel": ({"outcome": "revenue_usd", "estimator": "within"}, lambda m, d: m.fit(d["panel"])),
    "DriverImportance": ({}, lambda m, d: m.fit(d["sim"].surveys, n_boot=30, seed=0)),
    "ServiceProfitChain": ({}, lambda m, d: m.fit(d["chain_table"], n_boot=30, seed=0)),
    "BetaGeoFitter": ({}, lambda m, d: m.fit(d["rfm"])),
    "GammaGammaFitter": ({}, lambda m, d: m.fit(d["rfm"])),
    "BetaGeoCovariatesFitter": (
        {},
        lambda m, d: m.fit(
            simulate_bgnbd_covariates(3000, 0.5, 4.0, 0.8, 2.5, {"csat": 0.3}, {"csat": -0.4}, T=30.0, seed=0),
            covariates=["csat"],
        ),
    ),
    "ShiftedBetaGeoFitter": (
        {},
        lambda m, d: m.fit(simulate_sbg(2000, 0.7, 1.3, n_periods=np.arange(2000) % 12 + 1, seed=0)),
    ),
}

_BAD_INTERVAL_NAME = re.compile(r"(^|_)(lower|upper|low|high)$")


def test_every_public_model_has_a_recipe():
    assert set(MODELS) == set(RECIPES), "add a fit recipe for each new public model (or remove a stale one)"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_model_follows_the_convention(name, inputs):
    cls = MODELS[name]
    assert issubclass(cls, FittedModel)
    kwargs, fit = RECIPES[name]
    assert inspect.signature(cls).parameters["alpha"].default == 0.05
    with pytest.raises(ValueError, match="alpha"):
        cls(**kwargs, alpha=1.5)

    model = cls(**kwargs)
    with pytest.raises(NotFittedError):
        model.summary  # noqa: B018
    assert not hasattr(model, "params_")
    before = set(vars(model))
    assert fit(model, inputs) is model
    added = set(vars(model)) - before
    assert added and all(a.endswith("_") or a.startswith("_") for a in added), sorted(added)

    summary = model.summary
    assert isinstance(summary, pd.DataFrame) and len(summary) > 0
    assert tuple(summary.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    for column in summary.columns:
        if column not in ("ci_lower", "ci_upper") and not column.endswith(("_ci_lower", "_ci_upper")):
            assert not _BAD_INTERVAL_NAME.search(column), f"{name}.summary column {column!r}"
    finite = summary[["coef", "ci_lower", "ci_upper"]].dropna()
    assert (finite["ci_lower"] <= finite["coef"] + 1e-12).all() and (finite["coef"] <= finite["ci_upper"] + 1e-12).all()
    assert isinstance(model.diagnostics_, list) and all(isinstance(d, Diagnostic) for d in model.diagnostics_)

    narrow = fit(cls(**kwargs, alpha=0.5), inputs).summary
    width = (summary["ci_upper"] - summary["ci_lower"]).to_numpy(dtype=float)
    narrow_width = (narrow["ci_upper"] - narrow["ci_lower"]).to_numpy(dtype=float)
    ok = np.isfinite(width) & np.isfinite(narrow_width)
    assert ok.any() and (narrow_width[ok] <= width[ok] + 1e-12).all(), "alpha does not set the interval level"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_failed_refit_leaves_an_unfitted_model(name, inputs):
    kwargs, fit = RECIPES[name]
    model = fit(MODELS[name](**kwargs), inputs)
    assert model.is_fitted
    with pytest.raises((ValueError, KeyError, TypeError)):
        model.fit(pd.DataFrame({"customer_id": [1, 2]}))  # unusable data
    assert not model.is_fitted and model.diagnostics_ == []
    with pytest.raises(NotFittedError):
        _ = model.summary
