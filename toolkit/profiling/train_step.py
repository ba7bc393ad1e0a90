"""The time of one training step on one batch, measured without changing the model.

A compiled model given labels runs a short real ``fit`` on copies of the batch (its own train function: forward,
loss, backward, the optimizer's update, metrics, and fit's loop around them); a step is the gap between two batch
ends, and the step time the median of the last ``KEPT`` steps after the first (traced) one. Anything else runs
forward and backward only (a tf.function gradient of the mean square of the outputs): no optimizer, no loss of the
learner's choosing. Every variable the
step changes (weights, BatchNorm statistics, the optimizer's slots and step counter) is put back afterwards.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from toolkit._keras import keras, tf
from toolkit.keras_graph.basics import losses_kept
from toolkit.profiling.records import StepTime

KEPT = 3  # the step time is the median of the last KEPT steps: on a CPU the first steps after tracing run slower
BUDGET_S = 1.5  # stop once this much was spent on steps after the traced one, with at least KEPT + 1 of them


def enough(steps: list[float], runs: int) -> bool:
    """Whether the steps timed so far (the traced first one left out) are enough to stop."""
    return len(steps) >= max(runs, KEPT) or (len(steps) > KEPT and sum(steps) > BUDGET_S)


def step_seconds(steps: list[float]) -> float:
    return float(statistics.median(steps[-KEPT:]))


def tiled(data: Any, rows: int) -> Any:
    """``data`` (an array, or a list/dict of them) cut or repeated along the batch axis to ``rows`` rows."""

    def one(a: Any) -> Any:
        a = np.asarray(a)
        return np.take(a, np.arange(rows) % len(a), axis=0)

    return keras.tree.map_structure(one, data)


def is_compiled(model: Any) -> bool:
    return bool(getattr(model, "compiled", False)) and getattr(model, "optimizer", None) is not None


def _variables(model: Any) -> list[Any]:
    found = list(model.variables)
    if is_compiled(model):
        found += list(model.optimizer.variables)
    return list({id(v): v for v in found}.values())


class _Stamps(keras.callbacks.Callback):
    """Stops fit once enough steps were timed: the gaps between batch ends after the first (traced) one."""

    def __init__(self, runs: int) -> None:
        super().__init__()
        self.runs = runs
        self.stamps: list[float] = []

    @property
    def steps(self) -> list[float]:
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.stamps.append(time.perf_counter())
        if enough(self.steps, self.runs):
            self.model.stop_training = True


def _fit_steps(model: Any, x: Any, y: Any, batch_size: int, runs: int) -> StepTime:
    per_call = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
    stamps = _Stamps(runs)
    history = getattr(model, "history", None)
    # one row more than the steps fit may run: a last partial batch, never run, gives the data set the batch size
    # None that a learner's fit (a data set rarely a multiple of the batch) has, so the learner's next fit does not
    # trace the train function again
    rows = batch_size * per_call * (1 + max(runs, KEPT)) + 1
    start = time.perf_counter()
    model.fit(
        tiled(x, rows), tiled(y, rows), batch_size=batch_size, epochs=1, verbose=0, shuffle=False, callbacks=[stamps]
    )
    model.history, model.stop_training = history, False
    steps = [s / per_call for s in stamps.steps]
    return StepTime(
        seconds=step_seconds(steps),
        batch_size=batch_size,
        steps_timed=len(steps),
        steps_kept=min(len(steps), KEPT),
        method="fit",
        first_step_s=stamps.stamps[0] - start,
    )


def _gradient_steps(model: Any, x: Any, batch_size: int, runs: int) -> StepTime:
    weights = model.trainable_variables
    inputs = keras.tree.map_structure(tf.convert_to_tensor, tiled(x, batch_size))

    def step(batch: Any) -> Any:
        with tf.GradientTape() as tape:
            outputs = keras.tree.flatten(model(batch, training=True))
            loss = tf.add_n([tf.reduce_mean(tf.square(tf.cast(o, "float32"))) for o in outputs])
        return tape.gradient(loss, weights)

    compiled = tf.function(step, autograph=False)
    sync = tf.test.experimental.sync_devices if tf.config.list_logical_devices("GPU") else (lambda: None)
    first, steps = 0.0, list[float]()
    while not enough(steps, runs):
        started = time.perf_counter()
        compiled(inputs)
        sync()
        if first:
            steps.append(time.perf_counter() - started)
        else:
            first = time.perf_counter() - started
    return StepTime(
        seconds=step_seconds(steps),
        batch_size=batch_size,
        steps_timed=len(steps),
        steps_kept=min(len(steps), KEPT),
        method="gradient",
        first_step_s=first,
    )


def step_time(model: Any, x: Any, y: Any, batch_size: int, runs: int) -> StepTime:
    """One training step's seconds on ``batch_size`` samples made from ``x`` (and labels ``y``); see the module."""
    if is_compiled(model) and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)  # its slots exist before the snapshot, so they are restored
    saved = [(v, v.numpy()) for v in _variables(model)]
    try:
        with losses_kept(model):
            if is_compiled(model) and y is not None:
                return _fit_steps(model, x, y, batch_size, runs)
            return _gradient_steps(model, x, batch_size, runs)
    finally:
        for variable, value in saved:
            variable.assign(value)
        if is_compiled(model):
            model.reset_metrics()
