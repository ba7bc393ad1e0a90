"""Sphinx extension: every page gets ``language_switch``, links to the same page in each other edition."""

from __future__ import annotations

from typing import Any

TEMPLATE = """{%- if language_switch %}
<span class="language-switch">
{%- for item in language_switch %}
<a class="btn btn-sm language-switch-link" href="{{ item.href }}" hreflang="{{ item.code }}"
   lang="{{ item.code }}">{{ item.label }}</a>
{%- endfor %}
</span>
{%- endif %}
"""


def switch_links(pagename: str, others: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Relative links from ``pagename`` to the same page in each other edition (its index when it has none)."""
    up = "../" * (pagename.count("/") + 1)
    return [
        {
            "label": o["label"],
            "code": o["code"],
            "href": f"{up}{o['dir']}/{pagename if pagename in o['pages'] else 'index'}.html",
        }
        for o in others
    ]


def _page_context(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    context["language_switch"] = switch_links(pagename, app.config.book_switch)


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("book_switch", [], "html")
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
