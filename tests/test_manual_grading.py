"""Answers graded by hand (issue 23, item 4): cells marked ``{"course": {"manual": ...}}`` are collected per question
into ``--out/manual/<question>.csv`` beside the rubric; the instructor's points, comment codes and comments come
back into the gradebook, the LMS exports and the feedback on the next run; a regrade keeps the scores of answers
that did not change and sends a changed one back to review; a review file edited into invalid form is one sentence
naming the file, the line and the fix, and nothing is graded or written.

No kernel starts: ``grade_jobs`` is test_regrade's fake; the answers come from the submitted bytes, as they do
for real.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from test_regrade import FakeGrader, _files
from tiny_exercise import code_cell

from course.authoring.notebook_format import FormatError, load_exercise
from course.authoring.starters import make_starter
from course.cli import main
from course.grading import batch as grading
from course.reports.gradebook import lms_with_late_columns
from course.reports.records import CheckResult, Status, SubmissionResult
from course.term.assess import assess
from course.term.manual import Manual, Mark, answers, marks, merge
from course.term.review_file import read_review
from course.term.settings import Term

RUBRIC = "2 points: names overfitting; 1 point: quotes the validation loss as evidence"
MODEL = "The validation loss rises while the training loss falls: the model overfits."



def _explain(**course: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(f"### BEGIN SOLUTION Explain in two sentences.\n{MODEL}\n### END SOLUTION")
    cell.metadata["course"] = course or {"manual": "q7_explain", "points": 3, "rubric": RUBRIC}
    return cell


def write_exercise(folder: Path, *extra: nbformat.NotebookNode) -> Path:
    """ex92_manual: one check and two answers graded by hand, a free-text one (markdown) and a code one."""
    nb = nbformat.v4.new_notebook(
        cells=[
            code_cell("from toolkit import checks", locked="setup"),
            code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"),
            code_cell("assert answer == 42", check="q1_answer", points=2),
            nbformat.v4.new_markdown_cell("Why does the validation loss rise after epoch 5?"),
            _explain(),
            code_cell("### BEGIN SOLUTION\ncurve = [0.3, 0.2, 0.25]\n### END SOLUTION", manual="q8_code", points=2),
            *extra,
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ex92_manual.ipynb"
    nbformat.write(nb, str(path))
    return path


def _submit(folder: Path, exercise: Path, student: str, passing: int, given: dict[str, str]) -> None:
    """``student``'s notebook: the starter with the answers ``given`` by question id; the fake grader passes the
    first ``passing`` checks."""
    starter = json.loads(nbformat.writes(make_starter(load_exercise(exercise))))
    starter["metadata"]["fake"] = passing
    for cell in starter["cells"]:
        question = cell.get("metadata", {}).get("course", {}).get("manual")
        if question in given:
            cell["source"] = given[question]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{student}.ipynb").write_text(json.dumps(starter), encoding="utf-8")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGrader:
    grader = FakeGrader()
    monkeypatch.setattr(grading, "grade_jobs", grader)
    return grader


def _grade(exercise: Path, folder: Path, out: Path, *extra: str) -> int:
    return main(["grade", str(exercise), str(folder), "--out", str(out), "--workers", "1", "--no-calibrate", *extra])


def _rows(out: Path, name: str = "gradebook.csv") -> dict[str, dict[str, str]]:
    with open(out / name, newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _review(out: Path, question: str) -> list[dict[str, str]]:
    with open(out / "manual" / f"{question}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write_review(out: Path, question: str, rows: list[dict[str, str]]) -> None:
    """Save ``rows`` as the instructor's spreadsheet would (every column the file had)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "manual" / f"{question}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def _feedback(out: Path, student: str) -> str:
    return (out / "feedback" / f"{student}.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the exercise and its starter


def test_answers_graded_by_hand_are_declared_in_the_source_and_kept_in_the_starter(tmp_path: Path) -> None:
    exercise = load_exercise(write_exercise(tmp_path))
    assert [c.id for c in exercise.checks] == ["q1_answer"] and exercise.max_points == 2  # not checks
    explain, code = exercise.manual
    assert (explain.id, explain.points, explain.rubric, explain.cell_type) == ("q7_explain", 3, RUBRIC, "markdown")
    assert explain.model_answer == MODEL and (code.id, code.cell_type) == ("q8_code", "code")
    starter = {c.metadata.get("course", {}).get("manual"): c for c in make_starter(exercise).cells}
    assert starter["q7_explain"].source == "Explain in two sentences."  # the marker's message
    assert starter["q7_explain"].metadata["course"] == {"manual": "q7_explain", "points": 3}  # no rubric
    assert starter["q8_code"].source == 'raise NotImplementedError("Exercise: replace this line with your code")'
    assert starter["q7_explain"].id == exercise.notebook.cells[4].id  # the id finds an answer whose metadata went
    assert MODEL not in nbformat.writes(make_starter(exercise)) and RUBRIC not in nbformat.writes(
        make_starter(exercise)
    )


@pytest.mark.parametrize(
    ("course", "message"),
    [
        ({"manual": "q7_explain", "points": 3}, r"cell 6: id 'q7_explain' is used twice"),
        ({"manual": "q9", "points": 0}, r"cell 6: manual answer 'q9' needs 'points': a positive int \(got 0\)"),
        ({"manual": "Q9 why", "points": 1}, r"cell 6: manual id 'Q9 why' must match \[a-z\]\[a-z0-9_\]\*"),
        ({"manual": "q9", "points": 1, "rubric": ["a"]}, r"cell 6: manual answer 'q9': 'rubric' must be text"),
        ({"check": "q9", "points": 1}, r"cell 6: only code cells may carry 'course' metadata \(a markdown cell may"),
    ],
)  # fmt: skip
def test_a_bad_manual_declaration_is_one_sentence_naming_the_cell(
    tmp_path: Path, course: dict[str, object], message: str
) -> None:
    with pytest.raises(FormatError, match=rf"^ex92_manual.ipynb, {message}.*\(see course/GUIDE.md, section 2\)$"):
        load_exercise(write_exercise(tmp_path, _explain(**course)))


def test_an_answer_is_found_by_its_metadata_or_its_cell_id_and_the_starters_text_is_no_answer(tmp_path: Path) -> None:
    exercise = load_exercise(write_exercise(tmp_path))
    starter = make_starter(exercise)
    found = answers(starter, exercise.manual)
    assert [(a.answered, a.digest) for a in found.values()] == [(False, "none"), (False, "none")]
    for cell in starter.cells:
        if cell.metadata.get("course", {}).get("manual") == "q7_explain":
            cell.source, cell.metadata = "It overfits.  \r\n", {}  # the metadata is lost; the id remains
    explain = answers(starter, exercise.manual)["q7_explain"]
    assert explain.answered and explain.text == "It overfits."
    by_metadata = answers(nbformat.v4.new_notebook(cells=[_explain_with("It overfits.\n")]), exercise.manual)
    assert explain.digest == by_metadata["q7_explain"].digest != "none"  # the text's, whatever the line ends
    assert by_metadata["q8_code"].digest == "none"  # no such cell


# ---------------------------------------------------------------- a term of answers graded by hand


def test_answers_are_pending_until_graded_then_merged_everywhere_and_kept_across_regrades(
    tmp_path: Path, fake: FakeGrader
) -> None:
    exercise, folder, out = write_exercise(tmp_path), tmp_path / "class", tmp_path / "grades"
    _submit(folder, exercise, "alice", 1, {"q7_explain": '=HYPERLINK("http://x", "it overfits")', "q8_code": "a = 1"})
    _submit(folder, exercise, "bob", 0, {"q7_explain": "No idea <script>alert(1)</script>"})
    _submit(folder, exercise, "=eve", 1, {"q7_explain": "- it *memorises* the data", "q8_code": "curve = []"})
    _submit(folder, exercise, "carol", 1, {})  # the starter's text: no answer
    due = ["--due", "2999-01-01T00:00Z", "--times-from-files"]  # canvas.csv and moodle.csv get the late columns
    assert _grade(exercise, folder, out, *due) == 0
    review = _review(out, "q7_explain")
    assert [r["kind"] for r in review] == ["question", "answer", "answer", "answer", "answer"]
    assert (review[0]["points"], review[0]["comment"], review[0]["answer"]) == ("3", RUBRIC, MODEL)
    by_name = {r["student"]: r for r in review[1:]}
    assert sorted(by_name) == ["'=eve", "alice", "bob", "carol"]  # a name a spreadsheet would run is quoted
    assert (
        by_name["alice"]["answer"] == '\'=HYPERLINK("http://x", "it overfits")'
        and by_name["alice"]["review"] == "to grade"
    )
    assert by_name["'=eve"]["answer"] == "'- it *memorises* the data"
    assert by_name["carol"]["answer_digest"] == "none" and by_name["carol"]["review"].startswith("no answer found")
    rows = _rows(out)
    assert [rows["alice"][k] for k in ("q1_answer", "q7_explain", "q8_code", "total", "max_points", "final")] == [
        "2", "pending", "pending", "pending", "7", "pending"]  # fmt: skip
    assert "review: to grade by hand: q7_explain (manual/q7_explain.csv), q8_code" in rows["alice"]["notes"]
    assert [rows["carol"][k] for k in ("q7_explain", "q8_code", "total", "final")] == ["0", "0", "2", "2"]
    canvas = list(csv.reader((out / "canvas.csv").read_text().splitlines()))
    assert canvas[0][-5:] == ["ex92_manual q7_explain", "ex92_manual q8_code", "ex92_manual late days",
                              "ex92_manual late penalty", "ex92_manual final"]  # fmt: skip
    assert canvas[1][-5:] == ["3", "2", "", "", "7"]
    assert [r for r in canvas if r[0] == "alice"][0][-5:] == ["", "", "0", "0", ""]  # no grade yet, not 0
    alice = _feedback(out, "alice")
    assert "Still to be graded by your instructor: 2 answer(s) worth 5 points" in alice
    assert "- … answer `q7_explain`: not graded yet (3 points)" in alice
    assert "- ✗ answer `q7_explain`: no answer found in your notebook, 0/3 points" in _feedback(out, "carol")

    # the instructor grades in the review file: a reusable comment A, points, codes and a comment of their own
    review.insert(1, {**review[0], "kind": "code", "points": "", "codes": "A", "comment": "Names overfitting.",
                      "answer": "", "review": ""})  # fmt: skip
    for row in review:
        if row["student"] == "alice":
            row.update(points="2.5", codes="A", comment="Good: <b>evidence</b> **10/10**")
        if row["student"] == "bob":
            row.update(points="0", comment="Say what the two curves do.")
        if row["student"] == "'=eve":
            row.update(points="3", codes="A")
    _write_review(out, "q7_explain", review)
    code = _review(out, "q8_code")
    for row in code:
        if row["student"] in ("alice", "'=eve"):
            row.update(points="2")
        if row["student"] == "carol":  # no answer in the marked cell, but one elsewhere: points by hand count
            row.update(points="1", comment="Found in your last cell; next time use the marked one.")
    _write_review(out, "q8_code", code)
    calls = len(fake.calls)
    assert _grade(exercise, folder, out, "--render-only") == 0 and len(fake.calls) == calls  # nobody graded
    rows = _rows(out)
    assert [rows["alice"][k] for k in ("q7_explain", "q8_code", "total", "final")] == ["2.5", "2", "6.5", "6.5"]
    assert [rows["bob"][k] for k in ("q7_explain", "q8_code", "total")] == ["0", "0", "0"]  # q8: no answer
    assert [rows["carol"][k] for k in ("q7_explain", "q8_code", "total")] == ["0", "1", "3"]
    assert rows["'=eve"]["total"] == "7" and "to grade by hand" not in rows["alice"]["notes"]
    assert "- ◐ answer `q8_code`: 1/2 points\n  - Found in your last cell" in _feedback(out, "carol")
    alice = _feedback(out, "alice")
    assert "**6.5 / 7 points**" in alice and "Still to be graded" not in alice
    assert (
        "- ◐ answer `q7_explain`: 2.5/3 points\n  - Names overfitting.\n"
        "  - Good: &lt;b>evidence&lt;/b> \\*\\*10/10\\*\\*" in alice
    )
    assert [r for r in csv.reader((out / "canvas.csv").read_text().splitlines()) if r[0] == "alice"][0][-5:] == [
        "2.5", "2", "0", "0", "6.5"]  # fmt: skip
    graded = {r["student"]: r for r in _review(out, "q7_explain") if r["kind"] == "answer"}
    assert (graded["alice"]["points"], graded["alice"]["codes"], graded["alice"]["review"]) == ("2.5", "A", "")

    # a regrade of everyone keeps every score (the same answers); a changed answer goes back to review
    assert _grade(exercise, folder, out) == 0 and len(fake.calls) == calls + 1
    assert [_rows(out)["alice"][k] for k in ("q7_explain", "q8_code", "total")] == ["2.5", "2", "6.5"]
    _submit(folder, exercise, "alice", 1, {"q7_explain": "It overfits: see the curves.", "q8_code": "a = 1"})
    assert _grade(exercise, folder, out, "--only", "alice") == 0
    rows = _rows(out)
    assert [rows["alice"][k] for k in ("q7_explain", "q8_code", "total")] == ["pending", "2", "pending"]
    assert [rows["'=eve"][k] for k in ("q7_explain", "total")] == ["3", "7"]  # not regraded: kept
    graded = {r["student"]: r for r in _review(out, "q7_explain") if r["kind"] == "answer"}
    assert graded["alice"]["points"] == "" and graded["alice"]["answer"] == "It overfits: see the curves."
    assert graded["alice"]["review"] == ("the answer changed after it was graded (was 2.5 points, codes A, comment "
                                         "'Good: <b>evidence</b> **10/10**'); grade it again")  # fmt: skip
    assert graded["bob"]["points"] == "0" and "Names overfitting." in [r["comment"] for r in _review(out, "q7_explain")]
    written = (out / "manual" / "q7_explain.csv").read_bytes()
    assert _grade(exercise, folder, out, "--render-only") == 0  # the review note stays until it is graded again
    assert (out / "manual" / "q7_explain.csv").read_bytes() == written


def _graded_once(tmp_path: Path) -> tuple[Path, Path, Path]:
    exercise, folder, out = write_exercise(tmp_path), tmp_path / "class", tmp_path / "grades"
    _submit(folder, exercise, "alice", 1, {"q7_explain": "It overfits."})
    _submit(folder, exercise, "bob", 0, {"q7_explain": "No idea."})
    assert _grade(exercise, folder, out) == 0
    review = _review(out, "q7_explain")
    review.insert(1, {**review[0], "kind": "code", "points": "", "codes": "A", "comment": "Names it.", "answer": ""})
    review[2].update(points="2", codes="A")  # alice
    _write_review(out, "q7_explain", review)
    return exercise, folder, out


def _replace(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_replace("\nanswer,bob,", "\nanswer,bbo,"),
         r"line 5: no student 'bbo' was graded or is in the folder or the roster; write the name as the gradebook"),
        (_replace("answer,alice,2,", "answer,alice,4,"),
         r"line 4: points '4' for 'alice'; write a number from 0 to 3 \(the question's points\), e.g. 2 or 1.5"),
        (_replace("answer,alice,2,", "answer,alice,two,"), r"line 4: points 'two' for 'alice'; write a number"),
        (_replace("answer,alice,2,", "answer,alice,1.255,"), r"line 4: points '1.255' for 'alice'"),
        (_replace("answer,alice,2,A,", "answer,alice,2,A B,"),
         r"line 4: comment code 'B' is not defined in this file \(defined: A\); add a row with kind 'code'"),
        (_replace("answer,alice,2,A,", 'answer,alice,2,A,"unclosed'), r"line 4: the CSV is broken \(unexpected end"),
        (_replace("answer,alice,2,A,", 'answer,alice,2,A,"5" wide,'), r"line 4: the CSV is broken \(',' expected"),
        (_replace("answer,alice,2,A,", "answer,alice,2,A,Nice, really,"),
         r"line 4: more cells than the header has columns; a cell that holds a comma must be wrapped"),
        (_replace("code,,,A,Names it.", "code,,,A,"), r"line 3: comment code 'A' has no text"),
        (_replace("code,,,A,Names it.", "code,,,A+,Names it."), r"line 3: comment code 'A\+' must be 1 to 20 letters"),
        (_replace("\nanswer,bob,", "\nanswer,alice,"), r"line 5: 'alice' has a row already \(line 4\)"),
        (_replace("\nanswer,bob,", "\ngrade,bob,"), r"line 5: kind 'grade' is not one of question, code or answer"),
        (_replace("answer_digest", "digest"), r"has no 'answer_digest' column; its first line \(line 1\)"),
        (_replace("It overfits", "It \udcff"), r"line 4: not UTF-8 text; save the file as CSV UTF-8"),
    ],
)  # fmt: skip
def test_a_review_file_edited_into_invalid_form_is_one_sentence_and_nothing_is_graded_or_lost(
    tmp_path: Path, fake: FakeGrader, capsys: pytest.CaptureFixture[str], edit: Callable[[str], str], message: str
) -> None:
    exercise, folder, out = _graded_once(tmp_path)
    assert _grade(exercise, folder, out, "--render-only") == 0 and _rows(out)["alice"]["q7_explain"] == "2"
    path = out / "manual" / "q7_explain.csv"
    good = path.read_bytes()
    path.write_bytes(edit(good.decode("utf-8")).encode("utf-8", "surrogateescape"))
    before, calls = _files(out), len(fake.calls)
    capsys.readouterr()
    for args in ((), ("--render-only",), ("--only", "bob")):
        assert _grade(exercise, folder, out, *args) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert re.search(rf"manual/q7_explain.csv(, {message}| {message})", err), err
        assert _files(out) == before and len(fake.calls) == calls  # nothing graded, nothing written
    path.write_bytes(good)  # fixed: every score is still there
    assert _grade(exercise, folder, out, "--render-only") == 0 and _rows(out)["alice"]["q7_explain"] == "2"


