"""Data set shapes the simulator never produces, derived from a simulated data set.

Each variant is a folder (with a ``dataset.yaml`` where the shape needs a description) that the
reports must handle: every section the capability table allows must render. Besides the shapes real
data come in (:data:`VARIANTS`), four hostile-but-valid variants (:data:`HOSTILE_VARIANTS`: data
``bsc validate`` accepts) combine the awkward cases: refunds in a loss-making business with orders after
churn and one far in the future; header-only survey and transaction tables; every survey and order
within a single quarter; and the shortest dated window (two quarters, surveys in the first only) on
few customers. Used by the shape matrix tests (``tests/test_shapes.py``) and handy for trying a
report on a shape by hand::

    python -m tests.shapes data/default /tmp/shapes
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

SNAPSHOT_DATE = "2025-12-31"


def _read(src: Path) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_csv(src / f"{t}.csv", dtype={"customer_id": "int64"}, keep_default_na=True)
        for t in ("customers", "surveys", "transactions")
    }


def _write(out: Path, frames: dict[str, pd.DataFrame], description: dict | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    if description is not None:
        (out / "dataset.yaml").write_text(yaml.safe_dump(description, sort_keys=False))
    return out


def no_nps(f: dict[str, pd.DataFrame], out: Path) -> Path:
    return _write(out, {**f, "surveys": f["surveys"].drop(columns="nps")})


def no_cost(f: dict[str, pd.DataFrame], out: Path) -> Path:
    return _write(out, {**f, "transactions": f["transactions"].drop(columns="cost_usd")})


def no_transactions(f: dict[str, pd.DataFrame], out: Path) -> Path:
    return _write(out, {k: v for k, v in f.items() if k != "transactions"})


def no_surveys(f: dict[str, pd.DataFrame], out: Path) -> Path:
    return _write(out, {k: v for k, v in f.items() if k != "surveys"})


def snapshot(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """One row per customer: churn flag and tenure at a snapshot date, one undated survey, no orders."""
    c = f["customers"].copy()
    snap = pd.Timestamp(SNAPSHOT_DATE)
    acquired = pd.to_datetime(c["acquired_at"])
    churned_at = pd.to_datetime(c["churned_at"])
    end = churned_at.fillna(snap).clip(upper=snap)
    table = pd.DataFrame(
        {
            "ID": c["customer_id"],
            "Plan": c["segment"],
            "Exited": np.where(churned_at.notna() & (churned_at <= snap), "Yes", "No"),
            "TenureMonths": ((end - acquired).dt.days / 30.4375).round(1),
        }
    )
    last = f["surveys"].sort_values("surveyed_at").groupby("customer_id").tail(1)
    table = table.merge(
        last[["customer_id", "csat", "nps", "time", "quality", "service", "cost"]].rename(
            columns={"customer_id": "ID"}
        ),
        on="ID",
        how="left",
    )
    return _write(
        out,
        {"snapshot": table},
        {
            "name": "Snapshot variant",
            "snapshot_date": SNAPSHOT_DATE,
            "tables": {
                "customers": {
                    "path": "snapshot.csv",
                    "columns": {"customer_id": "ID", "segment": "Plan", "churned": "Exited", "tenure": "TenureMonths"},
                    "tenure_unit": "months",
                },
                "surveys": {
                    "path": "snapshot.csv",
                    "columns": {
                        "customer_id": "ID",
                        "csat": "csat",
                        "nps": "nps",
                        **{d: d for d in ("time", "quality", "service", "cost")},
                    },
                },
            },
        },
    )


def _rescaled(f: dict[str, pd.DataFrame], convert: Callable[[pd.Series], pd.Series]) -> dict[str, pd.DataFrame]:
    s = f["surveys"].copy()
    for col in ("csat", "time", "quality", "service", "cost"):
        s[col] = convert(s[col])
    return {**f, "surveys": s}


def scale_1_5(f: dict[str, pd.DataFrame], out: Path) -> Path:
    frames = _rescaled(f, lambda v: np.ceil(v / 2))
    scale = {"scale": [1, 5], "top_box": 2}
    return _write(
        out,
        frames,
        {
            "name": "1-5 scale variant",
            "tables": {t: {"path": f"{t}.csv"} for t in frames},
            "ratings": {c: scale for c in ("csat", "time", "quality", "service", "cost")},
        },
    )


def scale_0_10(f: dict[str, pd.DataFrame], out: Path) -> Path:
    frames = _rescaled(f, lambda v: v - 1)
    scale = {"scale": [0, 10], "top_box": 2}
    return _write(
        out,
        frames,
        {
            "name": "0-10 scale variant",
            "tables": {t: {"path": f"{t}.csv"} for t in frames},
            "ratings": {c: scale for c in ("csat", "time", "quality", "service", "cost")},
        },
    )


def string_ids(f: dict[str, pd.DataFrame], out: Path) -> Path:
    frames = {k: v.assign(customer_id="C-" + v["customer_id"].astype(str).str.zfill(6)) for k, v in f.items()}
    frames["customers"] = frames["customers"].assign(channel=frames["customers"]["channel"].replace("web", "None"))
    return _write(out, frames)


def other_drivers(f: dict[str, pd.DataFrame], out: Path) -> Path:
    names = {"time": "waiting", "quality": "expectations", "service": "image", "cost": "value"}
    frames = {**f, "surveys": f["surveys"].rename(columns={k: f"Q_{v.upper()}" for k, v in names.items()})}
    return _write(
        out,
        frames,
        {
            "name": "Other drivers variant",
            "tables": {
                "customers": {"path": "customers.csv"},
                "transactions": {"path": "transactions.csv"},
                "surveys": {
                    "path": "surveys.csv",
                    "columns": {
                        "customer_id": "customer_id",
                        "surveyed_at": "surveyed_at",
                        "csat": "csat",
                        "nps": "nps",
                        **{v: f"Q_{v.upper()}" for v in names.values()},
                    },
                },
            },
            "drivers": [{"name": v, "label": v.capitalize()} for v in names.values()],
        },
    )


#: Date of the one order far in the future in :func:`refunds_loss_late_orders`.
FAR_FUTURE = "2099-01-01"


def refunds_loss_late_orders(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """Refunds, a loss-making business, orders after churn and one order far in the future.

    * one order in 12 is refunded in full 45 days later (a negative line, no cost), so some
      customer-periods have a negative net revenue;
    * costs are raised so that cost exceeds revenue in total (the whale curve is a loss curve);
    * each of 20 churned customers orders again after their churn date (positive amounts);
    * one order is dated 2099-01-01.
    """
    rng = np.random.default_rng(13)
    t = f["transactions"].copy()
    t["cost_usd"] = (t["cost_usd"] * 1.6).round(2)
    refunded = t.sample(frac=1 / 12, random_state=13)
    refunds = refunded.assign(
        ordered_at=(pd.to_datetime(refunded["ordered_at"]) + pd.Timedelta(days=45)).dt.strftime("%Y-%m-%d"),
        revenue_usd=-refunded["revenue_usd"],
        cost_usd=0.0,
    )
    c = f["customers"]
    churned = c.dropna(subset=["churned_at"]).sample(20, random_state=13)
    late = pd.DataFrame(
        {
            "customer_id": churned["customer_id"].to_numpy(),
            "ordered_at": (
                pd.to_datetime(churned["churned_at"]) + pd.to_timedelta(rng.integers(10, 60, len(churned)), unit="D")
            ).dt.strftime("%Y-%m-%d"),
            "revenue_usd": rng.uniform(20, 200, len(churned)).round(2),
            "cost_usd": rng.uniform(20, 200, len(churned)).round(2),
        }
    )
    future = pd.DataFrame(
        {
            "customer_id": [c["customer_id"].iloc[0]],
            "ordered_at": [FAR_FUTURE],
            "revenue_usd": [99.0],
            "cost_usd": [60.0],
        }
    )
    frames = {**f, "transactions": pd.concat([t, refunds, late, future], ignore_index=True)}
    return _write(out, frames)


def header_only(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """Survey and transaction files with their header and no rows (an export of an empty query)."""
    return _write(out, {**f, "surveys": f["surveys"].iloc[:0], "transactions": f["transactions"].iloc[:0]})


def single_period(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """Every survey and order within one quarter (the last full quarter of the data)."""
    last = pd.to_datetime(f["transactions"]["ordered_at"]).max().to_period("Q") - 1
    return _write(
        out,
        {
            **f,
            "surveys": _within(f["surveys"], "surveyed_at", [last]),
            "transactions": _within(f["transactions"], "ordered_at", [last]),
        },
    )


def short_window(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """The fewest periods the reports call dated, on few customers, surveyed in the first period only.

    300 customers; orders in two quarters, surveys in the first of them only: two periods make the
    data dated, but no customer is surveyed twice (the within-customer spend models are not
    identified) and the service-profit chain's default two-period baseline leaves no follow-up.
    """
    last = pd.to_datetime(f["transactions"]["ordered_at"]).max().to_period("Q") - 1
    ids = f["customers"]["customer_id"].sample(300, random_state=13)
    few = {name: frame[frame["customer_id"].isin(ids)] for name, frame in f.items()}
    return _write(
        out,
        {
            **few,
            "surveys": _within(few["surveys"], "surveyed_at", [last - 1]),
            "transactions": _within(few["transactions"], "ordered_at", [last - 1, last]),
        },
    )


def _monthly_bills(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One bill per customer and month while the customer is subscribed (a telecom's billing rows).

    The plan price depends on the segment; the bill is dated on the day of the month the customer
    joined (capped at 28), from the month after joining until churn or the end of the data, within the
    window of the original transactions (an extract of the billing system's last years).
    """
    c = f["customers"]
    end = pd.to_datetime(f["transactions"]["ordered_at"]).max()
    acquired = pd.to_datetime(c["acquired_at"])
    stop = pd.to_datetime(c["churned_at"]).fillna(end).clip(upper=end)
    n_bills = ((stop.dt.year - acquired.dt.year) * 12 + stop.dt.month - acquired.dt.month).clip(lower=0)
    cust = np.repeat(np.arange(len(c)), n_bills.to_numpy())
    k = np.arange(cust.size) - np.repeat(np.cumsum(n_bills.to_numpy()) - n_bills.to_numpy(), n_bills.to_numpy()) + 1
    first = acquired.to_numpy()[cust].astype("datetime64[M]")
    day = np.minimum(acquired.dt.day.to_numpy()[cust], 28) - 1
    dates = (first + k.astype("timedelta64[M]")).astype("datetime64[D]") + day.astype("timedelta64[D]")
    price = c["segment"].map({"consumer": 29.0, "smb": 79.0, "enterprise": 249.0}).fillna(49.0).to_numpy()[cust]
    bills = pd.DataFrame(
        {
            "customer_id": c["customer_id"].to_numpy()[cust],
            "ordered_at": pd.to_datetime(dates).strftime("%Y-%m-%d"),
            "revenue_usd": price,
            "cost_usd": (price * 0.55).round(2),
        }
    )
    start = pd.to_datetime(f["transactions"]["ordered_at"]).min()  # the extract covers the original window
    when = pd.to_datetime(dates)
    return bills[(when <= stop.to_numpy()[cust]) & (when >= start)].reset_index(drop=True)  # no bill after churn


