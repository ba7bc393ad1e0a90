"""toolkit: see every tensor's shape at every call of a Keras 3 model.

Public names only; each lives in a module named for what it owns.
"""

from toolkit import datasets
from toolkit._keras import seed
from toolkit.diagram import Diagram, GraphvizMissing, diagram
from toolkit.nodes import (
    CallTable,
    calls,
    feature_extractor,
    input_at,
    input_shape_at,
    output_at,
    output_of,
    output_shape_at,
)
from toolkit.summary import ModelSummary, summary
from toolkit.training import EpochLogger

__all__ = [
    "CallTable", "Diagram", "EpochLogger", "GraphvizMissing", "ModelSummary", "calls", "datasets", "diagram",
    "feature_extractor", "input_at", "input_shape_at", "output_at", "output_of", "output_shape_at", "seed",
    "summary",
]
