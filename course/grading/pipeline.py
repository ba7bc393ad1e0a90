"""The grading path of one submission: a list of named steps over typed records.

    read -> rebuild -> instrument -> run -> probe -> verify -> score          (then, per batch: write)

Each step is a function of the record the step before it returned and the run's :class:`Limits`, and of nothing
else: no step calls back into another. A step may end the path early by returning the submission's result (an
unreadable file, an empty notebook). Where each step's work is done:

- read: the submission's bytes, read-only, without following links (course/grading/files.py);
- rebuild: the notebook to run, the student's cells around the instructor's locked and check cells
  (course/grading/rebuild.py);
- instrument: an export cell before each check verified on exported objects (course/verification/trusted.py);
- run: the notebook under nbval in the sandbox; the regular files it exported are kept (course/sandbox/run.py);
- probe: the student's classes on the probes' secret-seeded inputs, in a sandboxed process of their own
  (course/kernel_side/probe_runner.py);
- verify: the trusted worker runs the check cells on the exported objects and compares the probes' answers with the
  reference's (course/verification/trusted.py);
- score: points, status and messages (course/grading/scoring.py).

``write`` is the batch's: course/grading/batch.py merges every result into ``--out`` (course/reports/gradebook.py).
:func:`grade_one` runs the steps, retries once after a grader error or an overloaded machine, and never raises for
anything a submission does.
"""

from __future__ import annotations

import copy
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from course.authoring.notebook_format import Exercise
from course.grading.files import Unreadable, read_submission, student_name
from course.grading.rebuild import Rebuilt, rebuild
from course.grading.scoring import OVERLOADED, RETRIED_WHEN_OVERLOADED, score_run, zero_result
from course.reports.records import Status, SubmissionResult
from course.sandbox.limits import Limits
from course.sandbox.run import RunOutcome, run_notebook, run_probes
from course.verification import calibration, class_probes, trusted
from course.verification.plan import VerificationPlan

UNSANDBOXED = "graded without a sandbox (--unsafe-no-sandbox): this submission could have changed other results"


@dataclass(frozen=True)
class Job:
    """One submission to grade; ``name`` overrides the student name (two files that differ only in case)."""

    exercise: Exercise
    path: Path
    name: str | None = None
    plan: VerificationPlan | None = None  # how its checks are verified (course/verification/plan.py)

    @property
    def student(self) -> str:
        return self.name or student_name(self.path)


@dataclass(frozen=True)
class Submitted:
    """read: the submission's notebook."""

    job: Job
    notebook: Any  # nbformat.NotebookNode


@dataclass(frozen=True)
class Prepared:
    """rebuild: the notebook to run and what was noticed on the way; the job carries its verification plan."""

    job: Job
    rebuilt: Rebuilt


@dataclass(frozen=True)
class Instrumented:
    """instrument: the notebook to run, with an export cell before each check verified on exported objects."""

    job: Job
    rebuilt: Rebuilt
    notebook: Any


@dataclass(frozen=True)
class Ran:
    """run: what came back from the sandbox, and the folder holding the objects the kernel exported."""

    job: Job
    rebuilt: Rebuilt
    run: RunOutcome
    folder: Path  # a private temporary folder: export/ (kept files) and answers/ (the probe step's)

    @property
    def export(self) -> Path:
        return self.folder / "export"


@dataclass(frozen=True)
class Probed:
    """probe: the student's classes' answers to the probes (None: no check is probed), with the seed and what went
    wrong running them."""

    ran: Ran
    answers: Path | None = None
    seed: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Verified:
    """verify: the trusted verification (None when no check is verified outside the kernel)."""

    job: Job
    rebuilt: Rebuilt
    run: RunOutcome
    verification: trusted.Verification | None


def read(job: Job, limits: Limits) -> Submitted | SubmissionResult:
    try:
        notebook = read_submission(job.path)
    except Unreadable as err:
        return zero_result(job, Status.INVALID, f"Your file could not be graded: {err}.")
    if not any(cell.get("cell_type") == "code" for cell in notebook.cells):
        return zero_result(job, Status.EMPTY, "Your notebook has no code cells.")
    return Submitted(job, notebook)


def rebuild_notebook(submitted: Submitted, limits: Limits) -> Prepared:
    job = submitted.job
    if job.plan is None:  # a job made by hand: the exercise's stored calibration decides
        job = replace(job, plan=calibration.plan_of(job.exercise))
    return Prepared(job, rebuild(job.exercise, submitted.notebook))


def instrument(prepared: Prepared, limits: Limits) -> Instrumented:
    job, plan = prepared.job, prepared.job.plan
    exported = set(plan.exported) if plan is not None else set()
    cells = []
    for cell in prepared.rebuilt.notebook.cells:
        check_id = cell.get("metadata", {}).get("course", {}).get("check")
        if check_id in exported:
            cells.append(trusted.export_cell(job.exercise, check_id, cell.source))
        cells.append(cell)
    notebook = copy.copy(prepared.rebuilt.notebook)  # the rebuilt notebook stays as it was
    notebook.cells = cells
    return Instrumented(job, prepared.rebuilt, notebook)


