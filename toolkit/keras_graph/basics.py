"""Small facts about Keras objects: shapes, model kinds, weight counts, built input shapes."""

from __future__ import annotations

from typing import Any

import numpy as np

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


def built_input_shapes(model: Any) -> list[Shape] | None:
    """The input shapes a model was built or called with (batch dim included), or None if never."""
    if is_graph_model(model):
        return [shape_of(t) for t in graph_of(model).inputs]
    shapes = getattr(model, "_build_shapes_dict", None)
    if not shapes:
        return None
    value = next(iter(shapes.values()))
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        return [tuple(v) for v in value]
    return [tuple(value)] if value is not None else None


def weight_counts(layer: Any) -> tuple[int, int]:
    total = sum(int(np.prod(w.shape)) for w in layer.weights)
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    return total, trainable


def wrapped_model(layer: Any) -> Any:
    """The model inside a wrapper such as TimeDistributed(model), or None."""
    inner = getattr(layer, "layer", None)
    return inner if isinstance(inner, keras.Model) else None
