"""The review file of one question graded by hand, ``--out/manual/<question>.csv``: read strictly, written safely.

Its rows: the question (points, rubric, model answer: rewritten from the exercise), the instructor's comment codes
(``code``), and one ``answer`` row per student with the instructor's points, codes and comment. A file edited into
invalid form is one sentence naming the file, the line and the fix (course/term/prepare.py reads every review file
before anything is graded); :func:`sync` puts each run's answers in and returns every student's marks
(course/term/manual.py). Every cell is written through ``spreadsheet_safe``: answers are the students' own text.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from course.atomic_write import write_atomically
from course.authoring.notebook_format import ManualQuestion
from course.grading.files import display_name
from course.reports.records import points_value
from course.reports.text import clean, spreadsheet_safe
from course.term.manual import Answer, Manual, Mark, Review, ReviewRow, Score, answers_in_file, marks, merge
from course.term.table import Row

FOLDER = "manual"
COLUMNS = ("kind", "student", "points", "codes", "comment", "answer", "answer_digest", "review")
REQUIRED = ("kind", "student", "points", "codes", "comment", "answer_digest")
MAX_ANSWER = 20_000  # characters of an answer in the review file (a spreadsheet cell holds 32,767)
_CODE = re.compile(r"^[A-Za-z0-9_]{1,20}$")
_FORMULA = ("=", "+", "-", "@")
QUESTION_NOTE = "the question's points, rubric and model answer (from the exercise; edits here are not kept)"


# ---------------------------------------------------------------- reading a review file


def review_path(out: Path, question: ManualQuestion) -> Path:
    return out / FOLDER / f"{question.id}.csv"


def check_folder(out: Path) -> None:
    """Refuse (ValueError) a ``manual`` in ``out`` that is a link or a file: the grader writes only into its own."""
    folder = out / FOLDER
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ValueError(f"--out: {folder} should be the folder of the review files, not a link or a file; move it "
                         "away (the grader writes a new one)")  # fmt: skip


def read_reviews(out: Path, questions: Collection[ManualQuestion], students: Collection[str]) -> dict[str, Review]:
    """Question id -> its review file in ``out`` as read (an empty review where there is none yet); ValueError, one
    sentence naming the file, the line and the fix, for the first problem found."""
    check_folder(out)
    names = _names(students)
    found = {}
    for q in questions:
        path = review_path(out, q)
        found[q.id] = read_review(path, q, names) if path.exists() or path.is_symlink() else Review(q)
    return found


def _names(students: Collection[str]) -> dict[str, str]:
    """How a review file may name each student (as the gradebook shows it, or the raw name) -> the student."""
    names: dict[str, str] = {}
    for student in students:
        for name in (student, display_name(student), spreadsheet_safe(display_name(student))):
            names.setdefault(name, student)
    return names


def read_review(path: Path, question: ManualQuestion, names: Mapping[str, str]) -> Review:
    """One review file, checked row by row (see :func:`read_reviews`); ``names`` maps names to students."""
    header, rows = _read_rows(path)
    absent = [c for c in REQUIRED if c not in header]
    if absent:
        raise ValueError(f"{path} has no {', '.join(repr(a) for a in absent)} column; its first line (line 1) must "
                         f"name the columns as the grader wrote them: {','.join(COLUMNS)}")  # fmt: skip
    extra_columns = tuple(h for h in header if h and h not in COLUMNS)
    codes: dict[str, str] = {}
    code_lines: dict[str, int] = {}
    code_extra: dict[str, dict[str, str]] = {}
    scores: dict[str, Score] = {}
    for row in rows:
        where = f"{path}, line {row.line}"
        kind, student, code_text = row.get("kind").lower(), row.get("student"), row.get("codes")
        kind = kind or ("answer" if student else "code" if code_text else "")
        extra = {c: row.get(c) for c in extra_columns if row.get(c)}
        if kind == "question":
            continue
        if kind == "code":
            code, text = code_text, row.get("comment")
            if not _CODE.match(code):
                raise ValueError(f"{where}: comment code {code!r} must be 1 to 20 letters, digits or _ (e.g. A or "
                                 "units), in the codes column, with its text in the comment column")  # fmt: skip
            if not text:
                raise ValueError(f"{where}: comment code {code!r} has no text; write the comment the student reads in "
                                 "the comment column, or delete the row")  # fmt: skip
            if code in codes:
                raise ValueError(f"{where}: comment code {code!r} is defined again (first on line {code_lines[code]}); "
                                 "keep one row per code")  # fmt: skip
            codes[code], code_lines[code], code_extra[code] = text, row.line, extra
            continue
        if kind != "answer":
            raise ValueError(f"{where}: kind {row.get('kind')!r} is not one of question, code or answer; write "
                             "'code' for a reusable comment or 'answer' for a student's row")  # fmt: skip
        if student not in names:
            raise ValueError(f"{where}: no student {student!r} was graded or is in the folder or the roster; write "
                             "the name as the gradebook's student column shows it, or delete the row")  # fmt: skip
        who = names[student]
        if who in scores:
            raise ValueError(f"{where}: {student!r} has a row already (line {scores[who].line}); keep one row per "
                             "student")  # fmt: skip
        points = _points(row.get("points"), question, student, where)
        given = tuple(c for c in re.split(r"[\s,;]+", code_text) if c)
        scores[who] = Score(who, points, given, row.get("comment"), row.get("answer_digest"), row.get("review"),
                            row.line, extra)  # fmt: skip
    for score in scores.values():
        unknown = [c for c in score.codes if c not in codes]
        if unknown:
            known = ", ".join(codes) or "none yet"
            raise ValueError(f"{path}, line {score.line}: comment code {unknown[0]!r} is not defined in this file "
                             f"(defined: {known}); add a row with kind 'code', the code in the codes column and its "
                             "text in the comment column, or fix the code")  # fmt: skip
    return Review(question, codes, scores, extra_columns, code_extra)


def _points(text: str, question: ManualQuestion, student: str, where: str) -> int | float | None:
    """The points cell: empty (not graded yet) or a number from 0 to the question's points, at most two decimals."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= question.points or round(value, 2) != value:
        raise ValueError(f"{where}: points {text!r} for {student!r}; write a number from 0 to {question.points} "
                         "(the question's points), e.g. 2 or 1.5, or leave the cell empty until you grade the "
                         "answer")  # fmt: skip
    return points_value(value)


