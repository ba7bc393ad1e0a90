"""The only module that touches Keras internals: a model -> call records, and a layer -> its nodes.

Keras 3 keeps per-call data in private places: ``layer._inbound_nodes``, ``Node.input_tensors /
output_tensors / parent_nodes``, ``KerasTensor._keras_history``, ``Functional._nodes`` and
``Sequential._functional``. Subclassed models have no graph at all, so they are traced by recording
``Layer.__call__`` during one symbolic pass. When Keras changes, this file changes; nothing else does.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit._keras import keras, tf
from toolkit.macs import layer_macs
from toolkit.records import CallRecord, ModelRecord, NodeRecord, Shape

Layer = keras.layers.Layer


# --- small helpers -------------------------------------------------------------------------------------


def shape_of(tensor: Any, *, batch_none: bool = False) -> Shape:
    dims = tuple(None if d is None else int(d) for d in tensor.shape)
    return ((None,) + dims[1:]) if batch_none and dims else dims


def is_graph_model(model: Any) -> bool:
    """True for models Keras keeps a graph of: functional models and built Sequential models."""
    if isinstance(model, keras.Sequential):
        return model._functional is not None
    return isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth")


def model_kind(model: Any) -> str:
    if isinstance(model, keras.Sequential):
        return "Sequential"
    return "Functional" if is_graph_model(model) else "Subclassed"


def _graph(model: Any) -> Any:
    return model._functional if isinstance(model, keras.Sequential) else model


def built_input_shapes(model: Any) -> list[Shape] | None:
    """The input shapes a model was built or called with (batch dim included), or None if never."""
    if is_graph_model(model):
        return [shape_of(t) for t in _graph(model).inputs]
    shapes = getattr(model, "_build_shapes_dict", None)
    if not shapes:
        return None
    value = next(iter(shapes.values()))
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        return [tuple(v) for v in value]
    return [tuple(value)] if value is not None else None


def _weight_counts(layer: Any) -> tuple[int, int]:
    total = sum(int(np.prod(w.shape)) for w in layer.weights)
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    return total, trainable


def _wrapped_model(layer: Any) -> Any:
    """The model inside a wrapper such as TimeDistributed(model), or None."""
    inner = getattr(layer, "layer", None)
    return inner if isinstance(inner, keras.Model) else None


# --- the walk: one record per call ---------------------------------------------------------------------


@dataclass
class _Walk:
    """Accumulates rows while a model is walked; counts calls and first sightings per layer."""

    rows: list[CallRecord | None] = field(default_factory=list)
    calls: dict[int, int] = field(default_factory=dict)  # id(layer) -> calls seen so far
    layer_ids: dict[int, int] = field(default_factory=dict)  # id(layer) -> small stable id
    keep_alive: list[Any] = field(default_factory=list)  # layers whose id() we keyed on

    def reserve(self) -> int:
        self.rows.append(None)
        return len(self.rows) - 1

    def record(
        self,
        layer: Any,
        *,
        depth: int,
        container: str,
        inputs: Sequence[Shape],
        outputs: Sequence[Shape],
        parents: Sequence[str],
        children: Sequence[CallRecord] | None = None,
        slot: int | None = None,
        called: bool = True,
    ) -> CallRecord:
        key = id(layer)
        first = key not in self.calls
        index = self.calls.get(key, 0)
        self.calls[key] = index + (1 if called else 0)
        if first:
            self.layer_ids[key] = len(self.layer_ids)
            self.keep_alive.append(layer)
        params, trainable = _weight_counts(layer) if first else (0, 0)
        name = layer.name
        address = f"{container}/{name}[{index}]" if container else f"{name}[{index}]"
        if children is None:
            config = layer.get_config() if called and _needs_config(layer) else {}
            macs = layer_macs(type(layer).__name__, config, inputs, outputs) if called else 0
        else:
            macs = _container_macs(layer, children, inputs)
        row = CallRecord(
            address=address, name=name, class_name=type(layer).__name__, node_index=index, depth=depth,
            input_shapes=tuple(inputs), output_shapes=tuple(outputs), params=params,
            trainable_params=trainable, parents=tuple(dict.fromkeys(p for p in parents if p)), macs=macs,
            container=container, is_container=children is not None, called=called,
            layer_id=self.layer_ids[key],
        )
        if slot is None:
            self.rows.append(row)
        else:
            self.rows[slot] = row
        return row

    def address_for(self, layer: Any, container: str) -> str:
        index = self.calls.get(id(layer), 0)
        return f"{container}/{layer.name}[{index}]" if container else f"{layer.name}[{index}]"


def _needs_config(layer: Any) -> bool:
    # get_config() of a Lambda or of a custom layer without get_config may raise; only formula layers need it
    return type(layer).__name__ not in ("Lambda",)


def _container_macs(layer: Any, children: Sequence[CallRecord], inputs: Sequence[Shape]) -> int | None:
    direct = [c.macs for c in children]
    if any(m is None for m in direct):
        return None
    total = sum(int(m) for m in direct if m is not None)
    if type(layer).__name__ == "TimeDistributed":
        steps = inputs[0][1] if inputs and len(inputs[0]) > 1 else None
        return None if steps is None else int(steps) * total
    return total


def _direct_children(walk: _Walk, start: int, container: str) -> list[CallRecord]:
    return [r for r in walk.rows[start:] if r is not None and r.container == container]


# --- functional and Sequential models: walk Keras's own graph ---------------------------------------


def _node_of(tensor: Any) -> Any:
    history = tensor._keras_history
    return history.operation._inbound_nodes[history.node_index]


def execution_order(model: Any) -> list[Any]:
    """The model's non-input nodes, depth-first from its outputs: each call after the calls feeding it."""
    graph = _graph(model)
    keys = graph._nodes
    seen: set[int] = set()
    order: list[Any] = []

    def visit(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.parent_nodes:
            visit(parent)
        if not node.is_input and node_key(node) in keys:
            order.append(node)

    for tensor in graph.outputs:
        visit(_node_of(tensor))
    return order


def node_key(node: Any) -> str:
    op = node.operation
    return f"{id(op)}_ib-{op._inbound_nodes.index(node)}"  # the key Keras stores in Functional._nodes


def _walk_graph(
    walk: _Walk, model: Any, depth: int, container: str, input_parents: Sequence[str] | None
) -> None:
    graph = _graph(model)
    produced: dict[int, str] = {}
    for i, tensor in enumerate(graph.inputs):
        if input_parents is not None:
            produced[id(tensor)] = input_parents[i] if i < len(input_parents) else ""
        elif isinstance(model, keras.Sequential):
            produced[id(tensor)] = ""
        else:
            layer = tensor._keras_history.operation
            row = walk.record(layer, depth=depth, container=container, inputs=(), outputs=[shape_of(tensor)],
                              parents=())
            produced[id(tensor)] = row.address
    for node in execution_order(model):
        layer = node.operation
        parents = [produced.get(id(t), "") for t in node.input_tensors]
        ins = [shape_of(t) for t in node.input_tensors]
        outs = [shape_of(t) for t in node.output_tensors]
        inner = layer if isinstance(layer, keras.Model) else _wrapped_model(layer)
        if inner is not None:
            row = _record_container(walk, layer, inner, depth, container, ins, outs, parents)
        else:
            row = walk.record(layer, depth=depth, container=container, inputs=ins, outputs=outs, parents=parents)
        for t in node.outputs:
            produced[id(t)] = row.address


def _record_container(
    walk: _Walk, layer: Any, inner: Any, depth: int, container: str, ins: Sequence[Shape],
    outs: Sequence[Shape], parents: Sequence[str],
) -> CallRecord:
    slot = walk.reserve()
    address = walk.address_for(layer, container)
    start = len(walk.rows)
    if inner is layer:
        _walk_into(walk, inner, depth + 1, address, list(parents), ins)
    else:  # a wrapper such as TimeDistributed(model): the model gets its own row, called on one step
        step_in = [s[:1] + s[2:] for s in ins]
        step_out = [s[:1] + s[2:] for s in outs]
        _record_container(walk, inner, inner, depth + 1, address, step_in, step_out, parents)
    children = _direct_children(walk, start, address)
    return walk.record(layer, depth=depth, container=container, inputs=ins, outputs=outs, parents=parents,
                       children=children, slot=slot)


def _walk_into(
    walk: _Walk, model: Any, depth: int, container: str, input_parents: list[str] | None,
    input_shapes: Sequence[Shape] | None,
) -> None:
    if is_graph_model(model):
        _walk_graph(walk, model, depth, container, input_parents)
    else:
        if input_shapes is None:
            raise ValueError(f"cannot trace nested model {model.name!r} without its input shapes")
        _trace_into(walk, model, depth, container, input_parents, list(input_shapes), None)


# --- subclassed models: record Layer.__call__ during one pass ----------------------------------------


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


class TraceFallback(Exception):
    """The symbolic pass failed (e.g. ``call()`` branches on tensor values); an eager pass is needed."""


def trace_events(model: Any, shapes: list[Shape], sample: Any = None) -> tuple[list[_Event], list[Any], str]:
    """Run ``model`` once while recording layer calls; returns events, input tensors and a note."""
    single = len(shapes) == 1
    if not model.built:
        # Build the weights with one eager call on a batch of 1 outside the record: a tf.function that
        # creates weights is traced twice, which doubles the cost of the symbolic pass below.
        ones = [np.zeros((1,) + tuple(int(d or 1) for d in s[1:]), "float32") for s in shapes]
        with contextlib.suppress(Exception):
            model(ones[0] if single else ones, training=False)
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


def _trace_into(
    walk: _Walk, model: Any, depth: int, container: str, input_parents: list[str] | None,
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
        children = _direct_children(walk, start, addresses[index])
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


def _record_uncalled(walk: _Walk, model: Any, depth: int, container: str, called: set[int]) -> None:
    for layer in model.layers:
        if id(layer) not in called:
            walk.record(layer, depth=depth, container=container, inputs=(), outputs=(), parents=(),
                        called=False)


# --- public entry of this module: model -> ModelRecord ------------------------------------------------


def walk_model(model: Any, input_shapes: list[Shape] | None, *, sample: Any = None) -> ModelRecord:
    """Walk a built (or traceable) model into records, nested models expanded. Shapes include the batch."""
    walk = _Walk()
    notes: list[str] = []
    if is_graph_model(model):
        _walk_graph(walk, model, 0, "", None)
    else:
        assert input_shapes is not None
        notes += _trace_into(walk, model, 0, "", None, input_shapes, sample)
    rows = [r for r in walk.rows if r is not None]
    top = [r for r in rows if r.depth == 0]
    total, trainable = sum(r.params for r in top), sum(r.trainable_params for r in top)
    own_total, own_trainable = _weight_counts(model)
    if own_total != total:  # weights the model created itself (add_weight in a subclassed model)
        extra = CallRecord(
            address=f"{model.name}.weights", name=f"({model.name}'s own weights)", class_name="Weights",
            node_index=0, depth=0, input_shapes=(), output_shapes=(), params=own_total - total,
            trainable_params=own_trainable - trainable, macs=None, called=False, layer_id=-1,
        )
        rows.append(extra)
        total, trainable = own_total, own_trainable
    return ModelRecord(name=model.name, kind=model_kind(model), rows=tuple(rows), total_params=total,
                       trainable_params=trainable, notes=tuple(notes))


# --- nodes of one layer (Keras 2's get_output_at family) ----------------------------------------------


def inbound_nodes(layer: Any) -> list[Any]:
    return list(layer._inbound_nodes)


def model_nodes(model: Any, layer: Any) -> list[Any]:
    """The layer's nodes that belong to ``model``'s graph, in call order."""
    if not is_graph_model(model):
        return []
    keys = _graph(model)._nodes
    return [n for n in layer._inbound_nodes if node_key(n) in keys]


def node_tensors(node: Any) -> tuple[list[Any], list[Any]]:
    return list(node.input_tensors), list(node.output_tensors)


def _live_owners() -> list[tuple[str, Any]]:
    """(label, node keys) of every graph model alive in this process, for the 'which model' column.

    A Sequential keeps its graph in ``_functional`` and replaces it on ``add``/``pop``; a replaced graph
    that lingers is labelled as the old graph of its Sequential, not by its internal name.
    """
    gc.collect()
    models = [o for o in gc.get_objects() if isinstance(o, keras.Model)]
    sequentials = [m for m in models if isinstance(m, keras.Sequential)]
    current = {id(m._functional) for m in sequentials if m._functional is not None}
    owners = []
    for m in models:
        if id(m) in current or not is_graph_model(m):
            continue
        label = m.name
        if not isinstance(m, keras.Sequential):
            ops = {id(op) for op in m._operations if not isinstance(op, keras.layers.InputLayer)}
            for seq in sequentials:
                if ops and ops <= {id(lay) for lay in seq.layers} and m.name.startswith("functional"):
                    label = f"{seq.name} (old graph, before add/pop)"
        owners.append((label, _graph(m)._nodes))
    return owners


def node_records(layer: Any, nodes: Sequence[Any]) -> list[NodeRecord]:
    owners = _live_owners()
    records = []
    for i, node in enumerate(nodes):
        key = node_key(node)
        inbound = []
        for parent in node.parent_nodes:
            op = parent.operation
            inbound.append(f"{op.name}[{op._inbound_nodes.index(parent)}]")
        records.append(NodeRecord(
            layer=layer.name, node_index=i, input_shapes=tuple(shape_of(t) for t in node.input_tensors),
            output_shapes=tuple(shape_of(t) for t in node.output_tensors), inbound=tuple(inbound),
            models=tuple(sorted({name for name, keys in owners if key in keys})),
        ))
    return records
