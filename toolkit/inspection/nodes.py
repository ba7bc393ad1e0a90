"""Per-call inspectors with Keras 2's meaning: ``output_at(layer, i)`` and friends, which Keras 3 removed.

A layer called on several inputs has one *node* per call. ``node_index`` counts the layer's calls in the
order they were made: all of them (Keras 2's meaning), or only those inside ``model=`` when given (calls
left by another model, or by ``Sequential.add``/``pop`` rebuilding a model, are then filtered out).
"""

from __future__ import annotations

from typing import Any

from toolkit import keras_graph
from toolkit._keras import keras
from toolkit.i18n import N_, ntr, tr
from toolkit.inspection.model_inputs import require_model, short_repr
from toolkit.records import Shape
from toolkit.render.call_table import CallTable


def _require_layer(layer: Any, what: str) -> None:
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            tr("{what}() needs a Keras layer (got {got}). Pick one from a model, e.g. model.get_layer('dense') or "
               "model.layers[1].", what=what, got=short_repr(layer))
        )


TRACE_HINT = N_("See each of its calls traced with toolkit.summary(model) or toolkit.diagram(model) (add input_shape= "
              "if the model was never called), or build the model functionally with keras.Input to get nodes.")


def _no_nodes_message(layer: Any) -> str:
    """Why a layer has no nodes: never called, or called where Keras 3 records none (inside a call())."""
    host = keras_graph.host_of(layer)
    name = layer.name
    if host is None:
        return tr("Layer {name!r} has never been called, so it has no nodes yet. Call it on a tensor first, e.g. "
                  "y = layer(keras.Input(shape=(784,))), or build a model that uses it.", name=name)
    in_model = host.model and f"{host.model!r}" not in host.host
    inside = tr("{host} in model {model!r}", host=host.host, model=host.model) if in_model else f"{host.host}"
    hint = tr(TRACE_HINT)
    if host.calls == 0:
        return tr("Layer {name!r} has never been called: it belongs to {inside}, whose call() did not call it when "
                  "traced on inputs of shape {shapes} (toolkit.summary(model) lists it as never called).", name=name,
                  inside=inside, shapes=host.model_shapes)
    if host.calls is None and not host.model:
        return tr("Layer {name!r} has no nodes: it belongs to {inside}, and Keras 3 records no nodes for calls made "
                  "inside a call(). Use it in a model, then {hint}", name=name, inside=inside, hint=hint)
    if host.calls is None:
        return tr("Layer {name!r} has never been called: it belongs to {inside}, which has not been built or called "
                  "yet (and Keras 3 records no nodes for calls inside a call() anyway). {hint}", name=name,
                  inside=inside, hint=hint)
    times = ntr("{n} time", "{n} times", host.calls)
    return tr("Layer {name!r} was called {times} inside the call() of {inside}, but Keras 3 records no nodes for "
              "calls made inside a call(), so there are none to inspect. {hint}", name=name, times=times,
              inside=inside, hint=hint)


def _nodes(layer: Any, model: Any, what: str) -> list[keras_graph.LayerCall]:
    _require_layer(layer, what)
    if model is None:
        nodes = keras_graph.layer_calls(layer)
        if not nodes:
            raise ValueError(_no_nodes_message(layer))
        return nodes
    require_model(model, what)
    if not keras_graph.is_graph_model(model):
        raise ValueError(
            tr("Model {name!r} is a {kind} model: Keras 3 records no nodes for the calls inside its call(), so there "
               "are none to inspect. {hint}", name=model.name, kind=keras_graph.model_kind(model).lower(),
               hint=tr(TRACE_HINT))
        )
    nodes = keras_graph.layer_calls(layer, model)
    if not nodes:
        host = keras_graph.host_of(layer)
        if host is not None and id(model) in host.chain:
            raise ValueError(_no_nodes_message(layer))
        raise ValueError(
            tr("Layer {layer!r} is not part of model {model!r} (none of its calls are in that model's graph). Check "
               "the layer with model.get_layer(name), or leave out model= to see all its calls.", layer=layer.name,
               model=model.name)
        )
    return nodes


