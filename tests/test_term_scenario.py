"""A small class through a term on the real ex01 (issue 23, items 2, 3b, 4, 5, 8): grade two students, add a late
submission with a due date, override one check, regrade one student, grade the answers graded by hand, regrade all;
every earlier result survives where it should.

Slow: each submission runs in a real kernel (about a minute on two cores). Without bubblewrap the kernels run
unsandboxed (the rows say so), which changes nothing this test looks at.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from course.authoring.notebook_format import SOLUTIONS_DIR
from course.authoring.starters import EXERCISES_DIR
from course.cli import main

EXPLAIN = "The softmax turns the ten scores into probabilities that add up to 1."


def _with_a_question(folder: Path) -> Path:
    """ex01 with an answer graded by hand after its last cell (markdown: the calibration, made of the code cells,
    still applies, so no kernel runs for it)."""
    nb = nbformat.read(SOLUTIONS_DIR / "ex01_sequential.ipynb", as_version=4)
    cell = nbformat.v4.new_markdown_cell(f"### BEGIN SOLUTION Why does the model end with a softmax?\n{EXPLAIN}\n"
                                         "### END SOLUTION")  # fmt: skip
    cell.metadata["course"] = {"manual": "q9_explain", "points": 2, "rubric": "probabilities that add up to 1"}
    nb.cells.append(cell)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / "ex01_sequential.ipynb"))
    return folder / "ex01_sequential.ipynb"


def _answering(exercise: Path, target: Path) -> None:
    """A copy of the solution ``exercise`` whose answer graded by hand says what a student would write."""
    nb = nbformat.read(exercise, as_version=4)
    nb.cells[-1].source = EXPLAIN
    nbformat.write(nb, str(target))


def _grade(folder: Path, out: Path, *extra: str) -> None:
    sandbox = [] if shutil.which("bwrap") else ["--unsafe-no-sandbox"]
    exercise = str(_with_a_question(folder.parent / "exercise"))
    assert main(["grade", exercise, str(folder), "--out", str(out), "--workers", "2", *sandbox, *extra]) == 0


def _check_points(out: Path) -> dict[str, list[int | float]]:
    """Student -> the points of each check in their record (the grader's, before overrides)."""
    records = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    return {r["student"]: [c["points"] for c in r["entries"][0]["result"]["checks"]] for r in records}


def _report_rows(out: Path) -> dict[str, list[str]]:
    """The class report's student table: name -> the text of each cell; every name links to its feedback file."""
    from html.parser import HTMLParser

    class Table(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.rows, self.links = False, [], []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "section" and ("id", "students") in attrs:
                self.inside = True
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag == "td":
                self.rows[-1].append("")
            elif self.inside and tag == "a":
                self.links.append(dict(attrs)["href"])

        def handle_endtag(self, tag: str) -> None:
            self.inside = self.inside and tag != "section"

        def handle_data(self, data: str) -> None:
            if self.inside and self.rows and self.rows[-1]:
                self.rows[-1][-1] += data.strip()

    parser = Table()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    assert parser.links and all((out / link).is_file() for link in parser.links)
    return {row[0]: row for row in parser.rows if row}


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_a_term_grade_late_work_override_and_regrade(tmp_path: Path) -> None:
    folder, out = tmp_path / "submissions", tmp_path / "grades"
    folder.mkdir()
    _answering(_with_a_question(tmp_path / "exercise"), folder / "ada.ipynb")
    shutil.copyfile(EXERCISES_DIR / "zh" / "ex01_sequential.ipynb", folder / "li.ipynb")  # the Chinese starter
    _grade(folder, out)
    first = _rows(out)
    assert (first["ada"]["total"], first["ada"]["max_points"], first["li"]["total"]) == ("pending", "13", "0")
    assert (first["ada"]["q9_explain"], first["li"]["q9_explain"]) == ("pending", "0")  # li's starter has no answer
    assert "反馈" in (out / "feedback" / "li.md").read_text(encoding="utf-8")
    li_result = json.loads(next((out / "records").glob("li-*.json")).read_text())["entries"][0]["result"]

    # a late submission arrives; the due date, policy and times come with it
    shutil.copyfile(folder / "ada.ipynb", folder / "bo.ipynb")
    times = tmp_path / "times.csv"
    times.write_text("student,submitted\nada,2026-11-30T10:00Z\nli,2026-12-01T09:00Z\nbo,2026-12-03T08:00Z\n")
    _grade(folder, out, "--only", "bo", "--due", "2026-12-01T23:59Z", "--late", "10%/day, max 50%",
           "--submitted-times", str(times))  # fmt: skip
    rows = _rows(out)
    assert [rows["bo"][k] for k in ("total", "late_days", "penalty", "final")] == ["pending", "2", "pending",
                                                                                    "pending"]  # fmt: skip
    assert (rows["ada"]["late_days"], rows["ada"]["final"], rows["li"]["late_days"]) == ("0", "pending", "0")

    # the instructor overrides one of li's checks, and regrades ada
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,check,points,reason\nli,q2_predict,1,思路正确，但形状写反了\n", encoding="utf-8")
    _grade(folder, out, "--only", "ada", "--overrides", str(overrides))
    rows = _rows(out)
    assert (rows["li"]["q2_predict"], rows["li"]["final"]) == ("1", "1")
    li_record = json.loads(next((out / "records").glob("li-*.json")).read_text())["entries"][0]
    assert li_record["result"] == li_result and li_record["submission"]["submitted"].startswith("2026-12-01T09:00")
    assert [rows["bo"][k] for k in ("late_days", "final")] == ["2", "pending"]  # kept, with its time
    assert (rows["ada"]["total"], rows["ada"]["late_days"]) == ("pending", "0")  # same bytes: the time stays
    li = (out / "feedback" / "li.md").read_text(encoding="utf-8")
    assert "教师修改了分数（由 0 改为 1）：思路正确，但形状写反了" in li and "Feedback" not in li
    assert "2 days after the due date" in (out / "feedback" / "bo.md").read_text(encoding="utf-8")
    page = _report_rows(out)  # the class report shows the same: the override, the late days, the answers waiting
    assert page["li"][-1] == "q2_predict: 0 -> 1 (思路正确，但形状写反了)" and page["li"][2] == "1"
    assert page["bo"][6:9] == ["2", "pending", "pending (q9_explain)"] and page["ada"][2] == "pending (q9_explain)"

    # the instructor grades the answers by hand in the review file, then regrades the whole class
    review = out / "manual" / "q9_explain.csv"
    with open(review, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [(r["student"], r["answer"]) for r in table if r["kind"] == "answer"] == [
        ("ada", EXPLAIN), ("bo", EXPLAIN), ("li", "")]  # fmt: skip
    for row in table:
        if row["student"] in ("ada", "bo"):
            row.update(points="2" if row["student"] == "ada" else "1.5", comment="Right.")
    with open(review, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    _grade(folder, out, "--render-only")
    rows = _rows(out)
    assert [rows["ada"][k] for k in ("q9_explain", "total", "final")] == ["2", "13", "13"]
    assert [rows["bo"][k] for k in ("q9_explain", "total", "penalty", "final")] == ["1.5", "12.5", "2.5", "10"]
    bo = (out / "feedback" / "bo.md").read_text(encoding="utf-8")
    assert "- ◐ answer `q9_explain`: 1.5/2 points\n  - Right." in bo
    graded = _check_points(out)
    _grade(folder, out)  # every student again
    rows = _rows(out)
    assert [rows["ada"][k] for k in ("q9_explain", "total", "final")] == ["2", "13", "13"]  # the same answers
    assert [rows["bo"][k] for k in ("q9_explain", "late_days", "final")] == ["1.5", "2", "10"]
    assert (rows["li"]["q2_predict"], rows["li"]["q9_explain"], rows["li"]["final"]) == ("1", "0", "1")  # override
    assert "教师修改了分数（由 0 改为 1）" in (out / "feedback" / "li.md").read_text(encoding="utf-8")
    assert _check_points(out) == graded  # the kernels agree with themselves: nothing else changed a point
    page = _report_rows(out)
    assert (page["ada"][2], page["bo"][2], page["bo"][7:9], page["li"][-1]) == (
        "13", "12.5", ["2.5", "10"], "q2_predict: 0 -> 1 (思路正确，但形状写反了)")  # fmt: skip
