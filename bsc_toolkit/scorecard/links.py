"""Link strengths of the service-profit chain, for labelling a scorecard's strategy map.

The strategy map's arrows driver ratings -> customer satisfaction -> customer retention ->
revenue (or margin) are estimated by two link models:
:class:`~bsc_toolkit.models.drivers.DriverImportance` (drivers -> satisfaction) and
:class:`~bsc_toolkit.models.chain.ServiceProfitChain` (satisfaction -> retention -> revenue).
This module tabulates them in one table with the columns :data:`LINK_COLUMNS`, whose
``source`` and ``target`` name objectives (matched by
:func:`bsc_toolkit.scorecard.strategy_map.match_link_strengths`).

The models are imported when a function runs, so importing the scorecard stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from bsc_toolkit.models.chain import ServiceProfitChain
    from bsc_toolkit.models.drivers import DriverImportance

__all__ = ["LINK_COLUMNS", "chain_link_strengths", "link_strengths_table"]

#: Columns of a link-strengths table.
LINK_COLUMNS: tuple[str, ...] = ("source", "target", "estimate", "ci_lower", "ci_upper", "unit", "method")


def chain_link_strengths(
    data: Any,
    freq: str = "Q",
    outcome: str = "revenue_usd",
    baseline_periods: int = 2,
    n_boot: int = 200,
    seed: int | None = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Strengths of the links of the service-profit chain, for labelling a strategy map.

    Fits :class:`~bsc_toolkit.models.drivers.DriverImportance` on the surveys
    and :class:`~bsc_toolkit.models.chain.ServiceProfitChain` on
    :func:`~bsc_toolkit.models.chain.customer_chain_table`, then tabulates both with
    :func:`link_strengths_table` (call that directly to reuse models already fitted).

    Parameters
    ----------
    data : object with ``customers``, ``surveys``, ``transactions``
        E.g. the result of ``load_dataset`` or ``simulate``. Where it has them (a loaded
        ``CustomerData``), its ``drivers``, rating ``ratings`` (scales) and ``currency`` are used;
        otherwise the default drivers, unlabelled scales (csat 1-10 for the chain) and USD.
    freq, baseline_periods
        See :func:`~bsc_toolkit.models.chain.customer_chain_table`.
    outcome : {"revenue_usd", "margin_usd"}
        Financial outcome at the end of the chain.
    n_boot, seed, alpha
        Bootstrap settings of both analyses; ``alpha`` is 1 - the confidence level.

    Returns
    -------
    DataFrame
        See :func:`link_strengths_table`.
    """
    from bsc_toolkit.contracts import DRIVERS
    from bsc_toolkit.models.chain import ServiceProfitChain, customer_chain_table
    from bsc_toolkit.models.drivers import DriverImportance

    for name in ("customers", "surveys", "transactions"):
        if not hasattr(data, name):
            raise ValueError(f"data lacks the {name!r} table")
    ratings = dict(getattr(data, "ratings", None) or {})
    driver_names = tuple(getattr(data, "drivers", None) or DRIVERS)
    drivers = DriverImportance(alpha=alpha, scales=ratings).fit(
        data.surveys, drivers=driver_names, n_boot=n_boot, seed=seed
    )
    table = customer_chain_table(
        data.customers, data.surveys, data.transactions, freq=freq, baseline_periods=baseline_periods
    )
    chain = ServiceProfitChain(
        alpha=alpha, scale=ratings.get("csat"), currency=str(getattr(data, "currency", "USD"))
    ).fit(table, outcome=outcome, n_boot=n_boot, seed=seed)
    return link_strengths_table(drivers, chain, freq=freq)


