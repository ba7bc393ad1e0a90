"""The language of the toolkit's learner-facing messages: English, or Simplified Chinese (``zh-CN``).

The language is, in order: what :func:`set_language` was given; the ``KERAS_COURSE_LANG`` environment variable;
the ``lang`` metadata of the notebook this kernel runs (JupyterLab and Notebook 7 tell the kernel its notebook's
path in ``JPY_SESSION_NAME``); else English. Messages are looked up by their English text in one catalog per
language (``zh_CN.json``); text that has no entry stays English, so nothing is ever lost.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "language", "set_language", "tr"]

LANGUAGES = ("en", "zh-CN")
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN"}
_chosen: str | None = None


def _normal(value: str, where: str) -> str:
    lang = _ALIASES.get(value.strip().lower().replace("_", "-"))
    if lang is None:
        choices = ", ".join(LANGUAGES)
        raise ValueError(f"{where} is {value!r}, a language the course does not have; use one of {choices}")
    return lang


def set_language(lang: str | None) -> None:
    """Choose the language of the messages (``"en"`` or ``"zh-CN"``); ``None`` goes back to the default."""
    global _chosen
    _chosen = None if lang is None else _normal(lang, "the language")


def _notebook_lang(environ: Any) -> str | None:
    path = environ.get("JPY_SESSION_NAME")
    if not path or not str(path).endswith(".ipynb"):
        return None
    try:
        lang = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get("lang")
    except (OSError, ValueError):
        return None
    return lang if isinstance(lang, str) else None


def language(environ: Any = None) -> str:
    """The language messages are shown in now."""
    if _chosen is not None:
        return _chosen
    environ = os.environ if environ is None else environ
    if environ.get("KERAS_COURSE_LANG"):
        return _normal(environ["KERAS_COURSE_LANG"], "KERAS_COURSE_LANG")
    found = _notebook_lang(environ)
    return _ALIASES.get(found.lower(), "en") if found else "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    """English text -> the text in ``lang`` (empty for English)."""
    if lang == "en":
        return {}
    path = Path(__file__).with_name(lang.replace("-", "_") + ".json")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def tr(text: str, **fields: Any) -> str:
    """``text`` in the current language, with ``{name}`` fields filled in from ``fields``."""
    template = catalog(language()).get(text, text)
    return template.format(**fields) if fields else template
