#!/usr/bin/env bash
# The compatibility matrix beyond the reference environment (the Makefile's matrix-* targets call this).
#   .ci/matrix.sh colab    Python 3.12 (else 3.13) with Colab's preinstalled versions (.ci/constraints-colab.txt);
#                          the built wheel installed with a plain `pip install`, as a learner types it on Colab,
#                          which must change no preinstalled package (`pip freeze` compared) and leave TensorFlow
#                          importable; the unit tests, then every Chinese-edition lesson and solution under
#                          `pytest --nbval-lax` (NOTEBOOKS=0 skips them).
#   .ci/matrix.sh latest   Python 3.13 with the newest releases of everything (the wheel with its [tensorflow] extra);
#                          the unit tests.
# Each prints how long each step took. The reference venv (.venv, `make setup`) builds the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: .ci/matrix.sh colab|latest [prepare]}
# `prepare` only builds the wheel and the entry's venv (.ci/run does it in the background, niced, while the reference
# entry runs); a later run of the entry uses that venv when the checkout has not changed since (the stamp below).
phase=${2:-all}
export PYTHONHASHSEED=0 PIP_DISABLE_PIP_VERSION_CHECK=1

find_python() {  # the first python3.X found on PATH or in pyenv, for each X given
  local minor candidate
  for minor in "$@"; do
    for candidate in "$(command -v "python$minor" || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$minor".*/bin/"python$minor" \
      /root/.pyenv/versions/"$minor".*/bin/"python$minor"; do
      # (a pyenv shim is on PATH but fails when that version is not selected: run it to be sure)
      [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c '' 2>/dev/null && { echo "$candidate"; return 0; }
    done
  done
  return 1
}

TIMES=()
timed() { # timed NAME COMMAND...: run it, print and remember its time, return its status
  local name=$1 start=$SECONDS rc=0
  shift
  echo "== [$kind] $name"
  "$@" || rc=$?
  TIMES+=("$(printf '%-42s %5d s%s' "$name" $((SECONDS - start)) "$([ $rc = 0 ] || echo "  FAILED (exit $rc)")")")
  echo "== [$kind] $name: $((SECONDS - start)) s, exit $rc"
  return $rc
}

case $kind in
  colab) wanted=(3.12 3.13) ;;
  latest) wanted=(3.13) ;;
  *) echo "unknown matrix entry '$kind' (colab or latest)" >&2; exit 2 ;;
esac
if ! python=$(find_python "${wanted[@]}"); then
  echo "The '$kind' matrix entry needs Python ${wanted[*]// / or }, which is not installed (looked on PATH and in" \
    "pyenv). Install it (e.g. \`pyenv install ${wanted[0]}\`) or put python${wanted[0]} on PATH." >&2
  exit 1
fi
venv=.venv-$kind
echo "== [$kind] $("$python" -V) at $python -> $venv"

