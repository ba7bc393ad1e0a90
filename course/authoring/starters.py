"""Generate the student starters in ``exercises/`` from the solution notebooks in ``course/solutions/``."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from course.atomic_write import write_atomically
from course.authoring.notebook_format import (
    SOLUTIONS_DIR,
    Exercise,
    course_meta,
    find_exercises,
    is_instructor_only,
    load_exercise,
    manual_id,
    stub_solutions,
)
from course.authoring.notebook_setup import retarget_badge


def default_exercises_dir(package_dir: Path | None = None, cwd: Path | None = None) -> Path:
    """Where ``course starters`` writes by default: the checkout's ``exercises/`` when ``course`` runs from a clone
    (a ``pyproject.toml`` beside the package), else ``./exercises`` - never the installed package's own folder
    (``site-packages/exercises`` after a wheel install)."""
    package_dir = package_dir or Path(__file__).resolve().parents[1]  # the course package
    if (package_dir.parent / "pyproject.toml").is_file():
        return package_dir.parent / "exercises"
    return (cwd or Path.cwd()) / "exercises"


EXERCISES_DIR = default_exercises_dir()


def make_starter(exercise: Exercise, badge_dir: str = "exercises") -> Any:
    """The starter notebook: outputs cleared, solutions stubbed (in answers graded by hand too, markdown ones
    included), hidden checks and the grader's own cells (verify, probe) removed, metadata kept but the calibration
    and the rubrics of answers graded by hand."""
    nb = copy.deepcopy(exercise.notebook)
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if course_meta(cell).get("hidden") or is_instructor_only(cell):
                continue
            cell.outputs = []
            cell.execution_count = None
            cell.source = stub_solutions(cell.source, where=f"{exercise.name}, cell {i}")
        elif manual_id(cell) is not None:  # a free-text answer: its solution region becomes the marker's message
            cell.source = stub_solutions(cell.source, where=f"{exercise.name}, cell {i}", markdown=True)
        if manual_id(cell) is not None:
            cell.metadata["course"].pop("rubric", None)  # the instructor's; the review file shows it
        cells.append(cell)
    nb.cells = cells
    retarget_badge(nb, f"{badge_dir}/{exercise.path.name}")  # the starter's "Open in Colab" opens the starter
    # Solution notebooks may carry widget state or execution timing; the starter carries neither.
    nb.metadata.pop("widgets", None)
    if isinstance(nb.metadata.get("course"), dict):
        nb.metadata["course"].pop("calibration", None)  # the grader's measurements of the reference solution
        if not nb.metadata["course"]:
            nb.metadata.pop("course")
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def render(nb: Any) -> str:
    return nbformat.writes(nb) + "\n"


def editions(solutions_dir: Path, exercises_dir: Path) -> list[tuple[Path, Path]]:
    """(solutions, exercises) folders of the English edition and, where it exists, the Chinese one (``zh/``)."""
    pairs = [(solutions_dir, exercises_dir)]
    if (solutions_dir / "zh").is_dir():
        pairs.append((solutions_dir / "zh", exercises_dir / "zh"))
    return pairs


@dataclass(frozen=True)
class StarterStatus:
    path: Path
    state: str  # "written", "unchanged", "stale", "missing", "orphan" (a starter without a solution)


def sync_starters(
    solutions_dir: Path = SOLUTIONS_DIR, exercises_dir: Path = EXERCISES_DIR, *, check: bool = False
) -> list[StarterStatus]:
    """Generate every starter; with ``check=True`` write nothing and report stale or missing ones."""
    statuses = []
    badge_dir = "exercises/zh" if solutions_dir.name == "zh" else "exercises"  # the Chinese edition's folder
    for source in find_exercises(solutions_dir):
        target = exercises_dir / source.name
        text = render(make_starter(load_exercise(source), badge_dir))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            statuses.append(StarterStatus(target, "unchanged"))
        elif check:
            statuses.append(StarterStatus(target, "missing" if current is None else "stale"))
        else:
            write_atomically(target, text)
            statuses.append(StarterStatus(target, "written"))
    sources = {p.name for p in find_exercises(solutions_dir)}
    for starter in sorted(exercises_dir.glob("ex*.ipynb")):
        if starter.name not in sources:
            statuses.append(StarterStatus(starter, "orphan"))  # reported, never deleted
    return statuses
