"""What ``--out`` keeps so that no result is ever lost: one JSON record per student, the graded bytes, a run log.

Layout inside ``--out`` (GUIDE.md section 4)::

    records/<student>-<digest>.json     every result of that student (the truth; gradebook.csv is a rendering)
    submitted/<student>-<digest>/<sha256>.ipynb   the bytes that were graded, read-only (0444)
    runs.jsonl                          one line per run: who, when, grader version, exercise, files, statuses
    roster.json                         the last --roster, so later runs still export LMS identities

This module reads and writes those files (atomically, never through a link); it knows nothing of result classes, so
that course/reports/gradebook.py, which merges and renders, can use it without an import cycle.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import getpass
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from course.atomic_write import write_atomically
from course.grading.files import MAX_BYTES, safe_file_name

FORMAT = 1  # of a record; a reader refuses others
RECORDS, SUBMITTED, RUNS, ROSTER = "records", "submitted", "runs.jsonl", "roster.json"


def check_places(out: Path) -> None:
    """Refuse (ValueError) an ``--out`` whose records, copies, log or roster is a link or the wrong kind of file."""
    for name, folder in ((RECORDS, True), (SUBMITTED, True), (RUNS, False), (ROSTER, False)):
        path = out / name
        if path.is_symlink():
            raise ValueError(f"--out: {path} is a symbolic link; the grader writes only into real files and folders. "
                             "Remove the link or pass another --out")  # fmt: skip
        if path.exists() and path.is_dir() != folder:
            kind = "a folder" if folder else "a file"
            raise ValueError(f"--out: {path} should be {kind}; move it away or pass another --out")


def key(student: str) -> str:
    """The stable name of ``student``'s record and copies folder: readable, with a digest that keeps it distinct."""
    return safe_file_name(student, "", salt="")


def record_path(out: Path, student: str) -> Path:
    return out / RECORDS / f"{key(student)}.json"


def guessed_student(record: Path) -> str:
    """The student a record file is probably for, from its name (``bob-1a2b3c4d5e.json`` -> ``bob``)."""
    stem, _, digest = record.stem.rpartition("-")
    return stem if stem and len(digest) == 10 else record.stem


def read_records(out: Path) -> list[tuple[Path, Any]]:
    """(file, parsed JSON, or the ``ValueError`` that parsing raised) for every record in ``out``, sorted by file."""
    folder = out / RECORDS
    if not folder.is_dir():
        return []
    found: list[tuple[Path, Any]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append((path, json.loads(_read_regular(path))))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            found.append((path, ValueError(str(err)[:120])))
    return found


def _read_regular(path: Path) -> bytes:
    """A file's bytes without following a link (a record or a copy that became a link is not ours)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a pipe named like a record does not hang
    with os.fdopen(fd, "rb") as f:
        return f.read()


def check_record(data: Any) -> list[tuple[dict[str, Any], dict[str, str] | None]]:
    """(result, submission) of each entry of a parsed record; ValueError saying what is wrong with it.

    ``data`` may be the ValueError that parsing raised (:func:`read_records`): it is raised.
    """
    if isinstance(data, Exception):
        raise data
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"it is not a format {FORMAT} record")
    _check_fields(data, {"format": (int,), "student": (str,), "entries": (list,)}, "the record")
    if not data["entries"]:
        raise ValueError("it has no entries")
    for entry in data["entries"]:
        _check_fields(entry, {"result": (dict,), "submission": (dict, type(None))}, "an entry")
        if not all(isinstance(v, str | None) for v in (entry["submission"] or {}).values()):
            raise ValueError("its submission's file, sha256 and kept are not all text")
        check_result(entry["result"])
    return [(entry["result"], entry["submission"]) for entry in data["entries"]]


def check_result(data: Any) -> None:
    """Raise ValueError unless ``data`` has exactly the fields of ``SubmissionResult.to_dict()``, each of its type."""
    _check_fields(data, _RESULT_FIELDS, "the result", optional=_OPTIONAL_RESULT_FIELDS)
    for i, check in enumerate(data["checks"], 1):
        _check_fields(check, _CHECK_FIELDS, f"check {i}")
        if not 0 <= check["points"] <= check["max_points"]:
            raise ValueError(f"check {check['id']!r} gives {check['points']} of {check['max_points']} points")


_NUMBER = (int, float)
_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "student": (str,), "exercise": (str,), "status": (str,), "checks": (list,), "notes": (list,),
    "problems": (list,), "flags": (list,), "seconds": _NUMBER, "kernel_ready_s": (*_NUMBER, type(None)),
    "total": _NUMBER, "max_points": (int,),  # total: partial credit gives parts of a point
}  # fmt: skip
_OPTIONAL_RESULT_FIELDS: dict[str, tuple[type, ...]] = {"lang": (str,)}  # absent in records from before them
_CHECK_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,), "points": _NUMBER, "max_points": (int,), "hidden": (bool,), "passed": (bool,), "message": (str,)
}  # fmt: skip


def _check_fields(
    data: Any, fields: dict[str, tuple[type, ...]], what: str, optional: dict[str, tuple[type, ...]] | None = None
) -> None:
    """Raise ValueError unless ``data`` is an object with exactly ``fields`` (and any of ``optional``), each of its
    type."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not an object (got {type(data).__name__})")
    fields = {**fields, **{k: v for k, v in (optional or {}).items() if k in data}}
    unknown, absent = sorted(set(data) - set(fields)), sorted(set(fields) - set(data))
    if unknown or absent:
        raise ValueError(
            f"{what} has {'unknown fields ' + ', '.join(unknown) if unknown else ''}"
            f"{' and ' if unknown and absent else ''}{'no ' + ', '.join(absent) if absent else ''}"
        )
    for name, kinds in fields.items():
        if not isinstance(data[name], kinds) or (bool not in kinds and isinstance(data[name], bool)):
            raise ValueError(f"{what}'s {name} is {_json_type(data[name])}, not {kinds[0].__name__}")
    for name in ("notes", "problems", "flags"):
        if name in data and not all(isinstance(v, str) for v in data[name]):
            raise ValueError(f"{what}'s {name} are not all text")


