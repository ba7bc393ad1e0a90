"""How each check of an exercise is verified outside the student's process, read from the exercise itself.

Every check of every exercise is verified outside the student's kernel unless the exercise says otherwise. Per
check, the plan is one of:

- ``exported``: the objects the check reads are saved after the student's run (models, arrays, plain values; a model
  of the student's own class as its weights; a tensor as its place in a model) and the check cell runs again on them
  in the trusted process, after the exercise's ``verify`` cells for that check;
- ``probed``: the check reads a class the student writes; the check's ``probe`` cell, or a default probe built from
  how the reference solution uses the class (course/verification/auto_probes.py, from the calibration), runs on the
  student's
  class and on the reference's with the same secret seed, and the answers are compared in the trusted process;
- ``kernel``: the check's points come from the student's kernel, with the reason: declared (``kernel_only`` in the
  check's metadata), or found by the calibration (the reference solution's own answer did not pass outside the
  kernel), or a class the default probe cannot build. ``course check`` names these; ``--require-verified`` refuses
  them.

Nothing here is exercise-specific: it all comes from the solution notebook's cells and the exercise's calibration.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Any

from course.authoring.notebook_format import Exercise, course_meta, is_instructor_only, role_ids
from course.verification import class_probes
from course.verification.check_names import exported_names

EXPORTED, PROBED, KERNEL = "exported", "probed", "kernel"


@dataclass(frozen=True)
class CheckPlan:
    """How one check is verified."""

    check: str
    how: str  # EXPORTED, PROBED or KERNEL
    names: tuple[str, ...] = ()  # the student's objects exported for it
    probe: str | None = None  # the probe's source (a probe cell's, or a default probe)
    probe_from: str = ""  # "probe cell" or "default probe of X, Y"
    why: str = ""  # KERNEL: why its points come from the kernel

    def describe(self) -> str:
        """One line for ``course check``."""
        if self.how == KERNEL:
            return f"kernel only: {self.why}"
        if self.how == PROBED:
            return f"probed outside the kernel ({self.probe_from})"
        shown = ", ".join(self.names) if self.names else "nothing of the student's"
        return f"run again outside the kernel on exported objects: {shown}"


@dataclass(frozen=True)
class VerificationPlan:
    """The plan of every check of one exercise, in the exercise's order."""

    checks: tuple[CheckPlan, ...]
    usage: dict[str, Any] = field(default_factory=dict)  # the calibration's record of the solution's classes

    @property
    def verified(self) -> list[str]:
        return [c.check for c in self.checks if c.how != KERNEL]

    @property
    def exported(self) -> list[str]:
        return [c.check for c in self.checks if c.how == EXPORTED]

    @property
    def probes(self) -> dict[str, str]:
        return {c.check: c.probe for c in self.checks if c.how == PROBED and c.probe is not None}

    @property
    def kernel_only(self) -> dict[str, str]:
        return {c.check: c.why for c in self.checks if c.how == KERNEL}

    def to_request(self) -> dict[str, Any]:
        """What the trusted worker needs of the plan (it reads the notebook for the rest)."""
        return {"exported": self.exported, "probes": self.probes}


def make_plan(
    exercise: Exercise, usage: dict[str, Any] | None, failed: dict[str, str] | None = None
) -> VerificationPlan:
    """The plan of ``exercise``: ``usage`` is the calibration's record of how the solution uses its classes (None:
    not calibrated, so no default probe can be built), ``failed`` the checks whose reference answer did not pass
    outside the kernel during the calibration (check id -> the trusted process's message)."""
    classes = class_probes.solution_classes(exercise)
    probes = class_probes.probes(exercise, usage or {})
    plans = []
    for check in exercise.checks:
        read = [n for n in class_probes.read_names(check.source) if n in classes]
        if check.kernel_only:
            plans.append(CheckPlan(check.id, KERNEL, why=f"declared by the exercise: {check.kernel_only}"))
        elif failed and check.id in failed:
            plans.append(CheckPlan(check.id, KERNEL, why=(
                "the reference solution's own answer did not pass outside the kernel during calibration "
                f"({failed[check.id][:200]})")))  # fmt: skip
        elif check.id in probes:
            how = "probe cell" if exercise.probe_source(check.id) is not None else f"default probe of {', '.join(read)}"
            plans.append(CheckPlan(check.id, PROBED, probe=probes[check.id], probe_from=how))
        elif read:
            unused = [n for n in read if not [c for c in (usage or {}).get(n) or [] if c]]
            why = (
                f"it reads the class {', '.join(unused)}, which the reference solution never builds with plain-value "
                "arguments and calls, so no default probe can be made; add a probe cell (GUIDE 6.2)"
                if usage is not None
                else "the exercise is not calibrated yet (course calibrate)"
            )
            plans.append(CheckPlan(check.id, KERNEL, why=why))
        else:
            plans.append(CheckPlan(check.id, EXPORTED, names=tuple(exported_names(exercise, check.id, check.source))))
    return VerificationPlan(tuple(plans), dict(usage or {}))


def _python(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _defined(source: str) -> set[str]:
    """Every name ``source`` binds (assignments, imports, defs, classes, loop and with targets, comprehensions)."""
    names: set[str] = set()
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def problems(exercise: Exercise) -> list[str]:
    """What is inconsistent in the exercise's declarations, one sentence each naming the cell and the fix: a check,
    verify or probe cell reading a name that no cell of the solution defines."""
    cells = exercise.notebook.cells
    defined = set(dir(builtins)) | {"get_ipython", "display", "In", "Out"}
    for cell in cells:
        if cell.cell_type == "code" and not course_meta(cell).get("check") and not is_instructor_only(cell):
            defined |= _defined(cell.source)
    found = []
    for i, cell in enumerate(cells):
        meta = course_meta(cell) if cell.cell_type == "code" else {}
        if not (meta.get("check") or is_instructor_only(cell)):
            continue
        own = _defined(cell.source)
        if meta.get("check"):
            own |= _defined(exercise.verify_source(meta["check"]))
        missing = [n for n in class_probes.read_names(cell.source) if n not in defined | own]
        if not missing:
            continue
        if meta.get("check"):
            what, fix = f"check {meta['check']!r}", "define it in the solution (or in a verify cell) or fix the check"
        elif "probe" in meta:
            what, fix = f"the probe cell of {meta['probe']!r}", "probe a class or function the solution defines"
        else:
            what, fix = f"the verify cell of {', '.join(role_ids(meta['verify']))}", "fix the cell"
        shown = ", ".join(map(repr, missing))
        found.append(f"{exercise.path.name}, cell {i} ({what}): reads {shown}, which no cell of the solution defines: "
                     f"{fix}")  # fmt: skip
    return found
