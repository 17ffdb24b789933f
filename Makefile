# Two commands do all set-up on a fresh machine (Python 3.10+ with pip and venv, no conda):
#   make reports   create .venv, install the package, execute every notebook -> reports/index.html
#   make test      create .venv, install the package with test extras, run pytest
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup reports test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

reports: $(STAMP)
	$(BIN)/bsc report

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script --quick || exit 1; done

clean:
	rm -rf reports/*.html reports/manifest.json reports/_failed data/default
