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
	@# setuptools' editable install warns in a box of stars that a folder named like a package may shadow it (here
	@# the folders ARE the packages): that one warning is silenced, every other one is shown.
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,tensorflow]'
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

# Two runs: the toolkit's and the instructor tools' tests on every core (pytest-xdist, each file in one worker;
# PYTEST_WORKERS=0: one process), then the grader's end-to-end tests (marker `grader`, .ci/reference_only.py) one at a
# time: they time kernels and grade with two workers of their own. Both always run; either failing fails the target.
PYTEST_WORKERS ?= auto
unit: $(STAMP)
	@PYTHONPATH=.ci $(BIN)/pytest tests -p reference_only -m "not grader" -n $(PYTEST_WORKERS) --dist loadfile; a=$$?; \
		PYTHONPATH=.ci $(BIN)/pytest tests -p reference_only -m grader; b=$$?; \
		[ $$a = 0 ] && [ $$b = 0 ] || { echo "unit tests failed (parallel part: exit $$a, grader part: exit $$b)"; exit 1; }

# The Chinese edition (notebooks/zh, course/solutions/zh: the same code) runs in the matrix's Colab-like entry;
# `make notebooks NOTEBOOKS_IGNORE=` runs it here too, with its outputs compared.
NOTEBOOKS_IGNORE ?= --ignore=notebooks/zh --ignore=course/solutions/zh
# Under test a missing Graphviz is a failure, not the learner's text fallback (make start keeps the fallback).
# The longest lesson (LONG_NOTEBOOK) runs beside all the others (.ci/beside.sh): two lanes, one per core.
LONG_NOTEBOOK ?= notebooks/06_resnet_cifar10.ipynb
NBVAL = $(BIN)/pytest --nbval -p course.nbval_lang --nbval-sanitize-with tests/nbval_sanitize.cfg \
	--nbval-cell-timeout=900 -p no:cacheprovider -o junit_family=xunit1
notebooks: export KERAS_COURSE_STRICT := 1
notebooks: export KERAS_COURSE_RESULTS := $(CURDIR)/artifacts/results.jsonl
notebooks: $(STAMP)
	@mkdir -p artifacts && rm -f artifacts/results.jsonl artifacts/notebooks*.xml
	bash .ci/beside.sh artifacts/notebooks-long.log $(NBVAL) $(LONG_NOTEBOOK) --junitxml=artifacts/notebooks-long.xml -- \
		$(NBVAL) notebooks course/solutions --ignore=$(LONG_NOTEBOOK) --junitxml=artifacts/notebooks.xml $(NOTEBOOKS_IGNORE)

# The grader against the naive baseline, side by side in one run (issue target: at least 2x, sandbox and verification
# on). Where the time goes (sandbox, verification): add --compare-sandbox (two more gradings of the copies).
GRADER_BENCH_ARGS ?= --variant full --copies 10 --baseline
# The tuner: a drag without and with the debounce the tuner uses (0.1 s); add 0.3 to see a longer one.
TUNER_BENCH_ARGS ?= --debounce 0 0.1
benchmarks: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; args=; \
		[ $$b = benchmarks/bench_grader.py ] && args="$(GRADER_BENCH_ARGS)"; \
		[ $$b = benchmarks/bench_tuner.py ] && args="$(TUNER_BENCH_ARGS)"; \
		start=$$(date +%s); $(BIN)/python $$b $$args || exit 1; \
		echo "== $$b took $$(( $$(date +%s) - start )) s (load average $$(cut -d' ' -f1-3 /proc/loadavg))"; done

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
