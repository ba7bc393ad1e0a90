"""Links in the notebooks' markdown open something: `make start` serves the repository root, so a lesson's link to
its exercise (``../exercises/ex04_shared_layers.ipynb``) resolves from the lesson's own folder."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "notebooks/zh", "exercises", "exercises/zh")
NOTEBOOKS = sorted(p for folder in FOLDERS for p in (REPO / folder).glob("*.ipynb"))
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target "title"), not images
EXERCISE = re.compile(r"`(exercises/(?:zh/)?ex\d\d_\w+\.ipynb)`")


def markdown(path: Path) -> list[tuple[int, str]]:
    nb = nbformat.read(path, as_version=4)
    return [(i, cell.source) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"]


def relative_links(text: str) -> list[str]:
    targets = [m.group(2) for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]  # not http:, mailto:, #anchor


def test_there_are_notebooks_to_check() -> None:
    assert len(NOTEBOOKS) >= 20, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_to_a_file(path: Path) -> None:
    broken = []
    for i, text in markdown(path):
        for target in relative_links(text):
            file = (path.parent / unquote(target.split("#")[0])).resolve()
            if not file.is_file():
                broken.append(f"cell {i}: {target}")
    assert not broken, f"{path.relative_to(REPO)} links to files that do not exist: {broken}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_exercise_a_lesson_names_is_a_link(path: Path) -> None:
    unlinked = []
    for i, text in markdown(path):
        linked = {m.group(1) for m in LINK.finditer(text)}
        for name in EXERCISE.findall(text):
            if not any(name in label for label in linked):
                unlinked.append(f"cell {i}: {name}")
    assert not unlinked, (
        f"{path.relative_to(REPO)} names exercises without a link: {unlinked}; write "
        f"[`exercises/X.ipynb`](../exercises/X.ipynb) so that JupyterLab opens it"
    )


def test_the_link_pattern_finds_links_and_skips_images_and_urls() -> None:
    text = 'see [ex](../exercises/a.ipynb "t"), ![img](pic.png), [web](https://x.org) and [top](#top)'
    assert relative_links(text) == ["../exercises/a.ipynb"]
