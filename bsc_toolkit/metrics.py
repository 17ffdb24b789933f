"""Customer KPIs of the Balanced Scorecard's customer perspective.

Pure functions ``DataFrame -> DataFrame``: each returns a tidy table with one
row per period (and per group when ``by`` is given). Periods are pandas
Periods; rates are shares in [0, 1]; NPS is on the usual -100..100 scale;
money columns end in ``_usd``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from bsc_toolkit.contracts import DRIVERS
from bsc_toolkit.models._base import check_alpha, z_critical

__all__ = [
    "KPI_COLUMNS",
    "acquisition",
    "compare_periods",
    "csat_summary",
    "customer_profitability",
    "kpi_summary",
    "market_share",
    "nps",
    "retention",
    "whale_curve",
]

#: Columns of :func:`kpi_summary` (the measures a scorecard can bind to).
KPI_COLUMNS: tuple[str, ...] = (
    "n_customers_start",
    "acquired",
    "churned",
    "churn_rate",
    "retention_rate",
    "csat_mean",
    "csat_top2_box",
    "nps",
    "time_mean",
    "quality_mean",
    "service_mean",
    "cost_mean",
    "revenue_usd",
    "cost_usd",
    "profit_usd",
    "revenue_per_customer_usd",
    "profit_per_customer_usd",
)


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{table} table lacks column(s) {missing}; it has {list(frame.columns)}")


def _with_period(frame: pd.DataFrame, date_col: str, freq: str) -> pd.DataFrame:
    out = frame.copy()
    out["period"] = pd.to_datetime(out[date_col]).dt.to_period(freq)
    return out


def _answered(
    surveys: pd.DataFrame, column: str, by: str | Sequence[str] | None, freq: str | None, date_col: str
) -> tuple[pd.DataFrame, list[str]]:
    """Non-missing answers in ``column`` with their grouping keys (period first)."""
    _require(surveys, [column, *([date_col] if freq else []), *_by_list(by)], "surveys")
    keys = (["period"] if freq else []) + _by_list(by)
    frame = _with_period(surveys, date_col, freq) if freq else surveys
    return frame.loc[frame[column].notna(), [*keys, column]], keys


def _group(frame: pd.DataFrame, keys: list[str]):
    """Group by ``keys``, or into one group when there are none."""
    return frame.groupby(keys, observed=True, sort=True) if keys else frame.groupby(lambda _: 0)


def _resolve_alpha(alpha: float, confidence: float | None, function: str) -> float:
    """``alpha``, or ``1 - confidence`` from the deprecated keyword (with a FutureWarning)."""
    if confidence is not None:
        warnings.warn(
            f"{function}(confidence=...) is deprecated and will be removed in 0.3.0; use alpha=1 - confidence",
            FutureWarning,
            stacklevel=3,
        )
        alpha = 1 - confidence
    return check_alpha(alpha)


def _wilson(successes: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (statsmodels' ``proportion_confint``); NaN where n = 0."""
    n = np.asarray(n, dtype=float)
    successes = np.asarray(successes, dtype=float)
    has = n > 0
    lo, hi = np.full_like(n, np.nan), np.full_like(n, np.nan)
    if has.any():
        lo[has], hi[has] = proportion_confint(successes[has], n[has], alpha=alpha, method="wilson")
    return lo, hi


def csat_summary(
    surveys: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str | None = "Q",
    column: str = "csat",
    scale_max: int = 10,
    top_box: int = 2,
    *,
    alpha: float = 0.05,
    date_col: str = "surveyed_at",
    confidence: float | None = None,
) -> pd.DataFrame:
    """Customer satisfaction: mean score and top-box share with intervals.

    Parameters
    ----------
    surveys : pandas.DataFrame
        Survey responses with ``column`` and ``date_col``.
    by : str or list of str, optional
        Extra grouping columns (e.g. ``"segment"``; join customer attributes first).
    freq : str or None
        Period frequency; ``None`` pools all responses.
    column : str
        The satisfaction score column.
    scale_max : int
        Top of the rating scale (10 for 1-10, 5 for 1-5).
    top_box : int
        How many top scale points count as satisfied (2: 9-10 on a 1-10 scale).
    alpha : float
        1 - confidence level of the intervals (t interval for the mean, Wilson
        interval for the top-box share).
    confidence : float, optional
        Deprecated: ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        ``[period,] *by, n_responses, csat_mean, csat_mean_ci_lower,
        csat_mean_ci_upper, csat_top2_box, csat_top2_box_ci_lower,
        csat_top2_box_ci_upper`` (the name carries ``top_box``).
    """
    alpha = _resolve_alpha(alpha, confidence, "csat_summary")
    frame, keys = _answered(surveys, column, by, freq, date_col)
    frame = frame.assign(_top=(frame[column] > scale_max - top_box).astype(float))
    g = _group(frame, keys)
    out = g.agg(n_responses=(column, "size"), csat_mean=(column, "mean"), sd=(column, "std"), top=("_top", "sum"))
    n = out["n_responses"].to_numpy(dtype=float)
    tcrit = stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1))
    half = tcrit * out["sd"].to_numpy() / np.sqrt(n)
    box = f"csat_top{top_box}_box"
    out["csat_mean_ci_lower"] = out["csat_mean"] - half
    out["csat_mean_ci_upper"] = out["csat_mean"] + half
    out[box] = out["top"] / n
    lo, hi = _wilson(out["top"].to_numpy(), n, alpha)
    out[f"{box}_ci_lower"], out[f"{box}_ci_upper"] = lo, hi
    out = out.drop(columns=["sd", "top"]).reset_index()
    return out if keys else out.drop(columns=out.columns[0])