def _node(layer: Any, node_index: int, model: Any, what: str) -> keras_graph.LayerCall:
    nodes = _nodes(layer, model, what)
    if not isinstance(node_index, int) or isinstance(node_index, bool):
        raise TypeError(tr("node_index must be an int (got {got}); e.g. {what}(layer, 0).",
                           got=short_repr(node_index), what=what))
    if not 0 <= node_index < len(nodes):
        where = tr(" in model {model!r}", model=model.name) if model is not None else ""
        raise IndexError(
            ntr("Layer {layer!r} has {n} call{where} (node indexes 0 to {last}), so node_index={index} does not "
                "exist. See them all with toolkit.calls(layer).",
                "Layer {layer!r} has {n} calls{where} (node indexes 0 to {last}), so node_index={index} does not "
                "exist. See them all with toolkit.calls(layer).",
                len(nodes), layer=layer.name, where=where, last=len(nodes) - 1, index=node_index)
        )
    return nodes[node_index]


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def input_at(layer: Any, node_index: int, model: Any = None) -> Any:
    """The symbolic input tensor(s) of the layer's call number ``node_index`` (Keras 2: get_input_at)."""
    return _one_or_list(list(_node(layer, node_index, model, "input_at").inputs))


def output_at(layer: Any, node_index: int, model: Any = None) -> Any:
    """The symbolic output tensor(s) of the layer's call number ``node_index`` (Keras 2: get_output_at)."""
    return _one_or_list(list(_node(layer, node_index, model, "output_at").outputs))


def input_shape_at(layer: Any, node_index: int, model: Any = None) -> Shape | list[Shape]:
    """The input shape(s) of call ``node_index``, batch dimension included (Keras 2: get_input_shape_at)."""
    tensors = _node(layer, node_index, model, "input_shape_at").inputs
    return _one_or_list([keras_graph.shape_of(t) for t in tensors])


def output_shape_at(layer: Any, node_index: int, model: Any = None) -> Shape | list[Shape]:
    """The output shape(s) of call ``node_index`` (Keras 2: get_output_shape_at)."""
    tensors = _node(layer, node_index, model, "output_shape_at").outputs
    return _one_or_list([keras_graph.shape_of(t) for t in tensors])


def output_of(layer: Any, model: Any = None) -> Any:
    """The layer's output when it was called exactly once; a shared layer gets the teaching error."""
    nodes = _nodes(layer, model, "output_of")
    if len(nodes) != 1:
        raise ValueError(
            tr("Layer {layer!r} has {n} inbound nodes, so its output is ill-defined; use "
               "toolkit.output_at(layer, node_index) with node_index 0 to {last} (toolkit.calls(layer) lists them).",
               layer=layer.name, n=len(nodes), last=len(nodes) - 1)
        )
    return output_at(layer, 0, model)


def calls(layer: Any, model: Any = None) -> CallTable:
    """A table of the layer's calls: node index, shapes in and out, which calls fed it, and its model."""
    _nodes(layer, model, "calls")  # the teaching errors
    return CallTable(layer.name, tuple(keras_graph.node_records(layer, model)))


def feature_extractor(model: Any, layers: str | list[str] | None = None) -> Any:
    """A ``keras.Model`` from the model's inputs to intermediate outputs, one per layer CALL.

    ``layers=None`` gives every call of every layer and operation (``x + y`` is a call too); a list of names
    gives those layers' calls. Outputs are a dict keyed by call address (``"conv[0]"``, ``"conv[1]"``), the
    addresses ``summary()`` shows, so a shared layer gives one output per call. A single name of a layer
    called once gives that one tensor, as ``Model(inputs, layer.output)`` would.
    """
    require_model(model, "feature_extractor")
    if not keras_graph.is_graph_model(model):
        raise ValueError(
            tr("Model {name!r} is subclassed (or an unbuilt Sequential), so it has no graph of intermediate tensors "
               "to extract from. Build it with keras.Input first, or rewrite it with the functional API.",
               name=model.name)
        )
    names = [layers] if isinstance(layers, str) else layers
    known = set(keras_graph.operation_names(model))
    for name in names or []:
        if name not in known:
            raise ValueError(tr("Model {model!r} has no layer named {name!r}; its layers are: {layers}.",
                                model=model.name, name=name, layers=", ".join(sorted(known))))
    outputs: dict[str, Any] = {}
    for address, tensors in keras_graph.model_call_outputs(model).items():
        if names is not None and address.rpartition("[")[0] not in names:
            continue
        for j, t in enumerate(tensors):
            outputs[address + (f".{j}" if len(tensors) > 1 else "")] = t
    # one input is passed bare, so that calling the extractor on one array matches its input structure
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    if isinstance(layers, str) and len(outputs) == 1:
        return keras.Model(inputs=inputs, outputs=next(iter(outputs.values())), name=f"{layers}_features")
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{model.name}_features")
