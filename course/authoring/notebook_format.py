"""The exercise source format: solution notebooks with marked solution regions, locked cells and check cells.

See GUIDE.md section 2. This module reads and validates a solution notebook into an :class:`Exercise` and knows
how to stub a solution region; it runs nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
DEFAULT_STUB = "replace this line with your code"
DEFAULT_ANSWER = "Write your answer here."  # a markdown answer's solution region in the starter, without a message
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
SOLUTIONS_DIR = Path(__file__).resolve().parents[1] / "solutions"


class FormatError(ValueError):
    """A solution notebook breaks the source format (the message names the notebook and the cell)."""


ROLES = ("check", "locked", "verify", "probe", "manual")  # what a cell's "course" metadata may declare it to be


@dataclass(frozen=True)
class Check:
    """One graded check cell of an exercise."""

    id: str
    points: int
    hidden: bool
    position: int  # index of the cell in the source notebook
    source: str
    kernel_only: str = ""  # why this check's points come from the student's kernel (metadata "kernel_only"), if so


@dataclass(frozen=True)
class ManualQuestion:
    """One answer cell graded by hand (GUIDE.md section 4.9): free text (markdown) or code."""

    id: str
    points: int
    rubric: str  # for the instructor only: never in the starter
    position: int  # index of the cell in the source notebook
    cell_type: str  # "markdown" or "code"
    cell_id: str | None  # the cell's id, which the starter keeps: finds the answer when its metadata was lost
    source: str  # the solution's cell, solution markers included

    @property
    def model_answer(self) -> str:
        """The solution's answer: the cell without its solution marker lines."""
        return "\n".join(ln for ln in self.source.splitlines() if not ln.strip().startswith((BEGIN, END))).strip()

    @property
    def starter_source(self) -> str:
        """The cell as the starter has it (an answer equal to it is no answer)."""
        return stub_solutions(self.source, where=self.id, markdown=self.cell_type == "markdown")


