# The workflow of tensiond. `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/tensiond.yaml
STAMP := $(VENV)/.installed

.PHONY: install run demo test test-fast lint typecheck bench train evaluate clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)           ## create the environment (pinned by constraints.txt)

run: $(STAMP)               ## the daemon on config/tensiond.yaml (SQLite, console alerts without a token)
	$(BIN)/tensiond run --config $(CONFIG)

demo: $(STAMP)              ## the offline demo: bundled sample feeds on loopback, alerts in a minute
	$(BIN)/tensiond demo

test: $(STAMP)              ## every test (PostgreSQL ones need TENSIOND_TEST_POSTGRES_URL)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)         ## without the slow model and subprocess tests
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)             ## benchmarks; results go to docs/benchmarks.md
	$(BIN)/python bench/poll_cycle.py
	$(BIN)/python bench/classify_speed.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/backtest.py

train: $(STAMP)             ## retrain the head on models/corpus (seeded, reproducible)
	$(BIN)/tensiond train

evaluate: $(STAMP)
	$(BIN)/tensiond evaluate models/splits/test.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
