"""Never lose a result (issue 23, item 1): grading into an existing --out merges, --only regrades a few students,
roster students without a file get a ``missing`` row, every run is logged and every graded file is kept read-only.

No kernel starts here: ``grade_jobs`` is replaced by a fake that scores a notebook from a number in its metadata
(``{"metadata": {"fake": 3}}`` passes the first three checks), so a test can tell a regraded row from a kept one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from course.cli import main
from course.grading import batch as grading
from course.reports.gradebook import Gradebook
from course.reports.records import CheckResult, SubmissionResult

SEVEN = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")


def _notebook(points: int) -> bytes:
    return json.dumps({"cells": [], "metadata": {"fake": points}, "nbformat": 4, "nbformat_minor": 5}).encode()


def _folder(path: Path, scores: dict[str, int]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for student, points in scores.items():
        (path / f"{student}.ipynb").write_bytes(_notebook(points))
    return path


class FakeGrader:
    """Stands in for ``grading.grade_jobs``: no kernel; remembers which files it was given."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []

    def __call__(self, jobs: list[Any], limits: Any, **kwargs: Any) -> list[SubmissionResult]:
        self.calls.append(list(jobs))
        return [self._grade(job) for job in jobs]

    @staticmethod
    def _grade(job: Any) -> SubmissionResult:
        passing = json.loads(job.path.read_bytes())["metadata"]["fake"]
        checks = tuple(
            CheckResult(c.id, c.points * (i < passing), c.points, c.hidden, i < passing, "" if i < passing else "no")
            for i, c in enumerate(job.exercise.checks)
        )
        return SubmissionResult(job.student, job.exercise.name, "graded", checks, seconds=1.5)

    def graded(self) -> list[str]:
        return [job.student for call in self.calls for job in call]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGrader:
    grader = FakeGrader()
    monkeypatch.setattr(grading, "grade_jobs", grader)
    return grader


def _grade(folder: Path, out: Path, *extra: str, exercise: str = "ex01") -> int:
    return main(["grade", exercise, str(folder), "--out", str(out), "--workers", "1", *extra])


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- merging


def test_grading_one_student_into_a_classs_out_keeps_the_other_six(tmp_path: Path, fake: FakeGrader) -> None:
    out = tmp_path / "grades"
    assert _grade(_folder(tmp_path / "class", dict.fromkeys(SEVEN, 1)), out) == 0
    before = _files(out)
    assert _grade(_folder(tmp_path / "one_student", {"carol": 5}), out) == 0
    rows = _rows(out)
    assert sorted(rows) == sorted(SEVEN), rows
    assert rows["carol"]["total"] == "11" and rows["alice"]["total"] == "3", rows
    feedback = sorted(p.name for p in (out / "feedback").iterdir())
    assert feedback == sorted(f"{s}.md" for s in SEVEN)
    after = _files(out)
    for name in (f"feedback/{s}.md" for s in SEVEN if s != "carol"):
        assert after[name] == before[name], name  # the others' feedback files stay as they were
    assert after["feedback/carol.md"] != before["feedback/carol.md"]
    canvas = list(csv.reader((out / "canvas.csv").read_text().splitlines()))
    assert len(canvas) == 2 + 7  # header, points possible, seven students: rebuilt from the merged rows
    item = list(csv.DictReader((out / "item_analysis.csv").read_text().splitlines()))
    assert item[0]["attempted"] == "7" and item[0]["passed"] == "7" and item[1]["passed"] == "1", item


def test_gradebook_write_merges_with_the_records_already_in_out(tmp_path: Path) -> None:
    checks = (CheckResult("q1", 2, 2, False, True, ""),)
    zero = (CheckResult("q1", 0, 2, False, False, "no"),)
    first = (SubmissionResult("old", "ex09", "graded", checks), SubmissionResult("kept", "ex09", "graded", zero))
    Gradebook(first).write(tmp_path)
    merged = Gradebook((SubmissionResult("kept", "ex09", "graded", checks),)).write(tmp_path)
    assert [(r.student, r.total) for r in merged.results] == [("kept", 2), ("old", 2)]
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["kept.md", "old.md"]
    assert (tmp_path / "gradebook.csv").read_text().splitlines()[1:] == ["kept,2,2,2,graded,", "old,2,2,2,graded,"]
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary files left behind


