"""toolkit: see every tensor's shape at every call of a Keras 3 model.

Public names only; each lives in a module named for what it owns. (Importing toolkit imports TensorFlow
once, through toolkit._keras, which quiets it first.)
"""

from toolkit import checks, datasets
from toolkit._keras import seed
from toolkit.datasets import load_cifar10, load_mnist
from toolkit.diagram import Diagram, GraphvizMissing, diagram
from toolkit.doctor import doctor
from toolkit.explorer import ActivationExplorer
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
from toolkit.training import EpochLogger, record_result
from toolkit.training_panel import TrainingPanel
from toolkit.tuner import LayerTuner, render_state

__all__ = [
    "ActivationExplorer", "LayerTuner", "TrainingPanel", "render_state",
    "CallTable", "Diagram", "EpochLogger", "GraphvizMissing", "ModelSummary", "calls", "checks", "datasets", "diagram",
    "doctor", "feature_extractor", "input_at", "input_shape_at", "load_cifar10", "load_mnist", "output_at",
    "output_of", "output_shape_at", "record_result", "seed", "summary",
]
