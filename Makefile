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

.PHONY: setup chromium java reports test test-fast lint format lock bench clean

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

setup: $(STAMP) chromium java

# Headless Chromium for the browser checks (tests/test_browser.py) and `bsc report --pdf`. When none is found
# (as bsc_toolkit.browser.find_chromium looks: $BSC_CHROMIUM, chromium, chromium-browser, google-chrome), Debian's
# `chromium` is installed with apt-get, as root or through passwordless sudo. When that cannot be done, one line
# says why and the browser tests are skipped: setup does not fail. Silent when Chromium is already there.
CHROMIUM_SKIP := the browser tests will be skipped (or set BSC_CHROMIUM to a Chromium/Chrome executable)
chromium:
	@if [ -n "$$BSC_CHROMIUM" ] && command -v "$$BSC_CHROMIUM" >/dev/null 2>&1; then exit 0; fi; \
	for name in chromium chromium-browser google-chrome; do command -v $$name >/dev/null 2>&1 && exit 0; done; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "setup: no Chromium and no apt-get to install it (not Debian/Ubuntu): $(CHROMIUM_SKIP)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then as_root=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo -n"; \
	else echo "setup: no Chromium, and installing it needs root (apt-get install chromium): $(CHROMIUM_SKIP)"; exit 0; fi; \
	echo "setup: installing Chromium (apt-get install chromium) for the browser checks"; \
	log=$$(mktemp); \
	if $$as_root apt-get update -qq >"$$log" 2>&1 && \
		$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >>"$$log" 2>&1; \
	then rm -f "$$log"; \
	else echo "setup: could not install Chromium ($$(grep -v '^ *$$' "$$log" | tail -n 1)): $(CHROMIUM_SKIP)"; rm -f "$$log"; fi

# Java for the Spark engine (`--engine spark`, tests/engine): Spark 4 runs on Java 17 or 21. When no `java` is on
# PATH (nor in $JAVA_HOME), Debian's openjdk-17-jre-headless is installed with apt-get, as root or through
# passwordless sudo; when that cannot be done, one line says why and the Spark tests are skipped (CI sets
# BSC_REQUIRE_SPARK=1, which makes them fail instead). Silent when Java is already there.
JAVA_SKIP := the Spark tests will be skipped (or set JAVA_HOME to a Java 17/21 installation)
java:
	@if [ -n "$$JAVA_HOME" ] && [ -x "$$JAVA_HOME/bin/java" ]; then exit 0; fi; \
	command -v java >/dev/null 2>&1 && exit 0; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "setup: no Java and no apt-get to install it (not Debian/Ubuntu): $(JAVA_SKIP)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then as_root=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo -n"; \
	else echo "setup: no Java, and installing it needs root (apt-get install openjdk-17-jre-headless): $(JAVA_SKIP)"; exit 0; fi; \
	echo "setup: installing Java (apt-get install openjdk-17-jre-headless) for the Spark engine"; \
	log=$$(mktemp); \
	if $$as_root apt-get update -qq >"$$log" 2>&1 && \
		$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >>"$$log" 2>&1; \
	then rm -f "$$log"; \
	else echo "setup: could not install Java ($$(grep -v '^ *$$' "$$log" | tail -n 1)): $(JAVA_SKIP)"; rm -f "$$log"; fi

reports: $(STAMP)
	$(BIN)/bsc report

test: $(STAMP) chromium java
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
	rm -rf reports/*.html reports/*.pdf reports/manifest.json reports/_failed reports/_screenshots reports/.cache data/default
