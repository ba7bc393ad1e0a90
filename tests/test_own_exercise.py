"""An instructor's OWN exercise, in a folder outside the package, graded with default settings (issue 22).

The exercise is written the way course/GUIDE.md section 2 says, with nothing declared for verification: a small CNN
on MNIST with an accuracy check, a hashed "how many parameters" question, and a custom layer with a visible and a
hidden check (no probe cell: the grader probes the class from how the solution itself uses it). Submissions: the
correct one, a partial one (a layer that ignores its argument), the empty starter, a wrong architecture, and the
forgeries GUIDE 6.2 lists. Each must get exactly what its real work deserves, and `course grade` is run as an
instructor runs it (a subprocess, default settings: it calibrates the exercise first).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from toolkit.checks import hash_answer

ROOT = Path(__file__).resolve().parents[1]

SETUP = """import numpy as np
import toolkit
from tensorflow import keras
from toolkit import checks, datasets

toolkit.seed(0)"""
DATA = """(x_train, y_train), (x_test, y_test) = datasets.load_mnist(limit=(1500, 300))
x_train, x_test = x_train[..., None] / 255.0, x_test[..., None] / 255.0"""
CNN = """### BEGIN SOLUTION build a CNN called cnn
cnn = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
    keras.layers.MaxPooling2D(2, name="pool"),
    keras.layers.Flatten(name="flatten"),
    keras.layers.Dense(10, activation="softmax", name="probs"),
])
### END SOLUTION"""
Q1 = """checks.check_equal("layer types of cnn", [type(l).__name__ for l in cnn.layers],
                   ["Conv2D", "MaxPooling2D", "Flatten", "Dense"], hint="Conv2D, MaxPooling2D, Flatten, Dense")
checks.check_shape(cnn, (None, 10))"""
PARAMS = 8 * (3 * 3 * 1 + 1) + (13 * 13 * 8 + 1) * 10
ANSWER = """### BEGIN SOLUTION set answer_params
answer_params = 8 * (3 * 3 * 1 + 1) + (13 * 13 * 8 + 1) * 10
### END SOLUTION"""
LAYER = """### BEGIN SOLUTION write the Scale layer
class Scale(keras.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        return inputs * self.w * self.factor
### END SOLUTION
demo = Scale(factor=3.0)
demo(np.ones((2, 4), "float32"))"""
Q3 = """layer = Scale(factor=2.0)
out = keras.ops.convert_to_numpy(layer(np.ones((1, 3), "float32")))
checks.check_shape(out, (1, 3), hint="one weight per feature")
checks.check_true(bool(np.allclose(out, 2.0)), "Scale(factor=2.0) doubles its inputs while w is all ones")"""
Q3_HIDDEN = """layer = Scale(factor=0.5)
layer.build((None, 2))
layer.w.assign(np.array([2.0, 4.0], "float32"))
checks.check_true(bool(np.allclose(keras.ops.convert_to_numpy(layer(np.ones((1, 2), "float32"))), [1.0, 2.0])),
                  "Scale multiplies by its weights and its factor")"""
TRAIN = """### BEGIN SOLUTION compile and train cnn
cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
cnn.fit(x_train, y_train, epochs=3, batch_size=32, verbose=0)
### END SOLUTION"""
# the reference reaches about 0.85 on held-out digits, and runs differ by a point or two (thread scheduling): the
# threshold sits 10 points below it, far above an untrained model (about 0.05)
Q4 = 'checks.check_accuracy(cnn, x_test, y_test, at_least=0.75, hint="train for the 3 epochs")'


def _cell(source: str, cell_id: str, **course: Any) -> Any:
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    if course:
        cell.metadata["course"] = course
    return cell


