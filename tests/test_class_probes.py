"""Checks of a student's own classes run outside the kernel: a sandboxed probe process, compared in the trusted one.

A class that satisfies the visible check's fixed inputs but not the task (course/verification/class_probes.py's probes
draw
arguments, inputs and weights from a secret seed) loses the points the kernel gave it; class bodies that try to
reach the project run in the sandbox and change nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from course.authoring.notebook_format import load_exercise
from course.grading import batch as grading
from course.sandbox.limits import Limits
from course.verification import class_probes

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "course" / "solutions"


def test_definitions_keep_classes_functions_and_constants_and_leave_out_what_runs() -> None:
    cells = [
        "%matplotlib inline\nimport numpy as np\n(x_train, y_train), _ = load_mnist()\nmodel.fit(x_train, y_train)",
        "@keras.saving.register_keras_serializable()\nclass A(keras.layers.Layer):\n    pass\n\nUNITS = 3\n"
        "small = x_train[:10]\nprint('hello')",
        "def f(x):\n    return x + 1",
        "this is not python (",
    ]
    kept = class_probes.definitions(cells)
    assert kept == [
        "import numpy as np",
        "@keras.saving.register_keras_serializable()\nclass A(keras.layers.Layer):\n    pass",
        "UNITS = 3",
        "small = x_train[:10]",  # fails alone when it runs (no data there): run_definitions goes on
        "def f(x):\n    return x + 1",
    ]
    namespace: dict[str, object] = {}
    class_probes.run_definitions(["import math", "small = x_train[:10]", "N = math.pi"], namespace)
    assert "small" not in namespace and namespace["N"] == pytest.approx(3.14159, abs=1e-5)


def _grade(tmp_path: Path, name: str, replace: tuple[str, str] | None = None, extra: str | None = None) -> object:
    solution = SOLUTIONS / f"{name}.ipynb"
    nb = nbformat.read(str(solution), as_version=4)
    if replace:
        cells = [c for c in nb.cells if replace[0] in c.source]
        assert len(cells) == 1, replace[0]
        cells[0].source = cells[0].source.replace(*replace)
    if extra:
        nb.cells.insert(3, nbformat.v4.new_code_cell(extra))
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, str(path))
    return grading.grade_one(grading.Job(load_exercise(solution), path), Limits(threads=2, cell_timeout=120))


@pytest.mark.slow
def test_a_layer_that_only_satisfies_the_visible_check_loses_its_points(tmp_path: Path) -> None:
    # Ignores `scale` in call() but keeps it in get_config(): the visible check (shape and config on fixed inputs)
    # passes in the kernel; the probe, with a scale drawn from the secret seed, does not.
    result = _grade(
        tmp_path,
        "ex02_functional",
        replace=("return self.scale * (x @ self.kernel + self.bias)", "return x @ self.kernel + self.bias"),
    )
    checks = {c.id: c for c in result.checks}  # type: ignore[attr-defined]
    assert not checks["q4_custom_layer"].passed and checks["q4_custom_layer"].points == 0
    assert "differs from the reference implementation" in checks["q4_custom_layer"].message
    assert any("q4_custom_layer" in f and "failed verification outside" in f for f in result.flags)  # type: ignore[attr-defined]
    untouched = [c for c in checks.values() if not c.id.startswith("q4_")]
    assert untouched and all(c.passed for c in untouched)  # the other tasks keep their points


@pytest.mark.slow
def test_class_bodies_run_in_the_sandbox_and_correct_classes_keep_full_marks(tmp_path: Path) -> None:
    target = ROOT / "toolkit" / "checks.py"
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    spy = (
        "class Spy:\n"
        f"    try:\n        open({str(target)!r}, 'a').write('# forged by a class body')\n"
        "    except OSError:\n        pass\n"
    )
    result = _grade(tmp_path, "ex05_subclassing", extra=spy)
    assert result.total == result.max_points, result  # type: ignore[attr-defined]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before


def test_every_probe_cell_is_for_a_verified_check_and_never_reaches_a_starter() -> None:
    from course.authoring.starters import make_starter
    from course.verification import trusted

    probed = 0
    for path in sorted(SOLUTIONS.glob("ex*.ipynb")):
        exercise = load_exercise(path)
        found = class_probes.probes(exercise)
        probed += len(found)
        for check in found:
            assert check in trusted.verified_checks(exercise), (path.name, check)
        starter = make_starter(exercise)
        assert not any("probe" in c.metadata.get("course", {}) or "verify" in c.metadata.get("course", {})
                       for c in starter.cells), path.name  # fmt: skip
        assert not any("def probe(rng)" in c.source for c in starter.cells), path.name
    assert probed >= 6


@pytest.mark.slow
def test_a_class_that_never_returns_stops_the_probe_not_the_grader(tmp_path: Path) -> None:
    from course.sandbox.run import run_probes

    definitions = ["class Slow:\n    def __init__(self):\n        while True:\n            pass"]
    probes = {"q_slow": "import numpy as np\nout['made'] = type(Slow()).__name__\n"}
    limits = Limits(cell_timeout=5)
    problem = run_probes(definitions, probes, seed=1, limits=limits, target=tmp_path)
    budget = limits.cell_timeout * (len(probes) + 2)  # a TensorFlow start, then each probe
    assert problem == f"your classes ran for more than {budget:g} seconds on the grader's probe inputs and were stopped"
    assert not list(tmp_path.iterdir())  # nothing came back
