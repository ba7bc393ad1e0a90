"""The batch never dies and never lies: one row per file whatever the file is, outputs only inside --out.

These tests start no kernel: every file in them is refused before a kernel would run, or the kernel run is
replaced by a function that fails the way the grader itself can fail.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.cli import main
from course.grading import pipeline
from course.grading.batch import read_submission
from course.reports.gradebook import feedback_markdown, gradebook_csv
from course.reports.records import CheckResult, SubmissionResult

SUBMISSIONS = Path(__file__).resolve().parent / "fixtures" / "submissions" / "ex01"
SOLUTION = Path(__file__).resolve().parents[1] / "course" / "solutions" / "ex01_sequential.ipynb"


def _no_kernel(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a kernel was started for a file that should have been refused before running")


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "run_notebook", _no_kernel)


def _grade(folder: Path, out: Path, *extra: str) -> dict[str, dict[str, str]]:
    assert main(["grade", "ex01", str(folder), "--out", str(out), "--workers", "2", *extra]) == 0
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _feedback(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in (out / "feedback").iterdir()}


def _notebook_with_cell(cell: dict[str, Any]) -> str:
    nb = json.loads(SOLUTION.read_text())
    nb["cells"].insert(2, cell)
    return json.dumps(nb)


def test_cells_without_text_are_one_invalid_row_each_and_the_batch_goes_on(tmp_path: Path, no_kernel: None) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    base = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    (folder / "null_source.ipynb").write_text(_notebook_with_cell({**base, "source": None}))
    (folder / "int_source.ipynb").write_text(_notebook_with_cell({**base, "source": 7}))
    (folder / "no_source.ipynb").write_text(_notebook_with_cell(base))
    (folder / "no_cell_type.ipynb").write_text(_notebook_with_cell({"source": "x = 1"}))
    rows = _grade(folder, tmp_path / "out")
    assert sorted(rows) == ["int_source", "no_cell_type", "no_source", "null_source"]
    for row in rows.values():
        assert (row["status"], row["total"]) == ("invalid", "0"), row
    text = _feedback(tmp_path / "out")["null_source.md"]
    assert "cell 3" in text and "save it again from Jupyter" in text, text


def test_folders_symlinks_and_upper_case_names_each_get_a_row(tmp_path: Path, no_kernel: None) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "folder.ipynb").mkdir()
    (folder / "UPPER.IPYNB").write_bytes((SUBMISSIONS / "invalid_json.ipynb").read_bytes())
    (folder / "Mixed.IpYnB").write_bytes((SUBMISSIONS / "not_a_notebook.ipynb").read_bytes())
    (folder / "link.ipynb").symlink_to(SOLUTION)
    (folder / "dangling.ipynb").symlink_to(tmp_path / "nowhere.ipynb")
    (folder / "notes.txt").write_text("not a submission")
    rows = _grade(folder, tmp_path / "out")
    assert sorted(rows) == ["Mixed", "UPPER", "dangling", "folder", "link"]
    assert all(row["status"] == "invalid" and row["total"] == "0" for row in rows.values()), rows
    feedback = _feedback(tmp_path / "out")
    assert "is a folder, not a notebook file" in feedback["folder.md"]
    assert "is a symbolic link" in feedback["link.md"] and "hand in the notebook file itself" in feedback["link.md"]
    assert "not valid JSON" in feedback["UPPER.md"]


def test_very_long_and_odd_file_names_get_a_row_and_a_feedback_file(tmp_path: Path, no_kernel: None) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    names = ["x" * 244, "a b;c'd\"e", "ünï çødé", "-rf", "..hidden", "tab\tname", 'cmd"$(id)`id`']
    data = (SUBMISSIONS / "invalid_json.ipynb").read_bytes()
    for name in names:
        (folder / f"{name}.ipynb").write_bytes(data)
    out = tmp_path / "out"
    rows = _grade(folder, out)
    shown = {"-rf": "'-rf", "tab\tname": "tab name"}  # a formula-like name is quoted; a tab is a column break
    assert sorted(rows) == sorted(shown.get(n, n) for n in names)
    assert len(_feedback(out)) == len(names)
    assert all(p.parent == out / "feedback" for p in out.rglob("*.md"))
    assert all(len(p.name) <= 120 for p in out.rglob("*"))


def test_student_chosen_names_never_become_spreadsheet_formulas(tmp_path: Path, no_kernel: None) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    data = (SUBMISSIONS / "invalid_json.ipynb").read_bytes()
    for name in ('=HYPERLINK("http:evil","x")', "+1+2", "@SUM(A1)", "-3"):
        (folder / f"{name}.ipynb").write_bytes(data)
    text = (tmp_path / "out" / "gradebook.csv").read_text() if _grade(folder, tmp_path / "out") else ""
    for line in text.splitlines()[1:]:
        first = next(csv.reader([line]))[0]
        assert first[0] not in "=+-@\t\r", line
    assert "'=HYPERLINK" in text


def test_ansi_escapes_never_reach_feedback_or_the_gradebook() -> None:
    red = "\x1b[0;31mValueError\x1b[0m: bad \x1b]8;;http://x\x07link\x1b]8;;\x07"
    check = CheckResult("q1", 0, 2, False, False, red)
    result = SubmissionResult("s", "ex01", "graded", (check,), problems=(red,), notes=(red,))
    for text in (feedback_markdown(result), gradebook_csv([result])):
        assert "\x1b" not in text and "\x07" not in text
    assert "ValueError: bad link" in feedback_markdown(result)


def test_nbformat_3_notebooks_are_upgraded_not_refused(tmp_path: Path) -> None:
    v4 = nbformat.read(str(SOLUTION), as_version=4)
    path = tmp_path / "old.ipynb"
    v3 = nbformat.convert(copy.deepcopy(v4), 3)  # convert changes its argument
    path.write_text(nbformat.writes(v3, version=3))
    assert json.loads(path.read_text())["nbformat"] == 3
    nb = read_submission(path)
    assert nb.nbformat == 4
    code = [c.source for c in v4.cells if c.cell_type == "code"]
    assert [c.source for c in nb.cells if c.cell_type == "code"] == code


@pytest.mark.parametrize("kind", ["file", "under_a_file", "symlinked_feedback", "symlinked_out"])
def test_a_bad_out_folder_is_refused_before_grading(tmp_path: Path, kind: str, no_kernel: None, capsys: Any) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "correct.ipynb").write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("x")
    elif kind == "under_a_file":
        (tmp_path / "f").write_text("x")
        out = tmp_path / "f" / "out"
    elif kind == "symlinked_feedback":
        out.mkdir()
        (out / "feedback").symlink_to(elsewhere)
    else:
        out.symlink_to(elsewhere)
    assert main(["grade", "ex01", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and ("symbolic link" in err or "not a folder" in err or "cannot write" in err), err
    assert list(elsewhere.iterdir()) == []


def test_a_grader_error_is_retried_once_and_the_reason_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def flaky(nb: Any, limits: Any, keep_export: Any = None) -> Any:
        calls.append("run")
        raise OSError("Too many open files (simulated)")

    monkeypatch.setattr(pipeline, "run_notebook", flaky)
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "correct.ipynb").write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    (folder / "bad.ipynb").write_bytes((SUBMISSIONS / "invalid_json.ipynb").read_bytes())
    rows = _grade(folder, tmp_path / "out")
    assert calls == ["run", "run"]
    assert rows["correct"]["status"] == "grader error" and rows["bad"]["status"] == "invalid"
    text = _feedback(tmp_path / "out")["correct.md"]
    assert "tried twice" in text and "Too many open files (simulated)" in text


def test_a_crash_in_scoring_is_one_grader_error_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(pipeline, "rebuild", broken)
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "correct.ipynb").write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    rows = _grade(folder, tmp_path / "out")
    assert rows["correct"]["status"] == "grader error"
    assert "KeyError" in _feedback(tmp_path / "out")["correct.md"]


def test_unreadable_submission_files_are_one_row(tmp_path: Path, no_kernel: None) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    folder = tmp_path / "subs"
    folder.mkdir()
    path = folder / "secret.ipynb"
    path.write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    path.chmod(0)
    rows = _grade(folder, tmp_path / "out")
    assert rows["secret"]["status"] == "invalid"


def test_a_setup_cell_that_runs_out_of_time_before_student_code_is_a_grader_error() -> None:
    from course.authoring.notebook_format import resolve_exercise
    from course.grading.pipeline import Job
    from course.grading.rebuild import rebuild
    from course.grading.scoring import score_run
    from course.sandbox.limits import Limits
    from course.sandbox.run import RunOutcome

    exercise = resolve_exercise("ex01")
    rebuilt = rebuild(exercise, read_submission(SUBMISSIONS / "correct.ipynb"))
    base = {"kind": "cell", "when": "call", "check": None, "error": None, "died": False, "token": False}
    records = [
        {**base, "index": 0, "student_cell": None, "passed": False, "timeout": True},
        {**base, "index": 1, "student_cell": 1, "passed": False, "timeout": False},
        {"kind": "finished"},
    ]
    run = RunOutcome(records=records, kernel_ready_s=1.0)
    result = score_run(Job(exercise, SUBMISSIONS / "correct.ipynb"), rebuilt, run, None, Limits(cell_timeout=10))
    assert result.status == "grader error" and "overloaded" in result.problems[-1]


def test_a_cell_stopped_by_the_memory_limit_is_an_out_of_memory_row() -> None:
    from course.authoring.notebook_format import resolve_exercise
    from course.grading.pipeline import Job
    from course.grading.rebuild import rebuild
    from course.grading.scoring import score_run
    from course.sandbox.limits import Limits
    from course.sandbox.run import RunOutcome

    exercise = resolve_exercise("ex01")
    rebuilt = rebuild(exercise, read_submission(SUBMISSIONS / "correct.ipynb"))
    hog = {"kind": "cell", "when": "call", "check": None, "died": False, "token": False, "timeout": False}
    records = [
        {**hog, "index": 3, "student_cell": 3, "passed": False, "error": {"ename": "MemoryError", "evalue": ""}},
        {"kind": "finished"},
    ]
    run = RunOutcome(records=records, kernel_ready_s=1.0)
    result = score_run(Job(exercise, SUBMISSIONS / "correct.ipynb"), rebuilt, run, None, Limits(memory_mb=2048))
    assert result.status == "out of memory"
    assert "more memory than the 2048 MB" in result.problems[0]
    assert "more memory than a notebook may use" in feedback_markdown(result)


def test_a_run_that_hit_the_process_limit_is_a_sandbox_violation_row() -> None:
    from course.authoring.notebook_format import resolve_exercise
    from course.grading.pipeline import Job
    from course.grading.rebuild import rebuild
    from course.grading.scoring import score_run
    from course.sandbox.limits import Limits
    from course.sandbox.run import RunOutcome

    exercise = resolve_exercise("ex01")
    rebuilt = rebuild(exercise, read_submission(SUBMISSIONS / "correct.ipynb"))
    cell = {"kind": "cell", "when": "call", "check": None, "died": False, "token": False, "timeout": False}
    error = {"ename": "BlockingIOError", "evalue": ""}
    storm = {**cell, "index": 3, "student_cell": 3, "passed": False, "error": error}
    for run in (
        RunOutcome(records=[storm, {"kind": "finished"}], kernel_ready_s=1.0),  # RLIMIT_NPROC: the cell's error
        RunOutcome(records=[{**storm, "error": None}, {"kind": "finished"}], kernel_ready_s=1.0, processes_refused=7),
    ):
        result = score_run(Job(exercise, SUBMISSIONS / "correct.ipynb"), rebuilt, run, None, Limits(max_processes=256))
        assert result.status == "sandbox violation"
        assert "more than 256 processes or threads" in result.problems[0]
        assert "more processes or threads than a notebook may" in feedback_markdown(result)
    with pytest.raises(ValueError, match="max_processes must be at least 128"):
        Limits(max_processes=10)
