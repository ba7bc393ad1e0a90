"""summary(model) -> ModelSummary: one row per layer call, with input and output shapes, params and MACs."""

from __future__ import annotations

from typing import Any

from toolkit.explain.explainer import Explainer
from toolkit.inspection.model_inputs import InputShape, walk
from toolkit.render.summary_view import ModelSummary


def summary(model: Any, input_shape: InputShape = None, *, expand_nested: bool = True,
            sample: Any = None) -> ModelSummary:
    """Summarise every layer CALL of ``model``: shapes in and out, params and multiply-accumulates.

    ``input_shape`` (no batch dimension) is needed for an unbuilt Sequential or subclassed model; an
    unbuilt Sequential is then built, as ``model.build()`` would. Subclassed models are traced during one
    symbolic pass; pass ``sample=`` (a small real batch) when ``call()`` branches on tensor values.
    ``.explain(row)`` on the result shows where each number of a row comes from.
    """
    record = walk(model, input_shape, "summary", sample)
    return ModelSummary(record, expand_nested=expand_nested, explainer=Explainer(model, record))
