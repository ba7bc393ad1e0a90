"""Checks of an exported file made before the trusted worker loads it: sizes, types and counts read from headers.

What a student's kernel exported (course/verification/trusted.py) is hostile input to the trusted worker. A few
kilobytes can
declare gigabytes: an ``.npy`` header declaring a huge shape, a zip archive (``.npz``, ``.keras``) whose entries
inflate to gigabytes, a ``.keras`` model whose ``config.json`` declares a layer of millions of units (Keras builds
it, allocating its weights, before it reads a single weight). Each check here reads only a header, a zip's central
directory or a bounded ``config.json``, and raises :class:`Refused` with one sentence before anything is allocated,
inflated or extracted. No NumPy array is built and nothing is imported from Keras. The worker's own limits
(address space, CPU seconds, file size: course/verification/trusted.py) stop whatever these estimates miss.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

MB = 2**20
MAX_ARRAY_BYTES = 256 * MB  # one array, as its header declares it (shape x itemsize)
MAX_ARCHIVE_BYTES = 512 * MB  # all entries of one .npz or .keras, uncompressed, as its central directory declares
MAX_ENTRIES = 256  # entries of one zip archive (a model: config, metadata, weights, a few assets)
MAX_JSON_BYTES = 16 * MB  # an exported plain value, or a model's config.json
MAX_OBJECTS = 4096  # objects a model's config.json declares (layers, initializers, ...; a ResNet: a few hundred)
MAX_LAYER_SIZE = 65_536  # any one declared size (units, filters, input_dim, ...) or dimension of a shape
MAX_INPUT_ELEMENTS = 2**24  # elements of one declared input shape (an image of 2048 x 2048 x 4)
SIZE_KEYS = ("units", "filters", "input_dim", "output_dim", "num_heads", "key_dim", "value_dim", "max_tokens",
             "num_tokens", "depth_multiplier", "output_sequence_length", "num_bins")  # fmt: skip
SHAPE_KEYS = ("batch_shape", "batch_input_shape", "input_shape", "shape", "target_shape", "kernel_size",
              "pool_size", "size", "strides", "dilation_rate", "dims")  # fmt: skip
NPY_MAGIC = b"\x93NUMPY"


class Refused(ValueError):
    """An exported file that is not loaded; the message says why in one sentence."""


def _mb(size: int) -> str:
    return f"{size / MB:,.0f} MB" if size >= MB else f"{size:,} bytes"


def check_file(path: Path) -> None:
    """Raise :class:`Refused` unless ``path`` (``.npy``, ``.npz``, ``.keras`` or ``.json``) is safe to load."""
    checks = {".npy": check_npy, ".npz": check_npz, ".keras": check_keras, ".json": check_json}
    if path.suffix not in checks:
        raise Refused(f"{path.name} is not a file type the grader loads (.keras, .npy, .npz or .json)")
    checks[path.suffix](path)


def check_json(path: Path) -> None:
    """A plain value: bounded size."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise Refused(f"{path.name} is {_mb(size)}, more than the {_mb(MAX_JSON_BYTES)} a plain value may take")


def _npy_header(stream: Any, name: str) -> tuple[tuple[int, ...], Any]:
    """The shape and dtype an ``.npy`` stream's header declares (the stream is left after the header)."""
    import numpy as np

    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read is None:
            raise Refused(f"{name} is a .npy file of version {version}; save arrays with numpy.save")
        shape, _, dtype = read(stream, max_header_size=10_000)
    except Refused:
        raise
    except Exception as err:  # noqa: BLE001  (numpy raises several kinds of errors on a damaged header)
        raise Refused(f"{name} is not a valid .npy file ({str(err)[:100]})") from None
    return tuple(shape), dtype


def _check_array(shape: tuple[int, ...], dtype: Any, name: str) -> int:
    """The bytes an array of ``shape`` and ``dtype`` takes; Refused past MAX_ARRAY_BYTES or for objects."""
    if dtype.hasobject:
        raise Refused(f"{name} holds Python objects (dtype {dtype}); export numbers, not objects")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise Refused(f"{name} declares an invalid shape {shape}")
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise Refused(
            f"{name} declares an array of shape {shape} ({dtype}), {_mb(size)}: more than the "
            f"{_mb(MAX_ARRAY_BYTES)} one exported array may take"
        )
    return size


def check_npy(path: Path) -> None:
    """One array: its header's shape x itemsize bounded, no object dtype, and the data really there."""
    with open(path, "rb") as f:
        shape, dtype = _npy_header(f, path.name)
        size = _check_array(shape, dtype, path.name)
        if path.stat().st_size - f.tell() < size:
            raise Refused(f"{path.name} is shorter than the array its header declares (a damaged file)")


