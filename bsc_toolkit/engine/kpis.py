"""The headline KPI table (one row per period and group) computed on DuckDB or Spark.

:func:`kpi_summary` returns what :func:`bsc_toolkit.metrics.kpi_summary` returns for the same data
(columns, order, dtypes, rows, values, ``attrs``), but the scans of the customers, surveys and
transactions tables run in the engine. One query goes to the engine: a ``UNION ALL`` of three
aggregates, so that Spark runs one job and a warehouse one statement:

- surveys per (period, group): rows, and per rating column the count, sum (and for csat the
  top-box count, for nps the promoter and detractor counts, min and max for the scale checks);
- transactions per (period, group): rows, and count and sum of ``revenue_usd`` / ``cost_usd``
  (the strict sum: the sum is known only where the count of amounts equals the count of rows);
- customers per (acquisition period, churn period, churn flag, group): counts.

Groups (``by``) are attached in the engine by a left join of the customers table, as the pandas
function does. What comes back is per period (and group), or per pair of periods for the
customers (at most periods x periods x groups rows, whatever the number of customers); no
per-customer row leaves the engine. The rest is arithmetic on those aggregates in pandas:

- customers at the start of period ``p`` are those acquired before ``p`` and not churned before
  it, which on the (acquisition period, churn period) counts is a difference of cumulative sums
  (``#(acq < p) - #(max(acq, churn) < p)``), exact in integers; at the end likewise with ``<=``;
  the churn rate's numerator counts those acquired before the churn period;
- means are sums over counts, top-box and NPS shares counts over counts;
- a period (truncated timestamp from the engine) becomes a pandas Period of ``freq``: weeks are
  truncated to their Monday in the engine (DuckDB and Spark both start weeks on Monday), which is
  the pandas ``"W"`` (``W-SUN``) period holding it.

Rules that need the whole table (the ordering of groups, the range of periods, the snapshot
period, which periods have any order) are decided on the aggregates, which carry every period and
every group, including rows without a date or without a group (kept apart, then left out as the
pandas function leaves them out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bsc_toolkit.contracts import RatingScale
from bsc_toolkit.metrics._columns import MONEY_KPI_COLUMNS, kpi_columns

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir

    from bsc_toolkit.engine.backends import EngineTables

__all__ = ["ENGINE_FREQS", "kpi_summary", "period_start"]

#: Period frequencies the engines compute (pandas frequency string -> truncation unit).
ENGINE_FREQS: dict[str, str] = {"M": "M", "Q-DEC": "Q", "Y-DEC": "Y", "W-SUN": "W", "D": "D"}

_COUNTS = ["n_customers_start", "acquired", "churned", "n_customers_end"]
_NEVER = np.iinfo(np.int64).max  # ordinal of "not churned"


def _unit(freq: str) -> str:
    """The truncation unit of a pandas period frequency (``"Q"`` -> ``"Q"``, ``"A"`` -> ``"Y"``)."""
    try:
        name = pd.Period("2000-01-01", freq).freqstr
    except (TypeError, ValueError) as exc:
        raise ValueError(f"unknown period frequency {freq!r}: {exc}") from None
    unit = ENGINE_FREQS.get(name)
    if unit is None:
        raise ValueError(
            f"period frequency {freq!r} ({name}) is not computed by the engines: use one of M, Q, Y, W "
            "(weeks Monday to Sunday), D, or the pandas engine"
        )
    return unit


def period_start(column: ir.Value, unit: str) -> ir.Value:
    """The start of the period holding each timestamp (or date), as a timestamp; null stays null.

    Parameters
    ----------
    column : ibis timestamp or date column
    unit : {"Y", "Q", "M", "W", "D"}
        ``"W"``: weeks starting on Monday (the pandas ``"W"`` periods, labelled by their Sunday).

    Returns
    -------
    ibis timestamp column
    """
    return column.truncate(unit).cast("timestamp")


# ---------------------------------------------------------------------------------------- the query


def _columns(table: ibis.Table | None) -> list[str]:
    return list(table.columns) if table is not None else ["customer_id"]


class _Query:
    """The UNION ALL of the three aggregates under one schema (keys and values a part lacks as typed nulls)."""

    _KEYS = {"_p": "timestamp", "_q": "timestamp", "_f": "boolean"}

    def __init__(self, group_names: list[str]):
        self.group_names = group_names
        self.values: dict[str, Any] = {}  # value column -> its type, in order of first appearance
        self.parts: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = []

    def add(self, kind: str, table: ibis.Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
        """The aggregate of ``table`` by ``keys`` (some of ``_p``, ``_q``, ``_f``) and the groups."""
        for name, expr in values.items():
            self.values.setdefault(name, expr.type())
        self.parts.append((kind, table, keys, values))

    def build(self) -> ibis.Table:
        import ibis

        selects = []
        for kind, table, keys, values in self.parts:
            by = {**keys, **{g: table[g] for g in self.group_names}}
            agg = table.aggregate(_n=table.count(), **values, by=[v.name(k) for k, v in by.items()])
            cols: dict[str, Any] = {"_kind": ibis.literal(kind)}
            for key, dtype in self._KEYS.items():
                cols[key] = agg[key].cast(dtype) if key in keys else ibis.null().cast(dtype)
            cols.update({g: agg[g] for g in self.group_names})
            cols["_n"] = agg["_n"].cast("int64")
            for name, dtype in self.values.items():
                cols[name] = agg[name].cast(dtype) if name in values else ibis.null().cast(dtype)
            selects.append(agg.select(**cols))
        return selects[0] if len(selects) == 1 else ibis.union(*selects, distinct=False)


def _count_sum(col: Any, prefix: str) -> dict[str, Any]:
    return {f"{prefix}_n": col.count(), f"{prefix}_sum": col.sum()}


def _number(col: Any) -> Any:
    """A rating or amount as float64 with NaN as null (Spark keeps a float NaN as a value; missing is no data)."""
    import ibis

    col = col.cast("float64")
    return ibis.ifelse(col.isnan(), ibis.null("float64"), col)


def _engine_aggregates(
    tables: EngineTables,
    byl: list[str],
    unit: str,
    basis: str,
    scales: dict[str, RatingScale],
    present: list[str],
) -> dict[str, pd.DataFrame]:
    """Run the one aggregate query: the surveys' (``"s"``), transactions' (``"t"``) and customers' (``"c"``) rows."""
    import ibis

    customers, surveys, transactions = tables.customers, tables.surveys, tables.transactions
    groups = {f"_g{i}": b for i, b in enumerate(byl)}
    query = _Query(list(groups))
    lookup = None
    if groups:
        lookup = customers.select(_cid2=customers.customer_id, **{g: customers[b] for g, b in groups.items()})

    def attach(frame: ibis.Table) -> ibis.Table:
        if lookup is None:
            return frame
        joined = frame.left_join(lookup, frame._cid == lookup._cid2)
        return joined.select(*[c for c in joined.columns if c != "_cid2"])

    def dated(table: ibis.Table, column: str) -> Any:
        if column in table.columns:
            return period_start(table[column], unit)
        return ibis.null().cast("timestamp")

    if surveys is not None:
        scols = surveys.columns
        ratings = {"csat": "csat" in scols, "nps": "nps" in scols}
        base = surveys.select(
            _cid=surveys.customer_id,
            _p=dated(surveys, "surveyed_at"),
            **{f"_r_{r}": _number(surveys[r]) for r, ok in ratings.items() if ok},
            **{f"_r_d{i}": _number(surveys[d]) for i, d in enumerate(present)},
        )
        s = attach(base)
        values: dict[str, Any] = {}
        if ratings["csat"]:
            col = s["_r_csat"]
            values.update(_count_sum(col, "_csat"))
            values["_csat_top"] = col.count(where=col >= float(scales["csat"].top_box_min))
            values.update(_csat_min=col.min(), _csat_max=col.max())
        if ratings["nps"]:
            col = s["_r_nps"]
            values["_nps_n"] = col.count()
            values["_nps_p"] = col.count(where=col >= 9)
            values["_nps_d"] = col.count(where=col <= 6)
            values.update(_nps_min=col.min(), _nps_max=col.max())
        for i in range(len(present)):
            values.update(_count_sum(s[f"_r_d{i}"], f"_d{i}"))
        query.add("s", s, {"_p": s["_p"]}, values)

    if transactions is not None:
        tcols = transactions.columns
        money = [c for c in ("revenue_usd", "cost_usd") if c in tcols]
        base = transactions.select(
            _cid=transactions.customer_id,
            _p=dated(transactions, "ordered_at"),
            **{f"_m_{c}": _number(transactions[c]) for c in money},
        )
        t = attach(base)
        values = {}
        for c, short in (("revenue_usd", "_rev"), ("cost_usd", "_cost")):
            if c in money:
                values.update(_count_sum(t[f"_m_{c}"], short))
        query.add("t", t, {"_p": t["_p"]}, values)

    if customers is not None:
        ccols = customers.columns
        keys: dict[str, Any] = {}
        if "acquired_at" in ccols:
            keys["_p"] = period_start(customers.acquired_at, unit)
        if basis == "per period":
            keys["_q"] = period_start(customers.churned_at, unit)
        elif basis == "by snapshot":
            keys["_f"] = _flag(customers.churned)
        c = customers.select(**keys, **{g: customers[b] for g, b in groups.items()})
        query.add("c", c, {k: c[k] for k in keys}, {})

    result = query.build().to_pyarrow() if query.parts else None
    return {kind: _part(result, kind, groups) for kind in ("s", "t", "c")}


