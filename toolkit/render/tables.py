"""Fixed-width text tables and deterministic HTML tables: the shared rendering of every toolkit result."""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence

TABLE_STYLE = (
    "border-collapse:collapse;font-family:monospace;font-size:12px;text-align:left"
)
# text-align:left on every cell: JupyterLab right-aligns td by default; number columns override it per cell
CELL_STYLE = "padding:2px 8px;border-bottom:1px solid #ddd;white-space:pre;text-align:left"


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> str:
    """Columns as wide as their widest cell; ``right`` lists column indexes aligned right (numbers).

    Widths are counted in terminal columns: a Chinese character takes two, so the Chinese headers line up too.
    """
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [_pad(c, w, i in right) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def width(text: str) -> int:
    """How many columns ``text`` takes in a fixed-width font (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int, right: bool) -> str:
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    row_styles: Sequence[str] | None = None,
    caption: str = "",
    css_class: str = "toolkit-table",
) -> str:
    """A plain HTML table with inline styles (no ids, no scripts), identical on every run.

    One table row per line, so that a diff of two renderings (a golden file) shows which rows changed.
    """
    head = "".join(f'<th style="{CELL_STYLE}">{html.escape(h)}</th>' for h in headers)
    body = []
    for n, row in enumerate(rows):
        style = f' style="{row_styles[n]}"' if row_styles and row_styles[n] else ""
        cells = "".join(
            f'<td style="{CELL_STYLE}{";text-align:right" if i in right else ""}">{html.escape(c)}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr{style}>{cells}</tr>")
    cap = f"<caption style=\"text-align:left;font-weight:bold\">{html.escape(caption)}</caption>" if caption else ""
    rows_text = "".join(line + "\n" for line in body)
    return (
        f'<table class="{css_class}" style="{TABLE_STYLE}">{cap}\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{rows_text}</tbody></table>"
    )


def fmt_int(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def fmt_shapes(shapes: Sequence[tuple[int | None, ...]]) -> str:
    if not shapes:
        return "-"
    text = [("(" + ", ".join("None" if d is None else str(d) for d in s) + (",)" if len(s) == 1 else ")"))
            for s in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"
