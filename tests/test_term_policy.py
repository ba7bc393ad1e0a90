"""The instructor's term as pure functions (issue 23, items 2, 3b, 5 and 8): due dates, late policies, overrides,
release per check and feedback in the submission's language. Results are built by hand: no kernel starts here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from course.authoring.notebook_format import resolve_exercise
from course.grading.scoring import HIDDEN_FAILED
from course.i18n import LANGUAGES, catalog_path, feedback_text
from course.reports.gradebook import Gradebook, feedback_markdown, gradebook_csv
from course.reports.records import CheckResult, SubmissionResult
from course.term.assess import assess
from course.term.due import days_late, parse_policy, parse_time
from course.term.overrides import Override, read_overrides
from course.term.release import releases
from course.term.settings import Stamp, Term

TZ = timezone(timedelta(hours=1))
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=TZ)
CANARY = "CANARY-7f3e the expected value is 42"


def _result(student: str, points: tuple[int, ...], lang: str = "en", status: str = "graded") -> SubmissionResult:
    checks = tuple(
        CheckResult(f"q{i}", p, 2, i == 3, p == 2, "" if p == 2 else (CANARY if i == 3 else f"q{i} is wrong"))
        for i, p in enumerate(points, 1)
    )
    return SubmissionResult(student, "ex09", status, checks, lang=lang)


def _rows(text: str) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(text))}


# --- dates and policies -------------------------------------------------------------------------------------------


def test_times_are_iso_8601_naive_means_local_and_a_date_alone_means_the_end_of_that_day() -> None:
    assert parse_time("2026-12-01T23:59+01:00", "--due") == DUE
    assert parse_time("2026-12-01T22:59Z", "--due") == DUE
    local = parse_time("2026-12-01 23:59", "--due")
    assert local.utcoffset() == datetime(2026, 12, 1, 23, 59).astimezone().utcoffset()  # the grader's own zone
    assert parse_time("2026-12-01", "--due").time().isoformat() == "23:59:59"


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01", "12/01/2026 23:59", ""])
def test_an_unparseable_date_is_one_sentence_with_the_accepted_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--due: .* is not a date and time; write it as 2026-12-01T23:59"):
        parse_time(text, "--due")


def test_late_policies_take_a_share_per_started_day_up_to_their_cap() -> None:
    policy = parse_policy("10%/day, max 50%", "--late")
    assert [policy.penalty_percent(d) for d in (0, 1, 2, 5, 9)] == [0, 10, 20, 50, 50]
    assert parse_policy("25% per day", "--late").penalty_percent(9) == 100
    assert parse_policy("not accepted", "--late").penalty_percent(1) == 100
    assert parse_policy(" None ", "--late").penalty_percent(30) == 0
    assert str(policy) == "10%/day, max 50%" and parse_policy(str(policy), "x") == policy
    assert days_late(DUE + timedelta(seconds=1), DUE) == 1 and days_late(DUE, DUE) == 0
    assert days_late(DUE + timedelta(days=1, seconds=1), DUE) == 2


@pytest.mark.parametrize("text", ["10 percent a day", "10%/week", "150%/day", "10%/day, max 0%", "late"])
def test_an_unparseable_policy_is_one_sentence_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--late: .*write .*'10%/day, max 50%', 'not accepted' or 'none'"):
        parse_policy(text, "--late")


# --- overrides ----------------------------------------------------------------------------------------------------


def _overrides(tmp_path: Path, text: str) -> tuple[Override, ...]:
    path = tmp_path / "overrides.csv"
    path.write_text(text, encoding="utf-8")
    return read_overrides(path, {"q1": 2, "q2": 2, "q3": 2}, {"alice", "bob"})


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("alice,q9,1,typo", r"line 2: the exercise has no check 'q9'; use one of q1, q2, q3"),
        ("alice,q1,3,generous", r"line 2: points '3' for check 'q1'; write a whole number from 0 to 2"),
        ("alice,q1,-1,x", r"line 2: points '-1'"),
        ("alice,q1,1.255,x", r"line 2: points '1.255'"),
        ("zoe,q1,1,x", r"line 2: no student 'zoe' was graded .*or delete the row"),
        ("alice,q1,1,", r"line 2: the reason is empty"),
        ("alice,q1,1,a\nalice,q1,2,b", r"line 3: 'alice' and check 'q1' were overridden already on line 2"),
    ],
)
def test_a_bad_override_is_one_sentence_naming_the_file_and_line(tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"overrides.csv, {message}"):
        _overrides(tmp_path, f"student,check,points,reason\n{rows}\n")


def test_an_overrides_file_without_its_columns_says_which(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"overrides.csv has no 'reason' column; its first line \(line 1\)"):
        _overrides(tmp_path, "student,check,points\nalice,q1,1\n")


def test_overrides_change_points_and_say_why_in_the_feedback(tmp_path: Path) -> None:
    (override,) = _overrides(tmp_path, "student,check,points,reason\n\nalice, q2 ,1,right idea; shapes swapped\n")
    assert override == Override("alice", "q2", 1, "right idea; shapes swapped", 3)
    term = Term(overrides=(override,))
    standing = assess(_result("alice", (2, 0, 2)), None, term, DUE)
    assert standing.points == 5
    text = feedback_markdown(standing.result, standing)
    assert "**5 / 6 points**" in text
    assert "points changed by the instructor (from 0 to 1): right idea; shapes swapped" in text
    row = _rows(gradebook_csv([standing.result], [standing]))["alice"]
    assert (row["q2"], row["total"], row["final"]) == ("1", "5", "5")
    assert row["overrides"] == "q2: 0 -> 1 (right idea; shapes swapped)"


# --- late work ----------------------------------------------------------------------------------------------------


def test_the_gradebook_shows_raw_points_late_days_penalty_and_final_points() -> None:
    term = Term(due=DUE, late=parse_policy("10%/day, max 50%", "x"), extensions={"carol": 3})
    results = [_result("alice", (2, 2, 2)), _result("bob", (2, 2, 0)), _result("carol", (2, 2, 2))]
    stamps = {"alice": DUE + timedelta(hours=30), "bob": DUE - timedelta(hours=1), "carol": DUE + timedelta(days=2)}
    standings = [assess(r, Stamp(stamps[r.student], "manifest"), term, DUE) for r in results]
    rows = _rows(gradebook_csv(results, standings))
    header = next(csv.reader(io.StringIO(gradebook_csv(results, standings))))
    assert header[-6:] == ["submitted", "due", "late_days", "penalty", "final", "overrides"]
    assert header[:8] == ["student", "q1", "q2", "q3", "total", "max_points", "status", "notes"]  # kept, in order
    assert [rows["alice"][k] for k in ("total", "late_days", "penalty", "final")] == ["6", "2", "1.2", "4.8"]
    assert [rows["bob"][k] for k in ("total", "late_days", "penalty", "final")] == ["4", "0", "0", "4"]
    assert rows["carol"]["due"] == "2026-12-04T23:59+01:00" and rows["carol"]["late_days"] == "0"  # 3 days more
    text = feedback_markdown(standings[0].result, standings[0])
    assert "2 days after the due date (2026-12-01T23:59+01:00): 20% off" in text
    assert "6 points - 1.2 late penalty = **4.8 / 6 points**" in text


def test_not_accepted_late_work_gets_zero_and_says_so() -> None:
    term = Term(due=DUE, late=parse_policy("not accepted", "x"))
    standing = assess(_result("alice", (2, 2, 2)), Stamp(DUE + timedelta(minutes=5), "roster"), term, DUE)
    assert (standing.points, standing.days_late, standing.final) == (6, 1, 0)
    assert "100% off (late policy: late work is not accepted)" in feedback_markdown(standing.result, standing)


def test_a_submission_without_a_time_keeps_its_raw_points_and_is_flagged() -> None:
    term = Term(due=DUE, late=parse_policy("10%/day", "x"))
    standing = assess(_result("alice", (2, 2, 0)), None, term, DUE)
    row = _rows(gradebook_csv([standing.result], [standing]))["alice"]
    assert (row["late_days"], row["penalty"], row["final"]) == ("unknown", "0", "4")
    assert "review: no submission time" in row["notes"]
    assert "no late penalty was worked out" in feedback_markdown(standing.result, standing)


# --- release ------------------------------------------------------------------------------------------------------


def test_checks_held_back_until_the_due_date_or_for_ever_are_not_in_the_feedback() -> None:
    term = Term(due=DUE, releases={"q1": "now", "q2": "after_due", "q3": "never"})
    result = _result("alice", (2, 0, 0))
    before = feedback_markdown(result, assess(result, None, term, DUE - timedelta(hours=1)))
    assert "check `q1`" in before and "q2" not in before and "q3" not in before and CANARY not in before
    assert "**2 / 2 points** from the checks shown below" in before
    assert "Checks shown after the due date: 1 (2 points)." in before
    assert "Checks only your instructor sees: 1 (2 points)." in before
    after = feedback_markdown(result, assess(result, None, term, DUE + timedelta(seconds=1)))
    assert "q2 is wrong" in after and "q3" not in after
    early = Term(due=DUE, releases=term.releases, released=True)
    released = feedback_markdown(result, assess(result, None, early, DUE - timedelta(days=1)))
    assert "q2 is wrong" in released and "hidden check `q3`" not in released and CANARY not in released
    extended = Term(due=DUE, extensions={"alice": 2}, releases=term.releases)
    assert "q2" not in feedback_markdown(result, assess(result, None, extended, DUE + timedelta(days=1)))


def test_a_check_cells_release_metadata_is_read_and_a_bad_value_refused(tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    assert set(releases(exercise).values()) == {"now"}
    cell = next(c for c in exercise.notebook.cells if c.get("metadata", {}).get("course", {}).get("check"))
    cell.metadata["course"]["release"] = "after_due"
    assert releases(exercise)[cell.metadata["course"]["check"]] == "after_due"
    cell.metadata["course"]["release"] = "later"
    with pytest.raises(ValueError, match=r"ex01_sequential.ipynb, cell \d+: check .* has release 'later'; use one"):
        releases(exercise)


def test_a_canary_in_a_never_released_or_hidden_check_reaches_no_feedback(tmp_path: Path) -> None:
    """The grader gives a failed hidden check HIDDEN_FAILED, never its own text; a 'never' check's text stays out."""
    checks = (
        CheckResult("q1", 0, 2, False, False, CANARY),  # visible, but released never
        CheckResult("q2", 0, 2, True, False, HIDDEN_FAILED),  # the canary is in its code, never in a result
    )
    for release in ("now", "after_due", "never"):
        for lang in LANGUAGES:
            term = Term(due=DUE, releases={"q1": "never", "q2": release}, released=True,
                        overrides=(Override("alice", "q2", 1, "partly right", 2),))  # fmt: skip
            out = tmp_path / f"{release}-{lang}"
            Gradebook((SubmissionResult("alice", "ex09", "graded", checks, lang=lang),), term=term).write(out)
            feedback = (out / "feedback" / "alice.md").read_text(encoding="utf-8")
            assert CANARY not in feedback and "q1" not in feedback
            assert ("q2" in feedback) == (release != "never")


