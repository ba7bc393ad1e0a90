"""Files the grader reads and writes: finding and parsing submissions, naming and placing its outputs safely.

Every submission file becomes one row, whatever it is; a file that cannot be graded gets a sentence saying what is
wrong with it and how to fix it (:class:`Unreadable`). Outputs go only inside ``--out``, never through a link.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nbformat

SUFFIX = ".ipynb"
MAX_BYTES = 50 * 1024 * 1024
CELL_TYPES = ("code", "markdown", "raw")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Terminal escape sequences (colours, OSC links; 7-bit and the 8-bit CSI) that students' errors and file names carry.
_TERMINAL = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
# Controls (C0, C1), format characters (bidi overrides and isolates, zero-width, soft hyphen, BOM) and lone surrogates:
# they change how text shows, or cannot be written as UTF-8, without being seen.
_INVISIBLE = ("Cc", "Cf", "Cs")
_BREAKS = ("Zl", "Zp")  # U+2028, U+2029: line breaks to a renderer and to str.splitlines()
# Characters that may be one of those: all but printable ASCII, Latin-1 (bar the soft hyphen) to Hebrew, CJK and Hangul,
# which hold none of them (tests/test_names.py checks); only these are looked up, so English and Chinese text is fast.
_SUSPECT = re.compile(r"[^\x20-\x7e\n\t\xa0-\xac\xae-\u05ff\u3000-\u9fff\uac00-\ud7a3]")
UNNAMED = "unnamed"  # the display name of a file whose name is only invisible characters
# Names Windows keeps for devices, whatever the extension: "CON.md" cannot be created there.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}


class Unreadable(ValueError):
    """The submission is not a notebook; the message says why in plain words."""


def is_submission_name(name: str) -> bool:
    return name.lower().endswith(SUFFIX) and len(name) > len(SUFFIX)


def strip_invisible(text: str) -> str:
    """``text`` without terminal escapes, control, bidi and other format characters; newlines and tabs stay.

    Unicode line and paragraph separators become newlines, so that whoever splits the text sees every line break.
    """
    return _SUSPECT.sub(_visible, _TERMINAL.sub("", text))


def _visible(match: re.Match[str]) -> str:
    kind = unicodedata.category(match.group())
    return "" if kind in _INVISIBLE else "\n" if kind in _BREAKS else match.group()


def display_name(text: str) -> str:
    """``text`` as a name to show: one line, nothing invisible (``ali\\u202efdp.exe`` shows as ``alifdp.exe``), NFC."""
    one_line = "".join(" " if ch in "\n\t" else ch for ch in strip_invisible(text))
    return unicodedata.normalize("NFC", one_line) or UNNAMED


def decode_name(raw: bytes) -> str:
    """A file name's bytes as text: UTF-8 when they are UTF-8, else Windows-1252, else Latin-1 (a zip from an old
    Windows machine names ``Zoë`` ``Zo\\xeb``); never a replacement character, so distinct bytes stay distinct text."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")  # every byte is a character: cannot fail


def student_name(path: Path) -> str:
    """The file name without its ``.ipynb`` suffix (in any case), decoded and made displayable (:func:`display_name`).

    Two files can get the same name this way (``Zoë`` in UTF-8 and in Latin-1, or names that differ only in
    invisible characters): :func:`student_names` names a whole folder's files distinctly.
    """
    return display_name(decode_name(os.fsencode(path.name)[: -len(SUFFIX)]))


def _distinct(wanted: Sequence[str], alternative: Callable[[int, int], str], key: Callable[[str], str]) -> list[str]:
    """``wanted`` where no two are equal under ``key``: each entry that clashes becomes ``alternative(i, k)``, with
    ``k`` = 0, 1, ... until it is free.

    Every entry of a clash is renamed (there is no first-come winner, so a name does not depend on which other files
    exist, unless an alternative is taken too); the loop guarantees distinct results, whatever the names.
    """
    counts = Counter(key(w) for w in wanted)
    taken = {key(w) for w in wanted if counts[key(w)] == 1}
    result = []
    for i, name in enumerate(wanted):
        if counts[key(name)] > 1:
            k = 0
            while key(name := alternative(i, k)) in taken:
                k += 1
            taken.add(key(name))
        result.append(name)
    return result


def _digest(text: str | bytes, length: int = 10) -> str:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:length]


def student_names(paths: Sequence[Path]) -> list[str]:
    """One distinct student name per submission file, for a whole folder at once.

    A name is :func:`student_name`, or the whole file name for files that differ only in the suffix's case
    (``a.ipynb`` and ``a.IPYNB``); names that are still the same (``Zoë`` in UTF-8 and in Latin-1, names that differ
    only in invisible characters) are followed by a digest of the file name's bytes (``Zoë [1a2b3c4d]``).
    """
    raw = [os.fsencode(p.name) for p in paths]
    same_stem = Counter(name[: -len(SUFFIX)] for name in raw)
    wanted = [
        display_name(decode_name(name)) if same_stem[name[: -len(SUFFIX)]] > 1 else student_name(path)
        for name, path in zip(raw, paths)
    ]

    def tagged(i: int, k: int) -> str:
        return f"{wanted[i]} [{_digest(raw[i], 8)}{f'-{k}' if k else ''}]"

    return _distinct(wanted, tagged, key=str)


