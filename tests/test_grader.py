"""The grader: rebuild rules and result verification (fast), then the hostile fixtures and every exercise end to end.

The end-to-end part runs real kernels (marked slow): one grading run over tests/fixtures/submissions/ex01 through
the `course grade` command, and one over the solution and the starter of every exercise in course/solutions.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.authoring.notebook_format import course_meta, find_exercises, resolve_exercise
from course.authoring.starters import EXERCISES_DIR
from course.cli import main
from course.grading.batch import Job, Unreadable, grade_jobs, read_submission
from course.grading.rebuild import rebuild
from course.kernel_side.nbval_plugin import sign
from course.reports.gradebook import Gradebook, feedback_markdown, gradebook_csv
from course.reports.records import CheckResult, SubmissionResult
from course.sandbox.limits import Limits
from course.sandbox.run import _read_results, preflight, run_notebook
from toolkit import i18n

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUBMISSIONS = FIXTURES / "submissions" / "ex01"
CELL_TIMEOUT = 10  # CPU seconds
WALL_FACTOR = 2  # a sleeping cell is stopped after CELL_TIMEOUT * WALL_FACTOR wall-clock seconds
UNMODIFIED_STARTER_OF = "ex01_sequential"  # fixtures/.../unmodified_starter.ipynb is this starter, byte for byte
COLUMNS = ["q1_build", "q1_params", "q2_predict", "q3_train", "q4_add_pop"]

# student -> (points per check in COLUMNS order, status, text that must be in notes, text that must be in feedback)
EXPECTED: dict[str, tuple[tuple[int, ...], str, list[str], list[str]]] = {
    "correct": ((3, 1, 2, 3, 2), "graded", [], ["11 / 11 points"]),
    "wrong_answers": (
        (3, 0, 0, 0, 0),
        "graded",
        [],
        ["Your answer to ex01_q2_hidden_shape is not right", "found:    (32, 784)", "accuracy of the model 'mlp' is"],
    ),
    "unmodified_starter": ((0, 0, 0, 0, 0), "graded", [], ["raised NotImplementedError: Exercise: build the model"]),
    "deleted_check": ((3, 1, 2, 3, 2), "graded", ["check 'q1_build' was missing (deleted?)"], []),
    "check_assert_true": ((0, 0, 2, 3, 2), "graded", ["check 'q1_build' was edited"], ["'dense_a'"]),
    "moved_check": ((3, 1, 2, 3, 2), "graded", ["check 'q4_add_pop' was moved"], []),
    "recreated_check": (
        (3, 1, 0, 3, 2),
        "graded",
        ["looks like check 'q2_predict' re-created without its metadata", "check 'q2_predict' was missing"],
        [],
    ),
    "infinite_loop": ((3, 1, 2, 3, 2), "graded", [], [f"used more than {CELL_TIMEOUT} CPU seconds and was stopped"]),
    "stubborn_loop": (
        (3, 1, 2, 0, 0),
        "timeout",
        [],
        [f"ran for more than {CELL_TIMEOUT * WALL_FACTOR} seconds of wall-clock time"],  # it sleeps: no CPU
    ),
    "kernel_crash": ((3, 1, 2, 0, 0), "kernel died", [], ["The Python kernel died while running your cell"]),
    "sys_exit": ((3, 1, 2, 3, 2), "graded", [], ["called sys.exit()"]),
    "megabytes": ((3, 1, 2, 3, 2), "graded", [], []),
    "invalid_json": ((0, 0, 0, 0, 0), "invalid", [], ["not valid JSON"]),
    "not_a_notebook": ((0, 0, 0, 0, 0), "invalid", [], ["not valid JSON"]),
    "empty_notebook": ((0, 0, 0, 0, 0), "empty", [], ["no code cells"]),
    "read_solution": ((0, 0, 0, 0, 0), "graded", ["review: cell 5 mentions the solutions"], []),
    "tamper_helpers": (
        (0, 0, 0, 0, 0),
        "graded",
        ["review: cell 5 replaces check helpers"],
        ["found:    ('Flatten', 'Dense')\n", "an object of type AlwaysEqual"],
    ),
    "tamper_transformer": (
        (0, 0, 0, 0, 0),
        "graded",
        ["review: cell 5 registers an IPython input transformer", "passed without printing its token"],
        ["never confirmed that it ran"],
    ),
}


# ---------------------------------------------------------------- fast: reading, rebuilding, verifying, rendering


def test_fixture_files_are_reproducible_from_the_current_exercise(tmp_path: Path) -> None:
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_submissions
    finally:
        sys.path.remove(str(FIXTURES))
    fresh = make_submissions.build(tmp_path)
    assert {p.name for p in fresh} == {p.name for p in SUBMISSIONS.iterdir()} == {f"{s}.ipynb" for s in EXPECTED}
    stale = [p.name for p in fresh if p.read_bytes() != (SUBMISSIONS / p.name).read_bytes()]
    assert not stale, f"run `python tests/fixtures/make_submissions.py`: {stale}"


def test_read_submission_explains_unreadable_files() -> None:
    with pytest.raises(Unreadable, match="not valid JSON"):
        read_submission(SUBMISSIONS / "invalid_json.ipynb")
    with pytest.raises(Unreadable, match="not valid JSON"):
        read_submission(SUBMISSIONS / "not_a_notebook.ipynb")


def test_read_submission_refuses_json_that_is_not_a_notebook(tmp_path: Path) -> None:
    path = tmp_path / "list.ipynb"
    path.write_text("[1, 2, 3]")
    with pytest.raises(Unreadable, match="not a Jupyter notebook"):
        read_submission(path)


def _rebuilt(name: str) -> Any:
    return rebuild(resolve_exercise("ex01"), read_submission(SUBMISSIONS / f"{name}.ipynb"))


def test_rebuild_takes_every_check_from_the_source_in_source_order() -> None:
    exercise = resolve_exercise("ex01")
    rebuilt = _rebuilt("check_assert_true")
    trusted = [c for c in rebuilt.notebook.cells if course_meta(c)]
    source = [c for c in exercise.notebook.cells if course_meta(c)]
    assert [c.source for c in trusted] == [c.source for c in source]  # hidden check and locked cells included
    assert "assert True" not in [c.source for c in rebuilt.notebook.cells]
    students = [c for c in rebuilt.notebook.cells if not course_meta(c)]
    assert all(set(c.metadata) == {"grader"} for c in students)


def test_rebuild_puts_answers_before_their_check_even_when_the_check_was_moved() -> None:
    cells = _rebuilt("moved_check").notebook.cells
    position = {c.source.splitlines()[0]: i for i, c in enumerate(cells)}
    head = next(i for i, c in enumerate(cells) if c.source.startswith('head = keras.Sequential(name="head")'))
    check = next(i for i, c in enumerate(cells) if course_meta(c).get("check") == "q4_add_pop")
    assert head < check == len(cells) - 1, position


def test_rebuild_runs_a_recreated_check_as_student_code_and_says_so() -> None:
    rebuilt = _rebuilt("recreated_check")
    assert sum(course_meta(c).get("check") == "q2_predict" for c in rebuilt.notebook.cells) == 1
    assert any("(32, 64)" in c.source and not course_meta(c) for c in rebuilt.notebook.cells)
    assert rebuilt.notes == (
        "cell 10 looks like check 'q2_predict' re-created without its metadata: it ran as your own code and earns "
        "nothing; the original check was used",
        "check 'q2_predict' was missing (deleted?); the original was used",
    )


def test_rebuild_of_an_untouched_starter_notes_nothing() -> None:
    rebuilt = _rebuilt("unmodified_starter")
    assert rebuilt.notes == () and rebuilt.flags == ()


def test_signed_results_are_verified_and_forged_lines_dropped(tmp_path: Path) -> None:
    secret = "s" * 64
    good = {
        "kind": "cell", "when": "call", "index": 3, "check": "q1", "student_cell": None, "passed": True, "token": True,
        "error": None, "timeout": False, "limit": None, "died": False, "seconds": 0.5, "t": 12.5,
    }  # fmt: skip
    malformed = sign(secret, {**good, "passed": "yes"})  # signed, but not a record the plugin writes
    partial = sign(secret, {"kind": "cell", "check": "q4", "passed": True})
    forged = json.dumps({"record": {"kind": "cell", "check": "q2", "passed": True}, "mac": "0" * 64})
    resigned = sign("another secret", {"kind": "cell", "check": "q3", "passed": True})
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join([sign(secret, good), forged, resigned, "not json", malformed, partial]) + "\n")
    records, rejected = _read_results(path, secret)
    assert records == [good] and rejected == 5


def test_limits_validate_their_values() -> None:
    with pytest.raises(ValueError, match="cell_timeout must be a positive number of CPU seconds"):
        Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="no such user 'no-such-user-here'|needs the grader to run as root"):
        Limits(user="no-such-user-here")


@pytest.mark.skipif(os.geteuid() != 0, reason="--user needs root")
def test_user_preflight_either_works_or_says_how_to_fix() -> None:
    try:
        preflight(Limits(user="nobody"))
    except ValueError as err:
        assert "cannot start" in str(err) and "GUIDE.md, section 6" in str(err)
    else:  # this machine lets 'nobody' run the course's Python: then a kernel really runs as nobody
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nassert os.getuid() != 0")])
        nb.metadata["kernelspec"] = {"name": "python3"}
        outcome = run_notebook(nb, Limits(user="nobody", preload=None))
        assert [c["passed"] for c in outcome.cells()] == [True]


def _result(student: str, points: tuple[int, ...], status: str = "graded") -> SubmissionResult:
    checks = tuple(
        CheckResult(f"q{i}", p, 2, i == 2, p == 2, "" if p == 2 else f"q{i} failed\n  hint: h")
        for i, p in enumerate(points, 1)
    )
    return SubmissionResult(student, "ex09", status, checks, notes=("check 'q1' was edited",), flags=("cell 2 x",))


def test_gradebook_csv_and_feedback_render_from_records() -> None:
    results = [_result("bob", (2, 0)), _result("alice", (2, 2))]
    assert gradebook_csv(results) == (
        "student,q1,q2,total,max_points,status,notes\n"
        "alice,2,2,4,4,graded,check 'q1' was edited; review: cell 2 x\n"
        "bob,2,0,2,4,graded,check 'q1' was edited; review: cell 2 x\n"
    )
    text = feedback_markdown(results[0])
    assert (
        "**2 / 4 points**" in text and "- ✗ hidden check `q2`: failed, 0/2 points\n  - q2 failed\n      hint: h" in text
    )
    assert "review" not in text and "check 'q1' was edited" in text


def test_gradebook_write_merges_and_drops_only_feedback_of_no_record(tmp_path: Path) -> None:
    Gradebook((_result("old", (0, 0)), _result("kept", (0, 0)))).write(tmp_path)
    (tmp_path / "feedback" / "stray.md").write_text("no record renders this")
    Gradebook((_result("kept", (2, 2)),)).write(tmp_path)
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["kept.md", "old.md"]  # issue 23: merged
    text = (tmp_path / "gradebook.csv").read_text()
    assert "kept,2,2,4" in text and "old,0,0,0" in text
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary files left behind


def test_cli_reruns_replace_the_outputs_with_identical_ones(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("invalid_json", "not_a_notebook", "empty_notebook"):  # no kernel needed for these
        (folder / f"{name}.ipynb").write_bytes((SUBMISSIONS / f"{name}.ipynb").read_bytes())
    out = tmp_path / "out"
    args = ["grade", "ex01", str(folder), "--out", str(out), "--workers", "2"]
    assert main(args) == 0
    first = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(args) == 0
    second = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    log = first.pop("runs.jsonl")  # the run log grows by one line a run; everything else is identical
    assert second.pop("runs.jsonl").startswith(log) and len(log.splitlines()) == 1
    assert first == second and len(first) == 16  # gradebook, 3 feedback, 5 reports, 3 records, 3 kept, term.json
    assert (out / "gradebook.csv").stat().st_mode & 0o777 == 0o644


def test_cli_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "ex77", str(tmp_path)]) == 2
    assert "'ex77' matches no exercise" in capsys.readouterr().err
    assert main(["grade", "ex01", str(tmp_path / "nowhere")]) == 2
    assert "does not exist; pass the folder holding the .ipynb files" in capsys.readouterr().err
    assert main(["grade", "ex01", str(tmp_path)]) == 2
    assert "no .ipynb files in" in capsys.readouterr().err


# ---------------------------------------------------------------- slow: real kernels


def _tiny(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3"}
    return nb


def _lingering_kernels() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "kernel_launcher.py" in cmd and "course-grade-" in cmd:
            launcher = cmd.split("\0")[1]
            if not Path(launcher).exists():  # its private folder is gone: nobody will ever stop it
                found.append(cmd)
    return found


@pytest.mark.slow
def test_a_dead_kernel_is_noticed_within_seconds_not_at_the_cell_timeout() -> None:
    outcome = run_notebook(_tiny("x = 1", "import os\nos._exit(1)", "y = 2"), Limits(cell_timeout=120, preload=None))
    cells = outcome.cells()
    assert [c["passed"] for c in cells[:2]] == [True, False] and cells[1]["died"]
    assert cells[1]["seconds"] < 5
    assert len(cells) == 2  # the session stopped at the dead kernel


@pytest.mark.slow
def test_the_secret_reaches_neither_the_kernel_nor_its_files(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "f00d" * 16
    monkeypatch.setattr("course.sandbox.run.secrets.token_hex", lambda n: secret)
    spy = (
        "import os, pathlib\n"
        "seen = [repr(dict(os.environ))]\n"
        "for name in ('environ', 'cmdline'):\n"
        "    seen.append(pathlib.Path(f'/proc/{os.getppid()}/{name}').read_bytes().decode(errors='replace'))\n"
        "seen += [p.read_text(errors='replace') for p in pathlib.Path.cwd().rglob('*') if p.is_file()]\n"
        "assert seen[0] and 'f00d' * 16 not in ''.join(seen), 'the secret leaked'\n"
        "assert not list(pathlib.Path.cwd().glob('*.ipynb')), 'the notebook file is still there'\n"
        "assert 'PYTHONPATH' not in os.environ"
    )
    outcome = run_notebook(_tiny(spy), Limits(preload=None))
    assert [(c["passed"], c["error"]) for c in outcome.cells()] == [(True, None)]


@pytest.mark.slow
def test_the_notebook_timeout_stops_everything() -> None:
    limits = Limits(timeout=6, cell_timeout=120, wall_factor=1, preload=None)  # sleeping: only the wall stops it
    outcome = run_notebook(_tiny("import time\ntime.sleep(120)"), limits)
    assert outcome.timed_out and outcome.stopped_by == "wall" and outcome.wall_s < 15
    assert not _lingering_kernels()


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`course grade` over the fixture folder, recording the submissions' bytes and times before and after."""
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in SUBMISSIONS.iterdir()}
    out = tmp_path_factory.mktemp("grades")
    args = ["grade", "ex01", str(SUBMISSIONS), "--out", str(out), "--workers", "2"]
    code = main([*args, "--cell-timeout", str(CELL_TIMEOUT), "--timeout", "240", "--wall-factor", str(WALL_FACTOR)])
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in SUBMISSIONS.iterdir()}
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {"code": code, "out": out, "rows": rows, "before": before, "after": after}


