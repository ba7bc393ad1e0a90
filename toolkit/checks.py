"""Student-facing checks for the exercises: explicit arguments in, a teaching message out.

Every helper prints one ``✓ ...`` line when it passes and raises :class:`CheckFailure` (an ``AssertionError``)
whose message says what was expected, what was found and how to fix it. Nothing here looks at the caller's
variables: a check cell passes everything it needs, e.g. ``checks.check_shape(model, (None, 10))``.

A check cell that finishes may still earn only part of its points: :func:`award` (or ``check_accuracy`` with
``full_at``) says which part. The grader reads it with :func:`awarded` where it decides the points: in the trusted
process for a verified check, so what the student's kernel claims never counts (course/GUIDE.md section 2.3).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import numbers
import secrets
from collections.abc import Sequence
from typing import Any

from toolkit.i18n import N_, tr

__all__ = [
    "CheckFailure",
    "award",
    "awarded",
    "check_accuracy",
    "check_config_roundtrip",
    "check_equal",
    "check_hashed",
    "check_layer_names",
    "check_layer_types",
    "check_param_count",
    "check_shape",
    "check_true",
    "hash_answer",
]

HASH_SCHEME = "pbkdf2-sha256"
HASH_ROUNDS = 200_000
_NOT_GIVEN = object()


class CheckFailure(AssertionError):
    """A check did not pass; the message is written for the student."""

    def __init__(self, what: str, *, expected: Any = _NOT_GIVEN, found: Any = _NOT_GIVEN, hint: str | None = None):
        lines = [what]
        if expected is not _NOT_GIVEN:
            lines.append(tr("  expected: {value}", value=expected))
        if found is not _NOT_GIVEN:
            lines.append(tr("  found:    {value}", value=found))
        if hint:
            lines.append(tr("  hint: {value}", value=tr(hint)))
        super().__init__("\n".join(lines))


def _ok(text: str) -> None:
    print(f"✓ {text}")


_AWARDS: list[tuple[float, str]] = []  # award()s of the running check cell; the grader reloads or resets this module


def award(fraction: float, why: str) -> None:
    """Give the running check cell ``fraction`` (0 to 1) of its points; ``why`` is the sentence the student reads.

    The cell must still finish without an error: a failing line fails the check whatever was awarded. Called more
    than once in a cell, the smallest fraction counts. The points are the check's points times the fraction, rounded
    to 0.01. Bad use (not a number, outside 0..1, no reason) raises a ValueError or TypeError, one sentence.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise TypeError(
            f"checks.award: the fraction must be a number from 0 to 1 (got {fraction!r}, of type "
            f"{type(fraction).__name__}); pass e.g. checks.award(2 / 3, 'two of the three layers are right')"
        )
    value = float(fraction)
    if not 0.0 <= value <= 1.0:  # NaN too
        raise ValueError(
            f"checks.award: the fraction must be from 0 to 1 (got {fraction!r}); pass the share of the check's points "
            "earned, e.g. checks.award(0.5, ...) for half of them"
        )
    if not isinstance(why, str) or not why.strip():
        raise ValueError(
            f"checks.award: say why in a sentence the student reads (got {why!r}), e.g. "
            "checks.award(0.5, 'the model is right but not trained')"
        )
    _AWARDS.append((value, tr(why)))
    line = tr("{why}: {percent}% of this check's points", why=tr(why), percent=format(100 * value, ".0f"))
    print(f"◐ {line}")


def awarded() -> tuple[float, str]:
    """The running check cell's share of its points and why: ``(1.0, "")`` unless :func:`award` was called."""
    return min(_AWARDS, key=lambda a: a[0]) if _AWARDS else (1.0, "")


def _reset_awards() -> None:
    """Forget the awards: a new check cell starts (the trusted process runs several in one interpreter)."""
    _AWARDS.clear()


def _plain(value: Any, where: str = N_("value")) -> Any:
    """``value`` as plain JSON-able data (lists for tuples, ints for NumPy ints); refuse anything else.

    Refusing objects (rather than trusting their ``__eq__``) is what stops an answer that claims to equal
    everything.
    """
    if value is None or isinstance(value, bool | str):
        return value.strip() if isinstance(value, str) else value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return round(float(value), 6)
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, where) for k, v in sorted(value.items())}
    raise CheckFailure(
        tr("The {where} must be plain data: a number, a string, None, or a tuple/list of those.", where=tr(where)),
        found=tr("an object of type {type}", type=type(value).__name__),
        hint=N_("write the answer as a literal, e.g. (None, 10) or 12345"),
    )


def _show(value: Any) -> str:
    return repr(tuple(value)) if isinstance(value, list) else repr(value)


def check_true(condition: Any, what: str, hint: str | None = None) -> None:
    """Pass when ``condition is True``; ``what`` describes the condition in the student's words."""
    if condition is not True:
        raise CheckFailure(tr("Not yet: {what}.", what=tr(what)), found=repr(condition), hint=hint)
    _ok(tr(what))


