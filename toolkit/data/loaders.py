"""MNIST and CIFAR-10 as ``keras.datasets.<name>.load_data()`` returns them, read from an offline data folder.

Where the data comes from, in order:

1. the folder named by the environment variable ``KERAS_COURSE_DATA`` (holding ``mnist.npz`` and
   ``cifar10-jpeg.tar.gz``), each file checked against its SHA-256 digest in :data:`FILES` before use;
2. only if that variable is unset (or empty): Keras's own download, for learners who are online.

A grader's data view (``toolkit/data/view.py``, written by course/sandbox/data_view.py) is read instead when the folder
holds its manifest: the same arrays, except the test images the exercise's cells do not load, which are zeros.

A variable that is set but names a missing folder or a folder without the file is an error straight away,
not a silent download: the learner meant the folder, and a download would hide the typo (or fail slowly
offline). CIFAR-10 is decoded from JPEG once and cached as an uncompressed ``.npz`` under
``KERAS_COURSE_CACHE`` (default ``~/.cache/keras-course``); later loads take well under a second.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from toolkit.data import archive as _cifar_archive
from toolkit.data import cache as _data_cache
from toolkit.data import subsets as _subsets
from toolkit.data import view as _view
from toolkit.data.cache import CACHE_ENV, cache_dir
from toolkit.data.errors import ChecksumError, DataNotFoundError
from toolkit.data.view import WithheldWarning

__all__ = [
    "CACHE_ENV",
    "CIFAR10_CLASSES",
    "DATA_ENV",
    "FILES",
    "CacheWarning",
    "ChecksumError",
    "DataNotFoundError",
    "WithheldWarning",
    "cache_dir",
    "full_arrays",
    "load_cifar10",
    "load_mnist",
    "subset_rows",
    "verify_file",
]

DATA_ENV = "KERAS_COURSE_DATA"
CIFAR10_CLASSES = _cifar_archive.CLASSES
# The full CIFAR-10 arrays come in one fixed order (like Keras's), whatever ``seed`` is: shuffled once with
# this seed, because the archive keeps classes together and validation_split takes the LAST samples.
FULL_ORDER_SEED = 0

Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataFile(NamedTuple):
    name: str
    sha256: str
    sizes: tuple[int, int]  # train, test


# The digests come from the data folder's README (/work/shared/data/README.md in the course's build machines).
_MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
_CIFAR10_SHA256 = "7854ea059adc7729ab5267c5269ccc01e6eaeea6549d5f3c834c106bae86e8ee"
FILES = {
    "mnist": DataFile("mnist.npz", _MNIST_SHA256, (60000, 10000)),
    "cifar10": DataFile("cifar10-jpeg.tar.gz", _CIFAR10_SHA256, (50000, 10000)),
}
_KEYS = ("x_train", "y_train", "x_test", "y_test")


class CacheWarning(UserWarning):
    """The cache could not be written; loading still works, but repeats the slow work next time."""


def load_mnist(limit: int | tuple[int, int] | None = None, seed: int = 0) -> Splits:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (N, 28, 28), uint8 labels (N,).

    ``limit``: None for all 60,000 + 10,000 images, an int for that many per split, or ``(n_train, n_test)``;
    a subset is class-balanced (counts differ by at most 1 where the classes are big enough) and shuffled,
    chosen by ``seed``. The full arrays are in the official order and do not depend on ``seed``.
    """
    return _load("mnist", limit, seed)


