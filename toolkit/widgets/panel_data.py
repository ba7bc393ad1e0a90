"""Real data for the panels: seeded subsets of MNIST or CIFAR-10, shaped and scaled for a given model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from toolkit.data import loaders as datasets
from toolkit.i18n import tr

DATASETS = ("mnist", "cifar10")
CLASS_NAMES = {"mnist": tuple(str(d) for d in range(10)), "cifar10": tuple(datasets.CIFAR10_CLASSES)}


def load_subset(name: str, n_train: int, n_test: int, seed: int = 0) -> datasets.Splits:
    """``toolkit.datasets.load_<name>(limit=(n_train, n_test), seed=seed)``: class-balanced, seeded."""
    if name not in DATASETS:
        raise ValueError(
            tr(
                "data must be one of {choices} (got {name!r}); e.g. TrainingPanel(model, data='mnist').",
                choices=", ".join(repr(d) for d in DATASETS),
                name=name,
            )
        )
    loader = datasets.load_mnist if name == "mnist" else datasets.load_cifar10
    return loader(limit=(n_train, n_test), seed=seed)


def input_shapes_of(model: Any) -> list[tuple[int | None, ...]]:
    """The shapes of the model's inputs, without the batch dimension."""
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(tr("model {name!r} has no inputs yet; start it with keras.Input(shape=...).", name=model.name))
    return [tuple(t.shape[1:]) for t in inputs]


def input_shape_of(model: Any) -> tuple[int | None, ...]:
    """The model's one input shape without the batch dimension; several inputs are an error."""
    shapes = input_shapes_of(model)
    if len(shapes) != 1:
        raise ValueError(
            tr(
                "model {name!r} has {n} inputs; here it needs ONE image input (for a model with several inputs, "
                "the ActivationExplorer takes one array of images per input).",
                name=model.name,
                n=len(shapes),
            )
        )
    return shapes[0]


def rescales_itself(model: Any) -> bool:
    """True when the model starts with a Rescaling layer, i.e. it wants raw 0-255 pixels."""
    layers = [lay for lay in getattr(model, "layers", []) if type(lay).__name__ != "InputLayer"]
    return bool(layers) and type(layers[0]).__name__ == "Rescaling"


def fit_to_input(x: np.ndarray, model: Any, which: int | None = None) -> np.ndarray:
    """Images as the model wants them: float32, scaled to [0, 1] (unless the model rescales), reshaped to
    its input shape when the pixel count matches (``(28, 28)`` -> ``(28, 28, 1)`` or ``(784,)``).
    ``which`` picks one input of a model with several; None requires a model with one input."""
    want = input_shape_of(model) if which is None else input_shapes_of(model)[which]
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
        tr(
            "model {name!r} expects inputs of shape {want} (batch left out) but the images are {sample}; pick the "
            "data set the model was built for, or change its keras.Input(shape=...).",
            name=model.name,
            want=want,
            sample=sample,
        )
    )


def _fits(have: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    return len(have) == len(want) and all(w is None or w == h for h, w in zip(have, want))


def labels_1d(y: np.ndarray) -> np.ndarray:
    """CIFAR-10 labels come as (N, 1); the panels use (N,)."""
    return np.asarray(y).reshape(-1)


def image_arrays(images: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """One array of samples per model input; all of the same length."""
    arrays = [images] if isinstance(images, np.ndarray) else list(images)
    if not arrays or any(not isinstance(a, np.ndarray) or a.ndim < 2 or len(a) == 0 for a in arrays):
        raise ValueError(
            tr(
                "images must be a non-empty NumPy array of images (e.g. x_test from toolkit.datasets.load_mnist"
                "(limit=100)[1][0]), or a list with one such array per model input."
            )
        )
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(
            tr(
                "the image arrays differ in length ({lengths}); pass one array per model input, all holding the "
                "same samples in the same order.",
                lengths=", ".join(str(len(a)) for a in arrays),
            )
        )
    return arrays


def sample_inputs(model: Any, images: Sequence[np.ndarray], index: int) -> Any:
    """Sample ``index`` as the model takes it: one array, or a list with one array per model input."""
    xs = [fit_to_input(im[index : index + 1], model, k) for k, im in enumerate(images)]
    return xs[0] if len(xs) == 1 else xs
