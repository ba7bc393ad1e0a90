"""Check what a learner passed (a model, an input shape) and turn it into shapes a walk can use."""

from __future__ import annotations

import warnings
from typing import Any

from toolkit import keras_graph
from toolkit._keras import keras
from toolkit.inspection.input_shapes import (
    ShapesOrDict,
    check_sample,
    normalise,
    normalise_dict,
    sample_shapes,
    shapes_fmt,
    short_repr,
)
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
    if hasattr(model, "shape") and hasattr(model, "dtype"):
        raise TypeError(
            f"{what}() needs a Keras model (got {short_repr(model)}: data, not a model). Pass the model itself, "
            f"e.g. {what}(model), and give the data's shape as input_shape= if the model is not built."
        )
    raise TypeError(
        f"{what}() needs a Keras model (got {short_repr(model)}). Build one with "
        f"keras.Sequential([...]) or keras.Model(inputs, outputs), or subclass keras.Model."
    )


def _given_shapes(model: Any, input_shape: InputShape, sample: Any) -> ShapesOrDict | None:
    """The shapes the learner gave (input_shape, else the sample's), checked; None when neither was given."""
    if isinstance(input_shape, dict) and not keras_graph.is_graph_model(model):
        if isinstance(model, keras.Sequential):
            raise ValueError("A Sequential model has one input: pass input_shape=(...), not a dict.")
        given: ShapesOrDict | None = normalise_dict(input_shape)
    else:
        given = None if input_shape is None else normalise(input_shape)
    if sample is None:
        return given
    from_sample = sample_shapes(sample)
    if given is not None:
        check_sample(given, from_sample)
    return from_sample if given is None else given


def resolve_input_shapes(
    model: Any, input_shape: InputShape, what: str, sample: Any = None
) -> ShapesOrDict | None:
    """Shapes (with batch) to walk ``model`` with; builds an unbuilt Sequential as model.build() would."""
    require_model(model, what)
    given = _given_shapes(model, input_shape, sample)
    if keras_graph.is_graph_model(model):
        if isinstance(given, list):  # a dict sample of a graph model is checked by Keras when it is called
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
        given = ({k: (None,) + tuple(s[1:]) for k, s in known.items()} if isinstance(known, dict)
                 else [(None,) + tuple(s[1:]) for s in known])
    if isinstance(model, keras.Sequential):
        if isinstance(given, dict) or len(given) != 1:
            raise ValueError(f"A Sequential model has one input; got {len(given)} input shapes.")
        _build_sequential(model, given[0])
        return None
    return given


def _build_sequential(model: Any, shape: Shape) -> None:
    _warn_if_batch_kept(model, shape)
    try:
        model.build(shape)
    except Exception as err:  # Keras raises ValueError/TypeError with its own wording
        _blame_a_layer(model, shape, err)
        raise ValueError(
            f"input_shape {fmt_shapes([shape[1:]])} does not fit model {model.name!r}: "
            f"{keras_graph.error_text(err)} Check the shape your first layer expects (without the batch)."
        ) from err
    if not keras_graph.is_graph_model(model):  # Keras gives up quietly when a layer has no shape rule
        _blame_a_layer(model, shape, None)


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
                    f"{fmt_shapes([tuple(x.shape)])}: {keras_graph.error_text(inner)}")
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
    known = keras_graph.built_input_shapes(model) or []
    expected = list(known.values()) if isinstance(known, dict) else known  # a graph model's: always a list
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
    except keras_graph.LayerCallFailed as err:
        fix = ("Check input_shape (leave out the batch dimension) and what call() passes to that layer."
               if err.builtin else "That is an error inside the layer's own code (its build() or call()), not in "
               "input_shape: fix the layer, then run this again.")
        raise ValueError(f"Calling model {model.name!r} on inputs of shape {shapes_fmt(shapes)} failed: {err} "
                         f"{fix}") from err
    except keras_graph.ModelCallFailed as err:
        raise ValueError(_own_code_failure(model, shapes, err)) from err
    except (ValueError, TypeError) as err:
        if shapes is None:
            raise
        raise ValueError(
            f"Calling model {model.name!r} on inputs of shape {shapes_fmt(shapes)} failed: "
            f"{keras_graph.error_text(err)} Check input_shape (leave out the batch dimension)."
        ) from err


def _own_code_failure(model: Any, shapes: Any, err: Any) -> str:
    """The sentence for an error raised by the model's own call(): a missing dict key gets its own."""
    if isinstance(err.error, KeyError) and isinstance(shapes, dict):
        key = keras_graph.error_text(err.error)
        key = key if key[:1] in "'\"" else repr(key)
        return (f"The call() of model {model.name!r} looked up the input {key}, but input_shape has only "
                f"{', '.join(map(repr, shapes))}: name the inputs as call() reads them, e.g. "
                f"input_shape={{{key}: ..., ...}}.")
    return (f"Calling model {model.name!r} on inputs of shape {shapes_fmt(shapes)} failed: {err}. Check "
            f"input_shape (leave out the batch dimension) and the model's call().")
