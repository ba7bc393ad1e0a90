"""The toolkit's gettext catalog: every message the code shows is extracted (Babel), translated, and compiled.

``toolkit/i18n/README.md`` has the commands that refresh the template, the Chinese ``.po`` and its ``.mo``.
"""

from __future__ import annotations

import ast
import gettext
import re
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from toolkit import i18n

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "toolkit" / "i18n"
PO = I18N / "locale" / "zh_CN" / "LC_MESSAGES" / "toolkit.po"
MO = PO.with_suffix(".mo")
POT = I18N / "toolkit.pot"
# the keywords of babel.cfg's command (-k tr -k msg -k ntr:1,2 -k N_)
KEYWORDS: dict[str, Any] = {"tr": None, "msg": None, "N_": None, "ntr": (1, 2)}
REFRESH = "refresh the catalog as toolkit/i18n/README.md says (pybabel extract, update, compile)"


def untranslated(text: str) -> bool:
    """Still English: no Chinese character and a run of four English words (code in backticks left out)."""
    if re.search("[\u4e00-\u9fff]", text):
        return False
    return bool(re.search(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{3,}){3,}", re.sub(r"`[^`]*`", "", text)))


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


@pytest.fixture(scope="module")
def extracted() -> dict[str, str]:
    """msgid -> where it was found, by Babel's own extraction with the repository's babel.cfg."""
    with (I18N / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(_key(message), f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def po() -> Any:
    with PO.open("rb") as f:
        return read_po(f)


def _fields(text: str) -> list[tuple[str, str | None, str]]:
    return sorted((name, conv or "", spec or "") for _, name, spec, conv in string.Formatter().parse(text) if name)


def test_extraction_finds_the_toolkit_messages_and_the_check_cells_texts(extracted: dict[str, str]) -> None:
    assert "{what} is not right." in extracted  # tr() in toolkit/checks.py
    assert "What" in extracted  # N_() in toolkit/render/explanation_view.py
    assert "Layer (call)" in extracted and "Total params: {n}" in extracted  # N_() headers, tr() footers
    assert any(where.startswith(("notebooks/", "course/solutions/")) for where in extracted.values())  # check cells
    assert len(extracted) > 300


def test_every_extracted_message_has_a_chinese_translation(extracted: dict[str, str], po: Any) -> None:
    translated = {_key(m.id): m for m in po if m.id and all(m.string if isinstance(m.string, tuple) else [m.string])}
    missing = [f"{where}: {text!r}" for text, where in sorted(extracted.items()) if text not in translated]
    assert not missing, f"{len(missing)} messages have no Chinese text in {PO.name} ({REFRESH}):\n" + "\n".join(
        missing[:15]
    )
    fuzzy = sorted(_key(m.id) for m in po if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) translations in {PO.name}: {fuzzy[:10]}"


def test_translations_keep_the_fields_of_their_english_text(po: Any) -> None:
    for m in po:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in strings:
            assert _fields(text) == _fields(ids[0]), f"{ids[0]!r}: the translation {text!r} has other {{fields}}"
            assert text.strip() and not untranslated(text), f"{ids[0]!r} still reads as English: {text!r}"


def test_the_catalog_has_nothing_stale(extracted: dict[str, str], po: Any) -> None:
    with POT.open("rb") as f:
        template = {_key(m.id) for m in read_po(f) if m.id}
    assert template == set(extracted), f"{POT.name} is out of date: {REFRESH}"
    stale = sorted({_key(m.id) for m in po if m.id} - set(extracted))
    assert not stale, f"{PO.name} translates messages the code no longer has ({REFRESH}): {stale[:5]}"


def test_the_compiled_catalog_is_the_po(po: Any) -> None:
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in po:
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            assert compiled.ngettext(m.id[0], m.id[1], 1) == m.string[0], f"{MO.name} is out of date: {REFRESH}"
        else:
            assert compiled.gettext(m.id) == m.string, f"{MO.name} is out of date for {m.id!r}: {REFRESH}"
    assert len(i18n.catalog("zh-CN")) == sum(1 for m in po if m.id and not isinstance(m.id, tuple))


def test_tr_uses_gettext_fills_fields_and_stays_cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_COURSE_LANG", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    i18n.set_language("zh-CN")
    try:
        assert isinstance(i18n.translations("zh-CN"), gettext.GNUTranslations)
        assert i18n.translations("zh-CN") is i18n.translations("zh-CN")  # read once
        assert i18n.tr("Total params: {n}", n="1,234") == "参数总数：1,234"
        assert i18n.ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', 3, layer="d") == '层 "d"：3 次调用'
        assert i18n.tr("a text the catalog does not have {x}", x=1) == "a text the catalog does not have 1"
        assert i18n.tr("") == ""  # not gettext's header
        assert i18n.tr("{text}, a {kind}", text="x", kind="str") == "x（str 类型）"  # a field may be called text
        start = time.perf_counter()
        for _ in range(10_000):
            i18n.tr("{what} is not right.", what="x")
        assert time.perf_counter() - start < 0.5
    finally:
        i18n.set_language(None)
    assert i18n.ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', 1, layer="d") == 'Layer "d": 1 call'
    assert i18n.ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', 2, layer="d") == 'Layer "d": 2 calls'


def _calls_to_keywords() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted((ROOT / "toolkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in KEYWORDS:
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def test_babel_sees_every_message_the_code_passes_to_the_catalog(extracted: dict[str, str]) -> None:
    """An independent reading (Python's ast) of every tr/ntr/msg/N_ call: Babel must have found each literal, and
    none may be an f-string (its text would never match a msgid), e.g. a tr("...") inside an f-string's braces."""
    unseen, formatted = [], []
    for where, call in _calls_to_keywords():
        first = call.args[0] if call.args else None
        if isinstance(first, ast.JoinedStr):
            formatted.append(where)
        elif isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value not in extracted:
            unseen.append(f"{where}: {first.value!r}")
    assert not formatted, f"f-strings passed as messages (use fields: tr('... {{x}}', x=...)): {formatted}"
    assert not unseen, f"messages Babel's extraction misses: {unseen[:10]}"


@pytest.fixture
def chinese(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("KERAS_COURSE_LANG", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    i18n.set_language("zh-CN")
    yield
    i18n.set_language(None)


def _english_left(text: str, names: set[str]) -> list[str]:
    """Runs of two English words that are not code: names, class names and backticked or call-like code removed."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"`[^`]*`|<[^>]*>|\w+\([^)]*\)|\w+=\S+|&\w+;", " ", text)
    return re.findall(r"\b[A-Za-z]{3,}(?: [A-Za-z]{3,})+\b", text)


