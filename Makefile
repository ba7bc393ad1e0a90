# One entry point for learners, instructors and CI.
#   make start   set up (idempotent) and open the course in JupyterLab
#   make test    set up (idempotent) and run every test: lint, types, unit tests, notebooks, benchmarks
#   make matrix  the other CI entries: matrix-colab (Python 3.12, Colab's versions) and matrix-latest (3.13, newest)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The reference set: every distribution at the exact version the notebooks' stored outputs were made with.
LOCK := .ci/constraints-py311.txt
# The real data sets: an explicit KERAS_COURSE_DATA wins; otherwise ../shared/data when it exists.
KERAS_COURSE_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export KERAS_COURSE_DATA
export PYTHONHASHSEED := 0
PORT ?= 8888
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: system-tools setup start test test-reference lint unit notebooks benchmarks doctor starters matrix matrix-colab matrix-latest clean book

setup: $(STAMP) system-tools
	@$(BIN)/keras-course-doctor 2>/dev/null || echo "(doctor: see the FIX lines above)"

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: install python3.11 (or run with PYTHON=/path/to/python3.11)."; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,tensorflow]'
	$(BIN)/python -m ipykernel install --sys-prefix --name keras-course --display-name "Keras course (Python 3.11)" >/dev/null
	@touch $(STAMP)

# Graphviz's `dot` draws diagrams; Chromium runs the browser test. Installed when missing and we are root.
system-tools:
	@bash .ci/system-tools.sh

# The repository root is JupyterLab's root (a file given on the command line would make ITS folder the root, and
# then a lesson's link to ../exercises/ could not open); lesson 1 opens first.
start: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/01_sequential.ipynb

doctor: setup
	$(BIN)/keras-course-doctor

lint: $(STAMP)
	$(BIN)/ruff check toolkit course tests benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests

# The Chinese edition (notebooks/zh, course/solutions/zh: the same code) runs in the matrix's Colab-like entry;
# `make notebooks NOTEBOOKS_IGNORE=` runs it here too, with its outputs compared.
NOTEBOOKS_IGNORE ?= --ignore=notebooks/zh --ignore=course/solutions/zh
# Under test a missing Graphviz is a failure, not the learner's text fallback (make start keeps the fallback).
notebooks: export KERAS_COURSE_STRICT := 1
notebooks: $(STAMP)
	@mkdir -p artifacts && rm -f artifacts/results.jsonl
	KERAS_COURSE_RESULTS=$(CURDIR)/artifacts/results.jsonl $(BIN)/pytest --nbval -p course.nbval_lang notebooks course/solutions \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900 -p no:cacheprovider \
		--junitxml=artifacts/notebooks.xml -o junit_family=xunit1 $(NOTEBOOKS_IGNORE)

# The grader against the naive baseline, side by side in one run (issue target: at least 2x, sandbox on).
GRADER_BENCH_ARGS ?= --variant full --copies 10 --baseline --compare-sandbox
benchmarks: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; args=; \
		[ $$b = benchmarks/bench_grader.py ] && args="$(GRADER_BENCH_ARGS)"; $(BIN)/python $$b $$args || exit 1; done

starters: $(STAMP)
	$(BIN)/course starters

# The README's test command: the reference environment, then the compatibility matrix (.ci/run runs the same
# three entries one by one, so that a failure in one does not hide the others).
test: test-reference matrix

test-reference: setup lint unit notebooks benchmarks

# The compatibility matrix beyond the reference set (README, "Supported platforms"); .ci/run runs both.
# matrix-colab: Python 3.12 with Colab's versions, the wheel added with a plain pip install that must change none of
# them (pip freeze compared), unit tests and every lesson and solution under --nbval-lax (NOTEBOOKS=0 leaves those
# out). matrix-latest: Python 3.13, newest releases, the wheel with its [tensorflow] extra.
matrix-colab: $(STAMP)
	bash .ci/matrix.sh colab

matrix-latest: $(STAMP)
	bash .ci/matrix.sh latest

matrix: matrix-colab matrix-latest

# The lessons as a static site (Sphinx + MyST-NB + sphinx-book-theme, stored outputs, nothing re-executed) in
# artifacts/book/<lang>/, offline; artifacts/book/index.html links each edition.
book: $(STAMP)
	$(BIN)/python -m course.book

clean:
	rm -rf $(VENV) .venv-colab .venv-latest dist build artifacts .pytest_cache .ruff_cache .mypy_cache
