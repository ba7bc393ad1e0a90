"""The only package that touches Keras internals: a model -> call records, and a layer -> its nodes.

Keras 3 keeps per-call data in private places: ``layer._inbound_nodes``, ``Node.input_tensors /
output_tensors / parent_nodes``, ``KerasTensor._keras_history``, ``Functional._nodes`` and
``Sequential._functional``. Subclassed models have no graph at all, so they are traced by recording
``Layer.__call__`` during one symbolic pass. When Keras changes, this package changes; nothing else does.
"""

from toolkit.keras_graph.basics import built_input_shapes, is_graph_model, model_kind, shape_of
from toolkit.keras_graph.graph import execution_order, node_key, walk_model
from toolkit.keras_graph.layer_nodes import inbound_nodes, model_nodes, node_records, node_tensors
from toolkit.keras_graph.tracing import recording_calls, trace_events

__all__ = [
    "built_input_shapes", "execution_order", "inbound_nodes", "is_graph_model", "model_kind", "model_nodes",
    "node_key", "node_records", "node_tensors", "recording_calls", "shape_of", "trace_events", "walk_model",
]
