"""The words of the grader's feedback in each language the course has: English and Simplified Chinese (``zh-CN``).

The texts are data (``en.json``, ``zh_CN.json``; the same keys in both, with the same ``{fields}``, a test checks):
``frame`` holds the feedback's own lines and the statuses, ``messages`` translates what the grader writes into a
check's message, a problem or a note, looked up by its English text. A key may hold ``{fields}``: it then matches
any text of that shape (``"{m_where} raised {ename}: {text}"``), and the translation gets the same fields. A field
named ``m_...`` is itself a message, translated the same way (``m_where``: ``"your cell 3"``); ``n`` and ``n_...``
match a number only, ``id`` a quoted name (``'q1'``); other fields match any text and are kept as they are (names,
the student's code). Text no key matches stays as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh-CN")  # as toolkit.i18n.LANGUAGES: the values a notebook's metadata.lang may take


@dataclass(frozen=True)
class FeedbackText:
    """The feedback's texts in one language."""

    lang: str
    frame: dict[str, str]
    messages: dict[str, str]

    def __call__(self, key: str, **fields: Any) -> str:
        """The frame text ``key`` with its ``{fields}`` filled in."""
        return self.frame[key].format(**fields)

    def message(self, english: str) -> str:
        """A grader message in this language (itself when no key matches it)."""
        if english in self.messages:
            return self.messages[english]
        for template, pattern, nested in _patterns(tuple(self.messages)):
            best: tuple[int, dict[str, str]] | None = None
            for fields in _matches(pattern, english):  # where the text splits so that most message fields translate
                values = {k: self.message(v) if k in nested else v for k, v in fields.items()}
                translated = sum(values[k] != fields[k] or not fields[k] for k in nested)
                if best is None or translated > best[0]:
                    best = (translated, values)
                if translated == len(nested):
                    break
            if best is not None:
                return self.messages[template].format(**best[1])
        return english

    def days(self, n: int) -> str:
        return self("days_one" if n == 1 else "days_other", n=n)


_FIELD = re.compile(r"\{(\w+)\}")


@cache
def _patterns(keys: tuple[str, ...]) -> list[tuple[str, list[str], frozenset[str]]]:
    """The keys with fields, as alternating literal text and field names, the most literal text first (so that
    ``"your cell {n} (`{first}`)"`` is tried before ``"your cell {n}"``), with the names of their message fields."""
    found = []
    for key in keys:
        parts = _FIELD.split(key)  # literal, name, literal, name, ..., literal
        if len(parts) > 1:
            nested = frozenset(name for name in parts[1::2] if name.startswith("m_"))
            found.append((key, parts, nested))
    return sorted(found, key=lambda f: -sum(len(lit) for lit in f[1][::2]))


def _matches(parts: list[str], text: str) -> Iterator[dict[str, str]]:
    """Every way ``text`` splits into the template's literal pieces and its fields, leftmost first."""
    first, rest = parts[0], parts[1:]
    if not text.startswith(first):
        return
    yield from _split(rest, text[len(first) :], {})


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_QUOTED = re.compile(r"'[^'\s]*'")


def _fits(name: str, value: str) -> bool:
    """Whether ``value`` can be the field ``name``: a number for ``n``/``n_...``, a quoted name for ``id``."""
    if name == "n" or name.startswith("n_"):
        return bool(_NUMBER.fullmatch(value))
    if name == "id":
        return bool(_QUOTED.fullmatch(value))
    return True


def _split(rest: list[str], text: str, fields: dict[str, str]) -> Iterator[dict[str, str]]:
    name, literal, after = rest[0], rest[1], rest[2:]
    if not after:  # the last field: it takes everything before the final literal
        value = text[: len(text) - len(literal)]
        if text.endswith(literal) and len(text) >= len(literal) and _fits(name, value):
            yield {**fields, name: value}
        return
    start = 0
    while (at := text.find(literal, start)) >= 0 if literal else False:
        if _fits(name, text[:at]):
            yield from _split(after, text[at + len(literal) :], {**fields, name: text[:at]})
        start = at + 1


def catalog_path(lang: str) -> Path:
    return Path(__file__).with_name(lang.replace("-", "_") + ".json")


@cache
def feedback_text(lang: str) -> FeedbackText:
    """The texts of ``lang``; English for a language the course does not have."""
    lang = lang if lang in LANGUAGES else "en"
    data = json.loads(catalog_path(lang).read_text(encoding="utf-8"))
    return FeedbackText(lang, dict(data["frame"]), dict(data.get("messages", {})))


def submission_language(path: Path) -> str:
    """The language a submitted notebook declares (``metadata.lang``, as a Chinese starter does), else English."""
    try:
        lang = json.loads(path.read_bytes()).get("metadata", {}).get("lang")
    except (OSError, ValueError, AttributeError):
        return "en"
    return lang if lang in LANGUAGES else "en"