def load_cifar10(limit: int | tuple[int, int] | None = None, seed: int = 0) -> Splits:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (N, 32, 32, 3), uint8 labels (N, 1).

    Class index = position in :data:`CIFAR10_CLASSES` (airplane=0 ... truck=9). ``limit`` and ``seed`` as in
    :func:`load_mnist`. The full arrays come in one fixed shuffled order that does not depend on ``seed``.
    """
    return _load("cifar10", limit, seed)


def _load(name: str, limit: object, seed: object) -> Splits:
    loader = f"load_{name}"
    _subsets.parse_limit(loader, limit, FILES[name].sizes)  # bad arguments fail before slow work
    _subsets.check_seed(loader, seed)
    # Every source ends in the same steps: full order, shape checks, then the seeded subset below.
    arrays, kept = _source_arrays(name)
    x_train, y_train, x_test, y_test = (arrays[key] for key in _KEYS)
    rows = subset_rows(name, limit, seed, y_train, y_test)
    if rows is None:
        splits = (x_train, y_train), (x_test, y_test)
    else:
        train, test = rows
        splits = (x_train[train], y_train[train]), (x_test[test], y_test[test])
        kept = None if kept is None else kept[test]
    if kept is not None:
        _view.warn_withheld(f"{loader}(limit={limit!r}, seed={seed!r})", kept)
    return splits


def subset_rows(
    name: str, limit: object, seed: object, y_train: np.ndarray, y_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows of the full training and test splits (labels ``y_train``, ``y_test``) that ``load_<name>(limit,
    seed)`` returns, in its order; None when ``limit`` is None (all of them)."""
    loader = f"load_{name}"
    counts = _subsets.parse_limit(loader, limit, FILES[name].sizes)
    rng = np.random.default_rng(_subsets.check_seed(loader, seed))
    if counts is None:
        return None
    # The training rows are drawn first, from the same generator: the test rows depend on both counts.
    return _subsets.stratified(y_train, counts[0], rng), _subsets.stratified(y_test, counts[1], rng)


def _source_arrays(name: str) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """All of ``name`` in the course's full order and, from a grader's data view, its mask of kept test images
    (None from the data folder or a download: every image is there)."""
    folder = data_dir()
    if folder is not None and _view.is_view(folder):
        arrays, kept = _view.read(folder, name)
        return _checked(name, arrays, f"grader's data view {folder}"), kept
    return full_arrays(name), None


def full_arrays(name: str) -> dict[str, np.ndarray]:
    """All of ``name`` (``mnist`` or ``cifar10``) in the course's full order, from the ``KERAS_COURSE_DATA`` folder
    (checksummed) or Keras's download: ``x_train``, ``y_train``, ``x_test``, ``y_test``."""
    path = _local_file(name)
    return _download(name) if path is None else _read_local(name, path)


def data_dir() -> Path | None:
    """The folder named by ``KERAS_COURSE_DATA``, or None if the variable is unset or empty."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _local_file(name: str) -> Path | None:
    """The data file in the ``KERAS_COURSE_DATA`` folder; None if the variable is unset; else an error."""
    folder = data_dir()
    if folder is None:
        return None
    file_name = FILES[name].name
    unset = f"or unset {DATA_ENV} to let Keras download {name} when you are online"
    if not folder.is_dir():
        raise DataNotFoundError(
            f"{DATA_ENV} is set to {str(folder)!r}, but that folder does not exist. Set it to the folder "
            f"that holds {FILES['mnist'].name} and {FILES['cifar10'].name}, {unset}."
        )
    path = folder / file_name
    if not path.is_file():
        present = sorted(p.name for p in folder.iterdir())
        listing = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "") if present else "nothing"
        raise DataNotFoundError(
            f"{DATA_ENV} is set to {str(folder)!r}, but {file_name} is not in that folder "
            f"(it holds: {listing}). Put {file_name} there, set {DATA_ENV} to the folder that holds it, "
            f"{unset}."
        )
    return path


def _download(name: str) -> dict[str, np.ndarray]:
    """Keras's own ``load_data()`` (needs the internet); a failure becomes a DataNotFoundError."""
    from toolkit._keras import keras  # here, so that importing this module does not start TensorFlow

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as err:
        files = f"{FILES['mnist'].name} and {FILES['cifar10'].name}"
        raise DataNotFoundError(
            f"{name} is not available offline and could not be downloaded. The environment variable "
            f"{DATA_ENV} is not set, so keras.datasets.{name}.load_data() tried to download it and failed: "
            f"{err}. "
            f"Fix it one of two ways: (1) set {DATA_ENV} to a folder holding {files} (in a shell: "
            f"export {DATA_ENV}=/path/to/data; in a notebook, before loading: "
            f"os.environ['{DATA_ENV}'] = '/path/to/data'), or (2) connect to the internet and load again."
        ) from err
    arrays = {key: np.ascontiguousarray(np.asarray(a)) for key, a in zip(_KEYS, (x_train, y_train, x_test, y_test))}
    return _checked(name, full_order(arrays) if name == "cifar10" else arrays, "keras.datasets download")


