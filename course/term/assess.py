"""One student's standing in the term: the graded result with overrides, release, the answers graded by hand and
the late penalty applied.

A pure function of a result, what is known of its submission and the :class:`Term`; course/reports/gradebook.py renders
the
:class:`Standing` records it returns (gradebook columns, LMS columns, the feedback's lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from course.reports.records import points_value
from course.term.due import LatePolicy, days_late
from course.term.manual import Mark
from course.term.overrides import Override
from course.term.release import shown
from course.term.settings import Stamp, Term

if TYPE_CHECKING:  # the records course/reports/gradebook.py defines; that module imports this one
    from course.reports.records import CheckResult, SubmissionResult


@dataclass(frozen=True)
class CheckStanding:
    """One check as the term sees it: the grader's result, the points it counts for, and whether it is shown."""

    result: CheckResult
    points: int | float  # the override's when there is one, else the grader's
    override: Override | None
    release: str  # now | after_due | never
    shown: bool  # in the student's feedback now


@dataclass(frozen=True)
class Standing:
    """Everything the gradebook and the feedback say about one student beyond the grader's own result."""

    result: SubmissionResult
    checks: tuple[CheckStanding, ...]
    due: datetime | None
    submitted: Stamp | None
    late: LatePolicy
    manual: tuple[Mark, ...] = ()  # the answers graded by hand (course/term/manual.py)

    @property
    def points(self) -> int | float:
        """The points before the late penalty: the checks' (overrides included) and the answers graded by hand so
        far (see :attr:`pending`)."""
        return points_value(sum(c.points for c in self.checks) + sum(m.points or 0 for m in self.manual))

    @property
    def max_points(self) -> int:
        """The most the exercise gives: its checks' points and its answers graded by hand."""
        return self.result.max_points + sum(m.question.points for m in self.manual)

    @property
    def pending(self) -> tuple[Mark, ...]:
        """The answers graded by hand that are not graded yet: while there are any, no total is final."""
        return tuple(m for m in self.manual if m.points is None)

    @property
    def days_late(self) -> int | None:
        """Started days after the due date; None when there is a due date but no submission time."""
        if self.due is None or self.result.status == "missing":
            return 0
        return None if self.submitted is None else days_late(self.submitted.time, self.due)

    @property
    def penalty(self) -> float:
        percent = self.late.penalty_percent(self.days_late or 0)
        return round(self.points * percent / 100, 2)

    @property
    def final(self) -> float:
        return round(self.points - self.penalty, 2)

    @property
    def withheld(self) -> tuple[CheckStanding, ...]:
        return tuple(c for c in self.checks if not c.shown)


def assess(result: SubmissionResult, submitted: Stamp | None, term: Term, now: datetime) -> Standing:
    """``result``'s standing under ``term`` for feedback written at ``now``."""
    due = term.due_for(result.student)
    checks = []
    for c in result.checks:
        override = term.override(result.student, c.id)
        release = term.releases.get(c.id, "now")
        points = override.points if override is not None else c.points
        checks.append(CheckStanding(c, points, override, release, shown(release, due, now, term.released)))
    manual = term.manual.marks_for(result.student, missing=result.status == "missing")
    return Standing(result, tuple(checks), due, submitted, term.late, manual)


def parse_stamp(submission: dict[str, str] | None) -> Stamp | None:
    """The submission time a record keeps (``submitted``, ``submitted_from``), or None."""
    if not submission or not submission.get("submitted"):
        return None
    return Stamp(datetime.fromisoformat(submission["submitted"]), submission.get("submitted_from") or "")
