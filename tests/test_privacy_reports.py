"""Reports are mailed around: customer names never reach one, and ``--mask-ids`` hides the ids.

A simulated data set gets text customer ids and personal columns (a name, an e-mail address);
``bsc report --mask-ids`` renders the reports that show customers, and no id, name or address may
appear in any page, while the pseudonyms do (so the test is not vacuous).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bsc_toolkit.data.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
BSC = Path(sys.executable).with_name("bsc")


def _personal_data_set(folder: Path) -> tuple[Path, list[str]]:
    """Simulated data with ids 'acct-<n>x' and a name and e-mail column; returns the folder and the names."""
    sim = simulate(n_customers=800, seed=11)
    ids = {i: f"acct-{i:05d}x" for i in sim.customers["customer_id"]}
    for table in (sim.customers, sim.surveys, sim.transactions):
        table["customer_id"] = table["customer_id"].map(ids)
    names = [f"Quenbury Zalthor {i}" for i in range(len(sim.customers))]
    sim.customers["name"] = names
    sim.customers["email"] = [f"zalthor{i}@example.org" for i in range(len(sim.customers))]
    return sim.to_dir(folder), names


@pytest.mark.slow
def test_masked_reports_show_no_id_name_or_address(tmp_path: Path) -> None:
    data_dir, names = _personal_data_set(tmp_path / "data")
    out = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if k != "BSC_MASK_KEY"}
    run = subprocess.run(
        [
            str(BSC),
            "report",
            str(ROOT / "notebooks" / "customer_value.ipynb"),
            str(ROOT / "notebooks" / "customer_kpis.ipynb"),
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--mask-ids",
            "-p",
            "n_boot",
            "50",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    pages = {p.name: p.read_text() for p in out.glob("*.html")}
    assert {"customer_value.html", "customer_kpis.html", "index.html"} <= set(pages)
    everything = "\n".join(pages.values()) + run.stdout + run.stderr
    assert "acct-" not in everything, "a raw customer id reached a report"
    assert not [name for name in names if name in everything], "a customer name reached a report"
    assert "Quenbury" not in everything and "@example.org" not in everything
    # the personal columns were left out with a note, and the top customers are shown by pseudonym
    for page in ("customer_kpis.html", "customer_value.html"):
        assert "look like personal data and were left out" in pages[page]
    pseudonyms = set(re.findall(r"C-[0-9a-f]{10,}", pages["customer_value.html"]))
    assert len(pseudonyms) >= 10, "the top-customers table shows no pseudonyms"
