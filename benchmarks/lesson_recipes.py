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
    """notebooks/01_sequential.ipynb, the MNIST convnet cell (asserts >= 0.99; the target is 0.992 in <= 60 s)."""
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
            layers.Dense(128, activation="relu"),
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

    (x_train, y_train), (x_test, y_test) = toolkit.datasets.load_cifar10(limit=(8000, 2000))
    image = keras.Input(shape=(32, 32, 3))
    h = layers.Rescaling(1 / 255)(image)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(block(h, 16, "block1"))
    h = layers.GlobalAveragePooling2D()(block(h, 16, "block2"))
    model = keras.Model(image, layers.Dense(10, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=8, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
    return seconds, float(np.mean(predicted == np.asarray(y_test).reshape(-1)))


def lesson6_fast_resnet(
    optimizer: str = "sgd", label_smoothing: float = 0.2, flip: bool = True, epochs: int = 7
) -> dict[str, float]:
    """notebooks/06_resnet_cifar10.ipynb, sections 5-7 (asserts the flip-averaged accuracy >= 0.80).

    The defaults are the lesson's recipe; the arguments switch one trick off at a time for the ablation table.
    """
    import tensorflow as tf

    (x_all, y_all), (x_test, y_test) = toolkit.datasets.load_cifar10()
    x_train, y_train, x_val, y_val = x_all[:-5000], y_all[:-5000], x_all[-5000:], y_all[-5000:]

    def pipeline(x, y, training):
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if training:
            ds = ds.shuffle(len(x), seed=42)
        ds = ds.batch(256 if training else 500)
        if training and flip:
            ds = ds.map(lambda i, t: (tf.image.random_flip_left_right(i), t), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.map(lambda i, t: (i, tf.one_hot(t[:, 0], 10))).prefetch(tf.data.AUTOTUNE)

    def conv_bn(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    def residual_block(x, filters):
        y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(conv_bn(x, filters)))
        return layers.ReLU()(layers.add([x, y]))

    image = keras.Input(shape=(32, 32, 3))
    x = conv_bn(layers.Rescaling(1 / 255)(image), 24)
    x = residual_block(layers.MaxPooling2D()(x), 24)
    x = residual_block(layers.MaxPooling2D()(conv_bn(x, 48)), 48)
    x = residual_block(layers.MaxPooling2D()(conv_bn(x, 96)), 96)
    model = keras.Model(image, layers.Dense(10)(layers.GlobalMaxPooling2D()(x)))

    train_ds, val_ds, test_ds = pipeline(x_train, y_train, True), pipeline(x_val, y_val, False), pipeline(
        x_test, y_test, False)
    total = epochs * len(train_ds)
    warmup = int(0.2 * total)
    if optimizer == "sgd":
        schedule = keras.optimizers.schedules.CosineDecay(0.02, total - warmup, warmup_target=0.2, warmup_steps=warmup)
        opt = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=5e-3)
    else:  # the lesson's old recipe: Adam, one-cycle from 3e-4 to 3e-3, no weight decay
        schedule = keras.optimizers.schedules.CosineDecay(3e-4, total - warmup, warmup_target=3e-3, warmup_steps=warmup)
        opt = keras.optimizers.Adam(schedule)
    model.compile(optimizer=opt, metrics=["accuracy"],
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing))
    start = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    logits = model.predict(test_ds, verbose=0)
    mirrored = model.predict(test_ds.map(lambda i, t: (i[:, :, ::-1, :], t)), verbose=0)
    truth = y_test[:, 0]
    return {"fit_s": seconds, "accuracy": float(np.mean(logits.argmax(1) == truth)),
            "tta_accuracy": float(np.mean((logits + mirrored).argmax(1) == truth))}


def lesson6_recipe() -> tuple[float, float]:
    found = lesson6_fast_resnet()
    print(f"   (06 fast_resnet without flip TTA: {found['accuracy']:.4f})", flush=True)
    return found["fit_s"], found["tta_accuracy"]


# one trick off at a time (the lesson's table); the full recipe is the first row
ABLATION: dict[str, dict[str, object]] = {
    "the lesson's recipe": {},
    "Adam instead of SGD + weight decay": {"optimizer": "adam"},
    "no label smoothing": {"label_smoothing": 0.0},
    "no flip augmentation": {"flip": False},
}


# name -> (recipe, the notebook, the asserted variable): the threshold itself is read from the notebook
# (benchmarks/asserts.py), so a changed assert cannot drift away from its benchmark.
RECIPES: dict[str, tuple[Callable[[], tuple[float, float]], str, str]] = {
    "ex06 tiny_resnet": (ex06_tiny_resnet, "ex06_resnet_cifar10", "check_accuracy"),
    "01 mnist_convnet": (lesson1_convnet, "01_sequential", "convnet_acc"),
    "06 fast_resnet": (lesson6_recipe, "06_resnet_cifar10", "tta_acc"),
}


def threshold(notebook: str, variable: str) -> float:
    """The one threshold ``notebook`` asserts for ``variable``; a clear error when there is none or several."""
    from asserts import course_thresholds

    found = {t.at_least for t in course_thresholds() if t.notebook == notebook and t.variable == variable}
    if len(found) != 1:
        raise LookupError(f"{notebook} asserts {variable} against {sorted(found) or 'no threshold'}; "
                          "benchmarks/lesson_recipes.py needs exactly one: update RECIPES")
    return found.pop()
