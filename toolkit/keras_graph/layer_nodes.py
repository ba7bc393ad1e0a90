"""The nodes of one layer (Keras 2's ``get_output_at`` family) and which live model owns each."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from toolkit._keras import keras
from toolkit.keras_graph.basics import graph_of, is_graph_model, shape_of
from toolkit.keras_graph.graph import node_key
from toolkit.records import NodeRecord


def inbound_nodes(layer: Any) -> list[Any]:
    return list(layer._inbound_nodes)


def model_nodes(model: Any, layer: Any) -> list[Any]:
    """The layer's nodes that belong to ``model``'s graph, in call order."""
    if not is_graph_model(model):
        return []
    keys = graph_of(model)._nodes
    return [n for n in layer._inbound_nodes if node_key(n) in keys]


def node_tensors(node: Any) -> tuple[list[Any], list[Any]]:
    return list(node.input_tensors), list(node.output_tensors)


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


def node_records(layer: Any, nodes: Sequence[Any]) -> list[NodeRecord]:
    owners = _live_owners()
    records = []
    for i, node in enumerate(nodes):
        key = node_key(node)
        inbound = []
        for parent in node.parent_nodes:
            op = parent.operation
            inbound.append(f"{op.name}[{op._inbound_nodes.index(parent)}]")
        records.append(NodeRecord(
            layer=layer.name, node_index=i, input_shapes=tuple(shape_of(t) for t in node.input_tensors),
            output_shapes=tuple(shape_of(t) for t in node.output_tensors), inbound=tuple(inbound),
            models=tuple(sorted({name for name, keys in owners if key in keys})),
        ))
    return records
