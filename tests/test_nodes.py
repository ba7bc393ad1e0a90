"""Node inspectors with Keras 2's meaning, checked against the known shapes of the classic examples."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras

L = keras.layers


def test_conv_applied_to_two_input_sizes() -> None:
    model = zoo.shared_conv()
    conv = model.get_layer("conv")
    assert toolkit.input_shape_at(conv, 0) == (None, 32, 32, 3)
    assert toolkit.input_shape_at(conv, 1) == (None, 64, 64, 3)
    assert toolkit.output_shape_at(conv, 1) == (None, 64, 64, 16)
    assert toolkit.input_at(conv, 1) is model.get_layer("large").output
    table = toolkit.calls(conv)
    assert len(table) == 2 and [r.inbound for r in table.rows] == [("small[0]",), ("large[0]",)]
    assert "shared_conv" in str(table) and "toolkit-calls" in table._repr_html_()


def test_shared_lstm_outputs_per_call() -> None:
    model = zoo.shared_lstm()
    lstm = model.get_layer("shared_lstm")
    a, b = toolkit.output_at(lstm, 0), toolkit.output_at(lstm, 1)
    assert a is not b and tuple(a.shape) == tuple(b.shape) == (None, 64)
    with pytest.raises(ValueError, match="has 2 inbound nodes, so its output is ill-defined; use"):
        toolkit.output_of(lstm)
    assert toolkit.output_of(model.get_layer("same_author")) is model.outputs[0]


def test_calls_from_other_models_are_attributed_and_filtered() -> None:
    dense = L.Dense(4, name="reused_dense")
    a = keras.Input((3,), name="in_a")
    m1 = keras.Model(a, dense(a), name="first_model")
    b = keras.Input((3,), name="in_b")
    m2 = keras.Model(b, dense(b), name="second_model")
    table = toolkit.calls(dense)
    assert [r.models for r in table.rows] == [("first_model",), ("second_model",)]
    only = toolkit.calls(dense, model=m2)
    assert len(only) == 1 and only.rows[0].models == ("second_model",)
    assert toolkit.output_at(dense, 0, model=m2) is m2.outputs[0]
    assert toolkit.output_at(dense, 0, model=m1) is m1.outputs[0]


def test_stale_calls_after_sequential_add_are_filtered() -> None:
    model = keras.Sequential([keras.Input((5,)), L.Dense(3, name="first")], name="growing")
    first = model.get_layer("first")
    model.add(L.Dense(2, name="second"))
    assert len(toolkit.calls(first)) == 2  # Keras rebuilt the graph: the old call is still recorded
    current = toolkit.calls(first, model=model)
    assert len(current) == 1 and current.rows[0].models == ("growing",)
    stale = [r.models for r in toolkit.calls(first).rows if r.models != ("growing",)]
    assert stale in ([()], [("growing (old graph, before add/pop)",)])


def test_feature_extractor_one_output_per_call() -> None:
    model = zoo.shared_conv()
    fx = toolkit.feature_extractor(model, layers=["conv"])
    out = fx.predict([np.ones((1, 32, 32, 3)), np.ones((1, 64, 64, 3))], verbose=0)
    assert sorted(out) == ["conv[0]", "conv[1]"]
    assert out["conv[0]"].shape == (1, 32, 32, 16) and out["conv[1]"].shape == (1, 64, 64, 16)
    mlp = zoo.mlp_sequential()
    single = toolkit.feature_extractor(mlp, layers="hidden")
    assert tuple(single.output.shape) == (None, 64)
    every = toolkit.feature_extractor(mlp)
    assert sorted(every.output) == ["hidden[0]", "probs[0]"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # calling on one array must match the input structure: no warning
        assert every(np.ones((2, 784), "float32"))["hidden[0]"].shape == (2, 64)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: toolkit.output_at(m.get_layer("conv"), 2), IndexError, r"has 2 calls \(node indexes 0 to 1\)"),
        (lambda m: toolkit.output_at(m.get_layer("conv"), "0"), TypeError, "node_index must be an int"),
        (lambda m: toolkit.calls("conv"), TypeError, "needs a Keras layer"),
        (lambda m: toolkit.calls(L.Dense(2)), ValueError, "has never been called"),
        (lambda m: toolkit.calls(L.Dense(2)(keras.Input((2,)))._keras_history.operation, model=m), ValueError,
         "is not part of model"),
        (lambda m: toolkit.feature_extractor(m, layers=["nope"]), ValueError, "has no layer named 'nope'"),
        (lambda m: toolkit.feature_extractor(zoo.SubclassedMLP()), ValueError, "is subclassed"),
    ],
)
def test_bad_input_gets_a_teaching_error(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call(zoo.shared_conv())
