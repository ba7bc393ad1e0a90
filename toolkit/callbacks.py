"""A quiet, deterministic training display for notebooks: one rounded line per epoch."""

from __future__ import annotations

import json
import os
from typing import Any

from toolkit._keras import keras


class EpochLogger(keras.callbacks.Callback):
    """Print one line per epoch with metrics rounded to ``digits`` decimals; use with ``fit(verbose=0)``.

    Keras's own progress bar writes backspaces and per-step timings, which change on every run; this line
    changes only when the numbers do, so nbval can compare it.
    """

    def __init__(self, digits: int = 4, every: int = 1) -> None:
        super().__init__()
        if not isinstance(digits, int) or digits < 0:
            raise ValueError(f"digits must be a non-negative int (got {digits!r}), e.g. EpochLogger(digits=3).")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int (got {every!r}), e.g. EpochLogger(every=2).")
        self.digits = digits
        self.every = every
        self._epochs: int | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        total = f"/{self._epochs}" if self._epochs else ""
        parts = [f"epoch {epoch + 1}{total}"]
        for key, value in sorted((logs or {}).items(), key=lambda kv: (kv[0].startswith("val_"), kv[0])):
            if key == "learning_rate":
                parts.append(f"lr {float(value):.2g}")
            else:
                parts.append(f"{key} {float(value):.{self.digits}f}")
        print(" - ".join(parts), flush=True)


RESULTS_ENV = "KERAS_COURSE_RESULTS"


def record_result(notebook: str, **metrics: float) -> None:
    """Print a lesson's key results (``result test_accuracy = 0.9793``) and, when the environment variable
    KERAS_COURSE_RESULTS names a file, append them there as one JSON line for benchmarks/bench_lessons.py."""
    if not metrics:
        raise ValueError("record_result() needs at least one metric, e.g. record_result('01', test_accuracy=acc).")
    clean = {}
    for name, value in metrics.items():
        try:
            clean[name] = float(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"metric {name!r} must be a number (got {value!r}).") from err
        print(f"result {name} = {clean[name]:.4f}")
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"notebook": notebook, **clean}) + "\n")
