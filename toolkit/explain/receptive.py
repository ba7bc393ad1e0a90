"""Receptive field and effective stride along conv/pool chains, computed over the call records in order.

A window (kernel k, stride s, dilation d) grows the field: rf = rf_in + (k - 1) * d * stride_in, and
stride = stride_in * s. Layers that work on one position at a time keep it; merges take the largest field of
their inputs; global pooling and Flatten make every output see the whole input. Anything else (a custom layer,
upsampling, recurrence) makes it unknown: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from toolkit.explain.params import CONV, DEPTHWISE, SEPARABLE
from toolkit.explain.records import LayerFacts, Term, Window, msg
from toolkit.explain.shapes import GLOBAL_POOLING, MERGES, POOLING, SAME_SHAPE
from toolkit.records import CallRecord, Shape

PER_POSITION = SAME_SHAPE | MERGES | {"Concatenate", "Dense"}
EDGES = frozenset({f"{kind}{n}D" for kind in ("ZeroPadding", "Cropping") for n in (1, 2, 3)})
PER_POSITION_OPS = frozenset(
    {
        "Add",
        "Subtract",
        "Multiply",
        "Divide",
        "TrueDivide",
        "Maximum",
        "Minimum",
        "Negative",
        "Absolute",
        "Abs",
        "Relu",
        "Relu6",
        "Sigmoid",
        "HardSigmoid",
        "Tanh",
        "Gelu",
        "Silu",
        "Swish",
        "HardSwish",
        "HardSilu",
        "Elu",
        "Selu",
        "LeakyRelu",
        "Clip",
        "Cast",
        "Identity",
        "StopGradient",
        "Copy",
        "Exp",
        "Log",
        "Sqrt",
        "Square",
    }
)


@dataclass(frozen=True)
class Field:
    """The receptive field and effective stride per spatial axis; ``whole`` when it covers the whole input."""

    rf: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    whole: bool = False
    grown: bool = False  # a window was passed on the way here


@dataclass(frozen=True)
class Step:
    """How one row changed the field: its inputs' field, its own field, and what it did."""

    before: Field | None
    after: Field | None
    action: str  # "start", "window", "same", "merge", "whole", "unknown"
    window: Window | None = None


def _ints(value: object, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple | list) else (int(value),) * n  # type: ignore


def window_of(facts: LayerFacts, n: int) -> Window | None:
    c = facts.config
    name = facts.class_name
    if name in (CONV | DEPTHWISE | SEPARABLE) and not name.endswith("Transpose"):
        return Window(_ints(c["kernel_size"], n), _ints(c.get("strides", 1), n), _ints(c.get("dilation_rate", 1), n))
    if name in POOLING:
        pool = _ints(c["pool_size"], n)
        return Window(pool, _ints(c["strides"], n) if c.get("strides") is not None else pool, (1,) * n)
    return None


def _spatial(shape: Shape) -> Shape:
    return tuple(shape[1:-1])


def _start(shape: Shape) -> Field:
    n = max(len(shape) - 2, 0)
    return Field((1,) * n, (1,) * n)


def _combine(fields: Sequence[Field]) -> Field | None:
    if all(f.whole for f in fields):
        return Field(whole=True, grown=True)
    if any(f.whole for f in fields):  # a gate computed from the whole input (squeeze-and-excitation)
        return Field(whole=True, grown=True)
    n = {len(f.rf) for f in fields}
    strides = {f.stride for f in fields}
    if len(n) != 1 or len(strides) != 1:
        return None
    rf = tuple(max(axis) for axis in zip(*(f.rf for f in fields)))
    return Field(rf, fields[0].stride, grown=any(f.grown for f in fields))


