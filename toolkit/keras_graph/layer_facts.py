"""What explanations read from Keras: each row's layer object, and its facts (config values, weights, dtypes).

Rows are found by the names along their address (``encoder[0]/dense[0]``): the walk's records keep no Keras
objects, and layer names are unique within the model or block that holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit._keras import keras
from toolkit.explain.records import LayerFacts, WeightFact
from toolkit.keras_graph.basics import graph_of, is_builtin, is_graph_model, is_layer
from toolkit.records import CallRecord

# Public attributes of built-in layers that the formulas read (a layer lacking one simply has no such key).
_ATTRIBUTES = (
    "units",
    "use_bias",
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "dilation_rate",
    "groups",
    "data_format",
    "depth_multiplier",
    "output_padding",
    "pool_size",
    "input_dim",
    "output_dim",
    "center",
    "scale",
    "rms_scaling",
    "axis",
    "return_sequences",
    "return_state",
    "target_shape",
    "dims",
    "n",
    "size",
    "cropping",
    "keepdims",
    "merge_mode",
    "num_heads",
    "key_dim",
    "value_dim",
)
_CELL_ATTRIBUTES = ("units", "use_bias", "reset_after")


def _plain(value: Any) -> Any:
    """A config value as plain data (tuples for lists), or None when it is not plain data."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        return None if any(i is None and v is not None for i, v in zip(items, value)) else tuple(items)
    return None


def _config(layer: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key in _ATTRIBUTES:
        try:
            value = getattr(layer, key)
        except Exception:  # noqa: BLE001  a property that fails before build: the formula goes without it
            continue
        plain = _plain(value)
        if plain is not None or value is None:
            config[key] = plain
    cell = getattr(layer, "cell", None)
    if cell is not None:
        config.update({f"cell_{k}": _plain(getattr(cell, k)) for k in _CELL_ATTRIBUTES if hasattr(cell, k)})
    if type(layer).__name__ == "MultiHeadAttention" and layer.built:
        config.update(_attention(layer))
    return config


def _attention(layer: Any) -> dict[str, Any]:
    """The input widths of each projection, the output width, and the gate: what the MHA formula needs."""
    out = {
        "query_in": int(layer.query_dense.kernel.shape[0]),
        "key_in": int(layer.key_dense.kernel.shape[0]),
        "value_in": int(layer.value_dense.kernel.shape[0]),
        "output_dims": tuple(int(d) for d in layer.output_dense.kernel.shape[2:]),
        "use_gate": bool(getattr(layer, "_use_gate", False)),
    }
    return out


def _weights(variables: Sequence[Any]) -> tuple[WeightFact, ...]:
    return tuple(
        WeightFact(
            path=str(getattr(w, "path", w.name)),
            shape=tuple(int(d) for d in w.shape),
            dtype=str(w.dtype),
            trainable=bool(w.trainable),
            key=id(w),
        )
        for w in variables
    )


def _output_dtypes(operation: Any) -> tuple[str, ...]:
    for node in getattr(operation, "_inbound_nodes", ()):
        tensors = [t for t in node.output_tensors if hasattr(t, "dtype")]
        if tensors and not node.is_input:
            return tuple(str(t.dtype) for t in tensors)
        if tensors and type(operation).__name__ == "InputLayer":
            return tuple(str(t.dtype) for t in tensors)
    return ()


def _operands(operation: Any) -> tuple[tuple[int | None, ...], ...]:
    """Shapes of every array argument of an operation's first call, constants included, in argument order."""
    for node in getattr(operation, "_inbound_nodes", ()):
        values = keras.tree.flatten(list(node.arguments.args))
        return tuple(
            tuple(None if d is None else int(d) for d in v.shape)
            for v in values
            if getattr(v, "shape", None) is not None
        )
    return ()


def layer_facts(operation: Any) -> LayerFacts:
    """The facts of one layer or operation (a layer's facts are its own; no Keras object is kept)."""
    name = type(operation).__name__
    if not is_layer(operation):
        return LayerFacts(
            class_name=name,
            builtin=True,
            is_layer=False,
            config={"operands": _operands(operation)},
            output_dtypes=_output_dtypes(operation),
        )
    inner_layer = getattr(operation, "forward_layer", None) if name == "Bidirectional" else None
    if name == "TimeDistributed":
        inner_layer = getattr(operation, "layer", None)
    return LayerFacts(
        class_name=name,
        builtin=is_builtin(operation),
        is_layer=True,
        config=_config(operation) if is_builtin(operation) else {},
        weights=_weights(operation.weights),
        compute_dtype=str(operation.compute_dtype),
        output_dtypes=_output_dtypes(operation),
        inner=layer_facts(inner_layer) if inner_layer is not None else None,
    )


def own_weight_facts(model: Any) -> LayerFacts:
    """The weights a model created itself (``add_weight`` in a subclassed model), outside all its layers."""
    inside = {id(w) for layer in model._flatten_layers(include_self=False, recursive=True) for w in layer.weights}
    return LayerFacts(
        class_name="Weights",
        builtin=False,
        is_layer=True,
        weights=_weights([w for w in model.weights if id(w) not in inside]),
    )


def _members(holder: Any) -> dict[str, Any]:
    """Name -> layer or operation directly reachable from ``holder`` (a model, a wrapper, a custom block)."""
    if isinstance(holder, keras.Model) and is_graph_model(holder):
        found = list(graph_of(holder)._operations)
    else:
        found = []
        inner = getattr(holder, "layer", None)
        if isinstance(inner, keras.layers.Layer):
            found.append(inner)
        found += holder._flatten_layers(include_self=False, recursive=True)
    members: dict[str, Any] = {}
    for op in found:
        members.setdefault(op.name, op)
    return members


def layers_by_address(model: Any, rows: Sequence[CallRecord]) -> dict[str, Any]:
    """Address -> the layer or operation of each row (the model's own-weights row maps to the model itself)."""
    holders: dict[str, Any] = {"": model}
    members: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for row in rows:
        if row.class_name == "Weights":
            out[row.address] = model
            continue
        holder = holders.get(row.container)
        if holder is None:
            continue
        table = members.get(id(holder))
        if table is None:
            table = members[id(holder)] = _members(holder)
        found = table.get(row.name)
        if found is None:
            continue
        out[row.address] = found
        if row.is_container:
            holders[row.address] = found
    return out
