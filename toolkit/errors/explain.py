"""``explain_error(exc)``: the first family of ``families.FAMILIES`` that matches, as a sentence, or None."""

from __future__ import annotations

import re
from functools import cache

from toolkit.errors.context import collect
from toolkit.errors.families import FAMILIES
from toolkit.errors.records import Diagnosis, ErrorContext
from toolkit.errors.rules import RULES
from toolkit.i18n import tr

_FLAGS = re.IGNORECASE | re.DOTALL


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


def diagnose_context(ctx: ErrorContext) -> Diagnosis | None:
    """The diagnosis of an error already collected into records (pure: no Keras, no traceback)."""
    for row in FAMILIES:
        if not set(row["types"]) & set(ctx.type_names):
            continue
        match = _compiled(row["pattern"]).search(ctx.message)
        if match is None:
            continue
        groups = {**row.get("fields", {}), **{k: v for k, v in match.groupdict().items() if v is not None}}
        found = RULES[row["rule"]](groups, ctx)
        if found is None:
            continue
        key, fields = found
        if row["id"] == "toolkit":
            return Diagnosis("toolkit", "", {}, text=ctx.message.strip())
        return Diagnosis(key, key, fields)
    return None


def diagnose(exc: BaseException) -> Diagnosis | None:
    """What the doctor knows about ``exc``: its family and sentence, or None for an error it does not know."""
    if not isinstance(exc, BaseException):
        raise TypeError(
            tr(
                "explain_error() needs an exception (got {cls} {text!r}); catch it first: try: ... except Exception "
                "as exc: toolkit.explain_error(exc)",
                cls=type(exc).__name__,
                text=str(exc)[:60],
            )
        )
    return diagnose_context(collect(exc))


def explain_error(exc: BaseException) -> str | None:
    """One sentence in the learner's language naming the layer, the shapes and the fix; None if unknown."""
    found = diagnose(exc)
    return found.sentence() if found else None
