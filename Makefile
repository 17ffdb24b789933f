# Two commands do all set-up on a fresh machine (Python 3.10+ with pip and venv, no conda):
#   make reports   create .venv from the lock file, install the package, execute every notebook -> reports/index.html
#   make test      create .venv from the lock file, run the whole test suite (what CI runs)
# Development:
#   make test-fast pytest -m "not slow": skips notebook executions and large statistical recovery tests (< 1 min)
#   make lint      ruff check + ruff format --check (CI runs it before the tests)
#   make lock      re-resolve requirements.lock from pyproject.toml (after changing a dependency)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Exact versions with hashes, resolved for every Python >= 3.10 (one file, environment markers where versions differ).
LOCK := requirements.lock

.PHONY: setup reports test test-fast lint format lock bench clean

# Re-installs in place when pyproject.toml or the lock file changes (packages dropped from the lock stay
# until `rm -rf .venv`). `pip check` fails if pyproject.toml declares a dependency that the lock does
# not satisfy: run `make lock` then.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check || { echo "pyproject.toml and $(LOCK) disagree: run 'make lock'" >&2; exit 1; }
	touch $(STAMP)

setup: $(STAMP)

reports: $(STAMP)
	$(BIN)/bsc report

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Both checks always run; the target fails if either finds something.
lint: $(STAMP)
	$(BIN)/ruff check . ; status=$$?; $(BIN)/ruff format --check . && exit $$status

# Rewrites files: run it on your own changes before committing.
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Needs the network (PyPI). Installs uv into the venv on first use.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.10 \
		--generate-hashes --custom-compile-command "make lock" --quiet -o $(LOCK)

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script --quick || exit 1; done

clean:
	rm -rf reports/*.html reports/manifest.json reports/_failed data/default
