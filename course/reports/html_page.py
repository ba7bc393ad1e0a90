"""Standalone HTML pages for the instructor: one style, tables of typed cells, pictures inlined (no script, no network).

Pure helpers, shared by the package's HTML reports. Every text a caller passes is escaped here, after
:func:`course.reports.text.clean` (no control, bidi or other invisible characters); a caller never writes HTML around
text it was given. A cell is a plain value or one of :class:`Link`, :class:`Code`, :class:`Html`.
"""

from __future__ import annotations

import base64
import html
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from course.reports.text import clean

STYLE = """
:root { --ink: #1d2327; --muted: #5f6b73; --line: #d8dee3; --band: #f4f6f8; --accent: #1f6feb; --warn: #9a6700; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink);
       margin: 0 auto; padding: 1.5rem 2rem 4rem; max-width: 78rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin: 2.2rem 0 .6rem;
     border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
p.lead, p.note, figcaption, caption { color: var(--muted); }
nav { margin: .5rem 0 1rem; } nav a { margin-right: 1rem; }
a { color: var(--accent); }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
caption { caption-side: top; text-align: left; padding-bottom: .3rem; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { margin: 0; font: .85rem/1.35 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; white-space: pre-wrap; }
figure { margin: .5rem 0 1rem; display: inline-block; vertical-align: top; margin-right: 1.5rem; }
figure img { border: 1px solid var(--line); max-width: 100%; height: auto; }
ul.plain { margin: .2rem 0; padding-left: 1.1rem; }
.summary { display: flex; flex-wrap: wrap; gap: .6rem 1.8rem; margin: .6rem 0 1rem; }
.summary div { min-width: 7rem; } .summary b { display: block; font-size: 1.35rem; }
.warn { color: var(--warn); }
@media print { body { max-width: none; padding: 0; } nav { display: none; } }
"""


@dataclass(frozen=True)
class Link:
    """A link to a file next to the page (``href`` relative to it)."""

    text: str
    href: str


@dataclass(frozen=True)
class Code:
    """Text shown as it is written, in a monospace block (student code, spans)."""

    text: str


@dataclass(frozen=True)
class Html:
    """Markup one of this module's helpers already built (a list, a nested table)."""

    markup: str


Cell = str | int | float | None | Link | Code | Html


def text(value: object) -> str:
    """``value`` as HTML text: invisible characters removed, ``<``, ``&`` and quotes escaped."""
    return html.escape(clean(str(value)))


def cell_html(value: Cell) -> str:
    if isinstance(value, Link):
        return f'<a href="{html.escape(quote(value.href, safe="/#"))}">{text(value.text)}</a>'
    if isinstance(value, Code):
        return f"<pre>{text(value.text)}</pre>"
    if isinstance(value, Html):
        return value.markup
    return "" if value is None else text(value)


def table(
    header: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Collection[int] = (), caption: str = ""
) -> str:
    """A table; the columns whose index is in ``numeric`` are right-aligned."""
    cls = [' class="num"' if i in numeric else "" for i in range(len(header))]
    head = "".join(f"<th{cls[i]}>{text(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{cls[i] if i < len(cls) else ''}>{cell_html(v)}</td>" for i, v in enumerate(row))
        + "</tr>\n"
        for row in rows
    )  # fmt: skip
    title = f"<caption>{text(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def bullets(items: Sequence[Cell]) -> Html:
    """A list (for a table cell or a section)."""
    return Html('<ul class="plain">' + "".join(f"<li>{cell_html(i)}</li>" for i in items) + "</ul>")


def code_blocks(blocks: Sequence[tuple[str, str]]) -> Html:
    """Blocks of code, each under its label (``(label, code)``), e.g. the lines two students share."""
    return Html("".join(f"<div>{text(label)}{cell_html(Code(code))}</div>" for label, code in blocks))


def paragraph(words: str, cls: str = "") -> str:
    attribute = f' class="{html.escape(cls)}"' if cls else ""
    return f"<p{attribute}>{text(words)}</p>"


def figure(png: bytes, alt: str, caption: str = "") -> str:
    """A PNG inlined as a data URI, with its pixel size, so the page shows it offline and lays out before it loads."""
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk: the first after the 8-byte signature
    data = base64.b64encode(png).decode("ascii")
    words = f"<figcaption>{text(caption)}</figcaption>" if caption else ""
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{text(alt)}" width="{width}" '
            f'height="{height}">{words}</figure>')  # fmt: skip


def summary(items: Sequence[tuple[str, str]]) -> str:
    """Big numbers with a label under each (``(label, value)``)."""
    return '<div class="summary">' + "".join(f"<div><b>{text(v)}</b>{text(k)}</div>" for k, v in items) + "</div>"


def section(title: str, anchor: str, *parts: str) -> str:
    return f'<section id="{html.escape(anchor)}">\n<h2>{text(title)}</h2>\n' + "\n".join(parts) + "\n</section>"


def page(title: str, parts: Sequence[str], *, lead: str = "", contents: Sequence[tuple[str, str]] = ()) -> str:
    """The whole document: its style inline, a table of contents (``(anchor, title)``) and the parts in order."""
    nav = "<nav>" + "".join(f'<a href="#{html.escape(a)}">{text(t)}</a>' for a, t in contents) + "</nav>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{text(title)}</h1>\n"
        + (paragraph(lead, "lead") + "\n" if lead else "")
        + (nav + "\n" if contents else "")
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
