"""Issue 24, item 5: what the node inspectors and the entry points say when they cannot answer.

Defect 3: a layer called inside a subclassed model's (or a custom layer's) call() has no Keras nodes, because
Keras 3 records none there; the inspectors must say so and point to the trace, not claim it was never called.

Defect 4: bad input at any entry point that takes a model, a layer or shapes gets one short sentence naming what
was wrong and the fix: no ANSI escapes, no Keras wrapping, no 1,700-character repr of an array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras

L = keras.layers
ARRAY = np.zeros((600, 28, 28), "uint8")  # the training images, passed where a model belongs
MAX_MESSAGE = 400


def _message(call: Callable[[], Any], error: type[BaseException] = Exception) -> str:
    with pytest.raises(error) as info:
        call()
    return str(info.value.args[0]) if isinstance(info.value, KeyError) else str(info.value)


def _is_one_clean_sentence(text: str) -> None:
    assert "\x1b" not in text and "\n" not in text, text
    assert len(text) <= MAX_MESSAGE, f"{len(text)} characters: {text[:200]}..."
    assert "Exception encountered" not in text and "Arguments received" not in text, text


# --- defect 3: layers called inside call() ----------------------------------------------------------------------


INSPECTORS = {
    "output_at": lambda layer: toolkit.output_at(layer, 0),
    "input_at": lambda layer: toolkit.input_at(layer, 0),
    "output_shape_at": lambda layer: toolkit.output_shape_at(layer, 0),
    "input_shape_at": lambda layer: toolkit.input_shape_at(layer, 0),
    "output_of": toolkit.output_of,
    "calls": toolkit.calls,
}


@pytest.mark.parametrize("what", sorted(INSPECTORS))
def test_layer_of_a_summarised_subclassed_model(what: str) -> None:
    model = zoo.SubclassedMLP()
    toolkit.summary(model, input_shape=(784,))
    text = _message(lambda: INSPECTORS[what](model.dense1), ValueError)
    assert "never been called" not in text
    assert "'dense1'" in text and "'sub_mlp'" in text and "call()" in text
    assert "Keras 3 records no nodes" in text and "toolkit.summary(model" in text
    _is_one_clean_sentence(text)


def test_layer_of_a_subclassed_model_called_on_data() -> None:
    model = zoo.SubclassedMLP()
    model(np.ones((2, 784), "float32"))
    text = _message(lambda: toolkit.output_at(model.dense2, 0), ValueError)
    assert "never been called" not in text and "'sub_mlp'" in text and "toolkit.summary(model" in text


def test_layer_inside_a_custom_layer_of_a_functional_model() -> None:
    x = keras.Input((10, 16), name="tokens")
    block = zoo.TransformerBlock(name="block")
    model = keras.Model(x, block(x), name="with_block")
    text = _message(lambda: toolkit.calls(block.att), ValueError)
    assert "never been called" not in text and "'block'" in text and "TransformerBlock" in text
    assert "toolkit.summary(" in text
    with_model = _message(lambda: toolkit.calls(block.att, model=model), ValueError)
    assert "is not part of model" not in with_model and "'block'" in with_model


def test_a_layer_really_never_called_still_says_so() -> None:
    model = zoo.SubclassedMLP()  # never built
    assert "has never been called" in _message(lambda: toolkit.calls(model.dense1), ValueError)
    toolkit.summary(model, input_shape=(784,))  # dropout is skipped by call()
    assert "has never been called" in _message(lambda: toolkit.calls(model.dropout), ValueError)


def test_model_argument_that_is_subclassed_points_to_the_trace() -> None:
    model = zoo.SubclassedMLP()
    toolkit.summary(model, input_shape=(784,))
    text = _message(lambda: toolkit.calls(model.dense1, model=model), ValueError)
    assert "Keras 3 records no nodes" in text and "toolkit.summary(model" in text


# --- defect 4: bad input, one short sentence ---------------------------------------------------------------------


def test_a_dict_input_shape_with_a_wrong_key() -> None:
    text = _message(lambda: toolkit.summary(zoo.DictInputs(), input_shape={"img": (4,), "meta": (2,)}), ValueError)
    _is_one_clean_sentence(text)
    assert "'image'" in text and "'img'" in text and "input_shape" in text
    text = _message(lambda: toolkit.diagram(zoo.DictInputs(), input_shape={"image": (4,)}, strict=False),
                    ValueError)
    _is_one_clean_sentence(text)
    assert "'meta'" in text


def test_a_dict_input_shape_entry_that_is_not_a_shape_names_its_key() -> None:
    text = _message(lambda: toolkit.summary(zoo.DictInputs(), input_shape={"image": 4, "meta": (2,)}), TypeError)
    _is_one_clean_sentence(text)
    assert "'image'" in text and "(4,)" in text


ARRAY_CALLS = {
    "summary": lambda: toolkit.summary(ARRAY),
    "diagram": lambda: toolkit.diagram(ARRAY, strict=False),
    "feature_extractor": lambda: toolkit.feature_extractor(ARRAY),
    "calls": lambda: toolkit.calls(ARRAY),
    "output_at": lambda: toolkit.output_at(ARRAY, 0),
    "calls(model=array)": lambda: toolkit.calls(zoo.shared_conv().get_layer("conv"), model=ARRAY),
    "input_shape=array": lambda: toolkit.summary(zoo.SubclassedMLP(), input_shape=ARRAY),
    "node_index=array": lambda: toolkit.output_at(zoo.shared_conv().get_layer("conv"), ARRAY),
}


@pytest.mark.parametrize("case", sorted(ARRAY_CALLS))
def test_an_array_where_a_model_layer_or_shape_belongs(case: str) -> None:
    text = _message(ARRAY_CALLS[case], TypeError)
    _is_one_clean_sentence(text)
    assert "array of shape (600, 28, 28)" in text, text


def test_a_long_string_is_cut_short() -> None:
    text = _message(lambda: toolkit.summary("x" * 5000), TypeError)
    _is_one_clean_sentence(text)


def test_input_shape_and_sample_that_disagree() -> None:
    text = _message(lambda: toolkit.summary(zoo.SubclassedMLP(), input_shape=(28, 28),
                                            sample=np.zeros((2, 5), "float32")), ValueError)
    _is_one_clean_sentence(text)
    assert "(28, 28)" in text and "(5,)" in text


def test_a_model_own_code_error_is_one_sentence() -> None:
    class Broken(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="broken")
            self.d = L.Dense(2, name="d")

        def call(self, x: Any) -> Any:
            raise ValueError("the model refuses\nover two lines")

    text = _message(lambda: toolkit.summary(Broken(), input_shape=(3,)), ValueError)
    _is_one_clean_sentence(text)
    assert "the model refuses" in text and "'broken'" in text


def test_a_tensorflow_kernel_error_loses_its_function_node_prefix() -> None:
    text = _message(lambda: toolkit.summary(zoo.BadInitialState(), input_shape=(4, 3)), ValueError)
    _is_one_clean_sentence(text)
    assert "function_node" not in text and "'dec'" in text


def test_a_model_called_on_a_dict_summarises_without_input_shape() -> None:
    model = zoo.DictInputs()
    model({"image": np.ones((2, 4), "float32"), "meta": np.ones((2, 2), "float32")})
    s = toolkit.summary(model)
    assert s.row("from_a[0]").parents == ("inputs['image']",)
    assert s.row("from_b[0]").input_shapes == ((None, 2),)
