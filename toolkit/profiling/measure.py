"""profile(model, batch) -> Profile: each summary row's measured forward time, and a training epoch forecast."""

from __future__ import annotations

import contextlib
from typing import Any

from toolkit import keras_graph
from toolkit._keras import device, keras, tf
from toolkit.i18n import tr
from toolkit.inspection.input_shapes import short_repr
from toolkit.inspection.model_inputs import require_model, walk
from toolkit.keras_graph.basics import losses_kept
from toolkit.keras_graph.concrete_calls import concrete_calls, model_inputs
from toolkit.profiling.records import LayerTime, StepTime, shares
from toolkit.profiling.timing import median_ms
from toolkit.profiling.train_step import is_compiled, step_time
from toolkit.records import ModelRecord
from toolkit.render.profile_view import Profile
from toolkit.render.tables import fmt_shapes


def profile(
    model: Any,
    batch: Any,
    labels: Any = None,
    *,
    samples: int | None = None,
    batch_size: int | None = None,
    runs: int = 5,
) -> Profile:
    """Time every summary row's forward call on ``batch`` (real inputs, e.g. ``x_train[:128]``) on this machine.

    Each row gets its median forward time (each call compiled and timed on its own, on the inputs it receives
    from this batch), its share and its multiply-accumulates per second; the whole model's forward time is
    measured the same way. A training step on ``batch_size`` samples (default: the batch's length) is timed too:
    a short real ``fit`` on copies of the batch when the model is compiled and ``labels`` are given, else forward
    and backward only. ``samples`` (e.g. ``len(x_train)``) adds the forecast of one epoch's seconds;
    ``p.forecast(n)`` gives it for any size. The model's weights and optimizer state are left as they were.
    """
    require_model(model, "profile")
    rows = _rows_of(batch, "batch")
    if labels is not None and _rows_of(labels, "labels") != rows:
        raise ValueError(
            tr(
                "labels has {labels} rows but the batch has {rows}: pass the labels of the same "
                "samples, e.g. profile(model, x_train[:{rows}], y_train[:{rows}]).",
                labels=_rows_of(labels, "labels"),
                rows=rows,
            )
        )
    _check_counts(samples, batch_size, runs)
    record = _walk(model, batch)
    with losses_kept(model):  # layers that add losses would otherwise keep those of the timed functions' graphs
        times, notes = _row_times(model, batch, record, runs)
        whole_ms = _whole_ms(model, batch, runs, notes)
    step = _step(model, batch, labels, batch_size or rows, runs, notes)
    depths = [r.depth for r in record.rows]
    forward = [times.get(r.address) for r in record.rows]
    layer_times = tuple(
        LayerTime(
            address=r.address,
            class_name=r.class_name,
            depth=r.depth,
            macs=r.macs,
            forward_ms=ms,
            share=share,
            batch_size=rows,
        )
        for r, ms, share in zip(record.rows, forward, shares(forward, depths))
    )
    return Profile(
        name=record.name,
        kind=record.kind,
        rows=layer_times,
        whole_ms=whole_ms,
        step=step,
        device=device(),
        runs=runs,
        samples=samples,
        notes=tuple(notes),
    )


def _whole_ms(model: Any, batch: Any, runs: int, notes: list[str]) -> float | None:
    try:
        return median_ms(model, (_as_tensors(batch),), {"training": False}, runs)
    except Exception as err:  # noqa: BLE001  e.g. call() uses a tensor in a Python `if`: said in a note
        notes.append(
            tr(
                "The whole model could not run as one compiled function ({reason}), so it was not timed; "
                "fit() compiles it the same way unless you compile(..., run_eagerly=True).",
                reason=keras_graph.error_text(err),
            )
        )
        return None


def _step(model: Any, batch: Any, labels: Any, batch_size: int, runs: int, notes: list[str]) -> StepTime | None:
    real_fit = is_compiled(model) and labels is not None
    try:
        step = step_time(model, batch, labels, batch_size, runs)
    except Exception as err:
        if real_fit:  # the learner's own fit() would stop the same way: say so now
            raise ValueError(
                tr(
                    "A training step of model '{name}' on this batch failed, as model.fit() would: "
                    "{reason} Check the labels against the loss (sparse labels need a sparse loss, one "
                    "output per class), or leave labels out to time forward and backward only.",
                    name=model.name,
                    reason=keras_graph.error_text(err),
                )
            ) from err
        notes.append(
            tr(
                "The training step could not be timed ({reason}), so there is no epoch forecast.",
                reason=keras_graph.error_text(err),
            )
        )
        return None
    if not real_fit:
        notes.append(
            tr(
                "The training step was timed as forward and backward only (no optimizer, no loss of yours): "
                "compile the model and pass labels= to time a real fit step."
            )
        )
    return step


