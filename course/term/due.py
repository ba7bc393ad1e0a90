"""Due dates and late policies: typed values parsed from the instructor's text, and the pure arithmetic on them.

Times are ISO 8601 (``2026-12-01T23:59``, ``2026-12-01 23:59``, ``2026-12-01T23:59+01:00``, ``...Z``); a time without
an offset is in the grader's local zone and is stored with that zone's offset, so a later run elsewhere means the
same instant. A date alone (``2026-12-01``) means the end of that day (23:59:59).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

DAY = timedelta(days=1)
_PER_DAY = re.compile(r"^(\d+(?:\.\d+)?)\s*%\s*(?:/|per)\s*day(?:\s*,\s*max(?:imum)?\s+(\d+(?:\.\d+)?)\s*%)?$")
TIME_EXAMPLE = "2026-12-01T23:59 (local time) or 2026-12-01T23:59+01:00"
POLICY_EXAMPLE = "'10%/day, max 50%', 'not accepted' or 'none'"


def parse_time(text: str, where: str) -> datetime:
    """``text`` as an aware datetime; ValueError naming ``where`` and the accepted form when it is not one."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            parsed = datetime.combine(datetime.fromisoformat(value).date(), time(23, 59, 59))
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a date and time; write it as {TIME_EXAMPLE}") from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()  # naive: the grader's local zone


def show_time(moment: datetime) -> str:
    """``2026-12-01T23:59+01:00``: minutes when the seconds are 0, with the offset."""
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


@dataclass(frozen=True)
class LatePolicy:
    """What late work costs: nothing (``none``), everything (``not accepted``), or a percentage per started day."""

    kind: str  # "none" | "not accepted" | "per day"
    percent_per_day: float = 0.0
    max_percent: float = 100.0

    def penalty_percent(self, days_late: int) -> float:
        """The share of the points taken for ``days_late`` started days late, in percent (0 to 100)."""
        if days_late <= 0 or self.kind == "none":
            return 0.0
        if self.kind == "not accepted":
            return 100.0
        return min(self.percent_per_day * days_late, self.max_percent, 100.0)

    def __str__(self) -> str:
        if self.kind != "per day":
            return self.kind
        cap = f", max {self.max_percent:g}%" if self.max_percent < 100 else ""
        return f"{self.percent_per_day:g}%/day{cap}"


NO_PENALTY = LatePolicy("none")


def parse_policy(text: str, where: str) -> LatePolicy:
    """``none``, ``not accepted`` or ``P%/day`` with an optional ``, max M%``; ValueError naming ``where`` otherwise."""
    value = " ".join(text.strip().lower().split())
    if value in ("none", "not accepted"):
        return LatePolicy(value)
    match = _PER_DAY.match(value)
    if match is None:
        raise ValueError(f"{where}: {text!r} is not a late policy; write one of {POLICY_EXAMPLE}")
    per_day, cap = float(match.group(1)), float(match.group(2) or 100)
    if not 0 < per_day <= 100 or not 0 < cap <= 100:
        raise ValueError(f"{where}: {text!r} takes more than 100% or nothing; write percentages from 1 to 100, "
                         f"e.g. {POLICY_EXAMPLE}")  # fmt: skip
    return LatePolicy("per day", per_day, cap)


def days_late(submitted: datetime, due: datetime) -> int:
    """Started days after ``due`` (one second late is one day); 0 when on time."""
    late = submitted - due
    return math.ceil(late / DAY) if late > timedelta(0) else 0
