"""Grading results as records, and their renderings: the gradebook CSV, Markdown feedback, HTML for notebooks."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from course.files import check_out_dir, safe_file_name
from course.starters import write_atomically

STATUSES = {
    "graded": "Your notebook ran to the end.",
    "timeout": "Your notebook ran out of time and was stopped; checks that passed before that keep their points.",
    "kernel died": "The Python process running your notebook died (for example os._exit(), a crash in native "
    "code, or running out of memory); checks that passed before that keep their points.",
    "out of memory": "Your notebook asked for more memory than a notebook may use; that cell was stopped, and "
    "checks that passed keep their points.",
    "sandbox violation": "Your notebook tried to start more processes or threads than a notebook may; the "
    "sandbox refused them. Checks that passed before that keep their points.",
    "empty": "Your notebook has no code cells, so there was nothing to grade.",
    "invalid": "Your file could not be read as a Jupyter notebook.",
    "grader error": "The grader could not run your notebook. This is not your fault: tell your instructor.",
}
# Terminal escapes (colours, OSC links) and other control characters that students' errors carry.
_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs stay)."""
    return _ESCAPES.sub("", text)


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet will not run as a formula (``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``)."""
    if isinstance(value, str):
        value = clean(value).replace("\t", " ")
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


@dataclass(frozen=True)
class CheckResult:
    """One check of one submission."""

    id: str
    points: int
    max_points: int
    hidden: bool
    passed: bool
    message: str  # for the student; empty when passed


@dataclass(frozen=True)
class SubmissionResult:
    """Everything the grader concluded about one submission."""

    student: str
    exercise: str
    status: str
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()  # trusted cells edited/moved/..., in plain words (student and instructor)
    problems: tuple[str, ...] = ()  # what went wrong while running, in plain words
    flags: tuple[str, ...] = ()  # suspicious calls, for the instructor only
    seconds: float = 0.0
    kernel_ready_s: float | None = None

    @property
    def total(self) -> int:
        return sum(c.points for c in self.checks)

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
        for name in ("notes", "problems", "flags"):
            fields[name] = tuple(fields.get(name, ()))
        return cls(**fields)


def gradebook_rows(results: list[SubmissionResult]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the gradebook: one row per student, one column per check."""
    check_ids = [c.id for c in results[0].checks] if results else []
    header = ["student", *check_ids, "total", "max_points", "status", "notes"]
    rows = []
    for r in sorted(results, key=lambda r: r.student):
        points = {c.id: c.points for c in r.checks}
        notes = "; ".join([*r.notes, *(f"review: {f}" for f in r.flags)])
        rows.append([r.student, *(points[i] for i in check_ids), r.total, r.max_points, r.status, notes])
    return header, rows


def gradebook_csv(results: list[SubmissionResult]) -> str:
    header, rows = gradebook_rows(results)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(h) for h in header])
    writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def feedback_markdown(result: SubmissionResult) -> str:
    """The feedback file for one student (flags for the instructor are left out)."""
    lines = [
        f"# Feedback: {result.exercise}",
        "",
        f"**{result.total} / {result.max_points} points** - {STATUSES[result.status]}",
        "",
        "## Checks",
        "",
    ]
    for c in result.checks:
        label = f"hidden check `{c.id}`" if c.hidden else f"check `{c.id}`"
        mark = "passed" if c.passed else "failed"
        lines.append(f"- {'✓' if c.passed else '✗'} {label}: {mark}, {c.points}/{c.max_points} points")
        if not c.passed and c.message:
            lines.extend(f"    {line}" if i else f"  - {line}" for i, line in enumerate(c.message.splitlines()))
    if result.problems:
        lines += ["", "## What happened while running your notebook", ""]
        lines += [f"- {p}" for p in result.problems]
    if result.notes:
        lines += ["", "## Changes to the exercise's own cells", ""]
        lines += [f"- {n}" for n in result.notes]
        lines += ["", "Check and locked cells are always taken from the exercise itself, so editing, deleting or "
                  "moving them changes nothing."]  # fmt: skip
    return clean("\n".join(lines)) + "\n"


def feedback_file_name(student: str) -> str:
    return safe_file_name(student, ".md")


def gradebook_html(results: list[SubmissionResult]) -> str:
    header, rows = gradebook_rows(results)
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(clean(str(v)))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class Gradebook:
    """The results of one grading run; displays itself as a table in a notebook."""

    results: tuple[SubmissionResult, ...]
    roster: dict[str, dict[str, str]] | None = None  # file stem -> LMS identity, for canvas.csv and moodle.csv

    def __str__(self) -> str:
        return gradebook_csv(list(self.results))

    def _repr_html_(self) -> str:
        return gradebook_html(list(self.results))

    def write(self, out_dir: Path) -> None:
        """Write gradebook.csv, the reports (course/reports.py) and feedback/<student>.md atomically; drop feedback
        files of past runs.

        Refuses (ValueError) an ``out_dir`` that is or holds a link where it writes: nothing goes outside it.
        """
        check_out_dir(out_dir)
        feedback_dir = out_dir / "feedback"
        feedback_dir.mkdir(exist_ok=True)
        written = set()
        for r in self.results:
            target = feedback_dir / feedback_file_name(r.student)
            write_atomically(target, feedback_markdown(r))
            written.add(target.name)
        for old in feedback_dir.glob("*.md"):
            if old.name not in written:
                old.unlink()
        write_atomically(out_dir / "gradebook.csv", gradebook_csv(list(self.results)))
        from course.reports import report_files  # reports build on this module's records

        for name, text in report_files(list(self.results), self.roster).items():
            write_atomically(out_dir / name, text)