def nps(
    surveys: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str | None = "Q",
    column: str = "nps",
    *,
    alpha: float = 0.05,
    method: str = "analytic",
    n_boot: int = 2000,
    seed: int = 0,
    date_col: str = "surveyed_at",
    confidence: float | None = None,
) -> pd.DataFrame:
    """Net Promoter Score with a confidence interval.

    NPS = 100 x (share of promoters, 9-10 - share of detractors, 0-6).

    Parameters
    ----------
    surveys : pandas.DataFrame
        Survey responses with the 0-10 likelihood-to-recommend ``column``.
    by, freq, date_col
        Grouping as in :func:`csat_summary`.
    alpha : float
        1 - confidence level of the interval.
    method : {"analytic", "bootstrap"}
        ``"analytic"``: normal interval with the multinomial variance of a
        difference of proportions, ``Var = (p_P + p_D - (p_P - p_D)^2) / n``.
        ``"bootstrap"``: percentile interval from ``n_boot`` multinomial
        resamples per group (seeded).

    Returns
    -------
    pandas.DataFrame
        ``[period,] *by, n_responses, promoters_share, passives_share,
        detractors_share, nps, nps_se, nps_ci_lower, nps_ci_upper``.
    """
    alpha = _resolve_alpha(alpha, confidence, "nps")
    if method not in {"analytic", "bootstrap"}:
        raise ValueError(f"method must be 'analytic' or 'bootstrap', not {method!r}")
    frame, keys = _answered(surveys, column, by, freq, date_col)
    score = frame[column]
    if ((score < 0) | (score > 10)).any():
        rows = frame.index[(score < 0) | (score > 10)][:5].tolist()
        raise ValueError(f"column '{column}' must be on the 0-10 scale; rows {rows} are outside it")
    frame = frame.assign(_p=(score >= 9).astype(float), _d=(score <= 6).astype(float))
    g = _group(frame, keys)
    out = g.agg(n_responses=(column, "size"), promoters_share=("_p", "mean"), detractors_share=("_d", "mean"))
    out["passives_share"] = 1 - out["promoters_share"] - out["detractors_share"]
    p, d, n = out["promoters_share"], out["detractors_share"], out["n_responses"].astype(float)
    out["nps"] = 100 * (p - d)
    out["nps_se"] = 100 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0) / n)
    if method == "analytic":
        z = z_critical(alpha)
        out["nps_ci_lower"] = np.maximum(out["nps"] - z * out["nps_se"], -100)
        out["nps_ci_upper"] = np.minimum(out["nps"] + z * out["nps_se"], 100)
    else:
        rng = np.random.default_rng(seed)
        tail = alpha / 2
        lows, highs = [], []
        for pp, dd, nn in zip(p, d, n.astype(int)):
            draws = rng.multinomial(nn, [pp, dd, max(1 - pp - dd, 0.0)], size=n_boot)
            boot = 100 * (draws[:, 0] - draws[:, 1]) / nn
            lows.append(np.quantile(boot, tail))
            highs.append(np.quantile(boot, 1 - tail))
        out["nps_ci_lower"], out["nps_ci_upper"] = lows, highs
    cols = [
        "n_responses",
        "promoters_share",
        "passives_share",
        "detractors_share",
        "nps",
        "nps_se",
        "nps_ci_lower",
        "nps_ci_upper",
    ]
    out = out[cols].reset_index()
    return out if keys else out.drop(columns=out.columns[0])


