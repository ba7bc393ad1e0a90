"""toolkit: see every tensor's shape at every call of a Keras 3 model.

Public names only, loaded on first use (PEP 562): ``import toolkit`` is instant, and TensorFlow starts only
when a name that needs Keras is used (``toolkit.summary``, ``toolkit.seed``, ...). ``toolkit.checks``,
``toolkit.data`` and ``toolkit.doctor`` never start it by themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> "module" (the name is a submodule) or "module:attribute"
_PUBLIC = {
    "checks": "toolkit.checks",
    "data": "toolkit.data",
    "datasets": "toolkit.data",  # the name the lessons use: toolkit.datasets.load_mnist(...)
    "doctor": "toolkit.doctor",  # the subpackage: toolkit.doctor.doctor() runs the checks
    "explain_error": "toolkit.errors.explain:explain_error",  # a Keras error as one sentence (toolkit.errors)
    "seed": "toolkit._keras:seed",
    "device": "toolkit._keras:device",
    "setup_notebook": "toolkit.notebook_setup:setup_notebook",
    "set_language": "toolkit.i18n:set_language",  # "zh-CN": the checks' messages in Chinese
    "load_mnist": "toolkit.data:load_mnist",
    "load_cifar10": "toolkit.data:load_cifar10",
    "summary": "toolkit.inspection.summary:summary",
    "profile": "toolkit.profiling.measure:profile",  # measured forward time per row, epoch forecast
    "ModelSummary": "toolkit.render.summary_view:ModelSummary",
    "diagram": "toolkit.inspection.diagram:diagram",
    "Diagram": "toolkit.inspection.diagram:Diagram",
    "GraphvizMissing": "toolkit.inspection.diagram:GraphvizMissing",
    "CallTable": "toolkit.render.call_table:CallTable",
    "calls": "toolkit.inspection.nodes:calls",
    "feature_extractor": "toolkit.inspection.nodes:feature_extractor",
    "input_at": "toolkit.inspection.nodes:input_at",
    "input_shape_at": "toolkit.inspection.nodes:input_shape_at",
    "output_at": "toolkit.inspection.nodes:output_at",
    "output_of": "toolkit.inspection.nodes:output_of",
    "output_shape_at": "toolkit.inspection.nodes:output_shape_at",
    "EpochLogger": "toolkit.callbacks:EpochLogger",
    "record_result": "toolkit.callbacks:record_result",
    "ActivationExplorer": "toolkit.widgets.explorer:ActivationExplorer",
    "LayerTuner": "toolkit.widgets.tuner:LayerTuner",
    "render_state": "toolkit.widgets.tuner:render_state",
    "TrainingPanel": "toolkit.widgets.training_panel:TrainingPanel",
}

__all__ = [  # the same names as _PUBLIC (a test keeps them equal)
    "ActivationExplorer", "CallTable", "Diagram", "EpochLogger", "GraphvizMissing", "LayerTuner", "ModelSummary",
    "TrainingPanel", "calls", "checks", "data", "datasets", "device", "diagram", "doctor", "explain_error",
    "feature_extractor", "input_at", "input_shape_at", "load_cifar10", "load_mnist", "output_at", "output_of",
    "output_shape_at", "profile",
    "record_result", "render_state", "seed", "set_language", "setup_notebook", "summary",
]


def __getattr__(name: str) -> Any:
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}; its public names are: {', '.join(__all__)}")
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for mypy and editors: the same names, imported eagerly
    from toolkit import checks, data, doctor
    from toolkit import data as datasets
    from toolkit._keras import device, seed
    from toolkit.callbacks import EpochLogger, record_result
    from toolkit.data import load_cifar10, load_mnist
    from toolkit.errors.explain import explain_error
    from toolkit.i18n import set_language
    from toolkit.inspection.diagram import Diagram, GraphvizMissing, diagram
    from toolkit.inspection.nodes import (
        calls,
        feature_extractor,
        input_at,
        input_shape_at,
        output_at,
        output_of,
        output_shape_at,
    )
    from toolkit.inspection.summary import summary
    from toolkit.notebook_setup import setup_notebook
    from toolkit.profiling.measure import profile
    from toolkit.render.call_table import CallTable
    from toolkit.render.summary_view import ModelSummary
    from toolkit.widgets.explorer import ActivationExplorer
    from toolkit.widgets.training_panel import TrainingPanel
    from toolkit.widgets.tuner import LayerTuner, render_state
