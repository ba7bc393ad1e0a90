"""Subclassed models: record ``Layer.__call__`` during one symbolic pass (or an eager one if needed)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit._keras import keras, tf
from toolkit.keras_graph.basics import error_text, is_builtin, losses_kept, shape_of, wrapped_model
from toolkit.keras_graph.rows import Walk, direct_children

Layer = keras.layers.Layer


@dataclass
class _Event:
    layer: Any
    parent: int  # index of the enclosing event, -1 for the traced model itself
    inputs: list[Any]
    outputs: list[Any] = field(default_factory=list)
    ops: tuple[Any, int, int] | None = None  # (graph, first op, end) created during the call; None when eager


# TensorFlow ops that multiply: a container whose own code (outside its sublayers) runs one of these has
# unknown MACs, since only its sublayers' MACs are known.
MULTIPLYING_TF_OPS = frozenset({
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "Conv", "Conv1D", "Conv2D", "Conv3D",
    "DepthwiseConv2dNative", "Conv2DBackpropInput", "Conv3DBackpropInputV2", "Mul", "MulNoNan", "Tensordot",
})


class LayerCallFailed(ValueError):
    """A layer raised while the model was traced: names the layer, its class and the error.

    ``builtin`` is True for a layer that ships with Keras: then what the model passed it is wrong, not its code.
    """

    def __init__(self, message: str, *, builtin: bool = False) -> None:
        super().__init__(message)
        self.builtin = builtin


class ModelCallFailed(ValueError):
    """The traced model's own code (its call(), outside any layer) raised; ``error`` is what it raised."""

    def __init__(self, model: Any, error: BaseException) -> None:
        super().__init__(f"the call() of {model.name!r} raised {type(error).__name__}: {error_text(error)}")
        self.error = error


class _Events(list[Any]):
    """The recorded calls, and the innermost layer call that raised, if one did."""

    failures: list[tuple[Any, list[Any], BaseException]]


def _failure_message(layer: Any, inputs: list[Any], err: BaseException) -> str:
    shapes = ", ".join(str(tuple(t.shape)) for t in inputs) or "no tensors"
    return (f"layer {layer.name!r} ({type(layer).__name__}) raised {type(err).__name__} when called on inputs "
            f"of shape {shapes}: {error_text(err)}")


def _opaque(layer: Any) -> bool:
    """A built-in layer whose inner calls (an LSTM's cell, MultiHeadAttention's projections) are not rows."""
    return is_builtin(layer) and not isinstance(layer, keras.Model) and wrapped_model(layer) is None


def _graph_position() -> tuple[Any, int] | None:
    if tf.executing_eagerly():
        return None
    graph = tf.compat.v1.get_default_graph()
    return graph, len(graph.get_operations())


def _tensors(value: Any) -> list[Any]:
    return [t for t in keras.tree.flatten(value) if hasattr(t, "shape") and hasattr(t, "dtype")]


# Call arguments that say how to run, not what to run on: never inputs, even when a tensor is passed.
_CONTEXT_KWARGS = frozenset({"training"})


def call_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """Every tensor a layer call receives, positional or keyword, nested in lists and dicts.

    In Keras's order for a functional node (``tree.flatten((args, kwargs))``: positional arguments first,
    then keywords sorted by name), so that a traced row lists its inputs as the functional row does:
    ``mha(query=q, value=v)`` -> [q, v]; ``lstm(x, initial_state=[h, c])`` -> [x, h, c].
    """
    data = {k: v for k, v in kwargs.items() if k not in _CONTEXT_KWARGS}
    return _tensors((tuple(args), data))


@contextmanager
def recording_calls() -> Iterator[_Events]:
    """Patch ``Layer.__call__`` so that every layer call in the block is appended to the yielded list."""
    events = _Events()
    failures: list[tuple[Any, list[Any], BaseException]] = []
    events.failures = failures
    stack: list[int] = []
    original: Callable[..., Any] = Layer.__call__

    def recording_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if stack and _opaque(events[stack[-1]].layer):
            return original(self, *args, **kwargs)
        inputs = call_inputs(args, kwargs)
        events.append(_Event(self, stack[-1] if stack else -1, inputs))
        stack.append(len(events) - 1)
        start = _graph_position()
        try:
            outputs = original(self, *args, **kwargs)
        except Exception as err:
            if not failures:  # the innermost layer that raised (Keras re-wraps the error on the way out)
                failures.append((self, inputs, err))
            raise
        finally:
            index = stack.pop()
        end = _graph_position()
        if start is not None and end is not None and start[0] is end[0]:
            events[index].ops = (start[0], start[1], end[1])
        events[index].outputs = _tensors(outputs)
        return outputs

    Layer.__call__ = recording_call
    try:
        with warnings.catch_warnings():
            # Keras warns when a subclassed model with layers skipped by an `if` is marked built; that is
            # the learner's model as written, not something the trace should shout about.
            warnings.filterwarnings("ignore", message=r".*does not have a `build\(\)` method implemented")
            # Keras warns again when a trace that is bound to fail builds the model; the trace's own error
            # (one sentence, see walk()) says what went wrong.
            warnings.filterwarnings("ignore", message=r".*looks like it has unbuilt state")
            yield events
    finally:
        Layer.__call__ = original


