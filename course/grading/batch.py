"""A batch of submissions: plan each exercise's verification and limits, grade the submissions in parallel (each
through course/grading/pipeline.py), then write the results into ``--out`` (the pipeline's last step)."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from course.authoring.notebook_format import Exercise
from course.grading import results_store
from course.grading.files import (
    Unreadable,
    check_out_dir,
    find_submissions,
    read_submission,
    select_students,
    student_names,
)
from course.grading.pipeline import Job, grade_one
from course.grading.scoring import zero_result
from course.reports.gradebook import Gradebook, earlier_results
from course.reports.records import Status, SubmissionResult
from course.sandbox import data_view, forkserver
from course.sandbox.limits import Limits
from course.sandbox.run import preflight
from course.verification import calibrate as calibrate_one
from course.verification import calibration, trusted
from course.verification.plan import VerificationPlan, problems

if TYPE_CHECKING:
    from course.term.settings import Term


__all__ = ["Job", "Unreadable", "find_submissions", "grade_folder", "grade_jobs", "grade_one", "read_submission"]


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
        found = (calibrate_one.for_exercise(exercise, limits, progress=progress) if calibrate
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
    jobs: list[Job],
    limits: Limits,
    *,
    workers: int | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    calibrate: bool = False,
    require_verified: bool = False,
    planned: dict[Path, tuple[VerificationPlan, Limits]] | None = None,
) -> list[SubmissionResult]:
    """Grade ``jobs`` with ``workers`` submissions at a time (default: one per CPU core), in the order given.

    With ``scheduler`` (tcp://host:port) the jobs run on that Dask cluster instead (course/grading/executors.py).
    Kernels see
    only the data each exercise's own cells load (``Limits.data_view``, course/sandbox/data_view.py), unless ``limits``
    names
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
        from course.grading.executors import grade_on_dask

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
                problem = f"The grader failed: {type(err).__name__}: {err}"
                results[i] = zero_result(jobs[i], Status.GRADER_ERROR, problem)
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
    (course/grading/results_store.py), and the gradebook returned is the merged one. A bad ``out_dir``, a damaged
    record or
    an unknown name in ``only`` stops the run before anything is graded or written. ``calibrate``: measure the
    exercise's calibration first when none is stored (course/verification/calibration.py); ``require_verified``: refuse
    an
    exercise with a check that can only be graded inside the student's notebook.
    """
    workers = workers or os.cpu_count() or 1
    limits = limits or Limits(threads=default_threads(workers))
    start = time.monotonic()
    if scheduler:  # an unreachable cluster is said before anything else is done (ValueError: one sentence)
        from course.grading.executors import connect

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
    book = Gradebook(tuple(results), roster, kept, term=term, exercise=exercise)
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
