"""The book: Sphinx projects staged from copies of the notebooks; the offline build and a real browser check it."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from course import book
from course.book.switch import switch_links

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's, as in tests/test_browser.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LESSON = "01_sequential"
# a toolkit diagram drawn in an output (inline SVG or an image/svg+xml file), not the Colab badge
DIAGRAM = "article .cell_output svg, article .cell_output img[src*='_images/'][src$='.svg']"
DIAGRAM_IMG = re.compile(r'<img [^>]*src="[^"]*_images/[0-9a-f]+\.svg"')


def _fake_repo(tmp_path: Path, chinese: bool, real: bool = False) -> Path:
    """English lesson 01 and exercise 01 (real copies when ``real``), and a Chinese copy of lesson 01 (zh-CN)."""
    for rel in (f"notebooks/{LESSON}.ipynb", "notebooks/02_functional.ipynb", "exercises/ex01_sequential.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        if real and "02_" not in rel:
            shutil.copy2(ROOT / rel, tmp_path / rel)
        else:
            (tmp_path / rel).write_text("{}")
    if chinese:
        (tmp_path / "notebooks/zh").mkdir()
        notebook = json.loads((tmp_path / f"notebooks/{LESSON}.ipynb").read_text())
        notebook.setdefault("metadata", {})["lang"] = "zh-CN"
        (tmp_path / f"notebooks/zh/{LESSON}.ipynb").write_text(json.dumps(notebook, ensure_ascii=False))
    return tmp_path


def _conf(edition: book.Edition, editions: list[book.Edition]) -> dict:
    namespace: dict = {}
    exec(book.sphinx_config(edition, editions), namespace)
    return namespace


def test_the_switch_lists_only_editions_that_exist(tmp_path: Path) -> None:
    english_only = book.editions(_fake_repo(tmp_path / "a", chinese=False))
    assert [e.lang for e in english_only] == ["en"]
    assert _conf(english_only[0], english_only)["book_switch"] == []
    both = book.editions(_fake_repo(tmp_path / "b", chinese=True))
    assert [(e.lang, e.code) for e in both] == [("en", "en"), ("zh", "zh-CN")]
    conf = _conf(both[1], both)
    assert conf["language"] == "zh_CN" and _conf(both[0], both)["language"] == "en"
    assert [(s["dir"], s["label"]) for s in conf["book_switch"]] == [("en", "English")]
    assert both[1].exercises == both[0].exercises  # no Chinese starters yet: the English ones are linked


def test_the_config_uses_stored_outputs_offline() -> None:
    english = book.editions()[0]
    conf = _conf(english, [english])
    assert conf["nb_execution_mode"] == "off" and conf["nb_ipywidgets_js"] == {}
    assert conf["html_theme"] == "sphinx_book_theme" and "myst_nb" in conf["extensions"]


def test_switch_links_go_to_the_same_page_else_the_index() -> None:
    zh = [{"dir": "zh", "label": "简体中文", "code": "zh-CN", "pages": ["index", f"lessons/{LESSON}"]}]
    assert switch_links(f"lessons/{LESSON}", zh)[0]["href"] == f"../../zh/lessons/{LESSON}.html"
    assert switch_links("lessons/02_functional", zh)[0]["href"] == "../../zh/index.html"
    assert switch_links("index", zh)[0]["href"] == "../zh/index.html"


def test_staging_copies_every_lesson_and_starter_and_leaves_the_notebooks_alone(tmp_path: Path) -> None:
    english = book.editions()[0]
    before = {p: p.read_bytes() for p in english.lessons + english.exercises}
    folder = book.stage(english, [english], tmp_path)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("0[0-6]_*.ipynb"))
    assert sorted(p.name for p in (folder / "lessons").iterdir()) == lessons
    index = (folder / "index.md").read_text()
    assert all(f"lessons/{Path(name).stem}" in index for name in lessons)
    page = (folder / "exercises.md").read_text()
    for path in sorted((ROOT / "exercises").glob("ex*.ipynb")):
        assert f"<starters/{path.name}>" in page and (folder / "starters" / path.name).read_bytes() == before[path]
    assert {p: p.read_bytes() for p in before} == before


def test_an_unreadable_notebook_is_a_clear_error(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, chinese=True)
    (repo / f"notebooks/zh/{LESSON}.ipynb").write_text("not json")
    with pytest.raises(book.BookError, match="is not a readable notebook"):
        _ = book.editions(repo)[1].code


def test_a_broken_lesson_fails_the_build(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, chinese=False, real=True)
    (repo / "notebooks/02_functional.ipynb").write_text('{"cells": [{"cell_type": "code"}]}')  # a broken lesson
    with pytest.raises(book.BookError, match="02_functional.ipynb is not a valid notebook"):
        book.build(tmp_path / "out", root=repo)


def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def real_book() -> list[book.Built]:
    """``make book``: the repository's book in artifacts/book/ (built once for this module)."""
    return book.build(ARTIFACTS / "book")