def input_names(shapes: Any) -> list[str]:
    """How "Fed by" names a traced model's inputs: "inputs", "inputs[1]" or "inputs['image']"."""
    if isinstance(shapes, dict):
        return [f"inputs[{k!r}]" for k in shapes]
    return ["inputs"] if len(shapes) == 1 else [f"inputs[{i}]" for i in range(len(shapes))]


def trace_events(model: Any, shapes: Any, sample: Any = None) -> tuple[list[_Event], list[Any], str]:
    """Run ``model`` once while recording layer calls; returns events, input tensors and a note.

    ``shapes`` is a list of shapes (batch included), or a dict of them for a model called on a dict. The
    model's added losses are left as they were (the trace's would be tensors of a finished graph).
    """
    with losses_kept(model):
        return _trace_events(model, shapes, sample)


def _trace_events(model: Any, shapes: Any, sample: Any) -> tuple[list[_Event], list[Any], str]:
    """trace_events() without the losses kept: the symbolic pass, else an eager one."""
    keys = list(shapes) if isinstance(shapes, dict) else None
    shape_list = list(shapes.values()) if isinstance(shapes, dict) else list(shapes)
    single = len(shape_list) == 1 and keys is None

    def structure(xs: list[Any]) -> Any:
        if keys is not None:
            return dict(zip(keys, xs))
        return xs[0] if single else list(xs)

    if sample is None:
        specs = [tf.TensorSpec((None,) + tuple(s[1:]), tf.float32) for s in shape_list]
        holder: dict[str, Any] = {}

        def forward(*xs: Any) -> Any:
            holder["inputs"] = list(xs)
            return model(structure(list(xs)), training=False)

        with recording_calls() as events:
            try:
                tf.function(forward, autograph=False).get_concrete_function(*specs)
                return _last_pass(events), holder["inputs"], ""
            except Exception as err:  # noqa: BLE001  any failure of the symbolic pass -> try a real batch
                reason = type(err).__name__
        sample = [np.zeros((2,) + tuple(int(d or 1) for d in s[1:]), "float32") for s in shape_list]
        note = (f"the symbolic pass failed ({reason}; e.g. call() uses a tensor in a Python `if`), so the model "
                f"was traced eagerly on a batch of 2 zeros; pass sample=<a real batch> to follow real data")
    else:
        note = "traced eagerly with the sample batch given"
    if isinstance(sample, dict):
        sample = [sample[k] for k in (keys or list(sample))]
    inputs = [tf.convert_to_tensor(x) for x in (sample if isinstance(sample, list | tuple) else [sample])]
    if not model.built:  # building calls call() once more; keep that pass out of the record
        _call_naming_the_failing_layer(model, structure(inputs))
    events = _call_naming_the_failing_layer(model, structure(inputs))
    return _last_pass(events), inputs, note


def _call_naming_the_failing_layer(model: Any, inputs: Any) -> _Events:
    with recording_calls() as events:
        try:
            model(inputs, training=False)
        except Exception as err:
            layer, layer_inputs, cause = events.failures[0] if events.failures else (None, [], err)
            if layer is None or layer is model:  # the model's own code, outside its layers
                raise ModelCallFailed(model, cause) from cause
            raise LayerCallFailed(_failure_message(layer, layer_inputs, cause), builtin=is_builtin(layer)) from cause
    return events


def _last_pass(events: list[_Event]) -> list[_Event]:
    """The events of the last top-level call: tf.function traces twice when the first trace creates weights."""
    start = max(i for i, ev in enumerate(events) if ev.parent == -1)
    kept = events[start:]
    for ev in kept:
        ev.parent = ev.parent - start if ev.parent >= 0 else -1
    return kept


def _producer_lookup(producers: dict[Any, str], tensor: Any) -> list[str]:
    """Addresses of the recorded calls that produced ``tensor``, looking through plain TF ops in graphs."""
    key = _tensor_key(tensor)
    if key in producers:
        return [producers[key]]
    if not tf.is_symbolic_tensor(tensor) or not hasattr(tensor, "op"):  # eager tensors keep no history
        return []
    found: list[str] = []
    queue, seen = list(tensor.op.inputs), set[str]()
    while queue and len(seen) < 500:  # bounded: a trace of a large model stays fast
        t = queue.pop(0)
        if t.name in seen:
            continue
        seen.add(t.name)
        if t.name in producers:
            found.append(producers[t.name])
        else:
            queue.extend(t.op.inputs)
    return found


