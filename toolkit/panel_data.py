"""Real data for the panels: seeded subsets of MNIST or CIFAR-10, shaped and scaled for a given model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from toolkit import datasets

DATASETS = ("mnist", "cifar10")
CLASS_NAMES = {"mnist": tuple(str(d) for d in range(10)), "cifar10": tuple(datasets.CIFAR10_CLASSES)}


def load_subset(name: str, n_train: int, n_test: int, seed: int = 0) -> datasets.Splits:
    """``toolkit.datasets.load_<name>(limit=(n_train, n_test), seed=seed)``: class-balanced, seeded."""
    if name not in DATASETS:
        raise ValueError(
            f"data must be one of {', '.join(repr(d) for d in DATASETS)} (got {name!r}); "
            f"e.g. TrainingPanel(model, data='mnist')."
        )
    loader = datasets.load_mnist if name == "mnist" else datasets.load_cifar10
    return loader(limit=(n_train, n_test), seed=seed)


def input_shape_of(model: Any) -> tuple[int | None, ...]:
    """The model's one input shape without the batch dimension; several inputs are an error."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        raise ValueError(
            f"model {model.name!r} has {len(shape)} inputs; the panels feed images to models with ONE image input."
        )
    if shape is None:
        raise ValueError(f"model {model.name!r} has no input shape yet; start it with keras.Input(shape=...).")
    return tuple(shape[1:])


def rescales_itself(model: Any) -> bool:
    """True when the model starts with a Rescaling layer, i.e. it wants raw 0-255 pixels."""
    layers = [lay for lay in getattr(model, "layers", []) if type(lay).__name__ != "InputLayer"]
    return bool(layers) and type(layers[0]).__name__ == "Rescaling"


def fit_to_input(x: np.ndarray, model: Any) -> np.ndarray:
    """Images as the model wants them: float32, scaled to [0, 1] (unless the model rescales), reshaped to
    its input shape when the pixel count matches (``(28, 28)`` -> ``(28, 28, 1)`` or ``(784,)``)."""
    want = input_shape_of(model)
    out = x.astype("float32")
    if x.dtype == np.uint8 and not rescales_itself(model):
        out /= 255.0
    sample = out.shape[1:]
    if _fits(sample, want):
        return out
    sizes = [d for d in want if d is not None]
    if len(sizes) == len(want) and math.prod(sizes) == math.prod(sample):
        return out.reshape((len(out), *sizes))
    if len(want) == len(sample) + 1 and want[-1] == 1 and _fits(sample, want[:-1]):
        return out[..., None]
    raise ValueError(
        f"model {model.name!r} expects inputs of shape {want} (batch left out) but the images are "
        f"{sample}; pick the data set the model was built for, or change its keras.Input(shape=...)."
    )


def _fits(have: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    return len(have) == len(want) and all(w is None or w == h for h, w in zip(have, want))


def labels_1d(y: np.ndarray) -> np.ndarray:
    """CIFAR-10 labels come as (N, 1); the panels use (N,)."""
    return np.asarray(y).reshape(-1)
