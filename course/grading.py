"""The grading pipeline: read -> rebuild -> run -> score, for many submissions in parallel."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from course import calibration, class_probes, data_view, forkserver, results_store, trusted
from course.files import (
    Unreadable,
    check_out_dir,
    find_submissions,
    read_submission,
    select_students,
    student_name,
    student_names,
)
from course.gradebook import CheckResult, Gradebook, SubmissionResult, earlier_results
from course.notebook_format import Exercise
from course.rebuild import Rebuilt, rebuild
from course.sandbox import Limits, RunOutcome, preflight, run_notebook, run_probes
from course.verification_plan import VerificationPlan, problems

if TYPE_CHECKING:
    from course.term.settings import Term

MAX_PROBLEMS = 6
HIDDEN_FAILED = "this hidden check did not pass; hidden checks never show their code, values or error messages"
OVERLOADED = "the machine was overloaded"  # a flag score() sets and _retried reads
RETRIED_WHEN_OVERLOADED = ("timeout", "kernel died")
UNSANDBOXED = "graded without a sandbox (--unsafe-no-sandbox): this submission could have changed other results"


__all__ = ["Job", "Unreadable", "find_submissions", "grade_folder", "grade_jobs", "grade_one", "read_submission"]


@dataclass(frozen=True)
class Job:
    """One submission to grade; ``name`` overrides the student name (two files that differ only in case)."""

    exercise: Exercise
    path: Path
    name: str | None = None
    plan: VerificationPlan | None = None  # how its checks are verified (course/verification_plan.py)

    @property
    def student(self) -> str:
        return self.name or student_name(self.path)


def _where(rebuilt: Rebuilt, record: dict[str, Any]) -> str:
    j = record.get("student_cell")
    if j is None:
        return f"check {record['check']!r}" if record.get("check") else "a cell of the exercise"
    first = rebuilt.student_cells.get(j, "")
    return f"your cell {j + 1} (`{first}`)" if first else f"your cell {j + 1}"


def _stopped(record: dict[str, Any], limits: Limits) -> str:
    """Which time limit stopped a cell: its CPU seconds, or the wall-clock backstop (a cell that waits or sleeps)."""
    if record.get("limit") == "wall":
        used = f"it used {record['cpu_s']:.1f} CPU seconds: " if isinstance(record.get("cpu_s"), int | float) else ""
        return (
            f"ran for more than {limits.cell_wall_s:g} seconds of wall-clock time and was stopped ({used}a cell that "
            "waits or sleeps uses little CPU time, so only this longer limit stops it)"
        )
    return f"used more than {limits.cell_cpu_s:g} CPU seconds and was stopped"


def _problem(rebuilt: Rebuilt, record: dict[str, Any], limits: Limits) -> str | None:
    where = _where(rebuilt, record)
    error = record.get("error") or {}
    if record["died"]:
        return f"The Python kernel died while running {where}; nothing after it could run."
    if record["timeout"]:
        return f"{where} {_stopped(record, limits)}."
    if error.get("ename") == "MemoryError":
        return f"{where} asked for more memory than the {limits.memory_mb} MB a notebook may use and was stopped."
    if error.get("ename") == "SystemExit":
        return f"{where} called sys.exit(); a notebook should not exit (the grader carried on)."
    if error and record.get("student_cell") is not None:
        first = error["evalue"].splitlines()[0] if error["evalue"] else ""
        return f"{where} raised {error['ename']}: {first}"[:400]
    return None


def _check_message(record: dict[str, Any] | None, status: str, limits: Limits) -> str:
    if record is None:
        return {
            "timeout": "did not run: the notebook ran out of time before this check",
            "kernel died": "did not run: the Python kernel had died before this check",
        }.get(status, "did not run")
    error = record.get("error")
    if record["timeout"]:
        return f"this check {_stopped(record, limits)}"
    if record["died"]:
        return "the Python kernel died during this check"
    if error:
        if error["ename"] in ("CheckFailure", "AssertionError"):
            return error["evalue"]
        if error["ename"] == "NameError":
            return f"{error['evalue']}: run the cell that defines it, and make sure it has no error"
        return f"{error['ename']}: {error['evalue']}"
    if record["passed"] and not record["token"]:
        return (
            "this check's cell finished but never confirmed that it ran: code in your notebook changed how cells "
            "run (input transformers, hooks, redirected output), so the check cannot be trusted"
        )
    return "did not pass"


def score(job: Job, rebuilt: Rebuilt, run: RunOutcome, limits: Limits) -> SubmissionResult:
    """Points per check from the verified records of one run."""
    cells = run.cells()
    died = any(r["died"] for r in cells)
    students = [r["index"] for r in cells if r.get("student_cell") is not None and r.get("index") is not None]
    slow_setup = [
        r for r in cells
        if r["timeout"] and r.get("student_cell") is None and not r.get("check") and r.get("index") is not None
        and r["index"] < min(students, default=10**9)
    ]  # fmt: skip
    refused = run.processes_refused or any((r.get("error") or {}).get("ename") == "BlockingIOError" for r in cells)
    if slow_setup:  # the exercise's own first cells ran out of time before any student code: the machine, not them
        status = "grader error"
    elif refused:  # a fork bomb or a thread storm ran into the sandbox's process limit (course/pids.py)
        status = "sandbox violation"
    elif run.disk_used_mb is not None:  # stopped before it could fill the disk others are graded on
        status = "disk limit"
    elif run.timed_out or (died and any(r["timeout"] for r in cells)):  # nbval stops a kernel it cannot interrupt
        status = "timeout"
    elif any((r.get("error") or {}).get("ename") == "MemoryError" for r in cells):
        status = "out of memory"
    elif died:
        status = "kernel died"
    elif not run.finished or not cells or run.kernel_ready_s is None:
        status = "grader error"
    else:
        status = "graded"
    by_check = {r["check"]: r for r in cells if r.get("check") and r["when"] == "call"}
    for r in cells:  # a setup failure (e.g. the kernel was already dead) counts when no call record exists
        if r.get("check"):
            by_check.setdefault(r["check"], r)
    checks = []
    verified: trusted.Verification | None = run.collected
    outside = set(trusted.verified_checks(job.exercise, job.plan))
    forged = []
    for c in job.exercise.checks:
        record = by_check.get(c.id)
        passed = bool(record and record["passed"] and record["token"] and not record.get("error"))
        message = "" if passed else _check_message(record, status, limits)
        if verified is not None and c.id in outside:
            # points come from the trusted process only; the kernel's run gives the message
            in_kernel, (passed, why) = passed, verified.get(c.id, (False, "not verified"))
            if in_kernel and not passed:
                forged.append(c.id)
            message = "" if passed else (message if not in_kernel else why)
        if c.hidden and not passed and record is not None and not (record["timeout"] or record["died"]):
            message = HIDDEN_FAILED  # its error text may quote the expected value or the check's code
        checks.append(CheckResult(c.id, c.points if passed else 0, c.points, c.hidden, passed, message))
    problems = [p for r in cells if (p := _problem(rebuilt, r, limits))]
    if refused:
        problems.insert(
            0,
            f"Your notebook tried to run more than {limits.max_processes} processes or threads at once; the "
            f"sandbox refused {run.processes_refused or 'some'} of them. Checks that passed before keep their points."
        )
    if run.disk_used_mb is not None:
        problems.insert(
            0,
            f"Your notebook wrote more than {limits.disk_mb} MB of files and was stopped; write less, or delete "
            "files you no longer need.",
        )
    if run.timed_out and run.stopped_by == "wall":
        problems.append(
            f"The whole notebook ran for more than {limits.notebook_wall_s:g} seconds of wall-clock time and was "
            "stopped."
        )
    elif run.timed_out:
        problems.append(f"The whole notebook used more than {limits.notebook_cpu_s:g} CPU seconds and was stopped.")
    if slow_setup:
        problems.append(
            f"The exercise's own setup cell ran out of time ({limits.cell_cpu_s:g} CPU seconds, or "
            f"{limits.cell_wall_s:g} seconds of wall-clock time) before any of your code ran: the grading machine "
            "was overloaded, or the limit is below what the exercise needs; raise --cell-timeout or use fewer "
            "--workers"
        )
    elif status == "grader error":
        problems.append("The grader's run ended without results. Log tail: " + run.log_tail[-600:].strip())
    if verified is not None and verified.problem:  # the trusted verification was stopped (too slow, too large)
        problems.append(verified.problem)
    flags = list(rebuilt.flags)
    # a stop at a CPU limit does not depend on load; a dead kernel or the wall-clock backstop may: graded once more
    by_clock = run.stopped_by == "wall" or any(r["timeout"] and r.get("limit") != "cpu" for r in cells)
    if (status == "kernel died" or (status == "timeout" and by_clock)) and (overload := run.overload()):
        flags.append(f"{OVERLOADED} ({overload}) during this run")  # _retried reads it
    if verified is not None:  # e.g. files in the export folder that no check reads, ignored
        flags += verified.flags
    if run.processes_killed:
        flags.append(f"{run.processes_killed} processes outlived the kernel and were killed")
    flags += [f"at run time: {f}" for f in run.runtime_flags]
    if run.rejected_lines:
        flags.append(f"{run.rejected_lines} forged or damaged result lines were ignored")
    kernel_only = job.plan.kernel_only if job.plan is not None else {}
    if kernel_only:
        flags.append(f"not verified outside the kernel (its points came from the student's own process): "
                     f"{', '.join(kernel_only)}; `course check {job.exercise.name}` says why")  # fmt: skip
    if forged:
        flags.append(f"passed in the kernel but failed verification outside it: {', '.join(forged)} (forgery?)")
    if any(r["passed"] and not r["token"] for r in cells if r.get("check")):
        flags.append("a check cell passed without printing its token (tampering?)")
    return SubmissionResult(
        student=job.student,
        exercise=job.exercise.name,
        status=status,
        checks=tuple(checks),
        notes=rebuilt.notes,
        problems=tuple(dict.fromkeys(problems))[:MAX_PROBLEMS],
        flags=tuple(flags),
        seconds=round(run.wall_s, 2),
        kernel_ready_s=run.kernel_ready_s,
    )


def _zero(job: Job, status: str, problem: str) -> SubmissionResult:
    checks = tuple(CheckResult(c.id, 0, c.points, c.hidden, False, "did not run") for c in job.exercise.checks)
    return SubmissionResult(job.student, job.exercise.name, status, checks, problems=(problem,))


def _attempt(job: Job, limits: Limits) -> SubmissionResult:
    try:
        nb = read_submission(job.path)
    except Unreadable as err:
        return _zero(job, "invalid", f"Your file could not be graded: {err}.")
    if not any(cell.get("cell_type") == "code" for cell in nb.cells):
        return _zero(job, "empty", "Your notebook has no code cells.")
    rebuilt = rebuild(job.exercise, nb)
    if job.plan is None:
        job = replace(job, plan=calibration.plan_of(job.exercise))
    plan = job.plan
    assert plan is not None
    if not plan.verified:
        return score(job, rebuilt, run_notebook(rebuilt.notebook, limits), limits)
    probes = plan.probes  # checks of the student's own classes: probed, not exported
    exported = set(plan.exported)
    definitions = class_probes.notebook_definitions(rebuilt.notebook)
    cells = []
    for cell in rebuilt.notebook.cells:
        check_id = cell.get("metadata", {}).get("course", {}).get("check")
        if check_id in exported:
            cells.append(trusted.export_cell(job.exercise, check_id, cell.source))
        cells.append(cell)
    rebuilt.notebook.cells = cells

    def collect(work: Path) -> trusted.Verification:
        if not probes:
            return trusted.verify(job.exercise, work, limits=limits, plan=plan)
        with tempfile.TemporaryDirectory(prefix="course-answers-") as answers:
            seed = secrets.randbits(62)  # the probes' inputs, arguments and weights: unknown to the student
            problem = run_probes(definitions, probes, seed, limits, Path(answers))
            verified = trusted.verify(job.exercise, work, probes=(Path(answers), seed), limits=limits, plan=plan)
        if problem:
            verified.update({c: (False, problem) for c in probes if not verified.get(c, (False, ""))[0]})
        return verified

    run = run_notebook(rebuilt.notebook, limits, collect=collect)
    return score(job, rebuilt, run, limits)


def _safe_attempt(job: Job, limits: Limits) -> SubmissionResult:
    try:
        return _attempt(job, limits)
    except Exception as err:  # noqa: BLE001  (a grader fault for this one submission must not stop the batch)
        return _zero(job, "grader error", f"The grader failed: {type(err).__name__}: {str(err)[:300]}")


def grade_one(job: Job, limits: Limits) -> SubmissionResult:
    """Grade one submission; every failure of the student's file or code ends in a result, not an exception.

    A grader error (the grader's own fault, e.g. a kernel that did not start under load) is retried once; when the
    second try fails too, the row says so and gives both reasons.
    """
    result = _retried(job, limits)
    if not limits.sandbox and UNSANDBOXED not in result.flags:
        result = replace(result, flags=(*result.flags, UNSANDBOXED))
    return result


def _retried(job: Job, limits: Limits) -> SubmissionResult:
    """One attempt, and a second one after a grader error, or after a timeout or a dead kernel while the machine
    was overloaded (score() flags those runs): the row says why it was graded twice."""
    first = _safe_attempt(job, limits)
    overloaded = next((f for f in first.flags if f.startswith(OVERLOADED)), None)
    if first.status in RETRIED_WHEN_OVERLOADED and overloaded:
        second = _safe_attempt(job, limits)
        note = "retried: " + overloaded.removesuffix(" during this run") + " during the first run"
        return replace(second, flags=(*second.flags, note))
    if first.status != "grader error":
        return first
    second = _safe_attempt(job, limits)
    if second.status != "grader error":
        return replace(second, flags=(*second.flags, f"graded on the second try; the first failed: {first.problems}"))
    reasons = [p for p in dict.fromkeys([*first.problems, *second.problems])]
    return replace(second, problems=(f"The grader tried twice and failed both times: {' / '.join(reasons)}",))


def default_threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def plan_exercises(
    exercises: list[Exercise], limits: Limits, *, calibrate: bool, require_verified: bool, progress: bool
) -> dict[Path, tuple[VerificationPlan, Limits]]:
    """Each exercise's verification plan and time limits, from its calibration (measured now where missing and
    ``calibrate``); its kernel-only checks are named on stderr, or refused with ``require_verified`` (ValueError)."""
    planned = {}
    for exercise in exercises:
        found_problems = problems(exercise)
        if found_problems:  # inconsistent declarations: nothing is graded
            raise ValueError(found_problems[0] + (f" (and {len(found_problems) - 1} more: course check)"
                                                  if len(found_problems) > 1 else ""))  # fmt: skip
        found = (calibration.for_exercise(exercise, limits, progress=progress) if calibrate
                 else calibration.stored(exercise))  # fmt: skip
        plan = calibration.plan_of(exercise, found)
        if plan.kernel_only and require_verified:
            raise ValueError(
                f"{exercise.name}: the checks {', '.join(plan.kernel_only)} can only be graded inside the student's "
                f"notebook (see `course check {exercise.path}`), and --require-verified refuses that: add probe "
                "cells or verify cells for them (GUIDE 6.2), or grade without --require-verified"
            )
        if plan.kernel_only and progress:
            for check, why in plan.kernel_only.items():
                print(f"warning: {exercise.name} check {check!r} is graded inside the student's notebook only "
                      f"({why})", file=sys.stderr)  # fmt: skip
        planned[exercise.path] = (plan, found.limits(limits) if found is not None else limits)
    return planned


def grade_jobs(
    jobs: list[Job], limits: Limits, *, workers: int | None = None, progress: bool = True, scheduler: str | None = None,
    calibrate: bool = False, require_verified: bool = False,
    planned: dict[Path, tuple[VerificationPlan, Limits]] | None = None,
) -> list[SubmissionResult]:
    """Grade ``jobs`` with ``workers`` submissions at a time (default: one per CPU core), in the order given.

    With ``scheduler`` (tcp://host:port) the jobs run on that Dask cluster instead (course/executors.py). Kernels see
    only the data each exercise's own cells load (``Limits.data_view``, course/data_view.py), unless ``limits`` names
    a view already; a Dask worker writes its own view from its own data folder.
    """
    exercises = {job.exercise.path: job.exercise for job in jobs}
    planned = planned or plan_exercises(list(exercises.values()), limits, calibrate=calibrate,
                                        require_verified=require_verified, progress=progress)  # fmt: skip
    jobs = [replace(job, plan=job.plan or planned[job.exercise.path][0]) for job in jobs]
    given = limits.data_view
    views = {path: given if given is not None else data_view.for_exercise(ex) for path, ex in exercises.items()}
    limits_of = {path: replace(planned[path][1], data_view=view) for path, view in views.items()}
    groups = {path: [i for i, job in enumerate(jobs) if job.exercise.path == path] for path in exercises}
    if scheduler:
        from course.executors import grade_on_dask

        done: dict[int, SubmissionResult] = {}
        for path, group in groups.items():  # one exercise at a time: the limits (its data view) are per exercise
            graded = grade_on_dask([jobs[i] for i in group], limits_of[path], scheduler, progress=progress)
            done.update(zip(group, graded))
        return [done[i] for i in range(len(jobs))]
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers}), e.g. --workers 2")
    preflight(limits)
    slots = workers
    for path, group in groups.items():
        data_view.folder(views[path])  # written now: a grader without its data stops here, not in every kernel
        if limits.sandbox and limits.fork_server:  # their servers import TensorFlow while the trusted workers start
            forkserver.SLOTS.prewarm(limits_of[path], min(slots, len(group)))
            slots -= min(slots, len(group))
    for exercise in exercises.values():
        trusted.POOL.prewarm(exercise, min(workers, len(jobs)), limits=limits)
    results: dict[int, SubmissionResult] = {}
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(jobs), file=sys.stderr, disable=not progress, unit="nb", desc="grading") as bar,
    ):
        futures = {pool.submit(grade_one, job, limits_of[job.exercise.path]): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as err:  # noqa: BLE001  (grade_one catches everything; this is the last line)
                results[i] = _zero(jobs[i], "grader error", f"The grader failed: {type(err).__name__}: {err}")
            bar.update(1)
    return [results[i] for i in range(len(jobs))]


def _jobs(exercise: Exercise, paths: list[Path]) -> list[Job]:
    """One job per path, each with its own student name, decided for the whole folder at once (files.student_names:
    readable whatever the bytes, distinct even when two names decode or display alike)."""
    return [Job(exercise, p, name) for p, name in zip(paths, student_names(paths))]


def grade_folder(
    exercise: Exercise,
    folder: Path,
    out_dir: Path | None = None,
    *,
    limits: Limits | None = None,
    workers: int | None = None,
    progress: bool = True,
    roster: dict[str, dict[str, str]] | None = None,
    scheduler: str | None = None,
    only: list[str] | None = None,
    term: Term | None = None,
    calibrate: bool = False,
    require_verified: bool = False,
) -> Gradebook:
    """Grade every ``*.ipynb`` in ``folder`` (or only the students ``only`` names) against ``exercise``.

    With ``out_dir``, the results are merged into it (:meth:`Gradebook.write`: other students' rows stay), each
    graded file's bytes are kept there read-only and graded from that copy, the run is appended to its runs.jsonl
    (course/results_store.py), and the gradebook returned is the merged one. A bad ``out_dir``, a damaged record or
    an unknown name in ``only`` stops the run before anything is graded or written. ``calibrate``: measure the
    exercise's calibration first when none is stored (course/calibration.py); ``require_verified``: refuse an
    exercise with a check that can only be graded inside the student's notebook.
    """
    workers = workers or os.cpu_count() or 1
    limits = limits or Limits(threads=default_threads(workers))
    start = time.monotonic()
    if scheduler:  # an unreachable cluster is said before anything else is done (ValueError: one sentence)
        from course.executors import connect

        connect(scheduler).close()
    planned = plan_exercises([exercise], limits, calibrate=calibrate, require_verified=require_verified,
                             progress=progress)  # fmt: skip
    if out_dir is not None:
        check_out_dir(out_dir)  # before grading, not after the whole class ran
        results_store.check_places(out_dir)
    jobs = _jobs(exercise, find_submissions(folder))  # names decided for the whole folder, with or without --only
    handed_in = [job.student for job in jobs]  # none of them is "missing", graded now or not
    if only is not None:
        jobs = [jobs[i] for i in select_students([j.student for j in jobs], only, folder)]
    originals = [job.path for job in jobs]
    kept: dict[str, dict[str, str]] = {}
    fresh: list[Path] = []  # copies this run made: removed again if it stops before writing its records
    if out_dir is not None:
        shape = tuple((c.id, c.points, c.hidden) for c in exercise.checks)
        earlier_results(out_dir, exercise.name, shape, [job.student for job in jobs])  # refuses before grading
        for i, job in enumerate(jobs):
            if (copy := results_store.keep_submission(out_dir, job.student, job.path)) is not None:
                kept[job.student] = copy[0]  # graded from the read-only copy: the kept bytes are the graded bytes
                jobs[i] = Job(exercise, out_dir / copy[0]["kept"], job.student)
                fresh += [jobs[i].path] if copy[1] else []
    try:
        results = grade_jobs(jobs, limits, workers=workers, progress=progress, scheduler=scheduler, planned=planned)
    except BaseException:
        results_store.discard(fresh)  # a run that stopped (no scheduler, Ctrl-C) leaves --out as it found it
        raise
    book = Gradebook(tuple(results), roster, kept, term=term)
    if out_dir is not None:
        book = book.write(out_dir, handed_in=handed_in)
        status = {r.student: r.status for r in book.results}
        copies = [kept.get(job.student, {}) for job in jobs]
        files = [{"path": os.fsdecode(path), "student": r.student, "sha256": copy.get("sha256"),
                  "kept": copy.get("kept"), "status": r.status}
                 for path, copy, r in zip(originals, copies, results)]  # fmt: skip
        added = [s for s in book.updated if status[s] == "missing"]
        chosen = [job.student for job in jobs] if only is not None else None
        results_store.append_run(out_dir, results_store.run_entry(exercise.name, folder, chosen, files, added))
    if progress:
        print(f"graded {len(jobs)} submissions in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return book
