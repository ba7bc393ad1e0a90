"""Multiply-accumulates, parameter memory and activation memory of one call, each as a formula with values.

MACs: the number is toolkit/macs.py's (the summary's); this module writes the same formula out with the call's
values, and shows no arithmetic where it would not give that number. Activation memory: batch size * values per
sample * bytes per value, for each output. Training keeps each output until the backward pass reaches it and
makes a gradient of the same size: 2 * forward (a model input is kept but gets no gradient: 1 * forward). That
is the rule torchinfo's "forward/backward pass size" uses; real peaks are lower, as frameworks free as they go.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence
from dataclasses import replace

from toolkit.explain.params import CONV, DEPTHWISE, SEPARABLE, channels
from toolkit.explain.records import LayerFacts, Msg, Term, msg, product
from toolkit.macs import PER_ELEMENT_CLASSES, RNN_GATES, ZERO_MAC_CLASSES, ZERO_MAC_OPERATIONS
from toolkit.records import CallRecord, Shape

MACS = msg("MACs per sample")
_BYTES = {"bool": 1, "int8": 1, "uint8": 1, "float8_e4m3fn": 1, "float8_e5m2": 1, "bfloat16": 2}


def itemsize(dtype: str) -> int | None:
    """Bytes per value of a dtype name ("float32" -> 4), or None for one without a fixed size (strings)."""
    if dtype in _BYTES:
        return _BYTES[dtype]
    bits = re.search(r"(\d+)$", dtype)
    return int(bits.group(1)) // 8 if bits and re.match(r"(u?int|float|complex)\d+$", dtype) else None


def elements(shape: Shape) -> str:
    """The values of one sample as a product: (None, 26, 26, 8) -> '26*26*8'."""
    return "*".join(str(d) for d in shape[1:]) or "1"


def _spatial(shape: Shape, config: dict) -> str:
    dims = shape[2:] if config.get("data_format") == "channels_first" else shape[1:-1]
    return "*".join(str(d) for d in dims) or "1"


def _known(*shapes: Shape) -> bool:
    return all(d is not None for s in shapes for d in s[1:])


def mac_formula(facts: LayerFacts, xs: Sequence[Shape], ys: Sequence[Shape]) -> tuple[Msg, str] | None:
    """macs.py's formula for this class written out with the call's values; None where macs.py has none."""
    name = facts.class_name if facts.builtin else ""
    c = dict(facts.config)
    if name in ZERO_MAC_CLASSES:
        return msg("{cls} multiplies nothing (it moves, looks up, compares or adds values)", cls=name), "0"
    if not xs or not ys or not _known(xs[0], ys[0]):
        return None
    x, y = xs[0], ys[0]
    k = "*".join(str(d) for d in c.get("kernel_size", ()))
    if name == "Dense":
        return msg("output values * inputs per output (one multiply-add each)"), f"{elements(y)} * {x[-1]}"
    if name in PER_ELEMENT_CLASSES:
        return msg("one multiply-add per output value (scale and shift folded together)"), elements(y)
    if name == "Multiply":
        return msg("(inputs - 1) products per output value"), f"({len(xs)} - 1) * {elements(y)}"
    if name in CONV and not name.endswith("Transpose"):
        groups = int(c.get("groups") or 1)
        return (
            msg("output values * kernel * in_channels (// groups): one multiply-add per weight use"),
            f"{elements(y)} * {k} * {channels(x, c)}" + (f" // {groups}" if groups > 1 else ""),
        )
    if name in CONV:
        return msg(
            "input values * kernel * filters: each input value is spread by the kernel"
        ), f"{elements(x)} * {k} * {c['filters']}"
    if name in DEPTHWISE:
        return msg("output values * kernel: each channel has its own filter"), f"{elements(y)} * {k}"
    if name in SEPARABLE:
        depthwise = f"{_spatial(y, c)}*{channels(x, c)}*{c['depth_multiplier']}"
        return (
            msg("depthwise: positions * in_channels * depth_multiplier * kernel + pointwise: the same * filters"),
            f"{depthwise} * {k} + {depthwise} * {c['filters']}",
        )
    if name in RNN_GATES:
        return (
            msg("gates * time steps * units * (features + units)"),
            f"{RNN_GATES[name]} * {x[1]} * {c['units']} * ({x[-1]} + {c['units']})",
        )
    if name in ("Bidirectional", "TimeDistributed") and facts.inner is not None:
        if name == "Bidirectional":
            inner = mac_formula(facts.inner, xs, [x[:-1] + (0,)])
            return None if inner is None else (msg("2 directions * ({inner})", inner=inner[0]), f"2 * ({inner[1]})")
        inner = mac_formula(facts.inner, [x[:1] + x[2:]], [y[:1] + y[2:]])
        return None if inner is None else (msg("time steps * ({inner})", inner=inner[0]), f"{x[1]} * ({inner[1]})")
    return None


def operation_formula(facts: LayerFacts, xs: Sequence[Shape], ys: Sequence[Shape]) -> tuple[Msg, str] | None:
    name = facts.class_name
    if name in ZERO_MAC_OPERATIONS:
        return msg("{cls} multiplies nothing (it moves, compares or adds values)", cls=name), "0"
    if not ys or not _known(ys[0]):
        return None
    if name == "Multiply":
        return msg("one product per output value"), elements(ys[0])
    if name == "Matmul" and xs and xs[0] and xs[0][-1] is not None:
        y = ys[0]
        return (
            msg("output values * the contracted dimension k"),
            f"{elements(y)} * {xs[0][-1]}" if len(y) > 1 else str(xs[0][-1]),
        )
    return None


def mac_term(row: CallRecord, facts: LayerFacts, children: Sequence[CallRecord]) -> Term:
    """The summary's MACs (toolkit/macs.py) with their formula; ``children`` are a container's direct calls."""
    if row.macs is None:
        return Term(
            "macs",
            MACS,
            msg("unknown: no formula for {cls} (never guessed)", cls=row.class_name),
            "",
            "?",
            None,
            known=False,
        )
    if row.is_container:
        parts = " + ".join(str(c.macs) for c in children) or "0"
        if row.class_name == "TimeDistributed" and row.input_shapes and len(row.input_shapes[0]) > 1:
            found: tuple[Msg, str] | None = (
                msg("time steps * the sum of the calls inside it"),
                f"{row.input_shapes[0][1]} * ({parts})",
            )
        else:
            found = msg("the sum of the calls inside it"), parts
    elif not row.called:
        found = msg("never called: no work"), "0"
    elif row.is_operation:
        found = operation_formula(facts, list(facts.config.get("operands") or row.input_shapes), row.output_shapes)
    else:
        found = mac_formula(facts, row.input_shapes, row.output_shapes)
    if found is None or _value(found[1]) != row.macs:
        return Term(
            "macs",
            MACS,
            msg("toolkit/macs.py's count (its formula is not written out here)"),
            "",
            f"{row.macs:,}",
            row.macs,
        )
    return Term("macs", MACS, found[0], found[1], f"{row.macs:,}", row.macs, arithmetic=True)


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def _value(expression: str) -> int | None:
    """Our own arithmetic evaluated (integers, + - * // and brackets), or None for anything else."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return int(_OPERATORS[type(node.op)](ev(node.left), ev(node.right)))
        raise ValueError("not plain arithmetic")

    try:
        return ev(ast.parse(expression.replace(",", ""), mode="eval").body)
    except (SyntaxError, ValueError):
        return None


def memory_terms(facts: LayerFacts, row: CallRecord, batch_size: int) -> list[Term]:
    """Parameter memory by dtype, forward activation memory for the batch, and what training keeps."""
    terms = []
    if facts.weights:
        terms.append(param_memory_term({w.key: (w.size, w.dtype) for w in facts.weights}))
    if row.called and row.output_shapes:
        terms += activation_terms(facts, row, batch_size)
    return terms


def param_memory_term(variables: dict[int, tuple[int, str]]) -> Term:
    by_dtype: dict[str, int] = {}
    for size, dtype in variables.values():
        by_dtype[dtype] = by_dtype.get(dtype, 0) + size
    sizes = {d: itemsize(d) for d in by_dtype}
    if any(s is None for s in sizes.values()):
        return Term(
            "param_memory",
            msg("Parameter memory"),
            msg("unknown: a dtype without a fixed size"),
            "",
            "?",
            None,
            known=False,
        )
    values = " + ".join(f"{n:,} * {sizes[d]}" for d, n in by_dtype.items())
    total = sum(n * int(sizes[d] or 0) for d, n in by_dtype.items())
    dtypes = ", ".join(f"{d}: {sizes[d]} B" for d in by_dtype)
    return Term(
        "param_memory",
        msg("Parameter memory"),
        msg("parameters * bytes per value ({dtypes})", dtypes=dtypes),
        values,
        nbytes(total),
        total,
        arithmetic=True,
    )


def nbytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n:,} B ({n / size:.1f} {unit})"
    return f"{n:,} B"


