"""Decode the CIFAR-10 image-folder archive (``cifar10/{train,test}/{class}/NNNN.jpg``) into arrays.

The archive is read once, as a stream, and every JPEG is decoded with Pillow straight into a preallocated
array. Images land at (class, NNNN) positions, so the result does not depend on the order of the members.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PER_CLASS = {"train": 5000, "test": 1000}
IMAGE_SHAPE = (32, 32, 3)
_MEMBER = re.compile(r"^(?:\./)?cifar10/(train|test)/([a-z]+)/(\d+)\.jpg$")


def decode_archive(path: Path) -> dict[str, np.ndarray]:
    """Arrays ``x_train, y_train, x_test, y_test`` in class order (all airplanes first), labels shaped (N, 1).

    Raises ValueError naming the member if the archive does not have the expected layout.
    """
    images = {split: np.zeros((n * len(CLASSES), *IMAGE_SHAPE), np.uint8) for split, n in PER_CLASS.items()}
    seen = {split: np.zeros(n * len(CLASSES), bool) for split, n in PER_CLASS.items()}
    with tarfile.open(path, mode="r|gz") as archive:
        for member in archive:
            if not member.isfile():
                continue
            split, position = _position(member.name)
            handle = archive.extractfile(member)
            assert handle is not None  # regular files always have a payload
            images[split][position] = _decode(handle.read(), member.name)
            seen[split][position] = True
    for split, flags in seen.items():
        if not flags.all():
            missing = int((~flags).sum())
            raise ValueError(f"{path} lacks {missing} of its {flags.size} {split} images; it is damaged.")
    classes = np.arange(len(CLASSES), dtype=np.uint8)
    labels = {split: np.repeat(classes, n)[:, None] for split, n in PER_CLASS.items()}
    return {
        "x_train": images["train"],
        "y_train": labels["train"],
        "x_test": images["test"],
        "y_test": labels["test"],
    }


def _position(name: str) -> tuple[str, int]:
    """The split and row of the member ``name``: class index x images per class + NNNN."""
    match = _MEMBER.match(name)
    if match is None or match.group(2) not in CLASSES or int(match.group(3)) >= PER_CLASS[match.group(1)]:
        raise ValueError(
            f"unexpected member {name!r} in the CIFAR-10 archive; expected "
            f"cifar10/{{train,test}}/{{class}}/NNNN.jpg with a class among {', '.join(CLASSES)}."
        )
    split = match.group(1)
    return split, CLASSES.index(match.group(2)) * PER_CLASS[split] + int(match.group(3))


def _decode(data: bytes, name: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        if image.size != IMAGE_SHAPE[:2]:
            raise ValueError(f"{name} is {image.size[0]}x{image.size[1]} pixels; CIFAR-10 images are 32x32.")
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return np.frombuffer(rgb.tobytes(), np.uint8).reshape(IMAGE_SHAPE)
