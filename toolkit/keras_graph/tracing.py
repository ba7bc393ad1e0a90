"""Subclassed models: record ``Layer.__call__`` during one symbolic pass (or an eager one if needed)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit._keras import keras, tf
from toolkit.keras_graph.basics import shape_of
from toolkit.keras_graph.rows import Walk, direct_children
from toolkit.records import Shape

Layer = keras.layers.Layer


@dataclass
class _Event:
    layer: Any
    parent: int  # index of the enclosing event, -1 for the traced model itself
    inputs: list[Any]
    outputs: list[Any] = field(default_factory=list)


def _tensors(value: Any) -> list[Any]:
    return [t for t in keras.tree.flatten(value) if hasattr(t, "shape") and hasattr(t, "dtype")]


@contextmanager
def recording_calls() -> Iterator[list[_Event]]:
    """Patch ``Layer.__call__`` so that every layer call in the block is appended to the yielded list."""
    events: list[_Event] = []
    stack: list[int] = []
    original: Callable[..., Any] = Layer.__call__

    def recording_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        inputs = _tensors(args[0] if args else kwargs.get("inputs"))
        for extra in args[1:]:
            inputs += _tensors(extra)
        events.append(_Event(self, stack[-1] if stack else -1, inputs))
        stack.append(len(events) - 1)
        try:
            outputs = original(self, *args, **kwargs)
        finally:
            index = stack.pop()
        events[index].outputs = _tensors(outputs)
        return outputs

    Layer.__call__ = recording_call
    try:
        with warnings.catch_warnings():
            # Keras warns when a subclassed model with layers skipped by an `if` is marked built; that is
            # the learner's model as written, not something the trace should shout about.
            warnings.filterwarnings("ignore", message=r".*does not have a `build\(\)` method implemented")
            yield events
    finally:
        Layer.__call__ = original


def trace_events(model: Any, shapes: list[Shape], sample: Any = None) -> tuple[list[_Event], list[Any], str]:
    """Run ``model`` once while recording layer calls; returns events, input tensors and a note."""
    single = len(shapes) == 1
    if sample is None:
        specs = [tf.TensorSpec((None,) + tuple(s[1:]), tf.float32) for s in shapes]
        holder: dict[str, Any] = {}

        def forward(*xs: Any) -> Any:
            holder["inputs"] = list(xs)
            return model(xs[0] if single else list(xs), training=False)

        with recording_calls() as events:
            try:
                tf.function(forward, autograph=False).get_concrete_function(*specs)
                return _last_pass(events), holder["inputs"], ""
            except Exception as err:  # noqa: BLE001  any failure of the symbolic pass -> try a real batch
                reason = type(err).__name__
        sample = [np.zeros((2,) + tuple(int(d or 1) for d in s[1:]), "float32") for s in shapes]
        note = (f"the symbolic pass failed ({reason}; e.g. call() uses a tensor in a Python `if`), so the model "
                f"was traced eagerly on a batch of 2 zeros; pass sample=<a real batch> to follow real data")
    else:
        note = "traced eagerly with the sample batch given"
    inputs = [tf.convert_to_tensor(x) for x in (sample if isinstance(sample, list | tuple) else [sample])]
    if not model.built:  # building calls call() once more; keep that pass out of the record
        model(inputs[0] if single else inputs, training=False)
    with recording_calls() as events:
        model(inputs[0] if single else inputs, training=False)
    return _last_pass(events), inputs, note


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
    if tf.executing_eagerly() or not hasattr(tensor, "op"):
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
    shapes: list[Shape], sample: Any,
) -> list[str]:
    events, inputs, note = trace_events(model, shapes, sample)
    producers: dict[Any, str] = {}
    for i, tensor in enumerate(inputs):
        default = "inputs" if len(inputs) == 1 else f"inputs[{i}]"
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
                    children=children, slot=slot)

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
        for t in ev.outputs:
            producers[_tensor_key(t)] = addresses[index]
    while open_containers:
        finish(open_containers.pop())
    _record_uncalled(walk, model, depth, container, {id(ev.layer) for ev in events})
    return [note] if note else []


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
