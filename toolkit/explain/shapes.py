"""Output shapes derived step by step: padding and stride arithmetic, Flatten's product, Reshape, merges.

Each derivation computes the shape itself from the layer's config and its input shapes; the explanation shows
it, and the tests check it equals the shape the summary reports. A class without a derivation says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod

from toolkit.explain.params import CONV, DEPTHWISE, SEPARABLE
from toolkit.explain.records import LayerFacts, Msg, Term, msg, product
from toolkit.records import Shape
from toolkit.render.tables import fmt_shapes

SHAPE = msg("Output shape")
Derived = tuple[Msg, str, tuple[Shape, ...]]  # (the rule, the arithmetic per axis, the shapes)
SAME_SHAPE = frozenset(
    {
        "Activation",
        "ReLU",
        "LeakyReLU",
        "PReLU",
        "ELU",
        "Softmax",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "Masking",
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "UnitNormalization",
        "Rescaling",
        "Normalization",
        "Identity",
    }
)
POOLING = frozenset({f"{kind}Pooling{n}D" for kind in ("Max", "Average") for n in (1, 2, 3)})
GLOBAL_POOLING = frozenset({f"Global{kind}Pooling{n}D" for kind in ("Max", "Average") for n in (1, 2, 3)})
MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
ELEMENTWISE_OPS = frozenset({"Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum", "Power"})


def fmt(shape: Shape) -> str:
    return fmt_shapes([shape])


def _axes(shape: Shape, c: dict) -> list[int]:
    """Indexes of the spatial axes of ``shape``."""
    return list(range(2, len(shape))) if c.get("data_format") == "channels_first" else list(range(1, len(shape) - 1))


def _ints(value: object, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple | list) else (int(value),) * n  # type: ignore


def _windowed(
    c: dict,
    x: Shape,
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
    channels: int | None,
) -> Derived | None:
    axes = _axes(x, c)
    padding = c.get("padding", "valid")
    out, steps = list(x), []
    for i, a in enumerate(axes):
        n, k, s, d = x[a], kernel[i], strides[i], dilation[i]
        if n is None:
            steps.append("None")
            continue
        if padding == "valid":
            size = (n - d * (k - 1) - 1) // s + 1
            text = f"({n} - {d}*({k} - 1) - 1)//{s} + 1" if d > 1 else f"({n} - {k})//{s} + 1"
        else:
            size, text = (n - 1) // s + 1, f"({n} - 1)//{s} + 1"
        out[a] = size
        steps.append(f"{text} = {size}")
    if channels is not None:
        out[1 if c.get("data_format") == "channels_first" else -1] = channels
    if padding != "valid":
        rule = msg(
            "padding='{padding}': out = (in - 1)//stride + 1 per spatial axis (zeros added at the edges)",
            padding=padding,
        )
    elif any(d > 1 for d in dilation):
        rule = msg("padding='valid': out = (in - dilation*(kernel - 1) - 1)//stride + 1 per spatial axis")
    elif channels is None:
        rule = msg("padding='valid': out = (in - pool_size)//stride + 1 per spatial axis")
    else:
        rule = msg("padding='valid': out = (in - kernel)//stride + 1 per spatial axis")
    tail = f"; channels: {channels}" if channels is not None else ""
    return rule, "; ".join(steps) + tail, (tuple(out),)


def _conv(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    x = xs[0]
    n = len(_axes(x, c))
    kernel, strides = _ints(c["kernel_size"], n), _ints(c.get("strides", 1), n)
    dilation = _ints(c.get("dilation_rate", 1), n)
    if facts.class_name in DEPTHWISE:
        c_in = x[1] if c.get("data_format") == "channels_first" else x[-1]
        channels = None if c_in is None else int(c_in) * int(c["depth_multiplier"])
    else:
        channels = int(c["filters"])
    if facts.class_name.endswith("Transpose") and channels is not None:
        return _transpose(c, x, kernel, strides, dilation, channels)
    return _windowed(c, x, kernel, strides, dilation, channels)


def _transpose(
    c: dict, x: Shape, kernel: tuple[int, ...], strides: tuple[int, ...], dilation: tuple[int, ...], channels: int
) -> Derived | None:
    padding, extra = c.get("padding", "valid"), c.get("output_padding")
    out, steps = list(x), []
    for i, a in enumerate(_axes(x, c)):
        n, s = x[a], strides[i]
        k = dilation[i] * (kernel[i] - 1) + 1
        if n is None:
            steps.append("None")
            continue
        op = None if extra is None else _ints(extra, len(strides))[i]
        if padding == "valid" and op is None:
            size, text = (n - 1) * s + k + max(s - k, 0), f"({n} - 1)*{s} + {k} + max({s} - {k}, 0)"
        elif padding == "valid":
            size, text = (n - 1) * s + k + op, f"({n} - 1)*{s} + {k} + {op}"  # type: ignore[operator]
        elif op is None:
            size, text = n * s, f"{n}*{s}"
        else:
            size, text = (n - 1) * s + k % 2 + op, f"({n} - 1)*{s} + {k % 2} + {op}"
        out[a] = size
        steps.append(f"{text} = {size}")
    out[1 if c.get("data_format") == "channels_first" else -1] = channels
    rule = (
        msg("transposed convolution, padding='valid': out = (in - 1)*stride + kernel + max(stride - kernel, 0)")
        if padding == "valid"
        else msg("transposed convolution, padding='same': out = in*stride")
    )
    return rule, "; ".join(steps) + f"; channels: {channels}", (tuple(out),)


def _pool(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    x = xs[0]
    n = len(_axes(x, c))
    pool = _ints(c["pool_size"], n)
    strides = _ints(c["strides"], n) if c.get("strides") is not None else pool
    return _windowed(c, x, pool, strides, (1,) * n, None)


def _global_pool(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived:
    x = xs[0]
    first = c.get("data_format") == "channels_first"
    ch = x[1] if first else x[-1]
    if c.get("keepdims"):
        out = (x[0], ch) + (1,) * (len(x) - 2) if first else (x[0],) + (1,) * (len(x) - 2) + (ch,)
        return msg("one value per channel over all positions (keepdims=True keeps size-1 axes)"), "", (out,)
    return msg("one value per channel over all positions"), f"channels: {ch}", ((x[0], ch),)


def _flatten(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    x = xs[0]
    if any(d is None for d in x[1:]):
        return None
    dims = [int(d) for d in x[1:]]  # type: ignore[arg-type]
    return (
        msg("one axis holding every value of a sample: the product of its dimensions"),
        f"{'*'.join(map(str, dims))} = {prod(dims):,}",
        ((x[0], prod(dims)),),
    )


def _reshape(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    x, target = xs[0], tuple(c["target_shape"])
    if -1 not in target:
        return msg("the target_shape given, after the batch axis"), f"target_shape={target}", ((x[0], *target),)
    if any(d is None for d in x[1:]):
        return None
    total, known = product(x[1:]), product(d for d in target if d != -1)
    fill = total // known
    values = f"-1 = {'*'.join(str(d) for d in x[1:])} // {known} = {fill}"
    return (
        msg("the target_shape given; -1 is what the other dimensions leave of the sample's values"),
        values,
        ((x[0], *(fill if d == -1 else d for d in target)),),
    )


def _concatenate(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    axis = int(c.get("axis", -1))
    axis = axis if axis >= 0 else len(xs[0]) + axis
    sizes = [x[axis] for x in xs]
    if any(s is None for s in sizes):
        return None
    total = sum(int(s or 0) for s in sizes)
    out = list(xs[0])
    out[axis] = total
    return (
        msg("the inputs side by side along axis {axis}: their sizes there add up", axis=axis),
        f"{' + '.join(str(s) for s in sizes)} = {total}",
        (tuple(out),),
    )


def broadcast(xs: Sequence[Shape]) -> Derived | None:
    rank = max(len(x) for x in xs)
    padded = [(1,) * (rank - len(x)) + tuple(x) for x in xs]
    out: list[int | None] = []
    for dims in zip(*padded):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            return None
        out.append(known.pop() if known else (None if None in dims else 1))
    if xs and xs[0] and xs[0][0] is None:
        out[0] = None
    stretched = any(tuple(p) != tuple(out) for p in padded)
    rule = (
        msg("broadcasting: on each axis the sizes are equal, or a size 1 is stretched to the other")
        if stretched
        else msg("element by element: every input has this shape")
    )
    return rule, " with ".join(fmt(x) for x in xs), (tuple(out),)


def _merge(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    return broadcast(xs)


def _same(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived:
    return msg("the same as its input: {cls} works on each value in place", cls=facts.class_name), "", (xs[0],)


def _dense(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived:
    x = xs[0]
    return (
        msg("the last axis becomes units; the other axes stay"),
        f"{x[-1]} -> {c['units']}",
        (x[:-1] + (int(c["units"]),),),
    )


def _embedding(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived:
    return (
        msg("each token id becomes a vector of output_dim values"),
        f"output_dim: {c['output_dim']}",
        (xs[0] + (int(c["output_dim"]),),),
    )


def _recurrent(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    if c.get("return_state"):
        return None
    x, units = xs[0], int(c["cell_units"])
    if c.get("return_sequences"):
        return (
            msg("return_sequences=True: one vector of units per time step"),
            f"units: {units}",
            ((x[0], x[1], units),),
        )
    return msg("return_sequences=False: the last step's vector of units"), f"units: {units}", ((x[0], units),)


def _bidirectional(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    inner = facts.inner
    if inner is None or c.get("merge_mode") not in ("concat", "sum", "mul", "ave"):
        return None
    one = _recurrent(inner, dict(inner.config), xs)
    if one is None:
        return None
    shape = one[2][0]
    units = int(shape[-1])  # type: ignore[arg-type]
    if c["merge_mode"] == "concat":
        return (
            msg("the forward and backward outputs side by side (merge_mode='concat')"),
            f"{units} + {units} = {2 * units}",
            (shape[:-1] + (2 * units,),),
        )
    return (
        msg("the forward and backward outputs combined value by value (merge_mode='{mode}')", mode=c["merge_mode"]),
        f"units: {units}",
        (shape,),
    )


def _time_distributed(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    inner = facts.inner
    if inner is None:
        return None
    step = derive(inner, [x[:1] + x[2:] for x in xs])
    if step is None:
        return None
    shape = step[2][0]
    return (
        msg("the inner layer on each time step: {inner}", inner=step[0]),
        step[1],
        ((shape[0], xs[0][1], *shape[1:]),),
    )


def _attention(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    if "output_dims" not in c:
        return None
    q = xs[0]
    return (
        msg("the query's shape, with the last axis replaced by the output width"),
        f"{q[-1]} -> {', '.join(map(str, c['output_dims']))}",
        (q[:-1] + tuple(c["output_dims"]),),
    )


def _permute(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived:
    x, dims = xs[0], tuple(c["dims"])
    return (
        msg("the axes reordered as dims={dims} (axis 0, the batch, stays)", dims=dims),
        "",
        ((x[0], *(x[d] for d in dims)),),
    )


def _repeat(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived:
    x = xs[0]
    return msg("the vector repeated n times along a new axis 1"), f"n: {c['n']}", ((x[0], int(c["n"]), x[-1]),)


def _padding_like(sign: int, key: str) -> Callable[[LayerFacts, dict, Sequence[Shape]], Derived | None]:
    def derive_padding(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
        x = xs[0]
        axes = _axes(x, c)
        edges = c[key]
        given = [edges] * len(axes) if isinstance(edges, int) else list(edges)
        pairs: list[tuple[int, int]] = [(p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in given]
        out, steps = list(x), []
        for a, (before, after) in zip(axes, pairs):
            if x[a] is None:
                return None
            op = "+" if sign > 0 else "-"
            out[a] = int(x[a]) + sign * (before + after)  # type: ignore[arg-type]
            steps.append(f"{x[a]} {op} {before} {op} {after} = {out[a]}")
        rule = (
            msg("zeros added before and after each spatial axis")
            if sign > 0
            else msg("values cut off before and after each spatial axis")
        )
        return rule, "; ".join(steps), (tuple(out),)

    return derive_padding


def _upsample(facts: LayerFacts, c: dict, xs: Sequence[Shape]) -> Derived | None:
    x = xs[0]
    axes = _axes(x, c)
    size = _ints(c["size"], len(axes))
    out, steps = list(x), []
    for a, s in zip(axes, size):
        if x[a] is None:
            return None
        out[a] = int(x[a]) * s  # type: ignore[arg-type]
        steps.append(f"{x[a]}*{s} = {out[a]}")
    return msg("each value repeated size times along each spatial axis"), "; ".join(steps), (tuple(out),)


def _matmul(xs: Sequence[Shape]) -> Derived | None:
    if len(xs) != 2 or len(xs[0]) < 2 or len(xs[1]) < 2:
        return None
    a, b = xs
    lead = broadcast([a[:-2], b[:-2]]) if a[:-2] or b[:-2] else (None, "", ((),))
    if lead is None:
        return None
    return (
        msg("matrix product: (..., n, k) @ (..., k, m) -> (..., n, m)"),
        f"{fmt(a)} @ {fmt(b)}",
        (tuple(lead[2][0]) + (a[-2], b[-1]),),
    )


DERIVATIONS: dict[str, Callable[[LayerFacts, dict, Sequence[Shape]], Derived | None]] = {
    **{n: _conv for n in CONV | DEPTHWISE | SEPARABLE},
    **{n: _pool for n in POOLING},
    **{n: _global_pool for n in GLOBAL_POOLING},
    **{n: _same for n in SAME_SHAPE},
    **{n: _merge for n in MERGES},
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Concatenate": _concatenate,
    "Dense": _dense,
    "Embedding": _embedding,
    "SimpleRNN": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
    "MultiHeadAttention": _attention,
    "Permute": _permute,
    "RepeatVector": _repeat,
    "UpSampling1D": _upsample,
    "UpSampling2D": _upsample,
    "UpSampling3D": _upsample,
    **{f"ZeroPadding{n}D": _padding_like(1, "padding") for n in (1, 2, 3)},
    **{f"Cropping{n}D": _padding_like(-1, "cropping") for n in (1, 2, 3)},
}


def derive(facts: LayerFacts, xs: Sequence[Shape]) -> Derived | None:
    """The rule, the arithmetic and the output shapes, or None where there is no derivation."""
    if not xs:
        return None
    if not facts.is_layer:
        operands = list(facts.config.get("operands") or xs)  # constants included: x * 2.0, x @ w
        if facts.class_name in ELEMENTWISE_OPS:
            return broadcast(operands)
        return _matmul(operands) if facts.class_name == "Matmul" else None
    rule = DERIVATIONS.get(facts.class_name) if facts.builtin else None
    try:
        return None if rule is None else rule(facts, dict(facts.config), xs)
    except (KeyError, TypeError, ValueError, IndexError):  # a config this derivation does not know: say so
        return None


def shape_term(
    facts: LayerFacts, inputs: tuple[Shape, ...], outputs: tuple[Shape, ...], *, is_input: bool = False
) -> Term:
    shown = fmt_shapes(outputs)
    if is_input:
        return Term(
            "shape",
            SHAPE,
            msg("the shape given to keras.Input, after a batch axis of any size (None)"),
            "",
            shown,
            outputs,
        )
    found = derive(facts, inputs)
    if found is None:
        return Term(
            "shape",
            SHAPE,
            msg("no derivation for {cls}: the shape Keras reports", cls=facts.class_name or msg("this call")),
            "",
            shown,
            outputs,
            known=False,
        )
    notes = (
        ()
        if found[2] == outputs
        else (
            msg(
                "this derivation gives {derived}, but the summary shows {shown}",
                derived=fmt_shapes(found[2]),
                shown=shown,
            ),
        )
    )
    return Term("shape", SHAPE, found[0], found[1], fmt_shapes(found[2]), found[2], notes=notes)
