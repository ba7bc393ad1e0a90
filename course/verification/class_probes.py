"""Checks of a student's own classes (custom layers, subclassed models): probes, run twice, compared outside.

A check that has a ``probe`` cell in the solution notebook (it defines ``probe(rng)``, returning a dict of answers),
or that reads a class the reference solution defines (a default probe, course/verification/auto_probes.py), does not
trust the
student's kernel for that class. After the kernel's run, the grader

1. extracts the *definitions* of the rebuilt notebook (imports, ``def``, ``class`` and assignments of call-free
   values; nothing that trains or loads data) and runs them with the check's probe in a fresh sandboxed process
   (course/kernel_side/probe_runner.py via ``sandbox.run_probes``), with a seed drawn from ``secrets`` for this
   submission;
2. runs the reference solution's definitions with the same probe and seed in the trusted worker
   (course/verification/trusted.py: no student code runs there);
3. compares the two answers there: every array the reference wrote must come back with the same shape and values
   (``np.allclose``, rtol 1e-4, atol 1e-5), every other value equal.

Probes build the student's class with arguments and inputs drawn from the seed, overwrite its weights with values
drawn from the seed (so a correct implementation gives the reference's outputs, whatever its initialisers), and
record outputs, weight shapes, configs and losses. A student who does not know the seed cannot tailor the class to
the inputs; a student who makes the class compute what the reference computes has solved the task.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

from course.authoring.notebook_format import Exercise, course_meta, is_instructor_only
from course.verification import auto_probes, export_limits


def probes(exercise: Exercise, usage: dict[str, Any] | None = None) -> dict[str, str]:
    """Check id -> probe source (it defines ``probe(rng)``) for ``exercise``'s checks verified by probes: each
    check's ``probe`` cell, else, for a check that reads a class the reference solution defines, a default probe of
    that class generated from how the solution itself uses it (``usage``: class name -> recorded calls, from the
    exercise's calibration, course/verification/calibration.py). A class the solution never calls gets no default
    probe."""
    found: dict[str, str] = {}
    classes = solution_classes(exercise)
    for check in exercise.checks:
        source = exercise.probe_source(check.id)
        if source is None and usage is not None:
            names = [name for name in read_names(check.source) if name in classes]
            read = {name: [c for c in usage.get(name) or [] if c] for name in names}
            if read and all(read.values()):
                source = auto_probes.source(read, classes)
        if source is not None:
            found[check.id] = source
    return found


def read_names(source: str) -> list[str]:
    """Names ``source`` reads, in order of first use."""
    python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return []
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return list(dict.fromkeys(names))


def solution_classes(exercise: Exercise) -> dict[str, bool]:
    """Classes the reference solution defines in its answer cells -> whether the class defines get_config."""
    found: dict[str, bool] = {}
    for cell in exercise.notebook.cells:
        meta = course_meta(cell) if cell.cell_type == "code" else {"locked": True}
        if meta:
            continue
        python = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(python)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                found[node.name] = any(isinstance(n, ast.FunctionDef) and n.name == "get_config" for n in node.body)
    return found


def _calls(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call | ast.Await | ast.Yield | ast.YieldFrom) for n in ast.walk(node))


def definitions(sources: list[str]) -> list[str]:
    """The imports, functions, classes and call-free assignments of ``sources`` (cells), in order, one statement
    each (they run one by one, so an assignment that needs data, e.g. ``x = x_train[:10]``, fails alone).

    Magics and shell lines are dropped; a cell that is not valid Python is left out. Nothing that trains, loads
    data or prints is kept, so running them takes seconds.
    """
    kept: list[str] = []
    for source in sources:
        python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(python)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            keep = isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            keep |= isinstance(node, ast.Assign | ast.AnnAssign) and not _calls(node)
            if keep:
                kept.append(ast.unparse(node))  # with its decorators (a source segment starts after them)
    return kept


def run_definitions(statements: list[str], namespace: dict[str, Any]) -> None:
    """Run each statement in ``namespace``, going on past the ones that fail."""
    for statement in statements:
        try:
            exec(statement, namespace)  # noqa: S102
        except Exception:  # noqa: BLE001, S112  (a name it failed to define makes the probe fail, with its name)
            continue


def notebook_definitions(nb: Any) -> list[str]:
    """Definitions of a notebook's code cells, check cells and grader-added cells left out."""
    sources = [
        c.source for c in nb.cells
        if c.cell_type == "code" and not course_meta(c).get("check") and not is_instructor_only(c)
        and not c.get("metadata", {}).get("grader", {}).get("export")
    ]  # fmt: skip
    return definitions(sources)


def run_probe(source: str, namespace: dict[str, Any], rng: Any) -> dict[str, Any]:
    """Run a probe cell's source in a copy of ``namespace`` and call its ``probe(rng)``: the dict of answers.
    (course/kernel_side/probe_runner.py does the same on the student's side, without importing this module.)"""
    scope = dict(namespace)
    exec(source, scope)  # noqa: S102  (the instructor's probe)
    out = scope["probe"](rng)
    if not isinstance(out, dict):
        raise TypeError(f"probe(rng) must return a dict of answers, not {type(out).__name__}")
    return out


def _same(reference: Any, student: Any) -> bool:
    if isinstance(reference, float) or isinstance(student, float):
        return (
            isinstance(reference, int | float)
            and isinstance(student, int | float)
            and not isinstance(student, bool)
            and math.isclose(reference, student, rel_tol=1e-6, abs_tol=1e-9)
        )
    if isinstance(reference, list | tuple) and isinstance(student, list | tuple):
        return len(reference) == len(student) and all(_same(a, b) for a, b in zip(reference, student))
    if isinstance(reference, dict) and isinstance(student, dict):
        return reference.keys() == student.keys() and all(_same(reference[k], student[k]) for k in reference)
    return type(reference) is type(student) and reference == student


def compare(reference: dict[str, Any] | str, folder: Path) -> tuple[bool, str]:
    """Does the student's answer in ``folder`` (written by probe_runner) match the reference's ``out`` dict?"""
    import numpy as np

    if isinstance(reference, str):
        raise RuntimeError(f"the reference solution failed its own probe: {reference}")
    error = folder / "error.txt"
    if error.is_file() and not error.is_symlink():
        return False, (
            f"on arguments and inputs the grader generated, your class raised {error.read_text()[:300]}; "
            "try it with other arguments and input shapes than the check cell uses"
        )
    try:
        export_limits.check_json(folder / "values.json")
        values = json.loads((folder / "values.json").read_text())
    except (OSError, ValueError, RecursionError):
        return False, (
            "your class could not be run on the grader's inputs: make sure the cell that defines it runs on its own, "
            "without needing variables from other cells"
        )
    for key, expected in reference.items():
        what = (
            f"on arguments and inputs the grader generated, {key!r} differs from the reference implementation's: "
            "check that your class uses every argument it is given and works for any input shape, not only the "
            "check cell's"
        )
        if isinstance(expected, np.ndarray):
            path = folder / f"{key}.npy"
            try:  # written by the student's class: its header is checked before anything is allocated
                export_limits.check_npy(path)
                got = np.load(path, allow_pickle=False) if not path.is_symlink() else None
            except (OSError, ValueError):  # export_limits.Refused included
                got = None
            if got is None or got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-4, atol=1e-5):
                return False, what
        elif key not in values or not _same(json.loads(json.dumps(expected, default=str)), values[key]):
            return False, what
    return True, ""