def _period_bounds(customers: pd.DataFrame, freq: str, start, end) -> pd.PeriodIndex:
    acq = pd.to_datetime(customers["acquired_at"])
    churn = pd.to_datetime(customers["churned_at"]) if "churned_at" in customers else pd.Series(dtype="datetime64[ns]")
    first = pd.Period(start, freq) if start is not None else acq.min().to_period(freq)
    if end is not None:
        last = pd.Period(end, freq)
    else:
        last = max(acq.max(), churn.max() if churn.notna().any() else acq.max()).to_period(freq)
    return pd.period_range(first, last, freq=freq)


def retention(
    customers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    alpha: float = 0.05,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Customer counts, churn and retention rates per period.

    A customer is active from ``acquired_at`` until ``churned_at`` (NaT:
    still active). For each period: ``n_customers_start`` active at the start,
    ``acquired`` during it, ``churned`` during it (of any origin),
    ``n_customers_end``; ``churn_rate`` is the share of customers active at
    the start who churned during the period (new customers who also left in
    their first period count in ``churned`` but not in the rate), and
    ``retention_rate = 1 - churn_rate``, with a Wilson interval.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id, acquired_at, churned_at`` and any ``by`` columns.
    by : str or list of str, optional
        Group columns (e.g. ``"segment"``).
    freq : str
        Period frequency.
    start, end : str or Period, optional
        Period range; by default from the first acquisition to the last event.
    alpha : float
        1 - confidence level of the (Wilson) interval on the churn rate.
    confidence : float, optional
        Deprecated: ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        ``period, *by, n_customers_start, acquired, churned, n_customers_end,
        churn_rate, churn_rate_ci_lower, churn_rate_ci_upper, retention_rate``.
    """
    alpha = _resolve_alpha(alpha, confidence, "retention")
    byl = _by_list(by)
    _require(customers, ["acquired_at", *byl], "customers")
    periods = _period_bounds(customers, freq, start, end)
    acq = pd.to_datetime(customers["acquired_at"])
    churn = (
        pd.to_datetime(customers["churned_at"])
        if "churned_at" in customers
        else pd.Series(pd.NaT, index=customers.index)
    )
    starts = periods.start_time
    ends = periods.end_time + pd.Timedelta(1, "ns")
    groups = customers.groupby(byl, observed=True, sort=True) if byl else [((), customers)]
    rows = []
    for key, grp in groups:
        a = acq.loc[grp.index].to_numpy()
        c = churn.loc[grp.index].to_numpy()
        c_filled = np.where(pd.isna(c), np.datetime64("2262-01-01"), c)
        for period, s, e in zip(periods, starts.to_numpy(), ends.to_numpy()):
            active_start = (a < s) & (c_filled >= s)
            acquired = (a >= s) & (a < e)
            churned = (c_filled >= s) & (c_filled < e)
            churned_from_start = active_start & churned
            active_end = (a < e) & (c_filled >= e)
            key_t = key if isinstance(key, tuple) else (key,)
            rows.append(
                (
                    period,
                    *key_t,
                    int(active_start.sum()),
                    int(acquired.sum()),
                    int(churned.sum()),
                    int(active_end.sum()),
                    int(churned_from_start.sum()),
                )
            )
    out = pd.DataFrame(
        rows, columns=["period", *byl, "n_customers_start", "acquired", "churned", "n_customers_end", "_churned_start"]
    )
    n = out["n_customers_start"].to_numpy(dtype=float)
    out["churn_rate"] = np.divide(out["_churned_start"], n, out=np.full_like(n, np.nan), where=n > 0)
    lo, hi = _wilson(out["_churned_start"].to_numpy(dtype=float), n, alpha)
    out["churn_rate_ci_lower"], out["churn_rate_ci_upper"] = lo, hi
    out["retention_rate"] = 1 - out["churn_rate"]
    return out.drop(columns="_churned_start")


def acquisition(
    customers: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    freq: str = "Q",
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
) -> pd.DataFrame:
    """New customers per period, and as a share of the customers at the start.

    Returns
    -------
    pandas.DataFrame
        ``period, *by, acquired, n_customers_start, acquisition_rate``.
    """
    ret = retention(customers, by=by, freq=freq, start=start, end=end)
    out = ret[["period", *_by_list(by), "acquired", "n_customers_start"]].copy()
    n = out["n_customers_start"].to_numpy(dtype=float)
    out["acquisition_rate"] = np.divide(out["acquired"], n, out=np.full_like(n, np.nan), where=n > 0)
    return out


def customer_profitability(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Revenue, cost and profit per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``customer_id, revenue_usd, cost_usd``.
    customers : pandas.DataFrame, optional
        Customer attributes to attach (needed for ``by`` columns); customers
        without transactions appear with zeros.
    by : str or list of str, optional
        Customer attribute columns to carry along.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, *by, n_orders, revenue_usd, cost_usd, profit_usd,
        margin_rate`` sorted by ``profit_usd`` descending.
    """
    _require(transactions, ["customer_id", "revenue_usd", "cost_usd"], "transactions")
    byl = _by_list(by)
    out = transactions.groupby("customer_id").agg(
        n_orders=("revenue_usd", "size"), revenue_usd=("revenue_usd", "sum"), cost_usd=("cost_usd", "sum")
    )
    if customers is not None:
        _require(customers, ["customer_id", *byl], "customers")
        out = customers.set_index("customer_id")[byl].join(out, how="left")
        out[["n_orders", "revenue_usd", "cost_usd"]] = out[["n_orders", "revenue_usd", "cost_usd"]].fillna(0)
        out["n_orders"] = out["n_orders"].astype(np.int64)
    elif byl:
        raise ValueError("pass customers= to group profitability by customer attributes")
    out["profit_usd"] = out["revenue_usd"] - out["cost_usd"]
    rev = out["revenue_usd"].to_numpy(dtype=float)
    out["margin_rate"] = np.divide(
        out["profit_usd"].to_numpy(dtype=float), rev, out=np.full_like(rev, np.nan), where=rev != 0
    )
    return out.reset_index().sort_values("profit_usd", ascending=False, ignore_index=True)


def whale_curve(profitability: pd.DataFrame, profit_col: str = "profit_usd") -> pd.DataFrame:
    """Cumulative profitability ("whale") curve.

    Customers are ranked from most to least profitable; the curve gives the
    cumulative profit as a share of total profit against the cumulative share
    of customers. It typically rises well above 100% (the profitable
    customers earn more than the total) before the unprofitable tail pulls
    it back to 100%.

    Returns
    -------
    pandas.DataFrame
        ``rank, customer_id, profit_usd, customer_share, cumulative_profit_usd,
        cumulative_profit_share`` with a leading row at (0, 0).
    """
    _require(profitability, ["customer_id", profit_col], "profitability")
    ranked = profitability.sort_values(profit_col, ascending=False, ignore_index=True)
    total = ranked[profit_col].sum()
    if len(ranked) == 0:
        raise ValueError("profitability table is empty")
    if total <= 0:
        raise ValueError(f"total {profit_col} is {total:.2f} <= 0: a whale curve needs positive total profit")
    cum = ranked[profit_col].cumsum()
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(ranked) + 1),
            "customer_id": ranked["customer_id"],
            profit_col: ranked[profit_col],
            "customer_share": np.arange(1, len(ranked) + 1) / len(ranked),
            "cumulative_profit_usd": cum,
            "cumulative_profit_share": cum / total,
        }
    )
    head = pd.DataFrame(
        {
            "rank": [0],
            "customer_id": [pd.NA],
            profit_col: [0.0],
            "customer_share": [0.0],
            "cumulative_profit_usd": [0.0],
            "cumulative_profit_share": [0.0],
        }
    )
    return pd.concat([head, out], ignore_index=True)


