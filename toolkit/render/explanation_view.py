"""An explanation of one summary row (or of the totals): text, HTML and Markdown renderings. No TensorFlow.

The HTML is sanitizer-safe (inline styles only: no scripts, no SVG, no ids) and identical on every run.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.explain.records import Msg, Term
from toolkit.i18n import N_, tr

Translate = Callable[..., str]
HEADERS = (N_("What"), N_("Rule"), N_("With this layer's values"), N_("Result"))
CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


@dataclass(frozen=True)
class Explanation:
    """Where each number of one row comes from: terms (what, formula, values, result) and notes."""

    address: str  # the row's address; "" for the totals
    class_name: str
    title: Msg
    terms: tuple[Term, ...]
    notes: tuple[Msg, ...] = ()
    batch_size: int = 32

    def find(self, kind: str) -> Term | None:
        """The first term of this kind ("params", "shape", "macs", "activations", ...), or None."""
        return next((t for t in self.terms if t.kind == kind), None)

    def term(self, kind: str) -> Term:
        found = self.find(kind)
        if found is None:
            kinds = ", ".join(dict.fromkeys(t.kind for t in self.terms))
            raise KeyError(f"this explanation has no {kind!r} term; it has: {kinds}")
        return found

    def messages(self) -> tuple[Msg, ...]:
        """Every learner-facing message in it (for translation checks)."""
        return (
            *self.title.all(),
            *(m for t in self.terms for m in t.messages()),
            *(m for n in self.notes for m in n.all()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "class_name": self.class_name,
            "batch_size": self.batch_size,
            "terms": [t.to_dict() for t in self.terms],
            "notes": [n.text for n in self.notes],
        }

    def __str__(self) -> str:
        return explanation_text(self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return explanation_html(self)

    def _repr_markdown_(self) -> str:
        return explanation_markdown(self)


def _result(term: Term, translate: Translate) -> str:
    return term.result.render(translate) if isinstance(term.result, Msg) else term.result


def explanation_text(e: Explanation, translate: Translate = tr) -> str:
    lines = [e.title.render(translate)]
    for t in e.terms:
        lines.append(f"{t.what.render(translate)}: {t.formula.render(translate)}")
        result = _result(t, translate)
        lines.append(f"    {t.values} = {result}" if t.values and t.values != result else f"    {result}")
        lines += [f"    - {n.render(translate)}" for n in t.notes]
    lines += [f"- {n.render(translate)}" for n in e.notes]
    return "\n".join(lines)


def explanation_html(e: Explanation, translate: Translate = tr) -> str:
    head = "".join(f'<th style="{CELL}">{html.escape(translate(h))}</th>' for h in HEADERS)
    body = []
    for t in e.terms:
        notes = "".join(f'<br><span style="color:#666">{html.escape(n.render(translate))}</span>' for n in t.notes)
        cells = (
            html.escape(t.what.render(translate)),
            html.escape(t.formula.render(translate)) + notes,
            f"<code>{html.escape(t.values)}</code>" if t.values else "",
            html.escape(_result(t, translate)),
        )
        body.append("<tr>" + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>")
    notes = "".join(f"<li>{html.escape(n.render(translate))}</li>" for n in e.notes)
    rows = "".join(line + "\n" for line in body)
    return (
        f'<div class="toolkit-explain" style="font-family:monospace;font-size:12px">'
        f'<p style="font-weight:bold;margin:4px 0">{html.escape(e.title.render(translate))}</p>\n'
        f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody></table>'
        + (f'<ul style="margin:4px 0">{notes}</ul>' if notes else "")
        + "</div>"
    )


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def explanation_markdown(e: Explanation, translate: Translate = tr) -> str:
    lines = [
        f"**{_md(e.title.render(translate))}**",
        "",
        "| " + " | ".join(_md(translate(h)) for h in HEADERS) + " |",
        "|---|---|---|---|",
    ]
    for t in e.terms:
        rule = _md(t.formula.render(translate)) + "".join(f"<br>{_md(n.render(translate))}" for n in t.notes)
        values = f"`{t.values}`" if t.values else ""
        lines.append(f"| {_md(t.what.render(translate))} | {rule} | {values} | {_md(_result(t, translate))} |")
    lines += [""] + [f"- {_md(n.render(translate))}" for n in e.notes] if e.notes else []
    return "\n".join(lines)


def compact_html(e: Explanation, translate: Translate = tr) -> str:
    """The terms as short lines (what: rule, then values = result): the form a summary's row details use."""
    lines = []
    for t in e.terms:
        result = html.escape(_result(t, translate))
        values = f"<code>{html.escape(t.values)}</code> = {result}" if t.values and t.values != result else result
        notes = "".join(f"<br>&nbsp;&nbsp;{html.escape(n.render(translate))}" for n in t.notes)
        lines.append(
            f"<b>{html.escape(t.what.render(translate))}</b>: {html.escape(t.formula.render(translate))}"
            f"<br>&nbsp;&nbsp;{values}{notes}"
        )
    lines += [html.escape(n.render(translate)) for n in e.notes]
    return '<div style="margin:2px 0 6px 16px">' + "<br>".join(lines) + "</div>"


def details_html(items: Sequence[tuple[str, Explanation]], caption: Msg, translate: Translate = tr) -> str:
    """One expandable ``<details>`` per labelled explanation, one per line (a golden diff shows which changed)."""
    blocks = [
        f"<details><summary>{html.escape(label)}</summary>{compact_html(e, translate)}</details>" for label, e in items
    ]
    return (
        f'<div class="toolkit-explain-rows" style="font-family:monospace;font-size:12px">'
        f'<p style="margin:4px 0">{html.escape(caption.render(translate))}</p>\n' + "\n".join(blocks) + "\n</div>"
    )
