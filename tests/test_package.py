"""The public API resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bsc_toolkit


@pytest.mark.parametrize("name", bsc_toolkit.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(bsc_toolkit, name) is not None


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bsc_toolkit.nope  # noqa: B018


def test_import_does_not_load_model_libraries():
    code = "import sys, bsc_toolkit; print('lifelines' in sys.modules, 'statsmodels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
