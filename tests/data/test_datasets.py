"""Tests for bsc_toolkit.data.datasets (CDNOW loader and downloader)."""

from __future__ import annotations

import io
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.data import datasets
from bsc_toolkit.data.datasets import download_cdnow, find_cdnow, load_cdnow, load_cdnow_summary

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CDNOW = REPO_ROOT / ".." / "shared" / "data" / "cdnow"

SAMPLE_TXT = " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n 00018 0002 19970101  1   11.77\r\n"
MASTER_TXT = (
    " customer_id  date number_of_cds  dollar_value\n"
    " 00001 19970101  1   11.77\n"
    " 00002 19970112  1   12.00\n"
    " 00002 19970112  5   77.00\n"
)


def _zip_bytes(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture()
def fake_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cdnow"
    d.mkdir()
    (d / "CDNOW_sample.txt").write_text(SAMPLE_TXT)
    (d / "CDNOW_master.txt").write_text(MASTER_TXT)
    (d / "cdnow_customers_summary_with_transactions.csv").write_text(
        "ID,x,t_x,T,zbar\n1,1,2.43,38.86,29.73\n2,0,0,38.86,0\n"
    )
    return d


def test_load_cdnow_sample_layout(fake_dir):
    df = load_cdnow(fake_dir, kind="sample")
    assert list(df.columns) == [
        "customer_id",
        "ordered_at",
        "quantity",
        "revenue_usd",
        "cost_usd",
        "master_customer_id",
    ]
    assert df["customer_id"].tolist() == [1, 1, 2]
    assert df["master_customer_id"].tolist() == [4, 4, 18]
    assert df["ordered_at"].tolist() == list(pd.to_datetime(["1997-01-01", "1997-01-18", "1997-01-01"]))
    assert df["revenue_usd"].tolist() == [29.33, 29.73, 11.77]
    assert df["cost_usd"].isna().all()
    assert str(df["ordered_at"].dtype) == "datetime64[ns]"


def test_load_cdnow_master_with_header_and_file_path(fake_dir):
    df = load_cdnow(fake_dir / "CDNOW_master.txt")
    assert len(df) == 3 and "master_customer_id" not in df
    assert df["quantity"].tolist() == [1, 1, 5]
    assert df.equals(load_cdnow(fake_dir, kind="master"))


def test_load_cdnow_summary(fake_dir):
    s = load_cdnow_summary(fake_dir)
    assert list(s.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert s.index.name == "customer_id" and s.loc[1, "monetary_value"] == 29.73


def test_load_cdnow_errors(tmp_path, fake_dir):
    with pytest.raises(ValueError, match="kind"):
        load_cdnow(fake_dir, kind="full")
    with pytest.raises(FileNotFoundError, match="download_cdnow"):
        load_cdnow(tmp_path / "nowhere")
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3 4 5 6\n")
    with pytest.raises(ValueError, match="columns"):
        load_cdnow(bad)


def test_find_cdnow_env_var_first(monkeypatch, fake_dir):
    monkeypatch.setenv("BSC_CDNOW_DIR", str(fake_dir))
    assert find_cdnow() == fake_dir.resolve()
    assert len(load_cdnow()) == 3  # path=None uses find_cdnow()


def test_find_cdnow_none(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_candidate_dirs", lambda: [tmp_path / "a", tmp_path / "b"])
    assert find_cdnow() is None
    with pytest.raises(FileNotFoundError, match="BSC_CDNOW_DIR"):
        load_cdnow()


def test_find_cdnow_search_order(monkeypatch):
    monkeypatch.delenv("BSC_CDNOW_DIR", raising=False)
    dirs = datasets._candidate_dirs()
    assert dirs[0] == REPO_ROOT / "data" / "cdnow"
    assert dirs[1].resolve() == SHARED_CDNOW.resolve()


def test_download_with_monkeypatched_fetch_zip(monkeypatch, tmp_path):
    calls = []

    def fake_fetch(url, timeout=60.0):
        calls.append(url)
        return _zip_bytes("CDNOW_sample.txt", SAMPLE_TXT)

    monkeypatch.setattr(datasets, "_fetch", fake_fetch)
    out = download_cdnow(tmp_path / "dl", kind="sample")
    assert out == tmp_path / "dl" / "CDNOW_sample.txt"
    assert calls == [datasets.CDNOW_BASE_URL + "CDNOW_sample.zip"]
    assert len(load_cdnow(out)) == 3
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["CDNOW_sample.txt"]  # no temp files left
    # existing file is kept unless overwrite=True
    download_cdnow(tmp_path / "dl", kind="sample")
    assert len(calls) == 1
    download_cdnow(tmp_path / "dl", kind="sample", overwrite=True)
    assert len(calls) == 2


def test_download_from_file_url(tmp_path):
    src = tmp_path / "CDNOW_master.zip"
    src.write_bytes(_zip_bytes("CDNOW_master.txt", MASTER_TXT))
    out = download_cdnow(tmp_path / "dl", url=src.as_uri(), kind="master")
    assert load_cdnow(out)["customer_id"].tolist() == [1, 2, 2]
    # plain text payloads are saved as they are
    txt = tmp_path / "plain.txt"
    txt.write_text(SAMPLE_TXT)
    out2 = download_cdnow(tmp_path / "dl2", url=txt.as_uri(), kind="sample")
    assert out2.read_bytes() == txt.read_bytes()


def test_download_network_failure_is_clear(monkeypatch, tmp_path):
    def failing_fetch(url, timeout=60.0):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(datasets, "_fetch", failing_fetch)
    with pytest.raises(ConnectionError, match="manually") as exc:
        download_cdnow(tmp_path / "dl")
    assert "brucehardie.com" in str(exc.value)
    assert not (tmp_path / "dl" / "CDNOW_sample.txt").exists()
    with pytest.raises(ConnectionError, match="manually"):
        download_cdnow(tmp_path / "dl2", url=(tmp_path / "missing.zip").as_uri())


def test_download_relative_dest_is_under_project_root(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_project_root", lambda: tmp_path)
    monkeypatch.setattr(datasets, "_fetch", lambda url, timeout=60.0: SAMPLE_TXT.encode())
    out = download_cdnow()
    assert out == tmp_path / "data" / "cdnow" / "CDNOW_sample.txt"


# ---------------------------------------------------------------------------
# the real files, when available
# ---------------------------------------------------------------------------


def _real_dir() -> Path:
    d = find_cdnow()
    if d is None or not (d / "CDNOW_sample.txt").is_file():
        pytest.skip("CDNOW_sample.txt not found (see find_cdnow); set BSC_CDNOW_DIR")
    return d


def test_real_cdnow_sample():
    df = load_cdnow(_real_dir(), kind="sample")
    assert len(df) == 6919
    assert df["customer_id"].nunique() == 2357
    assert df["ordered_at"].min() == pd.Timestamp("1997-01-01")
    assert df["ordered_at"].max() <= pd.Timestamp("1998-06-30")
    assert (df["revenue_usd"] >= 0).all()


def test_real_cdnow_master_and_summary():
    d = _real_dir()
    if not (d / "CDNOW_master.txt").is_file():
        pytest.skip(f"CDNOW_master.txt not in {d}")
    m = load_cdnow(d, kind="master")
    assert m["customer_id"].nunique() == 23570
    assert np.isfinite(m["revenue_usd"]).all()
    if (d / "cdnow_customers_summary_with_transactions.csv").is_file():
        s = load_cdnow_summary(d)
        assert len(s) == 2357 and int((s["frequency"] > 0).sum()) == 946