def _step(row: CallRecord, facts: LayerFacts, inputs: Sequence[Field | None]) -> Step:
    out_shape = row.output_shapes[0] if row.output_shapes else ()
    if facts.class_name in ("InputLayer", "Embedding") and facts.builtin:
        return Step(None, _start(out_shape), "start")
    if not inputs or any(f is None for f in inputs):
        return Step(None, None, "unknown")
    before = _combine([f for f in inputs if f is not None])
    if before is None or before.whole:
        return Step(before, before, "same" if before is not None else "unknown")
    n = len(before.rf)
    name = facts.class_name if facts.builtin or not facts.is_layer else ""
    window = window_of(facts, n) if facts.is_layer and n else None
    if window is not None and len(window.kernel) == n:
        rf = tuple(r + (k - 1) * d * j for r, k, d, j in zip(before.rf, window.kernel, window.dilation, before.stride))
        stride = tuple(j * s for j, s in zip(before.stride, window.stride))
        return Step(before, Field(rf, stride, grown=True), "window", window)
    if n and (name in GLOBAL_POOLING or name == "Flatten"):
        return Step(before, Field(whole=True, grown=True), "whole")
    per_position = (name in PER_POSITION) if facts.is_layer else (name in PER_POSITION_OPS)
    same_axes = all(_spatial(s) == _spatial(out_shape) for s in row.input_shapes)
    if name in EDGES or (per_position and same_axes):
        return Step(before, before, "merge" if len(inputs) > 1 else "same")
    return Step(before, None, "unknown")


def receptive_steps(rows: Sequence[CallRecord], facts: Callable[[str], LayerFacts]) -> dict[str, Step]:
    """Every row's step, in row order (a nested model's row takes the step of its last call)."""
    steps: dict[str, Step] = {}
    children: dict[str, list[CallRecord]] = {}
    for row in rows:
        children.setdefault(row.container, []).append(row)

    def field_of(address: str, shape: Shape) -> Field | None:
        step = steps.get(address)
        if step is None and address in children:  # a container: its last call's field
            inner = children[address]
            fed = {p for r in inner for p in r.parents}
            sinks = [r for r in inner if r.address not in fed and r.called]
            step = steps.get(sinks[-1].address) if sinks else None
        if step is None:
            return _start(shape) if address not in known else None
        return step.after

    known = {r.address for r in rows}
    for row in rows:
        if row.is_container or not row.called:
            continue
        shapes = list(row.input_shapes) or [()]
        parents = list(row.parents) or [""] * len(shapes)
        inputs = [field_of(p, shapes[min(i, len(shapes) - 1)]) for i, p in enumerate(parents)]
        steps[row.address] = _step(row, facts(row.address), inputs)
    for row in rows:
        if row.is_container and row.called:
            after = field_of(row.address, ())
            steps[row.address] = Step(None, after, "same" if after is not None else "unknown")
    return steps


def _per_axis(texts: Sequence[str], results: Sequence[int]) -> str:
    """One expression when every spatial axis has the same; else one per axis with its result."""
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"{t} = {r}" for t, r in zip(texts, results))


def receptive_terms(row: CallRecord, step: Step | None, steps: Mapping[str, Step]) -> list[Term]:
    """Receptive-field and effective-stride terms of a row on a conv/pool chain (none elsewhere)."""
    if step is None or step.after is None:
        return []
    after, before = step.after, step.before
    if after.whole:
        if step.action != "whole":
            return []
        return [
            Term(
                "receptive_field",
                msg("Receptive field"),
                msg("{cls} combines every position: each output value sees the whole input", cls=row.class_name),
                "",
                msg("the whole input"),
                None,
            )
        ]
    if not after.rf or not after.grown:
        return []
    what_rf, what_stride = msg("Receptive field"), msg("Effective stride")
    if step.action == "window" and before is not None and step.window is not None:
        w = step.window
        rf_text = _per_axis(
            [f"{r} + ({k} - 1)*{d}*{j}" for r, k, d, j in zip(before.rf, w.kernel, w.dilation, before.stride)], after.rf
        )
        stride_text = _per_axis([f"{j}*{s}" for j, s in zip(before.stride, w.stride)], after.stride)
        return [
            Term(
                "receptive_field",
                what_rf,
                msg(
                    "rf = rf_in + (kernel - 1) * dilation * stride_in: input values "
                    "that can reach one output value, per spatial axis"
                ),
                rf_text,
                " x ".join(map(str, after.rf)),
                after.rf,
            ),
            Term(
                "effective_stride",
                what_stride,
                msg("stride_in * stride: input positions between two neighbouring outputs"),
                stride_text,
                " x ".join(map(str, after.stride)),
                after.stride,
            ),
        ]
    rule = (
        msg("the largest field among its inputs")
        if step.action == "merge"
        else msg("unchanged: {cls} looks at one position at a time", cls=row.class_name)
    )
    return [
        Term("receptive_field", what_rf, rule, "", " x ".join(map(str, after.rf)), after.rf),
        Term("effective_stride", what_stride, rule, "", " x ".join(map(str, after.stride)), after.stride),
    ]