def _checked(name: str, arrays: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """``arrays`` if they have the shapes and dtypes of ``keras.datasets.<name>.load_data()``, else ValueError."""
    n_train, n_test = FILES[name].sizes
    image = (28, 28) if name == "mnist" else (32, 32, 3)
    label: tuple[int, ...] = () if name == "mnist" else (1,)
    shapes = ((n_train, *image), (n_train, *label), (n_test, *image), (n_test, *label))
    for key, shape in zip(_KEYS, shapes):
        a = arrays[key]
        if a.shape != shape or a.dtype != np.uint8:
            raise ValueError(
                f"{name} from the {source} has {key} of shape {a.shape} and dtype {a.dtype}, expected {shape} "
                f"uint8; the file is damaged or from another release: delete it (and the cache "
                f"{cache_dir()}) and load again."
            )
    return arrays


def full_order(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """CIFAR-10 in the course's one fixed order, from either source: sorted by class (stably, so each class
    keeps its own order), then shuffled with ``FULL_ORDER_SEED``.

    The offline archive is already sorted by class (NNNN is the image's position within its class in the
    official release), so for it the sort changes nothing; Keras's download interleaves the classes, and the
    sort brings it to the same order. Both then get the same permutation.
    """
    rng = np.random.default_rng(FULL_ORDER_SEED)
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        order = np.argsort(y.reshape(-1), kind="stable")[rng.permutation(len(y))]
        out[f"x_{split}"], out[f"y_{split}"] = x[order], y[order]
    return out


def verify_file(path: Path, expected: str) -> None:
    """Raise ChecksumError unless the SHA-256 of ``path`` is ``expected``; remember a match in the cache."""
    if _data_cache.recorded_digest(path) == expected:
        return
    actual = _data_cache.sha256_of(path)
    if actual != expected:
        raise ChecksumError(
            f"{path} is damaged or not the expected file: its SHA-256 is {actual}, expected {expected} "
            f"({path.stat().st_size} bytes read). Replace it with a fresh copy of {path.name} "
            "(the data folder's README lists the digests); nothing was loaded or cached from it."
        )
    try:
        _data_cache.record_digest(path, actual)
    except OSError as err:
        _warn_cache(cache_dir(), err, f"{path.name} will be checksummed again on every load")


def _read_local(name: str, path: Path) -> dict[str, np.ndarray]:
    verify_file(path, FILES[name].sha256)
    if name == "mnist":
        with np.load(path, allow_pickle=False) as data:
            return _checked(name, {key: data[key] for key in _KEYS}, f"file {path}")
    return _checked(name, _cifar_arrays(path), f"file {path}")


def _cifar_arrays(path: Path) -> dict[str, np.ndarray]:
    """The shuffled CIFAR-10 arrays from the cache, else decoded from ``path`` and cached."""
    target = cache_dir() / f"cifar10-{FILES['cifar10'].sha256[:16]}-order{FULL_ORDER_SEED}.npz"
    cached = _data_cache.load_arrays(target, _KEYS)
    if cached is not None and _has_cifar_shapes(cached):
        return cached
    arrays = full_order(_cifar_archive.decode_archive(path))
    try:
        _data_cache.save_arrays(target, arrays)
    except OSError as err:
        _warn_cache(target, err, "CIFAR-10 was decoded in memory and will be decoded again next time")
    return arrays


def _has_cifar_shapes(arrays: dict[str, Any]) -> bool:
    n_train, n_test = FILES["cifar10"].sizes
    shapes = ((n_train, 32, 32, 3), (n_train, 1), (n_test, 32, 32, 3), (n_test, 1))
    return all(arrays[k].shape == s and arrays[k].dtype == np.uint8 for k, s in zip(_KEYS, shapes))


def _warn_cache(where: Path, err: OSError, consequence: str) -> None:
    reason = err.strerror or str(err)
    warnings.warn(
        f"The cache could not be written at {where} ({reason}); {consequence}. Set {CACHE_ENV} to a writable "
        "folder with some free space (about 200 MB) to keep it.",
        CacheWarning,
        stacklevel=8,  # the learner's call of load_mnist / load_cifar10
    )