def run(instrumented: Instrumented, limits: Limits) -> Ran:
    folder = Path(tempfile.mkdtemp(prefix="course-job-"))
    try:
        outcome = run_notebook(instrumented.notebook, limits, keep_export=folder / "export")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Ran(instrumented.job, instrumented.rebuilt, outcome, folder)


def probe(ran: Ran, limits: Limits) -> Probed:
    probes = ran.job.plan.probes if ran.job.plan is not None else {}
    if not probes:
        return Probed(ran)
    seed = secrets.randbits(62)  # the probes' inputs, arguments and weights: unknown to the student
    definitions = class_probes.notebook_definitions(ran.rebuilt.notebook)
    answers = ran.folder / "answers"
    answers.mkdir()
    try:
        problem = run_probes(definitions, probes, seed, limits, answers)
    except BaseException:
        shutil.rmtree(ran.folder, ignore_errors=True)
        raise
    return Probed(ran, answers, seed, problem)


def verify(probed: Probed, limits: Limits) -> Verified:
    ran = probed.ran
    plan = ran.job.plan
    try:
        if plan is None or not plan.verified:
            return Verified(ran.job, ran.rebuilt, ran.run, None)
        if ran.run.export_problem:
            verification = trusted.Verification({c: (False, ran.run.export_problem) for c in plan.exported})
        else:
            given = (probed.answers, probed.seed) if probed.answers is not None and probed.seed is not None else None
            lang = ran.rebuilt.notebook.metadata.get("lang") or "en"  # the submission's, kept by the rebuild
            verification = trusted.verify(ran.job.exercise, ran.export, probes=given, limits=limits, plan=plan,
                                          lang=lang)  # fmt: skip
        if probed.problem:
            for check in plan.probes:
                if not verification.get(check, (False, ""))[0]:
                    verification[check] = (False, probed.problem)
        if ran.run.export_skipped:
            shown = ", ".join(ran.run.export_skipped[:8])
            verification.flags.insert(0, f"export folder entries that are not files, ignored: {shown}")
        return Verified(ran.job, ran.rebuilt, ran.run, verification)
    finally:
        shutil.rmtree(ran.folder, ignore_errors=True)


def score(verified: Verified, limits: Limits) -> SubmissionResult:
    return score_run(verified.job, verified.rebuilt, verified.run, verified.verification, limits)


Step = Callable[[Any, Limits], Any]
STEPS: tuple[tuple[str, Step], ...] = (
    ("read", read),
    ("rebuild", rebuild_notebook),
    ("instrument", instrument),
    ("run", run),
    ("probe", probe),
    ("verify", verify),
    ("score", score),
)


def attempt(job: Job, limits: Limits) -> SubmissionResult:
    """The steps, in order, on one submission; the first result a step returns is the submission's."""
    record: Any = job
    for _name, step in STEPS:
        record = step(record, limits)
        if isinstance(record, SubmissionResult):
            return record
    raise AssertionError("the score step returns the submission's result")


def _safe_attempt(job: Job, limits: Limits) -> SubmissionResult:
    try:
        return attempt(job, limits)
    except Exception as err:  # noqa: BLE001  (a grader fault for this one submission must not stop the batch)
        return zero_result(job, Status.GRADER_ERROR, f"The grader failed: {type(err).__name__}: {str(err)[:300]}")


def grade_one(job: Job, limits: Limits) -> SubmissionResult:
    """Grade one submission; every failure of the student's file or code ends in a result, not an exception.

    A grader error (the grader's own fault, e.g. a kernel that did not start under load) is retried once, and so is
    a timeout or a dead kernel while the machine was overloaded; the row says why it was graded twice.
    """
    result = _retried(job, limits)
    if not limits.sandbox and UNSANDBOXED not in result.flags:
        result = replace(result, flags=(*result.flags, UNSANDBOXED))
    return result


def _retried(job: Job, limits: Limits) -> SubmissionResult:
    first = _safe_attempt(job, limits)
    overloaded = next((f for f in first.flags if f.startswith(OVERLOADED)), None)
    if first.status in RETRIED_WHEN_OVERLOADED and overloaded:
        second = _safe_attempt(job, limits)
        note = "retried: " + overloaded.removesuffix(" during this run") + " during the first run"
        return replace(second, flags=(*second.flags, note))
    if first.status != Status.GRADER_ERROR:
        return first
    second = _safe_attempt(job, limits)
    if second.status != Status.GRADER_ERROR:
        return replace(second, flags=(*second.flags, f"graded on the second try; the first failed: {first.problems}"))
    reasons = [p for p in dict.fromkeys([*first.problems, *second.problems])]
    return replace(second, problems=(f"The grader tried twice and failed both times: {' / '.join(reasons)}",))