def _tensor_key(tensor: Any) -> Any:
    try:
        return tensor.name  # graph tensors have unique names
    except (AttributeError, ValueError):
        return id(tensor)


def trace_into(
    walk: Walk, model: Any, depth: int, container: str, input_parents: list[str] | None,
    shapes: Any, sample: Any,
) -> list[str]:
    events, inputs, note = trace_events(model, shapes, sample)
    producers: dict[Any, str] = {}
    names = input_names(shapes)
    for i, tensor in enumerate(inputs):
        default = names[i] if i < len(names) else f"inputs[{i}]"
        producers[_tensor_key(tensor)] = input_parents[i] if input_parents else default
    eager = sample is not None or note != ""
    addresses: dict[int, str] = {0: container}  # event index -> address; event 0 is the model itself
    depths: dict[int, int] = {0: depth - 1}
    slots: dict[int, tuple[int, int]] = {}  # container event -> (row slot, first child row)

    def finish(index: int) -> None:
        ev = events[index]
        slot, start = slots.pop(index)
        parent_address = addresses[ev.parent]
        children = direct_children(walk, start, addresses[index])
        walk.record(ev.layer, depth=depths[index], container=parent_address,
                    inputs=[shape_of(t, batch_none=eager) for t in ev.inputs],
                    outputs=[shape_of(t, batch_none=eager) for t in ev.outputs],
                    parents=[p for t in ev.inputs for p in _producer_lookup(producers, t)],
                    children=children, slot=slot, own_code_multiplies=_own_code_multiplies(events, index))

    has_children = {ev.parent for ev in events}
    open_containers: list[int] = []
    for index, ev in enumerate(events[1:], start=1):
        while open_containers and not _inside(events, index, open_containers[-1]):
            finish(open_containers.pop())
        depths[index] = depths[ev.parent] + 1
        parent_address = addresses[ev.parent]
        if index in has_children:
            slots[index] = (walk.reserve(), len(walk.rows))
            addresses[index] = walk.address_for(ev.layer, parent_address)
            open_containers.append(index)
        else:
            row = walk.record(ev.layer, depth=depths[index], container=parent_address,
                              inputs=[shape_of(t, batch_none=eager) for t in ev.inputs],
                              outputs=[shape_of(t, batch_none=eager) for t in ev.outputs],
                              parents=[p for t in ev.inputs for p in _producer_lookup(producers, t)])
            addresses[index] = row.address
        for t in ev.outputs:  # a block's output tensor is its last sublayer's: the block keeps it
            key = _tensor_key(t)
            current = producers.get(key)
            if current is None or not addresses[index].startswith(current + "/"):
                producers[key] = addresses[index]
    while open_containers:
        finish(open_containers.pop())
    _record_uncalled(walk, model, depth, container, {id(ev.layer) for ev in events})
    notes = [note] if note else []
    if depth == 0 and events and _own_code_multiplies(events, 0):
        notes.append(f"{model.name}.call() multiplies tensors outside its layers (a matmul, a product): those "
                     f"MACs are unknown and not in the total")
    return notes


def _own_code_multiplies(events: list[_Event], index: int) -> bool | None:
    """Whether a container's own code (outside its sublayers) ran a multiplying op; None when unknowable.

    A Keras functional or Sequential model runs nothing but its layers and operations, so it never does.
    """
    ev = events[index]
    if isinstance(ev.layer, keras.Model) and (ev.layer.__class__ in (keras.Model, keras.Sequential)
                                              or type(ev.layer).__name__ == "Functional"):
        return False
    if ev.ops is None:
        return None
    graph, start, end = ev.ops
    inner = [(e.ops[1], e.ops[2]) for e in events if e.parent == index and e.ops is not None]
    operations = graph.get_operations()[start:end]
    own = [op for k, op in enumerate(operations, start) if not any(a <= k < b for a, b in inner)]
    return any(op.type in MULTIPLYING_TF_OPS for op in own)


def _inside(events: list[_Event], index: int, ancestor: int) -> bool:
    parent = events[index].parent
    while parent > ancestor:
        parent = events[parent].parent
    return parent == ancestor


def _record_uncalled(walk: Walk, model: Any, depth: int, container: str, called: set[int]) -> None:
    for layer in model.layers:
        if id(layer) not in called:
            walk.record(layer, depth=depth, container=container, inputs=(), outputs=(), parents=(),
                        called=False)
