"""Records -> Graphviz DOT text: one box per call (or per layer). Pure: no TensorFlow, no Graphviz."""

from __future__ import annotations

from collections import Counter

from toolkit.i18n import tr
from toolkit.records import CallRecord, ModelRecord
from toolkit.render.tables import fmt_shapes

SHARED_COLOURS = ("#fde2c8", "#d6ecfa", "#e3f5d6", "#f5d6ec", "#f7f3c6", "#e0dcf7")

def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(r: CallRecord, show_shapes: bool, per_call: bool) -> str:
    head = f"{r.name}[{r.node_index}]" if per_call else r.name
    lines = [f"{head} : {r.class_name}"]
    if show_shapes and per_call:
        if r.input_shapes:
            lines.append(tr("in: {shapes}", shapes=fmt_shapes(r.input_shapes)))
        lines.append(tr("out: {shapes}", shapes=fmt_shapes(r.output_shapes)))
        if r.keras_shapes is not None:  # a real pass contradicted Keras's symbolic shapes: show both
            lines.append(tr("(Keras says out: {shapes})", shapes=fmt_shapes(r.keras_shapes[1])))
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
        # an operation that is not a layer (x + y, x[:, 0]): a small grey box
        small = ', fontsize=8, height=0.2, margin="0.05,0.02", color="#888888"' if r.is_operation else ""
        if r.is_operation and fill == "#ffffff":
            fill = "#f4f4f4"
        body.setdefault(r.container if per_call else _first_container(r, drawn), []).append(
            f"{_quote(nid)} [label={_quote(_label(r, show_shapes, per_call))}, fillcolor={_quote(fill)}{small}];")
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
                    text = tr("call {n}: {shapes}", n=r.node_index, shapes=fmt_shapes(r.input_shapes))
                    label = f" [label={_quote(text)}]"
                lines.append(f"  {_quote(node_id(src))} -> {_quote(node_id(r))}{label};")
    if per_call:
        for lid in shared:
            same = [r for r in drawn if r.layer_id == lid]
            # "same weights" is the point of sharing; a layer without weights (pooling) is just the same layer
            text = tr("same weights") if same[0].params else tr("same layer")
            for a, b in zip(same, same[1:]):
                lines.append(f"  {_quote(node_id(a))} -> {_quote(node_id(b))} [style=dotted, dir=none, "
                             f'constraint=false, label={_quote(text)}, fontcolor="#888888", color="#888888"];')
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