@pytest.mark.slow
def test_grading_the_fixture_folder_gives_every_row_its_expected_score(fixture_run: dict[str, Any]) -> None:
    assert fixture_run["code"] == 0
    rows = fixture_run["rows"]
    assert list(rows) == sorted(EXPECTED)
    for student, (points, status, notes, _) in EXPECTED.items():
        row = rows[student]
        got = tuple(int(row[c]) for c in COLUMNS)
        assert (got, row["status"]) == (points, status), f"{student}: {row}"
        assert int(row["total"]) == sum(points) and row["max_points"] == "11"
        for text in notes:
            assert text in row["notes"], f"{student}: {text!r} not in notes {row['notes']!r}"
        if not notes:
            assert not row["notes"], f"{student}: unexpected notes {row['notes']!r}"


@pytest.mark.slow
def test_every_fixture_gets_a_clear_feedback_file(fixture_run: dict[str, Any]) -> None:
    for student, (points, _, _, feedback) in EXPECTED.items():
        text = (fixture_run["out"] / "feedback" / f"{student}.md").read_text()
        assert f"**{sum(points)} / 11 points**" in text
        for line in feedback:
            assert line in text, f"{student}: {line!r} not in feedback:\n{text}"
        assert "review" not in text  # flags are for the instructor


@pytest.mark.slow
def test_grading_never_touches_a_submission_and_leaves_no_kernel(fixture_run: dict[str, Any]) -> None:
    assert fixture_run["after"] == fixture_run["before"]
    assert not _lingering_kernels()


