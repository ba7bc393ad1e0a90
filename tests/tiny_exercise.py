"""A tiny exercise without TensorFlow (one visible and one hidden check, a canary in the hidden one), for fast tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

CANARY = "CANARY-7f3a"


def code_cell(source: str, **course: object) -> nbformat.NotebookNode:
    """A code cell with ``course`` metadata (check=..., points=..., locked=...) when any is given."""
    cell = nbformat.v4.new_code_cell(source)
    if course:
        cell.metadata["course"] = course
    return cell


def write_exercise(folder: Path) -> Path:
    """Write ex90_tiny.ipynb into ``folder`` and return its path."""
    nb = nbformat.v4.new_notebook(
        cells=[
            code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"),
            code_cell('assert answer > 0, "answer must be positive"', check="q1_visible", points=1),
            code_cell(
                f"secret = {CANARY!r}  # the expected value is {CANARY}\n"
                f'assert answer == 42, f"expected {{secret}}, got {{answer}}"',
                check="q2_hidden",
                points=2,
                hidden=True,
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "ex90_tiny.ipynb"
    nbformat.write(nb, str(path))
    return path


def write_submissions(folder: Path, answers: dict[str, str]) -> Path:
    """One submission per student: the exercise with its solution cell replaced by ``answers[student]``."""
    folder.mkdir(parents=True, exist_ok=True)
    for student, source in answers.items():
        nb = nbformat.v4.new_notebook(cells=[code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(folder / f"{student}.ipynb"))
    return folder
