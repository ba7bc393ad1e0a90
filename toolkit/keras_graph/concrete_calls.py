"""Every layer call of a model, with the real tensors it receives for one concrete batch (for ``toolkit.profile``).

A graph model (functional, Sequential) is run node by node in the order ``summary()`` lists its rows, nested graph
models included; a subclassed model is called once eagerly while ``Layer.__call__`` keeps each call's arguments.
Each call gets the address ``summary()`` gives its row, so a caller can time ``call.fn(*call.args, **call.kwargs)``
on its own and put the time beside that row. Nothing here times anything.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from toolkit._keras import keras
from toolkit.keras_graph.basics import graph_of, is_graph_model, losses_kept, wrapped_model
from toolkit.keras_graph.graph import _Numbering, execution_order, graph_keys
from toolkit.keras_graph.tracing import _opaque

Layer = keras.layers.Layer


@dataclass(frozen=True)
class ConcreteCall:
    """One call of a layer or operation: the address of its summary row, what to call and on what."""

    address: str
    fn: Callable[..., Any]  # the layer or operation itself
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def model_inputs(model: Any, batch: Any) -> Any:
    """The batch as the tensors a graph model's inputs take (its dtypes), in its input order; the batch itself
    for a subclassed model."""
    if not is_graph_model(model):
        return batch
    with warnings.catch_warnings():  # a structure Keras cannot match raises below; its warning would say it twice
        warnings.filterwarnings("ignore", message=".*structure of `inputs` doesn't match")
        return list(graph_of(model)._standardize_inputs(batch))


def concrete_calls(model: Any, batch: Any) -> list[ConcreteCall]:
    """Each layer/operation call of ``model`` on ``batch``, in summary order (input layers left out).

    Rows that a caller cannot run on their own (a wrapper's inner model) are left out; the wrapper is kept.
    """
    calls: list[ConcreteCall] = []
    with losses_kept(model):
        if is_graph_model(model):
            _run_graph(model, model_inputs(model, batch), "", _Numbering(graph_keys(model)), calls)
        else:
            _run_traced(model, batch, "", calls)
    return calls


def _run_graph(
    model: Any, tensors: list[Any], container: str, numbering: _Numbering, calls: list[ConcreteCall]
) -> list[Any]:
    """Run ``model``'s nodes as ``summary()`` walks them (same numbering); return the graph's outputs."""
    graph = graph_of(model)
    values = {id(x): y for x, y in zip(graph.inputs, tensors)}
    for node in execution_order(model):
        op = node.operation
        args, kwargs = node.arguments.fill_in(values)
        index = numbering.index(node)
        address = f"{container}/{op.name}[{index}]" if container else f"{op.name}[{index}]"
        calls.append(ConcreteCall(address, op, tuple(args), dict(kwargs)))
        inner = op if isinstance(op, keras.Model) else wrapped_model(op)
        if inner is op and is_graph_model(op):  # a nested graph model: its calls are rows too
            _run_graph(op, list(graph_of(op)._standardize_inputs(args[0])), address, numbering, calls)
        elif inner is op:  # a nested subclassed model: traced, as summary() does
            _run_traced(op, args[0], address, calls)
        outputs = keras.tree.flatten(op(*args, **kwargs))
        for x, y in zip(node.outputs, outputs):
            values[id(x)] = y
    return [values[id(x)] for x in graph.outputs]


@dataclass
class _Seen:
    layer: Any
    parent: int
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@contextmanager
def _keeping_arguments() -> Iterator[list[_Seen]]:
    """Patch ``Layer.__call__`` so that each call in the block (not those inside a built-in layer such as an LSTM's
    cell, which are no rows) is kept with its arguments: the rule ``tracing.recording_calls`` follows."""
    seen: list[_Seen] = []
    stack: list[int] = []
    original: Callable[..., Any] = Layer.__call__

    def keeping_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if stack and _opaque(seen[stack[-1]].layer):
            return original(self, *args, **kwargs)
        seen.append(_Seen(self, stack[-1] if stack else -1, args, dict(kwargs)))
        stack.append(len(seen) - 1)
        try:
            return original(self, *args, **kwargs)
        finally:
            stack.pop()

    Layer.__call__ = keeping_call
    try:
        yield seen
    finally:
        Layer.__call__ = original


def _run_traced(model: Any, batch: Any, container: str, calls: list[ConcreteCall]) -> None:
    """One eager call of a subclassed model; each layer call addressed as ``trace_into`` addresses its row."""
    if not model.built:  # building calls call() once more: keep that pass out (as the trace does)
        model(batch, training=False)
    with _keeping_arguments() as seen:
        model(batch, training=False)
    addresses = {0: container}
    counts: dict[int, int] = {}
    for index, call in enumerate(seen[1:], start=1):  # seen[0] is the model itself
        count = counts.get(id(call.layer), 0)
        counts[id(call.layer)] = count + 1
        parent = addresses[call.parent]
        addresses[index] = f"{parent}/{call.layer.name}[{count}]" if parent else f"{call.layer.name}[{count}]"
        calls.append(ConcreteCall(addresses[index], call.layer, call.args, call.kwargs))
