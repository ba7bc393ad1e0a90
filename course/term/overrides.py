"""Points changed by the instructor: an overrides CSV (student, check, points, reason), checked line by line.

The file given with ``--overrides`` is kept as ``--out/overrides.csv`` and applied on every later run, to every
student's record, so an override outlives any regrade; editing that copy works too (it is checked on every run).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from course.reports.records import points_value
from course.term.table import read_table

FILE = "overrides.csv"
COLUMNS = ("student", "check", "points", "reason")


@dataclass(frozen=True)
class Override:
    """The points one check of one student gets whatever the grader found, and why (shown to the student)."""

    student: str
    check: str
    points: int | float  # at most two decimals, like partial credit
    reason: str
    line: int  # in the overrides file, for the instructor


def read_overrides(path: Path, checks: Mapping[str, int], students: Collection[str]) -> tuple[Override, ...]:
    """Every row of ``path``, checked against the exercise's ``checks`` (id -> points) and the known ``students``.

    ValueError, one sentence naming the file, the line and the fix, for an unknown student or check, points that are
    not a number from 0 to the check's points with at most two decimals (partial credit gives such points too), an
    empty reason, or the same student and check twice.
    """
    found: dict[tuple[str, str], Override] = {}
    for row in read_table(path, COLUMNS, ",".join(COLUMNS)):
        where = f"{path}, line {row.line}"
        student, check, points, reason = (row.get(c) for c in COLUMNS)
        if student not in students:
            raise ValueError(f"{where}: no student {student!r} was graded or is in the folder or the roster; write the "
                             "name as the gradebook's student column shows it, or delete the row")  # fmt: skip
        if check not in checks:
            raise ValueError(f"{where}: the exercise has no check {check!r}; use one of {', '.join(checks)}")
        try:
            value = float(points)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not 0 <= value <= checks[check] or round(value, 2) != value:
            raise ValueError(f"{where}: points {points!r} for check {check!r}; write a whole number from 0 to "
                             f"{checks[check]} (the check's points), or one with at most two decimals such as "
                             "1.5")  # fmt: skip
        if not reason:
            raise ValueError(f"{where}: the reason is empty; say why the points changed (the student reads it)")
        if (student, check) in found:
            raise ValueError(f"{where}: {student!r} and check {check!r} were overridden already on line "
                             f"{found[student, check].line}; keep one row per student and check")  # fmt: skip
        found[student, check] = Override(student, check, points_value(value), reason, row.line)
    return tuple(found.values())
