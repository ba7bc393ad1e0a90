"""In a notebook that ran the course's setup: known errors show the doctor's sentence and the learner's frames only.

``install(shell)`` registers, on an IPython shell, (1) a custom exception handler (IPython's ``set_custom_exc``)
that shows a recognised error as its sentence, the learner's own frames and Keras's message cut short, keeping
the full traceback for ``%tb``, and shows any other error exactly as IPython would; (2) a ``post_run_cell``
watcher that warns once per model when a model just defined starts with an Input that includes the batch size.
Nothing here runs outside IPython.
"""

from __future__ import annotations

import re
import sys
import weakref
from types import TracebackType
from typing import Any

from toolkit.errors.context import clean, collect
from toolkit.errors.explain import diagnose
from toolkit.errors.families import MESSAGES
from toolkit.errors.lint import batch_in_input
from toolkit.errors.records import Diagnosis, Frame
from toolkit.i18n import tr

MESSAGE_CHARS = 300  # Keras's own message, cut to this many characters in the short traceback


def short_message(message: str) -> str:
    """Keras's message without colour codes, call wrappers, argument lists and tensor values, on one line."""
    text = clean(message)
    text = re.sub(r"Exception encountered when calling [^\n]*\n", "", text)
    text = text.split("Arguments received by")[0]
    if "Detected at node" in text:  # TensorFlow's graph errors: the meaning is in the last paragraph
        text = [p for p in re.split(r"\n\s*\n", text) if p.strip()][-1]
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def frame_label(frame: Frame, shell: Any = None) -> str:
    """``Cell In[3], line 2`` for a notebook cell, else ``File "x.py", line 2, in f``."""
    format_name = getattr(getattr(shell, "compile", None), "format_code_name", None)
    name = format_name(frame.filename) if callable(format_name) else None
    if name:
        return f"{name[0]} {name[1]}, line {frame.lineno}"
    return f'File "{frame.filename}", line {frame.lineno}, in {frame.function}'


def render_short(sentence: str, frames: list[tuple[str, str]], ename: str, message: str) -> list[str]:
    """The short traceback's lines: the sentence, each (label, source line), Keras's message, the note (pure)."""
    lines = [sentence, ""]
    for label, source in frames:
        lines += [f"  {label}", f"    {source}"] if source else [f"  {label}"]
    lines += ["", f"{ename}: {message}" if message else ename, tr(MESSAGES["full_traceback_note"])]
    return lines


def short_traceback(exc: BaseException, diagnosis: Diagnosis, shell: Any = None) -> list[str]:
    """The lines shown for a recognised error: the learner's frames only (the toolkit's and libraries' left out)."""
    frames = collect(exc).frames
    mine = [f for f in frames if f.learner] or list(frames[:1])
    message = "" if diagnosis.family == "toolkit" else short_message(str(exc))
    return render_short(
        diagnosis.sentence(), [(frame_label(f, shell), f.line) for f in mine], type(exc).__name__, message
    )


def last_error() -> BaseException | None:
    """The exception of the last failed cell (its full traceback is ``%tb``, or ``last_error().__traceback__``)."""
    return getattr(sys, "last_value", None)


def _remember(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    # what IPython itself records before showing an error, so that %tb and %debug find this one
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value


def _show_error(shell: Any, etype: Any, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    _remember(etype, value, tb)
    try:
        found = diagnose(value)
        lines = short_traceback(value, found, shell) if found else None
    except Exception:  # the doctor must never hide an error: show IPython's own traceback instead
        lines = None
    if lines is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        return
    shell._showtraceback(etype, value, lines)  # IPython's (and ipykernel's) one place that displays a traceback
    if getattr(shell, "call_pdb", False):
        shell.debugger(force=True)


class ModelWatcher:
    """After each cell: a warning for each model newly in the namespace whose Input includes the batch size."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.seen: weakref.WeakSet[Any] = weakref.WeakSet()

    def __call__(self, result: Any = None) -> None:
        keras = sys.modules.get("keras")
        if keras is None:
            return
        for value in list(self.shell.user_ns.values()):
            if not isinstance(value, keras.Model) or value in self.seen:
                continue
            self.seen.add(value)
            try:
                found = batch_in_input(value)
            except Exception:  # a hint, never an error of its own
                found = None
            if found:
                print(found.sentence())


def _watcher(shell: Any) -> ModelWatcher | None:
    return next((c for c in shell.events.callbacks.get("post_run_cell", []) if isinstance(c, ModelWatcher)), None)


def install(shell: Any) -> bool:
    """Install both on ``shell`` (idempotent); False if another custom exception handler is already there."""
    existing: Any = getattr(shell, "custom_exceptions", None)
    if _watcher(shell) is None and existing:
        return False  # someone else's handler: leave it
    shell.set_custom_exc((Exception,), _show_error)
    if _watcher(shell) is None:
        shell.events.register("post_run_cell", ModelWatcher(shell))
    return True


def uninstall(shell: Any) -> None:
    """Remove what :func:`install` added."""
    watcher = _watcher(shell)
    if watcher is not None:
        shell.events.unregister("post_run_cell", watcher)
        shell.set_custom_exc((), None)


def install_if_ipython() -> bool:
    """Install on the running IPython shell, if this is IPython (a notebook kernel); else do nothing, False."""
    ipython = sys.modules.get("IPython")  # never imported here: outside IPython it is not loaded
    shell = ipython.get_ipython() if ipython is not None else None
    return install(shell) if shell is not None else False
