# Loom: two commands on a fresh machine.
#   make serve   run the whole product (SQLite file, demo data) on http://127.0.0.1:8080
#   make test    run every test (SQLite, and PostgreSQL where one answers)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VENDOR := src/loom/web/static/vendor
NPM_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
ALERTMANAGER := /usr/bin/prometheus-alertmanager

.PHONY: serve test lint typecheck check venv assets chromium alertmanager clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $@

venv: $(STAMP)

$(NPM_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR)/.installed: $(NPM_STAMP) scripts/vendor_assets.sh
	sh scripts/vendor_assets.sh $(VENDOR)
	touch $@

assets: $(VENDOR)/.installed

# Debian's Chromium for the portal's browser tests (Playwright drives it; it never
# downloads a browser of its own).
chromium:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq || sudo apt-get update -qq) && \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || \
	   sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium); }

# Debian's Prometheus Alertmanager for the incidents end-to-end test, which starts its own
# instance on free ports (the package may also start a system service: it is not used).
alertmanager:
	@test -x $(ALERTMANAGER) || { \
	  echo "installing Debian prometheus-alertmanager for the incidents end-to-end test"; \
	  (apt-get update -qq || sudo apt-get update -qq) && \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager || \
	   sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager); }

serve: $(STAMP) assets
	LOOM_DEMO_DATA=$${LOOM_DEMO_DATA:-true} \
	LOOM_CATALOG__SOURCE=$${LOOM_CATALOG__SOURCE:-examples/catalog} $(BIN)/loom serve

test: $(STAMP) assets chromium alertmanager
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# Each prints its figures; a missed target is reported (exit 1) without stopping the rest.
# The PostgreSQL ones use LOOM_TEST_DATABASE_URL, else the server at 127.0.0.1:5432.
bench: $(STAMP)
	$(BIN)/python benchmarks/startup.py
	-$(BIN)/python benchmarks/end_to_end.py
	-$(BIN)/python benchmarks/request_latency.py
	-$(BIN)/python benchmarks/incident_ingest.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