def test_the_merged_gradebook_comes_from_the_records_not_the_rendered_csv(tmp_path: Path, fake: FakeGrader) -> None:
    out = tmp_path / "grades"
    assert _grade(_folder(tmp_path / "class", {"alice": 1, "bob": 2}), out) == 0
    (out / "gradebook.csv").write_text("student,total\nmallory,999\n")  # a hand-edited rendering is not the truth
    assert _grade(_folder(tmp_path / "one", {"alice": 5}), out) == 0
    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob"] and rows["bob"]["total"] == "4", rows


# ---------------------------------------------------------------- --only


def test_only_regrades_the_named_students_from_the_full_folder(tmp_path: Path, fake: FakeGrader) -> None:
    folder = _folder(tmp_path / "class", dict.fromkeys(SEVEN, 1))
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    _folder(folder, {"alice": 5, "bob": 5, "carol": 5})  # three students hand in again; only two are regraded
    fake.calls.clear()
    assert _grade(folder, out, "--only", "alice, bob") == 0
    assert fake.graded() == ["alice", "bob"]
    rows = _rows(out)
    assert {s: rows[s]["total"] for s in ("alice", "bob", "carol")} == {"alice": "11", "bob": "11", "carol": "3"}
    assert len(rows) == 7


def test_an_unknown_only_name_is_one_sentence_with_close_matches(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "class", dict.fromkeys(SEVEN, 1))
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    before, fake.calls = _files(out), []
    capsys.readouterr()
    assert _grade(folder, out, "--only", "alice,alcie") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'alcie'" in err and "alice" in err and "--only" in err, err
    assert fake.calls == [] and _files(out) == before  # nothing graded, nothing written


# ---------------------------------------------------------------- missing rows from the roster


def test_roster_students_without_a_file_get_a_missing_row_until_graded(tmp_path: Path, fake: FakeGrader) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,id,sis_user_id,sis_login_id,section,email,username\n"
                      "alice,Alice A,1,S1,aa,A,a@u.edu,aa\nzed,Zed Z,2,S2,zz,A,z@u.edu,zz\n")  # fmt: skip
    out = tmp_path / "grades"
    assert _grade(_folder(tmp_path / "class", {"alice": 2}), out, "--roster", str(roster)) == 0
    rows = _rows(out)
    assert (rows["zed"]["status"], rows["zed"]["total"]) == ("missing", "0"), rows
    assert "No submission was found" in (out / "feedback" / "zed.md").read_text()
    canvas = (out / "canvas.csv").read_text()
    assert "Zed Z,2,S2,zz,A,0,0,0,0,0" in canvas, canvas
    assert _grade(_folder(tmp_path / "late", {"zed": 5}), out) == 0  # no --roster: the kept one still names Zed
    rows = _rows(out)
    assert (rows["zed"]["status"], rows["zed"]["total"]) == ("graded", "11") and rows["alice"]["total"] == "4"
    assert "Zed Z,2,S2,zz,A,3,1,2,3,2" in (out / "canvas.csv").read_text()


def test_a_missing_row_never_replaces_an_earlier_result(tmp_path: Path, fake: FakeGrader) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nalice\nbob\n")
    out = tmp_path / "grades"
    assert _grade(_folder(tmp_path / "first", {"bob": 5}), out) == 0
    assert _grade(_folder(tmp_path / "second", {"alice": 1}), out, "--roster", str(roster)) == 0
    rows = _rows(out)
    assert (rows["bob"]["status"], rows["bob"]["total"]) == ("graded", "11"), rows


def test_only_never_marks_a_classmate_who_handed_in_as_missing(tmp_path: Path, fake: FakeGrader) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nalice\nbob\nzed\n")
    out = tmp_path / "grades"
    folder = _folder(tmp_path / "class", {"alice": 1, "bob": 2})
    assert _grade(folder, out, "--only", "alice", "--roster", str(roster)) == 0
    rows = _rows(out)
    assert sorted(rows) == ["alice", "zed"] and rows["zed"]["status"] == "missing", rows  # bob: not graded yet
    log = json.loads((out / "runs.jsonl").read_text())
    assert log["missing"] == ["zed"]


# ---------------------------------------------------------------- the log and the kept submissions


