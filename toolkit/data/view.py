"""A grader's data view: a folder holding the data sets as a graded notebook may see them (course/sandbox/data_view.py).

When ``KERAS_COURSE_DATA`` names a folder holding :data:`MANIFEST`, ``load_mnist``/``load_cifar10`` read the view
instead of ``mnist.npz``/``cifar10-jpeg.tar.gz``: neither the original files nor the CIFAR-10 cache are needed.
Each data set is one uncompressed ``.npz`` holding the arrays in the course's full order (the order the original
files give, so a seeded subset picks the same rows) and a boolean ``test_kept``: the test images the exercise's
locked cells load. Every other test image is zeros, so the images the grader measures accuracy on are not in it;
the training split and every label are complete. The manifest records each file's SHA-256, checked on every load
(about 0.1 s for CIFAR-10's 180 MB): the view is read-only in the sandbox, the check catches a damaged file.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.data import cache as _data_cache
from toolkit.data.errors import ChecksumError, DataNotFoundError

MANIFEST = "keras-course-data-view.json"
FORMAT = "keras-course grader data view"
VERSION = 1
KEYS = ("x_train", "y_train", "x_test", "y_test")
KEPT = "test_kept"

Arrays = dict[str, np.ndarray]


class WithheldWarning(UserWarning):
    """A load in a grader's data view returned test images the grader withheld (zeros)."""


def is_view(folder: Path) -> bool:
    """True if ``folder`` is a grader's data view (it holds the manifest)."""
    return (folder / MANIFEST).is_file()


def write(folder: Path, datasets: dict[str, tuple[Arrays, np.ndarray]], note: str) -> None:
    """Write a view of ``datasets`` (name -> its full-order arrays and the mask of test images to keep) into the
    existing ``folder``; test images outside the mask become zeros. The manifest comes last: until it exists, the
    folder is no view."""
    entries: dict[str, Any] = {}
    for name, (arrays, kept) in datasets.items():
        if kept.dtype != bool or kept.shape != (len(arrays["x_test"]),):
            raise ValueError(f"the mask of kept {name} test images must be bool of shape ({len(arrays['x_test'])},)")
        x_test = arrays["x_test"].copy()
        x_test[~kept] = 0
        target = folder / f"{name}-view.npz"
        _data_cache.save_arrays(target, {**arrays, "x_test": x_test, KEPT: kept})
        entries[name] = {
            "file": target.name,
            "sha256": _data_cache.sha256_of(target),
            "test_images_kept": int(kept.sum()),
            "test_images": int(kept.size),
        }
    manifest = {"format": FORMAT, "version": VERSION, "note": note, "datasets": entries}
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    _data_cache.atomic_write(folder / MANIFEST, lambda handle: handle.write(text))


def read(folder: Path, name: str) -> tuple[Arrays, np.ndarray]:
    """The arrays of ``name`` in the view ``folder`` and its mask of kept test images, after checking the file's
    SHA-256 against the manifest. DataNotFoundError if the view lacks ``name``; ChecksumError if the file differs."""
    entry = _entry(folder, name)
    path = folder / entry["file"]
    try:
        actual = _data_cache.sha256_of(path)
    except OSError as err:
        raise DataNotFoundError(
            f"{path} of the grader's data view {folder} cannot be read ({err.strerror or err}); grade again: the "
            "grader writes a new view for every grading run."
        ) from None
    if actual != entry["sha256"]:
        raise ChecksumError(
            f"{path} of the grader's data view is damaged: its SHA-256 is {actual}, its manifest says "
            f"{entry['sha256']}. Grade again: the grader writes a new view for every grading run."
        )
    with np.load(path, allow_pickle=False) as data:
        arrays, kept = {key: data[key] for key in KEYS}, data[KEPT]
    if kept.dtype != bool or kept.shape != (len(arrays["x_test"]),):
        raise ValueError(f"{path} of the grader's data view has a damaged {KEPT!r} mask; grade again.")
    return arrays, kept


def _entry(folder: Path, name: str) -> dict[str, str]:
    """The manifest's entry for ``name``, checked; ValueError for a manifest that is not a view's."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        entries = manifest["datasets"] if manifest["format"] == FORMAT and manifest["version"] == VERSION else None
    except (OSError, ValueError, KeyError, TypeError):
        entries = None
    if not isinstance(entries, dict):
        raise ValueError(
            f"{path} is not a manifest of a grader's data view ({FORMAT!r}, version {VERSION}); point "
            "KERAS_COURSE_DATA at the folder holding mnist.npz and cifar10-jpeg.tar.gz instead."
        )
    entry = entries.get(name)
    if entry is None:
        held = ", ".join(sorted(entries)) or "no data set"
        raise DataNotFoundError(
            f"{folder} is a grader's data view holding {held}: this exercise's own cells do not load {name}, so "
            f"a notebook being graded cannot load it either. Load only the data the exercise's cells load."
        )
    file = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(file, str) or os.path.basename(file) != file or not isinstance(entry.get("sha256"), str):
        raise ValueError(f"{path} has a damaged entry for {name} ({entry!r}); grade again.")
    return entry


def warn_withheld(call: str, kept: np.ndarray) -> None:
    """Warn if ``call`` (e.g. ``load_mnist(limit=10, seed=1)``) returns withheld test images; ``kept``: its rows'
    mask of kept images."""
    withheld = int((~kept).sum())
    if withheld:
        warnings.warn(
            f"{call} returned {withheld} of its {kept.size} test images as zeros: while a notebook is graded, only "
            "the test images the exercise's own cells load are there (the grader tests on the others). Load the "
            "data with the exercise's own arguments.",
            WithheldWarning,
            stacklevel=4,  # the learner's call of load_mnist / load_cifar10
        )