def _part(result: Any, kind: str, groups: dict[str, str]) -> pd.DataFrame:
    """The rows of one aggregate as pandas (each part on its own: a group column keeps its dtype)."""
    if result is None:
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in ["_p", "_q", "_f", *groups, "_n"]})
        frame[["_p", "_q"]] = frame[["_p", "_q"]].astype("datetime64[ns]")
        return frame.rename(columns=groups)
    import pyarrow.compute as pc

    frame = result.filter(pc.equal(result["_kind"], kind)).drop_columns(["_kind"]).to_pandas()
    for col in ("_p", "_q"):
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):  # a session-zone (UTC) timestamp
            frame[col] = frame[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame.rename(columns=groups)


def _flag(column: Any) -> Any:
    """The ``churned`` flag as a nullable boolean (``True`` = left by the snapshot)."""
    dtype = column.type()
    if dtype.is_boolean():
        return column
    if dtype.is_numeric():
        return column != 0
    raise ValueError(f"customers.churned must be a churn flag (True/False or 1/0), got a {dtype} column")


# ---------------------------------------------------------------------------------------- finishing


def _ordinals(values: pd.Series, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """Period ordinals of truncated timestamps and where they are known."""
    known = values.notna().to_numpy()
    ordinals = np.zeros(len(values), dtype=np.int64)
    if known.any():
        ordinals[known] = pd.PeriodIndex(pd.to_datetime(values[known]).dt.to_period(freq)).asi8
    return ordinals, known


def _weighted_below(values: np.ndarray, weights: np.ndarray, points: np.ndarray, side: str) -> np.ndarray:
    """Sum of ``weights`` where ``values < points`` (``side="left"``) or ``<=`` (``"right"``), per point."""
    order = np.argsort(values, kind="stable")
    cum = np.concatenate([[0], np.cumsum(weights[order])])
    return cum[np.searchsorted(values[order], points, side=side)]


def _in_period(values: np.ndarray, weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    return _weighted_below(values, weights, points, "right") - _weighted_below(values, weights, points, "left")


def _retention(
    cust: pd.DataFrame,
    byl: list[str],
    basis: str,
    has_acq: bool,
    periods: pd.PeriodIndex,
    snap: pd.Period | None,
    freq: str,
) -> pd.DataFrame:
    """What :func:`bsc_toolkit.metrics.retention` gives (counts, rates), from the customers' aggregate."""
    from bsc_toolkit.metrics.customers import _as_counts

    points = periods.asi8
    nan = np.nan
    groups = cust.groupby(byl, observed=True, sort=True) if byl else [((), cust)]
    rows = []
    for key, grp in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        w = grp["_n"].to_numpy(dtype=np.int64)
        a, a_known = _ordinals(grp["_p"], freq)
        c, c_known = _ordinals(grp["_q"], freq)
        nrows = len(points)
        acquired = _in_period(a[a_known], w[a_known], points).astype(float) if has_acq else np.full(nrows, nan)
        n_start = churned = n_end = num = den = np.full(nrows, nan)
        if basis == "per period":
            churned = _in_period(c[c_known], w[c_known], points).astype(float)
            if has_acq:
                c_filled = np.where(c_known, c, _NEVER)
                last = np.maximum(a, c_filled)[a_known]
                aw = w[a_known]
                n_start = (
                    _weighted_below(a[a_known], aw, points, "left") - _weighted_below(last, aw, points, "left")
                ).astype(float)
                n_end = (
                    _weighted_below(a[a_known], aw, points, "right") - _weighted_below(last, aw, points, "right")
                ).astype(float)
                leavers = a_known & c_known & (a < c)
                num = _in_period(c[leavers], w[leavers], points).astype(float)
                den = n_start
        elif basis == "by snapshot":
            flag = grp["_f"].astype("boolean")
            at = points == snap.ordinal
            left, stayed = flag.eq(True).fillna(False).to_numpy(), flag.eq(False).fillna(False).to_numpy()
            n_start, churned, n_end, num, den = (
                np.where(at, float(value), nan)
                for value in (w.sum(), w[left].sum(), w[stayed].sum(), w[left].sum(), w[flag.notna().to_numpy()].sum())
            )
        for i, period in enumerate(periods):
            rows.append((period, *key_t, n_start[i], acquired[i], churned[i], n_end[i], num[i], den[i]))
    out = pd.DataFrame(rows, columns=["period", *byl, *_COUNTS, "_num", "_den"])
    out["period"] = pd.PeriodIndex(list(out["period"]), freq=periods.freq)
    num_a, den_a = out["_num"].to_numpy(dtype=float), out["_den"].to_numpy(dtype=float)
    out["churn_rate"] = np.divide(num_a, den_a, out=np.full_like(den_a, np.nan), where=den_a > 0)
    out["retention_rate"] = 1 - out["churn_rate"]
    return _as_counts(out.drop(columns=["_num", "_den"]))


def _retention_notes(basis: str, has_acq: bool, snap: pd.Period | None) -> dict[str, str]:
    """The notes :func:`bsc_toolkit.metrics.retention` gives."""
    notes: dict[str, str] = {}
    if basis == "by snapshot":
        notes["churn_rate"] = f"share of customers who left by the snapshot ({snap}), not a per-period rate"
        notes["retention_rate"] = f"share of customers still active at the snapshot ({snap}), not a per-period rate"
    elif basis == "no churn data":
        for col in ("n_customers_start", "churned", "churn_rate", "retention_rate"):
            notes[col] = "no churn dates (churned_at) or churn flag (churned) in the customers table"
    elif not has_acq:
        notes["n_customers_start"] = "no acquisition dates (acquired_at): who was a customer when is unknown"
        notes["churn_rate"] = notes["retention_rate"] = notes["n_customers_start"]
    if not has_acq:
        notes["acquired"] = "no acquisition dates (acquired_at) in the customers table"
    return notes


def _dated(part: pd.DataFrame, byl: list[str], freq: str) -> pd.DataFrame:
    """Rows of an aggregate with a date and a group, keyed by ``period`` and the groups."""
    part = part[part["_p"].notna()]
    if byl:  # without the rows of no group, a group column of objects may be bools (as groupby keys are)
        part = part.dropna(subset=byl)
        part = part.astype({b: part[b].infer_objects().dtype for b in byl})
    part = part.assign(period=pd.to_datetime(part["_p"]).dt.to_period(freq))
    return part


def _share(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    den = denominator.astype(float)
    return numerator.astype(float) / den.where(den > 0)


def _check_scale(part: pd.DataFrame, prefix: str, low: float, high: float, message: str) -> None:
    lowest, highest = part[f"{prefix}_min"].min(), part[f"{prefix}_max"].max()
    if (pd.notna(lowest) and lowest < low) or (pd.notna(highest) and highest > high):
        raise ValueError(message)


def _survey_kpis(
    part: pd.DataFrame, keys: list[str], scales: dict[str, RatingScale], present: list[str], freq: str
) -> pd.DataFrame:
    """Per (period, group): csat mean and top box, NPS, driver means (as the pandas functions give them)."""
    byl = keys[1:]
    if "_csat_n" in part.columns and part["_csat_n"].notna().any():
        scale = scales["csat"]
        _check_scale(
            part,
            "_csat",
            float(scale.low),
            float(scale.high),
            f"column 'csat' holds scores outside its declared {scale.label} scale; "
            "declare the scale the data is on (scale=RatingScale(low, high, top_box))",
        )
    if "_nps_n" in part.columns and part["_nps_n"].notna().any():
        _check_scale(part, "_nps", 0.0, 10.0, "column 'nps' must be on the 0-10 scale; some responses are outside it")
    dated = _dated(part, byl, freq)
    out = dated[keys].copy()
    if "_csat_n" in dated.columns:
        out["csat_mean"] = _share(dated["_csat_sum"], dated["_csat_n"])
        out["csat_top_box"] = _share(dated["_csat_top"], dated["_csat_n"])
    if "_nps_n" in dated.columns:
        out["nps"] = 100 * (_share(dated["_nps_p"], dated["_nps_n"]) - _share(dated["_nps_d"], dated["_nps_n"]))
    for i, d in enumerate(present):
        out[f"{d}_mean"] = _share(dated[f"_d{i}_sum"], dated[f"_d{i}_n"])
    return out


def _resolve_defaults(
    tables: EngineTables, freq: str | None, ratings: Mapping[str, RatingScale] | None, drivers, snapshot
) -> tuple[str, Mapping[str, RatingScale], list[str] | Sequence[str], Any]:
    """The arguments the CLI passes to the pandas function for a loaded data set."""
    description = tables.description
    survey_cols = _columns(tables.surveys)
    declared = [d for d in description.driver_names(survey_cols) if d in survey_cols]
    if ratings is None:  # as CustomerData.ratings
        ratings = description.scales([c for c in ("csat", "nps", *declared) if c in survey_cols])
    if drivers is None:  # as CustomerData.drivers
        drivers = declared
    if snapshot is None and description.is_snapshot:
        snapshot = description.snapshot_date
    return freq or description.frequency, ratings, drivers, snapshot


def kpi_summary(
    tables: EngineTables,
    freq: str | None = None,
    by: str | Sequence[str] | None = None,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    *,
    ratings: Mapping[str, RatingScale] | None = None,
    drivers: Sequence[str] | None = None,
    snapshot: str | pd.Timestamp | pd.Period | None = None,
) -> pd.DataFrame:
    """One row per period (and group) with the headline customer KPIs, computed on the tables' engine.

    The same table as :func:`bsc_toolkit.metrics.kpi_summary` on the same data, with the same
    rules (missing is no data, strict sums, a group without orders in a period with orders has a
    true 0, snapshot churn...): see there. The scans run in the engine (one query); only
    aggregates per period (and group) come back.

    Parameters
    ----------
    tables : EngineTables
        The data set's tables on DuckDB or Spark; a table that is None is absent.
    freq : str, optional
        Period frequency (default: the data set's, ``tables.description.frequency``): ``M``,
        ``Q``, ``Y`` (``A``), ``W`` (Monday to Sunday) or ``D``.
    by : str or list of str, optional
        Group columns of the customers table.
    start, end : str or Period, optional
        Period range; by default the periods with survey or transaction activity.
    ratings : mapping of str to RatingScale, optional
        Rating scales (default: the description's scales of the rating columns the surveys have).
    drivers : sequence of str, optional
        Driver rating columns (default: the description's drivers the surveys have).
    snapshot : str, Timestamp or Period, optional
        Snapshot data: the snapshot date (default: the description's ``snapshot_date``).

    Returns
    -------
    pandas.DataFrame
        ``period, *by`` and :func:`~bsc_toolkit.metrics.kpi_columns` ``(drivers)``, with ``attrs``
        ``notes``, ``churn_basis``, ``ratings``, ``drivers`` as the pandas function.

    Raises
    ------
    ValueError
        As the pandas function (unknown group columns, ratings off their scale...), and for a
        frequency the engines do not compute (fiscal quarters, multiples).
    """
    from bsc_toolkit.metrics._common import _by_list, _require
    from bsc_toolkit.metrics.customers import churn_information
    from bsc_toolkit.metrics.summary import _empty_kpis, _resolve_drivers, finish_kpis, resolve_ratings

    freq, ratings, drivers, snapshot = _resolve_defaults(tables, freq, ratings, drivers, snapshot)
    unit = _unit(freq)
    byl = _by_list(by)
    scales = resolve_ratings(ratings)
    customer_cols = _columns(tables.customers)
    survey_cols = _columns(tables.surveys)
    tx_cols = _columns(tables.transactions)
    head = pd.DataFrame(columns=customer_cols)
    _require(head, ["customer_id", *byl], "customers")
    driver_list = _resolve_drivers(drivers, pd.DataFrame(columns=survey_cols))
    present = [d for d in driver_list if d in survey_cols]
    columns = kpi_columns(driver_list)
    keys = ["period", *byl]
    basis = churn_information(head)
    has_acq = "acquired_at" in customer_cols

    parts = _engine_aggregates(tables, byl, unit, basis, scales, present)
    survey_periods = _dated(parts["s"], [], freq)["period"]
    order_periods = _dated(parts["t"], [], freq)["period"]
    activity = pd.concat([survey_periods, order_periods], ignore_index=True)
    if activity.empty:
        cust = parts["c"]
        events = [cust.loc[cust[c].notna(), c] for c in ("_p", "_q")]
        activity = pd.to_datetime(pd.concat(events, ignore_index=True)).dt.to_period(freq)
    if basis == "by snapshot":
        dated = survey_periods if len(survey_periods) else order_periods
        if snapshot is None:
            snapshot = end if end is not None else (dated.max().start_time if len(dated) else None)
        if snapshot is not None:  # the snapshot's period is in the range
            activity = pd.concat([activity, pd.Series([pd.Period(snapshot, freq)])], ignore_index=True)
    else:
        snapshot = None
    start = start if start is not None else (activity.min() if len(activity) else None)
    end = end if end is not None else (activity.max() if len(activity) else None)
    attrs: dict[str, Any] = {"notes": {}, "churn_basis": basis, "ratings": scales, "drivers": tuple(driver_list)}
    if start is None or end is None:
        out = _empty_kpis(keys, columns, freq)
        attrs["notes"] = {c: "no dated data: no periods (pass start= and end=)" for c in columns}
        out.attrs.update(attrs)
        return out

    periods = pd.period_range(pd.Period(start, freq), pd.Period(end, freq), freq=freq)
    snap = pd.Period(snapshot, freq) if basis == "by snapshot" else None
    out = _retention(parts["c"], byl, basis, has_acq, periods, snap, freq)
    notes = _retention_notes(basis, has_acq, snap)

    # ---- surveys
    survey_kpis = ["csat_mean", "csat_top_box", "nps", *(f"{d}_mean" for d in driver_list)]
    if survey_periods.empty:
        why = "no survey responses" if parts["s"]["_n"].sum() == 0 else "no survey dates (surveyed_at)"
        notes.update({c: why for c in survey_kpis})
    else:
        found = _survey_kpis(parts["s"], keys, scales, present, freq)
        if "csat" not in survey_cols:
            notes.update(dict.fromkeys(["csat_mean", "csat_top_box"], "no csat column in the surveys"))
        if "nps" not in survey_cols:
            notes["nps"] = "no nps column in the surveys"
        notes.update({f"{d}_mean": f"no {d!r} rating column in the surveys" for d in driver_list if d not in present})
        out = out.merge(found, on=keys, how="left")

    # ---- money
    has_rev = len(order_periods) > 0 and "revenue_usd" in tx_cols
    has_cost = has_rev and "cost_usd" in tx_cols
    if has_rev:
        tx = parts["t"]
        active = set(order_periods)
        dated_tx = _dated(tx, byl, freq)
        money = dated_tx[keys].assign(_n=dated_tx["_n"].astype(float))
        money["revenue_usd"] = dated_tx["_rev_sum"].where(dated_tx["_rev_n"] == dated_tx["_n"])
        if has_cost:
            money["cost_usd"] = dated_tx["_cost_sum"].where(dated_tx["_cost_n"] == dated_tx["_n"])
        out = out.merge(money, on=keys, how="left")
        # a period with orders but none for this group: a true zero; a period without any order: no data
        zero = out["_n"].isna() & out["period"].isin(active)
        out.loc[zero, [c for c in ("revenue_usd", "cost_usd") if c in out.columns]] = 0.0
        out = out.drop(columns="_n")
        if not out["period"].isin(active).all():
            notes.setdefault("revenue_usd", "periods without any order in the transactions have no revenue data")
        for col, short in (("revenue_usd", "_rev"), ("cost_usd", "_cost")):
            n_missing = int((tx["_n"] - tx[f"{short}_n"]).sum()) if col in tx_cols else 0
            if n_missing:
                notes.setdefault(col, f"{n_missing} transaction rows lack {col}: their periods' sums are unknown")
    else:
        n_rows = parts["t"]["_n"].sum()
        why = "no transactions" if n_rows == 0 else "no dated revenue (ordered_at, revenue_usd) in the transactions"
        notes.update(dict.fromkeys(MONEY_KPI_COLUMNS, why))
    return finish_kpis(out, notes, attrs, keys, columns, has_rev=has_rev, has_cost=has_cost)
