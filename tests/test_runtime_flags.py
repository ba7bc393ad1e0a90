"""Review flags from what a kernel did at run time (course/kernel_side/kernel_audit.py), beside the static ones
(test_flags.py).

The attacks are written so that a reading of the source does not see them (names built from character codes), so
the flags asserted here can only come from the audit hook. A correct submission gets none of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.authoring.notebook_format import load_exercise
from course.grading import batch as grading
from course.kernel_side import kernel_audit
from course.sandbox.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXERCISE = ROOT / "course" / "solutions" / "ex01_sequential.ipynb"


def _hidden(text: str) -> str:
    """``text`` as a Python expression no static reading resolves."""
    return f"bytes({list(text.encode())!r}).decode()"


def _answered(*extra: str) -> Any:
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_submissions
    finally:
        sys.path.remove(str(FIXTURES))
    nb = make_submissions.answered()
    for i, source in enumerate(extra):
        nb.cells.insert(3 + i, nbformat.v4.new_code_cell(source, id=f"attack{i}"))
    return nb


def _grade(tmp_path: Path, nb: Any, name: str) -> Any:
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return grading.grade_one(grading.Job(load_exercise(EXERCISE), path), Limits(threads=2, cell_timeout=120))


OS, SOCKET = f"__import__({_hidden('os')})", f"__import__({_hidden('socket')})"
TRANSFORMERS = f"getattr(get_ipython(), {_hidden('input_transformers_post')})"
ATTACKS = {  # attack -> (cell, the flag it must raise)
    "lists the project": (
        f"try:\n    getattr({OS}, {_hidden('listdir')})({str(ROOT)!r})\nexcept OSError:\n    pass",
        f"os.listdir on {ROOT}",
    ),
    "writes outside its folder": (
        f"try:\n    open({_hidden('/tmp/grades.csv')}, 'w').write('x')\nexcept OSError:\n    pass",
        "wrote /tmp/grades.csv",
    ),
    "looks up a host": (
        f"try:\n    {SOCKET}.getaddrinfo('example.org', 80)\nexcept OSError:\n    pass",
        "looked up the host 'example.org'",
    ),
    "connects out": (
        f"s = {SOCKET}.socket(); s.settimeout(2)\ntry:\n    s.connect(('10.9.8.7', 80))\nexcept OSError:\n    pass",
        "connect to ('10.9.8.7', 80)",
    ),
    "reads a secret": (
        f"getattr({OS}, {_hidden('environ')}).get('AWS_SECRET_ACCESS_KEY')",
        "read the environment variable AWS_SECRET_ACCESS_KEY",
    ),
    "patches Keras": (
        f"m = __import__({_hidden('keras')})\n_fit = m.Model.fit\n"
        "setattr(m.Model, 'fit', lambda self, *a, **k: _fit(self, *a, **k))",
        "keras.Model.fit was replaced or removed",
    ),
    "adds an input transformer": (
        f"{TRANSFORMERS}.append(lambda lines: lines)",
        "IPython's input_transformers_post changed (0 -> 1)",
    ),
}


@pytest.mark.slow
def test_what_a_kernel_did_at_run_time_is_flagged_and_a_correct_one_is_not(tmp_path: Path) -> None:
    clean = _grade(tmp_path, _answered(), "clean")
    assert clean.status == "graded" and clean.total == clean.max_points, clean
    assert not [f for f in clean.flags if f.startswith("at run time")], clean.flags
    hostile = _grade(tmp_path, _answered(*(source for source, _ in ATTACKS.values())), "hostile")
    assert hostile.status == "graded" and hostile.total == hostile.max_points, hostile  # flags never cost points
    runtime = [f for f in hostile.flags if f.startswith("at run time: ")]
    for attack, (_, flag) in ATTACKS.items():
        assert any(flag in f for f in runtime), (attack, runtime)


@pytest.mark.slow
def test_a_notebook_that_deletes_its_run_time_log_is_flagged(tmp_path: Path) -> None:
    source = f"m = __import__({_hidden('os')})\nm.remove(m.path.join(m.environ['HOME'], {kernel_audit.LOG_NAME!r}))"
    result = _grade(tmp_path, _answered(source), "eraser")
    assert result.total == result.max_points, result
    assert any("run-time log" in f and "removed" in f for f in result.flags), result.flags


def test_the_watcher_tells_own_files_from_others(tmp_path: Path) -> None:
    watcher = kernel_audit.Watcher(tmp_path / kernel_audit.LOG_NAME)  # not installed: its hook is called directly
    watcher("open", (str(tmp_path / "model.keras"), "w", 0))
    watcher("open", ("/proc/self/status", "r", 0))
    watcher("open", (f"{sys.prefix}/lib/site.py", "r", 0))
    watcher("open", (3, "r", 0))  # a file descriptor, not a path
    assert kernel_audit.read_log(tmp_path) == []
    watcher("open", ("/proc/1/environ", "r", 0))
    watcher("open", (f"{sys.prefix}/lib/site.py", None, 0o1101))  # os.open with O_WRONLY | O_CREAT | O_TRUNC
    watcher("os.remove", ("/home/classmate/ex01.ipynb",))
    watcher("socket.connect", (None, ("127.0.0.1", 8888)))  # the loopback is not the network
    watcher("urllib.Request", ("https://example.org/mnist.npz", None, {}, "GET"))
    watcher.environ_read("PATH")
    watcher.environ_read("GITHUB_TOKEN")
    for _ in range(3):
        watcher("open", ("/proc/1/environ", "r", 0))  # said once
    assert kernel_audit.read_log(tmp_path) == [
        "opened /proc/1/environ (outside its work folder)",
        f"wrote {sys.prefix}/lib/site.py (outside its work folder)",
        "os.remove on /home/classmate/ex01.ipynb (outside its work folder)",
        "requested https://example.org/mnist.npz",
        "read the environment variable GITHUB_TOKEN",
    ]
    (tmp_path / kernel_audit.LOG_NAME).unlink()
    assert kernel_audit.read_log(tmp_path) is None
