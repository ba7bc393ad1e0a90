"""The syllabus (both editions) points at real cells, and its points column agrees with the solutions."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EDITIONS = [("course/syllabus.md", "notebooks", "course/solutions"),
            ("course/syllabus.zh.md", "notebooks/zh", "course/solutions/zh")]
HEADING = re.compile(r"^## (\d+)\.", re.MULTILINE)


def _rows(text: str, columns: int, number_column: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        is_row = line.startswith("|") and len(cells) == columns and not set(cells[0]) <= {"-"}
        if is_row and cells[number_column].isdigit():
            rows.append(cells)
    return rows


def _notebook(folder: str, lesson: int) -> nbformat.NotebookNode:
    (path,) = sorted((ROOT / folder).glob(f"{lesson:02d}_*.ipynb"))
    return nbformat.read(path, as_version=4)


def _section_at(nb: nbformat.NotebookNode, index: int) -> int | None:
    """The number of the last '## N.' heading in cells 0..index."""
    found = None
    for cell in nb.cells[: index + 1]:
        if cell.cell_type == "markdown":
            for match in HEADING.finditer(cell.source):
                found = int(match.group(1))
    return found


@pytest.mark.parametrize("syllabus, lessons, solutions", EDITIONS)
def test_seed_concepts_point_at_cells_of_their_section(syllabus: str, lessons: str, solutions: str) -> None:
    text = (ROOT / syllabus).read_text(encoding="utf-8")
    seeds = _rows(text[text.index("\n## ") :], 3, 1)
    assert len(seeds) >= 40, f"{syllabus}: only {len(seeds)} seed-concept rows"
    assert {int(row[1]) for row in seeds} == set(range(1, 7)), f"{syllabus}: every lesson 1-6 teaches seed concepts"
    problems = []
    for concept, lesson, where in seeds:
        match = re.match(r"(\d+)(?:-(\d+))?\D*?(?:§(\d+))?", where)
        assert match, f"{syllabus}: {where!r} does not start with a cell number"
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        nb = _notebook(lessons, int(lesson))
        if not first <= last < len(nb.cells):
            problems.append(f"{concept}: cells {first}-{last} but lesson {lesson} has {len(nb.cells)} cells")
            continue
        section = re.search(r"§(\d+)", where)
        if section and _section_at(nb, first) != int(section.group(1)):
            problems.append(f"{concept}: cell {first} of lesson {lesson} is in section {_section_at(nb, first)}, "
                            f"not §{section.group(1)}")
    assert not problems, f"{syllabus}:\n" + "\n".join(problems)


@pytest.mark.parametrize("syllabus, lessons, solutions", EDITIONS)
def test_points_column_is_the_solutions_sum(syllabus: str, lessons: str, solutions: str) -> None:
    text = (ROOT / syllabus).read_text(encoding="utf-8")
    table = _rows(text[: text.index("\n## ")], 5, 0)
    assert [int(row[0]) for row in table] == list(range(1, 7))
    for number, _lesson, exercise, points, _tasks in table:
        (path,) = sorted((ROOT / solutions).glob(f"ex{int(number):02d}_*.ipynb"))
        cells = nbformat.read(path, as_version=4).cells
        total = sum(int(c.metadata.get("course", {}).get("points", 0)) for c in cells)
        assert int(points) == total, f"{syllabus}: exercise {number} lists {points} points, {path.name} {total}"
        assert path.stem in exercise


TITLE = {"notebooks": re.compile(r"^# Lesson (\d) · \S"), "notebooks/zh": re.compile(r"^# 第 (\d) 课 · \S")}


@pytest.mark.parametrize("folder", TITLE)
def test_every_lesson_title_has_one_style(folder: str) -> None:
    """The book's menu lists the titles: one style, "Lesson N · Title" (Chinese: "第 N 课 · 标题"), N = the file's."""
    bad = []
    for path in sorted((ROOT / folder).glob("0[1-9]_*.ipynb")):
        first = next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
                     and c.source.startswith("# "))
        found = TITLE[folder].match(first)
        if not found or int(found.group(1)) != int(path.name[:2]):
            bad.append(f"{path.name}: {first.splitlines()[0]!r}")
    assert not bad, "titles not in the form of the others:\n" + "\n".join(bad)
