"""diagram(model) -> Diagram: a Graphviz drawing of every layer call, drawn from the same records as summary().

Shared layers: by default (``per_call=True``) every CALL gets its own box, because each call has its own
input and output shapes and that is what learners get wrong; the boxes of one shared layer share a fill
colour and are joined by a dotted "same weights" line, so the drawing also shows that the weights are one.
``per_call=False`` draws one box per layer with one labelled edge per call, like Keras's ``plot_model``.

The DOT text is built from records by ``toolkit.render.dot`` (pure, tested without Graphviz) and drawn by
Graphviz's ``dot`` program; pydot stays installed for ``keras.utils.plot_model``, which the lessons compare against.

A Diagram displays as SVG AND as PNG: JupyterLab shows the richest output it trusts, so a notebook run here shows
the SVG, while a freshly cloned (untrusted) notebook, GitHub and other viewers that drop SVG show the stored PNG.
The PNG is drawn at Graphviz's bitmap DPI, shown at the SVG's size (so it stays sharp) and reduced to a small
palette with Pillow, which keeps a lesson diagram at tens of KB in the stored notebook.

Without ``dot`` (a Mac without Homebrew, JupyterLite) a notebook keeps going: the Diagram then shows the same
per-call structure as text, one line per call with its output shape, the calls that fed it and, for a shared
layer, which call holds the weights, under one sentence saying how to install Graphviz. Under tests it stays
strict and raises GraphvizMissing: when ``strict=True`` is passed, ``KERAS_COURSE_STRICT=1`` is set (CI sets it
for the notebook runs) or pytest is running.
"""

from __future__ import annotations

import html
import io
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from toolkit.i18n import tr
from toolkit.inspection.model_inputs import InputShape, walk
from toolkit.records import ModelRecord
from toolkit.render.dot import build_dot
from toolkit.render.tables import fmt_shapes

