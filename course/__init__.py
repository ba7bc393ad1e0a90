"""course: exercises with a single source, starter generation and an nbval-based grader (see GUIDE.md).

The package is laid out by job: ``authoring/`` (the exercise format, starters, notebook setup cells),
``grading/`` (the grading path, ``grading/pipeline.py``), ``verification/`` (checks verified outside the student's
process), ``sandbox/`` (running one notebook), ``kernel_side/`` (scripts copied into the sandbox: standard library
only), ``reports/`` (gradebook, feedback, class report), ``term/`` (due dates, overrides, release). The names below
are imported on first use, so importing one module of the package never imports the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "CheckResult": "course.reports.gradebook",
    "Gradebook": "course.reports.gradebook",
    "SubmissionResult": "course.reports.gradebook",
    "Job": "course.grading.batch",
    "grade_folder": "course.grading.batch",
    "grade_jobs": "course.grading.batch",
    "grade_one": "course.grading.batch",
    "Exercise": "course.authoring.notebook_format",
    "FormatError": "course.authoring.notebook_format",
    "load_exercise": "course.authoring.notebook_format",
    "resolve_exercise": "course.authoring.notebook_format",
    "Limits": "course.sandbox.run",
    "make_starter": "course.authoring.starters",
    "sync_starters": "course.authoring.starters",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'course' has no attribute {name!r}")