@pytest.fixture(scope="module")
def every_exercise() -> dict[tuple[str, str], SubmissionResult]:
    """The solution and the starter of every exercise, in both editions, graded in one run with two workers.

    A Chinese submission is graded against the same (English) exercise source as an English one.
    """
    solutions = find_exercises()[0].parent
    folders = {"solutions": solutions, "exercises": EXERCISES_DIR, "solutions/zh": solutions / "zh",
               "exercises/zh": EXERCISES_DIR / "zh"}
    jobs, keys = [], []
    for path in find_exercises():
        for key, folder in folders.items():
            if (path.stem, key) != (UNMODIFIED_STARTER_OF, "exercises"):  # graded with the fixtures already
                jobs.append(Job(resolve_exercise(str(path)), folder / path.name))
                keys.append((path.stem, key))
    results = grade_jobs(jobs, Limits(cell_timeout=60, timeout=300, threads=1), workers=2, progress=False)
    return dict(zip(keys, results))


@pytest.mark.slow
@pytest.mark.parametrize("solution", find_exercises(), ids=lambda p: p.stem)
def test_every_solution_scores_full_marks(every_exercise: dict[Any, SubmissionResult], solution: Path) -> None:
    for edition in ("solutions", "solutions/zh"):
        result = every_exercise[(solution.stem, edition)]
        assert (result.status, result.total) == ("graded", result.max_points), (edition, feedback_markdown(result))
        assert not result.notes and not result.flags, edition