def test_a_chinese_summary_call_table_and_diagram_have_no_english_ui_text(chinese: None) -> None:
    """The UI of the inspection results in Chinese: headers, totals, notes, marks, legends (code and names stay)."""
    import zoo

    import toolkit
    from toolkit.inspection.diagram import call_lines
    from toolkit.inspection.model_inputs import walk
    from toolkit.render.dot import build_dot

    model = zoo.shared_conv()
    s = toolkit.summary(model)
    names = {r.name for r in s.rows} | {r.class_name for r in s.rows} | {model.name, s.record.kind}
    names |= {"MACs", "None"}
    rendered = {
        "summary text": str(s),
        "summary html": s._repr_html_(),
        "call table": str(toolkit.calls(model.get_layer("conv")))
        + toolkit.calls(model.get_layer("conv"))._repr_html_(),
        "diagram dot": build_dot(walk(model, None, "diagram")),
        "diagram dot per layer": build_dot(walk(model, None, "diagram"), per_call=False),
        "diagram text": "\n".join(call_lines(walk(model, None, "diagram"))),
    }
    for what, text in rendered.items():
        assert re.search("[\u4e00-\u9fff]", text), what
        left = _english_left(text, names)
        assert not left, f"{what} still shows English: {left[:5]}"
    assert "参数总数" in str(s) and "共用权重" in rendered["diagram dot"]
    with pytest.raises(IndexError, match="层 'conv' 有 2 次调用（节点编号 0 到 1）"):
        toolkit.output_at(model.get_layer("conv"), 5)
