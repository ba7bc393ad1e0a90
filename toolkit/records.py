"""Plain records of one model walk: what each layer call saw. No TensorFlow here.

A walk over a model (``toolkit.keras_graph``) returns these; summaries, diagrams and node tables are pure
functions of them, so renderers test in milliseconds and never touch Keras internals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class CallRecord:
    """One call of one layer inside a model, in execution order."""

    address: str  # unique within the walk: "dense_1[0]", or "encoder[0]/dense[0]" inside a nested model
    name: str  # the layer's name
    class_name: str  # "Dense", "Conv2D", "Functional", ...
    node_index: int  # Keras's node index among the layer's nodes in the walked model (nested graphs included)
    depth: int  # nesting level: 0 for the model's own layers
    input_shapes: tuple[Shape, ...]  # batch dimension is None
    output_shapes: tuple[Shape, ...]
    params: int  # each weight variable counted once, at the first row that uses it; 0 on later calls
    trainable_params: int
    parents: tuple[str, ...] = ()  # addresses of the calls that produced this call's inputs
    macs: int | None = None  # multiply-accumulates for one sample; None where unknown
    container: str = ""  # address of the enclosing nested-model call ("" at depth 0)
    is_container: bool = False  # a nested model (or wrapper of one) whose calls follow as deeper rows
    called: bool = True  # False for a layer created but never called (e.g. skipped by an `if`)
    layer_id: int = 0  # identifies the layer object within one walk (same value for every call of it)
    is_operation: bool = False  # an operation that is not a layer (x * 2.0, x[:, 0], keras.ops.*): no weights
    repeat: bool = False  # the layer was listed before in this walk: its weights are counted there
    # Keras's own (input, output) shapes where a real pass contradicts them (input_shapes/output_shapes then hold
    # the real ones); None where they agree or nothing was checked
    keras_shapes: tuple[tuple[Shape, ...], tuple[Shape, ...]] | None = None

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def is_repeat_call(self) -> bool:
        """True for the 2nd, 3rd, ... call of a shared layer listed (its weights are counted at the first)."""
        return self.repeat

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelRecord:
    """Everything a summary or a diagram needs to know about one walked model."""

    name: str
    kind: str  # "Sequential", "Functional" or "Subclassed"
    rows: tuple[CallRecord, ...]
    total_params: int
    trainable_params: int
    notes: tuple[str, ...] = field(default=())  # how the model was walked, e.g. "traced with a concrete batch"

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params


@dataclass(frozen=True)
class NodeRecord:
    """One Keras node of a layer: a call on symbolic tensors, as Keras 2's ``get_*_at(node_index)`` saw it."""

    layer: str
    node_index: int  # index among the calls listed (all of the layer's calls, or one model's)
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    inbound: tuple[str, ...]  # "conv[1]": which layer calls fed this one
    models: tuple[str, ...]  # models whose graph holds this call ("" when none does: a stale call)
