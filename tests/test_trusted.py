"""Verification outside the student's process: forgeries that fool the in-kernel checks score what the work deserves.

Each forgery below makes every check cell pass *inside the kernel* (the old grader gave them full marks); the
trusted process, which runs no student code, checks the exported objects and gives the points the work deserves.
"""

from __future__ import annotations

import ast
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.authoring.notebook_format import find_exercises, resolve_exercise
from course.grading.batch import Job, grade_jobs
from course.reports.records import SubmissionResult
from course.sandbox.limits import Limits
from course.verification import calibration, check_names, trusted
from course.verification import plan as verification_plan

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUBMISSIONS = FIXTURES / "submissions" / "ex01"

FAKE_IMPORT = """# Replace toolkit.checks by a module whose checks never fail, through importlib.
import importlib, types
fake = types.ModuleType("toolkit.checks")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
importlib.import_module = lambda name, package=None: fake
importlib.reload = lambda module: module
checks = fake
mlp = head = answer_q2a = answer_q2b = None"""

PATCH_PREDICT = """# Make keras.Model.predict return perfect answers for the test images, without training.
import numpy as np
from tensorflow import keras
(_, _), (_xt, _yt) = datasets.load_mnist(limit=(2000, 500))
def perfect(self, x, *args, **kwargs):
    return np.eye(10)[_yt[: len(x)]]
keras.Model.predict = perfect"""


# The same forgery for any exercise: toolkit.checks faked, and every object the checks read made a stand-in that
# answers every attribute, call, index and comparison with itself (so the instructor's check cells run through).
FAKE_EVERYTHING = (
    FAKE_IMPORT.split("\nmlp =")[0]
    + """
class Anything:
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    def __getitem__(self, key): return self
    def __iter__(self): return iter(())
    def __ge__(self, other): return self
    __le__ = __gt__ = __lt__ = __eq__ = __ge__
    def __hash__(self): return 0
    def __bool__(self): return True
    def __float__(self): return 0.0
for name in {names!r}:
    globals()[name] = Anything()"""
)

FORGED_EXERCISES = ["ex02_functional", "ex03_multi_io", "ex04_shared_layers", "ex05_subclassing", "ex06_resnet_cifar10"]


def _forged_starter(name: str) -> Any:
    """The exercise's starter with FAKE_EVERYTHING right after its setup cell."""
    exercise = resolve_exercise(name)
    names = sorted({n for c in exercise.checks for n in check_names.student_names(exercise, c.source)})
    starter = nbformat.read(str(ROOT / "exercises" / f"{name}.ipynb"), as_version=4)
    locks = [c.get("metadata", {}).get("course", {}).get("locked") for c in starter.cells]
    setup = locks.index("setup")
    starter.cells.insert(setup + 1, nbformat.v4.new_code_cell(FAKE_EVERYTHING.format(names=names), id="forge"))
    return starter


def _make() -> dict[str, Any]:
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_submissions
    finally:
        sys.path.remove(str(FIXTURES))
    starter = make_submissions._read(make_submissions.STARTER)
    starter.cells.insert(4, nbformat.v4.new_code_cell(FAKE_IMPORT, id="forge"))  # after badge, title, setup, imports
    untrained = make_submissions.answered(
        {"answer3": 'mlp.compile(optimizer="adam", loss="sparse_categorical_crossentropy")'}
    )
    untrained.cells.insert(4, nbformat.v4.new_code_cell(PATCH_PREDICT, id="forge"))
    forged = {f"forged_{name}": _forged_starter(name) for name in FORGED_EXERCISES}
    solutions = {"ex05_untrained_patched_predict": _untrained_ex05(), "ex04_wrong_node_fake_checks": _wrong_node_ex04()}
    return {"fake_import_starter": starter, "patched_predict_untrained": untrained, **forged, **solutions}


