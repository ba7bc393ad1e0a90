"""The book's root page (``artifacts/book/index.html``): one card per edition, from the template ``root.html``.

The page is self-contained (its CSS inline, no script, nothing fetched) so that it works offline; the block between
``<!-- edition -->`` and ``<!-- /edition -->`` in the template is repeated once per edition.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from string import Template

START, END = "<!-- edition -->\n", "<!-- /edition -->\n"
LEAD = "The same lessons and exercises in each language: choose yours."
# One short sentence per edition, in its own language, and the word on its button (another edition: English).
BLURBS = {"en": "The lessons and exercises in English.", "zh": "中文版的课程与练习。"}
OPEN = {"en": "Open", "zh": "打开"}


@dataclass(frozen=True)
class Door:
    """One edition's card: where it leads, its language tag (``zh-CN``), label, title and sentence."""

    href: str
    code: str
    label: str
    name: str
    blurb: str = ""
    open: str = OPEN["en"]


def door(lang: str, code: str, label: str, name: str) -> Door:
    """The card of the edition in ``<lang>/`` (its index page), with its language's sentence and button word."""
    return Door(f"{lang}/index.html", code, label, name, BLURBS.get(lang, ""), OPEN.get(lang, OPEN["en"]))


def template() -> str:
    """The root page's template, a data file of this package."""
    return resources.files(__package__).joinpath("root.html").read_text(encoding="utf-8")


def render(doors: Sequence[Door], title: str, lang: str = "en", page: str | None = None) -> str:
    """The root page's HTML for ``doors`` under ``title`` (everything escaped); ``page`` defaults to root.html."""
    page = template() if page is None else page
    head, rest = page.split(START, 1)
    block, tail = rest.split(END, 1)
    cards = "".join(Template(block).substitute(_escaped(vars(d))) for d in doors)
    fields = _escaped({"title": title, "lang": lang, "lead": LEAD})
    return Template(head).substitute(fields) + cards + Template(tail).substitute(fields)


def _escaped(values: dict[str, str]) -> dict[str, str]:
    return {key: html.escape(value) for key, value in values.items()}
