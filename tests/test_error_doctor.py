"""The shape-error doctor: each family is provoked for real, so a change of Keras's wording fails here, not a learner.

Every case builds a small model, runs it, catches the real exception and asserts that ``toolkit.explain_error``
names the layer, the shapes and the fix. None of these tests skips: an error Keras no longer raises, or raises
with words the doctor no longer recognises, is a failure that shows Keras's new message.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import toolkit
from toolkit._keras import keras
from toolkit.errors import families, ipython_hook
from toolkit.i18n import catalog, set_language

L = keras.layers


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)


def provoke(make: Callable[[], Any]) -> BaseException:
    try:
        make()
    except Exception as exc:  # the real error, whatever Keras raises
        return exc
    pytest.fail(f"{make.__name__} no longer raises an error with this Keras {keras.__version__}")


def explained(make: Callable[[], Any]) -> str:
    exc = provoke(make)
    sentence = toolkit.explain_error(exc)
    assert sentence is not None, (
        f"the doctor does not recognise what Keras {keras.__version__} raised for {make.__name__}: "
        f"{type(exc).__name__}: {str(exc)[:600]}"
    )
    return sentence


# ---- the mistakes, one small model each --------------------------------------------------------------------------


def two_inputs() -> tuple[Any, Any]:
    return keras.Input((64,), name="a"), keras.Input((32,), name="b")


def concatenate_mismatch() -> None:
    L.Concatenate(name="join")([keras.Input((28, 28)), keras.Input((10,))])


def add_mismatch() -> None:
    L.Add(name="join")(list(two_inputs()))


def multiply_mismatch() -> None:
    L.Multiply(name="gate")(list(two_inputs()))


def dot_mismatch() -> None:
    L.Dot(axes=1, name="similarity")(list(two_inputs()))


def batch_in_input() -> None:
    model = keras.Sequential([keras.Input((32, 784)), L.Dense(10, activation="softmax", name="classifier")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 784)), np.zeros(64), epochs=1, verbose=0)


def batch_in_input_shape() -> None:
    model = keras.Sequential([L.Dense(10, activation="softmax", input_shape=(32, 784), name="classifier")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 784)), np.zeros(64), epochs=1, verbose=0)


def images_into_mlp() -> None:
    model = keras.Sequential([keras.Input((784,)), L.Dense(10)], name="mlp")
    model.predict(np.zeros((8, 28, 28)), verbose=0)


def dense_without_flatten() -> None:
    model = keras.Sequential([keras.Input((28, 28)), L.Dense(10, activation="softmax", name="scores")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 28, 28)), np.zeros(64), epochs=1, verbose=0)


def dense_without_flatten_one_hot() -> None:
    model = keras.Sequential([keras.Input((28, 28)), L.Dense(10, activation="softmax", name="scores")])
    model.compile("adam", "categorical_crossentropy")
    model.fit(np.zeros((64, 28, 28)), np.zeros((64, 10)), epochs=1, verbose=0)


def conv_without_channel() -> None:
    keras.Sequential([keras.Input((28, 28)), L.Conv2D(8, 3, name="conv")])


def conv_without_channel_in_fit() -> None:
    model = keras.Sequential([L.Conv2D(8, 3, name="conv"), L.Flatten(), L.Dense(10)])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 28, 28)), np.zeros(64), epochs=1, verbose=0)


def classifier(units: int = 10, loss: str = "categorical_crossentropy") -> Any:
    model = keras.Sequential([keras.Input((4,)), L.Dense(units, activation="softmax", name="out")], name="clf")
    model.compile("adam", loss)
    return model


def sparse_labels_categorical_loss() -> None:
    classifier().fit(np.zeros((64, 4)), np.arange(64) % 10, epochs=1, verbose=0)


def sparse_column_categorical_loss() -> None:
    classifier().fit(np.zeros((64, 4)), (np.arange(64) % 10)[:, None], epochs=1, verbose=0)


def one_hot_labels_sparse_loss() -> None:
    model = classifier(loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 4)), np.eye(10)[np.arange(64) % 10], epochs=1, verbose=0)


def too_few_classes_sparse() -> None:
    model = classifier(5, "sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 4)), np.arange(64) % 10, epochs=1, verbose=0)


def too_few_classes_one_hot() -> None:
    classifier(5).fit(np.zeros((64, 4)), np.eye(10)[np.arange(64) % 10], epochs=1, verbose=0)


def two_headed() -> Any:
    image, meta = keras.Input((4,), name="image"), keras.Input((3,), name="meta")
    score = L.Dense(1, name="score")(L.Concatenate()([image, meta]))
    kind = L.Dense(2, name="kind")(image)
    return keras.Model({"image": image, "meta": meta}, {"score": score, "kind": kind}, name="two_headed")


X = {"image": np.zeros((8, 4)), "meta": np.zeros((8, 3))}
Y = {"score": np.zeros((8, 1)), "kind": np.zeros((8, 2))}


def wrong_input_key() -> None:
    model = two_headed()
    model.compile("adam", "mse")
    model.fit({"img": X["image"], "meta": X["meta"]}, Y, verbose=0)


def wrong_label_key() -> None:
    model = two_headed()
    model.compile("adam", "mse")
    model.fit(X, {"scor": Y["score"], "kind": Y["kind"]}, verbose=0)


def wrong_loss_key() -> None:
    model = two_headed()
    model.compile("adam", {"scor": "mse", "kind": "mse"})
    model.fit(X, Y, verbose=0)


def wrong_number_of_inputs() -> None:
    two_headed().predict([X["image"]], verbose=0)


def keras2_get_output_at() -> None:
    shared = L.Dense(3, name="shared")
    shared(keras.Input((4,)))
    shared(keras.Input((4,)))
    shared.get_output_at(1)


class _Tiny(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="tiny")
        self.inner = L.Dense(3, name="inner")

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.inner(x)


def output_of_inner_layer() -> None:
    model = _Tiny()
    model(np.zeros((2, 4)))
    model.inner.output  # noqa: B018 - the mistake itself


def unbuilt_count_params() -> None:
    keras.Sequential([L.Dense(3)], name="unbuilt").count_params()


def unbuilt_save_weights(tmp: str = "/nonexistent") -> None:
    keras.Sequential([L.Dense(3)], name="unbuilt").save_weights(f"{tmp}/w.weights.h5")


def unbuilt_kernel() -> None:
    L.Dense(3, name="head").kernel  # noqa: B018 - the mistake itself


def reused_layer_new_size() -> None:
    dense = L.Dense(3, name="reused")
    dense(keras.Input((4,)))
    dense(keras.Input((5,)))


def not_compiled() -> None:
    keras.Sequential([keras.Input((4,)), L.Dense(1)], name="plain").fit(np.zeros((8, 4)), np.zeros(8), verbose=0)


# (mistake, family, what the sentence must contain: the layer, the shapes, the fix)
CASES = [
    (concatenate_mismatch, "concatenate_shapes", ["'join' (Concatenate)", "(None, 28, 28)", "(None, 10)", "Flatten"]),
    (add_mismatch, "merge_shapes", ["'join' (Add)", "(None, 64)", "(None, 32)", "Dense(64)"]),
    (multiply_mismatch, "merge_shapes", ["'gate' (Multiply)", "(None, 64)", "(None, 32)", "Dense(64)"]),
    (dot_mismatch, "dot_shapes", ["'similarity' (Dot)", "(None, 64)", "(None, 32)", "64 != 32", "Dense(64)"]),
    (batch_in_input, "batch_in_input", ["'classifier'", "(32, 784)", "(None, 32, 784)", "shape=(784,)"]),
    (batch_in_input_shape, "batch_in_input", ["'classifier'", "(32, 784)", "input_shape=(784,)"]),
    (images_into_mlp, "input_shape_reshape", ["'mlp'", "(None, 784)", "(8, 28, 28)", "reshape(-1, 784)", "Flatten()"]),
    (dense_without_flatten, "missing_flatten", ["'scores' (Dense)", "(32, 28, 10)", "(32,)", "Flatten()"]),
    (dense_without_flatten_one_hot, "missing_flatten", ["'scores' (Dense)", "(32, 28, 10)", "(32, 10)", "Flatten()"]),
    (conv_without_channel, "missing_channel", ["'conv'", "(None, 28, 28)", "4 axes", "(28, 28, 1)", "x[..., None]"]),
    (conv_without_channel_in_fit, "missing_channel", ["'conv'", "(32, 28, 28)", "(28, 28, 1)", "x[..., None]"]),
    (
        sparse_labels_categorical_loss,
        "sparse_labels_categorical_loss",
        ["'out' (Dense)", "(32,)", "(32, 10)", "sparse_categorical_crossentropy", "to_categorical(y, 10)"],
    ),
    (
        sparse_column_categorical_loss,
        "sparse_labels_categorical_loss",
        ["(32, 1)", "(32, 10)", "sparse_categorical_crossentropy"],
    ),
    (
        one_hot_labels_sparse_loss,
        "one_hot_labels_sparse_loss",
        ["'out' (Dense)", "(32, 10)", "loss='categorical_crossentropy'", "argmax(axis=1)"],
    ),
    (too_few_classes_sparse, "class_count_sparse", ["'out' (Dense)", "label 9", "5 units", "Dense(10"]),
    (too_few_classes_one_hot, "class_count_one_hot", ["'out' (Dense)", "(32, 10)", "(32, 5)", "Dense(10"]),
    (wrong_input_key, "dict_input_keys", ["'two_headed'", "'img'", "'image'", "'meta'"]),
    (wrong_label_key, "dict_label_keys", ["'two_headed'", "'score'", "'kind'", "keys"]),
    (wrong_loss_key, "dict_loss_keys", ["'two_headed'", "'scor'", "'score'"]),
    (wrong_number_of_inputs, "input_count", ["'two_headed'", "2 inputs", "got 1", "'image'", "'meta'"]),
    (keras2_get_output_at, "keras2_node_api", ["'shared' (Dense)", "get_output_at", "toolkit.output_at(layer, "]),
    (output_of_inner_layer, "never_called", ["'inner'", "keras.Input", "toolkit.output_at"]),
    (unbuilt_count_params, "unbuilt", ["'unbuilt'", "count_params", "keras.Input(shape=", "build("]),
    (unbuilt_save_weights, "unbuilt", ["'unbuilt'", "keras.Input(shape=", "build("]),
    (unbuilt_kernel, "unbuilt", ["'head' (Dense)", "kernel", "build("]),
    (reused_layer_new_size, "feature_size", ["'reused'", "4", "(None, 5)", "new layer"]),
    (not_compiled, "not_compiled", ["'plain'", "model.compile("]),
]


@pytest.mark.parametrize(("make", "family", "needles"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_real_error_is_explained(make: Callable[[], Any], family: str, needles: list[str]) -> None:
    exc = provoke(make)
    diagnosis = toolkit.errors.diagnose(exc)
    assert diagnosis is not None, f"not recognised: {type(exc).__name__}: {str(exc)[:600]}"
    assert diagnosis.family == family, f"{make.__name__} was taken for {diagnosis.family}: {str(exc)[:300]}"
    sentence = toolkit.explain_error(exc)
    assert sentence == diagnosis.sentence()
    for needle in needles:
        assert needle in sentence, f"{needle!r} missing from: {sentence}"
    assert "\n" not in sentence and "\x1b" not in sentence  # one sentence, no terminal codes


def test_at_least_twelve_families_are_covered_by_a_real_error() -> None:
    covered = {family for _, family, _ in CASES}
    assert len(covered) >= 12
    assert covered <= set(families.MESSAGES) | {"toolkit"}


def test_the_sentences_in_chinese() -> None:
    set_language("zh-CN")
    sentence = explained(concatenate_mismatch)
    assert "(None, 28, 28)" in sentence and "'join' (Concatenate)" in sentence and "Flatten" in sentence
    assert re.search("[\u4e00-\u9fff]", sentence), sentence
    assert explained(too_few_classes_sparse).count("Dense(10") == 1


def test_every_sentence_has_a_chinese_translation_with_the_same_fields() -> None:
    chinese = catalog("zh-CN")
    field = re.compile(r"\{(\w+)\}")
    for key, english in families.MESSAGES.items():
        assert english in chinese, f"message {key!r} has no Chinese translation (toolkit.i18n.refresh)"
        assert set(field.findall(chinese[english])) == set(field.findall(english)), key


def test_unknown_errors_give_none() -> None:
    assert toolkit.explain_error(ZeroDivisionError("division by zero")) is None
    assert toolkit.explain_error(ValueError("Inputs have a bad day")) is None
    assert toolkit.explain_error(provoke(lambda: {}["missing"])) is None
    with pytest.raises(TypeError, match="needs an exception"):
        toolkit.explain_error("Inputs have incompatible shapes")


def test_the_toolkits_own_errors_are_their_sentence_without_internal_frames() -> None:
    exc = provoke(lambda: toolkit.summary("hello"))
    diagnosis = toolkit.errors.diagnose(exc)
    assert diagnosis is not None and diagnosis.family == "toolkit"
    assert toolkit.explain_error(exc) == str(exc)
    text = "\n".join(ipython_hook.short_traceback(exc, diagnosis))
    assert str(exc) in text and "toolkit/inspection" not in text and "test_error_doctor.py" in text
    unbuilt = provoke(lambda: toolkit.summary(keras.Sequential([L.Dense(3)], name="lazy")))
    assert toolkit.explain_error(unbuilt) == str(unbuilt) and "has not been built yet" in str(unbuilt)
    # a bug inside the toolkit (an error no `raise` of its own made) is not dressed up as a sentence
    assert toolkit.explain_error(provoke(lambda: toolkit.i18n.tr("{missing}", other=1))) is None


def test_a_short_traceback_shows_the_sentence_first_and_only_learner_frames() -> None:
    exc = provoke(batch_in_input)
    diagnosis = toolkit.errors.diagnose(exc)
    assert diagnosis is not None
    lines = ipython_hook.short_traceback(exc, diagnosis)
    text = "\n".join(lines)
    assert lines[0].startswith(diagnosis.sentence()[:40]) or diagnosis.sentence()[:40] in lines[0]
    assert "site-packages" not in text and "keras/src" not in text
    assert "model.fit(np.zeros((64, 784))" in text  # the learner's line
    assert "%tb" in text  # how to see everything


@pytest.fixture
def shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    yield ip
    ipython_hook.uninstall(ip)


def test_the_notebook_hook_shows_the_sentence_and_keeps_the_full_traceback(shell: Any, capsys: Any) -> None:
    ipython_hook.install(shell)
    ipython_hook.install(shell)  # idempotent
    shell.run_cell(
        "import keras, numpy as np\nkeras.layers.Concatenate(name='join')([keras.Input((28, 28)), keras.Input((10,))])"
    )
    out = capsys.readouterr().out
    first = next(line for line in out.splitlines() if line.strip())
    assert "'join' (Concatenate)" in first and "(None, 28, 28)" in first
    assert "keras/src" not in out and ("Cell In[" in out or "<ipython-input" in out)
    assert isinstance(sys.last_value, ValueError) and ipython_hook.last_error() is sys.last_value
    shell.run_cell("%tb")  # the full traceback on demand, Keras's frames included
    assert "keras/src" in capsys.readouterr().out
    shell.run_cell("shared = keras.layers.Dense(3, name='shared')\nshared(keras.Input((4,)))\nshared.get_output_at(0)")
    assert capsys.readouterr().out.lstrip().startswith("'shared' (Dense) has no get_output_at in Keras 3")
    shell.run_cell("1 / 0")  # an error the doctor does not know: IPython's usual traceback
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_the_hook_warns_when_a_model_is_defined_with_the_batch_in_its_input(shell: Any, capsys: Any) -> None:
    ipython_hook.install(shell)
    shell.run_cell("import keras\nm = keras.Sequential([keras.Input((32, 784)), keras.layers.Dense(10, name='d')])")
    out = capsys.readouterr().out
    assert "(32, 784)" in out and "shape=(784,)" in out, out
    shell.run_cell("ok = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])\nm2 = m")
    assert capsys.readouterr().out == ""  # a good model, and a model already warned about, say nothing


def test_nothing_is_installed_outside_ipython() -> None:
    code = (
        "import sys, toolkit; toolkit.setup_notebook(); from toolkit.errors import ipython_hook; "
        "print(ipython_hook.install_if_ipython(), 'IPython' in sys.modules, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "False", "False"], done.stdout + done.stderr


def test_explaining_is_fast() -> None:
    excs = [provoke(make) for make, _, _ in CASES[:8]]
    start = time.perf_counter()
    for exc in excs * 5:
        toolkit.explain_error(exc)
    per_error = (time.perf_counter() - start) / (len(excs) * 5)
    print(f"explain_error: {per_error * 1000:.2f} ms per error")
    assert per_error < 0.05
