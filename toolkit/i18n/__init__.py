"""The language of the toolkit's learner-facing messages: English, or Simplified Chinese (``zh-CN``).

The language is, in order: what :func:`set_language` was given; the ``KERAS_COURSE_LANG`` environment variable;
the ``lang`` metadata of the notebook this kernel runs (JupyterLab and Notebook 7 tell the kernel its notebook's
path in ``JPY_SESSION_NAME``); else English. Messages are looked up by their English text (the msgid) in a
gettext catalog, ``locale/<lang>/LC_MESSAGES/toolkit.mo``, read with the standard library's ``gettext``; text
that has no entry stays English, so nothing is ever lost. The ``.po`` next to it is the source the translators
edit; ``toolkit/i18n/README.md`` says how to extract new messages and compile the catalog (Babel, a dev tool).

Fields are written ``{name}`` and filled with ``str.format`` after translation: ``tr("{n} rows", n=3)``.
"""

from __future__ import annotations

import gettext
import json
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

__all__ = ["DOMAIN", "Catalog", "LANGUAGES", "LOCALE_DIR", "N_", "catalog", "language", "ntr", "set_language", "tr"]

LANGUAGES = ("en", "zh-CN")
DOMAIN = "toolkit"
LOCALE_DIR = Path(__file__).with_name("locale")
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


@lru_cache(maxsize=8)
def _lang_of_notebook(path: str, mtime_ns: int) -> str | None:
    """The ``lang`` metadata of a notebook file (cached per version of the file: tr() runs often)."""
    try:
        lang = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get("lang")
    except (OSError, ValueError):
        return None
    return lang if isinstance(lang, str) else None


def _notebook_lang(environ: Any) -> str | None:
    path = environ.get("JPY_SESSION_NAME")
    if not path or not str(path).endswith(".ipynb"):
        return None
    try:
        mtime_ns = os.stat(path).st_mtime_ns
    except OSError:
        return None
    return _lang_of_notebook(str(path), mtime_ns)


def language(environ: Any = None) -> str:
    """The language messages are shown in now."""
    if _chosen is not None:
        return _chosen
    environ = os.environ if environ is None else environ
    if environ.get("KERAS_COURSE_LANG"):
        return _normal(environ["KERAS_COURSE_LANG"], "KERAS_COURSE_LANG")
    found = _notebook_lang(environ)
    return _ALIASES.get(found.lower(), "en") if found else "en"


class Catalog(gettext.GNUTranslations):
    """A compiled catalog that can also list its messages (for the tests and tools that check translations)."""

    _catalog: dict[str | tuple[str, int], str]  # where GNUTranslations keeps them; it has no public listing

    def messages(self) -> dict[str, str]:
        """msgid -> translation; the header ("") and plural forms (tuple keys) left out."""
        return {k: v for k, v in self._catalog.items() if isinstance(k, str) and k}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: none, every message is its own text); read once."""
    if lang == "en":
        return gettext.NullTranslations()
    # fallback=False: a missing .mo is a packaging error, and saying so beats a silently English course
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang.replace("-", "_")], class_=Catalog)


def catalog(lang: str) -> dict[str, str]:
    """English text -> the text in ``lang`` (empty for English): every translated message of the catalog."""
    found = translations(lang)
    return found.messages() if isinstance(found, Catalog) else {}


def N_(text: str) -> str:  # noqa: N802  (gettext's name for it, which the extraction looks for)
    """Mark ``text`` as a message without translating it yet (it is stored, then passed to :func:`tr`)."""
    return text


def tr(text: str, /, **fields: Any) -> str:
    """``text`` in the current language, with ``{name}`` fields filled in from ``fields``."""
    template = translations(language()).gettext(text) if text else text
    return template.format(**fields) if fields else template


def ntr(singular: str, plural: str, n: int, /, **fields: Any) -> str:
    """``singular`` or ``plural`` as ``n`` asks, in the current language (``{n}`` is filled in too)."""
    template = translations(language()).ngettext(singular, plural, n)
    return template.format(n=n, **fields)
