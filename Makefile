# Dosis: `make demo` and `make test` work from a fresh clone with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Debian packages the tests need; installed by `make test` when run as root.
TEST_DEB_PACKAGES := chromium fonts-dejavu-core postgresql influxdb victoria-metrics

.PHONY: demo test check bench captures clean

$(BIN)/python:
	@scripts/make-venv.sh "$(PYTHON)" "$(VENV)"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/dosis demo --port $(PORT)

test: $(VENV)/.installed-dev
	@scripts/install-debian-packages.sh $(TEST_DEB_PACKAGES)
	$(BIN)/python -m pytest

check: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_activity.py
	$(BIN)/python bench/bench_hrv.py
	$(BIN)/python bench/bench_session.py
	$(BIN)/python bench/bench_storage.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_tolerance.py
	$(BIN)/python bench/validate.py

# Rebuild the bundled captures from ../shared/recordings (they are committed).
captures: $(VENV)/.installed
	$(BIN)/dosis build-captures

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts
