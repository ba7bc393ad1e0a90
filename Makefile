# One entry point for learners, instructors and CI.
#   make start   set up (idempotent) and open the course in JupyterLab
#   make test    set up (idempotent) and run every test: lint, types, unit tests, notebooks, benchmarks
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The real data sets: an explicit KERAS_COURSE_DATA wins; otherwise ../shared/data when it exists.
KERAS_COURSE_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export KERAS_COURSE_DATA
export PYTHONHASHSEED := 0
PORT ?= 8888
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: system-tools setup start test lint unit notebooks benchmarks doctor starters clean

setup: $(STAMP) system-tools
	@$(BIN)/keras-course-doctor 2>/dev/null || echo "(doctor: see the FIX lines above)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: install python3.11 (or run with PYTHON=/path/to/python3.11)."; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name keras-course --display-name "Keras course (Python 3.11)" >/dev/null
	@touch $(STAMP)

# Graphviz's `dot` draws diagrams; Chromium runs the browser test. Installed when missing and we are root.
system-tools:
	@bash .ci/system-tools.sh

start: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) notebooks/01_sequential.ipynb

doctor: setup
	$(BIN)/keras-course-doctor

lint: $(STAMP)
	$(BIN)/ruff check toolkit course tests benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests

notebooks: $(STAMP)
	@mkdir -p artifacts && rm -f artifacts/results.jsonl
	KERAS_COURSE_RESULTS=$(CURDIR)/artifacts/results.jsonl $(BIN)/pytest --nbval notebooks course/solutions \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900 -p no:cacheprovider \
		--junitxml=artifacts/notebooks.xml -o junit_family=xunit1

benchmarks: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

starters: $(STAMP)
	$(BIN)/course starters

test: setup lint unit notebooks benchmarks

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache .mypy_cache
