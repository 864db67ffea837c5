# Two commands do all the set-up on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench bench-latency bench-ingest clean

# Reinstall whenever pyproject.toml changes, so a pull never leaves a stale venv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/sojourn dev

test: $(STAMP)
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
