"""diagram(model) -> Diagram: a Graphviz drawing of every layer call, drawn from the same records as summary().

Shared layers: by default (``per_call=True``) every CALL gets its own box, because each call has its own
input and output shapes and that is what learners get wrong; the boxes of one shared layer share a fill
colour and are joined by a dotted "same weights" line, so the drawing also shows that the weights are one.
``per_call=False`` draws one box per layer with one labelled edge per call, like Keras's ``plot_model``.

The DOT text is built from records by ``toolkit.render.dot`` (pure, tested without Graphviz) and drawn by
Graphviz's ``dot`` program; pydot stays installed for ``keras.utils.plot_model``, which the lessons compare against.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.inspection.model_inputs import InputShape, walk
from toolkit.render.dot import build_dot

FORMATS = ("svg", "png", "pdf")


class GraphvizMissing(RuntimeError):
    """pydot or Graphviz's ``dot`` program is not installed."""


def _require_dot() -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            "diagram() needs Graphviz's `dot` program, which is not on PATH. Install it with "
            "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
            "`conda install -c conda-forge graphviz`, then restart the kernel."
        )
    return dot


def render(dot_source: str, fmt: str) -> bytes:
    """Run Graphviz's dot on DOT text; a Graphviz error is raised with its own message."""
    result = subprocess.run([_require_dot(), f"-T{fmt}"], input=dot_source.encode(), capture_output=True,
                            check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"Graphviz could not draw this model: {result.stderr.decode(errors='replace')}")
    return result.stdout


def diagram(model: Any, input_shape: InputShape = None, *, show_shapes: bool = True,
            expand_nested: bool = True, per_call: bool = True, sample: Any = None) -> Diagram:
    """Draw ``model`` call by call. Nested models become framed groups; subclassed models are traced."""
    _require_dot()  # fail before the walk, with the install command
    record = walk(model, input_shape, "diagram", sample)
    dot = build_dot(record, show_shapes=show_shapes, expand_nested=expand_nested, per_call=per_call)
    return Diagram(record.name, dot, render(dot, "svg").decode("utf-8"))


@dataclass(frozen=True)
class Diagram:
    """A rendered diagram: displays as SVG in Jupyter; ``save("model.png")`` writes svg, png or pdf."""

    name: str
    dot: str  # the Graphviz source, for the curious
    svg: str = field(repr=False)

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        boxes = self.svg.count('class="node"')
        return f"<Diagram of {self.name!r}: {boxes} boxes; shown as SVG in Jupyter, .save('model.png') to keep>"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise ValueError(f"save() writes {', '.join(FORMATS)} files; got {path.name!r}. "
                             f"Use a name ending in .svg, .png or .pdf.")
        path.write_bytes(self.svg.encode() if fmt == "svg" else render(self.dot, fmt))
        return path
