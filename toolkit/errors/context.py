"""Collect an :class:`ErrorContext` from a live exception: its message, its frames, the layers in them.

Only public facts of Keras objects are read (``name``, ``layers``, ``inputs``, ``output_names``); the objects are
found as ``self`` or as the first positional argument (``args``) of the traceback's frames, which is where any
method call, Keras's wrapped ones included, keeps the object it runs on.
"""

from __future__ import annotations

import linecache
import re
import sys
import sysconfig
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from toolkit.errors.records import ErrorContext, Frame, LayerFacts

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TOOLKIT = str(Path(__file__).resolve().parents[1])
_LIBRARIES = tuple(
    {str(Path(p).resolve()) for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_path(k))}
)


def clean(text: str) -> str:
    """The message without terminal colour codes."""
    return _ANSI.sub("", text)


def is_learner_file(filename: str) -> bool:
    """A notebook cell or the learner's own file: not the toolkit, not an installed library, not Python itself."""
    if filename.startswith("<"):  # <ipython-input-3-...>, <stdin>, <string>; not <frozen importlib...>
        return not filename.startswith("<frozen")
    resolved = str(Path(filename).resolve()) if filename else ""
    if resolved.startswith(_TOOLKIT) or "site-packages" in resolved or "dist-packages" in resolved:
        return False
    return not resolved.startswith(_LIBRARIES)


def _walk(tb: TracebackType | None) -> list[TracebackType]:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out


def _layer_class() -> Any:
    keras = sys.modules.get("keras")
    return getattr(getattr(keras, "layers", None), "Layer", None)


def facts(obj: Any) -> LayerFacts:
    """The public facts of a layer or model."""
    keras = sys.modules["keras"]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    last = first = ""
    members: tuple[tuple[str, str], ...] = ()
    if isinstance(obj, keras.Model):
        try:
            inputs = tuple(str(t.name) for t in obj.inputs or ())
        except (AttributeError, ValueError):
            inputs = ()
        outputs = tuple(str(n) for n in (getattr(obj, "output_names", None) or ()))
        layers = [lay for lay in obj.layers if type(lay).__name__ != "InputLayer"]
        members = tuple((str(lay.name), type(lay).__name__) for lay in layers)
        if layers:
            first = f"'{layers[0].name}' ({type(layers[0]).__name__})"
            last = f"'{layers[-1].name}' ({type(layers[-1]).__name__})"
    axis = getattr(obj, "axis", None)
    return LayerFacts(
        str(obj.name),
        type(obj).__name__,
        inputs,
        outputs,
        last,
        first,
        axis if isinstance(axis, int) else None,
        members,
    )


def _objects_in(frame: FrameType) -> list[Any]:
    local = frame.f_locals
    found = [local.get("self")]
    args = local.get("args")
    if isinstance(args, tuple) and args:
        found.append(args[0])
    return found


def _receiver(frame: FrameType, line: str, attribute: str, layer_type: Any) -> Any:
    """The layer named just before ``.attribute`` in the failing line (``shared.get_output_at(0)`` -> shared)."""
    match = re.search(rf"([A-Za-z_][\w.]*)\.{re.escape(attribute)}\b", line)
    if not match:
        return None
    head, *rest = match.group(1).split(".")
    obj = frame.f_locals.get(head, frame.f_globals.get(head))
    for part in rest:
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, layer_type) else None


def collect(exc: BaseException) -> ErrorContext:
    """Everything the rules read about ``exc``: message, type names, frames, the layer and model involved."""
    message = clean(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
    type_names = tuple(c.__name__ for c in type(exc).__mro__)
    steps = _walk(exc.__traceback__)
    frames = tuple(
        Frame(
            filename=(name := t.tb_frame.f_code.co_filename),
            lineno=t.tb_lineno,
            function=t.tb_frame.f_code.co_name,
            line=linecache.getline(name, t.tb_lineno, t.tb_frame.f_globals).strip(),
            learner=is_learner_file(name),
        )
        for t in steps
    )
    last = frames[-1] if frames else None
    raised_by_toolkit = bool(
        last and str(Path(last.filename).resolve()).startswith(_TOOLKIT) and re.match(r"raise\b", last.line)
    )
    layer_type = _layer_class()
    if layer_type is None:  # Keras was never imported: no layer can be involved
        return ErrorContext(message, type_names, frames=frames, raised_by_toolkit=raised_by_toolkit)
    keras_objects = [o for t in steps for o in _objects_in(t.tb_frame) if isinstance(o, layer_type)]
    models = [o for o in keras_objects if isinstance(o, sys.modules["keras"].Model)]
    receiver = None
    attribute = re.search(r"has no attribute '(\w+)'|accessing `(\w+)`|defined (output|input)", message)
    if attribute and steps:
        learner = [t for t, f in zip(steps, frames, strict=True) if f.learner] or steps
        name = next(g for g in attribute.groups() if g)
        found = _receiver(learner[-1].tb_frame, frames[steps.index(learner[-1])].line, name, layer_type)
        receiver = facts(found) if found is not None else None
    return ErrorContext(
        message=message,
        type_names=type_names,
        layer=facts(keras_objects[-1]) if keras_objects else None,
        model=facts(models[0]) if models else None,
        receiver=receiver,
        frames=frames,
        raised_by_toolkit=raised_by_toolkit,
    )
