"""The Chinese edition: in step with the English source, the same code, and the toolkit's messages in Chinese."""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import nbformat
import pytest

from course import translations as tr
from toolkit import checks, i18n

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "toolkit" / "i18n" / "locale" / "zh_CN" / "LC_MESSAGES" / "toolkit.po"


def test_every_english_notebook_has_an_up_to_date_translation() -> None:
    found = [p for en, zh in tr.pairs(ROOT) for p in tr.problems(en, zh)]
    assert not found, "\n".join(found[:20]) + f"\n({len(found)} problems; see `course translations check`)"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A small English notebook and its stamped translation, in a scratch folder."""
    english = tmp_path / "notebooks" / "01_demo.ipynb"
    english.parent.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Lesson 1\n\nWe build a model with two Dense layers and train it."),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nx = 1  # one input\nprint(x)"),
        nbformat.v4.new_markdown_cell("Predict: what does the cell above print, and why is it one?"),
    ])
    nbformat.write(nb, english)
    zh = english.parent / "zh" / english.name
    tr.new(english, zh)
    nb_zh = nbformat.read(zh, as_version=4)
    nb_zh.cells[0].source = "# 第 1 课\n\n我们用两个 Dense 层搭一个模型并训练它。"
    nb_zh.cells[1].source = "# NBVAL_IGNORE_OUTPUT\nx = 1  # 一个输入\nprint(x)"
    nb_zh.cells[2].source = "先预测：上面的单元格打印什么？为什么是 1？"
    nbformat.write(nb_zh, zh)
    assert tr.stamp(english, zh) == 2
    assert tr.problems(english, zh) == []
    return english, zh


def _edit(path: Path, index: int, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, path)


def test_a_new_translation_lists_every_untranslated_cell(tmp_path: Path) -> None:
    english = ROOT / "notebooks" / "02_functional.ipynb"
    zh = tmp_path / "zh" / english.name
    tr.new(english, zh)
    untranslated = [p for p in tr.problems(english, zh) if "not translated yet" in p]
    markdown = [c for c in nbformat.read(english, as_version=4).cells if c.cell_type == "markdown"]
    assert len(untranslated) == len(markdown) - 1  # all but the generated badge
    with pytest.raises(tr.TranslationError, match="still reads as English"):
        tr.stamp(english, zh)


def test_a_changed_english_cell_makes_its_translation_stale(pair: tuple[Path, Path]) -> None:
    english, zh = pair
    _edit(english, 2, "Predict: what does the cell above print?")
    (problem,) = tr.problems(english, zh)
    assert "cell 2: the English cell changed since it was translated" in problem
    _edit(zh, 2, "先预测：上面的单元格打印什么？")
    tr.stamp(english, zh)
    assert tr.problems(english, zh) == []
    recorded = nbformat.read(zh, as_version=4).metadata["translation"]
    assert recorded["source_markdown_sha256"] == tr._markdown_digest(nbformat.read(english, as_version=4))


@pytest.mark.parametrize(
    "code, allowed",
    [
        ("# NBVAL_IGNORE_OUTPUT\nx = 1  # 输入\nprint(x)", True),
        ("# NBVAL_IGNORE_OUTPUT\n# 先设 x\nx = 1\nprint(x)", True),  # a comment line added: still the same code
        ("# NBVAL_IGNORE_OUTPUT\nx = 2  # 一个输入\nprint(x)", False),
        ("x = 1  # 一个输入\nprint(x)", False),  # the nbval marker is code for the test run
        ("# NBVAL_IGNORE_OUTPUT\nx = 1\nprint('x')", False),
    ],
)
def test_code_cells_must_be_the_same_code_comments_may_differ(
    pair: tuple[Path, Path], code: str, allowed: bool
) -> None:
    english, zh = pair
    _edit(zh, 1, code)
    found = tr.problems(english, zh)
    assert (found == []) is allowed, found
    if not allowed:
        assert "the code differs from the English cell" in found[0]
        with pytest.raises(tr.TranslationError, match="code differs"):
            tr.stamp(english, zh)


def test_cells_out_of_step_are_named(pair: tuple[Path, Path]) -> None:
    english, zh = pair
    nb = nbformat.read(english, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("A new paragraph."))
    nbformat.write(nb, english)
    (problem,) = tr.problems(english, zh)
    assert "has 3 cells, its English source 4" in problem


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "course" / "solutions" / "zh").glob("ex*.ipynb")))
def test_a_chinese_notebook_rebuilds_against_the_english_source_with_nothing_to_note(name: str) -> None:
    from course.authoring.notebook_format import load_exercise
    from course.grading.rebuild import rebuild

    exercise = load_exercise(ROOT / "course" / "solutions" / name)
    for folder in (ROOT / "course" / "solutions" / "zh", ROOT / "exercises" / "zh"):
        rebuilt = rebuild(exercise, nbformat.read(folder / name, as_version=4))
        assert rebuilt.notes == () and rebuilt.notebook.metadata["lang"] == "zh-CN", (folder, rebuilt.notes)
    edited = nbformat.read(ROOT / "exercises" / "zh" / name, as_version=4)
    locked = next(c for c in edited.cells if c.get("metadata", {}).get("course", {}).get("locked"))
    locked.source += "\nx = 1"
    assert any("was edited" in note for note in rebuild(exercise, edited).notes)


def test_the_starters_of_the_chinese_edition_open_themselves_on_colab() -> None:
    from course.authoring import notebook_setup as ns

    publication = ns.read_publication(ROOT)  # unpublished: a Chinese line on running it locally instead of a badge
    for starter in sorted((ROOT / "exercises" / "zh").glob("*.ipynb")):
        badge = nbformat.read(starter, as_version=4).cells[0].source
        assert badge == ns.badge_markdown(f"exercises/zh/{starter.name}", publication), starter


def test_the_catalog_translates_every_learner_facing_message() -> None:
    catalog = i18n.catalog("zh-CN")  # the compiled catalog the toolkit reads (tests/test_i18n_catalog.py: the .po)
    missing = sorted(tr.message_ids(ROOT) - set(catalog))
    assert not missing, f"{len(missing)} messages have no Chinese text in {CATALOG.name}: {missing[:5]}"
    for english, chinese in catalog.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(english) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(chinese) if f}, english
        assert chinese.strip() and not tr.untranslated(chinese), english


def test_checks_speak_the_chosen_language(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KERAS_COURSE_LANG", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    i18n.set_language(None)
    with pytest.raises(checks.CheckFailure, match=r"^model name is not right\.\n  expected: 'a'\n  found:    'b'"):
        checks.check_equal("model name", "b", "a")
    try:
        i18n.set_language("zh-CN")
        with pytest.raises(checks.CheckFailure) as failure:
            checks.check_equal("model name", "b", "a", hint="pass name=... to each layer")
        catalog = i18n.catalog("zh-CN")
        message = str(failure.value)
        assert message.splitlines()[0] == catalog["{what} is not right."].format(what=catalog["model name"])
        assert catalog["pass name=... to each layer"] in message and "'b'" in message
        checks.check_true(True, "return inputs")
        assert capsys.readouterr().out == f"✓ {catalog['return inputs']}\n"
    finally:
        i18n.set_language(None)


def test_the_language_comes_from_the_environment_or_the_notebook(tmp_path: Path) -> None:
    notebook = tmp_path / "lesson.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"lang": "zh-CN"})
    nbformat.write(nb, notebook)
    assert i18n.language({}) == "en"
    assert i18n.language({"JPY_SESSION_NAME": str(notebook)}) == "zh-CN"
    assert i18n.language({"KERAS_COURSE_LANG": "en", "JPY_SESSION_NAME": str(notebook)}) == "en"
    assert i18n.language({"KERAS_COURSE_LANG": "zh_cn"}) == "zh-CN"
    assert i18n.language({"JPY_SESSION_NAME": str(tmp_path / "gone.ipynb")}) == "en"
    with pytest.raises(ValueError, match="KERAS_COURSE_LANG is 'fr', a language the course does not have; use one of"):
        i18n.language({"KERAS_COURSE_LANG": "fr"})


def test_stamp_needs_a_notebook_in_a_zh_folder(tmp_path: Path) -> None:
    stray = tmp_path / "x.ipynb"
    shutil.copy(ROOT / "notebooks" / "02_functional.ipynb", stray)
    with pytest.raises(tr.TranslationError, match="is not in a zh/ folder"):
        tr.english_for(stray, ROOT)


@pytest.mark.slow
def test_under_nbval_each_kernel_speaks_its_notebooks_language(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cell = "from toolkit import i18n\nassert i18n.language() == {!r}, i18n.language()"
    for name, lang in (("zh.ipynb", "zh-CN"), ("en.ipynb", "en")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell.format(lang))])
        if lang != "en":
            nb.metadata["lang"] = lang
        nbformat.write(nb, tmp_path / name)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "--nbval-current-env", "-p", "course.nbval_lang",
         "-p", "no:cacheprovider", str(tmp_path / "zh.ipynb"), str(tmp_path / "en.ipynb")],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "KERAS_COURSE_LANG": ""},
    )
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-2000:]


def _avoided_terms() -> list[str]:
    """The left column of the glossary's table of words the Chinese edition does not use (data, not code)."""
    text = (ROOT / "course" / "glossary.zh.md").read_text(encoding="utf-8").split("## 不用的写法", 1)[1]
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    return [r.split("（")[0] for r in rows[1:]]  # without the header row; a note in brackets is not part of the word


