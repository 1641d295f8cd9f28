# DK Sentinel -- `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help install demo console test test-fast dbt-unit-tests lint format typecheck bench quality clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/sentinel: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/sentinel ## Create .venv and install dk-sentinel with its dev tools

demo: install ## Install everything, then build and score a demo warehouse in ./sentinel-demo
	$(BIN)/sentinel demo --force

console: demo ## Build the demo, print an analyst key and serve the console on http://127.0.0.1:8000/
	$(BIN)/sentinel --db sentinel-demo/sentinel.duckdb api-keys create --analyst ana01 --role analyst
	$(BIN)/sentinel --db sentinel-demo/sentinel.duckdb serve --port 8000

test: install ## The test suite with coverage (fails under 85 %); lint and types are tests too
	$(BIN)/python -m pytest -n 2 --dist worksteal --cov=dk_sentinel --cov-fail-under=85

test-fast: install ## The fast inner loop: every test that runs in-process without dbt (under a minute)
	$(BIN)/python -m pytest -n 2 -m "not slow"

dbt-unit-tests: install ## Run only the dbt unit tests of the scoring models (they stay out of production runs)
	$(BIN)/python -m pytest -q --no-cov tests/scoring/test_scoring.py -k unit_tests

format: install ## Format and auto-fix the code
	$(BIN)/ruff format src tests bench docs
	$(BIN)/ruff check --fix src tests bench docs

typecheck: install ## Type-check the library
	$(BIN)/mypy

bench: install ## Benchmarks on 1M and 10M bets (slow; writes bench/results/*.json)
	$(BIN)/python bench/bench_ingest.py --bets 1000000
	$(BIN)/python bench/bench_ingest.py --bets 10000000
	$(BIN)/python bench/bench_scoring.py --players 10000
	$(BIN)/python bench/bench_scoring.py --players 100000

quality: install ## Detection quality on generated data (AUC, category shares)
	$(BIN)/python bench/quality.py

clean: ## Remove the virtualenv, caches and demo files
	rm -rf $(VENV) sentinel-demo .pytest_cache .mypy_cache .ruff_cache .coverage bench/results bench/data
