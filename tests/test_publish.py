"""No dead links (issue 25, item 5): the "Open in Colab" badges come from ONE setting, `[tool.keras-course]` in
pyproject.toml, which stays empty until a publisher runs `course publish --repository OWNER/NAME`.

While it is empty no notebook, starter, README or book page shows a badge, a Colab link or an install line that
points at a repository, only one line on running the course locally (`make start`). Publishing rewrites every
badge and setup cell and the README's table, never a stored output, and publishing "" restores every file.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course import book
from course import translations as tr
from course.authoring import notebook_setup as ns
from course.cli import main

ROOT = Path(__file__).resolve().parents[1]
COLAB = "colab.research.google.com"
# A value for a temporary copy only: the course has no public repository, and these tests claim none.
TEST_REPO = "test-owner/test-repo"
COPIED = ("notebooks", "course/solutions", "exercises", "README.md", "pyproject.toml")
NOTEBOOK_FOLDERS = ("notebooks", "notebooks/zh", "course/solutions", "course/solutions/zh", "exercises", "exercises/zh")


def _notebooks(root: Path) -> list[Path]:
    return [p for folder in NOTEBOOK_FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]


def _book_sources(root: Path, out: Path) -> list[Path]:
    """Every file `course.book` stages for Sphinx from ``root`` (the pages the book shows), without running Sphinx."""
    editions = book.editions(root)
    for edition in editions:
        book.stage(edition, editions, out)
    return sorted(p for p in out.rglob("*") if p.is_file())


def _shown(root: Path, out: Path) -> dict[Path, str]:
    """What a reader sees: every notebook, the README and the book's sources, as text."""
    paths = [*_notebooks(root), root / "README.md", *_book_sources(root, out)]
    return {p: p.read_text(encoding="utf-8") for p in paths}


