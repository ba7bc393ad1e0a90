"""The shapes a graph model's calls really produce: one symbolic TensorFlow pass over its nodes.

A functional model's node shapes are Keras's symbolic specs (``compute_output_spec`` / ``compute_output_shape``),
written by hand per layer and sometimes wrong: ``MultiHeadAttention(return_attention_scores=True)`` says the
scores are (batch, heads, query length, QUERY length) when the key is longer. Running every node once on
TensorFlow placeholders (batch None, the model's own input dtypes) gives the shapes real data would get. The
walk shows those where they contradict Keras's, and keeps Keras's everywhere else (so a None that Keras knew
better stays as Keras said).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit._keras import keras, tf
from toolkit.keras_graph.basics import error_text, graph_of, is_graph_model, losses_kept, shape_of
from toolkit.records import Shape

NodePath = tuple[int, ...]  # id() of each nested-model node on the way in, then the node's own id()


@dataclass
class RealShapes:
    """Real (input, output) shapes per node path, or why the pass could not run (``failure``)."""

    shapes: dict[NodePath, tuple[list[Shape], list[Shape]]] = field(default_factory=dict)
    failure: str = ""

    def get(self, path: NodePath) -> tuple[list[Shape], list[Shape]] | None:
        return self.shapes.get(path)


def contradicts(spec: Sequence[Shape], real: Sequence[Shape]) -> bool:
    """True when two shape lists cannot describe the same tensors: another count, rank or known size."""
    if len(spec) != len(real):
        return True
    return any(len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b))
               for a, b in zip(spec, real))


def _run(graph: Any, tensors: list[Any], path: NodePath, found: RealShapes) -> list[Any]:
    """Run ``graph``'s nodes in Keras's order on ``tensors``; record each node's shapes; return the outputs."""
    values = {id(x): y for x, y in zip(graph.inputs, tensors)}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.is_input or not node.operation or any(id(x) not in values for x in node.input_tensors):
                continue
            args, kwargs = node.arguments.fill_in(values)
            op, key = node.operation, path + (id(node),)
            try:
                if isinstance(op, keras.Model) and is_graph_model(op):  # a nested model: its own nodes too
                    inner = graph_of(op)
                    outputs = _run(inner, list(inner._standardize_inputs(args[0])), key, found)
                else:
                    outputs = keras.tree.flatten(op(*args, **kwargs))
            except Exception as err:
                if not found.failure:  # the innermost call that failed names the layer
                    found.failure = f"{op.name} ({type(op).__name__}) raised {type(err).__name__}: {error_text(err)}"
                raise
            ins = [shape_of(values[id(x)]) for x in node.input_tensors]
            found.shapes[key] = (ins, [shape_of(t) for t in outputs])
            for x, y in zip(node.outputs, outputs):
                values[id(x)] = y
    return [values[id(x)] for x in graph.outputs]


# Layers whose hand-written symbolic specs Keras gets wrong for some arguments (MultiHeadAttention's scores when the
# key is longer than the query). Every other layer's spec agreed with a real pass on the zoo and keras.applications,
# and the pass costs 4-9x Keras's own summary on a large model, so it runs only for models holding one of these.
UNRELIABLE_SPECS = ("MultiHeadAttention", "GroupedQueryAttention", "GroupQueryAttention", "Attention",
                    "AdditiveAttention")  # fmt: skip


def needs_real_pass(model: Any) -> bool:
    """True when ``model`` (nested models and layers included) holds a layer whose Keras spec can be wrong."""
    layers = model._flatten_layers(include_self=False, recursive=True)
    return any(cls.__name__ in UNRELIABLE_SPECS for layer in layers for cls in type(layer).__mro__)


def real_shapes(model: Any) -> RealShapes:
    """The real shapes of every node of a graph model (nested graph models included), from one symbolic pass;
    none (an empty record) for a model without a layer of :data:`UNRELIABLE_SPECS`."""
    graph = graph_of(model)
    found = RealShapes()
    if not needs_real_pass(model):
        return found
    if any(getattr(t, "sparse", False) or getattr(t, "ragged", False) for t in graph.inputs):
        found.failure = "its inputs are sparse or ragged"
        return found
    specs = [tf.TensorSpec(shape_of(t), t.dtype) for t in graph.inputs]

    def forward(*xs: Any) -> Any:
        _run(graph, list(xs), (), found)
        return tf.constant(0)

    try:
        with losses_kept(model):
            tf.function(forward, autograph=False).get_concrete_function(*specs)
    except Exception as err:  # noqa: BLE001  reported as a note: the walk keeps Keras's shapes, unchecked
        found.failure = found.failure or f"{type(err).__name__}: {error_text(err)}"
    return found  # after a failure: the shapes of the nodes that ran before it
