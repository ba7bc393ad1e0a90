"""Plain records of an explanation: what a layer is (facts read once from Keras) and each number as a formula.

No TensorFlow here: ``toolkit.keras_graph.layer_facts`` fills ``LayerFacts`` from a Keras layer, the formula
modules turn facts and call records into ``Term``s, and ``toolkit.render.explanation_view`` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.records import Shape


@dataclass(frozen=True)
class Msg:
    """Learner-facing text: the English template (the message catalog's key) and its fields.

    A field may itself be a ``Msg`` (a formula inside a sentence): it is translated too.
    """

    text: str
    fields: tuple[tuple[str, str | Msg], ...] = ()

    def render(self, translate: Any) -> str:
        """The text in the current language: ``translate`` is ``toolkit.i18n.tr`` or a stand-in."""
        values = {k: v.render(translate) if isinstance(v, Msg) else v for k, v in self.fields}
        return translate(self.text, **values) if values else translate(self.text)

    def all(self) -> tuple[Msg, ...]:
        """This message and every message nested in its fields."""
        nested = tuple(m for _, v in self.fields if isinstance(v, Msg) for m in v.all())
        return (self, *nested)


def _field(value: Any) -> str | Msg:
    if isinstance(value, Msg):
        return value
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def msg(text: str, **fields: Any) -> Msg:
    """A ``Msg`` whose field values are shown as given (ints with thousands separators)."""
    return Msg(text, tuple((k, _field(v)) for k, v in fields.items()))


@dataclass(frozen=True)
class Term:
    """One number (or shape) of a row: what it is, its rule, the rule with this layer's values, the result.

    ``values`` is plain arithmetic (``(3*3*64 + 1) * 128``) when ``arithmetic`` is True: it evaluates to ``value``.
    ``known`` is False where no formula exists and the result is Keras's own figure, or where it is unknown.
    """

    kind: str  # "params", "params.trainable", "shape", "macs", "param_memory", "activations", ...
    what: Msg
    formula: Msg
    values: str
    result: str | Msg
    value: Any = None  # int, a shape tuple, a per-axis tuple; None where unknown
    known: bool = True
    arithmetic: bool = False
    notes: tuple[Msg, ...] = ()
    owners: tuple[str, ...] = ()  # for totals: the rows summed, in order

    def messages(self) -> tuple[Msg, ...]:
        """Every learner-facing message of this term, nested ones included."""
        own = [self.what, self.formula, *self.notes] + ([self.result] if isinstance(self.result, Msg) else [])
        return tuple(m for top in own for m in top.all())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what.text,
            "formula": self.formula.text,
            "values": self.values,
            "result": self.result.text if isinstance(self.result, Msg) else self.result,
            "value": self.value,
            "known": self.known,
            "notes": [n.text for n in self.notes],
            "owners": list(self.owners),
        }


@dataclass(frozen=True)
class WeightFact:
    """One weight variable of a layer."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    trainable: bool
    key: int  # identifies the variable within one walk (shared variables have the same key)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n


@dataclass(frozen=True)
class LayerFacts:
    """What the formulas read about one layer (or operation), as plain values."""

    class_name: str
    builtin: bool  # a class that ships with Keras (only those get formulas)
    is_layer: bool
    config: Mapping[str, Any] = field(default_factory=dict)  # units, kernel_size, strides, padding, ...
    weights: tuple[WeightFact, ...] = ()
    compute_dtype: str = "float32"
    output_dtypes: tuple[str, ...] = ()  # dtypes of the outputs where Keras keeps them; () when unknown
    inner: LayerFacts | None = None  # Bidirectional's forward layer, TimeDistributed's layer

    @property
    def count(self) -> int:
        return sum(w.size for w in self.weights)


NO_FACTS = LayerFacts(class_name="", builtin=False, is_layer=False)

Geometry = tuple[tuple[int, ...], tuple[int, ...]]  # (receptive field, effective stride) per spatial axis


@dataclass(frozen=True)
class Window:
    """A layer's sliding window per spatial axis (kernel, stride, dilation), as the receptive field needs it."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]


def product(dims: Any) -> int:
    """The product of known dimensions (callers check for None first)."""
    n = 1
    for d in dims:
        n *= int(d)
    return n


def first(shapes: tuple[Shape, ...]) -> Shape:
    return shapes[0] if shapes else ()