def reference_classes(exercise: Exercise) -> dict[str, Any]:
    """The reference solution's definitions (its classes, functions and constants), run in the trusted process;
    Keras's registry of serializable classes is restored afterwards."""
    import keras

    registry = keras.saving.get_custom_objects()
    saved = dict(registry)
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    try:
        run_definitions(notebook_definitions(exercise.notebook), namespace)
    finally:
        registry.clear()
        registry.update(saved)
    return namespace


def reference_answers(exercise: Exercise, seed: int, sources: dict[str, str]) -> dict[str, dict[str, Any] | str]:
    """Run the reference solution's definitions and each probe (``sources``: check id -> probe source) with
    ``seed`` (in the trusted process).

    Keras's registry of serializable classes is restored afterwards, so the reference's classes never stand in for
    a student's when an exported model is loaded.
    """
    import keras
    import numpy as np

    registry = keras.saving.get_custom_objects()
    saved = dict(registry)
    answers: dict[str, dict[str, Any] | str] = {}
    try:
        namespace: dict[str, Any] = {"__name__": "__reference__"}
        run_definitions(notebook_definitions(exercise.notebook), namespace)  # the instructor's solution
        for check, source in sources.items():
            try:
                answers[check] = run_probe(source, namespace, np.random.default_rng(seed))
            except Exception as err:  # noqa: BLE001
                answers[check] = f"{type(err).__name__}: {err}"
    finally:
        registry.clear()
        registry.update(saved)
    return answers
