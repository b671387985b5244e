# rmslog — every target bootstraps itself: Python 3.11, git and make are all it needs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(UV) run --locked --no-sync
export UV_PYTHON := $(PYTHON)
# Installed packages come with their bytecode: where PYTHONDONTWRITEBYTECODE is set, each
# `rmslog` run would otherwise compile Typer, pydantic and DuckDB's Python from source (3 s).
export UV_COMPILE_BYTECODE := 1

.PHONY: help demo test test-fast check docs lint types pytest bench sample-logs clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# uv itself comes from the package registry into a local folder; no installer scripts.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-groups --all-extras
	@touch $@

demo: $(VENV)/.synced  ## generate a sample tenant, ingest, detect, report; print the report path
	$(RUN) rmslog demo

test: check  ## everything CI runs: format, lint, types, tests, notebooks

check: $(VENV)/.synced  ## ruff format --check, ruff check, mypy, import contracts, pytest
	@# The report's browser test needs Debian's chromium: installed here when missing and
	@# root (CI on a fresh machine); elsewhere the test skips, but fails under CI=true.
	@command -v chromium >/dev/null || { [ "$$(id -u)" != 0 ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		>/dev/null; }; } || { echo "make: could not install chromium" >&2; exit 1; }
	@# The Spark golden test needs a Java runtime, installed the same way.
	@command -v java >/dev/null || { [ "$$(id -u)" != 0 ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless \
		>/dev/null; }; } || { echo "make: could not install java" >&2; exit 1; }
	$(RUN) ruff format --check pipeline tests bench
	$(RUN) ruff check pipeline tests bench
	$(RUN) mypy
	$(RUN) lint-imports
	$(RUN) pytest -q

test-fast: $(VENV)/.synced  ## pytest without the tests marked slow (> 5 s each); make check runs them all
	$(RUN) pytest -q -m "not slow"

docs: $(VENV)/.synced  ## regenerate docs/reference/ (commands, data dictionary, rules, named queries)
	$(RUN) python -m pipeline.docs

bench: $(VENV)/.synced  ## benchmarks; each prints ratios against a baseline measured in the same run
	@for b in bench/bench_*.py; do echo "== $$b"; $(RUN) python $$b; done

.PHONY: eval
eval: $(VENV)/.synced  ## detection accuracy: precision/recall per rule vs the generator's ground truth
	$(RUN) python bench/eval_detect.py

sample-logs: $(VENV)/.synced  ## regenerate the committed sample under sample-logs/
	rm -rf sample-logs
	$(RUN) rmslog generate sample-logs --days 14 --users 40 --seed 2026 --topology byok-keyvault --scenarios all

clean:  ## remove the environment and demo output
	rm -rf $(TOOLS) $(VENV) rmslog-demo .pytest_cache .mypy_cache .ruff_cache
