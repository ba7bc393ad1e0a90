"""A small class through a term on the real ex01 (issue 23, items 2, 3b, 5, 8): grade two students, add a late
submission with a due date, override one check, regrade one student; every earlier result survives where it should.

Slow: each submission runs in a real kernel (about a minute on two cores). Without bubblewrap the kernels run
unsandboxed (the rows say so), which changes nothing this test looks at.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from course.authoring.notebook_format import SOLUTIONS_DIR
from course.authoring.starters import EXERCISES_DIR
from course.cli import main


def _grade(folder: Path, out: Path, *extra: str) -> None:
    sandbox = [] if shutil.which("bwrap") else ["--unsafe-no-sandbox"]
    assert main(["grade", "ex01", str(folder), "--out", str(out), "--workers", "2", *sandbox, *extra]) == 0


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_a_term_grade_late_work_override_and_regrade(tmp_path: Path) -> None:
    folder, out = tmp_path / "submissions", tmp_path / "grades"
    folder.mkdir()
    shutil.copyfile(SOLUTIONS_DIR / "ex01_sequential.ipynb", folder / "ada.ipynb")
    shutil.copyfile(EXERCISES_DIR / "zh" / "ex01_sequential.ipynb", folder / "li.ipynb")  # the Chinese starter
    _grade(folder, out)
    first = _rows(out)
    assert (first["ada"]["total"], first["ada"]["max_points"], first["li"]["total"]) == ("11", "11", "0")
    assert "反馈" in (out / "feedback" / "li.md").read_text(encoding="utf-8")
    li_result = json.loads(next((out / "records").glob("li-*.json")).read_text())["entries"][0]["result"]

    # a late submission arrives; the due date, policy and times come with it
    shutil.copyfile(SOLUTIONS_DIR / "ex01_sequential.ipynb", folder / "bo.ipynb")
    times = tmp_path / "times.csv"
    times.write_text("student,submitted\nada,2026-11-30T10:00Z\nli,2026-12-01T09:00Z\nbo,2026-12-03T08:00Z\n")
    _grade(folder, out, "--only", "bo", "--due", "2026-12-01T23:59Z", "--late", "10%/day, max 50%",
           "--submitted-times", str(times))  # fmt: skip
    rows = _rows(out)
    assert [rows["bo"][k] for k in ("total", "late_days", "penalty", "final")] == ["11", "2", "2.2", "8.8"]
    assert (rows["ada"]["late_days"], rows["ada"]["final"], rows["li"]["late_days"]) == ("0", "11", "0")

    # the instructor overrides one of li's checks, and regrades ada
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,check,points,reason\nli,q2_predict,1,思路正确，但形状写反了\n", encoding="utf-8")
    _grade(folder, out, "--only", "ada", "--overrides", str(overrides))
    rows = _rows(out)
    assert (rows["li"]["q2_predict"], rows["li"]["final"]) == ("1", "1")
    li_record = json.loads(next((out / "records").glob("li-*.json")).read_text())["entries"][0]
    assert li_record["result"] == li_result and li_record["submission"]["submitted"].startswith("2026-12-01T09:00")
    assert [rows["bo"][k] for k in ("late_days", "final")] == ["2", "8.8"]  # kept, with its time
    assert (rows["ada"]["total"], rows["ada"]["late_days"]) == ("11", "0")  # same bytes: the time stays
    li = (out / "feedback" / "li.md").read_text(encoding="utf-8")
    assert "教师修改了分数（由 0 改为 1）：思路正确，但形状写反了" in li and "Feedback" not in li
    assert "2 days after the due date" in (out / "feedback" / "bo.md").read_text(encoding="utf-8")
