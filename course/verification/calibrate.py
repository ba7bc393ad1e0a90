"""Measuring an exercise's calibration: its reference solution graded once, through the grading pipeline's own
steps (course/grading/pipeline.py), with two cells that record how it uses its classes (course/verification/
usage_cells.py). What is kept, and where: course/verification/calibration.py."""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from dataclasses import replace
from typing import Any

import nbformat

from course.authoring.notebook_format import Exercise, course_meta
from course.grading import pipeline
from course.verification import trusted, usage_cells
from course.verification.calibration import Calibration, CalibrationError, digest, store, stored
from course.verification.plan import make_plan


def for_exercise(exercise: Exercise, limits: Any, *, progress: bool = True) -> Calibration:
    """The stored calibration, or a new one measured now (and stored in the cache)."""
    found = stored(exercise)
    if found is not None:
        return found
    if progress:
        print(f"calibrating {exercise.name}: grading its reference solution once (course calibrate) ...",
              file=sys.stderr)  # fmt: skip
    found = measure(exercise, limits)
    store(exercise, found, into_notebook=False)
    return found


def measure(exercise: Exercise, limits: Any) -> Calibration:
    """Grade the reference solution as a submission (the grading pipeline's steps, course/grading/pipeline.py),
    recording how it uses its classes; CalibrationError when the reference does not run to the end in the kernel."""
    generous = replace(limits, cell_timeout=max(limits.cell_timeout, 1800.0), timeout=max(limits.timeout, 7200.0))
    exported = [c.id for c in exercise.checks]  # the reference's own answer to every check is verified
    job = pipeline.Job(exercise, exercise.path, plan=make_plan(exercise, {}))
    submitted = pipeline.read(job, generous)
    if not isinstance(submitted, pipeline.Submitted):
        raise CalibrationError(f"{exercise.path.name}: the reference solution could not be read: {submitted.problems}")
    prepared = pipeline.rebuild_notebook(submitted, generous)
    cells = [nbformat.v4.new_code_cell(usage_cells.RECORD, metadata={"grader": {"calibration": "record"}})]
    for cell in prepared.rebuilt.notebook.cells:
        if course_meta(cell).get("check") in exported:
            cells.append(trusted.export_cell(exercise, course_meta(cell)["check"], cell.source))
        cells.append(cell)
    # "export" metadata: the sandbox points the cell at the kernel's export folder, as it does for export cells
    cells.append(nbformat.v4.new_code_cell(usage_cells.WRITE, metadata={"grader": {"export": "__usage__"}}))
    notebook = copy.copy(prepared.rebuilt.notebook)
    notebook.cells = cells
    start = time.monotonic()
    ran = pipeline.run(pipeline.Instrumented(prepared.job, prepared.rebuilt, notebook), generous)
    try:
        usage = json.loads((ran.export / "__usage__" / "usage.json").read_text())
    except (OSError, ValueError):
        usage = {}
    plan = make_plan(exercise, usage)
    ran = replace(ran, job=replace(ran.job, plan=plan))
    verified = pipeline.verify(pipeline.probe(ran, generous), generous)  # removes ran's folder
    records = ran.run.cells()
    broken = [r for r in records if r.get("error") or r.get("timeout") or r.get("died")]
    if not ran.run.finished or broken:
        where = broken[0] if broken else {}
        what = (where.get("error") or {}).get("ename") or ("timeout" if where.get("timeout") else "no result")
        raise CalibrationError(
            f"{exercise.path.name}: the reference solution did not run to the end in the grader's sandbox "
            f"(cell {where.get('index', '?')}: {what}); run it top to bottom in Jupyter, fix it, and calibrate again. "
            f"Log tail: {ran.run.log_tail[-300:].strip()}"
        )
    verification: dict[str, tuple[bool, str]] = verified.verification or {}
    failed = {c: str(verification.get(c, (False, "not verified"))[1]) or "did not pass"
              for c in plan.verified if not verification.get(c, (False, ""))[0]}  # fmt: skip

    def named(cell: Any) -> str | None:  # a check or lock id, or the solution's own id of an answer cell
        own = cell.get("metadata", {}).get("grader", {}).get("student_cell")
        if own is not None:
            return f"cell {submitted.notebook.cells[own].get('id', own)}"
        return course_meta(cell).get("check") or course_meta(cell).get("locked")

    positions = {i: named(c) for i, c in enumerate(cells)}
    cost = {
        str(positions[r["index"]]): float(r.get("cpu_s", r.get("seconds", 0.0)))
        for r in records
        if r.get("when") == "call" and isinstance(r.get("index"), int) and positions.get(r["index"]) is not None
    }
    total = float(getattr(ran.run, "cpu_s", None) or sum(cost.values()))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return Calibration(
        code=digest(exercise), usage=usage, failed=failed, cell_cpu_s=cost, total_cpu_s=round(total, 2),
        wall_s=round(time.monotonic() - start, 2),
        measured=f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {load:.1f}",
    )  # fmt: skip