def test_no_placeholder_anywhere_and_colab_links_only_to_the_setting(tmp_path: Path) -> None:
    publication = ns.read_publication(ROOT)
    shown = _shown(ROOT, tmp_path / "book-src")
    assert len([p for p in shown if p.suffix == ".ipynb"]) >= 50
    assert not [p for p, text in shown.items() if "PLACEHOLDER" in text]
    links = {p: re.findall(rf"https://{COLAB}/github/([^/\s)\"']+/[^/\s)\"']+)/blob/([^/\s)\"']+)/", t)
             for p, t in shown.items()}
    if not publication.published:
        assert not [p for p, found in links.items() if found or COLAB in shown[p]], "a Colab link, yet no repository"
        assert not [p for p, text in shown.items() if "git+https://" in text]
    else:
        assert {link for found in links.values() for link in found} == {(publication.repository, publication.branch)}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The published parts of the checkout (notebooks, starters, README, pyproject.toml) in a scratch folder."""
    root = tmp_path / "course-copy"
    for rel in COPIED:
        source, target = ROOT / rel, root / rel
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cells(path: Path) -> list[Any]:
    return nbformat.read(path, as_version=4).cells


def _publish(root: Path, repository: str, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["publish", "--repository", repository, "--root", str(root), *extra])
    return code, out.getvalue(), err.getvalue()


def test_while_unpublished_each_notebook_says_how_to_run_it_locally(copy: Path) -> None:
    assert _publish(copy, "")[0] == 0  # whatever the checkout holds, the copy is now unpublished
    for path in _notebooks(copy):
        first = _cells(path)[0]
        assert first.id == ns.BADGE_ID and "make start" in first.source and COLAB not in first.source, path
        assert ("/zh/" in path.as_posix()) == bool(re.search(r"[\u4e00-\u9fff]", first.source)), path
    readme = (copy / "README.md").read_text()
    assert COLAB not in readme and "make start" in readme.split(ns.README_START)[1].split(ns.README_END)[0]
    assert not [p for en, zh in tr.pairs(copy) for p in tr.problems(en, zh)]


def test_publishing_points_every_badge_at_the_repository_and_unpublishing_restores_every_file(
    copy: Path, tmp_path: Path
) -> None:
    assert _publish(copy, "")[0] == 0
    before = _files(copy)
    code, printed, _ = _publish(copy, TEST_REPO)
    assert code == 0 and "written" in printed
    assert ns.read_publication(copy) == ns.Publication(TEST_REPO, "main")
    for path in _notebooks(copy):
        rel = path.relative_to(copy).as_posix()
        cells, old = _cells(path), nbformat.reads(before[rel].decode(), as_version=4).cells
        assert cells[0].source == f"[![Open In Colab]({ns.BADGE_SVG})](https://{COLAB}/github/{TEST_REPO}/blob/main/{rel})"
        setup = next(c for c in cells if c.get("id") == ns.SETUP_ID)
        assert f"'keras-course @ git+https://github.com/{TEST_REPO}@main'" in setup.source
        assert [c.get("outputs") for c in cells] == [c.get("outputs") for c in old], f"{rel}: an output changed"
        generated = (ns.BADGE_ID, ns.SETUP_ID)
        assert [c.source for c in cells if c.id not in generated] == [c.source for c in old if c.id not in generated]
    table = (copy / "README.md").read_text().split(ns.README_START)[1].split(ns.README_END)[0]
    lessons = sorted(p.stem for p in (copy / "notebooks").glob("*.ipynb"))
    assert re.findall(rf"{COLAB}/github/{TEST_REPO}/blob/main/notebooks/(\w+)\.ipynb", table) == lessons
    pages = _shown(copy, tmp_path / "book-src")
    assert all(f"github/{TEST_REPO}/blob/main/" in t for p, t in pages.items() if p.parent.name == "lessons")
    assert not [p for en, zh in tr.pairs(copy) for p in tr.problems(en, zh)]  # badges are not translations
    assert _publish(copy, TEST_REPO)[1] == ""  # idempotent: nothing left to write

    assert _publish(copy, "")[0] == 0
    after = _files(copy)
    assert [rel for rel in before if after.get(rel) != before[rel]] == [] and set(after) == set(before)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("https://github.com/someone/course", "OWNER/NAME"),
        ("someone", "OWNER/NAME"),
        ("a/b/c", "OWNER/NAME"),
        ("PLACEHOLDER-OWNER/PLACEHOLDER-REPO", "a placeholder"),
    ],
)
def test_a_bad_repository_is_one_sentence_and_changes_nothing(copy: Path, value: str, words: str) -> None:
    before = _files(copy)
    code, printed, said = _publish(copy, value)
    assert code == 2 and printed == "" and len(said.strip().splitlines()) == 1 and words in said, said
    assert _files(copy) == before


def test_a_bad_branch_is_one_sentence(copy: Path) -> None:
    code, _, said = _publish(copy, TEST_REPO, "--branch", "main branch")
    assert code == 2 and "--branch" in said and len(said.strip().splitlines()) == 1, said


def test_the_setting_must_be_readable(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.keras-course]\nrepository = 3\n')
    with pytest.raises(ValueError, match=r"\[tool.keras-course\] repository must be a string"):
        ns.read_publication(tmp_path)
    with pytest.raises(ValueError, match="no pyproject.toml"):
        ns.read_publication(tmp_path / "elsewhere")


def test_unpublished_the_setup_cell_installs_nothing_and_says_how_to_run_locally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []
    monkeypatch.delenv(ns.INSTALL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "toolkit", None)  # `import toolkit` fails, as on Colab
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    source = ns.setup_source(ns.Publication())
    assert "git+" not in source and COLAB not in source
    with pytest.raises(SystemExit, match=r"^The course toolkit is not installed here: .*`make start`.*\.$"):
        exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__"})
    assert calls == []


def test_the_setting_is_a_table_in_pyproject_toml() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\[tool\.keras-course\]\n(#.*\n)*repository = "[^"]*"', text, re.MULTILINE), text[-800:]
    assert json.dumps(ns.read_publication(ROOT).repository)  # a plain string
