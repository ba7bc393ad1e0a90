"""Pairs of submissions whose own code is unusually similar: records for the class report, never a change of points.

Collect, then render: :func:`own_code` takes from one notebook the lines its student wrote (their code cells, less
every line of the starter as handed out and the instructor's check and locked cells); :func:`find_similar`
fingerprints each student's lines with copydetect (the winnowing method MOSS uses: names, strings, comments and
spacing do not count, so renaming variables changes nothing) and keeps the pairs above :data:`THRESHOLD`.
course/reports/class_report.py renders the :class:`SimilarityReport`.

Two workarounds for copydetect 0.5.0, both on its documented ``CodeFingerprint`` attributes: every k-gram is kept
(``win_size=1``, copydetect's own default), so the result does not depend on Python's per-process string hashing;
and starter and class-wide fingerprints are removed here, not through its ``boilerplate`` argument, which also
drops fingerprints of code repeated within one file (``np.intersect1d(..., assume_unique=True)`` on repeated
hashes).
"""

from __future__ import annotations

import io
import math
import tokenize
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from course.authoring.notebook_format import Exercise, trusted_id
from course.authoring.starters import make_starter
from course.grading.files import Unreadable, display_name, read_submission

NOISE = 25  # copydetect's noise threshold: shared runs shorter than 25 characters of normalised code never count
THRESHOLD = 0.5  # a pair is listed when half of one student's own code is found in the other's
COMMON_SHARE, COMMON_MIN = 0.5, 5  # code that over half the class (and 5 students or more) wrote is not evidence


@dataclass(frozen=True)
class Line:
    """One line a student wrote: where it is in their notebook and its text."""

    cell: int  # the cell's number in the notebook, counting every cell from 1 (as the feedback counts them)
    number: int  # the line's number in that cell, from 1
    text: str


@dataclass(frozen=True)
class Span:
    """Consecutive lines of one cell that hold code shared with the other student of a pair."""

    cell: int
    first_line: int
    last_line: int
    code: str


@dataclass(frozen=True)
class SimilarPair:
    """Two students (in name order) and how much of each one's own code is found in the other's."""

    first: str
    second: str
    first_share: float  # of ``first``'s own code (its tokens) found in ``second``'s
    second_share: float
    first_spans: tuple[Span, ...]
    second_spans: tuple[Span, ...]

    @property
    def score(self) -> float:
        return max(self.first_share, self.second_share)


@dataclass(frozen=True)
class SimilarityReport:
    """What the similarity check found in one run; ``note`` says why it did not run, when it did not."""

    pairs: tuple[SimilarPair, ...] = ()  # highest score first, then by names
    compared: tuple[str, ...] = ()  # the students whose own code was compared
    left_out: tuple[str, ...] = ()  # one sentence per submission not compared, and why
    typical: float | None = None  # the median score of all compared pairs (context for the listed ones)
    threshold: float = THRESHOLD
    engine: str = ""  # "copydetect <version>"
    note: str = ""


def given_lines(exercise: Exercise) -> frozenset[str]:
    """Every line of code the student was given (the starter's code cells), without comments and spacing."""
    starter = make_starter(exercise)
    return frozenset(
        key for cell in starter.cells if cell.cell_type == "code" for key in _keys(cell.source) if key
    )  # fmt: skip


def starter_code(exercise: Exercise) -> str:
    """The starter's code, one cell after another: what no student's similarity may rest on."""
    starter = make_starter(exercise)
    return "\n".join(cell.source for cell in starter.cells if cell.cell_type == "code")


def own_code(notebook: Any, given: frozenset[str]) -> tuple[Line, ...]:
    """The lines of ``notebook``'s ordinary code cells that are neither blank, comments, nor ``given``.

    Check and locked cells (whatever the student did to them) are the instructor's and are left out.
    """
    lines = []
    for index, cell in enumerate(notebook.cells, 1):
        if cell.get("cell_type") != "code" or trusted_id(cell) is not None:
            continue
        source = str(cell.get("source") or "")
        for number, (text, key) in enumerate(zip(source.split("\n"), _keys(source)), 1):
            if key and key not in given:
                lines.append(Line(index, number, text.rstrip()))
    return tuple(lines)


def _keys(source: str) -> list[str]:
    """Each line of ``source`` (split at ``\\n``, as tokenize reads it) without its comment and outer spaces."""
    lines = source.split("\n")
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, SyntaxError):  # code that does not tokenize: the comments seen so far are cut
        pass
    return [line.strip() for line in lines]


def read_own_code(student: str, path: Path, given: frozenset[str]) -> tuple[Line, ...]:
    """``own_code`` of the notebook at ``path``; ValueError, one sentence naming the file and the fix, when it
    cannot be read."""
    try:
        notebook = read_submission(path)
    except (Unreadable, OSError) as err:
        # a kept copy is named by its place in --out (submitted/...): the page is the same wherever --out is
        kept = len(path.parents) > 2 and path.parents[1].name == "submitted"
        shown = path.relative_to(path.parents[2]) if kept else path
        raise ValueError(f"{display_name(student)}: {shown} was not compared ({err})") from None
    return own_code(notebook, given)


