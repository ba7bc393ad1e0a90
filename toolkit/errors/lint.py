"""Mistakes visible as soon as a model is defined, before ``fit`` fails: an Input that includes the batch size."""

from __future__ import annotations

import sys
from typing import Any

from toolkit.errors.families import BATCH_SIZES
from toolkit.errors.records import Diagnosis
from toolkit.errors.rules import show


def batch_in_input(model: Any) -> Diagnosis | None:
    """A warning when ``model`` starts with an Input like (32, 784) followed by a Dense layer, else None."""
    keras = sys.modules.get("keras")
    if keras is None or not isinstance(model, keras.Model):
        return None
    try:
        inputs = list(model.inputs or ())
        layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer"]
    except (AttributeError, ValueError):  # an unbuilt model has no inputs yet
        return None
    if len(inputs) != 1 or not layers or type(layers[0]).__name__ != "Dense":
        return None
    shape = tuple(inputs[0].shape)
    if len(shape) != 3 or shape[1] not in BATCH_SIZES:
        return None
    declared = shape[1:]
    return Diagnosis(
        "batch_in_input",
        "batch_in_input_warning",
        {
            "model": f"'{model.name}'",
            "declared": show(declared),
            "layer": f"'{layers[0].name}' (Dense)",
            "first": declared[0],
            "fixed": show(declared[1:]),
            "expected": show(shape),
        },
    )
