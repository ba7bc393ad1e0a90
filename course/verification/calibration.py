"""An exercise's calibration: its reference solution graded once as if it were a submission, and what that showed.

``course calibrate EXERCISE`` (and ``course grade`` when an exercise has none) runs the solution notebook through
the grader, sandbox and trusted verification included, with two extra cells (course/verification/usage_cells.py) that
record how
the solution builds and calls its own classes. From that run it keeps:

- ``usage``: per class of the solution, the plain-value arguments and input shapes of up to three calls; the default
  probes (course/verification/auto_probes.py) are made from them;
- ``failed``: checks whose reference answer did not pass outside the kernel (their points can only come from the
  kernel: ``course check`` says why);
- ``cell_cpu_s``, ``total_cpu_s``: what each cell and the whole notebook cost the reference, in CPU seconds, so the
  time limits of a slow but correct exercise follow from its own cost (:meth:`Calibration.limits`).

A calibration is stored in the solution notebook's metadata (``metadata.course.verification.calibration``, written by
``course calibrate``) and in the course's cache folder, keyed by a digest of the exercise's code (comments left out,
so a translated edition shares its original's); a changed exercise is calibrated again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tokenize
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from course.authoring.notebook_format import Exercise, course_meta

VERSION = 1
FACTOR = 3.0  # a submission's cell may use this many times the reference's slowest cell's CPU seconds (and the
# notebook this many times the reference's), never less than the limits it is given (--cell-timeout, --timeout)


class CalibrationError(RuntimeError):
    """The reference solution could not be run: one sentence saying why and what to do."""


@dataclass(frozen=True)
class Calibration:
    code: str  # digest of the exercise's code cells and their roles (digest())
    usage: dict[str, list[Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    cell_cpu_s: dict[str, float] = field(default_factory=dict)  # position in the solution -> CPU seconds
    total_cpu_s: float = 0.0
    wall_s: float = 0.0
    measured: str = ""  # when and on what
    version: int = VERSION

    def limits(self, base: Any) -> Any:
        """``base`` (course.sandbox.run.Limits) with time limits of at least FACTOR times this exercise's own cost."""
        cell = max([0.0, *(FACTOR * s for s in self.cell_cpu_s.values())])
        total = FACTOR * self.total_cpu_s
        return replace(base, cell_timeout=max(base.cell_timeout, round(cell)), timeout=max(base.timeout, round(total)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Calibration | None:
        """A calibration from its stored form, or None when it is not one (or of another version)."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return None
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError:
            return None


def _code_lines(source: str) -> list[str]:
    """The lines of a cell with its comments cut out and blank lines dropped, the code itself untouched: the same
    on every Python (tokenizers differ between versions in how they split f-strings, never in where comments are)."""
    lines = source.splitlines()
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        comments = [t.start for t in tokens if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):  # a cell that is not Python (a magic): its lines as they are
        comments = []
    for row, col in reversed(comments):
        lines[row - 1] = lines[row - 1][:col]
    return [line.rstrip() for line in lines if line.strip()]


def digest(exercise: Exercise) -> str:
    """SHA-256 of the exercise's code cells (without comments) and their roles: what a calibration depends on."""
    parts = []
    for cell in exercise.notebook.cells:
        if cell.cell_type == "code":
            meta = {k: v for k, v in course_meta(cell).items() if k != "calibration"}
            parts.append([json.dumps(meta, sort_keys=True), _code_lines(cell.source)])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _cache_file(code: str) -> Path:
    cache = Path(os.environ.get("KERAS_COURSE_CACHE") or Path("~/.cache/keras-course").expanduser())
    return cache / "calibration" / f"{code}.json"


def stored(exercise: Exercise) -> Calibration | None:
    """The exercise's calibration, if one for its current code is stored (notebook metadata, then the cache)."""
    code = digest(exercise)
    found = Calibration.from_dict(exercise.notebook.metadata.get("course", {}).get("calibration"))
    if found is not None and found.code == code:
        return found
    try:
        found = Calibration.from_dict(json.loads(_cache_file(code).read_text()))
    except (OSError, ValueError):
        return None
    return found if found is not None and found.code == code else None


def store(exercise: Exercise, calibration: Calibration, *, into_notebook: bool) -> list[Path]:
    """Keep ``calibration`` in the cache and, with ``into_notebook``, in the solution notebook's metadata."""
    from course.atomic_write import write_atomically

    written = []
    cache = _cache_file(calibration.code)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cache, json.dumps(calibration.to_dict(), indent=1, sort_keys=True))
        written.append(cache)
    except OSError:
        pass  # a read-only cache: the calibration is measured again next time
    if into_notebook:
        nb = nbformat.read(str(exercise.path), as_version=4)
        nb.metadata.setdefault("course", {})["calibration"] = calibration.to_dict()
        write_atomically(exercise.path, nbformat.writes(nb) + "\n")
        written.append(exercise.path)
    return written


def plan_of(exercise: Exercise, calibration: Calibration | None = None) -> Any:
    """The exercise's verification plan (course/verification/plan.py) from ``calibration`` or the stored one;
    without either, checks that need a default probe are left to the kernel (and say so)."""
    from course.verification.plan import make_plan

    found = calibration or stored(exercise)
    return make_plan(exercise, found.usage, found.failed) if found is not None else make_plan(exercise, None)
