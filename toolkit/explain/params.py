"""Parameter counts as formulas: Dense, convolutions, normalisations, Embedding, recurrent layers, attention.

Each formula reads the layer's config and its input shape, never its weights' shapes, and gives its own number;
the explanation shows it beside Keras's count, and a class without a formula says so and shows Keras's count.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import NamedTuple

from toolkit.explain.records import LayerFacts, Msg, Term, msg, product
from toolkit.records import Shape
from toolkit.render.tables import fmt_shapes

PARAMS = msg("Parameters")


class Formula(NamedTuple):
    rule: Msg
    values: str  # the rule with this layer's values: plain arithmetic
    n: int
    notes: tuple[Msg, ...] = ()


CONV = frozenset({"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"})
DEPTHWISE = frozenset({"DepthwiseConv1D", "DepthwiseConv2D"})
SEPARABLE = frozenset({"SeparableConv1D", "SeparableConv2D"})


def channels(shape: Shape, config: dict) -> int | None:
    d = shape[1] if config.get("data_format") == "channels_first" else shape[-1]
    return None if d is None else int(d)


def _fmt(shape: Shape) -> str:
    return fmt_shapes([shape])


def kernel_text(config: dict) -> str:
    return "*".join(str(k) for k in config["kernel_size"])


def _dense(c: dict, x: Shape) -> Formula | None:
    d_in, units = x[-1], int(c["units"])
    if d_in is None:
        return None
    notes = (
        (msg("Dense acts on the last axis only: the same weights serve every position of {shape}", shape=_fmt(x)),)
        if len(x) > 2
        else ()
    )
    if c.get("use_bias", True):
        return Formula(msg("(inputs + 1 bias) * units"), f"({d_in} + 1) * {units}", (d_in + 1) * units, notes)
    return Formula(msg("inputs * units (no bias)"), f"{d_in} * {units}", d_in * units, notes)


def _conv(c: dict, x: Shape) -> Formula | None:
    c_in, k, f, groups = channels(x, c), kernel_text(c), int(c["filters"]), int(c.get("groups") or 1)
    if c_in is None:
        return None
    size = prod(c["kernel_size"])
    bias = bool(c.get("use_bias", True))
    if groups > 1:
        per = c_in // groups
        values = f"{k}*({c_in}//{groups}) * {f}" + (f" + {f}" if bias else "")
        return Formula(
            msg("kernel * (in_channels // groups) * filters + filters (bias)")
            if bias
            else msg("kernel * (in_channels // groups) * filters (no bias)"),
            values,
            size * per * f + (f if bias else 0),
        )
    if bias:
        return Formula(
            msg("(kernel * in_channels + 1 bias) * filters"), f"({k}*{c_in} + 1) * {f}", (size * c_in + 1) * f
        )
    return Formula(msg("kernel * in_channels * filters (no bias)"), f"{k}*{c_in} * {f}", size * c_in * f)


def _depthwise(c: dict, x: Shape) -> Formula | None:
    c_in, k, m = channels(x, c), kernel_text(c), int(c["depth_multiplier"])
    if c_in is None:
        return None
    size = prod(c["kernel_size"])
    if c.get("use_bias", True):
        return Formula(
            msg("(kernel + 1 bias) * in_channels * depth_multiplier"), f"({k} + 1) * {c_in}*{m}", (size + 1) * c_in * m
        )
    return Formula(msg("kernel * in_channels * depth_multiplier (no bias)"), f"{k} * {c_in}*{m}", size * c_in * m)


def _separable(c: dict, x: Shape) -> Formula | None:
    c_in, k, m, f = channels(x, c), kernel_text(c), int(c["depth_multiplier"]), int(c["filters"])
    if c_in is None:
        return None
    size, bias = prod(c["kernel_size"]), bool(c.get("use_bias", True))
    values = f"{k} * {c_in}*{m} + {c_in}*{m} * {f}" + (f" + {f}" if bias else "")
    rule = (
        msg(
            "kernel * in_channels * depth_multiplier (depthwise) + in_channels * depth_multiplier * filters "
            "(pointwise) + filters (bias)"
        )
        if bias
        else msg(
            "kernel * in_channels * depth_multiplier (depthwise) + in_channels * depth_multiplier * filters "
            "(pointwise, no bias)"
        )
    )
    return Formula(rule, values, size * c_in * m + c_in * m * f + (f if bias else 0))


def _embedding(c: dict, x: Shape) -> Formula:
    n, d = int(c["input_dim"]), int(c["output_dim"])
    return Formula(msg("input_dim (vocabulary) * output_dim (one vector per token)"), f"{n} * {d}", n * d)


def _recurrent(gates: int, bias_rows: int) -> Callable[[dict, Shape], Formula | None]:
    def formula(c: dict, x: Shape) -> Formula | None:
        f, u = x[-1], int(c["cell_units"])
        if f is None:
            return None
        bias = bool(c.get("cell_use_bias", True))
        rows = bias_rows if bias else 0
        b = "" if not rows else (f" + {u}" if rows == 1 else f" + {rows}*{u}")
        core = f"{u} * ({f} + {u}){b}"
        values = core if gates == 1 else f"{gates} * ({core})"
        return Formula(_RNN_RULES[(gates, rows)], values, gates * (u * (f + u) + rows * u))

    return formula


_RNN_RULES = {
    (1, 1): msg("units * (features + units) + units: input kernel, recurrent kernel, bias"),
    (1, 0): msg("units * (features + units): input kernel, recurrent kernel (no bias)"),
    (4, 1): msg("4 gates * (units * (features + units) + units): input, forget, cell and output gates"),
    (4, 0): msg("4 gates * units * (features + units): input, forget, cell and output gates (no bias)"),
    (3, 1): msg("3 gates * (units * (features + units) + units): update, reset and candidate gates"),
    (3, 2): msg(
        "3 gates * (units * (features + units) + 2 * units): update, reset and candidate gates, "
        "two biases each (reset_after=True)"
    ),
    (3, 0): msg("3 gates * units * (features + units): update, reset and candidate gates (no bias)"),
}


def _gru(c: dict, x: Shape) -> Formula | None:
    return _recurrent(3, 2 if c.get("cell_reset_after", True) else 1)(c, x)


def _attention(c: dict, x: Shape) -> Formula | None:
    if "query_in" not in c:
        return None
    h, k, v = int(c["num_heads"]), int(c["key_dim"]), int(c["value_dim"] or c["key_dim"])
    out = prod(c["output_dims"])
    bias = bool(c.get("use_bias", True))

    def proj(d_in: int, width: int) -> tuple[str, int]:
        return (
            (f"({d_in}*{h}*{width} + {h}*{width})", d_in * h * width + h * width)
            if bias
            else (f"{d_in}*{h}*{width}", d_in * h * width)
        )

    names = ["query", "key", "value"] + (["gate"] if c.get("use_gate") else []) + ["attention_output"]
    parts = [proj(c["query_in"], k), proj(c["key_in"], k), proj(c["value_in"], v)]
    if c.get("use_gate"):
        parts.append(proj(c["query_in"], v))
    parts.append((f"({h}*{v}*{out} + {out})", h * v * out + out) if bias else (f"{h}*{v}*{out}", h * v * out))
    rule = (
        msg(
            "query, key and value projections (width * heads * head_size + heads * head_size each) + output "
            "projection (heads * value_dim * output_width + output_width)"
        )
        if bias
        else msg(
            "query, key and value projections (width * heads * head_size each) + output projection (heads * "
            "value_dim * output_width), no biases"
        )
    )
    notes = tuple(
        msg("{part} projection: {values} = {n}", part=name, values=p, n=n) for name, (p, n) in zip(names, parts)
    )
    if c.get("use_gate"):
        notes += (msg("use_gate=True adds a gate projection shaped like the value projection"),)
    return Formula(rule, " + ".join(p for p, _ in parts), sum(n for _, n in parts), notes)


def _layer_norm(c: dict, x: Shape) -> Formula | None:
    axes = c.get("axis")
    axes = (axes,) if isinstance(axes, int) else tuple(axes or (-1,))
    dims = [x[a] for a in axes]
    if any(d is None for d in dims):
        return None
    n = product(dims)
    per = int(bool(c.get("scale", True))) + int(bool(c.get("center", True)) and not c.get("rms_scaling"))
    rule = (
        msg("(gamma + beta) * normalised values: one scale and one shift per value")
        if per == 2
        else msg("gamma * normalised values: one scale per value")
    )
    return Formula(rule, f"{per} * {n}", per * n)


FORMULAS: dict[str, Callable[[dict, Shape], Formula | None]] = {
    "Dense": _dense,
    "Embedding": _embedding,
    "MultiHeadAttention": _attention,
    "LayerNormalization": _layer_norm,
    "SimpleRNN": _recurrent(1, 1),
    "LSTM": _recurrent(4, 1),
    "GRU": _gru,
    **{name: _conv for name in CONV},
    **{name: _depthwise for name in DEPTHWISE},
    **{name: _separable for name in SEPARABLE},
}


def formula_for(facts: LayerFacts, x: Shape) -> Formula | None:
    """The rule, the values and the number for a built-in layer class with a known formula, else None."""
    if not facts.builtin or not x:
        return None
    name = facts.class_name
    if name == "Bidirectional" and facts.inner is not None:
        inner = formula_for(facts.inner, x)
        if inner is None:
            return None
        return Formula(
            msg("2 directions * ({inner})", inner=inner.rule), f"2 * ({inner.values})", 2 * inner.n, inner.notes
        )
    if name == "TimeDistributed" and facts.inner is not None:
        inner = formula_for(facts.inner, x[:1] + x[2:])
        if inner is None:
            return None
        return Formula(
            msg("the same weights at every time step: {inner}", inner=inner.rule), inner.values, inner.n, inner.notes
        )
    rule = FORMULAS.get(name)
    try:
        return None if rule is None else rule(dict(facts.config), x)
    except (KeyError, TypeError, ValueError, IndexError):  # a config this formula does not know: say so
        return None


def _batch_norm(facts: LayerFacts, x: Shape) -> list[Term] | None:
    c = dict(facts.config)
    axis = c.get("axis", -1)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(x[a] is None for a in axes):
        return None
    n = product(x[a] for a in axes)
    trained = int(bool(c.get("scale", True))) + int(bool(c.get("center", True)))
    total = trained * n + 2 * n
    return [
        Term(
            "params",
            PARAMS,
            msg("trainable (gamma, beta) + non-trainable (moving mean, moving variance), one of each per channel"),
            f"{trained}*{n} + 2*{n}",
            f"{total:,}",
            total,
            arithmetic=True,
        ),
        Term(
            "params.trainable",
            msg("Trainable"),
            msg("gamma (scale) and beta (shift) per channel, learned by gradient descent"),
            f"{trained}*{n}",
            f"{trained * n:,}",
            trained * n,
            arithmetic=True,
        ),
        Term(
            "params.non_trainable",
            msg("Non-trainable"),
            msg("moving mean and moving variance per channel: updated by averaging batches, not by gradients"),
            f"2*{n}",
            f"{2 * n:,}",
            2 * n,
            arithmetic=True,
        ),
    ]


def param_terms(facts: LayerFacts, x: Shape) -> list[Term]:
    """The parameter terms of one layer (its own weights, all of them, shared or not)."""
    count = facts.count
    if not facts.is_layer:
        return [Term("params", PARAMS, msg("operations have no weights"), "0", "0", 0, arithmetic=True)]
    if count == 0:
        return [Term("params", PARAMS, msg("{cls} has no weights", cls=facts.class_name), "0", "0", 0, arithmetic=True)]
    if facts.builtin and facts.class_name == "BatchNormalization":
        terms = _batch_norm(facts, x)
        if terms is not None and terms[0].value == count:
            return terms
    found = formula_for(facts, x)
    if found is not None and found.n == count:
        return [
            Term(
                "params",
                PARAMS,
                found.rule,
                found.values,
                f"{found.n:,}",
                found.n,
                arithmetic=True,
                notes=(*found.notes, msg("Keras counts {n} too", n=count)),
            )
        ]
    return [no_formula(facts, found)]


def no_formula(facts: LayerFacts, found: Formula | None) -> Term:
    """Keras's own count, weight by weight: there is no formula (or ours disagrees, which is then said)."""
    values = " + ".join("*".join(str(d) for d in w.shape) or "1" for w in facts.weights)
    notes = [msg("{path}: shape {shape}", path=w.path, shape=w.shape) for w in facts.weights]
    if found is not None:
        notes.insert(0, msg("the usual formula gives {n}, so this layer uses an option it does not cover", n=found.n))
    return Term(
        "params",
        PARAMS,
        msg("no formula for {cls}: Keras's count, weight by weight", cls=facts.class_name),
        values,
        f"{facts.count:,}",
        facts.count,
        known=False,
        arithmetic=True,
        notes=tuple(notes),
    )
