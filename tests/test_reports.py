"""Instructor reports (item analysis) and LMS exports render from result records: no kernel, milliseconds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from course.reports.analysis import canvas_csv, item_analysis, item_analysis_csv, moodle_csv, read_roster
from course.reports.gradebook import Gradebook
from course.reports.records import CheckResult, SubmissionResult


def _result(student: str, points: tuple[int, int], status: str = "graded") -> SubmissionResult:
    checks = (
        CheckResult("q1", points[0], 2, False, points[0] == 2, "" if points[0] == 2 else "q1 failed"),
        CheckResult("q2", points[1], 3, True, points[1] == 3, "" if points[1] == 3 else "hidden"),
    )
    return SubmissionResult(student, "ex09_demo", status, checks)


RESULTS = [
    _result("bob", (2, 0)),
    _result("alice", (2, 3)),
    _result("carol", (0, 0), "timeout"),
    _result("dave", (0, 0), "invalid"),
]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_item_analysis_counts_attempts_passes_and_statuses() -> None:
    items, statuses = item_analysis(RESULTS)
    ran = [r for r in RESULTS if r.status not in ("invalid", "empty", "grader error")]
    for item in items:
        points = [c.points for r in ran for c in r.checks if c.id == item.check]
        assert item.attempted == len(ran) == 3
        assert item.passed == sum(c.passed for r in ran for c in r.checks if c.id == item.check)
        assert item.mean_points == pytest.approx(sum(points) / len(points))
        assert item.pass_rate == pytest.approx(item.passed / item.attempted)
    assert [(i.check, i.hidden, i.points) for i in items] == [("q1", False, 2), ("q2", True, 3)]
    assert statuses == {"graded": 2, "invalid": 1, "timeout": 1}
    header, *rows = _rows(item_analysis_csv(RESULTS))
    assert header == ["check", "visibility", "points", "attempted", "passed", "pass_rate", "mean_points"]
    assert rows[0][:5] == ["q1", "visible", "2", "3", "2"] and rows[1][:2] == ["q2", "hidden"]


def test_canvas_export_has_the_canvas_columns_and_a_points_possible_row() -> None:
    header, possible, *rows = _rows(canvas_csv([*RESULTS, _result("=HYPERLINK(x)", (2, 3))]))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex09_demo q1", "ex09_demo q2"]
    assert possible == ["Points Possible", "", "", "", "", "2", "3"]
    by_student = {row[0]: row for row in rows}
    assert by_student["bob"] == ["bob", "", "bob", "", "", "2", "0"]
    assert "'=HYPERLINK(x)" in by_student  # no formula reaches the spreadsheet


def test_a_roster_maps_file_stems_to_lms_identities(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,id,sis_user_id,sis_login_id,section,email,username\n"
                      "bob,Bob Jones,101,S1,bjones,A,bob@uni.edu,bjones\n")  # fmt: skip
    people = read_roster(roster)
    canvas = {row[0]: row for row in _rows(canvas_csv(RESULTS, people))[2:]}
    assert canvas["Bob Jones"][:5] == ["Bob Jones", "101", "S1", "bjones", "A"]
    moodle = _rows(moodle_csv(RESULTS, people))
    assert moodle[0] == ["Username", "Email address", "ex09_demo q1", "ex09_demo q2"]
    assert ["bjones", "bob@uni.edu", "2", "0"] in moodle and ["alice", "", "2", "3"] in moodle


def test_a_bad_roster_says_what_is_wrong(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nBob,bob@uni.edu\n")
    with pytest.raises(ValueError, match="roster.csv has no 'student' column"):
        read_roster(roster)
    roster.write_text("student,email\nbob,a\nbob,b\n")
    with pytest.raises(ValueError, match="'bob' appears twice"):
        read_roster(roster)


def test_gradebook_write_adds_the_reports_and_rewrites_them_identically(tmp_path: Path) -> None:
    Gradebook(tuple(RESULTS)).write(tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    Gradebook(tuple(reversed(RESULTS))).write(tmp_path)
    second = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert first == second
    assert sorted(first) == ["canvas.csv", "gradebook.csv", "item_analysis.csv", "item_analysis.html", "moodle.csv",
                            "report.html"]
    page = first["item_analysis.html"].decode()
    assert "<td>q2</td><td>hidden</td>" in page and "<td>timeout</td><td>1</td>" in page


def test_cli_roster_errors_are_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from course.cli import main

    (tmp_path / "roster.csv").write_text("name\nBob\n")
    assert main(["grade", "ex01", str(tmp_path), "--roster", str(tmp_path / "roster.csv")]) == 2
    assert "roster.csv has no 'student' column" in capsys.readouterr().err
