"""The toolkit's gettext catalog: every message the code shows is extracted (Babel), translated, and compiled.

``toolkit/i18n/README.md`` has the commands that refresh the template, the Chinese ``.po`` and its ``.mo``.
"""

from __future__ import annotations

import gettext
import re
import string
import time
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


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


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
    assert extracted["Layer (call)"].startswith("toolkit/render/summary_view.py")
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
    cjk = re.compile("[\u4e00-\u9fff]")
    for m in po:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in strings:
            assert _fields(text) == _fields(ids[0]), f"{ids[0]!r}: the translation {text!r} has other {{fields}}"
            assert cjk.search(text) or not re.search("[A-Za-z]{3,}", ids[0]), f"{ids[0]!r} is not translated: {text!r}"


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
        assert i18n.ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', 3, layer="d") == "层 \"d\"：3 次调用"
        assert i18n.tr("a text the catalog does not have {x}", x=1) == "a text the catalog does not have 1"
        assert i18n.tr("") == ""  # not gettext's header
        start = time.perf_counter()
        for _ in range(10_000):
            i18n.tr("{what} is not right.", what="x")
        assert time.perf_counter() - start < 0.5
    finally:
        i18n.set_language(None)
    assert i18n.ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', 1, layer="d") == 'Layer "d": 1 call'
    assert i18n.ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', 2, layer="d") == 'Layer "d": 2 calls'
