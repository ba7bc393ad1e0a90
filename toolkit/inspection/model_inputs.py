"""Check what a learner passed (a model, an input shape) and turn it into shapes a walk can use."""

from __future__ import annotations

from typing import Any

from toolkit import keras_graph
from toolkit._keras import keras
from toolkit.records import ModelRecord, Shape
from toolkit.render.tables import fmt_shapes

InputShape = tuple[int | None, ...] | list[tuple[int | None, ...]] | None


def require_model(model: Any, what: str) -> None:
    if isinstance(model, keras.Model):
        return
    if isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"{what}() needs a Keras model, but got the layer {model.name!r} ({type(model).__name__}). "
            f"Wrap it in a model first, e.g. keras.Sequential([keras.Input(shape=...), layer])."
        )
    raise TypeError(
        f"{what}() needs a Keras model (got {model!r}, a {type(model).__name__}). Build one with "
        f"keras.Sequential([...]) or keras.Model(inputs, outputs), or subclass keras.Model."
    )


def _normalise(input_shape: Any) -> list[Shape]:
    """(28, 28) -> [(None, 28, 28)]; [(8,), (4,)] -> [(None, 8), (None, 4)]."""
    example = "e.g. input_shape=(28, 28) for one input or [(28, 28), (10,)] for two"
    if isinstance(input_shape, list) and input_shape and all(isinstance(s, tuple | list) for s in input_shape):
        shapes = [tuple(s) for s in input_shape]
    elif isinstance(input_shape, tuple | list):
        shapes = [tuple(input_shape)]
    else:
        raise TypeError(f"input_shape must be a tuple of ints without the batch dimension ({example}); "
                        f"got {input_shape!r}.")
    for s in shapes:
        if not s or not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in s):
            raise ValueError(f"input_shape entries must be positive ints or None, without the batch dimension "
                             f"({example}); got {input_shape!r}.")
    return [(None,) + s for s in shapes]


def resolve_input_shapes(
    model: Any, input_shape: InputShape, what: str, sample: Any = None
) -> list[Shape] | None:
    """Shapes (with batch) to walk ``model`` with; builds an unbuilt Sequential as model.build() would."""
    require_model(model, what)
    given = None if input_shape is None else _normalise(input_shape)
    if given is None and sample is not None:
        batch = sample if isinstance(sample, list | tuple) else [sample]
        given = [(None,) + tuple(int(d) for d in x.shape[1:]) for x in batch]
    if keras_graph.is_graph_model(model):
        if given is not None:
            _check_against(model, given)
        return None
    if given is None:
        known = keras_graph.built_input_shapes(model)
        if known is None:
            raise ValueError(
                f"Model {model.name!r} has not been built yet, so the shapes of its layers are unknown. "
                f"Pass input_shape= (without the batch dimension), e.g. {what}(model, input_shape=(28, 28)), "
                f"or call the model on data once."
            )
        given = [(None,) + tuple(s[1:]) for s in known]
    if isinstance(model, keras.Sequential):
        if len(given) != 1:
            raise ValueError(f"A Sequential model has one input; got {len(given)} input shapes.")
        try:
            model.build(given[0])
        except Exception as err:  # Keras raises ValueError/TypeError with its own wording
            raise ValueError(
                f"input_shape {fmt_shapes([given[0][1:]])} does not fit model {model.name!r}: "
                f"{str(err).splitlines()[0]} Check the shape your first layer expects (without the batch)."
            ) from err
        return None
    return given


def _check_against(model: Any, given: list[Shape]) -> None:
    expected = keras_graph.built_input_shapes(model) or []
    ok = len(expected) == len(given) and all(
        len(e) == len(g) and all(a is None or b is None or a == b for a, b in zip(e[1:], g[1:]))
        for e, g in zip(expected, given)
    )
    if not ok:
        want = fmt_shapes([e[1:] for e in expected])
        raise ValueError(
            f"Model {model.name!r} already has inputs of shape {want} (batch left out), but input_shape was "
            f"{fmt_shapes([g[1:] for g in given])}. Leave input_shape out for a built model, or pass {want}."
        )


def walk(model: Any, input_shape: InputShape, what: str, sample: Any = None) -> ModelRecord:
    """The records of ``model`` (public entry shared by summary() and diagram())."""
    shapes = resolve_input_shapes(model, input_shape, what, sample)
    try:
        return keras_graph.walk_model(model, shapes, sample=sample)
    except (ValueError, TypeError) as err:
        if shapes is None:
            raise
        raise ValueError(
            f"Calling model {model.name!r} on inputs of shape {fmt_shapes([s[1:] for s in shapes])} failed: "
            f"{str(err).splitlines()[0]} Check input_shape (leave out the batch dimension)."
        ) from err