@dataclass(frozen=True)
class Exercise:
    """A validated solution notebook: the single source of one exercise."""

    name: str  # file stem, e.g. "ex01_sequential"
    path: Path
    notebook: Any  # nbformat.NotebookNode

    @property
    def checks(self) -> list[Check]:
        return [
            Check(meta["check"], int(meta["points"]), bool(meta.get("hidden", False)), i, cell.source,
                  str(meta.get("kernel_only") or ""))
            for i, cell in enumerate(self.notebook.cells)
            if (meta := course_meta(cell)).get("check")
        ]  # fmt: skip

    def verify_source(self, check_id: str) -> str:
        """The instructor's code the trusted process runs before check ``check_id`` (its ``verify`` cells, in
        order): it rebuilds, from the exported objects, what the student would otherwise report."""
        return "".join(
            cell.source.rstrip("\n") + "\n"
            for cell in self.notebook.cells
            if check_id in role_ids(course_meta(cell).get("verify"))
        )

    def probe_source(self, check_id: str) -> str | None:
        """The source of the ``probe`` cell of check ``check_id`` (it defines ``probe(rng)``), or None."""
        for cell in self.notebook.cells:
            if check_id in role_ids(course_meta(cell).get("probe")):
                return str(cell.source)
        return None

    @property
    def instructor_only(self) -> list[int]:
        """Indices of the cells only the grader runs (``verify`` and ``probe`` cells): never in a starter, never in
        a student's run."""
        return [i for i, cell in enumerate(self.notebook.cells) if is_instructor_only(cell)]

    @property
    def max_points(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def manual(self) -> list[ManualQuestion]:
        """The answer cells graded by hand, in the notebook's order (not checks: the grader never scores them)."""
        return [
            ManualQuestion(meta["manual"], int(meta["points"]), str(meta.get("rubric") or ""), i, cell.cell_type,
                           cell.get("id"), cell.source)
            for i, cell in enumerate(self.notebook.cells)
            if (meta := course_meta(cell)).get("manual")
        ]  # fmt: skip

    def trusted_positions(self) -> dict[str, int]:
        """Check and lock id -> index of that cell in the source."""
        ids = ((trusted_id(cell), i) for i, cell in enumerate(self.notebook.cells))
        return {ident: i for ident, i in ids if ident is not None}


def manual_id(cell: Any) -> str | None:
    """The question id of an answer cell graded by hand, or None."""
    value = course_meta(cell).get("manual")
    return value if isinstance(value, str) else None


def course_meta(cell: Any) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("course", {})
    return meta if isinstance(meta, dict) else {}


def role_ids(value: Any) -> list[str]:
    """The check ids a ``verify`` or ``probe`` declaration names: one id or a list of them."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def is_instructor_only(cell: Any) -> bool:
    """A ``verify`` or ``probe`` cell: code only the grader runs, outside the student's kernel."""
    meta = course_meta(cell) if cell.get("cell_type") == "code" else {}
    return bool({"verify", "probe"} & meta.keys())


def trusted_id(cell: Any) -> str | None:
    """The check or lock id of a cell, or None for an ordinary cell."""
    if cell.get("cell_type") != "code":
        return None
    meta = course_meta(cell)
    value = meta.get("check") or meta.get("locked")
    return value if isinstance(value, str) else None


def _fail(path: Path, index: int, problem: str) -> FormatError:
    return FormatError(f"{path.name}, cell {index}: {problem} (see course/GUIDE.md, section 2)")


def _validate(path: Path, nb: Any) -> None:
    seen: set[str] = set()
    probed: set[Any] = set()
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("course")
        if meta is None:
            continue
        if cell.cell_type != "code" and not (isinstance(meta, dict) and "manual" in meta):
            raise _fail(path, i, "only code cells may carry 'course' metadata (a markdown cell may be an answer "
                                 'graded by hand: {"manual": "q7_explain", "points": 3})')  # fmt: skip
        if not isinstance(meta, dict) or len(set(ROLES) & meta.keys()) != 1:
            raise _fail(path, i, f"'course' metadata must hold one of {', '.join(map(repr, ROLES))} (got {meta!r})")
        if "manual" in meta:
            _validate_manual(path, i, meta, cell, seen)
            continue
        if {"verify", "probe"} & meta.keys():
            _validate_role(path, i, meta, cell.source, checks={course_meta(c).get("check") for c in nb.cells})
            if "probe" in meta and meta["probe"] in probed:
                raise _fail(path, i, f"check {meta['probe']!r} has two probe cells; merge them into one")
            probed.add(meta.get("probe"))
            continue
        ident = meta.get("check", meta.get("locked"))
        if not isinstance(ident, str) or not _ID.match(ident):
            raise _fail(path, i, f"id {ident!r} must match [a-z][a-z0-9_]*, e.g. 'q1_shapes'")
        if ident in seen:
            raise _fail(path, i, f"id {ident!r} is used twice; ids must be unique within the exercise")
        seen.add(ident)
        if "check" in meta:
            points = meta.get("points")
            if not isinstance(points, int) or isinstance(points, bool) or points < 1:
                raise _fail(path, i, f"check {ident!r} needs 'points': a positive int (got {points!r})")
            if not isinstance(meta.get("hidden", False), bool):
                raise _fail(path, i, f"check {ident!r}: 'hidden' must be true or false")
            if not isinstance(meta.get("kernel_only", ""), str):
                raise _fail(path, i, f"check {ident!r}: 'kernel_only' must be a sentence saying why (or absent)")
        if BEGIN in cell.source or END in cell.source:
            raise _fail(path, i, "check and locked cells may not contain solution markers")
    if not any("check" in course_meta(c) for c in nb.cells):
        raise FormatError(f"{path.name}: no check cells; an exercise needs at least one (see course/GUIDE.md)")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        raise FormatError(f"{path.name}: kernelspec name must be 'python3' (got {kernel!r}); fix the metadata")


def _validate_manual(path: Path, index: int, meta: dict[str, Any], cell: Any, seen: set[str]) -> None:
    """An answer graded by hand: an id unique among the exercise's ids, positive whole points, a text rubric."""
    ident = meta["manual"]
    if not isinstance(ident, str) or not _ID.match(ident):
        raise _fail(path, index, f"manual id {ident!r} must match [a-z][a-z0-9_]*, e.g. 'q7_explain'")
    if ident in seen:
        raise _fail(path, index, f"id {ident!r} is used twice; ids must be unique within the exercise")
    seen.add(ident)
    points = meta.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or points < 1:
        raise _fail(path, index, f"manual answer {ident!r} needs 'points': a positive int (got {points!r})")
    if not isinstance(meta.get("rubric", ""), str):
        raise _fail(path, index, f"manual answer {ident!r}: 'rubric' must be text (what earns the points)")
    stub_solutions(cell.source, where=f"{path.name}, cell {index}")  # balanced markers, in markdown too


def _validate_role(path: Path, index: int, meta: dict[str, Any], source: str, checks: set[Any]) -> None:
    """A ``verify`` or ``probe`` cell names existing checks; a probe cell names one and defines ``probe(rng)``."""
    role = "verify" if "verify" in meta else "probe"
    ids = role_ids(meta[role])
    if not ids or (role == "probe" and not isinstance(meta[role], str)):
        wanted = "a check id" if role == "probe" else "a check id or a list of them"
        raise _fail(path, index, f'\'{role}\' must name {wanted}, e.g. {{"{role}": "q1_model"}} (got {meta[role]!r})')
    unknown = [ident for ident in ids if ident not in checks]
    if unknown:
        raise _fail(path, index, f"the {role} cell names {', '.join(map(repr, unknown))}, which no check cell has as "
                                 "its id: use the id of the check it is for")  # fmt: skip
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise _fail(path, index, f"the {role} cell is not valid Python ({err.msg}, line {err.lineno})") from None
    if role == "probe" and not any(isinstance(n, ast.FunctionDef) and n.name == "probe" for n in tree.body):
        raise _fail(path, index, "a probe cell must define a function probe(rng) that returns a dict of answers")


def load_exercise(path: Path) -> Exercise:
    """Read and validate a solution notebook."""
    nb = nbformat.read(str(path), as_version=4)
    _validate(path, nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            stub_solutions(cell.source, where=f"{path.name}, cell {i}")  # raises on unbalanced markers
    return Exercise(path.stem, path, nb)


def find_exercises(solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    return sorted(solutions_dir.glob("ex*.ipynb"))


def resolve_exercise(name: str, solutions_dir: Path = SOLUTIONS_DIR) -> Exercise:
    """An exercise by path, file stem or unique stem prefix (``ex01``)."""
    as_path = Path(name)
    if as_path.suffix == ".ipynb" and as_path.exists():
        return load_exercise(as_path)
    stems = [p for p in find_exercises(solutions_dir) if p.stem == name or p.stem.startswith(name)]
    if len(stems) != 1:
        known = ", ".join(p.stem for p in find_exercises(solutions_dir)) or "none"
        problem = "matches several exercises" if stems else "matches no exercise"
        raise FormatError(f"{name!r} {problem} in {solutions_dir}. Known exercises: {known}.")
    return load_exercise(stems[0])


def stub_solutions(source: str, where: str = "cell", *, markdown: bool = False) -> str:
    """``source`` with each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region replaced by a stub: a line that
    raises NotImplementedError, or in a ``markdown`` cell (an answer graded by hand) the marker's message as text."""
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        marker = line.strip()
        if marker.startswith(BEGIN):
            if inside:
                raise FormatError(f"{where}: '{BEGIN}' inside another solution region; close it with '{END}'")
            inside = True
            message = marker[len(BEGIN) :].strip(" :") or (DEFAULT_ANSWER if markdown else DEFAULT_STUB)
            indent = line[: len(line) - len(line.lstrip())]
            text = message.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f"{indent}{message}" if markdown else f'{indent}raise NotImplementedError("Exercise: {text}")')
        elif marker.startswith(END):
            if not inside:
                raise FormatError(f"{where}: '{END}' without a '{BEGIN}' before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise FormatError(f"{where}: '{BEGIN}' is never closed; add a '{END}' line")
    return "\n".join(out)
