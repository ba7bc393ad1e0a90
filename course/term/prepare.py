"""The term of one ``course grade`` run, read and checked before anything is graded.

The command line (``--due``, ``--late``, ``--release``, ``--overrides``, ``--submitted-times``,
``--times-from-files``), the roster's ``extension`` and ``submitted`` columns and what ``--out`` keeps (term.json,
overrides.csv, the review files of answers graded by hand in manual/) become one :class:`Term`; any problem is one
sentence naming the file, the line and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from course.authoring.notebook_format import Exercise
from course.grading import results_store as store
from course.grading.files import find_submissions, student_names
from course.term import settings
from course.term.due import parse_policy, parse_time
from course.term.manual import Manual
from course.term.overrides import FILE as OVERRIDES
from course.term.overrides import read_overrides
from course.term.release import releases
from course.term.review_file import read_reviews
from course.term.settings import Extension, Stamp, Term
from course.term.table import read_table, unique_students

ROSTER_EXAMPLE = "student,name,id,email,extension,submitted"


@dataclass(frozen=True)
class Options:
    """The ``grade`` options that make the term (all optional)."""

    due: str | None = None
    late: str | None = None
    release: bool = False
    overrides: Path | None = None
    submitted_times: Path | None = None
    times_from_files: bool = False
    roster: Path | None = None


def prepare(exercise: Exercise, folder: Path, out: Path, options: Options) -> Term:
    """The term this run applies: given options first, then what ``out`` kept; ValueError for any bad input."""
    rows = {}
    if options.roster is not None:  # first: a roster without its student column is the first thing to fix
        rows = unique_students(options.roster, read_table(options.roster, ("student",), ROSTER_EXAMPLE))
    kept = settings.load(out)
    term = replace(kept, releases=releases(exercise), released=kept.released or options.release)
    if options.due is not None:
        term = replace(term, due=parse_time(options.due, "--due"))
    if options.late is not None:
        term = replace(term, late=parse_policy(options.late, "--late"))
    students = _known(folder, out) | set(rows)
    times: dict[str, Stamp] = {}
    if options.roster is not None:
        extensions: dict[str, Extension] = {}
        for student, row in rows.items():
            where = f"{options.roster}, line {row.line}"
            if row.get("extension"):
                extensions[student] = settings.parse_extension(row.get("extension"), where)
                if isinstance(extensions[student], int) and term.due is None:
                    raise ValueError(f"{where}: an extension of {extensions[student]} days needs a class due date; "
                                     "pass --due, or write the student's own due date instead")  # fmt: skip
            if row.get("submitted"):
                times[student] = Stamp(parse_time(row.get("submitted"), f"{where}: submitted"), "roster")
        term = replace(term, extensions=extensions)
    if options.submitted_times is not None:
        path = options.submitted_times
        for student, row in unique_students(path, read_table(path, ("student", "submitted"),
                                                             "student,submitted")).items():  # fmt: skip
            where = f"{path}, line {row.line}"
            if student not in students:
                raise ValueError(f"{where}: no submission of {student!r} is in {folder} or was graded; write the "
                                 "name as the submission's file name without .ipynb, or delete the row")  # fmt: skip
            if not row.get("submitted"):
                raise ValueError(f"{where}: the submitted cell is empty; fill it in or delete the row")
            times[student] = Stamp(parse_time(row.get("submitted"), f"{where}: submitted"), "manifest")
    if options.times_from_files:
        for path, student in _files(folder):
            if student not in times:
                times[student] = Stamp(datetime.fromtimestamp(path.stat().st_mtime).astimezone(), "file time")
    checks = {c.id: c.points for c in exercise.checks}
    path = options.overrides or out / OVERRIDES
    overrides = read_overrides(path, checks, students) if options.overrides or path.is_file() else ()
    text = options.overrides.read_text(encoding="utf-8-sig") if options.overrides else None
    questions = tuple(exercise.manual)
    read_reviews(out, questions, students)  # checked now: a review file edited into invalid form grades nobody
    return replace(term, times=times, overrides=overrides, overrides_csv=text, manual=Manual(questions))


def _files(folder: Path) -> list[tuple[Path, str]]:
    """(file, student) of each submission in ``folder``, named as grading names them; none when there is none (the
    grader then says what is wrong with the folder)."""
    try:
        paths = find_submissions(folder)
    except (OSError, ValueError):
        return []
    return list(zip(paths, student_names(paths)))


def _known(folder: Path, out: Path) -> set[str]:
    """The students of ``folder``, of ``out``'s records and of the roster it kept (the gradebook's student column)."""
    found = {student for _, student in _files(folder)} | set(store.read_roster(out) or {})
    for path, data in store.read_records(out):
        student = data.get("student") if isinstance(data, dict) else None
        found.add(student if isinstance(student, str) else store.guessed_student(path))
    return found