# --- language -----------------------------------------------------------------------------------------------------


def test_both_catalogs_have_the_same_texts_with_the_same_fields() -> None:
    english, chinese = (json.loads(catalog_path(lang).read_text(encoding="utf-8")) for lang in LANGUAGES)
    assert english["frame"].keys() == chinese["frame"].keys()
    for key, text in english["frame"].items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", chinese["frame"][key])), key
        assert re.search(r"[\u4e00-\u9fff]", chinese["frame"][key]), f"{key} is not translated"
    from course.reports.records import STATUSES

    assert all(f"status.{s}" in chinese["frame"] for s in STATUSES)


def test_a_chinese_submissions_feedback_is_wholly_chinese() -> None:
    term = Term(due=DUE, late=parse_policy("10%/day, max 50%", "x"), releases={"q3": "never"},
                overrides=(Override("alice", "q2", 1, "思路正确", 2),))  # fmt: skip
    result = _result("alice", (2, 0, 0), lang="zh-CN")
    result = SubmissionResult(result.student, result.exercise, "timeout", result.checks, lang="zh-CN",
                              notes=("check 'q1' was edited",))  # fmt: skip
    text = feedback_markdown(result, assess(result, Stamp(DUE + timedelta(hours=2), "manifest"), term, DUE))
    zh = feedback_text("zh-CN")
    for key in ("title", "checks", "failed", "passed", "notes", "submission"):
        assert zh(key, exercise="ex09").split("{")[0] in text
    assert zh("status.timeout") in text and "教师修改了分数（由 0 改为 1）：思路正确" in text
    assert "晚于截止时间" in text and "只有教师能看到的检查：1 项（共 2 分）" in text
    frame_words = ["Feedback", "points", "passed", "failed", "Checks", "Handed in", "late", "due date", "instructor",
                   "Your notebook", "changes nothing"]  # fmt: skip
    assert not [w for w in frame_words if w in text], text


