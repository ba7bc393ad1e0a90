"""Forward times of single calls: each call compiled once as a ``tf.function``, then timed after a warm-up.

Method (the same for every row and for the whole model, so that they compare): the call is wrapped in
``tf.function`` (no XLA), called ``WARMUP`` times (the first traces it), then timed in ``runs`` runs (3 for a slow
call); a run makes ``inner`` calls back to back (enough for about ``MIN_RUN_S``) and counts its mean, and the result
is the median run. On a GPU each run ends with a device sync, so queued work is counted.

Known bias: each call pays TensorFlow's dispatch (tens of microseconds on a CPU) once per call. On tiny layers
(Flatten, Dropout at inference, an activation) that overhead is most of what is measured, so the sum of the
per-layer times exceeds the whole model's time, in which one function runs every layer with one dispatch and
TensorFlow may fuse neighbouring operations.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from toolkit._keras import tf

WARMUP = 2
MIN_RUN_S = 0.002
MAX_INNER = 50
BUDGET_S = 0.25  # a slow call stops after 3 runs once this much was spent on its runs


def _sync() -> Callable[[], None]:
    if tf.config.list_logical_devices("GPU"):
        return tf.test.experimental.sync_devices
    return lambda: None  # CPU functions return when their work is done


def median_ms(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], runs: int) -> float:
    """Median forward time of ``fn(*args, **kwargs)`` in milliseconds, timed as the module docstring says."""
    # only tensors are the function's arguments; other values (None, ints, a slice of x[:, 0]) are constants in it
    leaves = tf.nest.flatten((args, kwargs))
    where = [i for i, v in enumerate(leaves) if tf.is_tensor(v)]

    def call(*tensors: Any) -> Any:
        filled = list(leaves)
        for i, t in zip(where, tensors):
            filled[i] = t
        a, k = tf.nest.pack_sequence_as((args, kwargs), filled)
        return fn(*a, **k)

    compiled = tf.function(call, autograph=False)
    tensors = [leaves[i] for i in where]
    sync = _sync()
    last = 0.0
    for _ in range(WARMUP):
        start = time.perf_counter()
        compiled(*tensors)
        sync()
        last = time.perf_counter() - start
    inner = max(1, min(MAX_INNER, math.ceil(MIN_RUN_S / max(last, 1e-6))))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(inner):
            compiled(*tensors)
        sync()
        times.append((time.perf_counter() - start) / inner)
        if len(times) >= 3 and sum(times) * inner > BUDGET_S:
            break
    return statistics.median(times) * 1000