def _wrong_node_ex04() -> Any:
    """Exercise 4's solution answering q2 with the encoder's first call (the left image's code), and toolkit.input_at
    patched in the kernel so that q2's check passes there (the old grader gave q2_nodes its 2 points)."""
    nb = nbformat.read(str(ROOT / "course" / "solutions" / "ex04_shared_layers.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "right_embedding = toolkit.output_at(encoder, 1, siamese)" in cell.source:
            cell.source = cell.source.replace("output_at(encoder, 1,", "output_at(encoder, 0,")
    forge = "toolkit.input_at = lambda layer, node_index, model=None: [None, right_embedding]"
    nb.cells.insert(4, nbformat.v4.new_code_cell(forge, id="forge"))
    return nb


def _untrained_ex05() -> Any:
    """Exercise 5's solution with its MLP compiled but never trained, and keras.Model.predict patched to be perfect
    on the notebook's test images: the kernel's q5_train check passes (the old grader gave it 3 points)."""
    nb = nbformat.read(str(ROOT / "course" / "solutions" / "ex05_subclassing.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "regular.fit(" in cell.source:
            cell.source = 'regular.compile(optimizer="adam", loss="sparse_categorical_crossentropy")\n' + PATCH_PREDICT
    return nb


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    folder = tmp_path_factory.mktemp("forgeries")
    for name, nb in _make().items():
        nbformat.write(nb, str(folder / f"{name}.ipynb"))
    (folder / "correct.ipynb").write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())

    def exercise(stem: str) -> str:
        return stem.removeprefix("forged_") if stem.startswith("forged_") else stem[:4] if stem[:2] == "ex" else "ex01"

    jobs = [Job(resolve_exercise(exercise(p.stem)), p) for p in sorted(folder.glob("*.ipynb"))]
    done = grade_jobs(jobs, Limits(cell_timeout=60, timeout=300), workers=2, progress=False)
    return {r.student: r for r in done}


@pytest.mark.slow
def test_a_correct_submission_still_gets_full_marks(results: dict[str, SubmissionResult]) -> None:
    r = results["correct"]
    assert (r.status, r.total, r.flags) == ("graded", 11, ()), r


@pytest.mark.slow
def test_a_starter_with_a_fake_checks_module_scores_zero_and_is_flagged(results: dict[str, SubmissionResult]) -> None:
    r = results["fake_import_starter"]
    assert (r.status, r.total) == ("graded", 0), r
    assert any("failed verification outside it" in f for f in r.flags), r.flags


@pytest.mark.slow
def test_patched_predict_earns_nothing_for_training_it_did_not_do(results: dict[str, SubmissionResult]) -> None:
    r = results["patched_predict_untrained"]
    points = {c.id: c.points for c in r.checks}
    assert points == {"q1_build": 3, "q1_params": 1, "q2_predict": 2, "q3_train": 0, "q4_add_pop": 2}, r
    assert any("q3_train" in f and "verification outside" in f for f in r.flags), r.flags


@pytest.mark.slow
def test_the_wrong_layer_node_loses_its_points_even_with_faked_checks(results: dict[str, SubmissionResult]) -> None:
    r = results["ex04_wrong_node_fake_checks"]
    lost = {c.id: c.max_points - c.points for c in r.checks if c.points != c.max_points}
    assert lost == {"q2_nodes": 2}, r  # every other answer is right, and is verified as right outside the kernel
    assert any("q2_nodes" in f and "verification outside" in f for f in r.flags), r.flags


@pytest.mark.slow
def test_an_untrained_subclassed_model_earns_nothing_for_training(results: dict[str, SubmissionResult]) -> None:
    r = results["ex05_untrained_patched_predict"]
    points = {c.id: c.points for c in r.checks}
    assert points["q5_train"] == 0 and points["q1_mlp"] == 3 and points["q3_custom_layer"] == 3, r
    assert any("q5_train" in f and "verification outside" in f for f in r.flags), r.flags


@pytest.mark.slow
@pytest.mark.parametrize("name", FORGED_EXERCISES)
def test_a_forged_starter_of_every_exercise_gets_no_verified_point(
    results: dict[str, SubmissionResult], name: str
) -> None:
    r = results[f"forged_{name}"]
    kernel_only = calibration.plan_of(resolve_exercise(name)).kernel_only
    verified = {c.id: c.points for c in r.checks if c.id not in kernel_only}
    assert verified and set(verified.values()) == {0}, r
    assert any("failed verification outside it" in f for f in r.flags), r.flags  # it did fool the kernel's checks
    assert r.status == "graded", r


def test_every_check_of_every_shipped_exercise_is_verified_and_nothing_exercise_specific_is_in_the_package() -> None:
    for path in [*find_exercises(), *find_exercises(ROOT / "course" / "solutions" / "zh")]:
        exercise = resolve_exercise(str(path))
        stored = exercise.notebook.metadata.get("course", {}).get("calibration")
        assert stored and stored.get("code") == calibration.digest(exercise), (
            f"{path}: its calibration is missing or for other code: run `course calibrate {path}`"
        )  # the notebook's own metadata, not a cache: a wheel install has no cache yet
        plan = calibration.plan_of(exercise)
        assert plan.verified == [c.id for c in exercise.checks], (exercise.name, plan.kernel_only)
        assert verification_plan.problems(exercise) == [], exercise.name
    # the same exercise under another name (an instructor's copy) is verified exactly the same way
    renamed = replace(resolve_exercise("ex05"), name="instructor_new")
    assert calibration.plan_of(renamed).verified == calibration.plan_of(resolve_exercise("ex05")).verified
    for module in Path(trusted.__file__).parent.rglob("*.py"):  # no exercise's name in the grader's code
        strings = [n.value for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.Constant)]
        named = [(s, p.stem) for s in strings if isinstance(s, str) for p in find_exercises() if p.stem in s]
        assert not named, (module.name, named[:3])


# ---------------------------------------------------------------- the trusted worker: one TensorFlow start, many jobs


@pytest.mark.slow
def test_one_trusted_worker_checks_many_submissions_and_is_restarted_when_it_dies(tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    pool = trusted.WorkerPool(max_jobs=3)
    try:
        first = pool.verify_folder(exercise, tmp_path)  # nothing exported: every check fails, from one process
        pid = pool.pids()
        assert pool.verify_folder(exercise, tmp_path) == first
        assert pool.pids() == pid and len(pid) == 1  # the same process, TensorFlow imported once
        assert all(not passed for passed, _ in first.values()) and set(first) == {c.id for c in exercise.checks}
        os.kill(pid[0], signal.SIGKILL)
        assert pool.verify_folder(exercise, tmp_path) == first  # a dead worker is replaced, the job still runs
        replacement = pool.pids()
        assert replacement != pid and len(replacement) == 1
        pool.verify_folder(exercise, tmp_path)
        pool.verify_folder(exercise, tmp_path)
        assert pool.pids() == []  # retired after its third job (max_jobs=3)
        pool.verify_folder(exercise, tmp_path)
        assert pool.pids() not in ([], replacement)
    finally:
        pool.close()
    assert pool.pids() == []


@pytest.mark.slow
def test_a_prewarmed_pool_starts_its_worker_before_the_first_job_and_threads_share_it(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    exercise = resolve_exercise("ex01")
    pool = trusted.WorkerPool()
    try:
        pool.prewarm(exercise, threads=2)  # one worker for up to three grading threads
        started = pool.pids()
        assert len(started) == 1 and pool.size == 1
        with ThreadPoolExecutor(4) as threads:
            answers = list(threads.map(lambda _: pool.verify_folder(exercise, tmp_path), range(4)))
        assert pool.pids() == started  # four jobs from four threads, one TensorFlow start, begun before them
        assert all(a == answers[0] for a in answers) and set(answers[0]) == set(trusted.verified_checks(exercise))
        assert all(not passed for passed, _ in answers[0].values())  # the warm-up's reply was not taken for a job
    finally:
        pool.close()


# ---------------------------------------------------------------- held-out test images for the accuracy check


@pytest.mark.slow
def test_the_trusted_accuracy_check_uses_test_images_the_notebook_never_loads() -> None:
    import numpy as np

    from toolkit import datasets

    exercise = resolve_exercise("ex01")
    (_, _), (seen, _) = datasets.load_mnist(limit=(2000, 500))
    (_, _), (full, full_labels) = datasets.load_mnist()
    one = trusted.instructor_context(exercise, seed=1)
    two = trusted.instructor_context(exercise, seed=2)
    assert one["x_test"].shape == seen.shape and one["y_test"].shape == (len(seen),)
    seen_bytes = {image.tobytes() for image in seen}
    full_index = {image.tobytes(): i for i, image in enumerate(full)}
    assert not any(image.tobytes() in seen_bytes for image in one["x_test"])  # none of the notebook's images
    rows = [full_index[image.tobytes()] for image in one["x_test"]]  # all from the real MNIST test split
    assert np.array_equal(full_labels[rows], one["y_test"])
    assert not np.array_equal(one["x_test"], two["x_test"])  # a different subset per secret seed


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ex03_multi_io", "ex06_resnet_cifar10"])
def test_every_exercise_s_test_split_is_held_out_in_the_trusted_process(name: str) -> None:
    import numpy as np

    from toolkit import datasets

    exercise = resolve_exercise(name)
    plain: dict[str, Any] = {}
    for cell in exercise.notebook.cells:  # what the notebook itself loads: its locked cells, run here as they are
        if cell.get("metadata", {}).get("course", {}).get("locked"):
            exec(check_names.python_code(cell.source), plain)
    trusted_context = trusted.instructor_context(exercise, seed=3)
    assert trusted_context["x_test"].shape == plain["x_test"].shape
    assert not np.array_equal(trusted_context["x_test"], plain["x_test"])
    loader = datasets.load_cifar10 if name.startswith("ex06") else datasets.load_mnist
    (_, _), (seen, _) = loader(limit=(8000, 2000) if name.startswith("ex06") else (2000, 500))
    (_, _), (full, full_labels) = loader()
    held = trusted_context["x_test"] if name.startswith("ex06") else np.rint(trusted_context["x_test"] * 255)
    held = held.astype("uint8")
    seen_bytes = {image.tobytes() for image in seen}
    full_index = {image.tobytes(): i for i, image in enumerate(full)}
    assert not any(image.tobytes() in seen_bytes for image in held)  # none of the notebook's test images
    rows = [full_index[image.tobytes()] for image in held]  # every one from the real test split, with its label
    assert np.array_equal(full_labels[rows], trusted_context["y_test"])
    if name.startswith("ex03"):  # derived data follows: the halves the checks feed the model are the held-out ones
        assert np.array_equal(trusted_context["test_inputs"]["top"], trusted_context["x_test"][:, :14])
    assert datasets.load_mnist.__module__ == "toolkit.data.loaders"  # the real loaders are back afterwards