def find_similar(exercise: Exercise, submissions: Mapping[str, Path], threshold: float = THRESHOLD) -> SimilarityReport:
    """Compare every two students' own code in ``submissions`` (student -> notebook file); never raises for a bad
    notebook (it is named in ``left_out``), and says in ``note`` when copydetect is not installed."""
    try:
        import copydetect
    except ImportError:
        return SimilarityReport(note="the similarity check needs the copydetect package: pip install copydetect")
    given = given_lines(exercise)
    lines: dict[str, tuple[Line, ...]] = {}
    left_out = []
    for student in sorted(submissions):
        try:
            found = read_own_code(student, submissions[student], given)
        except ValueError as err:
            left_out.append(str(err))
            continue
        if found:
            lines[student] = found
        else:
            left_out.append(f"{display_name(student)}: no code of their own (the starter as handed out, or empty)")
    prints = _fingerprints(copydetect, starter_code(exercise), lines)
    for student in [s for s in lines if not prints[s].hashes]:
        left_out.append(f"{display_name(student)}: too little code of their own to compare (under {NOISE} "
                        "characters once names and spacing are set aside)")  # fmt: skip
        del lines[student]
    students = sorted(lines)
    pairs, scores = [], []
    for i, a in enumerate(students):
        for b in students[i + 1 :]:
            _, (share_a, share_b), (slices_a, slices_b) = copydetect.compare_files(prints[a], prints[b])
            scores.append(max(share_a, share_b))
            if scores[-1] >= threshold:
                pairs.append(SimilarPair(a, b, round(float(share_a), 3), round(float(share_b), 3),
                                         _spans(lines[a], slices_a), _spans(lines[b], slices_b)))  # fmt: skip
    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    return SimilarityReport(tuple(pairs), tuple(students), tuple(left_out),
                            round(float(median(scores)), 3) if scores else None, threshold,
                            f"copydetect {copydetect.__version__}")  # fmt: skip


def _text(lines: tuple[Line, ...]) -> str:
    return "\n".join(line.text for line in lines)


def _fingerprints(copydetect: Any, starter: str, lines: dict[str, tuple[Line, ...]]) -> dict[str, Any]:
    """One copydetect fingerprint per student, without the starter's k-grams and those common to the class."""
    from copydetect.utils import get_token_coverage

    def fingerprint(name: str, code: str) -> Any:
        return copydetect.CodeFingerprint(f"{name}.py", NOISE, 1, fp=io.StringIO(code), language="python")

    ignored = set(fingerprint("starter", starter).hashes)
    prints = {student: fingerprint("student", _text(found)) for student, found in lines.items()}
    held = Counter(h for p in prints.values() for h in p.hashes)
    common = max(COMMON_MIN, math.floor(COMMON_SHARE * len(prints)) + 1)  # more than half, and at least 5
    ignored |= {h for h, n in held.items() if n >= common}
    for p in prints.values():
        p.hashes = {h for h in p.hashes if h not in ignored}
        p.hash_idx = {h: idx for h, idx in p.hash_idx.items() if h not in ignored}
        p.token_coverage = get_token_coverage(p.hash_idx, p.k, len(p.filtered_code))
    return prints


def _spans(lines: tuple[Line, ...], slices: Any) -> tuple[Span, ...]:
    """The shared character ranges copydetect found in the student's text, as runs of their lines per cell (blank
    and given lines inside a run are left out of its code).

    A line belongs to a span when the ranges cover at least half of its non-blank characters: a shared run that only
    starts at the end of a line (the k-grams run from one line, or cell, into the next) does not take that line in.
    """
    covered: list[int] = [0] * len(lines)
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line.text) + 1
    for start, end in zip(*(slices if len(slices) else ([], []))):
        for i in range(max(bisect_right(starts, int(start)) - 1, 0), bisect_right(starts, int(end) - 1)):
            text = lines[i].text
            inside = text[max(int(start) - starts[i], 0) : max(int(end) - starts[i], 0)]
            covered[i] += len(inside) - inside.count(" ")
    spans: list[list[Line]] = []
    for i, line in enumerate(lines):
        if 2 * covered[i] < len(line.text) - line.text.count(" "):
            continue
        before = spans[-1][-1] if spans else None
        if before is not None and before is lines[i - 1] and before.cell == line.cell:  # blank or given lines between
            spans[-1].append(line)
        else:
            spans.append([line])
    return tuple(Span(run[0].cell, run[0].number, run[-1].number, "\n".join(x.text for x in run)) for run in spans)
