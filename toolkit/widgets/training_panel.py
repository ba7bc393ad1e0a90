"""TrainingPanel: a button that trains the current model for N epochs on a seeded subset of real MNIST or
CIFAR-10, drawing loss and accuracy curves live; disabled while training, with a stop button.

Training runs in a thread (``background=True``) so that the kernel still hears the stop button; the stop flag
is checked after every batch by a Keras callback. ``train()`` is the same work, synchronous, for tests and scripts.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np

from toolkit._keras import keras
from toolkit.widgets import panel_data
from toolkit.widgets.panel_base import Panel
from toolkit.widgets.panel_output import Snapshot, figure_png, img_tag, png_record, show

ModelSource = Any  # a keras.Model, an object with a .model (a LayerTuner), or a function returning a model


def curves_png(history: dict[str, list[float]], title: str = "") -> bytes:
    """Loss and accuracy per epoch (training and validation) as a PNG; pure matplotlib, no pyplot."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 2.8))
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation (test subset)")):
            if history.get(key):
                ax.plot(range(1, len(history[key]) + 1), history[key], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return figure_png(fig)


def ensure_compiled(model: Any) -> bool:
    """Compile an uncompiled classifier with Adam and sparse cross-entropy; True if this compiled it."""
    if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
        return False
    last = model.layers[-1] if model.layers else None
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    softmax = type(last).__name__ == "Softmax" or activation == "softmax"
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax), metrics=["accuracy"]
    )
    return True


class _PanelCallback(keras.callbacks.Callback):
    """Stops at the end of a batch once ``stop`` is set; reports batches and finished epochs."""

    def __init__(
        self, stop: threading.Event, on_batch: Callable[[int], None], on_epoch: Callable[[dict[str, float]], None]
    ) -> None:
        super().__init__()
        self.stop, self.on_batch, self.on_epoch = stop, on_batch, on_epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.stop.is_set():
            self.model.stop_training = True
        self.on_batch(batch)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.on_epoch({k: float(v) for k, v in (logs or {}).items()})


class TrainingPanel(Panel):
    """Train ``model`` (or ``tuner.model``, read at each click) on ``n_train`` seeded images of ``data``."""

    title = "TrainingPanel"

    def __init__(
        self,
        model: ModelSource,
        data: str = "mnist",
        *,
        epochs: int = 3,
        n_train: int = 2000,
        n_test: int = 500,
        batch_size: int = 64,
        seed: int = 0,
        callbacks: Sequence[Any] = (),
        background: bool = True,
    ) -> None:
        self.source = model
        (self.x_train, y_train), (self.x_test, y_test) = panel_data.load_subset(data, n_train, n_test, seed)
        self.y_train, self.y_test = panel_data.labels_1d(y_train), panel_data.labels_1d(y_test)
        self.data, self.batch_size, self.callbacks, self.background = data, batch_size, list(callbacks), background
        self.history: dict[str, list[float]] = {}
        self.training = False
        self._model: Any = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_status = 0.0
        self.epochs = widgets.IntSlider(
            value=epochs, min=1, max=max(20, epochs), description="epochs", continuous_update=False
        )
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.status = widgets.HTML(self._describe_data())
        self.output = widgets.Output()
        self.train_button.on_click(self._on_train_click)
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox(
            [widgets.HBox([self.epochs, self.train_button, self.stop_button]), self.status, self.output]
        )

    def _describe_data(self) -> str:
        return (
            f"{len(self.x_train):,} training and {len(self.x_test):,} test images of {self.data} "
            f"(seeded, class-balanced subset)"
        )

    @property
    def model(self) -> Any:
        """The model the curves belong to: the one trained last (None before the first training)."""
        return self._model

    def current_model(self) -> Any:
        """The model a click would train now: the model given, or the tuner's current one."""
        src = self.source
        model = src if isinstance(src, keras.Model) else src.model if hasattr(src, "model") else src()
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"TrainingPanel needs a Keras model, a LayerTuner or a function returning a model; "
                f"it got {type(model).__name__}. Pass the model itself, e.g. TrainingPanel(model)."
            )
        return model

    def train(self, epochs: int | None = None) -> dict[str, list[float]]:
        """Train for ``epochs`` (default: the slider) more epochs, synchronously; returns the history so far."""
        n = self.epochs.value if epochs is None else epochs
        with self._lock:
            if self.training:
                raise RuntimeError("this panel is already training; press Stop or wait for it to finish.")
            self.training = True
        self._stop.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        try:
            self._fit(n)
        except Exception as err:  # the learner's model does not fit the data: one sentence, no traceback
            first = " ".join(str(err).split()).split(". ")[0].replace("`", "")[:160]
            self.status.value = html.escape(
                f"Training failed ({type(err).__name__}: {first}); check that the model takes {self.data} "
                f"images and ends in 10 outputs, one per class."
            )
        finally:
            self.training = False
            self.train_button.disabled, self.stop_button.disabled = False, True
        return self.history

    def _fit(self, n: int) -> None:
        model = self.current_model()
        if model is not self._model:  # a new model (e.g. the tuner rebuilt it): start new curves
            self._model, self.history = model, {}
        x, xt = panel_data.fit_to_input(self.x_train, model), panel_data.fit_to_input(self.x_test, model)
        ensure_compiled(model)
        done = len(self.history.get("loss", []))
        steps = int(np.ceil(len(x) / self.batch_size))
        self.status.value = f"training epochs {done + 1} to {done + n} ..."
        callback = _PanelCallback(self._stop, lambda b: self._progress(b, steps), self._epoch_done)
        model.fit(
            x,
            self.y_train,
            batch_size=self.batch_size,
            epochs=done + n,
            initial_epoch=done,
            validation_data=(xt, self.y_test),
            verbose=0,
            callbacks=[callback, *self.callbacks],
        )
        how = "stopped" if self._stop.is_set() else "done"
        self.status.value = html.escape(f"{how}: {self.summary_line()}")

    def summary_line(self) -> str:
        """``epoch 3: loss 0.41, accuracy 0.88, val_loss ..., val_accuracy ...`` for the last finished epoch."""
        if not self.history:
            return "not trained yet"
        last = {k: v[-1] for k, v in self.history.items()}
        return f"epoch {len(self.history['loss'])}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()))

    def _progress(self, batch: int, steps: int) -> None:
        now = time.monotonic()
        if now - self._last_status > 0.5:  # at most two updates a second reach the browser
            self._last_status = now
            self.status.value = f"epoch {len(self.history.get('loss', [])) + 1}: batch {batch + 1}/{steps}"

    def _epoch_done(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        show(self.output, png_record(curves_png(self.history), self.summary_line()))

    def _on_train_click(self, _: Any) -> None:
        if self.training:
            return
        if self.background:
            self._thread = threading.Thread(target=self.train, name="toolkit-training", daemon=True)
            self._thread.start()
        else:
            self.train()

    def stop(self) -> None:
        """Stop at the end of the current batch (what the Stop button does)."""
        self._stop.set()

    def wait(self, timeout: float = 300.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"training was still running after {timeout:g} s; press Stop or wait longer.")

    def snapshot(self) -> Snapshot:
        curves = img_tag(curves_png(self.history), "loss and accuracy curves") if self.history else ""
        text = f"{self._describe_data()}\n{self.summary_line()}"
        body = f'<p style="font-family:monospace">{html.escape(self.summary_line())}</p>{curves}'
        return Snapshot(f"TrainingPanel: {self.data}", body, text)
