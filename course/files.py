"""Files the grader reads and writes: finding and parsing submissions, naming and placing its outputs safely.

Every submission file becomes one row, whatever it is; a file that cannot be graded gets a sentence saying what is
wrong with it and how to fix it (:class:`Unreadable`). Outputs go only inside ``--out``, never through a link.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import nbformat

SUFFIX = ".ipynb"
MAX_BYTES = 50 * 1024 * 1024
CELL_TYPES = ("code", "markdown", "raw")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Unreadable(ValueError):
    """The submission is not a notebook; the message says why in plain words."""


def is_submission_name(name: str) -> bool:
    return name.lower().endswith(SUFFIX) and len(name) > len(SUFFIX)


def student_name(path: Path) -> str:
    """The file name without its ``.ipynb`` suffix, whatever its case."""
    stem = path.name[: -len(SUFFIX)]
    return stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # undecodable bytes in a name


def find_submissions(folder: Path) -> list[Path]:
    """Every entry of ``folder`` named ``*.ipynb`` in any case (files, folders, links alike), sorted by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist; pass the folder holding the .ipynb files")
    paths = sorted((p for p in folder.iterdir() if is_submission_name(p.name)), key=lambda p: p.name)
    if not paths:
        raise FileNotFoundError(f"no .ipynb files in {folder}; each student's notebook should be one file there")
    return paths


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing links, folders and other non-files with a sentence a student understands."""
    try:
        info = os.lstat(path)
    except OSError as err:
        raise Unreadable(f"the file could not be read ({err.strerror}); hand it in again") from None
    if stat.S_ISLNK(info.st_mode):
        raise Unreadable(
            "the file is a symbolic link, not a notebook; links are refused because they point at files that are "
            "not yours to hand in: hand in the notebook file itself"
        )
    if stat.S_ISDIR(info.st_mode):
        raise Unreadable("it is a folder, not a notebook file; hand in the .ipynb file itself, not a folder")
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable("it is not a regular file (a device or a pipe?); hand in the .ipynb file itself")
    if info.st_size > MAX_BYTES:
        raise Unreadable(f"the file is {info.st_size // 2**20} MB; clear the outputs (Edit > Clear Outputs) and save")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise Unreadable("the file is a symbolic link; hand in the notebook file itself") from None
        raise Unreadable(f"the file could not be read ({err.strerror}); hand it in again") from None


def _check_cells(cells: Any) -> None:
    if not isinstance(cells, list):
        raise Unreadable("the file is JSON but not a Jupyter notebook (it has no list of cells)")
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            raise Unreadable(f"cell {i} is not a cell (got {type(cell).__name__}); save it again from Jupyter")
        kind = cell.get("cell_type")
        if kind not in CELL_TYPES:
            raise Unreadable(f"cell {i} has no valid cell_type (got {kind!r}); save it again from Jupyter")
        source = cell.get("source")
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            got = "no source" if "source" not in cell else f"source {json.dumps(source)[:40]}"
            raise Unreadable(f"cell {i} has no text ({got}); open the notebook and save it again from Jupyter")


def read_submission(path: Path) -> Any:
    """Parse a submission (nbformat 3 is upgraded to 4) without ever writing to it or following a link."""
    data = _read_bytes(path)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise Unreadable(f"the file is not valid JSON ({str(err)[:120]}); save it again from Jupyter") from None
    if not isinstance(raw, dict):
        raise Unreadable("the file is JSON but not a Jupyter notebook (it has no list of cells)")
    if raw.get("nbformat") == 3 and isinstance(raw.get("worksheets"), list):
        try:
            upgraded = nbformat.convert(nbformat.from_dict(raw), 4)
        except Exception as err:  # noqa: BLE001  (nbformat's converters raise many kinds of errors)
            raise Unreadable(f"this old (version 3) notebook could not be upgraded ({str(err)[:120]})") from None
        raw = json.loads(nbformat.writes(upgraded))
    _check_cells(raw.get("cells"))
    try:
        nb = nbformat.from_dict(raw)
        nb = nbformat.convert(nb, 4) if nb.get("nbformat") != 4 else nb
    except Exception as err:  # noqa: BLE001  (nbformat raises many kinds of errors on bad notebooks)
        raise Unreadable(f"the notebook could not be read ({str(err)[:120]})") from None
    nb.setdefault("metadata", nbformat.NotebookNode())
    for cell in nb.cells:
        cell.setdefault("metadata", nbformat.NotebookNode())
        if not isinstance(cell.metadata, dict):
            cell.metadata = nbformat.NotebookNode()
        if isinstance(cell.get("source"), list):  # tolerate hand-edited JSON
            cell.source = "".join(cell.source)
    return nb


def safe_file_name(student: str, suffix: str, limit: int = 80) -> str:
    """A file name for ``student``'s output: safe characters only, short, and unique (a digest when changed)."""
    cleaned = _SAFE.sub("_", student).lstrip("._-")[:limit]
    if cleaned != student or not cleaned:
        cleaned = f"{cleaned}-{hashlib.sha256(student.encode()).hexdigest()[:10]}"
    return cleaned + suffix


def check_out_dir(out: Path) -> None:
    """Refuse an ``--out`` that is a link, a file or unwritable, before any grading starts (raises ValueError)."""
    for path in (out, out / "feedback", out / "gradebook.csv"):
        if path.is_symlink():
            raise ValueError(
                f"--out: {path} is a symbolic link; the grader writes only into real folders. Remove the link or "
                "pass another --out"
            )
    for path in (out, out / "feedback"):
        if path.exists() and not path.is_dir():
            raise ValueError(f"--out: {path} is not a folder (it is a file); pass a folder, e.g. --out grades/ex01")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out: {parent} is not a folder, so {out} cannot be created; pass another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".course-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out: cannot write to {out} ({err.strerror}); pass a folder you can write to") from None


def copy_regular_files(source: Path, target: Path, limit: int) -> int:
    """Copy ``source/<folder>/<file>`` regular files into ``target/<folder>/``: no links followed, nothing deeper.

    Returns the bytes copied; raises ValueError once more than ``limit`` bytes would be copied (what a student's
    process wrote, e.g. exported objects or probe answers, is never trusted to be small).
    """
    import shutil

    total = 0
    if source.is_symlink() or not source.is_dir():
        return total
    for folder in source.iterdir():
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > limit:
                raise ValueError("the exported objects are too large to verify")
            (target / folder.name).mkdir(exist_ok=True)
            shutil.copyfile(path, target / folder.name / path.name, follow_symlinks=False)
    return total
