"""The words of the grader's feedback in each language the course has: English and Simplified Chinese (``zh-CN``).

The texts are data (``en.json``, ``zh_CN.json``; the same keys in both, with the same ``{fields}``, a test checks):
``frame`` holds the feedback's own lines and the statuses, ``messages`` translates the fixed messages the grader
writes into a check's or a row's text (looked up by their English text; others stay as they are).
"""

from __future__ import annotations

import json
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
        """A fixed grader message in this language (itself when it has no translation)."""
        return self.messages.get(english, english)

    def days(self, n: int) -> str:
        return self("days_one" if n == 1 else "days_other", n=n)


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
