"""Check what a learner passed (a model, an input shape) and turn it into shapes a walk can use."""

from __future__ import annotations

import re
import warnings
from typing import Any

from toolkit import keras_graph
from toolkit._keras import keras
from toolkit.records import ModelRecord, Shape
from toolkit.render.tables import fmt_shapes

InputShape = tuple[int | None, ...] | list[tuple[int | None, ...]] | dict[str, tuple[int | None, ...]] | None
# Layers that act on the last dimension only: a Sequential made of these takes any rank, so a batch size left
# in input_shape is silently kept as an extra dimension.
LAST_AXIS_LAYERS = ("Dense", "Dropout", "Activation", "BatchNormalization", "LayerNormalization", "ReLU")


def require_model(model: Any, what: str) -> None:
    if isinstance(model, keras.Model):
        return
    if isinstance(model, type) and issubclass(model, keras.layers.Layer):
        raise TypeError(
            f"{what}() needs a model, but got the class {model.__name__} itself, not a model made from it: "
            f"instantiate it first, e.g. {what}({model.__name__}(), input_shape=...)."
        )
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
    if isinstance(input_shape, dict):
        raise TypeError(f"a dict input_shape is for subclassed models called on a dict ({example}).")
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
    if isinstance(input_shape, dict) and not keras_graph.is_graph_model(model):
        if isinstance(model, keras.Sequential):
            raise ValueError("A Sequential model has one input: pass input_shape=(...), not a dict.")
        return {str(k): _normalise(v)[0] for k, v in input_shape.items()}  # type: ignore[return-value]
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
        _warn_if_batch_kept(model, given[0])
        try:
            model.build(given[0])
        except Exception as err:  # Keras raises ValueError/TypeError with its own wording
            _blame_a_layer(model, given[0], err)
            raise ValueError(
                f"input_shape {fmt_shapes([given[0][1:]])} does not fit model {model.name!r}: "
                f"{_first_line(err)} Check the shape your first layer expects (without the batch)."
            ) from err
        if not keras_graph.is_graph_model(model):  # Keras gives up quietly when a layer has no shape rule
            _blame_a_layer(model, given[0], None)
        return None
    return given


def _first_line(err: BaseException) -> str:
    """The message of an error, without Keras's "Exception encountered when calling ..." wrapping."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(err).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Arguments received", "•"))]
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
    return lines[0] if lines else "(no message)"


def _warn_if_batch_kept(model: Any, shape: Shape) -> None:
    layers = model.layers
    if len(shape) < 3 or not layers or not all(type(lay).__name__ in LAST_AXIS_LAYERS for lay in layers):
        return
    rest = tuple(shape[2:])
    warnings.warn(
        f"input_shape={tuple(shape[1:])} has {len(shape) - 1} dimensions, and Dense layers act on the last one "
        f"only, so model {model.name!r} is built for inputs of shape (batch, {', '.join(map(str, shape[1:]))}). "
        f"If {shape[1]} is your batch size, leave it out: input_shape={rest}.",
        UserWarning, stacklevel=4,
    )


def _blame_a_layer(model: Any, shape: Shape, err: BaseException | None) -> None:
    """Call the Sequential's layers one by one on a symbolic input; raise naming the first that fails."""
    x = keras.Input(tuple(shape[1:]))
    for layer in model.layers:
        try:
            x = layer(x)
        except Exception as inner:  # noqa: BLE001  reported to the learner with its class and message
            keras_error = type(inner).__name__ in ("ValueError", "TypeError") and type(layer).__module__.startswith(
                "keras.")
            what = (f"layer {layer.name!r} ({type(layer).__name__}) raised {type(inner).__name__} when called on "
                    f"{fmt_shapes([tuple(x.shape)])}: {_first_line(inner)}")
            if keras_error:
                raise ValueError(
                    f"input_shape {fmt_shapes([shape[1:]])} does not fit model {model.name!r}: {what} Check the "
                    f"shape your first layer expects (without the batch)."
                ) from inner
            raise ValueError(
                f"Building model {model.name!r} for inputs of shape {fmt_shapes([shape[1:]])} failed: {what} "
                f"That is an error inside the layer's own code (its build(), call() or compute_output_shape()), "
                f"not in input_shape: fix the layer, then run this again."
            ) from inner
    if err is None:
        raise ValueError(f"Keras could not build model {model.name!r} for inputs of shape "
                         f"{fmt_shapes([shape[1:]])}, and every layer works when called alone.")


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


def _shapes_text(shapes: Any) -> str:
    if isinstance(shapes, dict):
        return "{" + ", ".join(f"{k!r}: {fmt_shapes([s[1:]])}" for k, s in shapes.items()) + "}"
    return fmt_shapes([s[1:] for s in shapes])


def walk(model: Any, input_shape: InputShape, what: str, sample: Any = None) -> ModelRecord:
    """The records of ``model`` (public entry shared by summary() and diagram())."""
    shapes = resolve_input_shapes(model, input_shape, what, sample)
    try:
        return keras_graph.walk_model(model, shapes, sample=sample)
    except keras_graph.LayerCallFailed as err:
        raise ValueError(f"Calling model {model.name!r} on inputs of shape {_shapes_text(shapes)} failed: {err} "
                         f"That is an error inside the layer's own code (its build() or call()), not in "
                         f"input_shape: fix the layer, then run this again.") from err
    except (ValueError, TypeError) as err:
        if shapes is None:
            raise
        raise ValueError(
            f"Calling model {model.name!r} on inputs of shape {_shapes_text(shapes)} failed: "
            f"{str(err).splitlines()[0]} Check input_shape (leave out the batch dimension)."
        ) from err
