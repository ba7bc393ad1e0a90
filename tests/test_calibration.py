"""Stored calibrations (course/verification/calibration.py) are found on every Python the course runs on.

A calibration is looked up by a digest of the exercise's code without comments. The digest must not depend on the
Python version (3.12 tokenizes f-strings differently from 3.11), or a wheel installed on Colab would calibrate every
shipped exercise again before grading. This file runs in every entry of the CI matrix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import course
from course.authoring.notebook_format import load_exercise
from course.verification import calibration

SOLUTIONS = Path(course.__file__).resolve().parent / "solutions"


def test_comments_go_and_the_code_stays_whatever_the_tokenizer() -> None:
    source = 'x = f"{a!r:>{width}} # not a comment"  # a comment\n\n# only a comment\ny = "#" + f"{{b}}"\n'
    assert calibration._code_lines(source) == ['x = f"{a!r:>{width}} # not a comment"', 'y = "#" + f"{{b}}"']
    assert calibration._code_lines("%timeit f(\n") == ["%timeit f("]  # not Python: kept as it is


@pytest.mark.parametrize("path", sorted([*SOLUTIONS.glob("ex*.ipynb"), *SOLUTIONS.glob("zh/ex*.ipynb")]),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")  # fmt: skip
def test_every_shipped_exercise_has_a_calibration_for_its_code(path: Path) -> None:
    exercise = load_exercise(path)
    found = calibration.stored(exercise)
    assert found is not None, f"{path.name}: no calibration for its current code; run `course calibrate {path}`"
    assert found.code == exercise.notebook.metadata["course"]["calibration"]["code"]  # from the notebook itself