def monthly_billing(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """A subscription business: a bill per customer and month while subscribed, churn dates observed.

    Contractual customers (churn is observed), so the CLV report uses the contractual model.
    """
    return _write(out, {**f, "transactions": _monthly_bills(f)})


def monthly_billing_as_purchases(f: dict[str, pd.DataFrame], out: Path) -> Path:
    """The monthly bills of :func:`monthly_billing` declared non-contractual (``clv.contractual: false``).

    Forces the purchase models (BG/NBD) onto billing rows: every customer "buys" once a month, the
    shape on which a BG/NBD fit used to run to a limit of the model and print astronomical CLVs.
    """
    description = {"name": "Monthly bills declared as purchases", "clv": {"contractual": False}}
    return _write(out, {**f, "transactions": _monthly_bills(f)}, description)


def _within(frame: pd.DataFrame, col: str, periods: list[pd.Period]) -> pd.DataFrame:
    """The rows of ``frame`` whose date ``col`` falls in one of ``periods``."""
    return frame[pd.to_datetime(frame[col]).dt.to_period(periods[0].freqstr).isin(periods)]


#: The shapes real data come in.
VARIANTS: dict[str, Callable[[dict[str, pd.DataFrame], Path], Path]] = {
    "no_nps": no_nps,
    "no_cost": no_cost,
    "no_transactions": no_transactions,
    "no_surveys": no_surveys,
    "snapshot": snapshot,
    "scale_1_5": scale_1_5,
    "scale_0_10": scale_0_10,
    "string_ids": string_ids,
    "other_drivers": other_drivers,
    "monthly_billing": monthly_billing,
}

#: Hostile but valid data (``bsc validate`` accepts them): the reports must handle them too.
HOSTILE_VARIANTS: dict[str, Callable[[dict[str, pd.DataFrame], Path], Path]] = {
    "refunds_loss_late_orders": refunds_loss_late_orders,
    "header_only": header_only,
    "single_period": single_period,
    "short_window": short_window,
    "monthly_billing_as_purchases": monthly_billing_as_purchases,
}

ALL_VARIANTS = {**VARIANTS, **HOSTILE_VARIANTS}

#: The reports the slow shape matrix renders on a variant whose expectations concern only them
#: (every report otherwise): the monthly bills test the CLV models' choice and limits.
VARIANT_REPORTS: dict[str, tuple[str, ...]] = {
    "monthly_billing": ("customer_value",),
    "monthly_billing_as_purchases": ("customer_value",),
}


def make_variant(name: str, src: Path, out: Path) -> Path:
    """Write variant ``name`` of the data set in ``src`` (CSV tables) to ``out``."""
    if out.exists():
        shutil.rmtree(out)
    return ALL_VARIANTS[name](_read(src), out)


if __name__ == "__main__":  # pragma: no cover
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    for variant in ALL_VARIANTS:
        print(make_variant(variant, source, target / variant))