@pytest.fixture(scope="module")
def bilingual_book(real_book: list[book.Built], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's book when it has a second edition; else one from a fake repo with a zh-CN lesson."""
    if len(real_book) > 1:
        return ARTIFACTS / "book"
    repo = _fake_repo(tmp_path_factory.mktemp("repo"), chinese=True, real=True)
    (repo / "notebooks/02_functional.ipynb").unlink()
    out = tmp_path_factory.mktemp("bilingual") / "book"
    book.build(out, root=repo)
    return out


@pytest.mark.slow
def test_the_real_book_has_every_lesson_with_a_summary_table_and_a_diagram(real_book: list[book.Built]) -> None:
    english = real_book[0].path
    for path in sorted((ROOT / "notebooks").glob("0[0-6]_*.ipynb")):
        page = _html(english / "lessons" / f"{path.stem}.html")
        assert "<table" in page, path.name
        assert "<svg" in page or DIAGRAM_IMG.search(page), path.name  # inline, or an image/svg+xml output
    exercises = _html(english / "exercises.html")
    for path in sorted((ROOT / "exercises").glob("ex*.ipynb")):
        assert path.name in exercises and list((english / "_downloads").rglob(path.name)), path.name
    index = _html(ARTIFACTS / "book" / "index.html")
    assert all(f'href="{b.lang}/index.html"' in index for b in real_book)
    print(f"warnings: {[len(b.warnings) for b in real_book]}")


@pytest.mark.slow
def test_the_chinese_edition_is_built_with_its_language_and_switch(bilingual_book: Path) -> None:
    zh = _html(bilingual_book / "zh" / "lessons" / f"{LESSON}.html")
    assert 'lang="zh-CN"' in zh or 'lang="zh_CN"' in zh
    assert f'href="../../en/lessons/{LESSON}.html"' in zh
    assert f'href="../../zh/lessons/{LESSON}.html"' in _html(bilingual_book / "en" / "lessons" / f"{LESSON}.html")
    assert 'href="zh/index.html"' in _html(bilingual_book / "index.html")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(bilingual_book: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(bilingual_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_browser_sees_tables_diagrams_and_the_switch_in_both_editions(served: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (Debian: apt-get install chromium) or set "
                    f"$CHROMIUM to its path; deselect this test with -m 'not browser'.")
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[dev]' (its browser download is not needed).")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(served)
                   else route.abort())  # offline: nothing but the book's own files
        try:
            for lang, other in (("en", "zh"), ("zh", "en")):
                page.goto(f"{served}/{lang}/lessons/{LESSON}.html", wait_until="load")
                table = page.locator("article table").first
                table.scroll_into_view_if_needed()
                assert table.is_visible() and (table.bounding_box() or {}).get("height", 0) > 20, lang
                diagram = page.locator(DIAGRAM).first
                diagram.scroll_into_view_if_needed()
                box = diagram.bounding_box()
                assert diagram.is_visible() and box and box["width"] > 20 and box["height"] > 20, lang
                page.screenshot(path=str(ARTIFACTS / f"book_{lang}.png"))
                link = page.locator("a.language-switch-link").first
                assert link.is_visible(), lang
                link.click()
                page.wait_for_load_state("load")
                assert page.url.endswith(f"/{other}/lessons/{LESSON}.html"), page.url
                assert page.locator("article table").first.is_visible(), other
        finally:
            browser.close()
