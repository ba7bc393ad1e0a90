"""Hidden checks stay hidden: neither their code nor their expected values reach anything written to --out."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_exercise import CANARY, write_exercise, write_submissions

from course.authoring.notebook_format import load_exercise
from course.grading.batch import grade_folder
from course.sandbox.limits import Limits


@pytest.mark.slow
def test_a_failed_hidden_check_leaks_nothing_into_out(tmp_path: Path) -> None:
    exercise = load_exercise(write_exercise(tmp_path))
    subs = write_submissions(tmp_path / "subs", {"wrong": "answer = 7", "crash": "answer = 1\nprint(secret)"})
    out = tmp_path / "out"
    book = grade_folder(exercise, subs, out, limits=Limits(preload=None), workers=2, progress=False)
    rows = {r.student: r for r in book.results}
    assert [(c.id, c.passed) for c in rows["wrong"].checks] == [("q1_visible", True), ("q2_hidden", False)]
    assert rows["wrong"].status == "graded"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        assert CANARY not in path.read_text(), f"{path.name} reveals the hidden check"
    assert "q2_hidden" in (out / "feedback" / "wrong.md").read_text()  # the check is named, its insides are not
    report = (out / "report.html").read_text()  # the class report (covered by the loop above; named here)
    assert "q2_hidden" in report and CANARY not in report
