"""Data set shapes the simulator never produces, derived from a simulated data set.

Each variant is a folder (with a ``dataset.yaml`` where the shape needs a description) that the
reports must handle: every section the capability table allows must render. Used by the shape
matrix tests (``tests/test_shapes.py``) and handy for trying a report on a shape by hand::

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
}


def make_variant(name: str, src: Path, out: Path) -> Path:
    """Write variant ``name`` of the data set in ``src`` (CSV tables) to ``out``."""
    if out.exists():
        shutil.rmtree(out)
    return VARIANTS[name](_read(src), out)


if __name__ == "__main__":  # pragma: no cover
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    for variant in VARIANTS:
        print(make_variant(variant, source, target / variant))
