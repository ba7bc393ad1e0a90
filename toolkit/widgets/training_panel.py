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
from toolkit.i18n import tr
from toolkit.widgets import panel_data
from toolkit.widgets.panel_base import Panel
from toolkit.widgets.panel_output import Snapshot, figure_png, img_tag, png_record, show

ModelSource = Any  # a keras.Model, an object with a .model (a LayerTuner), or a function returning a model


CURVES_DPI = 80  # the curves' PNG, shown one image pixel per screen pixel


def curves_png(history: dict[str, list[float]], title: str = "", epochs: int = 0) -> bytes:
    """Loss and accuracy per epoch (training and validation) as a PNG."""
    return figure_png(curves_figure(history, title, epochs), dpi=CURVES_DPI)


def curves_figure(history: dict[str, list[float]], title: str = "", epochs: int = 0) -> Any:
    """Loss and accuracy per epoch (training and validation): a matplotlib Figure made without pyplot. The x axis
    spans epochs 1 to ``epochs`` (at least those in ``history``), with at most 8 whole-number ticks."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    last = max([epochs, 1, *(len(v) for v in history.values())])
    fig = Figure(figsize=(8, 2.8))
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation (test subset)")):
            if history.get(key):
                ax.plot(range(1, len(history[key]) + 1), history[key], marker="o", label=label)
        ax.set_xlabel("epoch", fontsize=11)
        # a fixed range: with one epoch, matplotlib's own range (0.945 to 1.055) has no two integers to tick
        ax.set_xlim(0.5, last + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, min_n_ticks=1))
        ax.tick_params(labelsize=11)  # 11 pt at CURVES_DPI: about 12 screen pixels
        ax.set_title(metric, fontsize=12)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


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
        self._planned = 0  # the last epoch of the training in progress (the curves' x axis reaches it)
        self.epochs = widgets.IntSlider(
            value=epochs, min=1, max=max(20, epochs), description=tr("epochs"), continuous_update=False
        )
        self.train_button = widgets.Button(description=tr("Train"), button_style="primary", icon="play")
        self.stop_button = widgets.Button(description=tr("Stop"), icon="stop", disabled=True)
        self.status = widgets.HTML(self._describe_data())
        self.output = widgets.Output()
        self.train_button.on_click(self._on_train_click)
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox(
            [widgets.HBox([self.epochs, self.train_button, self.stop_button]), self.status, self.output]
        )

    def _describe_data(self) -> str:
        return tr(
            "{train} training and {test} test images of {data} (seeded, class-balanced subset)",
            train=format(len(self.x_train), ","),
            test=format(len(self.x_test), ","),
            data=self.data,
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
                tr(
                    "TrainingPanel needs a Keras model, a LayerTuner or a function returning a model; it got "
                    "{got}. Pass the model itself, e.g. TrainingPanel(model).",
                    got=type(model).__name__,
                )
            )
        return model

    def train(self, epochs: int | None = None) -> dict[str, list[float]]:
        """Train for ``epochs`` (default: the slider) more epochs, synchronously; returns the history so far."""
        n = self.epochs.value if epochs is None else epochs
        with self._lock:
            if self.training:
                raise RuntimeError(tr("this panel is already training; press Stop or wait for it to finish."))
            self.training = True
        self._stop.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        try:
            self._fit(n)
        except Exception as err:  # the learner's model does not fit the data: one sentence, no traceback
            first = " ".join(str(err).split()).split(". ")[0].replace("`", "")[:160]
            self.status.value = html.escape(
                tr(
                    "Training failed ({error}: {first}); check that the model takes {data} images and ends in 10 "
                    "outputs, one per class.",
                    error=type(err).__name__,
                    first=first,
                    data=self.data,
                )
            )
        finally:
            self.training = False
            self.train_button.disabled, self.stop_button.disabled = False, True
        return self.history

    def _fit(self, n: int) -> None:
        model = self.current_model()
        if model is not self._model:  # a new model (e.g. the tuner rebuilt it): start new curves
            self._model, self.history = model, {}
        done = len(self.history.get("loss", []))
        self._planned = done + n
        starting = tr("training epochs {first} to {last} ...", first=done + 1, last=done + n)
        self.status.value = starting
        # at once, not after Keras's first epoch (seconds away): a new model's chart starts empty, and the x axis
        # of a continued one already reaches the last planned epoch
        show(self.output, png_record(curves_png(self.history, epochs=self._planned), starting))
        x, xt = panel_data.fit_to_input(self.x_train, model), panel_data.fit_to_input(self.x_test, model)
        ensure_compiled(model)
        steps = int(np.ceil(len(x) / self.batch_size))
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
        how = tr("stopped") if self._stop.is_set() else tr("done")
        self.status.value = html.escape(tr("{how}: {line}", how=how, line=self.summary_line()))

    def summary_line(self) -> str:
        """``epoch 3: loss 0.41, accuracy 0.88, val_loss ..., val_accuracy ...`` for the last finished epoch."""
        if not self.history:
            return tr("not trained yet")
        last = {k: v[-1] for k, v in self.history.items()}
        values = ", ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()))
        return tr("epoch {n}: {values}", n=len(self.history["loss"]), values=values)

    def _progress(self, batch: int, steps: int) -> None:
        now = time.monotonic()
        if now - self._last_status > 0.5:  # at most two updates a second reach the browser
            self._last_status = now
            epoch = len(self.history.get("loss", [])) + 1
            self.status.value = tr("epoch {n}: batch {batch}/{steps}", n=epoch, batch=batch + 1, steps=steps)

    def _epoch_done(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        show(self.output, png_record(curves_png(self.history, epochs=self._planned), self.summary_line()))

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
                raise TimeoutError(
                    tr(
                        "training was still running after {timeout} s; press Stop or wait longer.",
                        timeout=format(timeout, "g"),
                    )
                )

    def snapshot(self) -> Snapshot:
        curves = img_tag(curves_png(self.history), tr("loss and accuracy curves")) if self.history else ""
        text = f"{self._describe_data()}\n{self.summary_line()}"
        body = f'<p style="font-family:monospace">{html.escape(self.summary_line())}</p>{curves}'
        return Snapshot(f"TrainingPanel: {self.data}", body, text)
