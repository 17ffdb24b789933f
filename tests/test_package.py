"""The public API resolves, importing the package stays light, and the package and lock file agree."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import bsc_toolkit

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib


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


# --- packaging and the locked environment -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCK = ROOT / "requirements.lock"


def _declared() -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    reqs += [Requirement(r) for extra in PYPROJECT["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(r.name): r for r in reqs}


def test_py_typed_marker_ships_with_the_package():
    assert files("bsc_toolkit").joinpath("py.typed").is_file()


def test_every_package_data_pattern_matches_a_file():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, patterns in package_data.items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"package-data {package}/{pattern} matches no file"


def test_every_third_party_import_of_the_package_is_declared():
    """patsy was imported but undeclared once; this catches the next one."""
    stdlib = set(sys.stdlib_module_names)
    imported: set[str] = set()
    for path in (ROOT / "bsc_toolkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - stdlib - {"bsc_toolkit", "__future__"}
    dists = md.packages_distributions()
    declared = set(_declared())
    undeclared = {m for m in third_party if not {canonicalize_name(d) for d in dists.get(m, [m])} & declared}
    assert not undeclared, f"imported by bsc_toolkit but not in pyproject.toml dependencies: {sorted(undeclared)}"


def _locked_versions() -> dict[str, str]:
    """Name -> version of the lock's entries that apply to this interpreter."""
    env = default_environment()
    out = {}
    for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)(?:\s*;\s*([^\\\n]+))?", LOCK.read_text(), re.M):
        name, version, marker = m.groups()
        if marker is None or Requirement(f"x; {marker.strip()}").marker.evaluate(env):
            out[canonicalize_name(name)] = version
    return out


def test_lock_file_satisfies_pyproject():
    """Every declared dependency is pinned in requirements.lock within its bounds: else run `make lock`."""
    locked = _locked_versions()
    for name, req in _declared().items():
        if req.marker is not None and not req.marker.evaluate(default_environment()):
            continue
        assert name in locked, (
            f"{name} is declared in pyproject.toml but missing from requirements.lock: run `make lock`"
        )
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside {req}: run `make lock`"
        )


def test_installed_versions_are_the_locked_ones():
    """The venv was built from the lock (skipped in an environment not made by `make setup`, e.g. conda)."""
    if not (Path(sys.prefix) / ".installed-stamp").exists():
        pytest.skip("not the Makefile's venv")
    locked = _locked_versions()
    wrong = {n: (md.version(n), v) for n, v in locked.items() if _installed(n) and md.version(n) != v}
    assert not wrong, f"installed != locked (name: (installed, locked)); run `make setup`: {wrong}"


def _installed(name: str) -> bool:
    try:
        md.version(name)
    except md.PackageNotFoundError:
        return False
    return True
