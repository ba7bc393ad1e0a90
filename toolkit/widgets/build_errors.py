"""Turn a failed rebuild into ONE sentence for the learner: what went wrong and which control to move.

The exception's traceback points into Keras internals and teaches nothing at a slider; the sentence names the
setting, the cause in plain words, and the control that changed since the last setting that built.
"""

from __future__ import annotations

import re
from typing import Any

from toolkit.i18n import N_, tr

# (pattern in the exception message, plain-words cause, translated when shown). First match wins.
KNOWN_CAUSES = (
    (
        r"output size would be zero or negative|negative dimension size|non-positive|would be negative",
        N_(
            "a layer's output would have zero or negative size (a kernel, pooling window or stride is larger than "
            "what reaches it)"
        ),
    ),
    (
        r"expected a positive integer|must be a positive integer|must be positive",
        N_("a layer size must be a positive whole number"),
    ),
    (r"rate must be|dropout.*\[0, 1\)|rate.*between 0 and 1", N_("a dropout rate must be at least 0 and below 1")),
    (
        r"incompatible|expected axis .* to have value|expected shape",
        N_("one layer's output does not fit the next layer's input"),
    ),
)
MAX_DETAIL = 140


def describe(values: dict[str, Any]) -> str:
    """``{"units": 64, "act": "relu", "rate": 0.30000000000000004}`` -> ``units=64, act='relu', rate=0.3``."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in values.items())


def cause(err: BaseException, source: str = N_("the build function")) -> str:
    """The cause of ``err`` in plain words, or the first sentence of its message (no traceback)."""
    message = " ".join(str(err).split())
    for pattern, plain in KNOWN_CAUSES:
        if re.search(pattern, message, re.IGNORECASE):
            return tr(plain)
    first = re.split(r"(?<=[.!?])\s", message, maxsplit=1)[0].replace("`", "").rstrip(".") or tr("(no message)")
    if len(first) > MAX_DETAIL:
        first = first[: MAX_DETAIL - 3].rstrip() + "..."
    return tr("{source} raised {error} ({first})", source=tr(source), error=type(err).__name__, first=first)


def changed_controls(values: dict[str, Any], last_good: dict[str, Any] | None) -> list[str]:
    if last_good is None:
        return list(values)
    return [k for k, v in values.items() if last_good.get(k) != v]


def friendly_error(err: BaseException, values: dict[str, Any], last_good: dict[str, Any] | None) -> str:
    """One sentence: the setting, the cause, and the control to move (back to the last value that built)."""
    moved = changed_controls(values, last_good)
    if last_good is None or not moved:
        names = tr(" or ").join(moved or list(values))
        advice = tr("move {names} to a setting that builds", names=names)
    else:
        back = ", ".join(tr("{name} back toward {value!r}", name=k, value=last_good[k]) for k in moved)
        advice = tr("move {controls} (the last setting that built)", controls=back)
    return tr(
        "With {values} the model cannot be built: {cause}; {advice}.",
        values=describe(values),
        cause=cause(err),
        advice=advice,
    )


def not_a_model(result: Any, build_name: str) -> str:
    return tr(
        "{build}() returned {got}, not a Keras model; end it with `return model` (a keras.Sequential or keras.Model).",
        build=build_name,
        got=type(result).__name__,
    )


def no_input_shape() -> str:
    return tr(
        "The model has no Input, so its shapes are unknown until it sees data; start it with "
        "keras.Input(shape=...) or pass input_shape=(...) to LayerTuner."
    )
