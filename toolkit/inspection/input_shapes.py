"""What the learner gave as shapes: input_shape (a tuple, a list or a dict of them) and a sample batch.

Each is checked and turned into shapes with the batch dimension (None); a bad value gets one sentence that
names it in a short form (an array by its shape, never its 1,700-character repr) and says how to write it.
"""

from __future__ import annotations

from typing import Any

from toolkit.i18n import N_, tr
from toolkit.records import Shape
from toolkit.render.tables import fmt_shapes

ShapesOrDict = list[Shape] | dict[str, Shape]
REPR_LIMIT = 60


def short_repr(value: Any) -> str:
    """How an error names a value it refuses: an array or tensor by its shape, anything else by a short repr."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None and not isinstance(value, type):
        kind = (tr("a NumPy array") if type(value).__module__ == "numpy"
                else tr("a tensor ({cls})", cls=type(value).__name__))
        dims = tuple(None if d is None else int(d) for d in shape)
        return tr("{kind} of shape {shape}, dtype {dtype}", kind=kind, shape=fmt_shapes([dims]),
                  dtype=getattr(dtype, "name", dtype))
    text = " ".join(repr(value).split())  # one line: a repr can span many
    text = text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."
    kind = type(value).__name__
    if kind[:1].lower() in "aeiou":
        return tr("{text}, an {kind}", text=text, kind=kind)
    return tr("{text}, a {kind}", text=text, kind=kind)


EXAMPLE = N_("e.g. input_shape=(28, 28) for one input or [(28, 28), (10,)] for two")


def is_shape(value: Any) -> bool:
    return isinstance(value, tuple | list) and bool(value) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in value)


def normalise(input_shape: Any) -> list[Shape]:
    """(28, 28) -> [(None, 28, 28)]; [(8,), (4,)] -> [(None, 8), (None, 4)]."""
    if isinstance(input_shape, dict):
        raise TypeError(tr("a dict input_shape is for subclassed models called on a dict ({example}).",
                           example=tr(EXAMPLE)))
    if isinstance(input_shape, list) and input_shape and all(isinstance(s, tuple | list) for s in input_shape):
        shapes = [tuple(s) for s in input_shape]
    elif isinstance(input_shape, tuple | list):
        shapes = [tuple(input_shape)]
    else:
        hint = (tr(" (write ({value},) for one dimension of {value})", value=input_shape)
                if is_shape([input_shape]) else "")
        raise TypeError(tr("input_shape must be a tuple of ints without the batch dimension ({example}); got "
                           "{got}{hint}.", example=tr(EXAMPLE), got=short_repr(input_shape), hint=hint))
    for s in shapes:
        if not is_shape(s):
            raise ValueError(tr("input_shape entries must be positive ints or None, without the batch dimension "
                                "({example}); got {got}.", example=tr(EXAMPLE), got=short_repr(input_shape)))
    return [(None,) + s for s in shapes]


def normalise_dict(input_shape: dict[Any, Any]) -> dict[str, Shape]:
    """{"image": (28, 28)} -> {"image": (None, 28, 28)}; a bad entry is named by its key."""
    out: dict[str, Shape] = {}
    for key, value in input_shape.items():
        if not is_shape(value):
            fix = f"({value},)" if is_shape([value]) else "(28, 28)"
            raise TypeError(tr("input_shape[{key!r}] must be a tuple of positive ints without the batch dimension "
                               "(got {got}); write e.g. input_shape={{{key!r}: {fix}, ...}}.", key=key,
                               got=short_repr(value), fix=fix))
        out[str(key)] = (None,) + tuple(value)
    return out


def sample_shapes(sample: Any) -> ShapesOrDict:
    """The shapes (batch None) of a sample batch: one array, a list of arrays, or a dict of them."""
    items = sample.items() if isinstance(sample, dict) else enumerate(
        sample if isinstance(sample, list | tuple) else [sample])
    shapes: dict[Any, Shape] = {}
    for key, x in items:
        if not hasattr(x, "shape") or len(x.shape) < 1:
            raise TypeError(tr("sample must be a batch of arrays (one array, a list or a dict of them, batch first); "
                               "got {got}. E.g. sample=x_train[:2].", got=short_repr(x)))
        shapes[key] = (None,) + tuple(None if d is None else int(d) for d in x.shape[1:])
    return {str(k): v for k, v in shapes.items()} if isinstance(sample, dict) else list(shapes.values())


def shapes_fmt(shapes: ShapesOrDict | None) -> str:
    if isinstance(shapes, dict):
        return "{" + ", ".join(f"{k!r}: {fmt_shapes([s[1:]])}" for k, s in shapes.items()) + "}"
    return fmt_shapes([s[1:] for s in shapes or []])


def check_sample(given: ShapesOrDict, sample_shapes: ShapesOrDict) -> None:
    """input_shape and sample given together must describe the same inputs (the trace follows the sample)."""
    pairs = ([(given.get(k), v) for k, v in sample_shapes.items()]
             if isinstance(given, dict) and isinstance(sample_shapes, dict) else list(zip(given, sample_shapes)))
    same_keys = isinstance(given, dict) == isinstance(sample_shapes, dict) and len(given) == len(sample_shapes)
    fits = same_keys and all(
        a is not None and len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a[1:], b[1:]))
        for a, b in pairs)
    if not fits:
        raise ValueError(tr("input_shape {given} and the sample's shape {sample} (batch left out) disagree: pass "
                            "only sample=, whose shapes the trace follows, or make them match.",
                            given=shapes_fmt(given), sample=shapes_fmt(sample_shapes)))
