"""The term settings of one ``--out``: what the command line and the roster said, and what ``term.json`` keeps.

``term.json`` holds the due date, the late policy, the extensions and whether after-due checks were released; a
later run without ``--due`` or ``--late`` uses them, so every regrade applies the same rules. The overrides are kept
next to it as ``overrides.csv`` (course/term/overrides.py); submission times are kept in each student's record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from course.atomic_write import write_atomically
from course.term.due import NO_PENALTY, LatePolicy, parse_policy, parse_time, show_time
from course.term.manual import Manual
from course.term.overrides import FILE as OVERRIDES
from course.term.overrides import Override

FILE = "term.json"
FORMAT = 1
Extension = datetime | int  # a due date of that student's own, or whole days added to the class's


@dataclass(frozen=True)
class Stamp:
    """When a submission was handed in, and where the grader learnt it (``manifest``, ``roster``, ``file time``)."""

    time: datetime
    source: str


@dataclass(frozen=True)
class Term:
    """Everything a run applies on top of the graded results; the default changes nothing."""

    due: datetime | None = None
    late: LatePolicy = NO_PENALTY
    released: bool = False  # --release: after-due checks are shown now, and from then on
    extensions: Mapping[str, Extension] = field(default_factory=dict)
    times: Mapping[str, Stamp] = field(default_factory=dict)  # given this run, by student
    overrides: tuple[Override, ...] = ()
    overrides_csv: str | None = None  # the text to keep as --out/overrides.csv; None leaves it as it is
    releases: Mapping[str, str] = field(default_factory=dict)  # check id -> now | after_due | never
    now: datetime | None = None  # when the feedback is written (None: the clock; tests fix it)
    manual: Manual = field(default_factory=Manual)  # answers graded by hand: questions, and marks once read

    def due_for(self, student: str) -> datetime | None:
        """``student``'s due date: their extension, else the class's."""
        extension = self.extensions.get(student)
        if isinstance(extension, datetime):
            return extension
        if self.due is not None and extension:
            return self.due + timedelta(days=extension)
        return self.due

    def override(self, student: str, check: str) -> Override | None:
        return next((o for o in self.overrides if o.student == student and o.check == check), None)


def parse_extension(text: str, where: str) -> Extension:
    """A roster ``extension`` cell: whole days (``2``) or a due date of its own (``2026-12-03T23:59``)."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    return parse_time(value, f"{where}: the extension (whole days, e.g. 2, or a date)")


def load(out: Path) -> Term:
    """The settings ``out/term.json`` keeps (the default Term when there is none); one sentence when it is damaged."""
    path = out / FILE
    if not path.exists():
        return Term()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"it is not a format {FORMAT} term file")
        due = parse_time(data["due"], "due") if data.get("due") else None
        late = parse_policy(str(data.get("late", "none")), "late")
        extensions = {str(s): parse_extension(str(v), f"extension of {s}") for s, v in data["extensions"].items()}
        return Term(due, late, bool(data.get("released", False)), extensions)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is damaged ({str(err)[:120]}); pass --due and --late again and the roster, or "
                         "delete it to start without a due date") from None  # fmt: skip


def store(out: Path, term: Term) -> None:
    """Keep ``term``'s settings in ``out/term.json`` and its overrides file, if one was given, in overrides.csv."""
    extensions = {s: show_time(e) if isinstance(e, datetime) else str(e) for s, e in sorted(term.extensions.items())}
    data = {"format": FORMAT, "due": show_time(term.due) if term.due else None, "late": str(term.late),
            "released": term.released, "extensions": extensions}  # fmt: skip
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    path = out / FILE
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, text)
    if term.overrides_csv is not None:
        write_atomically(out / OVERRIDES, term.overrides_csv)
