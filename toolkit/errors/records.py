"""Typed records of the doctor: what the traceback tells about the error (context), and what the doctor found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.i18n import tr


@dataclass(frozen=True)
class LayerFacts:
    """One Keras layer or model met in the traceback, by its public facts only."""

    name: str
    cls: str
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    last_layer: str = ""  # "'out' (Dense)" for a model: the layer that makes its (single) output
    first_layer: str = ""  # "'dense' (Dense)": the first layer after the inputs
    axis: int | None = None  # a Concatenate's axis
    members: tuple[tuple[str, str], ...] = ()  # a model's layers: (name, class name)

    @property
    def label(self) -> str:
        """``'join' (Concatenate)``: how the sentences name a layer."""
        return f"'{self.name}' ({self.cls})"

    def member_label(self, name: str) -> str:
        """How to name this model's layer ``name``: with its class when the model has it."""
        cls = dict(self.members).get(name)
        return f"'{name}' ({cls})" if cls else f"'{name}'"


@dataclass(frozen=True)
class Frame:
    """One frame of a traceback: where, and the line of source."""

    filename: str
    lineno: int
    function: str
    line: str
    learner: bool  # learner code (a notebook cell, the learner's own file), not a library's or the toolkit's


@dataclass(frozen=True)
class ErrorContext:
    """What the doctor reads around the message: the layer and model the error came from, the frames."""

    message: str  # the exception's text, terminal codes removed
    type_names: tuple[str, ...]  # the exception's class and its bases, e.g. ("InvalidArgumentError", ..., "Exception")
    layer: LayerFacts | None = None  # the innermost layer in the traceback (the one that raised)
    model: LayerFacts | None = None  # the outermost model in the traceback (the one fit/predict ran on)
    receiver: LayerFacts | None = None  # the layer an attribute was read from in the failing line
    frames: tuple[Frame, ...] = ()
    raised_by_toolkit: bool = False  # the innermost frame is a `raise` in the toolkit's own code


@dataclass(frozen=True)
class Diagnosis:
    """A recognised error: its family (the key of its sentence in ``families.MESSAGES``; ``toolkit`` for the
    toolkit's own errors), that key, and the fields to fill in."""

    family: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the whole sentence, for the toolkit's own errors (already written by the toolkit)

    def sentence(self) -> str:
        """The sentence in the learner's language (``toolkit.set_language``), filled in."""
        if self.text:
            return self.text
        from toolkit.errors.families import MESSAGES

        return tr(MESSAGES[self.key], **self.fields)