def test_the_language_of_a_graded_submission_is_kept_in_its_record(tmp_path: Path) -> None:
    out = tmp_path / "out"
    Gradebook((_result("alice", (2, 2, 2), lang="zh-CN"),), term=Term()).write(out)
    record = json.loads(next((out / "records").glob("*.json")).read_text())
    assert record["entries"][0]["result"]["lang"] == "zh-CN"
    assert "反馈" in (out / "feedback" / "alice.md").read_text(encoding="utf-8")
    Gradebook((_result("bob", (2, 2, 2)),), term=Term()).write(out)  # alice is rendered again from her record
    assert "反馈" in (out / "feedback" / "alice.md").read_text(encoding="utf-8")


def _grader_texts() -> list[str]:
    """What the grader really writes into a check's message, a problem or a note (its own functions, on made-up
    records and a starter with edited, missing, repeated and moved exercise cells)."""
    import nbformat

    from course.grading import scoring
    from course.grading.rebuild import Rebuilt, rebuild
    from course.sandbox.limits import Limits

    exercise = resolve_exercise("ex01")
    limits = Limits()
    rebuilt = Rebuilt(None, (), (), {2: "model.fit(x_train, y_train)"})
    base = {"check": None, "student_cell": 2, "died": False, "timeout": False, "error": None, "passed": False,
            "token": False, "limit": None}  # fmt: skip
    records = [
        {**base, "died": True},
        {**base, "timeout": True, "limit": "cpu"},
        {**base, "timeout": True, "limit": "wall", "cpu_s": 0.4},
        {**base, "student_cell": 5, "timeout": True, "limit": "wall"},
        {**base, "error": {"ename": "MemoryError", "evalue": ""}},
        {**base, "error": {"ename": "SystemExit", "evalue": "0"}},
        {**base, "error": {"ename": "ValueError", "evalue": "bad shape (3, 4)"}},
        {**base, "student_cell": None, "check": "q1_build", "died": True},
    ]
    texts = [p for r in records if (p := scoring._problem(rebuilt, r, limits))]
    checks = [{**base, "check": "q1_build", "student_cell": None}]
    texts += [scoring._check_message(None, s, limits) for s in ("timeout", "kernel died", "graded")]
    texts += [scoring._check_message({**checks[0], **r}, "graded", limits) for r in (
        {"timeout": True, "limit": "cpu"}, {"timeout": True, "limit": "wall"}, {"died": True},
        {"error": {"ename": "NameError", "evalue": "name 'mlp' is not defined"}}, {"passed": True}, {})]  # fmt: skip
    texts += [scoring.HIDDEN_FAILED, scoring.HIDDEN_PARTIAL, scoring.PARTIAL]
    starter = nbformat.read(str(Path(__file__).resolve().parents[1] / "exercises" / "ex01_sequential.ipynb"), 4)
    kinds = [c.get("metadata", {}).get("course", {}) for c in starter.cells]
    check = next(i for i, k in enumerate(kinds) if k.get("check"))
    locked = [i for i, k in enumerate(kinds) if k.get("locked")]
    starter.cells[check].source += "\nprint('edited')"
    starter.cells.append(nbformat.v4.new_code_cell(starter.cells[locked[-1]].source, id=starter.cells[locked[-1]].id))
    starter.cells.insert(1, starter.cells.pop(locked[-2]))  # moved
    del starter.cells[locked[0] + 1 if locked[0] + 1 != check else locked[0] + 2]  # a trusted or answer cell goes
    notes = rebuild(exercise, starter).notes
    assert notes, "the starter's edits gave no notes"
    return [*texts, *notes]