def test_each_run_appends_who_when_which_version_files_and_statuses(tmp_path: Path, fake: FakeGrader) -> None:
    folder = _folder(tmp_path / "class", {"alice": 1, "bob": 2})
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    assert _grade(folder, out, "--only", "bob") == 0
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["user"] and first["grader_version"] and first["exercise"] == "ex01_sequential"
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert [(f["student"], f["status"]) for f in first["files"]] == [("alice", "graded"), ("bob", "graded")]
    for entry in first["files"]:
        data = Path(entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert [f["student"] for f in second["files"]] == ["bob"] and second["only"] == ["bob"]
    assert first["statuses"] == {"graded": 2}


def test_submitted_bytes_are_kept_read_only_and_are_what_was_graded(tmp_path: Path, fake: FakeGrader) -> None:
    folder = _folder(tmp_path / "class", {"alice": 1})
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    _folder(folder, {"alice": 4})
    assert _grade(folder, out) == 0
    data = [_notebook(1), _notebook(4)]
    kept = sorted((out / "submitted").rglob("*.ipynb"))
    assert len(kept) == 2 and all(p.parent.name.startswith("alice") for p in kept), kept
    assert sorted(p.read_bytes() for p in kept) == sorted(data)
    for path in kept:
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest() + ".ipynb"
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    graded_paths = [job.path for call in fake.calls for job in call]
    assert all(out / "submitted" in p.parents for p in graded_paths), graded_paths  # graded from the kept copy


def test_a_run_that_stops_before_writing_leaves_out_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(jobs: list[Any], limits: Any, **kwargs: Any) -> list[SubmissionResult]:
        raise ValueError("could not reach the Dask scheduler at tcp://127.0.0.1:9 (simulated)")

    out = tmp_path / "grades"
    monkeypatch.setattr(grading, "grade_jobs", FakeGrader())
    assert _grade(_folder(tmp_path / "class", {"alice": 1}), out) == 0
    before = _files(out)
    monkeypatch.setattr(grading, "grade_jobs", unreachable)
    assert _grade(_folder(tmp_path / "class", {"alice": 2, "bob": 3}), out) == 2
    assert _files(out) == before  # the copies made for the stopped run are gone; the earlier ones stay


# ---------------------------------------------------------------- bad input: one sentence, nothing lost


def test_an_edited_record_is_one_sentence_and_nothing_is_lost(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "class", {"alice": 1, "bob": 2})
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    (record,) = [p for p in (out / "records").iterdir() if p.name.startswith("bob")]
    inflated = json.loads(record.read_text())
    inflated["entries"][0]["result"]["checks"][0]["points"] = 99  # more than the check gives
    inflated["entries"][0]["result"]["total"] = 99 + 1
    damages = ["{not json", json.dumps({"format": 1, "student": "bob", "entries": [{"result": {"x": 1}}]})]
    for damage in (*damages, json.dumps(inflated)):
        record.write_text(damage)
        before, fake.calls = _files(out), []
        capsys.readouterr()
        assert _grade(folder, out, "--only", "alice") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and record.name in err and "--only bob" in err, err
        assert fake.calls == [] and _files(out) == before
    assert _grade(folder, out, "--only", "bob") == 0  # the fix the sentence names: bob's new record replaces it
    assert sorted(_rows(out)) == ["alice", "bob"]


def test_an_out_holding_another_exercise_is_refused_before_grading(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "class", {"alice": 1})
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    before, fake.calls = _files(out), []
    capsys.readouterr()
    assert _grade(folder, out, exercise="ex02") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ex01_sequential" in err and "ex02_functional" in err, err
    assert "another --out" in err and fake.calls == [] and _files(out) == before


def test_records_of_another_version_of_the_exercise_are_refused(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "class", {"alice": 1, "bob": 1})
    out = tmp_path / "grades"
    assert _grade(folder, out) == 0
    (record,) = [p for p in (out / "records").iterdir() if p.name.startswith("bob")]
    data = json.loads(record.read_text())
    result = data["entries"][0]["result"]
    result["checks"].pop()  # graded when the exercise had one check less
    result["total"], result["max_points"] = (sum(c[k] for c in result["checks"]) for k in ("points", "max_points"))
    record.write_text(json.dumps(data))
    capsys.readouterr()
    assert _grade(folder, out, "--only", "alice") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and record.name in err and "another version" in err, err
    assert _grade(folder, out) == 0  # grading bob again too replaces the old record
    assert _rows(out)["bob"]["total"] == "3"


def test_an_out_from_before_records_is_merged_only_when_nothing_would_be_lost(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grades"
    (out / "feedback").mkdir(parents=True)
    (out / "gradebook.csv").write_text("student,total\nalice,3\nold_student,9\n")
    assert _grade(_folder(tmp_path / "class", {"alice": 1}), out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "old_student" in err and "records" in err, err
    assert fake.calls == [] and "old_student" in (out / "gradebook.csv").read_text()
    assert _grade(_folder(tmp_path / "class", {"old_student": 2}), out) == 0  # every old row is graded again
    assert sorted(_rows(out)) == ["alice", "old_student"]
