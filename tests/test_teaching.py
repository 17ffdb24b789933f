"""Check cells of the teaching notebooks."""

from __future__ import annotations

import math

import pytest

from bsc_toolkit.teaching import check_estimate, check_estimates


def test_placeholder_asks_to_fill_in():
    r = check_estimate("effect of csat", None, -0.45)
    assert r.passed is None and "Fill in" in str(r) and "effect of csat" in str(r)
    assert "<div" in r._repr_html_()


def test_relative_check_messages():
    r = check_estimate("weight", 0.33, 0.35, tolerance=0.1)
    assert r.passed is True
    assert "your estimate 0.33 vs truth 0.35: within 6%" in r.message
    assert r.error == pytest.approx(-0.02) and r.relative_error == pytest.approx(0.02 / 0.35)
    bad = check_estimate("weight", 0.25, 0.35, tolerance=0.1)
    assert bad.passed is False and "off by 29%" in bad.message
    assert check_estimate("w", 0.315, 0.35, tolerance=0.1).passed is True  # boundary: exactly 10 %


def test_absolute_and_zero_truth():
    r = check_estimate("nps", -18.0, -20.0, tolerance=2.5, relative=False)
    assert r.passed is True and "within 2" in r.message
    z = check_estimate("zero", 0.05, 0.0, tolerance=0.1)
    assert z.passed is True and z.relative_error is None


def test_bad_estimates():
    with pytest.raises(ValueError, match="must be a number"):
        check_estimate("x", "abc", 1.0)
    assert check_estimate("x", math.nan, 1.0).passed is False
    with pytest.raises(ValueError, match="tolerance"):
        check_estimate("x", 1.0, 1.0, tolerance=-1)


def test_check_estimates_table():
    truth = {"time": 0.15, "quality": 0.35}
    empty = check_estimates(None, truth)
    assert list(empty["name"]) == ["time", "quality"] and empty["passed"].isna().all()
    assert "Fill in" in empty._repr_html_()
    full = check_estimates({"time": 0.16, "quality": 0.2}, truth, tolerance=0.1)
    assert list(full["passed"]) == [True, False]
    assert "1 of 2 estimates" in full._repr_html_()
    with pytest.raises(ValueError, match="no true value"):
        check_estimates({"speed": 1.0}, truth)
