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


class _NoShape(keras.layers.Layer):
    def compute_output_shape(self, input_shape):  # type: ignore[no-untyped-def]
        raise NotImplementedError("no shape rule")

    def call(self, x):  # type: ignore[no-untyped-def]
        raise NotImplementedError("symbolic call not supported")


class _IndexBug(keras.layers.Layer):
    def call(self, x):  # type: ignore[no-untyped-def]
        return x * list(x.shape)[5]  # a bug in the layer: there is no 6th dimension


def test_sequential_whose_layer_cannot_compute_its_shape_names_the_layer() -> None:
    model = keras.Sequential([keras.layers.Dense(4, name="d"), _NoShape(name="shapeless")], name="seq_noshape")
    expected = r"layer 'shapeless' \(_NoShape\) raised NotImplementedError.*(no shape rule|symbolic call not supp)"
    with pytest.raises(ValueError, match=expected):
        toolkit.summary(model, input_shape=(3,))


def test_an_index_error_inside_a_layer_is_blamed_on_the_layer() -> None:
    model = keras.Sequential([keras.layers.Dense(4, name="d"), _IndexBug(name="buggy")], name="seq_bug")
    with pytest.raises(ValueError, match=r"layer 'buggy' \(_IndexBug\) raised IndexError") as info:
        toolkit.summary(model, input_shape=(3,))
    assert "input_shape (3,) does not fit" not in str(info.value)


def test_a_model_class_instead_of_an_instance() -> None:
    with pytest.raises(TypeError, match=r"the class SubclassedMLP.*instantiate it.*SubclassedMLP\(\)"):
        toolkit.summary(zoo.SubclassedMLP)
    with pytest.raises(TypeError, match="instantiate it"):
        toolkit.diagram(zoo.SubclassedMLP, input_shape=(784,))


def test_dict_inputs_of_a_subclassed_model() -> None:
    s = toolkit.summary(zoo.DictInputs(), input_shape={"image": (6,), "meta": (3,)})
    assert s.row("from_a[0]").input_shapes == ((None, 6),) and s.row("from_b[0]").input_shapes == ((None, 3),)
    assert s.row("from_a[0]").parents == ("inputs['image']",)
    assert s.total_params == 6 * 4 + 4 + 3 * 4 + 4


def test_a_batch_looking_first_dimension_warns() -> None:
    model = keras.Sequential([keras.layers.Dense(16, name="h"), keras.layers.Dense(10, name="o")], name="dense_only")
    with pytest.warns(UserWarning, match=r"input_shape=\(32, 784\).*batch.*input_shape=\(784,\)"):
        s = toolkit.summary(model, input_shape=(32, 784))
    assert s.row("h[0]").input_shapes == ((None, 32, 784),)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        toolkit.summary(keras.Sequential([keras.layers.Dense(3)]), input_shape=(784,))


class _BuggySub(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="buggy_sub")
        self.dense = keras.layers.Dense(4, name="dense")
        self.bug = _IndexBug(name="bug")

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.bug(self.dense(x))


def test_an_index_error_inside_a_layer_of_a_subclassed_model_names_the_layer() -> None:
    with pytest.raises(ValueError, match=r"buggy_sub.*layer 'bug' \(_IndexBug\) raised IndexError.*not in input_shape"):
        toolkit.summary(_BuggySub(), input_shape=(3,))
