"""Partial credit (issue 23, item 3): a check cell awards a share of its points with ``checks.award`` (or
``check_accuracy(..., full_at=...)``); the share that counts is the one the trusted process computes, so a student
who forges a higher one in her kernel gains nothing; points in steps of 0.01 reach the gradebook, the LMS exports,
the records and the feedback. One test grades for real (slow: two kernels and the trusted worker)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import nbformat
import pytest
from tiny_exercise import code_cell

from course.authoring.notebook_format import load_exercise
from course.grading.pipeline import Job
from course.grading.rebuild import rebuild
from course.grading.scoring import HIDDEN_PARTIAL, score_run
from course.kernel_side import nbval_plugin
from course.reports.gradebook import Gradebook, feedback_markdown
from course.reports.records import CheckResult, Status, SubmissionResult, points_value
from course.sandbox.limits import Limits
from course.sandbox.run import RunOutcome
from course.term.assess import assess
from course.term.overrides import read_overrides
from course.term.settings import Term
from course.verification.plan import make_plan
from course.verification.trusted import Verification, _run_check
from toolkit import checks

CANARY = "CANARY-partial-5e1d"
SHARE = "checks.award(min(answer, 100) / 100, f'{answer} of 100 right')"



def write_exercise(folder: Path) -> Path:
    """ex91_partial: one verified check, one kernel-only check and one hidden check, each awarding answer/100."""
    nb = nbformat.v4.new_notebook(
        cells=[
            code_cell("from toolkit import checks", locked="setup"),
            code_cell("### BEGIN SOLUTION\nanswer = 100\n### END SOLUTION"),
            code_cell(SHARE, check="q1_share", points=3),
            code_cell(SHARE, check="q2_kernel", points=2, kernel_only="counts the kernel's own share (a test)"),
            code_cell(
                f"secret = {CANARY!r}\nchecks.award(min(answer, 100) / 100, f'{{answer}}, expected {{secret}}')",
                check="q3_hidden",
                points=1,
                hidden=True,
            ),  # fmt: skip
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "ex91_partial.ipynb"
    nbformat.write(nb, str(path))
    return path


# A student who makes her kernel claim the whole of every check's points: toolkit.checks is reloaded before each
# check cell, so she patches the reload itself to replace what the grader reads from the fresh module.
FORGER = """import importlib
_real_reload = importlib.reload
def _forged_reload(module):
    module = _real_reload(module)
    module.awarded = lambda: (1.0, "")
    return module