@pytest.mark.slow
def test_a_chinese_submission_grades_the_same_with_feedback_in_chinese(
    fixture_run: dict[str, Any], tmp_path: Path
) -> None:
    nb = nbformat.read(SUBMISSIONS / "wrong_answers.ipynb", as_version=4)
    nb.metadata["lang"] = "zh-CN"  # what a Chinese starter carries
    nbformat.write(nb, tmp_path / "wrong_answers.ipynb")
    (result,) = grade_jobs([Job(resolve_exercise("ex01"), tmp_path / "wrong_answers.ipynb")],
                           Limits(cell_timeout=60, timeout=300, threads=1), workers=1, progress=False)
    assert str(result.total) == fixture_run["rows"]["wrong_answers"]["total"]
    english = (fixture_run["out"] / "feedback" / "wrong_answers.md").read_text(encoding="utf-8")
    chinese = feedback_markdown(result)
    catalog = i18n.catalog("zh-CN")
    wrong = catalog["{what} is not right."].replace("{what}", "").strip("。. ")
    assert "is not right" in english and wrong in chinese and "is not right" not in chinese, chinese[:800]


@pytest.mark.slow
@pytest.mark.parametrize("solution", find_exercises(), ids=lambda p: p.stem)
def test_every_starter_scores_zero(
    every_exercise: dict[Any, SubmissionResult], fixture_run: dict[str, Any], solution: Path
) -> None:
    if solution.stem == UNMODIFIED_STARTER_OF:
        assert (SUBMISSIONS / "unmodified_starter.ipynb").read_bytes() == (EXERCISES_DIR / solution.name).read_bytes()
        assert fixture_run["rows"]["unmodified_starter"]["total"] == "0"
    for edition in ("exercises", "exercises/zh"):
        if (solution.stem, edition) == (UNMODIFIED_STARTER_OF, "exercises"):
            continue
        result = every_exercise[(solution.stem, edition)]
        assert (result.status, result.total) == ("graded", 0), (edition, feedback_markdown(result))
        assert result.max_points > 0 and not result.notes, edition