def _chinese_texts() -> list[tuple[str, str]]:
    """(where, text) for every cell of the Chinese notebooks, solutions and starters, and the Chinese documents."""
    found = []
    for folder in ("notebooks/zh", "course/solutions/zh", "exercises/zh"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
                found.append((f"{path.relative_to(ROOT)}, cell {i}", cell.source))
    for path in sorted((ROOT / "course").glob("*.zh.md")):
        body = path.read_text(encoding="utf-8")
        found.append((str(path.relative_to(ROOT)), body.split("## 不用的写法")[0]))
    return found


def test_the_chinese_edition_uses_the_glossarys_words_and_no_stacked_brackets() -> None:
    avoided = _avoided_terms()
    assert "正确率" in avoided, avoided  # the table is read, not empty
    texts = _chinese_texts()
    assert len(texts) > 300
    wrong = [f"{where}: {term}" for where, text in texts for term in avoided if term in text]
    assert not wrong, "words the glossary says not to use (course/glossary.zh.md):\n" + "\n".join(wrong)
    stacked = [f"{where}: …{text[max(0, m - 30):m + 30]}…" for where, text in texts if (m := text.find("）（")) >= 0]
    assert not stacked, "two brackets in a row (merge them; see the glossary):\n" + "\n".join(stacked)