build_wheel() {  # from a copy of what the wheel is made of: no build/ or egg-info folder of the checkout is shared
  # with a build running beside it (.ci/run prepares this while the reference entry's tests build their own)
  local src rc=0
  src=$(mktemp -d)
  cp -a pyproject.toml README.md course toolkit "$src"/ || rc=$?
  [ $rc = 0 ] && { rm -rf "dist/$kind" && .venv/bin/python -m build --wheel --outdir "$PWD/dist/$kind" "$src" >/dev/null \
    && ls "dist/$kind"/*.whl || rc=$?; }
  rm -rf "$src"
  return $rc
}

fresh_venv() {
  rm -rf "$venv" && "$python" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet --upgrade pip
}

install_colab_stack() {  # what Colab preinstalls, plus the test harness
  "$venv/bin/python" -m pip install --quiet -c .ci/constraints-colab.txt \
    tensorflow keras numpy ipywidgets matplotlib pillow pydot ipykernel nbclient nbformat nbval pytest pytest-xdist tqdm rich \
    copydetect  # the class report's similarity (the grader's [course] extra; tests/test_similarity.py)
}

freeze() {  # what is installed, as `pip freeze` prints it, sorted, without the course itself (what we add)
  "$venv/bin/python" -m pip freeze | grep -viE '^keras[-_]course( |==|@)' | LC_ALL=C sort
}

install_wheel_like_colab() {  # a plain `pip install` of the wheel on top of Colab's stack: nothing there may change
  local wheel before after
  wheel=$(ls "dist/$kind"/*.whl) || return
  before=$(freeze) || return
  "$venv/bin/python" -m pip install --quiet "$wheel" || return
  after=$(freeze) || return
  if [ -n "$(LC_ALL=C comm -23 <(echo "$before") <(echo "$after"))" ]; then
    echo "pip install of the wheel changed Colab's preinstalled packages (< before, > after):" >&2
    diff <(echo "$before") <(echo "$after") >&2
    return 1
  fi
  echo "   pip freeze: the $(echo "$before" | wc -l) preinstalled packages are unchanged;" \
    "added: $(LC_ALL=C comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
  (cd /tmp && "$OLDPWD/$venv/bin/python" -c "import tensorflow as tf; print('   import tensorflow:', tf.__version__)")
}

install_latest() {  # the newest releases: the wheel with its dependencies, plus the harness, no constraints
  local wheel
  wheel=$(ls "dist/$kind"/*.whl) || return
  "$venv/bin/python" -m pip install --quiet --upgrade "$wheel[tensorflow]" ipykernel nbclient nbformat nbval pytest pytest-xdist tqdm \
    rich packaging mistune markdown-it-py babel copydetect  # Markdown renderers (tests/test_names.py); Babel's
    # extractor (i18n); the class report's similarity (tests/test_similarity.py)
}

show_versions() {
  "$venv/bin/python" -m pip list --format=freeze 2>/dev/null |
    grep -iE '^(tensorflow|tensorflow[-_]cpu|keras|numpy|ipywidgets|matplotlib|pillow|pydot|keras[-_]course)==' | tr '\n' ' '
  echo
  (cd /tmp && "$OLDPWD/$venv/bin/python" -c "import toolkit; print('toolkit from', toolkit.__file__)")
}

unit_tests() {
  # Reference-only tests (marker `reference`: pyproject.toml, and .ci/reference_only.py for the instructor side)
  # and the browser test (it drives JupyterLab 4 in Chromium) are left out here.
  # On every core (pytest-xdist; PYTEST_WORKERS=0 runs them in this process), each test file in one worker.
  PYTHONPATH=.ci KERAS_COURSE_INSTALL=wheel "$venv/bin/pytest" tests -q -p reference_only \
    -m "not reference and not browser" -p no:cacheprovider -n "${PYTEST_WORKERS:-auto}" --dist loadfile \
    --junitxml="artifacts/$kind-unit.xml" -o junit_family=xunit1
}

each_lesson_once() {
  # every English lesson and solution, in its Chinese edition where that exists (the same code), else in English
  local en zh
  for en in notebooks/*.ipynb course/solutions/*.ipynb; do
    zh="$(dirname "$en")/zh/$(basename "$en")"
    if [ -f "$zh" ]; then echo "$zh"; else echo "$en"; fi
  done
}

notebooks() {
  # --nbval-lax: outputs are not compared (the stored ones come from the reference set); every cell must run and
  # every assert hold. --nbval-current-env: the kernel is this venv's Python, whatever the notebook names.
  # The Chinese edition runs here (its code is the English code, which the reference entry runs with outputs
  # compared), so each lesson runs once per entry; NOTEBOOK_PATHS="notebooks course/solutions": English instead.
  # The longest lesson (lesson 6) runs beside the others (.ci/beside.sh): two lanes, one per core.
  local nbval=("$venv/bin/pytest" --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider
    -p course.nbval_lang -o junit_family=xunit1) paths long=() rest=() path
  read -r -a paths <<< "${NOTEBOOK_PATHS:-$(each_lesson_once | tr '\n' ' ')}"
  for path in "${paths[@]}"; do
    case $path in notebooks/06_*|notebooks/zh/06_*) long+=("$path") ;; *) rest+=("$path") ;; esac
  done
  if [ ${#long[@]} = 0 ] || [ ${#rest[@]} = 0 ]; then
    "${nbval[@]}" --junitxml="artifacts/$kind-notebooks.xml" "${paths[@]}"
  else
    bash .ci/beside.sh "artifacts/$kind-notebooks-long.log" "${nbval[@]}" --junitxml="artifacts/$kind-notebooks-long.xml" \
      "${long[@]}" -- "${nbval[@]}" --junitxml="artifacts/$kind-notebooks.xml" "${rest[@]}"
  fi
}

checkout_state() {  # the commit and the tracked files' changes: a venv prepared from another state is not used
  echo "$(git rev-parse HEAD 2>/dev/null) $(git status --porcelain --untracked-files=no 2>/dev/null | sha256sum)"
}

prepare() {  # the wheel and the venv, with the steps' times; the stamp records the checkout they were made from
  rm -f "$venv/.prepared"
  timed "build the wheel" build_wheel || return 1
  timed "create the venv ($("$python" -V))" fresh_venv || return 1
  if [ "$kind" = colab ]; then
    timed "install Colab's preinstalled stack" install_colab_stack || return 1
    timed "pip install the wheel on the Colab stack" install_wheel_like_colab || return 1
  else
    timed "install the wheel + newest releases" install_latest || return 1
  fi
  { checkout_state; printf '%s\n' "${TIMES[@]}"; } > "$venv/.prepared"
}

mkdir -p artifacts
status=0
if [ "$phase" = prepare ]; then
  prepare || exit 1
  show_versions
  exit 0
elif [ -f "$venv/.prepared" ] && [ "$(head -1 "$venv/.prepared")" = "$(checkout_state)" ] && ls "dist/$kind"/*.whl >/dev/null 2>&1; then
  echo "== [$kind] the wheel and $venv were prepared earlier in this run (artifacts/prepare-$kind.log), from this checkout:"
  mapfile -t earlier < <(tail -n +2 "$venv/.prepared")
  for line in "${earlier[@]}"; do TIMES+=("$line (prepared earlier)"); done
  printf '   %s\n' "${earlier[@]}"
else
  prepare || exit 1
fi
show_versions
timed "unit tests" unit_tests || status=1
if [ "$kind" = colab ] && [ "${NOTEBOOKS:-1}" != 0 ]; then
  timed "lessons and solutions (nbval-lax)" notebooks || status=1
fi
if [ -f "artifacts/$kind-notebooks.xml" ] && [ "$kind" = colab ] && [ "${NOTEBOOKS:-1}" != 0 ]; then
  echo "== [$kind] seconds per notebook"
  .venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks'); from bench_lessons import notebook_times
times = {}
for junit in sorted(__import__('pathlib').Path('artifacts').glob('$kind-notebooks*.xml')): times.update(notebook_times(junit))
for name, s in sorted(times.items()):
    print(f'   {name:<32} {s:7.1f} s')"
fi
echo "== [$kind] times"
printf '   %s\n' "${TIMES[@]}"
exit $status
