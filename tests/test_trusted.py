"""Verification outside the student's process: forgeries that fool the in-kernel checks score what the work deserves.

Each forgery below makes every check cell pass *inside the kernel* (the old grader gave them full marks); the
trusted process, which runs no student code, checks the exported objects and gives the points the work deserves.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course import trusted
from course.gradebook import SubmissionResult
from course.grading import Job, grade_jobs
from course.notebook_format import resolve_exercise
from course.sandbox import Limits

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
    return {"fake_import_starter": starter, "patched_predict_untrained": untrained}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    folder = tmp_path_factory.mktemp("forgeries")
    for name, nb in _make().items():
        nbformat.write(nb, str(folder / f"{name}.ipynb"))
    (folder / "correct.ipynb").write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    exercise = resolve_exercise("ex01")
    jobs = [Job(exercise, p) for p in sorted(folder.glob("*.ipynb"))]
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
