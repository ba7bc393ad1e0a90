"""Benchmark toolkit.profile(model, batch) and check its epoch forecast against a real fit epoch; print the figures.

Targets (issue 24): profile() of a lesson model <= 10 s; the forecast of one training epoch within +-30 % of a real
``fit`` epoch. Four lesson models on real data (10,000 samples, the lessons' batch sizes, losses and optimizers):
lesson 1's MNIST MLP and MNIST convnet, exercise 6's small ResNet-like CIFAR-10 model and lesson 6's fast ResNet
(the largest lesson model; its lesson feeds a tf.data pipeline with flips, here plain arrays). For each: the time
profile() takes (the first call in a process also pays Keras's one-time start of fit), its forecast of an epoch of
10,000 samples, three real epochs of ``fit`` on those samples (the profiled model, as a learner would run it next),
and forecast / the median real epoch. Each line shows the load average (1 min) when it was measured: the machine
may be shared, and a busy machine slows the real epochs and the measured steps unequally.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import toolkit
from toolkit._keras import keras

L = keras.layers
SAMPLES = 10_000
EPOCHS = 3  # real epochs; their median is compared (a shared machine makes single epochs vary)
PROFILE_TARGET_S = 10.0
RATIO_BAND = (0.7, 1.3)


def adam_sparse(model: Any) -> Any:
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mnist_mlp() -> Any:
    """notebooks/01_sequential.ipynb, the MNIST MLP (batch 128)."""
    layers = [
        keras.Input((784,), name="pixels"),
        L.Dense(256, activation="relu", name="hidden"),
        L.Dropout(0.2, name="dropout"),
        L.Dense(10, activation="softmax", name="digit"),
    ]
    return adam_sparse(keras.Sequential(layers, name="mnist_mlp"))


def mnist_convnet() -> Any:
    """notebooks/01_sequential.ipynb, the MNIST convnet (batch 128)."""
    layers = [
        keras.Input((28, 28, 1), name="image"),
        L.Conv2D(32, 3, activation="relu", name="conv1"),
        L.MaxPooling2D(name="pool1"),
        L.Conv2D(64, 3, activation="relu", name="conv2"),
        L.MaxPooling2D(name="pool2"),
        L.Flatten(name="flat"),
        L.Dense(128, activation="relu", name="dense"),
        L.Dropout(0.3, name="drop"),
        L.Dense(10, activation="softmax", name="digit"),
    ]
    return adam_sparse(keras.Sequential(layers, name="mnist_convnet"))


def tiny_resnet() -> Any:
    """course/solutions/ex06_resnet_cifar10.ipynb, task 4: a small ResNet-like model (batch 64)."""

    def block(x: Any, filters: int, name: str) -> Any:
        y = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
        y = L.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
        return L.Activation("relu", name=f"{name}_relu")(L.Add(name=f"{name}_add")([x, y]))

    image = keras.Input((32, 32, 3), name="image")
    h = L.Rescaling(1 / 255, name="rescale")(image)
    h = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="stem")(h)
    h = L.MaxPooling2D(2, name="pool")(block(h, 16, "block1"))
    h = L.GlobalAveragePooling2D(name="gap")(block(h, 16, "block2"))
    return adam_sparse(keras.Model(image, L.Dense(10, activation="softmax", name="digit")(h), name="tiny_resnet"))


def fast_resnet() -> Any:
    """notebooks/06_resnet_cifar10.ipynb, the fast ResNet (batch 256, SGD, one-hot labels with label smoothing),
    as benchmarks/lesson_recipes.py builds it; the largest lesson model."""

    def conv_bn(x: Any, filters: int) -> Any:
        x = L.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        return L.ReLU()(L.BatchNormalization()(x))

    def residual_block(x: Any, filters: int) -> Any:
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same", use_bias=False)(conv_bn(x, filters)))
        return L.ReLU()(L.add([x, y]))

    image = keras.Input(shape=(32, 32, 3))
    x = conv_bn(L.Rescaling(1 / 255)(image), 24)
    x = residual_block(L.MaxPooling2D()(x), 24)
    x = residual_block(L.MaxPooling2D()(conv_bn(x, 48)), 48)
    x = residual_block(L.MaxPooling2D()(conv_bn(x, 96)), 96)
    model = keras.Model(image, L.Dense(10)(L.GlobalMaxPooling2D()(x)), name="fast_resnet")
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=5e-3)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def mnist_flat() -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = toolkit.datasets.load_mnist()
    return x[:SAMPLES].reshape(SAMPLES, -1).astype("float32") / 255.0, y[:SAMPLES]


def mnist_images() -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = toolkit.datasets.load_mnist()
    return x[:SAMPLES, ..., None].astype("float32") / 255.0, y[:SAMPLES]


def cifar() -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = toolkit.datasets.load_cifar10(limit=(SAMPLES, 1000))
    return np.asarray(x[:SAMPLES]), np.asarray(y[:SAMPLES]).reshape(-1)


def cifar_one_hot() -> tuple[np.ndarray, np.ndarray]:
    x, y = cifar()
    return x, keras.utils.to_categorical(y, 10)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Any]  # the model, compiled as its lesson compiles it
    data: Callable[[], tuple[np.ndarray, np.ndarray]]
    batch_size: int


CASES = [
    Case("MNIST MLP (lesson 1)", mnist_mlp, mnist_flat, 128),
    Case("MNIST convnet (lesson 1)", mnist_convnet, mnist_images, 128),
    Case("CIFAR-10 tiny ResNet (exercise 6)", tiny_resnet, cifar, 64),
    Case("CIFAR-10 fast ResNet (lesson 6)", fast_resnet, cifar_one_hot, 256),
]


class EpochSeconds(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.loads: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seconds.append(time.perf_counter() - self.start)
        self.loads.append(os.getloadavg()[0])


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def run_case(case: Case) -> dict[str, Any]:
    x, y = case.data()
    toolkit.seed(0)
    model = case.build()
    start = time.perf_counter()
    p = toolkit.profile(model, x[: case.batch_size], y[: case.batch_size], samples=SAMPLES)
    profile_s = time.perf_counter() - start
    profile_load = load()
    epochs = EpochSeconds()
    model.fit(x, y, batch_size=case.batch_size, epochs=EPOCHS, verbose=0, callbacks=[epochs])
    return {
        "name": case.name,
        "profile": p,
        "profile_s": profile_s,
        "profile_load": profile_load,
        "forecast_s": p.forecast().epoch_s,
        "epochs": epochs.seconds,
        "epoch_loads": epochs.loads,
    }


def first_profile_in_process() -> float:
    """Seconds of profile() of a one-layer model: what the first call in a process pays once (Keras's fit starts)."""
    model = keras.Sequential([keras.Input((4,)), L.Dense(2)], name="warm_up")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    toolkit.profile(model, np.zeros((8, 4), "float32"), np.zeros(8, "int64"), runs=3)
    return time.perf_counter() - start


def main() -> None:
    warm_up_s, warm_up_load = first_profile_in_process(), load()
    results = [run_case(case) for case in CASES]
    for r in results:
        print(r["profile"])
        print()
    print(f"{len(results)} models, {SAMPLES:,} samples, device {toolkit.device()}")
    print(
        f"first profile() in this process (a one-layer model, Keras's one-time start): {warm_up_s:.2f} s, "
        f"{warm_up_load}"
    )
    print(
        f"{'model':<34} {'profile()':>10} {'met':<4} {'forecast':>9} {'fit epochs':<20} {'median':>8} {'ratio':>6} "
        f"{'met':<4} {'step':<9} load avg (profile; epochs)"
    )
    for r in results:
        p, epochs = r["profile"], r["epochs"]
        real = statistics.median(epochs)
        ratio = r["forecast_s"] / real
        ok_profile = "yes" if r["profile_s"] <= PROFILE_TARGET_S else "NO"
        ok_ratio = "yes" if RATIO_BAND[0] <= ratio <= RATIO_BAND[1] else "NO"
        step = f"{p.step.method} {p.step.batch_size}"
        seconds = ", ".join(f"{e:.2f}" for e in epochs)
        loads = f"{r['profile_load']}; " + ", ".join(f"{v:.2f}" for v in r["epoch_loads"])
        print(
            f"{r['name']:<34} {r['profile_s']:>8.2f} s {ok_profile:<4} {r['forecast_s']:>7.2f} s {seconds:<20} "
            f"{real:>6.2f} s {ratio:>6.2f} {ok_ratio:<4} {step:<9} {loads}"
        )
    print(
        f"ratio = forecast / median real epoch; target {RATIO_BAND[0]:.1f}-{RATIO_BAND[1]:.1f}; profile() target "
        f"<= {PROFILE_TARGET_S:.0f} s. The real fit ({EPOCHS} epochs) runs on the profiled model, whose train function "
        f"profile() already traced, so its first epoch has no tracing either."
    )


if __name__ == "__main__":
    main()
