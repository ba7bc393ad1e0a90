"""An exercise's calibration: its reference solution graded once as if it were a submission, and what that showed.

``course calibrate EXERCISE`` (and ``course grade`` when an exercise has none) runs the solution notebook through
the grader, sandbox and trusted verification included, with two extra cells (course/usage_cells.py) that record how
the solution builds and calls its own classes. From that run it keeps:

- ``usage``: per class of the solution, the plain-value arguments and input shapes of up to three calls; the default
  probes (course/auto_probes.py) are made from them;
- ``failed``: checks whose reference answer did not pass outside the kernel (their points can only come from the
  kernel: ``course check`` says why);
- ``cell_cpu_s``, ``total_cpu_s``: what each cell and the whole notebook cost the reference, in CPU seconds, so the
  time limits of a slow but correct exercise follow from its own cost (:meth:`Calibration.limits`).

A calibration is stored in the solution notebook's metadata (``metadata.course.calibration``, written by
``course calibrate``) and in the course's cache folder, keyed by a digest of the exercise's code (comments left out,
so a translated edition shares its original's); a changed exercise is calibrated again.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from course.notebook_format import Exercise, course_meta
from course.translations import code_without_comments

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
        """``base`` (course.sandbox.Limits) with time limits of at least FACTOR times this exercise's own cost."""
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


def digest(exercise: Exercise) -> str:
    """SHA-256 of the exercise's code cells (without comments) and their roles: what a calibration depends on."""
    parts = []
    for cell in exercise.notebook.cells:
        if cell.cell_type == "code":
            meta = {k: v for k, v in course_meta(cell).items() if k != "calibration"}
            parts.append([json.dumps(meta, sort_keys=True), code_without_comments(cell.source)])
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
    from course.starters import write_atomically

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
    """The exercise's verification plan (course/verification_plan.py) from ``calibration`` or the stored one;
    without either, checks that need a default probe are left to the kernel (and say so)."""
    from course.verification_plan import make_plan

    found = calibration or stored(exercise)
    return make_plan(exercise, found.usage, found.failed) if found is not None else make_plan(exercise, None)


def for_exercise(exercise: Exercise, limits: Any, *, progress: bool = True) -> Calibration:
    """The stored calibration, or a new one measured now (and stored in the cache)."""
    found = stored(exercise)
    if found is not None:
        return found
    if progress:
        import sys

        print(f"calibrating {exercise.name}: grading its reference solution once (course calibrate) ...",
              file=sys.stderr)  # fmt: skip
    found = measure(exercise, limits)
    store(exercise, found, into_notebook=False)
    return found


def measure(exercise: Exercise, limits: Any) -> Calibration:
    """Grade the reference solution as a submission, recording how it uses its classes; CalibrationError when the
    reference does not run to the end in the kernel."""
    from course import class_probes, trusted, usage_cells
    from course.rebuild import rebuild
    from course.sandbox import run_notebook, run_probes
    from course.verification_plan import make_plan

    generous = replace(limits, cell_timeout=max(limits.cell_timeout, 1800.0), timeout=max(limits.timeout, 7200.0))
    solution = nbformat.read(str(exercise.path), as_version=4)
    rebuilt = rebuild(exercise, solution)
    cells = [nbformat.v4.new_code_cell(usage_cells.RECORD, metadata={"grader": {"calibration": "record"}})]
    for cell in rebuilt.notebook.cells:
        check_id = course_meta(cell).get("check")
        if check_id:
            cells.append(trusted.export_cell(exercise, check_id, cell.source))
        cells.append(cell)
    # "export" metadata: the sandbox points the cell at the kernel's export folder, as it does for export cells
    cells.append(nbformat.v4.new_code_cell(usage_cells.WRITE, metadata={"grader": {"export": "__usage__"}}))
    rebuilt.notebook.cells = cells
    def named(cell: Any) -> str | None:  # a check or lock id, or the solution's own id of an answer cell
        own = cell.get("metadata", {}).get("grader", {}).get("student_cell")
        if own is not None:
            return f"cell {solution.cells[own].get('id', own)}"
        return course_meta(cell).get("check") or course_meta(cell).get("locked")

    positions = {i: named(c) for i, c in enumerate(cells)}
    found: dict[str, Any] = {}

    def collect(work: Path) -> Any:
        try:
            usage = json.loads((work / "export" / "__usage__.json").read_text())
        except (OSError, ValueError):
            usage = {}
        plan = make_plan(exercise, usage)
        found["usage"], found["plan"] = usage, plan
        definitions = class_probes.notebook_definitions(exercise.notebook)
        if not plan.probes:
            return trusted.verify(exercise, work, limits=generous, plan=plan)
        with tempfile.TemporaryDirectory(prefix="course-answers-") as answers:
            seed = secrets.randbits(62)
            problem = run_probes(definitions, plan.probes, seed, generous, Path(answers))
            verified = trusted.verify(exercise, work, probes=(Path(answers), seed), limits=generous, plan=plan)
        if problem:
            verified.update({c: (False, problem) for c in plan.probes if not verified.get(c, (False, ""))[0]})
        return verified

    start = time.monotonic()
    run = run_notebook(rebuilt.notebook, generous, collect=collect)
    records = run.cells()
    broken = [r for r in records if r.get("error") or r.get("timeout") or r.get("died")]
    if not run.finished or broken or "plan" not in found:
        where = broken[0] if broken else {}
        what = (where.get("error") or {}).get("ename") or ("timeout" if where.get("timeout") else "no result")
        raise CalibrationError(
            f"{exercise.path.name}: the reference solution did not run to the end in the grader's sandbox "
            f"(cell {where.get('index', '?')}: {what}); run it top to bottom in Jupyter, fix it, and calibrate again. "
            f"Log tail: {run.log_tail[-300:].strip()}"
        )
    verified = run.collected or {}
    failed = {c: str(verified.get(c, (False, "not verified"))[1]) or "did not pass"
              for c in found["plan"].verified if not verified.get(c, (False, ""))[0]}  # fmt: skip
    cost: dict[str, float] = {}
    for r in records:
        if r.get("when") == "call" and positions.get(r.get("index")) is not None:
            cost[str(positions[r["index"]])] = float(r.get("cpu_s", r.get("seconds", 0.0)))
    total = float(getattr(run, "cpu_s", None) or sum(cost.values()))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return Calibration(
        code=digest(exercise), usage=found["usage"], failed=failed, cell_cpu_s=cost, total_cpu_s=round(total, 2),
        wall_s=round(time.monotonic() - start, 2),
        measured=f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {load:.1f}",
    )  # fmt: skip