def _json_type(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:20]!r}"


def write_record(out: Path, student: str, record: dict[str, Any]) -> None:
    """Replace ``student``'s record atomically (readers see the old or the new one, never half)."""
    write_atomically(record_path(out, student), json.dumps(record, indent=1, sort_keys=True) + "\n")


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out``'s records folder exclusively: two runs writing into one ``--out`` merge one after the other."""
    import fcntl  # here, not at the top: `import course` must keep working where there is no fcntl (Windows)

    folder = out / RECORDS
    folder.mkdir(exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def keep_submission(out: Path, student: str, path: Path) -> tuple[dict[str, str], bool] | None:
    """Copy ``path``'s bytes to ``submitted/<key>/<sha256>.ipynb``, read-only, and say where.

    Returns ``{"file", "sha256", "kept"}`` (``kept`` relative to ``out``) and whether the copy is new, or None for
    what is not a readable regular file of at most 50 MB (a link, a folder, an unreadable file): the grader reads
    those from ``path`` and says why.
    """
    data = _submission_bytes(path)
    if data is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    target = out / SUBMITTED / key(student) / f"{digest}.ipynb"
    new = target.is_symlink() or not target.is_file()
    if new or _read_regular(target) != data:
        _write_read_only(target, data)
    return {"file": os.fsdecode(path), "sha256": digest, "kept": str(target.relative_to(out))}, new


def discard(copies: list[Path]) -> None:
    """Remove copies :func:`keep_submission` made for a run that then stopped (no record names them)."""
    for path in copies:
        path.unlink(missing_ok=True)
        for folder in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):  # not empty: other runs' copies stay
                folder.rmdir()


def _submission_bytes(path: Path) -> bytes | None:
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        data = _read_regular(path)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.ELOOP, errno.ENOENT):
            return None
        raise
    return data if len(data) <= MAX_BYTES else None


def _write_read_only(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o444)  # a copy that settles a dispute is never edited in place
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def grader_version() -> str:
    """The installed package's version and a digest of the grader's own source (``0.1.0+src.1a2b3c4d5e6f``)."""
    try:
        version = metadata.version("keras-course")
    except metadata.PackageNotFoundError:
        version = "unknown"
    source = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]  # the course package
    for path in sorted(package.rglob("*.py")):  # the modules that grade; not the solutions
        source.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return f"{version}+src.{source.hexdigest()[:12]}"


def who() -> str:
    """The user name running the grader (the uid when the system has no name for it)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def append_run(out: Path, entry: dict[str, Any]) -> None:
    """Append one line to ``runs.jsonl`` with who and when added; one ``write`` of an append-only file."""
    stamped = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "user": who(),
               "grader_version": grader_version(), **entry}  # fmt: skip
    line = (json.dumps(stamped, sort_keys=True) + "\n").encode()
    fd = os.open(out / RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def write_roster(out: Path, roster: dict[str, dict[str, str]]) -> None:
    write_atomically(out / ROSTER, json.dumps(roster, indent=1, sort_keys=True) + "\n")


def read_roster(out: Path) -> dict[str, dict[str, str]] | None:
    """The roster a past run was given, or None; a damaged one is one sentence (ValueError)."""
    path = out / ROSTER
    if not path.exists():
        return None
    try:
        data = json.loads(_read_regular(path))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        data = err
    ok = isinstance(data, dict) and all(
        isinstance(person, dict) and all(isinstance(v, str) for v in person.values()) for person in data.values()
    )
    if not ok:
        raise ValueError(f"{path} is not the roster the grader kept (it was edited?); pass --roster again to replace "
                         "it, or delete it")  # fmt: skip
    return data


def legacy_students(out: Path) -> list[str]:
    """The ``student`` column of a gradebook.csv written before records were kept (none when records exist)."""
    gradebook = out / "gradebook.csv"
    if ((out / RECORDS).is_dir() and any((out / RECORDS).glob("*.json"))) or not gradebook.is_file():
        return []
    try:
        with open(gradebook, newline="", encoding="utf-8") as f:
            return [row.get("student") or "" for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{gradebook} could not be read ({err}); move it away or pass another --out") from None


def run_entry(
    exercise: str, folder: Path, only: list[str] | None, files: list[dict[str, Any]], missing: list[str]
) -> dict[str, Any]:
    """What ``runs.jsonl`` says about one run besides who and when: the exercise, the folder, ``--only``, each file
    graded (path, student, SHA-256, kept copy, status), the roster students added as ``missing`` and the statuses."""
    statuses: dict[str, int] = {}
    for f in files:
        statuses[f["status"]] = statuses.get(f["status"], 0) + 1
    return {"exercise": exercise, "folder": os.fsdecode(folder), "only": only, "files": files, "missing": missing,
            "statuses": dict(sorted(statuses.items()))}  # fmt: skip
