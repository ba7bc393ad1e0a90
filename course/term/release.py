"""When each check's line is shown in the feedback: ``now`` (default), ``after_due`` or ``never``.

A check cell declares it in its metadata, next to its points: ``{"course": {"check": "q3", "points": 2, "release":
"after_due"}}``. The gradebook and the LMS exports show every check to the instructor whatever it says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from course.authoring.notebook_format import Exercise, course_meta

RELEASES = ("now", "after_due", "never")


def releases(exercise: Exercise) -> dict[str, str]:
    """Check id -> its release; ValueError naming the notebook and cell for a value that is not one of RELEASES."""
    found = {}
    for i, cell in enumerate(exercise.notebook.cells):
        meta = course_meta(cell)
        if not meta.get("check"):
            continue
        value: Any = meta.get("release", "now")
        if value not in RELEASES:
            raise ValueError(f"{exercise.path.name}, cell {i}: check {meta['check']!r} has release {value!r}; use "
                             f"one of {', '.join(repr(r) for r in RELEASES)} (GUIDE.md section 4.4)")  # fmt: skip
        found[meta["check"]] = value
    return found


def shown(release: str, due: datetime | None, now: datetime, released: bool) -> bool:
    """Whether a check with ``release`` is shown in feedback written at ``now`` for a student due at ``due``."""
    if release == "never":
        return False
    if release == "after_due":
        return released or (due is not None and now >= due)
    return True