def test_the_graders_own_problems_messages_and_notes_are_chinese_for_a_chinese_submission() -> None:
    zh = feedback_text("zh-CN")
    english = ["your cell", "was stopped", "CPU seconds", "the original", "kernel died", "did not", "this check",
               "a cell of", "wall-clock", "memory", "raised", "appears", "was moved", "was edited", "hidden check"]
    texts = _grader_texts()
    assert len(texts) >= 20
    for text in texts:
        shown = zh.message(text)
        assert re.search(r"[\u4e00-\u9fff]", shown), text  # translated
        left = [w for w in english if w in shown]
        assert not left, (text, shown, left)
    assert feedback_text("en").message(texts[0]) == texts[0]  # English stays as the grader wrote it


def test_every_message_template_keeps_its_fields_and_a_text_of_no_template_stays() -> None:
    chinese = json.loads(catalog_path("zh-CN").read_text(encoding="utf-8"))["messages"]
    for key, text in chinese.items():
        assert set(re.findall(r"{(\w+)}", key)) == set(re.findall(r"{(\w+)}", text)), key
        assert re.search(r"[\u4e00-\u9fff]", text) or text != key, f"{key} is not translated"
    zh = feedback_text("zh-CN")
    assert zh.message("your cell 7 (`print(1)`)") == "你的第 7 个单元格（`print(1)`）"
    assert zh.message("your cell seven") == "your cell seven"  # n is a number only
    assert zh.message("The accuracy is too low") == "The accuracy is too low"  # a check's own message: as written
