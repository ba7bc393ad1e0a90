"""The training recipes behind the accuracy asserts of lesson 1 (convnet) and exercise 6, for bench_lessons.py.

Each recipe mirrors its notebook cell (keep them in step when a notebook changes) and returns
(fit wall seconds, test accuracy). Run through bench_lessons.py --seeds N.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

import toolkit
from toolkit._keras import keras

layers = keras.layers


def lesson1_convnet() -> tuple[float, float]:
    """notebooks/01_sequential.ipynb, the MNIST convnet cell (asserts >= 0.99)."""
    (x_train, y_train), (x_test, y_test) = toolkit.datasets.load_mnist()
    x_train_img = x_train[..., None].astype("float32") / 255.0
    x_test_img = x_test[..., None].astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
    epochs = 6
    steps = epochs * int(np.ceil(len(x_train_img) / 128))
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=3e-3, warmup_steps=steps // 10)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train_img, y_train, epochs=epochs, batch_size=128, verbose=0)
    seconds = time.perf_counter() - start
    return seconds, float(model.evaluate(x_test_img, y_test, verbose=0)[1])


def ex06_tiny_resnet() -> tuple[float, float]:
    """course/solutions/ex06_resnet_cifar10.ipynb, task 4 (check_accuracy at_least=0.30)."""

    def block(x, filters, name):
        y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
        y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
        return layers.Activation("relu")(layers.Add()([x, y]))

    (x_train, y_train), (x_test, y_test) = toolkit.datasets.load_cifar10(limit=(4000, 500))
    image = keras.Input(shape=(32, 32, 3))
    h = layers.Rescaling(1 / 255)(image)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(block(h, 16, "block1"))
    h = layers.GlobalAveragePooling2D()(block(h, 16, "block2"))
    model = keras.Model(image, layers.Dense(10, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
    return seconds, float(np.mean(predicted == np.asarray(y_test).reshape(-1)))


# name -> (recipe, the threshold its notebook asserts)
RECIPES: dict[str, tuple[Callable[[], tuple[float, float]], float]] = {
    "ex06 tiny_resnet": (ex06_tiny_resnet, 0.30),
    "01 mnist_convnet": (lesson1_convnet, 0.99),
}
