"""Reports for the instructor from result records: item analysis (pass rate and discrimination per check), LMS
gradebook exports and the class report (course/reports/class_report.py).

Pure functions of ``SubmissionResult`` records; every text cell goes through ``spreadsheet_safe``, every name through
``display_name`` (one line, no bidi or other invisible characters). None of them holds a check's message, so nothing
a hidden check says can reach them.
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course.grading.files import display_name
from course.reports.class_report import FILE as CLASS_REPORT
from course.reports.class_report import ClassReport, ReportContext, render
from course.reports.records import SubmissionResult
from course.reports.text import clean, spreadsheet_safe

NOT_RUN = ("invalid", "empty", "grader error", "missing")  # statuses whose checks never ran: not an attempt
ROSTER_FIELDS = ("name", "id", "sis_user_id", "sis_login_id", "section", "email", "username")
REPORT_FILES = ("item_analysis.csv", "item_analysis.html", "canvas.csv", "moodle.csv", CLASS_REPORT)


@dataclass(frozen=True)
class ItemStats:
    """How the class did on one check."""

    check: str
    hidden: bool
    points: int
    attempted: int  # submissions whose notebook ran (status not in NOT_RUN)
    passed: int
    mean_points: float  # over the attempts; 0 when nobody attempted
    discrimination: float | None = None  # :func:`item_rest_correlation` over the attempts

    @property
    def pass_rate(self) -> float:
        return self.passed / self.attempted if self.attempted else 0.0


def item_analysis(results: list[SubmissionResult]) -> tuple[list[ItemStats], dict[str, int]]:
    """One record per check in the exercise's order, and how many submissions ended with each status."""
    ran = [r for r in results if r.status not in NOT_RUN]
    items = []
    for check in results[0].checks if results else ():
        mine = [(c, r.total) for r in ran for c in r.checks if c.id == check.id]
        points = [c.points for c, _ in mine]
        mean = sum(points) / len(mine) if mine else 0.0
        passed = sum(c.passed for c, _ in mine)
        rest = [total - c.points for c, total in mine]
        items.append(ItemStats(check.id, check.hidden, check.max_points, len(mine), passed, mean,
                               item_rest_correlation(points, rest)))  # fmt: skip
    return items, dict(sorted(Counter(r.status for r in results).items()))


def item_rest_correlation(points: Sequence[float], rest: Sequence[float]) -> float | None:
    """How well a check separates strong and weak submissions: Pearson's r between its points and each student's
    points on the other checks (the point-biserial correlation when the check gives all or nothing; leaving the
    check out of the other side keeps it from correlating with itself). None with fewer than 3 students, or when the
    check's points or the rest do not vary."""
    if len(points) < 3 or len(set(points)) < 2 or len(set(rest)) < 2:
        return None
    return statistics.correlation(points, rest)


