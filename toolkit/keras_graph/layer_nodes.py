"""The nodes of one layer (Keras 2's ``get_output_at`` family) and which live model owns each.

Callers get records and tensors, never Keras ``Node`` objects: a ``LayerCall`` holds one call's index and
tensors, a ``NodeRecord`` describes it. Node indexes are Keras's order of the layer's nodes, restricted to a
model's graph (nested models' graphs included) when a model is given: the numbering ``summary()`` uses.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from toolkit._keras import keras
from toolkit.keras_graph.basics import graph_of, is_graph_model, shape_of
from toolkit.keras_graph.graph import graph_keys, node_key, visible_nodes
from toolkit.records import NodeRecord


@dataclass(frozen=True)
class LayerCall:
    """One call (Keras node) of a layer: its index and its symbolic input and output tensors."""

    index: int
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]


def _nodes(layer: Any, model: Any = None) -> list[Any]:
    if model is None:
        if isinstance(layer, keras.layers.InputLayer):
            return list(layer._inbound_nodes)
        return [n for n in layer._inbound_nodes if not n.is_input]
    if not is_graph_model(model):
        return []
    return visible_nodes(layer, graph_keys(model))


def layer_calls(layer: Any, model: Any = None) -> list[LayerCall]:
    """The layer's calls in Keras's order: all of them, or those in ``model``'s graph (nested ones included)."""
    return [LayerCall(i, tuple(n.input_tensors), tuple(n.output_tensors)) for i, n in enumerate(_nodes(layer, model))]


def model_call_outputs(model: Any) -> dict[str, tuple[Any, ...]]:
    """``"name[i]"`` -> output tensors, for every layer and operation call in the model's own graph.

    ``i`` is the index ``summary()`` shows; calls inside nested models are left out (their tensors belong to
    the nested graph, not to this model's inputs).
    """
    graph = graph_of(model)
    keys = graph_keys(model)
    outputs: dict[str, tuple[Any, ...]] = {}
    for op in graph._operations:
        if isinstance(op, keras.layers.InputLayer):
            continue
        for i, node in enumerate(visible_nodes(op, keys)):
            if node_key(node) in graph._nodes:
                outputs[f"{op.name}[{i}]"] = tuple(node.output_tensors)
    return outputs


def operation_names(model: Any) -> list[str]:
    """Names of every layer and operation in the model's own graph (input layers left out)."""
    return [op.name for op in graph_of(model)._operations if not isinstance(op, keras.layers.InputLayer)]


def _live_owners() -> list[tuple[str, Any]]:
    """(label, node keys) of every graph model alive in this process, for the 'which model' column.

    A Sequential keeps its graph in ``_functional`` and replaces it on ``add``/``pop``; a replaced graph
    that lingers is labelled as the old graph of its Sequential, not by its internal name.
    """
    gc.collect()
    models = [o for o in gc.get_objects() if isinstance(o, keras.Model)]
    sequentials = [m for m in models if isinstance(m, keras.Sequential)]
    current = {id(m._functional) for m in sequentials if m._functional is not None}
    owners = []
    for m in models:
        if id(m) in current or not is_graph_model(m):
            continue
        label = m.name
        if not isinstance(m, keras.Sequential):
            ops = {id(op) for op in m._operations if not isinstance(op, keras.layers.InputLayer)}
            for seq in sequentials:
                if ops and ops <= {id(lay) for lay in seq.layers} and m.name.startswith("functional"):
                    label = f"{seq.name} (old graph, before add/pop)"
        owners.append((label, graph_of(m)._nodes))
    return owners


def node_records(layer: Any, model: Any = None) -> list[NodeRecord]:
    """One record per call of ``layer`` (as ``layer_calls``): shapes, which calls fed it, which models hold it."""
    nodes = _nodes(layer, model)
    owners = _live_owners()
    records = []
    for i, node in enumerate(nodes):
        key = node_key(node)
        inbound = []
        for parent in node.parent_nodes:
            op = parent.operation
            siblings = [n for n in op._inbound_nodes if not n.is_input] or list(op._inbound_nodes)
            inbound.append(f"{op.name}[{siblings.index(parent) if parent in siblings else 0}]")
        records.append(NodeRecord(
            layer=layer.name, node_index=i, input_shapes=tuple(shape_of(t) for t in node.input_tensors),
            output_shapes=tuple(shape_of(t) for t in node.output_tensors), inbound=tuple(inbound),
            models=tuple(sorted({name for name, keys in owners if key in keys})),
        ))
    return records
