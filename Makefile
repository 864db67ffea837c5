# Two commands do all the set-up on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench bench-latency bench-ingest node-sdk clean

# Reinstall whenever pyproject.toml changes, so a pull never leaves a stale venv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/sojourn dev

# The official Segment Node SDK for tests/gateway/test_segment_node_sdk.py, pinned by its lock
# file; without npm the test skips and says why.
NODE_SDK := tests/gateway/node
node-sdk:
	@if command -v npm >/dev/null 2>&1; then \
		test $(NODE_SDK)/node_modules/.package-lock.json -nt $(NODE_SDK)/package-lock.json || \
		npm ci --prefix $(NODE_SDK) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Node SDK test will skip"; fi

test: $(STAMP) node-sdk
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/sojourn templates check
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sojourn templates check
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.journey_cost

bench-latency: $(STAMP)
	$(BIN)/python -m bench.latency

# A minute of realistic traffic, then a burst of entries; add ARGS=--small for a quick run.
bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest $(ARGS)

clean:
	rm -rf $(VENV) var