def market_share(
    transactions: pd.DataFrame,
    market_size_usd: float | pd.Series | pd.DataFrame,
    freq: str = "Q",
    date_col: str = "ordered_at",
) -> pd.DataFrame:
    """Revenue market share per period.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``ordered_at, revenue_usd``.
    market_size_usd : float, Series or DataFrame
        Total market revenue per period: a constant, a Series indexed by
        period (Periods or strings such as ``"2024Q1"``), or a DataFrame with
        ``period`` and ``market_size_usd`` columns.

    Returns
    -------
    pandas.DataFrame
        ``period, revenue_usd, market_size_usd, market_share``.
    """
    _require(transactions, [date_col, "revenue_usd"], "transactions")
    rev = _with_period(transactions, date_col, freq).groupby("period")["revenue_usd"].sum().rename("revenue_usd")
    if isinstance(market_size_usd, pd.DataFrame):
        _require(market_size_usd, ["period", "market_size_usd"], "market size")
        size = market_size_usd.set_index("period")["market_size_usd"]
    elif isinstance(market_size_usd, pd.Series):
        size = market_size_usd
    else:
        size = pd.Series(float(market_size_usd), index=rev.index)
    size = size.copy()
    size.index = pd.PeriodIndex([pd.Period(p, freq) for p in size.index])
    missing = rev.index.difference(size.index)
    if len(missing):
        raise ValueError(f"market size missing for period(s) {[str(p) for p in missing[:5]]}")
    if (size <= 0).any():
        raise ValueError("market size must be positive in every period")
    out = rev.to_frame().join(size.rename("market_size_usd"), how="left")
    out["market_share"] = out["revenue_usd"] / out["market_size_usd"]
    return out.reset_index()


