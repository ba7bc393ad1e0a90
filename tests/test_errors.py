"""Each learner mistake at a public entry point gets one sentence: what is wrong and how to fix it."""

from __future__ import annotations

import pytest
import zoo

import toolkit
from toolkit._keras import keras


@pytest.mark.parametrize("entry", [toolkit.summary, toolkit.diagram])
def test_not_a_model(entry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=r"needs a Keras model \(got 'hello', a str\)"):
        entry("hello")
    with pytest.raises(TypeError, match="got the layer 'lonely'.*Wrap it in a model"):
        entry(keras.layers.Dense(3, name="lonely"))


def test_unbuilt_models_without_input_shape() -> None:
    with pytest.raises(ValueError, match=r"has not been built yet.*Pass input_shape="):
        toolkit.summary(zoo.unbuilt_sequential())
    with pytest.raises(ValueError, match=r"has not been built yet.*input_shape=\(28, 28\)"):
        toolkit.summary(zoo.SubclassedMLP())


def test_input_shape_of_the_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"already has inputs of shape \(784,\).*input_shape was \(28, 28\)"):
        toolkit.summary(zoo.functional_mlp(), input_shape=(28, 28))
    with pytest.raises(ValueError, match=r"does not fit model 'cnn_unbuilt'"):
        toolkit.summary(keras.Sequential([keras.layers.Conv2D(2, 3)], name="cnn_unbuilt"), input_shape=(10,))
    with pytest.raises(ValueError, match=r"Calling model 'conv_sub' on inputs of shape \(784,\) failed.*input_shape"):
        toolkit.summary(_ConvSub(), input_shape=(784,))


class _ConvSub(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="conv_sub")
        self.conv = keras.layers.Conv2D(4, 3)

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.conv(x)


@pytest.mark.parametrize("bad", [(0, 3), (-1,), ("28",), (2.5,), (), "28"])
def test_input_shape_values(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, TypeError), match="without the batch dimension"):
        toolkit.summary(zoo.unbuilt_sequential(), input_shape=bad)


def test_seed_rejects_non_ints() -> None:
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        toolkit.seed("42")  # type: ignore[arg-type]


def test_epoch_logger_prints_one_rounded_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    toolkit.seed(0)
    model = zoo.functional_mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).random((32, 784), "float32"), np.arange(32) % 10
    model.fit(x, y, epochs=2, verbose=0, callbacks=[toolkit.EpochLogger(digits=3)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 - accuracy 0.")
    assert all(len(part.split()[-1].split(".")[-1]) == 3 for part in lines[1].split(" - ")[1:])
    with pytest.raises(ValueError, match="digits must be a non-negative int"):
        toolkit.EpochLogger(digits=-1)
