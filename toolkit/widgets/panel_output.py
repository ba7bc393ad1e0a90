"""What the widget panels write: Jupyter output records, PNG/SVG embedding, and static snapshots.

Panels never call ``display()`` inside an ``Output`` widget (that needs a front end to route the messages);
they set ``out.outputs`` to records built here, so a test reads exactly what a learner would see.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.i18n import tr

_SVG_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.DOTALL)


def html_record(html_text: str, text: str) -> dict[str, Any]:
    """One ``display_data`` output showing ``html_text`` (``text`` for plain-text front ends and tests)."""
    return {"output_type": "display_data", "data": {"text/html": html_text, "text/plain": text}, "metadata": {}}


def png_record(png: bytes, text: str) -> dict[str, Any]:
    """One ``display_data`` output showing a PNG image."""
    data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def show(out: Any, *records: dict[str, Any]) -> None:
    """Replace everything in the ``Output`` widget ``out`` with ``records`` (one message to the front end)."""
    out.outputs = tuple(records)


def texts(out: Any) -> list[str]:
    """The plain-text parts of an ``Output`` widget's outputs (what tests and screen readers see)."""
    found = []
    for record in out.outputs:
        data = record.get("data", {})
        found.append(data.get("text/plain", record.get("text", "")))
    return found


def inline_svg(svg: str) -> str:
    """An SVG document without its XML prolog, DOCTYPE and comments, ready to sit inside HTML."""
    return _SVG_PROLOG.sub("", svg, count=1)


def png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img_tag(png: bytes, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img src="{png_uri(png)}" alt="{html.escape(alt)}"{size} style="image-rendering:pixelated">'


def diagram_img(png: bytes, name: str, width: int) -> str:
    """A model diagram as an ``<img>`` with its PNG in a data: URI, shown ``width`` pixels wide. Untrusted JupyterLab,
    GitHub and nbviewer strip an SVG inside HTML (its labels remain as run-on text) but keep this. The class and
    attribute order are fixed: tests/nbval_sanitize.cfg compares only that the picture is there."""
    return f'<img class="toolkit-diagram" alt="diagram of {html.escape(name)}" src="{png_uri(png)}" width="{width}">'


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    """A matplotlib ``Figure`` (made without pyplot, so safe in a thread) as PNG bytes, without a timestamp."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


def array_png(pixels: np.ndarray, scale: int = 1) -> bytes:
    """A uint8 array (H, W), (H, W, 3) or (H, W, 4) as PNG bytes, each pixel drawn ``scale`` times larger."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Snapshot:
    """A static copy of what a panel showed: kept in a saved notebook, where widgets are not."""

    title: str
    html: str  # self-contained: images are embedded, no scripts, no random ids
    text: str

    def _repr_html_(self) -> str:
        title = tr("{title} (static copy)", title=self.title)
        head = f'<p style="font-weight:bold;margin:0 0 4px 0">{html.escape(title)}</p>'
        return f'<div class="toolkit-snapshot">{head}{self.html}</div>'

    def __str__(self) -> str:
        return f"{self.title}\n{self.text}"

    def __repr__(self) -> str:
        return str(self)

    def save(self, path: str | Path) -> Path:
        """Write the snapshot as a standalone ``.html`` file."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(
                tr("Snapshot.save() writes HTML; got {name!r}. Use a name ending in .html.", name=path.name)
            )
        page = f"<!DOCTYPE html><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
        path.write_text(page + self._repr_html_(), encoding="utf-8")
        return path