def _explain_with(source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["course"] = {"manual": "q7_explain", "points": 3}
    return cell


def test_a_roster_student_without_a_submission_gets_0_unless_the_instructor_scores_an_answer_sent_otherwise(
    tmp_path: Path, fake: FakeGrader
) -> None:
    exercise, folder, out = write_exercise(tmp_path), tmp_path / "class", tmp_path / "grades"
    _submit(folder, exercise, "alice", 1, {"q7_explain": "It overfits."})
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name\nalice,Alice\ndave,Dave\n")
    assert _grade(exercise, folder, out, "--roster", str(roster)) == 0
    assert [_rows(out)["dave"][k] for k in ("status", "q7_explain", "total")] == ["missing", "0", "0"]
    assert "dave" not in [r["student"] for r in _review(out, "q7_explain")]  # nothing of his to grade
    review = _review(out, "q7_explain")
    review.append({**review[-1], "student": "dave", "points": "1.5", "comment": "Sent by email.", "answer_digest": ""})
    _write_review(out, "q7_explain", review)
    assert _grade(exercise, folder, out, "--render-only") == 0
    assert [_rows(out)["dave"][k] for k in ("q7_explain", "total")] == ["1.5", "1.5"]
    kept = {r["student"]: r for r in _review(out, "q7_explain")}["dave"]
    assert (kept["points"], kept["comment"]) == ("1.5", "Sent by email.")  # the row the instructor added stays


def test_a_review_file_in_a_link_or_a_folder_in_its_place_is_refused(tmp_path: Path, fake: FakeGrader) -> None:
    exercise, folder, out = _graded_once(tmp_path)
    path = out / "manual" / "q7_explain.csv"
    path.rename(tmp_path / "elsewhere.csv")
    path.symlink_to(tmp_path / "elsewhere.csv")
    assert _grade(exercise, folder, out, "--render-only") == 2
    assert path.is_symlink()  # left for the instructor to move away, not written through


# ---------------------------------------------------------------- pure parts


def test_merge_keeps_the_score_of_an_unchanged_answer_and_moves_a_changed_ones_to_the_review_cell(
    tmp_path: Path,
) -> None:
    explain = load_exercise(write_exercise(tmp_path)).manual[0]
    path = tmp_path / "q7_explain.csv"
    same, old = answers(nbformat.v4.new_notebook(cells=[_explain_with("It overfits.")]), [explain])["q7_explain"], "x"
    path.write_text("kind,student,points,codes,comment,answer,answer_digest,review\ncode,,,A,Names it.,,,\n"
                    f"answer,ann,2,A,ok,It overfits.,{same.digest},\nanswer,ben,1,,,Before.,{old},\n"
                    f"answer,cy,,,,Pending.,{old},to grade\n")  # fmt: skip
    review = read_review(path, explain, {"ann": "ann", "ben": "ben", "cy": "cy"})
    changed = answers(nbformat.v4.new_notebook(cells=[_explain_with("After.")]), [explain])["q7_explain"]
    rows = merge(review, {"ann": same, "ben": changed, "cy": changed})
    assert [(r.student, r.score is not None, r.review) for r in rows] == [
        ("ann", True, ""), ("ben", False, "the answer changed after it was graded (was 1 point); grade it again"),
        ("cy", False, "to grade")]  # fmt: skip
    found = marks(review, rows)
    assert (found["ann"].points, found["ann"].comments, found["ben"].points) == (2, ("Names it.", "ok"), None)


def test_without_a_due_date_the_lms_exports_get_a_column_per_answer_blank_until_graded(tmp_path: Path) -> None:
    explain = load_exercise(write_exercise(tmp_path)).manual[0]
    result = SubmissionResult("ann", "ex92_manual", Status.GRADED, (CheckResult("q1_answer", 2, 2, False, True, ""),))
    graded = Term(manual=Manual((explain,), {"ann": (Mark(explain, "scored", 1.5, ()),)}))
    pending = Term(manual=Manual((explain,)))
    for term, cell in ((graded, "1.5"), (pending, "")):
        standing = assess(result, None, term, now=None)  # type: ignore[arg-type]
        canvas = (
            "Student,ID,SIS User ID,SIS Login ID,Section,ex92_manual q1_answer\nPoints Possible,,,,,2\nann,,ann,,,2\n"
        )
        lines = lms_with_late_columns("canvas.csv", canvas, [standing]).splitlines()
        assert lines == ["Student,ID,SIS User ID,SIS Login ID,Section,ex92_manual q1_answer,ex92_manual q7_explain",
                         "Points Possible,,,,,2,3", f"ann,,ann,,,2,{cell}"]  # fmt: skip
        moodle = lms_with_late_columns(
            "moodle.csv", "Username,Email address,ex92_manual q1_answer\nann,,2\n", [standing]
        )
        assert moodle.splitlines()[1] == f"ann,,2,{cell}"
