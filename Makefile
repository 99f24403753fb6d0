# policytrail: `make demo` and `make test` set everything up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYWB_VENV := .venv-pywb
DEMO_DB := build/demo.db
PT := POLICYTRAIL_DB=$(DEMO_DB) $(BIN)/policytrail
SITE := http://www.brightkettle.example

.PHONY: install system-deps demo demo-steps serve test lint bench clean

install: $(VENV)/.installed $(PYWB_VENV)/.installed

# The package alone: what the demo needs.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The test and bench extras (the normalizers the fidelity test and benchmarks compare against).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# pywb pins redis 2.10 and an old fakeredis, which break the modern redis client: its own venv.
$(PYWB_VENV)/.installed:
	$(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYWB_VENV)/bin/python -m pip install --quiet 'pywb==2.10.*'
	touch $@

demo: install
	@mkdir -p build && rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	@$(BIN)/python tests/archive.py run -- $(MAKE) --no-print-directory demo-steps

# Runs inside `tests/archive.py run`, which serves the sample archive at $ARCHIVE_URL.
demo-steps:
	$(PT) add $(SITE)/privacy.html --name brightkettle-privacy
	$(PT) add $(SITE)/terms.html --name brightkettle-terms --kind terms
	$(PT) crawl --archive "$$ARCHIVE_URL" --no-limits
	$(PT) history brightkettle-privacy
	$(PT) diff brightkettle-privacy --from 2018-01-01 --to 2018-12-31
	@echo "Crawling again adds nothing:"
	$(PT) crawl --archive "$$ARCHIVE_URL" --no-limits

# Debian's Chromium (browser tests) and Redis (scale-out tests), installed when missing.
system-deps:
	@command -v chromium >/dev/null && command -v redis-server >/dev/null || { \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver redis-server \
	  >/dev/null; }

# Browse the demo's database in Datasette (after make demo).
serve: install
	$(BIN)/policytrail serve --db $(DEMO_DB)

test: install $(VENV)/.installed-dev system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# Benchmarks: figures and ratios against the alternatives, measured in the same run
# (docs/benchmarks.md).
bench: install $(VENV)/.installed-dev
	$(BIN)/python bench/normalize_bench.py
	$(BIN)/python bench/mutations.py
	$(BIN)/python bench/diff_bench.py
	$(BIN)/python bench/crawl_bench.py
	$(BIN)/python bench/scale_bench.py

lint: install $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(PYWB_VENV) build .pytest_cache .ruff_cache .mypy_cache
