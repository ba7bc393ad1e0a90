"""The loaders' cache directory: atomic writes of arrays and a record of files whose checksum was verified.

Hashing the data files (11 MB and 19 MB) on every load would cost more than the load itself, so a file whose
SHA-256 matched once is recorded with its size and modification time; while those are unchanged, it is not
hashed again. Only matching digests are recorded, so nothing is remembered about a corrupted file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

CACHE_ENV = "KERAS_COURSE_CACHE"
DEFAULT_CACHE = Path("~/.cache/keras-course")
_RECORD_NAME = "verified-checksums.json"


def cache_dir() -> Path:
    """The folder named by ``KERAS_COURSE_CACHE``, else ``~/.cache/keras-course`` (not created here)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_CACHE.expanduser()


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """The hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _read_records() -> dict[str, dict[str, object]]:
    try:
        records = json.loads((cache_dir() / _RECORD_NAME).read_text())
    except (OSError, ValueError):  # no record yet, unreadable or half-written by an old version: re-hash
        return {}
    return records if isinstance(records, dict) else {}


def recorded_digest(path: Path) -> str | None:
    """The digest recorded for ``path`` if its size and modification time are unchanged, else None."""
    name, size, mtime_ns = _file_key(path)
    entry = _read_records().get(name)
    if isinstance(entry, dict) and entry.get("size") == size and entry.get("mtime_ns") == mtime_ns:
        digest = entry.get("sha256")
        return digest if isinstance(digest, str) else None
    return None


def record_digest(path: Path, digest: str) -> None:
    """Remember that ``path`` (at its current size and mtime) has ``digest``; raises OSError if unwritable."""
    name, size, mtime_ns = _file_key(path)
    records = _read_records()
    records[name] = {"size": size, "mtime_ns": mtime_ns, "sha256": digest}
    text = json.dumps(records, indent=1, sort_keys=True).encode()
    atomic_write(cache_dir() / _RECORD_NAME, lambda handle: handle.write(text))


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a temporary file next to ``target``, then rename it over ``target``.

    Readers see the old file or the complete new one, never a half-written one; on any error the temporary
    file is removed and the error propagates (OSError for a read-only or full disk).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0o600); a cache file is as readable as any other
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_arrays(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save ``arrays`` as an uncompressed ``.npz`` at ``target`` atomically; raises OSError on failure.

    Uncompressed, because ``np.load`` then reads the 180 MB of CIFAR-10 in a fraction of a second.
    """
    atomic_write(target, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]


def load_arrays(source: Path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` from the ``.npz`` at ``source``, or None if it is missing or unreadable."""
    # Absent, or damaged (say by a crash of an older version): the caller decodes again and replaces it.
    try:
        with np.load(source, allow_pickle=False) as data:
            return {name: data[name] for name in names}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