def _exercise() -> Any:
    q2 = (f'checks.check_hashed("own_cnn_params", answer_params, "{hash_answer("own_cnn_params", PARAMS)}", '
          'hint="(kernel height * width * channels + 1) * filters, then the Dense layer")')  # fmt: skip
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# My CNN exercise", id="title"),
        _cell(SETUP, "setup", locked="setup"),
        _cell(DATA, "data", locked="data"),
        _cell(CNN, "answer1"),
        _cell(Q1, "q1", check="q1_cnn", points=2),
        _cell(ANSWER, "answer2"),
        _cell(q2, "q2", check="q2_params", points=2),
        _cell(LAYER, "answer3"),
        _cell(Q3, "q3", check="q3_scale", points=2),
        _cell(Q3_HIDDEN, "q3h", check="q3_scale_hidden", points=1, hidden=True),
        _cell(TRAIN, "answer4"),
        _cell(Q4, "q4", check="q4_train", points=3),
    ])  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _edited(nb: Any, changes: dict[str, str], first: str | None = None) -> Any:
    """A copy of ``nb`` with the cells of ``changes`` (by id) replaced and, optionally, a cell run first."""
    out = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in out.cells:
        if cell.get("id") in changes:
            cell.source = changes[cell["id"]]
    if first is not None:
        out.cells.insert(2, nbformat.v4.new_code_cell(first, id="forge"))  # right after the setup cell
    return out


TRANSFORMER = """# every check cell becomes harmless before it runs
def _neuter(lines):
    return ["pass\\n"] if any("checks." in line for line in lines) else lines
get_ipython().input_transformers_post.append(_neuter)"""
FAKE_IMPORTLIB = """import importlib, types
fake = types.ModuleType("toolkit.checks")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
importlib.import_module = lambda name, package=None: fake
importlib.reload = lambda module: module
checks = importlib.reload(checks)
checks = fake"""
FAKE_SYS_MODULES = """import sys, types, toolkit
fake = types.ModuleType("toolkit.checks")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
sys.modules["toolkit.checks"] = fake
toolkit.checks = checks = fake"""
PATCH_PREDICT = """import numpy as np
from tensorflow import keras
(_, _), (_xt, _yt) = datasets.load_mnist(limit=(1500, 300))
keras.Model.predict = lambda self, x, *a, **k: np.eye(10)[_yt[: len(x)]]
keras.Model.evaluate = lambda self, *a, **k: [0.0, 1.0]"""
PATCH_CALLBACKS = """from tensorflow import keras
class _Done(keras.callbacks.Callback):  # stops training at once; the patched fit reports a perfect history
    def on_train_batch_begin(self, batch, logs=None):
        self.model.stop_training = True
_fit = keras.Model.fit
keras.Model.fit = lambda self, *a, **k: _fit(self, *a, **{**k, "callbacks": [_Done()], "epochs": 1})
import numpy as np
(_, _), (_xt, _yt) = datasets.load_mnist(limit=(1500, 300))
keras.Model.predict = lambda self, x, *a, **k: np.eye(10)[_yt[: len(x)]]"""
WRONG_SCALE = LAYER.replace("return inputs * self.w * self.factor", "return inputs * self.w * 2.0")
MLP = CNN.replace('keras.layers.Conv2D(8, 3, activation="relu", name="conv"),\n', "").replace(
    'keras.layers.MaxPooling2D(2, name="pool"),\n', ""
)


def _submissions(solution: Any, starter: Any) -> dict[str, tuple[Any, dict[str, int]]]:
    """Student -> (notebook, points each check deserves; -1: not compared)."""
    full = {"q1_cnn": 2, "q2_params": 2, "q3_scale": 2, "q3_scale_hidden": 1, "q4_train": 3}
    nothing = dict.fromkeys(full, 0)
    untrained = {**full, "q4_train": 0}
    return {
        "correct": (solution, full),
        "partial_scale_ignores_factor": (_edited(solution, {"answer3": WRONG_SCALE}),
                                         {**full, "q3_scale": 0, "q3_scale_hidden": 0}),
        "empty_starter": (starter, nothing),
        # an MLP trains too: its accuracy is whatever it is on held-out digits (not compared), q1 is lost
        "wrong_architecture": (_edited(solution, {"answer1": MLP}), {**full, "q1_cnn": 0, "q4_train": -1}),
        "forged_input_transformer": (_edited(starter, {}, TRANSFORMER), nothing),
        "forged_checks_importlib": (_edited(starter, {}, FAKE_IMPORTLIB), nothing),
        "forged_checks_sys_modules": (_edited(starter, {}, FAKE_SYS_MODULES), nothing),
        "forged_predict_untrained": (_edited(solution, {"answer4": TRAIN.replace("cnn.fit(", "# cnn.fit(")},
                                             PATCH_PREDICT), untrained),
        "forged_callbacks": (_edited(solution, {}, PATCH_CALLBACKS), untrained),
    }  # fmt: skip


