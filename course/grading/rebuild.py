"""Rebuild the notebook to grade from a submission: the student's code cells, the instructor's locked and check cells.

Trusted cells (check and locked, visible and hidden) always come from the exercise source, at their source
position. A student cell whose id matches an answer cell of the source sits at that cell's position; a new cell
sits right after the cell before it in the student's notebook. Everything odd about the trusted cells (edited,
deleted, duplicated, moved, re-created without metadata) becomes a note; nothing of it changes what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import nbformat

from course.authoring.notebook_format import Exercise, course_meta, trusted_id
from course.grading.flags import scan
from course.translations import code_without_comments
from toolkit.i18n import LANGUAGES

_CHECK_CALL = re.compile(r"checks\.check_\w+\(\s*[^,)\n]*")  # helper and first argument


@dataclass(frozen=True)
class Rebuilt:
    notebook: Any  # the notebook to run; student cells carry metadata grader.student_cell
    notes: tuple[str, ...]  # what happened to the trusted cells, in plain words
    flags: tuple[str, ...]  # suspicious calls, for the instructor
    student_cells: dict[int, str]  # index in the submission (0-based) -> first line of that cell


def _first_line(source: str) -> str:
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _kind(source_cell: Any) -> str:
    return "check" if course_meta(source_cell).get("check") else "locked cell"


def _scan(index: int, source: str) -> list[str]:
    return [f"cell {index + 1} {why}" for why in scan(source)]


def _moved(order: list[tuple[int, int]]) -> set[int]:
    """Source positions out of place: those outside a longest run of cells that keep the source order."""
    best: list[list[int]] = []
    for _, pos in order:
        longest: list[int] = max((run for run in best if run[-1] < pos), key=len, default=[])
        best.append([*longest, pos])
    keep: set[int] = set()
    for run in best:
        keep = set(run) if len(run) > len(keep) else keep
    return {pos for _, pos in order if pos not in keep}


def rebuild(exercise: Exercise, submission: Any) -> Rebuilt:
    """The graded notebook for ``submission`` (an nbformat notebook) and what was noticed on the way."""
    src_cells = exercise.notebook.cells
    trusted = exercise.trusted_positions()
    answer_positions = {
        cell.get("id"): i for i, cell in enumerate(src_cells) if cell.cell_type == "code" and not trusted_id(cell)
    }
    check_calls = {
        trusted_id(c): set(_CHECK_CALL.findall(c.source))
        for c in src_cells
        if course_meta(c).get("check") and not course_meta(c).get("hidden")
    }
    notes: list[str] = []
    flags: list[str] = []
    placed: list[tuple[tuple[int, int, int], Any]] = []
    seen: dict[str, list[int]] = {}
    order: list[tuple[int, int]] = []  # (index in submission, source position) of cells whose place is known
    student_cells: dict[int, str] = {}
    key = (-1, 1)
    for j, cell in enumerate(submission.cells):
        if cell.get("cell_type") != "code":
            continue
        tid = trusted_id(cell)
        if tid in trusted:
            pos = trusted[tid]
            seen.setdefault(tid, []).append(j)
            order.append((j, pos))
            # comments do not count: the Chinese edition's trusted cells are the same code, commented in Chinese
            if code_without_comments(cell.source) != code_without_comments(src_cells[pos].source):
                notes.append(f"{_kind(src_cells[pos])} {tid!r} was edited; the original was used")
            key = (pos, 1)
            continue
        if tid is not None:
            notes.append(f"cell {j + 1} carries the unknown id {tid!r}; it ran as your own code")
        if cell.get("id") in answer_positions:
            key = (answer_positions[cell.get("id")], 0)
            order.append((j, key[0]))
        student_cells[j] = _first_line(cell.source)
        student = nbformat.v4.new_code_cell(cell.source, metadata={"grader": {"student_cell": j}})
        placed.append(((key[0], key[1], j), student))
        flags.extend(_scan(j, cell.source))
        calls = set(_CHECK_CALL.findall(cell.source))
        for check_id, check_set in check_calls.items():
            if calls and check_set and calls & check_set:
                notes.append(
                    f"cell {j + 1} looks like check {check_id!r} re-created without its metadata: "
                    "it ran as your own code and earns nothing; the original check was used"
                )
    moved = _moved(order)
    for tid, pos in trusted.items():
        original = src_cells[pos]
        hidden = bool(course_meta(original).get("hidden"))
        if tid not in seen and not hidden:
            notes.append(f"{_kind(original)} {tid!r} was missing (deleted?); the original was used")
        elif len(seen.get(tid, [])) > 1:
            notes.append(f"{_kind(original)} {tid!r} appears {len(seen[tid])} times; it ran once")
        elif tid in seen and pos in moved:
            notes.append(f"{_kind(original)} {tid!r} was moved; it ran at its original place")
        trusted_cell = nbformat.v4.new_code_cell(original.source, metadata={"course": dict(course_meta(original))})
        placed.append(((pos, 0, -1), trusted_cell))
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": dict(exercise.notebook.metadata.get("kernelspec", {}))})
    lang = submission.get("metadata", {}).get("lang")
    if lang in LANGUAGES:  # the language of the feedback (a Chinese starter says zh-CN); nothing else is kept
        nb.metadata["lang"] = lang
    nb.cells = [cell for _, cell in sorted(placed, key=lambda kc: kc[0])]
    return Rebuilt(nb, tuple(dict.fromkeys(notes)), tuple(dict.fromkeys(flags)), student_cells)