importlib.reload = _forged_reload
answer = 30"""


# ---------------------------------------------------------------- the helper


@pytest.fixture(autouse=True)
def _fresh_awards() -> None:
    checks._reset_awards()


def test_award_gives_a_share_of_the_points_and_the_smallest_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert checks.awarded() == (1.0, "")
    checks.award(0.75, "three of the four layers are right")
    checks.award(0.5, "half of the predictions are right")
    checks.award(1, "the names are right")
    assert checks.awarded() == (0.5, "half of the predictions are right")
    assert "◐ three of the four layers are right: 75% of this check's points" in capsys.readouterr().out
    checks._reset_awards()
    assert checks.awarded() == (1.0, "")


@pytest.mark.parametrize(
    ("fraction", "why", "error", "message"),
    [
        (1.5, "x y", ValueError, r"^checks.award: the fraction must be from 0 to 1 \(got 1.5\); pass the share"),
        (-0.1, "x y", ValueError, r"^checks.award: the fraction must be from 0 to 1 \(got -0.1\)"),
        (math.nan, "x y", ValueError, r"^checks.award: the fraction must be from 0 to 1 \(got nan\)"),
        ("half", "x y", TypeError, r"^checks.award: the fraction must be a number .*\(got 'half', of type str\)"),
        (True, "x y", TypeError, r"^checks.award: the fraction must be a number .*of type bool"),
        (None, "x y", TypeError, r"^checks.award: the fraction must be a number .*of type NoneType"),
        (0.5, " ", ValueError, r"^checks.award: say why in a sentence the student reads"),
    ],
)  # fmt: skip
def test_bad_use_of_award_is_one_sentence(fraction: object, why: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        checks.award(fraction, why)  # type: ignore[arg-type]
    assert len(str(raised.value).splitlines()) == 1 and checks.awarded() == (1.0, "")


def test_check_accuracy_gives_linear_credit_between_its_two_thresholds() -> None:
    import numpy as np

    from toolkit._keras import keras

    inputs = keras.Input(shape=(4,))
    identity = keras.Model(inputs, keras.layers.Activation("linear")(inputs))
    x, y = np.eye(4, dtype="float32"), np.array([0, 1, 2, 0])  # three of four right: accuracy 0.75
    checks.check_accuracy(identity, x, y, at_least=0.5, full_at=1.0)
    fraction, why = checks.awarded()
    assert fraction == pytest.approx(0.5) and why == "accuracy 0.750: full credit from 1.00, none at 0.50 or below"
    checks._reset_awards()
    checks.check_accuracy(identity, x, y, at_least=0.5, full_at=0.75)  # at full_at: the whole
    assert checks.awarded() == (1.0, "")
    with pytest.raises(checks.CheckFailure, match="too low"):
        checks.check_accuracy(identity, x, y, at_least=0.8, full_at=0.9)
    with pytest.raises(ValueError, match=r"^check_accuracy: full_at must be a number above at_least and at most 1"):
        checks.check_accuracy(identity, x, y, at_least=0.9, full_at=0.8)


# ---------------------------------------------------------------- where the share is read


def test_the_trusted_run_of_a_check_cell_returns_the_share_it_awarded(tmp_path: Path) -> None:
    exercise = load_exercise(write_exercise(tmp_path))
    check = next(c for c in exercise.checks if c.id == "q1_share")
    checks.award(0.1, "an earlier check's award")  # the worker runs many checks in one interpreter
    assert _run_check(exercise, check, {"checks": checks, "answer": 30}) == [True, "30 of 100 right", 0.3]
    assert _run_check(exercise, check, {"checks": checks, "answer": 120}) == [True, "", 1.0]
    assert _run_check(exercise, check, {"checks": checks, "answer": "30"})[0::2] == [False, 0.0]  # a TypeError


def test_the_plugin_reads_the_share_from_the_checks_token_line_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(nbval_plugin._state, "secret", "s3cret")
    token = nbval_plugin.token_for("s3cret", "q1")
    line = f"course-check q1 {token} "
    assert nbval_plugin.token_line(f'✓ ok\n{line}[1.0, ""]\n', "q1") == (1.0, "")
    assert nbval_plugin.token_line(f'{line}[0.3, "30 of 100"]\n', "q1") == (0.3, "30 of 100")
    assert nbval_plugin.token_line(f'{line}[1.0, ""]\n{line}[0.3, "x"]\n', "q1") == (0.3, "x")  # the last one
    for forged in (f"{line}[1.5, \"\"]", f"{line}[true, \"\"]", f"{line}1.0", f"course-check q1 {'0' * 32} [1.0, \"\"]",
                   f"course-check q1 {token}"):  # fmt: skip
        assert nbval_plugin.token_line(forged + "\n", "q1") is None, forged
    source = nbval_plugin._instrument("x = 1", "q1")
    assert source.splitlines()[-1].startswith(f"_course_sys.stdout.write('course-check q1 {token} ' + ")


def _records(exercise: object, kernel_share: float) -> list[dict[str, object]]:
    """A run in which every check cell passed and claimed ``kernel_share`` of its points."""
    base = {"kind": "cell", "when": "call", "student_cell": None, "passed": True, "token": True, "error": None,
            "timeout": False, "died": False}  # fmt: skip
    cells = [{**base, "index": i, "check": c.id, "fraction": kernel_share, "award": "the kernel's reason"}
             for i, c in enumerate(exercise.checks, 2)]  # type: ignore[attr-defined]  # fmt: skip
    return [*cells, {"kind": "finished"}]


def test_the_share_that_counts_is_the_trusted_one_and_the_kernels_only_for_a_kernel_only_check(tmp_path: Path) -> None:
    exercise = load_exercise(write_exercise(tmp_path))
    job = Job(exercise, tmp_path / "mallory.ipynb", plan=make_plan(exercise, None))
    assert job.plan is not None and job.plan.kernel_only == {"q2_kernel": "declared by the exercise: counts the "
                                                             "kernel's own share (a test)"}  # fmt: skip
    rebuilt = rebuild(exercise, nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FORGER)]))
    trusted = Verification({"q1_share": (True, "30 of 100 right"), "q3_hidden": (True, f"30, expected {CANARY}")},
                           fractions={"q1_share": 0.3, "q3_hidden": 0.3})  # fmt: skip
    run = RunOutcome(records=_records(exercise, 1.0), kernel_ready_s=1.0)  # the kernel claims it all
    result = score_run(job, rebuilt, run, trusted, Limits())
    by_id = {c.id: c for c in result.checks}
    assert [(c.id, c.points, c.passed) for c in result.checks] == [
        ("q1_share", 0.9, False), ("q2_kernel", 2, True), ("q3_hidden", 0.3, False)]  # fmt: skip
    assert by_id["q1_share"].message == "30 of 100 right" and by_id["q3_hidden"].message == HIDDEN_PARTIAL
    assert result.total == 3.2 and result.max_points == 6
    honest = score_run(job, rebuilt, RunOutcome(records=_records(exercise, 0.3), kernel_ready_s=1.0), trusted,
                       Limits())  # fmt: skip
    assert [c.points for c in honest.checks] == [0.9, 0.6, 0.3] and honest.checks[1].message == "the kernel's reason"
    failed = Verification(
        {"q1_share": (False, "answer is wrong"), "q3_hidden": (True, "")}, fractions={"q1_share": 1.0}
    )
    assert [c.points for c in score_run(job, rebuilt, run, failed, Limits()).checks] == [0, 2, 1]


# ---------------------------------------------------------------- what is written


def _partial_result(student: str = "ada", lang: str = "en") -> SubmissionResult:
    return SubmissionResult(student, "ex91_partial", Status.GRADED, (
        CheckResult("q1_share", 0.9, 3, False, False, "30 of 100 <b>right</b>"),
        CheckResult("q2_kernel", 2, 2, False, True, ""),
        CheckResult("q3_hidden", 0.3, 1, True, False, HIDDEN_PARTIAL),
    ), lang=lang)  # fmt: skip


def test_parts_of_a_point_reach_the_gradebook_the_lms_exports_the_records_and_the_feedback(tmp_path: Path) -> None:
    book = Gradebook((_partial_result(), _partial_result("li", "zh-CN"))).write(tmp_path)
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((tmp_path / "gradebook.csv").read_text()))}
    assert [rows["ada"][k] for k in ("q1_share", "q2_kernel", "q3_hidden", "total", "max_points")] == [
        "0.9", "2", "0.3", "3.2", "6"]  # fmt: skip
    canvas = (tmp_path / "canvas.csv").read_text().splitlines()
    assert canvas[1].endswith(",3,2,1") and canvas[2].endswith(",0.9,2,0.3")
    assert (tmp_path / "moodle.csv").read_text().splitlines()[1].endswith(",0.9,2,0.3")
    record = json.loads(next((tmp_path / "records").glob("ada-*.json")).read_text())["entries"][0]["result"]
    assert record["total"] == 3.2 and record["checks"][0]["points"] == 0.9
    again = Gradebook(()).write(tmp_path)  # read back from the records, which are checked field by field
    assert [r.total for r in again.results] == [3.2, 3.2] and book.results == again.results
    ada = (tmp_path / "feedback" / "ada.md").read_text()
    assert "**3.2 / 6 points**" in ada
    assert "- ◐ check `q1_share`: partial credit, 0.9/3 points\n  - 30 of 100 &lt;b>right&lt;/b>" in ada
    assert f"hidden check `q3_hidden`: partial credit, 0.3/1 points\n  - {HIDDEN_PARTIAL}" in ada
    li = (tmp_path / "feedback" / "li.md").read_text()
    assert "部分得分，0.9/3 分" in li and "这个隐藏检查获得了部分分数" in li


def test_overrides_take_parts_of_a_point_and_still_refuse_more_than_the_check_gives(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text("student,check,points,reason\nada,q1_share,2.5,the last layer is right too\n")
    (override,) = read_overrides(path, {"q1_share": 3, "q2_kernel": 2}, {"ada"})
    assert override.points == 2.5
    standing = assess(_partial_result(), None, Term(overrides=(override,)), now=None)  # type: ignore[arg-type]
    assert standing.points == points_value(2.5 + 2 + 0.3) == 4.8
    text = feedback_markdown(standing.result, standing)
    assert "**4.8 / 6 points**" in text and "(from 0.9 to 2.5): the last layer is right too" in text
    for points in ("3.5", "1.255", "-0.5", "nan", "2,5", "two"):
        path.write_text(f'student,check,points,reason\nada,q1_share,"{points}",why\n')
        with pytest.raises(
            ValueError,
            match=rf"overrides.csv, line 2: points '{points}' for check 'q1_share'; "
            r"write a whole number from 0 to 3 .*at most two decimals such as 1.5$",
        ):
            read_overrides(path, {"q1_share": 3}, {"ada"})  # fmt: skip


# ---------------------------------------------------------------- for real


@pytest.mark.slow
def test_a_forged_share_in_the_kernel_gets_the_trusted_share(tmp_path: Path) -> None:
    """Graded for real: the forger's kernel claims every point (and gets them for the kernel-only check, which
    shows the forgery works there); the verified checks count the share the trusted process computed."""
    from tiny_exercise import write_submissions

    from course.grading.batch import grade_folder

    exercise = load_exercise(write_exercise(tmp_path))
    subs = write_submissions(tmp_path / "subs", {"honest": "answer = 30", "forger": FORGER})
    out = tmp_path / "out"
    book = grade_folder(exercise, subs, out, limits=Limits(preload=None), workers=2, progress=False)
    rows = {r.student: r for r in book.results}
    assert rows["honest"].status == "graded" and rows["forger"].status == "graded", rows
    assert [c.points for c in rows["honest"].checks] == [0.9, 0.6, 0.3], rows["honest"]
    assert [c.points for c in rows["forger"].checks] == [0.9, 2, 0.3], rows["forger"]
    gradebook = (out / "gradebook.csv").read_text()
    assert "forger,0.9,2,0.3,3.2,6,graded" in gradebook and "honest,0.9,0.6,0.3,1.8,6,graded" in gradebook
    feedback = (out / "feedback" / "honest.md").read_text()
    assert "◐ check `q1_share`: partial credit, 0.9/3 points\n  - 30 of 100 right" in feedback
    for path in [p for p in out.rglob("*") if p.is_file() and p.suffix in (".md", ".csv", ".json", ".html")]:
        assert CANARY not in path.read_text(encoding="utf-8"), path
