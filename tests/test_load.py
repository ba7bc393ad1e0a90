"""Grades do not depend on load: time limits count CPU seconds, wall-clock time is only a backstop.

Fast part: the CPU meter (course/sandbox/cpu_time.py), the messages, and the retry of a run that timed out while the
machine was overloaded. Slow part (real kernels): with the machine oversubscribed about 3x by busy processes this
test starts (each bounded in time, all killed at the end), correct solutions, English and Chinese, and correct
fixtures still get full marks; a CPU-bound cell is still cut at its CPU limit, and a sleeping cell only by the
wall-clock backstop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbformat
import pytest

import course
from course.authoring.notebook_format import load_exercise, resolve_exercise
from course.grading import pipeline, scoring
from course.grading.batch import Job, default_threads, grade_jobs
from course.reports.records import CheckResult, SubmissionResult
from course.sandbox import cpu_time
from course.sandbox.limits import Limits
from course.sandbox.run import RunOutcome, run_notebook

SOLUTIONS = Path(course.__file__).resolve().parent / "solutions"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "submissions" / "ex01"
BUSY_FACTOR = 2  # busy processes per core; with one kernel per core graded beside them: about 3x oversubscribed
BUSY_LIMIT_S = 900  # each busy process ends by itself after this, whatever happens to the test
BUSY = f"import time\nend = time.monotonic() + {BUSY_LIMIT_S}\nwhile time.monotonic() < end:\n    pass"


def _tiny(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3"}
    return nb


# ---------------------------------------------------------------- fast: the meter, the messages, the retry


def test_the_meter_interpolates_between_samples_and_never_goes_back() -> None:
    meter = cpu_time.Meter()
    for t, used in [(0.0, 0.0), (1.0, 1.0), (2.0, 3.0)]:
        meter.times.append(t)
        meter.totals.append(used)
    assert meter.at(0.5) == pytest.approx(0.5) and meter.at(1.5) == pytest.approx(2.0)
    assert meter.between(0.5, 1.5) == pytest.approx(1.5) and meter.between(1.0, None) == pytest.approx(2.0)
    meter.sample(3.0, [])  # the processes are gone: what they used stays counted
    assert meter.used == 3.0


def test_a_process_tree_counts_the_children_it_waited_for() -> None:
    child = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end:\n    pass"
    parent = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {child!r}])\ntime.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 60
        while cpu_time.tree_cpu_seconds([proc.pid]) < 1.0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cpu_time.tree_cpu_seconds([proc.pid]) >= 1.0  # the child has ended: its second counts in the parent
        assert cpu_time.cpu_seconds([proc.pid]) < 1.0  # the parent itself only waited
    finally:
        proc.kill()
        proc.wait()


def test_wall_factor_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="wall_factor must be at least 1"):
        Limits(wall_factor=0.5)
    limits = Limits(cell_timeout=20, timeout=100, wall_factor=3)
    assert (limits.cell_cpu_s, limits.cell_wall_s, limits.notebook_cpu_s, limits.notebook_wall_s) == (20, 60, 100, 300)


def _scored(records: list[dict[str, Any]], **run: Any) -> SubmissionResult:
    from course.grading.files import read_submission
    from course.grading.rebuild import rebuild

    exercise = resolve_exercise("ex01")
    rebuilt = rebuild(exercise, read_submission(FIXTURES / "correct.ipynb"))
    outcome = RunOutcome(records=[*records, {"kind": "finished"}], kernel_ready_s=1.0, **run)
    job = Job(exercise, FIXTURES / "correct.ipynb")
    return scoring.score_run(job, rebuilt, outcome, None, Limits(cell_timeout=10))


CELL = {"kind": "cell", "when": "call", "check": None, "error": None, "token": False, "passed": False}


def test_the_feedback_names_the_limit_that_stopped_a_cell() -> None:
    cpu = _scored([{**CELL, "index": 5, "student_cell": 3, "timeout": True, "limit": "cpu", "died": False}])
    assert "used more than 10 CPU seconds and was stopped" in cpu.problems[0]
    wall = _scored([{**CELL, "index": 5, "student_cell": 3, "timeout": True, "limit": "wall", "died": False,
                     "cpu_s": 0.2}])  # fmt: skip
    assert "ran for more than 50 seconds of wall-clock time and was stopped (it used 0.2 CPU" in wall.problems[0]
    whole = _scored([], timed_out=True, stopped_by="cpu")
    assert whole.status == "timeout" and "The whole notebook used more than 600 CPU seconds" in whole.problems[-1]


def test_a_death_or_wall_timeout_under_overload_is_flagged_and_a_cpu_stop_is_not() -> None:
    died = {**CELL, "index": 5, "student_cell": 3, "timeout": False, "limit": None, "died": True}
    busy = _scored([died], load_peak=7.5, cores=2)
    assert busy.status == "kernel died"
    assert f"{scoring.OVERLOADED} (load 7.5 on 2 cores) during this run" in busy.flags
    starved = _scored([died], load_peak=1.0, cores=2, cpu_share=0.3)
    assert any("got 30% of the CPU time it asked for" in f for f in starved.flags)
    idle = _scored([died], load_peak=1.0, cores=2, cpu_share=0.95)
    own_kernels = _scored([died], load_peak=2.1, cores=2, cpu_share=0.9)  # the grader's own two kernels: not overload
    assert not any(f.startswith(scoring.OVERLOADED) for f in own_kernels.flags)
    assert not any(f.startswith(scoring.OVERLOADED) for f in idle.flags)
    by_wall = _scored([], timed_out=True, stopped_by="wall", load_peak=7.5, cores=2)
    assert by_wall.status == "timeout" and any(f.startswith(scoring.OVERLOADED) for f in by_wall.flags)
    by_cpu = _scored([], timed_out=True, stopped_by="cpu", load_peak=7.5, cores=2)  # CPU seconds: whatever the load
    assert by_cpu.status == "timeout" and not any(f.startswith(scoring.OVERLOADED) for f in by_cpu.flags)


def _result(status: str, flags: tuple[str, ...] = ()) -> SubmissionResult:
    check = CheckResult("q1", 1 if status == "graded" else 0, 1, False, status == "graded", "")
    return SubmissionResult("ann", "ex01", status, (check,), flags=flags)


def test_an_overloaded_timeout_is_graded_once_more_and_the_row_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    overloaded = f"{scoring.OVERLOADED} (load 6.1 on 2 cores) during this run"
    attempts = iter([_result("timeout", (overloaded,)), _result("graded")])
    monkeypatch.setattr(pipeline, "_safe_attempt", lambda job, limits: next(attempts))
    result = pipeline._retried(Job(resolve_exercise("ex01"), FIXTURES / "correct.ipynb"), Limits())
    assert (result.status, result.total) == ("graded", 1)
    assert "retried: the machine was overloaded (load 6.1 on 2 cores) during the first run" in result.flags
    once = iter([_result("timeout")])  # an idle machine: a timeout is the submission's own, graded once
    monkeypatch.setattr(pipeline, "_safe_attempt", lambda job, limits: next(once))
    assert pipeline._retried(Job(resolve_exercise("ex01"), FIXTURES / "correct.ipynb"), Limits()).status == "timeout"


# ---------------------------------------------------------------- slow: real kernels on an oversubscribed machine


@pytest.fixture(scope="module")
def overload() -> Iterator[int]:
    """Start BUSY_FACTOR busy processes per core (each ends by itself after BUSY_LIMIT_S); yield their count."""
    procs = [
        subprocess.Popen([sys.executable, "-c", BUSY], start_new_session=True)
        for _ in range(BUSY_FACTOR * cpu_time.cores())
    ]
    try:
        time.sleep(2)
        yield len(procs)
    finally:
        for proc in procs:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_correct_work_gets_full_marks_on_an_oversubscribed_machine(overload: int) -> None:
    solutions = [SOLUTIONS / "ex01_sequential.ipynb", SOLUTIONS / "ex02_functional.ipynb"]
    solutions += [p for p in [SOLUTIONS / "zh" / "ex01_sequential.ipynb"] if p.exists()]
    jobs = [Job(load_exercise(path), path, f"{path.parent.name}-{path.stem}") for path in solutions]
    ex01 = resolve_exercise("ex01")
    jobs += [Job(ex01, FIXTURES / f"{name}.ipynb") for name in ("correct", "deleted_check")]
    workers = cpu_time.cores()
    start = time.monotonic()
    results = grade_jobs(jobs, Limits(threads=default_threads(workers)), workers=workers, progress=False)
    took = time.monotonic() - start
    for result in results:
        assert (result.status, result.total) == ("graded", result.max_points), (result.student, result.problems)
        assert not any(f.startswith("retried") for f in result.flags), result.flags  # no second chance needed
    print(f"graded {len(jobs)} correct submissions beside {overload} busy processes in {took:.0f} s")


@pytest.mark.slow
def test_a_busy_cell_is_cut_at_its_cpu_limit_and_a_sleeping_one_only_by_the_wall_backstop(overload: int) -> None:
    cells = ["x = 1", "while True:\n    pass", "import time\ntime.sleep(8)", "time.sleep(600)", "y = 2"]
    limits = Limits(preload=None, cell_timeout=3, timeout=120, wall_factor=5)  # a cell: 3 CPU s, 15 s wall
    outcome = run_notebook(_tiny(*cells), limits)
    first, loop, nap, sleeper, last = (r for r in outcome.cells() if r["when"] == "call")
    assert first["passed"] and last["passed"], outcome.log_tail[-2000:]
    assert (loop["timeout"], loop["limit"]) == (True, "cpu")
    assert 3 <= loop["cpu_s"] < 6, loop  # stopped at its CPU limit (sampled every half second) ...
    assert loop["seconds"] > 1.5 * loop["cpu_s"], loop  # ... though the machine gave it well under one core
    assert nap["passed"] and not nap["timeout"] and nap["seconds"] >= 8  # 8 s asleep: over 3, but no CPU
    assert (sleeper["timeout"], sleeper["limit"]) == (True, "wall") and 15 <= sleeper["seconds"] < 40, sleeper
    assert sleeper["cpu_s"] < 1
    assert outcome.cpu_s >= loop["cpu_s"] and set(outcome.cell_cpu_s) >= {0, 1, 2, 3, 4}
    assert outcome.overload() is not None, (outcome.load_peak, outcome.cpu_share)  # the busy processes showed


@pytest.mark.slow
def test_a_busy_notebook_is_stopped_at_its_cpu_limit(overload: int) -> None:
    busy = "s = 0\nfor i in range(10**9):\n    s += i"
    outcome = run_notebook(_tiny(busy), Limits(preload=None, cell_timeout=60, timeout=4, wall_factor=20))
    assert outcome.timed_out and outcome.stopped_by == "cpu"
    assert 4 <= outcome.cpu_s < 7 and outcome.wall_s > outcome.cpu_s, (outcome.cpu_s, outcome.wall_s)


def test_a_replaced_limit_keeps_its_wall_factor() -> None:
    assert replace(Limits(wall_factor=2), cell_timeout=7).cell_wall_s == 14
