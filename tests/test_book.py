"""The book: its MyST projects are staged from the notebooks as they are; the build and a real browser check it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from course import book

ROOT = Path(__file__).resolve().parents[1]


def _fake_repo(tmp_path: Path, chinese: bool) -> Path:
    for rel in ("notebooks/01_sequential.ipynb", "notebooks/02_functional.ipynb", "exercises/ex01_sequential.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    if chinese:
        (tmp_path / "notebooks/zh").mkdir()
        (tmp_path / "notebooks/zh/01_sequential.ipynb").write_text("{}")
    return tmp_path


def test_the_switch_lists_only_editions_that_exist(tmp_path: Path) -> None:
    english_only = book.editions(_fake_repo(tmp_path / "a", chinese=False))
    assert [e.lang for e in english_only] == ["en"]
    both = book.editions(_fake_repo(tmp_path / "b", chinese=True))
    assert [e.lang for e in both] == ["en", "zh"]
    nav = json.loads(book.myst_config(both[1], both, "book-theme"))["site"]["nav"]
    assert [(n["title"], n["url"].rsplit("/", 2)[-2]) for n in nav] == [("English", "en"), ("简体中文", "zh")]
    assert json.loads(book.myst_config(english_only[0], english_only, "book-theme"))["site"]["nav"] == []
    assert both[1].exercises == both[0].exercises  # no Chinese starters yet: the English ones are linked


def test_the_english_edition_has_every_lesson_and_exercise() -> None:
    english = book.editions()[0]
    config = json.loads(book.myst_config(english, [english], "book-theme"))
    files = [entry["file"] for entry in config["project"]["toc"]]
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("0[0-6]_*.ipynb"))
    assert [f"lessons/{name}" for name in lessons] == [f for f in files if f.startswith("lessons/")]
    page = book.exercises_page(english)
    for path in sorted((ROOT / "exercises").glob("ex*.ipynb")):
        assert f"<exercises/{path.name}>" in page


def test_a_template_folder_without_template_yml_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(book.TEMPLATE_ENV, str(tmp_path))
    with pytest.raises(book.BookError, match="has no template.yml"):
        book.template_source()


@pytest.mark.slow
def test_the_book_content_builds_offline_with_each_lesson_a_summary_table_and_a_diagram(tmp_path: Path) -> None:
    built = book.build(tmp_path / "book", html=False)
    content = {p.stem: p.read_text() for p in (built[0] / "content").glob("*.json")}
    for path in sorted((ROOT / "notebooks").glob("0[0-6]_*.ipynb")):
        assert path.stem.split("_", 1)[1].replace("_", "-") in content, path.name
    assert "<table" in content["sequential"] and "<svg" in content["sequential"]


@pytest.mark.slow
def test_the_book_builds_with_each_lesson_a_summary_table_and_a_diagram(tmp_path: Path) -> None:
    if not os.environ.get(book.TEMPLATE_ENV) and not shutil.which("node"):
        pytest.fail("Node.js >= 18 is needed by jupyter-book 2 (MyST): apt-get install nodejs.")
    out = tmp_path / "book"
    try:
        built = book.build(out)
    except book.BookError as error:
        if "could not download its book theme" in str(error):
            pytest.skip(f"no book theme offline: set {book.TEMPLATE_ENV} (see course/book/__init__.py)")
        raise
    html = "".join(p.read_text(errors="replace") for p in built[0].rglob("*.html"))
    data = "".join(p.read_text(errors="replace") for p in built[0].rglob("*.json"))
    for path in sorted((ROOT / "notebooks").glob("0[0-6]_*.ipynb")):
        assert path.stem.split("_", 1)[1].replace("_", "-") in html + data, path.name
    assert "<table" in html + data and "<svg" in html + data
