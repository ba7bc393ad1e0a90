"""diagram(model) -> Diagram: a Graphviz drawing of every layer call, drawn from the same records as summary().

Shared layers: by default (``per_call=True``) every CALL gets its own box, because each call has its own
input and output shapes and that is what learners get wrong; the boxes of one shared layer share a fill
colour and are joined by a dotted "same weights" line, so the drawing also shows that the weights are one.
``per_call=False`` draws one box per layer with one labelled edge per call, like Keras's ``plot_model``.

The DOT text is built here from records (a pure function, tested without Graphviz) and drawn by Graphviz's
``dot`` program; pydot stays installed for ``keras.utils.plot_model``, which the lessons compare against.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.model_inputs import InputShape, walk
from toolkit.records import CallRecord, ModelRecord
from toolkit.tables import fmt_shapes

SHARED_COLOURS = ("#fde2c8", "#d6ecfa", "#e3f5d6", "#f5d6ec", "#f7f3c6", "#e0dcf7")
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


# --- records -> DOT text (pure: no TensorFlow, no Graphviz) --------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(r: CallRecord, show_shapes: bool, per_call: bool) -> str:
    head = f"{r.name}[{r.node_index}]" if per_call else r.name
    lines = [f"{head} : {r.class_name}"]
    if show_shapes and per_call:
        if r.input_shapes:
            lines.append(f"in: {fmt_shapes(r.input_shapes)}")
        lines.append(f"out: {fmt_shapes(r.output_shapes)}")
    return "\n".join(lines)


def build_dot(record: ModelRecord, *, show_shapes: bool = True, expand_nested: bool = True,
              per_call: bool = True) -> str:
    """The Graphviz source for a walked model (one box per call, or per layer)."""
    rows = [r for r in record.rows if r.called and (expand_nested or r.depth == 0)]
    drawn = [r for r in rows if not (r.is_container and expand_nested)]
    calls_per_layer = Counter(r.layer_id for r in drawn)
    shared = sorted({lid for lid, n in calls_per_layer.items() if n > 1})
    colour = {lid: SHARED_COLOURS[i % len(SHARED_COLOURS)] for i, lid in enumerate(shared)}

    def node_id(r: CallRecord) -> str:
        return r.address if per_call else f"layer{r.layer_id}"

    sinks = _container_sinks(rows) if expand_nested else {}
    lines = [f"digraph {_quote(record.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    body: dict[str, list[str]] = {"": []}
    for r in rows:
        if r.is_container and expand_nested:
            body.setdefault(r.address, [])
            body.setdefault(r.container, []).append(f"@cluster {r.address}")
    seen_nodes: set[str] = set()
    for r in drawn:
        nid = node_id(r)
        if nid in seen_nodes:
            continue
        seen_nodes.add(nid)
        fill = colour.get(r.layer_id, "#ffffff")
        body.setdefault(r.container if per_call else _first_container(r, drawn), []).append(
            f"{_quote(nid)} [label={_quote(_label(r, show_shapes, per_call))}, fillcolor={_quote(fill)}];")
    lines += _emit(body, "", {r.address: r for r in rows}, indent="  ")
    by_address = {x.address: x for x in drawn}
    outside = sorted({p for r in drawn for p in r.parents if p not in by_address and p not in sinks})
    for name in outside:  # a traced model's own inputs ("inputs", "inputs[1]") have no layer of their own
        lines.append(f'  {_quote(name)} [shape=oval, style=filled, fillcolor="#eeeeee"];')
    for r in drawn:
        for parent in r.parents:
            for source in sinks.get(parent, [parent]):
                src = by_address.get(source)
                if src is None:
                    if source in outside:
                        lines.append(f"  {_quote(source)} -> {_quote(node_id(r))};")
                    continue
                label = f" [label={_quote(fmt_shapes(r.input_shapes))}]" if show_shapes and not per_call else ""
                if not per_call and calls_per_layer[r.layer_id] > 1:
                    label = f" [label={_quote(f'call {r.node_index}: ' + fmt_shapes(r.input_shapes))}]"
                lines.append(f"  {_quote(node_id(src))} -> {_quote(node_id(r))}{label};")
    if per_call:
        for lid in shared:
            same = [r for r in drawn if r.layer_id == lid]
            # "same weights" is the point of sharing; a layer without weights (pooling) is just the same layer
            text = "same weights" if same[0].params else "same layer"
            for a, b in zip(same, same[1:]):
                lines.append(f"  {_quote(node_id(a))} -> {_quote(node_id(b))} [style=dotted, dir=none, "
                             f'constraint=false, label="{text}", fontcolor="#888888", color="#888888"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _first_container(r: CallRecord, drawn: list[CallRecord]) -> str:
    for x in drawn:
        if x.layer_id == r.layer_id:
            return x.container
    return r.container


def _emit(body: dict[str, list[str]], key: str, by_address: dict[str, CallRecord], indent: str) -> list[str]:
    out: list[str] = []
    for item in body.get(key, []):
        if item.startswith("@cluster "):
            address = item.removeprefix("@cluster ")
            r = by_address[address]
            out.append(f"{indent}subgraph {_quote('cluster_' + address)} {{")
            out.append(f'{indent}  label={_quote(f"{r.name}[{r.node_index}] : {r.class_name}")}; '
                       f'style="rounded,dashed"; color="#666666"; fontname="Helvetica"; fontsize=10;')
            out += _emit(body, address, by_address, indent + "  ")
            out.append(f"{indent}}}")
        else:
            out.append(indent + item)
    return out


def _container_sinks(rows: list[CallRecord]) -> dict[str, list[str]]:
    """Container address -> the drawn calls inside it whose outputs leave it (to draw edges out of a frame)."""
    sinks: dict[str, list[str]] = {}
    for c in (r for r in rows if r.is_container):
        children = [r for r in rows if r.container == c.address]
        used = {p for r in children for p in r.parents}
        leaves = [r.address for r in children if r.address not in used]
        expanded: list[str] = []
        for leaf in leaves:
            expanded += sinks.get(leaf, [leaf])
        sinks[c.address] = expanded
    # inner containers are listed after outer ones; resolve again so outer sinks see inner sinks
    for c in reversed([r for r in rows if r.is_container]):
        sinks[c.address] = [s for leaf in sinks[c.address] for s in sinks.get(leaf, [leaf])]
    return sinks