def _csv(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


ITEM_HEADER = ["check", "visibility", "points", "attempted", "passed", "pass_rate", "mean_points"]


def _item_rows(items: list[ItemStats]) -> list[list[Any]]:
    return [
        [i.check, "hidden" if i.hidden else "visible", i.points, i.attempted, i.passed, f"{i.pass_rate:.3f}",
         f"{i.mean_points:.3f}"]
        for i in items
    ]  # fmt: skip


def item_analysis_csv(results: list[SubmissionResult]) -> str:
    """item_analysis.csv: one row per check (the status counts are in the HTML page and the command's output)."""
    items, _ = item_analysis(results)
    return _csv([ITEM_HEADER, *_item_rows(items)])


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(clean(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(clean(str(v)))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def item_analysis_html(results: list[SubmissionResult]) -> str:
    """A standalone page: the per-check table, then the number of submissions per status (no dates: re-runs match)."""
    items, statuses = item_analysis(results)
    name = html.escape(results[0].exercise if results else "")
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Item analysis: {name}</title></head><body>\n'
        f"<h1>Item analysis: {name}</h1>\n<p>{len(results)} submissions; pass rate and mean points are over the "
        f"{sum(i.attempted for i in items[:1])} whose notebook ran.</p>\n"
        f"{_table(ITEM_HEADER, _item_rows(items))}\n<h2>Submissions per status</h2>\n"
        f"{_table(['status', 'submissions'], [[s, n] for s, n in statuses.items()])}\n</body></html>\n"
    )


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """``student`` (the submission's file stem) -> LMS identity columns, from a CSV with a ``student`` column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            fields = rows[0].keys() if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"the roster {path} could not be read ({err}); pass a UTF-8 CSV file") from None
    if "student" not in fields:
        raise ValueError(
            f"{path.name} has no 'student' column; its first row must name the columns, e.g. "
            f"student,{','.join(ROSTER_FIELDS)} (student = the submission's file name without .ipynb)"
        )
    roster: dict[str, dict[str, str]] = {}
    for row in rows:
        student = (row.get("student") or "").strip()
        if student in roster:
            raise ValueError(f"{path.name}: student {student!r} appears twice; keep one row per submission file")
        roster[student] = {k: (row.get(k) or "").strip() for k in ROSTER_FIELDS}
    return roster


def _columns(results: list[SubmissionResult]) -> tuple[list[str], list[int]]:
    checks = results[0].checks if results else ()
    return [f"{results[0].exercise} {c.id}" for c in checks], [c.max_points for c in checks]


def _points(result: SubmissionResult) -> list[int | float]:
    return [c.points for c in result.checks]


def canvas_csv(results: list[SubmissionResult], roster: dict[str, dict[str, str]] | None = None) -> str:
    """Canvas's gradebook import: identity columns, one column per check, and a "Points Possible" second row.

    Without a roster entry, Student and SIS User ID are the file stem and ID is empty (Canvas then matches on it).
    """
    names, possible = _columns(results)
    rows: list[list[Any]] = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names]]
    rows.append(["Points Possible", "", "", "", "", *possible])
    for r in sorted(results, key=lambda r: r.student):
        who = (roster or {}).get(r.student, {})
        shown = display_name(r.student)
        identity = [who.get("name") or shown, who.get("id", ""), who.get("sis_user_id") or shown,
                    who.get("sis_login_id", ""), who.get("section", "")]  # fmt: skip
        rows.append([*identity, *_points(r)])
    return _csv(rows)


def moodle_csv(results: list[SubmissionResult], roster: dict[str, dict[str, str]] | None = None) -> str:
    """Moodle's "Import grades: CSV file": map Username (or Email address) to the user, each check to a grade item."""
    names, _ = _columns(results)
    rows: list[list[Any]] = [["Username", "Email address", *names]]
    for r in sorted(results, key=lambda r: r.student):
        who = (roster or {}).get(r.student, {})
        rows.append([who.get("username") or display_name(r.student), who.get("email", ""), *_points(r)])
    return _csv(rows)


def class_report(results: list[SubmissionResult], context: ReportContext | None = None) -> ClassReport:
    """The records report.html is drawn from."""
    items, statuses = item_analysis(results)
    ran = tuple(r.status not in NOT_RUN for r in results)
    return ClassReport(tuple(results), ran, tuple(items), statuses, context or ReportContext())


def report_files(
    results: list[SubmissionResult],
    roster: dict[str, dict[str, str]] | None = None,
    context: ReportContext | None = None,
) -> dict[str, str]:
    """File name -> text of every report, written next to gradebook.csv (``context``: what report.html shows
    beyond the results, course/reports/class_report.py)."""
    return {
        "item_analysis.csv": item_analysis_csv(results),
        "item_analysis.html": item_analysis_html(results),
        "canvas.csv": canvas_csv(results, roster),
        "moodle.csv": moodle_csv(results, roster),
        CLASS_REPORT: render(class_report(results, context)),
    }
