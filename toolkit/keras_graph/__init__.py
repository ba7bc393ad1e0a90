"""The only package that touches Keras internals: a model -> call records, and a layer -> its nodes.

Keras 3 keeps per-call data in private places: ``layer._inbound_nodes``, ``Node.input_tensors /
output_tensors / parent_nodes``, ``KerasTensor._keras_history``, ``Functional._nodes`` and
``Sequential._functional``. Subclassed models have no graph at all, so they are traced by recording
``Layer.__call__`` during one symbolic pass. When Keras changes, this package changes; nothing else does.

It hands out records (``CallRecord``, ``ModelRecord``, ``NodeRecord``, ``LayerCall``) and tensors, never Keras
``Node`` objects. Graph operations that are not layers (``x + y``, ``x[:, 0]``, ``keras.ops.*``) are nodes
like any other; node indexes are Keras's node order everywhere.
"""

from toolkit.keras_graph.basics import built_input_shapes, error_text, is_graph_model, model_kind, shape_of
from toolkit.keras_graph.graph import walk_model
from toolkit.keras_graph.hosts import HostRecord, host_of
from toolkit.keras_graph.layer_nodes import LayerCall, layer_calls, model_call_outputs, node_records, operation_names
from toolkit.keras_graph.tracing import LayerCallFailed, ModelCallFailed, recording_calls, trace_events

__all__ = [
    "HostRecord", "LayerCall", "LayerCallFailed", "ModelCallFailed", "built_input_shapes", "error_text", "host_of",
    "is_graph_model", "layer_calls", "model_call_outputs", "model_kind", "node_records", "operation_names",
    "recording_calls", "shape_of", "trace_events", "walk_model",
]