def output_dtypes(facts: LayerFacts, count: int) -> list[str]:
    if len(facts.output_dtypes) == count:
        return list(facts.output_dtypes)
    return [facts.compute_dtype if facts.is_layer else "float32"] * count


def activation_terms(facts: LayerFacts, row: CallRecord, batch_size: int) -> list[Term]:
    shapes = row.output_shapes
    dtypes = output_dtypes(facts, len(shapes))
    what = msg("Activation memory (forward)")
    if not _known(*shapes) or any(itemsize(d) is None for d in dtypes):
        return [
            Term(
                "activations",
                what,
                msg("unknown: it depends on sizes only known when data arrives"),
                "",
                "?",
                None,
                known=False,
            )
        ]
    parts = [f"{batch_size} * {elements(s)} * {itemsize(d)}" for s, d in zip(shapes, dtypes)]
    total = sum(batch_size * product(s[1:]) * int(itemsize(d) or 0) for s, d in zip(shapes, dtypes))
    kinds = ", ".join(dict.fromkeys(f"{d}: {itemsize(d)} B" for d in dtypes))
    forward = Term(
        "activations",
        what,
        msg("batch size * values per sample * bytes per value ({dtypes})", dtypes=kinds),
        " + ".join(parts),
        nbytes(total),
        total,
        arithmetic=True,
    )
    if row.class_name == "InputLayer":
        training = Term(
            "activations.training",
            msg("Kept for training"),
            msg("1 * forward: an input is kept for the first layer's gradients but needs none itself"),
            f"1 * {total:,}",
            nbytes(total),
            total,
            arithmetic=True,
        )
    else:
        training = Term(
            "activations.training",
            msg("Kept for training"),
            msg(
                "2 * forward: the output is kept until the backward pass uses it, and its gradient is "
                "as large (torchinfo's rule; an upper bound)"
            ),
            f"2 * {total:,}",
            nbytes(2 * total),
            2 * total,
            arithmetic=True,
        )
    notes = (
        (msg("the same tensor as the output of the last call inside it: counted once in the totals"),)
        if row.is_container
        else ()
    )
    if notes:
        forward = replace(forward, notes=notes)
    return [forward, training]
