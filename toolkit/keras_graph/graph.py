"""Functional and Sequential models: walk the graph Keras keeps (``_nodes``, ``_keras_history``).

Every node is a row, layers and operations alike (``x * 2.0``, ``x[:, 0]``, ``keras.ops.*``, the NotEqual of
``mask_zero=True``). A row's node index is Keras's: the node's position among the layer's nodes that belong
to the walked model (nested models' graphs included), so it agrees with ``calls()`` and ``feature_extractor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit._keras import keras
from toolkit.keras_graph.basics import (
    graph_of,
    is_graph_model,
    model_kind,
    shape_of,
    trainable_ids,
    variables_of,
    wrapped_model,
)
from toolkit.keras_graph.real_shapes import NodePath, RealShapes, contradicts, real_shapes
from toolkit.keras_graph.rows import Walk, direct_children
from toolkit.keras_graph.tracing import trace_into
from toolkit.records import CallRecord, ModelRecord, Shape


def _node_of(tensor: Any) -> Any:
    history = tensor._keras_history
    return history.operation._inbound_nodes[history.node_index]


def node_key(node: Any) -> str:
    op = node.operation
    return f"{id(op)}_ib-{op._inbound_nodes.index(node)}"  # the key Keras stores in Functional._nodes


def graph_keys(model: Any) -> set[str]:
    """Node keys of ``model``'s graph and of the graphs of every model nested in it (recursively)."""
    keys: set[str] = set()
    stack, seen = [model], set[int]()
    while stack:
        m = stack.pop()
        if id(m) in seen or not is_graph_model(m):
            continue
        seen.add(id(m))
        graph = graph_of(m)
        keys.update(graph._nodes)
        for op in graph._operations:
            inner = op if isinstance(op, keras.Model) else wrapped_model(op)
            if inner is not None:
                stack.append(inner)
    return keys


def visible_nodes(op: Any, keys: set[str]) -> list[Any]:
    """The operation's nodes in the graphs keyed by ``keys``, in Keras's order (the order of the calls)."""
    return [n for i, n in enumerate(op._inbound_nodes) if f"{id(op)}_ib-{i}" in keys and not n.is_input]


