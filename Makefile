# Dosis: `make demo` and `make test` work from a fresh clone with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Debian packages the tests need; installed by `make test` when run as root.
TEST_DEB_PACKAGES := chromium fonts-dejavu-core postgresql influxdb victoria-metrics

.PHONY: demo test check bench captures translations screenshots clean

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
	$(BIN)/python bench/bench_pages.py
	$(BIN)/python bench/bench_live.py
	$(BIN)/python bench/bench_capacity.py
	$(BIN)/python bench/bench_soak.py
	$(BIN)/python bench/bench_tolerance.py
	$(BIN)/python bench/validate.py

# Rebuild the bundled captures from ../shared/recordings (they are committed).
captures: $(VENV)/.installed
	$(BIN)/dosis build-captures

# Extract the strings to translate (babel.cfg) and merge them into the Danish and Norwegian catalogues;
# then translate what is new or fuzzy in dashboard/locale/*/LC_MESSAGES/messages.po (tests/test_i18n.py checks).
translations: $(VENV)/.installed
	mkdir -p dashboard/locale
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-by-file --add-comments=Translators: \
		--project=Dosis --copyright-holder="Dosis contributors" -o dashboard/locale/messages.pot .
	for lang in da nb; do \
		$(BIN)/pybabel update -i dashboard/locale/messages.pot -d dashboard/locale -D messages -l $$lang \
			--init-missing --ignore-obsolete --previous || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts

# The README's screenshots, as the browser tests take them.
SCREENSHOTS := patients patient session live patient_phone
screenshots: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q tests/test_patient_pages_browser.py tests/test_session_pages_browser.py \
		tests/test_live_browser.py tests/test_patient_phone_browser.py
	mkdir -p docs/screenshots
	for name in $(SCREENSHOTS); do cp tests/artifacts/$$name.png docs/screenshots/; done