def kpi_summary(
    customers: pd.DataFrame,
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    freq: str = "Q",
    by: str | Sequence[str] | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
) -> pd.DataFrame:
    """One row per period (and group) with the headline customer KPIs.

    The period range defaults to the periods with survey or transaction
    activity. Columns are :data:`KPI_COLUMNS` after ``period`` and ``by``.
    ``by`` columns are taken from the customers table.
    """
    byl = _by_list(by)
    activity = pd.concat([pd.to_datetime(surveys["surveyed_at"]), pd.to_datetime(transactions["ordered_at"])])
    start = start if start is not None else activity.min().to_period(freq)
    end = end if end is not None else activity.max().to_period(freq)
    keys = ["period", *byl]
    ret = retention(customers, by=by, freq=freq, start=start, end=end)
    attrs = customers[["customer_id", *byl]]

    def _attach(frame: pd.DataFrame) -> pd.DataFrame:
        # group columns always come from the customers table
        return frame.drop(columns=[c for c in byl if c in frame.columns]).merge(attrs, on="customer_id", how="left")

    s = _attach(surveys) if byl else surveys
    cs = csat_summary(s, by=by, freq=freq)[[*keys, "csat_mean", "csat_top2_box"]]
    npsd = nps(s, by=by, freq=freq)[[*keys, "nps"]]
    s = _with_period(s, "surveyed_at", freq)
    drivers = [d for d in DRIVERS if d in s.columns]
    dm = s.groupby(keys, observed=True)[drivers].mean().add_suffix("_mean").reset_index()
    t = _with_period(_attach(transactions) if byl else transactions, "ordered_at", freq)
    money = t.groupby(keys, observed=True)[["revenue_usd", "cost_usd"]].sum().reset_index()
    out = ret.merge(cs, on=keys, how="left").merge(npsd, on=keys, how="left").merge(dm, on=keys, how="left")
    out = out.merge(money, on=keys, how="left")
    out[["revenue_usd", "cost_usd"]] = out[["revenue_usd", "cost_usd"]].fillna(0.0)
    out["profit_usd"] = out["revenue_usd"] - out["cost_usd"]
    # average customers over the period as the denominator of per-customer money
    avg = (out["n_customers_start"] + out["n_customers_end"]) / 2
    out["revenue_per_customer_usd"] = out["revenue_usd"] / avg.where(avg > 0)
    out["profit_per_customer_usd"] = out["profit_usd"] / avg.where(avg > 0)
    for col in KPI_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    return out[[*keys, *KPI_COLUMNS]]


def compare_periods(kpis: pd.DataFrame, period: str | pd.Period | None = None) -> pd.DataFrame:
    """Headline view of a KPI table: each KPI in one period against the one before.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Output of :func:`kpi_summary` without ``by`` (one row per period).
    period : str or Period, optional
        The period to report; default the latest.

    Returns
    -------
    pandas.DataFrame
        ``kpi, current, previous, change`` for the period and its predecessor.
    """
    if kpis["period"].duplicated().any():
        raise ValueError("compare_periods needs one row per period: call kpi_summary without by=")
    ordered = kpis.sort_values("period").reset_index(drop=True)
    if period is None:
        pos = len(ordered) - 1
    else:
        target = pd.Period(period, ordered["period"].iloc[0].freq)
        matches = ordered.index[ordered["period"] == target]
        if len(matches) == 0:
            raise ValueError(
                f"period {target} not in the KPI table ({ordered['period'].min()}..{ordered['period'].max()})"
            )
        pos = int(matches[0])
    cols = [c for c in KPI_COLUMNS if c in ordered.columns]
    current = ordered.loc[pos, cols].astype(float)
    previous = ordered.loc[pos - 1, cols].astype(float) if pos > 0 else pd.Series(np.nan, index=cols)
    return pd.DataFrame(
        {
            "kpi": cols,
            "current": current.to_numpy(),
            "previous": previous.to_numpy(),
            "change": (current - previous).to_numpy(),
        }
    )
