"""The book: Sphinx projects staged from copies of the notebooks; the offline build and a real browser check it."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from course import book
from course.book.switch import switch_links

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's, as in tests/test_browser.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LESSON = "01_sequential"
# a toolkit diagram drawn in an output (inline SVG, an image/svg+xml or image/png file, or a panel's stored copy: a
# PNG <img class="toolkit-diagram">), not the Colab badge
DIAGRAM = ("article .cell_output svg, article .cell_output img[src*='_images/'][src$='.svg'], "
           "article .cell_output img[src*='_images/'][src$='.png'], article .cell_output img.toolkit-diagram")
DIAGRAM_IMG = re.compile(r'<img [^>]*src="[^"]*_images/[0-9a-f]+\.(svg|png)"|<img class="toolkit-diagram"')


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


def _minimal_lessons(repo: Path) -> Path:
    """Make the fake repo's lessons valid one-cell notebooks, so that they can be staged (never built)."""
    import nbformat

    for path in sorted(repo.glob("notebooks/**/[0-9][0-9]_*.ipynb")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {path.stem}")])
        nb.metadata["lang"] = "zh-CN" if path.parent.name == "zh" else "en"
        path.write_text(nbformat.writes(nb), encoding="utf-8")
    return repo


def _conf(edition: book.Edition, editions: list[book.Edition], settings: object = None) -> dict:
    namespace: dict = {}
    exec(book.sphinx_config(edition, editions, *([settings] if settings else [])), namespace)
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


SETTINGS = """[tool.keras-course]
repository = ""
title = "Keras, call by call"
title-zh = "逐次调用 Keras"
author = "Ada Lovelace"
"""


def test_titles_and_the_author_come_from_one_setting_in_pyproject(tmp_path: Path) -> None:
    repo = _minimal_lessons(_fake_repo(tmp_path, chinese=True))
    (repo / "pyproject.toml").write_text(SETTINGS, encoding="utf-8")
    settings = book.read_settings(repo)
    both = book.editions(repo)
    english, chinese = _conf(both[0], both, settings), _conf(both[1], both, settings)
    assert (english["project"], english["html_title"]) == ("Keras, call by call", "Keras, call by call")
    assert (chinese["project"], chinese["html_title"]) == ("逐次调用 Keras", "逐次调用 Keras")
    assert english["author"] == chinese["author"] == "Ada Lovelace"
    assert "author.html" in english["html_theme_options"]["footer_content_items"]
    assert book.index_page(both[1], settings).startswith("# 逐次调用 Keras\n")
    staged = book.stage(both[0], both, tmp_path / "src", settings)
    assert "Keras, call by call" in (staged / "index.md").read_text()
    assert "Ada Lovelace" in (staged / "conf.py").read_text()


def test_without_an_author_no_author_line_is_configured(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, chinese=True)
    (repo / "pyproject.toml").write_text('[tool.keras-course]\nrepository = ""\n', encoding="utf-8")
    settings = book.read_settings(repo)
    assert settings == book.read_settings(tmp_path / "no-pyproject-here")  # the defaults
    assert settings.author == "" and settings.title("en") == "Building tf.keras models, one call at a time"
    assert settings.title("zh") == "逐次调用构建 tf.keras 模型" and settings.title("fr") == settings.title("en")
    for edition in book.editions(repo):
        conf = _conf(edition, book.editions(repo), settings)
        # Sphinx's own default author is the placeholder "Author name not set", which the theme's footer shows
        assert conf["author"] == "" and conf["html_show_copyright"] is False
        assert "author.html" not in conf["html_theme_options"]["footer_content_items"]
    real = book.read_settings(ROOT)  # the course's own pyproject.toml reads cleanly
    assert isinstance(real.author, str) and real.title("en") and real.title("zh")


@pytest.mark.parametrize(("line", "key"), [("author = 3", "author"), ("title = []", "title"),
                                           ('title-zh = " "', "title-zh"), ("author = false", "author")])
def test_a_bad_book_setting_is_one_sentence_naming_the_file_key_and_fix(tmp_path: Path, line: str, key: str) -> None:
    repo = _fake_repo(tmp_path, chinese=False)
    (repo / "pyproject.toml").write_text(f"[tool.keras-course]\n{line}\n", encoding="utf-8")
    with pytest.raises(book.BookError) as caught:
        book.build(tmp_path / "out", root=repo)  # refused before any Sphinx run
    said = str(caught.value)
    assert len(said.splitlines()) == 1 and said.endswith("."), said
    assert f"[tool.keras-course] {key} must be a " in said and str(repo / "pyproject.toml") in said, said
    assert f"write it as {key} = " in said, said
    assert not (tmp_path / "out").exists()


def test_the_root_page_is_a_styled_self_contained_card_per_edition() -> None:
    doors = [book.root_page.door("en", "en", "English", "Keras <call> by call"),
             book.root_page.door("zh", "zh-CN", "简体中文", "逐次调用 Keras")]
    page = book.root_page.render(doors, "Keras <call> by call")
    assert page.startswith("<!doctype html>") and '<html lang="en">' in page and '<meta charset="utf-8">' in page
    assert page.count("<h1>") == 1 and "<title>Keras &lt;call&gt; by call</title>" in page
    assert "<style>" in page and "<link" not in page and "<script" not in page
    assert "//" not in re.sub(r"/\*.*?\*/", "", page, flags=re.DOTALL)  # no address elsewhere: it works offline
    cards = re.findall(r'<a class="edition" href="([^"]+)" hreflang="([^"]+)" lang="([^"]+)">(.*?)</a>', page, re.S)
    assert [(href, code, lang) for href, code, lang, _ in cards] == [
        ("en/index.html", "en", "en"), ("zh/index.html", "zh-CN", "zh-CN")]
    assert "English" in cards[0][3] and "The lessons and exercises in English." in cards[0][3]
    assert "简体中文" in cards[1][3] and "逐次调用 Keras" in cards[1][3] and "中文版的课程与练习。" in cards[1][3]
    assert "$" not in page and "<!-- edition -->" not in page
    assert page == book.root_page.render(doors, "Keras <call> by call")  # deterministic


def test_the_books_data_files_are_package_data() -> None:
    import fnmatch
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["course"]
    for name in ("root.html", "book.css"):
        assert (ROOT / "course" / "book" / name).is_file(), name
        assert any(fnmatch.fnmatch(f"book/{name}", pattern) for pattern in patterns), (name, patterns)


def test_the_book_css_is_staged_and_listed_in_the_config(tmp_path: Path) -> None:
    english = book.editions(_minimal_lessons(_fake_repo(tmp_path, chinese=False)))[0]
    conf = _conf(english, [english])
    assert conf["html_static_path"] == ["_static"] and conf["html_css_files"] == ["book.css"]
    folder = book.stage(english, [english], tmp_path / "src")
    css = (folder / "_static" / "book.css").read_text()
    assert "overflow-x" in css and ".language-switch" in css


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
        assert "<svg" in page or DIAGRAM_IMG.search(page), path.name  # inline, or an image output
    exercises = _html(english / "exercises.html")
    for path in sorted((ROOT / "exercises").glob("ex*.ipynb")):
        assert path.name in exercises and list((english / "_downloads").rglob(path.name)), path.name
    index = _html(ARTIFACTS / "book" / "index.html")
    assert all(f'href="{b.lang}/index.html"' in index for b in real_book)
    print(f"warnings: {[len(b.warnings) for b in real_book]}")


@pytest.mark.slow
def test_the_real_book_has_the_set_titles_no_author_placeholder_and_a_styled_root_page(
    real_book: list[book.Built],
) -> None:
    settings = book.read_settings(ROOT)
    index = _html(ARTIFACTS / "book" / "index.html")
    assert "<style>" in index and "<link" not in index and "<script" not in index  # styled, offline
    assert all(f'hreflang="{e.code}" lang="{e.code}"' in index for e in book.editions())
    assert f"<h1>{settings.title('en')}</h1>" in index
    pages = {p: _html(p) for p in (ARTIFACTS / "book").rglob("*.html")}
    assert len(pages) > 10 and not [p for p, text in pages.items() if "Author name not set" in text]  # Sphinx's
    if not settings.author:  # no author set: no "By ..." line at all
        assert not [p for p, text in pages.items() if "component-author" in text]
    for built in real_book:
        assert f"<h1>{settings.title(built.lang)}" in _html(built.path / "index.html"), built.lang
        assert 'href="../_static/book.css' in _html(built.path / "lessons" / f"{LESSON}.html"), built.lang


@pytest.mark.slow
def test_the_chinese_edition_is_built_with_its_language_and_switch(bilingual_book: Path) -> None:
    zh = _html(bilingual_book / "zh" / "lessons" / f"{LESSON}.html")
    assert 'lang="zh-CN"' in zh or 'lang="zh_CN"' in zh
    assert f'href="../../en/lessons/{LESSON}.html"' in zh
    assert f'href="../../zh/lessons/{LESSON}.html"' in _html(bilingual_book / "en" / "lessons" / f"{LESSON}.html")
    assert 'href="zh/index.html"' in _html(bilingual_book / "index.html")


# Where the language switch sits and whether anything covers it: its box, the header bar's, and the topmost element
# at its centre and just inside its corners (document.elementFromPoint), against the viewport.
SWITCH_JS = """() => {
  const link = document.querySelector('a.language-switch-link');
  const r = link.getBoundingClientRect();
  const header = document.querySelector('#pst-header, header.bd-header');
  const h = header ? header.getBoundingClientRect() : null;
  const points = [[r.left + r.width / 2, r.top + r.height / 2], [r.left + 2, r.top + 2], [r.right - 2, r.top + 2],
                  [r.left + 2, r.bottom - 2], [r.right - 2, r.bottom - 2]];
  const covered = points.map(([x, y]) => document.elementFromPoint(x, y))
                        .filter(e => !(e && link.contains(e))).map(e => e ? e.outerHTML.slice(0, 120) : 'nothing');
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,
          viewport: [document.documentElement.clientWidth, window.innerHeight], covered: covered,
          header: h && h.height > 0 ? [h.left, h.top, h.right, h.bottom] : null};
}"""
# The widest table in an output and the box it scrolls in: a table wider than the article must sit in a horizontal
# scroll container (overflow-x auto or scroll, scrollWidth > clientWidth) of its own (the table, or a box holding
# nothing else: the scroll bar right under the table, not below the whole output), inside the article.
TABLE_JS = """() => {
  const article = document.querySelector('article.bd-article');
  const a = article.getBoundingClientRect();
  const limit = Math.min(a.right, document.documentElement.clientWidth);
  const tables = [...document.querySelectorAll('article .cell_output table')];
  const table = tables.reduce((w, t) => (!w || t.scrollWidth > w.scrollWidth ? t : w), null);
  const t = table.getBoundingClientRect();
  let box = null;
  for (let e = table; e && e !== article; e = e.parentElement) {
    const x = getComputedStyle(e).overflowX;
    if ((x === 'auto' || x === 'scroll') && e.scrollWidth > e.clientWidth) { box = e; break; }
  }
  const b = box ? box.getBoundingClientRect() : null;
  return {width: table.scrollWidth, article: article.clientWidth, left: a.left, limit: limit, right: t.right,
          text: table.innerText.slice(0, 60), box: box ? [b.left, b.right, box.scrollWidth, box.clientWidth] : null,
          inOutput: !!(box && box.closest('.cell_output')),
          own: !!(box && (box === table || box.innerText.trim() === table.innerText.trim()))};
}"""


def _check_switch_and_tables(page: Any, where: str, narrow: bool) -> None:
    """The switch is whole, in the viewport and topmost; the widest output table fits or scrolls in its own box."""
    for moment in ("top", "scrolled"):
        if moment == "scrolled":
            page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
        s = page.evaluate(SWITCH_JS)
        here = f"{where} ({moment}): {s}"
        assert s["width"] > 10 and s["height"] > 10, here
        width, height = s["viewport"]
        assert s["left"] >= 0 and s["top"] >= 0 and s["right"] <= width and s["bottom"] <= height, here
        assert not s["covered"], here  # nothing (the header bar) on top of it
        if s["header"]:
            left, top, right, bottom = s["header"]
            assert s["top"] >= bottom or s["bottom"] <= top or s["left"] >= right or s["right"] <= left, here
    t = page.evaluate(TABLE_JS)
    here = f"{where}: {t}"
    if narrow:  # at 400 pixels every summary table is wider than the column: the case this checks
        assert t["width"] > t["article"], here
    if t["width"] > t["article"] + 1:
        assert t["box"] and t["inOutput"], here  # it scrolls inside the output, not with the page or the article
        assert t["own"], here  # in a box of its own: the theme's scrolls the whole output, the bar out of sight
        assert t["box"][0] >= t["left"] - 1 and t["box"][1] <= t["limit"] + 1, here
    else:
        assert t["right"] <= t["limit"] + 1, here


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


@contextlib.contextmanager
def _browser_page(served: str) -> Iterator[Any]:
    """A page of headless Chromium that can load nothing but the served book (offline)."""
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
            yield page
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_browser_sees_tables_diagrams_and_the_switch_in_both_editions(served: str) -> None:
    with _browser_page(served) as page:
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


@pytest.mark.browser
@pytest.mark.slow
def test_a_browser_sees_the_whole_switch_and_wide_tables_scroll_in_their_own_box(served: str) -> None:
    """At a desktop's and a phone's width, in both editions: the switch is not under the top bar (at the top of the
    page and scrolled down), and the widest summary table scrolls inside its own box instead of being cut off."""
    with _browser_page(served) as page:
        for width in (1280, 400):
            page.set_viewport_size({"width": width, "height": 800})
            for lang in ("en", "zh"):
                page.goto(f"{served}/{lang}/lessons/{LESSON}.html", wait_until="load")
                _check_switch_and_tables(page, f"{lang} at {width}x800", narrow=width < 500)
                page.screenshot(path=str(ARTIFACTS / f"book_{lang}_{width}.png"))
