"""Review flags are read from the code's syntax tree: pieces of strings are joined, comments do not count."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course.authoring.notebook_format import resolve_exercise
from course.grading.batch import read_submission
from course.grading.rebuild import rebuild

SUBMISSIONS = Path(__file__).resolve().parent / "fixtures" / "submissions" / "ex01"


def _flags(source: str) -> tuple[str, ...]:
    nb = read_submission(SUBMISSIONS / "correct.ipynb")
    nb.cells.insert(3, nbformat.v4.new_code_cell(source))
    return rebuild(resolve_exercise("ex01"), nb).flags


@pytest.mark.parametrize(
    ("source", "flag"),
    [
        ('import os\nprint(open("/pr" + "oc/self/status").read())', "reads /proc"),
        ("path = f\"{'/pr'}oc/1/environ\"", "reads /proc"),
        ('import sys\ngetattr(sys, "mod" + "ules")["toolkit.checks"] = None', "edits sys.modules"),
        ("import sys\nsys.path.insert(0, '/tmp/fake')", "edits the import path"),
        ("import builtins\nold = builtins.__import__", "touches builtins"),
        ("from importlib import util as u", "uses importlib"),
        ("from tensorflow import keras\nkeras.Model.predict = lambda self, x, **k: x", "patches keras"),
        ("ip = get_ipython()\nip.input_transformers_post.append(lambda lines: lines)", "input transformer"),
        ('ip = get_ipython()\nip.events.register("pre_run_cell", print)', "event hook"),
        ('open("../" + "/".join(["course", "solu" + "tions"]))', "mentions the solutions"),
    ],
)
def test_obfuscated_calls_are_flagged(source: str, flag: str) -> None:
    flags = _flags(source)
    assert any(flag in f for f in flags), flags


@pytest.mark.parametrize(
    "source",
    [
        "# compare with the solutions in the lecture\nx = 1",
        "%time y = sum(range(10))",
        "import os.path\nname = os.path.join('a', 'b')",
        "model_path = 'weights.keras'",
    ],
)
def test_ordinary_code_and_comments_are_not_flagged(source: str) -> None:
    assert _flags(source) == ()