def _rows_of(data: Any, what: str) -> int:
    """The batch length of ``data`` (an array, or a list/tuple/dict of arrays of one length)."""
    leaves = list(data.values()) if isinstance(data, dict) else list(data) if isinstance(data, list | tuple) else [data]
    lengths = set()
    for leaf in leaves:
        shape = getattr(leaf, "shape", None)
        if shape is None or len(shape) < 1 or isinstance(leaf, keras.Model) or shape[0] is None:
            raise TypeError(
                tr(
                    "profile() needs {what} as an array of real samples, batch first (or a list or dict "
                    "of them), e.g. x_train[:128]; got {got}.",
                    what=what,
                    got=short_repr(leaf),
                )
            )
        lengths.add(int(shape[0]))
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            tr(
                "The arrays of {what} must hold the same number of samples, at least one; got {got}.",
                what=what,
                got=", ".join(str(n) for n in sorted(lengths)) or "none",
            )
        )
    return lengths.pop()


def _check_counts(samples: int | None, batch_size: int | None, runs: int) -> None:
    for name, value, least in (("samples", samples, 1), ("batch_size", batch_size, 1), ("runs", runs, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
            raise ValueError(
                tr(
                    "{name} must be a positive whole number (got {got}), e.g. samples=len(x_train), "
                    "batch_size=128, runs=5.",
                    name=name,
                    got=repr(value),
                )
            )


def _walk(model: Any, batch: Any) -> ModelRecord:
    """The summary's records; for a built graph model the batch is checked against its inputs first."""
    if not keras_graph.is_graph_model(model):  # an unbuilt Sequential is built, a subclassed one traced on the batch
        return walk(model, None, "profile", sample=batch)
    built = keras_graph.built_input_shapes(model)
    want = built if isinstance(built, list) else []  # a graph model's: always a list
    try:
        got = [tuple(int(d) for d in t.shape) for t in model_inputs(model, batch)]
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(
            tr(
                "Model '{name}' cannot take this batch: {reason} Its inputs are {inputs}: pass them as the model "
                "was built with them, e.g. profile(model, x_train[:128]).",
                name=model.name,
                inputs=", ".join(repr(t.name) for t in model.inputs),
                reason=keras_graph.error_text(err),
            )
        ) from err
    fits = len(want) == len(got) and all(
        len(w) == len(g) and all(a is None or a == b for a, b in zip(w[1:], g[1:])) for w, g in zip(want, got)
    )
    if not fits:
        raise ValueError(
            tr(
                "The batch's samples have shape {got}, but model '{name}' takes inputs of shape {want} "
                "(batch left out): pass real inputs of that shape, e.g. profile(model, x_train[:128]).",
                got=fmt_shapes([g[1:] for g in got]),
                name=model.name,
                want=fmt_shapes([w[1:] for w in want]),
            )
        )
    return walk(model, None, "profile")


def _row_times(model: Any, batch: Any, record: ModelRecord, runs: int) -> tuple[dict[str, float], list[str]]:
    """Milliseconds per row address, and notes on rows that could not be timed."""
    notes: list[str] = []
    try:
        calls = concrete_calls(model, batch)
    except Exception as err:  # noqa: BLE001  reported: the profile keeps the whole model's time
        notes.append(
            tr(
                "The layers could not be run one by one ({reason}), so only the whole model was timed.",
                reason=keras_graph.error_text(err),
            )
        )
        return {}, notes
    rows = {r.address for r in record.rows}
    times: dict[str, float] = {}
    for call in calls:
        if call.address not in rows:
            continue
        with contextlib.suppress(Exception):  # a call that cannot run alone keeps no time; named in a note below
            times[call.address] = median_ms(call.fn, call.args, call.kwargs, runs)
    failed = [r.address for r in record.rows if r.called and r.class_name != "InputLayer" and r.address not in times]
    if failed:
        notes.append(
            tr(
                "Not timed alone (inside a wrapper, or they cannot run outside the model): {rows}.",
                rows=", ".join(failed),
            )
        )
    if record.kind == "Subclassed":
        notes.append(tr("The model's own code between its layers (in call()) is in the whole model's time only."))
    return times, notes


def _as_tensors(batch: Any) -> Any:
    return keras.tree.map_structure(tf.convert_to_tensor, batch)