def _digests(folder: Path) -> dict[Path, str]:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _course(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "course", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_an_instructors_own_exercise_is_verified_like_a_shipped_one(tmp_path: Path) -> None:
    own = tmp_path / "my_course"  # outside the package; nothing of the package is edited
    own.mkdir()
    solution_path = own / "cnn_exercise.ipynb"
    nbformat.write(_exercise(), str(solution_path))
    env = {**os.environ, "KERAS_COURSE_CACHE": str(tmp_path / "cache")}
    package = _digests(ROOT / "course")

    lint = _course("check", str(solution_path), env=env, cwd=tmp_path)
    assert lint.returncode == 0, lint.stderr
    assert "q3_scale: kernel only: the exercise is not calibrated yet" in lint.stdout, lint.stdout

    from course.authoring.notebook_format import load_exercise
    from course.authoring.starters import make_starter

    solution = nbformat.read(str(solution_path), as_version=4)
    starter = make_starter(load_exercise(solution_path))
    folder = tmp_path / "submitted"
    folder.mkdir()
    expected = {}
    for student, (nb, points) in _submissions(solution, starter).items():
        nbformat.write(nb, str(folder / f"{student}.ipynb"))
        expected[student] = points

    out = tmp_path / "grades"
    graded = _course(
        "grade", str(solution_path), str(folder), "--out", str(out), "--workers", "2", env=env, cwd=tmp_path
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert "calibrating cnn_exercise" in graded.stderr
    assert "graded inside the student's notebook only" not in graded.stderr, graded.stderr[-2000:]
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    got = {s: {c: int(float(rows[s][c])) if expected[s][c] >= 0 else -1 for c in expected[s]} for s in expected}
    assert got == expected, {
        s: (got[s], rows[s].get("status"), rows[s].get("notes")) for s in got if got[s] != expected[s]
    }

    lint = _course("check", str(solution_path), env=env, cwd=tmp_path)  # calibrated now: the class is probed
    assert "q3_scale: probed outside the kernel (default probe of Scale)" in lint.stdout, lint.stdout
    assert "q3_scale_hidden: probed outside the kernel (default probe of Scale)" in lint.stdout, lint.stdout
    strict = _course("grade", str(solution_path), str(folder), "--out", str(tmp_path / "strict"), "--only", "correct",
                     "--require-verified", env=env, cwd=tmp_path)  # fmt: skip
    assert strict.returncode == 0, strict.stderr[-2000:]
    assert package == _digests(ROOT / "course")  # nothing of the package was edited


def test_inconsistent_declarations_are_refused_with_the_cell_and_the_fix(tmp_path: Path) -> None:
    from course.authoring.notebook_format import load_exercise
    from course.verification.plan import problems

    nb = _exercise()
    nb.cells.insert(
        9, _cell("def probe(rng):\n    return {'y': Scaler(2.0)(rng.normal(size=(2, 3)))}", "p", probe="q3_scale")
    )
    nb.cells[4].source += "\nchecks.check_equal('pool size', cnn.get_layer('pool').pool_size, pool_wanted)"
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, str(path))
    found = problems(load_exercise(path))
    assert any("cell 9 (the probe cell of 'q3_scale'): reads 'Scaler'" in p for p in found), found
    assert any(
        "cell 4 (check 'q1_cnn'): reads 'pool_wanted', which no cell of the solution defines" in p for p in found
    )
    result = _course("check", str(path), env=dict(os.environ), cwd=tmp_path)
    assert result.returncode == 1 and "reads 'Scaler'" in result.stderr
    graded = _course(
        "grade", str(path), str(tmp_path), "--out", str(tmp_path / "g"), env=dict(os.environ), cwd=tmp_path
    )
    assert graded.returncode != 0 and "reads 'pool_wanted'" in graded.stderr, graded.stderr[-1000:]
    assert not (tmp_path / "g" / "gradebook.csv").exists()
