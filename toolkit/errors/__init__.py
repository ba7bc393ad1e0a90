"""The shape-error doctor: ``explain_error(exc)`` says, in the learner's language, what a Keras error means.

``families`` holds the error families as data (exception, message pattern, sentence); ``context`` collects the
records an error offers (message, frames, the layer and model involved); ``rules`` turn a match into a sentence's
fields; ``explain`` ties them; ``lint`` warns about a model as soon as it is defined; ``ipython_hook`` shows the
sentences in a notebook (installed by ``toolkit.setup_notebook``). Not to be confused with ``toolkit.doctor``,
which checks the environment.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "explain_error": "toolkit.errors.explain",
    "diagnose": "toolkit.errors.explain",
    "Diagnosis": "toolkit.errors.records",
    "last_error": "toolkit.errors.ipython_hook",
}

__all__ = ["Diagnosis", "diagnose", "explain_error", "last_error"]

if TYPE_CHECKING:
    from toolkit.errors.explain import diagnose, explain_error
    from toolkit.errors.ipython_hook import last_error
    from toolkit.errors.records import Diagnosis


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit.errors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
