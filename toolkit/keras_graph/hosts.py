"""Where a layer without Keras nodes lives, and whether it was really called there.

Keras 3 records a node only when a layer is called on symbolic tensors (``keras.Input``) while a functional
model is built. A layer called inside a subclassed model's ``call()``, or inside a custom layer's ``call()``,
has no nodes however often it ran. To tell that apart from a layer nobody called, find the live layer that
holds it (its *host*), the outermost model above that, and trace that model once, counting the layer's calls.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from toolkit._keras import keras
from toolkit.keras_graph.basics import built_input_shapes, is_graph_model, model_kind
from toolkit.keras_graph.tracing import trace_events

MAX_NESTING = 32  # a chain of hosts deeper than this is cut (cycles are impossible, but be safe)


@dataclass(frozen=True)
class HostRecord:
    """The layer that holds a node-less layer, the outermost model above it, and the traced call count."""

    host: str  # "subclassed model 'sub_mlp'", "sequential model 'm'" or "layer 'block' (TransformerBlock)"
    model: str  # name of the outermost live model holding the layer
    chain: tuple[int, ...]  # id() of every host from the layer's direct host up to the model
    calls: int | None  # calls a trace of the model made; None when the model is not built or cannot be traced
    model_shapes: str  # the input shapes the model was traced with, as text ("" when not traced)


def _parents_of() -> dict[int, list[Any]]:
    """id(layer) -> the live layers that hold it as a direct sublayer (one scan of the garbage collector)."""
    gc.collect()
    parents: dict[int, list[Any]] = {}
    for obj in gc.get_objects():
        if not isinstance(obj, keras.layers.Layer):
            continue
        try:
            children = obj._flatten_layers(include_self=False, recursive=False)
        except Exception:  # noqa: BLE001  a half-constructed layer: it holds nothing we can inspect
            continue
        for child in children:
            parents.setdefault(id(child), []).append(obj)
    return parents


def _describe(host: Any) -> str:
    if isinstance(host, keras.Model):
        return f"{model_kind(host).lower()} model {host.name!r}"
    return f"layer {host.name!r} ({type(host).__name__})"


def _count_calls(model: Any, layer: Any) -> tuple[int | None, str]:
    shapes = built_input_shapes(model)
    if not model.built or shapes is None:
        return None, ""
    try:
        events, _, _ = trace_events(model, shapes)
    except Exception:  # noqa: BLE001  a model that cannot run on its own built shapes: nothing to count
        return None, ""
    values = shapes.values() if isinstance(shapes, dict) else shapes
    text = ", ".join(str(tuple(s[1:])) for s in values)
    return sum(1 for ev in events if ev.layer is layer), text


def host_of(layer: Any) -> HostRecord | None:
    """Where ``layer`` is held (None when no live layer holds it) and how often its model's trace calls it.

    Only layers that are not graph models count as hosts: a functional model's own layers have nodes.
    """
    parents = _parents_of()
    direct = [p for p in parents.get(id(layer), []) if not is_graph_model(p)]
    if not direct:
        return None
    host = direct[0]
    chain, top = [host], host
    while len(chain) < MAX_NESTING and parents.get(id(top)):
        top = parents[id(top)][0]
        chain.append(top)
    models = [h for h in chain if isinstance(h, keras.Model)]
    model = models[-1] if models else None
    calls, shapes = _count_calls(model, layer) if model is not None else (None, "")
    return HostRecord(host=_describe(host), model=model.name if model is not None else "",
                      chain=tuple(id(h) for h in chain), calls=calls, model_shapes=shapes)
