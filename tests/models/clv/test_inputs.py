"""Shared input handling of the CLV models: covariate names and columns, and whether their effects are identified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bsc_toolkit.models.clv._inputs import _as_names, _collinear, _covariate_matrix, _flat_columns, _non_negative


def test_names():
    assert _as_names(None) is None
    assert _as_names("csat") == ["csat"]
    assert _as_names(("csat", "nps")) == ["csat", "nps"]
    with pytest.raises(ValueError, match="lists a column twice"):
        _as_names(["csat", "csat"])
    with pytest.raises(TypeError, match=r"column names \(str\); got \[3\]"):
        _as_names(["csat", 3], "purchase_covariates")


def test_covariate_matrix_keeps_missing_values_and_names_bad_ones():
    frame = pd.DataFrame(
        {"csat": [1.0, np.nan, 3.0], "vip": [True, False, True], "tier": ["a", "b", None], "odd": [1.0, np.inf, 0]},
        index=["c1", "c2", "c3"],
    )
    Z = _covariate_matrix(frame, ["csat", "vip"], "data")
    np.testing.assert_array_equal(Z, [[1.0, 1.0], [np.nan, 0.0], [3.0, 1.0]])
    assert _covariate_matrix(frame, [], "data").shape == (3, 0)
    with pytest.raises(ValueError, match=r"covariate column 'tier' must be numeric; 2 row\(s\) of data .*'a'.*c1, c2"):
        _covariate_matrix(frame, ["tier"], "data")
    with pytest.raises(ValueError, match=r"'odd' of data has 1 infinite value\(s\) at rows \[c2\]"):
        _covariate_matrix(frame, ["odd"], "data")
    with pytest.raises(ValueError, match=r"no covariate column 'cast' \(did you mean 'csat'\?\)"):
        _covariate_matrix(frame, ["cast"], "data")


def test_flat_columns_are_found_at_any_scale_and_with_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    # constants that centring in floating point does not make exactly 0 (0.1, 1e6 + 0.1), and a tiny but real spread
    Z = np.column_stack([x, np.full(50, 0.1), np.full(50, 1e6 + 0.1), 1e-13 * x, np.zeros(50)])
    assert _flat_columns(Z) == [1, 2, 4]
    # with weights: a column that varies only on rows of weight 0 is flat among the customers fitted
    w = np.r_[np.ones(49), 0.0]
    varies_on_dropped = np.r_[np.full(49, 2.0), 5.0]
    assert _flat_columns(np.column_stack([x, varies_on_dropped]), w) == [1]
    assert _flat_columns(np.empty((3, 0))) == []


def test_collinear_columns_with_weights():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 200))
    assert _collinear(np.column_stack([x, 2 * x + 1]))
    assert _collinear(np.column_stack([x, y, x - 3 * y]))
    assert not _collinear(np.column_stack([x, y]))
    assert not _collinear(x[:, None])
    # independent over all rows, but collinear among the rows with weight
    w = np.r_[np.ones(100), np.zeros(100)]
    z = np.r_[2 * x[:100], y[100:]]
    assert not _collinear(np.column_stack([x, z]))
    assert _collinear(np.column_stack([x, z]), w)


def test_non_negative():
    assert _non_negative(3, "t", "of periods") == 3.0
    for bad in (-1, np.nan, np.inf, "soon", None):
        with pytest.raises(ValueError, match="t must be a non-negative number of periods"):
            _non_negative(bad, "t", "of periods")