def find_submissions(folder: Path) -> list[Path]:
    """Every entry of ``folder`` named ``*.ipynb`` in any case (files, folders, links alike), sorted by name.

    Names may be any bytes (a zip made on another system); :func:`student_names` makes them displayable.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist; pass the folder holding the .ipynb files")
    try:
        entries = list(folder.iterdir())
    except OSError as err:
        raise ValueError(f"cannot list the submissions folder {folder} ({err.strerror}); make it readable") from None
    paths = sorted((p for p in entries if is_submission_name(p.name)), key=lambda p: os.fsencode(p.name))
    if not paths:
        raise FileNotFoundError(f"no .ipynb files in {folder}; each student's notebook should be one file there")
    return paths


def select_students(students: Sequence[str], only: Sequence[str], folder: Path) -> list[int]:
    """The indexes in ``students`` (a folder's student names, in its order) of those ``only`` names (``--only``).

    Each entry of ``only`` is one name when it is one exactly (a name may hold a comma), else names separated by
    commas. ValueError, one sentence with the close matches, when a name is no student's: nothing is graded then.
    """
    wanted: list[str] = []
    for value in only:
        wanted += [value] if value in students else [n.strip() for n in value.split(",") if n.strip()]
    unknown = [name for name in dict.fromkeys(wanted) if name not in students]
    if unknown or not wanted:
        parts = [f"{name!r} ({_close(name, students)})" for name in unknown] or ["nobody (the list is empty)"]
        shown = ", ".join(students[:8]) + (", ..." if len(students) > 8 else "")
        raise ValueError(
            f"--only: no submission in {folder} is named {' or '.join(parts)}; give names as the gradebook's student "
            f"column shows them, separated by commas (the folder holds {len(students)}: {shown})"
        )
    chosen = set(wanted)
    return [i for i, name in enumerate(students) if name in chosen]


def _close(name: str, students: Sequence[str]) -> str:
    matches = difflib.get_close_matches(name, students, n=3, cutoff=0.6)
    folded = [s for s in students if s.casefold() == name.casefold() and s not in matches]
    found = [*folded, *matches]
    return f"did you mean {' or '.join(found)}?" if found else "no close match"


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


def safe_file_name(student: str, suffix: str, limit: int = 80, *, salt: str | None = None) -> str:
    """A file name for ``student``'s output: safe characters only, short, and a digest of ``student`` (and ``salt``)
    when it had to change, is a name Windows reserves (``CON``) or ``salt`` is given.

    Two students can still get the same name (a file may be named like another's output): use
    :func:`output_names` for a batch.
    """
    cleaned = _SAFE.sub("_", student).lstrip("._-")[:limit]
    if salt is not None or cleaned != student or not cleaned or cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = f"{cleaned}-{_digest(student + (salt or ''))}"
    return cleaned + suffix


def output_names(students: Sequence[str], suffix: str) -> list[str]:
    """One output file name per entry of ``students`` (duplicates included), distinct even ignoring case, as on
    macOS and Windows: :func:`safe_file_name`, with a digest where two would be the same file there."""

    def salted(i: int, k: int) -> str:
        return safe_file_name(students[i], suffix, salt=f"#{k}" if k else "")

    return _distinct([safe_file_name(s, suffix) for s in students], salted, key=str.casefold)


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


def copy_regular_files(
    source: Path, target: Path, limit: int, *, max_files: int = 1000, skipped: list[str] | None = None
) -> int:
    """Copy ``source/<folder>/<file>`` regular files into ``target/<folder>/``: no links followed, nothing deeper.

    Returns the bytes copied; raises ValueError once more than ``limit`` bytes or ``max_files`` files would be
    copied (what a student's process wrote, e.g. exported objects or probe answers, is never trusted to be small).
    What is left out (links, folders, devices, files directly in ``source``) is named ``<folder>/<name>`` in
    ``skipped`` when a list is given, so that the caller can say so.
    """
    import shutil

    total = count = 0
    if source.is_symlink() or not source.is_dir():
        return total
    for folder in sorted(source.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            if skipped is not None:
                skipped.append(folder.name)
            continue
        for path in sorted(folder.iterdir()):
            if path.is_symlink() or not path.is_file():
                if skipped is not None:
                    skipped.append(f"{folder.name}/{path.name}")
                continue
            total += path.stat().st_size
            count += 1
            if total > limit:
                raise ValueError(
                    f"the exported objects take more than {limit / 2**20:g} MB, the most the grader verifies: "
                    "export smaller objects (a model without its optimizer state, fewer arrays)"
                )
            if count > max_files:
                raise ValueError(f"more than {max_files} exported files; the grader verifies only what its checks read")
            (target / folder.name).mkdir(exist_ok=True)
            shutil.copyfile(path, target / folder.name / path.name, follow_symlinks=False)
    return total
