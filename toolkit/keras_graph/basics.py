"""Small facts about Keras objects: shapes, model kinds, weight counts, built input shapes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from math import prod
from typing import Any

from toolkit._keras import keras
from toolkit.records import Shape


def shape_of(tensor: Any, *, batch_none: bool = False) -> Shape:
    dims = tuple(None if d is None else int(d) for d in tensor.shape)
    return ((None,) + dims[1:]) if batch_none and dims else dims


def is_graph_model(model: Any) -> bool:
    """True for models Keras keeps a graph of: functional models and built Sequential models."""
    if isinstance(model, keras.Sequential):
        return model._functional is not None
    return isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth")


def model_kind(model: Any) -> str:
    if isinstance(model, keras.Sequential):
        return "Sequential"
    return "Functional" if is_graph_model(model) else "Subclassed"


def graph_of(model: Any) -> Any:
    return model._functional if isinstance(model, keras.Sequential) else model


def built_input_shapes(model: Any) -> list[Shape] | dict[str, Shape] | None:
    """The input shapes a model was built or called with (batch dim included), or None if never.

    A dict for a subclassed model called on a dict of inputs, keyed as it was called.
    """
    if is_graph_model(model):
        return [shape_of(t) for t in graph_of(model).inputs]
    shapes = getattr(model, "_build_shapes_dict", None)
    if not shapes:
        return None
    value = next(iter(shapes.values()))
    if isinstance(value, dict):
        return {str(k): tuple(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        return [tuple(v) for v in value]
    return [tuple(value)] if value is not None else None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TF_FUNCTION_NODE = re.compile(r"^\{\{function_node [^}]*\}\}\s*")  # TensorFlow's kernel-error prefix
_TF_OP_SUFFIX = re.compile(r"\s*\[Op:\w+\](\s*name:\s*\S*)?\s*$")
ERROR_TEXT_LIMIT = 160


def error_text(err: BaseException) -> str:
    """An exception's own message as one short line, without what Keras and TensorFlow wrap around it.

    Keras re-raises errors from call() as "Exception encountered when calling X.call()." followed by the real
    message in ANSI bold and an "Arguments received" list; a KeyError's str() is the repr of that whole text;
    TensorFlow prefixes kernel errors with ``{{function_node ...}}`` and suffixes ``[Op:MatMul] name:``.
    """
    message = err.args[0] if isinstance(err, KeyError) and err.args and isinstance(err.args[0], str) else str(err)
    lines = [_ANSI.sub("", line).strip() for line in message.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Arguments received", "\u2022"))]
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
    text = _TF_OP_SUFFIX.sub("", _TF_FUNCTION_NODE.sub("", lines[0])) if lines else ""
    text = text or "(no message)"
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 3] + "..."


@contextmanager
def losses_kept(model: Any) -> Iterator[None]:
    """Leave every layer's added losses (``add_loss``, activity regularizers) as they were before the block.

    A trace calls layers inside a TensorFlow graph; the losses they add would stay behind as graph tensors, and
    ``model.losses`` would then hold tensors from a graph that no longer runs.
    """
    layers = [model, *model._flatten_layers(include_self=False, recursive=True)]
    saved = [(layer, list(layer._losses)) for layer in layers]
    try:
        yield
    finally:
        for layer, losses in saved:
            layer._losses.clear()
            layer._losses.extend(losses)


def is_layer(operation: Any) -> bool:
    """False for operations that are not layers (``x * 2.0``, ``x[:, 0]``, ``keras.ops.*``): no weights, no config."""
    return isinstance(operation, keras.layers.Layer)


def is_builtin(layer: Any) -> bool:
    """A layer class that ships with Keras (its internals, e.g. an LSTM's cell, are not the learner's calls)."""
    return type(layer).__module__.startswith("keras.")


def variables_of(layer: Any) -> tuple[tuple[int, int], ...]:
    """(id, size) of every weight variable of a layer (none for an operation): THE weight counter of a walk.

    Counting by variable, not by layer, keeps a variable shared between layers (tied weights, a layer used
    both inside a nested model and outside it) counted once.
    """
    if not is_layer(layer):
        return ()
    return tuple((id(w), prod(int(d) for d in w.shape)) for w in layer.weights)


def trainable_ids(model: Any) -> frozenset[int]:
    return frozenset(id(w) for w in model.trainable_weights)


# Attributes the MAC formulas read, per built-in class (read from the layer, never from get_config(), which a
# custom layer may not implement).
_FACTS = {
    "Dense": ("units",), "EinsumDense": (),
    "Conv1D": ("kernel_size", "filters", "groups", "data_format"),
    "Conv2D": ("kernel_size", "filters", "groups", "data_format"),
    "Conv3D": ("kernel_size", "filters", "groups", "data_format"),
    "Conv1DTranspose": ("kernel_size", "filters", "data_format"),
    "Conv2DTranspose": ("kernel_size", "filters", "data_format"),
    "Conv3DTranspose": ("kernel_size", "filters", "data_format"),
    "DepthwiseConv1D": ("kernel_size", "depth_multiplier", "data_format"),
    "DepthwiseConv2D": ("kernel_size", "depth_multiplier", "data_format"),
    "SeparableConv1D": ("kernel_size", "depth_multiplier", "filters", "data_format"),
    "SeparableConv2D": ("kernel_size", "depth_multiplier", "filters", "data_format"),
    "SimpleRNN": ("units",), "GRU": ("units",), "LSTM": ("units",),
}


def mac_class_and_facts(layer: Any) -> tuple[str, dict[str, Any]]:
    """The class name the MAC formulas know this layer by ("" for a custom class) and the facts they need."""
    if not is_builtin(layer):
        return "", {}
    name = type(layer).__name__
    facts = {key: getattr(layer, key) for key in _FACTS.get(name, ()) if hasattr(layer, key)}
    inner = getattr(layer, "forward_layer", None) if name == "Bidirectional" else getattr(layer, "layer", None)
    if name in ("Bidirectional", "TimeDistributed") and inner is not None:
        inner_name, inner_facts = mac_class_and_facts(inner)
        facts["layer"] = {"class_name": inner_name, "config": inner_facts}
    return name, facts


def wrapped_model(layer: Any) -> Any:
    """The model inside a wrapper such as TimeDistributed(model), or None."""
    inner = getattr(layer, "layer", None)
    return inner if isinstance(inner, keras.Model) else None