def execution_order(model: Any) -> list[Any]:
    """The model's non-input nodes: each after the calls feeding it and after the same layer's earlier calls."""
    graph = graph_of(model)
    keys = graph._nodes
    seen: set[int] = set()
    order: list[Any] = []

    def visit(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.parent_nodes:
            visit(parent)
        op = node.operation
        for i, earlier in enumerate(op._inbound_nodes):  # call order: node 0 of a shared layer comes first
            if earlier is node:
                break
            if f"{id(op)}_ib-{i}" in keys:
                visit(earlier)
        if not node.is_input and node_key(node) in keys:
            order.append(node)

    for tensor in graph.outputs:
        visit(_node_of(tensor))
    return order


class _Numbering:
    """Node index of each execution: Keras's for the first, then counted on (a nested model called twice)."""

    def __init__(self, keys: set[str]) -> None:
        self.keys = keys
        self.executed: dict[int, int] = {}  # id(node) -> executions so far
        self.extra: dict[int, int] = {}  # id(op) -> repeat executions so far
        self.cache: dict[int, list[Any]] = {}

    def index(self, node: Any) -> int:
        op = node.operation
        nodes = self.cache.setdefault(id(op), visible_nodes(op, self.keys))
        done = self.executed.get(id(node), 0)
        self.executed[id(node)] = done + 1
        position = next((i for i, n in enumerate(nodes) if n is node), 0)
        if done == 0:
            return position
        extra = self.extra.get(id(op), 0)
        self.extra[id(op)] = extra + 1
        return len(nodes) + extra


def _operands(node: Any) -> list[Shape]:
    """Shapes of every array argument of a node, constants included, in argument order."""
    out = []
    for value in keras.tree.flatten(list(node.arguments.args)):
        if hasattr(value, "shape") and value.shape is not None:
            out.append(tuple(None if d is None else int(d) for d in value.shape))
    return out


class _GraphContext:
    """What every level of one graph walk shares: the node numbering and the real shapes."""

    def __init__(self, numbering: _Numbering, real: RealShapes) -> None:
        self.numbering = numbering
        self.real = real

    def shapes(self, node: Any, path: NodePath) -> tuple[list[Shape], list[Shape], Any]:
        """The node's (inputs, outputs) to show, and Keras's own (inputs, outputs) when a real pass contradicts them.

        Keras's shapes are kept unless the real ones contradict them (a None that Keras knew better stays).
        """
        ins = [shape_of(t) for t in node.input_tensors]
        outs = [shape_of(t) for t in node.output_tensors]
        real = self.real.get(path + (id(node),))
        if real is None or not (contradicts(ins, real[0]) or contradicts(outs, real[1])):
            return ins, outs, None
        return real[0], real[1], (tuple(ins), tuple(outs))


def _walkgraph_of(
    walk: Walk, model: Any, depth: int, container: str, input_parents: Sequence[str] | None, context: _GraphContext,
    path: NodePath = (),
) -> None:
    numbering = context.numbering
    graph = graph_of(model)
    produced: dict[int, str] = {}
    for i, tensor in enumerate(graph.inputs):
        if input_parents is not None:
            produced[id(tensor)] = input_parents[i] if i < len(input_parents) else ""
        elif isinstance(model, keras.Sequential):
            produced[id(tensor)] = ""
        else:
            layer = tensor._keras_history.operation
            row = walk.record(layer, depth=depth, container=container, inputs=(), outputs=[shape_of(tensor)],
                              parents=(), index=0)
            produced[id(tensor)] = row.address
    for node in execution_order(model):
        layer = node.operation
        parents = [produced.get(id(t), "") for t in node.input_tensors]
        ins, outs, keras_shapes = context.shapes(node, path)
        index = numbering.index(node)
        inner = layer if isinstance(layer, keras.Model) else wrapped_model(layer)
        if inner is not None:
            row = _record_container(walk, layer, inner, depth, container, (ins, outs, parents),
                                    context, index, path + (id(node),), keras_shapes)
        else:
            row = walk.record(layer, depth=depth, container=container, inputs=ins, outputs=outs, parents=parents,
                              index=index, operands=_operands(node), keras_shapes=keras_shapes)
        for t in node.outputs:
            produced[id(t)] = row.address


Call = tuple[Sequence[Shape], Sequence[Shape], Sequence[str]]  # one call's input shapes, output shapes, parents


def _record_container(
    walk: Walk, layer: Any, inner: Any, depth: int, container: str, call: Call, context: _GraphContext,
    index: int | None, path: NodePath, keras_shapes: Any = None,
) -> CallRecord:
    ins, outs, parents = call
    slot = walk.reserve()
    address = walk.address_for(layer, container, index)
    start = len(walk.rows)
    if inner is layer:
        _walk_into(walk, inner, depth + 1, address, list(parents), ins, context, path)
    else:  # a wrapper such as TimeDistributed(model): the model gets its own row, called on one step
        step = ([s[:1] + s[2:] for s in ins], [s[:1] + s[2:] for s in outs], parents)
        _record_container(walk, inner, inner, depth + 1, address, step, context, None, path + (-1,))
    children = direct_children(walk, start, address)
    return walk.record(layer, depth=depth, container=container, inputs=ins, outputs=outs, parents=parents,
                       children=children, slot=slot, index=index, keras_shapes=keras_shapes)


def _walk_into(
    walk: Walk, model: Any, depth: int, container: str, input_parents: list[str] | None,
    input_shapes: Sequence[Shape] | None, context: _GraphContext, path: NodePath,
) -> None:
    if is_graph_model(model):
        _walkgraph_of(walk, model, depth, container, input_parents, context, path)
    else:
        if input_shapes is None:
            raise ValueError(f"cannot trace nested model {model.name!r} without its input shapes")
        trace_into(walk, model, depth, container, input_parents, list(input_shapes), None)


def walk_model(model: Any, input_shapes: Any, *, sample: Any = None) -> ModelRecord:
    """Walk a built (or traceable) model into records, nested models expanded. Shapes include the batch.

    ``input_shapes`` (for a traced model) is a list of shapes, or a dict of them for a model called on a dict.
    """
    walk = Walk()
    notes: list[str] = []
    if is_graph_model(model):
        real = real_shapes(model)
        _walkgraph_of(walk, model, 0, "", None, _GraphContext(_Numbering(graph_keys(model)), real))
        if real.failure:
            notes.append(f"a real pass of the model (batch None) stopped at {real.failure}; the shapes of that call "
                         f"and later ones are Keras's own, unchecked")
    else:
        if input_shapes is None:
            raise ValueError(f"Model {model.name!r} has no graph and no input shapes to trace it with.")
        notes += trace_into(walk, model, 0, "", None, input_shapes, sample)
    trainable = trainable_ids(model)
    rows, counted = walk.finish(trainable)
    own = [(v, n) for v, n in variables_of(model) if v not in counted]
    if own:  # weights the model created itself (add_weight in a subclassed model)
        rows.append(CallRecord(
            address=f"{model.name}.weights", name=f"({model.name}'s own weights)", class_name="Weights",
            node_index=0, depth=0, input_shapes=(), output_shapes=(), params=sum(n for _, n in own),
            trainable_params=sum(n for v, n in own if v in trainable), macs=None, called=False, layer_id=-1,
        ))
    top = [r for r in rows if r.depth == 0]
    total, trainable_total = sum(r.params for r in top), sum(r.trainable_params for r in top)
    return ModelRecord(name=model.name, kind=model_kind(model), rows=tuple(rows), total_params=total,
                       trainable_params=trainable_total, notes=tuple(notes))
