"""What a learner sees in a lesson opened WITHOUT running it: every stored picture survives an untrusted front end.

A freshly cloned notebook is untrusted in JupyterLab (and GitHub, nbviewer, VS Code's preview render the same way):
SVG outputs and HTML with scripts or inline SVG are dropped or reduced to run-on text, while PNG images and
sanitizer-safe HTML (an <img> with a data: URI, tables) survive. These checks read the committed notebooks; the
browser test (tests/test_browser.py) opens them in a real JupyterLab.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "notebooks" / "zh").glob("*.ipynb")])
UNSAFE_HTML = re.compile(r"<svg|<script|<style[^>]*>[^<]*@import|javascript:", re.IGNORECASE)
CJK = re.compile(r"[\u4e00-\u9fff]")


def outputs(path: Path) -> list[tuple[int, dict]]:
    nb = nbformat.read(path, as_version=4)
    return [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_stored_picture_has_a_form_an_untrusted_front_end_draws(path: Path) -> None:
    bad = []
    for i, output in outputs(path):
        data = output.get("data", {})
        if "image/svg+xml" in data and "image/png" not in data:
            bad.append(f"cell {i}: an SVG with no PNG beside it (untrusted JupyterLab drops the SVG)")
        html = data.get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        if html and UNSAFE_HTML.search(html) and "image/png" not in data:
            bad.append(f"cell {i}: HTML with inline SVG or a script, which the sanitizer removes: {html[:80]!r}")
        if "application/vnd.jupyter.widget-view+json" in data and not html:
            bad.append(f"cell {i}: a widget with no static copy (text/html): without a kernel it shows nothing")
    assert not bad, f"{path.relative_to(ROOT)}: re-execute it with the current toolkit:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", [p for p in LESSONS if p.parent.name == "zh"], ids=lambda p: p.name)
def test_the_chinese_editions_stored_toolkit_text_is_chinese(path: Path) -> None:
    """The toolkit's own words in a stored output (summary headers, explanations, the doctor) are in Chinese."""
    english = ("where its numbers come from", "Total params", "needs inputs", "Fed by", "has no weights")
    found = []
    for i, output in outputs(path):
        data = output.get("data", {})
        text = output.get("text", "") or data.get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        if "\x1b[" in text:  # Keras's own model.summary() (rich's colours), shown to compare: Keras speaks English
            continue
        found += [f"cell {i}: {w!r}" for w in english if w in text]
    assert not found, f"{path.name} shows the toolkit's English: re-execute it (the kernel reads the notebook's lang)"
