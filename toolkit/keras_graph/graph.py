"""Functional and Sequential models: walk the graph Keras keeps (``_nodes``, ``_keras_history``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit._keras import keras
from toolkit.keras_graph.basics import graph_of, is_graph_model, model_kind, shape_of, weight_counts, wrapped_model
from toolkit.keras_graph.rows import Walk, direct_children
from toolkit.keras_graph.tracing import trace_into
from toolkit.records import CallRecord, ModelRecord, Shape


def _node_of(tensor: Any) -> Any:
    history = tensor._keras_history
    return history.operation._inbound_nodes[history.node_index]


def execution_order(model: Any) -> list[Any]:
    """The model's non-input nodes, depth-first from its outputs: each call after the calls feeding it."""
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
        if not node.is_input and node_key(node) in keys:
            order.append(node)

    for tensor in graph.outputs:
        visit(_node_of(tensor))
    return order


def node_key(node: Any) -> str:
    op = node.operation
    return f"{id(op)}_ib-{op._inbound_nodes.index(node)}"  # the key Keras stores in Functional._nodes


def _walkgraph_of(
    walk: Walk, model: Any, depth: int, container: str, input_parents: Sequence[str] | None
) -> None:
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
                              parents=())
            produced[id(tensor)] = row.address
    for node in execution_order(model):
        layer = node.operation
        parents = [produced.get(id(t), "") for t in node.input_tensors]
        ins = [shape_of(t) for t in node.input_tensors]
        outs = [shape_of(t) for t in node.output_tensors]
        inner = layer if isinstance(layer, keras.Model) else wrapped_model(layer)
        if inner is not None:
            row = _record_container(walk, layer, inner, depth, container, ins, outs, parents)
        else:
            row = walk.record(layer, depth=depth, container=container, inputs=ins, outputs=outs, parents=parents)
        for t in node.outputs:
            produced[id(t)] = row.address


def _record_container(
    walk: Walk, layer: Any, inner: Any, depth: int, container: str, ins: Sequence[Shape],
    outs: Sequence[Shape], parents: Sequence[str],
) -> CallRecord:
    slot = walk.reserve()
    address = walk.address_for(layer, container)
    start = len(walk.rows)
    if inner is layer:
        _walk_into(walk, inner, depth + 1, address, list(parents), ins)
    else:  # a wrapper such as TimeDistributed(model): the model gets its own row, called on one step
        step_in = [s[:1] + s[2:] for s in ins]
        step_out = [s[:1] + s[2:] for s in outs]
        _record_container(walk, inner, inner, depth + 1, address, step_in, step_out, parents)
    children = direct_children(walk, start, address)
    return walk.record(layer, depth=depth, container=container, inputs=ins, outputs=outs, parents=parents,
                       children=children, slot=slot)


def _walk_into(
    walk: Walk, model: Any, depth: int, container: str, input_parents: list[str] | None,
    input_shapes: Sequence[Shape] | None,
) -> None:
    if is_graph_model(model):
        _walkgraph_of(walk, model, depth, container, input_parents)
    else:
        if input_shapes is None:
            raise ValueError(f"cannot trace nested model {model.name!r} without its input shapes")
        trace_into(walk, model, depth, container, input_parents, list(input_shapes), None)




def walk_model(model: Any, input_shapes: list[Shape] | None, *, sample: Any = None) -> ModelRecord:
    """Walk a built (or traceable) model into records, nested models expanded. Shapes include the batch."""
    walk = Walk()
    notes: list[str] = []
    if is_graph_model(model):
        _walkgraph_of(walk, model, 0, "", None)
    else:
        assert input_shapes is not None
        notes += trace_into(walk, model, 0, "", None, input_shapes, sample)
    rows = [r for r in walk.rows if r is not None]
    top = [r for r in rows if r.depth == 0]
    total, trainable = sum(r.params for r in top), sum(r.trainable_params for r in top)
    own_total, own_trainable = weight_counts(model)
    if own_total != total:  # weights the model created itself (add_weight in a subclassed model)
        extra = CallRecord(
            address=f"{model.name}.weights", name=f"({model.name}'s own weights)", class_name="Weights",
            node_index=0, depth=0, input_shapes=(), output_shapes=(), params=own_total - total,
            trainable_params=own_trainable - trainable, macs=None, called=False, layer_id=-1,
        )
        rows.append(extra)
        total, trainable = own_total, own_trainable
    return ModelRecord(name=model.name, kind=model_kind(model), rows=tuple(rows), total_params=total,
                       trainable_params=trainable, notes=tuple(notes))
