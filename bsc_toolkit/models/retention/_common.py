"""Shared pieces of the retention models: satisfaction terms, input checks, the ratio table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import DRIVERS
from bsc_toolkit.models._base import wald_table
from bsc_toolkit.models.features import csat_band

TERMS = ("spline", "linear", "bands", "drivers")


def require(df: pd.DataFrame, cols: list[str] | tuple[str, ...], table: str = "panel") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing}; it has {list(df.columns)}")


def check_terms(terms: str) -> str:
    if terms not in TERMS:
        raise ValueError(f"terms must be one of {TERMS}, not {terms!r}")
    return terms


def reference_band(knot: float) -> str:
    """Label of the csat band that holds the knot (reference of ``terms='bands'``)."""
    return str(csat_band(np.array([knot]))[0])


def csat_term(terms: str, reference: str) -> str:
    """Formula term(s) of satisfaction."""
    if terms == "spline":
        return "csat_below + csat_above"
    if terms == "linear":
        return "csat"
    if terms == "bands":
        return f'C(csat_band, Treatment("{reference}"))'
    if terms == "drivers":
        return " + ".join(DRIVERS)
    raise ValueError(f"terms must be one of {TERMS}, not {terms!r}")


def ratio_table(coef: pd.Series, se: pd.Series, alpha: float, p_value: pd.Series | None = None) -> pd.DataFrame:
    """Summary: ``coef, se, ci_lower, ci_upper, p_value, exp_coef, exp_coef_ci_lower, exp_coef_ci_upper, z``.

    ``exp_coef`` is the hazard ratio of a log-hazard coefficient (cloglog, Cox) or the odds ratio
    of a log-odds coefficient (logit).
    """
    out = wald_table(coef, se, alpha)
    if p_value is not None:
        out["p_value"] = pd.Series(p_value, dtype=float).reindex(out.index).to_numpy()
    with np.errstate(over="ignore"):
        out["exp_coef"] = np.exp(out["coef"])
        out["exp_coef_ci_lower"] = np.exp(out["ci_lower"])
        out["exp_coef_ci_upper"] = np.exp(out["ci_upper"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["z"] = out["coef"] / out["se"]
    out.index.name = "term"
    return out