def check_equal(what: str, found: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when ``found`` equals ``expected`` as plain data (tuples and lists compare equal)."""
    got, want = _plain(found, what), _plain(expected, N_("expected value"))
    if got != want:
        raise CheckFailure(tr("{what} is not right.", what=tr(what)), expected=_show(want), found=_show(got), hint=hint)
    _ok(f"{tr(what)} = {_show(got)}")


def _model_name(model: Any) -> str:
    return tr("model {name}", name=repr(getattr(model, "name", "?")))


def _require_model(model: Any, helper: str) -> Any:
    from toolkit._keras import keras

    if not isinstance(model, keras.Model):
        raise CheckFailure(
            tr("{helper} needs a Keras model.", helper=helper),
            found=tr("an object of type {type}", type=type(model).__name__),
            hint=N_("pass the model you built, e.g. keras.Sequential([...]) or keras.Model(inputs, outputs)"),
        )
    return keras


def _output_shapes(model: Any) -> list[tuple[Any, ...]]:
    try:
        outputs = model.outputs
    except (AttributeError, ValueError) as err:
        raise CheckFailure(
            tr("The {model} has no defined output yet, so its output shape is unknown.", model=_model_name(model)),
            hint=tr(
                "start the model with keras.Input(shape=...) (or call it once on data) so that Keras knows "
                "the input shape. Keras said: {err}",
                err=err,
            ),
        ) from None
    return [tuple(t.shape) for t in outputs]


def check_shape(obj: Any, expected: Any, hint: str | None = None) -> None:
    """Pass when the output shape of a model (or the ``.shape`` of a tensor/array) equals ``expected``.

    For a model with several outputs, ``expected`` is a list with one shape per output. ``None`` stands for a
    dimension of any size (the batch).
    """
    from toolkit._keras import keras

    if isinstance(obj, keras.Model):
        shapes = _output_shapes(obj)
        found: Any = shapes[0] if len(shapes) == 1 else shapes
        what = tr("output shape of the {model}", model=_model_name(obj))
    elif hasattr(obj, "shape"):
        found = tuple(None if d is None else int(d) for d in obj.shape)
        what = tr("shape of the {type}", type=type(obj).__name__)
    else:
        raise CheckFailure(
            tr("check_shape needs a Keras model, a tensor or an array."),
            found=tr("an object of type {type}", type=type(obj).__name__),
            hint=N_("pass the model itself, or a tensor such as model.output"),
        )
    check_equal(what, found, expected, hint=hint)


def _count(weights: Sequence[Any]) -> int:
    total = 0
    for w in weights:
        size = 1
        for d in w.shape:
            size *= int(d)
        total += size
    return total


def check_param_count(model: Any, expected: int, trainable: bool | None = None, hint: str | None = None) -> None:
    """Pass when the model has ``expected`` parameters (all of them, or only the (non-)trainable ones)."""
    _require_model(model, "check_param_count")
    if not model.weights:
        raise CheckFailure(
            tr("The {model} has no weights yet: it is not built.", model=_model_name(model)),
            hint=N_("give it an input shape with keras.Input(shape=...) so that Keras creates the weights"),
        )
    if trainable is None:
        weights, kind = model.weights, N_("parameters")
    elif trainable:
        weights, kind = model.trainable_weights, N_("trainable parameters")
    else:
        weights, kind = model.non_trainable_weights, N_("non-trainable parameters")
    what = tr("number of {kind} of the {model}", kind=tr(kind), model=_model_name(model))
    check_equal(what, _count(weights), expected, hint=hint)


def _layers(model: Any) -> list[Any]:
    keras = _require_model(model, "this check")
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def check_layer_types(model: Any, expected: Sequence[str | type], hint: str | None = None) -> None:
    """Pass when the classes of ``model.layers`` (input layers left out) are, in order, ``expected``."""
    want = [e if isinstance(e, str) else e.__name__ for e in expected]
    found = [type(layer).__name__ for layer in _layers(model)]
    check_equal(tr("layer types of the {model}", model=_model_name(model)), found, want, hint=hint)


def check_layer_names(model: Any, expected: Sequence[str], hint: str | None = None) -> None:
    """Pass when the names of ``model.layers`` (input layers left out) are, in order, ``expected``."""
    found = [layer.name for layer in _layers(model)]
    check_equal(tr("layer names of the {model}", model=_model_name(model)), found, list(expected), hint=hint)


def check_accuracy(
    model: Any, x: Any, y: Any, at_least: float, hint: str | None = None, *, full_at: float | None = None
) -> None:
    """Pass when ``argmax(model.predict(x))`` matches the integer labels ``y`` for at least ``at_least`` of them.

    With ``full_at`` (above ``at_least``, at most 1) the credit is linear between the two: none at ``at_least``,
    all of it from ``full_at`` on, e.g. ``at_least=0.90, full_at=0.95`` gives 0.93 three fifths of the points
    (:func:`award`). Below ``at_least`` the check fails as without it.
    """
    import numpy as np

    if full_at is not None and not (
        isinstance(full_at, numbers.Real) and isinstance(at_least, numbers.Real) and at_least < full_at <= 1
    ):
        raise ValueError(
            f"check_accuracy: full_at must be a number above at_least and at most 1 (got at_least={at_least!r}, "
            f"full_at={full_at!r}), e.g. at_least=0.90, full_at=0.95"
        )
    keras = _require_model(model, "check_accuracy")
    labels = np.asarray(y).reshape(-1)
    try:
        # The base-class method, so that a model overriding predict() is still measured by Keras.
        probs = np.asarray(keras.Model.predict(model, x, verbose=0))
    except Exception as err:  # noqa: BLE001  (any failure here is the student's to read)
        raise CheckFailure(
            tr("The {model} could not predict on the test images.", model=_model_name(model)),
            found=f"{type(err).__name__}: {err}",
            hint=N_("check that the model's input shape matches the data, e.g. (None, 28, 28) or (None, 784)"),
        ) from None
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise CheckFailure(
            tr("The {model} should output one row of class scores per image.", model=_model_name(model)),
            expected=tr("shape ({rows}, number of classes)", rows=labels.shape[0]),
            found=tr("shape {shape}", shape=probs.shape),
            hint=N_("end the model with Dense(number_of_classes)"),
        )
    accuracy = float(np.mean(np.argmax(probs, axis=1) == labels))
    if accuracy < at_least:
        raise CheckFailure(
            tr("The accuracy of the {model} is too low.", model=_model_name(model)),
            expected=tr("at least {value}", value=format(at_least, ".2f")),
            found=f"{accuracy:.3f}",
            hint=hint or N_("train for more epochs, check the loss matches the labels, scale pixels to [0, 1]"),
        )
    if full_at is not None and accuracy < full_at:
        fraction = (accuracy - float(at_least)) / (float(full_at) - float(at_least))
        award(fraction, tr("accuracy {found}: full credit from {full}, none at {low} or below", found=format(
            accuracy, ".3f"), full=format(full_at, ".2f"), low=format(at_least, ".2f")))  # fmt: skip
        return
    _ok(tr("accuracy {found} >= {wanted}", found=format(accuracy, ".2f"), wanted=format(at_least, ".2f")))


def check_config_roundtrip(layer: Any, hint: str | None = None) -> None:
    """Pass when ``type(layer).from_config(layer.get_config())`` gives a layer with the same config."""
    try:
        config = layer.get_config()
        clone = type(layer).from_config(config)
    except Exception as err:  # noqa: BLE001
        raise CheckFailure(
            tr("{layer} cannot be rebuilt from its config.", layer=type(layer).__name__),
            found=f"{type(err).__name__}: {err}",
            hint=hint
            or N_(
                "get_config() must return every __init__ argument (start from super().get_config()) and "
                "__init__ must accept them, including **kwargs passed on to super().__init__"
            ),
        ) from None
    if clone.get_config() != config:
        raise CheckFailure(
            tr("{layer}.from_config(get_config()) gives a different layer.", layer=type(layer).__name__),
            expected=config,
            found=clone.get_config(),
            hint=hint or N_("store every __init__ argument on self and return it from get_config()"),
        )
    _ok(tr("{layer} survives a get_config()/from_config() round trip", layer=type(layer).__name__))


def _digest(question_id: str, answer: Any, salt: str, rounds: int) -> str:
    plain = _plain(answer, N_("answer"))
    message = f"{question_id}\n{json.dumps(plain, separators=(',', ':'))}"
    return hashlib.pbkdf2_hmac("sha256", message.encode(), salt.encode(), rounds).hex()


def hash_answer(question_id: str, answer: Any, *, salt: str | None = None, rounds: int = HASH_ROUNDS) -> str:
    """The digest string that :func:`check_hashed` compares against (instructors: ``course hash``)."""
    salt = salt if salt is not None else secrets.token_hex(4)
    if not salt.isalnum():
        raise ValueError(f"salt must be letters and digits (got {salt!r}); leave it out to get a random one.")
    return f"{HASH_SCHEME}${rounds}${salt}${_digest(question_id, answer, salt, rounds)}"


def check_hashed(question_id: str, answer: Any, digest: str, hint: str | None = None) -> None:
    """Pass when ``answer`` (plain data) is the answer whose digest is ``digest``; the answer itself is not stored."""
    parts = digest.split("$")
    if len(parts) != 4 or parts[0] != HASH_SCHEME or not parts[1].isdigit():
        raise ValueError(
            f"digest must look like '{HASH_SCHEME}$ROUNDS$SALT$HEX' (got {digest!r}); "
            "compute it with `python -m course hash QUESTION_ID VALUE`."
        )
    _, rounds, salt, expected = parts
    if answer is Ellipsis or answer is NotImplemented:
        raise CheckFailure(
            tr("Question {id} has no answer yet.", id=question_id), hint=N_("replace ... with your answer")
        )
    found = _digest(question_id, answer, salt, int(rounds))
    if not hmac.compare_digest(found, expected):
        wrong = tr("Your answer to {id} is not right.", id=question_id)
        raise CheckFailure(wrong, found=_show(_plain(answer)), hint=hint)
    _ok(tr("{id}: {answer} is right", id=question_id, answer=_show(_plain(answer))))