FORMATS = ("svg", "png", "pdf")
PNG_DPI = 96  # pixels per inch of the displayed PNG; the SVG has 72 points per inch, so 4/3 pixels per point
PNG_COLOURS = 64  # a diagram has a few fills and their anti-aliased edges: a palette keeps the PNG small
STRICT_ENV = "KERAS_COURSE_STRICT"
INSTALL_COMMANDS = (
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install -c conda-forge graphviz`"
)


def install_hint() -> str:
    """How to install Graphviz, in the learner's language."""
    return tr("{commands}, then restart the kernel", commands=INSTALL_COMMANDS)


class GraphvizMissing(RuntimeError):
    """pydot or Graphviz's ``dot`` program is not installed."""


def _require_dot() -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            tr("diagram() needs Graphviz's `dot` program, which is not on PATH. Install it with {hint}.",
               hint=install_hint())
        )
    return dot


def render(dot_source: str, fmt: str, *options: str) -> bytes:
    """Run Graphviz's dot on DOT text (``options``: more ``dot`` flags); a Graphviz error is raised with its own
    message."""
    result = subprocess.run([_require_dot(), f"-T{fmt}", *options], input=dot_source.encode(), capture_output=True,
                            check=False, timeout=120)
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace")
        raise RuntimeError(tr("Graphviz could not draw this model: {error}", error=error))
    return result.stdout


def render_png(dot_source: str) -> bytes:
    """The PNG that a notebook stores beside the SVG: ``PNG_DPI`` pixels per inch, a ``PNG_COLOURS`` palette."""
    from PIL import Image

    drawn = Image.open(io.BytesIO(render(dot_source, "png", f"-Gdpi={PNG_DPI}")))
    small = drawn.convert("RGB").quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from a PNG's header."""
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def is_strict() -> bool:
    """True under tests: ``KERAS_COURSE_STRICT`` set to 1/true/yes, or a pytest test running in this process."""
    flag = os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")
    return flag or "PYTEST_CURRENT_TEST" in os.environ


def diagram(model: Any, input_shape: InputShape = None, *, show_shapes: bool = True,
            expand_nested: bool = True, per_call: bool = True, sample: Any = None,
            strict: bool | None = None) -> Diagram:
    """Draw ``model`` call by call. Nested models become framed groups; subclassed models are traced.

    Without Graphviz: ``strict`` (default: :func:`is_strict`) raises GraphvizMissing, else the Diagram shows
    the calls as text with the install command.
    """
    has_dot = shutil.which("dot") is not None
    if not has_dot and (is_strict() if strict is None else strict):
        _require_dot()  # fail before the walk, with the install command
    record = walk(model, input_shape, "diagram", sample)
    dot = build_dot(record, show_shapes=show_shapes, expand_nested=expand_nested, per_call=per_call)
    if not has_dot:
        return Diagram(record.name, dot, "", call_lines(record))
    return Diagram(record.name, dot, render(dot, "svg").decode("utf-8"))


def call_lines(record: ModelRecord) -> tuple[str, ...]:
    """The per-call structure a drawing shows, as text: ``conv[1] : Conv2D -> (None, 8, 8, 16) <- large[0]``."""
    first_call: dict[int, str] = {}
    lines = []
    for r in (r for r in record.rows if r.called):
        shared = tr("  (same weights as {call})", call=first_call[r.layer_id]) if r.layer_id in first_call else ""
        first_call.setdefault(r.layer_id, r.address)
        parents = ", ".join(r.parents) or tr("model input")
        lines.append(f"{'  ' * r.depth}{r.address} : {r.class_name} -> {fmt_shapes(r.output_shapes)}  <- {parents}"
                     f"{shared}")
    return tuple(lines)


@dataclass(frozen=True)
class Diagram:
    """A rendered diagram: displays as SVG in Jupyter; ``save("model.png")`` writes svg, png or pdf."""

    name: str
    dot: str  # the Graphviz source, for the curious
    svg: str = field(repr=False)  # "" when Graphviz is missing: then ``lines`` is shown instead
    lines: tuple[str, ...] = field(default=(), repr=False)  # one per call, see call_lines()

    @property
    def note(self) -> str:
        """Why there is no drawing ("" when there is one)."""
        if self.svg:
            return ""
        return tr("Graphviz's `dot` is not installed, so this is the diagram as text; install it with {hint}.",
                  hint=install_hint())

    @cached_property
    def png(self) -> bytes:
        """The drawing as a small PNG (see :func:`render_png`), made on first use; b"" without Graphviz."""
        return render_png(self.dot) if self.svg else b""

    def _repr_svg_(self) -> str | None:
        return self.svg or None

    def _repr_png_(self) -> tuple[bytes, dict[str, int]] | None:
        if not self.svg:
            return None
        width, height = png_size(self.png)
        scale = 72 / PNG_DPI  # displayed at the SVG's size in points
        return self.png, {"width": round(width * scale), "height": round(height * scale)}

    def _repr_html_(self) -> str | None:
        if self.svg:
            return None  # the SVG is the rich display
        body = html.escape("\n".join(self.lines))
        return (f'<div class="toolkit-diagram-text"><p style="color:#a40000">{html.escape(self.note)}</p>'
                f'<pre style="font-size:12px">{body}</pre></div>')

    def __str__(self) -> str:
        return repr(self) if self.svg else "\n".join([self.note, *self.lines])

    def __repr__(self) -> str:
        if not self.svg:
            return tr("<Diagram of {name!r} as text ({n} calls): Graphviz's dot is not installed>", name=self.name,
                      n=len(self.lines))
        boxes = self.svg.count('class="node"')
        return tr("<Diagram of {name!r}: {boxes} boxes; shown as SVG in Jupyter, .save('model.png') to keep>",
                  name=self.name, boxes=boxes)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.svg:
            _require_dot()
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise ValueError(tr("save() writes {formats} files; got {name!r}. Use a name ending in .svg, .png or .pdf.",
                                formats=", ".join(FORMATS), name=path.name))
        path.write_bytes(self.svg.encode() if fmt == "svg" else render(self.dot, fmt))
        return path