def link_strengths_table(
    drivers: DriverImportance | None, chain: ServiceProfitChain | None, freq: str = "Q"
) -> pd.DataFrame:
    """Link strengths of the service-profit chain from a fitted driver analysis and a fitted chain.

    Parameters
    ----------
    drivers : DriverImportance or None
        Fitted on the surveys (drivers -> satisfaction). None when the data have no driver
        ratings: the table then holds the chain's links only.
    chain : ServiceProfitChain or None
        Fitted on :func:`~bsc_toolkit.models.chain.customer_chain_table` (satisfaction ->
        retention -> revenue or margin). None when the data cannot support the chain: the
        table then holds the driver links only.
    freq : str
        Period frequency of the chain table (labels the retention unit).

    Returns
    -------
    DataFrame
        Columns :data:`LINK_COLUMNS` (``source, target, estimate, ci_lower, ci_upper, unit,
        method``); sources and targets are objectives: ``"driver ratings"`` ->
        ``"customer satisfaction"`` -> ``"customer retention"`` -> ``"revenue"`` (or
        ``"margin"``), plus the direct link satisfaction -> revenue and one row per driver
        (``"driver ratings: quality"``, ...). Units name the rating scales and the chain's
        currency. ``attrs["alpha"]`` is the chain's ``alpha`` (the drivers' without a chain).

    Raises
    ------
    bsc_toolkit.models._base.NotFittedError
        If a model given is not fitted.
    ValueError
        If both are None.
    """
    from bsc_toolkit.models._base import NotFittedError

    if drivers is None and chain is None:
        raise ValueError("give a fitted driver analysis, a fitted chain, or both")
    for name, model in (("drivers", drivers), ("chain", chain)):
        if model is not None and not getattr(model, "is_fitted", False):
            raise NotFittedError(f"{name} is not fitted; call .fit() first")
    rows: list[tuple] = []
    if drivers is not None:
        rows += _driver_rows(drivers)
    if chain is not None:
        rows += _chain_rows(chain, freq)
    out = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    out.attrs["alpha"] = chain.alpha if chain is not None else drivers.alpha  # type: ignore[union-attr]
    return out


def _driver_rows(drivers: DriverImportance) -> list[tuple]:
    measure = "Shapley" if drivers.method == "shapley" else "relative-weight"
    rows: list[tuple] = [
        (
            "driver ratings",
            "customer satisfaction",
            drivers.r2_,
            *drivers.r2_ci_,
            f"R^2 (share of {drivers.target_} variance)",
            f"OLS of {drivers.target_} on the driver ratings; cluster bootstrap",
        ),
    ]
    for name, row in drivers.summary.iterrows():
        rows.append(
            (
                f"driver ratings: {name}",
                "customer satisfaction",
                row["coef"],
                row["ci_lower"],
                row["ci_upper"],
                _driver_unit(drivers, str(name)),
                f"OLS coefficient, cluster-robust CI; {measure} share {row['share']:.2f}",
            )
        )
    return rows


def _driver_unit(drivers: DriverImportance, name: str) -> str:
    """``"csat points per rating point"``, with the scales where they are known."""
    scales = getattr(drivers, "scales_", {})
    target, driver = scales.get(drivers.target_), scales.get(name)
    return (
        f"{drivers.target_} points{f' ({target.label})' if target else ''} per rating point"
        f"{f' ({driver.label})' if driver else ''}"
    )


def _chain_rows(chain: ServiceProfitChain, freq: str) -> list[tuple]:
    money = "revenue" if chain.outcome_ == "revenue_usd" else "margin"
    currency = chain.currency
    point = f"csat point ({chain.scale.label})"
    per = {"Q": "quarters", "M": "months", "W": "weeks", "Y": "years", "D": "days"}.get(freq, f"{freq} periods")
    e, ci = chain.effects_, chain.confidence_intervals_[["ci_lower", "ci_upper"]]
    return [
        (
            "customer satisfaction",
            "customer retention",
            e["mediator_effect"],
            *ci.loc["mediator_effect"],
            f"{per} retained per {point}",
            "OLS mediator model (a-path); customer bootstrap",
        ),
        (
            "customer retention",
            money,
            e["mediator_to_outcome"],
            *ci.loc["mediator_to_outcome"],
            f"{currency} {money} per {per.removesuffix('s')} retained",
            "OLS outcome model (b-path); customer bootstrap",
        ),
        (
            "customer satisfaction",
            money,
            e["direct"],
            *ci.loc["direct"],
            f"{currency} {money} per {point} (direct)",
            "mediation direct effect (ADE); customer bootstrap",
        ),
        (
            "customer satisfaction",
            money,
            e["indirect"],
            *ci.loc["indirect"],
            f"{currency} {money} per {point} (via retention)",
            "mediation indirect effect (ACME); customer bootstrap",
        ),
        (
            "customer satisfaction",
            money,
            e["total"],
            *ci.loc["total"],
            f"{currency} {money} per {point} (total)",
            "mediation total effect; customer bootstrap",
        ),
    ]
