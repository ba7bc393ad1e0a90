"""Student-supplied text made safe for what it is written into: Markdown feedback, spreadsheets, HTML."""

from __future__ import annotations

import re
from typing import Any

from course.grading.files import strip_invisible

# Markdown that student text could use to look like the grader's own lines: emphasis (a forged "**11 / 11 points**"),
# code, links and images, tables, strike-through; ``<`` and ``&`` become entities, so no renderer sees raw HTML.
_MARKDOWN_INLINE = str.maketrans(
    {"\\": "\\\\", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]", "|": "\\|", "~": "\\~", "<": "&lt;", "&": "&amp;"}
)


_LONE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # "_" between two letters or digits never emphasises


_LINE_START = re.compile(r"^(\s*\d*)([#>+=.)-])")  # a heading, quote, list item (1. or 1) too) or setext underline


def clean(text: str) -> str:
    """``text`` without terminal escapes, control, bidi and other format characters (newlines and tabs stay)."""
    return strip_invisible(text)


def markdown_text(text: str, indent: str = "") -> str:
    """Student-supplied ``text`` as Markdown that shows it literally: no HTML, emphasis, heading or list of its own.

    Every line after the first starts with ``indent``, so the text stays inside the item it belongs to and none of
    its lines can stand where the grader's own lines (the score, the headings) stand.
    """
    lines = []
    for line in clean(text).splitlines() or [""]:
        line = _LONE_UNDERSCORE.sub(r"\_", line.translate(_MARKDOWN_INLINE))
        lines.append(_LINE_START.sub(r"\1\\\2", line))  # "\#", "\-", "1\." read as text
    return f"\n{indent}".join(lines)


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet will not run as a formula (``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``)."""
    if isinstance(value, str):
        value = clean(value).replace("\t", " ")
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value
