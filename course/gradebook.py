"""Grading results as records, and their renderings: the gradebook CSV, Markdown feedback, HTML for notebooks."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from course.files import check_out_dir, display_name, output_names, safe_file_name, strip_invisible
from course.starters import write_atomically

STATUSES = {
    "graded": "Your notebook ran to the end.",
    "timeout": "Your notebook ran out of time and was stopped; checks that passed before that keep their points.",
    "kernel died": "The Python process running your notebook died (for example os._exit(), a crash in native "
    "code, or running out of memory); checks that passed before that keep their points.",
    "out of memory": "Your notebook asked for more memory than a notebook may use; that cell was stopped, and "
    "checks that passed keep their points.",
    "disk limit": "Your notebook wrote more to disk than a notebook may and was stopped; checks that passed before "
    "that keep their points.",
    "sandbox violation": "Your notebook tried to start more processes or threads than a notebook may; the "
    "sandbox refused them. Checks that passed before that keep their points.",
    "empty": "Your notebook has no code cells, so there was nothing to grade.",
    "invalid": "Your file could not be read as a Jupyter notebook.",
    "grader error": "The grader could not run your notebook. This is not your fault: tell your instructor.",
}
# Markdown that student text could use to look like the grader's own lines: emphasis (a forged "**11 / 11 points**"),
# code, links and images, tables, strike-through; ``<`` and ``&`` become entities, so no renderer sees raw HTML.
_MARKDOWN_INLINE = str.maketrans(
    {"\\": "\\\\", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]", "|": "\\|", "~": "\\~", "<": "&lt;", "&": "&amp;"}
)
_LONE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # "_" between two letters or digits never emphasises
_LINE_START = re.compile(r"^(\s*\d*)([#>+=.)-])")  # a heading, quote, list item (1. or 1) too) or setext underline


def clean(text: str) -> str:
    """``text`` without terminal escapes, control, bidi and other format characters (newlines and tabs stay)."""
    return strip_invisible(text)


def markdown_text(text: str, indent: str = "") -> str:
    """Student-supplied ``text`` as Markdown that shows it literally: no HTML, emphasis, heading or list of its own.

    Every line after the first starts with ``indent``, so the text stays inside the item it belongs to and none of
    its lines can stand where the grader's own lines (the score, the headings) stand.
    """
    lines = []
    for line in clean(text).splitlines() or [""]:
        line = _LONE_UNDERSCORE.sub(r"\_", line.translate(_MARKDOWN_INLINE))
        lines.append(_LINE_START.sub(r"\1\\\2", line))  # "\#", "\-", "1\." read as text
    return f"\n{indent}".join(lines)


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
    """Header and rows of the gradebook: one row per result (names as :func:`display_name` shows them), one column
    per check."""
    check_ids = [c.id for c in results[0].checks] if results else []
    header = ["student", *check_ids, "total", "max_points", "status", "notes"]
    rows = []
    for r in sorted(results, key=lambda r: r.student):
        points = {c.id: c.points for c in r.checks}
        notes = "; ".join([*r.notes, *(f"review: {f}" for f in r.flags)])
        rows.append([display_name(r.student), *(points[i] for i in check_ids), r.total, r.max_points, r.status, notes])
    return header, rows


def gradebook_csv(results: list[SubmissionResult]) -> str:
    header, rows = gradebook_rows(results)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(h) for h in header])
    writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def feedback_markdown(result: SubmissionResult) -> str:
    """The feedback file for one student (flags for the instructor are left out).

    Messages, problems and notes can quote the student (an exception's text, a class name, a cell's first line):
    they go through :func:`markdown_text`, so the only score line, headings and HTML are the grader's own.
    """
    lines = [
        f"# Feedback: {result.exercise}",
        "",
        f"**{result.total} / {result.max_points} points** - {STATUSES.get(result.status, result.status)}",
        "",
        "## Checks",
        "",
    ]
    for c in result.checks:
        label = f"hidden check `{c.id}`" if c.hidden else f"check `{c.id}`"
        mark = "passed" if c.passed else "failed"
        lines.append(f"- {'✓' if c.passed else '✗'} {label}: {mark}, {c.points}/{c.max_points} points")
        if not c.passed and c.message:
            lines.append(f"  - {markdown_text(c.message, '    ')}")
    if result.problems:
        lines += ["", "## What happened while running your notebook", ""]
        lines += [f"- {markdown_text(p, '  ')}" for p in result.problems]
    if result.notes:
        lines += ["", "## Changes to the exercise's own cells", ""]
        lines += [f"- {markdown_text(n, '  ')}" for n in result.notes]
        lines += ["", "Check and locked cells are always taken from the exercise itself, so editing, deleting or "
                  "moving them changes nothing."]  # fmt: skip
    return clean("\n".join(lines)) + "\n"


def feedback_file_name(student: str) -> str:
    """The feedback file name of ``student`` alone; :meth:`Gradebook.feedback_files` makes a batch's distinct."""
    return safe_file_name(student, ".md")


def gradebook_html(results: list[SubmissionResult]) -> str:
    header, rows = gradebook_rows(results)
    head = "".join(f"<th>{html.escape(clean(str(h)))}</th>" for h in header)
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

    def feedback_files(self) -> list[tuple[str, SubmissionResult]]:
        """(file name, result) for each result: distinct names, even ignoring case and for results with the same
        student, decided for the whole batch (a student may name a file like a classmate's feedback file)."""
        ordered = sorted(self.results, key=lambda r: r.student)  # the same names whatever order the results came in
        return list(zip(output_names([r.student for r in ordered], ".md"), ordered))

    def write(self, out_dir: Path) -> None:
        """Write gradebook.csv, the reports (course/reports.py) and feedback/<student>.md atomically; drop feedback
        files of past runs.

        Refuses (ValueError) an ``out_dir`` that is or holds a link where it writes: nothing goes outside it.
        """
        check_out_dir(out_dir)
        write_atomically(out_dir / "gradebook.csv", gradebook_csv(list(self.results)))  # first: it matters most
        feedback_dir = out_dir / "feedback"
        feedback_dir.mkdir(exist_ok=True)
        written = set()
        for name, r in self.feedback_files():
            write_atomically(feedback_dir / name, feedback_markdown(r))
            written.add(name)
        for old in feedback_dir.glob("*.md"):
            if old.name not in written:
                old.unlink()
        from course.reports import report_files  # reports build on this module's records

        for name, text in report_files(list(self.results), self.roster).items():
            write_atomically(out_dir / name, text)
