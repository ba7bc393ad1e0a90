"""Answers graded by hand (GUIDE.md section 4.9): what the grader knows of them, as records and pure functions.

Every run collects each graded student's answer to each cell marked ``{"course": {"manual": ..., "points": ...}}``
from the bytes that were graded (``submitted/``) and puts it in the question's review file,
``--out/manual/<question>.csv`` (course/term/review_file.py reads and writes it), beside its rubric and the
instructor's reusable comments; the points and comments the instructor fills in come back as :class:`Mark` records,
which the gradebook, the LMS exports and the feedback show. A score belongs to the answer it was given for (its
digest): :func:`merge` keeps the scores of unchanged answers, and an answer that changed is pending again, with its
old score kept in its ``review`` cell.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course.authoring.notebook_format import ManualQuestion, manual_id
from course.grading.files import Unreadable, read_submission

NONE = "none"  # the answer digest of a student with no answer
TO_GRADE = "to grade"
NO_ANSWER = "no answer found: 0 points unless you give some"


@dataclass(frozen=True)
class Answer:
    """One student's answer to one question, as the graded notebook holds it."""

    text: str
    answered: bool  # False: no such cell, or the starter's text left as it was

    @property
    def digest(self) -> str:
        """Which answer a score belongs to: a digest of the text, line ends and trailing spaces aside."""
        if not self.answered:
            return NONE
        lines = [line.rstrip() for line in self.text.replace("\r\n", "\n").strip().splitlines()]
        return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()[:16]


NOTHING = Answer("", False)


@dataclass(frozen=True)
class Score:
    """One student's row of a review file: what the instructor gave, and for which answer."""

    student: str
    points: int | float | None  # None: not graded yet
    codes: tuple[str, ...]
    comment: str
    digest: str
    review: str
    line: int
    extra: Mapping[str, str] = field(default_factory=dict)  # cells of columns the instructor added

    @property
    def given(self) -> bool:
        """Whether the instructor wrote anything in this row (points, a code or a comment)."""
        return self.points is not None or bool(self.codes) or bool(self.comment)


@dataclass(frozen=True)
class Review:
    """One question's review file as read: the comment codes (in the file's order) and each student's row."""

    question: ManualQuestion
    codes: Mapping[str, str] = field(default_factory=dict)
    scores: Mapping[str, Score] = field(default_factory=dict)
    extra_columns: tuple[str, ...] = ()
    code_extra: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Mark:
    """One question for one student as the gradebook, the LMS exports and the feedback show it."""

    question: ManualQuestion
    state: str  # "scored" | "pending" | "no answer" | "missing"
    points: int | float | None  # None while pending
    comments: tuple[str, ...] = ()  # the codes' texts, then the comment


@dataclass(frozen=True)
class Manual:
    """The exercise's questions graded by hand and, once a run has read the review files, every student's marks."""

    questions: tuple[ManualQuestion, ...] = ()
    marks: Mapping[str, tuple[Mark, ...]] = field(default_factory=dict)

    def marks_for(self, student: str, missing: bool) -> tuple[Mark, ...]:
        """``student``'s marks: pending where no review was read; for a roster student with no submission, 0 unless
        the instructor gave points in the review file (an answer handed in some other way)."""
        found = self.marks.get(student)
        if missing:
            given = {m.question.id: m for m in found or () if m.state == "scored"}
            return tuple(given.get(q.id) or Mark(q, "missing", 0) for q in self.questions)
        return found or tuple(Mark(q, "pending", None) for q in self.questions)


# ---------------------------------------------------------------- answers, from the graded notebooks


def answers(notebook: Any, questions: Collection[ManualQuestion]) -> dict[str, Answer]:
    """Question id -> the answer ``notebook`` holds: the cells marked with the question's id (joined by a blank line
    when there are several), else the cell with the solution cell's id; no answer when neither is there or the
    text is the starter's."""
    found: dict[str, Answer] = {}
    cells = [c for c in notebook.get("cells", []) if isinstance(c, dict)]
    for q in questions:
        mine = [c for c in cells if manual_id(c) == q.id]
        mine = mine or [c for c in cells if q.cell_id and c.get("id") == q.cell_id]
        text = "\n\n".join(str(c.get("source") or "") for c in mine).strip()
        unchanged = Answer(text, True).digest == Answer(q.starter_source, True).digest
        found[q.id] = Answer(text, True) if text and not unchanged else Answer(text, False)
    return found


def answers_in_file(path: Path | None, questions: Collection[ManualQuestion]) -> dict[str, Answer]:
    """The answers of a kept submission (none for a file that cannot be read as a notebook)."""
    if path is None:
        return {q.id: NOTHING for q in questions}
    try:
        return answers(read_submission(path), questions)
    except (Unreadable, OSError):
        return {q.id: NOTHING for q in questions}


# ---------------------------------------------------------------- merging


@dataclass(frozen=True)
class ReviewRow:
    """One student's row as the next review file has it."""

    student: str
    answer: Answer | None  # None: not graded now (a row the instructor added for a student without a submission)
    score: Score | None  # kept from the file read: its points, codes and comment count
    review: str


def merge(review: Review, answered: Mapping[str, Answer]) -> list[ReviewRow]:
    """The rows of the next review file: each graded student's current answer (``answered``) with the score given
    to that same answer; a score given to another answer moves to the review cell and the row is to grade again.
    Rows of students not graded now stay as they were."""
    rows = []
    for student in sorted(set(answered) | set(review.scores)):
        old = review.scores.get(student)
        if student not in answered:
            rows.append(ReviewRow(student, None, old, old.review if old else ""))
            continue
        answer = answered[student]
        if old is not None and old.digest == answer.digest:
            note = "" if old.points is not None else old.review or (TO_GRADE if answer.answered else NO_ANSWER)
            rows.append(ReviewRow(student, answer, old, note))
        elif old is not None and old.given:
            rows.append(ReviewRow(student, answer, None, f"the answer changed after it was graded ({_was(old)}); "
                                                         "grade it again"))  # fmt: skip
        else:
            rows.append(ReviewRow(student, answer, None, TO_GRADE if answer.answered else NO_ANSWER))
    return rows


def _was(score: Score) -> str:
    points = "not scored" if score.points is None else f"{score.points} point{'' if score.points == 1 else 's'}"
    parts = [f"was {points}"]
    if score.codes:
        parts.append(f"codes {' '.join(score.codes)}")
    if score.comment:
        parts.append(f"comment {score.comment!r}")
    return ", ".join(parts)


def marks(review: Review, rows: list[ReviewRow]) -> dict[str, Mark]:
    """Student -> their mark for the review's question."""
    found = {}
    for row in rows:
        score = row.score
        comments = (*(review.codes[c] for c in score.codes), *([score.comment] if score.comment else ())) if score \
            else ()  # fmt: skip
        if score is not None and score.points is not None:
            found[row.student] = Mark(review.question, "scored", score.points, comments)
        elif row.answer is None or not row.answer.answered:
            found[row.student] = Mark(review.question, "no answer", 0, comments)
        else:
            found[row.student] = Mark(review.question, "pending", None, comments)
    return found