def _read_rows(path: Path) -> tuple[list[str], list[Row]]:
    """The header and the non-empty rows of a CSV file (a row's line: where it starts), read strictly: a stray
    quote, a row longer than the header or bytes that are not UTF-8 are refused with the line they are on."""
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{path} is not a regular file (a link or a folder?); move it away and run again: the grader "
                         "writes a new one")  # fmt: skip
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 text; save the file as CSV UTF-8 (in a spreadsheet: 'CSV "
                         "UTF-8 (comma delimited)')") from None  # fmt: skip
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as err:
        raise ValueError(f"{path}, line {start}: the CSV is broken ({err}): a cell that holds a double quote must be "
                         'wrapped in double quotes, with the quote doubled ("like ""this"""); fix that '
                         "line") from None  # fmt: skip
    if not records:
        raise ValueError(f"{path} is empty; delete it and run again (the grader writes a new one), or restore it")
    header = [name.strip().lower() for name in records[0][1]]
    rows = []
    for line, cells in records[1:]:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            raise ValueError(f"{path}, line {line}: more cells than the header has columns; a cell that holds a comma "
                             'must be wrapped in double quotes ("like, this")')  # fmt: skip
        row = Row(line, {name: _unsafe(value) for name, value in zip(header, cells)})
        if any(v.strip() for v in row.cells.values()):
            rows.append(row)
    return header, rows


def _unsafe(value: str) -> str:
    """The text :func:`spreadsheet_safe` protected: ``'=x`` back to ``=x``."""
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA else value


# ---------------------------------------------------------------- writing


def review_csv(review: Review, rows: list[ReviewRow]) -> str:
    """The review file's text: the question row, the code rows, then one row per student (every cell made safe
    for a spreadsheet; answers cut at :data:`MAX_ANSWER` characters)."""
    q = review.question
    header = [*COLUMNS, *review.extra_columns]
    lines: list[list[Any]] = [header, ["question", "", q.points, "", q.rubric, q.model_answer, "", QUESTION_NOTE]]
    for code, text in review.codes.items():
        extra = review.code_extra.get(code, {})
        lines.append(["code", "", "", code, text, "", "", "", *(extra.get(c, "") for c in review.extra_columns)])
    for row in rows:
        score = row.score
        text = clean(row.answer.text) if row.answer is not None else ""
        digest = row.answer.digest if row.answer is not None else score.digest if score is not None else ""
        if len(text) > MAX_ANSWER:
            text = text[:MAX_ANSWER] + f" [... cut at {MAX_ANSWER} characters: the whole notebook is in submitted/]"
        points = "" if score is None or score.points is None else score.points
        codes, comment = (" ".join(score.codes), score.comment) if score is not None else ("", "")
        extra = (score.extra if score is not None else {}) or {}
        lines.append(["answer", display_name(row.student), points, codes, comment, text, digest, row.review,
                      *(extra.get(c, "") for c in review.extra_columns)])  # fmt: skip
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([spreadsheet_safe(v) for v in line] for line in lines)
    return buffer.getvalue()


def sync(out: Path, manual: Manual, kept: Mapping[str, Path | None], students: Collection[str]) -> Manual:
    """Read every review file of ``out``, put each graded student's current answer in it (``kept``: student ->
    the kept copy of the notebook graded, None when none was kept), write the files that change, and return
    ``manual`` with every student's marks. ``students``: every student of ``out`` (names a review file may use)."""
    if not manual.questions:
        return manual
    reviews = read_reviews(out, manual.questions, students)
    answered: dict[str, dict[str, Answer]] = {s: answers_in_file(_inside(out, p), manual.questions)
                                              for s, p in kept.items()}  # fmt: skip
    by_student: dict[str, list[Mark]] = {}
    for q in manual.questions:
        review = reviews[q.id]
        rows = merge(review, {s: a[q.id] for s, a in answered.items()})
        path = review_path(out, q)
        text = review_csv(review, rows)
        if not path.is_file() or path.read_text(encoding="utf-8-sig") != text:
            write_atomically(path, text)
        for student, mark in marks(review, rows).items():
            by_student.setdefault(student, []).append(mark)
    return Manual(manual.questions, {s: tuple(m) for s, m in by_student.items()})


def _inside(out: Path, path: Path | None) -> Path | None:
    """``path`` when it lies in ``out``'s kept submissions (a record edited to point elsewhere is not read)."""
    if path is None:
        return None
    root = (out / "submitted").resolve()
    resolved = path.resolve()
    return resolved if resolved.is_relative_to(root) and resolved.is_file() else None
