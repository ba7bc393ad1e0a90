"""What the grader concluded about one submission: typed records, shared by the gradebook, the reports, the term
policies and the Dask workers (which send them back as plain dicts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from course.grading import results_store as store


class Status(StrEnum):
    """How the grading of one submission ended (what each tells the student: "status.<value>" in course/i18n/)."""

    GRADED = "graded"
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel died"
    OUT_OF_MEMORY = "out of memory"
    DISK_LIMIT = "disk limit"
    SANDBOX_VIOLATION = "sandbox violation"
    EMPTY = "empty"
    INVALID = "invalid"
    GRADER_ERROR = "grader error"
    MISSING = "missing"


STATUSES = tuple(status.value for status in Status)


NO_SUBMISSION = "no submission was found"  # the message of every check of a ``missing`` row


def points_value(value: float) -> int | float:
    """Points as the grader keeps and shows them: rounded to 0.01, and an int when whole (``2``, never ``2.0``).

    Partial credit (``toolkit.checks.award``) and overrides may give parts of a point; every sum goes through this
    too, so 0.1 + 0.2 is 0.3 in the gradebook, the records and the feedback.
    """
    rounded = round(float(value), 2)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(frozen=True)
class CheckResult:
    """One check of one submission."""

    id: str
    points: int | float  # up to the check's points, in steps of 0.01 (partial credit): see points_value
    max_points: int
    hidden: bool
    passed: bool  # earned all its points
    message: str  # for the student; empty when passed (a partial credit's reason when it earned part of them)


@dataclass(frozen=True)
class SubmissionResult:
    """Everything the grader concluded about one submission."""

    student: str
    exercise: str
    status: Status
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()  # trusted cells edited/moved/..., in plain words (student and instructor)
    problems: tuple[str, ...] = ()  # what went wrong while running, in plain words
    flags: tuple[str, ...] = ()  # suspicious calls, for the instructor only
    seconds: float = 0.0
    kernel_ready_s: float | None = None
    lang: str = "en"  # the submission's language (its metadata.lang), which its feedback is written in

    @property
    def total(self) -> int | float:
        return points_value(sum(c.points for c in self.checks))

    @property
    def max_points(self) -> int:
        return sum(c.max_points for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total, "max_points": self.max_points}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        """The inverse of ``to_dict`` (results come back from Dask workers as plain dicts)."""
        fields = {k: v for k, v in data.items() if k not in ("total", "max_points")}
        fields["checks"] = tuple(CheckResult(**c) for c in fields["checks"])
        fields["status"] = Status(fields["status"])
        for name in ("notes", "problems", "flags"):
            fields[name] = tuple(fields.get(name, ()))
        return cls(**fields)

    @classmethod
    def from_record(cls, data: Any) -> SubmissionResult:
        """A result read back from a record in ``--out``; ValueError saying what is wrong when it was edited badly."""
        store.check_result(data)
        result = cls.from_dict(data)
        for name, value in (("total", result.total), ("max_points", result.max_points)):
            if data.get(name, value) != value:
                raise ValueError(f"its {name} is {data[name]!r} but its checks add up to {value}")
        return result

    @property
    def shape(self) -> tuple[tuple[str, int, bool], ...]:
        """The exercise's checks as this result saw them: (id, points, hidden) each; a new version differs."""
        return tuple((c.id, c.max_points, c.hidden) for c in self.checks)


def missing_result(student: str, like: SubmissionResult) -> SubmissionResult:
    """The row of a roster student without a submission: 0 points, each of ``like``'s checks "not found"."""
    checks = tuple(CheckResult(c.id, 0, c.max_points, c.hidden, False, NO_SUBMISSION) for c in like.checks)
    return SubmissionResult(student, like.exercise, Status.MISSING, checks)
