"""The term through ``course grade`` (issue 23, items 2, 3b, 5, 8): due dates, submission times, overrides, release
and language survive every regrade, and bad input is refused before anything is graded, losing nothing.

No kernel starts: ``grade_jobs`` is test_regrade's fake, which scores a notebook from a number in its metadata.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from test_regrade import FakeGrader, _files, _folder, _grade, _rows

from course.grading import batch as grading


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGrader:
    grader = FakeGrader()
    monkeypatch.setattr(grading, "grade_jobs", grader)
    return grader


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _feedback(out: Path, student: str) -> str:
    return (out / "feedback" / f"{student}.md").read_text(encoding="utf-8")


DUE = "2026-12-01T23:59+01:00"


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: _write(d / "roster.csv", "name,submitted\nAlice,x\n"), ["--roster"],
         r"roster.csv has no 'student' column; its first line \(line 1\) must name the columns"),
        (lambda d: _write(d / "roster.csv", "student,name\nalice,A\nbob,B\nalice,C\n"), ["--roster"],
         r"roster.csv, line 4: student 'alice' appears again \(first on line 2\); keep one row per student"),
        (lambda d: _write(d / "roster.csv", "student,extension\nalice,next week\n"), ["--due", DUE, "--roster"],
         r"roster.csv, line 2: the extension .* is not a date and time; write it as 2026-12-01T23:59"),
        (lambda d: _write(d / "roster.csv", "student,submitted\nbob,1/12/2026\n"), ["--roster"],
         r"roster.csv, line 2: submitted: '1/12/2026' is not a date and time"),
        (lambda d: "31/12/2026", ["--due"], r"--due: '31/12/2026' is not a date and time"),
        (lambda d: "10% a day", ["--due", DUE, "--late"], r"--late: '10% a day' is not a late policy; write one of"),
        (lambda d: _write(d / "times.csv", "student,submitted\nalice,2026-12-01T10:00\nzoe,2026-12-01T10:00\n"),
         ["--submitted-times"], r"times.csv, line 3: no submission of 'zoe' is in .*or delete the row"),
        (lambda d: _write(d / "ov.csv", "student,check,points,reason\nalice,q9_typo,1,x\n"), ["--overrides"],
         r"ov.csv, line 2: the exercise has no check 'q9_typo'; use one of q1_build, q1_params"),
        (lambda d: _write(d / "ov.csv", "student,check,points,reason\nalice,q1_params,2,x\n"), ["--overrides"],
         r"ov.csv, line 2: points '2' for check 'q1_params'; write a whole number from 0 to 1"),
        (lambda d: _write(d / "ov.csv", "student,check,points,reason\nmallory,q1_build,1,x\n"), ["--overrides"],
         r"ov.csv, line 2: no student 'mallory' was graded"),
    ],
)  # fmt: skip
def test_bad_input_is_one_sentence_before_grading_and_nothing_is_lost(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str], make: object, args: list[str], message: str
) -> None:
    out = tmp_path / "grades"
    folder = _folder(tmp_path / "class", {"alice": 2, "bob": 5})
    assert _grade(folder, out) == 0
    before, graded = _files(out), len(fake.calls)
    capsys.readouterr()
    assert _grade(folder, out, *args, str(make(tmp_path))) == 2  # type: ignore[operator]
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert len(fake.calls) == graded and _files(out) == before  # nothing graded, nothing written


def test_an_override_added_later_applies_to_students_graded_earlier_and_outlives_regrades(
    tmp_path: Path, fake: FakeGrader
) -> None:
    out = tmp_path / "grades"
    folder = _folder(tmp_path / "class", {"alice": 0, "bob": 5, "carol": 2})
    assert _grade(folder, out) == 0
    record = (out / "records").glob("alice-*.json").__next__().read_bytes()
    overrides = _write(tmp_path / "overrides.csv", "student,check,points,reason\n"
                       "alice,q1_build,2,model right but the layer names differ\n")  # fmt: skip
    assert _grade(folder, out, "--only", "bob", "--overrides", str(overrides)) == 0  # alice is not regraded
    assert fake.graded() == ["alice", "bob", "carol", "bob"]
    rows = _rows(out)
    assert (rows["alice"]["q1_build"], rows["alice"]["total"], rows["alice"]["final"]) == ("2", "2", "2")
    assert rows["alice"]["overrides"] == "q1_build: 0 -> 2 (model right but the layer names differ)"
    assert "points changed by the instructor (from 0 to 2): model right but the layer names differ" in _feedback(
        out, "alice"
    )
    assert next((out / "records").glob("alice-*.json")).read_bytes() == record  # the record is the grader's, as it was
    assert (out / "overrides.csv").read_text() == overrides.read_text()
    assert _grade(folder, out, "--only", "alice") == 0  # a regrade without --overrides: the kept file still applies
    assert _rows(out)["alice"]["q1_build"] == "2" and "points changed" in _feedback(out, "alice")
    canvas = (out / "canvas.csv").read_text().splitlines()
    assert any(line.startswith("alice,") and ",2," in line for line in canvas)
    _write(tmp_path / "none.csv", "student,check,points,reason\n")
    assert _grade(folder, out, "--render-only", "--overrides", str(tmp_path / "none.csv")) == 0  # all removed
    assert _rows(out)["alice"]["q1_build"] == "0" and len(fake.calls) == 3  # --render-only grades nobody


def test_late_work_from_a_manifest_and_the_roster_survives_regrades(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grades"
    folder = _folder(tmp_path / "class", {"alice": 5, "bob": 5, "carol": 5})
    roster = _write(tmp_path / "roster.csv", "student,name,extension,submitted\nalice,Alice,,\n"
                    "bob,Bob,2,2026-12-03T12:00+01:00\ncarol,Carol,,\ndave,Dave,,\n")  # fmt: skip
    times = _write(tmp_path / "times.csv", "student,submitted\nalice,2026-12-02T00:30+01:00\n")
    args = ["--due", DUE, "--late", "10%/day, max 50%", "--roster", str(roster), "--submitted-times", str(times)]
    assert _grade(folder, out, *args) == 0
    assert "1 submissions have a due date but no known submission time (carol)" in capsys.readouterr().out
    rows = _rows(out)
    assert [rows["alice"][k] for k in ("total", "late_days", "penalty", "final")] == ["11", "1", "1.1", "9.9"]
    assert [rows["bob"][k] for k in ("due", "late_days", "final")] == ["2026-12-03T23:59+01:00", "0", "11"]
    assert (rows["carol"]["late_days"], rows["carol"]["final"]) == ("unknown", "11")
    assert "review: no submission time" in rows["carol"]["notes"] and rows["dave"]["status"] == "missing"
    assert "1 day after the due date" in _feedback(out, "alice") and "10% off" in _feedback(out, "alice")
    canvas = (out / "canvas.csv").read_text().splitlines()
    assert canvas[0].endswith("late days,ex01_sequential late penalty,ex01_sequential final")
    assert [line for line in canvas if line.startswith("Alice,")][0].endswith(",1,1.1,9.9")  # the roster's name
    # a regrade of the same bytes without the manifest keeps alice's time; new bytes without a time do not
    assert _grade(folder, out, "--only", "alice") == 0
    assert _rows(out)["alice"]["late_days"] == "1"
    _folder(folder, {"alice": 3})
    assert _grade(folder, out, "--only", "alice") == 0
    assert _rows(out)["alice"]["late_days"] == "unknown" and _rows(out)["bob"]["final"] == "11"
    # a manifest given later reaches a student graded earlier, without regrading (--render-only)
    _write(times, "student,submitted\nalice,2026-12-05T09:00+01:00\ncarol,2026-12-01T09:00+01:00\n")
    graded = len(fake.calls)
    assert _grade(folder, out, "--render-only", "--submitted-times", str(times)) == 0
    rows = _rows(out)
    assert len(fake.calls) == graded and (rows["alice"]["late_days"], rows["alice"]["penalty"]) == ("4", "2.4")
    assert (rows["carol"]["late_days"], rows["carol"]["final"]) == ("0", "11")
    assert json.loads((out / "term.json").read_text())["late"] == "10%/day, max 50%"  # kept for every later run


def test_release_after_due_and_a_chinese_submission(tmp_path: Path, fake: FakeGrader) -> None:
    from course.authoring.notebook_format import SOLUTIONS_DIR

    nb = nbformat.read(SOLUTIONS_DIR / "ex01_sequential.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("course", {}).get("check") == "q3_train":
            cell.metadata["course"]["release"] = "after_due"
    exercise = tmp_path / "ex01_sequential.ipynb"
    nbformat.write(nb, exercise)
    folder = _folder(tmp_path / "class", {"alice": 5})
    (folder / "li.ipynb").write_text(json.dumps({"cells": [], "metadata": {"fake": 1, "lang": "zh-CN"},
                                                 "nbformat": 4, "nbformat_minor": 5}))  # fmt: skip
    out = tmp_path / "grades"
    assert _grade(folder, out, "--due", "2999-01-01T00:00Z", exercise=str(exercise)) == 0
    assert "q3_train" not in _feedback(out, "alice") and "Checks shown after the due date: 1 (3 points)" in _feedback(
        out, "alice"
    )
    assert _rows(out)["alice"]["q3_train"] == "3"  # the instructor sees every check
    li = _feedback(out, "li")
    assert "反馈" in li and "截止时间之后显示的检查：1 项（共 3 分）" in li and "Feedback" not in li
    assert _grade(folder, out, "--render-only", "--release", exercise=str(exercise)) == 0
    assert "q3_train" in _feedback(out, "alice") and "q3_train" in _feedback(out, "li")
    assert _grade(folder, out, "--only", "li", exercise=str(exercise)) == 0  # released stays released
    assert "q3_train" in _feedback(out, "alice") and "反馈" in _feedback(out, "li")
