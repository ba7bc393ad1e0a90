"""The score step: points per check, the status, and what the student and the instructor are told, from the signed
records of one run (kernel -> grader) and the trusted verification (course/verification/trusted.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from course.grading.rebuild import Rebuilt
from course.reports.records import CheckResult, Status, SubmissionResult, points_value
from course.sandbox.limits import Limits
from course.sandbox.run import RunOutcome
from course.verification.trusted import Verification

if TYPE_CHECKING:
    from course.grading.pipeline import Job


MAX_PROBLEMS = 6


HIDDEN_FAILED = "this hidden check did not pass; hidden checks never show their code, values or error messages"


HIDDEN_PARTIAL = "this hidden check earned part of its points; hidden checks never show their code, values or reasons"


PARTIAL = "this check earned part of its points"  # the message when the award gave no reason (it always does)


OVERLOADED = "the machine was overloaded"  # a flag score() sets and _retried reads


RETRIED_WHEN_OVERLOADED = (Status.TIMEOUT, Status.KERNEL_DIED)


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


def _check_message(record: dict[str, Any] | None, status: Status, limits: Limits) -> str:
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


def _kernel_award(record: dict[str, Any] | None) -> tuple[float, str]:
    """The share of its points a check cell awarded in the kernel and why (the plugin read it from the cell's token
    line): what counts for a check verified in the kernel only. A record without one (a run of an older plugin)
    gives all of them; one that is not a number from 0 to 1 gives none."""
    value = (record or {}).get("fraction", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return 0.0, ""
    why = (record or {}).get("award")
    return float(value), why if isinstance(why, str) else ""


def score_run(
    job: Job, rebuilt: Rebuilt, run: RunOutcome, verified: Verification | None, limits: Limits
) -> SubmissionResult:
    """Points per check from the signed records of one run and, for verified checks, the trusted verification."""
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
        status = Status.GRADER_ERROR
    elif refused:  # a fork bomb or a thread storm ran into the sandbox's process limit (course/sandbox/pids.py)
        status = Status.SANDBOX_VIOLATION
    elif run.disk_used_mb is not None:  # stopped before it could fill the disk others are graded on
        status = Status.DISK_LIMIT
    elif run.timed_out or (died and any(r["timeout"] for r in cells)):  # nbval stops a kernel it cannot interrupt
        status = Status.TIMEOUT
    elif any((r.get("error") or {}).get("ename") == "MemoryError" for r in cells):
        status = Status.OUT_OF_MEMORY
    elif died:
        status = Status.KERNEL_DIED
    elif not run.finished or not cells or run.kernel_ready_s is None:
        status = Status.GRADER_ERROR
    else:
        status = Status.GRADED
    by_check = {r["check"]: r for r in cells if r.get("check") and r["when"] == "call"}
    for r in cells:  # a setup failure (e.g. the kernel was already dead) counts when no call record exists
        if r.get("check"):
            by_check.setdefault(r["check"], r)
    checks = []
    outside = set(job.plan.verified if job.plan is not None else [])
    forged = []
    for c in job.exercise.checks:
        record = by_check.get(c.id)
        passed = bool(record and record["passed"] and record["token"] and not record.get("error"))
        message = "" if passed else _check_message(record, status, limits)
        fraction, why = _kernel_award(record) if passed else (0.0, "")
        if verified is not None and c.id in outside:
            # points, and the share of them a partial credit gives, come from the trusted process only; the
            # kernel's run gives the message of a failure
            in_kernel, (passed, why) = passed, verified.get(c.id, (False, "not verified"))
            if in_kernel and not passed:
                forged.append(c.id)
            message = "" if passed else (message if not in_kernel else why)
            fraction = verified.fraction(c.id)
        whole = passed and fraction >= 1
        if passed and not whole:
            message = why or PARTIAL
        if c.hidden and not whole and record is not None and not (record["timeout"] or record["died"]):
            # its error text or award reason may quote the expected value or the check's code
            message = HIDDEN_PARTIAL if passed and fraction > 0 else HIDDEN_FAILED
        points = points_value(c.points * fraction) if passed else 0
        checks.append(CheckResult(c.id, points, c.points, c.hidden, whole, message))
    problems = [p for r in cells if (p := _problem(rebuilt, r, limits))]
    if refused:
        problems.insert(
            0,
            f"Your notebook tried to run more than {limits.max_processes} processes or threads at once; the "
            f"sandbox refused {run.processes_refused or 'some'} of them. Checks that passed before keep their points.",
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
    # a dead kernel or a stop by the wall-clock backstop while the machine was overloaded is graded once more; a stop
    # at a CPU limit is not: CPU seconds hardly depend on load (about 1.4x under 3x contention, which the limits'
    # factor over the reference's cost covers), and an endless loop would only be run twice
    by_clock = run.stopped_by == "wall" or any(r["timeout"] and r.get("limit") != "cpu" for r in cells)
    if (status == Status.KERNEL_DIED or (status == Status.TIMEOUT and by_clock)) and (overload := run.overload()):
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


def zero_result(job: Job, status: Status, problem: str) -> SubmissionResult:
    checks = tuple(CheckResult(c.id, 0, c.points, c.hidden, False, "did not run") for c in job.exercise.checks)
    return SubmissionResult(job.student, job.exercise.name, status, checks, problems=(problem,))