def _entries(path: Path, limit: int) -> list[zipfile.ZipInfo]:
    """A zip archive's entries, from its central directory: count, names and declared sizes bounded."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise Refused(f"{path.name} is not a valid zip archive ({str(err)[:100]})") from None
    if len(entries) > MAX_ENTRIES:
        raise Refused(f"{path.name} holds {len(entries)} files, more than the {MAX_ENTRIES} an export may hold")
    total = 0
    for entry in entries:
        parts = entry.filename.split("/")
        if entry.filename.startswith("/") or ".." in parts or "\\" in entry.filename or "\0" in entry.filename:
            raise Refused(f"{path.name} holds a file named {entry.filename[:80]!r}, outside the archive")
        if entry.flag_bits & 1:
            raise Refused(f"{path.name} holds an encrypted file, {entry.filename[:80]!r}")
        total += entry.file_size
        if entry.file_size > limit or total > MAX_ARCHIVE_BYTES:
            raise Refused(
                f"{path.name} unpacks to more than {_mb(min(limit, MAX_ARCHIVE_BYTES))} "
                f"({entry.filename[:80]!r} alone declares {_mb(entry.file_size)}); export smaller objects"
            )
    return entries


def check_npz(path: Path) -> None:
    """Arrays by name (a trained model's layer weights): each entry an ``.npy`` whose header passes check_npy's
    bounds and fits in the entry's declared size, read from the central directory and the headers only."""
    entries = _entries(path, MAX_ARRAY_BYTES + MB)
    with zipfile.ZipFile(path) as archive:
        for entry in entries:
            where = f"{path.name}[{entry.filename[:80]}]"
            if not entry.filename.endswith(".npy"):
                raise Refused(f"{where} is not an array (.npy); save the weights with numpy.savez")
            with archive.open(entry) as stream:
                shape, dtype = _npy_header(stream, where)  # reads the first few hundred bytes only
                if _check_array(shape, dtype, where) > entry.file_size:
                    raise Refused(f"{where} declares more data than the archive holds (a damaged file)")


def check_keras(path: Path) -> None:
    """A saved model: its archive's entries bounded, then its config.json read (bounded) and its layers checked
    before Keras builds anything."""
    entries = {e.filename: e for e in _entries(path, MAX_ARCHIVE_BYTES)}
    config = entries.get("config.json")
    if config is None:
        raise Refused(f"{path.name} has no config.json: save the model with model.save('name.keras')")
    if config.file_size > MAX_JSON_BYTES:
        raise Refused(f"{path.name}'s config.json declares {_mb(config.file_size)}; a model's is far smaller")
    with zipfile.ZipFile(path) as archive, archive.open(config) as stream:
        text = stream.read(MAX_JSON_BYTES + 1)
    try:
        check_model_config(json.loads(text))
    except Refused as err:
        raise Refused(f"{path.name}: {err}") from None
    except (ValueError, RecursionError) as err:
        raise Refused(f"{path.name}'s config.json is not valid JSON ({str(err)[:100]})") from None


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every dict with a ``class_name`` in a Keras config (layers, nested models, initializers, ...)."""
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _ints(value: Any) -> list[int]:
    """The integers in a declared size or shape (an int, or a list of ints and nulls)."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def check_model_config(config: Any) -> None:
    """A model's config (config.json, parsed): at most MAX_OBJECTS objects, no declared size or dimension past
    MAX_LAYER_SIZE, no declared input shape of more than MAX_INPUT_ELEMENTS elements."""
    objects = _objects(config)
    if len(objects) > MAX_OBJECTS:
        raise Refused(f"the model declares {len(objects)} layers and settings, more than the {MAX_OBJECTS} allowed")
    for item in objects:
        settings = item.get("config")
        if not isinstance(settings, dict):
            continue
        name = str(settings.get("name", item.get("class_name")))[:60]
        build = item.get("build_config")
        shapes = {**settings, **(build if isinstance(build, dict) else {})}
        for key in (*SIZE_KEYS, *SHAPE_KEYS):
            for size in _ints(shapes.get(key)):
                if not 0 <= size <= MAX_LAYER_SIZE:
                    raise Refused(
                        f"its layer {name!r} declares {key}={size:,}; the grader loads models whose sizes are at "
                        f"most {MAX_LAYER_SIZE:,} (a layer that large would not fit in memory)"
                    )
        for key in ("batch_shape", "batch_input_shape", "input_shape", "shape"):
            dims = _ints(shapes.get(key))
            if isinstance(shapes.get(key), list) and math.prod(dims) > MAX_INPUT_ELEMENTS:
                raise Refused(f"its layer {name!r} declares the shape {shapes[key]}: too large to load")
