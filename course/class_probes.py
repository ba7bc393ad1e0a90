"""Checks of a student's own classes (custom layers, subclassed models): probes, run twice, compared outside.

A check in ``PROBES`` does not trust the student's kernel. After the kernel's run, the grader

1. extracts the *definitions* of the rebuilt notebook (imports, ``def``, ``class`` and assignments of call-free
   values; nothing that trains or loads data) and runs them with the check's probe in a fresh sandboxed process
   (course/probe_runner.py via ``sandbox.run_probes``), with a seed drawn from ``secrets`` for this submission;
2. runs the reference solution's definitions with the same probe and seed in the trusted worker
   (course/trusted.py: no student code runs there);
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

from course import export_limits
from course.notebook_format import Exercise, course_meta

_IMPORTS = "import os, tempfile\nimport numpy as np\nimport toolkit\nfrom tensorflow import keras\n"
_SCALED = _IMPORTS + """units, features = int(rng.integers(2, 9)), int(rng.integers(2, 7))
scale = float(np.round(rng.uniform(0.25, 3.0), 3))
x = rng.normal(size=(int(rng.integers(2, 6)), features)).astype("float32")
"""
_SIMPLE = _IMPORTS + """units, features = int(rng.integers(2, 9)), int(rng.integers(2, 9))
x = rng.normal(size=(3, features)).astype("float32")
"""
_LAYER = """layer(x)
weights = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
layer.set_weights(weights)
out["weight_shapes"] = [list(w.shape) for w in weights]
out["y"] = np.asarray(keras.ops.convert_to_numpy(layer(x)))
clone = type(layer).from_config(layer.get_config())
clone(x)
clone.set_weights(weights)
out["y_from_config"] = np.asarray(keras.ops.convert_to_numpy(clone(x)))
"""
_MLP = _IMPORTS + """def calls(model):
    return [[r.name, r.class_name] for r in toolkit.summary(model, input_shape=(28, 28)).rows]


def outputs(model):
    model(np.zeros((1, 28, 28), "float32"))
    model.set_weights([rng.normal(scale=0.1, size=w.shape).astype("float32") for w in model.get_weights()])
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


x = rng.uniform(size=(4, 28, 28)).astype("float32")
"""

# (exercise, check id) -> the probe: instructor code that fills ``out`` from the student's (or reference's) classes
PROBES: dict[tuple[str, str], str] = {
    ("ex02_functional", "q4_custom_layer"): _SCALED + """layer = ScaledDense(units, scale=scale)
""" + _LAYER + """config = layer.get_config()
out["config"] = {"units": config.get("units"), "scale": config.get("scale")}
""",
    ("ex02_functional", "q4_saving"): _SCALED + """model = keras.Sequential([keras.Input(shape=(features,))])
model.add(ScaledDense(units, scale=scale))
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
with tempfile.TemporaryDirectory() as folder:
    model.save(os.path.join(folder, "probe.keras"))
    reloaded = keras.models.load_model(os.path.join(folder, "probe.keras"))
out["before"] = model.predict(x, verbose=0)
out["after"] = reloaded.predict(x, verbose=0)
out["zero_scale"] = np.asarray(keras.ops.convert_to_numpy(ScaledDense(units, scale=0.0)(x)))
""",
    ("ex05_subclassing", "q1_mlp"): _MLP + """plain = MLP(name="probe_plain")
regular = MLP(dropout=True, name="probe_regular")
out["is_mlp_model"] = isinstance(plain, keras.Model) and type(plain).__name__ == "MLP"
out["plain_calls"], out["regular_calls"] = calls(plain), calls(regular)
out["plain_params"] = int(plain.count_params())
out["plain_y"], out["regular_y"] = outputs(plain), outputs(regular)
""",
    ("ex05_subclassing", "q1_mlp_options"): _MLP + """hidden = int(rng.integers(4, 33))
tiny = MLP(hidden=hidden, name="tiny")
out["params"] = int(toolkit.summary(tiny, input_shape=(28, 28)).total_params)
out["name"] = tiny.name
regular = MLP(dropout=True)
regular(np.zeros((1, 28, 28), "float32"))
out["dropout_rate"] = float(regular.get_layer("dropout").rate)
out["tiny_y"] = outputs(tiny)
""",
    ("ex05_subclassing", "q3_custom_layer"): _SIMPLE + """layer = SimpleDense(units, name="probe")
""" + _LAYER + """out["own_get_config"] = "get_config" in vars(SimpleDense)
out["units"] = layer.get_config().get("units")
""",
    ("ex05_subclassing", "q4_add_loss"): _IMPORTS + """rate = float(np.round(rng.uniform(0.1, 2.0), 3))
x = rng.normal(size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)))).astype("float32")
penalty = ActivityPenalty(rate)
out["y"] = np.asarray(keras.ops.convert_to_numpy(penalty(x)))
out["losses"] = np.asarray([float(keras.ops.convert_to_numpy(v)) for v in penalty.losses], dtype="float64")
""",
}


def probes(exercise: Exercise) -> dict[str, str]:
    """Check id -> probe source for ``exercise``'s checks that are verified by probes."""
    return {c.id: PROBES[(exercise.name, c.id)] for c in exercise.checks if (exercise.name, c.id) in PROBES}


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
        if c.cell_type == "code" and not course_meta(c).get("check") and not c.get("metadata", {}).get("grader", {})
        .get("export")
    ]  # fmt: skip
    return definitions(sources)


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


def reference_answers(exercise: Exercise, seed: int) -> dict[str, dict[str, Any] | str]:
    """Run the reference solution's definitions and each probe with ``seed`` (in the trusted process).

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
        for check, source in probes(exercise).items():
            out: dict[str, Any] = {}
            try:
                exec(source, {**namespace, "rng": np.random.default_rng(seed), "out": out})  # noqa: S102
                answers[check] = out
            except Exception as err:  # noqa: BLE001
                answers[check] = f"{type(err).__name__}: {err}"
    finally:
        registry.clear()
        registry.update(saved)
    return answers
