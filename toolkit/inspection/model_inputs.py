"""Check what a learner passed (a model, an input shape) and turn it into shapes a walk can use."""

from __future__ import annotations

import warnings
from typing import Any

from toolkit import keras_graph
from toolkit._keras import keras
from toolkit.i18n import tr
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
            tr("{what}() needs a model, but got the class {cls} itself, not a model made from it: instantiate it "
               "first, e.g. {what}({cls}(), input_shape=...).", what=what, cls=model.__name__)
        )
    if isinstance(model, keras.layers.Layer):
        raise TypeError(
            tr("{what}() needs a Keras model, but got the layer {name!r} ({cls}). Wrap it in a model first, e.g. "
               "keras.Sequential([keras.Input(shape=...), layer]).", what=what, name=model.name,
               cls=type(model).__name__)
        )
    if hasattr(model, "shape") and hasattr(model, "dtype"):
        raise TypeError(
            tr("{what}() needs a Keras model (got {got}: data, not a model). Pass the model itself, e.g. "
               "{what}(model), and give the data's shape as input_shape= if the model is not built.", what=what,
               got=short_repr(model))
        )
    raise TypeError(
        tr("{what}() needs a Keras model (got {got}). Build one with keras.Sequential([...]) or "
           "keras.Model(inputs, outputs), or subclass keras.Model.", what=what, got=short_repr(model))
    )


def _given_shapes(model: Any, input_shape: InputShape, sample: Any) -> ShapesOrDict | None:
    """The shapes the learner gave (input_shape, else the sample's), checked; None when neither was given."""
    if isinstance(input_shape, dict) and not keras_graph.is_graph_model(model):
        if isinstance(model, keras.Sequential):
            raise ValueError(tr("A Sequential model has one input: pass input_shape=(...), not a dict."))
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
                tr("Model {name!r} has not been built yet, so the shapes of its layers are unknown. Pass "
                   "input_shape= (without the batch dimension), e.g. {what}(model, input_shape=(28, 28)), or call "
                   "the model on data once.", name=model.name, what=what)
            )
        given = ({k: (None,) + tuple(s[1:]) for k, s in known.items()} if isinstance(known, dict)
                 else [(None,) + tuple(s[1:]) for s in known])
    if isinstance(model, keras.Sequential):
        if isinstance(given, dict) or len(given) != 1:
            raise ValueError(tr("A Sequential model has one input; got {n} input shapes.", n=len(given)))
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
            tr("input_shape {shape} does not fit model {name!r}: {error} Check the shape your first layer expects "
               "(without the batch).", shape=fmt_shapes([shape[1:]]), name=model.name,
               error=keras_graph.error_text(err))
        ) from err
    if not keras_graph.is_graph_model(model):  # Keras gives up quietly when a layer has no shape rule
        _blame_a_layer(model, shape, None)


def _warn_if_batch_kept(model: Any, shape: Shape) -> None:
    layers = model.layers
    if len(shape) < 3 or not layers or not all(type(lay).__name__ in LAST_AXIS_LAYERS for lay in layers):
        return
    rest = tuple(shape[2:])
    warnings.warn(
        tr("input_shape={shape} has {n} dimensions, and Dense layers act on the last one only, so model {name!r} "
           "is built for inputs of shape (batch, {dims}). If {first} is your batch size, leave it out: "
           "input_shape={rest}.", shape=tuple(shape[1:]), n=len(shape) - 1, name=model.name,
           dims=", ".join(map(str, shape[1:])), first=shape[1], rest=rest),
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
            what = tr("layer {name!r} ({cls}) raised {error} when called on {shape}: {text}", name=layer.name,
                      cls=type(layer).__name__, error=type(inner).__name__, shape=fmt_shapes([tuple(x.shape)]),
                      text=keras_graph.error_text(inner))
            if keras_error:
                raise ValueError(
                    tr("input_shape {shape} does not fit model {name!r}: {error} Check the shape your first layer "
                       "expects (without the batch).", shape=fmt_shapes([shape[1:]]), name=model.name, error=what)
                ) from inner
            raise ValueError(
                tr("Building model {name!r} for inputs of shape {shape} failed: {what} That is an error inside the "
                   "layer's own code (its build(), call() or compute_output_shape()), not in input_shape: fix the "
                   "layer, then run this again.", name=model.name, shape=fmt_shapes([shape[1:]]), what=what)
            ) from inner
    if err is None:
        raise ValueError(tr("Keras could not build model {name!r} for inputs of shape {shape}, and every layer works "
                            "when called alone.", name=model.name, shape=fmt_shapes([shape[1:]])))


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
            tr("Model {name!r} already has inputs of shape {want} (batch left out), but input_shape was {given}. "
               "Leave input_shape out for a built model, or pass {want}.", name=model.name, want=want,
               given=fmt_shapes([g[1:] for g in given]))
        )


def walk(model: Any, input_shape: InputShape, what: str, sample: Any = None) -> ModelRecord:
    """The records of ``model`` (public entry shared by summary() and diagram())."""
    shapes = resolve_input_shapes(model, input_shape, what, sample)
    try:
        return keras_graph.walk_model(model, shapes, sample=sample)
    except keras_graph.LayerCallFailed as err:
        fix = (tr("Check input_shape (leave out the batch dimension) and what call() passes to that layer.")
               if err.builtin else tr("That is an error inside the layer's own code (its build() or call()), not "
                                      "in input_shape: fix the layer, then run this again."))
        raise ValueError(tr("Calling model {name!r} on inputs of shape {shapes} failed: {error} {fix}",
                            name=model.name, shapes=shapes_fmt(shapes), error=err, fix=fix)) from err
    except keras_graph.ModelCallFailed as err:
        raise ValueError(_own_code_failure(model, shapes, err)) from err
    except (ValueError, TypeError) as err:
        if shapes is None:
            raise
        raise ValueError(
            tr("Calling model {name!r} on inputs of shape {shapes} failed: {error} Check input_shape (leave out the "
               "batch dimension).", name=model.name, shapes=shapes_fmt(shapes), error=keras_graph.error_text(err))
        ) from err


def _own_code_failure(model: Any, shapes: Any, err: Any) -> str:
    """The sentence for an error raised by the model's own call(): a missing dict key gets its own."""
    if isinstance(err.error, KeyError) and isinstance(shapes, dict):
        key = keras_graph.error_text(err.error)
        key = key if key[:1] in "'\"" else repr(key)
        return tr("The call() of model {name!r} looked up the input {key}, but input_shape has only {names}: name "
                  "the inputs as call() reads them, e.g. input_shape={{{key}: ..., ...}}.", name=model.name, key=key,
                  names=", ".join(map(repr, shapes)))
    return tr("Calling model {name!r} on inputs of shape {shapes} failed: {error}. Check input_shape (leave out the "
              "batch dimension) and the model's call().", name=model.name, shapes=shapes_fmt(shapes), error=err)
